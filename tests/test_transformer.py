"""Tests of dlmath.transformer: layer norm, positional encodings, embeddings,
multi-head self-attention and the pre-norm block, each against a loop version,
finite differences and torch's golden arrays; masks, extremes, dtypes, bad input."""
import json
import pathlib

import numpy as np
import pytest

from dlmath import numerical_gradient, rel_error
from dlmath.attention import attention_forward, causal_mask, merge_heads, split_heads
from dlmath.transformer import (
    BLOCK_KEYS,
    MHA_KEYS,
    embedding_backward,
    embedding_forward,
    init_transformer_block,
    layer_norm_backward,
    layer_norm_backward_naive,
    layer_norm_forward,
    layer_norm_jacobian,
    layer_norm_naive,
    multi_head_attention_backward,
    multi_head_attention_forward,
    multi_head_attention_naive,
    positional_encoding,
    positional_encoding_naive,
    positional_shift_matrix,
    transformer_block_backward,
    transformer_block_forward,
    transformer_block_naive,
    transformer_block_post_norm_backward,
    transformer_block_post_norm_forward,
)

GOLDEN = pathlib.Path(__file__).resolve().parent / "data" / "torch_transformer.npz"
#: numpy raises on these; underflow to 0 (an e^-800, a 1e-310 squared) is the right answer.
TROUBLE = dict(over="raise", invalid="raise", divide="raise")


def _params(d, num_heads, d_ff, seed):
    """A block's parameters with no special values: every bias, shift and scale perturbed."""
    rng = np.random.default_rng(seed)
    params = init_transformer_block(d, num_heads, d_ff, rng)
    return {key: value + 0.2 * rng.standard_normal(value.shape) for key, value in params.items()}


def _assert_grad_close(numeric, analytic, name=""):
    """Finite differences against an analytic gradient, relative to the gradient's scale.

    An entry-wise relative error fails on entries that are zero in exact arithmetic
    (the gradient of b_K, for one), so the tolerance is 1e-7 of the largest entry,
    and at least 2e-9: the rounding noise of a central difference with eps = 1e-5
    on losses of order 10 is about 1e-16 * 10 / 1e-5 = 1e-10.
    """
    assert numeric.shape == analytic.shape, name
    atol = max(1e-7 * np.max(np.abs(analytic)), 2e-9)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=atol, err_msg=name)


def _padding_mask(keep):
    """(N, 1, 1, L) from a boolean (N, L) of real positions."""
    return np.asarray(keep)[:, None, None, :]


MASKS = {
    "none": lambda rng, n, h, length: None,
    "causal": lambda rng, n, h, length: causal_mask(length),
    "padding": lambda rng, n, h, length: _padding_mask(np.arange(length) < np.array([length, 2] * n)[:n, None]),
    "random-per-head": lambda rng, n, h, length: rng.random((n, h, length, length)) < 0.6,
}


# ------------------------------------------------------------- layer norm


@pytest.mark.parametrize("shape", [(6,), (4, 5), (2, 3, 7), (2, 1, 3, 1)])
def test_layer_norm_matches_the_row_loop(shape):
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal(shape) + 2.0
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    out, cache = layer_norm_forward(x, gamma, beta)
    np.testing.assert_allclose(out, layer_norm_naive(x, gamma, beta), rtol=1e-12, atol=1e-13)
    assert out.shape == x.shape


def test_layer_norm_rows_have_mean_zero_and_variance_one():
    rng = np.random.default_rng(1)
    x = 5.0 * rng.standard_normal((3, 4, 16)) - 7.0
    out, cache = layer_norm_forward(x, np.ones(16), np.zeros(16), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=-1), 0.0, atol=1e-14)
    np.testing.assert_allclose(out.var(axis=-1), 1.0, rtol=1e-10)
    np.testing.assert_array_equal(out, cache["xhat"])
    # eps enters as sqrt(var + eps): a variance of 1 and eps = 1 halve the norm
    row = np.array([1.0, -1.0])
    np.testing.assert_allclose(layer_norm_forward(row, np.ones(2), np.zeros(2), eps=1.0)[0],
                               row / np.sqrt(2.0), rtol=1e-15)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 6)])
def test_layer_norm_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    gamma, beta = 1.0 + rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    dout = rng.standard_normal(shape)
    _, cache = layer_norm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layer_norm_backward(dout, cache)
    for name, arr, analytic in (("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)):
        args = {"x": x, "gamma": gamma, "beta": beta}

        def loss(value, name=name):
            return np.sum(dout * layer_norm_forward(**{**args, name: value})[0])

        _assert_grad_close(numerical_gradient(loss, arr.copy()), analytic, name)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 2, 4)])
def test_layer_norm_backward_matches_the_explicit_jacobian(shape):
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    _, cache = layer_norm_forward(x, gamma, beta, eps=1e-3)
    for fast, slow in zip(layer_norm_backward(dout, cache),
                          layer_norm_backward_naive(dout, x, gamma, eps=1e-3)):
        np.testing.assert_allclose(fast, slow, rtol=1e-11, atol=1e-13)


