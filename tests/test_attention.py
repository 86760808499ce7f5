"""Tests of dlmath.attention: forward against a loop, gradients against finite
differences, masks, broadcasting of batch and head axes, bad input, extremes."""
import numpy as np
import pytest

from dlmath import numerical_gradient, rel_error
from dlmath.attention import (
    attention_backward,
    attention_forward,
    attention_naive,
    causal_mask,
    merge_heads,
    split_heads,
)


def _random_mask(rng, shape):
    return rng.random(shape) < 0.6


def _padding_mask(lengths, lk):
    """(N, 1, 1, Lk): key j of sequence n is real when j < lengths[n]."""
    return (np.arange(lk) < np.asarray(lengths)[:, None])[:, None, None, :]


# (id, q shape, k shape, v shape, mask maker taking (rng, Lq, Lk))
CASES = [
    ("single", (5, 4), (5, 4), (5, 3), None),
    ("cross-attention", (3, 4), (6, 4), (6, 2), None),
    ("batch-heads-causal", (2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 2),
     lambda rng, lq, lk: causal_mask(lq)),
    ("padding", (2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2),
     lambda rng, lq, lk: _padding_mask([5, 2], lk)),
    ("random-mask", (2, 4, 3), (2, 5, 3), (2, 5, 4),
     lambda rng, lq, lk: _random_mask(rng, (2, lq, lk))),
    ("kv-shared-by-heads", (2, 3, 4, 3), (2, 1, 5, 3), (2, 1, 5, 2),
     lambda rng, lq, lk: _random_mask(rng, (lq, lk))),
    ("q-shared-by-batch", (4, 3), (2, 5, 3), (2, 5, 2), None),
    ("all-three-broadcast", (2, 1, 4, 3), (1, 3, 5, 3), (3, 5, 2),
     lambda rng, lq, lk: _random_mask(rng, (1, 3, lq, lk))),
]
CASE_IDS = [case[0] for case in CASES]


def _make(case, seed):
    _, q_shape, k_shape, v_shape, make_mask = case
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal(s) for s in (q_shape, k_shape, v_shape))
    mask = None if make_mask is None else make_mask(rng, q_shape[-2], k_shape[-2])
    return rng, q, k, v, mask


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_matches_naive_loop(case):
    _, q, k, v, mask = _make(case, 0)
    out, cache = attention_forward(q, k, v, mask)
    out_ref, weights_ref = attention_naive(q, k, v, mask)
    assert out.shape == out_ref.shape
    assert cache["weights"].shape == weights_ref.shape
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cache["weights"], weights_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_weights_sum_to_one_and_vanish_where_masked(case):
    _, q, k, v, mask = _make(case, 1)
    _, cache = attention_forward(q, k, v, mask)
    weights = cache["weights"]
    allowed = np.broadcast_to(True if mask is None else mask, weights.shape)
    assert np.all(weights[~allowed] == 0.0)
    assert np.all(weights >= 0.0)
    has_key = allowed.any(axis=-1)
    np.testing.assert_allclose(weights.sum(axis=-1)[has_key], 1.0, rtol=1e-14)
    assert np.all(weights.sum(axis=-1)[~has_key] == 0.0)


def test_zero_queries_average_the_allowed_values():
    # q = 0 makes every score 0: the weights are uniform over the allowed keys,
    # so with a causal mask output i is the mean of values 0..i.
    rng = np.random.default_rng(2)
    v = rng.standard_normal((5, 3))
    out, cache = attention_forward(np.zeros((5, 4)), rng.standard_normal((5, 4)), v,
                                   causal_mask(5))
    expected = np.cumsum(v, axis=0) / np.arange(1, 6)[:, None]
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    uniform_causal = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
    np.testing.assert_allclose(cache["weights"], uniform_causal, rtol=1e-15)


