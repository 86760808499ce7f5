r"""The transformer block: layer norm, positional encodings, multi-head self-attention (chapter 11).

A pre-norm transformer block maps a batch of sequences ``x`` of shape
``(N, L, d)`` to one of the same shape,

.. math::
    H = X + \operatorname{MHA}\bigl(\operatorname{LN}_1(X)\bigr), \qquad
    \mathrm{out} = H + \operatorname{relu}\bigl(\operatorname{LN}_2(H)\, W_1 + b_1\bigr) W_2 + b_2,

and is built here from the pieces earlier chapters derived: the linear layer
and the relu layer of chapter 5 (:func:`dlmath.backprop.linear_forward`,
:func:`dlmath.backprop.relu_forward`), scaled dot-product attention, the causal
mask and the split into heads of chapter 10 (:mod:`dlmath.attention`). This
module adds layer normalization, the sinusoidal positional encoding, multi-head
self-attention with learned projections, the block (and the post-norm block it
is compared with), and a token embedding.

Every layer is a stateless pair, ``out, cache = thing_forward(...)`` and
``dx, grads = thing_backward(dout, cache)``, where ``grads`` is a dict keyed
like the parameters the forward used. The parameters of a block are one dict
(:data:`BLOCK_KEYS`); :func:`transformer_block_forward` equals
``torch.nn.TransformerEncoderLayer(d, num_heads, d_ff, dropout=0.0,
activation="relu", batch_first=True, norm_first=True)`` with
``in_proj_weight`` the rows of :math:`W_Q^\top, W_K^\top, W_V^\top`,
``out_proj.weight`` :math:`= W_O^\top`, ``linear1.weight`` :math:`= W_1^\top`,
``linear2.weight`` :math:`= W_2^\top`. Masks are boolean and True where a query
may attend to a key (torch's boolean masks are the opposite: True where it may
not). ``*_naive`` functions compute the same quantities with loops, as
references for the tests and the chapter.
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_positive_int
from .attention import attention_backward, attention_forward, attention_naive, merge_heads, split_heads
from .backprop import linear_backward, linear_forward, relu_backward, relu_forward

#: The parameters multi-head attention uses, in the order its gradients are returned.
MHA_KEYS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")

#: Every parameter of a transformer block, in the order its gradients are returned.
BLOCK_KEYS = (
    "ln1_gamma", "ln1_beta",
    "Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo",
    "ln2_gamma", "ln2_beta",
    "W1", "b1", "W2", "b2",
)


# --------------------------------------------------------------------------
# Layer normalization
# --------------------------------------------------------------------------

def layer_norm_forward(x, gamma, beta, eps=1e-5):
    r"""Layer normalization over the last axis: each feature vector to mean 0, variance 1, then scaled.

    For one row :math:`\mathbf{x} \in \mathbb{R}^d` (chapter 11, :eq:`eq-tf-ln-forward`):

    .. math::
        \mu = \frac{1}{d}\sum_{j=1}^{d} x_j, \qquad
        \sigma^2 = \frac{1}{d}\sum_{j=1}^{d} (x_j - \mu)^2, \qquad
        \hat{x}_j = \frac{x_j - \mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad
        y_j = \gamma_j \hat{x}_j + \beta_j .

    The variance is the biased one (divided by :math:`d`), as in
    ``torch.nn.functional.layer_norm``, and every row of every leading axis is
    normalized on its own. A constant row has :math:`\hat{\mathbf{x}} = 0` and
    :math:`\mathbf{y} = \boldsymbol\beta` (that is what :math:`\varepsilon > 0`
    is for). Where :math:`(x_j - \mu)^2` would overflow (entries beyond about
    :math:`10^{154}` in float64), the row is first divided by its largest
    :math:`|x_j|`, which leaves :math:`\hat{\mathbf{x}}` unchanged when
    :math:`\varepsilon` is divided by that number squared: finite input of any
    magnitude gives a finite output and no warning.

    Parameters
    ----------
    x : array_like, shape (..., d)
    gamma, beta : array_like, shape (d,)
        The learned scale and shift.
    eps : float
        :math:`\varepsilon > 0`, added to the variance.

    Returns
    -------
    out : numpy.ndarray, shape (..., d)
    cache : dict
        For :func:`layer_norm_backward`: :math:`\hat{x}` (``"xhat"``) and
        :math:`1/\sqrt{\sigma^2 + \varepsilon}` per row (``"rstd"``).
    """
    x, gamma, beta, eps = _layer_norm_inputs(x, gamma, beta, eps, "layer_norm_forward")
    dtypes = (x.dtype, gamma.dtype, beta.dtype)
    dtype = np.result_type(x, gamma, beta)
    xw = x.astype(dtype, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.mean(xw, axis=-1, keepdims=True)
        centred = xw - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        rstd = 1.0 / np.sqrt(var + eps)
        xhat = centred * rstd
    overflowed = ~np.isfinite(var[..., 0])
    if np.any(overflowed):
        xhat[overflowed], rstd[overflowed] = _layer_norm_rescaled(xw[overflowed], eps)
    out = gamma * xhat + beta
    cache = {"xhat": xhat, "rstd": rstd, "gamma": gamma.astype(dtype, copy=False),
             "dtypes": dtypes}
    return out, cache


def layer_norm_backward(dout, cache):
    r"""The gradients of layer normalization: the Jacobian's mean and variance terms, applied row by row.

    With :math:`\mathbf{g} = \boldsymbol\gamma \odot \partial L / \partial \mathbf{y}`
    for one row, chapter 11 derives (:eq:`eq-tf-ln-jacobian`, :eq:`eq-tf-ln-backward`)

    .. math::
        \frac{\partial \hat{x}_i}{\partial x_j} = \frac{1}{\sigma_\varepsilon}
        \Bigl(\delta_{ij} - \frac{1}{d} - \frac{\hat{x}_i \hat{x}_j}{d}\Bigr),
        \qquad
        \frac{\partial L}{\partial \mathbf{x}} = \frac{1}{\sigma_\varepsilon}
        \Bigl(\mathbf{g} - \bar{g}\,\mathbf{1} - \overline{g \hat{x}}\;\hat{\mathbf{x}}\Bigr),

    where :math:`\sigma_\varepsilon = \sqrt{\sigma^2 + \varepsilon}`, the bars are
    means over the row, and the two subtracted terms come from the dependence
    of :math:`\mu` and :math:`\sigma^2` on every :math:`x_j`. The parameters get
    sums over every row (every position of every sequence uses them):

    .. math::
        \frac{\partial L}{\partial \gamma_j} = \sum_{\text{rows}} \frac{\partial L}{\partial y_j}\,\hat{x}_j,
        \qquad
        \frac{\partial L}{\partial \beta_j} = \sum_{\text{rows}} \frac{\partial L}{\partial y_j}.

    The :math:`d \times d` Jacobian is never built: each row costs :math:`O(d)`.

    Parameters
    ----------
    dout : array_like, shape (..., d)
        :math:`\partial L / \partial \mathbf{y}`, the shape of the forward's ``out``.
    cache : dict
        From :func:`layer_norm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (..., d)
    dgamma, dbeta : numpy.ndarray, shape (d,)
    """
    xhat, rstd, gamma = cache["xhat"], cache["rstd"], cache["gamma"]
    dout = as_float_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(
            f"layer_norm_backward: dout has shape {dout.shape}, expected the shape of "
            f"the forward's out {xhat.shape}"
        )
    g = dout * gamma
    mean_g = np.mean(g, axis=-1, keepdims=True)
    mean_gx = np.mean(g * xhat, axis=-1, keepdims=True)
    dx = rstd * (g - mean_g - xhat * mean_gx)
    lead = tuple(range(dout.ndim - 1))
    dgamma = np.sum(dout * xhat, axis=lead)
    dbeta = np.sum(dout, axis=lead)
    return tuple(g_.astype(t, copy=False) for g_, t in zip((dx, dgamma, dbeta), cache["dtypes"]))


def layer_norm_naive(x, gamma, beta, eps=1e-5):
    r"""Layer normalization one row and one entry at a time: a reference for :func:`layer_norm_forward`.

    .. math::
        y_j = \gamma_j\,\frac{x_j - \mu}{\sqrt{\sigma^2 + \varepsilon}} + \beta_j,
        \qquad \mu = \frac{1}{d}\sum_j x_j, \quad \sigma^2 = \frac{1}{d}\sum_j (x_j - \mu)^2

    Chapter 11, :eq:`eq-tf-ln-forward`, read literally with Python loops (and
    without the rescaling that :func:`layer_norm_forward` does for entries
    near the overflow threshold). Slow.

    Parameters
    ----------
    x, gamma, beta, eps
        As in :func:`layer_norm_forward`.

    Returns
    -------
    numpy.ndarray, shape (..., d)
    """
    x, gamma, beta, eps = _layer_norm_inputs(x, gamma, beta, eps, "layer_norm_naive")
    dtype = np.result_type(x, gamma, beta)
    d = x.shape[-1]
    rows = x.reshape(-1, d)
    out = np.zeros(rows.shape, dtype=dtype)
    for r, row in enumerate(rows):
        mu = sum(row[j] for j in range(d)) / d
        var = sum((row[j] - mu) ** 2 for j in range(d)) / d
        for j in range(d):
            out[r, j] = gamma[j] * (row[j] - mu) / math.sqrt(var + eps) + beta[j]
    return out.reshape(x.shape)


def layer_norm_jacobian(x, gamma, eps=1e-5):
    r"""The :math:`d \times d` Jacobian of layer normalization at one vector ``x``.

    .. math::
        J_{ij} = \frac{\partial y_i}{\partial x_j}
        = \frac{\gamma_i}{\sigma_\varepsilon}\Bigl(\delta_{ij} - \frac{1}{d} - \frac{\hat{x}_i\hat{x}_j}{d}\Bigr),
        \qquad
        J = \frac{1}{\sigma_\varepsilon}\operatorname{diag}(\boldsymbol\gamma)
        \Bigl(I - \tfrac{1}{d}\mathbf{1}\mathbf{1}^\top - \tfrac{1}{d}\hat{\mathbf{x}}\hat{\mathbf{x}}^\top\Bigr)

    Chapter 11, :eq:`eq-tf-ln-jacobian`: the identity, minus the mean term
    :math:`\tfrac1d \mathbf{1}\mathbf{1}^\top`, minus the variance term
    :math:`\tfrac1d \hat{\mathbf{x}}\hat{\mathbf{x}}^\top`. It has
    :math:`\mathbf{1}` and :math:`\hat{\mathbf{x}}` in its null space (shifting
    or rescaling the input does not change :math:`\hat{\mathbf{x}}`, to first order).
    :func:`layer_norm_backward_naive` uses it; :func:`layer_norm_backward`
    applies it without building it.

    Parameters
    ----------
    x : array_like, shape (d,)
    gamma : array_like, shape (d,)
    eps : float

    Returns
    -------
    numpy.ndarray, shape (d, d)
    """
    x = as_float_array(x, "x")
    if x.ndim != 1:
        raise ValueError(f"layer_norm_jacobian: x must be 1-D (d,), got shape {x.shape}")
    _, cache = layer_norm_forward(x, gamma, np.zeros_like(x), eps)
    xhat, rstd, gamma = cache["xhat"], cache["rstd"][0], cache["gamma"]
    d = x.shape[0]
    centering = np.eye(d, dtype=xhat.dtype) - 1.0 / d - np.outer(xhat, xhat) / d
    return gamma[:, None] * rstd * centering


def layer_norm_backward_naive(dout, x, gamma, eps=1e-5):
    r"""The gradients of layer normalization through the explicit Jacobian of each row.

    .. math::
        \frac{\partial L}{\partial \mathbf{x}} = J^\top \frac{\partial L}{\partial \mathbf{y}},
        \qquad
        \frac{\partial L}{\partial \boldsymbol\gamma} = \sum_{\text{rows}} \frac{\partial L}{\partial \mathbf{y}} \odot \hat{\mathbf{x}},
        \qquad
        \frac{\partial L}{\partial \boldsymbol\beta} = \sum_{\text{rows}} \frac{\partial L}{\partial \mathbf{y}}

    with :math:`J` from :func:`layer_norm_jacobian` (chapter 11,
    :eq:`eq-tf-ln-jacobian`), one row at a time: a reference for
    :func:`layer_norm_backward`. Costs :math:`O(d^2)` per row.

    Parameters
    ----------
    dout : array_like, shape (..., d)
    x : array_like, shape (..., d)
        The forward's input.
    gamma : array_like, shape (d,)
    eps : float

    Returns
    -------
    dx, dgamma, dbeta
        As in :func:`layer_norm_backward`.
    """
    x = as_float_array(x, "x")
    dout = as_float_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(
            f"layer_norm_backward_naive: dout has shape {dout.shape}, expected the shape of x {x.shape}"
        )
    d = x.shape[-1]
    rows, drows = x.reshape(-1, d), dout.reshape(-1, d)
    dx = np.zeros(rows.shape, dtype=np.result_type(x, dout, gamma))
    dgamma = np.zeros(d, dtype=dx.dtype)
    dbeta = np.zeros(d, dtype=dx.dtype)
    for r in range(rows.shape[0]):
        dx[r] = layer_norm_jacobian(rows[r], gamma, eps).T @ drows[r]
        _, cache = layer_norm_forward(rows[r], np.ones(d), np.zeros(d), eps)
        dgamma += drows[r] * cache["xhat"]
        dbeta += drows[r]
    return dx.reshape(x.shape), dgamma, dbeta


def _layer_norm_rescaled(rows, eps):
    r"""xhat and 1/sigma_eps of rows whose squares overflow, computed from rows / max|row|.

    With :math:`s = \max_j |x_j|` and :math:`\mathbf{u} = \mathbf{x}/s`,
    :math:`\hat{\mathbf{x}} = (\mathbf{u} - \mu_u)/\sqrt{\sigma_u^2 + \varepsilon/s^2}`
    exactly, and :math:`1/\sigma_\varepsilon = 1/(s \sqrt{\sigma_u^2 + \varepsilon/s^2})`.
    """
    scale = np.max(np.abs(rows), axis=-1, keepdims=True)  # > 0: these rows overflowed
    u = rows / scale
    centred = u - np.mean(u, axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    # eps / s^2 as (eps / s) / s: it may underflow to 0, never overflow; the
    # floor keeps a constant row at 0 / tiny = 0 rather than 0 / 0.
    denom = np.sqrt(np.maximum(var + (eps / scale) / scale, np.finfo(rows.dtype).tiny))
    return centred / denom, (1.0 / denom) / scale


def _layer_norm_inputs(x, gamma, beta, eps, where):
    x = as_float_array(x, "x")
    gamma = as_float_array(gamma, "gamma")
    beta = as_float_array(beta, "beta")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"{where}: x must have a last axis of length d >= 1, got shape {x.shape}")
    d = x.shape[-1]
    for name, arr in (("gamma", gamma), ("beta", beta)):
        if arr.shape != (d,):
            raise ValueError(
                f"{where}: {name} has shape {arr.shape}, expected ({d},) for x of shape {x.shape}"
            )
    if (isinstance(eps, bool) or not isinstance(eps, numbers.Real)
            or not math.isfinite(eps) or eps <= 0):
        raise ValueError(f"{where}: eps must be a finite number > 0, got {eps!r}")
    return x, gamma, beta, float(eps)


# --------------------------------------------------------------------------
# Positional encodings and token embeddings
# --------------------------------------------------------------------------

def positional_encoding(L, d):
    r"""The sinusoidal positional encodings of Vaswani et al. (2017), one row per position.

    .. math::
        \mathrm{PE}_{p,\,2i} = \sin\bigl(p\,\omega_i\bigr), \qquad
        \mathrm{PE}_{p,\,2i+1} = \cos\bigl(p\,\omega_i\bigr), \qquad
        \omega_i = 10000^{-2i/d},

    for positions :math:`p = 0, \dots, L-1` (chapter 11, :eq:`eq-tf-pe`). Column
    pair :math:`(2i, 2i+1)` turns at the angular frequency :math:`\omega_i`,
    from 1 radian per position down to almost :math:`10^{-4}`. For an odd
    :math:`d` the last column is a sine with no cosine partner.
    :func:`positional_shift_matrix` is the linear map from row :math:`p` to row
    :math:`p + k`.

    Parameters
    ----------
    L : int
        The number of positions, >= 1.
    d : int
        The model width, >= 1.

    Returns
    -------
    numpy.ndarray, shape (L, d), float64
    """
    L = check_positive_int(L, "L", "positional_encoding")
    d = check_positive_int(d, "d", "positional_encoding")
    angles = np.arange(L, dtype=np.float64)[:, None] * _pe_frequencies(d)[None, :]
    pe = np.empty((L, d))
    pe[:, 0::2] = np.sin(angles[:, 0::2])
    pe[:, 1::2] = np.cos(angles[:, 1::2])
    return pe


def positional_encoding_naive(L, d):
    r"""The sinusoidal positional encodings one entry at a time: a reference for :func:`positional_encoding`.

    .. math::
        \mathrm{PE}_{p,j} = \begin{cases} \sin\bigl(p / 10000^{j/d}\bigr) & j \text{ even} \\
        \cos\bigl(p / 10000^{(j-1)/d}\bigr) & j \text{ odd} \end{cases}

    Chapter 11, :eq:`eq-tf-pe`.

    Parameters
    ----------
    L, d : int

    Returns
    -------
    numpy.ndarray, shape (L, d)
    """
    L = check_positive_int(L, "L", "positional_encoding_naive")
    d = check_positive_int(d, "d", "positional_encoding_naive")
    pe = np.zeros((L, d))
    for p in range(L):
        for j in range(d):
            if j % 2 == 0:
                pe[p, j] = math.sin(p / 10000 ** (j / d))
            else:
                pe[p, j] = math.cos(p / 10000 ** ((j - 1) / d))
    return pe


def positional_shift_matrix(k, d):
    r"""The fixed linear map that moves every sinusoidal encoding ``k`` positions on.

    .. math::
        \mathrm{PE}_{p + k} = \mathrm{PE}_{p}\, R_k, \qquad
        R_k = \operatorname{blockdiag}_i \begin{pmatrix} \cos k\omega_i & -\sin k\omega_i \\
        \sin k\omega_i & \cos k\omega_i \end{pmatrix}

    for every position :math:`p` (encodings are rows, as in
    :func:`positional_encoding`). Chapter 11, :eq:`eq-tf-pe-shift`: each column
    pair :math:`(\sin p\omega_i, \cos p\omega_i)` is a point on a circle, and
    moving :math:`k` positions on turns it by the angle :math:`k\omega_i`, by the
    angle-addition formulas; :math:`R_k` depends on :math:`k` but not on
    :math:`p`. It is orthogonal and :math:`R_p R_k = R_{p+k}` (rotations of
    the same planes add their angles), so :math:`\mathrm{PE}_p = \mathrm{PE}_0 R_p`
    and :math:`\mathrm{PE}_p \cdot \mathrm{PE}_{p+k} = \mathrm{PE}_0 R_k^\top \mathrm{PE}_0^\top`
    depends only on :math:`k`. Needs an even :math:`d`: an unpaired last sine
    :math:`\sin(p\omega)` would need :math:`\cos(p\omega)`, which is not a
    linear combination of the encoding's columns, so no fixed map exists then.

    Parameters
    ----------
    k : float
        The offset (any real number; negative moves back).
    d : int
        The model width, even and >= 2.

    Returns
    -------
    numpy.ndarray, shape (d, d)
    """
    d = check_positive_int(d, "d", "positional_shift_matrix", minimum=2)
    if d % 2:
        raise ValueError(
            f"positional_shift_matrix: d={d} is odd; the shift is a rotation of each "
            "(sin, cos) column pair, so d must be even"
        )
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k):
        raise ValueError(f"positional_shift_matrix: k must be a finite number, got {k!r}")
    phi = k * _pe_frequencies(d)[0::2]
    c, s = np.cos(phi), np.sin(phi)
    R = np.zeros((d, d))
    even = np.arange(0, d, 2)
    R[even, even] = c
    R[even, even + 1] = -s
    R[even + 1, even] = s
    R[even + 1, even + 1] = c
    return R


def _pe_frequencies(d):
    """omega for every column j: 10000^(-2 floor(j/2) / d)."""
    return 10000.0 ** (-(2 * (np.arange(d) // 2)) / d)


def embedding_forward(tokens, weight):
    r"""Token embedding: each integer token picks its row of the embedding matrix.

    .. math::
        \mathrm{out}_{n\ell:} = E_{t_{n\ell}\,:}, \qquad \text{i.e.}\quad
        \mathrm{out} = \operatorname{onehot}(t)\, E

    Chapter 11, :eq:`eq-tf-embedding`: a lookup, the same as multiplying the
    one-hot vector of the token by :math:`E \in \mathbb{R}^{V \times d}`.

    Parameters
    ----------
    tokens : array_like of int, any shape (...,)
        Integers in :math:`[0, V)`.
    weight : array_like, shape (V, d)
        The embedding matrix :math:`E`.

    Returns
    -------
    out : numpy.ndarray, shape (..., d)
    cache : tuple
        For :func:`embedding_backward`.
    """
    weight = as_float_array(weight, "weight")
    if weight.ndim != 2:
        raise ValueError(f"embedding_forward: weight must be 2-D (V, d), got shape {weight.shape}")
    tokens = np.asarray(tokens)
    if tokens.dtype.kind not in "iu":
        raise ValueError(
            f"embedding_forward: tokens must be integers in [0, {weight.shape[0]}), got dtype {tokens.dtype}"
        )
    if tokens.size and (tokens.min() < 0 or tokens.max() >= weight.shape[0]):
        raise ValueError(
            f"embedding_forward: tokens must be in [0, {weight.shape[0]}) for weight of shape "
            f"{weight.shape}, got values from {tokens.min()} to {tokens.max()}"
        )
    return weight[tokens], (tokens.astype(np.int64), weight.shape, weight.dtype)


def embedding_backward(dout, cache):
    r"""The gradient of the embedding matrix: a scatter-add of the upstream rows.

    .. math::
        \frac{\partial L}{\partial E_{v:}} = \sum_{(n, \ell):\ t_{n\ell} = v}
        \frac{\partial L}{\partial\,\mathrm{out}_{n\ell:}},
        \qquad \frac{\partial L}{\partial E} = \operatorname{onehot}(t)^\top
        \frac{\partial L}{\partial\,\mathrm{out}}

    Chapter 11, :eq:`eq-tf-embedding-grad`: a token that occurs several times
    collects the gradient of every occurrence (``np.add.at``, which, unlike
    ``dE[t] += g``, adds repeated indices); rows of tokens that do not occur
    get 0. The tokens are integers and get no gradient, so this backward
    returns only ``dweight``.

    Parameters
    ----------
    dout : array_like, shape (..., d)
    cache : tuple
        From :func:`embedding_forward`.

    Returns
    -------
    dweight : numpy.ndarray, shape (V, d)
    """
    tokens, shape, dtype = cache
    dout = as_float_array(dout, "dout")
    expected = tokens.shape + (shape[1],)
    if dout.shape != expected:
        raise ValueError(
            f"embedding_backward: dout has shape {dout.shape}, expected {expected}, "
            "the shape of the forward's out"
        )
    dweight = np.zeros(shape, dtype=np.result_type(dtype, dout))
    np.add.at(dweight, tokens.reshape(-1), dout.reshape(-1, shape[1]))
    return dweight.astype(dtype, copy=False)


# --------------------------------------------------------------------------
# Multi-head self-attention
# --------------------------------------------------------------------------

def multi_head_attention_forward(x, params, num_heads, mask=None):
    r"""Multi-head self-attention with learned projections.

    For one sequence :math:`X \in \mathbb{R}^{L \times d}` and :math:`H` heads of
    width :math:`d_h = d / H` (chapter 11, :eq:`eq-tf-mha`):

    .. math::
        Q = X W_Q + \mathbf{1} b_Q^\top,\quad K = X W_K + \mathbf{1} b_K^\top,\quad
        V = X W_V + \mathbf{1} b_V^\top,

    .. math::
        \mathrm{head}_h = \operatorname{Attention}\bigl(Q^{(h)}, K^{(h)}, V^{(h)}\bigr),
        \qquad
        \operatorname{MHA}(X) = \bigl[\mathrm{head}_1 \cdots \mathrm{head}_H\bigr] W_O + \mathbf{1} b_O^\top,

    where :math:`Q^{(h)}` is the :math:`h`-th block of :math:`d_h` columns
    (:func:`~dlmath.attention.split_heads`, chapter 10's :eq:`eq-attn-split-heads`),
    equal to :math:`X W_Q^{(h)} + \mathbf 1 b_Q^{(h)\top}` with the same block of
    columns of :math:`W_Q`. Attention is :func:`~dlmath.attention.attention_forward`
    (scale :math:`1/\sqrt{d_h}`), the heads are put back side by side by
    :func:`~dlmath.attention.merge_heads`. The three input projections are one
    :func:`~dlmath.backprop.linear_forward` with :math:`[W_Q\ W_K\ W_V]` of shape
    :math:`(d, 3d)` (the same numbers as three products, in one call); the
    output projection is another.

    A query whose keys are all masked gets a zero attention output (as in
    :func:`~dlmath.attention.attention_forward`), so its row of the result is
    :math:`b_O`; no ``nan`` appears. Chapter 10's multi-head attention on
    slices of :math:`X` is the special case :math:`W_Q = W_K = W_V = W_O = I`
    with zero biases.

    Parameters
    ----------
    x : array_like, shape (N, L, d)
    params : mapping
        At least the keys of :data:`MHA_KEYS`: ``Wq, Wk, Wv, Wo`` of shape
        ``(d, d)`` and ``bq, bk, bv, bo`` of shape ``(d,)``; other keys are
        ignored (a block's whole dict may be passed).
    num_heads : int
        :math:`H \ge 1`, dividing ``d`` (else ``ValueError``).
    mask : array_like of bool, optional
        True where a query may attend to a key; shape ``(L, L)`` or any shape
        that broadcasts to ``(N, num_heads, L, L)``, such as a padding mask
        ``(N, 1, 1, L)``.

    Returns
    -------
    out : numpy.ndarray, shape (N, L, d)
    cache : dict
        For :func:`multi_head_attention_backward`; ``cache["weights"]`` holds
        the attention weights, shape ``(N, num_heads, L, L)``.
    """
    where = "multi_head_attention_forward"
    x = _sequences(x, where)
    n, length, d = x.shape
    num_heads = _check_heads(num_heads, d, where)
    p = _check_params(params, MHA_KEYS, d, None, where)
    mask = _check_mask(mask, (n, num_heads, length, length), where)
    w_qkv = np.concatenate([p["Wq"], p["Wk"], p["Wv"]], axis=1)  # (d, 3d)
    b_qkv = np.concatenate([p["bq"], p["bk"], p["bv"]])
    qkv, cache_qkv = linear_forward(x.reshape(n * length, d), w_qkv, b_qkv)
    qkv = qkv.reshape(n, length, 3 * d)
    heads = [split_heads(qkv[..., j * d:(j + 1) * d], num_heads) for j in range(3)]
    attended, cache_attn = attention_forward(*heads, mask)  # (N, H, L, dh)
    merged = merge_heads(attended)  # (N, L, d)
    out, cache_out = linear_forward(merged.reshape(n * length, d), p["Wo"], p["bo"])
    cache = {
        "qkv": cache_qkv,
        "attention": cache_attn,
        "output": cache_out,
        "weights": cache_attn["weights"],
        "num_heads": num_heads,
        "shape": x.shape,
        "dtypes": {"x": x.dtype, **{key: p[key].dtype for key in MHA_KEYS}},
    }
    return out.reshape(n, length, d), cache


def multi_head_attention_backward(dout, cache):
    r"""The gradients of multi-head self-attention: back through the output projection, merge, attention, split and the input projections.

    With :math:`M = [\mathrm{head}_1 \cdots \mathrm{head}_H]` and
    :math:`\bar{Y} = \partial L / \partial\,\mathrm{out}`, for each sequence
    (chapter 11, :eq:`eq-tf-mha-backward`):

    .. math::
        \bar{W}_O = M^\top \bar{Y}, \quad \bar{b}_O = \bar{Y}^\top\mathbf{1}, \quad
        \bar{M} = \bar{Y} W_O^\top, \quad
        \bar{\mathrm{head}}_h = \bar{M}^{(h)},

    then chapter 10's attention backward gives :math:`\bar{Q}^{(h)}, \bar{K}^{(h)}, \bar{V}^{(h)}`,
    merged back into :math:`\bar{Q}, \bar{K}, \bar{V}` of shape :math:`(L, d)`
    (the backward of a split is a merge), and

    .. math::
        \bar{W}_Q = X^\top \bar{Q}, \quad \bar{b}_Q = \bar{Q}^\top \mathbf{1}, \quad \dots, \qquad
        \bar{X} = \bar{Q} W_Q^\top + \bar{K} W_K^\top + \bar{V} W_V^\top,

    the three paths from :math:`X` summed. The weight and bias gradients are
    also summed over the batch. :func:`~dlmath.backprop.linear_backward` does
    the two projections, :func:`~dlmath.attention.attention_backward` the heads.

    Parameters
    ----------
    dout : array_like, shape (N, L, d)
    cache : dict
        From :func:`multi_head_attention_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, L, d)
    grads : dict
        ``Wq, bq, Wk, bk, Wv, bv, Wo, bo``, each the shape and dtype of its parameter.
    """
    n, length, d = cache["shape"]
    dout = as_float_array(dout, "dout")
    if dout.shape != cache["shape"]:
        raise ValueError(
            f"multi_head_attention_backward: dout has shape {dout.shape}, expected the "
            f"shape of the forward's out {cache['shape']}"
        )
    dmerged, dwo, dbo = linear_backward(dout.reshape(n * length, d), cache["output"])
    dheads = split_heads(dmerged.reshape(n, length, d), cache["num_heads"])
    dq, dk, dv = attention_backward(dheads, cache["attention"])
    dqkv = np.concatenate([merge_heads(g) for g in (dq, dk, dv)], axis=-1)
    dx, dw_qkv, db_qkv = linear_backward(dqkv.reshape(n * length, 3 * d), cache["qkv"])
    grads = {
        "Wq": dw_qkv[:, :d], "bq": db_qkv[:d],
        "Wk": dw_qkv[:, d:2 * d], "bk": db_qkv[d:2 * d],
        "Wv": dw_qkv[:, 2 * d:], "bv": db_qkv[2 * d:],
        "Wo": dwo, "bo": dbo,
    }
    dtypes = cache["dtypes"]
    grads = {key: np.array(grads[key], dtype=dtypes[key]) for key in MHA_KEYS}  # own copies
    return dx.reshape(n, length, d).astype(dtypes["x"], copy=False), grads


def multi_head_attention_naive(x, params, num_heads, mask=None):
    r"""Multi-head self-attention one sequence and one head at a time: a reference.

    .. math::
        \mathrm{head}_h = \operatorname{Attention}\bigl(X W_Q^{(h)} + \mathbf 1 b_Q^{(h)\top},\
        X W_K^{(h)} + \mathbf 1 b_K^{(h)\top},\ X W_V^{(h)} + \mathbf 1 b_V^{(h)\top}\bigr),
        \qquad \operatorname{MHA}(X) = \sum_{h=1}^{H} \mathrm{head}_h\, W_O^{(h)} + \mathbf 1 b_O^\top

    Chapter 11, :eq:`eq-tf-mha`, with explicit loops over the batch and the
    heads: :math:`W_Q^{(h)}` is the :math:`h`-th block of :math:`d_h` columns of
    :math:`W_Q`, :math:`W_O^{(h)}` the :math:`h`-th block of :math:`d_h` *rows* of
    :math:`W_O` (so the sum over heads is the concatenation times :math:`W_O`),
    and the attention is the per-query loop :func:`~dlmath.attention.attention_naive`.
    No reshaping into a head axis is involved, so it checks
    :func:`multi_head_attention_forward`'s use of ``split_heads`` and ``merge_heads``.

    Parameters
    ----------
    x, params, num_heads, mask
        As in :func:`multi_head_attention_forward`.

    Returns
    -------
    out : numpy.ndarray, shape (N, L, d)
    weights : numpy.ndarray, shape (N, num_heads, L, L)
    """
    where = "multi_head_attention_naive"
    x = _sequences(x, where)
    n, length, d = x.shape
    num_heads = _check_heads(num_heads, d, where)
    p = _check_params(params, MHA_KEYS, d, None, where)
    mask = _check_mask(mask, (n, num_heads, length, length), where)
    if mask is not None:
        mask = np.broadcast_to(mask, (n, num_heads, length, length))
    dh = d // num_heads
    dtype = np.result_type(x, *p.values())
    out = np.zeros((n, length, d), dtype=dtype)
    weights = np.zeros((n, num_heads, length, length), dtype=dtype)
    for b in range(n):
        out[b] += p["bo"]
        for h in range(num_heads):
            cols = slice(h * dh, (h + 1) * dh)
            q = x[b] @ p["Wq"][:, cols] + p["bq"][cols]
            k = x[b] @ p["Wk"][:, cols] + p["bk"][cols]
            v = x[b] @ p["Wv"][:, cols] + p["bv"][cols]
            head, weights[b, h] = attention_naive(q, k, v, None if mask is None else mask[b, h])
            out[b] += head @ p["Wo"][cols, :]
    return out, weights


# --------------------------------------------------------------------------
# The pre-norm transformer block
# --------------------------------------------------------------------------

def transformer_block_forward(x, params, num_heads, mask=None, eps=1e-5):
    r"""One pre-norm transformer (encoder) block.

    Chapter 11, :eq:`eq-tf-block` and :eq:`eq-tf-ffn`:

    .. math::
        H = X + \operatorname{MHA}\bigl(\operatorname{LN}_1(X)\bigr), \qquad
        \mathrm{out} = H + \operatorname{relu}\bigl(\operatorname{LN}_2(H)\, W_1 + \mathbf 1 b_1^\top\bigr) W_2 + \mathbf 1 b_2^\top,

    with :func:`layer_norm_forward` for :math:`\operatorname{LN}_1, \operatorname{LN}_2`,
    :func:`multi_head_attention_forward` for MHA, and the feed-forward network
    (FFN) applied to every position alone by
    :func:`~dlmath.backprop.linear_forward` and :func:`~dlmath.backprop.relu_forward`.
    The two residual additions give the block's Jacobian its identity term,
    :eq:`eq-tf-residual-jacobian`.

    Equal to ``torch.nn.TransformerEncoderLayer(d, num_heads, d_ff,
    dropout=0.0, activation="relu", batch_first=True, norm_first=True)`` with
    the weights of ``params`` (see the module docstring) and the torch mask
    ``~mask``.

    Parameters
    ----------
    x : array_like, shape (N, L, d)
    params : mapping
        Exactly the keys of :data:`BLOCK_KEYS`: ``ln1_gamma, ln1_beta, ln2_gamma,
        ln2_beta, bq, bk, bv, bo, b2`` of shape ``(d,)``; ``Wq, Wk, Wv, Wo``
        ``(d, d)``; ``W1`` ``(d, d_ff)``, ``b1`` ``(d_ff,)``, ``W2`` ``(d_ff, d)``.
        :func:`init_transformer_block` makes one.
    num_heads : int
        Dividing ``d``.
    mask : array_like of bool, optional
        As in :func:`multi_head_attention_forward`, True where allowed.
    eps : float
        The layer norms' :math:`\varepsilon`.

    Returns
    -------
    out : numpy.ndarray, shape (N, L, d)
    cache : dict
        For :func:`transformer_block_backward`; ``cache["weights"]`` holds the
        attention weights ``(N, num_heads, L, L)``.
    """
    where = "transformer_block_forward"
    x = _sequences(x, where)
    n, length, d = x.shape
    p = _check_params(params, BLOCK_KEYS, d, "exact", where)
    a, cache_ln1 = layer_norm_forward(x, p["ln1_gamma"], p["ln1_beta"], eps)
    attn, cache_mha = multi_head_attention_forward(a, p, num_heads, mask)
    h = x + attn
    b, cache_ln2 = layer_norm_forward(h, p["ln2_gamma"], p["ln2_beta"], eps)
    f, cache_ffn = _ffn_forward(b, p)
    out = h + f
    cache = {
        "ln1": cache_ln1, "mha": cache_mha, "ln2": cache_ln2, "ffn": cache_ffn,
        "weights": cache_mha["weights"],
        "shape": x.shape,
        "dtypes": {"x": x.dtype, **{key: p[key].dtype for key in BLOCK_KEYS}},
    }
    return out, cache


def transformer_block_backward(dout, cache):
    r"""The gradients of a pre-norm transformer block, for its input and every parameter.

    Chapter 11, :eq:`eq-tf-block-backward`: the forward's steps in reverse,
    each with the backward of the layer that computed it, and at each residual
    addition the gradient passed on unchanged *plus* the gradient through the
    sublayer:

    .. math::
        \bar{H} = \bar{Y} + \operatorname{LN}_2^{\top}\!\Bigl(\operatorname{FFN}^\top(\bar{Y})\Bigr),
        \qquad
        \bar{X} = \bar{H} + \operatorname{LN}_1^{\top}\!\Bigl(\operatorname{MHA}^\top(\bar{H})\Bigr),

    where :math:`\operatorname{F}^\top(\cdot)` is the backward of sublayer F
    (the transposed Jacobian applied to a gradient): :func:`~dlmath.backprop.linear_backward`
    and :func:`~dlmath.backprop.relu_backward` for the FFN,
    :func:`layer_norm_backward`, :func:`multi_head_attention_backward`.

    Parameters
    ----------
    dout : array_like, shape (N, L, d)
    cache : dict
        From :func:`transformer_block_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, L, d)
    grads : dict
        Every key of :data:`BLOCK_KEYS`, each the shape and dtype of its parameter.
    """
    n, length, d = cache["shape"]
    dout = as_float_array(dout, "dout")
    if dout.shape != cache["shape"]:
        raise ValueError(
            f"transformer_block_backward: dout has shape {dout.shape}, expected the "
            f"shape of the forward's out {cache['shape']}"
        )
    db, grads = _ffn_backward(dout, cache["ffn"])
    dh_ffn, grads["ln2_gamma"], grads["ln2_beta"] = layer_norm_backward(db, cache["ln2"])
    dh = dout + dh_ffn  # the residual passes dout on unchanged
    da, grads_mha = multi_head_attention_backward(dh, cache["mha"])
    grads.update(grads_mha)
    dx_attn, grads["ln1_gamma"], grads["ln1_beta"] = layer_norm_backward(da, cache["ln1"])
    dx = dh + dx_attn  # and so does the first residual
    return _in_dtypes(dx, grads, cache["dtypes"])


def transformer_block_post_norm_forward(x, params, num_heads, mask=None, eps=1e-5):
    r"""One post-norm transformer block, the original arrangement of Vaswani et al. (2017).

    Chapter 11, :eq:`eq-tf-post-norm`: each sublayer's output is added to its
    input and *then* normalized,

    .. math::
        H = \operatorname{LN}_1\bigl(X + \operatorname{MHA}(X)\bigr), \qquad
        \mathrm{out} = \operatorname{LN}_2\bigl(H + \operatorname{FFN}(H)\bigr),

    so a layer norm sits on the residual path itself. The same parameters
    and pieces as :func:`transformer_block_forward` (the pre-norm block); equal
    to ``torch.nn.TransformerEncoderLayer(..., norm_first=False)`` with the
    same weights.

    Parameters
    ----------
    x, params, num_heads, mask, eps
        As in :func:`transformer_block_forward`.

    Returns
    -------
    out : numpy.ndarray, shape (N, L, d)
    cache : dict
        For :func:`transformer_block_post_norm_backward`.
    """
    where = "transformer_block_post_norm_forward"
    x = _sequences(x, where)
    p = _check_params(params, BLOCK_KEYS, x.shape[-1], "exact", where)
    attn, cache_mha = multi_head_attention_forward(x, p, num_heads, mask)
    h, cache_ln1 = layer_norm_forward(x + attn, p["ln1_gamma"], p["ln1_beta"], eps)
    f, cache_ffn = _ffn_forward(h, p)
    out, cache_ln2 = layer_norm_forward(h + f, p["ln2_gamma"], p["ln2_beta"], eps)
    cache = {
        "ln1": cache_ln1, "mha": cache_mha, "ln2": cache_ln2, "ffn": cache_ffn,
        "weights": cache_mha["weights"],
        "shape": x.shape,
        "dtypes": {"x": x.dtype, **{key: p[key].dtype for key in BLOCK_KEYS}},
    }
    return out, cache


def transformer_block_post_norm_backward(dout, cache):
    r"""The gradients of a post-norm block, for its input and every parameter.

    Chapter 11, :eq:`eq-tf-post-norm`, in reverse: every gradient that reaches
    the block's input passes through both layer norms' backward,

    .. math::
        \bar{U}_2 = \operatorname{LN}_2^{\top}(\bar{Y}), \quad
        \bar{H} = \bar{U}_2 + \operatorname{FFN}^\top(\bar{U}_2), \quad
        \bar{U}_1 = \operatorname{LN}_1^{\top}(\bar{H}), \quad
        \bar{X} = \bar{U}_1 + \operatorname{MHA}^\top(\bar{U}_1),

    with :math:`U_1 = X + \operatorname{MHA}(X)` and :math:`U_2 = H + \operatorname{FFN}(H)`
    the sums the layer norms normalize.

    Parameters
    ----------
    dout : array_like, shape (N, L, d)
    cache : dict
        From :func:`transformer_block_post_norm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, L, d)
    grads : dict
        Every key of :data:`BLOCK_KEYS`.
    """
    dout = as_float_array(dout, "dout")
    if dout.shape != cache["shape"]:
        raise ValueError(
            f"transformer_block_post_norm_backward: dout has shape {dout.shape}, expected "
            f"the shape of the forward's out {cache['shape']}"
        )
    du2, dgamma2, dbeta2 = layer_norm_backward(dout, cache["ln2"])
    dh_ffn, grads = _ffn_backward(du2, cache["ffn"])
    grads["ln2_gamma"], grads["ln2_beta"] = dgamma2, dbeta2
    du1, grads["ln1_gamma"], grads["ln1_beta"] = layer_norm_backward(du2 + dh_ffn, cache["ln1"])
    dx_attn, grads_mha = multi_head_attention_backward(du1, cache["mha"])
    grads.update(grads_mha)
    return _in_dtypes(du1 + dx_attn, grads, cache["dtypes"])


def _ffn_forward(b, p):
    """relu(b W1 + b1) W2 + b2 on every position of b (N, L, d), by chapter 5's layers."""
    n, length, d = b.shape
    z, cache_fc1 = linear_forward(b.reshape(n * length, d), p["W1"], p["b1"])
    r, cache_relu = relu_forward(z)
    f, cache_fc2 = linear_forward(r, p["W2"], p["b2"])
    return f.reshape(n, length, d), (cache_fc1, cache_relu, cache_fc2, b.shape)


