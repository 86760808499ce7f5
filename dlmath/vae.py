r"""The variational autoencoder (chapter 12): the ELBO, the Gaussian KL, the reparameterization trick.

An encoder maps an input :math:`x` to the mean :math:`\mu` and the log-variance
:math:`\ell = \log\sigma^2` of a diagonal Gaussian :math:`q(z \mid x)`; a sample
:math:`z = \mu + \sigma \odot \varepsilon` with :math:`\varepsilon \sim \mathcal N(0, I)`
goes through a decoder whose outputs are the logits of independent Bernoulli
distributions over the pixels. The loss is the negative evidence lower bound,

.. math::
    -\mathrm{ELBO}(x) = \sum_{d} \mathrm{BCE}(a_d, x_d)
    + \mathrm{KL}\bigl(q(z \mid x) \,\|\, \mathcal N(0, I)\bigr).

The formula functions (:func:`gaussian_kl`, :func:`reparameterize`,
:func:`elbo`, ...) take arrays with the batch first: ``mu`` and ``logvar`` are
``(N, J)`` for a batch of N examples and a latent space of J dimensions. The
model functions (:func:`init_vae`, :func:`vae_forward`,
:func:`vae_loss_and_grads`) build the encoder and the decoder from the MLPs of
:mod:`dlmath.backprop`, and keep all the weights in one flat dict
(``"enc_W1"``, ..., ``"dec_W1"``, ...) that the optimizers of :mod:`dlmath.optim`
step directly. :func:`mlp_backward_with_input` is the MLP backward pass that
also returns the gradient with respect to the network's input, which the
decoder (and the discriminator of :mod:`dlmath.gan`) need.
"""
import numpy as np

from ._checks import as_float_array, check_ndim, check_same_shape
from .activations import log_softmax
from .backprop import init_mlp, mlp_backward, mlp_forward
from .losses import bce_with_logits, bce_with_logits_grad


# --------------------------------------------------------------------------
# The formulas
# --------------------------------------------------------------------------

def gaussian_kl(mu, logvar):
    r"""The KL divergence from a diagonal Gaussian to the standard normal, one value per row.

    .. math::
        \mathrm{KL}\Bigl(\mathcal N\bigl(\mu, \operatorname{diag}(e^{\ell})\bigr) \,\Big\|\, \mathcal N(0, I)\Bigr)
        = \frac12 \sum_{j=1}^{J} \bigl(e^{\ell_j} + \mu_j^2 - 1 - \ell_j\bigr)

    with :math:`\ell = \log \sigma^2`. Derived in chapter 12, equation
    :eq:`eq-vae-kl`. Taking the log-variance :math:`\ell` rather than
    :math:`\sigma` avoids :math:`\log \sigma^2`, which is :math:`-\infty` once
    :math:`\sigma^2` underflows to 0: the result is finite for
    :math:`\ell = \pm 50` (and up to :math:`\ell \approx 710.4` in float64).
    The halves are taken term by term, before the sum (:math:`\tfrac12 e^{\ell}`
    as :math:`e^{\ell - \log 2}` where :math:`e^{\ell}` alone would overflow),
    so the result overflows only where the divergence itself exceeds the
    largest float (a mean beyond about :math:`1.9 \times 10^{154}` or a
    log-variance beyond about 710.5 in float64); it is then ``inf``, without
    a warning. Every term is :math:`\ge 0` (:math:`e^{\ell} \ge 1 + \ell`), so
    the result is never negative.

    Parameters
    ----------
    mu : array_like, shape (N, J)
        The means, one row per example.
    logvar : array_like, shape (N, J)
        The log-variances :math:`\ell = \log\sigma^2`, the shape of ``mu``.

    Returns
    -------
    numpy.ndarray, shape (N,)
        The floating dtype of the inputs.
    """
    mu, logvar = _mu_logvar(mu, logvar, "gaussian_kl")
    with np.errstate(over="ignore"):  # only where the exact value is beyond the largest float
        # (e^l - 1 - l) / 2 + mu^2 / 2, halved term by term: expm1 is accurate near l = 0
        half_terms = _half_expm1(logvar) - 0.5 * logvar + (0.5 * mu) * mu
        return np.sum(half_terms, axis=1)


