r"""Loss functions and their gradients (chapter 2, mean squared error; chapter 3,
cross-entropy).

Each loss is a mean (over every element for ``mse`` and the binary losses, over
the batch for ``cross_entropy``) and returns a Python ``float``. Each ``*_grad``
is the gradient of that mean with respect to the loss's first argument: an
array of the first argument's shape and floating dtype (float32 stays float32).
An empty batch is a ``ValueError``: the mean of nothing is undefined.
"""
import numpy as np

from ._checks import as_float_array, as_labels, check_ndim, check_positive_int, check_same_shape
from .activations import log_softmax, sigmoid, softmax


def mse(y_pred, y_true):
    r"""The mean squared error over every element.

    .. math::
        L = \frac{1}{n} \sum_{i=1}^{n} \bigl(\hat y_i - y_i\bigr)^2,
        \qquad n = \text{number of elements}

    Derived in chapter 2, equation :eq:`eq-mse`.

    Parameters
    ----------
    y_pred : array_like
        Predictions :math:`\hat y`, any non-empty shape.
    y_true : array_like
        Targets :math:`y`, exactly the shape of ``y_pred`` (no broadcasting:
        an ``(N, 1)`` prediction against an ``(N,)`` target is a ``ValueError``).

    Returns
    -------
    float
    """
    y_pred, y_true = _pair(y_pred, y_true, "y_pred", "y_true", "mse")
    diff = y_pred - y_true
    return float(np.mean(diff * diff))


def mse_grad(y_pred, y_true):
    r"""The gradient of :func:`mse` with respect to ``y_pred``.

    .. math::
        \frac{\partial L}{\partial \hat y_i} = \frac{2}{n}\bigl(\hat y_i - y_i\bigr)

    Derived in chapter 2, equation :eq:`eq-mse-grad`.

    Parameters
    ----------
    y_pred, y_true : array_like
        As in :func:`mse`: equal, non-empty shapes.

    Returns
    -------
    numpy.ndarray
        The shape and floating dtype of ``y_pred``.
    """
    y_pred, y_true = _pair(y_pred, y_true, "y_pred", "y_true", "mse_grad")
    grad = 2.0 * (y_pred - y_true) / y_pred.size
    return grad.astype(y_pred.dtype, copy=False)


def binary_cross_entropy(p, y):
    r"""The binary cross-entropy of probabilities ``p`` against targets ``y``.

    .. math::
        L = -\frac{1}{n} \sum_{i=1}^{n}
        \Bigl[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \Bigr]

    Derived in chapter 3, equation :eq:`eq-ce-bce`.

    At :math:`p_i = 0` or :math:`1` a logarithm is :math:`-\infty`, so each
    logarithm is clipped from below at :math:`\log \varepsilon`, with
    :math:`\varepsilon` the machine epsilon of ``p``'s dtype
    (``np.finfo(p.dtype).eps``: about :math:`2.2 \times 10^{-16}` for float64,
    :math:`1.2 \times 10^{-7}` for float32). What is computed exactly is

    .. math::
        L = -\frac{1}{n} \sum_{i=1}^{n}
        \Bigl[ y_i \max(\log p_i, \log\varepsilon)
        + (1 - y_i) \max\bigl(\log(1 - p_i), \log\varepsilon\bigr) \Bigr],

    which equals the formula above whenever :math:`\varepsilon \le p_i \le
    1 - \varepsilon`, and caps each term at :math:`-\log\varepsilon` (about
    36.04 in float64, 15.94 in float32). A correct, certain prediction
    (:math:`p_i = y_i \in \{0, 1\}`) still costs exactly 0. From logits, use
    :func:`bce_with_logits`, which needs no clipping.

    Parameters
    ----------
    p : array_like
        Predicted probabilities, any non-empty shape, every value in
        :math:`[0, 1]` (else ``ValueError``).
    y : array_like
        Targets, exactly the shape of ``p``. Soft targets are allowed: every
        value must lie in :math:`[0, 1]` (else ``ValueError``), not only 0 or 1.

    Returns
    -------
    float
    """
    p, y = _pair(p, y, "p", "y", "binary_cross_entropy")
    _check_unit_interval(p, "p", "binary_cross_entropy")
    _check_unit_interval(y, "y", "binary_cross_entropy")
    eps = np.finfo(p.dtype).eps
    log_p = np.log(np.maximum(p, eps))                 # max(log p, log eps)
    log_1mp = np.log1p(-np.minimum(p, 1 - eps))        # max(log(1 - p), log eps)
    return float(-np.mean(y * log_p + (1 - y) * log_1mp))


