"""Tests for dlmath.backprop (chapter 5) and the toy data of dlmath.datasets."""
import numpy as np
import pytest

from dlmath import numerical_gradient, rel_error
from dlmath.backprop import (
    init_mlp,
    linear_backward,
    linear_forward,
    linear_forward_naive,
    mlp_backward,
    mlp_forward,
    mlp_loss_and_grads,
    mlp_predict,
    relu_backward,
    relu_forward,
    sgd_step,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from dlmath.datasets import spirals, two_moons
from dlmath.losses import cross_entropy

# The finite-difference step. Central differences have truncation error
# O(eps^2) and rounding error O(machine_eps * |L| / eps); the two balance near
# eps = machine_eps ** (1/3), about 6e-6 in float64. With eps = 1e-6 the rounding
# error (about 1e-10 absolute) already exceeds 1e-7 relative on gradient
# entries of order 1e-3, which a 3-layer network has; 1e-5 gains a factor 10.
FD_STEP = 1e-5

ACTIVATION_LAYERS = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
}


# --------------------------------------------------------------------------
# linear layer
# --------------------------------------------------------------------------

@pytest.mark.parametrize("n, d, m", [(1, 1, 1), (4, 3, 5), (7, 1, 2), (2, 6, 1)])
def test_linear_forward_matches_loop(n, d, m):
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    out, _ = linear_forward(x, W, b)
    assert out.shape == (n, m)
    assert rel_error(out, linear_forward_naive(x, W, b)) < 1e-12


def test_linear_forward_by_hand():
    # [1 2] [[1 0 2], [0 1 3]] + [10 20 30] = [11 22 38]
    out, _ = linear_forward([[1, 2]], [[1, 0, 2], [0, 1, 3]], [10, 20, 30])
    np.testing.assert_array_equal(out, [[11.0, 22.0, 38.0]])
    assert out.dtype == np.float64


@pytest.mark.parametrize("n, d, m", [(1, 1, 1), (4, 3, 5), (6, 2, 3)])
def test_linear_backward_numerically(n, d, m):
    rng = np.random.default_rng(1)
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    dout = rng.normal(size=(n, m))
    # L = sum(out * dout) has dL/dout = dout.
    loss = lambda _: float(np.sum(linear_forward(x, W, b)[0] * dout))
    dx, dW, db = linear_backward(dout, linear_forward(x, W, b)[1])
    assert (dx.shape, dW.shape, db.shape) == (x.shape, W.shape, b.shape)
    assert rel_error(dx, numerical_gradient(loss, x, eps=FD_STEP)) < 1e-7
    assert rel_error(dW, numerical_gradient(loss, W, eps=FD_STEP)) < 1e-7
    assert rel_error(db, numerical_gradient(loss, b, eps=FD_STEP)) < 1e-7


def test_linear_keeps_float32():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 2)).astype(np.float32)
    W = rng.normal(size=(2, 4)).astype(np.float32)
    b = np.zeros(4, np.float32)
    out, cache = linear_forward(x, W, b)
    assert out.dtype == np.float32
    dx, dW, db = linear_backward(np.ones((3, 4), np.float32), cache)
    assert dx.dtype == dW.dtype == db.dtype == np.float32


@pytest.mark.parametrize(
    "x_shape, W_shape, b_shape, match",
    [
        ((3,), (3, 2), (2,), r"x must be 2-D \(N, D\), got shape \(3,\)"),
        ((4, 3), (2, 5), (5,), r"x has shape \(4, 3\) and W has shape \(2, 5\); expected W to have shape \(3, M\)"),
        ((4, 3), (3,), (3,), r"W must be 2-D \(D, M\), got shape \(3,\)"),
        ((4, 3), (3, 5), (4,), r"b has shape \(4,\); expected \(5,\)"),
        ((4, 3), (3, 5), (1, 5), r"b has shape \(1, 5\); expected \(5,\)"),
    ],
)
def test_linear_forward_bad_shapes(x_shape, W_shape, b_shape, match):
    with pytest.raises(ValueError, match=match):
        linear_forward(np.zeros(x_shape), np.zeros(W_shape), np.zeros(b_shape))


