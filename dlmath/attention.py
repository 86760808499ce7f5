r"""Scaled dot-product attention and its backward pass (chapter 10, attention).

Each query scores every key by a scaled dot product, a softmax over the keys
turns the scores into weights, and the output is the weighted average of the
values:

.. math::
    O = \operatorname{softmax}\!\Bigl(\frac{Q K^\top}{\sqrt{d}}\Bigr) V

The pair ``attention_forward`` / ``attention_backward`` follows the book's layer
convention (``out, cache = ...forward``, ``grads = ...backward(dout, cache)``).
Arrays are ``(..., L, features)``: the leading batch and head axes broadcast like
numpy ``matmul``. ``attention_naive`` is a per-query loop that the tests compare
the fast version against; ``split_heads`` and ``merge_heads`` reshape between one
wide sequence and ``H`` narrow heads.
"""
import math

import numpy as np

from ._checks import as_float_array, check_positive_int
from .activations import softmax


def attention_forward(q, k, v, mask=None):
    r"""Scaled dot-product attention, with an optional boolean mask.

    .. math::
        S = \frac{Q K^\top}{\sqrt{d}}, \qquad
        A = \operatorname{softmax}_{\text{rows}}(S), \qquad
        O = A V

    The scores :math:`S` are equation :eq:`eq-attn-scores` of chapter 10 (the
    factor :math:`1/\sqrt{d}` keeps their variance at 1 when the entries of
    ``q`` and ``k`` are independent with variance 1, :eq:`eq-attn-scale`);
    each row of :math:`A` is the softmax of chapter 3 (:eq:`eq-softmax`) over
    the keys, :eq:`eq-attn-weights`; the output is :eq:`eq-attn-output`.

    With a mask :math:`M` (True where query :math:`i` may attend to key
    :math:`j`) only the allowed keys enter the softmax, :eq:`eq-attn-masked-softmax`:

    .. math::
        A_{ij} = \frac{M_{ij}\, e^{S_{ij} - m_i}}{\sum_{l} M_{il}\, e^{S_{il} - m_i}},
        \qquad m_i = \max_{l:\, M_{il}} S_{il},

    and a query with no allowed key gets :math:`A_{i:} = 0` and
    :math:`O_{i:} = 0`, not :math:`0/0`. In code a masked score is set to
    :math:`-\infty`, whose exponential is exactly 0; in a row with no allowed
    key the maximum is replaced by 0 and the sum by 1, so no ``nan`` or warning
    appears. Subtracting the row maximum (:eq:`eq-logsumexp`) keeps every
    exponent :math:`\le 0`, so finite scores of any magnitude are safe. The scale is
    applied to ``q`` before the product, :math:`S = (Q/\sqrt{d}) K^\top`. Inputs
    holding ``inf`` or ``nan``, and finite inputs whose scores :math:`S` or output
    :math:`O` overflow the floating type, are a ``ValueError``, never a warning
    or a ``nan``; overflow is detected on the computed values (any non-finite
    entry), not through floating-point flags, which a multithreaded BLAS need
    not report.

    Parameters
    ----------
    q : array_like, shape (..., Lq, d)
        Queries.
    k : array_like, shape (..., Lk, d)
        Keys.
    v : array_like, shape (..., Lk, dv)
        Values, one row per key.
    mask : array_like of bool, optional
        Broadcastable to ``(..., Lq, Lk)`` (for example ``causal_mask(L)`` of
        shape ``(L, L)``, or a padding mask ``(N, 1, 1, Lk)``); True where a
        query may attend to a key. A non-boolean mask is a ``TypeError``.

    Returns
    -------
    out : numpy.ndarray, shape (..., Lq, dv)
        :math:`O`, where ``...`` is the broadcast of the leading axes of
        ``q``, ``k`` and ``v``.
    cache : dict
        For :func:`attention_backward`; ``cache["weights"]`` is :math:`A`,
        shape ``(..., Lq, Lk)``, where this ``...`` is the broadcast of the
        leading axes of ``q``, ``k`` and the mask only: ``q`` of shape
        ``(3, 4)``, ``k`` ``(5, 4)`` and ``v`` ``(2, 5, 2)`` give ``out`` of
        shape ``(2, 3, 2)`` but weights of shape ``(3, 5)``.

    Raises
    ------
    ValueError
        If the shapes do not fit (naming them); if ``q``, ``k`` or ``v`` holds
        ``inf`` or ``nan``; if :math:`Q K^\top/\sqrt{d}` overflows the floating
        type where the mask allows the key (no softmax can be computed then); or
        if :math:`A V` does.
    TypeError
        If an input is not numeric or the mask is not boolean.
    """
    q, k, v, _, mask = _check_inputs(q, k, v, mask, "attention_forward")
    dtypes = (q.dtype, k.dtype, v.dtype)  # each gradient gets its input's dtype
    q, k, v = _common_dtype(q, k, v)
    q_scaled = q * (1.0 / math.sqrt(q.shape[-1]))  # a Python float keeps float32
    scores = _scores(q_scaled, k, mask, "attention_forward")
    weights = _masked_softmax(scores, mask)
    out = _output(weights, v, "attention_forward")
    cache = {
        "q_scaled": q_scaled,
        "k": k,
        "v": v,
        "weights": weights,
        "out": out,
        "shapes": (q.shape, k.shape, v.shape),
        "dtypes": dtypes,
    }
    return out, cache


