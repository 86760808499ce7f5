"""Write the golden arrays that tests/test_transformer.py compares dlmath.transformer with.

    /path/to/a/venv/with/torch/bin/python scripts/torch_reference/transformer.py

torch is not a dependency of dlmath: this script runs once, in an environment
that has torch and numpy (it was run with torch 2.13.0+cpu), and writes
tests/data/torch_transformer.npz. The tests then need only numpy. It does not
import dlmath, so the reference is independent of the code it checks.

One float64 torch.nn.TransformerEncoderLayer(d=8, nhead=2, dim_feedforward=16,
dropout=0.0, activation="relu", batch_first=True, norm_first=True), in training
mode (dropout 0, so the same as eval, and never torch's inference fast path), gets
weights made from random numpy arrays in dlmath's layout, on x of shape (2, 5, 8).
For a random upstream gradient dout, the loss sum(dout * out) is backpropagated,
which gives dL/dx and dL/d(every parameter) for exactly that dout.

Cases: "none" (no mask), "causal" (src_mask = the upper triangle above the
diagonal: torch's True means "may NOT attend"), "padding" (src_key_padding_mask:
the last two positions of sequence 2 are padding), and "post_none",
"post_causal": the same layer with norm_first=False (post-norm), without a mask
and with the causal one. Plus a torch layer norm on (2, 3, 8) with a random dout.

Layout: "x", "dout", "param/<dlmath key>" (the 16 arrays of dlmath's params
dict), "<case>/out", "<case>/dx", "<case>/grad/<dlmath key>", "padding/keep"
(bool (2, 5): True for real positions, dlmath's mask is keep[:, None, None, :]),
"ln/x", "ln/gamma", "ln/beta", "ln/dout", "ln/out", "ln/dx", "ln/dgamma",
"ln/dbeta"; and "meta", a JSON string with the sizes and torch's version.
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "torch_transformer.npz"
N, L, D, HEADS, D_FF = 2, 5, 8, 2, 16
KEYS = ("ln1_gamma", "ln1_beta", "Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo",
        "ln2_gamma", "ln2_beta", "W1", "b1", "W2", "b2")


def random_params(rng):
    """dlmath's params dict: weights N(0, 1/fan_in), biases and layer-norm shifts N(0, 0.1^2),
    layer-norm scales 1 + N(0, 0.1^2) (so that no parameter has a special value)."""
    shapes = {key: (D,) for key in KEYS}
    shapes.update({"Wq": (D, D), "Wk": (D, D), "Wv": (D, D), "Wo": (D, D),
                   "W1": (D, D_FF), "b1": (D_FF,), "W2": (D_FF, D)})
    params = {}
    for key in KEYS:
        shape = shapes[key]
        if len(shape) == 2:
            params[key] = rng.standard_normal(shape) / np.sqrt(shape[0])
        elif key.endswith("gamma"):
            params[key] = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            params[key] = 0.1 * rng.standard_normal(shape)
    return params


def torch_layer(params, norm_first=True):
    """The torch layer with dlmath's weights, following the mapping in dlmath.transformer's docstrings."""
    layer = torch.nn.TransformerEncoderLayer(
        D, HEADS, D_FF, dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first,
        dtype=torch.float64,
    )
    t = {key: torch.tensor(value) for key, value in params.items()}
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([t["Wq"].T, t["Wk"].T, t["Wv"].T], dim=0))
        layer.self_attn.in_proj_bias.copy_(torch.cat([t["bq"], t["bk"], t["bv"]]))
        layer.self_attn.out_proj.weight.copy_(t["Wo"].T)
        layer.self_attn.out_proj.bias.copy_(t["bo"])
        layer.linear1.weight.copy_(t["W1"].T)
        layer.linear1.bias.copy_(t["b1"])
        layer.linear2.weight.copy_(t["W2"].T)
        layer.linear2.bias.copy_(t["b2"])
        layer.norm1.weight.copy_(t["ln1_gamma"])
        layer.norm1.bias.copy_(t["ln1_beta"])
        layer.norm2.weight.copy_(t["ln2_gamma"])
        layer.norm2.bias.copy_(t["ln2_beta"])
    layer.train()
    return layer


def dlmath_grads(layer):
    """The gradients torch accumulated, in dlmath's layout (transposed and split)."""
    attn = layer.self_attn
    w_in = attn.in_proj_weight.grad.numpy()    # (3d, d): rows of Wq^T, Wk^T, Wv^T
    b_in = attn.in_proj_bias.grad.numpy()
    return {
        "ln1_gamma": layer.norm1.weight.grad.numpy(), "ln1_beta": layer.norm1.bias.grad.numpy(),
        "Wq": w_in[:D].T, "bq": b_in[:D],
        "Wk": w_in[D:2 * D].T, "bk": b_in[D:2 * D],
        "Wv": w_in[2 * D:].T, "bv": b_in[2 * D:],
        "Wo": attn.out_proj.weight.grad.numpy().T, "bo": attn.out_proj.bias.grad.numpy(),
        "ln2_gamma": layer.norm2.weight.grad.numpy(), "ln2_beta": layer.norm2.bias.grad.numpy(),
        "W1": layer.linear1.weight.grad.numpy().T, "b1": layer.linear1.bias.grad.numpy(),
        "W2": layer.linear2.weight.grad.numpy().T, "b2": layer.linear2.bias.grad.numpy(),
    }


