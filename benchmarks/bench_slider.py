"""Benchmark: how long one live slider redraw takes, for every chapter's sliders.

Run as ``.venv/bin/python benchmarks/bench_slider.py``. Each chapter notebook's
code cells are run in order in this process (figures off screen), with
``dlmath.widgets.slider`` wrapped so the sliders they make are kept; then each
slider's live redraw (update the artists, blit, encode the PNG the widget
shows) is timed with ``dlmath.widgets.time_redraw`` over many positions. The
goal is "well under 50 ms"; a slider at or above GATE_MS fails (exit 1).
"""
import contextlib
import io
import json
import pathlib
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dlmath import widgets  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
GATE_MS = 25.0


def sliders_of(path):
    made = []
    original = widgets.slider

    def keep(*args, **kwargs):
        s = original(*args, **kwargs)
        made.append(s)
        return s

    widgets.slider = keep
    plt.show = lambda *a, **k: plt.close("all")
    namespace = {"__name__": "__main__"}
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                code = code.replace("from dlmath.widgets import slider", "slider = __import__('dlmath.widgets').widgets.slider")
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore", UserWarning)  # "FigureCanvasAgg is non-interactive"
                    exec(compile(code, f"{path.name}", "exec"), namespace)
    finally:
        widgets.slider = original
    return made


def main():
    worst = 0.0
    print(f"{'chapter':28s} {'slider':>6s} {'frames':>6s} {'redraw (median ms)':>19s}")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, s in enumerate(sliders_of(path)):
            frames = 1
            for values in s.params.values():
                frames *= values.size
            ms = widgets.time_redraw(s, repeats=40)
            worst = max(worst, ms)
            print(f"{path.stem:28s} {i:6d} {frames:6d} {ms:19.1f}")
        plt.close("all")
    verdict = "PASS" if worst < GATE_MS else "FAIL"
    print(f"slowest redraw {worst:.1f} ms (goal: well under 50 ms; gate {GATE_MS:.0f} ms): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
