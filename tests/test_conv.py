"""Tests for dlmath.conv: fast against naive, finite differences, the im2col adjoint, bad input."""
import itertools

import numpy as np
import pytest

from dlmath import conv
from dlmath.backprop import linear_backward, linear_forward
from dlmath.conv import (
    avgpool2d_backward,
    avgpool2d_backward_naive,
    avgpool2d_forward,
    avgpool2d_forward_naive,
    col2im,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
    conv_output_size,
    global_avgpool_backward,
    global_avgpool_backward_naive,
    global_avgpool_forward,
    global_avgpool_forward_naive,
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


# At stride 1, conv2d_forward and conv2d_backward go through the batch a chunk
# of images at a time (as many as fit in conv._CHUNK_BYTES of patches). The
# tests that use the `route` fixture run with the whole batch in one chunk (the
# tiny test batches), with one image per chunk, and with two images per chunk
# (so that the last chunk of an odd batch is a partial one).
ROUTES = {
    "one-chunk": None,
    "one-image-per-chunk": lambda n_images, bytes_per_image: 1,
    "two-images-per-chunk": lambda n_images, bytes_per_image: min(n_images, 2),
}


@pytest.fixture(params=sorted(ROUTES))
def route(request, monkeypatch):
    if ROUTES[request.param] is not None:
        monkeypatch.setattr(conv, "_images_per_chunk", ROUTES[request.param])
    return request.param


def test_chunks_hold_as_many_images_as_fit_in_the_budget():
    budget = conv._CHUNK_BYTES
    assert conv._images_per_chunk(1437, budget // 100) == 100
    assert conv._images_per_chunk(32, budget // 100) == 32           # at most the batch
    assert conv._images_per_chunk(32, 10 * budget) == 1              # at least one image
    # the benchmark's images (16 channels of 32 x 32, 3 x 3, padding 1): one at a time;
    # chapter 14's 8 x 8 digits: a batch of 32 in one chunk
    per_image = (3 * 3 * 16 + 1) * 32 * 34 * 8
    assert conv._images_per_chunk(32, per_image) == 1
    assert conv._images_per_chunk(32, (3 * 3 * 1 + 1) * 8 * 10 * 8) == 32


@pytest.mark.usefixtures("route")
def test_a_large_batch_of_small_images_goes_through_in_several_chunks():
    x, w, b, stride, padding = conv_data((300, 3, 8, 8, 4, 3, 3, 1, 1), seed=59)
    per_image = (3 * 3 * 3 + 1) * 8 * 10 * 8
    assert per_image * 300 > conv._CHUNK_BYTES        # several chunks even without the fixture
    out, cache = conv2d_forward(x, w, b, stride, padding)
    expected, naive_cache = conv2d_forward_naive(x[:7], w, b, stride, padding)
    np.testing.assert_allclose(out[:7], expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    # every image on its own gives the same output and gradients as the batch
    dout = np.random.default_rng(58).standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    dw_sum, db_sum = np.zeros_like(dw), np.zeros_like(db)
    for n in (0, 150, 299):
        out_n, cache_n = conv2d_forward(x[n:n + 1], w, b, stride, padding)
        np.testing.assert_allclose(out[n:n + 1], out_n, rtol=ORDER_RTOL, atol=ORDER_ATOL)
        dx_n, _, _ = conv2d_backward(dout[n:n + 1], cache_n)
        np.testing.assert_allclose(dx[n:n + 1], dx_n, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    for n in range(300):
        _, dw_n, db_n = conv2d_backward(dout[n:n + 1], conv2d_forward(x[n:n + 1], w, b, 1, 1)[1])
        dw_sum += dw_n
        db_sum += db_n
    np.testing.assert_allclose(dw, dw_sum, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, db_sum, rtol=1e-10, atol=1e-10)


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

@pytest.mark.usefixtures("route")
def test_conv_is_cross_correlation_without_kernel_flip():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])  # picks the top-left of each window
    out, _ = conv2d_forward(x, w, None)
    # a true (flipped) convolution would pick the bottom-right: [[5, 6], [8, 9]]
    np.testing.assert_array_equal(out[0, 0], [[1.0, 2.0], [4.0, 5.0]])


@pytest.mark.usefixtures("route")
def test_conv_hand_example_with_bias_stride_and_padding():
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 3, 3))
    out, _ = conv2d_forward(x, w, [0.5], stride=2, padding=1)
    # padded 5x5 with a ring of zeros; windows at corners (0,0),(0,2),(2,0),(2,2) each hold 4 ones
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 4.5))