def test_layer_norm_jacobian_against_finite_differences_and_its_null_space():
    rng = np.random.default_rng(4)
    x, gamma = rng.standard_normal(6), 1.0 + rng.standard_normal(6)
    jac = layer_norm_jacobian(x, gamma)
    numeric = np.stack([
        numerical_gradient(lambda v, i=i: layer_norm_forward(v, gamma, np.zeros(6))[0][i], x.copy())
        for i in range(6)
    ])
    np.testing.assert_allclose(jac, numeric, rtol=1e-7, atol=1e-9)
    xhat = layer_norm_forward(x, np.ones(6), np.zeros(6))[0]
    # shifting (direction 1) does nothing; scaling (direction x - mu, parallel to xhat)
    # does nothing but through eps, which is 1e-5 here
    np.testing.assert_allclose(jac @ np.ones(6), 0.0, atol=1e-14)
    assert np.max(np.abs(jac @ xhat)) < 1e-4 * np.max(np.abs(jac))


def test_layer_norm_gradients_sum_over_every_row():
    # dgamma, dbeta are sums over all leading axes: a batch of copies gives copies' sum
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal(4), rng.standard_normal(4)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    _, c1 = layer_norm_forward(x, gamma, beta)
    _, c3 = layer_norm_forward(np.tile(x, (3, 1)), gamma, beta)
    g1 = layer_norm_backward(dout, c1)
    g3 = layer_norm_backward(np.tile(dout, (3, 1)), c3)
    np.testing.assert_allclose(g3[0], np.tile(g1[0], (3, 1)), rtol=1e-14)
    np.testing.assert_allclose(g3[1], 3 * g1[1], rtol=1e-14)
    np.testing.assert_allclose(g3[2], 3 * g1[2], rtol=1e-14)


@pytest.mark.parametrize("scale", [1e-300, 1e150, 1e200, 1e300])
def test_layer_norm_is_scale_invariant_at_any_magnitude(scale):
    # LN(s x; eps) = LN(x; eps / s^2); with eps tiny against var, both are LN(x; ~0).
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    with np.errstate(**TROUBLE):
        out, cache = layer_norm_forward(scale * x, gamma, beta, eps=1e-300 * min(scale, 1) ** 2 or 1e-300)
        dx, dgamma, dbeta = layer_norm_backward(np.ones((3, 5)), cache)
    expected, cache_ref = layer_norm_forward(x, gamma, beta, eps=1e-300)
    if scale >= 1:
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
        # d LN(s x) / d(s x) = (d LN(x) / dx) / s
        dx_ref, dgamma_ref, _ = layer_norm_backward(np.ones((3, 5)), cache_ref)
        np.testing.assert_allclose(dx * scale, dx_ref, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(dgamma, dgamma_ref, rtol=1e-10, atol=1e-13)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx)) and np.all(np.isfinite(dgamma))


def test_layer_norm_extreme_rows_are_finite_and_right():
    gamma, beta = np.array([2.0, 1.0, 0.5]), np.array([0.1, 0.2, 0.3])
    x = np.array([
        [1e308, -1e308, 1e308],           # the sum and the squares overflow
        [1.7e308, 1.7e308, 1.7e308],      # constant, and its sum overflows
        [5.0, 5.0, 5.0],                  # constant
        [1e-310, -1e-310, 0.0],           # subnormal: eps dominates, output ~ beta
        [-3e307, 2e-300, 3e307],
    ])
    with np.errstate(**TROUBLE):
        out, cache = layer_norm_forward(x, gamma, beta)
        dx, dgamma, dbeta = layer_norm_backward(np.ones_like(x), cache)
    for arr in (out, dx, dgamma, dbeta):
        assert np.all(np.isfinite(arr))
    s = np.sqrt(2.0)   # xhat of (1, -1, 1) is (1, -2, 1) / sqrt(2)
    np.testing.assert_allclose(out[0], gamma * np.array([1.0, -2.0, 1.0]) / s + beta, rtol=1e-14)
    np.testing.assert_array_equal(out[1], beta)
    np.testing.assert_array_equal(out[2], beta)
    np.testing.assert_allclose(out[3], beta, atol=1e-300)
    np.testing.assert_allclose(out[4], gamma * np.array([-1.0, 0.0, 1.0]) * np.sqrt(1.5) + beta,
                               rtol=1e-14, atol=1e-15)


