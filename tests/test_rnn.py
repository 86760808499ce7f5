"""Tests of dlmath.rnn: the step against explicit sums, the fast sequence pair against
the step-by-step references, every backward against finite differences, PyTorch's
golden arrays, the Jacobian norms, dtypes, bad input and extreme values."""
import pathlib

import numpy as np
import pytest

from dlmath import numerical_gradient, rel_error
from dlmath.rnn import (
    rnn_backward,
    rnn_backward_naive,
    rnn_forward,
    rnn_forward_naive,
    rnn_jacobian_norms,
    rnn_step_backward,
    rnn_step_forward,
)

GOLDEN = pathlib.Path(__file__).parent / "data" / "torch_rnn_lstm.npz"

# (N, T, D, H)
SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 7, 2, 4), (4, 2, 6, 3), (1, 12, 3, 8)]
SHAPE_IDS = ["N{}-T{}-D{}-H{}".format(*s) for s in SHAPES]


def make(shape, seed, scale=1.0):
    """x, h0, Wx, Wh, b for an RNN of the given (N, T, D, H), and an upstream dh."""
    n, t, d, h = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, d))
    h0 = rng.standard_normal((n, h))
    Wx = scale * rng.standard_normal((d, h)) / np.sqrt(d)
    Wh = scale * rng.standard_normal((h, h)) / np.sqrt(h)
    b = 0.5 * rng.standard_normal(h)
    dh = rng.standard_normal((n, t, h))
    return x, h0, Wx, Wh, b, dh


def step_reference(x, h_prev, Wx, Wh, b):
    """h = tanh(x Wx + h_prev Wh + b), one sum per entry."""
    n, d = x.shape
    width = Wh.shape[0]
    h = np.empty((n, width))
    for row in range(n):
        for j in range(width):
            z = b[j] + sum(x[row, k] * Wx[k, j] for k in range(d))
            z += sum(h_prev[row, k] * Wh[k, j] for k in range(width))
            h[row, j] = np.tanh(z)
    return h


# ---------------------------------------------------------------- one step


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_step_forward_matches_explicit_sums(shape):
    x, h0, Wx, Wh, b, _ = make(shape, 0)
    h, cache = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    np.testing.assert_allclose(h, step_reference(x[:, 0], h0, Wx, Wh, b), rtol=1e-13, atol=1e-15)
    assert h.shape == h0.shape
    np.testing.assert_array_equal(cache["h"], h)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_step_backward_matches_finite_differences(shape):
    x, h0, Wx, Wh, b, dh = make(shape, 1)
    inputs = [x[:, 0].copy(), h0, Wx, Wh, b]
    h, cache = rnn_step_forward(*inputs)
    grads = rnn_step_backward(dh[:, 0], cache)
    for i, (arr, grad) in enumerate(zip(inputs, grads)):
        assert grad.shape == arr.shape

        def loss(_):
            return np.sum(dh[:, 0] * rnn_step_forward(*inputs)[0])

        numeric = numerical_gradient(loss, arr)
        assert rel_error(grad, numeric) < 1e-5, i
        assert np.max(np.abs(grad - numeric)) < 1e-8, i


def test_step_backward_formulas_by_hand():
    # H = 1, D = 1, N = 1: every gradient is a product of scalars.
    x, h_prev, wx, wh, b = 0.3, -0.7, 1.5, 0.8, 0.1
    h = np.tanh(x * wx + h_prev * wh + b)
    dz = 2.0 * (1 - h ** 2)                                # dh = 2
    _, cache = rnn_step_forward([[x]], [[h_prev]], [[wx]], [[wh]], [b])
    dx, dh_prev, dWx, dWh, db = rnn_step_backward([[2.0]], cache)
    np.testing.assert_allclose([dx[0, 0], dh_prev[0, 0], dWx[0, 0], dWh[0, 0], db[0]],
                               [dz * wx, dz * wh, dz * x, dz * h_prev, dz], rtol=1e-15)


