"""Benchmark of dlmath.rnn and dlmath.lstm: is backpropagation through time cheap enough?

Run as ``.venv/bin/python benchmarks/bench_rnn.py``. For x of shape (N, T, D) =
(32, 50, 64) and H = 128 hidden units in float64 it prints, for the tanh RNN and
for the LSTM, as medians over repeats measured in one run: the forward time
over the whole sequence, the backward time (``*_backward`` alone, from one
cache), their ratio, and the time of the matrix products each pass is made of,
measured alone with the same shapes:

- forward: one ``(N T, D) @ (D, gH)`` product for every input projection, and T
  recurrent ``(N, H) @ (H, gH)`` products, one per step (g = 1 for the RNN,
  4 for the LSTM);
- backward: T recurrent ``(N, gH) @ (gH, H)`` products, and three over the
  stacked ``(N T, gH)`` gradients: ``(N T, gH) @ (gH, D)`` for dx,
  ``(D, N T) @ (N T, gH)`` for dWx and ``(H, N T) @ (N T, gH)`` for dWh.

Counting multiply-adds, the backward does twice the forward's, so the ideal
ratio is about 2; the target is backward <= 3.5 x forward, for both. Exit
status 1 if either is over.

Each time is the best of several repeats (other processes on a shared machine
only ever add time), and the median of that over rounds that alternate between
the functions compared. Everything is measured twice: with the BLAS threads
numpy starts with, and on one thread (with threadpoolctl, when it is
installed). On a machine whose cores are busy with other work, a multithreaded
product can wait milliseconds for its second thread; the one-thread figures do
not have that noise. The verdict needs both runs under the target.

If PyTorch can be imported (it is not a dependency of the project; run this
script once with an environment that has it), the same float64 shapes are run
through ``torch.nn.RNN`` and ``torch.nn.LSTM`` on the CPU and their forward and
forward + backward times are compared with dlmath's.
"""
import statistics
import sys

import numpy as np

from dlmath.lstm import lstm_backward, lstm_forward
from dlmath.rnn import rnn_backward, rnn_forward
from timing import wall_times

N, T, D, H = 32, 50, 64, 128
REPEATS = 25
ROUNDS = 5
TARGET_RATIO = 3.5


def best_time(fn, repeats=REPEATS):
    """Best wall time of ``fn()`` over ``repeats`` calls in seconds, after two warm-up calls."""
    return min(wall_times(fn, repeats))


