r"""A small convolutional network, trained and probed with the book's own layers (chapter 14).

Nothing here is new mathematics: every function composes layers derived in
earlier chapters. The network is

.. math::
    h^{(0)} = x, \qquad
    h^{(\ell)} = \operatorname{maxpool}\bigl(\operatorname{relu}(
        \operatorname{conv}(h^{(\ell-1)}; w_\ell, b_\ell))\bigr)
    \quad (\ell = 1, \dots, L - 1), \qquad
    z = \operatorname{flat}\bigl(h^{(L-1)}\bigr) W_L + b_L,

with "same" convolutions (stride 1, zero padding :math:`(K - 1)/2` for an
odd kernel side :math:`K`) from chapter 7, the relu of chapter 1, 2 x 2 max
pooling with stride 2 from chapter 7, and the linear layer of chapter 5
(chapter 14, equation :eq:`eq-digits-forward`). The logits :math:`z` go into
the softmax cross-entropy of chapter 3. :func:`cnn_backward` runs the
backward passes of the same layers in reverse (equation
:eq:`eq-digits-backward`) and also returns the gradient with respect to the
input image, which :func:`class_saliency` and :func:`fgsm` use.

Parameters are a dict, as for :func:`dlmath.backprop.mlp_forward`:
``"w1", "b1", ..., "w{L-1}", "b{L-1}"`` for the convolution kernels
``(F, C, K, K)`` and biases ``(F,)``, and ``"W{L}", "b{L}"`` for the linear
layer ``(D, num_classes)`` and ``(num_classes,)``. :func:`train_classifier`
is a minibatch training loop for any model given as a loss-and-gradients
function, stepped by :mod:`dlmath.optim`.
"""
import numbers

import numpy as np

from . import conv
from ._checks import as_float_array, as_labels, check_ndim, check_positive_int
from .activations import softmax
from .backprop import linear_backward, linear_forward, relu_backward, relu_forward
from .losses import cross_entropy, cross_entropy_grad
from .optim import adam_step

POOL = 2
"""Every convolution is followed by max pooling with a 2 x 2 window and stride 2."""


# --------------------------------------------------------------------------
# The architecture
# --------------------------------------------------------------------------

def cnn_shapes(image_shape=(1, 8, 8), channels=(16, 32), kernel_size=3, num_classes=10):
    r"""The shape of every parameter of :func:`init_cnn`'s network, in layer order.

    Each convolution keeps the image size (stride 1, padding
    :math:`(K - 1)/2`, chapter 7, :eq:`eq-conv-output-size`) and each pooling
    halves it, rounding down: :math:`H \to \lfloor H/2 \rfloor`. After
    :math:`L - 1` blocks the linear layer sees
    :math:`D = F_{L-1} \lfloor H / 2^{L-1} \rfloor \lfloor W / 2^{L-1} \rfloor`
    features (chapter 14, :eq:`eq-digits-forward`).

    Parameters
    ----------
    image_shape : (int, int, int)
        ``(C, H, W)`` of one input image.
    channels : sequence of int
        :math:`F_1, \dots, F_{L-1}`, the filters of each convolution (at least one).
    kernel_size : int
        :math:`K`, odd, so that "same" padding exists.
    num_classes : int

    Returns
    -------
    dict
        Parameter name to shape, e.g. ``{"w1": (16, 1, 3, 3), "b1": (16,), ...,
        "W3": (128, 10), "b3": (10,)}`` for the defaults.
    """
    where = "cnn_shapes"
    if len(image_shape) != 3:
        raise ValueError(f"{where}: image_shape must be (C, H, W), got {image_shape!r}")
    c, h, w = (check_positive_int(s, "image_shape entries", where) for s in image_shape)
    channels = [check_positive_int(f, "each entry of channels", where) for f in channels]
    if not channels:
        raise ValueError(f"{where}: channels needs at least one convolution, got {channels!r}")
    k = check_positive_int(kernel_size, "kernel_size", where)
    if k % 2 == 0:
        raise ValueError(
            f"{where}: kernel_size must be odd (a 'same' convolution pads (K - 1) / 2 on each "
            f"side), got {k}"
        )
    num_classes = check_positive_int(num_classes, "num_classes", where)
    shapes = {}
    for layer, f in enumerate(channels, start=1):
        if h < POOL or w < POOL:
            raise ValueError(
                f"{where}: an image of {h} x {w} pixels before convolution {layer} is too small "
                f"for its {POOL} x {POOL} pooling; use fewer convolutions or larger images"
            )
        shapes[f"w{layer}"], shapes[f"b{layer}"] = (f, c, k, k), (f,)
        c, h, w = f, h // POOL, w // POOL
    last = len(channels) + 1
    shapes[f"W{last}"], shapes[f"b{last}"] = (c * h * w, num_classes), (num_classes,)
    return shapes