@pytest.mark.parametrize("config", ALL_CONV_CONFIGS)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.usefixtures("route")
def test_conv_forward_matches_naive(config, with_bias):
    x, w, b, stride, padding = conv_data(config, seed=6, with_bias=with_bias)
    out, _ = conv2d_forward(x, w, b, stride, padding)
    expected, _ = conv2d_forward_naive(x, w, b, stride, padding)
    n, _, h, wid, f, kh, kw = config[:7]
    assert out.shape == (
        n, f, conv_output_size(h, kh, stride, padding), conv_output_size(wid, kw, stride, padding)
    )
    np.testing.assert_allclose(out, expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.usefixtures("route")
def test_conv_forward_does_not_modify_its_inputs():
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[4], seed=7)
    copies = x.copy(), w.copy(), b.copy()
    conv2d_forward(x, w, b, stride, padding)
    for original, copy in zip((x, w, b), copies):
        np.testing.assert_array_equal(original, copy)


# ------------------------------------------------------------ conv backward

@pytest.mark.parametrize("config", ALL_CONV_CONFIGS)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.usefixtures("route")
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


@pytest.mark.usefixtures("route")
def test_conv_backward_accepts_the_naive_cache():
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[10], seed=10)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    _, naive_cache = conv2d_forward_naive(x, w, b, stride, padding)
    dout = np.random.default_rng(11).standard_normal(out.shape)
    for fast, from_naive in zip(conv2d_backward(dout, cache), conv2d_backward(dout, naive_cache)):
        np.testing.assert_allclose(fast, from_naive, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("config", GRADCHECK_CONFIGS)
@pytest.mark.usefixtures("route")
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


@pytest.mark.usefixtures("route")
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

@pytest.mark.usefixtures("route")
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


@pytest.mark.usefixtures("route")
def test_float32_agrees_with_float64():
    x, w, b, stride, padding = conv_data(CONV_CONFIGS[13], seed=18)
    out64, _ = conv2d_forward(x, w, b, stride, padding)
    out32, _ = conv2d_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32),
                              stride, padding)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-4)


@pytest.mark.usefixtures("route")
def test_integer_input_becomes_float64():
    x = np.arange(16).reshape(1, 1, 4, 4)
    out, cache = conv2d_forward(x, np.ones((1, 1, 2, 2), dtype=int), np.zeros(1, dtype=int))
    assert out.dtype == np.float64 and out[0, 0, 0, 0] == 0 + 1 + 4 + 5
    assert conv2d_backward(np.ones((1, 1, 3, 3), dtype=int), cache)[0].dtype == np.float64
    assert maxpool2d_forward(x)[0].dtype == np.float64
    assert im2col(x, 2, 2).dtype == np.float64