# ---------------------------------------------------- whole sequence, fast and naive


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward_matches_naive(shape):
    x, h0, Wx, Wh, b, _ = make(shape, 2)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    h_ref, _ = rnn_forward_naive(x, h0, Wx, Wh, b)
    assert h.shape == (shape[0], shape[1], shape[3])
    np.testing.assert_allclose(h, h_ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward_naive_matches_explicit_sums(shape):
    x, h0, Wx, Wh, b, _ = make(shape, 3)
    h_ref, _ = rnn_forward_naive(x, h0, Wx, Wh, b)
    h_prev = h0
    for t in range(shape[1]):
        h_prev = step_reference(x[:, t], h_prev, Wx, Wh, b)
        np.testing.assert_allclose(h_ref[:, t], h_prev, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_backward_matches_naive(shape):
    x, h0, Wx, Wh, b, dh = make(shape, 4)
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    _, cache_ref = rnn_forward_naive(x, h0, Wx, Wh, b)
    for name, fast, ref in zip(["dx", "dh0", "dWx", "dWh", "db"],
                               rnn_backward(dh, cache), rnn_backward_naive(dh, cache_ref)):
        assert fast.shape == ref.shape, name
        np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("version", ["fast", "naive"])
def test_backward_matches_finite_differences(shape, version):
    """All five gradients of L = sum(dh * h) against central differences.

    L is a sum of N T H terms of size ~1, rounded to ~1e-16 each; the central
    difference divides that rounding by 2 eps = 2e-6, so its own absolute error
    is ~1e-10. The absolute bound 1e-8 leaves a factor of 100 on entries of size
    ~0.01 to 3. Some entries are small by cancellation (~1e-5), and on those the same
    noise is a relative error of ~1e-5, so that is the bound for rel_error. A wrong
    formula gives errors of order 1 in both.
    """
    forward, backward = {"fast": (rnn_forward, rnn_backward),
                         "naive": (rnn_forward_naive, rnn_backward_naive)}[version]
    x, h0, Wx, Wh, b, dh = make(shape, 5)
    inputs = [x, h0, Wx, Wh, b]
    _, cache = forward(*inputs)
    grads = backward(dh, cache)
    for name, arr, grad in zip(["dx", "dh0", "dWx", "dWh", "db"], inputs, grads):
        assert grad.shape == arr.shape, name
        numeric = numerical_gradient(lambda _: np.sum(dh * forward(*inputs)[0]), arr)
        assert rel_error(grad, numeric) < 1e-5, name
        assert np.max(np.abs(grad - numeric)) < 1e-8, name


def test_loss_on_the_last_step_only_reaches_back_through_every_step():
    # dh nonzero only at t = T: BPTT still gives every x_t a gradient, dz_t = dh_t (1 - h_t^2)
    # with dh_t = dz_{t+1} Wh^T, written out here step by step.
    x, h0, Wx, Wh, b, _ = make((2, 6, 3, 4), 6)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    g = np.zeros_like(h)
    g[:, -1] = 1.0
    dx, dh0, dWx, dWh, db = rnn_backward(g, cache)
    h_all = np.concatenate([h0[:, None], h], axis=1)
    dh_t = g[:, -1]
    dWh_ref = np.zeros_like(Wh)
    for t in range(6, 0, -1):
        dz = dh_t * (1 - h_all[:, t] ** 2)
        np.testing.assert_allclose(dx[:, t - 1], dz @ Wx.T, rtol=1e-12, atol=1e-15)
        dWh_ref += h_all[:, t - 1].T @ dz
        dh_t = dz @ Wh.T
    np.testing.assert_allclose(dh0, dh_t, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dWh, dWh_ref, rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(dx) > 0)


def test_sequence_equals_steps_chained_and_splits_in_two():
    # Running T steps equals running the first k and then the rest from h_k;
    # the backward of the second part hands dh_k to the first (truncated BPTT's seam).
    x, h0, Wx, Wh, b, dh = make((3, 8, 2, 5), 7)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    h1, cache1 = rnn_forward(x[:, :3], h0, Wx, Wh, b)
    h2, cache2 = rnn_forward(x[:, 3:], h1[:, -1], Wx, Wh, b)
    np.testing.assert_allclose(h, np.concatenate([h1, h2], axis=1), rtol=1e-14, atol=1e-15)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
    dx2, dh_seam, dWx2, dWh2, db2 = rnn_backward(dh[:, 3:], cache2)
    dh_first = dh[:, :3].copy()
    dh_first[:, -1] += dh_seam
    dx1, dh0_1, dWx1, dWh1, db1 = rnn_backward(dh_first, cache1)
    np.testing.assert_allclose(dx, np.concatenate([dx1, dx2], axis=1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh0, dh0_1, rtol=1e-12, atol=1e-14)
    for full, a, b_ in [(dWx, dWx1, dWx2), (dWh, dWh1, dWh2), (db, db1, db2)]:
        np.testing.assert_allclose(full, a + b_, rtol=1e-12, atol=1e-14)


def test_zero_length_sequence():
    x, h0, Wx, Wh, b, _ = make((2, 1, 3, 4), 8)
    h, cache = rnn_forward(x[:, :0], h0, Wx, Wh, b)
    assert h.shape == (2, 0, 4)
    dx, dh0, dWx, dWh, db = rnn_backward(np.zeros((2, 0, 4)), cache)
    assert dx.shape == (2, 0, 3)
    for g in (dh0, dWx, dWh, db):
        assert not np.any(g)


# ------------------------------------------------------------- PyTorch golden


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return {k[4:]: data[k] for k in data.files if k.startswith("rnn_")}


def test_step_matches_torch_rnncell(golden):
    g = golden
    h, cache = rnn_step_forward(g["x"][:, 0], g["h0"], g["Wx"], g["Wh"], g["b"])
    np.testing.assert_allclose(h, g["step_h"], rtol=1e-12, atol=1e-14)
    grads = rnn_step_backward(g["dh"][:, 0], cache)
    for name, grad in zip(["dx", "dh_prev", "dWx", "dWh", "db"], grads):
        np.testing.assert_allclose(grad, g["step_" + name], rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(g["step_db_hh"], g["step_db"], rtol=1e-14)  # torch's second bias


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_sequence_matches_torch_rnn(golden, version):
    forward, backward = {"fast": (rnn_forward, rnn_backward),
                         "naive": (rnn_forward_naive, rnn_backward_naive)}[version]
    g = golden
    h, cache = forward(g["x"], g["h0"], g["Wx"], g["Wh"], g["b"])
    np.testing.assert_allclose(h, g["h"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h[:, -1], g["h_last"], rtol=1e-12, atol=1e-14)
    grads = backward(g["dh"], cache)
    for name, grad in zip(["dx", "dh0", "dWx", "dWh", "db"], grads):
        np.testing.assert_allclose(grad, g[name], rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(g["db_hh"], g["db"], rtol=1e-14)


# ---------------------------------------------------------------- Jacobian norms


def test_jacobian_norms_match_the_jacobian_built_by_backward():
    # Row j of dh_T/dh_t is the gradient of h_T[j]: rnn_backward with dh = e_j at step T
    # gives it for t = 0 as dh0. Build the (H, H) Jacobian for one sequence and compare.
    x, h0, Wx, Wh, b, _ = make((1, 5, 2, 4), 9, scale=1.5)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    norms = rnn_jacobian_norms(cache)
    assert norms.shape == (1, 6)
    assert norms[0, -1] == 1.0
    for t in range(5):
        _, cache_t = rnn_forward(x[:, t:], h0 if t == 0 else h[:, t - 1], Wx, Wh, b)
        jac = np.stack([rnn_backward(np.eye(4)[j][None, None] * (np.arange(5 - t) == 4 - t)[None, :, None],
                                     cache_t)[1][0] for j in range(4)])
        np.testing.assert_allclose(norms[0, t], np.linalg.norm(jac, 2), rtol=1e-12)


def test_jacobian_norms_are_bounded_by_the_largest_singular_value():
    for seed, scale in [(10, 0.5), (11, 1.0), (12, 3.0)]:
        x, h0, Wx, Wh, b, _ = make((3, 20, 2, 6), seed, scale)
        norms = rnn_jacobian_norms(rnn_forward(x, h0, Wx, Wh, b)[1])
        sigma = np.linalg.norm(Wh, 2)
        bound = sigma ** (20 - np.arange(21))
        assert np.all(norms <= bound * (1 + 1e-12))


def test_jacobian_norms_of_a_linear_regime_are_powers_of_wh():
    # With zero input, zero bias and h0 = 0 every state is 0, tanh' = 1, and
    # dh_T/dh_t = (Wh^T)^(T - t).
    rng = np.random.default_rng(13)
    Wh = rng.standard_normal((5, 5))
    _, cache = rnn_forward(np.zeros((1, 6, 2)), np.zeros((1, 5)), np.zeros((2, 5)), Wh, np.zeros(5))
    norms = rnn_jacobian_norms(cache)[0]
    for t in range(7):
        np.testing.assert_allclose(norms[t], np.linalg.norm(np.linalg.matrix_power(Wh.T, 6 - t), 2),
                                   rtol=1e-12)


# ------------------------------------------------------------ dtypes, inputs, cache


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_float32_stays_float32_and_agrees_with_float64(version):
    forward, backward = {"fast": (rnn_forward, rnn_backward),
                         "naive": (rnn_forward_naive, rnn_backward_naive)}[version]
    arrays = make((2, 4, 3, 5), 14)
    h64, c64 = forward(*arrays[:5])
    g64 = backward(arrays[5], c64)
    a32 = [a.astype(np.float32) for a in arrays]
    h32, c32 = forward(*a32[:5])
    g32 = backward(a32[5], c32)
    assert h32.dtype == np.float32
    assert [g.dtype for g in g32] == [np.float32] * 5
    np.testing.assert_allclose(h32, h64, rtol=1e-5, atol=1e-5)
    for a, b_ in zip(g32, g64):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-4)
    h1, c1 = rnn_step_forward(*[a[:, 0] if a.ndim == 3 else a for a in a32[:5]])
    assert h1.dtype == np.float32
    assert [g.dtype for g in rnn_step_backward(a32[5][:, 0], c1)] == [np.float32] * 5


def test_mixed_dtypes_give_each_gradient_its_inputs_dtype():
    x, h0, Wx, Wh, b, dh = make((2, 3, 2, 4), 15)
    h, cache = rnn_forward(x.astype(np.float32), h0, Wx.astype(np.float32), Wh, b)
    assert h.dtype == np.float64
    grads = rnn_backward(dh.astype(np.float32), cache)
    assert [g.dtype for g in grads] == [np.float32, np.float64, np.float32, np.float64, np.float64]


def test_integers_and_lists_become_float64():
    h, cache = rnn_forward([[[1], [0]]], [[0, 0]], [[1, -1]], [[1, 0], [0, 1]], [0, 0])
    assert h.dtype == np.float64
    np.testing.assert_allclose(h[0, 0], np.tanh([1.0, -1.0]), rtol=1e-15)
    assert all(g.dtype == np.float64 for g in rnn_backward(np.ones((1, 2, 2), dtype=int), cache))


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_inputs_and_cache_are_not_modified(version):
    forward, backward = {"fast": (rnn_forward, rnn_backward),
                         "naive": (rnn_forward_naive, rnn_backward_naive)}[version]
    arrays = make((2, 5, 3, 4), 16)
    copies = [a.copy() for a in arrays]
    h, cache = forward(*arrays[:5])
    first = backward(arrays[5], cache)
    h[...] = 0.0  # the returned states are the caller's: changing them changes nothing
    second = backward(arrays[5], cache)
    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------ bad input


GOOD = dict(x=np.zeros((2, 3, 4)), h0=np.zeros((2, 5)), Wx=np.zeros((4, 5)),
            Wh=np.zeros((5, 5)), b=np.zeros(5))


@pytest.mark.parametrize("name, bad, pattern", [
    ("x", np.zeros((2, 4)), r"x must be 3-D \(N, T, D\), got shape \(2, 4\)"),
    ("h0", np.zeros((3, 5)), r"h0 has shape \(3, 5\).*N=2.*\(2, H\)"),
    ("h0", np.zeros(5), r"h0 must be 2-D"),
    ("Wx", np.zeros((3, 5)), r"Wx has shape \(3, 5\); expected \(4, 5\)"),
    ("Wh", np.zeros((5, 4)), r"Wh has shape \(5, 4\); expected \(5, 5\)"),
    ("b", np.zeros((1, 5)), r"b has shape \(1, 5\); expected \(5,\)"),
])
@pytest.mark.parametrize("forward", [rnn_forward, rnn_forward_naive])
def test_bad_shapes_are_named(forward, name, bad, pattern):
    args = dict(GOOD, **{name: bad})
    with pytest.raises(ValueError, match=pattern):
        forward(**args)


def test_step_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\)"):
        rnn_step_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"Wh has shape \(4, 4\); expected \(5, 5\)"):
        rnn_step_forward(np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((4, 4)), np.zeros(5))
    _, cache = rnn_step_forward(np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"dh has shape \(5, 2\); expected \(2, 5\)"):
        rnn_step_backward(np.zeros((5, 2)), cache)


@pytest.mark.parametrize("backward, forward", [(rnn_backward, rnn_forward),
                                               (rnn_backward_naive, rnn_forward_naive)])
def test_backward_rejects_dh_of_the_wrong_shape(forward, backward):
    _, cache = forward(**GOOD)
    with pytest.raises(ValueError, match=r"dh has shape \(2, 5\); expected \(2, 3, 5\)"):
        backward(np.zeros((2, 5)), cache)
    with pytest.raises(ValueError, match=r"dh has shape \(2, 3, 4\); expected \(2, 3, 5\)"):
        backward(np.zeros((2, 3, 4)), cache)


def test_non_numeric_input_is_rejected():
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        rnn_forward(np.full((2, 3, 4), "a"), GOOD["h0"], GOOD["Wx"], GOOD["Wh"], GOOD["b"])
    with pytest.raises(TypeError, match="Wh must be a real numeric array"):
        rnn_step_forward(np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5), complex),
                         np.zeros(5))


# --------------------------------------------------------------- extreme values


@pytest.mark.parametrize("scale", [1e-300, 1e150])
def test_extreme_magnitudes_stay_finite(scale):
    x, h0, Wx, Wh, b, dh = make((2, 4, 3, 5), 17)
    h, cache = rnn_forward(scale * x, h0, Wx, Wh, b)
    grads = rnn_backward(dh, cache)
    assert np.all(np.isfinite(h)) and np.all(np.abs(h) <= 1.0)
    for g in grads:
        assert np.all(np.isfinite(g))
    if scale > 1:  # saturated: tanh' = 0 exactly, so nothing flows back into x
        assert np.all(np.abs(h) == 1.0)
        assert not np.any(grads[0])


@pytest.mark.parametrize("signs", [(1, -1), (1, 1)])
def test_overflowing_pre_activation_is_an_error_not_nan(signs):
    # x Wx = 1e200 * 1e200 (+-) 1e200 * 1e200 overflows. With opposite signs the
    # exact sum is 0, yet it comes out nan (inf - inf) or, with a fused
    # multiply-add, inf (whose tanh, 1, would be silently wrong): which one
    # depends on the BLAS kernel, so every non-finite pre-activation is an error.
    x = np.array([[[1e200, 1e200]]])
    Wx = np.array([[1e200], [signs[1] * 1e200]])
    with pytest.raises(ValueError, match="overflow"):
        rnn_forward(x, np.zeros((1, 1)), Wx, np.zeros((1, 1)), np.zeros(1))
    with pytest.raises(ValueError, match="overflow"):
        rnn_step_forward(x[:, 0], np.zeros((1, 1)), Wx, np.zeros((1, 1)), np.zeros(1))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("where", ["x", "h0"])
def test_non_finite_input_is_an_error(bad, where):
    x, h0, Wx, Wh, b, _ = make((2, 3, 3, 4), 9)
    if where == "x":
        x[1, 2, 0] = bad
    else:
        h0[0, 1] = bad
    with pytest.raises(ValueError, match="not finite"):
        rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match="not finite"):
        rnn_step_forward(x[:, 2] if where == "x" else x[:, 0], h0, Wx, Wh, b)
