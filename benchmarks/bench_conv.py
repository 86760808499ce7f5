"""Benchmark of the fast convolution in dlmath.conv (chapter 7).

Run from the repository root:

    .venv/bin/python benchmarks/bench_conv.py

On x of shape (32, 16, 32, 32), w of shape (32, 16, 3, 3), stride 1, padding 1,
float64, it checks three ratios and exits with status 1 if any misses its target:

(a) matmul / forward >= 0.5: the forward pass costs at most twice one matrix
    product of the im2col shape (N*H_out*W_out, C*KH*KW) @ (C*KH*KW, F), a
    plain ``A @ B`` on preallocated C-contiguous operands; so building the
    patches costs no more than the arithmetic;
(b) (forward + backward) / forward <= 3: the backward pass costs at most twice
    the forward (it does two matrix products of the same size as the
    forward's, plus shifted copies and additions; at stride 1 it rebuilds what
    it needs from x rather than caching a patch matrix);
(c) naive / fast forward >= 50: the loop reference against the fast path.

Every time is the median of several repeats (time.perf_counter). The timed
calls are interleaved round by round, so a burst of load from other processes
slows all of them alike instead of one; each round of the fast calls also
allocates its results afresh, as real use does. numpy and its BLAS run with
their default settings (this script sets no thread variables). On a shared
machine run it when the load is low, a few times.
"""
import sys
import time

import numpy as np

from dlmath.conv import conv2d_backward, conv2d_forward, conv2d_forward_naive, conv_output_size

N, C, H, W = 32, 16, 32, 32
F, KH, KW = 32, 3, 3
STRIDE, PADDING = 1, 1
ROUNDS = 40          # repeats of the fast calls
NAIVE_BATCH = 2      # the naive loop runs on this many images, then is scaled to N
NAIVE_ROUNDS = 3


def median_times(calls, rounds):
    """Median seconds of each call, timing them in turn round after round."""
    for call in calls.values():  # warm up: allocator, BLAS threads, caches
        call()
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def verdict(name, value, target, ok):
    status = "PASS" if ok else "FAIL"
    print(f"  {name:<34s} {value:8.2f}   target {target:<8s} {status}")
    return ok


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, KH, KW))
    b = rng.standard_normal(F)
    h_out = conv_output_size(H, KH, STRIDE, PADDING)
    w_out = conv_output_size(W, KW, STRIDE, PADDING)
    rows, inner = N * h_out * w_out, C * KH * KW
    patches = rng.standard_normal((rows, inner))   # a matrix of the im2col shape
    kernels = rng.standard_normal((inner, F))
    out, cache = conv2d_forward(x, w, b, STRIDE, PADDING)
    dout = rng.standard_normal(out.shape)

    def forward_and_backward():
        _, fb_cache = conv2d_forward(x, w, b, STRIDE, PADDING)
        conv2d_backward(dout, fb_cache)

    fast = median_times(
        {
            "matmul": lambda: patches @ kernels,
            "forward": lambda: conv2d_forward(x, w, b, STRIDE, PADDING),
            "forward+backward": forward_and_backward,
        },
        ROUNDS,
    )
    x_small = x[:NAIVE_BATCH]
    naive_small = median_times(
        {"naive": lambda: conv2d_forward_naive(x_small, w, b, STRIDE, PADDING)}, NAIVE_ROUNDS
    )["naive"]
    naive = naive_small * N / NAIVE_BATCH  # the loop's cost is linear in the batch

    ms = {name: 1e3 * t for name, t in fast.items()}
    print(f"conv2d on x {(N, C, H, W)}, w {(F, C, KH, KW)}, stride {STRIDE}, padding {PADDING}, "
          f"float64; numpy {np.__version__}")
    print(f"  median of {ROUNDS} interleaved repeats:")
    print(f"    one matmul ({rows}, {inner}) @ ({inner}, {F}): {ms['matmul']:8.2f} ms")
    print(f"    fast forward:                     {ms['forward']:8.2f} ms")
    print(f"    fast forward + backward:          {ms['forward+backward']:8.2f} ms")
    print(f"  naive forward: {1e3 * naive_small:.1f} ms on a batch of {NAIVE_BATCH} "
          f"(median of {NAIVE_ROUNDS}), scaled linearly to N={N}: {1e3 * naive:.0f} ms")
    print("ratios:")
    ok = [
        verdict("(a) matmul / forward", fast["matmul"] / fast["forward"], ">= 0.5",
                fast["matmul"] / fast["forward"] >= 0.5),
        verdict("(b) (forward + backward) / forward", fast["forward+backward"] / fast["forward"],
                "<= 3", fast["forward+backward"] / fast["forward"] <= 3),
        verdict("(c) naive / fast forward", naive / fast["forward"], ">= 50",
                naive / fast["forward"] >= 50),
    ]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
