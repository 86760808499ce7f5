r"""Convolution, max pooling and average pooling on image batches (chapter 7).

"Convolution" here is cross-correlation, as deep-learning libraries compute it:
the kernel slides over the input and is *not* flipped. Images are
``(N, C, H, W)`` (batch, channels, height, width), kernels ``(F, C, KH, KW)``;
``stride`` and ``padding`` are ints used on both axes, and padding is zeros.

Every layer is a stateless pair, CS231n style: ``out, cache = thing_forward(...)``
and ``grads = thing_backward(dout, cache)``. Each fast function sits next to a
``*_naive`` reference that loops over every output element and computes the
defining sum directly; the tests check one against the other.

The fast convolution is matrix products. :func:`im2col` copies every receptive
field of the input into one row of a patch matrix, so the convolution becomes
``patches @ kernels.T``; the backward pass is two more matrix products and
:func:`col2im`, the adjoint of :func:`im2col`, which adds each patch gradient
back to the pixels it was copied from. :func:`conv2d_forward` and
:func:`conv2d_backward` do exactly that when ``stride > 1``. For
``stride == 1``, the common case, they go a chunk of images at a time (as many
as fit in 1 MiB of patches, at least one) over the padded images flattened row
by row, where "entry (p, q) of every window" is one contiguous slice: the
patches are copied at memory speed, and the backward pass regroups its sums so
that it needs neither a full patch matrix nor col2im's scattered additions.
The buffers of one chunk are allocated once per call and reused for every
chunk, so they stay in the CPU cache, where a patch matrix of the whole batch
would be tens of megabytes of fresh memory on every call. The cache of a layer
holds only its inputs; the backward pass rebuilds what it needs from them.

Average pooling and global average pooling (the mean of each window, or of
each whole channel) complete the pooling layers; like the convolution they are
linear, and their backward passes spread each gradient evenly over the window.
The convolution and the two average poolings refuse ``inf`` and ``nan``
input, and every backward pass refuses them in ``dout``; max pooling's
forward pass takes them (the maximum of a window that holds ``inf`` is
``inf``, and a ``nan`` goes through as :func:`maxpool2d_forward_naive`
describes). A result that overflows the floating type from finite input
(``1e200 * 1e200`` in float64) is a ``ValueError`` that says so, never a bare
numpy ``RuntimeWarning``.
"""
import numbers
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import as_float_array, check_finite, check_ndim, check_no_overflow, check_positive_int


# --------------------------------------------------------------------------
# Shapes and argument checks
# --------------------------------------------------------------------------

def conv_output_size(n, k, stride=1, padding=0):
    r"""The output length of a convolution or pooling along one axis.

    .. math::
        n_{\mathrm{out}} = \left\lfloor \frac{n + 2P - k}{S} \right\rfloor + 1

    for an input of length :math:`n`, a kernel of length :math:`k`, stride
    :math:`S` and zero padding :math:`P` on each side: the number of positions
    :math:`i = 0, 1, \dots` with :math:`iS + k \le n + 2P`. Derived in chapter
    7, equation :eq:`eq-conv-output-size`. Trailing input rows that no window
    reaches (when :math:`S` does not divide :math:`n + 2P - k`) are ignored.

    Parameters
    ----------
    n : int
        The input length, >= 1.
    k : int
        The kernel length, >= 1 and at most ``n + 2 * padding``.
    stride : int
        The step between windows, >= 1.
    padding : int
        Zeros added on each side, >= 0.

    Returns
    -------
    int
        The output length, >= 1.
    """
    where = "conv_output_size"
    n = check_positive_int(n, "n", where)
    k = check_positive_int(k, "k", where)
    stride = check_positive_int(stride, "stride", where)
    padding = check_positive_int(padding, "padding", where, minimum=0)
    if k > n + 2 * padding:
        raise ValueError(
            f"{where}: kernel length k={k} is larger than the padded input "
            f"n + 2*padding = {n} + 2*{padding} = {n + 2 * padding}; "
            f"expected k <= {n + 2 * padding}"
        )
    return (n + 2 * padding - k) // stride + 1


def _check_hyper(stride, padding, where):
    stride = check_positive_int(stride, "stride", where)
    padding = check_positive_int(padding, "padding", where, minimum=0)
    return stride, padding


def _check_nonempty(a, name, where, layout):
    if 0 in a.shape:
        raise ValueError(
            f"{where}: {name} has shape {a.shape}; expected {layout} with every "
            "axis of length >= 1"
        )


def _check_images(x, name, where):
    check_ndim(x, 4, name, where, "(N, C, H, W)")
    _check_nonempty(x, name, where, "(N, C, H, W)")


def _check_window_fits(x_shape, kh, kw, padding, where, what="kernel"):
    height, width = x_shape[2] + 2 * padding, x_shape[3] + 2 * padding
    if kh > height or kw > width:
        raise ValueError(
            f"{where}: {what} (KH, KW) = ({kh}, {kw}) is larger than the padded input "
            f"(H + 2*padding, W + 2*padding) = ({height}, {width}) of x with shape "
            f"{tuple(x_shape)} and padding={padding}; expected KH <= {height} and KW <= {width}"
        )


def _output_hw(x_shape, kh, kw, stride, padding):
    return (
        (x_shape[2] + 2 * padding - kh) // stride + 1,
        (x_shape[3] + 2 * padding - kw) // stride + 1,
    )


