"""Tests for dlmath.losses: closed forms, gradients, stability, dtypes, bad input."""
import math
import warnings

import numpy as np
import pytest

from dlmath.activations import sigmoid, softmax
from dlmath.gradcheck import numerical_gradient, rel_error
from dlmath.losses import (
    bce_with_logits,
    bce_with_logits_grad,
    binary_cross_entropy,
    cross_entropy,
    cross_entropy_grad,
    entropy,
    kl_divergence,
    mse,
    mse_grad,
    one_hot,
)

SHAPES = [(1,), (5,), (3, 4), (2, 3, 2)]
CE_SHAPES = [(1, 1), (1, 4), (4, 3), (7, 10)]
ELEMENTWISE_LOSSES = [mse, mse_grad, binary_cross_entropy, bce_with_logits, bce_with_logits_grad]


def naive_cross_entropy(logits, labels):
    """Loop reference straight from the definition -mean log(e^{z_y} / sum_j e^{z_j})."""
    total = 0.0
    for row, label in zip(logits, labels):
        denom = sum(math.exp(v) for v in row)
        total += -math.log(math.exp(row[label]) / denom)
    return total / len(labels)


# ---------------------------------------------------------------- closed forms

def test_mse_known_value():
    # differences 0, 0, 2 -> squares 0, 0, 4 -> mean 4/3
    assert mse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(4.0 / 3.0, rel=1e-15)


def test_mse_is_mean_over_every_element():
    y_pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert mse(y_pred, np.zeros((2, 2))) == pytest.approx((1 + 4 + 9 + 16) / 4, rel=1e-15)


def test_mse_grad_known_value():
    # 2 (y_pred - y_true) / n with n = 3
    g = mse_grad([1.0, 2.0, 3.0], [1.0, 0.0, 6.0])
    np.testing.assert_allclose(g, [0.0, 4.0 / 3.0, -2.0], rtol=1e-15)


@pytest.mark.parametrize("y", [0.0, 0.3, 1.0])
def test_bce_at_one_half_is_log_two(y):
    # y log(1/2) + (1 - y) log(1/2) = log(1/2) for any target y
    loss = binary_cross_entropy([0.5, 0.5], [y, y])
    assert loss == pytest.approx(math.log(2.0), rel=1e-15)


def test_bce_known_values():
    # -(log 0.9 + log(1 - 0.2)) / 2
    expected = -(math.log(0.9) + math.log(0.8)) / 2
    assert binary_cross_entropy([0.9, 0.2], [1.0, 0.0]) == pytest.approx(expected, rel=1e-14)


def test_bce_soft_target():
    # y = 0.25, p = 0.75: -(0.25 log 0.75 + 0.75 log 0.25)
    expected = -(0.25 * math.log(0.75) + 0.75 * math.log(0.25))
    assert binary_cross_entropy([0.75], [0.25]) == pytest.approx(expected, rel=1e-14)


def test_bce_certain_and_correct_costs_zero():
    assert binary_cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_certain_and_wrong_is_clipped_at_log_eps(dtype):
    eps = float(np.finfo(dtype).eps)
    p = np.array([0.0, 1.0], dtype=dtype)
    y = np.array([1.0, 0.0], dtype=dtype)
    loss = binary_cross_entropy(p, y)
    assert math.isfinite(loss)
    assert loss == pytest.approx(-math.log(eps), rel=1e-6)


def test_bce_with_logits_at_zero_is_log_two():
    loss = bce_with_logits([0.0, 0.0, 0.0], [0.0, 1.0, 0.4])
    assert loss == pytest.approx(math.log(2.0), rel=1e-15)


def test_bce_with_logits_known_value():
    # z = 2, y = 1: -log sigma(2) = log(1 + e^{-2})
    assert bce_with_logits([2.0], [1.0]) == pytest.approx(math.log1p(math.exp(-2.0)), rel=1e-15)


def test_bce_with_logits_grad_known_value():
    # (sigma(0) - y) / n = (0.5 - y) / 2
    g = bce_with_logits_grad([0.0, 0.0], [1.0, 0.0])
    np.testing.assert_allclose(g, [-0.25, 0.25], rtol=1e-15)


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_cross_entropy_of_uniform_logits_is_log_k(k):
    logits = np.full((4, k), 3.7)
    labels = np.arange(4) % k
    assert cross_entropy(logits, labels) == pytest.approx(math.log(k), abs=1e-15)


@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_matches_naive_loop(shape):
    rng = np.random.default_rng(11)
    logits = rng.normal(scale=3.0, size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    expected = naive_cross_entropy(logits.tolist(), labels.tolist())
    assert cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_cross_entropy_grad_rows_sum_to_zero():
    # softmax rows and one-hot rows both sum to 1
    rng = np.random.default_rng(12)
    g = cross_entropy_grad(rng.normal(size=(6, 5)), rng.integers(0, 5, size=6))
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-16)


