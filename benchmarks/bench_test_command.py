"""Benchmark: the wall time of the README's test command, on a fresh clone.

Run as ``.venv/bin/python benchmarks/bench_test_command.py``. Clones the
repository's committed HEAD into a temporary folder, reuses this .venv (a fresh
clone's venv set-up is pip's time, not the project's), and runs the pytest
command of ``make test`` there, with CI=true. The goal: under 6 minutes on 2
cores. Prints pytest's summary line and the wall time; exit 1 on failure or
above the goal. It takes minutes: run it on a quiet machine.
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOAL_S = 360.0


def main():
    with tempfile.TemporaryDirectory() as tmp:
        clone = pathlib.Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (clone / ".venv").symlink_to(ROOT / ".venv")
        env = dict(os.environ, CI="true")
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "--nbval",
             "--nbval-sanitize-with", "tests/sanitize.cfg", "-p", "no:cacheprovider", "-q"],
            cwd=clone, env=env, capture_output=True, text=True,
        )
        elapsed = time.perf_counter() - start
    summary = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line][-1:]
    print(summary[0] if summary else proc.stdout[-2000:])
    ok = proc.returncode == 0 and elapsed < GOAL_S
    print(f"test command {elapsed:.0f} s, exit {proc.returncode} (goal under {GOAL_S:.0f} s): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