@pytest.mark.parametrize("scale", [1e-300, 1e150])
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
def test_conv_backward_accepts_the_naive_cache_for_both_paths(stride):
    x, w, b, _, padding = conv_data((3, 2, 6, 5, 4, 3, 2, stride, 1), seed=38)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    _, naive_cache = conv2d_forward_naive(x, w, b, stride, padding)
    assert cache.keys() == naive_cache.keys()
    dout = np.random.default_rng(39).standard_normal(out.shape)
    for fast, from_naive in zip(conv2d_backward(dout, cache), conv2d_backward(dout, naive_cache)):
        np.testing.assert_allclose(fast, from_naive, rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
def test_conv_backward_does_not_modify_its_inputs(stride):
    x, w, b, _, padding = conv_data((2, 3, 6, 6, 2, 3, 3, stride, 2), seed=42)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(43).standard_normal(out.shape)
    copies = x.copy(), w.copy(), b.copy(), dout.copy()
    conv2d_backward(dout, cache)
    for original, copy in zip((x, w, b, dout), copies):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
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
@pytest.mark.usefixtures("route")
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


# ------------------------------------------- 1 x 1 and stride-2 convolutions

@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("padding", [0, 1])
def test_1x1_convolution_is_a_linear_layer_on_every_pixel(padding):
    # out[n, :, h, v] = W x[n, :, h, v] + b: chapter 5's linear layer applied to
    # the (N*H*W, C) matrix of pixels, with weights w[:, :, 0, 0]^T (zero padding
    # only adds border pixels whose output is the bias)
    rng = np.random.default_rng(60)
    x, w, b = rng.standard_normal((3, 5, 4, 6)), rng.standard_normal((7, 5, 1, 1)), rng.standard_normal(7)
    out, cache = conv2d_forward(x, w, b, 1, padding)
    pixels = x.transpose(0, 2, 3, 1).reshape(-1, 5)                  # (N*H*W, C)
    lin, lin_cache = linear_forward(pixels, w[:, :, 0, 0].T, b)
    inner = out[:, :, padding:padding + 4, padding:padding + 6]
    np.testing.assert_allclose(inner.transpose(0, 2, 3, 1).reshape(-1, 7), lin,
                               rtol=ORDER_RTOL, atol=ORDER_ATOL)
    if padding:
        np.testing.assert_allclose(out[:, :, 0, 0], np.broadcast_to(b, (3, 7)), rtol=0, atol=0)
    # the backward pass: the linear layer's gradients, plus the border's share of db
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    d_inner = dout[:, :, padding:padding + 4, padding:padding + 6].transpose(0, 2, 3, 1).reshape(-1, 7)
    ldx, ldW, _ = linear_backward(d_inner, lin_cache)
    np.testing.assert_allclose(dx, ldx.reshape(3, 4, 6, 5).transpose(0, 3, 1, 2),
                               rtol=ORDER_RTOL, atol=ORDER_ATOL)
    np.testing.assert_allclose(dw[:, :, 0, 0], ldW.T, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("kernel, padding", [(3, 1), (2, 0), (3, 0), (1, 0)])
def test_stride2_convolution_is_the_stride1_output_subsampled(kernel, padding):
    # window (i, j) of stride S starts at (iS, jS): the stride-1 window (iS, jS)
    rng = np.random.default_rng(61)
    x = rng.standard_normal((2, 3, 7, 8))
    w, b = rng.standard_normal((4, 3, kernel, kernel)), rng.standard_normal(4)
    out2, _ = conv2d_forward(x, w, b, 2, padding)
    out1, _ = conv2d_forward(x, w, b, 1, padding)
    np.testing.assert_allclose(out2, out1[:, :, ::2, ::2], rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("config", [
    (2, 3, 4, 5, 4, 1, 1, 1, 0),    # 1 x 1
    (2, 2, 3, 4, 3, 1, 1, 1, 1),    # 1 x 1 with padding
    (2, 3, 4, 4, 2, 1, 1, 2, 0),    # 1 x 1, stride 2
    (2, 2, 6, 7, 3, 3, 3, 2, 1),    # 3 x 3, stride 2, padding 1
    (1, 2, 8, 8, 2, 2, 2, 2, 0),    # 2 x 2, stride 2: windows tile the image
])
def test_1x1_and_stride2_gradients_match_finite_differences(config):
    x, w, b, stride, padding = conv_data(config, seed=62)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(63).standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)

    def loss(_):  # affine in x, w and b: the step only trades rounding error
        return np.sum(conv2d_forward(x, w, b, stride, padding)[0] * dout)

    for analytic, arr in [(dx, x), (dw, w), (db, b)]:
        assert rel_error(analytic, numerical_gradient(loss, arr, eps=1e-3)) < 1e-7


# ------------------------------------------------------ non-finite, overflow

@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("forward", [conv2d_forward, conv2d_forward_naive])
@pytest.mark.parametrize("name", ["x", "w", "b"])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_forward_rejects_inf_and_nan(forward, name, bad, stride):
    x, w, b, _, padding = conv_data((2, 2, 5, 5, 3, 3, 3, stride, 1), seed=64)
    args = {"x": x, "w": w, "b": b}
    args[name] = args[name].copy()
    args[name].flat[1] = bad
    with pytest.raises(ValueError, match=rf"{forward.__name__}: {name} \(shape .*\) has 1 entry "
                                         "that is inf or nan"):
        forward(args["x"], args["w"], args["b"], stride, padding)


@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("backward", [conv2d_backward, conv2d_backward_naive])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_conv_backward_rejects_inf_and_nan_gradients(backward, bad):
    x, w, b, stride, padding = conv_data((2, 2, 5, 5, 3, 3, 3, 1, 1), seed=65)
    out, cache = conv2d_forward(x, w, b, stride, padding)
    dout = np.ones_like(out)
    dout[1, 2, 3, 4] = bad
    with pytest.raises(ValueError, match="dout .* inf or nan"):
        backward(dout, cache)


@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("forward", [conv2d_forward, conv2d_forward_naive])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dtype, big", [(np.float64, 1e200), (np.float32, 1e20)])
def test_conv_forward_overflow_is_a_clear_error(forward, stride, dtype, big):
    # finite inputs whose products (1e400, 1e40) exceed the largest float
    x = np.full((2, 2, 5, 5), big, dtype=dtype)
    w = np.full((3, 2, 3, 3), big, dtype=dtype)
    with pytest.raises(ValueError, match=f"the output overflows {np.dtype(dtype).name}"):
        forward(x, w, None, stride, 1)


@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_forward_of_large_finite_values_that_fit_is_not_an_error(stride):
    # issue 10: 1e200 input with weights of order 1 is finite and must stay so
    x, w, b, _, padding = conv_data((2, 2, 5, 5, 3, 3, 3, stride, 1), seed=66)
    out, cache = conv2d_forward(x * 1e200, w, b, stride, padding)
    expected, _ = conv2d_forward_naive(x * 1e200, w, b, stride, padding)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)
    for g in conv2d_backward(np.ones_like(out), cache):
        assert np.all(np.isfinite(g))


@pytest.mark.usefixtures("route")
@pytest.mark.parametrize("backward", [conv2d_backward, conv2d_backward_naive])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_backward_overflow_is_a_clear_error(backward, stride):
    # dw = sum dout * x: 1e200 * 1e200 overflows although every input is finite
    x = np.full((2, 2, 5, 5), 1e200)
    w = np.ones((3, 2, 3, 3))
    out, cache = conv2d_forward(x, w, None, stride, 1)
    with pytest.raises(ValueError, match="dw overflows float64"):
        backward(np.full(out.shape, 1e200), cache)


# ---------------------------------------------------------- average pooling

def test_avgpool_hand_example():
    x = np.array([[1.0, 3.0, 2.0, 0.0],
                  [4.0, 2.0, 1.0, 5.0],
                  [0.0, 1.0, 7.0, 6.0],
                  [2.0, 9.0, 8.0, 3.0]]).reshape(1, 1, 4, 4)
    out, cache = avgpool2d_forward(x)
    np.testing.assert_array_equal(out[0, 0], [[2.5, 2.0], [3.0, 6.0]])
    dx = avgpool2d_backward(np.array([[[[4.0, 8.0], [12.0, 16.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_avgpool_matches_naive(config):
    n, c, h, w, size, stride = config
    rng = np.random.default_rng(67)
    x = rng.standard_normal((n, c, h, w))
    out, cache = avgpool2d_forward(x, size, stride)
    expected, naive_cache = avgpool2d_forward_naive(x, size, stride)
    assert out.shape == (n, c, conv_output_size(h, size, stride), conv_output_size(w, size, stride))
    np.testing.assert_allclose(out, expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    dout = rng.standard_normal(out.shape)
    dx = avgpool2d_backward(dout, cache)
    np.testing.assert_allclose(dx, avgpool2d_backward_naive(dout, naive_cache),
                               rtol=ORDER_RTOL, atol=ORDER_ATOL)
    np.testing.assert_allclose(dx, avgpool2d_backward(dout, naive_cache), rtol=0, atol=0)


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_avgpool_is_a_depthwise_convolution_with_the_constant_kernel(config):
    # each channel on its own, convolved with 1/K^2 everywhere, stride S
    n, c, h, w, size, stride = config
    x = np.random.default_rng(68).standard_normal((n, c, h, w))
    kernel = np.full((1, 1, size, size), 1.0 / size ** 2)
    expected = np.concatenate(
        [conv2d_forward(x[:, ch:ch + 1], kernel, None, stride)[0] for ch in range(c)], axis=1)
    np.testing.assert_allclose(avgpool2d_forward(x, size, stride)[0], expected,
                               rtol=ORDER_RTOL, atol=ORDER_ATOL)


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_avgpool_gradient_matches_finite_differences(config):
    n, c, h, w, size, stride = config
    rng = np.random.default_rng(69)
    x = rng.standard_normal((n, c, h, w))
    out, cache = avgpool2d_forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    dx = avgpool2d_backward(dout, cache)
    # L = <avgpool(x), dout> is linear in x: no truncation error for any step
    numeric = numerical_gradient(lambda _: np.sum(avgpool2d_forward(x, size, stride)[0] * dout),
                                 x, eps=1e-3)
    assert rel_error(dx, numeric) < 1e-7


def test_avgpool_overlapping_windows_add_and_uncovered_pixels_get_zero():
    x = np.zeros((1, 1, 3, 3))
    _, cache = avgpool2d_forward(x, size=2, stride=1)        # four overlapping windows
    dx = avgpool2d_backward(np.full((1, 1, 2, 2), 4.0), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    _, cache = avgpool2d_forward(np.zeros((1, 1, 5, 5)), size=2, stride=2)   # row/column 4 in no window
    dx = avgpool2d_backward(np.ones((1, 1, 2, 2)), cache)
    np.testing.assert_array_equal(dx[0, 0, 4], 0.0)
    np.testing.assert_array_equal(dx[0, 0, :, 4], 0.0)
    np.testing.assert_array_equal(dx[0, 0, :4, :4], 0.25)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [2, 3, 5])
def test_avgpool_of_the_largest_floats_is_finite(dtype, size):
    # each term is divided by K^2 before the sum; the last rounding can still
    # pass the largest float (9 * fl(max / 9) > max), and is clipped back
    big = np.finfo(dtype).max
    x = np.full((1, 2, size, size), big, dtype=dtype)
    x[0, 1] = -big
    for forward in (avgpool2d_forward, avgpool2d_forward_naive):
        out, cache = forward(x, size, size)
        np.testing.assert_array_equal(out[0, :, 0, 0], np.array([big, -big], dtype=dtype))
        assert out.dtype == dtype
    dx = avgpool2d_backward(np.full((1, 2, 1, 1), big, dtype=dtype), cache)
    assert np.all(np.isfinite(dx))
    out, _ = global_avgpool_forward(x)
    np.testing.assert_array_equal(out[0], np.array([big, -big], dtype=dtype))
    np.testing.assert_array_equal(global_avgpool_forward_naive(x)[0][0], np.array([big, -big], dtype=dtype))


def test_global_avgpool_hand_example():
    x = np.arange(12.0).reshape(1, 3, 2, 2)          # channel means 1.5, 5.5, 9.5
    out, cache = global_avgpool_forward(x)
    np.testing.assert_array_equal(out, [[1.5, 5.5, 9.5]])
    dx = global_avgpool_backward(np.array([[4.0, 8.0, -4.0]]), cache)
    np.testing.assert_array_equal(dx[0], [np.full((2, 2), 1.0), np.full((2, 2), 2.0), np.full((2, 2), -1.0)])


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 7, 1), (2, 4, 8, 8)])
def test_global_avgpool_matches_naive_and_mean(shape):
    rng = np.random.default_rng(70)
    x = rng.standard_normal(shape)
    out, cache = global_avgpool_forward(x)
    assert out.shape == shape[:2]
    expected, naive_cache = global_avgpool_forward_naive(x)
    np.testing.assert_allclose(out, expected, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)), rtol=ORDER_RTOL, atol=ORDER_ATOL)
    # average pooling with a window as large as the image, flattened
    np.testing.assert_allclose(out, avgpool2d_forward(x, shape[2], 1)[0][:, :, 0, 0]
                               if shape[2] == shape[3] else out, rtol=ORDER_RTOL, atol=ORDER_ATOL)
    dout = rng.standard_normal(out.shape)
    dx = global_avgpool_backward(dout, cache)
    np.testing.assert_allclose(dx, global_avgpool_backward_naive(dout, naive_cache),
                               rtol=ORDER_RTOL, atol=ORDER_ATOL)
    assert dx.shape == shape and dx.flags.c_contiguous and not np.shares_memory(dx, dout)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 3)])