def test_one_hot_known():
    expected = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = one_hot([2, 0, 2], 3)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float64


def test_one_hot_accepts_whole_number_floats_and_empty():
    np.testing.assert_array_equal(one_hot(np.array([1.0]), 2), [[0.0, 1.0]])
    assert one_hot(np.array([], dtype=np.int64), 4).shape == (0, 4)


# ------------------------------------------------------ finite-difference checks

@pytest.mark.parametrize("shape", SHAPES)
def test_mse_grad_matches_finite_differences(shape):
    rng = np.random.default_rng(1)
    y_pred = rng.normal(size=shape)
    y_true = rng.normal(size=shape)
    num = numerical_gradient(lambda p: mse(p, y_true), y_pred)
    assert rel_error(mse_grad(y_pred, y_true), num) < 1e-7


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_with_logits_grad_matches_finite_differences(shape, soft):
    rng = np.random.default_rng(2)
    z = rng.normal(scale=2.0, size=shape)
    y = rng.uniform(size=shape) if soft else rng.integers(0, 2, size=shape).astype(float)
    num = numerical_gradient(lambda v: bce_with_logits(v, y), z)
    assert rel_error(bce_with_logits_grad(z, y), num) < 1e-7


@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_grad_matches_finite_differences(shape):
    # Logits of scale 0.5 keep every softmax entry, hence every gradient entry,
    # well away from 0, where an elementwise relative error is meaningful.
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=0.5, size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    num = numerical_gradient(lambda z: cross_entropy(z, labels), logits)
    assert rel_error(cross_entropy_grad(logits, labels), num) < 1e-7


@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_grad_matches_finite_differences_wide_logits(shape):
    # With wide logits some gradient entries are ~1e-7, and the central
    # difference has an absolute rounding error of about
    # machine_eps * |L| / h ~ 1e-16 * 10 / 1e-6 = 1e-9, so the relative error of
    # those entries is meaningless: compare with an absolute floor instead.
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=3.0, size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    num = numerical_gradient(lambda z: cross_entropy(z, labels), logits)
    np.testing.assert_allclose(cross_entropy_grad(logits, labels), num, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_bce_with_logits_agrees_with_bce_of_sigmoid(shape, soft):
    rng = np.random.default_rng(4)
    z = rng.uniform(-8.0, 8.0, size=shape)
    y = rng.uniform(size=shape) if soft else rng.integers(0, 2, size=shape).astype(float)
    assert bce_with_logits(z, y) == pytest.approx(binary_cross_entropy(sigmoid(z), y), rel=1e-12)


# ------------------------------------------------------------- extreme inputs

def _no_warnings(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


@pytest.mark.parametrize(
    "z, y, expected",
    [
        ([1e4], [0.0], 1e4),    # confidently wrong: loss is z
        ([-1e4], [1.0], 1e4),
        ([1e4], [1.0], 0.0),    # confidently right: loss 0
        ([-1e4], [0.0], 0.0),
        ([1e4, -1e4], [0.5, 0.5], 5e3),  # max(z,0) - z/2 = |z|/2
    ],
)
def test_bce_with_logits_extreme_logits(z, y, expected):
    loss = _no_warnings(bce_with_logits, z, y)
    assert math.isfinite(loss)
    assert loss == pytest.approx(expected, rel=1e-15, abs=1e-300)
    g = _no_warnings(bce_with_logits_grad, z, y)
    assert np.all(np.isfinite(g))


def test_bce_with_logits_grad_extreme_values():
    # sigma(1e4) = 1, sigma(-1e4) = 0, n = 2
    g = _no_warnings(bce_with_logits_grad, [1e4, -1e4], [0.0, 0.0])
    np.testing.assert_array_equal(g, [0.5, 0.0])


def test_bce_at_exact_zero_and_one_no_warnings():
    loss = _no_warnings(binary_cross_entropy, [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.3])
    assert math.isfinite(loss)


@pytest.mark.parametrize(
    "logits, labels, expected",
    [
        ([[1e4, 0.0]], [0], 0.0),
        ([[1e4, 0.0]], [1], 1e4),
        ([[1e4, -1e4]], [1], 2e4),
        ([[-1e4, -1e4, -1e4]], [2], math.log(3.0)),  # uniform, however large
    ],
)
def test_cross_entropy_extreme_logits(logits, labels, expected):
    loss = _no_warnings(cross_entropy, logits, labels)
    assert math.isfinite(loss)
    assert loss == pytest.approx(expected, rel=1e-12, abs=1e-300)
    g = _no_warnings(cross_entropy_grad, logits, labels)
    assert np.all(np.isfinite(g))


def test_cross_entropy_grad_extreme_values():
    # softmax([1e4, -1e4]) = [1, 0]; label 1 -> ([1, 0] - [0, 1]) / 1
    g = _no_warnings(cross_entropy_grad, [[1e4, -1e4]], [1])
    np.testing.assert_array_equal(g, [[1.0, -1.0]])


# ------------------------------------------------------------------- dtypes

@pytest.mark.parametrize(
    "fn, args",
    [
        (mse, ([1.0, 2.0], [0.0, 1.0])),
        (binary_cross_entropy, ([0.2, 0.7], [0.0, 1.0])),
        (bce_with_logits, ([0.2, -0.7], [0.0, 1.0])),
        (cross_entropy, ([[0.2, -0.7]], [1])),
        (mse, (np.float32([1.0]), np.float32([0.5]))),
        (cross_entropy, (np.float32([[0.2, -0.7]]), [1])),
    ],
)
def test_losses_return_python_float(fn, args):
    assert type(fn(*args)) is float


def test_mse_integer_input_is_computed_in_float():
    # in int8, 100 - (-100) = 200 would wrap around
    a = np.array([100], dtype=np.int8)
    b = np.array([-100], dtype=np.int8)
    assert mse(a, b) == 40000.0
    g = mse_grad(a, b)
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [400.0])


def test_integer_inputs_give_float64_gradients():
    assert bce_with_logits_grad(np.array([0, 1]), np.array([1, 0])).dtype == np.float64
    g = cross_entropy_grad(np.array([[0, 0]]), np.array([0]))
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [[-0.5, 0.5]], rtol=1e-15)
    assert binary_cross_entropy(np.array([0, 1]), np.array([0, 1])) == 0.0