@pytest.mark.parametrize("dout_shape", [(4, 3), (5,), (5, 4), (4, 5, 1)])
def test_linear_backward_bad_dout(dout_shape):
    _, cache = linear_forward(np.zeros((4, 3)), np.zeros((3, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"dout has shape .*; expected \(4, 5\)"):
        linear_backward(np.zeros(dout_shape), cache)


def test_linear_rejects_strings():
    with pytest.raises(TypeError, match="real numeric"):
        linear_forward([["a", "b"]], np.zeros((2, 2)), np.zeros(2))


# --------------------------------------------------------------------------
# activation layers
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ACTIVATION_LAYERS))
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_activation_backward_numerically(name, shape):
    forward, backward = ACTIVATION_LAYERS[name]
    rng = np.random.default_rng(3)
    z = rng.normal(size=shape)
    z = z + np.sign(z) * 0.1  # keep away from relu's kink at 0
    dh = rng.normal(size=shape)
    loss = lambda _: float(np.sum(forward(z)[0] * dh))
    dz = backward(dh, forward(z)[1])
    assert dz.shape == z.shape
    assert rel_error(dz, numerical_gradient(loss, z, eps=FD_STEP)) < 1e-7


@pytest.mark.parametrize(
    "name, f, fprime",
    [
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        ("tanh", np.tanh, lambda z: 1 / np.cosh(z) ** 2),
        ("relu", lambda z: np.where(z > 0, z, 0.0), lambda z: (z > 0) * 1.0),
    ],
)
def test_activation_layers_against_textbook_formulas(name, f, fprime):
    forward, backward = ACTIVATION_LAYERS[name]
    z = np.array([-2.0, -0.5, 0.0, 0.3, 1.7])
    dh = np.array([1.0, -2.0, 3.0, 0.5, -1.0])
    h, cache = forward(z)
    np.testing.assert_allclose(h, f(z), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(backward(dh, cache), dh * fprime(z), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATION_LAYERS))
def test_activation_extreme_inputs_finite(name):
    forward, backward = ACTIVATION_LAYERS[name]
    z = np.array([-1e4, -1000.0, 1000.0, 1e4])
    h, cache = forward(z)
    dz = backward(np.ones_like(z), cache)
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(dz))


@pytest.mark.parametrize("name", sorted(ACTIVATION_LAYERS))
def test_activation_backward_bad_shape(name):
    forward, backward = ACTIVATION_LAYERS[name]
    _, cache = forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"z has shape \(3, 4\) but dh has shape \(4,\); expected dh to have shape \(3, 4\)"):
        backward(np.zeros(4), cache)


# --------------------------------------------------------------------------
# the whole MLP
# --------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("sizes", [[3, 4], [3, 5, 4], [2, 6, 5, 3]])
def test_mlp_gradient_numerically(activation, sizes):
    rng = np.random.default_rng(0)
    params = init_mlp(sizes, rng, activation)
    for key in params:  # nonzero biases, so their gradients are exercised too
        if key.startswith("b"):
            params[key] = rng.normal(size=params[key].shape) * 0.5
    x = rng.normal(size=(7, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=7)
    loss, grads = mlp_loss_and_grads(params, x, labels, activation)
    assert list(grads) == list(params)
    for key, value in params.items():
        f = lambda _: cross_entropy(mlp_forward(params, x, activation)[0], labels)
        num = numerical_gradient(f, value, eps=FD_STEP)
        assert grads[key].shape == value.shape
        assert rel_error(grads[key], num) < 1e-7, key


def test_mlp_forward_by_composition():
    rng = np.random.default_rng(5)
    params = init_mlp([3, 4, 5, 2], rng, "tanh")
    x = rng.normal(size=(6, 3))
    h1 = np.tanh(x @ params["W1"] + params["b1"])
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])
    expected = h2 @ params["W3"] + params["b3"]
    logits, _ = mlp_forward(params, x, "tanh")
    assert rel_error(logits, expected) < 1e-12
    np.testing.assert_array_equal(mlp_predict(params, x, "tanh"), np.argmax(expected, axis=1))