def init_cnn(rng, image_shape=(1, 8, 8), channels=(16, 32), kernel_size=3, num_classes=10):
    r"""Random initial parameters of the network: He initialisation, zero biases.

    .. math::
        w_\ell[f, c, p, q] \sim \mathcal N\!\Bigl(0, \frac{2}{C_{\ell-1} K^2}\Bigr),
        \qquad
        W_L[d, k] \sim \mathcal N\!\Bigl(0, \frac{2}{D}\Bigr),
        \qquad b_\ell = 0,

    chapter 5's rule :eq:`eq-bp-he-init` with the fan-in of a convolution,
    the :math:`C_{\ell-1} K^2` inputs of one output (chapter 7,
    :eq:`eq-conv-forward`). Drawn in the order of :func:`cnn_shapes`.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        The source of randomness (an int is used as a seed).
    image_shape, channels, kernel_size, num_classes
        As in :func:`cnn_shapes`.

    Returns
    -------
    dict of numpy.ndarray
        float64 arrays with the shapes of :func:`cnn_shapes`.
    """
    shapes = cnn_shapes(image_shape, channels, kernel_size, num_classes)
    rng = np.random.default_rng(rng)
    params = {}
    for name, shape in shapes.items():
        if name.startswith("b"):
            params[name] = np.zeros(shape)
        else:
            fan_in = int(np.prod(shape[1:])) if name.startswith("w") else shape[0]
            params[name] = np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)
    return params


def _num_layers(params, where):
    """L, checking that the keys are exactly w1, b1, ..., w{L-1}, b{L-1}, W{L}, b{L}."""
    n_convs = sum(1 for key in params if isinstance(key, str) and key.startswith("w"))
    last = n_convs + 1
    expected = {f"{n}{layer}" for layer in range(1, last) for n in ("w", "b")} | {f"W{last}", f"b{last}"}
    if n_convs == 0 or set(params) != expected:
        raise ValueError(
            f"{where}: params has keys {sorted(map(str, params))}; expected "
            f"{sorted(expected) if n_convs else 'w1, b1, ..., W{L}, b{L}'} "
            "(convolutions w1, b1, ..., then the linear layer W{L}, b{L}), as made by init_cnn"
        )
    return last


# --------------------------------------------------------------------------
# Forward and backward
# --------------------------------------------------------------------------

