"""Execute chapter notebooks in place, top to bottom in one fresh kernel each.

    python scripts/execute_notebooks.py                   # every notebook in notebooks/
    python scripts/execute_notebooks.py notebooks/01_sigmoid.ipynb

This is how the stored outputs are made (nbval compares them with a fresh run).
Per-cell timing metadata is not recorded, so re-running an unchanged notebook
leaves git with nothing to commit. Prints each notebook's execution time.
"""
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent


def execute(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return elapsed


def main(argv):
    paths = [pathlib.Path(a).resolve() for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}: {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