def test_mlp_backward_two_layers_by_hand():
    # The chain rule written out for one hidden relu layer, independently of mlp_backward.
    rng = np.random.default_rng(6)
    params = init_mlp([3, 4, 2], rng, "relu")
    x = rng.normal(size=(5, 3))
    dlogits = rng.normal(size=(5, 2))
    z1 = x @ params["W1"] + params["b1"]
    h1 = np.maximum(z1, 0)
    dz1 = (dlogits @ params["W2"].T) * (z1 > 0)
    _, cache = mlp_forward(params, x, "relu")
    grads = mlp_backward(dlogits, cache)
    assert rel_error(grads["W2"], h1.T @ dlogits) < 1e-12
    assert rel_error(grads["b2"], dlogits.sum(0)) < 1e-12
    assert rel_error(grads["W1"], x.T @ dz1) < 1e-12
    assert rel_error(grads["b1"], dz1.sum(0)) < 1e-12


def test_mlp_huge_inputs_stay_finite():
    rng = np.random.default_rng(7)
    params = init_mlp([2, 8, 3], rng, "relu")
    x = rng.normal(size=(4, 2)) * 1e4
    loss, grads = mlp_loss_and_grads(params, x, [0, 1, 2, 0], "relu")
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize(
    "activation, expected_var",
    [("relu", lambda i, o: 2 / i), ("tanh", lambda i, o: 2 / (i + o)), ("sigmoid", lambda i, o: 2 / (i + o))],
)
def test_init_mlp_variance(activation, expected_var):
    params = init_mlp([400, 300, 10], np.random.default_rng(8), activation)
    assert list(params) == ["W1", "b1", "W2", "b2"]
    assert params["W1"].shape == (400, 300) and params["b1"].shape == (300,)
    assert params["W2"].shape == (300, 10) and params["b2"].shape == (10,)
    assert np.all(params["b1"] == 0) and np.all(params["b2"] == 0)
    # 120000 draws: the sample variance is within about 0.4% (1 sd) of the truth.
    assert params["W1"].var() == pytest.approx(expected_var(400, 300), rel=0.03)


def test_init_mlp_is_seeded():
    a = init_mlp([2, 5, 2], 11)
    b = init_mlp([2, 5, 2], np.random.default_rng(11))
    c = init_mlp([2, 5, 2], 12)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


@pytest.mark.parametrize(
    "sizes, activation, error, match",
    [
        ([3], "relu", ValueError, "at least 2 entries"),
        ([3, 0, 2], "relu", ValueError, "must be >= 1, got 0"),
        ([3, 2.5], "relu", TypeError, "must be an int"),
        ([3, 2], "softplus", ValueError, "activation must be one of"),
    ],
)
def test_init_mlp_bad_arguments(sizes, activation, error, match):
    with pytest.raises(error, match=match):
        init_mlp(sizes, 0, activation)


def test_mlp_forward_bad_params_and_inputs():
    params = init_mlp([3, 4, 2], 0)
    with pytest.raises(ValueError, match=r"x has shape \(5, 2\) and W has shape \(3, 4\)"):
        mlp_forward(params, np.zeros((5, 2)))
    broken = {k: v for k, v in params.items() if k != "b2"}
    with pytest.raises(ValueError, match="expected W1, b1, ..., WL, bL"):
        mlp_forward(broken, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp_forward(params, np.zeros((5, 3)), "gelu")
    _, cache = mlp_forward(params, np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"dout has shape \(5, 3\); expected \(5, 2\)"):
        mlp_backward(np.zeros((5, 3)), cache)


def test_sgd_step_is_pure():
    params = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([0.5, -0.5])}
    grads = {"W1": np.array([[10.0, -20.0]]), "b1": np.array([1.0, 1.0])}
    before = {k: v.copy() for k, v in params.items()}
    new = sgd_step(params, grads, 0.1)
    np.testing.assert_allclose(new["W1"], [[0.0, 4.0]], atol=1e-15)
    np.testing.assert_allclose(new["b1"], [0.4, -0.6], atol=1e-15)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    assert new["W1"] is not params["W1"]


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_sgd_step_bad_lr(lr):
    params = {"W1": np.zeros((1, 2))}
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        sgd_step(params, {"W1": np.zeros((1, 2))}, lr)


def test_sgd_step_mismatched_grads():
    params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3)}
    with pytest.raises(ValueError, match="grads has keys"):
        sgd_step(params, {"W1": np.zeros((2, 3))}, 0.1)
    with pytest.raises(ValueError, match=r"params\['b1'\] has shape \(3,\) but grads\['b1'\] has shape \(1, 3\)"):
        sgd_step(params, {"W1": np.zeros((2, 3)), "b1": np.zeros((1, 3))}, 0.1)


