r"""Generative adversarial networks (chapter 13): the two players' losses, from logits.

The discriminator :math:`D` outputs a logit :math:`s`, and
:math:`D = \sigma(s)` is its probability that the input is real. Every loss
here takes logits and is computed without forming :math:`\sigma(s)` and then
its logarithm, which would give :math:`\log 0 = -\infty` once :math:`1 - \sigma(s)`
rounds to 0 (from :math:`s \approx 37` in float64) or :math:`\sigma(s)`
underflows to 0 (below :math:`s \approx -745`). Instead,

.. math::
    -\log \sigma(s) = \mathrm{BCE}(s, 1),\qquad -\log\bigl(1 - \sigma(s)\bigr) = \mathrm{BCE}(s, 0),

chapter 3's stable :func:`~dlmath.losses.bce_with_logits`. The real and the
fake batch may have different sizes (and any shapes): each mean is over its own
batch. :func:`discriminator_loss_and_grads` and :func:`generator_loss_and_grads`
train the two players as MLPs of :mod:`dlmath.backprop`.
"""
import numpy as np

from ._checks import as_float_array, check_same_shape
from .activations import sigmoid
from .backprop import mlp_backward, mlp_forward
from .losses import bce_with_logits, kl_divergence
from .vae import mlp_backward_with_input


def discriminator_loss(real_logits, fake_logits):
    r"""The discriminator's loss: the cross-entropy of telling real (label 1) from fake (label 0).

    .. math::
        L_D = -\frac{1}{N_r}\sum_{i} \log \sigma(s^{r}_i) - \frac{1}{N_f}\sum_{k} \log\bigl(1 - \sigma(s^{f}_k)\bigr)
        = \mathrm{BCE}(s^{r}, 1) + \mathrm{BCE}(s^{f}, 0)

    with :math:`s^r` the logits :math:`D` gives the real batch and :math:`s^f`
    those of the generated batch :math:`G(z)`. It is minus the value
    :math:`V(D, G)` of the minimax game, chapter 13, :eq:`eq-gan-value` and
    :eq:`eq-gan-d-loss`, each expectation estimated by the mean over its own
    batch. Both terms are :func:`~dlmath.losses.bce_with_logits`, so logits of
    :math:`\pm 10^4` give a finite loss; :func:`discriminator_loss_naive`
    computes :math:`\sigma` first and fails there.

    Parameters
    ----------
    real_logits : array_like
        :math:`s^r`, any non-empty shape (for example ``(N_r,)`` or ``(N_r, 1)``).
    fake_logits : array_like
        :math:`s^f`, any non-empty shape; its size need not be that of ``real_logits``.

    Returns
    -------
    float
    """
    real, fake = _two_batches(real_logits, fake_logits, "discriminator_loss")
    return bce_with_logits(real, np.ones_like(real)) + bce_with_logits(fake, np.zeros_like(fake))


def discriminator_loss_naive(real_logits, fake_logits):
    r"""The discriminator's loss computed the naive way, sigmoid first and then log: a reference that fails.

    .. math::
        L_D = -\operatorname{mean} \log D(x) - \operatorname{mean} \log\bigl(1 - D(G(z))\bigr),
        \qquad D = \sigma(s)

    Chapter 13, :eq:`eq-gan-d-loss`, exactly as written. Correct for moderate
    logits; where the discriminator is confident and wrong, a logarithm is of
    0 and the loss is ``inf`` with a ``RuntimeWarning``: a fake logit
    :math:`s^f \gtrsim 37` rounds :math:`1 - \sigma(s^f)` to 0, and a real logit
    :math:`s^r \lesssim -745` underflows :math:`\sigma(s^r)` to 0. Use
    :func:`discriminator_loss`.

    Parameters
    ----------
    real_logits, fake_logits : array_like
        As in :func:`discriminator_loss`.

    Returns
    -------
    float
    """
    real, fake = _two_batches(real_logits, fake_logits, "discriminator_loss_naive")
    return float(-np.mean(np.log(sigmoid(real))) - np.mean(np.log(1.0 - sigmoid(fake))))


