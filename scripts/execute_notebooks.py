"""Execute chapter notebooks in place, top to bottom in one fresh kernel each.

    python scripts/execute_notebooks.py                   # every notebook in notebooks/
    python scripts/execute_notebooks.py notebooks/01_sigmoid.ipynb

This is how the stored outputs are made (nbval compares them with a fresh run).
Per-cell timing metadata is not recorded, and the random ids of the live
sliders' widget models are renamed in a fixed order, so re-running an
unchanged notebook leaves git with nothing to commit. Prints each notebook's
execution time.
"""
import json
import pathlib
import re
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
    nbformat.write(_stable_widget_ids(nb), path)
    return elapsed


def _stable_widget_ids(nb):
    """Rename widget model ids (random uuids) to ids numbered in a fixed order.

    The order: each widget view in the outputs, cell by cell, then, breadth
    first, the models its saved state refers to (``IPY_MODEL_<id>``).
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    if not state:
        return nb
    order = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and view.get("model_id") in state:
                order.append(view["model_id"])
    queue = list(order)
    while queue:
        model = queue.pop(0)
        for ref in re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(state[model], sort_keys=True)):
            if ref in state and ref not in order:
                order.append(ref)
                queue.append(ref)
    order += [m for m in sorted(state) if m not in order]
    text = json.dumps(nb)
    for i, model in enumerate(order):
        text = text.replace(model, f"{i + 1:032x}")
    return nbformat.reads(text, as_version=4)


def main(argv):
    paths = [pathlib.Path(a).resolve() for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}: {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