def attention_backward(dout, cache):
    r"""The gradients of attention with respect to its queries, keys and values.

    With :math:`A` and :math:`O = AV` from the forward pass and the upstream
    gradient :math:`\partial L / \partial O` (``dout``, shape ``(..., Lq, dv)``),
    chapter 10 derives, for each matrix in the batch, the gradient of the values
    (:eq:`eq-attn-grad-v`) and of the weights (:eq:`eq-attn-grad-a`),

    .. math::
        \frac{\partial L}{\partial V} = A^\top \frac{\partial L}{\partial O},
        \qquad
        \frac{\partial L}{\partial A} = \frac{\partial L}{\partial O} V^\top,

    of the scores (:eq:`eq-attn-grad-s`),

    .. math::
        \frac{\partial L}{\partial S} = A \odot \Bigl(\frac{\partial L}{\partial A}
        - \operatorname{rowsum}\bigl(\tfrac{\partial L}{\partial A} \odot A\bigr)\Bigr),

    and of the queries and keys (:eq:`eq-attn-grad-q`, :eq:`eq-attn-grad-k`),

    .. math::
        \frac{\partial L}{\partial Q} = \frac{1}{\sqrt{d}}\,\frac{\partial L}{\partial S} K,
        \qquad
        \frac{\partial L}{\partial K} = \frac{1}{\sqrt{d}}\,\Bigl(\frac{\partial L}{\partial S}\Bigr)^{\!\top} Q .

    The softmax step is the softmax Jacobian of chapter 3
    (:eq:`eq-softmax-jacobian`) applied row by row without building it: each
    row costs :math:`O(L_k)`, not the :math:`O(L_k^2)` of the Jacobian. Masked
    weights are exactly 0, so masked scores, and a query with no allowed key,
    get zero gradient. Where an input's leading axes were
    broadcast (a key shared by every head, say), its gradient is summed over
    those axes, :eq:`eq-attn-broadcast-grad`, so each gradient has its input's
    shape and dtype. The code reuses the forward's :math:`Q/\sqrt{d}` for
    :math:`\partial L / \partial K`.

    Parameters
    ----------
    dout : array_like, shape (..., Lq, dv)
        :math:`\partial L / \partial O`, the shape of the forward's ``out``.
    cache : dict
        From :func:`attention_forward`; it is not modified.

    Returns
    -------
    dq : numpy.ndarray
        :math:`\partial L / \partial Q`, the shape of ``q``.
    dk : numpy.ndarray
        :math:`\partial L / \partial K`, the shape of ``k``.
    dv : numpy.ndarray
        :math:`\partial L / \partial V`, the shape of ``v``.
    """
    q_scaled, k, v = cache["q_scaled"], cache["k"], cache["v"]
    weights, out = cache["weights"], cache["out"]
    dout = as_float_array(dout, "dout")
    if dout.shape != out.shape:
        raise ValueError(
            f"attention_backward: dout has shape {dout.shape}, expected the shape "
            f"of the forward's out {out.shape}"
        )
    dv = np.swapaxes(weights, -1, -2) @ dout
    dscores = dout @ np.swapaxes(v, -1, -2)  # dL/dA, turned into dL/dS in place
    row_sums = np.einsum("...ij,...ij->...i", dscores, weights)  # rowsum(dA * A)
    dscores -= row_sums[..., None]
    dscores *= weights
    dq = (dscores @ k) * (1.0 / math.sqrt(k.shape[-1]))
    dk = np.swapaxes(dscores, -1, -2) @ q_scaled  # Q / sqrt(d) was cached
    return tuple(
        _sum_to_shape(grad, shape).astype(dtype, copy=False)
        for grad, shape, dtype in zip((dq, dk, dv), cache["shapes"], cache["dtypes"])
    )