def discriminator_loss_grad(real_logits, fake_logits):
    r"""The gradient of :func:`discriminator_loss` with respect to both batches of logits.

    .. math::
        \frac{\partial L_D}{\partial s^{r}_i} = \frac{\sigma(s^r_i) - 1}{N_r} = -\frac{\sigma(-s^r_i)}{N_r},
        \qquad
        \frac{\partial L_D}{\partial s^{f}_k} = \frac{\sigma(s^f_k)}{N_f}

    Chapter 3's :eq:`eq-ce-bce-logits-grad` with labels 1 and 0 (chapter 13,
    :eq:`eq-gan-d-grad`). The first is computed as :math:`-\sigma(-s)`, not
    :math:`\sigma(s) - 1`: the subtraction would lose every digit for large
    :math:`s` (chapter 1, :eq:`eq-sigmoid-grad-tails`).

    Parameters
    ----------
    real_logits, fake_logits : array_like
        As in :func:`discriminator_loss`.

    Returns
    -------
    d_real : numpy.ndarray
        The shape of ``real_logits``.
    d_fake : numpy.ndarray
        The shape of ``fake_logits``.
    """
    real, fake = _two_batches(real_logits, fake_logits, "discriminator_loss_grad")
    return -sigmoid(-real) / real.size, sigmoid(fake) / fake.size


def generator_loss(fake_logits, non_saturating=True):
    r"""The generator's loss, in its non-saturating form (the default) or its minimax form.

    .. math::
        L_G^{\mathrm{NS}} = -\frac{1}{N_f}\sum_k \log \sigma(s^f_k) = \mathrm{BCE}(s^f, 1),
        \qquad
        L_G^{\mathrm{MM}} = \frac{1}{N_f}\sum_k \log\bigl(1 - \sigma(s^f_k)\bigr) = -\mathrm{BCE}(s^f, 0)

    The minimax form is the generator's part of :math:`V(D, G)`, chapter 13,
    :eq:`eq-gan-value`; it saturates where the discriminator confidently
    rejects the fakes (:math:`s^f \to -\infty`), and the non-saturating form
    (:eq:`eq-gan-g-ns`) does not (:eq:`eq-gan-g-grads`). Both are computed
    from logits with :func:`~dlmath.losses.bce_with_logits`.

    Parameters
    ----------
    fake_logits : array_like
        :math:`s^f = D`'s logits on a generated batch, any non-empty shape.
    non_saturating : bool
        True for :math:`-\log D(G(z))`, False for :math:`\log(1 - D(G(z)))`.

    Returns
    -------
    float
    """
    fake = _batch(fake_logits, "fake_logits", "generator_loss")
    _check_bool(non_saturating, "generator_loss")
    if non_saturating:
        return bce_with_logits(fake, np.ones_like(fake))
    return -bce_with_logits(fake, np.zeros_like(fake))


def generator_loss_grad(fake_logits, non_saturating=True):
    r"""The gradient of :func:`generator_loss` with respect to the fake logits.

    .. math::
        \frac{\partial L_G^{\mathrm{NS}}}{\partial s^f_k} = -\frac{\sigma(-s^f_k)}{N_f},
        \qquad
        \frac{\partial L_G^{\mathrm{MM}}}{\partial s^f_k} = -\frac{\sigma(s^f_k)}{N_f}

    Chapter 13, :eq:`eq-gan-g-grads`. Where the discriminator rejects a fake
    with confidence (:math:`s^f \ll 0`) the minimax gradient is
    :math:`\approx -e^{s^f}/N_f`, vanishingly small, while the non-saturating
    gradient is :math:`\approx -1/N_f`. Both are computed with the stable
    :func:`~dlmath.activations.sigmoid`, to full relative accuracy at any logit.

    Parameters
    ----------
    fake_logits : array_like
        Any non-empty shape.
    non_saturating : bool

    Returns
    -------
    numpy.ndarray
        The shape of ``fake_logits``.
    """
    fake = _batch(fake_logits, "fake_logits", "generator_loss_grad")
    _check_bool(non_saturating, "generator_loss_grad")
    if non_saturating:
        return -sigmoid(-fake) / fake.size
    return -sigmoid(fake) / fake.size


