"""Benchmark of dlmath.transformer: is one block's backward pass cheap, and is the time in the products?

Run as ``.venv/bin/python benchmarks/bench_transformer.py``. One pre-norm block in
float64 with N = 16 sequences of L = 64 positions, d = 128, 4 heads and
d_ff = 512. It prints, as the best of many repeats measured in one run (on a shared
machine other processes can only add time, so the minimum is the stable figure): the time of
the forward pass, of the backward pass alone (on a cache made beforehand), their
ratio, and the time of every matrix product the two passes are made of, measured
alone with the same shapes and operand layouts the implementation uses; then the
share of each pass spent in those products.

Counting multiply-adds, the backward does twice the products of the forward
(each product Y = A B needs both dA = dY B^T and dB = A^T dY, and the block's
input and every weight need their gradient), so the ideal ratio is about 2; the
target is a backward at most 3.5 times the forward. Exit status 1 if the ratio is
over. The products are the 6 of the forward and the 12 of the backward; the rest
of the time goes to layer norm, softmax, relu and the copies of splitting and
merging heads, and to fresh memory: the forward pass keeps about 21 MB of caches for the
backward, and when a training step frees them, glibc's malloc returns that memory to the
system, so the next step's arrays land on new pages whose first touch costs a page fault
each. The benchmark then runs itself once more with glibc told to keep freed memory
(``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` set high) and prints the same
figures with memory reused: the difference is the cost of fresh pages, not of the
arithmetic. dlmath does not change the allocator of the reader's process.
"""
import os
import subprocess
import sys

import numpy as np

from dlmath.transformer import (
    init_transformer_block,
    transformer_block_backward,
    transformer_block_forward,
)
from timing import wall_times  # noqa: E402

N, L, D, HEADS, D_FF = 16, 64, 128, 4, 512
REPEATS = 21
TARGET_RATIO = 3.5


def best_time(fn, repeats=REPEATS):
    """Shortest wall time of ``fn()`` in seconds over ``repeats`` calls, after two warm-ups."""
    return min(wall_times(fn, repeats))


def products(rng, params):
    """Every matrix product of a block's forward and backward pass, with the implementation's shapes.

    ``(pass, name, function)``; the operands are random arrays of the right
    shapes and memory layouts (a transpose is a view, as in the code).
    """
    rows, dh = N * L, D // HEADS
    x2 = rng.standard_normal((rows, D))                  # a (N L, d) activation
    qkv_w = rng.standard_normal((D, 3 * D))
    dqkv = rng.standard_normal((rows, 3 * D))
    heads = rng.standard_normal((N, HEADS, L, dh))
    weights = rng.standard_normal((N, HEADS, L, L))
    hid = rng.standard_normal((rows, D_FF))
    w_o, w1, w2 = params["Wo"], params["W1"], params["W2"]
    dx2 = rng.standard_normal((rows, D))
    t = np.swapaxes
    return [
        ("forward", "[Q K V] = x [Wq Wk Wv]  (NL,d)(d,3d)", lambda: x2 @ qkv_w),
        ("forward", "S = (Q/sqrt dh) K^T  per head", lambda: heads @ t(heads, -1, -2)),
        ("forward", "O = A V  per head", lambda: weights @ heads),
        ("forward", "M Wo  (NL,d)(d,d)", lambda: x2 @ w_o),
        ("forward", "LN2(h) W1  (NL,d)(d,dff)", lambda: x2 @ w1),
        ("forward", "relu(.) W2  (NL,dff)(dff,d)", lambda: hid @ w2),
        ("backward", "dr = dout W2^T", lambda: dx2 @ w2.T),
        ("backward", "dW2 = r^T dout", lambda: hid.T @ dx2),
        ("backward", "db = dz W1^T", lambda: hid @ w1.T),
        ("backward", "dW1 = b^T dz", lambda: x2.T @ hid),
        ("backward", "dM = dh Wo^T", lambda: dx2 @ w_o.T),
        ("backward", "dWo = M^T dh", lambda: x2.T @ dx2),
        ("backward", "dV = A^T dO  per head", lambda: t(weights, -1, -2) @ heads),
        ("backward", "dA = dO V^T  per head", lambda: heads @ t(heads, -1, -2)),
        ("backward", "dQ ~ dS K  per head", lambda: weights @ heads),
        ("backward", "dK = dS^T (Q/sqrt dh)  per head", lambda: t(weights, -1, -2) @ heads),
        ("backward", "dx = dqkv [Wq Wk Wv]^T", lambda: dqkv @ qkv_w.T),
        ("backward", "d[Wq Wk Wv] = x^T dqkv", lambda: x2.T @ dqkv),
    ]


#: glibc's malloc keeps freed memory for reuse instead of returning it to the system.
REUSE_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "2000000000", "MALLOC_TRIM_THRESHOLD_": "2000000000"}


def main():
    reused = all(os.environ.get(key) == value for key, value in REUSE_MEMORY.items())
    rng = np.random.default_rng(0)
    params = init_transformer_block(D, HEADS, D_FF, rng)
    x = rng.standard_normal((N, L, D))
    dout = rng.standard_normal((N, L, D))
    _, cache = transformer_block_forward(x, params, HEADS)

    def forward():
        transformer_block_forward(x, params, HEADS)

    def backward():
        transformer_block_backward(dout, cache)

    # Interleave the two totals so that drifting machine load hits both alike.
    t_forward, t_backward = [], []
    for _ in range(5):
        t_forward.append(best_time(forward, REPEATS // 5 + 1))
        t_backward.append(best_time(backward, REPEATS // 5 + 1))
    t_forward, t_backward = min(t_forward), min(t_backward)
    ratio = t_backward / t_forward

    memory = "freed memory reused" if reused else "default malloc"
    print(f"transformer block, x ({N}, {L}, {D}) float64, {HEADS} heads, d_ff {D_FF}, "
          f"best of repeats, {memory}" + (" (glibc told to keep freed memory)" if reused else ""))
    print(f"  forward             {t_forward * 1e3:8.3f} ms")
    print(f"  backward            {t_backward * 1e3:8.3f} ms")
    print(f"  ratio               {ratio:8.2f}   (target <= {TARGET_RATIO:g}); "
          f"(forward + backward) / forward = {1 + ratio:.2f}")
    print("  matrix products, each alone:")
    total = {"forward": 0.0, "backward": 0.0}
    for which, name, fn in products(rng, params):
        t = best_time(fn)
        total[which] += t
        print(f"    {which:8s} {name:40s} {t * 1e3:8.3f} ms")
    share_f = total["forward"] / t_forward
    share_b = total["backward"] / t_backward
    share = (total["forward"] + total["backward"]) / (t_forward + t_backward)
    print(f"  time in matrix products: forward {total['forward'] * 1e3:.3f} ms of "
          f"{t_forward * 1e3:.3f} ({share_f:.0%}), backward {total['backward'] * 1e3:.3f} ms "
          f"of {t_backward * 1e3:.3f} ({share_b:.0%}), both {share:.0%}; the rest is layer "
          "norm, softmax, relu, reshapes and copies")
    passed = ratio <= TARGET_RATIO
    verdict = f"PASS ratio {ratio:.2f} <=" if passed else f"FAIL ratio {ratio:.2f} >"
    print(f"{verdict} {TARGET_RATIO:g} ({memory})", flush=True)
    if not reused:
        print(flush=True)
        again = subprocess.run([sys.executable, __file__], env={**os.environ, **REUSE_MEMORY})
        passed = passed and again.returncode == 0
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
