"""Benchmark: the wall time of the whole book build, every notebook executed.

Run as ``.venv/bin/python benchmarks/bench_book.py``. Builds into a temporary
folder with the same flags as ``make book``; the goal is about a minute on 2
cores (reported, and exit 1 above GOAL_S * 1.5 or if the build fails).
"""
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOAL_S = 60.0


def main():
    jb = pathlib.Path(sys.executable).with_name("jupyter-book")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run(
            [str(jb), "build", str(ROOT), "-W", "-n", "--keep-going", "--path-output", out],
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
    ok = proc.returncode == 0
    verdict = "PASS" if ok and elapsed < 1.5 * GOAL_S else "FAIL"
    print(f"book build {elapsed:.1f} s, exit {proc.returncode} (goal about {GOAL_S:.0f} s): {verdict}")
    if not ok:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
