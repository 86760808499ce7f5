r"""Long short-term memory: the LSTM cell and its backward pass through time (chapter 9).

One step computes four blocks of pre-activations from the input and the last
hidden state, in PyTorch's order, input gate :math:`i`, forget gate
:math:`f`, candidate :math:`g`, output gate :math:`o`,

.. math::
    [\,a_i\ a_f\ a_g\ a_o\,] = x_t W_x + h_{t-1} W_h + b, \qquad
    i, f, o = \sigma(a_i), \sigma(a_f), \sigma(a_o), \quad g = \tanh(a_g),

and then the cell and the hidden state

.. math::
    c_t = f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t).

Shapes: ``x`` ``(N, T, D)``, states ``(N, H)``, ``Wx`` ``(D, 4H)``, ``Wh``
``(H, 4H)``, ``b`` ``(4H,)``, columns ``[0, H)`` for :math:`i`, ``[H, 2H)``
for :math:`f`, ``[2H, 3H)`` for :math:`g`, ``[3H, 4H)`` for :math:`o`.
:func:`lstm_forward` equals ``torch.nn.LSTM(D, H, batch_first=True)`` with
``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b``, ``bias_hh = 0``.

As in :mod:`dlmath.rnn`, the sequence pair moves every product that does not
depend on the order of the steps out of the loop over time;
:func:`lstm_forward_naive` and :func:`lstm_backward_naive` are the
step-by-step references.
"""
import numpy as np

from ._checks import as_float_array, check_ndim
from .rnn import _cast, _check_dout, _check_finite, _check_state, _check_weights, _common, \
    _sequence_inputs


def _gate_scale(width, dtype):
    r"""1/2 on the columns of i, f and o, 1 on those of g: :math:`\sigma(a) = (1 + \tanh(a/2))/2`."""
    scale = np.full(4 * width, 0.5, dtype=dtype)
    scale[2 * width:3 * width] = 1.0
    return scale


def _activate(a, width):
    r"""Turn the pre-activations ``a`` (..., 4H), already halved on the i, f, o columns, into the gates, in place.

    :math:`\sigma(a) = \tfrac12\bigl(1 + \tanh(a/2)\bigr)` (chapter 1,
    :eq:`eq-tanh`, solved for :math:`\sigma`): one ``tanh`` over all four
    blocks, then :math:`(1 + t)/2` on the three sigmoid blocks. ``tanh`` never
    overflows, so this is stable for any magnitude; its absolute error is at
    most a rounding of 1 (about ``1e-16`` in float64), as for the two-branch
    sigmoid of chapter 1. Unlike that sigmoid it does not keep the relative
    accuracy of gate values below about ``1e-16``: for :math:`a \le -38` it
    returns exactly 0 instead of
    :math:`\sigma(a) \le \sigma(-38) \approx 3.1 \times 10^{-17}`.
    """
    np.tanh(a, out=a)
    for block in (a[..., :2 * width], a[..., 3 * width:]):
        block += 1.0
        block *= 0.5
    return a


# --------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------