def _train(sizes, activation, lr, steps, seed=0):
    X, y = two_moons(200, 0.1, seed)
    params = init_mlp(sizes, seed, activation)
    losses = []
    for _ in range(steps):
        loss, grads = mlp_loss_and_grads(params, X, y, activation)
        losses.append(loss)
        params = sgd_step(params, grads, lr)
    return params, losses


def test_mlp_learns_two_moons():
    # Measured with this configuration: train and held-out accuracy >= 0.99
    # for each of 20 seeds (100% for seed 0), final loss about 0.012 for seed 0.
    params, losses = _train([2, 16, 16, 2], "relu", lr=0.3, steps=300)
    X_test, y_test = two_moons(1000, 0.1, 100)
    X, y = two_moons(200, 0.1, 0)
    assert np.mean(mlp_predict(params, X) == y) >= 0.97
    assert np.mean(mlp_predict(params, X_test) == y_test) >= 0.97
    assert losses[-1] < 0.1 < losses[0]
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) / 10


def test_linear_model_cannot_fit_two_moons():
    # Without a hidden layer the decision boundary is a line: the moons need the MLP.
    params, losses = _train([2, 2], "relu", lr=0.3, steps=300)
    X, y = two_moons(200, 0.1, 0)
    assert np.mean(mlp_predict(params, X) == y) < 0.95
    assert losses[-1] > 0.2


# --------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 7, 200])
def test_two_moons_shapes_and_labels(n):
    X, y = two_moons(n, 0.1, 0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.sum(y == 1) == n // 2 and np.sum(y == 0) == n - n // 2


def test_two_moons_without_noise_lies_on_the_half_circles():
    X, y = two_moons(101, 0.0, 0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-12)
    assert np.all(upper[:, 1] >= -1e-12)
    centred = lower - np.array([1.0, 0.5])
    np.testing.assert_allclose(np.hypot(*centred.T), 1.0, atol=1e-12)
    assert np.all(centred[:, 1] <= 1e-12)


def test_two_moons_is_seeded_and_noisy():
    a, ya = two_moons(50, 0.2, 3)
    b, yb = two_moons(50, 0.2, np.random.default_rng(3))
    c, _ = two_moons(50, 0.2, 4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("n_per_class, n_classes", [(2, 1), (50, 3), (10, 5)])
def test_spirals_shapes_and_labels(n_per_class, n_classes):
    X, y = spirals(n_per_class, n_classes, 0.2, 0)
    n = n_per_class * n_classes
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=n_classes), [n_per_class] * n_classes)
    assert np.all(np.hypot(*X.T) <= 1 + 1e-12)


def test_spirals_without_noise_follow_the_arms():
    X, y = spirals(40, 3, 0.0, 0)
    r = np.hypot(*X.T)
    theta = np.arctan2(X[:, 0], X[:, 1])  # x = r (sin, cos)
    expected = 4.0 * y + 4.0 * r
    keep = r > 1e-9  # the angle of the centre is undefined
    gap = np.angle(np.exp(1j * (theta[keep] - expected[keep])))  # difference mod 2 pi
    np.testing.assert_allclose(gap, 0.0, atol=1e-9)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: two_moons(1, 0.1, 0), ValueError, "n must be >= 2"),
        (lambda: two_moons(10, -0.1, 0), ValueError, "noise must be a finite number >= 0"),
        (lambda: two_moons(10, float("nan"), 0), ValueError, "noise must be a finite number >= 0"),
        (lambda: two_moons(10, "0.1", 0), TypeError, "noise must be a real number"),
        (lambda: two_moons(10.0, 0.1, 0), TypeError, "n must be an int"),
        (lambda: spirals(1, 3, 0.1, 0), ValueError, "n_per_class must be >= 2"),
        (lambda: spirals(10, 0, 0.1, 0), ValueError, "n_classes must be >= 1"),
        (lambda: spirals(10, 3, -1.0, 0), ValueError, "noise must be a finite number >= 0"),
    ],
)
def test_datasets_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------
# gradient checkpointing, dead relu units, symmetry (chapter 5, issue 17)
# --------------------------------------------------------------------------