def test_global_avgpool_gradient_matches_finite_differences(shape):
    rng = np.random.default_rng(71)
    x = rng.standard_normal(shape)
    out, cache = global_avgpool_forward(x)
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradient(lambda _: np.sum(global_avgpool_forward(x)[0] * dout), x, eps=1e-3)
    assert rel_error(global_avgpool_backward(dout, cache), numeric) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_keeps_the_dtype_and_leaves_inputs_alone(dtype):
    rng = np.random.default_rng(72)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    x_copy = x.copy()
    for forward, backward in [(avgpool2d_forward, avgpool2d_backward),
                              (avgpool2d_forward_naive, avgpool2d_backward_naive),
                              (lambda a: global_avgpool_forward(a), global_avgpool_backward),
                              (lambda a: global_avgpool_forward_naive(a), global_avgpool_backward_naive)]:
        out, cache = forward(x)
        assert out.dtype == dtype
        dout = np.ones_like(out)
        dout_copy = dout.copy()
        assert backward(dout, cache).dtype == dtype
        np.testing.assert_array_equal(x, x_copy)
        np.testing.assert_array_equal(dout, dout_copy)
    assert avgpool2d_forward(np.ones((1, 1, 2, 2), dtype=int))[0].dtype == np.float64


@pytest.mark.parametrize("forward", [avgpool2d_forward, avgpool2d_forward_naive,
                                     global_avgpool_forward, global_avgpool_forward_naive])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_average_pooling_rejects_inf_and_nan(forward, bad):
    x = np.ones((1, 2, 4, 4))
    x[0, 1, 2, 3] = bad
    with pytest.raises(ValueError, match="x .* inf or nan"):
        forward(x)


