"""Tests for dlmath.perceptron: fast against naive, Novikoff's bound and its proof, XOR, bad input."""
import itertools
import math

import numpy as np
import pytest

from dlmath.gradcheck import numerical_gradient, rel_error
from dlmath.perceptron import (
    max_margin,
    max_margin_naive,
    mistake_bound,
    perceptron_criterion,
    perceptron_criterion_subgradient,
    perceptron_margin,
    perceptron_predict,
    perceptron_predict_naive,
    perceptron_radius,
    perceptron_step,
    perceptron_trace,
    perceptron_train,
    perceptron_train_naive,
    separable_points,
    threshold_layer,
    threshold_layer_naive,
)

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([-1, 1, 1, -1])

SEEDS = [0, 1, 2, 3, 4]
# (n, margin, b, dim): wide and narrow margins, offsets of both signs, 2 to 10 dimensions
SEPARABLE_CASES = [
    (50, 0.2, 0.0, 2),
    (200, 0.05, 0.3, 2),
    (200, 0.01, -0.4, 2),
    (100, 0.1, 0.1, 3),
    (300, 0.02, 0.0, 5),
    (150, 0.05, 0.5, 10),
]


def random_direction(dim, seed):
    u = np.random.default_rng(seed).standard_normal(dim)
    return u / np.linalg.norm(u)


def separable(case, seed):
    """Separable data and the unit normal u and offset b they were generated with."""
    n, margin, b, dim = case
    u = random_direction(dim, 1000 + seed)
    x, y = separable_points(n, margin, seed, u=u, b=b)
    return x, y, u, b


def augmented(x):
    return np.column_stack([x, np.ones(len(x))])


# ---------------------------------------------------------------- predict

@pytest.mark.parametrize("n, d", [(1, 1), (5, 3), (40, 7), (0, 2)])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_predict_matches_naive(n, d, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, d)), rng.standard_normal(d), float(rng.standard_normal())
    fast = perceptron_predict(x, w, b)
    assert fast.dtype == np.int64 and fast.shape == (n,)
    np.testing.assert_array_equal(fast, perceptron_predict_naive(x, w, b))
    np.testing.assert_array_equal(fast, np.where(x @ w + b > 0, 1, -1))


def test_predict_boundary_is_minus_one():
    x = np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 0.0]])
    # scores 0, 2, 0: a point on the boundary gets -1
    np.testing.assert_array_equal(perceptron_predict(x, [1.0, 1.0], 0.0), [-1, 1, -1])
    np.testing.assert_array_equal(perceptron_predict_naive(x, [1.0, 1.0], 0.0), [-1, 1, -1])


def test_predict_by_hand():
    x = [[0, 0], [0, 1], [1, 0], [1, 1]]
    # AND: x1 + x2 - 1.5 > 0 only at (1, 1)
    np.testing.assert_array_equal(perceptron_predict(x, [1, 1], -1.5), [-1, -1, -1, 1])


@pytest.mark.parametrize("m", [1, 2, 5])
def test_threshold_layer_is_perceptrons_side_by_side(m):
    rng = np.random.default_rng(m)
    x, W, b = rng.standard_normal((9, 3)), rng.standard_normal((3, m)), rng.standard_normal(m)
    H = threshold_layer(x, W, b)
    assert H.shape == (9, m) and H.dtype == np.int64
    np.testing.assert_array_equal(H, threshold_layer_naive(x, W, b))
    for j in range(m):
        np.testing.assert_array_equal(H[:, j], perceptron_predict(x, W[:, j], b[j]))


def test_threshold_layer_boundary_is_minus_one():
    # scores 0 and 2 for unit 0, 0 and -2 for unit 1: a score of exactly 0 gives -1, as in perceptron_predict
    x, W, b = np.array([[1.0, -1.0], [2.0, 0.0]]), np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2)
    expected = [[-1, -1], [1, -1]]
    np.testing.assert_array_equal(threshold_layer(x, W, b), expected)
    np.testing.assert_array_equal(threshold_layer_naive(x, W, b), expected)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e300), (np.float32, 1e30)])
def test_threshold_layer_huge_inputs_no_warning(dtype, big):
    # x W is far beyond the float range (and inf - inf if formed directly); only the signs matter.
    # Scores / big**2: (0.5, 1.5, -0.75) and (-1.25, 0.75, 0.75), no tie that rounding could decide
    x = np.array([[big, -big], [big, big], [-big, 0.5 * big]], dtype=dtype)
    W = np.array([[big, -0.25 * big], [0.5 * big, big]], dtype=dtype)
    b = np.array([-big, big], dtype=dtype)
    H = threshold_layer(x, W, b)
    np.testing.assert_array_equal(H, [[1, -1], [1, 1], [-1, 1]])
    np.testing.assert_array_equal(H, threshold_layer_naive(x, W, b))
    for j in range(2):
        np.testing.assert_array_equal(H[:, j], perceptron_predict(x, W[:, j], float(b[j])))


