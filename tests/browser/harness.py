"""A real Jupyter server + Debian Chromium + a kernel client, for the browser tests and
``bench/latency.py`` (see ../shared/BROWSER_TESTING.md for the recipe this follows).

Nothing here knows about pytest: the fixtures in ``conftest.py`` and the benchmark both use it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"

# DOM selectors of the frontend (js/src/view.ts, controls.ts), for the tests in a Jupyter page
WIDGET = ".tscam-root"
MAIN = f"{WIDGET} canvas.tscam-main"
STRIP = f"{WIDGET} canvas.tscam-strip"
LAYER = f"{WIDGET} input[type=range][data-control=layer]"
LAYER_NAME = f"{WIDGET} .tscam-layer-name"
SAMPLE_BOX = f"{WIDGET} input[data-control=sample-box]"
PLAY = f"{WIDGET} button[data-control=play]"
SERIES_VIEW = f"{WIDGET} select[data-control=series_view]"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}


def default_data_dir() -> str:
    return os.environ.get("TSCAM_WIDGET_DATA", str(ROOT.parent / "shared" / "data" / "ucr"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Polls ``predicate`` until it returns something truthy; returns that, or raises."""
    end = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


class JupyterServer:
    """``python -m jupyterlab`` (or ``notebook``) on 127.0.0.1 with isolated config dirs."""

    def __init__(self, base: Path, app: str = "jupyterlab") -> None:
        self.base = Path(base)
        self.app = app
        self.root = self.base / "root"
        self.runtime = self.base / "runtime"
        self.settings = self.base / "settings"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.base / f"{app}.log"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": self.base / "config",
            "JUPYTER_DATA_DIR": self.base / "data",
            "JUPYTER_RUNTIME_DIR": self.runtime,
            "JUPYTERLAB_SETTINGS_DIR": self.settings,
            "JUPYTERLAB_WORKSPACES_DIR": self.base / "workspaces",
            "IPYTHONDIR": self.base / "ipython",
        }
        for key, path in dirs.items():
            path.mkdir(parents=True, exist_ok=True)
            env[key] = str(path)
        env.setdefault("TSCAM_WIDGET_DATA", default_data_dir())
        # two shared cores: keep torch in the kernel from spawning a thread per core
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        return env

    def start(self, timeout: float = 90.0) -> JupyterServer:
        self.root.mkdir(parents=True, exist_ok=True)
        news = self.settings / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        cls = "LabApp" if self.app == "jupyterlab" else "JupyterNotebookApp"
        cmd = [
            sys.executable,
            "-m",
            self.app,
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            f"--{cls}.expose_app_in_browser=True",
        ]
        if self.app == "jupyterlab":
            cmd += [
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ]
        log = open(self.log_path, "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited early:\n{self.log()}")
            try:
                return requests.get(f"{self.url}/api/status", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, timeout, 0.2, f"{self.app} on {self.url}")
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stops the server by its PID (it shuts its kernels down), then its process group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # a second SIGINT inside 5 s skips the prompt
        time.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # kernels left behind (only if the server died hard) share its process group
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- notebooks and kernels ---------------------------------------------------------------
    def write_notebook(self, name: str, cells: Sequence[str]) -> str:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, self.root / name)
        return name

    def kernel(self, path: str, timeout: float = 30.0) -> Kernel:
        """A kernel client on the kernel of the session that has notebook ``path`` open."""

        def find() -> str | None:
            sessions = requests.get(f"{self.url}/api/sessions", timeout=5).json()
            for s in sessions:
                if s.get("path") == path and s.get("kernel"):
                    return s["kernel"]["id"]
            return None

        kid = wait_until(find, timeout, 0.2, f"a session for {path}")
        conn = self.runtime / f"kernel-{kid}.json"
        wait_until(conn.exists, timeout, 0.1, str(conn))
        return Kernel(conn)