def gaussian_kl_naive(mu, logvar):
    r"""The Gaussian KL of :func:`gaussian_kl` with explicit loops: a slow reference.

    .. math::
        \mathrm{KL}_n = \sum_{j=1}^{J} \frac12 \bigl(\sigma_{nj}^2 + \mu_{nj}^2 - 1 - \log \sigma_{nj}^2\bigr),
        \qquad \sigma_{nj}^2 = e^{\ell_{nj}}

    Chapter 12, equation :eq:`eq-vae-kl`, one term at a time, written with
    :math:`\sigma^2` as the derivation first has it. It takes the logarithm of
    :math:`\sigma^2 = e^{\ell}`, so for :math:`\ell < -745` (where
    :math:`e^{\ell}` underflows to 0) it fails, as chapter 12 shows; use
    :func:`gaussian_kl`.

    Parameters
    ----------
    mu, logvar : array_like, shape (N, J)

    Returns
    -------
    numpy.ndarray, shape (N,), float64
    """
    mu, logvar = _mu_logvar(mu, logvar, "gaussian_kl_naive")
    out = np.zeros(mu.shape[0])
    for n in range(mu.shape[0]):
        for j in range(mu.shape[1]):
            var = float(np.exp(logvar[n, j]))
            out[n] += 0.5 * (var + float(mu[n, j]) ** 2 - 1.0 - float(np.log(var)))
    return out


def gaussian_kl_grad(mu, logvar):
    r"""The gradient of ``gaussian_kl(mu, logvar).sum()`` with respect to ``mu`` and ``logvar``.

    .. math::
        \frac{\partial\, \mathrm{KL}}{\partial \mu_j} = \mu_j,
        \qquad
        \frac{\partial\, \mathrm{KL}}{\partial \ell_j} = \frac12 \bigl(e^{\ell_j} - 1\bigr)

    Derived in chapter 12, equation :eq:`eq-vae-kl-grad`; computed with
    ``expm1``, so it is accurate near :math:`\ell = 0`, where the KL is
    smallest. Each row is the gradient of that row's divergence (the sum over
    the batch couples nothing).

    Parameters
    ----------
    mu, logvar : array_like, shape (N, J)

    Returns
    -------
    dmu : numpy.ndarray, shape (N, J)
    dlogvar : numpy.ndarray, shape (N, J)
    """
    mu, logvar = _mu_logvar(mu, logvar, "gaussian_kl_grad")
    with np.errstate(over="ignore"):
        dlogvar = _half_expm1(logvar)
    return mu.copy(), dlogvar


def reparameterize(mu, logvar, eps):
    r"""A sample of :math:`\mathcal N(\mu, \operatorname{diag}\sigma^2)` written as a function of the noise.

    .. math::
        z = \mu + \sigma \odot \varepsilon = \mu + e^{\ell / 2} \odot \varepsilon,
        \qquad \varepsilon \sim \mathcal N(0, I)

    The reparameterization trick, chapter 12, equation :eq:`eq-vae-reparam`.
    The noise ``eps`` is an argument, not drawn here: with it fixed, ``z`` is
    a deterministic, differentiable function of ``mu`` and ``logvar``
    (:func:`reparameterize_backward`), and a gradient check can hold it fixed.

    Parameters
    ----------
    mu, logvar : array_like, shape (N, J)
    eps : array_like, shape (N, J)
        Standard normal noise, one draw per entry.

    Returns
    -------
    numpy.ndarray, shape (N, J)
    """
    mu, logvar, eps = _mu_logvar_eps(mu, logvar, eps, "reparameterize")
    return mu + _times_sigma(eps, logvar)


def reparameterize_backward(dz, mu, logvar, eps):
    r"""The gradients of a loss with respect to ``mu`` and ``logvar`` through :func:`reparameterize`.

    .. math::
        \frac{\partial L}{\partial \mu} = \frac{\partial L}{\partial z},
        \qquad
        \frac{\partial L}{\partial \ell} = \frac{\partial L}{\partial z} \odot \varepsilon \odot \frac{e^{\ell/2}}{2}

    since :math:`\partial z / \partial \mu = 1` and
    :math:`\partial z / \partial \ell = \tfrac12 e^{\ell / 2} \varepsilon`
    elementwise. Chapter 12, equation :eq:`eq-vae-reparam-backward`.

    Parameters
    ----------
    dz : array_like, shape (N, J)
        :math:`\partial L / \partial z`.
    mu, logvar, eps : array_like, shape (N, J)
        As given to :func:`reparameterize`.

    Returns
    -------
    dmu : numpy.ndarray, shape (N, J)
    dlogvar : numpy.ndarray, shape (N, J)
    """
    mu, logvar, eps = _mu_logvar_eps(mu, logvar, eps, "reparameterize_backward")
    dz = as_float_array(dz, "dz")
    check_same_shape(mu, dz, "mu", "dz", "reparameterize_backward")
    dlogvar = 0.5 * _times_sigma(dz * eps, logvar)
    return dz.copy(), dlogvar