def test_two_layer_threshold_network_computes_xor():
    # hidden units OR (x1 + x2 > 1/2) and AND (x1 + x2 > 3/2); output OR and not AND
    H = threshold_layer(XOR_X, [[1.0, 1.0], [1.0, 1.0]], [-0.5, -1.5])
    np.testing.assert_array_equal(H, [[-1, -1], [1, -1], [1, -1], [1, 1]])
    np.testing.assert_array_equal(perceptron_predict(H, [1.0, -1.0], -1.0), XOR_Y)
    # and the output unit, trained by the rule on the hidden codes, converges
    w, b, mistakes = perceptron_train(H, XOR_Y)
    assert mistakes[-1] == 0
    np.testing.assert_array_equal(perceptron_predict(H, w, b), XOR_Y)


# ---------------------------------------------------------------- one step

def test_step_on_a_mistake_and_on_a_correct_example():
    w, b, mistake = perceptron_step([1.0, 0.0], 0.5, [-2.0, 1.0], 1, lr=0.5)
    # score 1*(-2) + 0.5 = -1.5 <= 0: w + 0.5 * (+1) * x, b + 0.5
    np.testing.assert_array_equal(w, [0.0, 0.5])
    assert b == 1.0 and mistake is True
    w2, b2, mistake2 = perceptron_step(w, b, [-2.0, 1.0], 1, lr=0.5)
    # score 0 * -2 + 0.5 * 1 + 1 = 1.5 > 0: unchanged
    np.testing.assert_array_equal(w2, w)
    assert b2 == b and mistake2 is False


def test_step_types():
    w, b, mistake = perceptron_step(np.zeros(3), 0, np.ones(3), -1)
    assert isinstance(w, np.ndarray) and w.dtype == np.float64
    assert type(b) is float and type(mistake) is bool
    _, b, mistake = perceptron_step(np.ones(3), 1.0, np.ones(3), 1)
    assert type(b) is float and type(mistake) is bool and not mistake


def test_step_counts_the_boundary_as_a_mistake():
    # from zero weights every example is on the boundary: the rule must move
    w, b, mistake = perceptron_step(np.zeros(2), 0.0, [3.0, 4.0], -1)
    assert mistake
    np.testing.assert_array_equal(w, [-3.0, -4.0])
    assert b == -1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_step_is_a_subgradient_step_on_one_example(seed):
    rng = np.random.default_rng(seed)
    w, b, x = rng.standard_normal(4), float(rng.standard_normal()), rng.standard_normal(4)
    y, lr = int(rng.choice([-1, 1])), float(rng.uniform(0.1, 2.0))
    dw, db = perceptron_criterion_subgradient(x[None], [y], w, b)
    w_new, b_new, mistake = perceptron_step(w, b, x, y, lr)
    np.testing.assert_allclose(w_new, w - lr * dw, rtol=0, atol=1e-15)
    assert b_new == pytest.approx(b - lr * db, abs=1e-15)
    assert mistake == (y * (x @ w + b) <= 0)


# ---------------------------------------------------------------- training

