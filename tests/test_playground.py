"""``deltaprop playground`` driven in real headless Chromium (Playwright, Debian's chromium; no
browser download), plus its server's limits and its sessions, checked over plain HTTP.

The page's numbers are checked against the library: the explain panel against ``dp.explain`` on
the same weights and batch, the exported file with ``dp.load``, the exported command by running
it. With DELTAPROP_SCREENSHOTS=DIR the browser tests also write the docs' screenshots
(``DELTAPROP_SCREENSHOTS=docs/img pytest tests/test_playground.py``), so docs/playground.md shows
the page these tests checked.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

import deltaprop as dp
from _render import CHROMIUM_FLAGS, ROOT, chromium, require
from deltaprop.teach.playground.session import Session, Settings

SHOTS = os.environ.get("DELTAPROP_SCREENSHOTS")
MAX_UPLOAD = 20_000


def start_server(*args: str) -> tuple[subprocess.Popen[str], str]:
    """The real command, as a user starts it; returns the process and the URL it printed."""
    env = {k: v for k, v in os.environ.items() if k != "DELTAPROP_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "deltaprop", "playground", "--no-browser", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no URL on stdout: {line!r} {proc.stderr.read()!r}")  # type: ignore[union-attr]
    return proc, match.group(0)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    proc, url = start_server("--data", "moons", "--max-upload", str(MAX_UPLOAD))
    yield url
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    exe = chromium()
    require("chromium", exe)
    from playwright.sync_api import sync_playwright  # the test extra pins it

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def new_page(browser: object, url: str, errors: list[str]) -> object:
    """A page in a context of its own (its own cookie: its own session), loaded and drawn."""
    context = browser.new_context(viewport={"width": 1320, "height": 960}, accept_downloads=True,
                                  bypass_csp=True)  # type: ignore  # CSP forbids eval: wait_for_function needs it
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url)
    page.wait_for_selector('[data-neuron="1:0"] image')
    return page


def text_number(page: object, testid: str) -> float:
    return float(page.get_by_test_id(testid).inner_text())  # type: ignore[attr-defined]


def shot(page: object, name: str, **kwargs: object) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"playground-{name}.png"), **kwargs)  # type: ignore[attr-defined]


def boundary_png(page: object) -> str:
    return page.evaluate("document.querySelector('[data-testid=boundary]').toDataURL()")  # type: ignore


def download(page: object, testid: str, folder: Path) -> Path:
    """Click an export link; the file the browser saved."""
    with page.expect_download() as answer:  # type: ignore[attr-defined]
        page.get_by_test_id(testid).click()  # type: ignore[attr-defined]
    path = folder / answer.value.suggested_filename
    answer.value.save_as(path)
    return path


def set_field(page: object, testid: str, value: str) -> None:
    """Type into a control and commit it (Enter), as a user does."""
    page.get_by_test_id(testid).fill(value)  # type: ignore[attr-defined]
    page.get_by_test_id(testid).press("Enter")  # type: ignore[attr-defined]


def play_until(page: object, epochs: int) -> None:
    page.get_by_test_id("play").click()  # type: ignore[attr-defined]
    page.wait_for_function(f"Number(document.querySelector('[data-testid=epoch]').textContent) >= {epochs}",  # type: ignore
                           timeout=60_000)
    page.get_by_test_id("play").click()  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('[data-testid=play]').textContent.includes('Play')")  # type: ignore


# ---------------------------------------------------------------------------------------------
# The page in the browser
# ---------------------------------------------------------------------------------------------
def test_play_then_pause_trains_and_redraws(server: str, browser: object) -> None:
    errors: list[str] = []
    page = new_page(browser, server, errors)
    assert page.get_by_test_id("data").input_value() == "moons"  # type: ignore[attr-defined]
    epoch0, loss0, image0 = text_number(page, "epoch"), text_number(page, "loss"), boundary_png(page)
    assert epoch0 == 0
    play_until(page, 15)
    page.wait_for_timeout(300)  # the last request of the loop lands
    epoch1, loss1 = text_number(page, "epoch"), text_number(page, "loss")
    assert epoch1 >= 15 and loss1 < loss0 * 0.8
    assert boundary_png(page) != image0
    # paused: nothing moves any more
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    assert text_number(page, "epoch") == epoch1
    # the network: every neuron and weight of the 2-4-4-1 net, width from |w|, colour from the sign, values on hover
    assert page.locator("[data-neuron]").count() == 2 + 4 + 4 + 1  # type: ignore[attr-defined]
    weights = page.locator("[data-weight]")  # type: ignore[attr-defined]
    assert weights.count() == 2 * 4 + 4 * 4 + 4 * 1
    values = [float(v) for v in weights.evaluate_all("ws => ws.map(w => w.dataset.value)")]
    widths = [float(v) for v in weights.evaluate_all("ws => ws.map(w => w.getAttribute('stroke-width'))")]
    strokes = weights.evaluate_all("ws => ws.map(w => w.getAttribute('stroke'))")
    assert widths[int(np.argmax(np.abs(values)))] == max(widths) > min(widths) == widths[int(np.argmin(np.abs(values)))]
    assert {s for v, s in zip(values, strokes) if v > 0} != {s for v, s in zip(values, strokes) if v < 0}
    at = page.evaluate("""() => { const p = document.querySelector('[data-weight="2:3:3"]');
        const q = p.getPointAtLength(p.getTotalLength() * 0.3), m = p.getScreenCTM();
        return [q.x * m.a + m.e, q.y * m.d + m.f]; }""")  # type: ignore[attr-defined]
    page.mouse.move(*at)  # type: ignore[attr-defined]  (the last weight drawn: nothing lies on top of it)
    value = float(page.locator('[data-weight="2:3:3"]').get_attribute("data-value"))  # type: ignore
    tip = page.get_by_test_id("tooltip").inner_text()  # type: ignore[attr-defined]
    assert tip.startswith("w₄₄⁽²⁾ = ") and abs(float(tip.split("= ")[1].split(" ")[0]) - value) < 1e-4
    shot(page, "moons", full_page=True)
    assert not errors


def test_clicking_a_hidden_neuron_explains_the_step_with_the_engines_numbers(server: str, browser: object,
                                                                             tmp_path: Path) -> None:
    errors: list[str] = []
    page = new_page(browser, server, errors)
    for _ in range(3):
        page.get_by_test_id("step").click()  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('[data-testid=steps]').textContent === '3'")  # type: ignore
    with page.expect_response("**/api/explain") as answer:  # type: ignore[attr-defined]
        page.locator('[data-neuron="1:2"]').click()  # type: ignore[attr-defined]
    shown = answer.value.json()
    panel = page.get_by_test_id("explain")  # type: ignore[attr-defined]
    panel.locator("[data-term=delta]").wait_for()
    text = panel.inner_text()
    assert "δ" in text and "σ" in text and "E3" in text and "E6" in text

    def term(name: str) -> float:
        return float(panel.locator(f"[data-term={name}]").first.get_attribute("data-value"))

    model = dp.load(download(page, "export-model", tmp_path))
    e = dp.explain(model, np.array(shown["x"]), np.array(shown["y"]), lr=0.03)  # the same weights, the same batch
    hidden = e.layers[0]
    assert term("z") == float(hidden.z[0, 2]) and term("a") == float(hidden.a[0, 2])
    assert term("delta") == float(hidden.delta[0, 2])
    assert term("sigma_prime") == float(hidden.sigma_prime[0, 2])
    assert term("dL_da") == float(hidden.da[0, 2])
    assert term("db") == float(hidden.db[2])
    dW = [float(v) for v in panel.locator("[data-term=dW]").evaluate_all("s => s.map(x => x.dataset.value)")]
    assert dW == [float(v) for v in hidden.dW[2]]
    back = panel.locator("[data-term=delta_above]").evaluate_all("s => s.map(x => Number(x.dataset.value))")
    assert back == [float(v) for v in e.layers[1].delta[0]]
    # the next Step trains on exactly that batch: what explain showed is what happens (plain SGD aside)
    assert len(shown["x"]) == 10 and shown["step"] == 3
    # another example of the same batch
    with page.expect_response("**/api/explain") as answer:  # type: ignore[attr-defined]
        set_field(page, "explain-sample", "4")
    assert answer.value.json()["sample"] == 3 and answer.value.json()["x"] == shown["x"]
    panel.locator("[data-term=z]").wait_for()
    page.wait_for_function("document.querySelector('[data-testid=explain-sample]').value === '4'")  # type: ignore
    assert term("z") == float(hidden.z[3, 2]) and term("delta") == float(hidden.delta[3, 2])
    shot(page, "explain", full_page=True)
    assert not errors


def test_uploading_a_csv_with_3_features_and_string_labels_rebuilds_the_network(server: str, browser: object,
                                                                               tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["width,height,depth,kind"]
    for k in range(90):
        c = k % 3
        x = rng.normal(loc=(c, -c, 2 * c), scale=0.4)
        rows.append(f"{x[0]:.3f},{x[1]:.3f},{x[2]:.3f},{['apple', 'pear', 'plum'][c]}")
    csv = tmp_path / "fruit.csv"
    csv.write_text("\n".join(rows) + "\n")
    errors: list[str] = []
    page = new_page(browser, server, errors)
    page.get_by_test_id("upload").set_input_files(str(csv))  # type: ignore[attr-defined]
    page.wait_for_selector('[data-neuron="0:2"]')  # type: ignore[attr-defined]
    assert page.locator('[data-neuron^="0:"]').count() == 3  # type: ignore[attr-defined]
    assert page.locator(f'[data-neuron^="{3}:"]').count() == 3  # three classes: a softmax output of 3
    assert page.get_by_test_id("feature-x").locator("option").all_inner_texts() == ["width", "height", "depth"]
    assert "fruit.csv" in page.get_by_test_id("command").inner_text()  # type: ignore[attr-defined]
    image = boundary_png(page)
    page.get_by_test_id("feature-y").select_option("2")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('[data-testid=boundary-legend]').textContent.includes('depth')")
    assert boundary_png(page) != image
    play_until(page, 3)
    shot(page, "csv", full_page=True)
    assert not errors


def test_export_model_onnx_and_a_command_that_reproduces_the_run(server: str, browser: object,
                                                                  tmp_path: Path) -> None:
    errors: list[str] = []
    page = new_page(browser, server, errors)
    set_field(page, "layers", "5")
    page.wait_for_selector('[data-neuron="1:4"]')  # type: ignore[attr-defined]
    set_field(page, "lr", "0.05")
    page.wait_for_function("document.querySelector('[data-testid=command]').textContent.includes('--lr 0.05')")
    for _ in range(2):
        page.get_by_test_id("one-epoch").click()  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('[data-testid=epoch]').textContent === '2'")  # type: ignore
    files = {name: download(page, f"export-{name}", tmp_path) for name in ("model", "onnx")}
    model = dp.load(files["model"])
    assert [layer.W.shape for layer in model.layers if hasattr(layer, "W")] == [(5, 2), (1, 5)]
    import onnxruntime

    X = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    ort = onnxruntime.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(ort.run(None, {ort.get_inputs()[0].name: X})[0], model.predict(X), rtol=1e-5,
                               atol=1e-6)
    command = page.get_by_test_id("command").inner_text()  # type: ignore[attr-defined]
    argv = shlex.split(command.split("#")[0])
    assert argv[:2] == ["deltaprop", "train"] and "--epochs" in argv and argv[argv.index("--epochs") + 1] == "2"
    from deltaprop.cli.main import main

    argv[argv.index("--out") + 1] = str(tmp_path / "again.safetensors")
    assert main([*argv[1:], "--progress", "none"]) == 0
    again = dp.load(tmp_path / "again.safetensors")
    for a, b in zip(again.layers, model.layers):
        if hasattr(a, "W"):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)  # bit for bit
    assert not errors


def test_two_browsers_train_at_once_without_interfering(server: str, browser: object) -> None:
    errors: list[str] = []
    a, b = new_page(browser, server, errors), new_page(browser, server, errors)
    set_field(a, "layers", "3")
    a.wait_for_function("document.querySelectorAll('[data-neuron]').length === 6")  # type: ignore[attr-defined]
    a.get_by_test_id("play").click()  # type: ignore[attr-defined]
    b.get_by_test_id("play").click()  # type: ignore[attr-defined]
    for page in (a, b):
        page.wait_for_function("Number(document.querySelector('[data-testid=epoch]').textContent) >= 3",  # type: ignore
                               timeout=60_000)
    a.get_by_test_id("play").click()  # type: ignore[attr-defined]
    b.get_by_test_id("play").click()  # type: ignore[attr-defined]
    assert a.locator("[data-neuron]").count() == 2 + 3 + 1  # type: ignore[attr-defined]
    assert b.locator("[data-neuron]").count() == 2 + 4 + 4 + 1  # type: ignore[attr-defined]
    assert not errors


# ---------------------------------------------------------------------------------------------
# The server over plain HTTP: sessions, limits, signals
# ---------------------------------------------------------------------------------------------
class Client:
    """One browser's cookie jar over http.client."""

    def __init__(self, url: str) -> None:
        self.host, self.port = urlsplit(url).hostname, urlsplit(url).port
        self.cookie: str | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
                ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)  # type: ignore[arg-type]
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        cookie = r.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        conn.close()
        return r.status, data

    def post(self, path: str, obj: dict[str, object]) -> dict[str, object]:
        status, data = self.request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})
        assert status == 200, data
        return json.loads(data)