def test_layer_norm_keeps_float32_and_leaves_inputs_alone():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    gamma, beta = np.ones(4, np.float32), np.zeros(4, np.float32)
    copies = [a.copy() for a in (x, gamma, beta)]
    out, cache = layer_norm_forward(x, gamma, beta)
    dout = np.ones((3, 4), np.float32)
    grads = layer_norm_backward(dout, cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    for a, b in zip((x, gamma, beta), copies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(out, layer_norm_forward(x.astype(np.float64), gamma, beta)[0],
                               rtol=1e-5, atol=1e-5)
    # integers become float64
    assert layer_norm_forward([[1, 2, 3]], [1, 1, 1], [0, 0, 0])[0].dtype == np.float64


@pytest.mark.parametrize("args, error", [
    (((3, 4), (3,), (4,), 1e-5), ValueError),       # gamma the wrong length
    (((3, 4), (4,), (4, 1), 1e-5), ValueError),     # beta 2-D
    (((3, 0), (0,), (0,), 1e-5), ValueError),       # d = 0
    (((3, 4), (4,), (4,), 0.0), ValueError),        # eps must be > 0
    (((3, 4), (4,), (4,), -1e-5), ValueError),
    (((3, 4), (4,), (4,), float("nan")), ValueError),
])
def test_layer_norm_bad_input(args, error):
    x_shape, g_shape, b_shape, eps = args
    with pytest.raises(error):
        layer_norm_forward(np.ones(x_shape), np.ones(g_shape), np.ones(b_shape), eps)


def test_layer_norm_backward_rejects_a_wrong_dout():
    _, cache = layer_norm_forward(np.ones((3, 4)), np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        layer_norm_backward(np.ones((4, 3)), cache)


def test_layer_norm_matches_torch():
    z = np.load(GOLDEN)
    out, cache = layer_norm_forward(z["ln/x"], z["ln/gamma"], z["ln/beta"], eps=1e-5)
    np.testing.assert_allclose(out, z["ln/out"], rtol=1e-12, atol=1e-13)
    for mine, key in zip(layer_norm_backward(z["ln/dout"], cache), ("dx", "dgamma", "dbeta")):
        np.testing.assert_allclose(mine, z[f"ln/{key}"], rtol=1e-11, atol=1e-13)


# ------------------------------------------------------ positional encoding


@pytest.mark.parametrize("L, d", [(1, 1), (5, 4), (7, 6), (9, 7), (50, 16)])
def test_positional_encoding_matches_the_loop(L, d):
    pe = positional_encoding(L, d)
    assert pe.shape == (L, d) and pe.dtype == np.float64
    np.testing.assert_allclose(pe, positional_encoding_naive(L, d), rtol=1e-13, atol=1e-13)
    assert np.all(np.abs(pe) <= 1.0)


def test_positional_encoding_values():
    pe = positional_encoding(3, 4)
    # position 0: sin 0 = 0 and cos 0 = 1; column 0 turns at 1 radian per position;
    # columns 2, 3 at 10000^(-2/4) = 1/100.
    np.testing.assert_array_equal(pe[0], [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(pe[2], [np.sin(2), np.cos(2), np.sin(0.02), np.cos(0.02)], rtol=1e-14)
    odd = positional_encoding(4, 5)            # odd d: the last column is a sine
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(4) * 10000 ** (-4 / 5)), rtol=1e-14)


@pytest.mark.parametrize("k", [0, 1, 3, -2, 17, 2.5])
@pytest.mark.parametrize("d", [2, 8, 16])
def test_shift_matrix_moves_every_position_by_k(k, d):
    positions = np.arange(0, 40, dtype=float)
    pe = positional_encoding(60, d)
    R = positional_shift_matrix(k, d)
    np.testing.assert_allclose(R @ R.T, np.eye(d), atol=1e-14)        # a rotation
    if float(k).is_integer():
        p = positions[positions + k >= 0].astype(int)
        np.testing.assert_allclose(pe[p] @ R, pe[p + int(k)], atol=1e-12)
    # for any real offset, through the defining formula
    shifted = np.arange(3)[:, None] + k
    freq = 10000.0 ** (-(2 * (np.arange(d) // 2)) / d)
    target = np.where(np.arange(d) % 2 == 0, np.sin(shifted * freq), np.cos(shifted * freq))
    np.testing.assert_allclose(pe[:3] @ R, target, atol=1e-12)


def test_dot_products_of_encodings_depend_only_on_the_offset():
    pe = positional_encoding(64, 16)
    for k in (0, 1, 5):
        dots = np.sum(pe[: 64 - k] * pe[k:], axis=1)
        np.testing.assert_allclose(dots, dots[0], atol=1e-12)
    assert np.isclose(np.sum(pe[3] * pe[3]), 8.0)          # d/2 pairs, sin^2 + cos^2 = 1


def test_a_reflection_maps_every_position_p_to_c_minus_p():
    # PE_{c-p} = PE_p F_c, F_c = blockdiag [[-cos c w, sin c w], [sin c w, cos c w]]: the
    # fixed linear map a head needs to reverse a sequence (chapter 11, "In a network").
    d, c = 16, 7
    pe = positional_encoding(c + 1, d)
    phi = c * 10000.0 ** (-np.arange(0, d, 2) / d)
    F = np.zeros((d, d))
    even = np.arange(0, d, 2)
    F[even, even], F[even, even + 1] = -np.cos(phi), np.sin(phi)
    F[even + 1, even], F[even + 1, even + 1] = np.sin(phi), np.cos(phi)
    np.testing.assert_allclose(pe @ F, pe[::-1], atol=1e-12)


def test_odd_width_has_no_shift_matrix():
    # For odd d the unpaired last sine needs a cosine that PE does not contain: the best
    # least-squares map from PE_p to PE_{p+1} (over 40 positions) misses, for even d it is exact.
    for d, has_map in ((3, False), (5, False), (6, True), (8, True)):
        pe = positional_encoding(41, d)
        R, *_ = np.linalg.lstsq(pe[:-1], pe[1:], rcond=None)
        miss = np.max(np.abs(pe[:-1] @ R - pe[1:]))
        assert (miss < 1e-9) == has_map, (d, miss)


@pytest.mark.parametrize("call", [
    lambda: positional_encoding(0, 4),
    lambda: positional_encoding(4, 0),
    lambda: positional_shift_matrix(1, 5),                # odd d
    lambda: positional_shift_matrix(float("inf"), 4),
])
def test_positional_encoding_bad_input(call):
    with pytest.raises(ValueError):
        call()


def test_positional_encoding_rejects_non_integers():
    with pytest.raises(TypeError):
        positional_encoding(4.5, 4)


# ------------------------------------------------------------- embedding


def test_embedding_looks_up_rows_and_scatter_adds_gradients():
    rng = np.random.default_rng(8)
    weight = rng.standard_normal((5, 3))
    tokens = np.array([[1, 4, 1], [0, 1, 3]])
    out, cache = embedding_forward(tokens, weight)
    np.testing.assert_array_equal(out, weight[tokens])
    dout = rng.standard_normal((2, 3, 3))
    dweight = embedding_backward(dout, cache)
    np.testing.assert_allclose(dweight[1], dout[0, 0] + dout[0, 2] + dout[1, 1], rtol=1e-15)
    np.testing.assert_array_equal(dweight[2], 0.0)      # token 2 does not occur
    numeric = numerical_gradient(lambda w: np.sum(dout * embedding_forward(tokens, w)[0]), weight.copy())
    _assert_grad_close(numeric, dweight)
    onehot = np.eye(5)[tokens.ravel()]                  # eq-tf-embedding-grad: onehot^T dout
    np.testing.assert_allclose(dweight, onehot.T @ dout.reshape(-1, 3), rtol=1e-14)


@pytest.mark.parametrize("tokens, error", [
    ([0, 5], ValueError), ([-1, 0], ValueError), ([0.0, 1.0], ValueError), ([True, False], ValueError),
])
def test_embedding_bad_tokens(tokens, error):
    with pytest.raises(error):
        embedding_forward(np.array(tokens), np.zeros((5, 2)))


def test_embedding_bad_shapes():
    with pytest.raises(ValueError):
        embedding_forward([0, 1], np.zeros(5))
    _, cache = embedding_forward([0, 1], np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        embedding_backward(np.zeros((2, 3)), cache)


# --------------------------------------------------- multi-head attention

MHA_CASES = [  # (N, L, d, H, mask)
    (1, 4, 4, 1, "none"),
    (2, 5, 8, 2, "causal"),
    (2, 6, 8, 4, "padding"),
    (3, 4, 6, 3, "random-per-head"),
    (2, 3, 8, 8, "none"),                 # heads of width 1
]
MHA_IDS = [f"N{n}-L{length}-d{d}-H{h}-{m}" for n, length, d, h, m in MHA_CASES]


def _mha_case(case, seed):
    n, length, d, h, mask_name = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, length, d))
    return x, _params(d, h, 2 * d, seed), h, MASKS[mask_name](rng, n, h, length)


@pytest.mark.parametrize("case", MHA_CASES, ids=MHA_IDS)
def test_mha_matches_the_per_head_loop(case):
    x, params, h, mask = _mha_case(case, 10)
    out, cache = multi_head_attention_forward(x, params, h, mask)
    out_ref, weights_ref = multi_head_attention_naive(x, params, h, mask)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache["weights"], weights_ref, rtol=1e-12, atol=1e-14)
    assert cache["weights"].shape == (x.shape[0], h, x.shape[1], x.shape[1])


@pytest.mark.parametrize("case", MHA_CASES, ids=MHA_IDS)
def test_mha_backward_matches_finite_differences(case):
    x, params, h, mask = _mha_case(case, 11)
    dout = np.random.default_rng(12).standard_normal(x.shape)
    _, cache = multi_head_attention_forward(x, params, h, mask)
    dx, grads = multi_head_attention_backward(dout, cache)
    assert list(grads) == list(MHA_KEYS)

    def loss_x(x_):
        return np.sum(dout * multi_head_attention_forward(x_, params, h, mask)[0])

    _assert_grad_close(numerical_gradient(loss_x, x.copy(), eps=1e-5), dx, "x")
    for key in MHA_KEYS:
        def loss(_, key=key):      # numerical_gradient perturbs params[key] in place
            return np.sum(dout * multi_head_attention_forward(x, params, h, mask)[0])

        numeric = numerical_gradient(loss, params[key], eps=1e-5)
        _assert_grad_close(numeric, grads[key], key)
        assert grads[key].shape == params[key].shape


def test_the_key_bias_gets_no_gradient():
    # Adding c to every key adds q_i . c to every score of row i: the softmax does not move.
    x, params, h, mask = _mha_case((2, 5, 8, 2, "causal"), 13)
    _, cache = multi_head_attention_forward(x, params, h, mask)
    _, grads = multi_head_attention_backward(np.ones(x.shape), cache)
    assert np.max(np.abs(grads["bk"])) < 1e-13 * np.max(np.abs(grads["bq"]))


def test_mha_with_identity_projections_is_chapter_10s_multi_head_attention():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 5, 6))
    eye = {key: (np.eye(6) if key.startswith("W") else np.zeros(6)) for key in MHA_KEYS}
    out, _ = multi_head_attention_forward(x, eye, 3, causal_mask(5))
    heads = split_heads(x, 3)
    expected = merge_heads(attention_forward(heads, heads, heads, causal_mask(5))[0])
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("block", [False, True], ids=["mha", "block"])
def test_self_attention_is_permutation_equivariant(block):
    # eq-tf-perm-equivariance: f(P X) = P f(X) without a mask; positional encodings break it.
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 6, 8))
    params = _params(8, 2, 16, 15)
    f = ((lambda x_: transformer_block_forward(x_, params, 2)[0]) if block else
         (lambda x_: multi_head_attention_forward(x_, {k: params[k] for k in MHA_KEYS}, 2)[0]))
    perm = rng.permutation(6)
    np.testing.assert_allclose(f(x[:, perm]), f(x)[:, perm], rtol=1e-12, atol=1e-13)
    pe = positional_encoding(6, 8)
    assert not np.allclose(f(x[:, perm] + pe), f(x + pe)[:, perm], atol=1e-3)


