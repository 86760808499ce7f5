r"""Gradient descent and its optimizers (chapter 6).

Every optimizer is one *stateless* step on a dict of parameters, in the style of
:func:`dlmath.backprop.sgd_step`::

    params, state = adam_step(params, grads, state, lr=1e-3)

``params`` and ``grads`` are dicts of arrays with the same keys and shapes;
``state`` is ``None`` on the first call and afterwards what the previous call
returned: a dict with the number of steps taken (``"step"``) and the optimizer's
running averages, one array per parameter. Nothing is modified in place: every
call returns new arrays, so an old ``(params, state)`` pair can be stepped again
and gives the same result.

Each step equals the step of ``torch.optim`` with the same hyper-parameters
(``tests/test_optim.py`` compares them with arrays that
``scripts/torch_reference/optim.py`` wrote with torch). Arithmetic follows
numpy's type promotion with the hyper-parameters as Python floats, so float32
parameters and gradients give float32 parameters and state.
"""
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_finite, check_positive_int, check_same_shape

# --------------------------------------------------------------------------
# Checks shared by every step (and by dlmath.backprop.sgd_step)
# --------------------------------------------------------------------------


def _paired_arrays(params, grads, where):
    """``[(key, param, grad), ...]`` as float arrays, or ``ValueError``.

    The keys of ``grads`` must be those of ``params`` and every gradient the
    shape of its parameter (no broadcasting). The messages name the keys and
    the shapes. :func:`dlmath.backprop.sgd_step` uses this too. (Finiteness
    is checked on the step's results, by :func:`_check_step`.)
    """
    if set(params) != set(grads):
        raise ValueError(
            f"{where}: grads has keys {sorted(grads)}; expected the keys of params {sorted(params)}"
        )
    pairs = []
    for key, value in params.items():
        value = as_float_array(value, key)
        grad = as_float_array(grads[key], f"grads[{key!r}]")
        check_same_shape(value, grad, f"params[{key!r}]", f"grads[{key!r}]", where)
        pairs.append((key, value, grad))
    return pairs


def _check_step(pairs, where, **outputs):
    """``ValueError`` if a parameter or gradient is not finite, or the step overflowed.

    ``outputs`` maps a name (``params``, ``v``, ...) to a dict of new arrays:
    the new parameters, and any running sum of squared gradients (an ``inf``
    there would make the step 0, not ``inf``). Every other buffer reaches the
    new parameters, so an ``inf`` or ``nan`` in any input or any result shows
    there. The steps run under ``np.errstate(over="ignore", invalid="ignore")``;
    a non-finite result names the input that caused it (a ``nan`` gradient
    from a diverged run), or else says that a gradient, its square or a step
    was beyond the floating type (a gradient of ``1e200`` has a square of
    ``1e400``): an error, not a silent ``inf``.
    """
    for name, arrays in outputs.items():
        for key, arr in arrays.items():
            if not np.isfinite(arr).all():
                for k, value, grad in pairs:
                    check_finite(value, f"params[{k!r}]", where)
                    check_finite(grad, f"grads[{k!r}]", where)
                largest = max((float(np.max(np.abs(g))) for _, _, g in pairs if g.size), default=0.0)
                raise ValueError(
                    f"{where}: the new {name}[{key!r}] overflows {arr.dtype} (largest |gradient| = "
                    f"{largest:.3g}); clip the gradients (clip_grad_norm) or lower the learning rate"
                )