def test_single_key_copies_its_value():
    rng = np.random.default_rng(3)
    v = rng.standard_normal((1, 3))
    out, cache = attention_forward(rng.standard_normal((4, 2)), rng.standard_normal((1, 2)), v)
    np.testing.assert_array_equal(cache["weights"], np.ones((4, 1)))
    np.testing.assert_allclose(out, np.repeat(v, 4, axis=0), rtol=1e-15)


def test_two_keys_give_a_sigmoid_weight():
    # Two keys: A_i0 = softmax([s0, s1])_0 = sigmoid(s0 - s1), computed here by hand.
    q = np.array([[1.0, 2.0]])
    k = np.array([[0.5, 0.0], [0.0, -1.0]])
    v = np.array([[1.0], [0.0]])
    s0, s1 = (q @ k.T)[0] / np.sqrt(2.0)
    w0 = 1.0 / (1.0 + np.exp(-(s0 - s1)))
    out, cache = attention_forward(q, k, v)
    np.testing.assert_allclose(cache["weights"], [[w0, 1.0 - w0]], rtol=1e-14)
    np.testing.assert_allclose(out, [[w0]], rtol=1e-14)


def test_broadcast_equals_explicit_copies():
    # A key and value shared by 3 heads must act like 3 copies of them, and its
    # gradient must be the sum of the 3 copies' gradients.
    rng = np.random.default_rng(4)
    q = rng.standard_normal((2, 3, 4, 5))
    k = rng.standard_normal((2, 1, 6, 5))
    v = rng.standard_normal((2, 1, 6, 2))
    dout = rng.standard_normal((2, 3, 4, 2))
    out, cache = attention_forward(q, k, v)
    out_tiled, cache_tiled = attention_forward(q, np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1))
    np.testing.assert_allclose(out, out_tiled, rtol=1e-13)
    dq, dk, dv = attention_backward(dout, cache)
    dq_t, dk_t, dv_t = attention_backward(dout, cache_tiled)
    assert (dq.shape, dk.shape, dv.shape) == (q.shape, k.shape, v.shape)
    np.testing.assert_allclose(dq, dq_t, rtol=1e-12)
    np.testing.assert_allclose(dk, dk_t.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(dv, dv_t.sum(axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("q_shape, k_shape, v_shape, mask_shape, out_shape, weights_shape", [
    ((3, 4), (5, 4), (2, 5, 2), None, (2, 3, 2), (3, 5)),            # v alone adds an axis
    ((3, 4), (5, 4), (2, 5, 2), (2, 3, 5), (2, 3, 2), (2, 3, 5)),    # so can the mask
    ((2, 1, 3, 4), (1, 6, 5, 4), (5, 2), None, (2, 6, 3, 2), (2, 6, 3, 5)),
])
def test_weights_take_their_leading_axes_from_q_k_and_mask(
        q_shape, k_shape, v_shape, mask_shape, out_shape, weights_shape):
    # The docstring: out has the broadcast of q, k and v's leading axes, the
    # weights only those of q, k and the mask; the backward still gives every
    # input a gradient of its own shape.
    rng = np.random.default_rng(12)
    q, k, v = (rng.standard_normal(s) for s in (q_shape, k_shape, v_shape))
    mask = None if mask_shape is None else _random_mask(rng, mask_shape)
    out, cache = attention_forward(q, k, v, mask)
    assert out.shape == out_shape
    assert cache["weights"].shape == weights_shape
    ref_out, ref_weights = attention_naive(q, k, v, mask)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        np.broadcast_to(cache["weights"], ref_weights.shape), ref_weights, rtol=1e-12, atol=1e-14)
    dout = rng.standard_normal(out_shape)
    grads = attention_backward(dout, cache)
    assert [g.shape for g in grads] == [q_shape, k_shape, v_shape]
    inputs = [q, k, v]
    for i, grad in enumerate(grads):
        def loss(x, i=i):
            args = inputs[:i] + [x] + inputs[i + 1:]
            return np.sum(dout * attention_forward(*args, mask)[0])
        numeric = numerical_gradient(loss, inputs[i].copy())
        # bounds as in test_gradients_match_finite_differences, which explains them
        assert rel_error(grad, numeric) < 1e-5
        assert np.max(np.abs(grad - numeric)) < 1e-8


def test_no_keys_at_all_gives_zeros():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((3, 2)), np.zeros((0, 2)), np.zeros((0, 4))
    out, cache = attention_forward(q, k, v)
    assert cache["weights"].shape == (3, 0)
    np.testing.assert_array_equal(out, np.zeros((3, 4)))
    dq, dk, dv = attention_backward(np.ones((3, 4)), cache)
    np.testing.assert_array_equal(dq, np.zeros((3, 2)))
    assert dk.shape == (0, 2) and dv.shape == (0, 4)


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradients_match_finite_differences(case):
    """dq, dk, dv against central differences of L = sum(out * g).

    Bounds: the finite difference has an absolute error of its own, the
    rounding of L (a sum of tens of terms of size ~1, each off by ~1e-16)
    divided by 2 eps = 2e-6, i.e. 1e-10 to 1e-9 per entry (measured for these
    cases). Random inputs produce some gradient entries of size ~1e-4 by
    cancellation, and those can only be checked to ~1e-5 in ``rel_error``,
    so that is its bound here instead of 1e-7; the absolute difference is held
    to 1e-8, ten times the measured noise, on entries of size up to ~3. A wrong
    formula gives errors of order 1 in both.
    """
    rng, q, k, v, mask = _make(case, 6)
    out, cache = attention_forward(q, k, v, mask)
    g = rng.standard_normal(out.shape)
    dq, dk, dv = attention_backward(g, cache)

    def loss(_):
        return np.sum(attention_forward(q, k, v, mask)[0] * g)

    for name, x, analytic in (("q", q, dq), ("k", k, dk), ("v", v, dv)):
        assert analytic.shape == x.shape, name
        numeric = numerical_gradient(loss, x)
        err = rel_error(analytic, numeric)
        assert err < 1e-5, f"d{name}: rel error {err:.2e}"
        assert np.max(np.abs(analytic - numeric)) < 1e-8, f"d{name}"


def test_backward_leaves_cache_unchanged():
    _, q, k, v, mask = _make(CASES[4], 7)
    out, cache = attention_forward(q, k, v, mask)
    before = {key: np.copy(val) for key, val in cache.items() if isinstance(val, np.ndarray)}
    dout = np.random.default_rng(7).standard_normal(out.shape)
    first = attention_backward(dout, cache)
    second = attention_backward(dout, cache)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    for key, val in before.items():
        np.testing.assert_array_equal(cache[key], val)


# ------------------------------------------------- fully masked queries


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fully_masked_query_gets_zeros_not_nan(dtype):
    rng = np.random.default_rng(8)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((2, 4, 3), (2, 5, 3), (2, 5, 2)))
    mask = _random_mask(rng, (2, 4, 5))
    mask[:, 0] = True  # row 0 sees every key
    mask[0, 1] = False  # row 1 of batch 0 sees none
    mask[1, 2] = False  # row 2 of batch 1 sees none
    out, cache = attention_forward(q, k, v, mask)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dq, dk, dv = attention_backward(dout, cache)
    for arr in (out, cache["weights"], dq, dk, dv):
        assert np.all(np.isfinite(arr))
    for b, i in ((0, 1), (1, 2)):
        assert np.all(cache["weights"][b, i] == 0.0)
        assert np.all(out[b, i] == 0.0)
        assert np.all(dq[b, i] == 0.0)
    # A query that sees nothing passes no gradient to the keys and values either:
    # changing its upstream gradient changes nothing.
    dout2 = dout.copy()
    dout2[0, 1] = 1e3
    dout2[1, 2] = -1e3
    _, dk2, dv2 = attention_backward(dout2, cache)
    np.testing.assert_array_equal(dk, dk2)
    np.testing.assert_array_equal(dv, dv2)


def test_padding_mask_with_an_empty_sequence():
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal((2, 2, 3, 4)) for _ in range(3))
    mask = _padding_mask([3, 0], 3)  # the second sequence has no real key
    out, cache = attention_forward(q, k, v, mask)
    dq, dk, dv = attention_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(cache["weights"][1], 0.0)
    for grad in (dq, dk, dv):
        np.testing.assert_array_equal(grad[1], 0.0)
        assert np.all(np.isfinite(grad))
    out0, _ = attention_forward(q[0], k[0], v[0])
    np.testing.assert_allclose(out[0], out0, rtol=1e-14)


