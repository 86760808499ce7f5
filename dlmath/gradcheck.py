r"""Finite-difference gradient checking, used by every chapter's numerical check."""
import numpy as np

from ._checks import as_float_array, check_same_shape


def numerical_gradient(f, x, eps=1e-6):
    r"""The central-difference gradient of a scalar function ``f`` at ``x``, with a relative step.

    .. math::
        \frac{\partial f}{\partial x_i} \approx
        \frac{f(x + h_i e_i) - f(x - h_i e_i)}{2 h_i},
        \qquad h_i = \varepsilon \max(1, |x_i|)

    The error of this formula is :math:`O(h_i^2)` (Taylor's theorem;
    chapter 1, equation :eq:`eq-central-difference`, with :math:`h_i` for
    :math:`\varepsilon`), against :math:`O(h_i)` for the one-sided difference.
    For :math:`|x_i| \le 1` the step is :math:`\varepsilon` itself. It grows
    with :math:`|x_i|` because floats are spaced relative to their size: an
    absolute step of :math:`10^{-6}` at :math:`x_i = 10^{10}` (where floats are
    :math:`1.9 \times 10^{-6}` apart) would be rounded to another step, and the
    quotient would be wrong. In floating point the step is first rounded to
    :math:`h_i \leftarrow (|x_i| + h_i) - |x_i|`, which makes
    :math:`x_i \pm h_i` exact floats whenever :math:`|x_i| \ge h_i`, and the
    quotient divides by the distance between the two points actually
    evaluated (:math:`2h_i` whenever both are exact):

    .. math::
        \frac{\partial f}{\partial x_i} \approx
        \frac{f(x^{(i+)}) - f(x^{(i-)})}{x_i^{+} - x_i^{-}},
        \qquad x_i^{\pm} = \operatorname{fl}(x_i \pm h_i),

    where :math:`x^{(i\pm)}` is :math:`x` with its entry :math:`i` replaced by
    :math:`x_i^{\pm}` and :math:`\operatorname{fl}` rounds to the dtype of ``x``.

    ``x`` is perturbed one entry at a time *in place*, so ``f`` may be a closure
    over the very array passed in (a layer's weights, say); every entry is put
    back to its original value, even if ``f`` raises, so ``x`` is left
    unchanged. The rounding error of the estimate is about
    :math:`u\,|f| / h_i` for unit roundoff :math:`u`: about :math:`10^{-10}|f|`
    in float64, but :math:`6\%` of :math:`|f|` in float32, and a float32
    :math:`x_i = 40` cannot even hold :math:`x_i \pm 10^{-6}` (its floats
    there are :math:`3.8 \times 10^{-6}` apart), so small steps round away. A
    float32 (or
    float16) ``x`` is therefore refused: a float64 copy would not be seen by a
    closure over ``x``, and the answer would be silently wrong.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar (a Python number or a size-1 array).
    x : array_like
        The point, finite. A float64 (or wider) ndarray is perturbed in place
        and restored; a list, a number or an integer array is first copied to
        a float64 array. It may be empty (the gradient is then empty too) or
        a strided view.
    eps : float
        The relative step :math:`\varepsilon`, finite and > 0.

    Returns
    -------
    numpy.ndarray
        The gradient estimate, the shape and dtype of ``x``.

    Raises
    ------
    ValueError
        If ``eps`` is not a finite number > 0; if ``x`` is a float32 or
        float16 array (convert it, and whatever ``f`` computes with, to
        float64), read-only, or not finite; if a step rounds to 0 or
        overflows; or if ``f`` does not return a scalar.
    """
    if isinstance(eps, bool) or not np.isscalar(eps) or not np.isfinite(eps) or not eps > 0:
        raise ValueError(f"numerical_gradient: eps must be a finite number > 0, got {eps!r}")
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if np.finfo(x.dtype).eps > np.finfo(np.float64).eps:
            raise ValueError(
                f"numerical_gradient: x has dtype {x.dtype}; central differences need float64 "
                f"(in {x.dtype} the rounding error u |f| / eps is far larger than the derivative's "
                "accuracy, and small steps round to 0). Convert x, and the arrays f computes "
                "with, to float64 first: x.astype(np.float64)"
            )
        if not x.flags.writeable:
            raise ValueError("numerical_gradient: x is read-only, so it cannot be perturbed in place")
    else:
        x = as_float_array(x, "x").astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("numerical_gradient: x contains inf or nan; expected a finite point")
    grad = np.zeros_like(x)
    rel = x.dtype.type(eps)
    for i in np.ndindex(x.shape):
        old = x[i]
        size = abs(old)
        with np.errstate(over="ignore"):
            step = (size + rel * max(size, 1)) - size  # h_i, rounded so x_i +- h_i are floats
            x_plus, x_minus = old + step, old - step
            width = x_plus - x_minus  # the step actually taken, 2 h_i when exact
        if not (np.isfinite(width) and width > 0):
            raise ValueError(
                f"numerical_gradient: at x{list(i)} = {float(old)!r} the step "
                f"eps * max(1, |x_i|) with eps = {eps!r} "
                f"{'rounds to 0' if width == 0 else 'overflows'}; choose another eps"
            )
        try:
            x[i] = x_plus
            f_plus = _scalar(f(x))
            x[i] = x_minus
            f_minus = _scalar(f(x))
        finally:
            x[i] = old
        grad[i] = (f_plus - f_minus) / width
    return grad


def rel_error(a, b):
    r"""The largest elementwise relative error between two arrays.

    .. math::
        \operatorname{rel\_error}(a, b) = \max_i
        \frac{|a_i - b_i|}{\max\bigl(10^{-12},\ |a_i| + |b_i|\bigr)}

    The floor :math:`10^{-12}` keeps entries where both are zero from dividing
    by zero. Shapes must be equal (no broadcasting).

    Returns
    -------
    float
    """
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    check_same_shape(a, b, "a", "b", "rel_error")
    if a.size == 0:
        return 0.0
    num = np.abs(a - b)
    den = np.maximum(1e-12, np.abs(a) + np.abs(b))
    return float(np.max(num / den))


def _scalar(value):
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(
            f"numerical_gradient: f must return a scalar, got an array of shape {arr.shape}"
        )
    return float(arr.reshape(()))