def bce_with_logits(z, y):
    r"""The binary cross-entropy of :math:`p = \sigma(z)`, computed from the logits.

    .. math::
        L = -\frac{1}{n} \sum_{i=1}^{n}
        \Bigl[ y_i \log \sigma(z_i) + (1 - y_i) \log\bigl(1 - \sigma(z_i)\bigr) \Bigr]
        = \frac{1}{n} \sum_{i=1}^{n}
        \Bigl[ \max(z_i, 0) - z_i y_i + \log\bigl(1 + e^{-|z_i|}\bigr) \Bigr]

    The right-hand form is derived in chapter 3, equation
    :eq:`eq-ce-bce-logits` (with :math:`\sigma` from chapter 1,
    :eq:`eq-sigmoid`). It is what the code computes: ``exp`` only sees
    :math:`-|z_i| \le 0`, so nothing overflows, and no probability is ever
    rounded to 0 or 1, so no clipping is needed (logits of :math:`\pm 10^4`
    give a finite loss).

    Parameters
    ----------
    z : array_like
        Logits, any non-empty shape.
    y : array_like
        Targets, exactly the shape of ``z``, every value in :math:`[0, 1]`
        (soft targets allowed, else ``ValueError``).

    Returns
    -------
    float
    """
    z, y = _pair(z, y, "z", "y", "bce_with_logits")
    _check_unit_interval(y, "y", "bce_with_logits")
    per_element = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return float(np.mean(per_element))


def bce_with_logits_grad(z, y):
    r"""The gradient of :func:`bce_with_logits` with respect to the logits ``z``.

    .. math::
        \frac{\partial L}{\partial z_i} = \frac{\sigma(z_i) - y_i}{n}

    Derived in chapter 3, equation :eq:`eq-ce-bce-logits-grad`.

    Parameters
    ----------
    z, y : array_like
        As in :func:`bce_with_logits`.

    Returns
    -------
    numpy.ndarray
        The shape and floating dtype of ``z``.
    """
    z, y = _pair(z, y, "z", "y", "bce_with_logits_grad")
    _check_unit_interval(y, "y", "bce_with_logits_grad")
    grad = (sigmoid(z) - y) / z.size
    return grad.astype(z.dtype, copy=False)


def cross_entropy(logits, labels):
    r"""The mean cross-entropy of softmax probabilities against integer labels.

    .. math::
        L = -\frac{1}{N} \sum_{n=1}^{N} \log \operatorname{softmax}(z_n)_{y_n}
        = \frac{1}{N} \sum_{n=1}^{N}
        \Bigl[ \operatorname{logsumexp}(z_n) - z_{n, y_n} \Bigr]

    Derived in chapter 3, equation :eq:`eq-ce-cross-entropy`, with the softmax
    of :eq:`eq-softmax`. The log-probabilities come from
    :func:`dlmath.log_softmax`, which subtracts the row maximum first
    (:eq:`eq-logsumexp`), so logits of :math:`\pm 10^4` give a finite loss.

    Parameters
    ----------
    logits : array_like, shape (N, K)
        One row of K class scores per example; N >= 1, K >= 1.
    labels : array_like, shape (N,)
        Integer class indices in :math:`[0, K)` (whole-number floats are
        accepted); anything else is a ``ValueError``.

    Returns
    -------
    float
    """
    logits, labels = _logits_and_labels(logits, labels, "cross_entropy")
    log_probs = log_softmax(logits, axis=1)
    picked = log_probs[np.arange(logits.shape[0]), labels]
    return float(-np.mean(picked))