# ---------------------------------------------------------------- causal mask


@pytest.mark.parametrize("L", [1, 2, 5])
def test_causal_mask_values(L):
    mask = causal_mask(L)
    assert mask.shape == (L, L) and mask.dtype == np.bool_
    for i in range(L):
        for j in range(L):
            assert mask[i, j] == (j <= i)


def test_causal_attention_ignores_the_future():
    # With a causal mask, output i depends only on positions 0..i: changing the
    # last position leaves every earlier output unchanged.
    rng = np.random.default_rng(10)
    q, k, v = (rng.standard_normal((6, 4)) for _ in range(3))
    out, _ = attention_forward(q, k, v, causal_mask(6))
    k2, v2 = k.copy(), v.copy()
    k2[-1] += 5.0
    v2[-1] -= 5.0
    out2, _ = attention_forward(q, k2, v2, causal_mask(6))
    np.testing.assert_array_equal(out[:-1], out2[:-1])
    assert not np.allclose(out[-1], out2[-1])


@pytest.mark.parametrize("L, error, match", [
    (0, ValueError, "L must be >= 1"),
    (2.0, TypeError, "L must be an int"),
    (True, TypeError, "L must be an int"),
])
def test_causal_mask_bad_length(L, error, match):
    with pytest.raises(error, match=match):
        causal_mask(L)


