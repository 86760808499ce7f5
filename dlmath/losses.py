r"""Loss functions and their gradients (chapter 2, mean squared error; chapter 3,
cross-entropy).

Each loss is a mean (over every element for ``mse``, ``mae`` and the binary losses, over
the batch for ``cross_entropy``) and returns a Python ``float``. Each ``*_grad``
is the gradient of that mean with respect to the loss's first argument: an
array of the first argument's shape and floating dtype (float32 stays float32).
An empty batch is a ``ValueError``: the mean of nothing is undefined.

For the linear model :math:`\hat{\mathbf y} = X\mathbf w + b` of chapter 2,
:func:`mse_linear_grad` gives the gradient of the MSE with respect to
:math:`\mathbf w` and :math:`b`, and :func:`linear_regression_normal_equations`
its minimiser.

:func:`entropy` and :func:`kl_divergence` (chapter 3, the information-theory
view of cross-entropy) take probability distributions along the last axis and
return one value per distribution.
"""
import numpy as np

from ._checks import (as_float_array, as_labels, check_finite, check_ndim, check_no_overflow,
                      check_positive_int, check_same_shape)
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
    with np.errstate(over="ignore", invalid="ignore"):
        diff = y_pred - y_true
        value = np.mean(diff * diff)
    check_no_overflow([("the mean squared error", value)], [("y_pred", y_pred), ("y_true", y_true)], "mse")
    return float(value)


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
    with np.errstate(over="ignore", invalid="ignore"):
        grad = 2.0 * (y_pred - y_true) / y_pred.size
    check_no_overflow([("the gradient", grad)], [("y_pred", y_pred), ("y_true", y_true)], "mse_grad")
    return grad.astype(y_pred.dtype, copy=False)


def mse_linear_grad(X, w, b, y):
    r"""The gradient of the mean squared error of a linear model, with respect to ``w`` and ``b``.

    For :math:`\hat{\mathbf y} = X\mathbf w + b\,\mathbf 1` and
    :math:`L(\mathbf w, b) = \frac{1}{N}\lVert \hat{\mathbf y} - \mathbf y \rVert^2`,
    with the residual :math:`\mathbf r = \hat{\mathbf y} - \mathbf y`:

    .. math::
        \nabla_{\mathbf w} L = \frac{2}{N} X^\top \mathbf r,
        \qquad
        \frac{\partial L}{\partial b} = \frac{2}{N} \mathbf 1^\top \mathbf r
        = \frac{2}{N} \sum_{n=1}^{N} r_n

    Derived in chapter 2, equation :eq:`eq-mse-linear-grad` (the chain rule
    applied to :eq:`eq-mse-grad`). It is :func:`dlmath.backprop.linear_backward`
    with ``dout =`` :func:`mse_grad`, written for one output.

    Parameters
    ----------
    X : array_like, shape (N, D)
        One example per row; N >= 1.
    w : array_like, shape (D,)
        The weights.
    b : float
        The bias (a number or a 0-d array).
    y : array_like, shape (N,)
        The targets.

    Returns
    -------
    dw : numpy.ndarray, shape (D,)
    db : float
    """
    X, w, b, y = _linear_model_inputs(X, w, b, y, "mse_linear_grad")
    residual = X @ w + b - y
    n = X.shape[0]
    dw = 2.0 * (X.T @ residual) / n
    db = 2.0 * float(np.sum(residual)) / n
    return dw, db


