"""Benchmark of dlmath.attention: is the backward pass cheap enough?

Run as ``.venv/bin/python benchmarks/bench_attention.py``. For q, k, v of shape
(8, 4, 128, 64) in float64 it prints, as medians over repeats measured in one
run: the forward time, the forward + backward time, their ratio, and the time
of each matrix product the two passes are made of, measured alone. Counting
products, the forward does 2 and the backward 4 of the same size, so the ideal
ratio is about 3; the target is at most 4. Exit status 1 if the ratio is over.
"""
import statistics
import sys

import numpy as np

from dlmath.attention import attention_backward, attention_forward
from timing import wall_times

SHAPE = (8, 4, 128, 64)  # (batch, heads, L, d)
REPEATS = 41
TARGET_RATIO = 4.0


def median_time(fn, repeats=REPEATS):
    """Median wall time of ``fn()`` in seconds, after two warm-up calls."""
    return statistics.median(wall_times(fn, repeats))


def main():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(SHAPE) for _ in range(3))
    dout = rng.standard_normal(SHAPE)
    out, cache = attention_forward(q, k, v)

    def forward():
        attention_forward(q, k, v)

    def forward_backward():
        _, c = attention_forward(q, k, v)
        attention_backward(dout, c)

    # The six products, with the same operand layouts the implementation uses.
    a = cache["weights"]
    q_scaled = cache["q_scaled"]
    ds = rng.standard_normal(a.shape)
    k_t, v_t = np.swapaxes(k, -1, -2), np.swapaxes(v, -1, -2)
    a_t, ds_t = np.swapaxes(a, -1, -2), np.swapaxes(ds, -1, -2)
    products = [
        ("forward  S = (Q/sqrt d) K^T", lambda: q_scaled @ k_t),
        ("forward  O = A V", lambda: a @ v),
        ("backward dV = A^T dO", lambda: a_t @ dout),
        ("backward dA = dO V^T", lambda: dout @ v_t),
        ("backward dQ ~ dS K", lambda: ds @ k),
        ("backward dK = dS^T (Q/sqrt d)", lambda: ds_t @ q_scaled),
    ]

    # Interleave the two totals so that drifting machine load hits both alike.
    t_forward, t_both = [], []
    for _ in range(5):
        t_forward.append(median_time(forward, REPEATS // 5 + 1))
        t_both.append(median_time(forward_backward, REPEATS // 5 + 1))
    t_forward, t_both = statistics.median(t_forward), statistics.median(t_both)
    ratio = t_both / t_forward

    print(f"attention, q k v of shape {SHAPE} float64, medians over repeats")
    print(f"  forward             {t_forward * 1e3:8.3f} ms")
    print(f"  forward + backward  {t_both * 1e3:8.3f} ms")
    print(f"  ratio               {ratio:8.2f}   (target <= {TARGET_RATIO:g})")
    print("  matrix products, each alone:")
    product_total = {"forward": 0.0, "backward": 0.0}
    for name, fn in products:
        t = median_time(fn)
        product_total[name.split()[0]] += t
        print(f"    {name:32s} {t * 1e3:8.3f} ms")
    print(f"  products: forward {product_total['forward'] * 1e3:.3f} ms, backward "
          f"{product_total['backward'] * 1e3:.3f} ms; everything else (softmax, "
          f"reductions): forward {(t_forward - product_total['forward']) * 1e3:.3f} ms, "
          f"backward {(t_both - t_forward - product_total['backward']) * 1e3:.3f} ms")
    passed = ratio <= TARGET_RATIO
    verdict = f"PASS ratio {ratio:.2f} <=" if passed else f"FAIL ratio {ratio:.2f} >"
    print(f"{verdict} {TARGET_RATIO:g}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