@pytest.mark.parametrize("case", SEPARABLE_CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_train_matches_naive_and_converges_on_separable_data(case, seed):
    x, y, _, _ = separable(case, seed)
    w, b, mistakes = perceptron_train(x, y, epochs=1000)
    w_ref, b_ref, mistakes_ref = perceptron_train_naive(x, y, epochs=1000)
    assert mistakes == mistakes_ref
    np.testing.assert_array_equal(w, w_ref)
    assert b == b_ref and type(b) is float
    assert mistakes[-1] == 0 and all(m > 0 for m in mistakes[:-1])
    np.testing.assert_array_equal(perceptron_predict(x, w, b), y)


@pytest.mark.parametrize("lr, start", [(0.1, False), (1.0, True), (3.0, True)])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_train_matches_naive_with_learning_rate_and_start(lr, start, seed):
    x, y, _, _ = separable((120, 0.03, 0.2, 3), seed)
    w0, b0 = (np.array([0.5, -1.0, 2.0]), -0.7) if start else (None, 0.0)
    fast = perceptron_train(x, y, epochs=500, lr=lr, w0=w0, b0=b0)
    naive = perceptron_train_naive(x, y, epochs=500, lr=lr, w0=w0, b0=b0)
    assert fast[2] == naive[2]
    np.testing.assert_array_equal(fast[0], naive[0])
    assert fast[1] == naive[1]


@pytest.mark.parametrize("seed", SEEDS)
def test_train_matches_naive_on_data_that_is_not_separable(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((60, 2))
    y = rng.choice([-1, 1], size=60)
    fast = perceptron_train(x, y, epochs=30)
    naive = perceptron_train_naive(x, y, epochs=30)
    assert fast[2] == naive[2] and len(fast[2]) == 30
    np.testing.assert_array_equal(fast[0], naive[0])


def test_train_stops_after_the_first_clean_sweep():
    # already separated by the start: one sweep, no mistake, weights unchanged
    x, y = np.array([[1.0], [-1.0]]), np.array([1, -1])
    w, b, mistakes = perceptron_train(x, y, w0=[1.0], b0=0.0)
    assert mistakes == [0]
    np.testing.assert_array_equal(w, [1.0])
    # AND from zero, rows in order, by hand
    x_and = XOR_X
    y_and = np.array([-1, -1, -1, 1])
    w, b, mistakes = perceptron_train(x_and, y_and)
    assert perceptron_train_naive(x_and, y_and)[2] == mistakes
    np.testing.assert_array_equal(perceptron_predict(x_and, w, b), y_and)
    assert mistakes[-1] == 0 and len(mistakes) == len(mistakes[:-1]) + 1


def test_train_sweeps_rows_in_order():
    # the first row is a mistake from zero, the second is then classified: order matters
    x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    y = np.array([1, 1, -1])
    weights, biases, rows, mistakes = perceptron_trace(x, y)
    assert rows[0] == 0
    assert perceptron_trace(x[::-1], y[::-1])[2][0] == 0   # whichever row comes first


@pytest.mark.parametrize("seed", SEEDS)
def test_learning_rate_does_not_matter_from_zero(seed):
    # theta_k(eta) = eta * theta_k(1): same mistakes, weights scaled
    x, y, _, _ = separable((100, 0.05, 0.2, 2), seed)
    w1, b1, m1 = perceptron_train(x, y)
    for lr in [0.25, 4.0]:          # powers of 2: the scaling is exact in floating point
        w, b, m = perceptron_train(x, y, lr=lr)
        assert m == m1
        np.testing.assert_array_equal(w, lr * w1)
        assert b == lr * b1


# ---------------------------------------------------------------- trace

@pytest.mark.parametrize("case", SEPARABLE_CASES[:4])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_trace_records_every_update(case, seed):
    x, y, _, _ = separable(case, seed)
    lr = 0.5
    weights, biases, rows, mistakes = perceptron_trace(x, y, lr=lr)
    w, b, m = perceptron_train(x, y, lr=lr)
    assert m == mistakes and len(rows) == sum(mistakes) == len(weights) - 1 == len(biases) - 1
    np.testing.assert_array_equal(weights[-1], w)
    assert biases[-1] == b
    np.testing.assert_array_equal(weights[0], np.zeros(x.shape[1]))
    for k, n in enumerate(rows, start=1):
        # the row was a mistake for the weights before, and the update is lr * y * (x, 1)
        assert y[n] * (x[n] @ weights[k - 1] + biases[k - 1]) <= 0
        np.testing.assert_allclose(weights[k] - weights[k - 1], lr * y[n] * x[n], rtol=0, atol=1e-12)
        assert biases[k] - biases[k - 1] == pytest.approx(lr * y[n], abs=1e-12)


def test_trace_starts_at_w0_and_b0():
    x, y, _, _ = separable((60, 0.05, 0.2, 2), 0)
    w0, b0 = np.array([0.5, -2.0]), 0.75
    weights, biases, rows, mistakes = perceptron_trace(x, y, w0=w0, b0=b0)
    np.testing.assert_array_equal(weights[0], w0)
    assert biases[0] == b0
    w, b, m = perceptron_train(x, y, w0=w0, b0=b0)
    assert m == mistakes and biases[-1] == b
    np.testing.assert_array_equal(weights[-1], w)
    # every update is lr * y * (x, 1) from the state before, starting at (w0, b0)
    np.testing.assert_allclose(weights[-1] - w0, np.sum(y[rows, None] * x[rows], axis=0), atol=1e-12)
    assert biases[-1] - b0 == pytest.approx(float(np.sum(y[rows])), abs=1e-12)


# ---------------------------------------------------------------- Novikoff

@pytest.mark.parametrize("case", SEPARABLE_CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_novikoff_bound_holds(case, seed):
    x, y, u, b = separable(case, seed)
    _, _, mistakes = perceptron_train(x, y, epochs=10_000)
    k = sum(mistakes)
    # the separator the data were generated with certifies one bound ...
    bound_generator = mistake_bound(x, y, u, b)
    # ... and the best margin certifies the smallest one
    w_best, b_best, gamma_low, gamma_high = max_margin(x, y)
    bound_best = (perceptron_radius(x) / gamma_low) ** 2
    assert k <= bound_best <= bound_generator * (1 + 1e-12)
    assert gamma_high <= gamma_low * (1 + 1e-9)
    assert mistake_bound(x, y, w_best, b_best) == pytest.approx(bound_best, rel=1e-12)


@pytest.mark.parametrize("case", SEPARABLE_CASES)
@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("lr", [0.1, 1.0, 7.0])
def test_the_two_inequalities_of_the_proof_hold_after_every_mistake(case, seed, lr):
    x, y, _, _ = separable(case, seed)
    order = np.random.default_rng(seed).permutation(len(y))   # any order of the rows
    x, y = x[order], y[order]
    w_star, b_star, gamma, _ = max_margin(x, y)                 # a unit vector (w*, b*)
    R = perceptron_radius(x)
    weights, biases, _, _ = perceptron_trace(x, y, lr=lr, epochs=10_000)
    theta = np.column_stack([weights, biases])                  # theta_k = (w_k, b_k)
    k = np.arange(len(theta))
    progress = theta @ np.append(w_star, b_star)                # theta_k . u
    assert np.all(progress >= k * lr * gamma * (1 - 1e-9))     # eq-perc-progress
    assert np.all(np.sum(theta**2, axis=1) <= k * lr**2 * R**2 * (1 + 1e-9))   # eq-perc-norm
    assert k[-1] <= (R / gamma) ** 2                           # eq-perc-novikoff


def test_novikoff_bound_is_tight_for_a_known_case():
    # two points; the bound is a ceiling the rule need not reach, but it is finite and exact
    x, y = np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1, -1])
    # augmented points (1, 0, 1) and (-1, 0, 1); y * them: (1, 0, 1) and (1, 0, -1);
    # the nearest point of their hull to 0 is (1, 0, 0): margin 1, R = sqrt(2)
    w, b, low, high = max_margin(x, y)
    np.testing.assert_allclose(np.append(w, b), [1.0, 0.0, 0.0], atol=1e-12)
    assert low == pytest.approx(1.0) and high == pytest.approx(1.0)
    assert perceptron_radius(x) == pytest.approx(math.sqrt(2.0))
    assert mistake_bound(x, y, w, b) == pytest.approx(2.0)
    assert sum(perceptron_train(x, y)[2]) <= 2


# ---------------------------------------------------------------- XOR

@pytest.mark.parametrize("epochs", [1, 10, 100])
@pytest.mark.parametrize("lr", [0.5, 1.0])
def test_xor_never_converges(epochs, lr):
    w, b, mistakes = perceptron_train(XOR_X, XOR_Y, epochs=epochs, lr=lr)
    assert len(mistakes) == epochs and min(mistakes) >= 1
    assert perceptron_train_naive(XOR_X, XOR_Y, epochs=epochs, lr=lr)[2] == mistakes
    assert np.any(perceptron_predict(XOR_X, w, b) != XOR_Y)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_xor_fails_in_every_order_and_cycles(order):
    x, y = XOR_X[list(order)], XOR_Y[list(order)]
    weights, biases, _, mistakes = perceptron_trace(x, y, epochs=50)
    assert len(mistakes) == 50 and min(mistakes) >= 1
    # the weights at the end of the sweeps repeat: a cycle, never a separator
    ends = np.column_stack([weights, biases])[np.cumsum(mistakes)]
    assert len({tuple(row) for row in ends}) < len(ends)


def test_xor_has_no_separator():
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin(XOR_X, XOR_Y)
    with pytest.raises(ValueError, match="not linearly separable|no separator"):
        max_margin_naive(XOR_X, XOR_Y, max_iter=2000)


# ---------------------------------------------------------------- criterion

@pytest.mark.parametrize("seed", SEEDS)
def test_criterion_by_definition_and_zero_on_a_separator(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((30, 3)), rng.choice([-1, 1], 30)
    w, b = rng.standard_normal(3), float(rng.standard_normal())
    expected = np.mean([max(0.0, -yn * (xn @ w + b)) for xn, yn in zip(x, y)])
    assert perceptron_criterion(x, y, w, b) == pytest.approx(expected, rel=1e-14)
    xs, ys, u, b0 = separable((40, 0.1, 0.2, 3), seed)
    assert perceptron_criterion(xs, ys, u, b0) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_subgradient_is_the_gradient_away_from_kinks(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((25, 3)), rng.choice([-1, 1], 25)
    w, b = rng.standard_normal(3), float(rng.standard_normal())
    assert np.min(np.abs(x @ w + b)) > 1e-3                   # no kink within the step
    dw, db = perceptron_criterion_subgradient(x, y, w, b)
    num_w = numerical_gradient(lambda v: perceptron_criterion(x, y, v, b), w.copy(), eps=1e-6)
    num_b = numerical_gradient(lambda v: perceptron_criterion(x, y, w, float(v[0])), np.array([b]), eps=1e-6)
    assert rel_error(num_w, dw) < 1e-7
    assert rel_error(num_b[0], db) < 1e-7


@pytest.mark.parametrize("seed", SEEDS)
def test_subgradient_inequality_holds_also_at_kinks(seed):
    # integer data and weights with several scores exactly 0: the kinks
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(20, 2)).astype(float)
    y = rng.choice([-1, 1], 20)
    w, b = np.array([1.0, -1.0]), 0.0
    assert np.any(x @ w + b == 0)
    dw, db = perceptron_criterion_subgradient(x, y, w, b)
    L0 = perceptron_criterion(x, y, w, b)
    for _ in range(200):       # convexity: L(theta') >= L(theta) + g . (theta' - theta)
        w2, b2 = w + rng.standard_normal(2), b + float(rng.standard_normal())
        assert perceptron_criterion(x, y, w2, b2) >= L0 + dw @ (w2 - w) + db * (b2 - b) - 1e-12


def test_central_difference_at_a_kink_is_the_middle_of_the_subdifferential():
    x, y = np.array([[2.0, -1.0]]), np.array([1])
    w, b = np.array([0.5, 1.0]), 0.0          # score 1 - 1 = 0: on the kink
    dw, db = perceptron_criterion_subgradient(x, y, w, b)
    np.testing.assert_array_equal(dw, [-2.0, 1.0])   # the end t = 1: -y x
    assert db == -1.0
    num = numerical_gradient(lambda v: perceptron_criterion(x, y, v, b), w.copy(), eps=1e-3)
    np.testing.assert_allclose(num, 0.5 * dw, atol=1e-12)    # t = 1/2


# ---------------------------------------------------------------- radius, margin, bound

def test_radius_counts_the_constant_coordinate():
    assert perceptron_radius([[0.0, 0.0]]) == 1.0
    assert perceptron_radius([[3.0, 0.0], [0.0, 1.0]]) == pytest.approx(math.sqrt(10.0))
    assert perceptron_radius([[1e200, 1e200]]) == pytest.approx(math.sqrt(2.0) * 1e200)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 250.0])