def linear_regression_normal_equations(X, y, l2=0.0):
    r"""The weights and bias that minimise the mean squared error of a linear model.

    With the augmented matrix :math:`A = [X \;\; \mathbf 1]` of shape
    :math:`(N, D + 1)` and :math:`\boldsymbol\theta = (\mathbf w, b)`, setting
    the gradient :eq:`eq-mse-linear-grad` to zero gives the normal equations

    .. math::
        A^\top A\, \boldsymbol\theta = A^\top \mathbf y,

    derived in chapter 2, equation :eq:`eq-mse-normal-equations`. Their last
    row, :math:`\mathbf 1^\top (X\mathbf w + b\mathbf 1 - \mathbf y) = 0`, gives
    the bias :math:`b = \bar y - \bar{\mathbf x}^\top \mathbf w`. The residual
    is then :math:`X_c \mathbf w - \mathbf y_c` and sums to 0, so :math:`X^\top`
    and :math:`X_c^\top` map it to the same vector, and the other :math:`D`
    rows become a system for :math:`\mathbf w` alone in the centred data:

    .. math::
        X_c^\top X_c\, \mathbf w = X_c^\top \mathbf y_c, \qquad
        b = \bar y - \bar{\mathbf x}^\top \mathbf w, \qquad
        X_c = X - \mathbf 1 \bar{\mathbf x}^\top, \quad
        \mathbf y_c = \mathbf y - \bar y\,\mathbf 1,

    with :math:`\bar{\mathbf x} = X^\top \mathbf 1 / N` the mean row and
    :math:`\bar y` the mean target. For :math:`D = 1` this is the slope and
    intercept of chapter 2, equation :eq:`eq-mse-simple-regression`. With
    ``l2`` :math:`= \lambda > 0` it minimises the ridge loss
    :math:`\frac{1}{N}\lVert X\mathbf w + b\mathbf 1 - \mathbf y\rVert^2 + \lambda \lVert \mathbf w \rVert^2`
    instead (chapter 2, exercise ``ex-mse-ridge``; the bias is not penalised),
    whose normal equations centre in the same way:

    .. math::
        \bigl(A^\top A + N\lambda P\bigr)\, \boldsymbol\theta = A^\top \mathbf y,
        \quad P = \operatorname{diag}(1, \dots, 1, 0)
        \quad\Longleftrightarrow\quad
        \bigl(X_c^\top X_c + N\lambda I\bigr)\, \mathbf w = X_c^\top \mathbf y_c,
        \quad b = \bar y - \bar{\mathbf x}^\top \mathbf w .

    The matrix :math:`X_c^\top X_c` is never formed: that would square the
    condition number of :math:`X_c`, and :math:`A^\top A` without centring is
    numerically singular for offset features such as timestamps near
    :math:`10^8`. Instead, with the thin singular value decomposition
    :math:`X_c = U \operatorname{diag}(s)\, V^\top`,

    .. math::
        \mathbf w = V \operatorname{diag}\Bigl(\frac{s_i}{s_i^2 + N\lambda}\Bigr) U^\top \mathbf y_c ,

    which for :math:`\lambda = 0` is the least-squares solution
    :math:`V \operatorname{diag}(1/s_i)\, U^\top \mathbf y_c`. Before that,
    ``y`` and the columns of ``X`` are divided by powers of 2 (which is exact),
    so that every entry is at most 1 in size and nothing overflows; for
    :math:`\lambda > 0` one power of 2 serves all columns, since the ridge
    penalty treats every weight alike.

    Parameters
    ----------
    X : array_like, shape (N, D)
        One example per row. D = 0 is allowed: the model is then the constant
        :math:`b`, and :math:`b` is the mean of ``y``.
    y : array_like, shape (N,)
        The targets.
    l2 : float
        The ridge strength :math:`\lambda \ge 0`.

    Returns
    -------
    w : numpy.ndarray, shape (D,), float64
    b : float

    Raises
    ------
    TypeError
        If ``X`` or ``y`` is not a real numeric array.
    ValueError
        If ``X`` is not 2-D; if ``X`` is an empty batch (N = 0: the mean over no
        examples is undefined); if ``y`` does not have shape (N,); if ``X`` or
        ``y`` holds ``inf`` or ``nan``; if ``l2`` is not a finite number
        :math:`\ge 0` (negative, ``nan``, ``inf``, a bool or an array); if the
        weights or the bias overflow float64; or, for ``l2 = 0``, if the
        columns of :math:`A` are linearly dependent (fewer than D + 1
        examples, or a feature that is an affine combination of the others,
        such as a constant or duplicated feature): then the minimiser is not
        unique. They are dependent exactly when the columns of :math:`X_c`
        are. The test is numpy's ``matrix_rank`` rule made independent of the
        features' units: with every column of ``X`` scaled by a power of 2 to
        a largest entry in :math:`[\tfrac12, 1)`, the columns count as
        dependent if the smallest singular value of the scaled :math:`X_c`
        (0 if :math:`N \le D`) is at most
        :math:`\max(N, D + 1)\,\varepsilon\,\lVert [X \;\; \mathbf 1] \rVert_F`
        of the scaled matrix, :math:`\varepsilon` the machine epsilon.
    """
    X = as_float_array(X, "X").astype(np.float64, copy=False)
    y = as_float_array(y, "y").astype(np.float64, copy=False)
    where = "linear_regression_normal_equations"
    check_ndim(X, 2, "X", where, "(N, D)")
    n, d = X.shape
    if n == 0:
        raise ValueError(
            f"{where}: X is an empty batch (shape {X.shape}); "
            "the mean over N = 0 examples is undefined"
        )
    if y.shape != (n,):
        raise ValueError(
            f"{where}: y has shape {y.shape}; "
            f"expected ({n},), one target per row of X (X has shape {X.shape})"
        )
    if isinstance(l2, bool) or not np.isscalar(l2) or not np.isfinite(l2) or l2 < 0:
        raise ValueError(f"{where}: l2 must be a finite number >= 0, got {l2!r}")
    for name, arr in (("X", X), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{where}: {name} contains inf or nan; expected finite values")
    # Divide by powers of 2 (exact): afterwards |entry| < 1, and nothing below overflows.
    y_exp = int(np.frexp(np.max(np.abs(y)))[1])
    ys = np.ldexp(y, -y_exp)
    y_bar = ys.mean()
    if d == 0:
        return np.zeros(0), float(np.ldexp(y_bar, y_exp))
    col_exp = np.frexp(np.max(np.abs(X), axis=0))[1]                     # (D,)
    if l2 > 0:
        col_exp = np.full(d, col_exp.max())                               # one scale for all
    Xs = np.ldexp(X, -col_exp)
    x_bar = Xs.mean(axis=0)
    Xc, yc = Xs - x_bar, ys - y_bar                                       # centred
    try:
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)                 # X_c = U diag(s) V^T
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{where}: the singular value decomposition of the centred X failed ({err})") from None
    if l2 == 0:
        tol = max(n, d + 1) * np.finfo(np.float64).eps * np.sqrt(np.sum(Xs * Xs) + n)
        if s.size < d or s[-1] <= tol:
            raise ValueError(
                f"{where}: the columns of [X, 1] (shape {(n, d + 1)}) are linearly dependent "
                "(to within rounding), so the least-squares solution is not unique; use at least "
                "D + 1 examples, remove constant or repeated features, or set l2 > 0"
            )
        gain = 1.0 / s
    else:
        with np.errstate(over="ignore"):       # an infinite penalty gives w = 0, its limit
            penalty = np.ldexp(n * float(l2), -2 * int(col_exp[0]))       # N lambda, scaled
        gain = np.zeros_like(s)
        np.divide(s, s * s + penalty, out=gain, where=s > 0)              # s / (s^2 + N lambda)
    ws = Vt.T @ (gain * (U.T @ yc))                                       # the weights, scaled
    try:
        with np.errstate(over="raise"):
            w = np.ldexp(ws, y_exp - col_exp)
            b = float(np.ldexp(y_bar - x_bar @ ws, y_exp))                # b = y_bar - x_bar^T w
    except FloatingPointError:
        raise ValueError(f"{where}: the weights or the bias overflow float64") from None
    return w, b


