"""Build the HTML book, executing every notebook afresh, two at a time (`make book`).

    .venv/bin/python scripts/build_book.py [--path-output DIR]

Jupyter Book 1 executes notebooks one after another. Here every chapter is
first executed in parallel, one process per core, into the book's Jupyter cache
(``DIR/_build/.jupyter_cache``; every record is replaced, so the book always
shows what the current ``dlmath`` computes); then ``jupyter-book build`` runs
with ``execute_notebooks: cache`` and takes the outputs from there. A notebook
that failed to execute is executed again by the build itself, which then fails
with its error. The build runs with ``-W -n --keep-going``: a warning fails it.

Kernels start from this environment's ``python3`` even where the reader has a
kernel of that name of their own (``JUPYTER_PREFER_ENV_PATH=1``).
"""
import argparse
import logging
import os
import pathlib
import subprocess
import sys
import time

from kernel_notices import kernel_notices_filtered

ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMEOUT_S = 120  # per notebook; the chapter standard's budget is 10 s


def execute_into_cache(cache_path, jobs=None):
    """Execute every chapter notebook into the Jupyter cache at ``cache_path``, in parallel."""
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache = get_cache(str(cache_path))
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        cache.add_nb_to_project(str(path))
    logger = logging.getLogger("dlmath.build_book")
    logger.addHandler(logging.StreamHandler(sys.stdout))
    logger.setLevel(logging.WARNING)
    executor = load_executor("local-parallel", cache=cache, logger=logger)
    start = time.perf_counter()
    with kernel_notices_filtered():
        result = executor.run_and_cache(timeout=TIMEOUT_S, allow_errors=False, force=True)
    elapsed = time.perf_counter() - start
    failed = result.excepted + result.errored
    print(f"executed {len(result.succeeded)} of {len(notebooks)} notebooks in parallel "
          f"(wall time: {elapsed:.1f} s)" + (f"; failed: {failed}" if failed else ""), flush=True)
    return not failed


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", default=None, help="where _build/ goes (default: the repository)")
    args = parser.parse_args(argv)
    os.environ["JUPYTER_PREFER_ENV_PATH"] = "1"
    out = pathlib.Path(args.path_output) if args.path_output else ROOT
    execute_into_cache(out / "_build" / ".jupyter_cache")
    jb = pathlib.Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "-W", "-n", "--keep-going"]
    if args.path_output:
        cmd += ["--path-output", str(out)]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