def _gd_update(pairs, lr, where):
    r"""The gradient-descent update :math:`\theta - \eta g` of every ``(key, param, grad)``: new arrays.

    The one copy of the arithmetic of :func:`gd_step` and
    :func:`dlmath.backprop.sgd_step`; each checks ``lr`` its own way first.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        new_params = {key: value - lr * grad for key, value, grad in pairs}
    _check_step(pairs, where, params=new_params)
    return new_params


def _check_dicts(params, grads, where):
    for name, value in (("params", params), ("grads", grads)):
        if type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(
                f"{where}: {name} must be a dict of arrays (one per parameter), "
                f"got {type(value).__name__}"
            )


def _real(value, name, where):
    """``value`` as a Python float, or ``ValueError`` for non-numbers, bools and nan."""
    if type(value) is float and value == value:  # the common case, fast
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: {name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{where}: {name} must be a real number, got nan")
    return value


def _check_lr(lr, where):
    lr = _real(lr, "lr", where)
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"{where}: lr must be a finite number >= 0, got {lr!r}")
    return lr


def _check_unit_interval(value, name, where):
    value = _real(value, name, where)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1), got {value!r}")
    return value


def _check_positive(value, name, where):
    value = _real(value, name, where)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {name} must be a finite number > 0, got {value!r}")
    return value


def _check_nonnegative(value, name, where):
    value = _real(value, name, where)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {value!r}")
    return value


def _check_flag(value, name, where):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def _read_state(state, buffer_names, pairs, where):
    """The step count and the running averages of ``state``, checked against the parameters.

    ``state is None`` (the first call) gives step 0 and zero buffers with the
    dtype of ``param - grad``. Otherwise ``state`` must be what the previous
    call returned: ``"step"`` an int >= 0 and each buffer a dict with the keys
    and shapes of ``params`` (else ``ValueError`` naming the key).
    """
    if state is None:
        buffers = {
            name: {key: np.zeros(value.shape, np.result_type(value, grad)) for key, value, grad in pairs}
            for name in buffer_names
        }
        return 0, buffers
    expected_keys = {"step", *buffer_names}
    if not isinstance(state, Mapping) or set(state) != expected_keys:
        got = sorted(map(str, state)) if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(
            f"{where}: state must be None (first step) or the state the previous {where} "
            f"returned, a dict with keys {sorted(expected_keys)}; got {got}"
        )
    step = state["step"]
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"{where}: state['step'] must be an int >= 0, got {step!r}")
    param_keys = [key for key, _, _ in pairs]
    buffers = {}
    for name in buffer_names:
        given = state[name]
        if not isinstance(given, Mapping) or set(given) != set(param_keys):
            got = sorted(given) if isinstance(given, Mapping) else type(given).__name__
            raise ValueError(
                f"{where}: state[{name!r}] has keys {got}; expected the keys of params {sorted(param_keys)}"
            )
        buffers[name] = {}
        for key, value, _ in pairs:
            buffer = as_float_array(given[key], f"state[{name!r}][{key!r}]")
            check_same_shape(value, buffer, f"params[{key!r}]", f"state[{name!r}][{key!r}]", where)
            buffers[name][key] = buffer
    return int(step), buffers


# --------------------------------------------------------------------------
# The optimizers
# --------------------------------------------------------------------------


def gd_step(params, grads, state=None, lr=0.1):
    r"""One step of (stochastic) gradient descent.

    .. math:: \theta_{t+1} = \theta_t - \eta\, g_t

    Chapter 6, equation :eq:`eq-opt-gd`; the same update as
    :func:`dlmath.backprop.sgd_step` (chapter 5), which it shares its arithmetic
    with, but with the optimizer interface of this module and ``lr = 0``
    allowed. Equals ``torch.optim.SGD(params, lr=lr)``.

    Parameters
    ----------
    params : dict of array_like
    grads : dict of array_like
        The same keys, each gradient :math:`g_t` the shape of its parameter.
    state : None or dict
        ``None`` on the first call, afterwards the state the previous call
        returned (gradient descent keeps only the step count).
    lr : float
        The learning rate :math:`\eta \ge 0`.

    Returns
    -------
    params : dict of numpy.ndarray
        New arrays; the inputs are not modified.
    state : dict
        ``{"step": t}``, the number of steps taken.
    """
    where = "gd_step"
    _check_dicts(params, grads, where)
    lr = _check_lr(lr, where)
    pairs = _paired_arrays(params, grads, where)
    step, _ = _read_state(state, (), pairs, where)
    return _gd_update(pairs, lr, where), {"step": step + 1}


def momentum_step(params, grads, state=None, lr=0.01, beta=0.9, nesterov=False):
    r"""One step of gradient descent with momentum (Polyak's heavy ball, or Nesterov's variant).

    .. math::
        v_{t+1} = \beta\, v_t + g_t, \quad v_0 = 0, \qquad
        \theta_{t+1} = \theta_t - \eta\, v_{t+1}
        \quad\text{or, with Nesterov,}\quad
        \theta_{t+1} = \theta_t - \eta\,(g_t + \beta\, v_{t+1})

    Chapter 6, equations :eq:`eq-opt-momentum` and :eq:`eq-opt-nesterov`. This
    is torch's form of momentum (the velocity sums gradients, the learning rate
    multiplies the step); with a constant :math:`\eta` it is the heavy ball
    :math:`\theta_{t+1} = \theta_t - \eta g_t + \beta(\theta_t - \theta_{t-1})`.
    Equals ``torch.optim.SGD(params, lr=lr, momentum=beta, nesterov=nesterov)``.

    Parameters
    ----------
    params, grads : dict of array_like
        The same keys and shapes.
    state : None or dict
        ``None`` on the first call, afterwards the state the previous call returned.
    lr : float
        :math:`\eta \ge 0`.
    beta : float
        The momentum :math:`\beta \in [0, 1)`; ``beta = 0`` is gradient descent.
    nesterov : bool
        Nesterov's look-ahead form (needs ``beta > 0``, as in torch).

    Returns
    -------
    params : dict of numpy.ndarray
    state : dict
        ``{"step": t, "velocity": {key: v_t}}``.
    """
    where = "momentum_step"
    _check_dicts(params, grads, where)
    lr = _check_lr(lr, where)
    beta = _check_unit_interval(beta, "beta", where)
    nesterov = _check_flag(nesterov, "nesterov", where)
    if nesterov and beta == 0:
        raise ValueError(f"{where}: nesterov=True needs a momentum beta > 0 (as torch), got beta=0")
    pairs = _paired_arrays(params, grads, where)
    step, buffers = _read_state(state, ("velocity",), pairs, where)
    new_params, velocity = {}, {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, value, grad in pairs:
            v = beta * buffers["velocity"][key] + grad
            direction = grad + beta * v if nesterov else v
            new_params[key] = value - lr * direction
            velocity[key] = v
    _check_step(pairs, where, params=new_params)
    return new_params, {"step": step + 1, "velocity": velocity}


def adagrad_step(params, grads, state=None, lr=0.01, eps=1e-10):
    r"""One step of AdaGrad: a per-coordinate step from the sum of all squared gradients.

    .. math::
        G_{t+1} = G_t + g_t \odot g_t, \quad G_0 = 0, \qquad
        \theta_{t+1} = \theta_t - \eta\, \frac{g_t}{\sqrt{G_{t+1}} + \epsilon}

    (square root and division elementwise). Chapter 6, equation
    :eq:`eq-opt-adagrad`. Equals ``torch.optim.Adagrad(params, lr=lr, eps=eps)``
    (no learning-rate decay, initial accumulator 0).

    Parameters
    ----------
    params, grads : dict of array_like
        The same keys and shapes.
    state : None or dict
        ``None`` on the first call, afterwards the state the previous call returned.
    lr : float
        :math:`\eta \ge 0`.
    eps : float
        :math:`\epsilon > 0`, added to the root so a coordinate whose gradients
        were all zero does not divide by zero.

    Returns
    -------
    params : dict of numpy.ndarray
    state : dict
        ``{"step": t, "sum_sq": {key: G_t}}``.
    """
    where = "adagrad_step"
    _check_dicts(params, grads, where)
    lr = _check_lr(lr, where)
    eps = _check_positive(eps, "eps", where)
    pairs = _paired_arrays(params, grads, where)
    step, buffers = _read_state(state, ("sum_sq",), pairs, where)
    new_params, sum_sq = {}, {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, value, grad in pairs:
            G = buffers["sum_sq"][key] + grad * grad
            new_params[key] = value - lr * (grad / (np.sqrt(G) + eps))
            sum_sq[key] = G
    _check_step(pairs, where, params=new_params, sum_sq=sum_sq)
    return new_params, {"step": step + 1, "sum_sq": sum_sq}


def rmsprop_step(params, grads, state=None, lr=0.01, alpha=0.99, eps=1e-8):
    r"""One step of RMSprop: a per-coordinate step from a moving average of squared gradients.

    .. math::
        s_{t+1} = \alpha\, s_t + (1 - \alpha)\, g_t \odot g_t, \quad s_0 = 0, \qquad
        \theta_{t+1} = \theta_t - \eta\, \frac{g_t}{\sqrt{s_{t+1}} + \epsilon}

    Chapter 6, equation :eq:`eq-opt-rmsprop`. Equals
    ``torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps)`` (not centered,
    no momentum). The average starts at 0 and is *not* bias-corrected, so the
    first steps are larger than later ones, by :math:`1/\sqrt{1-\alpha}` (10 for
    :math:`\alpha = 0.99`) on the very first.

    Parameters
    ----------
    params, grads : dict of array_like
        The same keys and shapes.
    state : None or dict
        ``None`` on the first call, afterwards the state the previous call returned.
    lr : float
        :math:`\eta \ge 0`.
    alpha : float
        The decay :math:`\alpha \in [0, 1)` of the average.
    eps : float
        :math:`\epsilon > 0`.

    Returns
    -------
    params : dict of numpy.ndarray
    state : dict
        ``{"step": t, "square_avg": {key: s_t}}``.
    """
    where = "rmsprop_step"
    _check_dicts(params, grads, where)
    lr = _check_lr(lr, where)
    alpha = _check_unit_interval(alpha, "alpha", where)
    eps = _check_positive(eps, "eps", where)
    pairs = _paired_arrays(params, grads, where)
    step, buffers = _read_state(state, ("square_avg",), pairs, where)
    new_params, square_avg = {}, {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, value, grad in pairs:
            s = alpha * buffers["square_avg"][key] + (1 - alpha) * (grad * grad)
            new_params[key] = value - lr * (grad / (np.sqrt(s) + eps))
            square_avg[key] = s
    _check_step(pairs, where, params=new_params, square_avg=square_avg)
    return new_params, {"step": step + 1, "square_avg": square_avg}


def adam_step(
    params,
    grads,
    state=None,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    decoupled=False,
):
    r"""One step of Adam (or AdamW): bias-corrected moving averages of the gradient and its square.

    With :math:`\lambda` the weight decay, :math:`g_t \leftarrow g_t + \lambda\theta_{t-1}`
    first (L2, ``decoupled=False``), then

    .. math::
        m_{t} = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_{t} = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t \odot g_t, \qquad m_0 = v_0 = 0,

        \hat m_t = \frac{m_t}{1 - \beta_1^{\,t}}, \qquad
        \hat v_t = \frac{v_t}{1 - \beta_2^{\,t}}, \qquad
        \theta_{t} = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    (counting steps from :math:`t = 1`). With ``decoupled=True`` (AdamW) the
    gradient is left alone and the decay acts on the parameter directly:
    :math:`\theta_{t} = (1 - \eta\lambda)\,\theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)`.
    Chapter 6, equations :eq:`eq-opt-adam`, :eq:`eq-opt-adam-bias` and
    :eq:`eq-opt-adamw`. Equals ``torch.optim.Adam(params, lr=lr, betas=betas,
    eps=eps, weight_decay=weight_decay)``, or ``torch.optim.AdamW`` with the
    same arguments when ``decoupled=True``; computed in torch's order,
    :math:`\theta - (\eta / (1 - \beta_1^t))\, m_t / (\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon)`.

    Parameters
    ----------
    params, grads : dict of array_like
        The same keys and shapes.
    state : None or dict
        ``None`` on the first call, afterwards the state the previous call returned.
    lr : float
        :math:`\eta \ge 0`.
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
    eps : float
        :math:`\epsilon > 0`.
    weight_decay : float
        :math:`\lambda \ge 0`. (torch's ``AdamW`` defaults to 0.01; here the
        default is 0 for both forms.)
    decoupled : bool
        ``False``: Adam with L2 added to the gradient; ``True``: AdamW.

    Returns
    -------
    params : dict of numpy.ndarray
    state : dict
        ``{"step": t, "m": {key: m_t}, "v": {key: v_t}}``.
    """
    where = "adam_step"
    _check_dicts(params, grads, where)
    lr = _check_lr(lr, where)
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = _check_unit_interval(betas[0], "betas[0]", where)
    beta2 = _check_unit_interval(betas[1], "betas[1]", where)
    eps = _check_positive(eps, "eps", where)
    weight_decay = _check_nonnegative(weight_decay, "weight_decay", where)
    decoupled = _check_flag(decoupled, "decoupled", where)
    pairs = _paired_arrays(params, grads, where)
    step, buffers = _read_state(state, ("m", "v"), pairs, where)
    t = step + 1
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    new_params, m_out, v_out = {}, {}, {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, value, grad in pairs:
            if weight_decay != 0:
                if decoupled:
                    value = value * (1 - lr * weight_decay)
                else:
                    grad = grad + weight_decay * value
            m = beta1 * buffers["m"][key] + (1 - beta1) * grad
            v = beta2 * buffers["v"][key] + (1 - beta2) * (grad * grad)
            denom = np.sqrt(v) / bias_correction2_sqrt + eps
            new_params[key] = value - step_size * (m / denom)
            m_out[key] = m
            v_out[key] = v
    _check_step(pairs, where, params=new_params, v=v_out)
    return new_params, {"step": t, "m": m_out, "v": v_out}


def clip_grad_norm(grads, max_norm):
    r"""Scale all the gradients together so that their joint 2-norm is at most ``max_norm``.

    .. math::
        \|g\| = \Bigl(\sum_{\text{keys}} \sum_i g_i^2\Bigr)^{1/2}, \qquad
        g \leftarrow g \cdot \min\Bigl(1,\ \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Bigr)

    Chapter 6, equation :eq:`eq-opt-clip`; exactly the scale of
    ``torch.nn.utils.clip_grad_norm_``. The direction of the step is kept; only
    its length is capped. The norm is computed after dividing by the largest
    magnitude :math:`M` (:math:`\|g\| = M\,\|g / M\|`), so it is finite for any
    finite gradients (unless the norm itself is beyond the largest float, about
    :math:`1.8 \times 10^{308}`; the clipped gradients are finite even then): the
    plain :math:`\sqrt{\sum g_i^2}`, which torch computes, overflows to ``inf``
    once an entry exceeds about :math:`10^{154}`, and then torch scales every
    gradient to 0.

    Parameters
    ----------
    grads : dict of array_like
        The gradients, any keys and shapes, all finite (``inf`` or ``nan`` gets
        ``ValueError``: a diverged step, better stopped than clipped to ``nan``;
        torch's ``error_if_nonfinite=True``).
    max_norm : float
        The cap, > 0.

    Returns
    -------
    clipped : dict of numpy.ndarray
        New arrays, each the dtype of its input.
    total_norm : float
        :math:`\|g\|` before clipping.
    """
    where = "clip_grad_norm"
    if not isinstance(grads, Mapping):
        raise TypeError(
            f"{where}: grads must be a dict of arrays (one per parameter), got {type(grads).__name__}"
        )
    max_norm = _check_positive(max_norm, "max_norm", where)
    arrays = {key: as_float_array(value, f"grads[{key!r}]") for key, value in grads.items()}
    for key, value in arrays.items():
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{where}: grads[{key!r}] contains inf or nan")
    largest, root = _scaled_norm(arrays.values())
    total_norm = largest * root  # inf only if the norm itself exceeds the largest float
    if math.isfinite(total_norm):
        scale = min(1.0, max_norm / (total_norm + 1e-6))
    else:  # the same scale, computed without forming the norm
        scale = (max_norm / largest) / root
    clipped = {key: (value * scale).astype(value.dtype, copy=False) for key, value in arrays.items()}
    return clipped, total_norm


def _scaled_norm(arrays):
    r"""The 2-norm of all the arrays together as a product :math:`M \cdot \sqrt{\sum_i (g_i / M)^2}`.

    Returns ``(M, root)`` with :math:`M = \max_i |g_i|` (0 and 0 for no or all-zero
    entries). Each :math:`g_i / M` is at most 1 in magnitude, so the sum of squares
    neither overflows nor underflows to 0; computed in float64 whatever the dtype.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    largest = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if largest == 0.0:
        return 0.0, 0.0
    total = math.fsum(float(np.sum(np.square(a / largest))) for a in arrays)
    return largest, math.sqrt(total)


# --------------------------------------------------------------------------
# The test problems of chapter 6 and the rates derived there
# --------------------------------------------------------------------------


def _quadratic_inputs(w, A, b, where):
    w = as_float_array(w, "w")
    A = as_float_array(A, "A")
    b = as_float_array(b, "b")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{where}: A must be a square (D, D) matrix, got shape {A.shape}")
    D = A.shape[0]
    if b.shape != (D,):
        raise ValueError(f"{where}: b has shape {b.shape}; expected ({D},) to match A of shape {A.shape}")
    if w.ndim == 0 or w.shape[-1] != D:
        raise ValueError(f"{where}: w has shape {w.shape}; expected (D,) or (..., D) with D = {D}")
    if D > 1 and np.max(np.abs(A - A.T)) > 1e-12 * np.max(np.abs(A)):
        raise ValueError(f"{where}: A must be symmetric (the Hessian of the quadratic)")
    return w, A, b


def quadratic_loss(w, A, b):
    r"""The quadratic :math:`f(\mathbf w) = \tfrac12 \mathbf w^\top A \mathbf w - \mathbf b^\top \mathbf w`.

    .. math:: f(\mathbf w) = \frac12 \sum_{i,j} w_i A_{ij} w_j - \sum_i b_i w_i

    Chapter 6, equation :eq:`eq-opt-quadratic`: the model of any smooth loss near
    a minimum, with Hessian :math:`A`.

    Parameters
    ----------
    w : array_like, shape (D,) or (..., D)
        One point, or a batch of points (the last axis).
    A : array_like, shape (D, D)
        Symmetric (else ``ValueError``).
    b : array_like, shape (D,)

    Returns
    -------
    float or numpy.ndarray
        A float for one point, shape ``w.shape[:-1]`` for a batch.
    """
    w, A, b = _quadratic_inputs(w, A, b, "quadratic_loss")
    value = 0.5 * np.einsum("...i,ij,...j->...", w, A, w) - w @ b
    return float(value) if w.ndim == 1 else value


def quadratic_grad(w, A, b):
    r"""The gradient of :func:`quadratic_loss`: :math:`\nabla f(\mathbf w) = A\mathbf w - \mathbf b`.

    .. math:: \frac{\partial f}{\partial w_k} = \sum_j A_{kj} w_j - b_k \quad (A \text{ symmetric})

    Chapter 6, equation :eq:`eq-opt-quadratic`; zero at the minimiser
    :math:`\mathbf w^* = A^{-1}\mathbf b`.

    Parameters
    ----------
    w : array_like, shape (D,) or (..., D)
    A : array_like, shape (D, D)
    b : array_like, shape (D,)

    Returns
    -------
    numpy.ndarray
        The shape of ``w``.
    """
    w, A, b = _quadratic_inputs(w, A, b, "quadratic_grad")
    return w @ A - b  # A symmetric: (A w)^T = w^T A, for a batch of rows too


def _rosenbrock_inputs(w, a, b, where):
    w = as_float_array(w, "w")
    if w.ndim == 0 or w.shape[-1] != 2:
        raise ValueError(f"{where}: w has shape {w.shape}; expected (2,) or (..., 2), the point (x, y)")
    return w, _real(a, "a", where), _check_nonnegative(b, "b", where)


def rosenbrock(w, a=1.0, b=100.0):
    r"""Rosenbrock's banana-shaped valley :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    .. math:: f(x, y) = (a - x)^2 + b\,(y - x^2)^2, \qquad \min f = f(a, a^2) = 0

    Chapter 6, equation :eq:`eq-opt-rosenbrock`: a curved valley whose floor is
    nearly flat along the valley and steep across it (with the usual
    :math:`a = 1`, :math:`b = 100` the Hessian at the minimum has condition
    number about 2500).

    Parameters
    ----------
    w : array_like, shape (2,) or (..., 2)
        The point :math:`(x, y)`, or a batch of points.
    a, b : float
        The constants (``b >= 0``).

    Returns
    -------
    float or numpy.ndarray
        A float for one point, shape ``w.shape[:-1]`` for a batch.
    """
    w, a, b = _rosenbrock_inputs(w, a, b, "rosenbrock")
    x, y = w[..., 0], w[..., 1]
    value = (a - x) ** 2 + b * (y - x**2) ** 2
    return float(value) if w.ndim == 1 else value


def rosenbrock_grad(w, a=1.0, b=100.0):
    r"""The gradient of :func:`rosenbrock`.

    .. math::
        \frac{\partial f}{\partial x} = -2(a - x) - 4 b x\,(y - x^2), \qquad
        \frac{\partial f}{\partial y} = 2b\,(y - x^2)

    Chapter 6, equation :eq:`eq-opt-rosenbrock`.

    Parameters
    ----------
    w : array_like, shape (2,) or (..., 2)
    a, b : float

    Returns
    -------
    numpy.ndarray
        The shape of ``w``.
    """
    w, a, b = _rosenbrock_inputs(w, a, b, "rosenbrock_grad")
    x, y = w[..., 0], w[..., 1]
    inner = y - x**2
    return np.stack([-2.0 * (a - x) - 4.0 * b * x * inner, 2.0 * b * inner], axis=-1)


def _eigenvalues(eigenvalues, where):
    lam = as_float_array(eigenvalues, "eigenvalues").reshape(-1)
    if lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError(f"{where}: eigenvalues must be finite and >= 0, got {_short_list(lam)}")
    return lam


def _short_list(arr, limit=6):
    values = ", ".join(f"{v:g}" for v in arr[:limit])
    return f"[{values}{', ...' if arr.size > limit else ''}]"


def _check_spectrum(lam_min, lam_max, where):
    lam_min = _check_positive(lam_min, "lam_min", where)
    lam_max = _check_positive(lam_max, "lam_max", where)
    if lam_min > lam_max:
        raise ValueError(f"{where}: need lam_min <= lam_max, got {lam_min!r} > {lam_max!r}")
    return lam_min, lam_max


def gd_contraction(lr, eigenvalues):
    r"""The factor by which gradient descent shrinks the error per step on a quadratic.

    .. math:: \rho(\eta) = \max_i\ \lvert 1 - \eta\lambda_i \rvert

    Chapter 6, equations :eq:`eq-opt-gd-eigen` and :eq:`eq-opt-gd-rate`: in the
    eigenbasis of the Hessian every coordinate of the error is multiplied by
    :math:`1 - \eta\lambda_i`; the error norm shrinks by at most :math:`\rho`,
    and by exactly :math:`\rho` in the slowest direction. Gradient descent
    converges for every start iff :math:`\rho < 1`.

    Parameters
    ----------
    lr : float
        :math:`\eta \ge 0`.
    eigenvalues : array_like
        The eigenvalues :math:`\lambda_i \ge 0` of the Hessian :math:`A`.

    Returns
    -------
    float
    """
    lr = _check_lr(lr, "gd_contraction")
    lam = _eigenvalues(eigenvalues, "gd_contraction")
    return float(np.max(np.abs(1.0 - lr * lam)))


def optimal_gd(lam_min, lam_max):
    r"""The best fixed learning rate of gradient descent on a quadratic, and its rate.

    .. math::
        \eta^* = \frac{2}{\lambda_{\min} + \lambda_{\max}}, \qquad
        \rho^* = \frac{\lambda_{\max} - \lambda_{\min}}{\lambda_{\max} + \lambda_{\min}}
        = \frac{\kappa - 1}{\kappa + 1}, \quad \kappa = \frac{\lambda_{\max}}{\lambda_{\min}}

    Chapter 6, equations :eq:`eq-opt-gd-best` and :eq:`eq-opt-gd-rate`.

    Parameters
    ----------
    lam_min, lam_max : float
        The extreme eigenvalues of the Hessian, ``0 < lam_min <= lam_max``.

    Returns
    -------
    (float, float)
        ``(lr, rate)``.
    """
    lam_min, lam_max = _check_spectrum(lam_min, lam_max, "optimal_gd")
    return 2.0 / (lam_min + lam_max), (lam_max - lam_min) / (lam_max + lam_min)


def optimal_heavy_ball(lam_min, lam_max):
    r"""Polyak's best learning rate and momentum for the heavy ball on a quadratic, and the rate.

    .. math::
        \eta^* = \frac{4}{\bigl(\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}}\bigr)^2}, \qquad
        \beta^* = \rho^{*2}, \qquad
        \rho^* = \frac{\sqrt{\lambda_{\max}} - \sqrt{\lambda_{\min}}}{\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}}}
        = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}

    Chapter 6, equation :eq:`eq-opt-hb-rate`. With these values the error
    decays like :math:`t\,\rho^{*t}` (a double root at both ends of the spectrum).
    They apply to :func:`momentum_step` as ``lr`` and ``beta``.

    Parameters
    ----------
    lam_min, lam_max : float
        ``0 < lam_min <= lam_max``.

    Returns
    -------
    (float, float, float)
        ``(lr, beta, rate)``.
    """
    lam_min, lam_max = _check_spectrum(lam_min, lam_max, "optimal_heavy_ball")
    s_min, s_max = math.sqrt(lam_min), math.sqrt(lam_max)
    rate = (s_max - s_min) / (s_max + s_min)
    return 4.0 / (s_max + s_min) ** 2, rate**2, rate


def momentum_contraction(lr, beta, eigenvalues, nesterov=False):
    r"""The asymptotic rate of :func:`momentum_step` on a quadratic: the largest root of its recurrences.

    In the eigen-coordinate :math:`i` the heavy ball's error obeys
    :math:`c_{t+1} = (1 + \beta - \eta\lambda_i)\,c_t - \beta\, c_{t-1}`
    (:eq:`eq-opt-hb-recurrence`) and Nesterov's
    :math:`c_{t+1} = (1 + \beta)(1 - \eta\lambda_i)\,c_t - \beta(1 - \eta\lambda_i)\,c_{t-1}`
    (:eq:`eq-opt-nesterov-recurrence`). Each is :math:`c_t = r^t`-like with
    :math:`r` a root of

    .. math::
        r^2 - (1 + \beta - \eta\lambda)\,r + \beta = 0
        \quad\text{or}\quad
        r^2 - (1 + \beta)(1 - \eta\lambda)\,r + \beta(1 - \eta\lambda) = 0,

    and the rate is :math:`\max_i \max |r|` (chapter 6, :eq:`eq-opt-hb-char`):
    the error shrinks like :math:`\rho^t` (times a polynomial in :math:`t` at a
    double root). Momentum converges for every start iff the result is < 1.

    Parameters
    ----------
    lr : float
        :math:`\eta \ge 0`.
    beta : float
        :math:`\beta \in [0, 1)`.
    eigenvalues : array_like
        The eigenvalues :math:`\lambda_i \ge 0` of the Hessian.
    nesterov : bool

    Returns
    -------
    float
    """
    where = "momentum_contraction"
    lr = _check_lr(lr, where)
    beta = _check_unit_interval(beta, "beta", where)
    nesterov = _check_flag(nesterov, "nesterov", where)
    lam = _eigenvalues(eigenvalues, where)
    if nesterov:
        trace, det = (1 + beta) * (1 - lr * lam), beta * (1 - lr * lam)
    else:
        trace, det = 1 + beta - lr * lam, np.full_like(lam, beta)
    disc = trace**2 - 4 * det
    root = np.sqrt(np.abs(disc))
    real = np.maximum(np.abs(trace + root), np.abs(trace - root)) / 2  # real roots (disc >= 0)
    complex_modulus = np.sqrt(np.abs(det))  # conjugate pair: |r|^2 = r r* = det (disc < 0)
    return float(np.max(np.where(disc >= 0, real, complex_modulus)))


def run_optimizer(step, grad, w0, num_steps, bound=None, **hyper):
    r"""Iterate an optimizer on a function of one array: the path :math:`\mathbf w_0, \mathbf w_1, \dots`.

    .. math:: \mathbf w_{t+1},\ \text{state}_{t+1} = \text{step}\bigl(\mathbf w_t,\ \nabla f(\mathbf w_t),\ \text{state}_t\bigr)

    The loop of chapter 6 (every optimizer of :mod:`dlmath.optim`, one step
    after another), for one parameter array ``w``.

    Parameters
    ----------
    step : callable
        One of :func:`gd_step`, :func:`momentum_step`, :func:`adagrad_step`,
        :func:`rmsprop_step`, :func:`adam_step`.
    grad : callable
        ``grad(w)`` returns the gradient, the shape of ``w``.
    w0 : array_like
        The start.
    num_steps : int
        The number of steps, >= 0.
    bound : float, optional
        Stop early (a shorter path) once a coordinate's magnitude exceeds
        ``bound``: a diverging run ends before it overflows.
    **hyper
        The optimizer's hyper-parameters (``lr``, ``beta``, ...).

    Returns
    -------
    numpy.ndarray, shape (T + 1, *w0.shape)
        ``T = num_steps`` unless the run stopped early.
    """
    where = "run_optimizer"
    num_steps = check_positive_int(num_steps, "num_steps", where, minimum=0)
    if bound is not None:
        bound = _check_positive(bound, "bound", where)
    params, state = {"w": as_float_array(w0, "w0")}, None
    path = [params["w"]]
    for _ in range(num_steps):
        params, state = step(params, {"w": grad(params["w"])}, state, **hyper)
        w = params["w"]
        path.append(w)
        if bound is not None and not np.all(np.abs(w) <= bound):
            break
    return np.array(path)
