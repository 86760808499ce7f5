"""Tests of dlmath.lstm: the step against the gate equations written out, the fast
sequence pair against the step-by-step references, every backward against finite
differences, PyTorch's golden arrays, the forget-gate path, dtypes, bad input and
saturated gates."""
import pathlib

import numpy as np
import pytest

from dlmath import numerical_gradient, rel_error, sigmoid
from dlmath.lstm import (
    lstm_backward,
    lstm_backward_naive,
    lstm_forward,
    lstm_forward_naive,
    lstm_step_backward,
    lstm_step_forward,
)

GOLDEN = pathlib.Path(__file__).parent / "data" / "torch_rnn_lstm.npz"

# (N, T, D, H)
SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 6, 2, 3), (4, 2, 5, 2), (1, 10, 3, 4)]
SHAPE_IDS = ["N{}-T{}-D{}-H{}".format(*s) for s in SHAPES]
VERSIONS = {"fast": (lstm_forward, lstm_backward), "naive": (lstm_forward_naive, lstm_backward_naive)}


def make(shape, seed):
    """x, h0, Wx, Wh, b, c0 for an LSTM of the given (N, T, D, H), and an upstream dh."""
    n, t, d, h = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, d))
    h0 = rng.standard_normal((n, h))
    Wx = rng.standard_normal((d, 4 * h)) / np.sqrt(d)
    Wh = rng.standard_normal((h, 4 * h)) / np.sqrt(h)
    b = 0.5 * rng.standard_normal(4 * h)
    c0 = rng.standard_normal((n, h))
    dh = rng.standard_normal((n, t, h))
    return x, h0, Wx, Wh, b, c0, dh


def step_reference(x, h_prev, c_prev, Wx, Wh, b):
    """The gate equations with dlmath's two-branch sigmoid and explicit blocks."""
    width = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i = sigmoid(a[:, :width])
    f = sigmoid(a[:, width:2 * width])
    g = np.tanh(a[:, 2 * width:3 * width])
    o = sigmoid(a[:, 3 * width:])
    c = f * c_prev + i * g
    return o * np.tanh(c), c


# ---------------------------------------------------------------- one step


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_step_forward_matches_the_gate_equations(shape):
    x, h0, Wx, Wh, b, c0, _ = make(shape, 0)
    h, c, cache = lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    h_ref, c_ref = step_reference(x[:, 0], h0, c0, Wx, Wh, b)
    np.testing.assert_allclose(h, h_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c, c_ref, rtol=1e-13, atol=1e-15)
    assert cache["gates"].shape == (shape[0], 4 * shape[3])