def bernoulli_log_likelihood(x_logits, x):
    r"""The log-likelihood of ``x`` under independent Bernoulli pixels with logits ``x_logits``, per example.

    .. math::
        \log p(x_n \mid z_n) = \sum_{d} \Bigl[x_{nd} \log \sigma(a_{nd})
        + (1 - x_{nd}) \log \sigma(-a_{nd})\Bigr]
        = -\sum_{d} \mathrm{BCE}(a_{nd}, x_{nd})

    with :math:`a` the logits, the sum over every axis but the first: minus
    chapter 3's binary cross-entropy (:eq:`eq-ce-bce-logits`), summed instead
    of averaged. Chapter 12, equation :eq:`eq-vae-bernoulli`. A Bernoulli
    with logit :math:`a` is a softmax over the two logits :math:`(a, 0)`, so
    :math:`\log\sigma(a)` and :math:`\log\sigma(-a)` come from chapter 3's
    stable :func:`~dlmath.activations.log_softmax` of that pair: finite for
    logits of any magnitude. :func:`bernoulli_log_likelihood_naive` computes
    the same sums with :func:`~dlmath.losses.bce_with_logits`, one example at
    a time. Grey levels :math:`x \in [0, 1]` are allowed (the loss is then
    the cross-entropy with soft targets, as in chapter 3).

    Parameters
    ----------
    x_logits : array_like, shape (N, ...)
        The decoder's logits, one per pixel.
    x : array_like
        The data, the shape of ``x_logits``, every value in :math:`[0, 1]`
        (else ``ValueError``).

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    x_logits, x = _logits_and_data(x_logits, x, "bernoulli_log_likelihood")
    pair = np.stack([x_logits, np.zeros_like(x_logits)], axis=-1)
    log_p = log_softmax(pair, axis=-1)                 # [log sigma(a), log sigma(-a)]
    per_pixel = x * log_p[..., 0] + (1 - x) * log_p[..., 1]
    return np.sum(per_pixel.reshape(x.shape[0], -1), axis=1)


def bernoulli_log_likelihood_naive(x_logits, x):
    r""":func:`bernoulli_log_likelihood`, one example at a time, with chapter 3's loss: a slow reference.

    .. math::
        \log p(x_n \mid z_n) = -D \cdot \mathrm{bce\_with\_logits}(a_n, x_n),
        \qquad D = \text{pixels per example}

    (:func:`~dlmath.losses.bce_with_logits` is the mean over the D pixels;
    chapter 12, equation :eq:`eq-vae-bernoulli`).

    Parameters
    ----------
    x_logits, x : array_like, shape (N, ...)
        As in :func:`bernoulli_log_likelihood`.

    Returns
    -------
    numpy.ndarray, shape (N,), float64
    """
    x_logits, x = _logits_and_data(x_logits, x, "bernoulli_log_likelihood_naive")
    n_pixels = x[0].size
    return np.array([-n_pixels * bce_with_logits(x_logits[n], x[n]) for n in range(x.shape[0])])


def elbo(x_logits, x, mu, logvar):
    r"""The evidence lower bound of a VAE with a Bernoulli decoder, one value per example.

    .. math::
        \mathrm{ELBO}(x_n) = \log p(x_n \mid z_n)
        - \mathrm{KL}\bigl(q(z \mid x_n) \,\|\, \mathcal N(0, I)\bigr)
        = -\sum_{d} \mathrm{BCE}(a_{nd}, x_{nd})
        - \frac12 \sum_{j} \bigl(e^{\ell_{nj}} + \mu_{nj}^2 - 1 - \ell_{nj}\bigr)

    The one-sample estimate of chapter 12's :eq:`eq-vae-elbo-split`: the
    reconstruction term for the logits ``x_logits`` that the decoder made from
    one sample :math:`z_n` of :math:`q(z \mid x_n)`
    (:func:`bernoulli_log_likelihood`, :eq:`eq-vae-bernoulli`), minus the
    closed-form :func:`gaussian_kl` (:eq:`eq-vae-kl`). Its mean over the batch
    is the negative of the training loss of :func:`vae_loss_and_grads`.

    Parameters
    ----------
    x_logits : array_like, shape (N, ...)
        The decoder's logits.
    x : array_like
        The data, the shape of ``x_logits``, values in :math:`[0, 1]` (else
        ``ValueError``).
    mu, logvar : array_like, shape (N, J)
        The encoder's outputs for the same N examples.

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    x_logits, x = _logits_and_data(x_logits, x, "elbo")
    mu, logvar = _mu_logvar(mu, logvar, "elbo")
    if mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"elbo: x has shape {x.shape} but mu has shape {mu.shape}; expected mu to have "
            f"shape ({x.shape[0]}, J), one row per example"
        )
    return bernoulli_log_likelihood(x_logits, x) - gaussian_kl(mu, logvar)