@pytest.mark.parametrize("other", [np.float32, np.float64])
def test_float32_preserved_by_gradients(other):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    y = rng.uniform(size=(3, 4)).astype(other)
    assert mse_grad(x, y).dtype == np.float32
    assert bce_with_logits_grad(x, y).dtype == np.float32
    assert cross_entropy_grad(x, np.array([0, 3, 1])).dtype == np.float32


def test_float32_gradients_match_float64():
    rng = np.random.default_rng(6)
    z = rng.normal(size=(4, 3))
    labels = np.array([0, 2, 1, 1])
    g32 = cross_entropy_grad(z.astype(np.float32), labels)
    np.testing.assert_allclose(g32, cross_entropy_grad(z, labels), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn", ELEMENTWISE_LOSSES)
def test_shape_mismatch_names_both_shapes(fn):
    first = np.full((4, 1), 0.5)
    second = np.full((4,), 0.5)
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        fn(first, second)


@pytest.mark.parametrize("fn", ELEMENTWISE_LOSSES)
def test_empty_input_is_an_error(fn):
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 3)), np.zeros((0, 3)))


@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_grad])
def test_empty_batch_is_an_error(fn):
    with pytest.raises(ValueError, match="empty batch"):
        fn(np.zeros((0, 3)), np.zeros(0, dtype=int))


@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_grad])
def test_zero_classes_is_an_error(fn):
    with pytest.raises(ValueError, match="K >= 1"):
        fn(np.zeros((2, 0)), [0, 0])


@pytest.mark.parametrize("bad", [-0.1, 1.1, np.nan, -np.inf])
def test_bce_probability_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        binary_cross_entropy([0.5, bad], [0.0, 1.0])


@pytest.mark.parametrize("fn", [binary_cross_entropy, bce_with_logits, bce_with_logits_grad])
@pytest.mark.parametrize("bad", [-0.5, 2.0, np.nan])
def test_bce_target_outside_unit_interval(fn, bad):
    with pytest.raises(ValueError, match=r"y must be in \[0, 1\]"):
        fn([0.5, 0.5], [1.0, bad])


@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_grad])
@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 1.5], "whole numbers"),
        ([0, 3], r"in \[0, 3\)"),
        ([-1, 0], r"in \[0, 3\)"),
        ([True, False], "integers"),
        (["a", "b"], "integers"),
        ([0, 1, 2], r"expected \(2,\)"),
        ([[0], [1]], "1-D"),
    ],
)
def test_cross_entropy_bad_labels(fn, labels, message):
    with pytest.raises(ValueError, match=message):
        fn(np.zeros((2, 3)), labels)


@pytest.mark.parametrize("fn", [cross_entropy, cross_entropy_grad])
@pytest.mark.parametrize("shape", [(3,), (2, 3, 1)])
def test_cross_entropy_logits_must_be_2d(fn, shape):
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, K\)"):
        fn(np.zeros(shape), [0, 0])