def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    r"""One LSTM step: the new hidden state and cell from an input and the last ones.

    .. math::
        [\,a_i\ a_f\ a_g\ a_o\,] = x W_x + h_{\text{prev}} W_h + b, \qquad
        i = \sigma(a_i),\ f = \sigma(a_f),\ g = \tanh(a_g),\ o = \sigma(a_o),

    .. math::
        c = f \odot c_{\text{prev}} + i \odot g, \qquad h = o \odot \tanh(c)

    Chapter 9, equations :eq:`eq-lstm-gates`, :eq:`eq-lstm-cell` and
    :eq:`eq-lstm-hidden`. Shapes: ``(N, D) @ (D, 4H) + (N, H) @ (H, 4H) + (4H,)
    -> (N, 4H)``, split into four ``(N, H)`` blocks in the order i, f, g, o.
    The sigmoids are computed as :math:`\sigma(a) = (1 + \tanh(a/2))/2`,
    stable for any magnitude.

    Parameters
    ----------
    x : array_like, shape (N, D)
    h_prev : array_like, shape (N, H)
    c_prev : array_like, shape (N, H)
    Wx : array_like, shape (D, 4H)
    Wh : array_like, shape (H, 4H)
    b : array_like, shape (4H,)

    Returns
    -------
    h : numpy.ndarray, shape (N, H)
    c : numpy.ndarray, shape (N, H)
    cache : dict
        For :func:`lstm_step_backward`; ``cache["gates"]`` is ``(N, 4H)``, the
        values of i, f, g, o side by side.

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), or if a
        pre-activation is not finite (an overflow, or an ``inf`` or ``nan`` in
        the input).
    """
    where = "lstm_step_forward"
    x, h_prev, c_prev, Wx, Wh, b = (as_float_array(a, n) for a, n in (
        (x, "x"), (h_prev, "h_prev"), (c_prev, "c_prev"), (Wx, "Wx"), (Wh, "Wh"), (b, "b")))
    check_ndim(x, 2, "x", where, "(N, D)")
    _check_state(h_prev, "h_prev", x.shape[0], where)
    _check_state(c_prev, "c_prev", x.shape[0], where)
    if c_prev.shape != h_prev.shape:
        raise ValueError(f"{where}: c_prev has shape {c_prev.shape}; expected {h_prev.shape}, "
                         "the shape of h_prev")
    width = h_prev.shape[1]
    _check_weights(Wx, Wh, b, x.shape[1], width, where, gates=4)
    dtypes = (x.dtype, h_prev.dtype, c_prev.dtype, Wx.dtype, Wh.dtype, b.dtype)
    x, h_prev, c_prev, Wx, Wh, b = _common(x, h_prev, c_prev, Wx, Wh, b)
    scale = _gate_scale(width, x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        a = (x @ Wx + h_prev @ Wh + b) * scale
    _check_finite(a, where)
    with np.errstate(over="ignore", invalid="ignore"):
        gates = _activate(a, width)
        i, f, g, o = (gates[:, k * width:(k + 1) * width] for k in range(4))
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
    _check_finite(c, where)  # an inf or nan in c_prev
    cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "Wx": Wx, "Wh": Wh,
             "gates": gates, "c": c, "tanh_c": tanh_c, "dtypes": dtypes}
    return h, c, cache


def lstm_step_backward(dh, dc, cache):
    r"""The gradients of one LSTM step from the gradients of its new h and c.

    ``dh`` is :math:`\bar h = \partial L / \partial h` and ``dc`` is the
    gradient reaching :math:`c` from the later steps only,
    :math:`\bar c^{\,\text{next}}`. The cell also feeds this step's
    :math:`h = o \odot \tanh(c)`, so its total gradient is (chapter 9,
    :eq:`eq-lstm-dc`)

    .. math::
        \bar c = \bar c^{\,\text{next}} + \bar h \odot o \odot (1 - \tanh^2 c),

    and then (:eq:`eq-lstm-gate-grads`, :eq:`eq-lstm-preact-grads`,
    :eq:`eq-lstm-dc-prev`)

    .. math::
        \bar a_o = \bar h \odot \tanh(c) \odot o(1 - o), \quad
        \bar a_i = \bar c \odot g \odot i(1 - i), \quad
        \bar a_f = \bar c \odot c_{\text{prev}} \odot f(1 - f), \quad
        \bar a_g = \bar c \odot i \odot (1 - g^2),

    .. math::
        \bar c_{\text{prev}} = \bar c \odot f, \qquad
        \bar x = \bar a\, W_x^\top, \quad
        \bar h_{\text{prev}} = \bar a\, W_h^\top, \quad
        \bar W_x = x^\top \bar a, \quad
        \bar W_h = h_{\text{prev}}^\top \bar a, \quad
        \bar b = \mathbf{1}^\top \bar a,

    with :math:`\bar a = [\,\bar a_i\ \bar a_f\ \bar a_g\ \bar a_o\,]`, shape
    ``(N, 4H)`` (:eq:`eq-lstm-step-weights`).

    Parameters
    ----------
    dh : array_like, shape (N, H)
    dc : array_like, shape (N, H)
    cache : dict
        From :func:`lstm_step_forward`; not modified.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D)
    dh_prev : numpy.ndarray, shape (N, H)
    dc_prev : numpy.ndarray, shape (N, H)
    dWx : numpy.ndarray, shape (D, 4H)
    dWh : numpy.ndarray, shape (H, 4H)
    db : numpy.ndarray, shape (4H,)
        Each in the dtype of the array it is the gradient of.
    """
    where = "lstm_step_backward"
    x, h_prev, c_prev, Wx, Wh = (cache[k] for k in ("x", "h_prev", "c_prev", "Wx", "Wh"))
    gates, tanh_c = cache["gates"], cache["tanh_c"]
    shape = tanh_c.shape
    dh = _check_dout(dh, shape, "dh", where, "the shape (N, H) of the forward's h")
    dc = _check_dout(dc, shape, "dc", where, "the shape (N, H) of the forward's c")
    width = shape[1]
    i, f, g, o = (gates[:, k * width:(k + 1) * width] for k in range(4))
    dc_total = dc + dh * o * (1.0 - tanh_c * tanh_c)
    da = np.concatenate([
        dc_total * g * i * (1.0 - i),
        dc_total * c_prev * f * (1.0 - f),
        dc_total * i * (1.0 - g * g),
        dh * tanh_c * o * (1.0 - o),
    ], axis=1)
    grads = (da @ Wx.T, da @ Wh.T, dc_total * f, x.T @ da, h_prev.T @ da, da.sum(axis=0))
    return _cast(grads, cache["dtypes"])