# --------------------------------------------------------------------------
# The MLP backward pass, with the gradient of the network's input
# --------------------------------------------------------------------------

def mlp_backward_with_input(dlogits, cache):
    r"""The backward pass of an MLP that also returns the gradient with respect to its input.

    The recursion of :func:`dlmath.backprop.mlp_backward` (chapter 5,
    :eq:`eq-bp-mlp-backward`), continued one step further, to the input
    :math:`X = H^{(0)}` (:eq:`eq-bp-linear-dx`):

    .. math::
        \frac{\partial L}{\partial X} = G^{(1)} W^{(1)\top},
        \qquad G^{(\ell)} = \frac{\partial L}{\partial Z^{(\ell)}}

    It is ``mlp_backward(dlogits, cache, with_input=True)``, named for the two
    chapters that need it: ``mlp_backward`` alone drops this gradient, because
    a classifier's input is data. A VAE's decoder and a GAN's discriminator
    need it: their input is the output of another network (the sampled code
    :math:`z`, the generator's sample), through which the gradient must
    continue (chapter 12, :eq:`eq-vae-backward`; chapter 13). The parameter
    gradients are those of ``mlp_backward``.

    Parameters
    ----------
    dlogits : array_like, shape (N, D_L)
        :math:`\partial L / \partial\,\text{logits}`.
    cache : tuple
        From :func:`dlmath.backprop.mlp_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D_0)
    grads : dict
        The gradients of ``"W1"``, ``"b1"``, ..., as :func:`~dlmath.backprop.mlp_backward` returns them.
    """
    return mlp_backward(dlogits, cache, with_input=True)


# --------------------------------------------------------------------------
# A whole VAE from two MLPs
# --------------------------------------------------------------------------

def init_vae(data_dim, hidden_sizes, latent_dim, rng, activation="tanh"):
    r"""Random initial weights of a VAE: an encoder MLP and a decoder MLP, in one flat dict.

    The encoder maps :math:`D` inputs through ``hidden_sizes`` to :math:`2J`
    outputs, the mean :math:`\mu` (the first :math:`J`) and the log-variance
    :math:`\ell` (the last :math:`J`); the decoder maps :math:`J` latent
    dimensions through the hidden sizes in reverse to :math:`D` logits. Each is
    initialised by :func:`dlmath.backprop.init_mlp` (chapter 5,
    :eq:`eq-bp-he-init`, :eq:`eq-bp-xavier-init`); chapter 12 trains it.

    Parameters
    ----------
    data_dim : int
        :math:`D`, the pixels per example.
    hidden_sizes : sequence of int
        The encoder's hidden widths (the decoder uses them reversed).
    latent_dim : int
        :math:`J`.
    rng : numpy.random.Generator or int
    activation : {"relu", "tanh", "sigmoid"}
        The hidden activation, which picks the initialisation.

    Returns
    -------
    dict
        ``"enc_W1"``, ``"enc_b1"``, ..., ``"dec_W1"``, ``"dec_b1"``, ...: float64 arrays.
    """
    rng = np.random.default_rng(rng)
    hidden = list(hidden_sizes)
    encoder = init_mlp([data_dim, *hidden, 2 * latent_dim], rng, activation)
    decoder = init_mlp([latent_dim, *hidden[::-1], data_dim], rng, activation)
    return {**_prefixed(encoder, "enc_"), **_prefixed(decoder, "dec_")}


def vae_encode(params, x, activation="tanh"):
    r"""The encoder: the mean and log-variance of :math:`q(z \mid x)` for every row of ``x``.

    .. math:: (\mu, \ell) = \mathrm{MLP}_{\mathrm{enc}}(x),\qquad \mu, \ell \in \mathbb{R}^{N \times J}

    Chapter 12, equation :eq:`eq-vae-encoder`.

    Parameters
    ----------
    params : dict
        As made by :func:`init_vae`.
    x : array_like, shape (N, D) or (N, ...)
        Flattened to (N, D).
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    mu, logvar : numpy.ndarray, shape (N, J)
    """
    out, _ = mlp_forward(_unprefixed(params, "enc_"), _flat(x), activation)
    return _split(out)