# ---------------------------------------------------------------- extremes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("masked", [False, True])
def test_extreme_scores_are_finite_and_pick_the_best_key(dtype, masked):
    rng = np.random.default_rng(11)
    q = (1e4 * rng.standard_normal((2, 4, 8))).astype(dtype)
    k = (1e4 * rng.standard_normal((2, 6, 8))).astype(dtype)
    v = rng.standard_normal((2, 6, 3)).astype(dtype)
    scores = q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64)
    mask = None
    if masked:
        # hide each query's best key, so the softmax must skip a huge score
        mask = np.ones(scores.shape, dtype=bool)
        np.put_along_axis(mask, scores.argmax(axis=-1)[..., None], False, axis=-1)
        scores = np.where(mask, scores, -np.inf)
    out, cache = attention_forward(q, k, v, mask)
    dq, dk, dv = attention_backward(np.ones_like(out), cache)
    for arr in (out, cache["weights"], dq, dk, dv):
        assert np.all(np.isfinite(arr))
    # Score gaps are ~1e7: the softmax is one-hot on the best allowed key.
    best = scores.argmax(axis=-1)
    expected_weights = np.zeros(scores.shape)
    np.put_along_axis(expected_weights, best[..., None], 1.0, axis=-1)
    np.testing.assert_array_equal(cache["weights"], expected_weights)
    np.testing.assert_array_equal(out, np.take_along_axis(v, best[..., None], axis=-2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scores_near_the_largest_float(dtype):
    # Scores +-0.9 * max_float are finite, but their difference is not: the
    # shift by the row maximum overflows to -inf, and e^(-inf) = 0 is exactly
    # the weight the losing key should get.
    big = 0.9 * np.finfo(dtype).max
    q = np.ones((1, 1), dtype=dtype)
    k = np.array([[big], [-big]], dtype=dtype)
    v = np.array([[2.0], [3.0]], dtype=dtype)
    out, cache = attention_forward(q, k, v)
    np.testing.assert_array_equal(cache["weights"], [[1.0, 0.0]])
    np.testing.assert_array_equal(out, [[2.0]])


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e200), (np.float32, 1e25)])
def test_overflowing_scores_raise_instead_of_nan(dtype, big):
    q = np.full((2, 3), big, dtype=dtype)
    with pytest.raises(ValueError, match=f"overflow {np.dtype(dtype).name}"):
        attention_forward(q, q, np.ones((2, 1), dtype=dtype))


