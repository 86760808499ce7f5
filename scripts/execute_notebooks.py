"""Execute chapter notebooks in place, top to bottom in one fresh kernel each.

    python scripts/execute_notebooks.py                   # every notebook in notebooks/
    python scripts/execute_notebooks.py notebooks/01_sigmoid.ipynb

This is how the stored outputs are made (nbval compares them with a fresh run).
Per-cell timing metadata is not recorded. A live slider's widget view and the
widget state are not stored: without a kernel they would show a slider that
looks live and does nothing. The stored output of a slider is its static HTML
(a still picture that says to run the cell, or, in a trusted notebook, the
pre-rendered frames with working sliders). Re-running an unchanged notebook
leaves git with nothing to commit. Prints each notebook's execution time.
"""
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

from kernel_notices import kernel_notices_filtered

ROOT = pathlib.Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    with kernel_notices_filtered():
        client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(without_live_widgets(nb), path)
    return elapsed


def without_live_widgets(nb):
    """Drop widget views from the outputs and the widget state from the metadata."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def main(argv):
    paths = [pathlib.Path(a).resolve() for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}: {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
