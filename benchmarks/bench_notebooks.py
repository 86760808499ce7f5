"""Benchmark: each chapter notebook's execution time, kernel start included.

Run as ``.venv/bin/python benchmarks/bench_notebooks.py``. Executes every
notebook in a fresh kernel (nothing is written back) and prints its wall time;
the chapter standard's limit is 10 s on a 2-core machine (exit 1 if exceeded).
"""
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from kernel_notices import kernel_notices_filtered  # noqa: E402
LIMIT_S = 10.0


def main():
    worst = 0.0
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        with kernel_notices_filtered():
            client.execute()
        elapsed = time.perf_counter() - start
        worst = max(worst, elapsed)
        print(f"{path.name:32s} {elapsed:5.1f} s")
    verdict = "PASS" if worst < LIMIT_S else "FAIL"
    print(f"slowest notebook {worst:.1f} s (limit {LIMIT_S:.0f} s): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