def test_margin_by_hand_and_scale_invariant(scale):
    x, y = np.array([[2.0, 0.0], [-1.0, 0.0]]), np.array([1, -1])
    w, b = scale * np.array([1.0, 0.0]), scale * -0.5
    # scores 1.5 and -1.5 (times scale); |w| = 1, |(w, b)| = sqrt(1.25) (times scale)
    assert perceptron_margin(x, y, w, b, augmented=False) == pytest.approx(1.5)
    assert perceptron_margin(x, y, w, b) == pytest.approx(1.5 / math.sqrt(1.25))
    assert mistake_bound(x, y, w, b) == pytest.approx(5.0 / (1.5**2 / 1.25))


def test_margin_is_negative_for_a_wrong_separator_and_bound_refuses_it():
    x, y = np.array([[1.0], [-1.0]]), np.array([1, -1])
    assert perceptron_margin(x, y, [-1.0], 0.0) < 0
    with pytest.raises(ValueError, match="does not separate"):
        mistake_bound(x, y, [-1.0], 0.0)
    with pytest.raises(ValueError, match="zero"):
        perceptron_margin(x, y, [0.0], 0.0)


@pytest.mark.parametrize("case", SEPARABLE_CASES)
def test_generated_margin_and_the_bias_correction(case):
    n, margin, b, dim = case
    x, y, u, b = separable(case, 7)
    assert perceptron_margin(x, y, u, b, augmented=False) >= margin
    # eq-perc-bias-margin: the augmented margin is the input margin / sqrt(1 + b^2)
    assert perceptron_margin(x, y, u, b) == pytest.approx(
        perceptron_margin(x, y, u, b, augmented=False) / math.sqrt(1 + b * b), rel=1e-12)
    assert perceptron_radius(x) <= math.sqrt(2.0)


