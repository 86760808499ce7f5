"""Tests for dlmath.vae (chapter 12): the Gaussian KL, the reparameterization, the ELBO, a whole VAE."""
import warnings
from decimal import Decimal, localcontext

import numpy as np
import pytest

from dlmath import bce_with_logits, binary_cross_entropy, numerical_gradient, rel_error, sigmoid
from dlmath.backprop import init_mlp, mlp_backward, mlp_forward
from dlmath.vae import (
    bernoulli_log_likelihood,
    bernoulli_log_likelihood_naive,
    elbo,
    gaussian_kl,
    gaussian_kl_grad,
    gaussian_kl_naive,
    init_vae,
    mlp_backward_with_input,
    reparameterize,
    reparameterize_backward,
    vae_decode,
    vae_encode,
    vae_forward,
    vae_loss_and_grads,
)

FD_STEP = 1e-5  # see tests/test_backprop.py


def assert_gradient(analytic, numeric):
    """Analytic against central differences: relative 1e-6, with an absolute floor for tiny entries.

    The floor 1e-9 is a few times the rounding error of a central difference with step 1e-5
    on losses of order 10 (about 1e-15 / 1e-5); a wrong formula is off by far more.
    """
    assert analytic.shape == numeric.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def mu_logvar(shape, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=shape), scale * rng.normal(size=shape)


# --------------------------------------------------------------------------
# gaussian_kl
# --------------------------------------------------------------------------

def test_gaussian_kl_is_zero_for_the_standard_normal():
    np.testing.assert_array_equal(gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4))), np.zeros(3))


def test_gaussian_kl_known_value():
    # mu = (1, 0), sigma^2 = (1, 4): 1/2 [(1 + 1 - 1 - 0) + (4 + 0 - 1 - log 4)]
    expected = 0.5 * (1.0 + 3.0 - np.log(4.0))
    assert gaussian_kl([[1.0, 0.0]], [[0.0, np.log(4.0)]])[0] == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("shape", [(1, 1), (4, 3), (7, 2), (2, 10)])
def test_gaussian_kl_matches_naive_loop(shape):
    mu, logvar = mu_logvar(shape, 0, scale=2.0)
    out = gaussian_kl(mu, logvar)
    assert out.shape == (shape[0],)
    assert rel_error(out, gaussian_kl_naive(mu, logvar)) < 1e-12


@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (1.5, 0.5), (-2.0, 3.0), (0.3, 0.05)])
def test_gaussian_kl_matches_numerical_integral(mu, sigma):
    # KL = integral of q log(q / p), on a fine grid around the mean of q.
    z = np.linspace(mu - 12 * sigma, mu + 12 * sigma, 200001)
    log_q = -0.5 * np.log(2 * np.pi * sigma**2) - (z - mu) ** 2 / (2 * sigma**2)
    log_p = -0.5 * np.log(2 * np.pi) - z**2 / 2
    integral = np.trapezoid(np.exp(log_q) * (log_q - log_p), z)
    assert gaussian_kl([[mu]], [[np.log(sigma**2)]])[0] == pytest.approx(integral, rel=1e-8)


def test_gaussian_kl_sums_independent_dimensions():
    mu, logvar = mu_logvar((5, 3), 1)
    per_dim = sum(gaussian_kl(mu[:, [j]], logvar[:, [j]]) for j in range(3))
    assert rel_error(gaussian_kl(mu, logvar), per_dim) < 1e-13


def test_gaussian_kl_is_non_negative():
    mu, logvar = mu_logvar((200, 3), 2, scale=3.0)
    assert np.all(gaussian_kl(mu, logvar) >= 0)


