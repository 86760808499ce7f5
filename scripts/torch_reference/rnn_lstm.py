"""Golden arrays from PyTorch for dlmath.rnn and dlmath.lstm (tests/data/torch_rnn_lstm.npz).

PyTorch is not a dependency of the project: run this once, in an environment
that has torch, numpy and dlmath (for example the one the tests were written
with), and commit the .npz it writes:

    /path/to/torch-env/bin/python scripts/torch_reference/rnn_lstm.py

It draws small inputs with a seeded numpy generator, runs them through
``torch.nn.RNNCell``, ``torch.nn.RNN``, ``torch.nn.LSTMCell`` and
``torch.nn.LSTM`` in float64 with the weights laid out as the dlmath contract
says (``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b``,
``bias_hh = 0``; LSTM gate blocks in torch's order i, f, g, o), and stores the
inputs, the upstream gradients, the outputs and every gradient torch's
autograd computes for the loss ``L = sum(dout * out)`` (plus ``sum(dc * c)``
for the LSTM cell). Weight gradients are stored transposed back to dlmath's
layout. tests/test_rnn.py and tests/test_lstm.py compare dlmath with them.
"""
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "torch_rnn_lstm.npz"
N, T, D, H = 3, 5, 4, 6


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _set_weights(module, Wx, Wh, b, suffix=""):
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(_t(Wx.T))
        getattr(module, "weight_hh" + suffix).copy_(_t(Wh.T))
        getattr(module, "bias_ih" + suffix).copy_(_t(b))
        getattr(module, "bias_hh" + suffix).zero_()


def _grads(module, suffix=""):
    """dWx, dWh, db in dlmath's layout, and torch's bias_hh gradient (equal to db)."""
    return {
        "dWx": getattr(module, "weight_ih" + suffix).grad.numpy().T.copy(),
        "dWh": getattr(module, "weight_hh" + suffix).grad.numpy().T.copy(),
        "db": getattr(module, "bias_ih" + suffix).grad.numpy().copy(),
        "db_hh": getattr(module, "bias_hh" + suffix).grad.numpy().copy(),
    }


def rnn_arrays(rng):
    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H))
    Wx = rng.normal(size=(D, H)) / np.sqrt(D)
    Wh = rng.normal(size=(H, H)) / np.sqrt(H)
    b = 0.5 * rng.normal(size=H)
    dh = rng.normal(size=(N, T, H))
    out = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "b": b, "dh": dh}

    # one step: torch.nn.RNNCell on x[:, 0]
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh").double()
    _set_weights(cell, Wx, Wh, b)
    xs, hs = _t(x[:, 0], True), _t(h0, True)
    h1 = cell(xs, hs)
    (h1 * _t(dh[:, 0])).sum().backward()
    out.update({"step_h": h1.detach().numpy(), "step_dx": xs.grad.numpy(),
                "step_dh_prev": hs.grad.numpy()})
    out.update({"step_" + k: v for k, v in _grads(cell).items()})

    # the whole sequence: torch.nn.RNN, batch first, initial state (1, N, H)
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True).double()
    _set_weights(rnn, Wx, Wh, b, "_l0")
    xt, h0t = _t(x, True), _t(h0[None], True)
    h, h_last = rnn(xt, h0t)
    (h * _t(dh)).sum().backward()
    out.update({"h": h.detach().numpy(), "h_last": h_last.detach().numpy()[0],
                "dx": xt.grad.numpy(), "dh0": h0t.grad.numpy()[0]})
    out.update(_grads(rnn, "_l0"))
    return {"rnn_" + k: v for k, v in out.items()}


def lstm_arrays(rng):
    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H))
    c0 = rng.normal(size=(N, H))
    Wx = rng.normal(size=(D, 4 * H)) / np.sqrt(D)
    Wh = rng.normal(size=(H, 4 * H)) / np.sqrt(H)
    b = 0.5 * rng.normal(size=4 * H)
    dh = rng.normal(size=(N, T, H))
    dc = rng.normal(size=(N, H))
    out = {"x": x, "h0": h0, "c0": c0, "Wx": Wx, "Wh": Wh, "b": b, "dh": dh, "dc": dc}

    # one step: torch.nn.LSTMCell on x[:, 0], loss sum(dh * h) + sum(dc * c)
    cell = torch.nn.LSTMCell(D, H).double()
    _set_weights(cell, Wx, Wh, b)
    xs, hs, cs = _t(x[:, 0], True), _t(h0, True), _t(c0, True)
    h1, c1 = cell(xs, (hs, cs))
    ((h1 * _t(dh[:, 0])).sum() + (c1 * _t(dc)).sum()).backward()
    out.update({"step_h": h1.detach().numpy(), "step_c": c1.detach().numpy(),
                "step_dx": xs.grad.numpy(), "step_dh_prev": hs.grad.numpy(),
                "step_dc_prev": cs.grad.numpy()})
    out.update({"step_" + k: v for k, v in _grads(cell).items()})

    # the whole sequence: torch.nn.LSTM, batch first, initial state ((1, N, H), (1, N, H))
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    _set_weights(lstm, Wx, Wh, b, "_l0")
    xt, h0t, c0t = _t(x, True), _t(h0[None], True), _t(c0[None], True)
    h, (h_last, c_last) = lstm(xt, (h0t, c0t))
    (h * _t(dh)).sum().backward()
    out.update({"h": h.detach().numpy(), "h_last": h_last.detach().numpy()[0],
                "c_last": c_last.detach().numpy()[0], "dx": xt.grad.numpy(),
                "dh0": h0t.grad.numpy()[0], "dc0": c0t.grad.numpy()[0]})
    out.update(_grads(lstm, "_l0"))
    return {"lstm_" + k: v for k, v in out.items()}


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(2026)
    arrays = {**rnn_arrays(rng), **lstm_arrays(rng)}
    arrays["torch_version"] = np.array(torch.__version__)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez(OUT, **arrays)
    print(f"wrote {OUT} ({len(arrays)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