def test_one_hot_bad_input():
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        one_hot([], 0)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        one_hot([0], 2.0)
    with pytest.raises(ValueError, match="whole numbers"):
        one_hot([0.5], 2)


@pytest.mark.parametrize("fn", ELEMENTWISE_LOSSES)
def test_non_numeric_input_is_a_type_error(fn):
    with pytest.raises(TypeError, match="real numeric array"):
        fn(["a", "b"], [0.0, 1.0])


def test_non_numeric_logits_is_a_type_error():
    with pytest.raises(TypeError, match="real numeric array"):
        cross_entropy([["a", "b"]], [0])


# ------------------------------------------- entropy and KL divergence (ch. 3)

@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_entropy_of_uniform_is_log_k(k):
    assert entropy(np.full(k, 1.0 / k)) == pytest.approx(math.log(k), rel=1e-14, abs=1e-15)


def test_entropy_known_values_and_zero_terms():
    assert entropy([0.0, 1.0, 0.0]) == 0.0                      # 0 log 0 = 0: certain outcome
    expected = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert entropy([0.25, 0.75, 0.0]) == pytest.approx(expected, rel=1e-15)


def test_entropy_is_between_zero_and_log_k():
    rng = np.random.default_rng(20)
    p = rng.dirichlet(np.full(5, 0.3), size=200)
    h = entropy(p)
    assert h.shape == (200,)
    assert np.all(h >= 0.0) and np.all(h <= math.log(5) + 1e-12)


def test_kl_known_value():
    # p = (1/2, 1/2), q = (1/4, 3/4): 1/2 log 2 + 1/2 log(2/3)
    expected = 0.5 * math.log(2.0) + 0.5 * math.log(2.0 / 3.0)
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected, rel=1e-14)


def test_kl_of_a_distribution_with_itself_is_zero():
    p = np.array([0.2, 0.0, 0.5, 0.3])
    assert kl_divergence(p, p) == 0.0


def test_kl_is_nonnegative_and_decomposes_cross_entropy():
    # H(p, q) = H(p) + KL(p || q), eq-ce-decomposition; KL >= 0, eq-ce-gibbs
    rng = np.random.default_rng(21)
    p = rng.dirichlet(np.ones(4), size=100)
    q = rng.dirichlet(np.ones(4), size=100)
    kl = kl_divergence(p, q)
    assert kl.shape == (100,)
    assert np.all(kl >= 0.0)
    cross = -np.sum(p * np.log(q), axis=-1)
    np.testing.assert_allclose(cross, entropy(p) + kl, rtol=1e-12)


def test_kl_is_infinite_where_q_rules_out_an_outcome_of_p():
    assert _no_warnings(kl_divergence, [0.5, 0.5], [1.0, 0.0]) == math.inf
    # the other way round is finite: p never sees the outcome q rules out
    assert _no_warnings(kl_divergence, [1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2.0), rel=1e-15)