def attention_naive(q, k, v, mask=None):
    r"""The same attention as :func:`attention_forward`, one query at a time.

    .. math::
        O_{i:} = \sum_{j \in J_i} A_{ij} V_{j:}, \qquad
        A_{i, J_i} = \operatorname{softmax}\Bigl(\bigl(\tfrac{Q_{i:} \cdot K_{j:}}{\sqrt{d}}\bigr)_{j \in J_i}\Bigr),
        \qquad J_i = \{j : M_{ij}\}

    A reference for the tests and the chapter (equations :eq:`eq-attn-scores`,
    :eq:`eq-attn-weights`, :eq:`eq-attn-output`): loops over the batch, the
    queries and the allowed keys :math:`J_i`, with :func:`~dlmath.activations.softmax` over
    only those keys. A query with :math:`J_i = \emptyset` keeps zero weights and
    a zero output. Non-finite inputs and overflowing scores or outputs raise
    the same ``ValueError`` as in :func:`attention_forward`. Slow; use
    :func:`attention_forward`.

    Parameters
    ----------
    q, k, v, mask
        As in :func:`attention_forward`.

    Returns
    -------
    out : numpy.ndarray, shape (..., Lq, dv)
    weights : numpy.ndarray, shape (..., Lq, Lk)
    """
    q, k, v, batch, mask = _check_inputs(q, k, v, mask, "attention_naive")
    q, k, v = _common_dtype(q, k, v)
    (lq, d), (lk, dv) = q.shape[-2:], v.shape[-2:]
    q = np.broadcast_to(q, batch + (lq, d))
    k = np.broadcast_to(k, batch + (lk, d))
    v = np.broadcast_to(v, batch + (lk, dv))
    if mask is None:
        mask = np.ones((lq, lk), dtype=bool)
    mask = np.broadcast_to(mask, batch + (lq, lk))
    out = np.zeros(batch + (lq, dv), dtype=q.dtype)
    weights = np.zeros(batch + (lq, lk), dtype=q.dtype)
    for b in np.ndindex(*batch):
        for i in range(lq):
            keys = np.flatnonzero(mask[b][i])
            if keys.size == 0:
                continue  # no key to attend to: zero weights, zero output
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                scores = np.array([np.dot(q[b][i], k[b][j]) / math.sqrt(d) for j in keys])
            if not np.all(np.isfinite(scores)):
                raise _overflow_error("attention_naive", "the scores q k^T / sqrt(d)", q.dtype)
            p = softmax(scores.astype(q.dtype))
            weights[b][i, keys] = p
            with np.errstate(over="ignore", invalid="ignore"):  # checked after the loop
                for p_j, j in zip(p, keys):
                    out[b][i] += p_j * v[b][j]
    if not np.all(np.isfinite(out)):
        raise _overflow_error("attention_naive", "the output A V", q.dtype)
    return out, weights


