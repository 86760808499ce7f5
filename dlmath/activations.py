r"""Activation functions and their derivatives.

The elementwise activations of chapter 1 (sigmoid, tanh, relu, leaky relu),
each next to its derivative, micrograd-style; and the softmax family of chapter 3, which
works along one axis: ``softmax`` with its Jacobian ``softmax_jacobian``, and
``log_softmax``, whose gradient the losses compute directly.
"""
import numbers

import numpy as np

from ._checks import as_float_array, check_ndim


def sigmoid(x):
    r"""The logistic sigmoid, elementwise, stable for any magnitude.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

    Derived in chapter 1, equation :eq:`eq-sigmoid`. Written in two branches so
    that ``exp`` only ever sees a non-positive argument and cannot overflow:
    :math:`\sigma(x) = 1 / (1 + e^{-x})` for :math:`x \ge 0` and
    :math:`\sigma(x) = e^{x} / (1 + e^{x})` for :math:`x < 0`
    (equation :eq:`eq-sigmoid-stable`).

    Parameters
    ----------
    x : array_like
        Any shape.

    Returns
    -------
    numpy.ndarray
        :math:`\sigma(x)`, the shape of ``x``, values in :math:`[0, 1]`.
    """
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_grad(x):
    r"""The derivative of the sigmoid at ``x``, elementwise.

    .. math:: \sigma'(x) = \sigma(x)\,\bigl(1 - \sigma(x)\bigr) = \sigma(x)\,\sigma(-x)

    Derived in chapter 1, equation :eq:`eq-sigmoid-grad`; the second form is
    the symmetry :eq:`eq-sigmoid-symmetry`. It is computed as
    :math:`\sigma(x)\,\sigma(-x)`: for large :math:`x`, :math:`1 - \sigma(x)`
    subtracts two nearly equal numbers and loses the digits that
    :math:`\sigma(-x)` keeps (chapter 1, equation :eq:`eq-sigmoid-grad-tails`).

    Parameters
    ----------
    x : array_like
        Any shape.

    Returns
    -------
    numpy.ndarray
        :math:`\sigma'(x)`, the shape of ``x``, values in :math:`[0, 1/4]`.
    """
    x = as_float_array(x, "x")
    return sigmoid(x) * sigmoid(-x)


def tanh(x):
    r"""The hyperbolic tangent, elementwise.

    .. math:: \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = 2\sigma(2x) - 1

    Compared with the sigmoid in chapter 1, equation :eq:`eq-tanh`.
    """
    x = as_float_array(x, "x")
    return np.tanh(x)


def tanh_grad(x):
    r"""The derivative of tanh at ``x``, elementwise.

    .. math::
        \tanh'(x) = 1 - \tanh^2(x) = 4\,\sigma(2x)\,\sigma(-2x)
        = \frac{4\,e^{-2|x|}}{\bigl(1 + e^{-2|x|}\bigr)^2}

    Derived in chapter 1, equation :eq:`eq-tanh-grad`. Computed in the last
    form, which keeps full relative accuracy where :math:`\tanh^2(x)` is
    close to 1 (the cancellation that :func:`sigmoid_grad` avoids too), with
    :math:`e^{-2|x|} = (e^{-|x|})^2` so that :math:`2|x|` is never formed
    (it overflows for :math:`|x| > 9 \times 10^{307}`).
    """
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    e2 = e * e
    return 4.0 * e2 / ((1.0 + e2) * (1.0 + e2))


def relu(x):
    r"""The rectified linear unit, elementwise.

    .. math:: \operatorname{relu}(x) = \max(0, x)

    Compared with the sigmoid in chapter 1, equation :eq:`eq-relu`.
    """
    x = as_float_array(x, "x")
    return np.maximum(x, 0.0).astype(x.dtype, copy=False)


