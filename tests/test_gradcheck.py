"""dlmath.gradcheck: the finite-difference gradient and the relative error."""
import numpy as np
import pytest

import dlmath


@pytest.mark.parametrize("shape", [(1,), (3,), (2, 3), (2, 2, 2)])
def test_numerical_gradient_of_quadratic(shape):
    rng = np.random.default_rng(0)
    a = rng.normal(size=shape)
    x = rng.normal(size=shape)
    grad = dlmath.numerical_gradient(lambda v: np.sum(a * v**2), x)
    np.testing.assert_allclose(grad, 2 * a * x, rtol=1e-8, atol=1e-9)


def test_central_difference_error_is_second_order():
    # f = x^3: the central difference is exactly f' + eps^2, the one-sided f' + 3x eps + eps^2.
    x, eps = np.array([1.0]), 1e-3
    grad = dlmath.numerical_gradient(lambda v: v[0] ** 3, x, eps=eps)
    assert abs(grad[0] - 3.0 - eps**2) < 1e-9


def test_x_is_left_unchanged_and_closures_see_the_perturbation():
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    before = w.copy()
    seen = []

    def loss(_):
        seen.append(w.copy())  # a closure over w, as a layer's loss would be
        return float(np.sum(w**2))

    grad = dlmath.numerical_gradient(loss, w)
    np.testing.assert_array_equal(w, before)
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-8)
    assert any(not np.array_equal(s, before) for s in seen)


def test_integer_input_is_copied_to_float():
    x = np.array([1, 2, 3])
    grad = dlmath.numerical_gradient(lambda v: np.sum(v**2), x)
    np.testing.assert_allclose(grad, [2.0, 4.0, 6.0], rtol=1e-8)
    assert x.dtype.kind == "i"


def test_non_scalar_function_is_an_error():
    with pytest.raises(ValueError, match="scalar"):
        dlmath.numerical_gradient(lambda v: v * 2, np.ones(3))


def test_bad_eps_is_an_error():
    with pytest.raises(ValueError, match="eps"):
        dlmath.numerical_gradient(lambda v: np.sum(v), np.ones(3), eps=0.0)


def test_rel_error_definition():
    a = np.array([1.0, 0.0, -2.0])
    b = np.array([1.1, 0.0, -2.0])
    assert dlmath.rel_error(a, b) == pytest.approx(0.1 / 2.1)
    assert dlmath.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert dlmath.rel_error(np.array([0.0]), np.array([1e-13])) == pytest.approx(0.1)  # the 1e-12 floor
    assert isinstance(dlmath.rel_error(a, b), float)


def test_rel_error_does_not_broadcast():
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
        dlmath.rel_error(np.zeros((3, 1)), np.zeros(3))


# ------------------------------------------------- issue 10: edge cases


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 1)])
def test_empty_x_gives_an_empty_gradient(shape):
    calls = []
    grad = dlmath.numerical_gradient(lambda v: calls.append(1) or 0.0, np.zeros(shape))
    assert grad.shape == shape and grad.dtype == np.float64
    assert not calls


@pytest.mark.parametrize("x0", [1e10, -3e12, 1e100, 40.0, -1e-3, 0.0])
def test_relative_step_is_right_for_any_magnitude(x0):
    # f = x^2: the central difference is exactly 2x in exact arithmetic. An absolute step
    # of 1e-6 is below the spacing of floats at 1e10 (1.9e-6) and gave 3.3e10 for 2e10.
    grad = dlmath.numerical_gradient(lambda v: v[0] ** 2, np.array([x0]))
    assert grad[0] == pytest.approx(2.0 * x0, rel=1e-8, abs=1e-12)


def test_step_is_eps_times_the_magnitude():
    # f = x^3: the central difference with step h is 3x^2 + h^2, so it shows which h was used;
    # h = eps max(1, |x|) = 1 at x = 1000, eps = 1e-3.
    grad = dlmath.numerical_gradient(lambda v: v[0] ** 3, np.array([1000.0]), eps=1e-3)
    assert abs(grad[0] - (3e6 + 1.0)) < 1e-3


@pytest.mark.parametrize("x0", [3.0, 0.1, -7.3, 1e10, 1e-7, 0.0, 123456.789])
def test_division_uses_the_step_actually_taken(x0):
    # f(x) = x: f(x+) - f(x-) is exactly x+ - x-, so dividing by the step actually
    # taken gives exactly 1; dividing by 2 eps gives 1 plus a rounding error.
    grad = dlmath.numerical_gradient(lambda v: v[0], np.array([x0]))
    assert grad[0] == 1.0


def test_strided_view_is_perturbed_in_place():
    base = np.arange(12.0).reshape(3, 4)
    view = base.T[1:3]                        # not contiguous, and reshape(-1) would copy
    before = base.copy()
    grad = dlmath.numerical_gradient(lambda _: float(np.sum(base**2)), view)
    np.testing.assert_allclose(grad, 2 * view, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(base, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_x_is_refused(dtype):
    # float32: 40 + 1e-6 rounds back to 40, and the old code returned 0 for 80.
    x = np.array([40.0], dtype=dtype)
    with pytest.raises(ValueError, match=f"{np.dtype(dtype).name}.*float64"):
        dlmath.numerical_gradient(lambda v: float(v[0]) ** 2, x)
    assert x[0] == 40.0


def test_float64_closure_still_sees_the_perturbation_of_a_large_array():
    w = np.array([1e10, -3e10, 5e9])
    grad = dlmath.numerical_gradient(lambda _: float(np.sum(w**2)), w)
    np.testing.assert_allclose(grad, 2 * w, rtol=1e-8)
    np.testing.assert_array_equal(w, [1e10, -3e10, 5e9])


@pytest.mark.parametrize(
    "x, eps, message",
    [
        (np.ones(3), np.inf, "eps must be a finite number > 0"),
        (np.ones(3), np.nan, "eps must be a finite number > 0"),
        (np.ones(3), -1e-6, "eps must be a finite number > 0"),
        (np.ones(3), True, "eps must be a finite number > 0"),
        (np.array([1.0, np.nan]), 1e-6, "x contains inf or nan"),
        (np.array([np.inf]), 1e-6, "x contains inf or nan"),
        (np.ones(2), 1e-20, r"at x\[0\] = 1.0 .* rounds to 0"),
        (np.array([1.7e308]), 0.5, r"at x\[0\] = 1.7e\+308 .* overflows"),
    ],
)
def test_bad_points_and_steps_are_errors(x, eps, message):
    with pytest.raises(ValueError, match=message):
        dlmath.numerical_gradient(lambda v: float(np.sum(v)), x, eps=eps)


def test_read_only_x_is_an_error():
    x = np.ones(3)
    x.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        dlmath.numerical_gradient(lambda v: float(np.sum(v)), x)
