"""Tests for dlmath.losses: closed forms, gradients, stability, dtypes, bad input."""
import math
import warnings

import numpy as np
import pytest

from dlmath.activations import sigmoid
from dlmath.gradcheck import numerical_gradient, rel_error
from dlmath.losses import (
    bce_with_logits,
    bce_with_logits_grad,
    binary_cross_entropy,
    cross_entropy,
    cross_entropy_grad,
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