class Kernel:
    """A ``BlockingKernelClient`` on a running kernel's connection file."""

    MARK = "@@kernel-json@@"

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.kc = BlockingKernelClient(connection_file=str(connection_file))
        self.kc.load_connection_file()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=30)

    def run(self, code: str, timeout: float = 60.0) -> str:
        """Runs ``code``; returns its stdout; raises on an error in the kernel."""
        out: list[str] = []
        err: list[str] = []

        def hook(msg: dict) -> None:
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                (out if msg["content"]["name"] == "stdout" else err).append(msg["content"]["text"])
            elif kind == "error":
                err.append("\n".join(msg["content"]["traceback"]))

        reply = self.kc.execute_interactive(
            code, output_hook=hook, timeout=timeout, store_history=False, allow_stdin=False
        )
        if reply["content"]["status"] != "ok":
            c = reply["content"]
            raise RuntimeError(f"kernel error {c.get('ename')}: {c.get('evalue')}\n{''.join(err)}")
        return "".join(out)

    def eval(self, expr: str, timeout: float = 60.0) -> Any:
        """The value of ``expr`` in the kernel, through JSON (numpy arrays via ``.tolist()``)."""
        code = (
            "import json as _j\n"
            f"_v = ({expr})\n"
            f"print({self.MARK!r} + _j.dumps(_v, default=lambda o: o.tolist()))\n"
            "del _v"
        )
        text = self.run(code, timeout)
        line = [ln for ln in text.split("\n") if ln.startswith(self.MARK)][-1]
        return json.loads(line[len(self.MARK) :])

    def wait_for(self, expr: str, predicate: Callable[[Any], bool], timeout: float = 15.0) -> Any:
        """Polls ``expr`` until ``predicate(value)``; returns the value, or raises with the last."""
        end = time.monotonic() + timeout
        while True:
            value = self.eval(expr)
            if predicate(value):
                return value
            if time.monotonic() > end:
                raise AssertionError(f"{expr} = {value!r} after {timeout} s")
            time.sleep(0.1)

    def close(self) -> None:
        self.kc.stop_channels()


# -- the browser ------------------------------------------------------------------------------
def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class ConsoleLog:
    """Collects console errors and uncaught page errors of a page."""

    #: (substrings that must all occur, reason): messages that are not the widget's fault.
    IGNORED: list[tuple[tuple[str, ...], str]] = [
        (
            ("reading 'schema'", "/static/notebook/notebook_core."),
            "Notebook 7's shortcut-settings handler (pluginChanged) reads the schema of a plugin "
            "Notebook 7 does not load; seen with a bare anywidget too, so not the widget's",
        ),
        (
            ("cdn.jsdelivr.net/npm/@fortawesome/",),
            "Voila 0.5's page links Font Awesome from a CDN, unreachable offline",
        ),
        (
            ("getter for the shared module is not a function", "@jupyter-notebook/lab-extension"),
            "Voila 0.5 loads every installed lab extension; Notebook 7's asks for a shared "
            "module Voila does not provide (seen with no widget on the page too)",
        ),
    ]

    def __init__(self, page: Any) -> None:
        self.entries: list[str] = []
        self.checked = 0  # entries already reported
        page.on("console", self._console)
        page.on("pageerror", self._pageerror)

    def _pageerror(self, exc: Any) -> None:
        stack = "\n    ".join((getattr(exc, "stack", "") or "").split("\n")[1:4])
        self.entries.append(f"pageerror: {exc}\n    {stack}")

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            self.entries.append(f"console.error: {msg.text} @ {loc.get('url', '')}")

    def errors(self, since: int = 0) -> list[str]:
        return [
            e
            for e in self.entries[since:]
            if not any(all(p in e for p in pats) for pats, _ in self.IGNORED)
        ]


def new_page(browser: Any) -> tuple[Any, Any, ConsoleLog]:
    """A page in its own context, recording the widgets' painted events from its first load."""
    ctx = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    record_paints(ctx)
    page = ctx.new_page()
    return ctx, page, ConsoleLog(page)


# JS run in the page: is the current notebook done (every code cell ran, kernel idle)?
_NB_STATE = """(name) => {
  const app = window.jupyterapp;
  if (!app) return {ready: false};
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== name) return {ready: false};
  const kernel = panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  const status = kernel ? kernel.status : 'none';
  const cells = panel.content && panel.content.model ? Array.from(panel.content.model.cells) : [];
  const code = cells.filter((c) => c.type === 'code');
  const errors = [];
  for (const c of code) {
    for (const o of c.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
  }
  return {ready: !!kernel, status, ran: code.filter((c) => c.executionCount != null).length,
          total: code.length, errors};
}"""


