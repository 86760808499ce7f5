r"""Checking a reader's answer to an exercise against the formula in dlmath."""
import numpy as np

from ._checks import as_float_array


def check_answer(answer, expected, points=None, rtol=1e-6, atol=1e-9):
    r"""Compare a reader's answer with the value or function dlmath computes.

    A number or array is compared elementwise,
    :math:`|a - e| \le \mathrm{atol} + \mathrm{rtol}\,|e|`. A function is
    compared the same way on ``points`` (both are called with the whole array).
    ``answer`` is ``None`` until the reader fills it in.

    Prints a one-line verdict and returns ``True`` (correct), ``False`` (not
    yet) or ``None`` (no answer given). It never raises on a wrong answer, so a
    notebook with an unfinished exercise still runs top to bottom.
    """
    if answer is None or answer is Ellipsis:
        print("No answer yet: replace None with your answer and run this cell again.")
        return None
    if callable(expected):
        if points is None:
            raise ValueError("check_answer: give the points at which to compare two functions")
        if not callable(answer):
            print(f"Not yet: expected a function, got {type(answer).__name__}.")
            return False
        points = as_float_array(points, "points")
        answer, expected = answer(points), expected(points)
    try:
        a = as_float_array(answer, "answer")
    except (TypeError, ValueError) as err:
        print(f"Not yet: {err}")
        return False
    e = as_float_array(expected, "expected")
    if a.shape != e.shape:
        print(f"Not yet: your answer has shape {a.shape}, expected shape {e.shape}.")
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False)
    if ok:
        print("Correct.")
        return True
    err = float(np.max(np.abs(a - e))) if np.all(np.isfinite(a)) else float("inf")
    print(f"Not yet: your answer differs from the expected value by up to {err:.3g}.")
    return False