@pytest.mark.parametrize("logvar, expected", [(50.0, 0.5 * (np.exp(50.0) - 51.0)), (-50.0, 0.5 * 49.0 + 0.5 * np.exp(-50.0))])
def test_gaussian_kl_extreme_logvar_is_finite_and_accurate(logvar, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gaussian_kl([[0.0]], [[logvar]])
    assert np.isfinite(out[0])
    assert out[0] == pytest.approx(expected, rel=1e-14)


def test_gaussian_kl_tiny_variance_where_the_naive_log_fails():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gaussian_kl([[0.0]], [[-800.0]])[0] == pytest.approx(0.5 * 799.0)
    with np.errstate(divide="ignore"):
        assert gaussian_kl_naive([[0.0]], [[-800.0]])[0] == np.inf   # log(0): the reason for logvar


def test_gaussian_kl_near_zero_keeps_relative_accuracy():
    # e^l - 1 - l = l^2 / 2 + l^3 / 6 + ...: expm1 keeps its digits where exp(l) - 1 would not
    l = 1e-6
    assert gaussian_kl([[0.0]], [[l]])[0] == pytest.approx(0.5 * (l**2 / 2 + l**3 / 6), rel=1e-8)


def test_gaussian_kl_overflows_only_beyond_the_largest_float_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gaussian_kl([[0.0], [1e200]], [[800.0], [0.0]])
    assert np.all(out == np.inf)
    assert not np.any(np.isnan(out))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gaussian_kl_is_finite_up_to_the_largest_float(dtype):
    # divergences between half the largest float and the largest float: e^l and mu^2 overflow, their halves do not
    big = np.finfo(dtype).max
    logvar = np.log(big, dtype=dtype) + dtype(0.5)                 # e^l / 2 is about 0.82 * big
    mu = np.sqrt(big, dtype=dtype) * dtype(1.2)                    # mu^2 / 2 = 0.72 * big
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gaussian_kl(np.array([[0.0], [mu]], dtype=dtype), np.array([[logvar], [0.0]], dtype=dtype))
        _, dlogvar = gaussian_kl_grad(np.zeros((1, 1), dtype=dtype), np.full((1, 1), logvar, dtype=dtype))
    assert out.dtype == dtype and np.all(np.isfinite(out))
    with localcontext() as context:                                # exact references in 40 digits
        context.prec = 40
        ell, m = Decimal(float(logvar)), Decimal(float(mu))
        exact = [ell.exp() / 2 - (1 + ell) / 2, m * m / 2]
    # e^(l - log 2): the rounding of l - log 2 costs about |l| ulps of relative accuracy
    np.testing.assert_allclose(out.astype(np.float64), [float(v) for v in exact], rtol=2 * float(logvar) * np.finfo(dtype).eps)
    assert np.isfinite(dlogvar[0, 0])
    assert gaussian_kl([[0.0, 0.0]], [[710.0, 710.0]])[0] == np.inf    # the sum is beyond the largest float


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (4, 5)])
def test_gaussian_kl_grad_matches_finite_differences(shape):
    mu, logvar = mu_logvar(shape, 3)
    dmu, dlogvar = gaussian_kl_grad(mu, logvar)
    assert_gradient(dmu, numerical_gradient(lambda m: gaussian_kl(m, logvar).sum(), mu, eps=FD_STEP))
    assert_gradient(dlogvar, numerical_gradient(lambda v: gaussian_kl(mu, v).sum(), logvar, eps=FD_STEP))


def test_gaussian_kl_grad_known_and_extreme_values():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dmu, dlogvar = gaussian_kl_grad([[2.0, -1.0, 0.0]], [[0.0, 50.0, -50.0]])
    np.testing.assert_array_equal(dmu, [[2.0, -1.0, 0.0]])
    np.testing.assert_allclose(dlogvar, [[0.0, 0.5 * np.expm1(50.0), 0.5 * np.expm1(-50.0)]], rtol=1e-15)


# --------------------------------------------------------------------------
# reparameterize
# --------------------------------------------------------------------------

def test_reparameterize_by_hand():
    z = reparameterize([[1.0, -2.0]], [[np.log(4.0), 0.0]], [[0.5, -1.0]])
    np.testing.assert_allclose(z, [[1.0 + 2.0 * 0.5, -2.0 - 1.0]], rtol=1e-15)