# ---------------------------------------------------------------- dtypes


def test_float32_stays_float32():
    rng = np.random.default_rng(12)
    q, k, v = (rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3))
    out, cache = attention_forward(q, k, v, causal_mask(3))
    grads = attention_backward(np.ones_like(out), cache)
    assert out.dtype == np.float32 and cache["weights"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)
    out64, _ = attention_forward(q.astype(np.float64), k.astype(np.float64),
                                 v.astype(np.float64), causal_mask(3))
    np.testing.assert_allclose(out, out64, rtol=1e-5, atol=1e-6)


def test_integer_and_mixed_inputs():
    q = np.arange(6).reshape(2, 3)
    out, cache = attention_forward(q, q, q)
    assert out.dtype == np.float64
    k32 = np.ones((2, 3), dtype=np.float32)
    out, cache = attention_forward(q.astype(np.float64), k32, k32)
    dq, dk, dv = attention_backward(np.ones_like(out), cache)
    assert out.dtype == np.float64
    assert (dq.dtype, dk.dtype, dv.dtype) == (np.float64, np.float32, np.float32)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("q_shape, k_shape, v_shape, mask_shape, match", [
    ((4, 3), (5, 2), (5, 2), None, r"same last axis d"),
    ((4, 3), (5, 3), (6, 2), None, r"one value per key"),
    ((2, 4, 3), (3, 5, 3), (3, 5, 2), None, r"do not broadcast"),
    ((4, 3), (5, 3), (5, 2), (4, 6), r"mask has shape \(4, 6\).*\(4, 5\)"),
    ((2, 4, 3), (2, 5, 3), (2, 5, 2), (3, 4, 5), r"mask has shape \(3, 4, 5\)"),
    ((4, 3), (5, 3), (5, 2), (2, 4, 5), r"mask has shape \(2, 4, 5\)"),
    ((3,), (5, 3), (5, 2), None, r"q must have at least 2 axes.*\(3,\)"),
    ((4, 3), (3,), (5, 2), None, r"k must have at least 2 axes"),
    ((4, 3), (5, 3), (2,), None, r"v must have at least 2 axes"),
    ((4, 0), (5, 0), (5, 2), None, r"d must be >= 1"),
])
def test_bad_shapes_raise_value_error(q_shape, k_shape, v_shape, mask_shape, match):
    q, k, v = np.ones(q_shape), np.ones(k_shape), np.ones(v_shape)
    mask = None if mask_shape is None else np.ones(mask_shape, dtype=bool)
    with pytest.raises(ValueError, match=match):
        attention_forward(q, k, v, mask)
    with pytest.raises(ValueError, match=match):
        attention_naive(q, k, v, mask)


@pytest.mark.parametrize("mask", [np.ones((4, 5)), np.ones((4, 5), dtype=int), [[1] * 5] * 4])
def test_non_boolean_mask_raises_type_error(mask):
    with pytest.raises(TypeError, match="mask must be boolean"):
        attention_forward(np.ones((4, 3)), np.ones((5, 3)), np.ones((5, 2)), mask)


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="q must be a real numeric array"):
        attention_forward([["a", "b"]], np.ones((1, 2)), np.ones((1, 2)))


def test_backward_rejects_wrong_dout_shape():
    out, cache = attention_forward(np.ones((4, 3)), np.ones((5, 3)), np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 3\).*\(4, 2\)"):
        attention_backward(np.ones((4, 3)), cache)


# ---------------------------------------------------------------- heads