def optimal_discriminator(p_data, p_model):
    r"""The best discriminator for a fixed generator, pointwise: :math:`p_{\text{data}} / (p_{\text{data}} + p_{\text{model}})`.

    .. math::
        D^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_{\text{model}}(x)},
        \qquad D^*(x) = \tfrac12 \text{ where both densities are } 0

    Derived in chapter 13, :eq:`eq-gan-d-star`. Where both densities vanish
    the integrand of :math:`V` does not depend on :math:`D(x)`, so any value is
    optimal; 1/2 is the natural choice (it is also the limit along
    :math:`p_{\text{data}} = p_{\text{model}}`). Computed as :math:`a / (a + b)`
    after dividing both densities by the larger, so neither a sum that
    overflows nor one that underflows can spoil it.

    Parameters
    ----------
    p_data, p_model : array_like
        Density values, of the same shape, finite and :math:`\ge 0` (else ``ValueError``).

    Returns
    -------
    numpy.ndarray
        The shape of the inputs, values in :math:`[0, 1]`.
    """
    p_data = as_float_array(p_data, "p_data")
    p_model = as_float_array(p_model, "p_model")
    check_same_shape(p_data, p_model, "p_data", "p_model", "optimal_discriminator")
    for name, p in (("p_data", p_data), ("p_model", p_model)):
        ok = np.isfinite(p) & (p >= 0)
        if not np.all(ok):
            bad = float(p[~ok].reshape(-1)[0])
            raise ValueError(
                f"optimal_discriminator: {name} must be finite densities >= 0, got {bad!r}"
            )
    scale = np.maximum(p_data, p_model)
    both_zero = scale == 0
    safe = np.where(both_zero, 1.0, scale)
    a, b = p_data / safe, p_model / safe               # in [0, 1], the larger exactly 1
    return np.where(both_zero, 0.5, a / np.where(both_zero, 1.0, a + b)).astype(
        np.result_type(p_data, p_model), copy=False
    )


def js_divergence(p, q):
    r"""The Jensen-Shannon divergence of two distributions along the last axis.

    .. math::
        \mathrm{JS}(p \,\|\, q) = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m),
        \qquad m = \tfrac12 (p + q)

    Chapter 13, :eq:`eq-gan-js`; the two divergences are chapter 3's
    :func:`~dlmath.losses.kl_divergence` (:eq:`eq-ce-kl`). It is symmetric,
    finite even where one distribution is 0 and the other is not (:math:`m > 0`
    wherever either is), and lies in :math:`[0, \log 2]`.

    Parameters
    ----------
    p, q : array_like, shape (..., K)
        Distributions (non-negative, summing to 1 along the last axis), of the same shape.

    Returns
    -------
    float or numpy.ndarray
        A float for 1-D inputs, else one value per distribution, shape ``p.shape[:-1]``.
    """
    p = as_float_array(p, "p")
    q = as_float_array(q, "q")
    check_same_shape(p, q, "p", "q", "js_divergence")
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


# --------------------------------------------------------------------------
# The two players as MLPs
# --------------------------------------------------------------------------