def test_kl_with_one_hot_target_is_cross_entropy_loss():
    # For a one-hot p, H(p) = 0 and KL(p || softmax(z)) is the loss -log p_y.
    rng = np.random.default_rng(22)
    logits = rng.normal(size=(5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    kl = kl_divergence(one_hot(labels, 3), softmax(logits, axis=1))
    assert float(np.mean(kl)) == pytest.approx(cross_entropy(logits, labels), rel=1e-12)


def test_kl_gradient_wrt_logits_is_softmax_minus_target():
    # d/dz KL(t || softmax(z)) = softmax(z) - t for any target distribution t
    rng = np.random.default_rng(23)
    t = rng.dirichlet(np.ones(4))
    z = rng.normal(scale=0.5, size=4)
    num = numerical_gradient(lambda v: kl_divergence(t, softmax(v)), z)
    assert rel_error(softmax(z) - t, num) < 1e-7


def test_entropy_and_kl_extreme_probabilities_no_warnings():
    q = softmax(np.array([1e4, 0.0, -1e4]))     # (1, 0, 0) after underflow
    assert _no_warnings(entropy, q) == 0.0
    assert _no_warnings(kl_divergence, [1.0, 0.0, 0.0], q) == 0.0


def test_entropy_and_kl_dtypes():
    p32 = np.array([0.25, 0.75], dtype=np.float32)
    assert type(entropy(p32)) is float
    assert type(kl_divergence(p32, p32)) is float
    assert entropy(np.full((2, 2), 0.5, dtype=np.float32)).dtype == np.float32
    assert kl_divergence(np.array([[1, 0]]), np.array([[1, 0]])).dtype == np.float64


@pytest.mark.parametrize("fn", [entropy, lambda p: kl_divergence(p, p)])
@pytest.mark.parametrize(
    "p, message",
    [
        ([0.5, 0.6], "sum to 1"),
        ([-0.5, 1.5], r"must be in \[0, 1\]"),
        ([np.nan, 1.0], r"must be in \[0, 1\]"),
        (0.5, "K >= 1"),
        (np.zeros((2, 0)), "K >= 1"),
    ],
)
def test_entropy_and_kl_bad_distributions(fn, p, message):
    with pytest.raises(ValueError, match=message):
        fn(p)


def test_kl_shape_mismatch_and_non_numeric():
    with pytest.raises(ValueError, match=r"\(2,\).*\(1, 2\)"):
        kl_divergence([0.5, 0.5], [[0.5, 0.5]])
    with pytest.raises(TypeError, match="real numeric array"):
        entropy(["a", "b"])


# ------------------------------------- chapter 2: MAE and the linear model's MSE

from dlmath.backprop import linear_backward, linear_forward  # noqa: E402
from dlmath.losses import (  # noqa: E402
    linear_regression_normal_equations,
    mae,
    mae_grad,
    mse_linear_grad,
)


def test_mae_known_value():
    # |0| + |-2| + |3| = 5 over n = 3
    assert mae([1.0, 2.0, 3.0], [1.0, 4.0, 0.0]) == pytest.approx(5.0 / 3.0, rel=1e-15)


def test_mae_grad_known_value_and_zero_at_ties():
    # sign(y_pred - y_true) / n, and 0 where they are equal
    g = mae_grad([1.0, 2.0, 3.0, 5.0], [1.0, 4.0, 0.0, 5.0])
    np.testing.assert_array_equal(g, [0.0, -0.25, 0.25, 0.0])


@pytest.mark.parametrize("shape", SHAPES)
def test_mae_grad_matches_finite_differences(shape):
    # Away from ties (|y_pred - y_true| >> eps) the absolute value is differentiable.
    rng = np.random.default_rng(21)
    y_true = rng.normal(size=shape)
    y_pred = y_true + rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)
    num = numerical_gradient(lambda p: mae(p, y_true), y_pred)
    assert rel_error(mae_grad(y_pred, y_true), num) < 1e-7


def test_mae_integer_input_and_float32():
    a = np.array([100], dtype=np.int8)
    b = np.array([-100], dtype=np.int8)
    assert mae(a, b) == 200.0
    assert mae_grad(a, b).dtype == np.float64
    assert mae_grad(np.float32([1.0, 2.0]), np.float64([0.0, 3.0])).dtype == np.float32
    assert type(mae(np.float32([1.0]), np.float32([0.5]))) is float


@pytest.mark.parametrize("fn", [mae, mae_grad])
def test_mae_bad_input(fn):
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        fn(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(TypeError, match="real numeric array"):
        fn(["a", "b"], [0.0, 1.0])


def _linear_data(n=30, d=3, seed=22):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    b = float(rng.normal())
    y = rng.normal(size=n)
    return X, w, b, y


def test_mse_linear_grad_known_value():
    # X = [[1], [2]], w = [1], b = 0, y = [0, 0]: r = [1, 2],
    # dw = 2/2 * (1*1 + 2*2) = 5, db = 2/2 * (1 + 2) = 3
    dw, db = mse_linear_grad([[1.0], [2.0]], [1.0], 0.0, [0.0, 0.0])
    np.testing.assert_allclose(dw, [5.0], rtol=1e-15)
    assert db == pytest.approx(3.0, rel=1e-15)
    assert type(db) is float


@pytest.mark.parametrize("n, d", [(1, 1), (5, 1), (30, 3), (8, 6)])
def test_mse_linear_grad_matches_finite_differences(n, d):
    X, w, b, y = _linear_data(n, d)
    dw, db = mse_linear_grad(X, w, b, y)
    num_w = numerical_gradient(lambda v: mse(X @ v + b, y), w)
    num_b = numerical_gradient(lambda v: mse(X @ w + v[0], y), np.array([b]))
    assert dw.shape == (d,)
    assert rel_error(dw, num_w) < 1e-7
    assert rel_error(np.array([db]), num_b) < 1e-7


def test_mse_linear_grad_is_linear_backward_of_mse_grad():
    # The (N, 1) form: W (D, 1), b (1,), dout = mse_grad of the (N, 1) output.
    X, w, b, y = _linear_data()
    out, cache = linear_forward(X, w[:, None], np.array([b]))
    _, dW, db_vec = linear_backward(mse_grad(out, y[:, None]), cache)
    dw, db = mse_linear_grad(X, w, b, y)
    np.testing.assert_allclose(dW[:, 0], dw, rtol=1e-13)
    np.testing.assert_allclose(db_vec[0], db, rtol=1e-13)


@pytest.mark.parametrize(
    "X, w, b, y, message",
    [
        (np.zeros((3, 2)), np.zeros(3), 0.0, np.zeros(3), r"w has shape \(3,\); expected \(2,\)"),
        (np.zeros((3, 2)), np.zeros(2), np.zeros(1), np.zeros(3), r"b has shape \(1,\)"),
        (np.zeros((3, 2)), np.zeros(2), 0.0, np.zeros((3, 1)), r"y has shape \(3, 1\); expected \(3,\)"),
        (np.zeros(3), np.zeros(1), 0.0, np.zeros(3), r"X must be 2-D"),
        (np.zeros((0, 2)), np.zeros(2), 0.0, np.zeros(0), "empty batch"),
    ],
)
def test_mse_linear_grad_bad_shapes(X, w, b, y, message):
    with pytest.raises(ValueError, match=message):
        mse_linear_grad(X, w, b, y)


def test_normal_equations_recover_noiseless_parameters():
    rng = np.random.default_rng(23)
    X = rng.normal(size=(20, 3))
    w_true, b_true = np.array([1.5, -2.0, 0.25]), 0.75
    w, b = linear_regression_normal_equations(X, X @ w_true + b_true)
    np.testing.assert_allclose(w, w_true, rtol=1e-12)
    assert b == pytest.approx(b_true, rel=1e-12)
    assert type(b) is float and w.dtype == np.float64


def test_normal_equations_zero_the_gradient_and_match_lstsq():
    X, _, _, y = _linear_data(40, 4)
    w, b = linear_regression_normal_equations(X, y)
    dw, db = mse_linear_grad(X, w, b, y)
    np.testing.assert_allclose(dw, 0.0, atol=1e-13)
    assert abs(db) < 1e-13
    A = np.hstack([X, np.ones((40, 1))])
    theta, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(np.r_[w, b], theta, rtol=1e-10, atol=1e-12)


def test_normal_equations_simple_regression_closed_form():
    # D = 1: w = cov(x, y) / var(x), b = mean(y) - w mean(x)
    rng = np.random.default_rng(24)
    x = rng.uniform(-1, 3, size=25)
    y = 2.0 * x - 1.0 + rng.normal(size=25)
    w, b = linear_regression_normal_equations(x[:, None], y)
    slope = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    assert w[0] == pytest.approx(slope, rel=1e-12)
    assert b == pytest.approx(y.mean() - slope * x.mean(), rel=1e-12)


def test_normal_equations_without_features_give_the_mean():
    y = np.array([1.0, 2.0, 6.0])
    w, b = linear_regression_normal_equations(np.zeros((3, 0)), y)
    assert w.shape == (0,)
    assert b == pytest.approx(3.0, rel=1e-15)


def test_ridge_normal_equations_zero_the_ridge_gradient():
    X, _, _, y = _linear_data(15, 3)
    lam = 0.3
    w, b = linear_regression_normal_equations(X, y, l2=lam)
    dw, db = mse_linear_grad(X, w, b, y)
    np.testing.assert_allclose(dw + 2 * lam * w, 0.0, atol=1e-13)   # bias not penalised
    assert abs(db) < 1e-13
    w0, _ = linear_regression_normal_equations(X, y)
    assert np.linalg.norm(w) < np.linalg.norm(w0)                   # ridge shrinks w


def test_ridge_makes_an_underdetermined_problem_solvable():
    X = np.array([[1.0, 2.0], [2.0, 4.0]])   # collinear columns
    y = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="linearly dependent"):
        linear_regression_normal_equations(X, y)
    w, b = linear_regression_normal_equations(X, y, l2=0.1)
    assert np.all(np.isfinite(w)) and math.isfinite(b)


@pytest.mark.parametrize(
    "X, y, l2, message",
    [
        (np.zeros((3, 1)), np.zeros((3, 1)), 0.0, r"y has shape \(3, 1\); expected \(3,\)"),
        (np.zeros(3), np.zeros(3), 0.0, r"X must be 2-D"),
        (np.zeros((0, 1)), np.zeros(0), 0.0, "empty batch"),
        (np.ones((3, 1)), np.zeros(3), 0.0, "linearly dependent"),   # constant feature
        (np.zeros((1, 1)), np.zeros(1), 0.0, "linearly dependent"),  # N < D + 1
        (np.zeros((1, 1)), np.zeros(1), 0.0, r"use at least D \+ 1 examples"),
        (np.eye(3), np.zeros(3), -1.0, "l2 must be"),
        (np.eye(3), np.zeros(3), np.nan, "l2 must be"),
        (np.eye(3), np.zeros(3), np.inf, "l2 must be"),
        (np.eye(3), np.zeros(3), True, "l2 must be"),
        (np.eye(3), np.zeros(3), np.array([0.1]), "l2 must be"),
    ],
)
def test_normal_equations_bad_input(X, y, l2, message):
    with pytest.raises(ValueError, match=message):
        linear_regression_normal_equations(X, y, l2=l2)


def test_normal_equations_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="real numeric array"):
        linear_regression_normal_equations(np.array([["a"], ["b"]]), np.zeros(2))


