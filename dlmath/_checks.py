"""Input checks shared by every dlmath module.

The API conventions (CONTRIBUTING.md) say bad input gets a clear error, never a
silent wrong answer. These helpers are the one place that rule is enforced:
array conversion (integers and booleans become float64, float32 and float64
are kept), shape equality with no broadcasting, class labels, and finite
inputs and results (an overflow is an error, not an ``inf``).
"""
import numbers

import numpy as np

_KEPT_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, name="x"):
    """Return ``x`` as a floating ndarray, or raise ``TypeError``.

    Integers and booleans become float64; float32 and float64 are kept; other
    float widths become float64. Strings, objects and complex numbers are
    rejected, because no formula in the book is defined for them.
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{name} is not a rectangular array: {err}") from None
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "f":
        return arr if arr.dtype in _KEPT_FLOATS else arr.astype(np.float64)
    raise TypeError(
        f"{name} must be a real numeric array, got dtype {arr.dtype} "
        f"(value {_short(x)})"
    )


def check_same_shape(a, b, name_a, name_b, where):
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape.

    No broadcasting: an ``(N, 1)`` array against an ``(N,)`` array is an error.
    """
    if a.shape != b.shape:
        raise ValueError(
            f"{where}: {name_a} has shape {a.shape} but {name_b} has shape "
            f"{b.shape}; expected {name_b} to have shape {a.shape} "
            "(dlmath never broadcasts these)"
        )


def check_ndim(a, ndim, name, where, layout=None):
    """Raise ``ValueError`` unless ``a.ndim == ndim``."""
    if a.ndim != ndim:
        what = f" {layout}" if layout else ""
        raise ValueError(
            f"{where}: {name} must be {ndim}-D{what}, got shape {a.shape}"
        )


def as_labels(labels, num_classes, where, n=None):
    """Return integer class labels as an int64 array, or raise ``ValueError``.

    Labels must be integers (an integer dtype, or floats that are whole
    numbers) in ``[0, num_classes)``; ``n`` is the expected length.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{where}: labels must be integers in [0, {num_classes}), got dtype {arr.dtype}"
        )
    if arr.ndim != 1:
        raise ValueError(f"{where}: labels must be 1-D (N,), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"{where}: labels has shape {arr.shape} but expected ({n},) to match the batch"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{where}: labels must be whole numbers, got {_short(arr)}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{where}: labels must be in [0, {num_classes}), got values from "
            f"{arr.min()} to {arr.max()}"
        )
    return arr.astype(np.int64)


def check_positive_int(value, name, where, minimum=1):
    """Return ``value`` as an int, or raise ``ValueError`` if below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _short(x, limit=60):
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_finite(a, name, where):
    """Raise ``ValueError`` if ``a`` has an ``inf`` or a ``nan``: sums of products
    of them have no finite value (``inf - inf`` is ``nan``), so no layer
    computes with them (the linear layer, the convolution, pooling)."""
    finite = np.isfinite(a)
    if not finite.all():
        bad = a.size - np.count_nonzero(finite)
        raise ValueError(
            f"{where}: {name} (shape {a.shape}) has {bad} "
            f"{'entry that is' if bad == 1 else 'entries that are'} inf or nan; "
            "expected finite numbers"
        )


def check_no_overflow(results, inputs, where):
    """Raise ``ValueError`` if a result is not finite: name the bad input, or the overflow.

    ``results`` and ``inputs`` are ``(name, array)`` pairs (an array may be
    ``None``). A non-finite result comes from an input that holds an ``inf``
    or a ``nan`` (then :func:`check_finite` names it; checking the results
    alone finds those inputs too, since every input entry reaches some
    result), or else from a sum of products that overflowed the floating type,
    as ``1e200 * 1e200`` does in float64. The computation runs under
    ``np.errstate(over="ignore", invalid="ignore")`` and this check turns the
    overflow into a clear error instead of numpy's bare ``RuntimeWarning``."""
    for name, result in results:
        if result is not None and not np.isfinite(result).all():
            for input_name, a in inputs:
                if a is not None:
                    check_finite(a, input_name, where)
            sizes = ", ".join(
                f"largest |{n}| = {np.max(np.abs(a)):.3g}" for n, a in inputs if a is not None
            )
            raise ValueError(
                f"{where}: {name} overflows {result.dtype} (its largest finite value is "
                f"{np.finfo(result.dtype).max:.3g}; {sizes}); the sums and products do not "
                "fit this precision: rescale the inputs"
            )