def vae_decode(params, z, activation="tanh"):
    r"""The decoder: the pixel logits :math:`a = \mathrm{MLP}_{\mathrm{dec}}(z)` for every row of ``z``.

    .. math:: p(x_d = 1 \mid z) = \sigma(a_d),\qquad a \in \mathbb{R}^{N \times D}

    Chapter 12, equation :eq:`eq-vae-bernoulli`.

    Parameters
    ----------
    params : dict
        As made by :func:`init_vae`.
    z : array_like, shape (N, J)
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    numpy.ndarray, shape (N, D)
    """
    out, _ = mlp_forward(_unprefixed(params, "dec_"), z, activation)
    return out


def vae_forward(params, x, eps, activation="tanh"):
    r"""Encode, sample with the given noise, decode: everything the loss needs.

    .. math::
        (\mu, \ell) = \mathrm{MLP}_{\mathrm{enc}}(x),\qquad
        z = \mu + e^{\ell/2} \odot \varepsilon,\qquad
        a = \mathrm{MLP}_{\mathrm{dec}}(z)

    Chapter 12, equations :eq:`eq-vae-encoder`, :eq:`eq-vae-reparam` and
    :eq:`eq-vae-bernoulli`.

    Parameters
    ----------
    params : dict
        As made by :func:`init_vae`.
    x : array_like, shape (N, D) or (N, ...)
        Flattened to (N, D).
    eps : array_like, shape (N, J)
        The noise, one standard normal draw per latent entry.
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    out : dict
        ``"x_logits"`` (N, D), ``"mu"``, ``"logvar"``, ``"z"`` (N, J).
    cache : tuple
        For :func:`vae_loss_and_grads`.
    """
    x = _flat(x)
    enc_out, enc_cache = mlp_forward(_unprefixed(params, "enc_"), x, activation)
    mu, logvar = _split(enc_out)
    eps = as_float_array(eps, "eps")
    z = reparameterize(mu, logvar, eps)
    x_logits, dec_cache = mlp_forward(_unprefixed(params, "dec_"), z, activation)
    out = {"x_logits": x_logits, "mu": mu, "logvar": logvar, "z": z}
    return out, (x, eps, enc_cache, dec_cache)


def vae_loss_and_grads(params, x, eps, activation="tanh"):
    r"""The mean negative ELBO of a batch, its two parts, and the gradient of every weight.

    .. math::
        L = \frac1N \sum_{n=1}^{N} \Bigl[\sum_d \mathrm{BCE}(a_{nd}, x_{nd})
        + \mathrm{KL}\bigl(q(z \mid x_n) \,\|\, \mathcal N(0, I)\bigr)\Bigr]
        = D \cdot \mathrm{bce\_with\_logits}(a, x) + \frac1N \sum_n \mathrm{KL}_n

    The loss of chapter 12, :eq:`eq-vae-loss`, with one sample
    :math:`z_n = \mu_n + \sigma_n \odot \varepsilon_n` per example, and its
    backward pass :eq:`eq-vae-backward`: the decoder's logits get
    :math:`(\sigma(a) - x)/N` (chapter 3's :func:`~dlmath.losses.bce_with_logits_grad`
    times :math:`D`), the decoder passes :math:`\partial L / \partial z` back
    (:func:`mlp_backward_with_input`), :func:`reparameterize_backward` turns
    it into gradients of :math:`\mu` and :math:`\ell`, the KL adds its own
    (:func:`gaussian_kl_grad` over :math:`N`), and the encoder's backward
    pass finishes.

    Parameters
    ----------
    params : dict
        As made by :func:`init_vae`.
    x : array_like, shape (N, D) or (N, ...)
        Values in :math:`[0, 1]`.
    eps : array_like, shape (N, J)
        The noise; fixed, it makes the loss a deterministic function of the
        weights (a gradient check needs that).
    activation : {"relu", "tanh", "sigmoid"}

    Returns
    -------
    loss : float
        ``reconstruction + kl``.
    parts : dict
        ``"reconstruction"`` (the mean summed BCE) and ``"kl"`` (the mean KL), floats.
    grads : dict
        The keys and shapes of ``params``.
    """
    out, (x, eps, enc_cache, dec_cache) = vae_forward(params, x, eps, activation)
    x_logits, mu, logvar = out["x_logits"], out["mu"], out["logvar"]
    _logits_and_data(x_logits, x, "vae_loss_and_grads")       # x in [0, 1]
    n, n_pixels = x.shape
    reconstruction = n_pixels * bce_with_logits(x_logits, x)
    kl = float(np.mean(gaussian_kl(mu, logvar)))
    dlogits = n_pixels * bce_with_logits_grad(x_logits, x)          # (sigma(a) - x) / N
    dz, dec_grads = mlp_backward_with_input(dlogits, dec_cache)
    dmu, dlogvar = reparameterize_backward(dz, mu, logvar, eps)
    dmu_kl, dlogvar_kl = gaussian_kl_grad(mu, logvar)
    denc = np.concatenate([dmu + dmu_kl / n, dlogvar + dlogvar_kl / n], axis=1)
    _, enc_grads = mlp_backward_with_input(denc, enc_cache)
    grads = {**_prefixed(enc_grads, "enc_"), **_prefixed(dec_grads, "dec_")}
    parts = {"reconstruction": reconstruction, "kl": kl}
    return reconstruction + kl, parts, {key: grads[key] for key in params}