def test_reparameterize_has_the_right_mean_and_variance():
    rng = np.random.default_rng(4)
    n = 200_000
    mu, logvar = np.full((n, 2), [1.5, -0.5]), np.full((n, 2), [np.log(0.25), np.log(4.0)])
    z = reparameterize(mu, logvar, rng.standard_normal((n, 2)))
    np.testing.assert_allclose(z.mean(axis=0), [1.5, -0.5], atol=0.02)
    np.testing.assert_allclose(z.var(axis=0), [0.25, 4.0], rtol=0.02)


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (5, 4)])
def test_reparameterize_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(5)
    mu, logvar, eps, dz = (rng.normal(size=shape) for _ in range(4))
    loss = lambda m, v: float(np.sum(dz * reparameterize(m, v, eps)))
    dmu, dlogvar = reparameterize_backward(dz, mu, logvar, eps)
    assert_gradient(dmu, numerical_gradient(lambda m: loss(m, logvar), mu, eps=FD_STEP))
    assert_gradient(dlogvar, numerical_gradient(lambda v: loss(mu, v), logvar, eps=FD_STEP))


def test_reparameterize_extreme_logvar_no_warning_no_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = reparameterize([[0.0, 1.0, 2.0]], [[50.0, -50.0, 2000.0]], [[1.0, 1.0, 0.0]])
        dmu, dlogvar = reparameterize_backward([[1.0, 1.0, 1.0]], [[0.0, 1.0, 2.0]], [[50.0, -50.0, 2000.0]], [[1.0, 1.0, 0.0]])
    np.testing.assert_allclose(z, [[np.exp(25.0), 1.0 + np.exp(-25.0), 2.0]], rtol=1e-15)
    assert not np.any(np.isnan(z)) and not np.any(np.isnan(dlogvar))
    np.testing.assert_allclose(dlogvar, [[0.5 * np.exp(25.0), 0.5 * np.exp(-25.0), 0.0]], rtol=1e-15)


# --------------------------------------------------------------------------
# the Bernoulli log-likelihood and the ELBO
# --------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (2, 1, 8, 8), (5, 2, 3)])
@pytest.mark.parametrize("soft", [False, True])
def test_bernoulli_log_likelihood_matches_chapter_3_loss(shape, soft):
    rng = np.random.default_rng(6)
    a = 3 * rng.normal(size=shape)
    x = rng.uniform(size=shape) if soft else (rng.uniform(size=shape) < 0.5).astype(float)
    out = bernoulli_log_likelihood(a, x)
    assert out.shape == (shape[0],)
    assert rel_error(out, bernoulli_log_likelihood_naive(a, x)) < 1e-12
    # The mean over the batch is minus D times the mean BCE over every pixel.
    assert np.mean(out) == pytest.approx(-x[0].size * bce_with_logits(a, x), rel=1e-12)
    # And it is the BCE of the probabilities, for moderate logits.
    per_example = [-x[0].size * binary_cross_entropy(sigmoid(a[n]), x[n]) for n in range(shape[0])]
    assert rel_error(out, np.array(per_example)) < 1e-10


def test_bernoulli_log_likelihood_extreme_logits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = bernoulli_log_likelihood([[1e4, -1e4, 1e4, -1e4]], [[1.0, 0.0, 0.0, 1.0]])
    assert out[0] == pytest.approx(-2e4, rel=1e-15)


def test_elbo_is_reconstruction_minus_kl():
    rng = np.random.default_rng(7)
    a, x = rng.normal(size=(4, 6)), rng.uniform(size=(4, 6))
    mu, logvar = mu_logvar((4, 2), 8)
    expected = bernoulli_log_likelihood_naive(a, x) - gaussian_kl_naive(mu, logvar)
    assert rel_error(elbo(a, x, mu, logvar), expected) < 1e-12