def open_lab_notebook(page: Any, server: JupyterServer, name: str, timeout: float = 120.0) -> None:
    """Opens ``name`` in JupyterLab, runs all cells and waits until they have all run."""
    page.goto(f"{server.url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    _wait_nb(page, name, lambda s: s["ready"] and s["status"] == "idle", 60, "kernel idle")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait_nb(
        page,
        name,
        lambda s: s["ran"] == s["total"] and s["status"] == "idle",
        timeout,
        "all cells run",
    )


def _wait_nb(page: Any, name: str, ok: Callable[[dict], bool], timeout: float, what: str) -> dict:
    end = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < end:
        state = page.evaluate(_NB_STATE, name)
        if state.get("errors"):
            raise AssertionError(f"{name}: a cell raised: {state['errors']}")
        if ok(state):
            return state
        time.sleep(0.1)
    raise TimeoutError(f"{name}: {what} not reached in {timeout} s; last state {state}")


def open_notebook7(page: Any, server: JupyterServer, name: str, timeout: float = 120.0) -> None:
    """The same on a Jupyter Notebook 7 server (``/notebooks/NAME``)."""
    page.goto(f"{server.url}/notebooks/{name}", wait_until="domcontentloaded")
    _wait_nb(page, name, lambda s: s["ready"] and s["status"] == "idle", 60, "kernel idle")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait_nb(page, name, lambda s: s["ran"] == s["total"] and s["status"] == "idle", timeout, "run")


def set_theme(page: Any, theme: str) -> None:
    page.evaluate(
        "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme
    )
    page.wait_for_function(
        "(t) => document.body.dataset.jpThemeName === t", arg=theme, timeout=20_000
    )


# -- pixels -----------------------------------------------------------------------------------
_CANVAS_RGBA = """(c) => {
  const ctx = c.getContext('2d');
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let s = '';
  const step = 0x8000;
  for (let i = 0; i < d.length; i += step) {
    s += String.fromCharCode.apply(null, d.subarray(i, i + step));
  }
  return [c.width, c.height, btoa(s)];
}"""


def canvas_rgba(handle: Any) -> np.ndarray:
    """The backing store of a 2-D canvas as uint8 ``[H, W, 4]`` (not composited on the page)."""
    w, h, data = handle.evaluate(_CANVAS_RGBA)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(h, w, 4)


def screenshot_rgb(target: Any, path: Path | None = None) -> np.ndarray:
    """What the user sees of ``target`` (a page or an element), as uint8 ``[H, W, 3]``."""
    from PIL import Image

    png = target.screenshot(path=str(path) if path else None)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def digest(pixels: np.ndarray) -> int:
    return hash(np.ascontiguousarray(pixels).tobytes())


def parse_css_color(text: str) -> tuple[float, float, float, float]:
    """``rgb(...)``/``rgba(...)``/``color(srgb ...)`` -> (r, g, b in 0..255, alpha 0..1)."""
    t = text.strip()
    if t.startswith("color(srgb"):
        parts = t[len("color(srgb") : -1].replace("/", " ").split()
        vals = [float(p) for p in parts]
        a = vals[3] if len(vals) > 3 else 1.0
        return vals[0] * 255, vals[1] * 255, vals[2] * 255, a
    inner = t[t.index("(") + 1 : t.rindex(")")].replace("/", " ").replace(",", " ").split()
    vals = [float(v[:-1]) * 2.55 if v.endswith("%") else float(v) for v in inner]
    return vals[0], vals[1], vals[2], (vals[3] if len(vals) > 3 else 1.0)


def relative_luminance(rgb: Sequence[float]) -> float:
    def lin(c: float) -> float:
        c = c / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(v)) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def cmap_index(rgb: np.ndarray, table: np.ndarray, tol: int = 6) -> np.ndarray:
    """Per pixel: the index of the colour table entry it shows (within ``tol``), else -1."""
    from scipy.spatial import cKDTree

    tree = cKDTree(table[:, :3].astype(float))
    d, i = tree.query(rgb.reshape(-1, 3).astype(float), p=np.inf, distance_upper_bound=tol)
    return np.where(d <= tol, i, -1).reshape(rgb.shape[:2])


def runs(positions: np.ndarray, gap: int = 3) -> list[tuple[int, int]]:
    if len(positions) == 0:
        return []
    parts = np.split(positions, np.flatnonzero(np.diff(positions) > gap) + 1)
    return [(int(p[0]), int(p[-1])) for p in parts]