def mae(y_pred, y_true):
    r"""The mean absolute error over every element.

    .. math::
        L = \frac{1}{n} \sum_{i=1}^{n} \bigl|\hat y_i - y_i\bigr|,
        \qquad n = \text{number of elements}

    Chapter 2, equation :eq:`eq-mse-mae`: the loss that is less sensitive to
    outliers than :func:`mse`.

    Parameters
    ----------
    y_pred : array_like
        Predictions :math:`\hat y`, any non-empty shape.
    y_true : array_like
        Targets :math:`y`, exactly the shape of ``y_pred``.

    Returns
    -------
    float
    """
    y_pred, y_true = _pair(y_pred, y_true, "y_pred", "y_true", "mae")
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.mean(np.abs(y_pred - y_true))
    check_no_overflow([("the mean absolute error", value)], [("y_pred", y_pred), ("y_true", y_true)], "mae")
    return float(value)


def mae_grad(y_pred, y_true):
    r"""A subgradient of :func:`mae` with respect to ``y_pred``.

    .. math::
        \frac{\partial L}{\partial \hat y_i} = \frac{1}{n}\operatorname{sign}\bigl(\hat y_i - y_i\bigr)

    Chapter 2, equation :eq:`eq-mse-mae-grad`. Where :math:`\hat y_i = y_i`
    the absolute value has no derivative; any value in :math:`[-1/n, 1/n]` is
    a subgradient there, and this function returns 0 (as ``np.sign`` does).

    Parameters
    ----------
    y_pred, y_true : array_like
        As in :func:`mae`: equal, non-empty shapes.

    Returns
    -------
    numpy.ndarray
        The shape and floating dtype of ``y_pred``.
    """
    y_pred, y_true = _pair(y_pred, y_true, "y_pred", "y_true", "mae_grad")
    with np.errstate(over="ignore"):  # a difference beyond float range still has the right sign
        grad = np.sign(y_pred - y_true) / y_pred.size
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
    p, y = _pair(p, y, "p", "y", "binary_cross_entropy", finite=False)  # both in [0, 1]: checked below
    _check_unit_interval(p, "p", "binary_cross_entropy")
    _check_unit_interval(y, "y", "binary_cross_entropy")
    eps = np.finfo(p.dtype).eps
    log_p = np.log(np.maximum(p, eps))                 # max(log p, log eps)
    log_1mp = np.log1p(-np.minimum(p, 1 - eps))        # max(log(1 - p), log eps)
    return float(-np.mean(y * log_p + (1 - y) * log_1mp)) + 0.0  # + 0.0 turns -0.0 into 0.0


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
    z, y = _pair(z, y, "z", "y", "bce_with_logits", finite=False)
    _check_unit_interval(y, "y", "bce_with_logits")
    check_finite(z, "z", "bce_with_logits")
    per_element = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    with np.errstate(over="ignore"):
        value = np.mean(per_element)
    check_no_overflow([("the mean loss", value)], [("z", z), ("y", y)], "bce_with_logits")
    return float(value)


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
    z, y = _pair(z, y, "z", "y", "bce_with_logits_grad", finite=False)
    _check_unit_interval(y, "y", "bce_with_logits_grad")
    check_finite(z, "z", "bce_with_logits_grad")
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
    :func:`~dlmath.activations.log_softmax`, which subtracts the row maximum first
    (:eq:`eq-logsumexp`), so logits of :math:`\pm 10^4` give a finite loss, and
    takes ``log1p`` of the other terms, so a confident correct prediction keeps
    its small loss to full relative accuracy. A loss of zero is returned as
    ``0.0``, never ``-0.0``.

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
    return float(-np.mean(picked)) + 0.0  # + 0.0 turns -0.0 into 0.0


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