def discriminator_loss_and_grads(d_params, real, fake, activation="relu"):
    r"""The discriminator's loss on a real and a generated batch, and its weights' gradients.

    .. math::
        L_D = \mathrm{BCE}\bigl(D(x), 1\bigr) + \mathrm{BCE}\bigl(D(G(z)), 0\bigr),
        \qquad D = \mathrm{MLP}_D \text{ with one output logit}

    Chapter 13, :eq:`eq-gan-d-loss`: :func:`discriminator_loss` on the MLP's
    logits (:func:`dlmath.backprop.mlp_forward`), then the backward pass
    (:func:`dlmath.backprop.mlp_backward`), both on the two batches stacked
    (rows do not interact, so one pass gives the sum of the two batches'
    gradients). The generated batch is data here: no gradient reaches the
    generator.

    Parameters
    ----------
    d_params : dict
        The discriminator's weights, as made by :func:`dlmath.backprop.init_mlp`
        with one output.
    real : array_like, shape (N_r, D)
    fake : array_like, shape (N_f, D)
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    loss : float
    grads : dict
        The keys and shapes of ``d_params``.
    """
    real = as_float_array(real, "real")
    fake = as_float_array(fake, "fake")
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"discriminator_loss_and_grads: real has shape {real.shape} and fake has shape "
            f"{fake.shape}; expected (N_r, D) and (N_f, D), the same number D of features"
        )
    # One pass over both batches: the rows do not interact, and the gradient of a
    # sum of the two losses is the sum of their gradients.
    logits, cache = mlp_forward(d_params, np.concatenate([real, fake]), activation)
    _check_one_logit(logits, "discriminator_loss_and_grads")
    n_real = real.shape[0]
    real_logits, fake_logits = logits[:n_real], logits[n_real:]
    loss = discriminator_loss(real_logits, fake_logits)
    d_real, d_fake = discriminator_loss_grad(real_logits, fake_logits)
    return loss, mlp_backward(np.concatenate([d_real, d_fake]), cache)


def generator_loss_and_grads(g_params, d_params, z, non_saturating=True, activation="relu"):
    r"""The generator's loss against a fixed discriminator, and the generator's gradients.

    .. math::
        L_G = -\operatorname{mean} \log D\bigl(G(z)\bigr) \ \ \text{(non-saturating)}
        \quad\text{or}\quad \operatorname{mean} \log\bigl(1 - D(G(z))\bigr) \ \ \text{(minimax)}

    Chapter 13, :eq:`eq-gan-g-ns` and :eq:`eq-gan-value`. The gradient runs
    back through the discriminator to its *input*, the generated sample
    (:func:`dlmath.vae.mlp_backward_with_input`), and from there through the
    generator (:func:`dlmath.backprop.mlp_backward`). The discriminator's own
    gradients are computed on the way and discarded: only the generator steps.
    The generator's output layer is linear: a sample is its output.

    Parameters
    ----------
    g_params : dict
        The generator's weights (:func:`dlmath.backprop.init_mlp`), from the
        noise dimension to the data dimension.
    d_params : dict
        The discriminator's weights.
    z : array_like, shape (N_f, K)
        The generator's input noise.
    non_saturating : bool
    activation : {"relu", "tanh", "sigmoid"}
        The hidden activation of both networks.

    Returns
    -------
    loss : float
    grads : dict
        The keys and shapes of ``g_params``.
    """
    fake, g_cache = mlp_forward(g_params, z, activation)
    fake_logits, d_cache = mlp_forward(d_params, fake, activation)
    _check_one_logit(fake_logits, "generator_loss_and_grads")
    loss = generator_loss(fake_logits, non_saturating)
    dfake, _ = mlp_backward_with_input(generator_loss_grad(fake_logits, non_saturating), d_cache)
    return loss, mlp_backward(dfake, g_cache)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def _batch(logits, name, where):
    logits = as_float_array(logits, name)
    if logits.size == 0:
        raise ValueError(
            f"{where}: {name} is empty (shape {logits.shape}); the mean over no examples is undefined"
        )
    return logits


def _two_batches(real_logits, fake_logits, where):
    return _batch(real_logits, "real_logits", where), _batch(fake_logits, "fake_logits", where)


def _check_bool(flag, where):
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"{where}: non_saturating must be True or False, got {flag!r}")


def _check_one_logit(logits, where):
    if logits.shape[1] != 1:
        raise ValueError(
            f"{where}: the discriminator has {logits.shape[1]} outputs (logits of shape "
            f"{logits.shape}); expected 1, one logit per example, shape (N, 1)"
        )
