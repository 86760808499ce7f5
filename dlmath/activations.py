r"""Activation functions and their derivatives.

The elementwise activations of chapter 1 (sigmoid, tanh, relu), each next to
its derivative, micrograd-style; and the softmax family of chapter 3, which
works along one axis: ``softmax`` with its Jacobian ``softmax_jacobian``, and
``log_softmax``, whose gradient the losses compute directly.
"""
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


def log_softmax(z, axis=-1):
    r"""The log of the softmax along ``axis``, computed stably.

    .. math::
        \log \operatorname{softmax}(z)_i = z_i - \operatorname{logsumexp}(z),
        \qquad
        \operatorname{logsumexp}(z) = m + \log \sum_j e^{z_j - m},\ m = \max_j z_j

    Subtracting the maximum :math:`m` makes every exponent :math:`\le 0`, so
    nothing overflows and the largest term is exactly 1 (chapter 3, equation
    :eq:`eq-logsumexp`).

    Parameters
    ----------
    z : array_like
        Logits, any shape with at least one axis.
    axis : int
        The axis the softmax normalises over.

    Returns
    -------
    numpy.ndarray
        The shape of ``z``.
    """
    z = as_float_array(z, "z")
    if z.ndim == 0:
        raise ValueError("log_softmax: z must have at least one axis, got a scalar")
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z, axis=-1):
    r"""The softmax along ``axis``, computed stably.

    .. math::
        \operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}
        = e^{z_i - \operatorname{logsumexp}(z)}

    Derived in chapter 3, equation :eq:`eq-softmax`; the maximum is subtracted
    first (equation :eq:`eq-logsumexp`) so that ``softmax([1000.0, 0.0])`` is
    ``[1.0, 0.0]`` rather than ``nan``.

    Parameters
    ----------
    z : array_like
        Logits, any shape with at least one axis.
    axis : int
        The axis the softmax normalises over.

    Returns
    -------
    numpy.ndarray
        Probabilities, the shape of ``z``, summing to 1 along ``axis``.
    """
    z = as_float_array(z, "z")
    if z.ndim == 0:
        raise ValueError("softmax: z must have at least one axis, got a scalar")
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
        Symmetric; ``J[i, j]`` is :math:`\partial p_i / \partial z_j`.
    """
    z = as_float_array(z, "z")
    check_ndim(z, 1, "z", "softmax_jacobian", "(K,)")
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)