from dlmath import backprop as _bp  # noqa: E402  (the module, for monkeypatching and new names)
from dlmath.losses import cross_entropy_grad  # noqa: E402


def _net(sizes, activation, seed=0, n=9):
    rng = np.random.default_rng(seed)
    params = init_mlp(sizes, rng, activation)
    for key in params:  # nonzero biases, so that their gradients are exercised
        if key.startswith("b"):
            params[key] = 0.3 * rng.normal(size=params[key].shape)
    x = rng.normal(size=(n, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=n)
    return params, x, labels


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("sizes", [[3, 2], [3, 5, 2], [2, 6, 5, 4, 7, 3]])
@pytest.mark.parametrize("every", [1, 2, 3, 5, 50])
def test_checkpointed_equals_mlp_backward(activation, sizes, every):
    params, x, labels = _net(sizes, activation)
    logits, cache = mlp_forward(params, x, activation)
    expected = mlp_backward(cross_entropy_grad(logits, labels), cache)
    logits_ck, cache_ck = _bp.mlp_forward_checkpointed(params, x, activation, every=every)
    np.testing.assert_array_equal(logits_ck, logits)          # the same operations
    grads = _bp.mlp_backward_checkpointed(cross_entropy_grad(logits_ck, labels), cache_ck)
    assert list(grads) == list(expected)
    for key in expected:
        assert grads[key].shape == expected[key].shape
        np.testing.assert_array_equal(grads[key], expected[key], err_msg=key)


@pytest.mark.parametrize("every", [1, 2, 4])
def test_checkpointed_numerically(every):
    params, x, labels = _net([2, 5, 4, 3, 2], "tanh", seed=3)
    logits, cache = _bp.mlp_forward_checkpointed(params, x, "tanh", every=every)
    grads = _bp.mlp_backward_checkpointed(cross_entropy_grad(logits, labels), cache)
    for key, value in params.items():
        f = lambda _: cross_entropy(mlp_forward(params, x, "tanh")[0], labels)
        assert rel_error(grads[key], numerical_gradient(f, value, eps=FD_STEP)) < 1e-7, key


@pytest.mark.parametrize("n_layers, every", [(1, 1), (4, 1), (7, 2), (7, 3), (8, 8), (5, 9)])
def test_checkpointed_keeps_only_the_checkpoints(n_layers, every):
    sizes = [3] + [4] * (n_layers - 1) + [2]
    params, x, _ = _net(sizes, "relu")
    _, cache = _bp.mlp_forward_checkpointed(params, x, "relu", every=every)
    checkpoints = cache[-1]
    assert len(checkpoints) == -(-n_layers // every)            # ceil(L / k)
    assert checkpoints[0] is not None and np.array_equal(checkpoints[0], x)
    # checkpoint s is the input of layer s k + 1, i.e. H^(s k)
    h = x
    for layer in range(1, n_layers):
        h = np.maximum(h @ params[f"W{layer}"] + params[f"b{layer}"], 0)
        if layer % every == 0:
            np.testing.assert_allclose(checkpoints[layer // every], h, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("every", [1, 2, 3, 7])
def test_checkpointed_evaluates_every_layer_twice(monkeypatch, every):
    # One extra forward pass, whatever k: L layer evaluations forward, L again in the backward.
    n_layers = 7
    params, x, labels = _net([3] + [4] * (n_layers - 1) + [2], "relu")
    calls = []
    original = _bp.linear_forward
    monkeypatch.setattr(_bp, "linear_forward", lambda *a: calls.append(1) or original(*a))
    logits, cache = _bp.mlp_forward_checkpointed(params, x, "relu", every=every)
    assert len(calls) == n_layers
    _bp.mlp_backward_checkpointed(cross_entropy_grad(logits, labels), cache)
    assert len(calls) == 2 * n_layers


def _peak_bytes(run):
    import tracemalloc

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_checkpointing_saves_memory_as_derived():
    # L = 36 layers of width 32, batch 256: one activation array is 64 KiB, the parameters
    # (and so the gradients) about 9 KiB per layer. Peak memory, in activation arrays, is
    # about 2L without checkpoints and ceil(L/k) + 2k with them (eq-bp-checkpoint-memory),
    # plus a few temporaries and the gradients.
    n_layers, width, n = 36, 32, 256
    params, x, labels = _net([2] + [width] * (n_layers - 1) + [2], "relu", n=n)
    unit = n * width * 8
    grad_units = sum(v.nbytes for v in params.values()) / unit

    def plain():
        logits, cache = mlp_forward(params, x, "relu")
        mlp_backward(cross_entropy_grad(logits, labels), cache)

    def checkpointed(k):
        def run():
            logits, cache = _bp.mlp_forward_checkpointed(params, x, "relu", every=k)
            _bp.mlp_backward_checkpointed(cross_entropy_grad(logits, labels), cache)
        return run

    measured = _peak_bytes(plain) / unit - grad_units
    assert 2 * n_layers - 4 <= measured <= 2 * n_layers + 8
    for k in [1, 2, 4, 6, 9, 36]:
        measured = _peak_bytes(checkpointed(k)) / unit - grad_units
        model = -(-n_layers // k) + 2 * k
        assert model - 4 <= measured <= model + 8, (k, measured, model)


def test_checkpointed_keeps_float32_and_leaves_inputs_unchanged():
    params, x, labels = _net([3, 4, 4, 2], "tanh")
    params = {k: v.astype(np.float32) for k, v in params.items()}
    x = x.astype(np.float32)
    before = {k: v.copy() for k, v in params.items()}, x.copy()
    logits, cache = _bp.mlp_forward_checkpointed(params, x, "tanh", every=2)
    assert logits.dtype == np.float32
    grads = _bp.mlp_backward_checkpointed(np.ones_like(logits), cache)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(np.array_equal(params[k], before[0][k]) for k in params)
    np.testing.assert_array_equal(x, before[1])


@pytest.mark.parametrize("every, error, match", [
    (0, ValueError, "every must be >= 1, got 0"),
    (-2, ValueError, "every must be >= 1"),
    (1.5, TypeError, "every must be an int"),
    (True, TypeError, "every must be an int"),
])
def test_checkpointed_bad_every(every, error, match):
    params, x, _ = _net([3, 4, 2], "relu")
    with pytest.raises(error, match=match):
        _bp.mlp_forward_checkpointed(params, x, "relu", every=every)


def test_checkpointed_bad_inputs():
    params, x, _ = _net([3, 4, 2], "relu")
    with pytest.raises(ValueError, match=r"x has shape \(9, 2\) and W has shape \(3, 4\)"):
        _bp.mlp_forward_checkpointed(params, x[:, :2], "relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        _bp.mlp_forward_checkpointed(params, x, "gelu")
    with pytest.raises(ValueError, match="expected W1, b1, ..., WL, bL"):
        _bp.mlp_forward_checkpointed({"W1": params["W1"]}, x, "relu")
    _, cache = _bp.mlp_forward_checkpointed(params, x, "relu", every=1)
    with pytest.raises(ValueError, match=r"dout has shape \(9, 3\); expected \(9, 2\)"):
        _bp.mlp_backward_checkpointed(np.zeros((9, 3)), cache)


def test_dead_relu_units_by_hand():
    # Hidden layer 1: unit 0 is z = x1 (alive), unit 1 is z = -x1 - 1 (< 0 on the data),
    # unit 2 is z = 0 exactly (dead: relu'(0) = 0). Layer 2 reads units 0 and 2.
    params = {
        "W1": np.array([[1.0, -1.0, 0.0]]), "b1": np.array([0.0, -1.0, 0.0]),
        "W2": np.array([[1.0, -1.0], [5.0, 5.0], [2.0, 2.0]]), "b2": np.array([0.0, 0.0]),
        "W3": np.ones((2, 2)), "b3": np.zeros(2),
    }
    x = np.array([[0.5], [2.0], [0.0]])
    dead = _bp.dead_relu_units(params, x)
    assert len(dead) == 2 and all(d.dtype == bool for d in dead)
    np.testing.assert_array_equal(dead[0], [False, True, True])
    np.testing.assert_array_equal(dead[1], [False, True])      # -x1 <= 0 on every row
    # on the row x = 0 alone, unit 0 of layer 1 is dead too (z = 0)
    np.testing.assert_array_equal(_bp.dead_relu_units(params, x[2:])[0], [True, True, True])
    assert _bp.dead_relu_units({"W1": np.ones((1, 2)), "b1": np.zeros(2)}, x) == []
    with pytest.raises(ValueError, match="x has no rows"):
        _bp.dead_relu_units(params, np.zeros((0, 1)))


def test_dead_units_get_no_gradient_and_first_layer_ones_never_change():
    X, y = two_moons(200, 0.1, 0)
    params = init_mlp([2, 16, 16, 2], 0, "relu")
    params = {k: (v - 1.0 if k in ("b1", "b2") else v) for k, v in params.items()}
    dead1, dead2 = _bp.dead_relu_units(params, X)
    assert dead1.any() and dead2.any() and not dead1.all()
    _, grads = mlp_loss_and_grads(params, X, y)
    assert np.all(grads["W1"][:, dead1] == 0) and np.all(grads["b1"][dead1] == 0)
    assert np.all(grads["W2"][dead1, :] == 0)                  # their output is 0
    assert np.all(grads["W2"][:, dead2] == 0) and np.all(grads["b2"][dead2] == 0)
    start = params
    for _ in range(50):
        params = sgd_step(params, mlp_loss_and_grads(params, X, y)[1], 0.3)
    np.testing.assert_array_equal(params["W1"][:, dead1], start["W1"][:, dead1])
    np.testing.assert_array_equal(params["b1"][dead1], start["b1"][dead1])
    np.testing.assert_array_equal(_bp.dead_relu_units(params, X)[0][dead1], True)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_equal_hidden_units_stay_equal(activation):
    # Symmetry: units with equal incoming weights, biases and outgoing weights get equal
    # gradients (eq-bp-symmetry), so gradient descent keeps them equal.
    X, y = two_moons(60, 0.1, 1)
    rng = np.random.default_rng(4)
    w, v = rng.normal(size=(2, 1)), rng.normal(size=(1, 2))
    params = {"W1": np.repeat(w, 8, axis=1), "b1": np.full(8, 0.1), "W2": np.full((8, 8), 0.3),
              "b2": np.full(8, -0.05), "W3": np.repeat(v, 8, axis=0), "b3": np.zeros(2)}
    for _ in range(20):
        loss, grads = mlp_loss_and_grads(params, X, y, activation)
        assert np.ptp(grads["W1"], axis=1).max() < 1e-13       # equal columns (units)
        assert np.ptp(grads["b1"]) < 1e-13 and np.ptp(grads["b2"]) < 1e-13
        assert np.ptp(grads["W2"]) < 1e-13                      # equal rows and columns
        assert np.ptp(grads["W3"], axis=0).max() < 1e-13       # equal rows
        params = sgd_step(params, grads, 0.5)
    assert np.ptp(params["W1"], axis=1).max() < 1e-12
    assert np.ptp(params["W2"]) < 1e-12
    assert np.ptp(params["W3"], axis=0).max() < 1e-12
    assert not np.allclose(params["W1"], np.repeat(w, 8, axis=1))      # it did learn


# --------------------------------------------------------------------------
# the linear layer: non-finite input and overflow are errors, not inf or nan
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("name", ["x", "W", "b"])
def test_linear_forward_refuses_non_finite_input(bad, name):
    rng = np.random.default_rng(3)
    args = {"x": rng.normal(size=(4, 3)), "W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    args[name].flat[1] = bad
    with pytest.raises(ValueError, match=f"linear_forward: {name} .* inf or nan"):
        linear_forward(**args)


@pytest.mark.parametrize("signs", [1, -1])
def test_linear_forward_overflow_is_an_error(signs):
    # 1e200 * 1e200 overflows; with opposite signs the exact sum is 0, but the
    # result is nan or inf depending on the BLAS kernel: an error either way.
    x = np.array([[1e200, 1e200]])
    W = np.array([[1e200], [signs * 1e200]])
    with pytest.raises(ValueError, match="linear_forward: the output overflows float64"):
        linear_forward(x, W, np.zeros(1))


def test_linear_backward_overflow_and_non_finite_dout_are_errors():
    x = np.array([[1e200, 1.0]])
    _, cache = linear_forward(x, np.ones((2, 1)), np.zeros(1))
    with pytest.raises(ValueError, match="linear_backward: dW overflows float64"):
        linear_backward(np.array([[1e200]]), cache)
    with pytest.raises(ValueError, match="linear_backward: dout .* inf or nan"):
        linear_backward(np.array([[np.nan]]), cache)
