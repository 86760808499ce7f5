r"""Backpropagation through a multi-layer perceptron (chapter 5).

Every layer is a stateless pair, CS231n style: ``out, cache = thing_forward(...)``
and ``grads = thing_backward(dout, cache)``, where ``dout`` is
:math:`\partial L / \partial\,\mathrm{out}` and the backward returns the
gradient with respect to each input of the forward, in the same order. A whole
network is a dict of parameters (``"W1"``, ``"b1"``, ..., ``"WL"``, ``"bL"``)
pushed through these pairs by :func:`mlp_forward` and :func:`mlp_backward`;
:func:`sgd_step` returns new parameters and keeps no hidden state.
:func:`mlp_forward_checkpointed` and :func:`mlp_backward_checkpointed` compute
the same gradients while storing only every k-th layer's input (gradient
checkpointing: less memory for one extra forward pass), and
:func:`dead_relu_units` finds the hidden units that a relu network cannot train.
"""
import numbers

import numpy as np

from ._checks import (as_float_array, check_ndim, check_no_overflow,
                      check_positive_int, check_same_shape)
from .activations import relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad
from .losses import cross_entropy, cross_entropy_grad
from .optim import _gd_update, _paired_arrays


# --------------------------------------------------------------------------
# The linear (fully connected) layer
# --------------------------------------------------------------------------

def linear_forward(x, W, b):
    r"""The affine layer: every row of ``x`` times ``W``, plus ``b``.

    .. math::
        \mathrm{out} = X W + \mathbf{1}\,b^\top,
        \qquad \mathrm{out}_{nm} = \sum_{d=1}^{D} X_{nd} W_{dm} + b_m

    Defined in chapter 5, equation :eq:`eq-bp-linear-forward`. :func:`linear_forward_naive`
    computes the same sum with explicit loops.

    Parameters
    ----------
    x : array_like, shape (N, D)
        A batch of N inputs, one per row.
    W : array_like, shape (D, M)
        The weights.
    b : array_like, shape (M,)
        The bias, added to every row.

    Returns
    -------
    out : numpy.ndarray, shape (N, M)
    cache : tuple
        ``(x, W, b)`` as float arrays, for :func:`linear_backward`.

    Raises
    ------
    ValueError
        If the shapes do not fit, an input holds an ``inf`` or ``nan``, or the
        sums of products overflow the floating type (``1e200 * 1e200``).
    """
    x, W, b = _linear_inputs(x, W, b, "linear_forward")
    with np.errstate(over="ignore", invalid="ignore"):
        out = x @ W + b
    check_no_overflow([("the output", out)], [("x", x), ("W", W), ("b", b)], "linear_forward")
    return out, (x, W, b)


def linear_forward_naive(x, W, b):
    r"""The affine layer with explicit loops: a slow reference for :func:`linear_forward`.

    .. math:: \mathrm{out}_{nm} = \sum_{d=1}^{D} X_{nd} W_{dm} + b_m

    Chapter 5, equation :eq:`eq-bp-linear-forward`, one term at a time.

    Parameters
    ----------
    x, W, b : array_like
        As in :func:`linear_forward`.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        Only ``out`` (no cache).
    """
    x, W, b = _linear_inputs(x, W, b, "linear_forward_naive")
    n_rows, n_in = x.shape
    n_out = W.shape[1]
    out = np.zeros((n_rows, n_out), dtype=np.result_type(x, W, b))
    for n in range(n_rows):
        for m in range(n_out):
            total = b[m]
            for d in range(n_in):
                total += x[n, d] * W[d, m]
            out[n, m] = total
    return out