def test_causal_mask_breaks_equivariance_and_moves_with_the_permutation():
    # With a mask M: MHA_M(P X) = P MHA_{P^T M P}(X), and P^T M P is not causal for P != I.
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 6, 8))
    params = {k: v for k, v in _params(8, 2, 16, 17).items() if k in MHA_KEYS}
    mask = causal_mask(6)
    perm = np.array([2, 0, 5, 1, 4, 3])
    inverse = np.argsort(perm)
    moved = mask[np.ix_(inverse, inverse)]                        # P^T M P
    assert not np.array_equal(moved, mask)
    f = lambda x_, m: multi_head_attention_forward(x_, params, 2, m)[0]
    np.testing.assert_allclose(f(x[:, perm], mask), f(x, moved)[:, perm], rtol=1e-12, atol=1e-13)
    assert not np.allclose(f(x[:, perm], mask), f(x, mask)[:, perm], atol=1e-3)


def test_fully_masked_query_gives_zero_attention_output_and_no_nan():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 4, 8))
    params = _params(8, 2, 16, 16)
    mask = np.broadcast_to(causal_mask(4), (2, 2, 4, 4)).copy()
    mask[1, :, 2] = False                       # sequence 2, query 3 may see nothing
    with np.errstate(**TROUBLE):
        out, cache = multi_head_attention_forward(x, params, 2, mask)
        dx, grads = multi_head_attention_backward(np.ones(x.shape), cache)
    np.testing.assert_array_equal(cache["weights"][1, :, 2], 0.0)
    np.testing.assert_array_equal(cache["attention"]["out"][1, :, 2], 0.0)   # every head's output
    np.testing.assert_allclose(out[1, 2], params["bo"], rtol=1e-15)          # so the row is b_O
    assert all(np.all(np.isfinite(g)) for g in (out, dx, *grads.values()))
    with np.errstate(**TROUBLE):
        block_out, block_cache = transformer_block_forward(x, params, 2, mask)
        block_dx, block_grads = transformer_block_backward(np.ones(x.shape), block_cache)
    assert all(np.all(np.isfinite(g)) for g in (block_out, block_dx, *block_grads.values()))
    # with every query fully masked, the attention sublayer adds only b_O
    none = np.zeros((4, 4), dtype=bool)
    out_none, _ = multi_head_attention_forward(x, params, 2, none)
    np.testing.assert_allclose(out_none, np.broadcast_to(params["bo"], x.shape), rtol=1e-15)