# ---------------------------------------------------------------- max margin

@pytest.mark.parametrize("case", SEPARABLE_CASES)
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_max_margin_matches_naive_and_beats_every_separator(case, seed):
    x, y, u, b = separable(case, seed)
    x, y = x[:40], y[:40]                              # the naive solver is slow
    w, bias, low, high = max_margin(x, y)
    w_n, b_n, low_n, high_n = max_margin_naive(x, y, tol=1e-5)
    assert low <= high_n * (1 + 1e-12) and low_n <= high * (1 + 1e-12)   # the brackets overlap
    assert high <= low * (1 + 1e-9) and high_n <= low_n * (1 + 1e-5)
    assert math.hypot(float(np.linalg.norm(w)), bias) == pytest.approx(1.0)
    assert perceptron_margin(x, y, w, bias) == pytest.approx(low, rel=1e-12)
    for other_w, other_b in [(u, b), perceptron_train(x, y, epochs=10_000)[:2], (w_n, b_n)]:
        assert perceptron_margin(x, y, other_w, other_b) <= high * (1 + 1e-12)


def test_max_margin_needs_both_classes_no_more():
    # one class only: the best separator is (0, ..., 0, 1) in the augmented space
    x, y = np.array([[0.3, 0.4], [-0.2, 0.1]]), np.array([1, 1])
    w, b, low, high = max_margin(x, y)
    assert low > 0 and high >= low


# ---------------------------------------------------------------- data

@pytest.mark.parametrize("n, margin, b, dim", SEPARABLE_CASES)
def test_separable_points(n, margin, b, dim):
    x, y = separable_points(n, margin, 3, b=b, dim=dim)
    assert x.shape == (n, dim) and x.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(y)) <= {-1, 1}
    assert np.all(np.linalg.norm(x, axis=1) <= 1.0)
    u = np.zeros(dim)
    if dim == 2:
        u[:] = np.cos(np.pi / 6), np.sin(np.pi / 6)
    else:
        u[0] = 1.0
    assert np.all(y * (x @ u + b) >= margin)
    x2, y2 = separable_points(n, margin, 3, b=b, dim=dim)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("dim", [2, 3])
def test_separable_points_are_uniform_in_the_ball(dim):
    # with no band, P(|x| <= r) = r**D for uniform points in the unit ball
    x, _ = separable_points(20_000, 0.0, 5, dim=dim)
    radius = np.linalg.norm(x, axis=1)
    for r in (0.5, 0.8):
        assert abs(np.mean(radius <= r) - r**dim) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=10, margin=-0.1, rng=0), "margin"),
    (dict(n=10, margin=0.9, rng=0, b=0.2), "margin"),
    (dict(n=10, margin=0.1, rng=0, b=1.0), "b"),
    (dict(n=10, margin=0.1, rng=0, u=[0.0, 0.0]), "nonzero"),
    (dict(n=0, margin=0.1, rng=0), "n must be"),
])
def test_separable_points_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        separable_points(**kwargs)


# ---------------------------------------------------------------- dtypes, purity, bad input

def test_float32_is_kept_and_integers_become_float64():
    x, y = separable_points(60, 0.1, 0)
    w, b, _ = perceptron_train(x.astype(np.float32), y)
    assert w.dtype == np.float32 and type(b) is float
    assert perceptron_train_naive(x.astype(np.float32), y)[0].dtype == np.float32
    w_step, b_step, _ = perceptron_step(np.zeros(2, np.float32), 0.0, x[0].astype(np.float32), y[0])
    assert w_step.dtype == np.float32 and type(b_step) is float
    w_int, _, _ = perceptron_train(XOR_X.astype(int), XOR_Y, epochs=3)
    assert w_int.dtype == np.float64
    dw, db = perceptron_criterion_subgradient(x.astype(np.float32), y, np.ones(2, np.float32), 0.0)
    assert dw.dtype == np.float32 and type(db) is float


def test_labels_may_be_floats_or_any_integer_type():
    x, y = separable_points(30, 0.1, 1)
    ref = perceptron_train(x, y)
    for labels in [y.astype(float), y.astype(np.int8), list(y)]:
        w, b, m = perceptron_train(x, labels)
        assert m == ref[2] and b == ref[1]