def linear_backward(dout, cache):
    r"""The gradients of the affine layer from the gradient of its output.

    .. math::
        \frac{\partial L}{\partial X} = \frac{\partial L}{\partial\,\mathrm{out}}\, W^\top,
        \qquad
        \frac{\partial L}{\partial W} = X^\top \frac{\partial L}{\partial\,\mathrm{out}},
        \qquad
        \frac{\partial L}{\partial b} = \sum_{n=1}^{N} \frac{\partial L}{\partial\,\mathrm{out}_{n,:}}

    Derived in chapter 5, equations :eq:`eq-bp-linear-dx`,
    :eq:`eq-bp-linear-dw` and :eq:`eq-bp-linear-db`. Shapes:
    ``(N, M) @ (M, D) = (N, D)``, ``(D, N) @ (N, M) = (D, M)``, and a sum over
    the batch axis gives ``(M,)``: each gradient has the shape of what it
    differentiates.

    Parameters
    ----------
    dout : array_like, shape (N, M)
        :math:`\partial L / \partial\,\mathrm{out}`.
    cache : tuple
        From :func:`linear_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D)
    dW : numpy.ndarray, shape (D, M)
    db : numpy.ndarray, shape (M,)

    Raises
    ------
    ValueError
        If ``dout`` has the wrong shape or an ``inf`` or ``nan``, or a
        gradient overflows the floating type.
    """
    x, W, _ = cache
    dout = as_float_array(dout, "dout")
    expected = (x.shape[0], W.shape[1])
    if dout.shape != expected:
        raise ValueError(
            f"linear_backward: dout has shape {dout.shape}; expected {expected}, "
            "the shape (N, M) of the forward output"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        dx = dout @ W.T
        dW = x.T @ dout
        db = dout.sum(axis=0)
    check_no_overflow([("dx", dx), ("dW", dW), ("db", db)],
                      [("dout", dout), ("x", x), ("W", W)], "linear_backward")
    return dx, dW, db


def _linear_inputs(x, W, b, where):
    """``x`` (N, D), ``W`` (D, M), ``b`` (M,) as float arrays, or ``ValueError``."""
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(x, 2, "x", where, "(N, D)")
    check_ndim(W, 2, "W", where, "(D, M)")
    if W.shape[0] != x.shape[1]:
        raise ValueError(
            f"{where}: x has shape {x.shape} and W has shape {W.shape}; "
            f"expected W to have shape ({x.shape[1]}, M), one row per input feature"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(
            f"{where}: b has shape {b.shape}; expected ({W.shape[1]},), "
            f"one bias per column of W (W has shape {W.shape})"
        )
    return x, W, b


# --------------------------------------------------------------------------
# Elementwise activation layers: h = f(z), backward dz = dh * f'(z)
# --------------------------------------------------------------------------

def sigmoid_forward(z):
    r"""The sigmoid layer: :math:`H = \sigma(Z)`, elementwise.

    .. math:: H = \sigma(Z) = \frac{1}{1 + e^{-Z}}

    The sigmoid of chapter 1, :eq:`eq-sigmoid`, used as a layer in chapter 5
    (:eq:`eq-bp-mlp-forward`).

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    h : numpy.ndarray
        The shape of ``z``.
    cache : numpy.ndarray
        ``z``, for :func:`sigmoid_backward`.
    """
    z = as_float_array(z, "z")
    return sigmoid(z), z


def sigmoid_backward(dh, cache):
    r"""The gradient through the sigmoid layer.

    .. math::
        \frac{\partial L}{\partial Z} = \frac{\partial L}{\partial H} \odot \sigma'(Z),
        \qquad \sigma'(Z) = \sigma(Z)\bigl(1 - \sigma(Z)\bigr)

    Chapter 5, equation :eq:`eq-bp-activation-backward`, with the derivative of
    chapter 1, :eq:`eq-sigmoid-grad`.

    Parameters
    ----------
    dh : array_like
        :math:`\partial L / \partial H`, the shape of the forward input.
    cache : numpy.ndarray
        From :func:`sigmoid_forward`.

    Returns
    -------
    numpy.ndarray
        :math:`\partial L / \partial Z`, the shape of ``z``.
    """
    return _activation_backward(dh, cache, sigmoid_grad, "sigmoid_backward")


def tanh_forward(z):
    r"""The tanh layer: :math:`H = \tanh(Z)`, elementwise.

    .. math:: H = \tanh(Z)

    The tanh of chapter 1, :eq:`eq-tanh`, used as a layer in chapter 5
    (:eq:`eq-bp-mlp-forward`).

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    h : numpy.ndarray
        The shape of ``z``.
    cache : numpy.ndarray
        ``z``, for :func:`tanh_backward`.
    """
    z = as_float_array(z, "z")
    return tanh(z), z


def tanh_backward(dh, cache):
    r"""The gradient through the tanh layer.

    .. math::
        \frac{\partial L}{\partial Z} = \frac{\partial L}{\partial H} \odot \bigl(1 - \tanh^2(Z)\bigr)

    Chapter 5, equation :eq:`eq-bp-activation-backward`, with the derivative of
    chapter 1, :eq:`eq-tanh-grad`.

    Parameters
    ----------
    dh : array_like
        :math:`\partial L / \partial H`, the shape of the forward input.
    cache : numpy.ndarray
        From :func:`tanh_forward`.

    Returns
    -------
    numpy.ndarray
        :math:`\partial L / \partial Z`, the shape of ``z``.
    """
    return _activation_backward(dh, cache, tanh_grad, "tanh_backward")


def relu_forward(z):
    r"""The relu layer: :math:`H = \max(0, Z)`, elementwise.

    .. math:: H = \max(0, Z)

    The relu of chapter 1, :eq:`eq-relu`, used as a layer in chapter 5
    (:eq:`eq-bp-mlp-forward`).

    Parameters
    ----------
    z : array_like
        Pre-activations, any shape.

    Returns
    -------
    h : numpy.ndarray
        The shape of ``z``.
    cache : numpy.ndarray
        ``z``, for :func:`relu_backward`.
    """
    z = as_float_array(z, "z")
    return relu(z), z


def relu_backward(dh, cache):
    r"""The gradient through the relu layer: it passes where :math:`Z > 0`.

    .. math::
        \frac{\partial L}{\partial Z} = \frac{\partial L}{\partial H} \odot [Z > 0]

    Chapter 5, equation :eq:`eq-bp-activation-backward`, with the derivative of
    chapter 1, :eq:`eq-relu-grad` (0 at :math:`Z = 0`).

    Parameters
    ----------
    dh : array_like
        :math:`\partial L / \partial H`, the shape of the forward input.
    cache : numpy.ndarray
        From :func:`relu_forward`.

    Returns
    -------
    numpy.ndarray
        :math:`\partial L / \partial Z`, the shape of ``z``.
    """
    return _activation_backward(dh, cache, relu_grad, "relu_backward")


def _activation_backward(dh, z, derivative, where):
    """``dh * derivative(z)``, after checking that ``dh`` has the shape of ``z``."""
    dh = as_float_array(dh, "dh")
    check_same_shape(z, dh, "the forward input z", "dh", where)
    return dh * derivative(z)


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}
"""The activation layers an MLP can use, by name, each a ``(forward, backward)`` pair."""


def _activation_pair(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )
    return ACTIVATIONS[activation]


# --------------------------------------------------------------------------
# A whole multi-layer perceptron, statelessly
# --------------------------------------------------------------------------

def init_mlp(layer_sizes, rng, activation="relu"):
    r"""Random initial parameters of an MLP with the given layer sizes.

    Layer :math:`\ell` maps :math:`D_{\ell-1}` features to :math:`D_\ell`. Its
    bias starts at zero and its weights are drawn from a normal distribution
    whose variance is chosen to keep the signal's scale from layer to layer
    (only approximately, and not for sigmoid; see chapter 5): He
    initialisation for relu, Glorot (Xavier) initialisation for tanh and
    sigmoid,

    .. math::
        W^{(\ell)}_{ij} \sim \mathcal N\!\Bigl(0,\ \frac{2}{D_{\ell-1}}\Bigr)
        \ \text{(relu)},
        \qquad
        W^{(\ell)}_{ij} \sim \mathcal N\!\Bigl(0,\ \frac{2}{D_{\ell-1} + D_\ell}\Bigr)
        \ \text{(tanh, sigmoid)},
        \qquad b^{(\ell)} = 0.

    Chapter 5, equations :eq:`eq-bp-he-init` and :eq:`eq-bp-xavier-init`.

    Parameters
    ----------
    layer_sizes : sequence of int
        :math:`(D_0, D_1, \dots, D_L)`: the input size, the hidden sizes, and
        the number of outputs (classes); at least two entries, each >= 1.
    rng : numpy.random.Generator or int
        The source of randomness (an int is used as a seed).
    activation : {"relu", "tanh", "sigmoid"}
        The hidden activation the network will use; it picks the initialisation.

    Returns
    -------
    dict
        ``{"W1": (D_0, D_1), "b1": (D_1,), ..., "WL": (D_{L-1}, D_L), "bL": (D_L,)}``,
        float64 arrays.
    """
    _activation_pair(activation)
    sizes = [check_positive_int(s, "each layer size", "init_mlp") for s in layer_sizes]
    if len(sizes) < 2:
        raise ValueError(
            f"init_mlp: layer_sizes needs at least 2 entries (inputs, outputs), got {list(layer_sizes)}"
        )
    rng = np.random.default_rng(rng)
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        if activation == "relu":
            std = np.sqrt(2.0 / fan_in)
        else:
            std = np.sqrt(2.0 / (fan_in + fan_out))
        params[f"W{layer}"] = std * rng.standard_normal((fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


def mlp_forward(params, x, activation="relu"):
    r"""The forward pass of an MLP: linear layers with an activation between them.

    .. math::
        H^{(0)} = X,\qquad
        Z^{(\ell)} = H^{(\ell-1)} W^{(\ell)} + \mathbf{1}\,b^{(\ell)\top},\qquad
        H^{(\ell)} = f\bigl(Z^{(\ell)}\bigr)\ \ (\ell < L),\qquad
        \text{logits} = Z^{(L)}

    Chapter 5, equation :eq:`eq-bp-mlp-forward`. The last layer has no
    activation: its outputs are logits for :func:`~dlmath.losses.cross_entropy`.

    Parameters
    ----------
    params : dict
        ``"W1"``, ``"b1"``, ..., ``"WL"``, ``"bL"`` as made by :func:`init_mlp`.
    x : array_like, shape (N, D_0)
    activation : {"relu", "tanh", "sigmoid"}
        The hidden activation :math:`f`.

    Returns
    -------
    logits : numpy.ndarray, shape (N, D_L)
    cache : tuple
        Everything :func:`mlp_backward` needs.
    """
    act_forward, _ = _activation_pair(activation)
    n_layers = _num_layers(params, "mlp_forward")
    layer_caches = []
    h = x
    for layer in range(1, n_layers + 1):
        z, linear_cache = linear_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        if layer == n_layers:
            layer_caches.append((linear_cache, None))
            return z, (activation, layer_caches)
        h, act_cache = act_forward(z)
        layer_caches.append((linear_cache, act_cache))


def mlp_backward(dlogits, cache, with_input=False):
    r"""The backward pass of an MLP: the gradient of every weight and bias.

    Starting from :math:`G^{(L)} = \partial L / \partial\,\text{logits}`, for
    :math:`\ell = L, L-1, \dots, 1`:

    .. math::
        \frac{\partial L}{\partial W^{(\ell)}} = H^{(\ell-1)\top} G^{(\ell)},\qquad
        \frac{\partial L}{\partial b^{(\ell)}} = \sum_{n} G^{(\ell)}_{n,:},\qquad
        G^{(\ell-1)} = \bigl(G^{(\ell)} W^{(\ell)\top}\bigr) \odot f'\bigl(Z^{(\ell-1)}\bigr)

    where :math:`G^{(\ell)} = \partial L / \partial Z^{(\ell)}`. Chapter 5,
    equation :eq:`eq-bp-mlp-backward`: :func:`linear_backward` and the
    activation backward, applied layer by layer in reverse.

    Parameters
    ----------
    dlogits : array_like, shape (N, D_L)
        :math:`\partial L / \partial\,\text{logits}`, for example
        :func:`~dlmath.losses.cross_entropy_grad`.
    cache : tuple
        From :func:`mlp_forward`.
    with_input : bool
        Also return :math:`\partial L / \partial X = G^{(1)} W^{(1)\top}`
        (:eq:`eq-bp-linear-dx`), which the last :func:`linear_backward` computes
        anyway. A classifier's input is data and needs none; the decoder of a
        VAE and the discriminator of a GAN do (their input comes from another
        network, chapters 12 and 13).

    Returns
    -------
    dict
        The gradients, with the keys and shapes of ``params``; with
        ``with_input``, the pair ``(dx, grads)``.
    """
    activation, layer_caches = cache
    _, act_backward = _activation_pair(activation)
    n_layers = len(layer_caches)
    grads = {}
    dz = dlogits
    for layer in range(n_layers, 0, -1):
        linear_cache, _ = layer_caches[layer - 1]
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = linear_backward(dz, linear_cache)
        if layer > 1:
            _, below_act_cache = layer_caches[layer - 2]
            dz = act_backward(dh, below_act_cache)
    grads = {key: grads[key] for key in _param_keys(n_layers)}
    return (dh, grads) if with_input else grads


def mlp_loss_and_grads(params, x, labels, activation="relu"):
    r"""The softmax cross-entropy of an MLP on a batch, and its gradients.

    .. math::
        L = \frac{1}{N}\sum_{n=1}^{N} -\log \operatorname{softmax}(\text{logits}_n)_{y_n},
        \qquad \frac{\partial L}{\partial\,\text{logits}} = \frac{1}{N}(P - Y)

    :func:`mlp_forward`, then the loss and its gradient from chapter 3
    (:eq:`eq-ce-cross-entropy`, :eq:`eq-ce-cross-entropy-grad`), then
    :func:`mlp_backward` (chapter 5, :eq:`eq-bp-mlp-backward`).

    Parameters
    ----------
    params : dict
        As made by :func:`init_mlp`.
    x : array_like, shape (N, D_0)
    labels : array_like, shape (N,)
        Integer classes in :math:`[0, D_L)`.
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    loss : float
    grads : dict
        The keys and shapes of ``params``.
    """
    logits, cache = mlp_forward(params, x, activation)
    loss = cross_entropy(logits, labels)
    grads = mlp_backward(cross_entropy_grad(logits, labels), cache)
    return loss, grads


def mlp_predict(params, x, activation="relu"):
    r"""The predicted class of every row of ``x``: the largest logit.

    .. math:: \hat y_n = \arg\max_k \ \text{logits}_{n,k}

    Chapter 5 (the forward pass :eq:`eq-bp-mlp-forward`).

    Parameters
    ----------
    params : dict
    x : array_like, shape (N, D_0)
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    numpy.ndarray, shape (N,), int64
    """
    logits, _ = mlp_forward(params, x, activation)
    return np.argmax(logits, axis=1).astype(np.int64)


# --------------------------------------------------------------------------
# Gradient checkpointing: store every k-th layer's input, recompute the rest
# --------------------------------------------------------------------------

def mlp_forward_checkpointed(params, x, activation="relu", every=1):
    r"""The forward pass of an MLP that stores only the input of every ``every``-th layer.

    The :math:`L` layers are cut into segments of :math:`k` = ``every``
    consecutive layers, :math:`1..k`, :math:`k+1..2k`, ... (the last segment
    may be shorter), and only each segment's input, its *checkpoint*
    :math:`H^{(0)} = X, H^{(k)}, H^{(2k)}, \dots`, is kept. The logits are those
    of :func:`mlp_forward`, computed by the same operations;
    :func:`mlp_backward_checkpointed` recomputes one segment at a time from its
    checkpoint. Counting arrays of one layer's size :math:`(N, D)`, the memory
    held at the peak of the backward pass is about

    .. math::
        M(k) = \Bigl\lceil \frac{L}{k} \Bigr\rceil + 2k
        \qquad \text{instead of} \qquad M = 2L,

    smallest near :math:`k = \sqrt{L/2}`, where it is about :math:`2\sqrt{2L}`,
    for the price of one extra forward pass (every layer is evaluated twice).
    Chapter 5, equations :eq:`eq-bp-checkpoint-memory` and
    :eq:`eq-bp-checkpoint-optimum`.

    Parameters
    ----------
    params : dict
        ``"W1"``, ``"b1"``, ..., ``"WL"``, ``"bL"`` as made by :func:`init_mlp`.
    x : array_like, shape (N, D_0)
    activation : {"relu", "tanh", "sigmoid"}
        The hidden activation :math:`f`.
    every : int
        The segment length :math:`k \ge 1`. ``every=1`` keeps every layer's
        input (but no pre-activation); ``every >= L`` keeps only ``x``.

    Returns
    -------
    logits : numpy.ndarray, shape (N, D_L)
    cache : tuple
        The checkpoints and references to the parameters, for
        :func:`mlp_backward_checkpointed`.
    """
    act_forward, _ = _activation_pair(activation)
    n_layers = _num_layers(params, "mlp_forward_checkpointed")
    every = check_positive_int(every, "every", "mlp_forward_checkpointed")
    layers, checkpoints = [], []
    h = x
    for layer in range(1, n_layers + 1):
        z, (h_in, W, b) = linear_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        layers.append((W, b))
        if (layer - 1) % every == 0:
            checkpoints.append(h_in)            # the input of a segment's first layer
        if layer == n_layers:
            return z, (activation, every, layers, checkpoints)
        h, _ = act_forward(z)                   # the caches are not kept


def mlp_backward_checkpointed(dlogits, cache):
    r"""The backward pass of :func:`mlp_forward_checkpointed`: recompute, then backpropagate.

    For each segment, from the last to the first: recompute its forward pass
    from its checkpoint, keeping the caches of its layers only; apply
    :eq:`eq-bp-mlp-backward` through those layers,

    .. math::
        \frac{\partial L}{\partial W^{(\ell)}} = H^{(\ell-1)\top} G^{(\ell)},\qquad
        \frac{\partial L}{\partial b^{(\ell)}} = \sum_{n} G^{(\ell)}_{n,:},\qquad
        G^{(\ell-1)} = \bigl(G^{(\ell)} W^{(\ell)\top}\bigr) \odot f'\bigl(Z^{(\ell-1)}\bigr);

    hand the gradient with respect to the segment's input to the segment
    before it, and drop the segment's caches. The gradients are those of
    :func:`mlp_backward`, computed by the same operations on the same numbers.
    Chapter 5, gradient checkpointing, :eq:`eq-bp-checkpoint-memory`.

    Parameters
    ----------
    dlogits : array_like, shape (N, D_L)
        :math:`\partial L / \partial\,\text{logits}`.
    cache : tuple
        From :func:`mlp_forward_checkpointed`.

    Returns
    -------
    dict
        The gradients, with the keys and shapes of ``params``.
    """
    activation, every, layers, checkpoints = cache
    act_forward, act_backward = _activation_pair(activation)
    n_layers = len(layers)
    grads = {}
    upstream = dlogits        # dL/dZ^(L) for the last segment, dL/dH^(last) before it
    for segment in range(len(checkpoints) - 1, -1, -1):
        first = segment * every + 1
        last = min(first + every - 1, n_layers)
        h, segment_caches = checkpoints[segment], []
        for layer in range(first, last + 1):    # 1. recompute the segment
            W, b = layers[layer - 1]
            z, linear_cache = linear_forward(h, W, b)
            act_cache = None
            if layer < n_layers:
                h, act_cache = act_forward(z)
            segment_caches.append((linear_cache, act_cache))
        h = None                                # the next checkpoint again: not needed
        if last < n_layers:                     # 2. through the activation after the segment
            dz = act_backward(upstream, segment_caches[-1][1])
        else:
            dz = upstream
        for layer in range(last, first - 1, -1):    # 3. backward through the segment
            linear_cache, _ = segment_caches[layer - first]
            dh, grads[f"W{layer}"], grads[f"b{layer}"] = linear_backward(dz, linear_cache)
            if layer > first:
                dz = act_backward(dh, segment_caches[layer - first - 1][1])
        upstream, segment_caches = dh, None
    return {key: grads[key] for key in _param_keys(n_layers)}


# --------------------------------------------------------------------------
# Dead ReLU units
# --------------------------------------------------------------------------

def dead_relu_units(params, x):
    r"""Which hidden units of a relu MLP output 0 on every row of ``x``.

    .. math::
        \text{dead}^{(\ell)}_j = \Bigl[\, Z^{(\ell)}_{nj} \le 0 \ \text{for every } n = 1, \dots, N \,\Bigr],
        \qquad \ell = 1, \dots, L - 1

    A dead unit has :math:`\operatorname{relu}'(Z^{(\ell)}_{nj}) = 0` on every
    example (chapter 1, :eq:`eq-relu-grad`, 0 at 0), so the gradients of its
    incoming weights and bias on ``x`` are exactly 0, and so are those of its
    outgoing weights (its output is 0). Chapter 5, :eq:`eq-bp-dead-unit`.

    Parameters
    ----------
    params : dict
        ``"W1"``, ``"b1"``, ..., ``"WL"``, ``"bL"`` as made by :func:`init_mlp`.
    x : array_like, shape (N, D_0)
        At least one row: the data set on which a unit is dead or not.

    Returns
    -------
    list of numpy.ndarray
        One boolean array of shape ``(D_l,)`` per hidden layer
        :math:`\ell = 1, \dots, L - 1` (an empty list for a network without
        hidden layers).
    """
    _, (_, layer_caches) = mlp_forward(params, x, "relu")
    n_rows = layer_caches[0][0][0].shape[0]
    if n_rows == 0:
        raise ValueError("dead_relu_units: x has no rows; expected (N, D_0) with N >= 1")
    return [np.all(z <= 0, axis=0) for _, z in layer_caches[:-1]]


def sgd_step(params, grads, lr):
    r"""One step of gradient descent: new parameters, the old ones left untouched.

    .. math:: \theta \leftarrow \theta - \eta\, \frac{\partial L}{\partial \theta}

    applied to every array in ``params``. Chapter 5, equation :eq:`eq-bp-sgd`.
    :func:`dlmath.optim.gd_step` (chapter 6) is the same update with the
    optimizer interface (a state, ``lr = 0`` allowed); the two share one copy
    of the checks and the arithmetic.

    Parameters
    ----------
    params : dict of numpy.ndarray
    grads : dict of numpy.ndarray
        The same keys, each gradient the shape of its parameter.
    lr : float
        The learning rate :math:`\eta > 0`.

    Returns
    -------
    dict
        New arrays; ``params`` is not modified.
    """
    if (
        isinstance(lr, bool)
        or not isinstance(lr, numbers.Real)
        or not np.isfinite(lr)
        or lr <= 0
    ):
        raise ValueError(f"sgd_step: lr must be a finite number > 0, got {lr!r}")
    # the same checks and arithmetic as dlmath.optim.gd_step (chapter 6), one copy
    return _gd_update(_paired_arrays(params, grads, "sgd_step"), lr, "sgd_step")


def _param_keys(n_layers):
    return [f"{name}{layer}" for layer in range(1, n_layers + 1) for name in ("W", "b")]


def _num_layers(params, where):
    """The number of linear layers L, checking the keys are exactly W1, b1, ..., WL, bL."""
    n_layers = sum(1 for key in params if str(key).startswith("W"))
    expected = _param_keys(n_layers)
    if n_layers == 0 or set(params) != set(expected):
        raise ValueError(
            f"{where}: params has keys {sorted(map(str, params))}; expected "
            "W1, b1, ..., WL, bL (as made by init_mlp)"
        )
    return n_layers