def test_elbo_extreme_inputs_are_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = elbo([[1e4, -1e4]], [[0.0, 1.0]], [[0.0]], [[50.0]])
    assert np.isfinite(out[0])


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_elbo_rejects_x_outside_the_unit_interval(bad):
    x = np.full((2, 3), 0.5)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]"):
        elbo(np.zeros((2, 3)), x, np.zeros((2, 1)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]"):
        bernoulli_log_likelihood(np.zeros((2, 3)), x)


# --------------------------------------------------------------------------
# bad input, dtypes, no mutation
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "fn, args, match",
    [
        (gaussian_kl, (np.zeros((2, 3)), np.zeros((2, 2))), r"mu has shape \(2, 3\) but logvar has shape \(2, 2\)"),
        (gaussian_kl, (np.zeros(3), np.zeros(3)), r"mu must be 2-D \(N, J\), got shape \(3,\)"),
        (gaussian_kl_grad, (np.zeros((2, 3)), np.zeros((3, 2))), r"logvar has shape \(3, 2\)"),
        (reparameterize, (np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 1))), r"eps has shape \(2, 1\)"),
        (reparameterize_backward, (np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3))), r"dz has shape \(2, 2\)"),
        (bernoulli_log_likelihood, (np.zeros((2, 3)), np.zeros((2, 4))), r"x_logits has shape \(2, 3\) but x has shape \(2, 4\)"),
        (bernoulli_log_likelihood, (np.zeros(3), np.zeros(3)), r"x_logits must have a batch axis"),
        (elbo, (np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 1)), np.zeros((3, 1))), r"x has shape \(2, 3\) but mu has shape \(3, 1\)"),
    ],
)
def test_bad_shapes_name_the_shapes(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)


@pytest.mark.parametrize("fn, n_args", [(gaussian_kl, 2), (gaussian_kl_grad, 2), (reparameterize, 3), (elbo, 4)])
def test_non_numeric_input_is_a_type_error(fn, n_args):
    args = [np.zeros((1, 1))] * n_args
    args[0] = [["a"]]
    with pytest.raises(TypeError, match="real numeric"):
        fn(*args)


def test_float32_is_kept_and_integers_become_float64():
    mu32, lv32 = (np.ones((2, 3), np.float32) for _ in range(2))
    assert gaussian_kl(mu32, lv32).dtype == np.float32
    assert all(g.dtype == np.float32 for g in gaussian_kl_grad(mu32, lv32))
    assert reparameterize(mu32, lv32, mu32).dtype == np.float32
    assert all(g.dtype == np.float32 for g in reparameterize_backward(mu32, mu32, lv32, mu32))
    assert bernoulli_log_likelihood(mu32, np.zeros((2, 3), np.float32)).dtype == np.float32
    assert gaussian_kl([[1, 2]], [[0, 0]]).dtype == np.float64
    assert reparameterize([[1]], [[0]], [[1]]).dtype == np.float64


def test_inputs_are_not_modified():
    rng = np.random.default_rng(9)
    arrays = [rng.normal(size=(3, 2)) for _ in range(4)]
    copies = [a.copy() for a in arrays]
    dz, mu, logvar, eps = arrays
    gaussian_kl(mu, logvar)
    dmu, _ = gaussian_kl_grad(mu, logvar)
    dmu += 1.0                                     # the gradient is a new array, not mu itself
    reparameterize(mu, logvar, eps)
    dmu2, _ = reparameterize_backward(dz, mu, logvar, eps)
    dmu2 += 1.0
    x = rng.uniform(size=(3, 2))
    x_copy = x.copy()
    elbo(dz, x, mu, logvar)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(x, x_copy)


# --------------------------------------------------------------------------
# the MLP backward pass with the input gradient
# --------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("sizes", [[3, 2], [4, 5, 2], [2, 6, 3, 1]])
def test_mlp_backward_with_input(activation, sizes):
    rng = np.random.default_rng(10)
    params = init_mlp(sizes, rng, activation)
    params = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in params.items()}
    x = rng.normal(size=(5, sizes[0]))
    x[np.abs(x) < 1e-3] = 0.5
    dout = rng.normal(size=(5, sizes[-1]))
    out, cache = mlp_forward(params, x, activation)
    dx, grads = mlp_backward_with_input(dout, cache)
    expected = mlp_backward(dout, cache)
    assert list(grads) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(grads[key], expected[key])
    loss = lambda v: float(np.sum(dout * mlp_forward(params, v, activation)[0]))
    assert_gradient(dx, numerical_gradient(loss, x, eps=FD_STEP))


# --------------------------------------------------------------------------
# a whole VAE
# --------------------------------------------------------------------------

def small_vae(seed, activation="tanh", data_dim=10, hidden=(6,), latent=2, n=4):
    rng = np.random.default_rng(seed)
    params = init_vae(data_dim, hidden, latent, rng, activation)
    params = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in params.items()}   # nonzero biases
    x = rng.uniform(size=(n, data_dim))
    eps = rng.normal(size=(n, latent))
    return params, x, eps


