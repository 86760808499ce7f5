r"""Showing dlmath's own source in a chapter, and printing numbers that reproduce.

A chapter's stored outputs are compared with a fresh run on every machine
(strict nbval). A quantity at the level of rounding, such as the relative
error of a finite difference or the difference of two exact formulas, changes
in its last digits with the CPU, the BLAS kernel and the thread count; it is
printed with :func:`below` as a bound, and the ``assert`` beside it does the
real check.
"""
import inspect
import math


def show_source(*objects):
    """Return the source of functions (or classes) as a highlighted IPython ``Code`` object.

    A chapter's implementation section displays the code that the tests run,
    not a copy of it that could drift.
    """
    from IPython.display import Code

    if not objects:
        raise ValueError("show_source: name at least one function")
    return Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python")


def below(value, bound):
    r"""The text ``"< bound"`` for a rounding-level ``value``, so that the output reproduces.

    ``below(1.6e-09, 1e-8)`` is ``"< 1e-8"`` on every machine, where the value
    itself may be ``6.9e-10`` on another. Choose ``bound`` with a margin (a
    power of ten at least a few times above the values seen): it is what the
    reader sees, and the ``assert`` beside it is the check. A value that is
    not below the bound (or is ``nan``) is printed as itself with a note, so
    the stored output no longer matches and nbval reports it.

    Parameters
    ----------
    value : float
        A non-negative quantity (an error, a difference).
    bound : float
        The bound to print, > 0.

    Returns
    -------
    str
    """
    bound = float(bound)
    if not bound > 0 or math.isinf(bound):
        raise ValueError(f"below: bound must be a positive finite number, got {bound!r}")
    value = float(value)
    if value < bound:
        return f"< {_short_float(bound)}"
    return f"{value:.2g} (not below the printed bound {_short_float(bound)})"


def _short_float(x):
    """1e-08 -> '1e-8', 5e-07 -> '5e-7', 0.001 -> '0.001'."""
    text = f"{x:g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text
