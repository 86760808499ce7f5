r"""The perceptron: Rosenblatt's threshold unit, its learning rule and Novikoff's bound (chapter 4).

A perceptron predicts :math:`\hat y = \operatorname{sign}(\mathbf{w}^\top\mathbf{x} + b)`
with labels :math:`y \in \{-1, +1\}` and the convention :math:`\operatorname{sign}(0) = -1`.
Rosenblatt's rule visits one example at a time and, when
:math:`y\,(\mathbf{w}^\top\mathbf{x} + b) \le 0` (a *mistake*; a point on the
boundary counts as one), moves :math:`\mathbf{w} \leftarrow \mathbf{w} + \eta\,y\,\mathbf{x}`,
:math:`b \leftarrow b + \eta\,y`. That is the bias-free rule on the augmented
input :math:`\tilde{\mathbf{x}} = (\mathbf{x}, 1)` and weights
:math:`\boldsymbol\theta = (\mathbf{w}, b)`, which is why the radius and margin in
Novikoff's bound (:func:`perceptron_radius`, :func:`perceptron_margin`,
:func:`mistake_bound`) are those of the augmented points.

Labels are -1 or +1; anything else (0/1 labels, booleans, 2, 0.5) is a
``ValueError``. Inputs are never modified. Each fast function has a ``*_naive``
reference beside it that does the same one example (or one term) at a time;
the tests compare them.
"""
import math
import numbers
from fractions import Fraction

import numpy as np

from ._checks import as_float_array, check_ndim, check_positive_int

__all__ = [
    "max_margin",
    "max_margin_naive",
    "mistake_bound",
    "perceptron_criterion",
    "perceptron_criterion_subgradient",
    "perceptron_margin",
    "perceptron_predict",
    "perceptron_predict_naive",
    "perceptron_radius",
    "perceptron_step",
    "perceptron_trace",
    "perceptron_train",
    "perceptron_train_naive",
    "separable_points",
    "threshold_layer",
    "threshold_layer_naive",
]


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------

def _pm1_hint(values):
    if values.size and set(np.unique(values).tolist()) <= {0.0, 1.0}:
        return " (labels 0/1 become -1/+1 with 2 * y - 1)"
    return ""


def _as_pm1_labels(y, where, n=None):
    """``y`` as a float array of -1.0 and +1.0 with shape (N,), or ``ValueError``."""
    arr = np.asarray(y)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{where}: labels y must be -1 or +1, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{where}: labels y must be 1-D (N,), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"{where}: y has shape {arr.shape} but x has {n} rows; expected y to have shape ({n},)"
        )
    bad = (arr != 1) & (arr != -1)
    if np.any(bad):
        shown = np.unique(arr[bad])[:5].tolist()
        raise ValueError(
            f"{where}: labels y must be -1 or +1, got {shown}{_pm1_hint(arr)}"
        )
    return arr.astype(np.float64)


def _as_pm1_label(y, where):
    """One label: the Python float -1.0 or +1.0, or ``ValueError``."""
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, (numbers.Real, np.ndarray)):
        raise ValueError(f"{where}: the label y must be -1 or +1, got {y!r}")
    arr = np.asarray(y)
    if arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise ValueError(f"{where}: the label y must be a scalar -1 or +1, got {y!r}")
    value = float(arr)
    if value not in (-1.0, 1.0):
        raise ValueError(f"{where}: the label y must be -1 or +1, got {y!r}{_pm1_hint(arr.reshape(1))}")
    return value