def _ffn_backward(df, cache):
    """(db, {W1, b1, W2, b2}) for the FFN, by chapter 5's backward layers."""
    cache_fc1, cache_relu, cache_fc2, shape = cache
    grads = {}
    dr, grads["W2"], grads["b2"] = linear_backward(df.reshape(-1, shape[-1]), cache_fc2)
    dz = relu_backward(dr, cache_relu)
    db, grads["W1"], grads["b1"] = linear_backward(dz, cache_fc1)
    return db.reshape(shape), grads


def _in_dtypes(dx, grads, dtypes):
    """dx in x's dtype and the gradients in their parameters' dtypes, in BLOCK_KEYS order."""
    grads = {key: np.asarray(grads[key]).astype(dtypes[key], copy=False) for key in BLOCK_KEYS}
    return dx.astype(dtypes["x"], copy=False), grads


def transformer_block_naive(x, params, num_heads, mask=None, eps=1e-5):
    r"""The pre-norm block from the naive pieces, with the FFN one position at a time: a reference.

    .. math::
        \mathbf{h}_\ell = \mathbf{x}_\ell + \operatorname{MHA}(\operatorname{LN}_1(X))_\ell, \qquad
        \mathrm{out}_\ell = \mathbf{h}_\ell + W_2^\top \operatorname{relu}\bigl(W_1^\top \operatorname{LN}_2(\mathbf{h}_\ell) + b_1\bigr) + b_2

    Chapter 11, :eq:`eq-tf-block`, with :func:`layer_norm_naive`,
    :func:`multi_head_attention_naive` and a loop over positions for the FFN.

    Parameters
    ----------
    x, params, num_heads, mask, eps
        As in :func:`transformer_block_forward`.

    Returns
    -------
    numpy.ndarray, shape (N, L, d)
    """
    where = "transformer_block_naive"
    x = _sequences(x, where)
    n, length, d = x.shape
    p = _check_params(params, BLOCK_KEYS, d, "exact", where)
    attn, _ = multi_head_attention_naive(layer_norm_naive(x, p["ln1_gamma"], p["ln1_beta"], eps),
                                         p, num_heads, mask)
    h = x + attn
    b = layer_norm_naive(h, p["ln2_gamma"], p["ln2_beta"], eps)
    out = np.array(h)
    for i in range(n):
        for ell in range(length):
            hidden = np.maximum(b[i, ell] @ p["W1"] + p["b1"], 0.0)
            out[i, ell] += hidden @ p["W2"] + p["b2"]
    return out