def test_certain_correct_prediction_costs_positive_zero():
    loss = binary_cross_entropy([1.0, 0.0], [1.0, 0.0])
    assert loss == 0.0 and math.copysign(1.0, loss) == 1.0


# ------------------------------------------------- issue 10: edge cases


@pytest.mark.parametrize(
    "dtype, gap, rel", [(np.float32, 10.0, 2.5e-7), (np.float32, 15.0, 2.5e-7), (np.float64, 40.0, 1e-15)]
)
def test_cross_entropy_of_a_confident_correct_prediction_is_accurate(dtype, gap, rel):
    # -log softmax([gap, 0])[0] = log(1 + e^-gap), a small number that log(sum) rounds badly.
    loss = cross_entropy(np.array([[gap, 0.0]], dtype=dtype), [0])
    assert loss == pytest.approx(math.log1p(math.exp(-gap)), rel=rel, abs=0)


def test_cross_entropy_grad_is_consistent_with_the_loss_at_wide_logits():
    rng = np.random.default_rng(31)
    logits = 15.0 * rng.normal(size=(5, 4))
    labels = np.argmax(logits, axis=1)              # confident, mostly correct predictions
    labels[0] = (labels[0] + 1) % 4                 # and one confident wrong one
    num = numerical_gradient(lambda z: cross_entropy(z, labels), logits)
    grad = cross_entropy_grad(logits, labels)
    assert np.max(np.abs(num - grad)) < 1e-8
    np.testing.assert_allclose(grad, (softmax(logits, axis=1) - one_hot(labels, 4)) / 5, rtol=0, atol=1e-17)