def test_average_pooling_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"avgpool2d_forward: pooling window .* larger"):
        avgpool2d_forward(np.ones((1, 1, 3, 3)), size=4)
    with pytest.raises(ValueError, match=r"must be 4-D"):
        global_avgpool_forward(np.ones((3, 3)))
    _, cache = avgpool2d_forward(np.ones((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 1, 4, 4\); expected \(2, 1, 2, 2\)"):
        avgpool2d_backward(np.ones((2, 1, 4, 4)), cache)
    _, cache = global_avgpool_forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 1, 1\); expected \(2, 3\)"):
        global_avgpool_backward(np.ones((2, 3, 1, 1)), cache)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        avgpool2d_forward(np.ones((1, 1, 4, 4)), 2, 0)


# ------------------------------------------------------- max pooling and nan

def test_maxpool_fast_and_naive_agree_on_nan():
    # both compare with a strict >: a nan first in its window is the output,
    # a nan later in the window is skipped
    x = np.array([[[[np.nan, 5.0, 1.0, np.nan],
                    [2.0, 3.0, 4.0, 0.0]]]])
    out, cache = maxpool2d_forward(x)
    expected, naive_cache = maxpool2d_forward_naive(x)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(cache["argmax"], naive_cache["argmax"])
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 4.0



@pytest.mark.parametrize("forward", [maxpool2d_forward, maxpool2d_forward_naive])
def test_maxpool_forward_takes_infinite_input(forward):
    # as the module docstring says: the maximum of a window that holds inf is
    # inf, and -inf loses to any finite entry; the gradient goes to the winner
    x = np.array([[[[np.inf, 1.0, -np.inf, -np.inf],
                    [2.0, 3.0, -np.inf, 0.0]]]])
    out, cache = forward(x)
    np.testing.assert_array_equal(out, [[[[np.inf, 0.0]]]])
    dx = maxpool2d_backward(np.array([[[[1.0, 2.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]]]])

def test_maxpool_backward_rejects_inf_gradients_and_reports_overflow():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0                     # the maximum of all four overlapping windows
    _, cache = maxpool2d_forward(x, size=2, stride=1)
    with pytest.raises(ValueError, match="dout .* inf or nan"):
        maxpool2d_backward(np.full((1, 1, 2, 2), np.inf), cache)
    for backward in (maxpool2d_backward, maxpool2d_backward_naive):
        with pytest.raises(ValueError, match="dx overflows float64"):
            backward(np.full((1, 1, 2, 2), 1e308), cache)


@pytest.mark.parametrize("size, stride", [(1, 1), (1, 2), (2, 2), (3, 1)])
def test_maxpool_results_are_fresh_arrays_and_inputs_are_left_alone(size, stride):
    x = distinct_values((2, 3, 6, 6), seed=73)
    x_copy = x.copy()
    out, cache = maxpool2d_forward(x, size, stride)
    dout = np.ones_like(out)
    dx = maxpool2d_backward(dout, cache)
    assert not np.shares_memory(out, x) and not np.shares_memory(dx, dout)
    assert out.flags.c_contiguous and dx.flags.c_contiguous
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dout, 1.0)