# --------------------------------------------------------------------------
# Checks and small helpers
# --------------------------------------------------------------------------

def _half_expm1(logvar):
    """``(exp(logvar) - 1) / 2`` elementwise: ``expm1`` (accurate near 0), or ``exp(logvar - log 2)``
    where ``exp(logvar)`` alone would overflow but its half does not. Overflow is left to the caller."""
    limit = float(np.log(np.finfo(logvar.dtype).max))          # about 709.8 in float64, 88.7 in float32
    near_limit = logvar > limit - 1.0
    shifted = np.exp(np.where(near_limit, logvar, 0.0) - float(np.log(2.0))) - 0.5
    return np.where(near_limit, shifted, 0.5 * np.expm1(logvar))


def _times_sigma(a, logvar):
    """``a * exp(logvar / 2)``, and exactly 0 where ``a`` is 0 (not nan where sigma overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        product = a * np.exp(0.5 * logvar)
    return np.where(a == 0, np.zeros_like(product), product)


def _mu_logvar(mu, logvar, where):
    mu = as_float_array(mu, "mu")
    logvar = as_float_array(logvar, "logvar")
    check_ndim(mu, 2, "mu", where, "(N, J)")
    check_same_shape(mu, logvar, "mu", "logvar", where)
    return mu, logvar


def _mu_logvar_eps(mu, logvar, eps, where):
    mu, logvar = _mu_logvar(mu, logvar, where)
    eps = as_float_array(eps, "eps")
    check_same_shape(mu, eps, "mu", "eps", where)
    return mu, logvar, eps


def _logits_and_data(x_logits, x, where):
    x_logits = as_float_array(x_logits, "x_logits")
    x = as_float_array(x, "x")
    if x_logits.ndim < 2:
        raise ValueError(
            f"{where}: x_logits must have a batch axis and at least one more, shape (N, ...), "
            f"got shape {x_logits.shape}"
        )
    check_same_shape(x_logits, x, "x_logits", "x", where)
    inside = (x >= 0) & (x <= 1)
    if not np.all(inside):
        bad = float(x[~inside].reshape(-1)[0])
        raise ValueError(f"{where}: every value of x must be in [0, 1], got {bad!r}")
    return x_logits, x


def _flat(x):
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have a batch axis, shape (N, D) or (N, ...), got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


def _split(enc_out):
    """The encoder's (N, 2J) output as mu (N, J) and logvar (N, J)."""
    if enc_out.shape[1] % 2:
        raise ValueError(
            f"the encoder's output has shape {enc_out.shape}; expected (N, 2J): J means, then J log-variances"
        )
    j = enc_out.shape[1] // 2
    return enc_out[:, :j], enc_out[:, j:]


def _prefixed(params, prefix):
    return {prefix + key: value for key, value in params.items()}


def _unprefixed(params, prefix):
    stray = [key for key in params if not str(key).startswith(("enc_", "dec_"))]
    if stray:
        raise ValueError(
            f"params has keys {sorted(map(str, stray))} that are neither encoder (enc_...) nor "
            "decoder (dec_...) weights; expected the keys made by init_vae"
        )
    sub = {key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix)}
    if not sub:
        raise ValueError(
            f"params has keys {sorted(map(str, params))}; expected keys starting with {prefix!r} "
            "(as made by init_vae)"
        )
    return sub