def entropy(p):
    r"""The Shannon entropy of a probability distribution, in nats.

    .. math:: H(p) = -\sum_{k=1}^{K} p_k \log p_k, \qquad 0 \log 0 = 0

    Defined in chapter 3, equation :eq:`eq-ce-entropy`. Terms with
    :math:`p_k = 0` contribute 0 (the limit of :math:`t \log t` as
    :math:`t \to 0^+`), so no ``log(0)`` is ever evaluated.

    Parameters
    ----------
    p : array_like, shape (..., K)
        One distribution along the last axis (K >= 1): every value in
        :math:`[0, 1]` and each distribution summing to 1 (within
        :math:`\max(10^{-6}, \sqrt{\varepsilon})`), else ``ValueError``.

    Returns
    -------
    float or numpy.ndarray
        A ``float`` for one distribution (``p`` 1-D); otherwise an array of
        shape ``p.shape[:-1]``, one entropy per distribution. Values lie in
        :math:`[0, \log K]` for exact distributions; an input that sums to 1
        only within the tolerance can land outside by that much.
    """
    p = _distribution(p, "p", "entropy")
    safe = np.where(p > 0, p, 1.0)                   # log(1) = 0 where p = 0
    return _per_distribution(-np.sum(p * np.log(safe), axis=-1))