def _pad(x, padding):
    """``x`` with ``padding`` zeros around the last two axes (``x`` itself if 0)."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    return padded


def _conv_inputs(x, w, b, stride, padding, where):
    """Validate and convert the arguments of a convolution forward pass."""
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    stride, padding = _check_hyper(stride, padding, where)
    _check_images(x, "x", where)
    check_ndim(w, 4, "w", where, "(F, C, KH, KW)")
    _check_nonempty(w, "w", where, "(F, C, KH, KW)")
    n_filters, channels, kh, kw = w.shape
    if channels != x.shape[1]:
        raise ValueError(
            f"{where}: x has shape {x.shape} with C={x.shape[1]} channels but w has "
            f"shape {w.shape} with C={channels}; expected w of shape "
            f"(F, {x.shape[1]}, KH, KW)"
        )
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (n_filters,):
            raise ValueError(
                f"{where}: b has shape {b.shape} but w has shape {w.shape}; expected b "
                f"of shape ({n_filters},) (one bias per filter) or None"
            )
    _check_window_fits(x.shape, kh, kw, padding, where)
    check_finite(x, "x", where)
    check_finite(w, "w", where)
    if b is not None:
        check_finite(b, "b", where)
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    if b is not None:
        b = b.astype(dtype, copy=False)
    return x, w, b, stride, padding


def _check_dout(dout, expected_shape, where):
    dout = as_float_array(dout, "dout")
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"{where}: dout has shape {dout.shape}; expected {tuple(expected_shape)}, "
            "the shape of the forward output"
        )
    check_finite(dout, "dout", where)
    return dout


def _im2col_inputs(x, kh, kw, stride, padding, where):
    """Validate and convert the arguments of :func:`im2col` and :func:`im2col_naive`."""
    x = as_float_array(x, "x")
    kh = check_positive_int(kh, "kh", where)
    kw = check_positive_int(kw, "kw", where)
    stride, padding = _check_hyper(stride, padding, where)
    _check_images(x, "x", where)
    _check_window_fits(x.shape, kh, kw, padding, where)
    return x, kh, kw, stride, padding


def _check_x_shape(x_shape, where):
    shape = tuple(x_shape)
    if len(shape) != 4 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValueError(
            f"{where}: x_shape must be four positive ints (N, C, H, W), got {x_shape!r}"
        )
    return tuple(int(s) for s in shape)


# --------------------------------------------------------------------------
# im2col and its adjoint col2im
# --------------------------------------------------------------------------

def im2col(x, kh, kw, stride=1, padding=0):
    r"""The patch matrix of ``x``: one row per output position, one column per kernel entry.

    With :math:`\tilde x` the input zero-padded by :math:`P` on each side of
    both image axes, and :math:`H', W'` the output sizes of
    :func:`conv_output_size`,

    .. math::
        \mathrm{cols}\bigl[(n H' + i) W' + j,\ (c\,K_H + p) K_W + q\bigr]
        = \tilde x[n,\ c,\ iS + p,\ jS + q]

    for :math:`0 \le n < N`, :math:`0 \le i < H'`, :math:`0 \le j < W'`,
    :math:`0 \le c < C`, :math:`0 \le p < K_H`, :math:`0 \le q < K_W`
    (chapter 7, equation :eq:`eq-conv-im2col`).

    **Layout.** Rows are the output positions :math:`(n, i, j)` in C order
    (:math:`j` fastest), so row ``r`` is the receptive field of output pixel
    ``(n, i, j) = np.unravel_index(r, (N, H', W'))``. Columns are the kernel
    entries :math:`(c, p, q)` in C order (:math:`q` fastest), the same order as
    ``w.reshape(F, C * KH * KW)``, so a convolution is
    ``im2col(x, KH, KW, S, P) @ w.reshape(F, -1).T`` (equation
    :eq:`eq-conv-as-matmul`). ``cols.reshape(N, H', W', C, KH, KW)`` recovers
    the six indices. In memory the result is the transpose of a C-contiguous
    ``(C*KH*KW, N*H'*W')`` array (Fortran order): each *column* is
    contiguous, which makes the copy and the matrix products fast. It is a
    fresh array, never a view of ``x``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        A batch of images.
    kh, kw : int
        The kernel height and width, each at most the padded image size.
    stride : int
        The step :math:`S` between windows, >= 1.
    padding : int
        The number :math:`P` of zero rows and columns added on each side, >= 0.

    Returns
    -------
    numpy.ndarray, shape (N * H' * W', C * KH * KW)
        The dtype of ``x`` (float32 stays float32).
    """
    x, kh, kw, stride, padding = _im2col_inputs(x, kh, kw, stride, padding, "im2col")
    n, c = x.shape[:2]
    h_out, w_out = _output_hw(x.shape, kh, kw, stride, padding)
    # windows[n, c, i, j, p, q] = x_padded[n, c, i*S + p, j*S + q], a view (no copy)
    windows = sliding_window_view(_pad(x, padding), (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    # The one copy: entry (c, p, q, n, i, j) of a C-contiguous array.
    cols_t = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    cols_t[...] = windows.transpose(1, 4, 5, 0, 2, 3)
    return cols_t.reshape(c * kh * kw, n * h_out * w_out).T


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    r"""The adjoint of :func:`im2col`: add every patch entry back to the pixel it came from.

    .. math::
        \operatorname{col2im}(Y)[n, c, h, v] =
        \sum_{\substack{i, j, p, q \,:\\ iS + p = h + P,\ jS + q = v + P}}
        Y\bigl[(n H' + i) W' + j,\ (c\,K_H + p) K_W + q\bigr]

    so that :math:`\langle \operatorname{im2col}(x), Y \rangle =
    \langle x, \operatorname{col2im}(Y) \rangle` for every ``x`` and ``Y``
    (chapter 7, equation :eq:`eq-conv-col2im`). A pixel covered by several
    overlapping windows receives the sum of all their entries; padding
    positions are dropped; a pixel that no window covers gets 0. ``col2im`` is
    *not* an inverse of :func:`im2col`: ``col2im(im2col(x)) == x`` only when
    every pixel lies in exactly one window, and even then
    ``im2col(col2im(Y)) == Y`` fails when there is padding (the padding
    entries of ``Y`` are dropped).

    It loops over the :math:`K_H K_W` kernel offsets :math:`(p, q)` and adds
    a whole strided slice at a time.

    Parameters
    ----------
    cols : array_like, shape (N * H' * W', C * KH * KW)
        In the layout documented in :func:`im2col`.
    x_shape : tuple of 4 ints
        ``(N, C, H, W)``, the shape of the image ``im2col`` was applied to.
    kh, kw, stride, padding : int
        As in :func:`im2col`.

    Returns
    -------
    numpy.ndarray, shape x_shape
        The dtype of ``cols``.
    """
    where = "col2im"
    cols = as_float_array(cols, "cols")
    x_shape = _check_x_shape(x_shape, where)
    kh = check_positive_int(kh, "kh", where)
    kw = check_positive_int(kw, "kw", where)
    stride, padding = _check_hyper(stride, padding, where)
    _check_window_fits(x_shape, kh, kw, padding, where)
    n, c, h, w = x_shape
    h_out, w_out = _output_hw(x_shape, kh, kw, stride, padding)
    expected = (n * h_out * w_out, c * kh * kw)
    if cols.shape != expected:
        raise ValueError(
            f"{where}: cols has shape {cols.shape}; expected {expected} = "
            f"(N*H_out*W_out, C*KH*KW) for x_shape={x_shape}, kernel ({kh}, {kw}), "
            f"stride={stride}, padding={padding}"
        )
    # Accumulate channel-major, (C, N, H + 2P, W + 2P): the order cols is stored in.
    x_padded = np.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    _add_patches(x_padded, cols.T, kh, kw, stride)
    x_padded = x_padded[:, :, padding:padding + h, padding:padding + w]
    return np.ascontiguousarray(x_padded.transpose(1, 0, 2, 3))


def _add_patches(x_padded, cols_t, kh, kw, stride):
    """The loop of :func:`col2im`: add ``cols_t``, the transpose ``(C*KH*KW, n*H'*W')``
    of a patch matrix, into ``x_padded``, a padded image batch stored channel-major
    ``(C, n, H + 2P, W + 2P)``, in place."""
    c, n = x_padded.shape[:2]
    h_out = (x_padded.shape[2] - kh) // stride + 1
    w_out = (x_padded.shape[3] - kw) // stride + 1
    # cols6[c, p, q, n, i, j]: a view when cols_t is C-contiguous, as im2col makes it
    cols6 = cols_t.reshape(c, kh, kw, n, h_out, w_out)
    h_span, w_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    for p in range(kh):
        for q in range(kw):
            # every window's entry (p, q) came from x_padded[:, :, i*S + p, j*S + q]
            x_padded[:, :, p:p + h_span:stride, q:q + w_span:stride] += cols6[:, p, q]


def im2col_naive(x, kh, kw, stride=1, padding=0):
    r"""The patch matrix of :func:`im2col`, filled one entry at a time.

    .. math::
        \mathrm{cols}\bigl[(n H' + i) W' + j,\ (c\,K_H + p) K_W + q\bigr]
        = \tilde x[n,\ c,\ iS + p,\ jS + q]

    A slow reference, written straight from chapter 7, equation
    :eq:`eq-conv-im2col`. Arguments and result as in :func:`im2col` (the
    result is C-ordered here).
    """
    x, kh, kw, stride, padding = _im2col_inputs(x, kh, kw, stride, padding, "im2col_naive")
    n_images, channels = x.shape[:2]
    h_out, w_out = _output_hw(x.shape, kh, kw, stride, padding)
    x_padded = _pad(x, padding)
    cols = np.zeros((n_images * h_out * w_out, channels * kh * kw), dtype=x.dtype)
    for n in range(n_images):
        for i in range(h_out):
            for j in range(w_out):
                row = (n * h_out + i) * w_out + j
                for c in range(channels):
                    for p in range(kh):
                        for q in range(kw):
                            col = (c * kh + p) * kw + q
                            cols[row, col] = x_padded[n, c, i * stride + p, j * stride + q]
    return cols


# --------------------------------------------------------------------------
# The convolution layer
# --------------------------------------------------------------------------

def conv2d_forward(x, w, b, stride=1, padding=0):
    r"""A 2-D convolution layer (cross-correlation, no kernel flip), computed by matrix products.

    .. math::
        \mathrm{out}[n, f, i, j] = b_f + \sum_{c=0}^{C-1} \sum_{p=0}^{K_H-1}
        \sum_{q=0}^{K_W-1} w[f, c, p, q]\;\tilde x[n, c, iS + p, jS + q]

    where :math:`\tilde x` is ``x`` zero-padded by :math:`P` (chapter 7,
    equation :eq:`eq-conv-forward`). With :math:`X_{\mathrm{col}} =`
    ``im2col(x, KH, KW, S, P)`` and :math:`W_{\mathrm{mat}} =`
    ``w.reshape(F, C*KH*KW)`` the sum is the matrix product (equation
    :eq:`eq-conv-as-matmul`)

    .. math::
        \mathrm{Out}_{\mathrm{mat}} = X_{\mathrm{col}} W_{\mathrm{mat}}^\top + \mathbf 1\, b^\top
        \quad\in \mathbb R^{(N H' W') \times F},

    reshaped to ``(N, F, H', W')``. :func:`conv2d_forward_naive` computes the
    first sum with loops.

    **How the code computes it.** For ``stride > 1`` exactly as written: one
    :func:`im2col` of the whole batch and one matrix product. For
    ``stride == 1`` it goes a chunk of images at a time over the padded image
    flattened row by row: with :math:`W_p = W + 2P` columns, pixel
    :math:`(h, v)` of channel :math:`c` is entry :math:`h W_p + v` of row
    :math:`c`, and output pixel :math:`(i, j)` gets the index
    :math:`t = i W_p + j` on the same grid. Window entry :math:`(p, q)` of
    every output is then the same shift :math:`p W_p + q`,

    .. math::
        \mathrm{out}[n, f, i, j] = b_f + \sum_{p, q, c} w[f, c, p, q]\;
        \tilde x_n[c,\ t + p W_p + q], \qquad t = i W_p + j,

    so the patch matrix of image :math:`n`,
    :math:`X_n[(p, q, c), t] = \tilde x_n[c,\ t + p W_p + q]` for
    :math:`0 \le t < H' W_p`, is :math:`K_H K_W` contiguous slices of the
    flattened image, copied at memory speed, and

    .. math::
        \mathrm{out}_n = \widetilde W X_n + b\, \mathbf 1^\top
        = \begin{bmatrix} \widetilde W & b \end{bmatrix}
          \begin{bmatrix} X_n \\ \mathbf 1^\top \end{bmatrix},
        \qquad \widetilde W[f, (p, q, c)] = w[f, c, p, q],

    the same sum as :eq:`eq-conv-as-matmul` with its terms in another order,
    computed as the one product on the right: the bias is the weight of a
    constant input 1, a row of ones under the patches. The columns with
    :math:`j \ge W'` are windows that wrap past the end of a row: they are
    computed and dropped, a fraction :math:`(K_W - 1)/W_p` of the work. The
    buffers hold a chunk of as many images as fit in 1 MiB of patches, at
    least one (one image for 16 channels of 32 x 32 and a 3 x 3 kernel, 1.3
    MB; a batch of 32 of chapter 14's 8 x 8 digits, 0.2 MB); they are
    allocated once per call and reused for every chunk, so they stay in the
    CPU cache, where a patch matrix of the whole batch would be tens of
    megabytes of fresh memory on every call (37.7 MB for 32 images of 16 x 32
    x 32), and touching fresh memory costs page faults on top of the copy.
    Within a chunk, ``numpy.matmul`` loops over the images in C, one product
    per image; the products are small, so the BLAS library runs each on one
    core.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        A batch of images.
    w : array_like, shape (F, C, KH, KW)
        F filters, each with the same number of channels C as ``x``.
    b : array_like, shape (F,), or None
        One bias per filter; ``None`` for no bias.
    stride : int
        :math:`S \ge 1`, on both axes.
    padding : int
        :math:`P \ge 0` zeros on each side of both axes.

    Returns
    -------
    out : numpy.ndarray, shape (N, F, H', W')
        :math:`H' = \lfloor (H + 2P - K_H)/S \rfloor + 1`, likewise :math:`W'`
        (equation :eq:`eq-conv-output-size`). The common dtype of ``x``, ``w``
        and ``b`` (float32 stays float32).
    cache : dict
        ``x``, ``w``, ``b``, ``stride`` and ``padding`` (converted to that
        dtype), for :func:`conv2d_backward`. No patch matrix is kept: the
        backward pass rebuilds what it needs from ``x``.

    Raises
    ------
    ValueError
        If the shapes do not fit (naming them), if ``x``, ``w`` or ``b`` has
        an ``inf`` or ``nan``, or if the output overflows the floating type
        (finite inputs such as ``1e200`` in both ``x`` and ``w``).
    """
    where = "conv2d_forward"
    x, w, b, stride, padding = _conv_inputs(x, w, b, stride, padding, where)
    with np.errstate(over="ignore", invalid="ignore"):   # overflow: checked below
        if stride == 1:
            out = _conv2d_forward_stride1(x, w, b, padding)
        else:
            out = _conv2d_forward_im2col(x, w, b, stride, padding)
    check_no_overflow([("the output", out)], [("x", x), ("w", w), ("b", b)], where)
    cache = {"x": x, "w": w, "b": b, "stride": stride, "padding": padding}
    return out, cache


def conv2d_backward(dout, cache):
    r"""The gradients of a convolution layer, computed by matrix products.

    With :math:`G_{\mathrm{mat}}` the upstream gradient ``dout`` laid out like
    :math:`\mathrm{Out}_{\mathrm{mat}}` in :func:`conv2d_forward`
    (:math:`N H' W' \times F`),

    .. math::
        \frac{\partial L}{\partial b_f} = \sum_{n, i, j} \mathrm{dout}[n, f, i, j],
        \qquad
        \frac{\partial L}{\partial W_{\mathrm{mat}}} = G_{\mathrm{mat}}^\top X_{\mathrm{col}},
        \qquad
        \frac{\partial L}{\partial x} = \operatorname{col2im}\bigl(G_{\mathrm{mat}} W_{\mathrm{mat}}\bigr),

    that is, entry by entry,

    .. math::
        \frac{\partial L}{\partial w[f, c, p, q]} =
        \sum_{n, i, j} \mathrm{dout}[n, f, i, j]\; \tilde x[n, c, iS + p, jS + q],
        \qquad
        \frac{\partial L}{\partial \tilde x[n, c, h, v]} =
        \sum_{\substack{f, i, j, p, q \,:\\ iS + p = h,\ jS + q = v}}
        \mathrm{dout}[n, f, i, j]\; w[f, c, p, q],

    and :math:`\partial L / \partial x` drops the padding border of
    :math:`\partial L / \partial \tilde x`. Derived in chapter 7, equations
    :eq:`eq-conv-grad-b`, :eq:`eq-conv-grad-w` and :eq:`eq-conv-grad-x`.

    **How the code computes it.** For ``stride > 1`` exactly as written, with
    the patch matrix rebuilt by :func:`im2col`. For ``stride == 1`` it goes
    a chunk of images at a time (as in :func:`conv2d_forward`) on the
    flattened padded grid of
    :func:`conv2d_forward` (index :math:`t = i W_p + j`) and regroups the two
    sums so that the kernel column offset :math:`q` is applied to the
    gradient and the row offset :math:`p` to the input or the result. With

    .. math::
        G_n[(q, f), t] = \mathrm{dout}[n, f, i, j - q], \qquad
        X_n[(p, c), t] = \tilde x_n[c,\ t + p W_p], \qquad
        \widehat W[(p, c), (q, f)] = w[f, c, p, q],

    (``dout`` moved right by :math:`q` columns, zero where :math:`j - q` is
    outside :math:`[0, W')`; rows :math:`p \dots p + H' - 1` of the padded
    image), the sums above are

    .. math::
        \frac{\partial L}{\partial w[f, c, p, q]} =
        \sum_n \bigl(G_n X_n^\top\bigr)[(q, f), (p, c)],
        \qquad
        \frac{\partial L}{\partial b_f} = \sum_n \bigl(G_n \mathbf 1\bigr)[(0, f)],

    .. math::
        \frac{\partial L}{\partial \tilde x_n[c, h, v]} =
        \sum_p Y_n[(p, c),\ (h - p) W_p + v],
        \qquad Y_n = \widehat W G_n,

    where a column index of :math:`Y_n` outside :math:`[0, H' W_p)` contributes
    nothing. The first two come from one product,
    :math:`G_n \,[X_n;\ \mathbf 1^\top]^\top`, the ones row of the forward
    pass again. So each image costs :math:`K_W` shifted copies of its gradient,
    :math:`K_H` of its input, two matrix products and :math:`K_H - 1`
    additions of whole images, instead of a :math:`K_H K_W`-row patch matrix
    and col2im's :math:`K_H K_W` scattered additions.

    Parameters
    ----------
    dout : array_like, shape (N, F, H', W')
        :math:`\partial L / \partial\,\mathrm{out}`.
    cache : dict
        From :func:`conv2d_forward` or :func:`conv2d_forward_naive` (the same
        keys).

    Returns
    -------
    dx : numpy.ndarray, shape (N, C, H, W)
    dw : numpy.ndarray, shape (F, C, KH, KW)
    db : numpy.ndarray, shape (F,), or None
        ``None`` when the forward pass had ``b=None``. All three have the common
        dtype of ``dout`` and ``x``.

    Raises
    ------
    ValueError
        If ``dout`` has the wrong shape or an ``inf`` or ``nan``, or if a
        gradient overflows the floating type.
    """
    where = "conv2d_backward"
    x, w, b = cache["x"], cache["w"], cache["b"]
    stride, padding = cache["stride"], cache["padding"]
    n_filters, _, kh, kw = w.shape
    h_out, w_out = _output_hw(x.shape, kh, kw, stride, padding)
    dout = _check_dout(dout, (x.shape[0], n_filters, h_out, w_out), where)
    dtype = np.result_type(dout, x)
    with np.errstate(over="ignore", invalid="ignore"):   # overflow: checked below
        if stride == 1:
            dx, dw, db = _conv2d_backward_stride1(dout, x, w, padding, b is not None, dtype)
        else:
            dx, dw = _conv2d_backward_im2col(dout, x, w, stride, padding)
            db = None if b is None else dout.sum(axis=(0, 2, 3), dtype=dtype)
    check_no_overflow([("dx", dx), ("dw", dw), ("db", db)],
                       [("dout", dout), ("x", x), ("w", w)], where)
    return dx, dw, db


# ----------------------------------------------------- stride > 1: im2col


def _conv2d_forward_im2col(x, w, b, stride, padding):
    """The forward pass as written in :func:`conv2d_forward`: one patch matrix,
    one product (computed as its transpose, which reads the patch matrix in its
    memory order)."""
    n_images = x.shape[0]
    n_filters, _, kh, kw = w.shape
    h_out, w_out = _output_hw(x.shape, kh, kw, stride, padding)
    cols = im2col(x, kh, kw, stride, padding)             # X_col, (N*H'*W', C*KH*KW)
    out_t = w.reshape(n_filters, -1) @ cols.T              # Out_mat^T, (F, N*H'*W')
    out_t = out_t.reshape(n_filters, n_images, h_out, w_out).transpose(1, 0, 2, 3)
    out = np.empty((n_images, n_filters, h_out, w_out), dtype=x.dtype)
    if b is None:
        out[...] = out_t
    else:
        np.add(out_t, b[:, None, None], out=out)
    return out


def _conv2d_backward_im2col(dout, x, w, stride, padding):
    """``dx`` and ``dw`` as written in :func:`conv2d_backward`: two products and a col2im."""
    n_filters, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, padding)              # X_col, rebuilt
    dout_t = dout.transpose(1, 0, 2, 3).reshape(n_filters, -1)   # G_mat^T, (F, N*H'*W')
    dw = (dout_t @ cols).reshape(w.shape)                  # G^T X_col
    dcols_t = w.reshape(n_filters, -1).T @ dout_t          # (G W_mat)^T
    dx = col2im(dcols_t.T, x.shape, kh, kw, stride, padding)
    return dx, dw


# --------------------------------------- stride 1: the flattened padded grid
#
# Flatten a padded image (Hp, Wp) = (H + 2P, W + 2P) row by row: pixel (h, v)
# is entry h*Wp + v. Give output pixel (i, j) the index t = i*Wp + j on the same
# grid, for t < H'*Wp. Its window entry (p, q) is pixel (i + p, j + q), entry
# t + p*Wp + q: one shift for every output, so "entry (p, q) of every window" is
# a contiguous slice of the flattened image. The grid has Wp columns per row
# but only W' outputs: the other KW - 1 positions of each row are windows that
# wrap around the row end, computed and thrown away.

_Grid = namedtuple("_Grid", "hp wp ho wo length")


def _grid(x_shape, kh, kw, padding):
    """Sizes of the flattened padded grid for stride 1: the padded image ``hp x wp``,
    the output ``ho x wo``, and ``length = ho * wp`` output positions on the grid."""
    hp, wp = x_shape[2] + 2 * padding, x_shape[3] + 2 * padding
    ho, wo = hp - kh + 1, wp - kw + 1
    return _Grid(hp, wp, ho, wo, ho * wp)


#: The stride-1 route goes through the batch in chunks of images whose patch
#: matrices take at most this many bytes together (one image when a single
#: patch matrix is larger), so that its buffers stay in the CPU cache.
_CHUNK_BYTES = 1024 * 1024


def _images_per_chunk(n_images, bytes_per_image):
    """How many images the stride-1 route treats at once: as many as fit in
    ``_CHUNK_BYTES``, at least one, at most the batch."""
    return max(1, min(n_images, _CHUNK_BYTES // max(1, bytes_per_image)))


def _padded_image_buffer(chunk, channels, grid, padding, extra, dtype):
    """A zero buffer ``(chunk, channels, hp * wp + extra)`` for a chunk of flattened
    padded images, and the view of its interior, where each chunk of the batch
    is copied in turn. The border is never written, so it stays zero."""
    flat = np.zeros((chunk, channels, grid.hp * grid.wp + extra), dtype=dtype)
    image = flat[:, :, :grid.hp * grid.wp].reshape(chunk, channels, grid.hp, grid.wp)
    h, w = grid.hp - 2 * padding, grid.wp - 2 * padding
    return flat, image[:, :, padding:padding + h, padding:padding + w]


def _conv2d_forward_stride1(x, w, b, padding):
    """The output of :func:`conv2d_forward` for stride 1, a chunk of images at a time.

    ``out_n = [W~, b] [X_n; 1]`` with ``X_n[(p, q, c), t] = x~_n[c, t + p*Wp + q]``."""
    n_images, channels = x.shape[:2]
    n_filters, _, kh, kw = w.shape
    grid = _grid(x.shape, kh, kw, padding)
    n_rows = kh * kw * channels
    # W~[f, (p, q, c)] = w[f, c, p, q]: the row order of the patch matrix below
    kernels = w.transpose(0, 2, 3, 1).reshape(n_filters, n_rows)
    # The bias is the weight of a constant input 1: one more column of kernels
    # and a row of ones under the patches, so the product adds it for free.
    ones_rows = 0 if b is None else 1
    if b is not None:
        kernels = np.concatenate([kernels, b[:, None]], axis=1)
    chunk = _images_per_chunk(n_images, (n_rows + ones_rows) * grid.length * x.dtype.itemsize)
    patch_matrix = np.empty((chunk, n_rows + ones_rows, grid.length), dtype=x.dtype)
    patch_matrix[:, n_rows:] = 1.0
    patches = patch_matrix[:, :n_rows].reshape(chunk, kh, kw, channels, grid.length)
    # kw - 1 extra zeros per channel, so that the slice of the last offset fits
    padded, interior = _padded_image_buffer(chunk, channels, grid, padding, kw - 1, x.dtype)
    out_grid = np.empty((chunk, n_filters, grid.ho, grid.wp), dtype=x.dtype)
    out = np.empty((n_images, n_filters, grid.ho, grid.wo), dtype=x.dtype)
    for start in range(0, n_images, chunk):
        k = min(chunk, n_images - start)             # images in this chunk
        interior[:k] = x[start:start + k]
        for p in range(kh):
            for q in range(kw):
                shift = p * grid.wp + q
                # patches[n, p, q, c, t] = x~_n[c, t + p*Wp + q]: entry (p, q) of every window
                patches[:k, p, q] = padded[:k, :, shift:shift + grid.length]
        # one product per image, looped over by numpy.matmul
        np.matmul(kernels, patch_matrix[:k], out=out_grid[:k].reshape(k, n_filters, grid.length))
        out[start:start + k] = out_grid[:k, :, :, :grid.wo]   # drop the wrapped-around columns
    return out


def _conv2d_backward_stride1(dout, x, w, padding, with_bias, dtype):
    """``dx``, ``dw`` and ``db`` (``None`` unless ``with_bias``) of
    :func:`conv2d_backward` for stride 1, a chunk of images at a time.

    ``dw[f, c, p, q] = sum_n (G_n X_n^T)[(q, f), (p, c)]``,
    ``db[f] = sum_n (G_n 1)[(0, f)]`` (both from one product ``G_n [X_n; 1]^T``)
    and ``dx~_n[c, h, v] = sum_p Y_n[(p, c), (h - p)*Wp + v]`` with ``Y_n = W^ G_n``."""
    n_images, channels, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    grid = _grid(x.shape, kh, kw, padding)
    size = grid.hp * grid.wp                       # one flattened padded image
    # W^[(p, c), (q, f)] = w[f, c, p, q]
    kernels = w.transpose(2, 1, 3, 0).reshape(kh * channels, kw * n_filters).astype(dtype)
    n_x_rows = kh * channels + (1 if with_bias else 0)
    chunk = _images_per_chunk(n_images, max(n_x_rows, kw * n_filters) * grid.length * dtype.itemsize)
    padded, interior = _padded_image_buffer(chunk, channels, grid, padding, 0, dtype)
    # X_n, with a row of ones under it when there is a bias: as in the forward
    # pass, b is the weight of a constant input 1, so G_n times that row is the
    # sum of dout[n, f] over the image, the bias gradient of image n.
    x_mat = np.empty((chunk, n_x_rows, grid.length), dtype=dtype)
    x_mat[:, kh * channels:] = 1.0
    x_rows = x_mat[:, :kh * channels].reshape(chunk, kh, channels, grid.length)
    g_cols = np.zeros((chunk, kw, n_filters, grid.ho, grid.wp), dtype=dtype)      # G_n
    g_mat = g_cols.reshape(chunk, kw * n_filters, grid.length)
    # Y_n, written into the first ho rows of a zero (hp, wp) grid per row (p, c)
    y = np.zeros((chunk, kh, channels, grid.hp, grid.wp), dtype=dtype)
    y_rows = y.reshape(chunk, kh * channels, size)[:, :, :grid.length]
    # dx~_n, flattened, with room for the last shifted block to run past the end
    dx_flat = np.zeros((chunk, channels * size + (kh - 1) * grid.wp), dtype=dtype)
    dx_padded = dx_flat[:, :channels * size].reshape(chunk, channels, grid.hp, grid.wp)
    grads_sum = np.zeros((kw * n_filters, n_x_rows), dtype=dtype)
    grads_images = np.empty((chunk, kw * n_filters, n_x_rows), dtype=dtype)
    dx = np.empty(x.shape, dtype=dtype)
    for start in range(0, n_images, chunk):
        k = min(chunk, n_images - start)             # images in this chunk
        interior[:k] = x[start:start + k]
        for p in range(kh):
            # x_rows[n, p, c, t] = x~_n[c, t + p*Wp]: rows p .. p + ho - 1 of the padded image
            x_rows[:k, p] = padded[:k, :, p * grid.wp:p * grid.wp + grid.length]
        _fill_column_shifted(g_cols[:k], dout[start:start + k])
        np.matmul(g_mat[:k], x_mat[:k].transpose(0, 2, 1), out=grads_images[:k])
        grads_sum += grads_images[:k].sum(axis=0)         # sum_n G_n [X_n; 1]^T
        np.matmul(kernels, g_mat[:k], out=y_rows[:k])      # Y_n = W^ G_n
        _add_row_shifted(dx_flat[:k], y[:k], grid.wp)      # dx~_n
        dx[start:start + k] = dx_padded[:k, :, padding:padding + height, padding:padding + width]
    # grads_sum[(q, f), (p, c)] -> dw[f, c, p, q]
    dw = grads_sum[:, :kh * channels].reshape(kw, n_filters, kh, channels).transpose(1, 3, 2, 0)
    db = grads_sum[:n_filters, -1].copy() if with_bias else None   # any q: take q = 0
    return dx, np.ascontiguousarray(dw), db


def _fill_column_shifted(g_cols, images):
    """``g_cols[n, q]`` (``(F, ho, wp)``) becomes ``images[n]`` (``(F, ho, wo)``) moved
    right by ``q`` columns, zeros elsewhere: ``g_cols[n, q, f, i, j + q] = images[n, f, i, j]``.

    ``g_cols[:, 0]`` gets the images in its first ``wo`` columns (the last
    ``wp - wo`` stay zero); ``g_cols[:, q]`` is then ``g_cols[:, 0]`` moved ``q``
    entries along the flattened grid, one long contiguous copy per image. The
    ``q <= wp - wo`` zeros at the end of each row move into the first ``q``
    columns of the next row."""
    wo = images.shape[-1]
    g_cols[:, 0, :, :, :wo] = images
    flat = g_cols.reshape(g_cols.shape[0], g_cols.shape[1], -1)
    for q in range(1, g_cols.shape[1]):
        flat[:, q, q:] = flat[:, 0, :-q]          # flat[:, q, :q] is never written: zeros


def _add_row_shifted(dx_flat, y, wp):
    """``dx_flat[n]`` (flattened ``(C, hp, wp)``, plus spare room) becomes
    ``sum_p y[n, p]`` with ``y[n, p]`` moved down by ``p`` rows:
    ``dx[n, c, i + p, v] += y[n, p, c, i, v]``.

    Each ``y[n, p]`` is added as one flat block starting ``p * wp`` entries
    later. Only its first ``ho = hp - kh + 1`` rows per channel are nonzero and
    ``ho + p <= hp``, so what the shift pushes past the end of a channel (into
    the next channel, or into the spare room after the last) is zeros: one long
    contiguous addition per ``p`` instead of one per channel."""
    n = y.shape[0]
    block = y[0, 0].size
    dx_flat[:, :block] = y[:, 0].reshape(n, -1)
    for p in range(1, y.shape[1]):
        dx_flat[:, p * wp:p * wp + block] += y[:, p].reshape(n, -1)


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    r"""A 2-D convolution with a loop over every output element: the slow reference.

    .. math::
        \mathrm{out}[n, f, i, j] = b_f + \sum_{c, p, q} w[f, c, p, q]\;
        \tilde x[n, c, iS + p, jS + q]

    Chapter 7, equation :eq:`eq-conv-forward`; each output is the sum of the
    elementwise product of filter ``f`` with the window of the padded input it
    covers. Arguments and results as in :func:`conv2d_forward` (the same
    cache keys).
    """
    where = "conv2d_forward_naive"
    x, w, b, stride, padding = _conv_inputs(x, w, b, stride, padding, where)
    n_images = x.shape[0]
    n_filters, _, kh, kw = w.shape
    h_out, w_out = _output_hw(x.shape, kh, kw, stride, padding)
    x_padded = _pad(x, padding)
    out = np.zeros((n_images, n_filters, h_out, w_out), dtype=x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):   # overflow: checked below
        for n in range(n_images):
            for f in range(n_filters):
                for i in range(h_out):
                    for j in range(w_out):
                        window = x_padded[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                        out[n, f, i, j] = np.sum(window * w[f]) + (0.0 if b is None else b[f])
    check_no_overflow([("the output", out)], [("x", x), ("w", w), ("b", b)], where)
    cache = {"x": x, "w": w, "b": b, "stride": stride, "padding": padding}
    return out, cache


def conv2d_backward_naive(dout, cache):
    r"""The gradients of a convolution with a loop over every output element: the slow reference.

    .. math::
        \frac{\partial L}{\partial b_f} \mathrel{+}= \mathrm{dout}[n, f, i, j],
        \qquad
        \frac{\partial L}{\partial w[f]} \mathrel{+}= \mathrm{dout}[n, f, i, j]\;
        \tilde x[n, :, iS : iS + K_H, jS : jS + K_W],
        \qquad
        \frac{\partial L}{\partial \tilde x[n, :, iS : iS + K_H, jS : jS + K_W]}
        \mathrel{+}= \mathrm{dout}[n, f, i, j]\; w[f]

    for every :math:`(n, f, i, j)`: each output sends its gradient back along the
    products it was the sum of (chapter 7, equations :eq:`eq-conv-grad-b`,
    :eq:`eq-conv-grad-w` and :eq:`eq-conv-grad-x`), then the padding border is
    dropped. Arguments and results as in :func:`conv2d_backward`.
    """
    x, w, b = cache["x"], cache["w"], cache["b"]
    stride, padding = cache["stride"], cache["padding"]
    n_images = x.shape[0]
    n_filters, _, kh, kw = w.shape
    h_out, w_out = _output_hw(x.shape, kh, kw, stride, padding)
    where = "conv2d_backward_naive"
    dout = _check_dout(dout, (n_images, n_filters, h_out, w_out), where)
    dtype = np.result_type(dout, x)
    x_padded = _pad(x, padding)
    dx_padded = np.zeros(x_padded.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = None if b is None else np.zeros(b.shape, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):   # overflow: checked below
        for n in range(n_images):
            for f in range(n_filters):
                for i in range(h_out):
                    for j in range(w_out):
                        rows = slice(i * stride, i * stride + kh)
                        cols = slice(j * stride, j * stride + kw)
                        g = dout[n, f, i, j]
                        dx_padded[n, :, rows, cols] += g * w[f]
                        dw[f] += g * x_padded[n, :, rows, cols]
                        if db is not None:
                            db[f] += g
    h, w_in = x.shape[2:]
    dx = dx_padded[:, :, padding:padding + h, padding:padding + w_in].copy()
    check_no_overflow([("dx", dx), ("dw", dw), ("db", db)],
                       [("dout", dout), ("x", x), ("w", w)], where)
    return dx, dw, db


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------

def _pool_inputs(x, size, stride, where):
    x = as_float_array(x, "x")
    size = check_positive_int(size, "size", where)
    stride = check_positive_int(stride, "stride", where)
    _check_images(x, "x", where)
    _check_window_fits(x.shape, size, size, 0, where, what="pooling window")
    return x, size, stride


def maxpool2d_forward(x, size=2, stride=2):
    r"""Max pooling: the largest value in each ``size`` x ``size`` window, per channel.

    .. math::
        \mathrm{out}[n, c, i, j] = \max_{0 \le p, q < K}\; x[n, c, iS + p, jS + q]

    with window :math:`K =` ``size`` and stride :math:`S`, no padding; the
    output is :math:`H' \times W'` with
    :math:`H' = \lfloor (H - K)/S \rfloor + 1` (chapter 7, equations
    :eq:`eq-conv-maxpool` and :eq:`eq-conv-output-size`). The cache records
    where each maximum sits; when several entries of a window tie for the
    maximum, the **first** in row-major order (smallest :math:`p`, then smallest
    :math:`q`) is the one recorded, as ``numpy.argmax`` does.

    The code loops over the :math:`K^2` window offsets :math:`(p, q)` in
    row-major order, each a strided view of the whole batch: where entry
    :math:`(p, q)` is strictly larger than the running maximum, it replaces
    it and its offset :math:`pK + q` is recorded, so the first maximum stays
    on ties. (A strided view per offset is a few whole-array operations; an
    argmax over a last axis of length :math:`K^2` would do a little work per
    window, many times.)

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
    size : int
        The window side :math:`K \ge 1`, at most ``H`` and ``W``.
    stride : int
        :math:`S \ge 1`; windows overlap when ``stride < size``.

    Returns
    -------
    out : numpy.ndarray, shape (N, C, H', W')
        The dtype of ``x``.
    cache : dict
        ``x``, ``size``, ``stride`` and ``argmax``, the ``(N, C, H', W')`` index
        :math:`pK + q` of the maximum within each window, for
        :func:`maxpool2d_backward`.
    """
    x, size, stride = _pool_inputs(x, size, stride, "maxpool2d_forward")
    h_out, w_out = _output_hw(x.shape, size, size, stride, 0)
    h_span, w_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    out = x[:, :, 0:h_span:stride, 0:w_span:stride]           # offset (0, 0) of every window
    argmax = np.zeros(out.shape, dtype=np.intp)
    for p in range(size):
        for q in range(size):
            if p == 0 and q == 0:
                continue
            entry = x[:, :, p:p + h_span:stride, q:q + w_span:stride]   # offset (p, q)
            larger = entry > out                                   # strict: first maximum wins
            out = np.where(larger, entry, out)
            argmax = np.where(larger, p * size + q, argmax)
    if size == 1:
        out = out.copy()                                       # a fresh array, not a view of x
    cache = {"x": x, "size": size, "stride": stride, "argmax": argmax}
    return out, cache


def maxpool2d_backward(dout, cache):
    r"""The gradient of max pooling: each output's gradient goes to its window's argmax.

    .. math::
        \frac{\partial L}{\partial x[n, c, h, v]} =
        \sum_{\substack{i, j \,:\\ (h, v) = (iS + p^*_{ij},\ jS + q^*_{ij})}}
        \mathrm{dout}[n, c, i, j]

    where :math:`(p^*_{ij}, q^*_{ij})` is the position of the maximum in window
    :math:`(i, j)` (the first one on ties, see :func:`maxpool2d_forward`); every
    other input gets 0. Overlapping windows that share an argmax add their
    gradients. Derived in chapter 7, equation :eq:`eq-conv-maxpool-grad`. The
    code loops over the :math:`K^2` window offsets and adds a strided slice at a
    time, like :func:`col2im`; when the windows do not overlap
    (``stride >= size``) each pixel is in at most one window, and the slice is
    written instead of added.

    Parameters
    ----------
    dout : array_like, shape (N, C, H', W')
    cache : dict
        From :func:`maxpool2d_forward` or :func:`maxpool2d_forward_naive`.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
        :math:`\partial L / \partial x`.
    """
    where = "maxpool2d_backward"
    x, size, stride, argmax = cache["x"], cache["size"], cache["stride"], cache["argmax"]
    dout = _check_dout(dout, argmax.shape, where)
    h_out, w_out = argmax.shape[2:]
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    h_span, w_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    if stride >= size:                  # no overlap: every pixel gets one gradient or none
        for p in range(size):
            for q in range(size):
                routed = argmax == p * size + q
                np.multiply(dout, routed, out=dx[:, :, p:p + h_span:stride, q:q + w_span:stride])
        return dx
    with np.errstate(over="ignore"):   # overlapping windows add up: checked below
        for p in range(size):
            for q in range(size):
                routed = np.where(argmax == p * size + q, dout, 0.0)
                dx[:, :, p:p + h_span:stride, q:q + w_span:stride] += routed
    check_no_overflow([("dx", dx)], [("dout", dout)], where)
    return dx


def maxpool2d_forward_naive(x, size=2, stride=2):
    r"""Max pooling with a loop over every output element: the slow reference.

    .. math:: \mathrm{out}[n, c, i, j] = \max_{0 \le p, q < K}\; x[n, c, iS + p, jS + q]

    Chapter 7, equation :eq:`eq-conv-maxpool`. Ties go to the first maximum in
    row-major order, as in :func:`maxpool2d_forward`, whose arguments and
    results (cache included) this shares. Both compare with a strict ``>``, so
    they agree on ``nan`` too: a ``nan`` at a window's first entry is its
    output, a ``nan`` after it is skipped.
    """
    x, size, stride = _pool_inputs(x, size, stride, "maxpool2d_forward_naive")
    n_images, channels = x.shape[:2]
    h_out, w_out = _output_hw(x.shape, size, size, stride, 0)
    out = np.zeros((n_images, channels, h_out, w_out), dtype=x.dtype)
    argmax = np.zeros((n_images, channels, h_out, w_out), dtype=np.intp)
    for n in range(n_images):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    best = None
                    for p in range(size):
                        for q in range(size):
                            value = x[n, c, i * stride + p, j * stride + q]
                            if best is None or value > best:  # strict: first max wins
                                best, argmax[n, c, i, j] = value, p * size + q
                    out[n, c, i, j] = best
    cache = {"x": x, "size": size, "stride": stride, "argmax": argmax}
    return out, cache


def maxpool2d_backward_naive(dout, cache):
    r"""The gradient of max pooling with a loop over every output element: the slow reference.

    .. math::
        \frac{\partial L}{\partial x[n, c, iS + p^*, jS + q^*]} \mathrel{+}= \mathrm{dout}[n, c, i, j]

    for every :math:`(n, c, i, j)`, with :math:`(p^*, q^*)` the recorded argmax
    of window :math:`(i, j)` (chapter 7, equation :eq:`eq-conv-maxpool-grad`).
    Arguments and result as in :func:`maxpool2d_backward`.
    """
    x, size, stride, argmax = cache["x"], cache["size"], cache["stride"], cache["argmax"]
    where = "maxpool2d_backward_naive"
    dout = _check_dout(dout, argmax.shape, where)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    n_images, channels, h_out, w_out = argmax.shape
    with np.errstate(over="ignore"):   # overlapping windows add up: checked below
        for n in range(n_images):
            for c in range(channels):
                for i in range(h_out):
                    for j in range(w_out):
                        p, q = divmod(int(argmax[n, c, i, j]), size)
                        dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    check_no_overflow([("dx", dx)], [("dout", dout)], where)
    return dx


# --------------------------------------------------------------------------
# Average pooling and global average pooling
# --------------------------------------------------------------------------

def _clip_rounding_overflow(out, where):
    """``out`` with entries that rounded past the largest float set back to it.

    A mean of finite numbers lies between their minimum and maximum, so it is
    finite; the code computes it as a sum of terms already divided by the
    window size, which cannot overflow except by the last rounding, when
    nearly every entry is within a few ulps of the largest float. Those
    entries are set to the largest float of the sign, the correctly rounded
    answer up to an ulp."""
    if not np.isfinite(out).all():
        big = np.finfo(out.dtype).max
        if np.isnan(out).any():  # pragma: no cover - finite terms of one sign per entry give no nan
            raise ValueError(f"{where}: the average is not a number")
        np.clip(out, -big, big, out=out)
    return out


def avgpool2d_forward(x, size=2, stride=2):
    r"""Average pooling: the mean of each ``size`` x ``size`` window, per channel.

    .. math::
        \mathrm{out}[n, c, i, j] = \frac{1}{K^2} \sum_{p=0}^{K-1} \sum_{q=0}^{K-1}
        x[n, c, iS + p, jS + q]

    with window :math:`K =` ``size`` and stride :math:`S`, no padding, and the
    output size :math:`H' = \lfloor (H - K)/S \rfloor + 1` of max pooling
    (chapter 7, equations :eq:`eq-conv-avgpool` and
    :eq:`eq-conv-output-size`). It is a convolution :eq:`eq-conv-forward` of
    each channel on its own with the constant kernel :math:`1/K^2`, so it is
    linear in ``x``, and it has no parameters.

    The code loops over the :math:`K^2` window offsets :math:`(p, q)` and
    adds a strided view of the whole batch at a time, each divided by
    :math:`K^2` first, so that no partial sum can overflow (a mean of finite
    numbers is finite; ``_clip_rounding_overflow`` handles the last
    rounding).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        Finite numbers (``inf`` or ``nan``: ``ValueError``).
    size : int
        The window side :math:`K \ge 1`, at most ``H`` and ``W``.
    stride : int
        :math:`S \ge 1`; windows overlap when ``stride < size``.

    Returns
    -------
    out : numpy.ndarray, shape (N, C, H', W')
        The dtype of ``x``.
    cache : dict
        ``x``, ``size`` and ``stride``, for :func:`avgpool2d_backward`.
    """
    where = "avgpool2d_forward"
    x, size, stride = _pool_inputs(x, size, stride, where)
    check_finite(x, "x", where)
    h_out, w_out = _output_hw(x.shape, size, size, stride, 0)
    h_span, w_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    count = size * size
    out = np.zeros(x.shape[:2] + (h_out, w_out), dtype=x.dtype)
    with np.errstate(over="ignore"):   # only the last rounding can overflow: clipped
        for p in range(size):
            for q in range(size):
                out += x[:, :, p:p + h_span:stride, q:q + w_span:stride] / count
    out = _clip_rounding_overflow(out, where)
    return out, {"x": x, "size": size, "stride": stride}


def avgpool2d_backward(dout, cache):
    r"""The gradient of average pooling: each output's gradient, divided by :math:`K^2`,
    goes to every entry of its window.

    .. math::
        \frac{\partial L}{\partial x[n, c, h, v]} = \frac{1}{K^2}
        \sum_{\substack{i, j, p, q \,:\\ iS + p = h,\ jS + q = v}} \mathrm{dout}[n, c, i, j]

    with :math:`0 \le p, q < K`: the chain rule :eq:`eq-conv-chain` with
    :math:`\partial\,\mathrm{out}[n, c, i, j] / \partial x[n, c, iS + p, jS + q] = 1/K^2`
    (chapter 7, equation :eq:`eq-conv-avgpool-grad`). A pixel in several
    windows (``stride < size``) collects all their gradients; a pixel in no
    window (when :math:`S` does not divide :math:`H - K`, or :math:`S > K`)
    gets 0. The code loops over the :math:`K^2` offsets and adds a strided
    slice at a time, like :func:`col2im`.

    Parameters
    ----------
    dout : array_like, shape (N, C, H', W')
        :math:`\partial L / \partial\,\mathrm{out}`, finite.
    cache : dict
        From :func:`avgpool2d_forward` or :func:`avgpool2d_forward_naive`.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
        :math:`\partial L / \partial x`, in the common dtype of ``dout`` and ``x``.
    """
    where = "avgpool2d_backward"
    x, size, stride = cache["x"], cache["size"], cache["stride"]
    h_out, w_out = _output_hw(x.shape, size, size, stride, 0)
    dout = _check_dout(dout, x.shape[:2] + (h_out, w_out), where)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    share = dout / (size * size)                  # what each entry of a window receives
    h_span, w_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    with np.errstate(over="ignore"):   # at most K^2 shares per pixel: clipped if rounding overflows
        for p in range(size):
            for q in range(size):
                dx[:, :, p:p + h_span:stride, q:q + w_span:stride] += share
    return _clip_rounding_overflow(dx, where)


def avgpool2d_forward_naive(x, size=2, stride=2):
    r"""Average pooling with a loop over every output element: the slow reference.

    .. math:: \mathrm{out}[n, c, i, j] = \frac{1}{K^2} \sum_{p, q} x[n, c, iS + p, jS + q]

    Chapter 7, equation :eq:`eq-conv-avgpool`, one window at a time (each
    entry divided by :math:`K^2`, then summed). Arguments and results as in
    :func:`avgpool2d_forward` (the same cache keys).
    """
    where = "avgpool2d_forward_naive"
    x, size, stride = _pool_inputs(x, size, stride, where)
    check_finite(x, "x", where)
    n_images, channels = x.shape[:2]
    h_out, w_out = _output_hw(x.shape, size, size, stride, 0)
    out = np.zeros((n_images, channels, h_out, w_out), dtype=x.dtype)
    with np.errstate(over="ignore"):
        for n in range(n_images):
            for c in range(channels):
                for i in range(h_out):
                    for j in range(w_out):
                        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                        out[n, c, i, j] = np.sum(window / (size * size))
    out = _clip_rounding_overflow(out, where)
    return out, {"x": x, "size": size, "stride": stride}


def avgpool2d_backward_naive(dout, cache):
    r"""The gradient of average pooling with a loop over every output element: the slow reference.

    .. math::
        \frac{\partial L}{\partial x[n, c, iS + p, jS + q]} \mathrel{+}=
        \frac{\mathrm{dout}[n, c, i, j]}{K^2}

    for every :math:`(n, c, i, j)` and every offset :math:`0 \le p, q < K`
    (chapter 7, equation :eq:`eq-conv-avgpool-grad`). Arguments and result as
    in :func:`avgpool2d_backward`.
    """
    where = "avgpool2d_backward_naive"
    x, size, stride = cache["x"], cache["size"], cache["stride"]
    h_out, w_out = _output_hw(x.shape, size, size, stride, 0)
    dout = _check_dout(dout, x.shape[:2] + (h_out, w_out), where)
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    n_images, channels = x.shape[:2]
    with np.errstate(over="ignore"):
        for n in range(n_images):
            for c in range(channels):
                for i in range(h_out):
                    for j in range(w_out):
                        rows = slice(i * stride, i * stride + size)
                        cols = slice(j * stride, j * stride + size)
                        dx[n, c, rows, cols] += dout[n, c, i, j] / (size * size)
    return _clip_rounding_overflow(dx, where)


def global_avgpool_forward(x):
    r"""Global average pooling: the mean of each channel over the whole image.

    .. math::
        \mathrm{out}[n, c] = \frac{1}{H W} \sum_{h=0}^{H-1} \sum_{v=0}^{W-1} x[n, c, h, v]

    (chapter 7, equation :eq:`eq-conv-global-avgpool`): average pooling
    :eq:`eq-conv-avgpool` with a window as large as the image, flattened, so
    ``(N, C, H, W)`` becomes ``(N, C)``, one number per feature map, whatever
    the image size. It has no parameters. Each entry is divided by
    :math:`HW` before the sum, so no partial sum can overflow.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        Finite numbers (``inf`` or ``nan``: ``ValueError``).

    Returns
    -------
    out : numpy.ndarray, shape (N, C)
        The dtype of ``x``.
    cache : dict
        ``x``, for :func:`global_avgpool_backward`.
    """
    where = "global_avgpool_forward"
    x = as_float_array(x, "x")
    _check_images(x, "x", where)
    check_finite(x, "x", where)
    count = x.shape[2] * x.shape[3]
    with np.errstate(over="ignore"):   # only the last rounding can overflow: clipped
        out = np.sum(x / count, axis=(2, 3))
    return _clip_rounding_overflow(out, where), {"x": x}


def global_avgpool_backward(dout, cache):
    r"""The gradient of global average pooling: every pixel of channel :math:`c` gets
    :math:`1/(HW)` of that channel's gradient.

    .. math::
        \frac{\partial L}{\partial x[n, c, h, v]} = \frac{\mathrm{dout}[n, c]}{H W}

    for every :math:`(h, v)`: each output is a sum in which every pixel of its
    channel appears once, with weight :math:`1/(HW)` (chapter 7, equation
    :eq:`eq-conv-global-avgpool-grad`).

    Parameters
    ----------
    dout : array_like, shape (N, C)
        :math:`\partial L / \partial\,\mathrm{out}`, finite.
    cache : dict
        From :func:`global_avgpool_forward` or :func:`global_avgpool_forward_naive`.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
        :math:`\partial L / \partial x`, in the common dtype of ``dout`` and ``x``,
        a fresh array.
    """
    x = cache["x"]
    dout = _check_dout(dout, x.shape[:2], "global_avgpool_backward")
    share = dout.astype(np.result_type(dout, x)) / (x.shape[2] * x.shape[3])
    return np.repeat(share.reshape(share.shape + (1,)), x.shape[2] * x.shape[3], axis=2).reshape(x.shape)


def global_avgpool_forward_naive(x):
    r"""Global average pooling with a loop over every image and channel: the slow reference.

    .. math:: \mathrm{out}[n, c] = \frac{1}{H W} \sum_{h, v} x[n, c, h, v]

    Chapter 7, equation :eq:`eq-conv-global-avgpool`. Arguments and results as
    in :func:`global_avgpool_forward`.
    """
    where = "global_avgpool_forward_naive"
    x = as_float_array(x, "x")
    _check_images(x, "x", where)
    check_finite(x, "x", where)
    n_images, channels, height, width = x.shape
    out = np.zeros((n_images, channels), dtype=x.dtype)
    with np.errstate(over="ignore"):
        for n in range(n_images):
            for c in range(channels):
                total = x.dtype.type(0.0)
                for h in range(height):
                    for v in range(width):
                        total += x[n, c, h, v] / (height * width)
                out[n, c] = total
    return _clip_rounding_overflow(out, where), {"x": x}


def global_avgpool_backward_naive(dout, cache):
    r"""The gradient of global average pooling, one pixel at a time: the slow reference.

    .. math:: \frac{\partial L}{\partial x[n, c, h, v]} = \frac{\mathrm{dout}[n, c]}{H W}

    Chapter 7, equation :eq:`eq-conv-global-avgpool-grad`. Arguments and result
    as in :func:`global_avgpool_backward`.
    """
    x = cache["x"]
    dout = _check_dout(dout, x.shape[:2], "global_avgpool_backward_naive")
    n_images, channels, height, width = x.shape
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    for n in range(n_images):
        for c in range(channels):
            for h in range(height):
                for v in range(width):
                    dx[n, c, h, v] = dout[n, c] / (height * width)
    return dx
