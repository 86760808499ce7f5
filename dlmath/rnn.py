r"""A recurrent network with tanh units and backpropagation through time (chapter 8).

One step reads an input row and the previous hidden state and writes the next
state,

.. math::
    h_t = \tanh\bigl(x_t W_x + h_{t-1} W_h + b\bigr),

with the batch first: ``x`` is ``(N, T, D)``, every hidden state ``(N, H)``,
``Wx`` ``(D, H)``, ``Wh`` ``(H, H)``, ``b`` ``(H,)``. The pairs follow the
book's layer convention (``out, cache = ..._forward``,
``grads = ..._backward(dout, cache)``): :func:`rnn_step_forward` and
:func:`rnn_step_backward` for one step, :func:`rnn_forward` and
:func:`rnn_backward` for a whole sequence. :func:`rnn_forward` equals
``torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True)`` with
``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b``, ``bias_hh = 0``.

The sequence pair does the work that does not depend on the order of the steps
outside the loop over time: every input projection :math:`x_t W_x` in one
matrix product before it, and the three weight gradients and the input
gradient in one product each after it. :func:`rnn_forward_naive` and
:func:`rnn_backward_naive` are the step-by-step references the tests compare
them with. :func:`rnn_jacobian_norms` measures how much of a change in an early
state reaches the last one.
"""
import numpy as np

from ._checks import as_float_array, check_ndim