@pytest.mark.parametrize("logits", [[[0.0, -1000.0]], [[1e4, 0.0], [1e4, -5.0]]])
def test_cross_entropy_of_a_certain_correct_prediction_is_positive_zero(logits):
    loss = cross_entropy(logits, [0] * len(logits))
    assert loss == 0.0 and math.copysign(1.0, loss) == 1.0


def _offset_data(offset, seed=41, n=50):
    """x = offset + t with t on a grid of quarters (so that x - offset = t exactly)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 41, size=n) / 4.0
    y = 2.5 * t - 1.0 + 0.3 * rng.normal(size=n)
    return t, offset + t, y


def _ridge_reference(T, y, lam):
    """Ridge by the centred normal equations, for well-scaled, centred-friendly T."""
    Tc, yc = T - T.mean(axis=0), y - y.mean()
    w = np.linalg.solve(Tc.T @ Tc + len(y) * lam * np.eye(T.shape[1]), Tc.T @ yc)
    return w, y.mean() - T.mean(axis=0) @ w


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e7, 1e8, 1e10])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_normal_equations_are_exact_for_offset_features(offset, l2):
    # Timestamps: a huge offset and a small spread. The slope does not depend on the offset;
    # the uncentred A^T A of the old code was 0.8% off at 1e7 and "singular" from 1e8.
    t, x, y = _offset_data(offset)
    w_ref, b_ref = _ridge_reference(t[:, None], y, l2)
    w, b = linear_regression_normal_equations(x[:, None], y, l2=l2)
    assert w[0] == pytest.approx(w_ref[0], rel=1e-11)
    assert b == pytest.approx(b_ref - w_ref[0] * offset, rel=1e-11, abs=1e-11)


def test_normal_equations_with_several_offset_features():
    rng = np.random.default_rng(42)
    T = rng.integers(-40, 41, size=(60, 3)) / 4.0
    offsets = np.array([1.6e9, -3e7, 0.0])           # two timestamp-like columns, one plain
    y = T @ np.array([0.5, -2.0, 1.25]) + 3.0 + 0.1 * rng.normal(size=60)
    w_ref, b_ref = _ridge_reference(T, y, 0.0)
    w, b = linear_regression_normal_equations(T + offsets, y)
    np.testing.assert_allclose(w, w_ref, rtol=1e-9)
    assert b == pytest.approx(b_ref - offsets @ w_ref, rel=1e-8)


@pytest.mark.parametrize("scale", [1e-200, 1e-8, 1.0, 1e8, 1e200])
def test_normal_equations_do_not_depend_on_the_units(scale):
    # X in other units (x * scale) gives w / scale and the same b, even where X^T X would
    # underflow or overflow.
    rng = np.random.default_rng(43)
    T = rng.normal(size=(30, 2))
    y = T @ np.array([3.0, -1.0]) + 1.0 + 0.1 * rng.normal(size=30)
    w_ref, b_ref = _ridge_reference(T, y, 0.0)
    w, b = linear_regression_normal_equations(T * scale, y)
    np.testing.assert_allclose(w * scale, w_ref, rtol=1e-12)
    assert b == pytest.approx(b_ref, rel=1e-12)


@pytest.mark.parametrize("scale", [1e-100, 1e-5, 1.0, 1e5, 1e100])
def test_ridge_normal_equations_in_other_units(scale):
    # lambda ||w||^2 with X = T * scale is ridge on T with lambda / scale^2.
    rng = np.random.default_rng(44)
    T = rng.normal(size=(20, 3))
    y = rng.normal(size=20)
    w_ref, b_ref = _ridge_reference(T, y, 0.3)
    w, b = linear_regression_normal_equations(T * scale, y, l2=0.3 * scale**2)
    np.testing.assert_allclose(w * scale, w_ref, rtol=1e-12)
    assert b == pytest.approx(b_ref, rel=1e-12)


def test_normal_equations_with_huge_targets_are_finite():
    t, x, _ = _offset_data(0.0)
    w, b = linear_regression_normal_equations(x[:, None], 1e300 * (2.0 * t + 1.0))
    assert w[0] == pytest.approx(2e300, rel=1e-12) and b == pytest.approx(1e300, rel=1e-12)


@pytest.mark.parametrize(
    "X",
    [
        np.c_[np.arange(10.0), 2.0 * np.arange(10.0)],                    # duplicated feature
        np.c_[np.arange(10.0), np.arange(10.0) + 1e8],                    # the same, offset
        np.c_[np.arange(10.0), np.full(10, 0.1)],                         # constant feature
        np.c_[np.arange(10.0), np.full(10, 0.3)],                         # its mean is rounded
        np.zeros((2, 2)) + [[0.0, 1.0], [1.0, 0.0]],                      # N < D + 1
    ],
)
def test_rank_deficient_design_gets_a_clear_error(X):
    with pytest.raises(ValueError, match="linearly dependent") as info:
        linear_regression_normal_equations(X, np.arange(len(X), dtype=float))
    assert not isinstance(info.value, np.linalg.LinAlgError)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_normal_equations_reject_non_finite_input(bad, where):
    X, y = np.c_[np.arange(5.0)], np.arange(5.0) ** 2
    if where == "X":
        X[2, 0] = bad
    else:
        y[2] = bad
    with pytest.raises(ValueError, match=f"{where} contains inf or nan") as info:
        linear_regression_normal_equations(X, y)
    assert not isinstance(info.value, np.linalg.LinAlgError)


def test_normal_equations_overflowing_weights_are_a_clear_error():
    t, x, _ = _offset_data(0.0)
    with pytest.raises(ValueError, match="overflow float64"):
        linear_regression_normal_equations(1e-300 * x[:, None], 1e300 * t)


# --------------------------------------------------------------------------
# non-finite input and overflow: a clear error, never inf, nan or a warning
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [mse, mse_grad, mae, mae_grad, bce_with_logits, bce_with_logits_grad])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_prediction_is_an_error(fn, bad):
    with pytest.raises(ValueError, match="inf or nan"):
        fn([0.5, bad], [1.0, 0.0])


@pytest.mark.parametrize("fn", [mse, mse_grad, mae])
def test_regression_losses_that_overflow_are_errors(fn):
    # (1e308 - (-1e308)) is beyond float64: the loss (or gradient) has no float64 value
    with pytest.raises(ValueError, match="overflows float64"):
        fn([1e308, 1.0], [-1e308, 1.0])


def test_mse_of_huge_but_representable_errors_is_finite():
    assert mse([1e150, 0.0], [-1e150, 0.0]) == pytest.approx(2e300)


def test_mae_grad_keeps_the_sign_where_the_difference_overflows():
    np.testing.assert_array_equal(mae_grad([1e308, -1e308], [-1e308, 1e308]), [0.5, -0.5])


def test_bce_with_logits_mean_that_overflows_is_an_error():
    with pytest.raises(ValueError, match="bce_with_logits: the mean loss overflows"):
        bce_with_logits([1.7e308, 1.7e308], [0.0, 0.0])