def run_case(params, x, dout, src_mask=None, src_key_padding_mask=None, norm_first=True):
    layer = torch_layer(params, norm_first)
    xt = torch.tensor(x, requires_grad=True)
    out = layer(xt, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask)
    (out * torch.tensor(dout)).sum().backward()
    grads = dlmath_grads(layer)
    return out.detach().numpy(), xt.grad.numpy(), grads


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(20261211)
    params = random_params(rng)
    x = rng.standard_normal((N, L, D))
    dout = rng.standard_normal((N, L, D))
    arrays = {"x": x, "dout": dout}
    arrays.update({f"param/{key}": value for key, value in params.items()})

    keep = np.ones((N, L), dtype=bool)
    keep[1, -2:] = False                       # sequence 2: the last two positions are padding
    cases = {
        "none": {},
        # torch: True where attention is NOT allowed (above the diagonal: the future)
        "causal": {"src_mask": torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)},
        "padding": {"src_key_padding_mask": torch.tensor(~keep)},
        # the post-norm layer (norm_first=False), for dlmath's transformer_block_post_norm_*
        "post_none": {"norm_first": False},
        "post_causal": {"norm_first": False,
                        "src_mask": torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)},
    }
    arrays["padding/keep"] = keep
    for name, masks in cases.items():
        out, dx, grads = run_case(params, x, dout, **masks)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
        arrays[f"{name}/out"] = out
        arrays[f"{name}/dx"] = dx
        arrays.update({f"{name}/grad/{key}": value for key, value in grads.items()})

    # layer norm alone, on a 3-D input (normalized over the last axis)
    ln_x = 3.0 * rng.standard_normal((2, 3, D)) + 1.0
    ln_gamma, ln_beta = 1.0 + 0.1 * rng.standard_normal(D), 0.1 * rng.standard_normal(D)
    ln_dout = rng.standard_normal((2, 3, D))
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (ln_x, ln_gamma, ln_beta))
    ln_out = torch.nn.functional.layer_norm(xt, (D,), gt, bt, eps=1e-5)
    (ln_out * torch.tensor(ln_dout)).sum().backward()
    arrays.update({
        "ln/x": ln_x, "ln/gamma": ln_gamma, "ln/beta": ln_beta, "ln/dout": ln_dout,
        "ln/out": ln_out.detach().numpy(), "ln/dx": xt.grad.numpy(),
        "ln/dgamma": gt.grad.numpy(), "ln/dbeta": bt.grad.numpy(),
    })

    meta = {"N": N, "L": L, "d": D, "num_heads": HEADS, "d_ff": D_FF, "eps": 1e-5,
            "torch": torch.__version__, "cases": list(cases)}
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({len(arrays)} arrays) with torch {torch.__version__}")


if __name__ == "__main__":
    main()