def relu_grad(x):
    r"""The derivative of relu at ``x``, elementwise, with the value 0 at 0.

    .. math::
        \operatorname{relu}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    At :math:`x = 0` relu has no derivative; 0 is the convention deep-learning
    libraries use (chapter 1, equation :eq:`eq-relu-grad`).
    """
    x = as_float_array(x, "x")
    return (x > 0).astype(x.dtype)


def leaky_relu(x, alpha=0.01):
    r"""The leaky rectified linear unit, elementwise.

    .. math::
        \operatorname{lrelu}_\alpha(x) = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}

    Chapter 1, equation :eq:`eq-leaky-relu`: a relu whose negative side has
    the small slope :math:`\alpha` instead of 0, so that a unit whose inputs
    are all negative still receives a gradient (no dead units). The default
    :math:`\alpha = 0.01` is that of Maas et al. (2013) and of
    ``torch.nn.LeakyReLU``.

    Parameters
    ----------
    x : array_like
        Any shape.
    alpha : float
        The slope for :math:`x \le 0`, a finite number with
        :math:`0 \le \alpha < 1` (:math:`\alpha = 0` is relu).

    Returns
    -------
    numpy.ndarray
        The shape and float dtype of ``x`` (integers become float64).

    Raises
    ------
    ValueError
        If ``alpha`` is not a finite number in :math:`[0, 1)`.
    """
    x = as_float_array(x, "x")
    alpha = _check_alpha(alpha, "leaky_relu")
    return np.where(x > 0, x, alpha * x).astype(x.dtype, copy=False)


def leaky_relu_grad(x, alpha=0.01):
    r"""The derivative of :func:`leaky_relu` at ``x``, elementwise, with the value :math:`\alpha` at 0.

    .. math::
        \operatorname{lrelu}_\alpha'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}

    Chapter 1, equation :eq:`eq-leaky-relu-grad`. At :math:`x = 0` there is
    no derivative; like :func:`relu_grad` (and ``torch.nn.LeakyReLU``) this
    returns the left slope, :math:`\alpha`, a valid subgradient. It is never 0
    for :math:`\alpha > 0`.

    Parameters
    ----------
    x : array_like
        Any shape.
    alpha : float
        The slope for :math:`x \le 0`, a finite number with :math:`0 \le \alpha < 1`.

    Returns
    -------
    numpy.ndarray
        The shape and float dtype of ``x`` (integers become float64).
    """
    x = as_float_array(x, "x")
    alpha = _check_alpha(alpha, "leaky_relu_grad")
    return np.where(x > 0, 1.0, alpha).astype(x.dtype)