def test_mha_float32_and_inputs_untouched():
    x, params, h, mask = _mha_case((2, 5, 8, 2, "causal"), 17)
    x32 = x.astype(np.float32)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    copies = {k: v.copy() for k, v in p32.items()}
    x_copy = x32.copy()
    out, cache = multi_head_attention_forward(x32, p32, h, mask)
    dx, grads = multi_head_attention_backward(np.ones(x.shape, np.float32), cache)
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    np.testing.assert_array_equal(x32, x_copy)
    for key in p32:
        np.testing.assert_array_equal(p32[key], copies[key])
    out64, _ = multi_head_attention_forward(x, params, h, mask)
    np.testing.assert_allclose(out, out64, rtol=1e-4, atol=1e-5)


def test_mixed_dtypes_give_each_gradient_its_input_dtype():
    x, params, h, mask = _block_case((2, 4, 8, 2, 16, "causal"), 21)
    x32 = x.astype(np.float32)
    for forward, backward in ((multi_head_attention_forward, multi_head_attention_backward),
                              (transformer_block_forward, transformer_block_backward)):
        out, cache = forward(x32, params, h, mask)
        dx, grads = backward(np.ones(x.shape), cache)
        assert out.dtype == np.float64          # float64 parameters: the products are float64
        assert dx.dtype == np.float32 and all(g.dtype == np.float64 for g in grads.values())