def test_init_vae_shapes():
    params = init_vae(64, [32, 16], 2, 0)
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {
        "enc_W1": (64, 32), "enc_b1": (32,), "enc_W2": (32, 16), "enc_b2": (16,), "enc_W3": (16, 4), "enc_b3": (4,),
        "dec_W1": (2, 16), "dec_b1": (16,), "dec_W2": (16, 32), "dec_b2": (32,), "dec_W3": (32, 64), "dec_b3": (64,),
    }


def test_vae_forward_pieces_agree():
    params, x, eps = small_vae(11)
    out, _ = vae_forward(params, x, eps)
    mu, logvar = vae_encode(params, x)
    np.testing.assert_array_equal(out["mu"], mu)
    np.testing.assert_array_equal(out["logvar"], logvar)
    np.testing.assert_array_equal(out["z"], reparameterize(mu, logvar, eps))
    np.testing.assert_array_equal(out["x_logits"], vae_decode(params, out["z"]))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("seed", [12, 13])
def test_vae_loss_is_minus_the_mean_elbo(activation, seed):
    params, x, eps = small_vae(seed, activation)
    loss, parts, _ = vae_loss_and_grads(params, x, eps, activation)
    out, _ = vae_forward(params, x, eps, activation)
    assert loss == pytest.approx(-np.mean(elbo(out["x_logits"], x, out["mu"], out["logvar"])), rel=1e-13)
    assert loss == pytest.approx(parts["reconstruction"] + parts["kl"], rel=1e-15)
    assert parts["kl"] == pytest.approx(np.mean(gaussian_kl(out["mu"], out["logvar"])), rel=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("seed, hidden, latent", [(14, (6,), 2), (15, (5, 4), 3), (16, (3,), 1)])
def test_vae_gradients_match_finite_differences(activation, seed, hidden, latent):
    params, x, eps = small_vae(seed, activation, hidden=hidden, latent=latent)
    _, _, grads = vae_loss_and_grads(params, x, eps, activation)
    assert list(grads) == list(params)
    for key, value in params.items():
        loss_of = lambda v, key=key: vae_loss_and_grads({**params, key: v}, x, eps, activation)[0]
        assert_gradient(grads[key], numerical_gradient(loss_of, value, eps=FD_STEP))


def test_vae_accepts_images_and_leaves_inputs_alone():
    params, x, eps = small_vae(17, data_dim=16)
    images = x.reshape(4, 1, 4, 4)
    copies = {k: v.copy() for k, v in params.items()}, images.copy(), eps.copy()
    loss_img, _, grads_img = vae_loss_and_grads(params, images, eps)
    loss_flat, _, grads_flat = vae_loss_and_grads(params, x, eps)
    assert loss_img == loss_flat
    for key in params:
        np.testing.assert_array_equal(grads_img[key], grads_flat[key])
        np.testing.assert_array_equal(params[key], copies[0][key])
    np.testing.assert_array_equal(images, copies[1])
    np.testing.assert_array_equal(eps, copies[2])


def test_vae_bad_input():
    params, x, eps = small_vae(18)
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]"):
        vae_loss_and_grads(params, x + 1.0, eps)
    with pytest.raises(ValueError, match=r"eps has shape \(4, 3\)"):
        vae_loss_and_grads(params, x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"neither encoder"):
        vae_loss_and_grads({**params, "W9": np.zeros(1)}, x, eps)
    with pytest.raises(ValueError, match=r"keys starting with 'dec_'"):
        vae_decode({k: v for k, v in params.items() if k.startswith("enc_")}, eps)
    odd = init_vae(10, [6], 2, 0)
    odd["enc_W2"], odd["enc_b2"] = np.zeros((6, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"expected \(N, 2J\)"):
        vae_encode(odd, x)


def test_a_few_adam_free_gradient_steps_lower_the_loss():
    # Plain gradient descent on a fixed batch and fixed noise must lower the loss.
    params, x, eps = small_vae(19)
    loss0, _, grads = vae_loss_and_grads(params, x, eps)
    for _ in range(20):
        params = {k: params[k] - 0.05 * grads[k] for k in params}
        loss, _, grads = vae_loss_and_grads(params, x, eps)
    assert loss < loss0