def init_transformer_block(d, num_heads, d_ff, rng):
    r"""Random initial parameters of a transformer block.

    .. math::
        W \sim \mathcal N\!\Bigl(0, \frac{1}{\text{fan-in}}\Bigr) \ \text{entrywise for }
        W_Q, W_K, W_V, W_O\ (\text{fan-in } d),\ W_1\ (d),\ W_2\ (d_{ff}),

    every bias 0, :math:`\boldsymbol\gamma = \mathbf 1` and :math:`\boldsymbol\beta = \mathbf 0`
    for both layer norms (so each starts as plain normalization). A
    variance of 1/fan-in keeps a unit-variance input at unit variance through
    each product (chapter 5, :eq:`eq-bp-he-init`, without the factor 2 of relu).

    Parameters
    ----------
    d : int
        The model width.
    num_heads : int
        Dividing ``d``.
    d_ff : int
        The width of the FFN's hidden layer.
    rng : numpy.random.Generator or int

    Returns
    -------
    dict
        The keys of :data:`BLOCK_KEYS`, float64 arrays.
    """
    d = check_positive_int(d, "d", "init_transformer_block")
    d_ff = check_positive_int(d_ff, "d_ff", "init_transformer_block")
    _check_heads(num_heads, d, "init_transformer_block")
    rng = np.random.default_rng(rng)
    shapes = _block_shapes(d, d_ff)
    params = {}
    for key in BLOCK_KEYS:
        shape = shapes[key]
        if key.endswith("gamma"):
            params[key] = np.ones(shape)
        elif len(shape) == 2:
            params[key] = rng.standard_normal(shape) / math.sqrt(shape[0])
        else:
            params[key] = np.zeros(shape)
    return params


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def _sequences(x, where):
    x = as_float_array(x, "x")
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"{where}: x must be 3-D (N, L, d) with no empty axis, got shape {x.shape}")
    return x


