"""Benchmark: live sliders in a real JupyterLab, from the key press to the new picture on screen.

Run as ``.venv/bin/python benchmarks/bench_lab_slider.py [NN_name ...]``. Starts
JupyterLab the way ``make lab`` does (``tests/lab_session.py``: its own folders,
a free port on 127.0.0.1, Debian's chromium), opens each chapter with
JupyterLab's default cell windowing, runs all its cells, scrolls to each live
slider, waits until the page has settled (no long task for 2 s: JupyterLab
renders a long chapter's new outputs in idle time for several seconds after
"run all", and a reader reads before moving a slider), and presses the arrow
keys on each of its handles (to one end and back) REPEATS times, timing each
move in the page: from the keydown event to the first animation frame after
the slider's new picture has been decoded. A move to a value whose picture is
the same as the last one's changes nothing on screen and is left out.
The goals: every slider's median under 50 ms, and the median over all sliders
under 30 ms. Prints a table and PASS/FAIL; exit 1 on FAIL. Run it on a quiet
machine: another process on the same cores slows the kernel and the browser.
"""
import pathlib
import statistics
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from lab_session import (  # noqa: E402
    chromium, handle_position, lab_server, live_slider_cells, open_notebook, run_all, show_cell, slider_handles,
    slider_latency_ms, wait_until_settled)

REPEATS = 20
SLIDER_GOAL_MS = 50.0
OVERALL_GOAL_MS = 30.0


def main(argv):
    names = argv or sorted(p.stem for p in (HERE.parent / "notebooks").glob("*.ipynb"))
    medians = []
    print(f"{'chapter':22s} {'cell':>6s} {'handle':>6s} {'median ms':>10s} {'max ms':>8s}")
    with lab_server(windowing="full") as (base, _), chromium() as browser:
        for name in names:
            page, _ = open_notebook(browser, base, f"{name}.ipynb", all_cells=False)
            run_all(page)
            for i in live_slider_cells(page):
                show_cell(page, i)
                wait_until_settled(page)
                for h in range(slider_handles(page, i)):
                    times, same, step = [], 0, 1
                    for _ in range(REPEATS):
                        now, top = handle_position(page, i, h)
                        if not 0 <= now + step <= top:  # bounce at the ends
                            step = -step
                        key = "ArrowRight" if step > 0 else "ArrowLeft"
                        try:
                            times.append(slider_latency_ms(page, i, key, handle=h, timeout_ms=1500))
                        except Exception as err:  # the neighbouring value has the same picture
                            if "did not change" not in str(err):
                                raise
                            same += 1
                    if not times:
                        raise SystemExit(f"{name}, cell {i}, handle {h}: no move changed the picture")
                    m = statistics.median(times)
                    medians.append(m)
                    note = f"   ({same} moves to an identical picture left out)" if same else ""
                    print(f"{name:22s} {i:6d} {h:6d} {m:10.1f} {max(times):8.1f}{note}", flush=True)
            page.close()
    overall = statistics.median(medians)
    worst = max(medians)
    ok = worst < SLIDER_GOAL_MS and overall < OVERALL_GOAL_MS
    print(f"median over {len(medians)} slider handles {overall:.1f} ms (goal < {OVERALL_GOAL_MS:.0f}); "
          f"slowest median {worst:.1f} ms (goal < {SLIDER_GOAL_MS:.0f}): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
