"""Tests for dlmath.conv: fast against naive, finite differences, the im2col adjoint, bad input."""
import itertools

import numpy as np
import pytest

from dlmath.conv import (
    col2im,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
    conv_output_size,
    im2col,
    im2col_naive,
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)
from dlmath.gradcheck import numerical_gradient, rel_error

# (N, C, H, W, F, KH, KW): N, C and F of 1 and of several, square and rectangular
# kernels and images.
CONV_SHAPES = [
    (1, 1, 5, 5, 1, 3, 3),
    (2, 3, 7, 6, 4, 2, 3),
    (3, 4, 6, 9, 2, 3, 1),
]
STRIDES = [1, 2, 3]
PADDINGS = [0, 1, 2]
# every shape with every stride and every padding: 27 configurations
CONV_CONFIGS = [
    shape + (stride, padding)
    for shape, stride, padding in itertools.product(CONV_SHAPES, STRIDES, PADDINGS)
]
# a few small ones for the finite-difference checks (a loop over every entry)
GRADCHECK_CONFIGS = [
    (1, 1, 4, 4, 1, 3, 3, 1, 0),
    (2, 2, 5, 4, 3, 2, 3, 2, 1),
    (2, 3, 5, 5, 2, 3, 2, 3, 2),
    (1, 2, 6, 5, 2, 1, 2, 1, 1),
]
# (N, C, H, W, size, stride): non-overlapping, overlapping, gapped, rectangular
POOL_CONFIGS = [
    (1, 1, 4, 4, 2, 2),
    (2, 3, 6, 8, 2, 2),
    (2, 2, 7, 5, 3, 1),
    (3, 1, 7, 9, 2, 3),
    (1, 4, 8, 6, 3, 2),
    (2, 2, 5, 5, 1, 1),
    (1, 1, 5, 4, 4, 1),
]

# The fast and the naive paths add the same products in different orders.
ORDER_RTOL, ORDER_ATOL = 1e-12, 1e-12

# Edge cases of the stride-1 fast path (see "stride 1: the fast path" below).
# (N, C, H, W, F, KH, KW, padding)
STRIDE1_CONFIGS = [
    (1, 1, 5, 5, 1, 3, 3, 0),
    (1, 1, 5, 5, 1, 3, 3, 1),
    (2, 3, 7, 6, 4, 2, 3, 0),
    (2, 3, 7, 6, 4, 2, 3, 2),
    (3, 2, 6, 9, 5, 3, 1, 1),
    (5, 2, 4, 8, 3, 1, 4, 1),
    (7, 3, 5, 4, 2, 4, 2, 2),
    (2, 4, 6, 5, 3, 1, 1, 0),
    (2, 4, 6, 5, 3, 1, 1, 2),
    (3, 2, 4, 4, 2, 6, 6, 1),     # kernel = padded input: a single output pixel
    (2, 1, 3, 8, 2, 5, 2, 1),     # kernel taller than the image, one output row
    (1, 5, 9, 3, 6, 2, 5, 1),     # kernel wider than the image, one output column
    (4, 16, 8, 8, 8, 3, 3, 1),    # more channels than the tiny cases
]
# Both lists in the (..., stride, padding) form: the fast paths (stride 1, and
# im2col otherwise) are compared with the naive loops on all of them.
ALL_CONV_CONFIGS = CONV_CONFIGS + [(*cfg[:7], 1, cfg[7]) for cfg in STRIDE1_CONFIGS]


def conv_data(config, seed, with_bias=True):
    n, c, h, w, f, kh, kw, stride, padding = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    weights = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f) if with_bias else None
    return x, weights, b, stride, padding