def series_components(idx: np.ndarray, min_width: int = 60) -> list[tuple[slice, slice]]:
    """Bounding boxes of drawn series (connected cmap-coloured strokes wider than a colour bar)."""
    from scipy import ndimage

    mask = ndimage.binary_dilation(idx >= 0, iterations=2)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    boxes = ndimage.find_objects(labels)
    return [b for b in boxes if b[1].stop - b[1].start >= min_width]


# -- notebooks --------------------------------------------------------------------------------
SYNTHETIC = """
import numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data import synthetic, synthetic_classes
from tscam_widget.models import InceptionTime
from tscam_widget.widget.buffers import unpack
X, y, mask = synthetic(n=24, length=128, n_classes=3, seed=1)
model = InceptionTime(1, 3, nf=8, depth=3).eval()  # untrained: fixed seed, deterministic maps
w = CamWidget(model, X, y, classes=synthetic_classes(3), progress=False, play_interval_ms=250)
w
"""

BASIC_MOTIONS = """
import os, numpy as np, torch
torch.manual_seed(0); torch.set_num_threads(1)
from tscam_widget import CamWidget
from tscam_widget.data import load_ucr
from tscam_widget.models import InceptionTime
from tscam_widget.widget.buffers import unpack
X, y = load_ucr("BasicMotions", split="test", data_dir=os.environ["TSCAM_WIDGET_DATA"])
classes = sorted(set(y))
model = InceptionTime(X.shape[1], len(classes), nf=8, depth=3).eval()
w = CamWidget(model, X[:8], y[:8], classes=classes, progress=False)
w
"""


# -- small widgets used to check the harness itself and as the latency floor -------------------
PROBE_WIDGET = r'''
import anywidget, traitlets

class Probe(anywidget.AnyWidget):
    """A canvas with a red block at x = 20 * value and a range input bound to ``value``."""
    _esm = """
    function render({ model, el }) {
      const c = document.createElement('canvas'); c.width = 220; c.height = 40;
      const s = document.createElement('input'); s.type = 'range'; s.min = 0; s.max = 10;
      s.value = model.get('value');
      const draw = () => {
        const ctx = c.getContext('2d');
        ctx.fillStyle = '#ffffff'; ctx.fillRect(0, 0, c.width, c.height);
        ctx.fillStyle = 'rgb(255, 0, 0)'; ctx.fillRect(20 * model.get('value'), 0, 20, 40);
      };
      s.addEventListener('input', () => { model.set('value', +s.value); model.save_changes(); });
      model.on('change:value', () => { s.value = model.get('value'); draw(); });
      draw();
      el.classList.add('probe-root');
      el.append(c, s);
    }
    export default { render };
    """
    value = traitlets.Int(0).tag(sync=True)


class Echo(anywidget.AnyWidget):
    """The floor of a kernel round trip: JS sets ``ping``, Python echoes it into ``pong``."""
    _esm = """
    function render({ model, el }) {
      el.classList.add('echo-root');
      const times = [];
      window.__echo = {
        times,
        async run(n) {
          times.length = 0;
          for (let i = 0; i < n; i++) {
            const want = model.get('ping') + 1;
            const t0 = performance.now();
            const got = new Promise((resolve) => {
              const on = () => {
                if (model.get('pong') === want) { model.off('change:pong', on); resolve(); }
              };
              model.on('change:pong', on);
            });
            model.set('ping', want); model.save_changes();
            await got;
            await new Promise((r) => requestAnimationFrame(() => r()));
            times.push(performance.now() - t0);
            await new Promise((r) => setTimeout(r, 20));
          }
          return times.slice();
        },
      };
      el.textContent = 'echo';
    }
    export default { render };
    """
    ping = traitlets.Int(0).tag(sync=True)
    pong = traitlets.Int(0).tag(sync=True)

    @traitlets.observe("ping")
    def _echo(self, change):
        self.pong = change["new"]
'''