# --------------------------------------------------------------------------
# A whole sequence: fast
# --------------------------------------------------------------------------

def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    r"""Run the LSTM over a whole sequence: every hidden state.

    For :math:`t = 1, \dots, T`, from :math:`h_0` and :math:`c_0` (zeros by
    default),

    .. math::
        [\,a_i\ a_f\ a_g\ a_o\,]_t = x_t W_x + h_{t-1} W_h + b, \quad
        c_t = f_t \odot c_{t-1} + i_t \odot g_t, \quad
        h_t = o_t \odot \tanh(c_t)

    (chapter 9, :eq:`eq-lstm-gates`, :eq:`eq-lstm-cell`, :eq:`eq-lstm-hidden`).
    As in :func:`~dlmath.rnn.rnn_forward`, the input projections of all
    :math:`N T` rows are one ``(N T, D) @ (D, 4H)`` product before the loop
    over time, which does one ``(N, H) @ (H, 4H)`` product per step. The
    columns of i, f and o are halved once, in the weights' products, so that
    one ``tanh`` per step gives all four gates
    (:math:`\sigma(a) = (1 + \tanh(a/2))/2`; halving is exact in binary
    floating point).

    This is ``torch.nn.LSTM(D, H, batch_first=True)`` with
    ``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b``,
    ``bias_hh = 0``, started from ``(h0, c0)``. :func:`lstm_forward_naive` is
    the step-by-step reference.

    Parameters
    ----------
    x : array_like, shape (N, T, D)
    h0 : array_like, shape (N, H)
    Wx : array_like, shape (D, 4H)
    Wh : array_like, shape (H, 4H)
    b : array_like, shape (4H,)
    c0 : array_like, shape (N, H), optional
        The initial cell; zeros if not given. It is a constant start state:
        :func:`lstm_backward` returns no gradient for it.

    Returns
    -------
    h : numpy.ndarray, shape (N, T, H)
        ``h[:, t - 1]`` is :math:`h_t`; a new array.
    cache : dict
        For :func:`lstm_backward`. ``cache["c"]`` is ``(N, T + 1, H)``, the
        cells :math:`c_0, \dots, c_T`; ``cache["gates"]`` is ``(N, T, 4H)``,
        the gate values of every step (i, f, g, o side by side).

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names them), or if a
        pre-activation is not finite (an overflow, or an ``inf`` or ``nan`` in
        the input).
    """
    where = "lstm_forward"
    x, h0, Wx, Wh, b, dtypes = _sequence_inputs(x, h0, Wx, Wh, b, where, gates=4)
    n, steps, d = x.shape
    width = h0.shape[1]
    x, h0, Wx, Wh, b, c0 = _initial_cell(x, h0, Wx, Wh, b, c0, where)
    dtype = x.dtype
    scale = _gate_scale(width, dtype)
    states = np.empty((n, steps + 1, width), dtype=dtype)  # states[:, t] is h_t
    cells = np.empty((n, steps + 1, width), dtype=dtype)   # cells[:, t] is c_t
    tanh_c = np.empty((n, steps, width), dtype=dtype)
    states[:, 0], cells[:, 0] = h0, c0
    with np.errstate(over="ignore", invalid="ignore"):
        gates = (x.reshape(n * steps, d) @ (Wx * scale)).reshape(n, steps, 4 * width)
        gates += b * scale
        Wh_scaled = Wh * scale
        for t in range(steps):
            a = gates[:, t]
            a += states[:, t] @ Wh_scaled
            _check_finite(a, where)
            _activate(a, width)
            c = cells[:, t + 1]
            np.multiply(a[:, width:2 * width], cells[:, t], out=c)      # f * c_{t-1}
            c += a[:, :width] * a[:, 2 * width:3 * width]               # + i * g
            np.tanh(c, out=tanh_c[:, t])
            np.multiply(a[:, 3 * width:], tanh_c[:, t], out=states[:, t + 1])  # o * tanh(c)
    _check_finite(cells, where)  # an inf or nan in c0 (h0 is in the first pre-activation)
    cache = {"x": x, "states": states, "c": cells, "tanh_c": tanh_c, "gates": gates,
             "Wx": Wx, "Wh": Wh, "dtypes": dtypes}
    return states[:, 1:].copy(), cache


