"""Tests for dlmath.gan (chapter 13): the players' losses from logits, D*, JS, the MLP players."""
import contextlib
import warnings

import numpy as np
import pytest

from dlmath import kl_divergence, numerical_gradient, rel_error, sigmoid
from dlmath.backprop import init_mlp, mlp_forward
from dlmath.gan import (
    discriminator_loss,
    discriminator_loss_and_grads,
    discriminator_loss_grad,
    discriminator_loss_naive,
    generator_loss,
    generator_loss_and_grads,
    generator_loss_grad,
    js_divergence,
    optimal_discriminator,
)

FD_STEP = 1e-5  # see tests/test_backprop.py


def assert_gradient(analytic, numeric):
    """Relative 1e-6 with an absolute floor of 1e-9 (a few times the rounding of the difference)."""
    assert analytic.shape == numeric.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@contextlib.contextmanager
def no_warnings():
    """Any warning is an error (pytest's setting too; explicit, so the test says what it checks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------
# the losses
# --------------------------------------------------------------------------

def test_losses_at_zero_logits():
    # D = 1/2 everywhere: L_D = 2 log 2, L_G^NS = log 2, L_G^MM = -log 2.
    assert discriminator_loss(np.zeros(3), np.zeros(5)) == pytest.approx(2 * np.log(2), rel=1e-15)
    assert generator_loss(np.zeros(4)) == pytest.approx(np.log(2), rel=1e-15)
    assert generator_loss(np.zeros(4), non_saturating=False) == pytest.approx(-np.log(2), rel=1e-15)


@pytest.mark.parametrize("n_real, n_fake", [(1, 1), (4, 7), (9, 2), (3, 3)])
def test_losses_match_sigmoid_then_log_for_moderate_logits(n_real, n_fake):
    rng = np.random.default_rng(0)
    real, fake = 3 * rng.normal(size=n_real), 3 * rng.normal(size=n_fake)
    expected_d = -np.mean(np.log(sigmoid(real))) - np.mean(np.log(1 - sigmoid(fake)))
    assert discriminator_loss(real, fake) == pytest.approx(expected_d, rel=1e-12)
    assert discriminator_loss_naive(real, fake) == pytest.approx(expected_d, rel=1e-15)
    assert generator_loss(fake) == pytest.approx(-np.mean(np.log(sigmoid(fake))), rel=1e-12)
    assert generator_loss(fake, False) == pytest.approx(np.mean(np.log(1 - sigmoid(fake))), rel=1e-12)


def test_each_mean_is_over_its_own_batch():
    # Repeating the fake batch changes nothing; a larger real batch does not dilute the fake term.
    real, fake = np.array([0.3, -1.0]), np.array([2.0, -0.5, 0.1])
    assert discriminator_loss(real, np.tile(fake, 4)) == pytest.approx(discriminator_loss(real, fake), rel=1e-14)
    d_real, d_fake = discriminator_loss_grad(real, np.tile(fake, 4))
    assert d_real.shape == (2,) and d_fake.shape == (12,)
    np.testing.assert_allclose(d_fake[:3] * 4, discriminator_loss_grad(real, fake)[1], rtol=1e-14)


@pytest.mark.parametrize(
    "real, fake, expected",
    [
        ([1e4], [-1e4], 0.0),                # a perfect, confident discriminator
        ([-1e4], [-1e4], 1e4),               # -log sigma(-1e4) = 1e4
        ([1e4], [1e4], 1e4),                 # -log(1 - sigma(1e4)) = 1e4
        ([-1e4, 1e4], [1e4, -1e4], 1e4),     # means: 5e3 + 5e3
    ],
)
def test_discriminator_loss_extreme_logits(real, fake, expected):
    with no_warnings():
        assert discriminator_loss(real, fake) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_naive_discriminator_loss_fails_where_the_stable_one_does_not():
    with np.errstate(divide="ignore"):
        assert discriminator_loss_naive([-1e4], [0.0]) == np.inf
    assert discriminator_loss([-1e4], [0.0]) == pytest.approx(1e4 + np.log(2), rel=1e-15)


@pytest.mark.parametrize("non_saturating, logit, expected", [(True, -1e4, 1e4), (True, 1e4, 0.0), (False, -1e4, 0.0), (False, 1e4, -1e4)])
def test_generator_loss_extreme_logits(non_saturating, logit, expected):
    with no_warnings():
        assert generator_loss([logit, logit], non_saturating) == pytest.approx(expected, rel=1e-12, abs=1e-300)
        assert np.all(np.isfinite(generator_loss_grad([logit], non_saturating)))


# --------------------------------------------------------------------------
# the gradients
# --------------------------------------------------------------------------

@pytest.mark.parametrize("n_real, n_fake", [(1, 1), (5, 3), (2, 6)])
@pytest.mark.parametrize("shape_suffix", [(), (1,)])
def test_discriminator_loss_grad_matches_finite_differences(n_real, n_fake, shape_suffix):
    rng = np.random.default_rng(1)
    real, fake = 2 * rng.normal(size=(n_real, *shape_suffix)), 2 * rng.normal(size=(n_fake, *shape_suffix))
    d_real, d_fake = discriminator_loss_grad(real, fake)
    assert d_real.shape == real.shape and d_fake.shape == fake.shape
    assert_gradient(d_real, numerical_gradient(lambda r: discriminator_loss(r, fake), real, eps=FD_STEP))
    assert_gradient(d_fake, numerical_gradient(lambda f: discriminator_loss(real, f), fake, eps=FD_STEP))


@pytest.mark.parametrize("non_saturating", [True, False])
@pytest.mark.parametrize("shape", [(1,), (4,), (3, 1)])
def test_generator_loss_grad_matches_finite_differences(non_saturating, shape):
    rng = np.random.default_rng(2)
    fake = 2 * rng.normal(size=shape)
    grad = generator_loss_grad(fake, non_saturating)
    assert_gradient(grad, numerical_gradient(lambda f: generator_loss(f, non_saturating), fake, eps=FD_STEP))


def test_gradients_keep_full_relative_accuracy_in_the_tails():
    s = np.array([-40.0, 40.0])
    d_real, d_fake = discriminator_loss_grad(s, s)
    np.testing.assert_allclose(d_real, [-1.0 / 2, -np.exp(-40.0) / 2], rtol=1e-14)   # not sigma(40) - 1 = 0
    np.testing.assert_allclose(d_fake, [np.exp(-40.0) / 2, 1.0 / 2], rtol=1e-14)
    np.testing.assert_allclose(generator_loss_grad(s), [-1.0 / 2, -np.exp(-40.0) / 2], rtol=1e-14)
    np.testing.assert_allclose(generator_loss_grad(s, False), [-np.exp(-40.0) / 2, -1.0 / 2], rtol=1e-14)


def test_minimax_saturates_where_the_fakes_are_rejected_and_non_saturating_does_not():
    s = np.array([-10.0])
    minimax, ns = generator_loss_grad(s, False)[0], generator_loss_grad(s)[0]
    assert abs(minimax) < 1e-4 < 0.99 < abs(ns)
    assert np.sign(minimax) == np.sign(ns) == -1.0       # both push the fake logit up


# --------------------------------------------------------------------------
# the optimal discriminator and the JS divergence
# --------------------------------------------------------------------------

def test_optimal_discriminator_known_values():
    out = optimal_discriminator([0.0, 1.0, 3.0, 0.0, 2.0], [0.0, 3.0, 1.0, 5.0, 0.0])
    np.testing.assert_allclose(out, [0.5, 0.25, 0.75, 0.0, 1.0], rtol=1e-15)


def test_optimal_discriminator_extreme_densities():
    with no_warnings():
        out = optimal_discriminator([1e308, 5e-324, 1e308, 1e-300], [1e308, 5e-324, 1e-308, 1e-300])
    np.testing.assert_allclose(out, [0.5, 0.5, 1.0, 0.5], rtol=1e-15)


def test_optimal_discriminator_maximises_the_pointwise_objective():
    # D* maximises a log D + b log(1 - D) over D in (0, 1), for a, b > 0.
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.01, 2, size=20), rng.uniform(0.01, 2, size=20)
    d_star = optimal_discriminator(a, b)
    grid = np.linspace(1e-4, 1 - 1e-4, 20001)
    values = a[:, None] * np.log(grid) + b[:, None] * np.log1p(-grid)
    np.testing.assert_allclose(d_star, grid[np.argmax(values, axis=1)], atol=1e-4)


@pytest.mark.parametrize("bad", [-1.0, np.inf, np.nan])
def test_optimal_discriminator_rejects_bad_densities(bad):
    with pytest.raises(ValueError, match="p_model must be finite densities >= 0"):
        optimal_discriminator([1.0, 1.0], [1.0, bad])


def test_optimal_discriminator_keeps_float32_and_shapes():
    out = optimal_discriminator(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))
    assert out.dtype == np.float32 and out.shape == (2, 3)
    with pytest.raises(ValueError, match=r"p_data has shape \(3,\) but p_model has shape \(2,\)"):
        optimal_discriminator([1, 2, 3], [1, 2])


def test_js_divergence_known_values_and_bounds():
    assert js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.log(2), rel=1e-15)
    assert js_divergence([0.3, 0.7], [0.3, 0.7]) == pytest.approx(0.0, abs=1e-16)
    rng = np.random.default_rng(4)
    p, q = rng.dirichlet(np.ones(6), size=50), rng.dirichlet(np.ones(6), size=50)
    js = js_divergence(p, q)
    assert js.shape == (50,)
    assert np.all(js >= -1e-15) and np.all(js <= np.log(2))
    np.testing.assert_allclose(js, js_divergence(q, p), rtol=1e-12)
    m = (p + q) / 2
    np.testing.assert_allclose(js, 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m), rtol=1e-14)


def test_value_at_the_optimal_discriminator_is_two_js_minus_log_four():
    # On a discrete space: sum p log D* + q log(1 - D*) = 2 JS(p || q) - log 4 (eq-gan-c-js).
    rng = np.random.default_rng(5)
    p, q = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
    d = optimal_discriminator(p, q)
    value = np.sum(p * np.log(d) + q * np.log1p(-d))
    assert value == pytest.approx(2 * js_divergence(p, q) - np.log(4), rel=1e-13)


# --------------------------------------------------------------------------
# bad input, dtypes, no mutation
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [discriminator_loss, discriminator_loss_grad])
def test_empty_batches_are_errors(fn):
    with pytest.raises(ValueError, match=r"fake_logits is empty"):
        fn([1.0], [])
    with pytest.raises(ValueError, match=r"real_logits is empty"):
        fn(np.zeros((0, 1)), [1.0])


@pytest.mark.parametrize("fn", [generator_loss, generator_loss_grad])
def test_generator_bad_input(fn):
    with pytest.raises(ValueError, match="fake_logits is empty"):
        fn([])
    with pytest.raises(TypeError, match="non_saturating must be True or False"):
        fn([1.0], "yes")
    with pytest.raises(TypeError, match="real numeric"):
        fn(["a"])


def test_non_numeric_logits_are_type_errors():
    with pytest.raises(TypeError, match="real numeric"):
        discriminator_loss(["a"], [1.0])
    with pytest.raises(TypeError, match="real numeric"):
        optimal_discriminator(["a"], [1.0])


def test_float32_gradients_and_python_float_losses():
    r, f = np.ones(3, np.float32), -np.ones(2, np.float32)
    assert all(g.dtype == np.float32 for g in discriminator_loss_grad(r, f))
    assert generator_loss_grad(f).dtype == np.float32
    assert isinstance(discriminator_loss(r, f), float) and isinstance(generator_loss(f), float)
    assert discriminator_loss_grad([1], [0])[0].dtype == np.float64


def test_inputs_are_not_modified():
    r, f = np.array([0.5, -2.0]), np.array([1.0, 3.0, -1.0])
    rc, fc = r.copy(), f.copy()
    discriminator_loss(r, f), discriminator_loss_grad(r, f), generator_loss(f), generator_loss_grad(f, False)
    p, q = np.array([0.0, 1.0]), np.array([0.0, 2.0])
    optimal_discriminator(p, q)
    np.testing.assert_array_equal(r, rc)
    np.testing.assert_array_equal(f, fc)
    np.testing.assert_array_equal(p, [0.0, 1.0])
    np.testing.assert_array_equal(q, [0.0, 2.0])


# --------------------------------------------------------------------------
# the two players as MLPs
# --------------------------------------------------------------------------

def players(seed, activation, data_dim=2, noise_dim=3, hidden=5):
    rng = np.random.default_rng(seed)
    g = init_mlp([noise_dim, hidden, data_dim], rng, activation)
    d = init_mlp([data_dim, hidden, hidden, 1], rng, activation)
    g = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in g.items()}
    d = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in d.items()}
    real, z = rng.normal(size=(6, data_dim)), rng.normal(size=(4, noise_dim))
    return g, d, real, z


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("seed", [6, 7])
def test_discriminator_loss_and_grads(activation, seed):
    g, d, real, z = players(seed, activation)
    fake = mlp_forward(g, z, activation)[0]
    loss, grads = discriminator_loss_and_grads(d, real, fake, activation)
    expected = discriminator_loss(mlp_forward(d, real, activation)[0], mlp_forward(d, fake, activation)[0])
    assert loss == pytest.approx(expected, rel=1e-15)
    assert list(grads) == list(d)
    for key, value in d.items():
        loss_of = lambda v, key=key: discriminator_loss_and_grads({**d, key: v}, real, fake, activation)[0]
        assert_gradient(grads[key], numerical_gradient(loss_of, value, eps=FD_STEP))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("non_saturating", [True, False])
def test_generator_loss_and_grads(activation, non_saturating):
    g, d, _, z = players(8, activation)
    loss, grads = generator_loss_and_grads(g, d, z, non_saturating, activation)
    fake_logits = mlp_forward(d, mlp_forward(g, z, activation)[0], activation)[0]
    assert loss == pytest.approx(generator_loss(fake_logits, non_saturating), rel=1e-15)
    assert list(grads) == list(g)
    for key, value in g.items():
        loss_of = lambda v, key=key: generator_loss_and_grads({**g, key: v}, d, z, non_saturating, activation)[0]
        assert_gradient(grads[key], numerical_gradient(loss_of, value, eps=FD_STEP))


def test_players_leave_their_inputs_alone_and_need_one_logit():
    g, d, real, z = players(9, "tanh")
    copies = ({k: v.copy() for k, v in g.items()}, {k: v.copy() for k, v in d.items()}, real.copy(), z.copy())
    fake = mlp_forward(g, z, "tanh")[0]
    discriminator_loss_and_grads(d, real, fake, "tanh")
    generator_loss_and_grads(g, d, z, True, "tanh")
    for original, copy in zip((g, d), copies[:2]):
        for key in original:
            np.testing.assert_array_equal(original[key], copy[key])
    np.testing.assert_array_equal(real, copies[2])
    np.testing.assert_array_equal(z, copies[3])
    two_out = init_mlp([2, 3, 2], 0, "tanh")
    with pytest.raises(ValueError, match=r"expected 1, one logit per example"):
        discriminator_loss_and_grads(two_out, real, fake, "tanh")
    with pytest.raises(ValueError, match=r"expected 1, one logit per example"):
        generator_loss_and_grads(g, two_out, z, True, "tanh")


def test_discriminator_batches_must_share_the_feature_dimension():
    d = init_mlp([2, 3, 1], 0, "tanh")
    with pytest.raises(ValueError, match=r"real has shape \(4, 2\) and fake has shape \(3, 1\)"):
        discriminator_loss_and_grads(d, np.zeros((4, 2)), np.zeros((3, 1)), "tanh")
