"""Benchmark: the wall time of the whole book build, every notebook executed afresh.

Run as ``.venv/bin/python benchmarks/bench_book.py``. Builds into a temporary
folder exactly as ``make book`` does (``scripts/build_book.py``: the notebooks
executed in parallel into the Jupyter cache, then ``jupyter-book build -W -n``).
The goal: under 2 minutes on 2 cores with the .venv set up (exit 1 above it, or
if the build fails). The time grows with the notebooks' execution time divided
by the number of cores, plus Sphinx's part (reading and writing the pages),
which the script prints separately.
"""
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOAL_S = 120.0


def main():
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--path-output", out],
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
    ok = proc.returncode == 0
    executed = re.search(r"executed (\d+) of (\d+) notebooks in parallel \(wall time: ([0-9.]+) s\)", proc.stdout)
    if executed:
        n, t_exec = int(executed.group(2)), float(executed.group(3))
        print(f"notebooks: {n} executed in parallel in {t_exec:.1f} s; Sphinx and the rest: {elapsed - t_exec:.1f} s")
    verdict = "PASS" if ok and elapsed < GOAL_S else "FAIL"
    print(f"book build {elapsed:.1f} s, exit {proc.returncode} (goal under {GOAL_S:.0f} s): {verdict}")
    if not ok:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