def lstm_backward(dh, cache):
    r"""Backpropagation through time for the LSTM.

    ``dh[:, t - 1]`` is :math:`g_t`, the gradient reaching :math:`h_t` from
    outside the recurrence. Going backwards from :math:`t = T` with
    :math:`\bar a_{T+1} = 0` and :math:`\bar c_{T+1}` replaced by 0 (chapter
    9, :eq:`eq-lstm-bptt`),

    .. math::
        \bar h_t = g_t + \bar a_{t+1} W_h^\top, \qquad
        \bar c_t = \bar c_{t+1} \odot f_{t+1} + \bar h_t \odot o_t \odot (1 - \tanh^2 c_t),

    then the step's :math:`\bar a_t` of :func:`lstm_step_backward`, and the
    sums over time

    .. math::
        \bar x_t = \bar a_t W_x^\top, \quad
        \bar h_0 = \bar a_1 W_h^\top, \quad
        \bar W_x = \sum_t x_t^\top \bar a_t, \quad
        \bar W_h = \sum_t h_{t-1}^\top \bar a_t, \quad
        \bar b = \sum_t \mathbf{1}^\top \bar a_t .

    The loop over time does one ``(N, 4H) @ (4H, H)`` product per step and the
    elementwise products of the gates; the sums over time are one product
    each over the stacked :math:`(N T, 4H)` matrix of the :math:`\bar a_t`, as
    in :func:`~dlmath.rnn.rnn_backward`. No gradient is returned for
    :math:`c_0`, taken as a constant start state (it would be
    :math:`\bar c_1 \odot f_1`).

    Parameters
    ----------
    dh : array_like, shape (N, T, H)
    cache : dict
        From :func:`lstm_forward`; not modified.

    Returns
    -------
    dx : numpy.ndarray, shape (N, T, D)
    dh0 : numpy.ndarray, shape (N, H)
    dWx : numpy.ndarray, shape (D, 4H)
    dWh : numpy.ndarray, shape (H, 4H)
    db : numpy.ndarray, shape (4H,)
        Each in the dtype of the array it is the gradient of.
    """
    x, states, cells, tanh_c, gates = (cache[k] for k in ("x", "states", "c", "tanh_c", "gates"))
    Wx, Wh = cache["Wx"], cache["Wh"]
    n, steps, d = x.shape
    width = states.shape[2]
    dh = _check_dout(dh, (n, steps, width), "dh", "lstm_backward",
                     "the shape (N, T, H) of the forward's h")
    dtype = np.result_type(states, dh)
    i, f, g, o = (gates[..., k * width:(k + 1) * width] for k in range(4))
    # Every factor that does not depend on the upstream gradient, for all steps at once:
    # dc-bar/dh-bar, and the derivatives of the pre-activations (eq-lstm-preact-grads).
    dc_from_dh = o * (1.0 - tanh_c * tanh_c)                  # (N, T, H)
    da_o_from_dh = tanh_c * o * (1.0 - o)                     # (N, T, H)
    da_from_dc = np.empty((n, steps, 3, width), dtype=dtype)  # the i, f, g blocks, per unit of c-bar
    da_from_dc[:, :, 0] = g * i * (1.0 - i)
    da_from_dc[:, :, 1] = cells[:, :-1] * f * (1.0 - f)
    da_from_dc[:, :, 2] = i * (1.0 - g * g)
    da = np.empty((n, steps, 4, width), dtype=dtype)  # a-bar_t, blocks i, f, g, o
    dh_carry = np.zeros((n, width), dtype=dtype)   # a-bar_{t+1} W_h^T
    dc_carry = np.zeros((n, width), dtype=dtype)   # c-bar_{t+1} * f_{t+1}
    Wh_t = Wh.T
    for t in range(steps - 1, -1, -1):
        dh_t = dh[:, t] + dh_carry                             # h-bar_t
        dc_t = dh_t * dc_from_dh[:, t]
        dc_t += dc_carry                                       # c-bar_t
        np.multiply(dc_t[:, None, :], da_from_dc[:, t], out=da[:, t, :3])   # a-bar of i, f, g
        np.multiply(dh_t, da_o_from_dh[:, t], out=da[:, t, 3])             # a-bar of o
        dc_carry = dc_t * f[:, t]
        dh_carry = da[:, t].reshape(n, 4 * width) @ Wh_t
    da_rows = da.reshape(n * steps, 4 * width)
    prev = states[:, :-1].reshape(n * steps, width)
    dx = (da_rows @ Wx.T).reshape(n, steps, d)
    dWx = x.reshape(n * steps, d).T @ da_rows
    dWh = prev.T @ da_rows
    db = da_rows.sum(axis=0)
    return _cast((dx, dh_carry, dWx, dWh, db), cache["dtypes"])


