"""A real JupyterLab, started as `make lab` starts it, driven by a real browser.

Used by ``tests/test_lab.py`` and ``benchmarks/bench_lab_slider.py``. The
server runs on a free port on 127.0.0.1 with its own config, data, runtime,
settings and workspace folders (in a temporary folder), is started through
``scripts/lab.py`` (so it has the same kernel set-up, trust and settings as a
reader's ``make lab``) and is stopped by its PID. Chromium is Debian's, driven by
Playwright; every request to another host is blocked and recorded.
"""
import contextlib
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "dlmath-test-token"

#: Markup that must never reach the reader as text: MyST roles and directives,
#: their options, and unrendered math.
RAW_MYST = re.compile(
    r"\{(?:term|eq|cite|cite:p|cite:t|doc|ref|numref|exercise|solution|math|glossary)\}"
    r"|`{3,}\{|:label:|:class:|\$\$|\\(?:frac|begin|mathbf|partial|sum)\b"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab_server(root_dir=None, decoy_kernel=True, windowing="none"):
    """Start JupyterLab through scripts/lab.py; yield its base URL; stop it by its PID.

    The server's root is ``root_dir``, by default a fresh copy of ``notebooks/``,
    and autosave is off: nothing done in the browser changes the chapters.

    With ``decoy_kernel`` the reader's own data folder holds a ``python3``
    kernel that is not the project's (a Python without dlmath), as on a machine
    where the reader registered one: the project's kernel must still be used.
    """
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dlmath-lab-"))
    port = free_port()
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)  # JupyterLab's own dependencies warn; kernels are checked by nbval
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]:
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    # Render every cell (no windowing), so that the whole notebook is in the page.
    tracker = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": windowing}))
    # Never write back: running a chapter here must not change the files.
    docmanager = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    if root_dir is None:  # a copy of the chapters, so that nothing can touch the originals
        root_dir = tmp / "notebooks"
        shutil.copytree(ROOT / "notebooks", root_dir)
    if decoy_kernel:
        decoy = tmp / "data" / "kernels" / "python3"
        decoy.mkdir(parents=True)
        (decoy / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-I", "-S", "-c", "raise SystemExit('decoy kernel: not the project kernel')",
                     "-f", "{connection_file}"],
            "display_name": "A reader's own Python 3", "language": "python"}))
    args = [sys.executable, str(ROOT / "scripts" / "lab.py"), "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--ServerApp.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False"]
    args.append(f"--ServerApp.root_dir={root_dir}")
    log = open(tmp / "lab.log", "w")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
                time.sleep(0.2)
        yield base, tmp
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser, base, viewport=(1200, 900)):
    """A new page whose requests to any host but ``base`` are blocked and recorded.

    Returns ``(page, record)``: ``record["external"]`` lists the blocked
    addresses, ``record["errors"]`` the page's uncaught errors and
    ``record["console"]`` its console messages.
    """
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    record = {"external": [], "errors": [], "console": []}

    def route(r):
        if r.request.url.startswith(base + "/"):
            r.continue_()
        else:
            record["external"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: record["errors"].append(str(e)))
    page.on("console", lambda m: record["console"].append(f"{m.type}: {m.text}"))
    return page, record


def open_notebook(browser, base, name, viewport=(1300, 1000), all_cells=True):
    """Open ``name`` (relative to the server's root) in a new page; wait until it is rendered.

    ``all_cells``: wait for every cell (a server started with ``windowing="none"``).
    """
    page, record = offline_page(browser, base, viewport)
    # A workspace of its own, so that no other chapter's tab is restored beside it.
    workspace = re.sub(r"\W", "-", name) + f"-{time.monotonic_ns()}"
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?token={TOKEN}&reset", wait_until="load")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
                           timeout=60000)
    if all_cells:
        page.wait_for_function(
            "() => { const nb = window.jupyterapp.shell.currentWidget?.content;"
            " return nb && nb.model && nb.model.cells.length > 0"
            " && document.querySelectorAll('.jp-Notebook .jp-Cell').length >= nb.model.cells.length; }",
            timeout=60000)
    # Markdown is rendered by jupyterlab-myst (a .myst block in every markdown cell
    # on the page), in passes: wait until the text stops changing.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-MarkdownCell')].every(c => c.querySelector('.myst'))",
        timeout=60000)
    previous, deadline = None, time.monotonic() + 30
    while time.monotonic() < deadline:
        text = page.evaluate("() => document.querySelector('.jp-Notebook').innerText")
        if text == previous:
            break
        previous = text
        page.wait_for_timeout(700)
    # The kernel is started and connected before anything runs.
    page.wait_for_function(
        "() => { const c = window.jupyterapp.shell.currentWidget?.sessionContext;"
        " return c && c.isReady && c.session?.kernel?.connectionStatus === 'connected'"
        " && c.session.kernel.status === 'idle'; }", timeout=60000)
    page.wait_for_timeout(500)
    return page, record


def markdown_texts(page):
    """The rendered text of every markdown cell."""
    return page.evaluate("() => [...window.jupyterapp.shell.currentWidget.node"
                         ".querySelectorAll('.jp-MarkdownCell')].map(c => c.innerText)")


