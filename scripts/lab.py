"""Start JupyterLab on the chapter notebooks, the way `make lab` does.

    .venv/bin/python scripts/lab.py [arguments for jupyter lab ...]

- **The project's kernel.** Kernels start from this `.venv`, even where the
  reader has registered a `python3` kernel of their own:
  `JUPYTER_PREFER_ENV_PATH=1` puts `.venv/share/jupyter` before the reader's
  folders, so its `python3` kernel (this Python, with dlmath) is found first.
- **Sliders that work before anything runs.** The chapter notebooks are marked
  trusted (`jupyter trust`), so the stored output of each slider, its
  pre-rendered frames, works without a kernel; running the cell replaces it by
  the live widget. (Untrusted, JupyterLab strips the script and the output is a
  still picture that says to run the cell.)
- **Offline.** JupyterLab's news and update checks and its extension manager
  are switched off (settings overrides), so nothing is fetched from the network.
- **Root.** In a container the reader is often root: `--allow-root` is added.
- **Live sliders without a 40 ms stall.** The kernel's websocket sends each
  message at once (TCP_NODELAY; `scripts/dlmath_lab_server.py`).

The tests (`tests/test_lab.py`) and the benchmark of live sliders start
JupyterLab through this script too, with their own settings and data folders.
"""
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: JupyterLab settings for every reader of the book (overrides.json).
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
}


def environment(base=None):
    """The environment JupyterLab and its kernels run in."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    # The server imports dlmath_lab_server from this folder.
    here = str(pathlib.Path(__file__).resolve().parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def write_overrides(prefix=sys.prefix):
    """Write the book's settings overrides into this environment's JupyterLab."""
    folder = pathlib.Path(prefix) / "share" / "jupyter" / "lab" / "settings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_text(json.dumps(OVERRIDES, indent=2) + "\n", encoding="utf-8")


def trust_notebooks(env):
    """Sign every chapter notebook in the trust database of this environment's data folder."""
    import subprocess

    notebooks = sorted(str(p) for p in NOTEBOOKS.glob("*.ipynb"))
    trust = pathlib.Path(sys.executable).with_name("jupyter-trust")
    subprocess.run([str(trust), "--log-level=WARN", *notebooks], env=env, check=True, stdout=subprocess.DEVNULL)


def command(extra_args=()):
    """The `jupyter lab` command line."""
    jupyter = pathlib.Path(sys.executable).with_name("jupyter")
    args = [str(jupyter), "lab",
            "--ServerApp.kernel_websocket_connection_class=dlmath_lab_server.NoDelayWebsocketConnection"]
    if not any(a.startswith("--ServerApp.root_dir=") for a in extra_args):
        args.append(f"--ServerApp.root_dir={NOTEBOOKS}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    return args + list(extra_args)


def main(argv):
    env = environment()
    write_overrides()
    trust_notebooks(env)
    os.execve(command(argv)[0], command(argv), env)


if __name__ == "__main__":
    main(sys.argv[1:])
