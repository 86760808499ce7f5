"""dlmath.activations: values, derivatives, extreme inputs, dtypes and bad input."""
import math

import numpy as np
import pytest

import dlmath

RNG_SEED = 0


def closed_form_sigmoid(x):
    """The textbook formula, evaluated in Python's math module one number at a time."""
    return np.array([1.0 / (1.0 + math.exp(-v)) if v > -700 else math.exp(v) for v in np.ravel(x)]).reshape(np.shape(x))


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
def test_sigmoid_matches_closed_form(shape):
    x = np.random.default_rng(RNG_SEED).normal(scale=5.0, size=shape)
    np.testing.assert_allclose(dlmath.sigmoid(x), closed_form_sigmoid(x), rtol=1e-14, atol=0)
    assert dlmath.sigmoid(x).shape == shape


def test_sigmoid_known_values():
    np.testing.assert_allclose(dlmath.sigmoid([0.0, math.log(3.0), -math.log(3.0)]), [0.5, 0.75, 0.25], rtol=1e-15)


def test_sigmoid_symmetry():
    x = np.random.default_rng(1).normal(scale=10.0, size=100)
    np.testing.assert_allclose(dlmath.sigmoid(-x), 1.0 - dlmath.sigmoid(x), atol=1e-15)


@pytest.mark.parametrize(
    "f, f_grad",
    [
        (dlmath.sigmoid, dlmath.sigmoid_grad),
        (dlmath.tanh, dlmath.tanh_grad),
        (dlmath.relu, dlmath.relu_grad),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_derivatives_match_finite_differences(f, f_grad, seed):
    x = np.random.default_rng(seed).normal(size=(4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # relu has no derivative at 0
    numeric = dlmath.numerical_gradient(lambda v: np.sum(f(v)), x)
    assert dlmath.rel_error(numeric, f_grad(x)) < 1e-7


def test_sigmoid_grad_formula_and_peak():
    x = np.linspace(-10, 10, 2001)
    e = np.exp(-np.abs(x))  # sigma(x)(1 - sigma(x)) = e^-|x| / (1 + e^-|x|)^2, no cancellation
    np.testing.assert_allclose(dlmath.sigmoid_grad(x), e / (1 + e) ** 2, rtol=1e-14)
    assert dlmath.sigmoid_grad(0.0) == 0.25
    assert np.all(dlmath.sigmoid_grad(x) <= 0.25)


def test_tanh_is_rescaled_sigmoid():
    x = np.linspace(-20, 20, 401)
    np.testing.assert_allclose(dlmath.tanh(x), 2 * dlmath.sigmoid(2 * x) - 1, atol=1e-15)
    np.testing.assert_allclose(dlmath.tanh_grad(x), 1 - np.tanh(x) ** 2, atol=1e-15)


def test_relu_and_its_derivative_at_zero():
    x = np.array([-2.0, -0.0, 0.0, 3.0])
    np.testing.assert_array_equal(dlmath.relu(x), [0.0, 0.0, 0.0, 3.0])
    np.testing.assert_array_equal(dlmath.relu_grad(x), [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "f", [dlmath.sigmoid, dlmath.sigmoid_grad, dlmath.tanh, dlmath.tanh_grad, dlmath.relu, dlmath.relu_grad]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_are_finite_without_warnings(f, dtype):
    # pytest runs with warnings as errors: an overflow warning fails this test.
    x = np.array([-1e308 if dtype == np.float64 else -3e38, -1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    out = f(x)
    assert np.all(np.isfinite(out))
    assert out.dtype == dtype


def test_sigmoid_saturates_exactly():
    assert dlmath.sigmoid(-1000.0) == 0.0
    assert dlmath.sigmoid(1000.0) == 1.0
    assert dlmath.sigmoid(np.float32(-200.0)) == 0.0
    # float32 keeps e^-100 as a subnormal number: the right value, not 0.
    assert dlmath.sigmoid(np.float32(-100.0)) == pytest.approx(math.exp(-100.0), rel=0.05)


@pytest.mark.parametrize("f", [dlmath.sigmoid, dlmath.tanh, dlmath.relu, dlmath.softmax, dlmath.log_softmax])
def test_dtype_rules(f):
    assert f(np.array([1, 2, 3])).dtype == np.float64
    assert f(np.array([True, False])).dtype == np.float64
    assert f(np.array([1.0, 2.0], dtype=np.float32)).dtype == np.float32
    assert isinstance(f([1.0, 2.0]), np.ndarray)


@pytest.mark.parametrize("f", [dlmath.sigmoid, dlmath.sigmoid_grad, dlmath.relu, dlmath.softmax])
@pytest.mark.parametrize("bad", ["abc", ["a", "b"], [object(), object()], [1 + 2j]])
def test_non_numeric_input_is_rejected(f, bad):
    with pytest.raises(TypeError, match="numeric"):
        f(bad)


def test_ragged_input_is_rejected():
    with pytest.raises(ValueError, match="rectangular"):
        dlmath.sigmoid([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_is_normalised_and_matches_definition(axis):
    z = np.random.default_rng(3).normal(size=(4, 5))
    p = dlmath.softmax(z, axis=axis)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-14)
    e = np.exp(z)
    np.testing.assert_allclose(p, e / e.sum(axis=axis, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(dlmath.log_softmax(z, axis=axis), np.log(p), rtol=1e-13)


def test_softmax_is_shift_invariant_and_stable():
    np.testing.assert_array_equal(dlmath.softmax([1000.0, 0.0]), [1.0, 0.0])
    np.testing.assert_allclose(dlmath.softmax([1000.0, 1000.0]), [0.5, 0.5])
    np.testing.assert_allclose(dlmath.softmax([-1000.0, -1001.0]), dlmath.softmax([1.0, 0.0]), rtol=1e-15)
    out = dlmath.log_softmax(np.array([1e4, -1e4, 0.0]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, -2e4, -1e4])


def test_softmax_of_scalar_is_an_error():
    with pytest.raises(ValueError, match="at least one axis"):
        dlmath.softmax(3.0)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_softmax_jacobian_matches_finite_differences(k):
    z = np.random.default_rng(k).normal(size=k)
    jac = dlmath.softmax_jacobian(z)
    assert jac.shape == (k, k)
    for i in range(k):
        row = dlmath.numerical_gradient(lambda v: dlmath.softmax(v)[i], z.copy())
        assert dlmath.rel_error(row, jac[i]) < 1e-7 or np.max(np.abs(row - jac[i])) < 1e-10
    np.testing.assert_allclose(jac, jac.T)
    np.testing.assert_allclose(jac.sum(axis=0), 0.0, atol=1e-15)


def test_softmax_jacobian_rejects_batches():
    with pytest.raises(ValueError, match=r"1-D.*\(2, 3\)"):
        dlmath.softmax_jacobian(np.zeros((2, 3)))


@pytest.mark.parametrize("x", [20.0, 30.0, 36.0, 40.0, 100.0, 700.0])
def test_derivatives_keep_relative_accuracy_in_the_tails(x):
    # sigma'(x) = e^-x / (1 + e^-x)^2 and tanh'(x) = 1 / cosh(x)^2, in Python's math module.
    exact_sigmoid = math.exp(-x) / (1.0 + math.exp(-x)) ** 2
    assert dlmath.sigmoid_grad(x) == pytest.approx(exact_sigmoid, rel=1e-13)
    assert dlmath.sigmoid_grad(-x) == pytest.approx(exact_sigmoid, rel=1e-13)
    if x < 350:
        exact_tanh = 1.0 / math.cosh(x) ** 2
        assert dlmath.tanh_grad(x) == pytest.approx(exact_tanh, rel=1e-13)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def explode(v):
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError):
        dlmath.numerical_gradient(explode, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


# ------------------------------------------------- issue 10: softmax edge cases


@pytest.mark.parametrize(
    "dtype, gap, rel",
    [(np.float64, 20.0, 1e-15), (np.float64, 40.0, 1e-15), (np.float64, 100.0, 1e-15),
     (np.float64, 700.0, 1e-15), (np.float32, 10.0, 2.5e-7), (np.float32, 30.0, 2.5e-7)],
)
def test_log_softmax_keeps_relative_accuracy_in_the_dominant_entry(dtype, gap, rel):
    # log softmax([0, gap])[1] = -log(1 + e^-gap): log of a sum near 1 would round it to 0.
    out = dlmath.log_softmax(np.array([0.0, gap], dtype=dtype))
    assert out.dtype == dtype
    exact = -math.log1p(math.exp(-gap))
    assert float(out[1]) == pytest.approx(exact, rel=rel, abs=0)
    assert float(out[0]) == pytest.approx(-gap + exact, rel=rel, abs=0)


def test_log_softmax_of_tied_maxima_leaves_out_only_one():
    out = dlmath.log_softmax(np.array([[100.0, 100.0, 0.0], [5.0, -30.0, 5.0]]))
    expected_top = [-math.log(2.0 + math.exp(-100.0)), -math.log(2.0 + math.exp(-35.0))]
    np.testing.assert_allclose(out[:, 0], expected_top, rtol=1e-15)
    np.testing.assert_allclose(out[1, 2], expected_top[1], rtol=1e-15)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_softmax_is_exp_of_log_softmax(axis, scale):
    z = scale * np.random.default_rng(5).normal(size=(6, 7))
    np.testing.assert_allclose(dlmath.softmax(z, axis=axis), np.exp(dlmath.log_softmax(z, axis=axis)),
                               rtol=1e-13, atol=0)


@pytest.mark.parametrize("shape, axis", [((0,), -1), ((2, 0), -1), ((2, 0), 1), ((0, 3), 0), ((3, 0, 2), 1)])
@pytest.mark.parametrize("f", [dlmath.softmax, dlmath.log_softmax])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_over_an_empty_axis_is_empty(f, shape, axis, dtype):
    out = f(np.zeros(shape, dtype=dtype), axis=axis)
    assert out.shape == shape and out.dtype == dtype


def test_softmax_of_an_empty_batch_keeps_its_shape():
    assert dlmath.softmax(np.zeros((0, 3)), axis=-1).shape == (0, 3)
    assert dlmath.log_softmax(np.zeros((0, 3)), axis=-1).shape == (0, 3)


def test_softmax_jacobian_of_no_classes_is_the_empty_matrix():
    jac = dlmath.softmax_jacobian(np.zeros(0))
    assert jac.shape == (0, 0) and jac.dtype == np.float64


@pytest.mark.parametrize("f", [dlmath.softmax, dlmath.log_softmax])
def test_softmax_bad_axis(f):
    with pytest.raises(ValueError, match=r"axis 2 is out of range for z of shape \(3, 0\)"):
        f(np.zeros((3, 0)), axis=2)
    with pytest.raises(ValueError, match=r"axis -3 is out of range"):
        f(np.zeros((3, 4)), axis=-3)
    with pytest.raises(TypeError, match="axis must be an int"):
        f(np.zeros((3, 4)), axis=1.0)


# ------------------------------------------------- leaky relu (chapter 1, issue 17)

from dlmath.activations import leaky_relu, leaky_relu_grad  # noqa: E402


def naive_leaky_relu(x, alpha):
    """The definition, one Python float at a time."""
    return np.array([v if v > 0 else alpha * v for v in np.ravel(x)]).reshape(np.shape(x))


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 0.9])
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)])
def test_leaky_relu_matches_definition(alpha, shape):
    x = np.random.default_rng(RNG_SEED).normal(size=shape)
    np.testing.assert_array_equal(leaky_relu(x, alpha), naive_leaky_relu(x, alpha))
    slopes = np.array([1.0 if v > 0 else alpha for v in np.ravel(x)]).reshape(np.shape(x))
    np.testing.assert_array_equal(leaky_relu_grad(x, alpha), slopes)
    assert leaky_relu(x, alpha).shape == shape


def test_leaky_relu_at_zero_and_default_alpha():
    x = np.array([-3.0, -0.0, 0.0, 2.0])
    np.testing.assert_array_equal(leaky_relu(x), [-0.03, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(leaky_relu_grad(x), [0.01, 0.01, 0.01, 1.0])   # left slope at 0
    np.testing.assert_array_equal(leaky_relu(x, 0.0), dlmath.relu(x))            # alpha = 0 is relu
    np.testing.assert_array_equal(leaky_relu_grad(x, 0.0), dlmath.relu_grad(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_leaky_relu_grad_matches_finite_differences(seed, alpha):
    x = np.random.default_rng(seed).normal(size=(4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # no derivative at 0
    numeric = dlmath.numerical_gradient(lambda v: np.sum(leaky_relu(v, alpha)), x)
    assert dlmath.rel_error(numeric, leaky_relu_grad(x, alpha)) < 1e-7


def test_leaky_relu_grad_is_never_zero():
    x = np.linspace(-1e6, 1e6, 1001)
    assert np.all(leaky_relu_grad(x) > 0)
    assert np.all(dlmath.relu_grad(x[x < 0]) == 0)   # where relu's would be


@pytest.mark.parametrize("f", [leaky_relu, leaky_relu_grad])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_dtypes_and_extremes(f, dtype):
    big = np.finfo(dtype).max
    x = np.array([-big, -1000.0, 0.0, 1000.0, big], dtype=dtype)
    out = f(x)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    assert f(np.array([1, -2])).dtype == np.float64
    assert f(np.array([True, False])).dtype == np.float64


def test_leaky_relu_leaves_input_unchanged():
    x = np.array([-1.0, 2.0])
    leaky_relu(x)
    leaky_relu_grad(x)
    np.testing.assert_array_equal(x, [-1.0, 2.0])


@pytest.mark.parametrize("f", [leaky_relu, leaky_relu_grad])
@pytest.mark.parametrize("alpha", [-0.1, 1.0, 2.0, float("nan"), float("inf"), True, False, "0.1", [0.1], None])
def test_leaky_relu_rejects_bad_alpha(f, alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number with 0 <= alpha < 1"):
        f(np.zeros(3), alpha)


@pytest.mark.parametrize("f", [leaky_relu, leaky_relu_grad])
@pytest.mark.parametrize("bad", ["abc", ["a", "b"], [1 + 2j]])
def test_leaky_relu_rejects_non_numeric_input(f, bad):
    with pytest.raises(TypeError, match="numeric"):
        f(bad)