def _check_heads(num_heads, d, where):
    num_heads = check_positive_int(num_heads, "num_heads", where)
    if d % num_heads:
        raise ValueError(
            f"{where}: the model width d={d} is not divisible by num_heads={num_heads}; "
            f"each head needs d / num_heads columns"
        )
    return num_heads


def _block_shapes(d, d_ff):
    shapes = {key: (d,) for key in BLOCK_KEYS}
    shapes.update({"Wq": (d, d), "Wk": (d, d), "Wv": (d, d), "Wo": (d, d),
                   "W1": (d, d_ff), "b1": (d_ff,), "W2": (d_ff, d)})
    return shapes


def _check_params(params, keys, d, exact, where):
    """The parameters named by ``keys`` as float arrays of the right shapes, or ValueError."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{where}: params must be a dict of arrays, got {type(params).__name__}")
    missing = [key for key in keys if key not in params]
    if missing:
        raise ValueError(f"{where}: params lacks the keys {missing}; expected {list(keys)}")
    if exact:
        extra = sorted(map(str, set(params) - set(keys)))
        if extra:
            raise ValueError(
                f"{where}: params has unknown keys {extra}; expected exactly {list(keys)}"
            )
    p = {key: as_float_array(params[key], f"params[{key!r}]") for key in keys}
    d_ff = p["W1"].shape[-1] if "W1" in p and p["W1"].ndim == 2 else None
    expected = _block_shapes(d, d_ff)
    for key in keys:
        if p[key].shape != expected[key]:
            raise ValueError(
                f"{where}: params[{key!r}] has shape {p[key].shape}, expected {expected[key]} "
                f"for x with d={d}" + (f" and d_ff={d_ff} (from W1)" if key in ("b1", "W2") else "")
            )
    return p


def _check_mask(mask, full_shape, where):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(
            f"{where}: mask must be boolean (True where a query may attend to a key), "
            f"got dtype {mask.dtype}"
        )
    try:
        fits = np.broadcast_shapes(mask.shape, full_shape) == full_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{where}: mask has shape {mask.shape}, expected (L, L) or a shape that "
            f"broadcasts to (N, num_heads, L, L) = {full_shape}"
        )
    return mask