def test_split_heads_takes_consecutive_column_blocks():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 5, 12))
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for h in range(3):
        np.testing.assert_array_equal(heads[:, h], x[:, :, 4 * h:4 * (h + 1)])
    np.testing.assert_array_equal(merge_heads(heads), x)


def test_multi_head_attention_is_attention_per_head():
    rng = np.random.default_rng(14)
    q, k, v = (rng.standard_normal((2, 5, 8)) for _ in range(3))
    out = merge_heads(attention_forward(split_heads(q, 2), split_heads(k, 2),
                                        split_heads(v, 2), causal_mask(5))[0])
    for h, cols in enumerate((slice(0, 4), slice(4, 8))):
        head_out, _ = attention_naive(q[..., cols], k[..., cols], v[..., cols], causal_mask(5))
        np.testing.assert_allclose(out[..., cols], head_out, rtol=1e-12, err_msg=f"head {h}")


@pytest.mark.parametrize("fn, args, error, match", [
    (split_heads, (np.ones((5, 10)), 3), ValueError, r"\(5, 10\).*not divisible by num_heads=3"),
    (split_heads, (np.ones((5, 10)), 0), ValueError, "num_heads must be >= 1"),
    (split_heads, (np.ones(10), 2), ValueError, r"at least 2 axes.*\(10,\)"),
    (merge_heads, (np.ones((5, 10)),), ValueError, r"at least 3 axes.*\(5, 10\)"),
])
def test_head_reshapes_reject_bad_input(fn, args, error, match):
    with pytest.raises(error, match=match):
        fn(*args)


# ------------------------------------------------- issue 10: non-finite input


@pytest.mark.parametrize("fn", [attention_forward, attention_naive])
@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_input_is_a_clear_error(fn, which, bad):
    # Before: "invalid value encountered in subtract" and nan, or a silent inf/nan output.
    rng = np.random.default_rng(13)
    inputs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))]
    inputs[which][1, 2, 0] = bad
    name = "qkv"[which]
    with pytest.raises(ValueError, match=f"{name} contains inf or nan"):
        fn(*inputs)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e200), (np.float32, 1e25)])
@pytest.mark.parametrize("masked", [False, True])
def test_naive_overflowing_scores_raise_like_the_fast_version(dtype, big, masked):
    # Before: attention_naive emitted "overflow encountered in dot".
    rng = np.random.default_rng(14)
    q = (big * rng.standard_normal((2, 3))).astype(dtype)
    mask = causal_mask(2) if masked else None
    for fn in (attention_forward, attention_naive):
        with pytest.raises(ValueError, match=f"overflow {np.dtype(dtype).name}"):
            fn(q, q, np.ones((2, 1), dtype=dtype), mask)


def test_overflowing_output_is_a_clear_error(monkeypatch):
    # A V can exceed the largest float only by rounding when |v| is near it; weights a
    # little above 1 stand in for that rounding here.
    import dlmath.attention as attention

    monkeypatch.setattr(attention, "_masked_softmax", lambda scores, mask: np.full(scores.shape, 0.75))
    v = np.full((2, 1), np.finfo(np.float64).max)
    with pytest.raises(ValueError, match="the output A V overflow float64"):
        attention.attention_forward(np.ones((1, 2)), np.ones((2, 2)), v)


@pytest.mark.parametrize("fn", [attention_forward, attention_naive])
def test_overflow_of_a_masked_score_does_no_harm(fn):
    # Key 1 would overflow query 0's score, but the causal mask hides it from query 0.
    q = np.array([[1e10, 0.0], [0.0, 0.0]])   # query 1 is zero: its scores are 0 and 0
    k = np.array([[1.0, 0.0], [1e308, 0.0]])
    v = np.array([[2.0], [3.0]])
    out, weights = fn(q, k, v, causal_mask(2))
    if isinstance(weights, dict):              # attention_forward returns the cache
        weights = weights["weights"]
    np.testing.assert_array_equal(weights, [[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_array_equal(out, [[2.0], [2.5]])