def _as_real(value, name, where, positive=False):
    """A finite real number as a Python float (``positive``: also > 0), else an error."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite, got {value}")
    if positive and not value > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value}")
    return value


def _as_data(x, where):
    x = as_float_array(x, "x")
    check_ndim(x, 2, "x", where, "(N, D)")
    return x


def _as_weights(w, d, where, name="w"):
    w = as_float_array(w, name)
    if w.shape != (d,):
        raise ValueError(
            f"{where}: {name} has shape {w.shape} but x has D = {d} columns; "
            f"expected {name} to have shape ({d},)"
        )
    return w


def _train_inputs(x, y, epochs, lr, w0, b0, where):
    x = _as_data(x, where)
    n, d = x.shape
    if n == 0:
        raise ValueError(f"{where}: x has shape {x.shape}; expected at least one example (N >= 1)")
    y = _as_pm1_labels(y, where, n)
    epochs = check_positive_int(epochs, "epochs", where)
    lr = _as_real(lr, "lr", where, positive=True)
    b = _as_real(b0, "b0", where)
    if w0 is None:
        w = np.zeros(d, dtype=x.dtype)
    else:
        w0 = _as_weights(w0, d, where, "w0")
        w = w0.astype(np.result_type(x.dtype, w0.dtype), copy=True)
    return x, y, epochs, lr, w, b


def _exponent(values):
    """The binary exponent e with max|values| < 2**e (0 for zeros or no values)."""
    top = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return math.frexp(top)[1]


def _scores(x, w, b, ex=None):
    """The scores x w + b as (s, e) with x w + b = s * 2**e, computed without overflow.

    Only signs and ratios of scores matter, so when the sum could leave the
    floating-point range, x is scaled by 2**-ex and (w, b) by 2**-ew, powers of
    two, which is exact; otherwise (every ordinary case) s = x w + b and e = 0.
    ``ex`` is the exponent of x, when the caller already has it; it is taken as
    at least 0, so that |s| <= (D + 1) 2**(ex + ew) also bounds the bias term
    (a small x with a bias near the float maximum). ``w`` may be a vector (D,)
    with a number ``b``, or a matrix (D, M) with a vector ``b`` (M,).
    """
    ex = max(_exponent(x) if ex is None else ex, 0)
    ew = max(_exponent(w), _exponent(b))
    room = np.finfo(np.result_type(x.dtype, w.dtype)).maxexp - 4
    if ex + ew + math.frexp(x.shape[-1] + 1.0)[1] < room:
        return x @ w + b, 0
    xs, ws = np.ldexp(x, -ex).astype(x.dtype), np.ldexp(w, -ew).astype(w.dtype)
    bs = math.ldexp(b, -ex - ew) if np.ndim(b) == 0 else np.ldexp(b, -ex - ew)
    return xs @ ws + bs, ex + ew


def _norm(v):
    """The 2-norm of a vector as (n, e), norm = n * 2**e, without overflow or underflow."""
    v = np.asarray(v, dtype=np.float64)
    e = _exponent(v)
    return float(np.linalg.norm(np.ldexp(v, -e))), e


# --------------------------------------------------------------------------
# The model: sign(x w + b)
# --------------------------------------------------------------------------

def perceptron_predict(x, w, b):
    r"""The perceptron's prediction for every row of ``x``: +1 where :math:`\mathbf{x}^\top\mathbf{w} + b > 0`, else -1.

    .. math::
        \hat y_n = \operatorname{sign}\bigl(\mathbf{x}_n^\top \mathbf{w} + b\bigr),
        \qquad \operatorname{sign}(s) = \begin{cases} +1 & s > 0 \\ -1 & s \le 0 \end{cases}

    Chapter 4, equation :eq:`eq-perc-model`. A point exactly on the boundary
    gets -1. :func:`perceptron_predict_naive` computes each score with a loop.

    Parameters
    ----------
    x : array_like, shape (N, D)
    w : array_like, shape (D,)
    b : float

    Returns
    -------
    numpy.ndarray, shape (N,), int64
        Entries -1 and +1.
    """
    where = "perceptron_predict"
    x = _as_data(x, where)
    w = _as_weights(w, x.shape[1], where)
    b = _as_real(b, "b", where)
    scores, _ = _scores(x, w, b)
    return np.where(scores > 0, 1, -1).astype(np.int64)


def perceptron_predict_naive(x, w, b):
    r""":func:`perceptron_predict` one row and one term at a time, in exact arithmetic (a reference).

    .. math:: \hat y_n = \operatorname{sign}\Bigl(\sum_{d=1}^{D} x_{nd} w_d + b\Bigr)

    Chapter 4, equation :eq:`eq-perc-model`. Every float is a fraction, so the
    sum is formed exactly with ``fractions.Fraction`` and its sign is the
    true one: no rounding, no overflow. The fast version rounds the score, and
    can disagree only for a point within rounding of the boundary.
    """
    where = "perceptron_predict_naive"
    x = _as_data(x, where)
    w = _as_weights(w, x.shape[1], where)
    b = _as_real(b, "b", where)
    out = np.empty(x.shape[0], dtype=np.int64)
    for n in range(x.shape[0]):
        score = Fraction(b)
        for d in range(x.shape[1]):
            score += Fraction(float(x[n, d])) * Fraction(float(w[d]))
        out[n] = 1 if score > 0 else -1
    return out


def threshold_layer(x, W, b):
    r"""A layer of :math:`M` perceptrons side by side: +1 where :math:`XW + \mathbf{b} > 0`, else -1.

    .. math::
        H_{nm} = \operatorname{sign}\Bigl(\sum_{d=1}^{D} X_{nd} W_{dm} + b_m\Bigr) \in \{-1, +1\}

    Column :math:`m` is :func:`perceptron_predict` with weights ``W[:, m]`` and
    bias ``b[m]``, with the same convention (a score of exactly 0 gives -1) and
    the same overflow-free scores. Chapter 4, equation :eq:`eq-perc-xor-net` (the
    hidden layer of a network of threshold units). Its derivative is 0 wherever
    it exists, so no gradient passes through it: chapter 5 replaces it by a
    smooth activation.

    Parameters
    ----------
    x : array_like, shape (N, D)
    W : array_like, shape (D, M)
    b : array_like, shape (M,)

    Returns
    -------
    numpy.ndarray, shape (N, M), int64
        Entries -1 and +1.
    """
    x, W, b = _layer_inputs(x, W, b, "threshold_layer")
    scores, _ = _scores(x, W, b)          # x W + b, scaled by a power of two if it could overflow
    return np.where(scores > 0, 1, -1).astype(np.int64)


def threshold_layer_naive(x, W, b):
    r""":func:`threshold_layer` as one :func:`perceptron_predict_naive` per unit (a reference).

    .. math:: H_{:, m} = \operatorname{sign}(X W_{:, m} + b_m)

    Chapter 4, equation :eq:`eq-perc-xor-net`.
    """
    x, W, b = _layer_inputs(x, W, b, "threshold_layer_naive")
    columns = [perceptron_predict_naive(x, W[:, m], float(b[m])) for m in range(W.shape[1])]
    return np.stack(columns, axis=1) if columns else np.zeros((x.shape[0], 0), np.int64)


def _layer_inputs(x, W, b, where):
    x = _as_data(x, where)
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(W, 2, "W", where, "(D, M)")
    if W.shape[0] != x.shape[1]:
        raise ValueError(
            f"{where}: x has shape {x.shape} but W has shape {W.shape}; "
            f"expected W to have shape ({x.shape[1]}, M)"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(
            f"{where}: W has shape {W.shape} but b has shape {b.shape}; "
            f"expected b to have shape ({W.shape[1]},)"
        )
    return x, W, b


# --------------------------------------------------------------------------
# Rosenblatt's rule
# --------------------------------------------------------------------------

def perceptron_step(w, b, x, y, lr=1.0):
    r"""One step of Rosenblatt's rule on one example ``(x, y)``.

    .. math::
        \text{if } y\,(\mathbf{w}^\top\mathbf{x} + b) \le 0:\quad
        \mathbf{w} \leftarrow \mathbf{w} + \eta\,y\,\mathbf{x},\qquad
        b \leftarrow b + \eta\,y;
        \qquad\text{otherwise nothing changes.}

    Chapter 4, equation :eq:`eq-perc-rule`: a step of stochastic subgradient
    descent on the perceptron criterion :math:`\max(0, -y(\mathbf{w}^\top\mathbf{x} + b))`
    (:eq:`eq-perc-sgd`). A point on the boundary (score 0) counts as a mistake,
    so that the rule moves away from :math:`\mathbf{w} = 0, b = 0`.

    Parameters
    ----------
    w : array_like, shape (D,)
    b : float
    x : array_like, shape (D,)
        One example.
    y : int or float
        Its label, -1 or +1.
    lr : float
        The learning rate :math:`\eta > 0`.

    Returns
    -------
    w : numpy.ndarray, shape (D,)
        A new array (the input is not modified).
    b : float
    mistake : bool
        Whether the example was a mistake (and the weights changed).
    """
    where = "perceptron_step"
    x = as_float_array(x, "x")
    check_ndim(x, 1, "x", where, "(D,)")
    w = _as_weights(w, x.shape[0], where)
    b = _as_real(b, "b", where)
    y = _as_pm1_label(y, where)
    lr = _as_real(lr, "lr", where, positive=True)
    w = w.astype(np.result_type(w.dtype, x.dtype), copy=True)
    if y * _scores(x[None], w, b)[0][0] <= 0:
        return w + (lr * y) * x, b + lr * y, True
    return w, b, False


def perceptron_train(x, y, epochs=100, lr=1.0, w0=None, b0=0.0):
    r"""Rosenblatt's rule, sweeping the rows of ``x`` in order until a sweep makes no mistake.

    .. math::
        \text{for } n = 1, \dots, N:\quad
        \text{if } y_n(\mathbf{w}^\top\mathbf{x}_n + b) \le 0:\quad
        \mathbf{w} \leftarrow \mathbf{w} + \eta\,y_n\mathbf{x}_n,\quad b \leftarrow b + \eta\,y_n

    Chapter 4, equation :eq:`eq-perc-rule`. On data that a hyperplane separates
    with margin :math:`\gamma` (of the augmented points, radius :math:`R`), the
    total number of mistakes from :math:`\mathbf{w} = 0, b = 0` is at most
    :math:`(R/\gamma)^2` (Novikoff, :eq:`eq-perc-novikoff`), whatever :math:`\eta`.

    The result equals :func:`perceptron_train_naive`, which visits every row
    in a Python loop. This version finds the next mistake with matrix-vector
    products over blocks of rows, so a sweep with few mistakes costs a few
    products instead of :math:`N` Python steps.

    Parameters
    ----------
    x : array_like, shape (N, D)
    y : array_like, shape (N,)
        Labels -1 or +1.
    epochs : int
        The most sweeps, >= 1.
    lr : float
        The learning rate :math:`\eta > 0`.
    w0 : array_like, shape (D,), optional
        The starting weights (default zeros).
    b0 : float
        The starting bias.

    Returns
    -------
    w : numpy.ndarray, shape (D,)
    b : float
    mistakes : list of int
        The number of mistakes in each sweep, in order. Training converged if
        the last entry is 0; otherwise it stopped after ``epochs`` sweeps.
    """
    x, y, epochs, lr, w, b = _train_inputs(x, y, epochs, lr, w0, b0, "perceptron_train")
    w, b, mistakes, _ = _train_blocks(x, y, epochs, lr, w, b, record=False)
    return w, b, mistakes


def perceptron_trace(x, y, epochs=100, lr=1.0, w0=None, b0=0.0):
    r"""Like :func:`perceptron_train`, but keep the weights after every mistake.

    .. math::
        \boldsymbol\theta_k = \boldsymbol\theta_{k-1} + \eta\,y_{n_k}\tilde{\mathbf{x}}_{n_k},
        \qquad \boldsymbol\theta = (\mathbf{w}, b),\ \tilde{\mathbf{x}} = (\mathbf{x}, 1)

    Chapter 4, equations :eq:`eq-perc-rule` and :eq:`eq-perc-augmented-rule`:
    :math:`\boldsymbol\theta_k` is the state after the :math:`k`-th mistake, the
    quantity of Novikoff's proof.

    Returns
    -------
    weights : numpy.ndarray, shape (K + 1, D)
        ``weights[0]`` is ``w0``; ``weights[k]`` the weights after mistake k.
    biases : numpy.ndarray, shape (K + 1,), float64
    rows : numpy.ndarray, shape (K,), int64
        The row of ``x`` that caused each mistake.
    mistakes : list of int
        The mistakes per sweep, as :func:`perceptron_train` returns them.
    """
    x, y, epochs, lr, w, b = _train_inputs(x, y, epochs, lr, w0, b0, "perceptron_trace")
    w_start, b_start = w.copy(), b
    _, _, mistakes, record = _train_blocks(x, y, epochs, lr, w, b, record=True)
    weights = np.empty((len(record) + 1, x.shape[1]), dtype=w.dtype)
    biases = np.empty(len(record) + 1, dtype=np.float64)
    weights[0], biases[0] = w_start, b_start
    for k, (w_k, b_k, _) in enumerate(record, start=1):
        weights[k], biases[k] = w_k, b_k
    rows = np.array([row for _, _, row in record], dtype=np.int64)
    return weights, biases, rows, mistakes


#: The first block of rows scored at once after a mistake; it doubles after
#: each block without a mistake, up to _MAX_BLOCK.
_FIRST_BLOCK, _MAX_BLOCK = 8, 4096


def _train_blocks(x, y, epochs, lr, w, b, record):
    """The sweeps of :func:`perceptron_train`: score a block, update at its first mistake."""
    n = x.shape[0]
    ex = _exponent(x)
    history = [] if record else None
    mistakes = []
    for _ in range(epochs):
        count, start, block = 0, 0, _FIRST_BLOCK
        while start < n:
            stop = min(n, start + block)
            margins = y[start:stop] * _scores(x[start:stop], w, b, ex)[0]
            wrong = np.flatnonzero(margins <= 0)
            if wrong.size == 0:
                start, block = stop, min(2 * block, _MAX_BLOCK)
                continue
            j = start + int(wrong[0])
            step = lr * float(y[j])            # a Python float: float32 weights stay float32
            w = w + step * x[j]
            b = b + step
            count += 1
            if record:
                history.append((w, b, j))
            start, block = j + 1, _FIRST_BLOCK
        mistakes.append(count)
        if count == 0:
            break
    return w, b, mistakes, history


def perceptron_train_naive(x, y, epochs=100, lr=1.0, w0=None, b0=0.0):
    r""":func:`perceptron_train` one example at a time, exactly as the rule is stated (a reference).

    .. math::
        \text{if } y_n(\mathbf{w}^\top\mathbf{x}_n + b) \le 0:\quad
        \mathbf{w} \leftarrow \mathbf{w} + \eta\,y_n\mathbf{x}_n,\quad b \leftarrow b + \eta\,y_n

    Chapter 4, equation :eq:`eq-perc-rule`. Same arguments and results as
    :func:`perceptron_train`.
    """
    x, y, epochs, lr, w, b = _train_inputs(x, y, epochs, lr, w0, b0, "perceptron_train_naive")
    mistakes = []
    for _ in range(epochs):
        count = 0
        for n in range(x.shape[0]):
            if y[n] * _scores(x[n:n + 1], w, b)[0][0] <= 0:
                step = lr * float(y[n])
                w = w + step * x[n]
                b = b + step
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return w, b, mistakes


# --------------------------------------------------------------------------
# The perceptron criterion: the loss the rule descends
# --------------------------------------------------------------------------

def perceptron_criterion(x, y, w, b):
    r"""The perceptron criterion, averaged over the batch.

    .. math::
        L(\mathbf{w}, b) = \frac{1}{N}\sum_{n=1}^{N} \max\bigl(0,\ -y_n(\mathbf{x}_n^\top\mathbf{w} + b)\bigr)

    Chapter 4, equation :eq:`eq-perc-criterion`. It is 0 exactly when no
    example is on the wrong side (points on the boundary cost 0 too), and it is
    not differentiable where some :math:`y_n(\mathbf{x}_n^\top\mathbf{w} + b) = 0`.

    Returns
    -------
    float
    """
    x, y, w, b = _criterion_inputs(x, y, w, b, "perceptron_criterion")
    scores, e = _scores(x, w, b)
    mean = float(np.mean(np.maximum(0.0, -y * scores)))
    return math.ldexp(mean, e) if mean < 2.0 ** (1023 - e) else math.inf   # inf: beyond float64


def perceptron_criterion_subgradient(x, y, w, b):
    r"""The subgradient of :func:`perceptron_criterion` that Rosenblatt's rule uses.

    .. math::
        \frac{\partial L}{\partial \mathbf{w}} = -\frac{1}{N}\sum_{n:\ y_n s_n \le 0} y_n\,\mathbf{x}_n,
        \qquad
        \frac{\partial L}{\partial b} = -\frac{1}{N}\sum_{n:\ y_n s_n \le 0} y_n,
        \qquad s_n = \mathbf{x}_n^\top\mathbf{w} + b

    Chapter 4, equations :eq:`eq-perc-subgradient` and :eq:`eq-perc-sgd`. Where
    :math:`y_n s_n \ne 0` for every :math:`n` this is the gradient. At a kink,
    :math:`y_n s_n = 0`, the subdifferential of term :math:`n` is the segment
    :math:`\{-t\,y_n(\mathbf{x}_n, 1) : t \in [0, 1]\}`, and this function takes
    its end :math:`t = 1`: the choice that makes one step on one example
    exactly :func:`perceptron_step`.

    Returns
    -------
    dw : numpy.ndarray, shape (D,)
    db : float
    """
    x, y, w, b = _criterion_inputs(x, y, w, b, "perceptron_criterion_subgradient")
    signed = np.where(y * _scores(x, w, b)[0] <= 0, y, 0.0).astype(x.dtype)   # y_n on the mistakes, else 0
    n = x.shape[0]
    return -(signed @ x) / n, -float(np.sum(signed, dtype=np.float64)) / n


def _criterion_inputs(x, y, w, b, where):
    x = _as_data(x, where)
    if x.shape[0] == 0:
        raise ValueError(f"{where}: x has shape {x.shape}; expected at least one example (N >= 1)")
    y = _as_pm1_labels(y, where, x.shape[0])
    w = _as_weights(w, x.shape[1], where)
    b = _as_real(b, "b", where)
    return x, y, w, b


# --------------------------------------------------------------------------
# Novikoff's bound: radius, margin, and the best margin
# --------------------------------------------------------------------------

def perceptron_radius(x):
    r"""The radius :math:`R` of the augmented points :math:`\tilde{\mathbf{x}}_n = (\mathbf{x}_n, 1)`.

    .. math::
        R = \max_n \lVert \tilde{\mathbf{x}}_n \rVert = \max_n \sqrt{\lVert \mathbf{x}_n \rVert^2 + 1}

    Chapter 4, equation :eq:`eq-perc-radius`. The constant coordinate counts:
    the rule updates the bias by :math:`\eta y`, as if every input had an extra
    entry 1, so Novikoff's :math:`R` is this one, never smaller than 1.

    Returns
    -------
    float
    """
    x = _as_data(x, "perceptron_radius")
    if x.shape[0] == 0:
        raise ValueError(f"perceptron_radius: x has shape {x.shape}; expected at least one row")
    x = x.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(x)))) if x.size else 1.0   # no overflow for huge entries
    squares = np.sum((x / scale) ** 2, axis=1) + (1.0 / scale) ** 2
    return float(scale * np.sqrt(np.max(squares)))


def perceptron_margin(x, y, w, b, augmented=True):
    r"""The margin of the separator :math:`(\mathbf{w}, b)` on the data: the worst signed distance.

    .. math::
        \gamma = \min_n \frac{y_n(\mathbf{x}_n^\top\mathbf{w} + b)}{\sqrt{\lVert\mathbf{w}\rVert^2 + b^2}}
        \quad(\text{augmented}),
        \qquad
        \gamma_{\mathbf{x}} = \min_n \frac{y_n(\mathbf{x}_n^\top\mathbf{w} + b)}{\lVert\mathbf{w}\rVert}
        \quad(\text{in the input space})

    Chapter 4, equations :eq:`eq-perc-margin` and :eq:`eq-perc-bias-margin`.
    The augmented margin is the distance of the augmented points from the
    hyperplane :math:`\boldsymbol\theta^\top\tilde{\mathbf{x}} = 0` through the
    origin of :math:`\mathbb{R}^{D+1}`, the :math:`\gamma` of Novikoff's bound;
    ``augmented=False`` gives the distance of the points :math:`\mathbf{x}_n`
    from the line (plane) :math:`\mathbf{w}^\top\mathbf{x} + b = 0`, the one a
    figure shows. Both are positive exactly when every point is strictly on its
    side. A scale of :math:`(\mathbf{w}, b)` does not change either.

    Returns
    -------
    float
        Negative if some point is on the wrong side.
    """
    where = "perceptron_margin"
    x, y, w, b = _criterion_inputs(x, y, w, b, where)
    norm, e_norm = _norm(np.append(w, b) if augmented else w)
    if norm == 0:
        what = "(w, b)" if augmented else "w"
        raise ValueError(f"{where}: {what} is zero, which is no separator")
    scores, e = _scores(x, w, b)
    return math.ldexp(float(np.min(y * scores)) / norm, e - e_norm)


def mistake_bound(x, y, w, b):
    r"""Novikoff's bound :math:`(R/\gamma)^2` on the mistakes of the rule, certified by the separator ``(w, b)``.

    .. math::
        k \le \Bigl(\frac{R}{\gamma}\Bigr)^2,
        \qquad R = \max_n \lVert(\mathbf{x}_n, 1)\rVert,
        \qquad \gamma = \min_n \frac{y_n(\mathbf{x}_n^\top\mathbf{w} + b)}{\lVert(\mathbf{w}, b)\rVert}

    Chapter 4, equation :eq:`eq-perc-novikoff`, with :func:`perceptron_radius`
    and :func:`perceptron_margin`. Any separator gives a valid bound; the one of
    largest margin (:func:`max_margin`) gives the smallest. It bounds the total
    number of mistakes of :func:`perceptron_train` started from zero weights,
    with any learning rate and in any order of the rows.

    Raises
    ------
    ValueError
        If ``(w, b)`` does not separate the data strictly (margin <= 0).
    """
    gamma = perceptron_margin(x, y, w, b)
    if not gamma > 0:
        raise ValueError(
            f"mistake_bound: (w, b) does not separate the data (its margin is {gamma:.3g} <= 0)"
        )
    return (perceptron_radius(x) / gamma) ** 2


def max_margin(x, y, tol=1e-9, max_iter=10_000):
    r"""The separator of largest augmented margin, with a certified bracket on that margin.

    .. math::
        \gamma^\star = \max_{\lVert\boldsymbol\theta\rVert = 1} \min_n y_n\,\boldsymbol\theta^\top\tilde{\mathbf{x}}_n
        = \min \Bigl\{ \Bigl\lVert \sum_n \lambda_n y_n \tilde{\mathbf{x}}_n \Bigr\rVert :
        \lambda_n \ge 0,\ \sum_n \lambda_n = 1 \Bigr\}

    Chapter 4, equation :eq:`eq-perc-max-margin`: the largest margin is the
    distance from the origin to the convex hull of the points
    :math:`\mathbf{z}_n = y_n\tilde{\mathbf{x}}_n`, and the best separator points
    at the nearest point :math:`\mathbf{z}^\star` of the hull,
    :math:`\boldsymbol\theta^\star = \mathbf{z}^\star / \lVert\mathbf{z}^\star\rVert`.
    Both directions of the equality are one line each: for a unit
    :math:`\boldsymbol\theta` and a hull point :math:`\mathbf{z}`,
    :math:`\min_n \boldsymbol\theta^\top\mathbf{z}_n \le \boldsymbol\theta^\top\mathbf{z} \le \lVert\mathbf{z}\rVert`;
    and at the nearest point every :math:`\mathbf{z}_n` has
    :math:`\mathbf{z}_n^\top\mathbf{z}^\star \ge \lVert\mathbf{z}^\star\rVert^2`.

    The nearest point is found by Wolfe's algorithm (1976), which keeps a small
    set of hull vertices (at most :math:`D + 2`) and solves a linear system on
    them; each outer step scores all :math:`N` points with one matrix-vector
    product. :func:`max_margin_naive` solves the same problem by coordinate
    ascent on the dual of :math:`\min\{\tfrac12\lVert\boldsymbol\theta\rVert^2 :
    y_n\boldsymbol\theta^\top\tilde{\mathbf{x}}_n \ge 1\}`.

    The bracket is certified whatever the iterations did: ``gamma_low`` is the
    margin of the returned separator, computed directly from the data, and
    ``gamma_high`` the norm of a convex combination of the
    :math:`\mathbf{z}_n`, which bounds :math:`\gamma^\star` from above by the
    inequality above. It stops when ``gamma_high <= gamma_low * (1 + tol)``.

    Parameters
    ----------
    x : array_like, shape (N, D)
    y : array_like, shape (N,)
        Labels -1 or +1; the data must be linearly separable (with a bias).
    tol : float
        The relative width of the bracket to stop at, > 0.
    max_iter : int
        The most outer steps; if the bracket is still wider, the (certified)
        bracket reached is returned.

    Returns
    -------
    w : numpy.ndarray, shape (D,), float64
    b : float
        The separator, scaled so that :math:`\lVert(\mathbf{w}, b)\rVert = 1`.
    gamma_low, gamma_high : float
        :math:`\gamma_{\text{low}} \le \gamma^\star \le \gamma_{\text{high}}`.

    Raises
    ------
    ValueError
        If the data are not linearly separable (the hull reaches the origin,
        to within :math:`10^{-9}` of the largest :math:`\lVert\mathbf{z}_n\rVert`),
        or for bad input.
    """
    where = "max_margin"
    z, tol, max_iter = _max_margin_inputs(x, y, tol, max_iter, where)
    scale = float(np.max(np.linalg.norm(z, axis=1)))
    corral = [int(np.argmin(np.sum(z * z, axis=1)))]     # the vertices in use
    lam = np.ones(1)                                     # their convex weights
    best = (-math.inf, None, math.inf)
    for _ in range(max_iter):
        lam = lam / lam.sum()
        point = lam @ z[corral]
        best = _certify(z, point, best, scale, where)
        if best[2] <= best[0] * (1.0 + tol):
            break
        j = int(np.argmin(z @ point))
        if j in corral:                                  # no vertex improves: rounding level
            break
        before = list(corral)
        corral, lam = _wolfe_minor_cycle(z, corral + [j], np.append(lam, 0.0))
        if corral == before:                             # j was dropped at once: rounding level
            break
    lam = lam / lam.sum()
    best = _certify(z, lam @ z[corral], best, scale, where)
    return _max_margin_result(best, where)


def _wolfe_minor_cycle(z, corral, lam):
    """Move the convex weights lam of the vertices ``corral`` to the nearest point of their hull.

    Wolfe's minor cycle: take the point of the affine hull nearest the origin;
    if its weights mu are all positive, it is in the convex hull and we are
    done. Otherwise walk from lam towards mu until the first weight reaches 0,
    drop that vertex, and repeat (each repeat drops a vertex, so this ends).
    """
    while True:
        mu = _affine_nearest(z[corral])
        if np.all(mu > 0):
            return corral, mu
        leaving = mu <= 0                 # some weight is <= 0, and sum(mu) = 1: not all
        moving = leaving & (lam > mu)     # lam >= 0 >= mu: all of them but lam = mu = 0
        drop = leaving & (lam <= 0)
        if moving.any():
            ratio = np.full(lam.shape, np.inf)
            ratio[moving] = lam[moving] / (lam[moving] - mu[moving])
            first = int(np.argmin(ratio))
            lam = lam + ratio[first] * (mu - lam)
            drop = leaving & (lam <= 0)
            drop[first] = True            # it reached 0 (up to rounding)
        corral = [c for c, d in zip(corral, drop) if not d]
        lam = np.maximum(lam[~drop], 0.0)


def _affine_nearest(q):
    """Weights mu (summing to 1) of the point of the affine hull of the rows of q nearest 0."""
    k = q.shape[0]
    system = np.zeros((k + 1, k + 1))
    system[:k, :k] = q @ q.T
    system[:k, k] = system[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    return np.linalg.lstsq(system, rhs, rcond=None)[0][:k]


def _certify(z, point, best, scale, where):
    """Update (gamma_low, theta, gamma_high) with a point of the convex hull of the rows z_n."""
    low, theta, high = best
    norm = float(np.linalg.norm(point))
    if norm <= 1e-9 * scale:
        raise ValueError(
            f"{where}: the data are not linearly separable (a convex combination of the "
            "points y_n (x_n, 1) is the origin, to within 1e-9 of their largest norm)"
        )
    high = min(high, norm)
    gamma = float(np.min(z @ point)) / norm
    if gamma > low:
        low, theta = gamma, point / norm
    return low, theta, high


def max_margin_naive(x, y, tol=1e-6, max_iter=10_000):
    r""":func:`max_margin` by coordinate ascent on the dual, one example at a time (a reference).

    .. math::
        \alpha_n \leftarrow \max\Bigl(0,\ \alpha_n + \frac{1 - y_n\,\boldsymbol\theta^\top\tilde{\mathbf{x}}_n}{\lVert\tilde{\mathbf{x}}_n\rVert^2}\Bigr),
        \qquad \boldsymbol\theta = \sum_n \alpha_n y_n \tilde{\mathbf{x}}_n

    Chapter 4, equation :eq:`eq-perc-max-margin` (Hildreth's method: each step
    maximizes the dual exactly in one coordinate). ``max_iter`` counts sweeps
    over the examples. Same results and certificates as :func:`max_margin`.
    """
    where = "max_margin_naive"
    z, tol, max_iter = _max_margin_inputs(x, y, tol, max_iter, where)
    n = z.shape[0]
    alpha = np.zeros(n)
    theta = np.zeros(z.shape[1])
    sq = np.sum(z * z, axis=1)
    best = (-math.inf, None, math.inf)
    for sweep in range(max_iter):
        for i in range(n):
            new = max(0.0, alpha[i] + (1.0 - float(z[i] @ theta)) / sq[i])
            theta = theta + (new - alpha[i]) * z[i]
            alpha[i] = new
        best = _bracket(z, alpha, best, where)
        if best[0] > 0 and best[2] <= best[0] * (1.0 + tol):
            break
    return _max_margin_result(best, where)


def _max_margin_inputs(x, y, tol, max_iter, where):
    x = _as_data(x, where)
    if x.shape[0] == 0:
        raise ValueError(f"{where}: x has shape {x.shape}; expected at least one example (N >= 1)")
    y = _as_pm1_labels(y, where, x.shape[0])
    tol = _as_real(tol, "tol", where, positive=True)
    max_iter = check_positive_int(max_iter, "max_iter", where)
    if x.size and float(np.max(np.abs(x))) > 1e100:
        raise ValueError(
            f"{where}: entries of x must be at most 1e100 in absolute value (the Gram "
            f"products would overflow), got {float(np.max(np.abs(x))):.3g}"
        )
    augmented = np.column_stack([x.astype(np.float64), np.ones(x.shape[0])])
    return y[:, None] * augmented, tol, max_iter


def _bracket(z, alpha, best, where):
    """Update (gamma_low, theta, gamma_high) with the certificates of the dual point alpha.

    For theta = Z^T alpha: its margin is a lower bound on gamma*; weak duality
    gives gamma* <= 1 / sqrt(2 D(alpha)); and since every unit vector has margin
    at most its inner product with any convex combination of the rows z_n,
    gamma* <= |Z^T alpha| / sum(alpha). At the optimum all three are equal.
    """
    theta = alpha @ z
    norm = float(np.linalg.norm(theta))
    total = float(np.sum(alpha))
    low, best_theta, high = best
    if norm > 0:
        gamma = float(np.min(z @ theta)) / norm
        if gamma > low:
            low, best_theta = gamma, theta / norm
    if total > 0:
        high = min(high, norm / total)
        dual = total - 0.5 * norm * norm
        if dual > 0:
            high = min(high, 1.0 / math.sqrt(2.0 * dual))
    scale = float(np.max(np.linalg.norm(z, axis=1)))
    if high <= 1e-9 * scale:
        raise ValueError(
            f"{where}: the data are not linearly separable (a convex combination of the "
            "points y_n (x_n, 1) is the origin, to within 1e-9 of their largest norm)"
        )
    return low, best_theta, high


def _max_margin_result(best, where):
    low, theta, high = best
    if theta is None or not low > 0:
        raise ValueError(
            f"{where}: found no separator (best margin {low:.3g}); the data may not be "
            "linearly separable"
        )
    return theta[:-1].copy(), float(theta[-1]), low, high


# --------------------------------------------------------------------------
# Data with a known margin
# --------------------------------------------------------------------------

def separable_points(n, margin, rng, u=None, b=0.0, dim=2):
    r"""``n`` points uniform in the unit ball, labelled by the side of a hyperplane, with a gap.

    .. math::
        y_n = \operatorname{sign}(\mathbf{u}^\top\mathbf{x}_n + b),
        \qquad \lvert \mathbf{u}^\top\mathbf{x}_n + b \rvert \ge \text{margin},
        \qquad \lVert \mathbf{u} \rVert = 1,\ \lVert \mathbf{x}_n \rVert \le 1

    Points are drawn uniformly in the unit ball of :math:`\mathbb{R}^D` and
    those within ``margin`` of the hyperplane are thrown away (and drawn again),
    so :math:`(\mathbf{u}, b)` separates the data with a margin of at least
    ``margin`` in the input space, and at least
    :math:`\text{margin}/\sqrt{1 + b^2}` for the augmented points (chapter 4,
    equation :eq:`eq-perc-bias-margin`).

    Parameters
    ----------
    n : int
        The number of points, >= 1.
    margin : float
        The half-width of the empty band, :math:`0 \le \text{margin} < 1 - \lvert b \rvert`
        (so that points exist on both sides).
    rng : numpy.random.Generator or int
    u : array_like, shape (D,), optional
        The normal of the hyperplane (scaled to length 1); by default
        :math:`(\cos 30°, \sin 30°)` in two dimensions and
        :math:`(1, 0, \dots, 0)` otherwise.
    b : float
        The offset, :math:`\lvert b \rvert < 1`, so that the hyperplane meets the ball.
    dim : int
        :math:`D`, used when ``u`` is not given.

    Returns
    -------
    x : numpy.ndarray, shape (n, D), float64
    y : numpy.ndarray, shape (n,), int64
        Labels -1 and +1.
    """
    where = "separable_points"
    n = check_positive_int(n, "n", where)
    margin = _as_real(margin, "margin", where)
    b = _as_real(b, "b", where)
    rng = np.random.default_rng(rng)
    if u is None:
        dim = check_positive_int(dim, "dim", where)
        u = np.zeros(dim)
        if dim == 2:
            u[:] = np.cos(np.pi / 6), np.sin(np.pi / 6)
        else:
            u[0] = 1.0
    else:
        u = as_float_array(u, "u").astype(np.float64)
        check_ndim(u, 1, "u", where, "(D,)")
        if not np.linalg.norm(u) > 0:
            raise ValueError(f"{where}: u must be a nonzero vector, got {u}")
        u = u / np.linalg.norm(u)
    if abs(b) >= 1:
        raise ValueError(f"{where}: |b| must be < 1 so that the hyperplane meets the unit ball, got b = {b}")
    if not 0 <= margin < 1 - abs(b):
        raise ValueError(
            f"{where}: margin must be in [0, 1 - |b|) = [0, {1 - abs(b):.3g}) so that points "
            f"exist on both sides, got {margin}"
        )
    d = u.shape[0]
    chunks, have = [], 0
    for _ in range(10_000):
        m = max(64, 2 * (n - have))
        direction = rng.standard_normal((m, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        radius = rng.random(m) ** (1.0 / d)
        points = direction * radius[:, None]
        keep = np.abs(points @ u + b) >= margin
        chunks.append(points[keep])
        have += int(keep.sum())
        if have >= n:
            break
    else:  # pragma: no cover - needs an absurdly thin ball slice
        raise ValueError(f"{where}: could not draw {n} points outside the band; lower the margin")
    x = np.concatenate(chunks)[:n]
    y = np.where(x @ u + b > 0, 1, -1).astype(np.int64)
    return x, y