def test_mha_ignores_extra_keys_and_grads_are_own_arrays():
    x, params, h, mask = _mha_case((1, 3, 4, 2, "none"), 18)
    _, cache = multi_head_attention_forward(x, params, h)      # the whole block dict
    _, grads = multi_head_attention_backward(np.ones(x.shape), cache)
    assert set(grads) == set(MHA_KEYS)
    for g in grads.values():
        assert g.flags.c_contiguous and g.base is None


@pytest.mark.parametrize("change, error, match", [
    (lambda a: {**a, "x": np.ones((5, 8))}, ValueError, r"\(N, L, d\)"),
    (lambda a: {**a, "num_heads": 3}, ValueError, "divisible"),
    (lambda a: {**a, "num_heads": 0}, ValueError, "num_heads"),
    (lambda a: {**a, "num_heads": 2.0}, TypeError, "num_heads"),
    (lambda a: {**a, "params": {k: v for k, v in a["params"].items() if k != "Wk"}}, ValueError, "Wk"),
    (lambda a: {**a, "params": {**a["params"], "Wo": np.ones((8, 4))}}, ValueError, r"'Wo'.*\(8, 4\)"),
    (lambda a: {**a, "params": {**a["params"], "bq": np.ones(7)}}, ValueError, "bq"),
    (lambda a: {**a, "mask": np.ones((5, 5))}, TypeError, "boolean"),
    (lambda a: {**a, "mask": np.ones((4, 4), bool)}, ValueError, r"forward: mask has shape \(4, 4\)"),
    (lambda a: {**a, "mask": np.ones((3, 5, 5), bool)}, ValueError, "multi_head_attention_forward: mask"),   # (N, L, L) is not (N, 1, L, L)
    (lambda a: {**a, "params": [1, 2]}, TypeError, "dict"),
])
def test_mha_bad_input(change, error, match):
    args = {"x": np.ones((3, 5, 8)), "params": _params(8, 2, 16, 19), "num_heads": 2, "mask": None}
    with pytest.raises(error, match=match):
        multi_head_attention_forward(**change(args))


def test_mha_backward_rejects_a_wrong_dout():
    _, cache = multi_head_attention_forward(np.ones((2, 3, 4)), _params(4, 2, 8, 20), 2)
    with pytest.raises(ValueError, match=r"\(2, 4, 3\)"):
        multi_head_attention_backward(np.ones((2, 4, 3)), cache)


# ------------------------------------------------------------------ block

BLOCK_CASES = [  # (N, L, d, H, d_ff, mask)
    (1, 3, 4, 1, 6, "none"),
    (2, 5, 8, 2, 16, "causal"),
    (2, 4, 6, 3, 5, "padding"),
    (2, 4, 8, 4, 12, "random-per-head"),
]
BLOCK_IDS = [f"N{c[0]}-L{c[1]}-d{c[2]}-H{c[3]}-ff{c[4]}-{c[5]}" for c in BLOCK_CASES]


def _block_case(case, seed):
    n, length, d, h, d_ff, mask_name = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, length, d))
    return x, _params(d, h, d_ff, seed), h, MASKS[mask_name](rng, n, h, length)