def run_all(page, timeout_s=120):
    """Clear the stored outputs, run every cell in the kernel, wait until each code cell has its number."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.widgets.every("
        "c => c.model.type !== 'code' || c.model.executionCount === null)", timeout=30000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " const code = nb.widgets.filter(c => c.model.type === 'code');"
        " const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;"
        " return code.length > 0 && code.every(c => c.model.executionCount !== null)"
        " && kernel && kernel.status === 'idle'; }",
        timeout=timeout_s * 1000)
    page.wait_for_timeout(300)


def wait_until_settled(page, quiet_ms=2000, timeout_s=60):
    """Wait until the page has run no long task (> 50 ms) for ``quiet_ms``.

    After "run all", JupyterLab goes on rendering the new outputs and the
    markdown around them in idle time for several seconds in a long chapter; a
    reader who moves a slider has read the page first.
    """
    page.evaluate(
        "() => { window.__dlmathLastLongTask = performance.now();"
        " new PerformanceObserver(l => { window.__dlmathLastLongTask = performance.now(); })"
        ".observe({entryTypes: ['longtask']}); }")
    page.wait_for_function(
        "q => performance.now() - window.__dlmathLastLongTask > q", arg=quiet_ms, timeout=timeout_s * 1000,
        polling=250)


def live_slider_cells(page):
    """Indices of the cells whose output is a live slider (a widget view)."""
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets.flatMap((c, i) =>"
        " c.model.type === 'code' && JSON.stringify(c.model.outputs.toJSON()).includes("
        "'application/vnd.jupyter.widget-view+json') ? [i] : [])")


def show_cell(page, index):
    """Scroll cell ``index`` into view (with windowing, only cells on screen are in the page)."""
    page.evaluate("async i => { const nb = window.jupyterapp.shell.currentWidget.content;"
                  " nb.activeCellIndex = i; await nb.scrollToItem(i, 'center'); }", index)
    page.wait_for_function(
        "i => window.jupyterapp.shell.currentWidget.content.widgets[i].node.querySelector('.widget-slider .noUi-handle')",
        arg=index, timeout=30000)
    page.wait_for_timeout(200)


def handle_position(page, cell, handle):
    """(index, last index) of handle ``handle`` of the live slider in cell ``cell``."""
    now, top = page.evaluate(
        "([i, h]) => { const e = window.jupyterapp.shell.currentWidget.content.widgets[i].node"
        ".querySelectorAll('.widget-slider .noUi-handle')[h];"
        " return [+e.getAttribute('aria-valuenow'), +e.getAttribute('aria-valuemax')]; }", [cell, handle])
    return int(round(now)), int(round(top))


def slider_handles(page, cell):
    return page.evaluate(
        "i => window.jupyterapp.shell.currentWidget.content.widgets[i].node"
        ".querySelectorAll('.widget-slider .noUi-handle').length", cell)


#: The picture a live slider shows: the visible frame of its stack of frames.
VISIBLE_FRAME_JS = """index => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index].node;
  const shown = [...cell.querySelectorAll('img.widget-image')].filter(i => i.offsetParent !== null);
  return shown.length === 1 ? shown[0].src : null;
}"""

#: Arm a measurement on the live slider of cell ``index``: the time from the next
#: key press to the first animation frame after a new picture is visible and decoded.
ARM_LATENCY_JS = """([index, timeoutMs]) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index].node;
  const visible = () => [...cell.querySelectorAll('img.widget-image')].filter(i => i.offsetParent !== null);
  const before = visible().map(i => i.src).join();
  window.__dlmathLatency = new Promise((resolve, reject) => {
    let t0 = null, done = false;
    const onKey = () => { if (t0 === null) t0 = performance.now(); };
    document.addEventListener('keydown', onKey, true);
    const check = () => {
      const now = visible();
      if (done || now.length !== 1 || now[0].src === before) return;
      done = true; obs.disconnect(); document.removeEventListener('keydown', onKey, true);
      const painted = () => requestAnimationFrame(() => resolve(performance.now() - t0));
      now[0].decode().then(painted, painted);
    };
    const obs = new MutationObserver(check);
    obs.observe(cell, {attributes: true, childList: true, subtree: true});
    setTimeout(() => { if (!done) { obs.disconnect(); reject(new Error('the live picture did not change')); } }, timeoutMs);
  });
}"""


def slider_latency_ms(page, cell, key="ArrowRight", handle=0, timeout_ms=10000):
    """Press ``key`` on handle ``handle`` of the live slider in cell ``cell``; ms until its picture is on screen.

    Raises if the picture does not change within ``timeout_ms`` (two neighbouring
    values can have the same picture: the widget then has nothing to send).
    """
    page.evaluate(ARM_LATENCY_JS, [cell, timeout_ms])
    page.evaluate(
        "([i, h]) => window.jupyterapp.shell.currentWidget.content.widgets[i].node"
        ".querySelectorAll('.widget-slider .noUi-handle')[h].focus()", [cell, handle])
    page.keyboard.press(key)
    return page.evaluate("() => window.__dlmathLatency")
