"""Write the golden arrays that tests/test_optim.py compares dlmath.optim with.

    /path/to/a/venv/with/torch/bin/python scripts/torch_reference/optim.py

torch is not a dependency of dlmath: this script runs once, in an environment
that has torch (it was run with torch 2.13.0+cpu), and writes
tests/data/torch_optim.npz. The tests then need only numpy.

For every setting (an optimizer and its hyper-parameters) three parameters
(W (3, 2), b (2,) and c (2,), which the loss does not use, so its gradient is
exactly zero) take 20 steps of torch.optim on a small nonlinear regression loss,
mean((tanh(x W + b) - y)^2). The file holds, per setting and per parameter, the
parameters before every step and after the last, the gradient torch used at every
step, and torch's optimizer state after every step. A test feeds the same gradients
to dlmath's step and compares every parameter and state array. It also holds cases
of torch.nn.utils.clip_grad_norm_ (norms far above, just at and far below max_norm).

Layout: "<setting>/<param>/params" (T + 1, ...), "<setting>/<param>/grads" (T, ...),
"<setting>/<param>/state/<dlmath state name>" (T, ...); "clip/<case>/<param>/grad",
"clip/<case>/<param>/clipped", "clip/<case>/total_norm"; and "meta", a JSON string
naming each setting's dlmath function, hyper-parameters and dtype.
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "torch_optim.npz"
STEPS = 20

# name: (dlmath function, dlmath keyword arguments, torch constructor, dtype)
SETTINGS = {
    "sgd": ("gd_step", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1), "float64"),
    "sgd_lr0": ("gd_step", {"lr": 0.0}, lambda p: torch.optim.SGD(p, lr=0.0), "float64"),
    "momentum": (
        "momentum_step", {"lr": 0.05, "beta": 0.9},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), "float64",
    ),
    "momentum_beta0.5": (
        "momentum_step", {"lr": 0.1, "beta": 0.5},
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5), "float64",
    ),
    "nesterov": (
        "momentum_step", {"lr": 0.05, "beta": 0.9, "nesterov": True},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), "float64",
    ),
    "adagrad": (
        "adagrad_step", {"lr": 0.1},
        lambda p: torch.optim.Adagrad(p, lr=0.1), "float64",
    ),
    "adagrad_eps1e-3": (
        "adagrad_step", {"lr": 0.2, "eps": 1e-3},
        lambda p: torch.optim.Adagrad(p, lr=0.2, eps=1e-3), "float64",
    ),
    "rmsprop": (
        "rmsprop_step", {"lr": 0.01},
        lambda p: torch.optim.RMSprop(p, lr=0.01), "float64",
    ),
    "rmsprop_alpha0.9": (
        "rmsprop_step", {"lr": 0.02, "alpha": 0.9, "eps": 1e-6},
        lambda p: torch.optim.RMSprop(p, lr=0.02, alpha=0.9, eps=1e-6), "float64",
    ),
    "adam": (
        "adam_step", {"lr": 0.05},
        lambda p: torch.optim.Adam(p, lr=0.05), "float64",
    ),
    "adam_defaults": ("adam_step", {}, lambda p: torch.optim.Adam(p), "float64"),
    "adam_betas": (
        "adam_step", {"lr": 0.05, "betas": [0.5, 0.9], "eps": 1e-6},
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-6), "float64",
    ),
    "adam_l2": (
        "adam_step", {"lr": 0.05, "weight_decay": 0.1},
        lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1), "float64",
    ),
    "adamw": (
        "adam_step", {"lr": 0.05, "weight_decay": 0.1, "decoupled": True},
        lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1), "float64",
    ),
    "adamw_torch_default_decay": (
        "adam_step", {"lr": 0.01, "weight_decay": 0.01, "decoupled": True},
        lambda p: torch.optim.AdamW(p, lr=0.01), "float64",
    ),
    "momentum_float32": (
        "momentum_step", {"lr": 0.05, "beta": 0.9, "nesterov": True},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), "float32",
    ),
    "adam_float32": (
        "adam_step", {"lr": 0.05, "weight_decay": 0.1, "decoupled": True},
        lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1), "float32",
    ),
}

# dlmath's state names and torch's
STATE_NAMES = {
    "gd_step": {},
    "momentum_step": {"velocity": "momentum_buffer"},
    "adagrad_step": {"sum_sq": "sum"},
    "rmsprop_step": {"square_avg": "square_avg"},
    "adam_step": {"m": "exp_avg", "v": "exp_avg_sq"},
}


def problem(dtype):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(5, 3)) * [1.0, 3.0, 0.3], dtype=dtype)
    y = torch.tensor(rng.uniform(-0.8, 0.8, size=(5, 2)), dtype=dtype)
    init = {
        "W": rng.normal(size=(3, 2)),
        "b": rng.normal(size=2) * 0.1,
        "c": np.array([0.5, -2.0]),  # not in the loss: its gradient is exactly zero
    }
    return x, y, init


def run_setting(name, function, make_optimizer, dtype_name):
    dtype = getattr(torch, dtype_name)
    x, y, init = problem(dtype)
    params = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in init.items()}
    optimizer = make_optimizer(list(params.values()))
    record = {}
    history = {k: {"params": [], "grads": [], "state": {s: [] for s in STATE_NAMES[function]}} for k in params}
    for _ in range(STEPS):
        optimizer.zero_grad(set_to_none=False)
        loss = ((torch.tanh(x @ params["W"] + params["b"]) - y) ** 2).mean()
        loss.backward()
        params["c"].grad = torch.zeros_like(params["c"])
        for k, p in params.items():
            history[k]["params"].append(p.detach().numpy().copy())
            history[k]["grads"].append(p.grad.detach().numpy().copy())
        optimizer.step()
        for k, p in params.items():
            for ours, theirs in STATE_NAMES[function].items():
                history[k]["state"][ours].append(optimizer.state[p][theirs].detach().numpy().copy())
    for k, p in params.items():
        history[k]["params"].append(p.detach().numpy().copy())
        record[f"{name}/{k}/params"] = np.stack(history[k]["params"])
        record[f"{name}/{k}/grads"] = np.stack(history[k]["grads"])
        for s, values in history[k]["state"].items():
            record[f"{name}/{k}/state/{s}"] = np.stack(values)
    return record


def clip_cases():
    rng = np.random.default_rng(1)
    base = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "z": np.zeros(4)}
    norm = np.sqrt(sum(float(np.sum(v**2)) for v in base.values()))
    cases = {
        "huge": ({k: v * 1e3 for k, v in base.items()}, 1.0),
        "large": (base, 0.5),
        "at_max_norm": (base, norm),  # scale max_norm / (norm + 1e-6), just below 1
        "below": (base, 10.0),
        "tiny": ({k: v * 1e-8 for k, v in base.items()}, 1.0),
        "all_zero": ({k: np.zeros_like(v) for k, v in base.items()}, 1.0),
    }
    record = {}
    meta = {}
    for case, (grads, max_norm) in cases.items():
        tensors = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for k, v in grads.items()}
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k], dtype=torch.float64)
        total = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
        for k, t in tensors.items():
            record[f"clip/{case}/{k}/grad"] = np.asarray(grads[k], dtype=np.float64)
            record[f"clip/{case}/{k}/clipped"] = t.grad.numpy().copy()
        record[f"clip/{case}/total_norm"] = np.array(float(total))
        meta[case] = {"max_norm": float(max_norm), "keys": list(grads)}
    return record, meta


def main():
    torch.manual_seed(0)
    arrays = {}
    meta = {"torch": torch.__version__, "steps": STEPS, "settings": {}, "clip": {}}
    for name, (function, hyper, make_optimizer, dtype_name) in SETTINGS.items():
        arrays.update(run_setting(name, function, make_optimizer, dtype_name))
        meta["settings"][name] = {
            "function": function,
            "hyper": hyper,
            "dtype": dtype_name,
            "keys": ["W", "b", "c"],
            "state": list(STATE_NAMES[function]),
        }
    clip_arrays, meta["clip"] = clip_cases()
    arrays.update(clip_arrays)
    arrays["meta"] = np.array(json.dumps(meta, indent=1, sort_keys=True))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