def _check_alpha(alpha, where):
    """``alpha`` as a float in [0, 1), or ``ValueError``."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha < 1:
        raise ValueError(f"{where}: alpha must be a finite number with 0 <= alpha < 1, got {alpha!r}")
    return float(alpha)


def log_softmax(z, axis=-1):
    r"""The log of the softmax along ``axis``, computed stably.

    .. math::
        \log \operatorname{softmax}(z)_i = z_i - \operatorname{logsumexp}(z),
        \qquad
        \operatorname{logsumexp}(z) = m + \log \sum_j e^{z_j - m},\ m = \max_j z_j

    Subtracting the maximum :math:`m` makes every exponent :math:`\le 0`, so
    nothing overflows and the largest term is exactly 1 (chapter 3, equation
    :eq:`eq-logsumexp`). That term is therefore taken out of the sum before the
    logarithm: with :math:`j^*` one index where :math:`z_{j^*} = m`,

    .. math::
        \log \operatorname{softmax}(z)_i = (z_i - m)
        - \operatorname{log1p}\Bigl(\sum_{j \ne j^*} e^{z_j - m}\Bigr),
        \qquad \operatorname{log1p}(t) = \log(1 + t),

    which is :eq:`eq-logsumexp` exactly. Computed as ``log(1 + t)``, a small
    :math:`t` would be rounded away in ``1 + t`` and the dominant entry would
    come out as 0 (``log_softmax([0.0, 100.0])[1]`` would be ``0.0``);
    ``log1p`` keeps its full relative accuracy (the exact value is
    :math:`-\log(1 + e^{-100}) \approx -3.72 \times 10^{-44}`).

    Parameters
    ----------
    z : array_like
        Logits, any shape with at least one axis.
    axis : int
        The axis the softmax normalises over.

    Returns
    -------
    numpy.ndarray
        The shape of ``z``. An axis of length 0 (no classes) gives an empty
        array of that shape: there is no entry to compute.

    Raises
    ------
    ValueError
        If ``z`` is a scalar (0-d), or ``axis`` is out of range for ``z``.
    TypeError
        If ``z`` is not numeric, or ``axis`` is not an int.
    """
    z = as_float_array(z, "z")
    axis = _check_axis(z, axis, "log_softmax")
    if z.shape[axis] == 0:
        return z.copy()  # no classes: an empty result, and no maximum to take
    top = np.argmax(z, axis=axis, keepdims=True)           # j*, one per slice
    shifted = z - np.take_along_axis(z, top, axis=axis)    # z_j - m <= 0, exactly 0 at j*
    rest = np.exp(shifted)
    np.put_along_axis(rest, top, 0.0, axis=axis)           # leave out e^0 = 1 at j*
    return shifted - np.log1p(np.sum(rest, axis=axis, keepdims=True))


def softmax(z, axis=-1):
    r"""The softmax along ``axis``, computed stably.

    .. math::
        \operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}
        = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}}, \qquad m = \max_j z_j

    Derived in chapter 3, equation :eq:`eq-softmax`; the maximum is subtracted
    first (equations :eq:`eq-logsumexp` and :eq:`eq-ce-softmax-shift`) so that
    ``softmax([1000.0, 0.0])`` is ``[1.0, 0.0]`` rather than ``nan``. The
    denominator is at least 1 (its largest term is :math:`e^0`), so the
    quotient keeps full relative accuracy in every entry and equals
    ``exp(log_softmax(z))`` to within a few rounding errors.

    Parameters
    ----------
    z : array_like
        Logits, any shape with at least one axis.
    axis : int
        The axis the softmax normalises over.

    Returns
    -------
    numpy.ndarray
        Probabilities, the shape of ``z``, summing to 1 along ``axis``. An
        axis of length 0 (no classes) gives an empty array of that shape.

    Raises
    ------
    ValueError
        If ``z`` is a scalar (0-d), or ``axis`` is out of range for ``z``.
    TypeError
        If ``z`` is not numeric, or ``axis`` is not an int.
    """
    z = as_float_array(z, "z")
    axis = _check_axis(z, axis, "softmax")
    if z.shape[axis] == 0:
        return z.copy()  # no classes: an empty result, and no maximum to take
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(z):
    r"""The Jacobian of the softmax of a 1-D vector ``z`` of length K.

    .. math::
        \frac{\partial p_i}{\partial z_j} = p_i(\delta_{ij} - p_j),
        \qquad J = \operatorname{diag}(p) - p\,p^\top,\quad p = \operatorname{softmax}(z)

    Derived in chapter 3, equation :eq:`eq-softmax-jacobian`.

    Parameters
    ----------
    z : array_like, shape (K,)

    Returns
    -------
    numpy.ndarray, shape (K, K)
        Symmetric; ``J[i, j]`` is :math:`\partial p_i / \partial z_j`. For
        K = 0 it is the empty ``(0, 0)`` matrix, the Jacobian of the only map
        from :math:`\mathbb R^0` to itself.
    """
    z = as_float_array(z, "z")
    check_ndim(z, 1, "z", "softmax_jacobian", "(K,)")
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)


def _check_axis(z, axis, where):
    """``axis`` as a non-negative index of an axis of ``z``, or ``ValueError``."""
    if z.ndim == 0:
        raise ValueError(f"{where}: z must have at least one axis, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{where}: axis must be an int, got {axis!r}")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for z of shape {z.shape}")
    return int(axis) % z.ndim