def cross_entropy_grad(logits, labels):
    r"""The gradient of :func:`cross_entropy` with respect to the logits.

    .. math::
        \frac{\partial L}{\partial z_{n,k}}
        = \frac{\operatorname{softmax}(z_n)_k - [k = y_n]}{N},
        \qquad \nabla_Z L = \frac{1}{N}\bigl(P - Y\bigr)

    with :math:`P` the ``(N, K)`` softmax probabilities and :math:`Y` the
    ``(N, K)`` one-hot labels (:func:`one_hot`). Derived in chapter 3, equation
    :eq:`eq-ce-cross-entropy-grad`, from the softmax Jacobian
    :eq:`eq-softmax-jacobian`.

    Parameters
    ----------
    logits, labels : array_like
        As in :func:`cross_entropy`.

    Returns
    -------
    numpy.ndarray, shape (N, K)
        The floating dtype of ``logits``.
    """
    logits, labels = _logits_and_labels(logits, labels, "cross_entropy_grad")
    n, k = logits.shape
    grad = (softmax(logits, axis=1) - one_hot(labels, k).astype(logits.dtype)) / n
    return grad.astype(logits.dtype, copy=False)


def one_hot(labels, num_classes):
    r"""Integer labels as one-hot rows.

    .. math:: Y_{n,k} = [k = y_n] = \begin{cases} 1 & k = y_n \\ 0 & \text{otherwise} \end{cases}

    Defined in chapter 3, equation :eq:`eq-ce-one-hot`.

    Parameters
    ----------
    labels : array_like, shape (N,)
        Integer class indices in :math:`[0, K)`; anything else is a
        ``ValueError``. N = 0 gives a ``(0, K)`` array.
    num_classes : int
        K >= 1.

    Returns
    -------
    numpy.ndarray, shape (N, K), float64
    """
    k = check_positive_int(num_classes, "num_classes", "one_hot")
    labels = as_labels(labels, k, "one_hot")
    out = np.zeros((labels.shape[0], k), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def _pair(a, b, name_a, name_b, where):
    """Two float arrays of one equal, non-empty shape."""
    a = as_float_array(a, name_a)
    b = as_float_array(b, name_b)
    check_same_shape(a, b, name_a, name_b, where)
    if a.size == 0:
        raise ValueError(
            f"{where}: {name_a} is empty (shape {a.shape}); "
            "the mean of no elements is undefined"
        )
    return a, b


def _check_unit_interval(a, name, where):
    """Raise ``ValueError`` unless every value of ``a`` is in [0, 1] (nan is not)."""
    inside = (a >= 0) & (a <= 1)
    if not np.all(inside):
        bad = a[~inside].reshape(-1)[0]
        raise ValueError(f"{where}: every value of {name} must be in [0, 1], got {float(bad)!r}")


def _logits_and_labels(logits, labels, where):
    """Float logits (N, K) with N, K >= 1, and int64 labels (N,) in [0, K)."""
    logits = as_float_array(logits, "logits")
    check_ndim(logits, 2, "logits", where, "(N, K)")
    n, k = logits.shape
    if n == 0:
        raise ValueError(
            f"{where}: logits is an empty batch (shape {logits.shape}); "
            "the mean over N = 0 examples is undefined"
        )
    if k == 0:
        raise ValueError(
            f"{where}: logits has shape {logits.shape}; expected (N, K) with K >= 1 classes"
        )
    labels = as_labels(labels, k, where, n=n)
    return logits, labels