def distinct_values(shape, seed):
    """Entries 0.01 apart in random order, so no pooling window has a tie
    and a finite-difference step of 1e-6 cannot change any argmax."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.01 - size * 0.005).reshape(shape)


# ------------------------------------------------------------ conv_output_size

@pytest.mark.parametrize(
    "n, k, stride, padding, expected",
    [
        (32, 3, 1, 1, 32),   # "same" padding: (32 + 2 - 3) // 1 + 1
        (5, 3, 1, 0, 3),     # "valid": positions 0, 1, 2
        (5, 3, 2, 0, 2),     # positions 0, 2
        (7, 3, 2, 1, 4),     # padded length 9: positions 0, 2, 4, 6
        (6, 6, 1, 0, 1),     # kernel as large as the input
        (5, 2, 3, 0, 2),     # positions 0, 3; the last row is never reached
        (1, 3, 1, 1, 1),     # the padding alone makes room for the kernel
        (28, 5, 1, 2, 28),
        (224, 7, 2, 3, 112),  # the ResNet stem
    ],
)
def test_conv_output_size_known_cases(n, k, stride, padding, expected):
    assert conv_output_size(n, k, stride, padding) == expected


SIZE_CASES = [
    (n, k, stride, padding)
    for n, k, stride, padding in itertools.product([1, 4, 7, 10], [1, 2, 3], [1, 2, 3], [0, 1, 2])
    if k <= n + 2 * padding
]


@pytest.mark.parametrize("n, k, stride, padding", SIZE_CASES)
def test_conv_output_size_counts_window_positions(n, k, stride, padding):
    # count the starts i*stride with the window inside the padded input, one by one
    count = sum(1 for start in range(0, n + 2 * padding, stride) if start + k <= n + 2 * padding)
    assert conv_output_size(n, k, stride, padding) == count


# ------------------------------------------------------------------- im2col

def test_im2col_hand_example():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    expected = np.array([
        [1.0, 2.0, 4.0, 5.0],  # the window at output (0, 0)
        [2.0, 3.0, 5.0, 6.0],  # (0, 1)
        [4.0, 5.0, 7.0, 8.0],  # (1, 0)
        [5.0, 6.0, 8.0, 9.0],  # (1, 1)
    ])
    np.testing.assert_array_equal(im2col(x, 2, 2), expected)


def test_im2col_layout_rows_are_positions_columns_are_channel_then_kernel_offset():
    # two images, two channels: the value encodes (n, c, h, w) as the digits nchw
    n, c, h, w = np.meshgrid(np.arange(2), np.arange(2), np.arange(3), np.arange(3), indexing="ij")
    x = 1000.0 * n + 100.0 * c + 10.0 * h + w
    cols = im2col(x, 2, 2, stride=1, padding=0)
    assert cols.shape == (2 * 2 * 2, 2 * 2 * 2)
    # row (n=1, i=0, j=1) = 1*4 + 0*2 + 1 = 5; column (c=1, p=1, q=0) = 1*4 + 1*2 + 0 = 6
    assert cols[5, 6] == 1000 + 100 + 10 * (0 + 1) + (1 + 0)
    six = cols.reshape(2, 2, 2, 2, 2, 2)  # (n, i, j, c, p, q)
    assert six[1, 1, 0, 0, 0, 1] == 1000 + 0 + 10 * 1 + 1


def test_im2col_pads_with_zeros():
    x = np.ones((1, 1, 2, 2))
    cols = im2col(x, 3, 3, stride=1, padding=1)
    # padded input is 4x4 with a ring of zeros; each 3x3 window holds exactly 4 ones
    assert cols.shape == (4, 9)
    np.testing.assert_array_equal(cols.sum(axis=1), [4.0, 4.0, 4.0, 4.0])
    np.testing.assert_array_equal(cols[0].reshape(3, 3), [[0, 0, 0], [0, 1, 1], [0, 1, 1]])


@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_im2col_matches_naive(config):
    x, weights, _, stride, padding = conv_data(config, seed=1)
    kh, kw = weights.shape[2:]
    np.testing.assert_array_equal(
        im2col(x, kh, kw, stride, padding), im2col_naive(x, kh, kw, stride, padding)
    )


def test_im2col_is_a_copy_not_a_view():
    x = np.ones((1, 1, 3, 3))
    cols = im2col(x, 2, 2)
    cols[...] = 5.0
    np.testing.assert_array_equal(x, np.ones((1, 1, 3, 3)))


# ------------------------------------------------------------------- col2im

@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_col2im_is_the_adjoint_of_im2col(config):
    x, weights, _, stride, padding = conv_data(config, seed=2)
    kh, kw = weights.shape[2:]
    cols = im2col(x, kh, kw, stride, padding)
    y = np.random.default_rng(3).standard_normal(cols.shape)
    lhs = np.sum(cols * y)                                           # <im2col(x), y>
    rhs = np.sum(x * col2im(y, x.shape, kh, kw, stride, padding))   # <x, col2im(y)>
    assert rel_error(lhs, rhs) < 1e-12


def test_col2im_counts_how_many_windows_cover_each_pixel():
    ones = np.ones((4, 4))  # four 2x2 windows over a 3x3 image
    counts = col2im(ones, (1, 1, 3, 3), 2, 2)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_col2im_inverts_im2col_when_windows_tile_the_image():
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 4))
    cols = im2col(x, 2, 2, stride=2)  # non-overlapping windows: a permutation
    np.testing.assert_array_equal(col2im(cols, x.shape, 2, 2, stride=2), x)


def test_col2im_gives_zero_to_pixels_no_window_covers():
    # length 5, kernel 2, stride 3: windows cover 0-1 and 3-4, never row/column 2
    out = col2im(np.ones((4, 4)), (1, 1, 5, 5), 2, 2, stride=3)
    assert np.all(out[0, 0, 2, :] == 0) and np.all(out[0, 0, :, 2] == 0)
    assert out[0, 0, 0, 0] == 1.0


def test_col2im_accepts_any_memory_order():
    rng = np.random.default_rng(5)
    y = rng.standard_normal((2 * 3 * 3, 2 * 2 * 2))
    a = col2im(np.ascontiguousarray(y), (2, 2, 4, 4), 2, 2)
    b = col2im(np.asfortranarray(y), (2, 2, 4, 4), 2, 2)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- conv forward

def test_conv_is_cross_correlation_without_kernel_flip():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])  # picks the top-left of each window
    out, _ = conv2d_forward(x, w, None)
    # a true (flipped) convolution would pick the bottom-right: [[5, 6], [8, 9]]
    np.testing.assert_array_equal(out[0, 0], [[1.0, 2.0], [4.0, 5.0]])


def test_conv_hand_example_with_bias_stride_and_padding():
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 3, 3))
    out, _ = conv2d_forward(x, w, [0.5], stride=2, padding=1)
    # padded 5x5 with a ring of zeros; windows at corners (0,0),(0,2),(2,0),(2,2) each hold 4 ones
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 4.5))


@pytest.mark.parametrize("config", ALL_CONV_CONFIGS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_forward_matches_naive(config, with_bias):
    x, w, b, stride, padding = conv_data(config, seed=6, with_bias=with_bias)
    out, _ = conv2d_forward(x, w, b, stride, padding)
    expected, _ = conv2d_forward_naive(x, w, b, stride, padding)
    n, _, h, wid, f, kh, kw = config[:7]
    assert out.shape == (
        n, f, conv_output_size(h, kh, stride, padding), conv_output_size(wid, kw, stride, padding)
    )
    np.testing.assert_allclose(out, expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)


def test_conv_forward_does_not_modify_its_inputs():
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[4], seed=7)
    copies = x.copy(), w.copy(), b.copy()
    conv2d_forward(x, w, b, stride, padding)
    for original, copy in zip((x, w, b), copies):
        np.testing.assert_array_equal(original, copy)


# ------------------------------------------------------------ conv backward

@pytest.mark.parametrize("config", ALL_CONV_CONFIGS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_backward_matches_naive(config, with_bias):
    x, w, b, stride, padding = conv_data(config, seed=8, with_bias=with_bias)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    _, naive_cache = conv2d_forward_naive(x, w, b, stride, padding)
    dout = np.random.default_rng(9).standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    ndx, ndw, ndb = conv2d_backward_naive(dout, naive_cache)
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose(dx, ndx, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    np.testing.assert_allclose(dw, ndw, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    if with_bias:
        assert db.shape == b.shape
        np.testing.assert_allclose(db, ndb, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    else:
        assert db is None and ndb is None


def test_conv_backward_accepts_the_naive_cache():
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[10], seed=10)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    _, naive_cache = conv2d_forward_naive(x, w, b, stride, padding)
    dout = np.random.default_rng(11).standard_normal(out.shape)
    for fast, from_naive in zip(conv2d_backward(dout, cache), conv2d_backward(dout, naive_cache)):
        np.testing.assert_allclose(fast, from_naive, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("config", GRADCHECK_CONFIGS)
def test_conv_gradients_match_finite_differences(config):
    x, w, b, stride, padding = conv_data(config, seed=12)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(13).standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)

    def loss(_):  # L = <out, dout>, so dL/d(out) = dout
        return np.sum(conv2d_forward(x, w, b, stride, padding)[0] * dout)

    # L is affine in each of x, w and b, so the central difference has no
    # truncation error for any step; a step of 1e-3 rather than 1e-6 only cuts
    # the rounding error (about 1e-14 / (2 eps) on a sum of many terms).
    assert rel_error(dx, numerical_gradient(loss, x, eps=1e-3)) < 1e-7
    assert rel_error(dw, numerical_gradient(loss, w, eps=1e-3)) < 1e-7
    assert rel_error(db, numerical_gradient(loss, b, eps=1e-3)) < 1e-7


def test_conv_gradient_of_a_uniform_kernel_counts_window_coverage():
    # L = sum(out) with w = ones: dL/dx[h, v] = number of windows covering (h, v)
    x = np.zeros((1, 1, 3, 3))
    out, cache = conv2d_forward(x, np.ones((1, 1, 2, 2)), None)
    dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(dw, np.zeros((1, 1, 2, 2)))  # x is zero
    assert db is None


# ----------------------------------------------------------------- max pool

def test_maxpool_hand_example():
    x = np.array([[1.0, 3.0, 2.0, 0.0],
                  [4.0, 2.0, 1.0, 5.0],
                  [0.0, 1.0, 7.0, 6.0],
                  [2.0, 9.0, 8.0, 3.0]]).reshape(1, 1, 4, 4)
    out, cache = maxpool2d_forward(x)
    np.testing.assert_array_equal(out[0, 0], [[4.0, 5.0], [9.0, 8.0]])
    dx = maxpool2d_backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    expected = np.zeros((4, 4))
    expected[1, 0], expected[1, 3], expected[3, 1], expected[3, 2] = 10.0, 20.0, 30.0, 40.0
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_maxpool_matches_naive(config):
    n, c, h, w, size, stride = config
    rng = np.random.default_rng(14)
    # small integers: plenty of ties, which both must break the same way
    x = rng.integers(0, 4, size=(n, c, h, w)).astype(np.float64)
    out, cache = maxpool2d_forward(x, size, stride)
    expected, naive_cache = maxpool2d_forward_naive(x, size, stride)
    assert out.shape == (n, c, conv_output_size(h, size, stride), conv_output_size(w, size, stride))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(cache["argmax"], naive_cache["argmax"])
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(
        maxpool2d_backward(dout, cache), maxpool2d_backward_naive(dout, naive_cache),
        rtol=ORDER_RTOL, atol=ORDER_ATOL,
    )


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_maxpool_gradient_matches_finite_differences(config):
    n, c, h, w, size, stride = config
    x = distinct_values((n, c, h, w), seed=15)
    out, cache = maxpool2d_forward(x, size, stride)
    dout = np.random.default_rng(16).standard_normal(out.shape)
    dx = maxpool2d_backward(dout, cache)
    numeric = numerical_gradient(lambda _: np.sum(maxpool2d_forward(x, size, stride)[0] * dout), x)
    assert rel_error(dx, numeric) < 1e-7


def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 3.0, 2.0, 2.0],
                    [3.0, 0.0, 2.0, 2.0]]]])
    out, cache = maxpool2d_forward(x)
    np.testing.assert_array_equal(out[0, 0], [[3.0, 2.0]])
    dx = maxpool2d_backward(np.ones((1, 1, 1, 2)), cache)
    # first window: the 3 at (0, 1) comes before the 3 at (1, 0); second: all equal -> top-left
    np.testing.assert_array_equal(dx[0, 0], [[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def test_maxpool_overlapping_windows_add_their_gradients():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the centre is the maximum of all four 2x2 windows
    out, cache = maxpool2d_forward(x, size=2, stride=1)
    dx = maxpool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((3, 3))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(dx[0, 0], expected)


# -------------------------------------------------------------- dtypes, extremes

def test_float32_stays_float32():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    cols = im2col(x, 3, 2, 2, 1)
    assert cols.dtype == np.float32
    assert col2im(cols, x.shape, 3, 2, 2, 1).dtype == np.float32
    for forward, backward in [(conv2d_forward, conv2d_backward),
                              (conv2d_forward_naive, conv2d_backward_naive)]:
        out, cache = forward(x, w, b, 2, 1)
        assert out.dtype == np.float32
        grads = backward(np.ones_like(out), cache)
        assert [g.dtype for g in grads] == [np.float32] * 3
    for forward, backward in [(maxpool2d_forward, maxpool2d_backward),
                              (maxpool2d_forward_naive, maxpool2d_backward_naive)]:
        out, cache = forward(x, 2, 2)
        assert out.dtype == np.float32
        assert backward(np.ones_like(out), cache).dtype == np.float32


def test_float32_agrees_with_float64():
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[13], seed=18)
    out64, _ = conv2d_forward(x, w, b, stride, padding)
    out32, _ = conv2d_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32),
                              stride, padding)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-4)


def test_integer_input_becomes_float64():
    x = np.arange(16).reshape(1, 1, 4, 4)
    out, cache = conv2d_forward(x, np.ones((1, 1, 2, 2), dtype=int), np.zeros(1, dtype=int))
    assert out.dtype == np.float64 and out[0, 0, 0, 0] == 0 + 1 + 4 + 5
    assert conv2d_backward(np.ones((1, 1, 3, 3), dtype=int), cache)[0].dtype == np.float64
    assert maxpool2d_forward(x)[0].dtype == np.float64
    assert im2col(x, 2, 2).dtype == np.float64


@pytest.mark.parametrize("scale", [1e-300, 1e150])
def test_conv_extreme_magnitudes_stay_finite(scale):
    # products of order scale**2 stay within float64 (1e300), so the result must be finite
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[5], seed=19)
    out, cache = conv2d_forward(x * scale, w * scale, b * scale, stride, padding)
    dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    for a in (out, dx, dw, db):
        assert np.all(np.isfinite(a))
    expected, _ = conv2d_forward_naive(x * scale, w * scale, b * scale, stride, padding)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)


def test_maxpool_extreme_values():
    x = np.array([[[[-1e308, 1e308], [-np.finfo(float).max, 0.0]]]])
    out, cache = maxpool2d_forward(x)
    assert out[0, 0, 0, 0] == 1e308
    np.testing.assert_array_equal(maxpool2d_backward([[[[2.0]]]], cache)[0, 0], [[0, 2.0], [0, 0]])


# ------------------------------------------------- stride 1: the fast path
#
# conv2d_forward and conv2d_backward take a separate code path for stride 1
# (one image at a time on the flattened padded grid). These configurations
# exercise its edge cases: padding 0, 1 and 2; square, wide, tall and 1x1
# kernels; kernels as large as the padded input (one output row or column);
# rectangular images; one and several images, channels and filters
# (STRIDE1_CONFIGS, defined at the top with the other configurations).


def stride1_data(config, seed, with_bias=True):
    n, c, h, w, f, kh, kw, padding = config
    return conv_data((n, c, h, w, f, kh, kw, 1, padding), seed, with_bias)


@pytest.mark.parametrize("config", STRIDE1_CONFIGS)
def test_stride1_forward_is_the_im2col_matrix_product(config):
    # equation eq-conv-as-matmul, built from the public im2col: an independent
    # route to the same numbers
    x, w, b, stride, padding = stride1_data(config, seed=31)
    n, f, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    h_out = conv_output_size(x.shape[2], kh, stride, padding)
    w_out = conv_output_size(x.shape[3], kw, stride, padding)
    out_mat = im2col(x, kh, kw, stride, padding) @ w.reshape(f, -1).T + b
    expected = out_mat.reshape(n, h_out, w_out, f).transpose(0, 3, 1, 2)
    out, _ = conv2d_forward(x, w, b, stride, padding)
    np.testing.assert_allclose(out, expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("config", STRIDE1_CONFIGS)
def test_stride1_backward_is_the_adjoint_of_the_forward(config):
    # <conv(x, w), G> is linear in x and in w, so for every x', w':
    # <conv(x', w), G> = <x', dx> and <conv(x, w'), G> = <w', dw> (bias-free)
    x, w, _, stride, padding = stride1_data(config, seed=34, with_bias=False)
    rng = np.random.default_rng(35)
    out, cache = conv2d_forward(x, w, None, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, _ = conv2d_backward(dout, cache)
    x_other, w_other = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    lhs_x = np.sum(conv2d_forward(x_other, w, None, stride, padding)[0] * dout)
    lhs_w = np.sum(conv2d_forward(x, w_other, None, stride, padding)[0] * dout)
    assert rel_error(lhs_x, np.sum(x_other * dx)) < 1e-12
    assert rel_error(lhs_w, np.sum(w_other * dw)) < 1e-12


# small enough for a finite-difference loop over every entry
STRIDE1_GRADCHECK_CONFIGS = [
    (1, 1, 4, 4, 1, 3, 3, 0),
    (2, 2, 4, 5, 3, 3, 2, 1),
    (3, 2, 3, 4, 2, 2, 3, 2),
    (2, 3, 5, 3, 2, 1, 3, 1),
    (2, 1, 3, 3, 2, 5, 5, 1),
]


@pytest.mark.parametrize("config", STRIDE1_GRADCHECK_CONFIGS)
def test_stride1_gradients_match_finite_differences(config):
    x, w, b, stride, padding = stride1_data(config, seed=36)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(37).standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)

    def loss(_):  # L = <out, dout>, affine in x, w and b: see the test above
        return np.sum(conv2d_forward(x, w, b, stride, padding)[0] * dout)

    assert rel_error(dx, numerical_gradient(loss, x, eps=1e-3)) < 1e-7
    assert rel_error(dw, numerical_gradient(loss, w, eps=1e-3)) < 1e-7
    assert rel_error(db, numerical_gradient(loss, b, eps=1e-3)) < 1e-7


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_backward_accepts_the_naive_cache_for_both_paths(stride):
    x, w, b, _, padding = conv_data((3, 2, 6, 5, 4, 3, 2, stride, 1), seed=38)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    _, naive_cache = conv2d_forward_naive(x, w, b, stride, padding)
    assert cache.keys() == naive_cache.keys()
    dout = np.random.default_rng(39).standard_normal(out.shape)
    for fast, from_naive in zip(conv2d_backward(dout, cache), conv2d_backward(dout, naive_cache)):
        np.testing.assert_allclose(fast, from_naive, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_accepts_non_contiguous_inputs(stride):
    rng = np.random.default_rng(40)
    x_big = rng.standard_normal((3, 6, 7, 4))
    x = x_big.transpose(0, 3, 2, 1)                # (3, 4, 7, 6), not C-contiguous
    w = rng.standard_normal((5, 3, 4, 2)).transpose(0, 2, 3, 1)[:, :, ::-1]  # (5, 4, 3, 2)
    b = rng.standard_normal(10)[::2]
    out, cache = conv2d_forward(x, w, b, stride, 1)
    expected, naive_cache = conv2d_forward_naive(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                                 np.ascontiguousarray(b), stride, 1)
    np.testing.assert_allclose(out, expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    dout = rng.standard_normal(out.shape[::-1]).T  # a transposed view of the right shape
    for fast, naive in zip(conv2d_backward(dout, cache),
                           conv2d_backward_naive(np.ascontiguousarray(dout), naive_cache)):
        np.testing.assert_allclose(fast, naive, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_results_are_fresh_arrays(stride):
    # the stride-1 path reuses work buffers inside a call: no result may be one
    x, w, b, _, padding = conv_data((3, 2, 5, 6, 3, 3, 2, stride, 1), seed=41)
    out1, cache1 = conv2d_forward(x, w, b, stride, padding)
    out2, _ = conv2d_forward(2 * x, w, b, stride, padding)
    np.testing.assert_allclose(out1, conv2d_forward_naive(x, w, b, stride, padding)[0],
                               rtol=ORDER_RTOL, atol=ORDER_ATOL)
    dout = np.ones_like(out1)
    dx, dw, db = conv2d_backward(dout, cache1)
    arrays = [x, w, b, dout, out1, out2, dx, dw, db]
    for i, a in enumerate(arrays):
        for other in arrays[i + 1:]:
            assert not np.shares_memory(a, other)
    assert out1.flags.c_contiguous and dx.flags.c_contiguous and dw.flags.c_contiguous


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_backward_does_not_modify_its_inputs(stride):
    x, w, b, _, padding = conv_data((2, 3, 6, 6, 2, 3, 3, stride, 2), seed=42)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(43).standard_normal(out.shape)
    copies = x.copy(), w.copy(), b.copy(), dout.copy()
    conv2d_backward(dout, cache)
    for original, copy in zip((x, w, b, dout), copies):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("stride", [1, 2])
def test_float32_stays_float32_on_both_paths(stride):
    rng = np.random.default_rng(44)
    x = rng.standard_normal((3, 2, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out, cache = conv2d_forward(x, w, b, stride, 1)
    assert out.dtype == np.float32
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = conv2d_backward(dout, cache)
    assert [g.dtype for g in grads] == [np.float32] * 3
    expected = conv2d_backward_naive(dout.astype(np.float64), conv2d_forward_naive(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride, 1)[1])
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("layer_dtype, dout_dtype",
                         [(np.float32, np.float64), (np.float64, np.float32)])
def test_mixed_dtypes_give_gradients_in_the_common_dtype(stride, layer_dtype, dout_dtype):
    rng = np.random.default_rng(45)
    x = rng.standard_normal((2, 2, 5, 5)).astype(layer_dtype)
    w, b = np.ones((3, 2, 2, 2), layer_dtype), np.zeros(3, layer_dtype)
    dout = rng.standard_normal(conv2d_forward(x, w, b, stride)[0].shape).astype(dout_dtype)
    for forward, backward in [(conv2d_forward, conv2d_backward),
                              (conv2d_forward_naive, conv2d_backward_naive)]:
        grads = backward(dout, forward(x, w, b, stride)[1])
        assert [g.dtype for g in grads] == [np.float64] * 3


@pytest.mark.parametrize("scale", [1e-300, 1e150])
def test_stride1_extreme_magnitudes_stay_finite(scale):
    x, w, b, stride, padding = stride1_data(STRIDE1_CONFIGS[6], seed=46)
    out, cache = conv2d_forward(x * scale, w * scale, b * scale, stride, padding)
    dx, dw, db = conv2d_backward(np.ones_like(out) * scale, cache)
    for a in (out, dx, dw, db):
        assert np.all(np.isfinite(a))
    expected, naive_cache = conv2d_forward_naive(x * scale, w * scale, b * scale, stride, padding)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)
    naive_grads = conv2d_backward_naive(np.ones_like(out) * scale, naive_cache)
    for fast, naive in zip((dx, dw, db), naive_grads):
        np.testing.assert_allclose(fast, naive, rtol=1e-12, atol=0)


# ------------------------------------------------------------------ bad input

X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))
B = np.zeros(4)


@pytest.mark.parametrize("stride", [0, -1])
def test_nonpositive_stride_is_rejected(stride):
    for call in [
        lambda: conv2d_forward(X, W, B, stride=stride),
        lambda: conv2d_forward_naive(X, W, B, stride=stride),
        lambda: im2col(X, 3, 3, stride=stride),
        lambda: col2im(np.zeros((18, 27)), X.shape, 3, 3, stride=stride),
        lambda: maxpool2d_forward(X, 2, stride=stride),
        lambda: maxpool2d_forward_naive(X, 2, stride=stride),
        lambda: conv_output_size(5, 3, stride=stride),
    ]:
        with pytest.raises(ValueError, match=rf"stride must be >= 1, got {stride}"):
            call()


def test_negative_padding_is_rejected():
    for call in [
        lambda: conv2d_forward(X, W, B, padding=-1),
        lambda: im2col(X, 3, 3, padding=-1),
        lambda: col2im(np.zeros((18, 27)), X.shape, 3, 3, padding=-1),
        lambda: conv_output_size(5, 3, padding=-1),
    ]:
        with pytest.raises(ValueError, match=r"padding must be >= 0, got -1"):
            call()


def test_non_integer_hyper_parameters_are_rejected():
    with pytest.raises(TypeError, match="stride must be an int, got 1.5"):
        conv2d_forward(X, W, B, stride=1.5)
    with pytest.raises(TypeError, match="padding must be an int"):
        im2col(X, 3, 3, padding=True)


def test_kernel_larger_than_padded_input_is_rejected():
    w = np.zeros((4, 3, 8, 3))
    with pytest.raises(ValueError, match=r"kernel \(KH, KW\) = \(8, 3\) is larger than the padded input "
                                         r"\(H \+ 2\*padding, W \+ 2\*padding\) = \(7, 7\)"):
        conv2d_forward(X, w, B, padding=1)
    with pytest.raises(ValueError, match=r"kernel \(KH, KW\) = \(3, 6\) is larger than the padded input"):
        im2col(X, 3, 6)
    with pytest.raises(ValueError, match=r"kernel length k=8 is larger than the padded input"):
        conv_output_size(5, 8, padding=1)
    with pytest.raises(ValueError, match=r"pooling window \(KH, KW\) = \(6, 6\) is larger"):
        maxpool2d_forward(X, size=6)


def test_kernel_that_fits_only_thanks_to_padding_is_accepted():
    out, _ = conv2d_forward(X, np.zeros((4, 3, 7, 7)), B, padding=1)
    assert out.shape == (2, 4, 1, 1)


def test_channel_mismatch_is_rejected():
    with pytest.raises(ValueError, match=r"x has shape \(2, 3, 5, 5\) with C=3 channels but w has shape "
                                         r"\(4, 2, 3, 3\) with C=2; expected w of shape \(F, 3, KH, KW\)"):
        conv2d_forward(X, np.zeros((4, 2, 3, 3)), B)


@pytest.mark.parametrize("bad_b", [np.zeros(3), np.zeros((4, 1)), np.zeros((1, 4)), 0.0])
def test_bias_of_wrong_shape_is_rejected(bad_b):
    shape = np.shape(bad_b)
    with pytest.raises(ValueError, match=rf"b has shape {re_shape(shape)} but w has shape \(4, 3, 3, 3\); "
                                         r"expected b of shape \(4,\)"):
        conv2d_forward(X, W, bad_b)


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("bad_x", [np.zeros((3, 5, 5)), np.zeros((1, 2, 3, 5, 5)), np.zeros(5)])
def test_non_4d_images_are_rejected(bad_x):
    pattern = rf"x must be 4-D \(N, C, H, W\), got shape {re_shape(bad_x.shape)}"
    for call in [
        lambda: conv2d_forward(bad_x, W, B),
        lambda: im2col(bad_x, 2, 2),
        lambda: maxpool2d_forward(bad_x),
    ]:
        with pytest.raises(ValueError, match=pattern):
            call()


def test_non_4d_kernel_is_rejected():
    with pytest.raises(ValueError, match=r"w must be 4-D \(F, C, KH, KW\), got shape \(3, 3, 3\)"):
        conv2d_forward(X, np.zeros((3, 3, 3)), B)


def test_empty_axes_are_rejected():
    with pytest.raises(ValueError, match=r"x has shape \(0, 3, 5, 5\); expected \(N, C, H, W\) with every axis"):
        conv2d_forward(np.zeros((0, 3, 5, 5)), W, B)
    with pytest.raises(ValueError, match=r"w has shape \(0, 3, 3, 3\); expected \(F, C, KH, KW\)"):
        conv2d_forward(X, np.zeros((0, 3, 3, 3)), None)


def test_wrong_dout_shape_is_rejected():
    out, cache = conv2d_forward(X, W, B)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 3\); expected \(2, 4, 3, 3\)"):
        conv2d_backward(np.zeros((2, 4, 3)), cache)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 3, 1\); expected \(2, 4, 3, 3\)"):
        conv2d_backward_naive(np.zeros((2, 4, 3, 1)), cache)
    out, cache = maxpool2d_forward(X)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 2\); expected \(2, 3, 2, 2\)"):
        maxpool2d_backward(np.zeros((2, 3, 2)), cache)


def test_col2im_rejects_cols_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"cols has shape \(27, 18\); expected \(18, 27\)"):
        col2im(np.zeros((27, 18)), X.shape, 3, 3)
    with pytest.raises(ValueError, match=r"x_shape must be four positive ints"):
        col2im(np.zeros((18, 27)), (2, 3, 5), 3, 3)


def test_non_numeric_input_is_rejected():
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        conv2d_forward(np.full((1, 1, 2, 2), "a"), np.zeros((1, 1, 1, 1)), None)
    with pytest.raises(TypeError, match="w must be a real numeric array"):
        conv2d_forward(np.zeros((1, 1, 2, 2)), [[[["a"]]]], None)
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        maxpool2d_forward(np.full((1, 1, 2, 2), "a"))