def kl_divergence(p, q):
    r"""The Kullback-Leibler divergence :math:`\operatorname{KL}(p \,\|\, q)` of ``p`` from ``q``, in nats.

    .. math::
        \operatorname{KL}(p \,\|\, q) = \sum_{k=1}^{K} p_k \log \frac{p_k}{q_k}
        = H(p, q) - H(p) \;\ge\; 0

    The inequality holds for exact distributions; inputs that sum to 1 only
    within the tolerance can give a result that is negative by about that much.

    Defined in chapter 3, equation :eq:`eq-ce-kl`; the decomposition is
    :eq:`eq-ce-decomposition` and the inequality (Gibbs') is
    :eq:`eq-ce-gibbs`. Terms with :math:`p_k = 0` contribute 0. If some
    :math:`p_k > 0` has :math:`q_k = 0`, the divergence is
    :math:`+\infty` (``q`` calls an observed outcome impossible); that value is
    returned, with no warning.

    Parameters
    ----------
    p, q : array_like, shape (..., K)
        Distributions along the last axis, of exactly the same shape, each
        checked as in :func:`entropy`.

    Returns
    -------
    float or numpy.ndarray
        A ``float`` for 1-D inputs; otherwise an array of shape
        ``p.shape[:-1]``.
    """
    p = _distribution(p, "p", "kl_divergence")
    q = _distribution(q, "q", "kl_divergence")
    check_same_shape(p, q, "p", "q", "kl_divergence")
    dtype = np.result_type(p, q)
    seen = p > 0
    log_p = np.log(np.where(seen, p, 1.0))
    log_q = np.log(np.where(q > 0, q, 1.0))
    terms = np.where(seen, p * (log_p - log_q), 0.0)
    out = np.sum(terms, axis=-1).astype(dtype, copy=False)
    impossible = np.any(seen & (q == 0), axis=-1)
    out = np.where(impossible, np.inf, out).astype(dtype, copy=False)
    return _per_distribution(out)


def _distribution(p, name, where):
    """A float array (..., K), K >= 1, of distributions along the last axis."""
    p = as_float_array(p, name)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(
            f"{where}: {name} has shape {p.shape}; expected (..., K) with K >= 1 "
            "outcomes along the last axis"
        )
    _check_unit_interval(p, name, where)
    tol = max(1e-6, float(np.sqrt(np.finfo(p.dtype).eps)))
    sums = np.sum(p, axis=-1)
    if np.any(np.abs(sums - 1.0) > tol):
        bad = float(sums.reshape(-1)[np.argmax(np.abs(sums - 1.0).reshape(-1))])
        raise ValueError(
            f"{where}: every distribution in {name} must sum to 1 along the last axis, "
            f"got a sum of {bad!r}"
        )
    return p


def _per_distribution(values):
    """A Python float for a single distribution, else the array."""
    return float(values) if values.ndim == 0 else values


def _pair(a, b, name_a, name_b, where, finite=True):
    """Two float arrays of one equal, non-empty shape; both finite if ``finite``."""
    a = as_float_array(a, name_a)
    b = as_float_array(b, name_b)
    check_same_shape(a, b, name_a, name_b, where)
    if a.size == 0:
        raise ValueError(
            f"{where}: {name_a} is empty (shape {a.shape}); "
            "the mean of no elements is undefined"
        )
    if finite:
        check_finite(a, name_a, where)
        check_finite(b, name_b, where)
    return a, b


def _linear_model_inputs(X, w, b, y, where):
    """``X`` (N, D) with N >= 1, ``w`` (D,), scalar ``b``, ``y`` (N,), as float arrays."""
    X = as_float_array(X, "X")
    w = as_float_array(w, "w")
    b = as_float_array(b, "b")
    y = as_float_array(y, "y")
    check_ndim(X, 2, "X", where, "(N, D)")
    n, d = X.shape
    if n == 0:
        raise ValueError(
            f"{where}: X is an empty batch (shape {X.shape}); "
            "the mean over N = 0 examples is undefined"
        )
    if w.shape != (d,):
        raise ValueError(
            f"{where}: w has shape {w.shape}; expected ({d},), one weight per column of X "
            f"(X has shape {X.shape})"
        )
    if b.shape != ():
        raise ValueError(f"{where}: b has shape {b.shape}; expected a scalar bias, shape ()")
    if y.shape != (n,):
        raise ValueError(
            f"{where}: y has shape {y.shape}; expected ({n},), one target per row of X "
            f"(X has shape {X.shape})"
        )
    return X, w, b, y


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