def interleaved(*fns):
    """Times of several functions, measured in alternating rounds (the median over rounds
    of the best of each round) so that drifting machine load hits them alike."""
    rounds = [[best_time(fn, REPEATS // ROUNDS + 1) for fn in fns] for _ in range(ROUNDS)]
    return [statistics.median(r[k] for r in rounds) for k in range(len(fns))]


def model(rng, gates):
    """Inputs and weights of the benchmark model; g = gates blocks of H columns."""
    x = rng.standard_normal((N, T, D))
    h0 = 0.1 * rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, gates * H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, gates * H)) / np.sqrt(H)
    b = np.zeros(gates * H)
    return x, h0, Wx, Wh, b


def products(rng, gates):
    """The matrix products of one forward and one backward pass, with their shapes."""
    width = gates * H
    rows = rng.standard_normal((N * T, D))
    Wx = rng.standard_normal((D, width))
    Wh = rng.standard_normal((H, width))
    state = rng.standard_normal((N, H))
    grad_step = rng.standard_normal((N, width))
    grad_rows = rng.standard_normal((N * T, width))
    Wh_t, Wx_t, rows_t = Wh.T, Wx.T, rows.T
    prev_t = rng.standard_normal((N * T, H)).T

    def recurrent_forward():
        for _ in range(T):
            state @ Wh

    def recurrent_backward():
        for _ in range(T):
            grad_step @ Wh_t

    return [
        ("forward", f"input projections (N T, D) @ (D, {gates}H)", lambda: rows @ Wx),
        ("forward", f"T x recurrent (N, H) @ (H, {gates}H)", recurrent_forward),
        ("backward", f"T x recurrent (N, {gates}H) @ ({gates}H, H)", recurrent_backward),
        ("backward", f"dx     (N T, {gates}H) @ ({gates}H, D)", lambda: grad_rows @ Wx_t),
        ("backward", f"dWx    (D, N T) @ (N T, {gates}H)", lambda: rows_t @ grad_rows),
        ("backward", f"dWh    (H, N T) @ (N T, {gates}H)", lambda: prev_t @ grad_rows),
    ]


def bench_dlmath(name, forward, backward, gates, rng):
    args = model(rng, gates)
    h, cache = forward(*args)
    dh = rng.standard_normal(h.shape)
    t_forward, t_backward = interleaved(lambda: forward(*args), lambda: backward(dh, cache))
    ratio = t_backward / t_forward
    print(f"{name}: x {(N, T, D)}, H = {H}, float64")
    print(f"  forward              {t_forward * 1e3:8.3f} ms")
    print(f"  backward             {t_backward * 1e3:8.3f} ms")
    print(f"  backward / forward   {ratio:8.2f}   (target <= {TARGET_RATIO:g}; "
          f"forward + backward = {1 + ratio:.2f} x forward)")
    print("  matrix products, each alone:")
    total = {"forward": 0.0, "backward": 0.0}
    for which, label, fn in products(rng, gates):
        t = best_time(fn)
        total[which] += t
        print(f"    {which:8s} {label:40s} {t * 1e3:8.3f} ms")
    print(f"  products: forward {total['forward'] * 1e3:.3f} ms, backward "
          f"{total['backward'] * 1e3:.3f} ms; everything else (gates, tanh, copies, the "
          f"Python loop): forward {(t_forward - total['forward']) * 1e3:.3f} ms, backward "
          f"{(t_backward - total['backward']) * 1e3:.3f} ms")
    return ratio, t_forward, t_backward


def bench_torch(name, t_forward, t_backward, rng):
    """torch.nn.RNN or torch.nn.LSTM, float64 on the CPU, against dlmath's times."""
    import torch

    cls = {"RNN": lambda: torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True),
           "LSTM": lambda: torch.nn.LSTM(D, H, batch_first=True)}[name]
    module = cls().double()
    x = torch.tensor(rng.standard_normal((N, T, D)), requires_grad=True)
    dout = torch.tensor(rng.standard_normal((N, T, H)))

    def forward():
        with torch.no_grad():
            module(x)

    def forward_backward():
        out, _ = module(x)
        out.backward(dout)

    tf, tfb = interleaved(forward, forward_backward)
    ours = t_forward + t_backward
    print(f"  torch.nn.{name} (torch {torch.__version__}, {torch.get_num_threads()} threads), float64:"
          f" forward {tf * 1e3:.3f} ms, forward + backward {tfb * 1e3:.3f} ms")
    print(f"    torch / dlmath: forward {tf / t_forward:.2f} x, forward + backward {tfb / ours:.2f} x")


def run_all(rng, have_torch, threads_label):
    """Both models, and torch's if it is there; returns the backward / forward ratios."""
    print(f"=== BLAS threads: {threads_label}")
    ratios = {}
    for name, forward, backward, gates, torch_name in [
        ("dlmath.rnn (tanh RNN)", rnn_forward, rnn_backward, 1, "RNN"),
        ("dlmath.lstm (LSTM)", lstm_forward, lstm_backward, 4, "LSTM"),
    ]:
        ratio, t_forward, t_backward = bench_dlmath(name, forward, backward, gates, rng)
        ratios[f"{name.split()[0]} ({threads_label})"] = ratio
        if have_torch:
            bench_torch(torch_name, t_forward, t_backward, rng)
    return ratios


def main():
    rng = np.random.default_rng(0)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    ratios = run_all(rng, have_torch, "numpy's default")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("(threadpoolctl is not installed: no one-thread run)")
    else:
        with threadpool_limits(limits=1):
            if have_torch:
                torch.set_num_threads(1)
            ratios.update(run_all(rng, have_torch, "1"))
    if not have_torch:
        print("(torch is not importable here: no comparison with torch.nn.RNN / torch.nn.LSTM)")
    passed = all(r <= TARGET_RATIO for r in ratios.values())
    shown = ", ".join(f"{name} {r:.2f}" for name, r in ratios.items())
    print(f"{'PASS' if passed else 'FAIL'} backward / forward: {shown} "
          f"{'<=' if passed else 'not all <='} {TARGET_RATIO:g}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