def cnn_forward(params, x):
    r"""The logits of the network for a batch of images.

    .. math::
        h^{(\ell)} = \operatorname{maxpool}_{2 \times 2}\Bigl(\operatorname{relu}\bigl(
        \operatorname{conv}(h^{(\ell-1)}; w_\ell, b_\ell)\bigr)\Bigr),
        \qquad
        z = \operatorname{flat}\bigl(h^{(L-1)}\bigr)\, W_L + \mathbf 1\, b_L^\top

    with :math:`h^{(0)} = x` (chapter 14, :eq:`eq-digits-forward`): chapter
    7's :func:`~dlmath.conv.conv2d_forward` (stride 1, padding
    :math:`(K - 1)/2`) and :func:`~dlmath.conv.maxpool2d_forward`, chapter
    5's :func:`~dlmath.backprop.relu_forward` and
    :func:`~dlmath.backprop.linear_forward`. ``flat`` reshapes
    ``(N, F, H', W')`` to ``(N, F H' W')`` in C order.

    Parameters
    ----------
    params : dict
        As made by :func:`init_cnn`.
    x : array_like, shape (N, C, H, W)

    Returns
    -------
    logits : numpy.ndarray, shape (N, num_classes)
    cache : dict
        Every layer's cache, for :func:`cnn_backward`.
    """
    where = "cnn_forward"
    last = _num_layers(params, where)
    h = as_float_array(x, "x")
    check_ndim(h, 4, "x", where, "(N, C, H, W)")
    layers = []
    for layer in range(1, last):
        w = params[f"w{layer}"]
        z, conv_cache = conv.conv2d_forward(h, w, params[f"b{layer}"], 1, (w.shape[-1] - 1) // 2)
        a, relu_cache = relu_forward(z)
        h, pool_cache = conv.maxpool2d_forward(a, POOL, POOL)
        layers.append((conv_cache, relu_cache, pool_cache))
    pooled_shape = h.shape
    logits, linear_cache = linear_forward(h.reshape(h.shape[0], -1), params[f"W{last}"], params[f"b{last}"])
    cache = {"layers": layers, "linear": linear_cache, "pooled_shape": pooled_shape}
    return logits, cache


def cnn_backward(dlogits, cache):
    r"""The gradients of the loss with respect to the input and to every parameter.

    Given :math:`G = \partial L / \partial z`, the layers' backward passes in
    reverse order (chapter 14, :eq:`eq-digits-backward`): the linear layer
    (chapter 5, :eq:`eq-bp-linear-dx`, :eq:`eq-bp-linear-dw`,
    :eq:`eq-bp-linear-db`), the reshape undone, then for
    :math:`\ell = L - 1, \dots, 1` max pooling (chapter 7,
    :eq:`eq-conv-maxpool-grad`), the relu (chapter 5,
    :eq:`eq-bp-activation-backward`) and the convolution (chapter 7,
    :eq:`eq-conv-grad-x`, :eq:`eq-conv-grad-w`, :eq:`eq-conv-grad-b`):

    .. math::
        \frac{\partial L}{\partial h^{(L-1)}} = \operatorname{unflat}\bigl(G W_L^\top\bigr),
        \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial h^{(0)}}.

    Parameters
    ----------
    dlogits : array_like, shape (N, num_classes)
        :math:`\partial L / \partial z`, for example
        :func:`~dlmath.losses.cross_entropy_grad`.
    cache : dict
        From :func:`cnn_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, C, H, W)
        :math:`\partial L / \partial x`.
    grads : dict
        The keys and shapes of ``params``.
    """
    layers, linear_cache = cache["layers"], cache["linear"]
    last = len(layers) + 1
    grads = {}
    dflat, grads[f"W{last}"], grads[f"b{last}"] = linear_backward(dlogits, linear_cache)
    dh = dflat.reshape(cache["pooled_shape"])
    for layer in range(last - 1, 0, -1):
        conv_cache, relu_cache, pool_cache = layers[layer - 1]
        da = conv.maxpool2d_backward(dh, pool_cache)
        dz = relu_backward(da, relu_cache)
        dh, grads[f"w{layer}"], grads[f"b{layer}"] = conv.conv2d_backward(dz, conv_cache)
    order = [f"{n}{layer}" for layer in range(1, last) for n in ("w", "b")] + [f"W{last}", f"b{last}"]
    return dh, {key: grads[key] for key in order}


def cnn_loss_and_grads(params, x, labels):
    r"""The mean softmax cross-entropy of the network on a batch, and its parameter gradients.

    .. math::
        L = -\frac{1}{N} \sum_{n=1}^{N} \log \operatorname{softmax}(z_n)_{y_n},
        \qquad \frac{\partial L}{\partial z} = \frac{1}{N}(P - Y)

    (chapter 3, :eq:`eq-ce-cross-entropy` and :eq:`eq-ce-cross-entropy-grad`),
    then :func:`cnn_backward`. The same contract as
    :func:`dlmath.backprop.mlp_loss_and_grads`, so :func:`train_classifier`
    trains either.

    Returns
    -------
    loss : float
    grads : dict
        The keys and shapes of ``params``.
    """
    logits, cache = cnn_forward(params, x)
    loss = cross_entropy(logits, labels)
    _, grads = cnn_backward(cross_entropy_grad(logits, labels), cache)
    return loss, grads


def cnn_logits(params, x):
    r"""The logits :math:`z` of :func:`cnn_forward` alone (no cache), shape ``(N, num_classes)``."""
    return cnn_forward(params, x)[0]


def cnn_predict(params, x):
    r"""The predicted class of every image: :math:`\hat y_n = \arg\max_k z_{n,k}`; int64 ``(N,)``."""
    return np.argmax(cnn_logits(params, x), axis=1).astype(np.int64)


# --------------------------------------------------------------------------
# Gradients with respect to the input
# --------------------------------------------------------------------------

def input_gradient(params, x, labels):
    r"""The gradient of each image's own loss with respect to that image.

    .. math::
        g_n = \frac{\partial \ell_n}{\partial x_n},
        \qquad \ell_n = -\log \operatorname{softmax}(z_n)_{y_n},

    from :func:`cnn_backward` with
    :math:`\partial \ell_n / \partial z_n = p_n - e_{y_n}` (chapter 3,
    :eq:`eq-ce-example-grad`): the batch mean's
    gradient times :math:`N`, since image :math:`n` affects only its own
    term. Chapter 14, :eq:`eq-digits-input-grad`.

    Parameters
    ----------
    params : dict
    x : array_like, shape (N, C, H, W)
    labels : array_like, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
    """
    logits, cache = cnn_forward(params, x)
    labels = as_labels(labels, logits.shape[1], "input_gradient", n=logits.shape[0])
    dx, _ = cnn_backward(cross_entropy_grad(logits, labels) * logits.shape[0], cache)
    return dx


def class_saliency(params, x, classes):
    r"""The gradient of one class's logit with respect to the image: a saliency map.

    .. math:: S_n = \frac{\partial z_{n, c_n}}{\partial x_n}

    for class :math:`c_n` of image :math:`n` (Simonyan, Vedaldi and Zisserman
    2014): :func:`cnn_backward` with :math:`\partial L / \partial z = e_{c_n}`
    for every image, that is, :math:`L = \sum_n z_{n, c_n}` (chapter 14,
    :eq:`eq-digits-saliency`). Where :math:`S_n` is positive, brightening that
    pixel raises the score of class :math:`c_n`, to first order. The sign is
    kept; Simonyan et al. display the magnitude :math:`|S_n|` (for colour
    images, its largest value over the channels of each pixel), which is
    ``np.abs(class_saliency(...)).max(axis=1)``.

    Parameters
    ----------
    params : dict
    x : array_like, shape (N, C, H, W)
    classes : array_like, shape (N,)
        The class whose logit is differentiated, one per image.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
    """
    logits, cache = cnn_forward(params, x)
    classes = as_labels(classes, logits.shape[1], "class_saliency", n=logits.shape[0])
    dlogits = np.zeros_like(logits)
    dlogits[np.arange(logits.shape[0]), classes] = 1.0
    dx, _ = cnn_backward(dlogits, cache)
    return dx


def fgsm(params, x, labels, eps, lo=0.0, hi=1.0):
    r"""The fast gradient sign method: move every pixel by :math:`\varepsilon` uphill in the loss.

    .. math::
        x^{\mathrm{adv}}_n = \operatorname{clip}_{[\mathrm{lo},\, \mathrm{hi}]}
        \bigl(x_n + \varepsilon \operatorname{sign}(g_n)\bigr),
        \qquad g_n = \frac{\partial \ell_n}{\partial x_n}

    (Goodfellow, Shlens and Szegedy 2015; chapter 14, :eq:`eq-digits-fgsm`),
    with :math:`g_n` from :func:`input_gradient`. Of all perturbations with
    every pixel changed by at most :math:`\varepsilon` (an
    :math:`\ell_\infty` ball), :math:`\varepsilon \operatorname{sign}(g_n)`
    raises the first-order approximation of the loss the most, by
    :math:`\varepsilon \lVert g_n \rVert_1` (:eq:`eq-digits-fgsm-gain`).
    Clipping keeps the pixels in the range of real images; a pixel with
    :math:`g = 0` does not move (``sign(0) = 0``).

    Parameters
    ----------
    params : dict
    x : array_like, shape (N, C, H, W)
    labels : array_like, shape (N,)
        The true classes, whose loss is raised.
    eps : float
        :math:`\varepsilon \ge 0`.
    lo, hi : float
        The pixel range, ``lo <= hi``.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
        A new array; ``x`` is not modified.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps < 0:
        raise ValueError(f"fgsm: eps must be a finite number >= 0, got {eps!r}")
    if not lo <= hi:
        raise ValueError(f"fgsm: expected lo <= hi, got lo={lo!r}, hi={hi!r}")
    x = as_float_array(x, "x")
    g = input_gradient(params, x, labels)
    return np.clip(x + eps * np.sign(g), lo, hi)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def train_classifier(loss_and_grads, logits_fn, params, x, labels, x_test, labels_test,
                     epochs, batch_size, seed, step=adam_step, lr_schedule=None, **hyper):
    r"""Minibatch training of a classifier, one optimizer step per batch.

    Every epoch shuffles the training examples (``numpy.random.default_rng(seed)``,
    one permutation per epoch), cuts them into batches of ``batch_size`` (the
    last one smaller if ``batch_size`` does not divide :math:`N`), and for each
    batch :math:`B` takes one step of ``step`` (an optimizer of
    :mod:`dlmath.optim`, with ``**hyper``) on the gradient of the batch's mean loss,

    .. math::
        \theta \leftarrow \operatorname{step}\Bigl(\theta,\ \nabla_\theta
        \frac{1}{|B|} \sum_{n \in B} \ell_n(\theta)\Bigr),

    chapter 6's stochastic gradient descent with a chosen update rule
    (chapter 14, :eq:`eq-digits-sgd`). After each epoch it records the mean of
    that epoch's batch losses (weighted by batch size: the training loss
    *during* the epoch, which costs nothing extra), and the mean loss and the
    accuracy on the held-out set with the parameters at the end of the epoch.

    Parameters
    ----------
    loss_and_grads : callable
        ``loss_and_grads(params, x_batch, labels_batch)`` returns the batch's
        mean loss and a dict of gradients, e.g. :func:`cnn_loss_and_grads` or
        :func:`dlmath.backprop.mlp_loss_and_grads`.
    logits_fn : callable
        ``logits_fn(params, x)`` returns the ``(N, K)`` logits, for the test set.
    params : dict of numpy.ndarray
        The initial parameters (not modified).
    x, labels : array_like
        The training set: examples along the first axis, integer labels ``(N,)``.
    x_test, labels_test : array_like
        Held-out examples, evaluated after every epoch: the test set, or a
        validation split of the training set when choosing hyper-parameters
        (the history still calls them "test").
    epochs, batch_size : int
        At least 1.
    seed : int
        Seeds the shuffling: the same seed gives the same run.
    step : callable
        ``params, state = step(params, grads, state, **hyper)``, default
        :func:`dlmath.optim.adam_step`.
    **hyper
        The optimizer's hyper-parameters (``lr=...``, ``weight_decay=...``).

    Returns
    -------
    params : dict of numpy.ndarray
        The trained parameters.
    history : dict of lists
        ``"train loss"``, ``"test loss"`` and ``"test accuracy"`` (a fraction
        in [0, 1]), one entry per epoch.
    """
    where = "train_classifier"
    epochs = check_positive_int(epochs, "epochs", where)
    batch_size = check_positive_int(batch_size, "batch_size", where)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an int, got {seed!r}")
    x = np.asarray(x)
    labels = np.asarray(labels)
    if x.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{where}: x has shape {x.shape} but labels has shape {labels.shape}; "
            f"expected labels of shape ({x.shape[0]},), one per example"
        )
    rng = np.random.default_rng(seed)
    state = None
    history = {"train loss": [], "test loss": [], "test accuracy": []}
    n = x.shape[0]
    for epoch in range(epochs):
        if lr_schedule is not None:
            hyper["lr"] = lr_schedule(epoch)
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            loss, grads = loss_and_grads(params, x[batch], labels[batch])
            params, state = step(params, grads, state, **hyper)
            total += loss * batch.size
        history["train loss"].append(total / n)
        logits = logits_fn(params, x_test)
        history["test loss"].append(cross_entropy(logits, labels_test))
        history["test accuracy"].append(float(np.mean(np.argmax(logits, axis=1) == labels_test)))
    return params, history


def predict_proba(logits_fn, params, x):
    r"""Class probabilities :math:`\operatorname{softmax}(z_n)` of every example
    (chapter 3, :eq:`eq-softmax`), from ``logits_fn(params, x)``; shape ``(N, K)``."""
    return softmax(logits_fn(params, x), axis=1)


def confusion_matrix(labels, predicted, num_classes):
    r"""Counts :math:`M[i, j]` of examples of true class :math:`i` predicted as class :math:`j`.

    .. math:: M[i, j] = \#\{n : y_n = i,\ \hat y_n = j\}

    The diagonal holds the correct predictions; accuracy is
    :math:`\operatorname{tr} M / N` (chapter 14). int64 ``(K, K)``.
    """
    labels = as_labels(labels, num_classes, "confusion_matrix")
    predicted = as_labels(predicted, num_classes, "confusion_matrix", n=labels.shape[0])
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix
