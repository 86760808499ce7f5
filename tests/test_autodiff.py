"""Tests for dlmath.autodiff: the scalar reverse-mode engine of chapter 5."""
import math

import numpy as np
import pytest

from dlmath import numerical_gradient, rel_error
from dlmath.autodiff import Value
from dlmath.backprop import init_mlp, mlp_loss_and_grads

# Central differences: truncation O(eps^2), rounding O(machine_eps / eps);
# they balance near machine_eps ** (1/3), about 6e-6 in float64.
FD_STEP = 1e-5


def grads_of(expression, *numbers):
    """The value and the gradients of ``expression(*Values)`` by the engine."""
    values = [Value(x) for x in numbers]
    out = expression(*values)
    out.backward()
    return out.data, [v.grad for v in values]


# Each case: the expression on Values, the same function on floats, and its
# derivatives derived by hand, at a point.
HAND_DERIVED = {
    "polynomial": (
        lambda x: 3 * x**3 - 2 * x**2 + x - 5,
        lambda x: 3 * x**3 - 2 * x**2 + x - 5,
        lambda x: [9 * x**2 - 4 * x + 1],
        (1.5,),
    ),
    "softplus = log(1 + exp)": (
        lambda x: (1 + x.exp()).log(),
        lambda x: math.log1p(math.exp(x)),
        lambda x: [1 / (1 + math.exp(-x))],
        (0.7,),
    ),
    "exp(2 log x) = x^2": (
        lambda x: (2 * x.log()).exp(),
        lambda x: x * x,
        lambda x: [2 * x],
        (1.3,),
    ),
    "tanh(a b)": (
        lambda a, b: (a * b).tanh(),
        lambda a, b: math.tanh(a * b),
        lambda a, b: [(1 - math.tanh(a * b) ** 2) * b, (1 - math.tanh(a * b) ** 2) * a],
        (0.4, -1.2),
    ),
    "division a / b": (
        lambda a, b: a / b,
        lambda a, b: a / b,
        lambda a, b: [1 / b, -a / b**2],
        (3.0, -2.0),
    ),
    "number / b and a - b": (
        lambda a, b: 1 / b - (a - b),
        lambda a, b: 1 / b - (a - b),
        lambda a, b: [-1.0, -1 / b**2 + 1],
        (0.5, 4.0),
    ),
    "a * a (one node used twice)": (
        lambda a: a * a,
        lambda a: a * a,
        lambda a: [2 * a],
        (-3.0,),
    ),
    "x in two branches: 2x + e^x": (
        lambda x: x * 2 + x.exp(),
        lambda x: 2 * x + math.exp(x),
        lambda x: [2 + math.exp(x)],
        (0.3,),
    ),
    "shared intermediate: c = a b, c^2 + c": (
        lambda a, b: (lambda c: c**2 + c)(a * b),
        lambda a, b: (a * b) ** 2 + a * b,
        lambda a, b: [(2 * a * b + 1) * b, (2 * a * b + 1) * a],
        (1.1, -0.6),
    ),
    "sigmoid": (
        lambda x: x.sigmoid(),
        lambda x: 1 / (1 + math.exp(-x)),
        lambda x: [math.exp(-x) / (1 + math.exp(-x)) ** 2],
        (-0.8,),
    ),
    "relu of a neuron": (
        lambda w, x, b: (w * x + b).relu(),
        lambda w, x, b: max(0.0, w * x + b),
        lambda w, x, b: [x, w, 1.0],
        (2.0, 0.5, -0.25),
    ),
    "sqrt and negation": (
        lambda x: -(x**0.5),
        lambda x: -math.sqrt(x),
        lambda x: [-0.5 / math.sqrt(x)],
        (2.0,),
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_DERIVED))
def test_against_hand_derived_derivatives(name):
    expression, plain, derivative, point = HAND_DERIVED[name]
    value, grads = grads_of(expression, *point)
    assert value == pytest.approx(plain(*point), rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(grads, derivative(*point), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(HAND_DERIVED))
def test_against_numerical_gradient(name):
    expression, _, _, point = HAND_DERIVED[name]
    _, grads = grads_of(expression, *point)
    f = lambda p: expression(*[Value(float(t)) for t in p]).data
    numeric = numerical_gradient(f, np.array(point, dtype=np.float64), eps=FD_STEP)
    assert rel_error(np.array(grads), numeric) < 1e-7


def test_a_tanh_neuron_numerically():
    # The neuron of micrograd's README: tanh(x1 w1 + x2 w2 + b).
    def neuron(x1, w1, x2, w2, b):
        return (x1 * w1 + x2 * w2 + b).tanh()

    point = np.array([2.0, -3.0, 0.0, 1.0, 6.8813735870195432])
    _, grads = grads_of(neuron, *point)
    numeric = numerical_gradient(lambda p: neuron(*map(Value, map(float, p))).data, point, eps=FD_STEP)
    assert rel_error(np.array(grads), numeric) < 1e-7
    # tanh(0.8813735870195432) = 1/sqrt(2), so 1 - tanh^2 = 1/2 and dL/dw1 = x1 / 2.
    assert grads[1] == pytest.approx(1.0, rel=1e-12)


def test_agrees_with_matrix_backprop():
    # The same tanh MLP and softmax cross-entropy, once with scalar Values and
    # once with dlmath.backprop's matrix formulas: the gradients must agree.
    rng = np.random.default_rng(0)
    params = init_mlp([2, 3, 2], rng, "tanh")
    params["b1"] = rng.normal(size=3)
    x = rng.normal(size=(4, 2))
    labels = [0, 1, 1, 0]
    loss, grads = mlp_loss_and_grads(params, x, labels, "tanh")

    v = {k: [[Value(float(a)) for a in row] for row in np.atleast_2d(p)] for k, p in params.items()}
    total = Value(0.0)
    for xn, yn in zip(x, labels):
        h = [sum((xn[d] * v["W1"][d][j] for d in range(2)), v["b1"][0][j]).tanh() for j in range(3)]
        z = [sum((h[j] * v["W2"][j][k] for j in range(3)), v["b2"][0][k]) for k in range(2)]
        total = total + (z[0].exp() + z[1].exp()).log() - z[yn]
    mean = total / len(labels)
    mean.backward()
    assert mean.data == pytest.approx(loss, rel=1e-12)
    for k, p in params.items():
        engine = np.array([[a.grad for a in row] for row in v[k]]).reshape(p.shape)
        assert rel_error(engine, grads[k]) < 1e-10, k


def test_backward_twice_does_not_double():
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a * a
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == first == (b.data + 2 * a.data, a.data)


def test_backward_of_a_second_output_forgets_the_first():
    # The rule: backward() zeroes every grad in its graph first. So after
    # y.backward(), a leaf shared with an earlier output holds dy/dleaf only.
    x = Value(1.5)
    first = x * x * x
    second = x * 4
    first.backward()
    assert x.grad == pytest.approx(3 * 1.5**2)
    second.backward()
    assert x.grad == 4.0


def test_backward_leaves_nodes_outside_its_graph_untouched():
    # The stated rule for .grad: backward() resets and fills only the nodes its
    # output depends on; a node outside that graph keeps its earlier gradient
    # (unlike jax.grad, which would give 0 for an unused input).
    a, b, c = Value(3.0), Value(2.0), Value(5.0)
    (a * b).backward()
    assert (a.grad, b.grad) == (2.0, 3.0)
    (a * c).backward()
    assert (a.grad, c.grad) == (5.0, 3.0)  # in the graph of a * c: fresh
    assert b.grad == 3.0  # not in it: still d(a b)/db from the first call


def test_intermediate_nodes_get_their_gradients():
    a, b = Value(3.0), Value(4.0)
    c = a * b  # 12
    d = c + a  # 15
    e = d * d  # 225
    e.backward()
    assert e.grad == 1.0
    assert d.grad == 2 * 15.0
    assert c.grad == 2 * 15.0
    assert a.grad == 2 * 15.0 * (4.0 + 1.0)
    assert b.grad == 2 * 15.0 * 3.0


def test_grad_is_zero_before_backward_and_for_unused_inputs():
    a, unused = Value(1.0), Value(5.0)
    out = a.exp()
    assert a.grad == 0.0 and out.grad == 0.0
    out.backward()
    assert unused.grad == 0.0
    assert a.grad == pytest.approx(math.e)


def test_long_chain_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    out = x
    for _ in range(5000):
        out = out + x  # out = 5001 x
    out.backward()
    assert x.grad == 5001.0
    assert out.data == pytest.approx(5001 * 0.5)


@pytest.mark.parametrize("x", [-1000.0, -50.0, 50.0, 1000.0])
def test_saturating_functions_stay_finite(x):
    for f in (Value.sigmoid, Value.tanh, Value.relu):
        v = Value(x)
        out = f(v)
        out.backward()
        assert math.isfinite(out.data) and math.isfinite(v.grad)


def test_relu_derivative_at_zero_is_zero():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Value(0.0).log(), ValueError, r"log is only defined for x > 0, got x = 0"),
        (lambda: Value(-2.0).log(), ValueError, r"log is only defined for x > 0, got x = -2"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, "division by zero"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, "division by zero"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, "division by zero"),
        (lambda: Value(0.0) ** -2, ZeroDivisionError, "0 to a negative power"),
        (lambda: Value(-2.0) ** 0.5, ValueError, "negative base"),
        (lambda: Value(2.0) ** Value(2.0), TypeError, "exponent must be a plain number"),
        (lambda: Value(2.0) ** "2", TypeError, "p must be a real number"),
        (lambda: Value(1000.0).exp(), OverflowError, "larger than the largest float"),
        (lambda: Value("3"), TypeError, "data must be a real number"),
        (lambda: Value(True), TypeError, "data must be a real number"),
        (lambda: Value([1.0]), TypeError, "data must be a real number"),
        (lambda: Value(1.0) + "a", TypeError, "other operand must be a Value or a real number"),
        (lambda: "a" + Value(1.0), TypeError, "other operand must be a Value or a real number"),
        (lambda: Value(1.0) * None, TypeError, "other operand must be a Value or a real number"),
        (lambda: Value(1.0) - np.array([1.0]), TypeError, "other operand must be a Value or a real number"),
        (lambda: np.array([1.0]) + Value(1.0), TypeError, "other operand must be a Value or a real number"),
    ],
)
def test_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_infinite_derivative_of_sqrt_at_zero_is_an_error():
    x = Value(0.0)
    out = x**0.5
    assert out.data == 0.0
    with pytest.raises(ZeroDivisionError, match="infinite at x = 0"):
        out.backward()


@pytest.mark.parametrize("x", [0.0, 2.0, -3.0])
def test_power_zero_has_derivative_zero(x):
    # x^0 = 1 is constant, so p x^(p-1) with p = 0 is 0, also at x = 0
    # (where evaluating x^(p-1) = 0^(-1) would divide by zero).
    v = Value(x)
    out = v**0 * 3.0 + v
    out.backward()
    assert out.data == 3.0 + x
    assert v.grad == 1.0


def test_numpy_scalars_are_numbers():
    out = Value(np.float64(2.0)) * np.float32(3.0) + np.int64(1)
    out.backward()
    assert out.data == 7.0
    assert isinstance(out.data, float)