def test_inputs_are_not_modified():
    x, y = separable_points(50, 0.05, 2)
    y = y.astype(float)
    w0, b0 = np.array([0.1, -0.2]), 0.3
    copies = [a.copy() for a in (x, y, w0)]
    perceptron_train(x, y, w0=w0, b0=b0)
    perceptron_train_naive(x, y, w0=w0, b0=b0)
    perceptron_trace(x, y, w0=w0, b0=b0)
    perceptron_predict(x, w0, b0)
    perceptron_predict_naive(x, w0, b0)
    perceptron_criterion(x, y, w0, b0)
    perceptron_criterion_subgradient(x, y, w0, b0)
    perceptron_margin(x, y, w0, b0)
    perceptron_radius(x)
    max_margin(x, y)
    max_margin_naive(x[:10], y[:10], max_iter=50)
    threshold_layer(x, np.ones((2, 3)), np.zeros(3))
    w_new, _, _ = perceptron_step(w0, b0, x[0], y[0])
    for original, now in zip(copies, (x, y, w0)):
        np.testing.assert_array_equal(original, now)
    assert w_new is not w0
    w_same, _, mistake = perceptron_step([5.0, 5.0], 10.0, [0.1, 0.1], 1)
    assert not mistake
    # a returned array is a new one even when nothing changed
    w_start = np.array([5.0, 5.0])
    w_out, _, _ = perceptron_step(w_start, 10.0, [0.1, 0.1], 1)
    w_out[0] = -1.0
    assert w_start[0] == 5.0
    w_trained, _, _ = perceptron_train([[1.0]], [1], w0=w_start[:1], b0=1.0)
    w_trained[0] = 99.0
    assert w_start[0] == 5.0


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 1, 0], "2 \\* y - 1"),
    ([True, False, True, False], "-1 or \\+1"),
    ([-1, 2, 1, -1], "-1 or \\+1"),
    ([-1, 0.5, 1, -1], "-1 or \\+1"),
    (["a", "b", "a", "b"], "-1 or \\+1"),
    ([[-1], [1], [1], [-1]], "1-D"),
    ([-1, 1, 1], "shape \\(3,\\)"),
    ([-1, 1, 1, float("nan")], "-1 or \\+1"),
])
@pytest.mark.parametrize("function", [perceptron_train, perceptron_train_naive, perceptron_trace,
                                      perceptron_criterion, max_margin])
def test_bad_labels(labels, match, function):
    args = (XOR_X, labels) if function in (perceptron_train, perceptron_train_naive, perceptron_trace,
                                           max_margin) else (XOR_X, labels, np.ones(2), 0.0)
    with pytest.raises(ValueError, match=match):
        function(*args)


@pytest.mark.parametrize("label", [0, 2, 0.5, True, "1", [1], np.array([1, -1])])
def test_step_bad_label(label):
    with pytest.raises(ValueError, match="-1 or \\+1"):
        perceptron_step(np.zeros(2), 0.0, np.ones(2), label)


@pytest.mark.parametrize("call, error, match", [
    (lambda: perceptron_predict(np.ones((3, 2)), np.ones(3), 0.0), ValueError, r"w has shape \(3,\).*\(2,\)"),
    (lambda: perceptron_predict(np.ones(3), np.ones(3), 0.0), ValueError, r"2-D.*\(3,\)"),
    (lambda: perceptron_predict(np.ones((3, 2)), np.ones(2), "a"), TypeError, "b must be a real"),
    (lambda: perceptron_predict(np.ones((3, 2)), np.ones(2), [1.0]), TypeError, "b must be a real"),
    (lambda: perceptron_predict([["a", "b"]], np.ones(2), 0.0), TypeError, "numeric"),
    (lambda: perceptron_step(np.ones(3), 0.0, np.ones(2), 1), ValueError, r"w has shape \(3,\).*\(2,\)"),
    (lambda: perceptron_step(np.ones(2), 0.0, np.ones((1, 2)), 1), ValueError, r"1-D.*\(1, 2\)"),
    (lambda: perceptron_step(np.ones(2), 0.0, np.ones(2), 1, lr=0.0), ValueError, "lr must be > 0"),
    (lambda: perceptron_train(XOR_X, XOR_Y, lr=-1.0), ValueError, "lr must be > 0"),
    (lambda: perceptron_train(XOR_X, XOR_Y, lr=float("inf")), ValueError, "lr must be finite"),
    (lambda: perceptron_train(XOR_X, XOR_Y, epochs=0), ValueError, "epochs must be >= 1"),
    (lambda: perceptron_train(XOR_X, XOR_Y, epochs=2.5), TypeError, "epochs must be an int"),
    (lambda: perceptron_train(XOR_X, XOR_Y, w0=np.ones(3)), ValueError, r"w0 has shape \(3,\).*\(2,\)"),
    (lambda: perceptron_train(XOR_X, XOR_Y, b0=float("nan")), ValueError, "b0 must be finite"),
    (lambda: perceptron_train(np.ones((0, 2)), [], epochs=1), ValueError, "at least one example"),
    (lambda: threshold_layer(np.ones((3, 2)), np.ones((3, 4)), np.ones(4)), ValueError, r"W has shape \(3, 4\)"),
    (lambda: threshold_layer(np.ones((3, 2)), np.ones((2, 4)), np.ones(3)), ValueError, r"b has shape \(3,\)"),
    (lambda: perceptron_criterion(XOR_X, XOR_Y, np.ones(3), 0.0), ValueError, r"w has shape \(3,\)"),
    (lambda: max_margin(XOR_X[:2], [-1, 1], tol=0.0), ValueError, "tol must be > 0"),
    (lambda: max_margin([[1e200, 0.0], [0.0, 1.0]], [-1, 1]), ValueError, "at most 1e100"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e300), (np.float64, 1e160), (np.float32, 1e30)])
