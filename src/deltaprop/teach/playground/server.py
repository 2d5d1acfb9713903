"""The playground's HTTP server: the page's own assets and a small JSON API, one session per browser.

It is the standard library's ``http.server.ThreadingHTTPServer``: the page needs a dozen routes
on 127.0.0.1 for one user, and a web framework would be a dependency for nothing more. What a
framework would otherwise give is done here, deliberately narrowly:

- **assets**: only the files named in ``ASSETS``, read from the package; any other path is 404
  (so ``/../`` and ``%2e%2e`` reach nothing);
- **input caps**: a request body over its cap (``max_upload`` for a CSV, 64 KiB for JSON) is
  refused with 413 before it is read; a body without Content-Length is refused with 411;
- **sessions**: a random id in an HttpOnly, SameSite=Strict cookie picks the browser's
  ``Session``; at most ``MAX_SESSIONS`` live at once (the least recently used goes first);
- **origin**: a request whose Host header is not this server's (DNS rebinding) is refused
  with 403, and so is a POST whose Origin is another site's.

Routes: ``GET /`` (the page), ``GET /app.js``, ``GET /style.css``; ``GET /api/state``;
``POST /api/train`` {steps, epochs}; ``POST /api/reset``; ``POST /api/settings`` {…};
``POST /api/data`` {data} (a toy set); ``POST /api/upload?name=FILE.csv`` (the CSV as the body);
``POST /api/features`` {x, y}; ``POST /api/explain`` {neuron: "l:j", sample};
``GET /api/export/model``, ``/api/export/onnx``, ``/api/export/command``.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .session import TOY_SETS, PlaygroundError, Session, Settings

ASSETS = {  # URL path → (file in static/, content type): the only files the server reads
    "/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"), "/style.css": ("style.css", "text/css; charset=utf-8"),
}
MAX_UPLOAD = 5 * 1024 * 1024  # bytes of an uploaded CSV
MAX_JSON = 64 * 1024
MAX_SESSIONS = 32
COOKIE = "deltaprop_playground"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Playground(ThreadingHTTPServer):
    """The server: its sessions, the settings a new session starts from, and its scratch folder."""

    daemon_threads = True  # a request in flight does not hold up shutdown

    def __init__(self, address: tuple[str, int], *, data: str | None = None, target: str | None = None,
                 max_upload: int = MAX_UPLOAD) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="deltaprop-playground-"))
        self.start = Settings()
        if data is not None:
            toy = data.lower() in TOY_SETS
            source = data.lower() if toy else str(Path(data).resolve()) if Path(data).exists() else data
            self.start = Settings(data=source, standardize=not toy, target=target)
            Session(self.start, workdir=str(self.workdir))  # fail now, with the CLI's message, not in the page
        self.max_upload = max_upload
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.sessions_lock = threading.Lock()
        if ":" in address[0]:  # an IPv6 address such as ::1
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in str(host) else f"http://{host}:{port}/"

    def session(self, sid: str | None) -> tuple[str, Session]:
        """The session of cookie ``sid``, or a new one (and its new id)."""
        with self.sessions_lock:
            if sid is not None and sid in self.sessions:
                self.sessions.move_to_end(sid)
                return sid, self.sessions[sid]
            while len(self.sessions) >= MAX_SESSIONS:
                _, old = self.sessions.popitem(last=False)
                shutil.rmtree(old.workdir, ignore_errors=True)
            sid = secrets.token_urlsafe(18)
            folder = self.workdir / sid
            folder.mkdir()
            self.sessions[sid] = Session(self.start, workdir=str(folder))
            return sid, self.sessions[sid]

    def server_close(self) -> None:
        super().server_close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Handler(BaseHTTPRequestHandler):
    server: Playground
    server_version = "deltaprop-playground"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not every request."""

    # -- plumbing ----------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, *, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; "
                                                    "style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200, *, sid: str | None = None) -> None:
        headers = {}
        if sid is not None:
            headers["Set-Cookie"] = f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict"
        self._send(status, json.dumps(obj, allow_nan=False, default=_nan_free).encode(), "application/json",
                   headers=headers)

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True
        self._json({"error": message}, status)

    def _sid(self) -> str | None:
        for part in self.headers.get("Cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == COOKIE:
                return value
        return None

    def _allowed_origin(self) -> bool:
        """The Host (and for POST the Origin) is this server: no other site reaches it by DNS rebinding."""
        port = self.server.server_address[1]
        bound = str(self.server.server_address[0])
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}",
                 f"[{bound}]:{port}" if ":" in bound else f"{bound}:{port}"}
        if self.headers.get("Host") not in hosts:
            return False
        origin = self.headers.get("Origin")
        return origin is None or origin == "null" or urlsplit(origin).netloc in hosts

    def _body(self, cap: int) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length header.")
            return None
        if int(length) > cap:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"the body is {int(length):,} bytes; the limit is {cap:,} bytes.")
            return None
        return self.rfile.read(int(length))

    # -- routes ------------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, route: Callable[[], None]) -> None:
        """A failure the routes did not foresee answers 500 with its message; the server keeps serving."""
        try:
            route()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as err:  # one request's failure must not reach the client as a dropped socket
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(err).__name__}: {err}")

    def _get(self) -> None:
        if not self._allowed_origin():
            return self._error(HTTPStatus.FORBIDDEN, "this server answers only at its own address.")
        path = urlsplit(self.path).path
        if path in ASSETS:
            name, ctype = ASSETS[path]
            body = resources.files(__package__).joinpath("static", name).read_bytes()
            return self._send(200, body, ctype)
        if not path.startswith("/api/"):
            return self._error(HTTPStatus.NOT_FOUND, "no such page.")
        sid, session = self.server.session(self._sid())
        set_cookie = sid if sid != self._sid() else None
        try:
            if path == "/api/state":
                return self._json(session.state(), sid=set_cookie)
            if path == "/api/export/model":
                return self._download(session.model_bytes(), "playground.safetensors", "application/octet-stream")
            if path == "/api/export/onnx":
                return self._download(session.onnx_bytes(), "playground.onnx", "application/octet-stream")
            if path == "/api/export/command":
                return self._send(200, (session.command() + "\n").encode(), "text/plain; charset=utf-8")
        except ImportError as err:
            return self._error(HTTPStatus.NOT_IMPLEMENTED, str(err))
        return self._error(HTTPStatus.NOT_FOUND, "no such API route.")

    def _download(self, body: bytes, name: str, ctype: str) -> None:
        self._send(200, body, ctype, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def _post(self) -> None:
        if not self._allowed_origin():
            return self._error(HTTPStatus.FORBIDDEN, "this server answers only at its own address.")
        url = urlsplit(self.path)
        sid, session = self.server.session(self._sid())
        set_cookie = sid if sid != self._sid() else None
        if url.path == "/api/upload":
            body = self._body(self.server.max_upload)
            if body is None:
                return None
            name = parse_qs(url.query).get("name", ["upload.csv"])[0]
            return self._respond(session, set_cookie, lambda: self._upload(session, name, body))
        routes: dict[str, Callable[[Session, dict[str, Any]], Any]] = {
            "/api/train": lambda s, a: s.train(steps=_int(a, "steps", 0, 10_000), epochs=_int(a, "epochs", 0, 1000)),
            "/api/reset": lambda s, a: s.reset(),
            "/api/settings": lambda s, a: s.configure(a),
            "/api/data": lambda s, a: s.use_data(_toy(a.get("data")), standardize=False),
            "/api/features": lambda s, a: s.set_features(a.get("x"), a.get("y")),
        }
        if url.path not in routes and url.path != "/api/explain":
            return self._error(HTTPStatus.NOT_FOUND, "no such API route.")
        raw = self._body(MAX_JSON)
        if raw is None:
            return None
        try:
            args = json.loads(raw or b"{}")
            if not isinstance(args, dict):
                raise ValueError("expected a JSON object")
        except (ValueError, UnicodeDecodeError) as err:
            return self._error(HTTPStatus.BAD_REQUEST, f"the body is not a JSON object ({err}).")
        if url.path == "/api/explain":
            try:
                l, j = _neuron(args.get("neuron"))
                return self._json(session.explain(l, j, _int(args, "sample", 0, 1 << 20)), sid=set_cookie)
            except PlaygroundError as err:
                return self._error(HTTPStatus.BAD_REQUEST, str(err))
        return self._respond(session, set_cookie, lambda: routes[url.path](session, args))

    def _respond(self, session: Session, sid: str | None, action: Callable[[], Any]) -> None:
        try:
            action()
        except PlaygroundError as err:
            return self._json({**session.state(), "message": str(err)}, 400, sid=sid)
        return self._json(session.state(), sid=sid)

    def _upload(self, session: Session, name: str, body: bytes) -> None:
        safe = _SAFE_NAME.sub("_", Path(name).name).lstrip(".") or "upload.csv"
        if not safe.lower().endswith(".csv"):
            raise PlaygroundError(f"upload a .csv file, got {name!r}.")
        path = session.workdir / safe
        path.write_bytes(body)
        session.use_data(str(path), standardize=True)


def _nan_free(obj: Any) -> Any:
    raise TypeError(f"not JSON: {type(obj).__name__}")


def _int(args: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = args.get(key, 0)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise PlaygroundError(f"{key} must be an integer from {lo} to {hi}, got {v!r}.")
    return v


def _toy(name: Any) -> str:
    if name not in TOY_SETS:
        raise PlaygroundError(f"data must be one of {', '.join(TOY_SETS)} (or upload a CSV), got {name!r}.")
    return str(name)


def _neuron(spec: Any) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,3}):(\d{1,5})", spec) if isinstance(spec, str) else None
    if m is None:
        raise PlaygroundError(f"neuron must be 'l:j' (layer, 0-based neuron), got {spec!r}.")
    return int(m.group(1)), int(m.group(2))


def serve(*, data: str | None = None, target: str | None = None, host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = True, max_upload: int = MAX_UPLOAD) -> int:
    """Serve the playground until Ctrl-C or SIGTERM; print its URL first. Returns the exit status (0).

    ``data`` is the data source new sessions start from (default: moons), ``target`` its CSV target
    column; ``port=0`` picks a free port. Called from the main thread, it stops on SIGINT/SIGTERM."""
    server = Playground((host, port), data=data, target=target, max_upload=max_upload)
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    print(f"deltaprop playground: {server.url}  (Ctrl-C stops it)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        while not stop.is_set():
            stop.wait(0.5)
            time.sleep(0)  # lets the signal handler run between waits
    finally:
        server.shutdown()
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("deltaprop playground: stopped", file=sys.stderr, flush=True)
    return 0