# --------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    r"""One step of the recurrence: the next hidden state from an input and the last state.

    .. math::
        z = x W_x + h_{\text{prev}} W_h + b, \qquad h = \tanh(z)

    Chapter 8, equation :eq:`eq-rnn-recurrence`. Shapes:
    ``(N, D) @ (D, H) + (N, H) @ (H, H) + (H,) -> (N, H)``.

    Parameters
    ----------
    x : array_like, shape (N, D)
        The inputs of this step, one row per sequence of the batch.
    h_prev : array_like, shape (N, H)
        The previous hidden state.
    Wx : array_like, shape (D, H)
    Wh : array_like, shape (H, H)
    b : array_like, shape (H,)

    Returns
    -------
    h : numpy.ndarray, shape (N, H)
        In the common floating type of the inputs.
    cache : dict
        For :func:`rnn_step_backward`.

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), or if the
        pre-activation is not finite (an overflow of the floating type, or an
        ``inf`` or ``nan`` in the input).
    """
    where = "rnn_step_forward"
    x, h_prev, Wx, Wh, b = (as_float_array(a, n) for a, n in
                            ((x, "x"), (h_prev, "h_prev"), (Wx, "Wx"), (Wh, "Wh"), (b, "b")))
    check_ndim(x, 2, "x", where, "(N, D)")
    _check_state(h_prev, "h_prev", x.shape[0], where)
    _check_weights(Wx, Wh, b, x.shape[1], h_prev.shape[1], where)
    dtypes = (x.dtype, h_prev.dtype, Wx.dtype, Wh.dtype, b.dtype)
    x, h_prev, Wx, Wh, b = _common(x, h_prev, Wx, Wh, b)
    with np.errstate(over="ignore", invalid="ignore"):
        z = x @ Wx + h_prev @ Wh + b
    _check_finite(z, where)
    h = np.tanh(z)
    cache = {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "h": h, "dtypes": dtypes}
    return h, cache


def rnn_step_backward(dh, cache):
    r"""The gradients of one step from the gradient of its new state.

    With :math:`\bar h = \partial L / \partial h` (``dh``) and the state
    :math:`h = \tanh(z)` of the forward step, chapter 8 derives
    (:eq:`eq-rnn-dz`, :eq:`eq-rnn-step-backward`)

    .. math::
        \bar z = \bar h \odot (1 - h \odot h), \qquad
        \bar x = \bar z\, W_x^\top, \qquad
        \bar h_{\text{prev}} = \bar z\, W_h^\top, \qquad
        \bar W_x = x^\top \bar z, \qquad
        \bar W_h = h_{\text{prev}}^\top \bar z, \qquad
        \bar b = \mathbf{1}^\top \bar z .

    :math:`1 - h^2` is :math:`\tanh'(z)` (chapter 1, :eq:`eq-tanh-grad`) read
    off the cached output, so :math:`z` is not kept.

    Parameters
    ----------
    dh : array_like, shape (N, H)
        :math:`\partial L / \partial h`.
    cache : dict
        From :func:`rnn_step_forward`; not modified.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D)
    dh_prev : numpy.ndarray, shape (N, H)
    dWx : numpy.ndarray, shape (D, H)
    dWh : numpy.ndarray, shape (H, H)
    db : numpy.ndarray, shape (H,)
        Each in the dtype of the array it is the gradient of.
    """
    x, h_prev, Wx, Wh, h = (cache[k] for k in ("x", "h_prev", "Wx", "Wh", "h"))
    dh = _check_dout(dh, h.shape, "dh", "rnn_step_backward", "the shape (N, H) of the forward's h")
    dz = dh * (1.0 - h * h)
    grads = (dz @ Wx.T, dz @ Wh.T, x.T @ dz, h_prev.T @ dz, dz.sum(axis=0))
    return _cast(grads, cache["dtypes"])


# --------------------------------------------------------------------------
# A whole sequence: fast
# --------------------------------------------------------------------------

def rnn_forward(x, h0, Wx, Wh, b):
    r"""Run the recurrence over a whole sequence: every hidden state.

    .. math::
        h_t = \tanh\bigl(x_t W_x + h_{t-1} W_h + b\bigr), \qquad t = 1, \dots, T,

    from the initial state :math:`h_0` (chapter 8, :eq:`eq-rnn-recurrence`).
    The steps depend on each other only through :math:`h_{t-1} W_h`, so the
    input projections of all :math:`N T` rows are one matrix product before
    the loop, ``(N T, D) @ (D, H)``, and the loop does one ``(N, H) @ (H, H)``
    product and one ``tanh`` per step (:eq:`eq-rnn-forward-batched`).

    This is ``torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True)``
    with ``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b`` and
    ``bias_hh = 0``, started from ``h0``. :func:`rnn_forward_naive` is the
    step-by-step reference.

    Parameters
    ----------
    x : array_like, shape (N, T, D)
        N sequences of T steps with D features each (T may be 0).
    h0 : array_like, shape (N, H)
        The initial state.
    Wx : array_like, shape (D, H)
    Wh : array_like, shape (H, H)
    b : array_like, shape (H,)

    Returns
    -------
    h : numpy.ndarray, shape (N, T, H)
        ``h[:, t - 1]`` is :math:`h_t`; a new array, in the common floating
        type of the inputs.
    cache : dict
        For :func:`rnn_backward` and :func:`rnn_jacobian_norms`; not meant to
        be modified.

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), or if a
        pre-activation is not finite (an overflow of the floating type, or an
        ``inf`` or ``nan`` in the input).
    """
    where = "rnn_forward"
    x, h0, Wx, Wh, b, dtypes = _sequence_inputs(x, h0, Wx, Wh, b, where)
    n, steps, d = x.shape
    width = h0.shape[1]
    states = np.empty((n, steps + 1, width), dtype=x.dtype)  # states[:, t] is h_t
    states[:, 0] = h0
    with np.errstate(over="ignore", invalid="ignore"):
        z = (x.reshape(n * steps, d) @ Wx).reshape(n, steps, width)  # every x_t W_x
        z += b
        for t in range(steps):
            z_t = z[:, t]
            z_t += states[:, t] @ Wh
            np.tanh(z_t, out=states[:, t + 1])
    _check_finite(z, where)  # z keeps every pre-activation; with them finite, so is every h
    cache = {"x": x, "states": states, "Wx": Wx, "Wh": Wh, "dtypes": dtypes}
    return states[:, 1:].copy(), cache


def rnn_backward(dh, cache):
    r"""Backpropagation through time: the gradients of a whole sequence.

    ``dh[:, t - 1]`` is :math:`g_t = \partial \ell / \partial h_t`, the
    gradient that reaches :math:`h_t` from outside the recurrence (from a
    loss on that step's output). Going backwards from :math:`t = T`, with
    :math:`\bar z_{T+1} = 0`, chapter 8 derives (:eq:`eq-rnn-total-grad`,
    :eq:`eq-rnn-dz`)

    .. math::
        \bar h_t = g_t + \bar z_{t+1} W_h^\top, \qquad
        \bar z_t = \bar h_t \odot (1 - h_t \odot h_t),

    and then the sums over time (:eq:`eq-rnn-grad-weights`,
    :eq:`eq-rnn-grad-inputs`)

    .. math::
        \bar x_t = \bar z_t W_x^\top, \quad
        \bar h_0 = \bar z_1 W_h^\top, \quad
        \bar W_x = \sum_{t=1}^{T} x_t^\top \bar z_t, \quad
        \bar W_h = \sum_{t=1}^{T} h_{t-1}^\top \bar z_t, \quad
        \bar b = \sum_{t=1}^{T} \mathbf{1}^\top \bar z_t .

    Only :math:`\bar z_{t+1} W_h^\top` has to be computed in order, one
    ``(N, H) @ (H, H)`` product per step. The rest is not: stacking the
    :math:`\bar z_t` of all steps into an ``(N T, H)`` matrix turns each sum
    over time into one product (:eq:`eq-rnn-backward-batched`),
    ``(D, N T) @ (N T, H)`` for :math:`\bar W_x`, ``(H, N T) @ (N T, H)`` for
    :math:`\bar W_h` and ``(N T, H) @ (H, D)`` for every :math:`\bar x_t`.
    :func:`rnn_backward_naive` calls :func:`rnn_step_backward` step by step
    instead.

    Parameters
    ----------
    dh : array_like, shape (N, T, H)
        The gradient of the loss with respect to every hidden state returned
        by :func:`rnn_forward` (zeros where a step has no loss of its own).
    cache : dict
        From :func:`rnn_forward`; not modified.

    Returns
    -------
    dx : numpy.ndarray, shape (N, T, D)
    dh0 : numpy.ndarray, shape (N, H)
    dWx : numpy.ndarray, shape (D, H)
    dWh : numpy.ndarray, shape (H, H)
    db : numpy.ndarray, shape (H,)
        Each in the dtype of the array it is the gradient of.
    """
    x, states, Wx, Wh = (cache[k] for k in ("x", "states", "Wx", "Wh"))
    n, steps, d = x.shape
    width = Wh.shape[0]
    dh = _check_dout(dh, (n, steps, width), "dh", "rnn_backward",
                     "the shape (N, T, H) of the forward's h")
    dtype = np.result_type(states, dh)
    h = states[:, 1:]
    dtanh = 1.0 - h * h                      # tanh'(z_t) = 1 - h_t^2, all steps at once
    dz = np.empty((n, steps, width), dtype=dtype)
    carry = np.zeros((n, width), dtype=dtype)  # z-bar_{t+1} W_h^T, zero after the last step
    Wh_t = Wh.T
    for t in range(steps - 1, -1, -1):
        dz_t = dz[:, t]
        np.add(dh[:, t], carry, out=dz_t)    # h-bar_t
        dz_t *= dtanh[:, t]                  # z-bar_t
        carry = dz_t @ Wh_t
    dz_rows = dz.reshape(n * steps, width)
    prev = states[:, :-1].reshape(n * steps, width)  # h_0 .. h_{T-1}, one row per (n, t)
    dx = (dz_rows @ Wx.T).reshape(n, steps, d)
    dWx = x.reshape(n * steps, d).T @ dz_rows
    dWh = prev.T @ dz_rows
    db = dz_rows.sum(axis=0)
    return _cast((dx, carry, dWx, dWh, db), cache["dtypes"])


# --------------------------------------------------------------------------
# A whole sequence: the step-by-step references
# --------------------------------------------------------------------------

def rnn_forward_naive(x, h0, Wx, Wh, b):
    r"""The recurrence one step at a time: the reference for :func:`rnn_forward`.

    .. math:: h_t = \tanh\bigl(x_t W_x + h_{t-1} W_h + b\bigr)

    Chapter 8, :eq:`eq-rnn-recurrence`: :func:`rnn_step_forward` called for
    :math:`t = 1, \dots, T`, each step's cache kept for
    :func:`rnn_backward_naive`.

    Parameters
    ----------
    x, h0, Wx, Wh, b : array_like
        As in :func:`rnn_forward`.

    Returns
    -------
    h : numpy.ndarray, shape (N, T, H)
    cache : dict
        The step caches, for :func:`rnn_backward_naive`.
    """
    x, h0, Wx, Wh, b, dtypes = _sequence_inputs(x, h0, Wx, Wh, b, "rnn_forward_naive")
    n, steps, _ = x.shape
    h = np.empty((n, steps, h0.shape[1]), dtype=x.dtype)
    h_prev, step_caches = h0, []
    for t in range(steps):
        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)
        h[:, t] = h_prev
        step_caches.append(step_cache)
    return h, {"steps": step_caches, "shapes": (x.shape, h0.shape, Wx.shape, Wh.shape, b.shape),
               "dtypes": dtypes}


def rnn_backward_naive(dh, cache):
    r"""Backpropagation through time one step at a time: the reference for :func:`rnn_backward`.

    From the last step to the first, :func:`rnn_step_backward` receives
    :math:`\bar h_t = g_t + \bar h^{\text{prev}}_{t+1}` (the gradient of this
    step's own loss plus what step :math:`t + 1` passed back,
    :eq:`eq-rnn-total-grad`), and the weight gradients of the steps are
    added up (:eq:`eq-rnn-grad-weights`).

    Parameters
    ----------
    dh : array_like, shape (N, T, H)
    cache : dict
        From :func:`rnn_forward_naive`.

    Returns
    -------
    dx, dh0, dWx, dWh, db : numpy.ndarray
        As in :func:`rnn_backward`.
    """
    (x_shape, h0_shape, wx_shape, wh_shape, b_shape) = cache["shapes"]
    n, steps, _ = x_shape
    dh = _check_dout(dh, (n, steps, h0_shape[1]), "dh", "rnn_backward_naive",
                     "the shape (N, T, H) of the forward's h")
    dx = np.zeros(x_shape, dtype=np.float64)
    dWx, dWh, db = np.zeros(wx_shape), np.zeros(wh_shape), np.zeros(b_shape)
    dh_next = np.zeros(h0_shape)
    for t in range(steps - 1, -1, -1):
        dx_t, dh_next, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_next, cache["steps"][t])
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return _cast((dx, dh_next, dWx, dWh, db), cache["dtypes"])


# --------------------------------------------------------------------------
# How far back a change reaches
# --------------------------------------------------------------------------

def rnn_jacobian_norms(cache):
    r"""The spectral norm of :math:`\partial h_T / \partial h_t` for every :math:`t`, per sequence.

    The Jacobian of one step is
    :math:`\partial h_k / \partial h_{k-1} = \operatorname{diag}(1 - h_k \odot h_k)\, W_h^\top`
    (chapter 8, :eq:`eq-rnn-jacobian`), and by the chain rule

    .. math::
        \frac{\partial h_T}{\partial h_t} = \prod_{k = T}^{t + 1}
        \operatorname{diag}(1 - h_k \odot h_k)\, W_h^\top
        \qquad (\text{the factor for } k = T \text{ on the left}),

    :eq:`eq-rnn-bptt-sum`. Its largest singular value is the most a
    small change of :math:`h_t` can be amplified on its way to :math:`h_T`;
    it is at most :math:`\sigma_{\max}(W_h)^{T - t}`
    (:eq:`eq-rnn-jacobian-bound`). The product is built from the last step
    backwards, one ``(H, H) @ (H, H)`` product per step and sequence, and each
    norm is an SVD: meant for one or a few sequences, not for training.

    Parameters
    ----------
    cache : dict
        From :func:`rnn_forward`.

    Returns
    -------
    numpy.ndarray, shape (N, T + 1)
        Entry ``[n, t]`` is :math:`\|\partial h_T / \partial h_t\|_2` for
        sequence ``n``, :math:`t = 0, \dots, T`; the last column is
        :math:`\|I\|_2 = 1`.
    """
    states, Wh = cache["states"], cache["Wh"]
    n, steps_plus_1, width = states.shape
    norms = np.ones((n, steps_plus_1), dtype=np.float64)
    product = np.broadcast_to(np.eye(width, dtype=states.dtype), (n, width, width)).copy()
    for k in range(steps_plus_1 - 1, 0, -1):
        jacobian = (1.0 - states[:, k] ** 2)[:, :, None] * Wh.T  # diag(1 - h_k^2) W_h^T, (N, H, H)
        product = product @ jacobian
        norms[:, k - 1] = np.linalg.norm(product, ord=2, axis=(1, 2))
    return norms


# --------------------------------------------------------------------------
# Checks shared by the functions above (the LSTM module uses them too)
# --------------------------------------------------------------------------

def _sequence_inputs(x, h0, Wx, Wh, b, where, gates=1):
    """Convert and check x (N, T, D), h0 (N, H), Wx (D, gH), Wh (H, gH), b (gH,).

    Returns the arrays in their common floating type and the input dtypes.
    """
    x, h0, Wx, Wh, b = (as_float_array(a, name) for a, name in
                        ((x, "x"), (h0, "h0"), (Wx, "Wx"), (Wh, "Wh"), (b, "b")))
    check_ndim(x, 3, "x", where, "(N, T, D)")
    _check_state(h0, "h0", x.shape[0], where)
    _check_weights(Wx, Wh, b, x.shape[2], h0.shape[1], where, gates)
    dtypes = (x.dtype, h0.dtype, Wx.dtype, Wh.dtype, b.dtype)
    return (*_common(x, h0, Wx, Wh, b), dtypes)


def _check_state(state, name, n, where):
    """A hidden or cell state must be (N, H) with the batch's N."""
    check_ndim(state, 2, name, where, "(N, H)")
    if state.shape[0] != n:
        raise ValueError(
            f"{where}: {name} has shape {state.shape} but the input's batch has N={n} "
            f"sequences; expected {name} of shape ({n}, H)"
        )


def _check_weights(Wx, Wh, b, d, width, where, gates=1):
    """Wx (D, gH), Wh (H, gH), b (gH,) for D inputs, H hidden units and g gate blocks."""
    cols = gates * width
    blocks = "" if gates == 1 else f" ({gates} blocks of H={width} columns)"
    for name, arr, expected in (("Wx", Wx, (d, cols)), ("Wh", Wh, (width, cols)), ("b", b, (cols,))):
        if arr.shape != expected:
            raise ValueError(
                f"{where}: {name} has shape {arr.shape}; expected {expected}{blocks} for "
                f"D={d} input features and H={width} hidden units (H is read from the "
                "state's shape (N, H))"
            )


def _common(*arrays):
    """The arrays in their common floating type (float32 only if all are float32)."""
    dtype = np.result_type(*arrays)
    return tuple(arr.astype(dtype, copy=False) for arr in arrays)


def _check_finite(arr, where):
    r"""``ValueError`` unless every pre-activation (or state) in ``arr`` is finite.

    From finite inputs, a non-finite pre-activation means that a product x W
    or h W overflowed. An infinite one is no safe saturation, although
    :math:`\tanh(\pm\infty) = \pm 1`: a term that overflows can hide another
    that cancels it, and whether the sum is then ``nan`` or ``inf`` depends on
    the BLAS kernel (with fused multiply-adds, ``inf`` plus an exact
    :math:`-10^{400}` stays ``inf`` where the exact sum is 0). So both are
    refused, on every machine alike.
    """
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{where}: a pre-activation is not finite: the products x W and h W overflow "
            f"{arr.dtype}, or an input holds an inf or a nan; scale the inputs or weights down"
        )


def _check_dout(dout, expected, name, where, what):
    """``dout`` as a float array of the ``expected`` shape, or ``ValueError``."""
    dout = as_float_array(dout, name)
    if dout.shape != tuple(expected):
        raise ValueError(f"{where}: {name} has shape {dout.shape}; expected {tuple(expected)}, {what}")
    return dout


def _cast(grads, dtypes):
    """Each gradient in the dtype of the array it is the gradient of."""
    return tuple(g.astype(dt, copy=False) for g, dt in zip(grads, dtypes))