@pytest.mark.parametrize("case", BLOCK_CASES, ids=BLOCK_IDS)
def test_block_matches_the_naive_block(case):
    x, params, h, mask = _block_case(case, 30)
    out, cache = transformer_block_forward(x, params, h, mask)
    np.testing.assert_allclose(out, transformer_block_naive(x, params, h, mask), rtol=1e-12, atol=1e-13)
    # and the formula, step by step from the fast pieces
    a, _ = layer_norm_forward(x, params["ln1_gamma"], params["ln1_beta"])
    hid = x + multi_head_attention_forward(a, params, h, mask)[0]
    b, _ = layer_norm_forward(hid, params["ln2_gamma"], params["ln2_beta"])
    expected = hid + np.maximum(b @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("case", BLOCK_CASES, ids=BLOCK_IDS)
def test_block_backward_matches_finite_differences(case):
    x, params, h, mask = _block_case(case, 31)
    dout = np.random.default_rng(32).standard_normal(x.shape)
    _, cache = transformer_block_forward(x, params, h, mask)
    dx, grads = transformer_block_backward(dout, cache)
    assert list(grads) == list(BLOCK_KEYS)

    def loss_x(x_):
        return np.sum(dout * transformer_block_forward(x_, params, h, mask)[0])

    _assert_grad_close(numerical_gradient(loss_x, x.copy(), eps=1e-5), dx, "x")
    for key in BLOCK_KEYS:
        def loss(_, key=key):
            return np.sum(dout * transformer_block_forward(x, params, h, mask)[0])

        _assert_grad_close(numerical_gradient(loss, params[key], eps=1e-5), grads[key], key)


@pytest.mark.parametrize("case", ["none", "causal", "padding"])
def test_block_matches_torch(case):
    z = np.load(GOLDEN)
    meta = json.loads(str(z["meta"]))
    params = {key: z[f"param/{key}"] for key in BLOCK_KEYS}
    mask = {"none": None, "causal": causal_mask(meta["L"]),
            "padding": _padding_mask(z["padding/keep"])}[case]
    out, cache = transformer_block_forward(z["x"], params, meta["num_heads"], mask, eps=meta["eps"])
    np.testing.assert_allclose(out, z[f"{case}/out"], rtol=1e-12, atol=1e-13)
    dx, grads = transformer_block_backward(z["dout"], cache)
    np.testing.assert_allclose(dx, z[f"{case}/dx"], rtol=1e-11, atol=1e-13)
    for key in BLOCK_KEYS:
        np.testing.assert_allclose(grads[key], z[f"{case}/grad/{key}"], rtol=1e-10, atol=1e-12,
                                   err_msg=key)


@pytest.mark.parametrize("case", ["post_none", "post_causal"])
def test_post_norm_block_matches_torch(case):
    z = np.load(GOLDEN)
    meta = json.loads(str(z["meta"]))
    params = {key: z[f"param/{key}"] for key in BLOCK_KEYS}
    mask = causal_mask(meta["L"]) if case == "post_causal" else None
    out, cache = transformer_block_post_norm_forward(z["x"], params, meta["num_heads"], mask)
    np.testing.assert_allclose(out, z[f"{case}/out"], rtol=1e-12, atol=1e-13)
    dx, grads = transformer_block_post_norm_backward(z["dout"], cache)
    np.testing.assert_allclose(dx, z[f"{case}/dx"], rtol=1e-11, atol=1e-13)
    for key in BLOCK_KEYS:
        np.testing.assert_allclose(grads[key], z[f"{case}/grad/{key}"], rtol=1e-10, atol=1e-12,
                                   err_msg=key)


@pytest.mark.parametrize("case", BLOCK_CASES[:3], ids=BLOCK_IDS[:3])
def test_post_norm_block_formula_and_finite_differences(case):
    x, params, h, mask = _block_case(case, 39)
    out, cache = transformer_block_post_norm_forward(x, params, h, mask)
    hid = layer_norm_naive(x + multi_head_attention_naive(x, params, h, mask)[0],
                           params["ln1_gamma"], params["ln1_beta"])
    ffn = np.maximum(hid @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    expected = layer_norm_naive(hid + ffn, params["ln2_gamma"], params["ln2_beta"])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)
    dout = np.random.default_rng(40).standard_normal(x.shape)
    dx, grads = transformer_block_post_norm_backward(dout, cache)
    assert list(grads) == list(BLOCK_KEYS)

    def loss_x(x_):
        return np.sum(dout * transformer_block_post_norm_forward(x_, params, h, mask)[0])

    _assert_grad_close(numerical_gradient(loss_x, x.copy(), eps=1e-5), dx, "x")
    for key in BLOCK_KEYS:
        def loss(_, key=key):
            return np.sum(dout * transformer_block_post_norm_forward(x, params, h, mask)[0])

        _assert_grad_close(numerical_gradient(loss, params[key], eps=1e-5), grads[key], key)


def test_post_norm_block_checks_its_input():
    params = _params(8, 2, 16, 41)
    with pytest.raises(ValueError, match="unknown keys"):
        transformer_block_post_norm_forward(np.ones((1, 3, 8)), {**params, "x": 1}, 2)
    _, cache = transformer_block_post_norm_forward(np.ones((1, 3, 8)), params, 2)
    with pytest.raises(ValueError, match=r"\(1, 3, 7\)"):
        transformer_block_post_norm_backward(np.ones((1, 3, 7)), cache)


def test_golden_cases_differ():
    # the masks matter for these inputs, so the three torch cases test three things
    z = np.load(GOLDEN)
    assert not np.allclose(z["none/out"], z["causal/out"])
    assert not np.allclose(z["none/out"], z["padding/out"])
    assert not np.allclose(z["none/out"], z["post_none/out"])
    assert not np.allclose(z["post_none/out"], z["post_causal/out"])


def test_causal_block_does_not_look_ahead():
    rng = np.random.default_rng(33)
    x = rng.standard_normal((2, 6, 8))
    params = _params(8, 2, 16, 33)
    out, cache = transformer_block_forward(x, params, 2, causal_mask(6))
    changed = x.copy()
    changed[:, 4:] += 5.0
    out2, _ = transformer_block_forward(changed, params, 2, causal_mask(6))
    np.testing.assert_array_equal(out[:, :4], out2[:, :4])
    assert not np.allclose(out[:, 4:], out2[:, 4:])
    # and the gradient of an early output reaches no later input
    dout = np.zeros(x.shape)
    dout[:, 2] = 1.0
    dx, _ = transformer_block_backward(dout, cache)
    np.testing.assert_array_equal(dx[:, 3:], 0.0)


def test_block_with_silent_sublayers_is_the_identity():
    # W_O = 0, b_O = 0, W_2 = 0, b_2 = 0: both sublayers output 0, out = x and
    # dx = dout exactly (the identity term of eq-tf-residual-jacobian).
    rng = np.random.default_rng(34)
    x = rng.standard_normal((2, 4, 8))
    params = _params(8, 2, 16, 34)
    for key in ("Wo", "bo", "W2", "b2"):
        params[key] = np.zeros_like(params[key])
    out, cache = transformer_block_forward(x, params, 2)
    np.testing.assert_array_equal(out, x)
    dout = rng.standard_normal(x.shape)
    dx, grads = transformer_block_backward(dout, cache)
    np.testing.assert_array_equal(dx, dout)
    assert np.any(grads["Wo"] != 0) and np.any(grads["W2"] != 0)


def test_block_float32_inputs_untouched_and_deterministic():
    x, params, h, mask = _block_case((2, 5, 8, 2, 16, "causal"), 35)
    x32 = x.astype(np.float32)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    copies = {k: v.copy() for k, v in p32.items()}
    out, cache = transformer_block_forward(x32, p32, h, mask)
    dx, grads = transformer_block_backward(np.ones(x.shape, np.float32), cache)
    assert out.dtype == dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    for key in p32:
        np.testing.assert_array_equal(p32[key], copies[key])
    out_again, _ = transformer_block_forward(x32, p32, h, mask)
    np.testing.assert_array_equal(out, out_again)
    np.testing.assert_allclose(out, transformer_block_forward(x, params, h, mask)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("change, error, match", [
    (lambda a: {**a, "params": {**a["params"], "extra": np.ones(8)}}, ValueError, "unknown keys"),
    (lambda a: {**a, "params": {k: v for k, v in a["params"].items() if k != "ln2_beta"}}, ValueError, "ln2_beta"),
    (lambda a: {**a, "params": {**a["params"], "b1": np.ones(8)}}, ValueError, "d_ff=16"),
    (lambda a: {**a, "params": {**a["params"], "W2": np.ones((8, 8))}}, ValueError, "W2"),
    (lambda a: {**a, "params": {**a["params"], "ln1_gamma": np.ones(3)}}, ValueError, "gamma"),
    (lambda a: {**a, "num_heads": 3}, ValueError, "divisible"),
    (lambda a: {**a, "eps": 0.0}, ValueError, "eps"),
    (lambda a: {**a, "x": np.ones((3, 0, 8))}, ValueError, "empty"),
    (lambda a: {**a, "x": np.array([["a"] * 8] * 5)[None]}, TypeError, "numeric"),
])
def test_block_bad_input(change, error, match):
    args = {"x": np.ones((3, 5, 8)), "params": _params(8, 2, 16, 36), "num_heads": 2,
            "mask": None, "eps": 1e-5}
    with pytest.raises(error, match=match):
        transformer_block_forward(**change(args))


def test_block_backward_rejects_a_wrong_dout():
    _, cache = transformer_block_forward(np.ones((2, 3, 4)), _params(4, 2, 8, 37), 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 5\)"):
        transformer_block_backward(np.ones((2, 3, 5)), cache)


def test_block_at_large_inputs_is_finite():
    rng = np.random.default_rng(38)
    x = 1e200 * rng.standard_normal((2, 4, 8))
    params = _params(8, 2, 16, 38)
    with np.errstate(**TROUBLE):
        out, cache = transformer_block_forward(x, params, 2, causal_mask(4))
        dx, grads = transformer_block_backward(np.ones(x.shape), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_init_transformer_block():
    a = init_transformer_block(8, 2, 16, 0)
    b = init_transformer_block(8, 2, 16, 0)
    assert list(a) == list(BLOCK_KEYS)
    for key in BLOCK_KEYS:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["W1"].shape == (8, 16) and a["W2"].shape == (16, 8) and a["b1"].shape == (16,)
    np.testing.assert_array_equal(a["ln1_gamma"], 1.0)
    np.testing.assert_array_equal(a["bq"], 0.0)
    big = init_transformer_block(256, 4, 512, 1)
    assert abs(big["Wq"].std() * np.sqrt(256) - 1) < 0.02
    assert abs(big["W2"].std() * np.sqrt(512) - 1) < 0.02
    with pytest.raises(ValueError, match="divisible"):
        init_transformer_block(8, 3, 16, 0)
    # rel_error is the book's measure: the block's own forward is deterministic to the bit
    x = np.random.default_rng(2).standard_normal((1, 3, 8))
    assert rel_error(transformer_block_forward(x, a, 2)[0], transformer_block_forward(x, b, 2)[0]) == 0