def causal_mask(L):
    r"""The causal (look-ahead) mask: query :math:`i` may attend to keys :math:`j \le i`.

    .. math::
        M_{ij} = \begin{cases} \text{True} & j \le i \\ \text{False} & j > i \end{cases}

    Chapter 10, equation :eq:`eq-attn-causal-mask`: a position may not see the
    future, so the mask is lower triangular, diagonal included.

    Parameters
    ----------
    L : int
        The sequence length, >= 1.

    Returns
    -------
    numpy.ndarray of bool, shape (L, L)
    """
    L = check_positive_int(L, "L", "causal_mask")
    return np.tril(np.ones((L, L), dtype=bool))


def split_heads(x, num_heads):
    r"""Cut the features of a sequence into ``num_heads`` heads.

    .. math::
        X = \bigl[\,X^{(1)}\ X^{(2)}\ \cdots\ X^{(H)}\bigr],
        \qquad X^{(h)}_{l c} = X_{l,\ (h-1) d_h + c}, \quad d_h = D / H

    Chapter 10, equation :eq:`eq-attn-split-heads`: head :math:`h` gets the
    :math:`h`-th block of :math:`d_h` consecutive columns. The heads become a
    new axis before the sequence axis, so :func:`attention_forward` treats them
    as one more batch axis. :func:`merge_heads` is the inverse.

    Parameters
    ----------
    x : array_like, shape (..., L, D)
        ``D = num_heads * dh``.
    num_heads : int
        :math:`H \ge 1`, dividing ``D``.

    Returns
    -------
    numpy.ndarray, shape (..., H, L, dh)
        A new (contiguous) array.
    """
    x = as_float_array(x, "x")
    num_heads = check_positive_int(num_heads, "num_heads", "split_heads")
    if x.ndim < 2:
        raise ValueError(
            f"split_heads: x must have at least 2 axes (..., L, D), got shape {x.shape}"
        )
    width = x.shape[-1]
    if width % num_heads:
        raise ValueError(
            f"split_heads: x has shape {x.shape}, its last axis D={width} is not "
            f"divisible by num_heads={num_heads}; expected (..., L, {num_heads} * dh)"
        )
    blocks = x.reshape(x.shape[:-1] + (num_heads, width // num_heads))  # (..., L, H, dh)
    return np.ascontiguousarray(np.swapaxes(blocks, -2, -3))


def merge_heads(x):
    r"""Put the heads back side by side: the inverse of :func:`split_heads`.

    .. math::
        X = \bigl[\,X^{(1)}\ X^{(2)}\ \cdots\ X^{(H)}\bigr]

    Chapter 10, equation :eq:`eq-attn-split-heads`, read from right to left. It
    is also the backward of :func:`split_heads` (a reshuffle of entries, so its
    gradient is the inverse reshuffle), and :func:`split_heads` the backward of
    this one.

    Parameters
    ----------
    x : array_like, shape (..., H, L, dh)

    Returns
    -------
    numpy.ndarray, shape (..., L, H * dh)
        A new (contiguous) array.
    """
    x = as_float_array(x, "x")
    if x.ndim < 3:
        raise ValueError(
            f"merge_heads: x must have at least 3 axes (..., H, L, dh), got shape {x.shape}"
        )
    num_heads, length, head_dim = x.shape[-3:]
    side_by_side = np.swapaxes(x, -2, -3)  # (..., L, H, dh)
    return side_by_side.reshape(x.shape[:-3] + (length, num_heads * head_dim))


def _check_inputs(q, k, v, mask, where):
    """Convert and check q, k, v and the mask; return them and the batch shape."""
    q, k, v = as_float_array(q, "q"), as_float_array(k, "k"), as_float_array(v, "v")
    for name, arr, layout in (("q", q, "(..., Lq, d)"), ("k", k, "(..., Lk, d)"),
                              ("v", v, "(..., Lk, dv)")):
        if arr.ndim < 2:
            raise ValueError(
                f"{where}: {name} must have at least 2 axes {layout}, got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{where}: {name} contains inf or nan; attention needs finite queries, "
                "keys and values"
            )
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"{where}: q has shape {q.shape} and k has shape {k.shape}; expected k of "
            f"shape (..., Lk, {q.shape[-1]}): queries and keys need the same last axis d"
        )
    if q.shape[-1] == 0:
        raise ValueError(f"{where}: q has shape {q.shape}; the key dimension d must be >= 1")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"{where}: k has shape {k.shape} and v has shape {v.shape}; expected v of "
            f"shape (..., {k.shape[-2]}, dv): one value per key"
        )
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{where}: the leading (batch, head) axes of q {q.shape}, k {k.shape} and "
            f"v {v.shape} do not broadcast together: {q.shape[:-2]}, {k.shape[:-2]}, "
            f"{v.shape[:-2]}; expected shapes that broadcast like numpy matmul"
        ) from None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(
                f"{where}: mask must be boolean (True where a query may attend to a "
                f"key), got dtype {mask.dtype}"
            )
        expected = batch + (q.shape[-2], k.shape[-2])
        try:
            fits = np.broadcast_shapes(mask.shape, expected) == expected
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{where}: mask has shape {mask.shape}, expected a shape that broadcasts "
                f"to (..., Lq, Lk) = {expected}"
            )
    return q, k, v, batch, mask