def test_gate_blocks_are_in_torch_order_i_f_g_o():
    # A bias of +-30 on one block at a time makes that gate 0 or 1 (g: -1 or 1).
    width = 2
    x, h_prev, c_prev = np.zeros((1, 1)), np.zeros((1, width)), np.array([[0.5, -2.0]])
    zeros = np.zeros((1, 4 * width)), np.zeros((width, 4 * width))

    def run(i, f, g, o):
        b = np.repeat([i, f, g, o], width).astype(float)
        return lstm_step_forward(x, h_prev, c_prev, *zeros, b)[:2]

    h, c = run(-30, 30, 0, 30)            # forget everything new, keep the cell, show it
    np.testing.assert_allclose(c, c_prev, rtol=1e-12)
    np.testing.assert_allclose(h, np.tanh(c_prev), rtol=1e-12)
    h, c = run(30, -30, 30, -30)          # write g = 1 over a forgotten cell, hide it
    np.testing.assert_allclose(c, [[1.0, 1.0]], rtol=1e-12)
    np.testing.assert_allclose(h, [[0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_step_backward_matches_finite_differences(shape):
    """All six gradients of L = sum(dh * h) + sum(dc * c) for one step."""
    x, h0, Wx, Wh, b, c0, dh = make(shape, 1)
    dc = np.random.default_rng(100).standard_normal(c0.shape)
    inputs = [x[:, 0].copy(), h0, c0, Wx, Wh, b]
    _, _, cache = lstm_step_forward(*inputs)
    grads = lstm_step_backward(dh[:, 0], dc, cache)
    assert len(grads) == 6

    def loss(_):
        h, c, _ = lstm_step_forward(*inputs)
        return np.sum(dh[:, 0] * h) + np.sum(dc * c)

    for name, arr, grad in zip(["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"], inputs, grads):
        assert grad.shape == arr.shape, name
        numeric = numerical_gradient(loss, arr)
        assert rel_error(grad, numeric) < 1e-5, name
        assert np.max(np.abs(grad - numeric)) < 1e-8, name


def test_cell_gradient_passes_through_the_forget_gate():
    # With no gradient on h, c-bar_prev = c-bar * f exactly: the additive path.
    x, h0, Wx, Wh, b, c0, _ = make((3, 1, 2, 4), 2)
    _, _, cache = lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    dc = np.random.default_rng(3).standard_normal(c0.shape)
    dc_prev = lstm_step_backward(np.zeros_like(dc), dc, cache)[2]
    f = cache["gates"][:, 4:8]
    np.testing.assert_array_equal(dc_prev, dc * f)


# ---------------------------------------------------- whole sequence, fast and naive


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward_matches_naive_and_the_gate_equations(shape):
    x, h0, Wx, Wh, b, c0, _ = make(shape, 4)
    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    h_naive, _ = lstm_forward_naive(x, h0, Wx, Wh, b, c0)
    np.testing.assert_allclose(h, h_naive, rtol=1e-13, atol=1e-15)
    h_prev, c_prev = h0, c0
    for t in range(shape[1]):
        h_prev, c_prev = step_reference(x[:, t], h_prev, c_prev, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], h_prev, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cache["c"][:, t + 1], c_prev, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(cache["c"][:, 0], c0)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_backward_matches_naive(shape):
    x, h0, Wx, Wh, b, c0, dh = make(shape, 5)
    _, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    _, cache_ref = lstm_forward_naive(x, h0, Wx, Wh, b, c0)
    fast, ref = lstm_backward(dh, cache), lstm_backward_naive(dh, cache_ref)
    assert len(fast) == len(ref) == 5
    for name, a, r in zip(["dx", "dh0", "dWx", "dWh", "db"], fast, ref):
        assert a.shape == r.shape, name
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("version", ["fast", "naive"])
def test_backward_matches_finite_differences(shape, version):
    """All five gradients of L = sum(dh * h) against central differences (bounds as in
    tests/test_rnn.py: ~1e-10 of finite-difference noise, some entries small by cancellation)."""
    forward, backward = VERSIONS[version]
    x, h0, Wx, Wh, b, c0, dh = make(shape, 6)
    inputs = [x, h0, Wx, Wh, b]
    _, cache = forward(*inputs, c0=c0)
    grads = backward(dh, cache)
    for name, arr, grad in zip(["dx", "dh0", "dWx", "dWh", "db"], inputs, grads):
        assert grad.shape == arr.shape, name
        numeric = numerical_gradient(lambda _: np.sum(dh * forward(*inputs, c0=c0)[0]), arr)
        assert rel_error(grad, numeric) < 1e-5, name
        assert np.max(np.abs(grad - numeric)) < 1e-8, name


def test_c0_defaults_to_zeros_and_gets_no_gradient():
    x, h0, Wx, Wh, b, c0, dh = make((2, 4, 3, 2), 7)
    h_default, cache = lstm_forward(x, h0, Wx, Wh, b)
    h_zeros, _ = lstm_forward(x, h0, Wx, Wh, b, np.zeros_like(c0))
    np.testing.assert_array_equal(h_default, h_zeros)
    assert len(lstm_backward(dh, cache)) == 5
    # the gradient c0 would get, c-bar_1 * f_1, is what torch reports for it (golden test)


def test_cell_gradient_through_time_is_a_product_of_forget_gates():
    # Input and output gates shut (bias -30), forget gate from the bias: c_t = f_t c_{t-1},
    # so dc_T/dc_0 = prod_t f_t. Measured with the step backward chained over time.
    width, steps = 3, 6
    rng = np.random.default_rng(8)
    b = np.concatenate([np.full(width, -30.0), rng.standard_normal(width), np.zeros(width),
                        np.full(width, -30.0)])
    x = rng.standard_normal((1, steps, 2))
    Wx = np.zeros((2, 4 * width))
    Wx[:, width:2 * width] = rng.standard_normal((2, width))   # the forget gate reads the input
    caches, h, c = [], np.zeros((1, width)), rng.standard_normal((1, width))
    for t in range(steps):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, np.zeros((width, 4 * width)), b)
        caches.append(cache)
    dc = np.ones((1, width))
    for cache in reversed(caches):
        dc = lstm_step_backward(np.zeros((1, width)), dc, cache)[2]
    product = np.prod([cache["gates"][:, width:2 * width] for cache in caches], axis=0)
    np.testing.assert_allclose(dc, product, rtol=1e-13)


def test_sequence_splits_in_two():
    x, h0, Wx, Wh, b, c0, dh = make((2, 7, 3, 4), 9)
    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    h1, cache1 = lstm_forward(x[:, :4], h0, Wx, Wh, b, c0)
    h2, _ = lstm_forward(x[:, 4:], h1[:, -1], Wx, Wh, b, cache1["c"][:, -1])
    np.testing.assert_allclose(h, np.concatenate([h1, h2], axis=1), rtol=1e-13, atol=1e-15)


def test_zero_length_sequence():
    x, h0, Wx, Wh, b, c0, _ = make((2, 1, 3, 4), 10)
    h, cache = lstm_forward(x[:, :0], h0, Wx, Wh, b, c0)
    assert h.shape == (2, 0, 4)
    dx, dh0, dWx, dWh, db = lstm_backward(np.zeros((2, 0, 4)), cache)
    assert dx.shape == (2, 0, 3)
    for g in (dh0, dWx, dWh, db):
        assert not np.any(g)


# ------------------------------------------------------------- PyTorch golden


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return {k[5:]: data[k] for k in data.files if k.startswith("lstm_")}


def test_step_matches_torch_lstmcell(golden):
    g = golden
    h, c, cache = lstm_step_forward(g["x"][:, 0], g["h0"], g["c0"], g["Wx"], g["Wh"], g["b"])
    np.testing.assert_allclose(h, g["step_h"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, g["step_c"], rtol=1e-12, atol=1e-14)
    grads = lstm_step_backward(g["dh"][:, 0], g["dc"], cache)
    for name, grad in zip(["dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"], grads):
        np.testing.assert_allclose(grad, g["step_" + name], rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(g["step_db_hh"], g["step_db"], rtol=1e-14)


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_sequence_matches_torch_lstm(golden, version):
    forward, backward = VERSIONS[version]
    g = golden
    h, cache = forward(g["x"], g["h0"], g["Wx"], g["Wh"], g["b"], g["c0"])
    np.testing.assert_allclose(h, g["h"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h[:, -1], g["h_last"], rtol=1e-12, atol=1e-14)
    grads = backward(g["dh"], cache)
    for name, grad in zip(["dx", "dh0", "dWx", "dWh", "db"], grads):
        np.testing.assert_allclose(grad, g[name], rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(g["db_hh"], g["db"], rtol=1e-14)


def test_last_cell_and_c0_gradient_match_torch(golden):
    g = golden
    _, cache = lstm_forward(g["x"], g["h0"], g["Wx"], g["Wh"], g["b"], g["c0"])
    np.testing.assert_allclose(cache["c"][:, -1], g["c_last"], rtol=1e-12, atol=1e-14)
    # The gradient lstm_backward leaves out: dc_prev of the first step, chained by hand.
    _, cache_naive = lstm_forward_naive(g["x"], g["h0"], g["Wx"], g["Wh"], g["b"], g["c0"])
    dh_next, dc_next = np.zeros_like(g["h0"]), np.zeros_like(g["h0"])
    for t in range(g["x"].shape[1] - 1, -1, -1):
        _, dh_next, dc_next, *_ = lstm_step_backward(g["dh"][:, t] + dh_next, dc_next,
                                                     cache_naive["steps"][t])
    np.testing.assert_allclose(dc_next, g["dc0"], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------ dtypes, inputs, cache


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_float32_stays_float32_and_agrees_with_float64(version):
    forward, backward = VERSIONS[version]
    arrays = make((2, 4, 3, 5), 11)
    h64, c64 = forward(*arrays[:6])
    g64 = backward(arrays[6], c64)
    a32 = [a.astype(np.float32) for a in arrays]
    h32, c32 = forward(*a32[:6])
    g32 = backward(a32[6], c32)
    assert h32.dtype == np.float32
    assert [g.dtype for g in g32] == [np.float32] * 5
    np.testing.assert_allclose(h32, h64, rtol=1e-5, atol=1e-5)
    for a, b_ in zip(g32, g64):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-4)
    step = lstm_step_forward(a32[0][:, 0], a32[1], a32[5], *a32[2:5])
    assert step[0].dtype == step[1].dtype == np.float32
    assert [g.dtype for g in lstm_step_backward(a32[1], a32[1], step[2])] == [np.float32] * 6


def test_mixed_dtypes_give_each_gradient_its_inputs_dtype():
    x, h0, Wx, Wh, b, c0, dh = make((2, 3, 2, 4), 12)
    h, cache = lstm_forward(x.astype(np.float32), h0.astype(np.float32), Wx, Wh.astype(np.float32),
                            b.astype(np.float32), c0.astype(np.float32))
    assert h.dtype == np.float64
    grads = lstm_backward(dh, cache)
    assert [g.dtype for g in grads] == [np.float32, np.float32, np.float64, np.float32, np.float32]
    # a float64 c0 alone also makes the computation float64
    a32 = [a.astype(np.float32) for a in (x, h0, Wx, Wh, b)]
    assert lstm_forward(*a32, c0=c0)[0].dtype == np.float64


def test_integers_become_float64():
    h, cache = lstm_forward(np.ones((1, 2, 1), dtype=int), np.zeros((1, 1), dtype=int),
                            np.ones((1, 4), dtype=int), np.zeros((1, 4), dtype=int),
                            np.zeros(4, dtype=int))
    assert h.dtype == np.float64
    s = sigmoid(1.0)
    c1 = s * np.tanh(1.0)
    np.testing.assert_allclose(h[0, 0, 0], s * np.tanh(c1), rtol=1e-15)


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_inputs_and_cache_are_not_modified(version):
    forward, backward = VERSIONS[version]
    arrays = make((2, 5, 3, 4), 13)
    copies = [a.copy() for a in arrays]
    h, cache = forward(*arrays[:6])
    first = backward(arrays[6], cache)
    h[...] = 0.0
    second = backward(arrays[6], cache)
    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------ bad input


GOOD = dict(x=np.zeros((2, 3, 4)), h0=np.zeros((2, 5)), Wx=np.zeros((4, 20)),
            Wh=np.zeros((5, 20)), b=np.zeros(20))


@pytest.mark.parametrize("name, bad, pattern", [
    ("x", np.zeros((2, 4)), r"x must be 3-D \(N, T, D\), got shape \(2, 4\)"),
    ("h0", np.zeros((3, 5)), r"h0 has shape \(3, 5\).*N=2"),
    ("Wx", np.zeros((4, 5)), r"Wx has shape \(4, 5\); expected \(4, 20\) \(4 blocks of H=5"),
    ("Wx", np.zeros((3, 20)), r"Wx has shape \(3, 20\); expected \(4, 20\)"),
    ("Wh", np.zeros((5, 5)), r"Wh has shape \(5, 5\); expected \(5, 20\)"),
    ("b", np.zeros(5), r"b has shape \(5,\); expected \(20,\)"),
    ("c0", np.zeros((2, 4)), r"c0 has shape \(2, 4\); expected \(2, 5\)"),
])
@pytest.mark.parametrize("forward", [lstm_forward, lstm_forward_naive])
def test_bad_shapes_are_named(forward, name, bad, pattern):
    args = dict(GOOD, **{name: bad})
    with pytest.raises(ValueError, match=pattern):
        forward(**args)


def test_step_bad_shapes_are_named():
    x, h, W, U, b = np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((4, 20)), np.zeros((5, 20)), np.zeros(20)
    with pytest.raises(ValueError, match=r"c_prev has shape \(2, 4\); expected \(2, 5\)"):
        lstm_step_forward(x, h, np.zeros((2, 4)), W, U, b)
    with pytest.raises(ValueError, match=r"c_prev has shape \(3, 5\)"):
        lstm_step_forward(x, h, np.zeros((3, 5)), W, U, b)
    _, _, cache = lstm_step_forward(x, h, h, W, U, b)
    with pytest.raises(ValueError, match=r"dc has shape \(2, 4\); expected \(2, 5\)"):
        lstm_step_backward(h, np.zeros((2, 4)), cache)
    with pytest.raises(ValueError, match=r"dh has shape \(5,\); expected \(2, 5\)"):
        lstm_step_backward(np.zeros(5), h, cache)


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_backward_rejects_dh_of_the_wrong_shape(version):
    forward, backward = VERSIONS[version]
    _, cache = forward(**GOOD)
    with pytest.raises(ValueError, match=r"dh has shape \(2, 3, 20\); expected \(2, 3, 5\)"):
        backward(np.zeros((2, 3, 20)), cache)


def test_non_numeric_input_is_rejected():
    with pytest.raises(TypeError, match="c0 must be a real numeric array"):
        lstm_forward(**GOOD, c0=np.full((2, 5), None))
    with pytest.raises(TypeError, match="b must be a real numeric array"):
        lstm_forward(**dict(GOOD, b=["x"] * 20))


# --------------------------------------------------------------- saturated gates


@pytest.mark.parametrize("scale", [1e-300, 1e4, 1e150])
def test_extreme_pre_activations_stay_finite(scale):
    x, h0, Wx, Wh, b, c0, dh = make((2, 4, 3, 5), 14)
    h, cache = lstm_forward(scale * x, h0, Wx, Wh, b, c0)
    grads = lstm_backward(dh, cache)
    gates = cache["gates"]
    assert np.all((gates[..., :10] >= 0) & (gates[..., :10] <= 1))
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(cache["c"]))
    for g in grads:
        assert np.all(np.isfinite(g))
    if scale >= 1e4:  # every input-driven gate is exactly 0 or 1 (g exactly +-1)
        assert np.all(np.isin(gates, [0.0, 1.0, -1.0]))


@pytest.mark.parametrize("signs", [(1, -1), (1, 1)])
def test_overflowing_pre_activation_is_an_error_not_nan(signs):
    # As for the RNN: nan or inf, depending on the BLAS kernel; both are refused.
    x = np.array([[[1e200, 1e200]]])
    Wx = np.tile(np.array([[1e200], [signs[1] * 1e200]]), (1, 4))
    with pytest.raises(ValueError, match="overflow"):
        lstm_forward(x, np.zeros((1, 1)), Wx, np.zeros((1, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="overflow"):
        lstm_step_forward(x[:, 0], np.zeros((1, 1)), np.zeros((1, 1)), Wx, np.zeros((1, 4)), np.zeros(4))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("where", ["x", "h0", "c0"])
def test_non_finite_input_is_an_error(bad, where):
    x, h0, Wx, Wh, b, c0, _ = make((2, 3, 3, 4), 9)
    {"x": x[:, 0], "h0": h0, "c0": c0}[where][1, 0] = bad
    with pytest.raises(ValueError, match="not finite"):
        lstm_forward(x, h0, Wx, Wh, b, c0)
    with pytest.raises(ValueError, match="not finite"):
        lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