# --------------------------------------------------------------------------
# A whole sequence: the step-by-step references
# --------------------------------------------------------------------------

def lstm_forward_naive(x, h0, Wx, Wh, b, c0=None):
    r"""The LSTM one step at a time: the reference for :func:`lstm_forward`.

    :func:`lstm_step_forward` called for :math:`t = 1, \dots, T`
    (chapter 9, :eq:`eq-lstm-gates`, :eq:`eq-lstm-cell`, :eq:`eq-lstm-hidden`),
    each step's cache kept for :func:`lstm_backward_naive`.

    Parameters
    ----------
    x, h0, Wx, Wh, b, c0 : array_like
        As in :func:`lstm_forward`.

    Returns
    -------
    h : numpy.ndarray, shape (N, T, H)
    cache : dict
        The step caches, for :func:`lstm_backward_naive`.
    """
    where = "lstm_forward_naive"
    x, h0, Wx, Wh, b, dtypes = _sequence_inputs(x, h0, Wx, Wh, b, where, gates=4)
    x, h0, Wx, Wh, b, c0 = _initial_cell(x, h0, Wx, Wh, b, c0, where)
    n, steps, _ = x.shape
    h = np.empty((n, steps, h0.shape[1]), dtype=x.dtype)
    h_prev, c_prev, step_caches = h0, c0, []
    for t in range(steps):
        h_prev, c_prev, step_cache = lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
        h[:, t] = h_prev
        step_caches.append(step_cache)
    return h, {"steps": step_caches, "shapes": (x.shape, h0.shape, Wx.shape, Wh.shape, b.shape),
               "dtypes": dtypes}


def lstm_backward_naive(dh, cache):
    r"""Backpropagation through time one LSTM step at a time: the reference for :func:`lstm_backward`.

    From the last step to the first, :func:`lstm_step_backward` receives
    :math:`\bar h_t = g_t + \bar h^{\text{prev}}_{t+1}` and
    :math:`\bar c^{\,\text{next}} = \bar c^{\,\text{prev}}_{t+1}`, what step
    :math:`t + 1` passed back; the weight gradients of the steps are added up
    (chapter 9, :eq:`eq-lstm-bptt`).

    Parameters
    ----------
    dh : array_like, shape (N, T, H)
    cache : dict
        From :func:`lstm_forward_naive`.

    Returns
    -------
    dx, dh0, dWx, dWh, db : numpy.ndarray
        As in :func:`lstm_backward`.
    """
    (x_shape, h0_shape, wx_shape, wh_shape, b_shape) = cache["shapes"]
    n, steps, _ = x_shape
    dh = _check_dout(dh, (n, steps, h0_shape[1]), "dh", "lstm_backward_naive",
                     "the shape (N, T, H) of the forward's h")
    dx = np.zeros(x_shape)
    dWx, dWh, db = np.zeros(wx_shape), np.zeros(wh_shape), np.zeros(b_shape)
    dh_next, dc_next = np.zeros(h0_shape), np.zeros(h0_shape)
    for t in range(steps - 1, -1, -1):
        dx_t, dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_next, dc_next, cache["steps"][t])
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return _cast((dx, dh_next, dWx, dWh, db), cache["dtypes"])


def _initial_cell(x, h0, Wx, Wh, b, c0, where):
    """Zeros for a missing c0, else c0 checked to be (N, H); all six in their common dtype."""
    if c0 is None:
        c0 = np.zeros_like(h0)
    else:
        c0 = as_float_array(c0, "c0")
        if c0.shape != h0.shape:
            raise ValueError(
                f"{where}: c0 has shape {c0.shape}; expected {h0.shape}, the shape of h0 (N, H)"
            )
    return _common(x, h0, Wx, Wh, b, c0)