def _common_dtype(*arrays):
    """The arrays in their common floating type (float32 only if all are float32)."""
    dtype = np.result_type(*arrays)
    return tuple(arr.astype(dtype, copy=False) for arr in arrays)


def _scores(q_scaled, k, mask, where):
    """(Q / sqrt(d)) K^T, or a ValueError if an allowed score overflows the floating type.

    The inputs are finite, so a non-finite score can only come from overflow
    (inf, or inf - inf = nan inside the sum). It is looked for in the result:
    a multithreaded BLAS need not report the overflow flag to numpy. A masked
    score is never used (it becomes -inf), so it may overflow.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        scores = q_scaled @ np.swapaxes(k, -1, -2)
    overflowed = ~np.isfinite(scores)
    if mask is not None:
        overflowed = overflowed & mask  # the mask may add leading axes
    if np.any(overflowed):
        raise ValueError(
            f"{where}: the scores q k^T / sqrt(d) overflow {q_scaled.dtype} (largest "
            f"|q| = {float(np.max(np.abs(q_scaled))) * math.sqrt(q_scaled.shape[-1]):.3g}, "
            f"|k| = {np.max(np.abs(k)):.3g}); "
            "no softmax of them can be computed in this precision"
        )
    return scores


def _output(weights, v, where):
    """A V, or a ValueError if it overflows (only |v| near the largest float can)."""
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        out = weights @ v
    if not np.all(np.isfinite(out)):
        raise _overflow_error(where, "the output A V", out.dtype)
    return out


def _overflow_error(where, what, dtype):
    """The ValueError for a quantity that overflows the floating type."""
    return ValueError(
        f"{where}: {what} overflow {np.dtype(dtype).name}; no attention can be computed "
        "in this precision"
    )


def _masked_softmax(scores, mask):
    """Row-wise softmax over the allowed keys (eq-attn-masked-softmax).

    Computed in place: on ``scores`` itself without a mask, on the masked copy
    that ``np.where`` makes if a mask is given. Returns the weights.
    """
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # e^(-inf) = 0: masked keys get weight 0
    row_max = np.max(scores, axis=-1, keepdims=True, initial=-np.inf)
    row_max[row_max == -np.inf] = 0.0  # no allowed key: avoid -inf - (-inf) = nan
    with np.errstate(over="ignore"):
        # Every entry becomes <= 0. Subtracting can only overflow towards -inf
        # (scores near -max_float minus a maximum near +max_float), and then
        # e^(-inf) = 0 is the right weight, so that overflow is harmless.
        scores -= row_max
    np.exp(scores, out=scores)
    row_sum = np.sum(scores, axis=-1, keepdims=True)
    row_sum[row_sum == 0.0] = 1.0  # no allowed key: the row is all zeros, keep it so
    scores /= row_sum
    return scores


def _sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``.

    Chapter 10, eq-attn-broadcast-grad: an input used by many matrices of the
    batch receives the sum of their gradients.
    """
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