# -- other front ends: marimo and Voilà -------------------------------------------------------
class AppServer:
    """A web app on 127.0.0.1 and a free port (``marimo run``, ``voila``), started like
    ``JupyterServer`` (isolated Jupyter dirs, own process group) and stopped by its PID."""

    def __init__(self, base: Path, name: str, health: str = "/") -> None:
        self.base = Path(base)
        self.name = name
        self.health = health
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runtime = self.base / "runtime"
        self.log_path = self.base / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": self.base / "config",
            "JUPYTER_DATA_DIR": self.base / "data",
            "JUPYTER_RUNTIME_DIR": self.runtime,
            "IPYTHONDIR": self.base / "ipython",
            "XDG_CONFIG_HOME": self.base / "xdg",  # marimo's user config (theme) lives here
            "XDG_CACHE_HOME": self.base / "cache",
            "XDG_STATE_HOME": self.base / "state",
        }
        for key, path in dirs.items():
            path.mkdir(parents=True, exist_ok=True)
            env[key] = str(path)
        env.setdefault("TSCAM_WIDGET_DATA", default_data_dir())
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        # the kernel must import this checkout's package (a worktree beside an editable install)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        return env

    def start(
        self, cmd: Sequence[str], cwd: Path, timeout: float = 90.0, env: dict | None = None
    ) -> AppServer:
        self.base.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env={**self.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                # any answer: the server is up (a 404 too; Voila runs the notebook on "/")
                return requests.get(self.url + self.health, timeout=2).status_code < 500
            except requests.RequestException:
                return False

        try:
            wait_until(up, timeout, 0.2, f"{self.name} on {self.url}")
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._stop_server()
        # kernels run in their own sessions: end those whose connection file is in our runtime
        for pid in _pids_with_arg(str(self.runtime)):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _stop_server(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:  # children left in its process group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kernel(self, timeout: float = 60.0) -> Kernel:
        """A kernel client on the (only) kernel this server started (by its connection file)."""
        conn = wait_until(
            lambda: sorted(self.runtime.glob("**/kernel-*.json")), timeout, 0.2, "a kernel"
        )
        return Kernel(conn[-1])


def _pids_with_arg(text: str) -> list[int]:
    """PIDs of this user's processes with ``text`` in their command line (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if d.stat().st_uid == os.getuid() and text in (d / "cmdline").read_bytes().decode(
                errors="replace"
            ):
                out.append(int(d.name))
        except OSError:
            pass
    return out


def marimo_server(base: Path, app: Path, theme: str = "dark") -> AppServer:
    """``marimo run APP`` headless, with the user config's display theme set to ``theme``."""
    server = AppServer(base, "marimo")
    cfg = server.base / "xdg" / "marimo"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "marimo.toml").write_text(f'[display]\ntheme = "{theme}"\n')
    cmd = [
        sys.executable,
        "-m",
        "marimo",
        "run",
        str(app),
        "--headless",
        "--host=127.0.0.1",
        f"--port={server.port}",
        "--no-token",
    ]
    return server.start(cmd, cwd=app.parent)


def voila_server(base: Path, notebook: Path, env: dict | None = None) -> AppServer:
    """``voila NOTEBOOK`` (the notebook runs in a fresh kernel per page load)."""
    server = AppServer(base, "voila", health="/voila/static/up")  # 404: up, runs nothing
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={server.port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        f"--Voila.connection_dir_root={server.runtime}",  # kernel files where kernel() looks
    ]
    return server.start(cmd, cwd=notebook.parent, env=env)


# -- the painted event ---------------------------------------------------------------------------
# The widget's one hook (docs/protocol.md, "The painted event"): after every draw its root
# dispatches ``tscam:painted`` (bubbling, composed). PAINT_RECORDER, installed as an init script
# before the page loads (so no paint is missed, the first one included), keeps every detail per
# root in a page global; the helpers below read it. A listener on ``document`` in the capture
# phase hears roots inside shadow roots too; ``composedPath()[0]`` is the root itself there.
PAINT_RECORDER = """(() => {
  if (window.__tscamPaints) return;
  const byRoot = new Map();
  window.__tscamPaints = (root) => byRoot.get(root) || [];
  document.addEventListener('tscam:painted', (e) => {
    const root = e.composedPath()[0];
    let list = byRoot.get(root);
    if (!list) byRoot.set(root, (list = []));
    list.push(e.detail);
    if (list.length > 500) list.splice(0, list.length - 250);  // a long play or bench
  }, true);
})()"""


#: JS, ``(root) => bool``: the widget's last paint drew at least one plot area (maps shown)
DREW_PANELS = """(r) => {
  const l = window.__tscamPaints ? window.__tscamPaints(r) : [];
  return l.length > 0 && l[l.length - 1].panels.length > 0;
}"""


def record_paints(target: Any) -> None:
    """Installs PAINT_RECORDER in every page (a context) or every load of a page, from now on;
    call it before the page navigates."""
    target.add_init_script(PAINT_RECORDER)


def paints(root: Any) -> list[dict]:
    """Every recorded ``tscam:painted`` detail of the widget under ``root`` (an element handle
    of ``.tscam-root``), oldest first (a very long history keeps its last 250)."""
    return root.evaluate("(r) => (window.__tscamPaints ? window.__tscamPaints(r) : [])")


def last_paint(root: Any) -> dict | None:
    """The detail of the widget's last paint (None before the first)."""
    return root.evaluate(
        "(r) => { const l = window.__tscamPaints ? window.__tscamPaints(r) : [];"
        " return l.length ? l[l.length - 1] : null; }"
    )


def paint_count(root: Any) -> int:
    """How often the widget under ``root`` has painted (its own count, ``detail.n``)."""
    last = last_paint(root)
    return int(last["n"]) if last else 0


_PAINTED_AFTER = """([r, n, ready, want]) => {
  const l = window.__tscamPaints ? window.__tscamPaints(r) : [];
  const fits = (d) => Object.entries(want).every(([k, v]) => d.controls[k] === v);
  return l.find((d) => d.n > n && (!ready || d.ready) && fits(d)) || null;
}"""


def wait_painted(
    page: Any, root: Any, after: int, timeout: float = 20.0, ready: bool = False
) -> int:
    """Waits for a paint of ``root`` after paint number ``after`` (with ``ready``: one that
    shows maps matching the controls); returns the widget's paint count then."""
    page.wait_for_function(_PAINTED_AFTER, arg=[root, after, ready, {}], timeout=timeout * 1000)
    return paint_count(root)


def next_paint(
    page: Any, root: Any, after: int, timeout: float = 20.0, ready: bool = True, **want: Any
) -> dict:
    """The detail of the first paint of ``root`` after paint number ``after`` (by default the
    first that says ``ready``) whose ``controls`` have the values in ``want`` (``layer=0``)."""
    h = page.wait_for_function(
        _PAINTED_AFTER, arg=[root, after, ready, want], timeout=timeout * 1000
    )
    return h.json_value()


def shown(page: Any, root: Any, timeout: float = 20.0, **want: Any) -> dict:
    """Waits until the widget's latest paint, or a later one, is ready and shows the controls
    in ``want``; returns its detail. Give a ``want`` that the state before the change did not
    have: the last paint before it would do otherwise."""
    return next_paint(page, root, paint_count(root) - 1, timeout, True, **want)


_PAINTS_DURING = """async (r, ms) => {
  const seen = [];
  const on = (e) => seen.push(e.detail);
  r.addEventListener('tscam:painted', on);
  await new Promise((res) => setTimeout(res, ms));
  r.removeEventListener('tscam:painted', on);
  return seen;
}"""


def paints_during(root: Any, ms: float) -> list[dict]:
    """The paint details of ``root`` in the next ``ms`` milliseconds (measured in the page): for
    checks that something does *not* happen, which no event can announce."""
    return root.evaluate(_PAINTS_DURING, ms)


def painted_after(page: Any, root: Any, action: Callable[[], Any], **kw: Any) -> dict:
    """Runs ``action`` (a change) and returns the detail of the widget's first ready paint
    after it."""
    n = paint_count(root)
    action()
    return next_paint(page, root, n, **kw)


def paint_until(
    page: Any,
    root: Any,
    after: int,
    check: Callable[[dict], Any],
    timeout: float = 20.0,
    what: str = "",
    **want: Any,
) -> Any:
    """Waits paint by paint after paint number ``after`` until ``check(detail)`` of a ready
    paint (showing the controls in ``want``) returns something truthy (for a change that
    arrives in two messages, like a colour map's name and then its table); returns that."""
    end = time.monotonic() + timeout
    n = after
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no paint after #{after} passed {what or check} in {timeout} s")
        try:
            d = next_paint(page, root, n, left, True, **want)
        except Exception as e:  # playwright's TimeoutError
            seen = paints(root)[-3:]
            raise TimeoutError(
                f"no paint after #{after} passed {what or check} in {timeout} s; the last: "
                + json.dumps(
                    [{k: d[k] for k in ("n", "ready", "controls", "colorbar")} for d in seen]
                )
            ) from e
        got = check(d)
        if got:
            return got
        n = d["n"]