def test_no_warning_or_nan_for_huge_inputs(dtype, big):
    # the scores x w + b are far beyond the float range; only their signs matter
    x = np.array([[big, -big], [-big, big], [big, 0.5 * big]], dtype=dtype)
    y = np.array([1, -1, 1])
    w, b, mistakes = perceptron_train(x, y)
    assert np.all(np.isfinite(w)) and mistakes[-1] == 0
    assert perceptron_train_naive(x, y)[2] == mistakes
    np.testing.assert_array_equal(perceptron_predict(x, w, b), y)
    np.testing.assert_array_equal(perceptron_predict_naive(x, w, b), y)
    w_big = np.array([big, -big], dtype=dtype)
    np.testing.assert_array_equal(perceptron_predict(x, w_big, 0.0), [1, -1, 1])
    np.testing.assert_array_equal(perceptron_predict(x, -w_big, 0.0), [-1, 1, -1])
    assert perceptron_margin(x, y, w, b) > 0
    assert perceptron_margin(x[:2], y[:2], w_big, 0.0) == pytest.approx(2 * big / math.sqrt(2), rel=1e-6)
    assert math.isfinite(perceptron_radius(x))
    assert perceptron_criterion(x[:2], y[:2], -w_big, 0.0) == (math.inf if big > 1e154 else pytest.approx(2 * big**2))
    dw, db = perceptron_criterion_subgradient(x, y, -w_big, 0.0)
    assert np.all(np.isfinite(dw))
    _, _, mistake = perceptron_step(w_big, 0.0, x[1], 1)
    assert mistake


def test_small_inputs_with_a_bias_near_the_float_maximum():
    # x w is small, but x w + b would overflow if formed directly: 0.0078 * 1.79e308 + 1.79e308
    x, w, b = np.array([[0.0078], [-0.0078]]), np.array([1.79e308]), 1.79e308
    np.testing.assert_array_equal(perceptron_predict(x, w, b), [1, 1])
    np.testing.assert_array_equal(perceptron_predict_naive(x, w, b), [1, 1])
    _, _, mistake = perceptron_step(w, b, x[0], -1)
    assert mistake
    assert perceptron_criterion(x, [-1, -1], w, b) == math.inf    # the true mean is beyond float64
    assert perceptron_margin(x, [1, 1], w, b) > 0
    H = threshold_layer(x, w[:, None], np.array([b]))
    np.testing.assert_array_equal(H[:, 0], [1, 1])
    # a product just below the scaling threshold plus a bias near the maximum: about 1.1e306 + 1.797e308
    x, w, b = np.array([[0.9 * 2.0**508]]), np.array([0.9 * 2.0**509]), 1.797e308
    np.testing.assert_array_equal(perceptron_predict(x, w, b), [1])
    np.testing.assert_array_equal(threshold_layer(x, w[:, None], np.array([b])), [[1]])


def test_huge_weights_and_bias_keep_the_sign_of_the_score():
    # scores 1e308 - 1.5e308 < 0, 2e308 - 1.5e308 > 0 (the latter overflows if formed directly)
    x, w, b = np.array([[1.0], [2.0], [-1.0], [1.4], [1.6]]), np.array([1e308]), -1.5e308
    expected = [-1, 1, -1, -1, 1]
    np.testing.assert_array_equal(perceptron_predict(x, w, b), expected)
    np.testing.assert_array_equal(perceptron_predict_naive(x, w, b), expected)
    assert perceptron_margin(x[[1, 4]], [1, 1], w, b, augmented=False) == pytest.approx(0.1)
