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
