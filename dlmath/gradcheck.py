r"""Finite-difference gradient checking, used by every chapter's numerical check."""
import numpy as np

from ._checks import as_float_array, check_same_shape


def numerical_gradient(f, x, eps=1e-6):
    r"""The central-difference gradient of a scalar function ``f`` at ``x``.

    .. math::
        \frac{\partial f}{\partial x_i} \approx
        \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon}

    The error of this formula is :math:`O(\varepsilon^2)` (Taylor's theorem;
    chapter 1, equation :eq:`eq-central-difference`), against :math:`O(\varepsilon)`
    for the one-sided difference.

    ``x`` is perturbed one entry at a time *in place*, so ``f`` may be a closure
    over the very array passed in (a layer's weights, say); every entry is put
    back to its original value, even if ``f`` raises, so ``x`` is left
    unchanged. Use float64: the rounding error of the estimate is about
    :math:`u\,|f| / \varepsilon` for unit roundoff :math:`u`, about
    :math:`10^{-10}|f|` in float64 but :math:`6\%` of :math:`|f|` in float32.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar (a Python number or a size-1 array).
    x : array_like
        The point. A float ndarray is perturbed in place and restored; anything
        else is first copied to a float64 array.
    eps : float
        The step, > 0.

    Returns
    -------
    numpy.ndarray
        The gradient estimate, the shape of ``x``.
    """
    if not eps > 0:
        raise ValueError(f"numerical_gradient: eps must be > 0, got {eps!r}")
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        x = as_float_array(x, "x").astype(np.float64)
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)  # a view: writes land in x
    if not np.shares_memory(flat_x, x):
        raise ValueError("numerical_gradient: x must be contiguous so it can be perturbed in place")
    flat_grad = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        try:
            flat_x[i] = old + eps
            f_plus = _scalar(f(x))
            flat_x[i] = old - eps
            f_minus = _scalar(f(x))
        finally:
            flat_x[i] = old
        flat_grad[i] = (f_plus - f_minus) / (2.0 * eps)
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