def test_two_sessions_training_at_once_match_training_alone(server: str) -> None:
    settings = [{"hidden": [6], "lr": 0.05}, {"hidden": [3, 3], "activation": "relu", "optimizer": "sgd"}]
    clients = [Client(server), Client(server)]
    for client, s in zip(clients, settings):
        client.post("/api/settings", s)
    done: list[bytes] = [b"", b""]

    def train(k: int) -> None:
        for _ in range(6):
            clients[k].post("/api/train", {"epochs": 1, "steps": 3})
        done[k] = clients[k].request("GET", "/api/export/model")[1]

    threads = [threading.Thread(target=train, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, s in enumerate(settings):
        alone = Session(Settings().update(s))
        for _ in range(6):
            alone.train(epochs=1, steps=3)
        path = alone.workdir / "other.safetensors"
        path.write_bytes(done[k])
        together = dp.load(path)
        for x, y in zip(together.layers, alone.model.layers):
            if hasattr(x, "W"):
                assert np.array_equal(x.W, y.W) and np.array_equal(x.b, y.b)


def test_oversized_uploads_and_path_traversal_are_refused(server: str) -> None:
    client = Client(server)
    status, body = client.request("POST", "/api/upload?name=big.csv", b"a,b\n" + b"1,2\n" * (MAX_UPLOAD // 4))
    assert status == 413 and b"limit" in body
    status, _ = client.request("POST", "/api/upload?name=huge.csv", None, {"Content-Length": str(10**12)})
    assert status == 413
    for path in ("/../pyproject.toml", "/%2e%2e/%2e%2e/pyproject.toml", "/static/../server.py", "/app.js/../server.py",
                 "/..%2fserver.py", "//etc/passwd", "/session.py", "/static/app.js"):
        status, body = client.request("GET", path)
        assert status == 404, path
        assert b"import" not in body and b"root:" not in body
    assert client.request("GET", "/app.js")[0] == 200
    # another site's page cannot talk to it (DNS rebinding, cross-site POSTs)
    assert client.request("GET", "/api/state", headers={"Host": "evil.example:80"})[0] == 403
    status, _ = client.request("POST", "/api/train", b"{}", {"Origin": "http://evil.example"})
    assert status == 403
    # a malformed request is refused with a message, not a crash
    status, body = client.request("POST", "/api/train", b"[1]", {"Content-Type": "application/json"})
    assert status == 400
    status, body = client.request("POST", "/api/settings", json.dumps({"lr": -1}).encode())
    assert status == 400 and b"lr must be" in body
    status, body = client.request("POST", "/api/upload?name=notes.txt", b"hello")
    assert status == 400 and b".csv" in body
    # a CSV the reader rejects: the message says why, and the session keeps its data
    status, body = client.request("POST", "/api/upload?name=../../bad.csv", b"a,label\n1,x\n")
    answer = json.loads(body)
    assert status == 400 and answer["message"].startswith("bad.csv: ") and answer["settings"]["data"] == "moons"


def test_switching_data_and_features_over_the_api(server: str) -> None:
    client = Client(server)
    state = client.post("/api/data", {"data": "circles"})
    assert state["settings"]["data"] == "circles" and "--data circles" in state["command"]  # type: ignore[index]
    state = client.post("/api/settings", {"noise": 0.05, "n_samples": 300, "test_split": 0.5})
    assert state["n_train"] == 150 and state["n_test"] == 150 and state["epoch"] == 0
    state = client.post("/api/features", {"x": 1, "y": 0})
    assert state["features"] == [1, 0]
    for path, body in (("/api/data", {"data": "../etc/passwd"}), ("/api/features", {"x": 2, "y": 0}),
                       ("/api/explain", {"neuron": "9:0"}), ("/api/explain", {"neuron": "1"}),
                       ("/api/train", {"epochs": 10**6})):
        status, data = client.request("POST", path, json.dumps(body).encode())
        assert status == 400, (path, body, data)
    assert client.request("POST", "/api/nothing", b"{}")[0] == 404


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    csv = tmp_path / "price.csv"
    csv.write_text("price,a,b\n" + "".join(f"{2 * a - b:.3f},{a:.3f},{b:.3f}\n" for a, b in X))
    proc, url = start_server("--data", str(csv), "--target", "price")
    client = Client(url)
    assert client.request("GET", "/")[0] == 200
    state = client.post("/api/train", {"epochs": 1})
    assert state["task"] == "regression" and state["feature_names"] == ["a", "b"] and state["epoch"] == 1
    assert "--data price.csv --target price --standardize" in state["command"]  # type: ignore[operator]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in err and "stopped" in err


def test_a_bad_data_source_fails_at_the_command_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "deltaprop", "playground", "--no-browser", "--data", "nope.csv"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("deltaprop: error:") and "nope.csv" in proc.stderr


# ---------------------------------------------------------------------------------------------
# The session (no server)
# ---------------------------------------------------------------------------------------------
def test_session_explain_is_dp_explain_of_the_next_step() -> None:
    s = Session(Settings(optimizer="sgd", lr=0.1, hidden=[3]))
    s.train(steps=2)
    d = s.explain(2, 0)
    e = dp.explain(s.model, np.array(d["x"]), np.array(d["y"]), lr=0.1)
    assert d["delta"] == float(e.layers[1].delta[0, 0]) and d["fused"]  # sigmoid + BCE: a − y (E8)
    before = [layer.W.copy() for layer in s.model.layers if hasattr(layer, "W")]
    s.train(steps=1)  # plain SGD without dropout: the update explain showed is the update that happened
    after = [layer.W for layer in s.model.layers if hasattr(layer, "W")]
    assert not np.array_equal(before[1], after[1])
    np.testing.assert_array_equal(after[1][0], np.array(d["W_new"], dtype=np.float32))


def test_a_diverging_run_stops_with_a_message(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)) * 100
    csv = tmp_path / "big.csv"
    csv.write_text("a,b,t\n" + "".join(f"{a:.3f},{b:.3f},{3 * a - b:.3f}\n" for a, b in X))
    s = Session(Settings(data=str(csv), optimizer="sgd", lr=10.0, hidden=[4]))
    s.train(epochs=5)
    state = s.state()
    assert "diverged" in state["error"] and "Reset" in state["error"]
    json.dumps(state, allow_nan=False)  # what the server sends: no inf, no NaN
    epoch = state["epoch"]
    s.train(epochs=1)
    assert s.state()["epoch"] == epoch  # stopped until reset
    s.reset()
    assert s.state()["error"] is None and s.state()["epoch"] == 0


def test_settings_are_checked() -> None:
    for bad in ({"lr": 0}, {"hidden": "4,x"}, {"hidden": [100]}, {"activation": "nope"}, {"batch_size": 1.5},
                {"magic": 1}):
        with pytest.raises(ValueError):
            Settings().update(bad)
    assert Settings().update({"hidden": "8, 2", "dropout": 0.1}).hidden == [8, 2]


def test_the_docs_show_the_screenshots() -> None:
    text = (ROOT / "docs" / "playground.md").read_text()
    images = re.findall(r"\((img/playground-[a-z]+\.png)\)", text)
    assert len(images) >= 3
    for image in images:
        assert (ROOT / "docs" / image).is_file()


def test_the_wheel_ships_every_asset() -> None:
    """pyproject's package-data globs cover every file of the page (the server reads them from the package)."""
    import fnmatch

    from deltaprop.cli.config import _toml  # tomllib, or tomli on Python 3.10

    config = _toml().loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["deltaprop.teach.playground"]
    static = ROOT / "src" / "deltaprop" / "teach" / "playground" / "static"
    files = [p.relative_to(static.parent).as_posix() for p in static.iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files
    from deltaprop.teach.playground.server import ASSETS

    assert {name for name, _ in ASSETS.values()} == {p.name for p in static.iterdir()}


@pytest.mark.parametrize("changes", [{"data": "spirals", "noise": 0.1, "hidden": [5], "activation": "relu",
                                      "optimizer": "sgd", "lr": 0.1, "batch_size": 7, "l2": 0.001, "dropout": 0.2,
                                      "seed": 3}, {"data": "xor", "hidden": [3], "batch_size": 2}])
def test_the_command_reproduces_the_session_bit_for_bit(changes: dict[str, object], tmp_path: Path) -> None:
    """Explaining a step (which draws the epoch's order early) and stepping part-way change nothing:
    after the same epochs, ``deltaprop train`` with the printed command has the session's weights."""
    from deltaprop.cli.main import main

    data = changes.pop("data")
    s = Session(Settings(data=data).update(changes))  # type: ignore[arg-type]
    s.explain(1, 0)
    s.train(epochs=2, steps=1)
    s.explain(2, 0)
    s.train(epochs=1)  # to the end of epoch 3
    argv = shlex.split(s.command())[1:]
    assert argv[argv.index("--epochs") + 1] == "3"
    argv[argv.index("--out") + 1] = str(tmp_path / "cli.safetensors")
    assert main([*argv, "--progress", "none"]) == 0
    cli = dp.load(tmp_path / "cli.safetensors")
    for a, b in zip(cli.layers, s.model.layers):
        if hasattr(a, "W"):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b)
