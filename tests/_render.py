"""Render oracles for the docs tests: Mermaid in headless Chromium, LaTeX with KaTeX under Node.

The JavaScript comes from the npm registry into ``.tools/node_modules`` (``.ci/run`` installs it:
``npm install --prefix .tools mermaid katex``; override with DELTAPROP_NODE_TOOLS). Chromium is
Debian's ``chromium`` package. Locally a missing tool skips the test; in CI (``CI`` set) it fails,
so the oracle can never silently go missing there.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def require(what: str, found: object) -> None:
    """Skip when a render tool is missing locally; fail when it is missing in CI."""
    if found:
        return
    message = f"{what} is not installed; run the install steps of .ci/run"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def node_modules() -> Path:
    return Path(os.environ.get("DELTAPROP_NODE_TOOLS", ROOT / ".tools" / "node_modules"))


def chromium() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)


def katex_render(blocks: list[str]) -> list[str | None]:
    """Compile each LaTeX block with KaTeX in display mode; None where it compiled, else the error."""
    node, katex = shutil.which("node"), node_modules() / "katex"
    require("node", node)
    require(f"KaTeX (npm) in {katex}", katex.is_dir())
    script = ("const katex = require(process.argv[1]); let s = ''; process.stdin.on('data', d => s += d);"
              "process.stdin.on('end', () => { const out = JSON.parse(s).map(b => { try {"
              " katex.renderToString(b, {displayMode: true, throwOnError: true}); return null; }"
              " catch (e) { return String(e.message); } }); process.stdout.write(JSON.stringify(out)); });")
    proc = subprocess.run([node, "-e", script, str(katex)], input=json.dumps(blocks), capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="mermaid.min.js"></script></head>
<body><pre id="result">pending</pre><div id="work"></div><script>
const sources = %s;
mermaid.initialize({startOnLoad: false, securityLevel: "strict", htmlLabels: false,
                    flowchart: {htmlLabels: false}});
(async () => {
  const out = [];
  for (let k = 0; k < sources.length; k++) {
    try {
      await mermaid.parse(sources[k]);
      const {svg} = await mermaid.render("d" + k, sources[k], document.getElementById("work"));
      out.push({ok: true, error: null, svg: svg});
    } catch (e) {
      out.push({ok: false, error: String(e && (e.message || e.str || e)), svg: null});
    }
  }
  document.getElementById("result").textContent = JSON.stringify(out);
})();
</script></body></html>
"""


def mermaid_render(sources: list[str]) -> list[dict[str, object]]:
    """Parse and render each Mermaid source with mermaid.js in headless Chromium.

    Returns one {"ok", "error", "svg"} per source."""
    exe, js = chromium(), node_modules() / "mermaid" / "dist" / "mermaid.min.js"
    require("chromium (apt-get install chromium)", exe)
    require(f"mermaid (npm) in {js.parent.parent}", js.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "render.html"
        shutil.copy(js, Path(tmp) / "mermaid.min.js")
        page.write_text(_PAGE % json.dumps(sources).replace("</", "<\\/"), encoding="utf-8")
        profile = Path(tmp) / "profile"
        profile.mkdir()
        proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--allow-file-access-from-files",
                               "--virtual-time-budget=30000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=180)
    match = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, re.S)
    if not match or match.group(1) == "pending":
        raise RuntimeError(f"chromium did not finish rendering (rc={proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(html.unescape(match.group(1)))


def mermaid_screenshot(source: str, path: Path, *, width: int = 900, height: int = 500) -> None:
    """Render one Mermaid diagram to a PNG with Chromium's --screenshot (for docs/img)."""
    exe, js = chromium(), node_modules() / "mermaid" / "dist" / "mermaid.min.js"
    require("chromium", exe)
    require("mermaid (npm)", js.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(js, Path(tmp) / "mermaid.min.js")
        page = Path(tmp) / "shot.html"
        page.write_text('<!doctype html><html><head><meta charset="utf-8"><script src="mermaid.min.js"></script>'
                        '<style>body{margin:12px;background:white}</style></head><body>'
                        f'<pre class="mermaid">{html.escape(source)}</pre>'
                        '<script>mermaid.initialize({startOnLoad: true, theme: "default"});</script></body></html>',
                        encoding="utf-8")
        profile = Path(tmp) / "profile"
        profile.mkdir()
        subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--allow-file-access-from-files",
                        "--virtual-time-budget=30000", f"--window-size={width},{height}",
                        f"--screenshot={path}", page.as_uri()], capture_output=True, timeout=180, check=True)
