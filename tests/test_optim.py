"""Tests for dlmath.optim (chapter 6): torch's steps, hand-computed steps, convergence, bad input.

tests/data/torch_optim.npz was written by scripts/torch_reference/optim.py with
torch.optim (torch is not needed to run these tests).
"""
import copy
import json
import math
import pathlib

import numpy as np
import pytest

from dlmath import backprop, optim
from dlmath.optim import (
    adagrad_step,
    adam_step,
    clip_grad_norm,
    gd_step,
    momentum_step,
    rmsprop_step,
)

DATA = np.load(pathlib.Path(__file__).parent / "data" / "torch_optim.npz")
META = json.loads(str(DATA["meta"]))
SETTINGS = META["settings"]
CLIP_CASES = META["clip"]
STEPS = {
    "gd_step": gd_step,
    "momentum_step": momentum_step,
    "adagrad_step": adagrad_step,
    "rmsprop_step": rmsprop_step,
    "adam_step": adam_step,
}
# float64 steps agree with torch to rounding (a few ulps after 20 steps); float32 to float32 rounding
# (values of order 1: atol 1e-6 is about 10 float32 ulps near 1, for a parameter that crosses 0)
TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-15), "float32": dict(rtol=1e-5, atol=1e-6)}
ALL_STEPS = list(STEPS.values())


def _torch_hyper(setting):
    hyper = dict(SETTINGS[setting]["hyper"])
    if "betas" in hyper:
        hyper["betas"] = tuple(hyper["betas"])
    return hyper


# --------------------------------------------------------------------------
# Every step against torch.optim
# --------------------------------------------------------------------------

def test_reference_covers_every_optimizer_and_option():
    functions = {s["function"] for s in SETTINGS.values()}
    assert functions == set(STEPS)
    hypers = [s["hyper"] for s in SETTINGS.values()]
    assert any(h.get("nesterov") for h in hypers)
    assert any(h.get("decoupled") for h in hypers)
    assert any(h.get("weight_decay") and not h.get("decoupled") for h in hypers)
    assert {s["dtype"] for s in SETTINGS.values()} == {"float32", "float64"}
    assert META["steps"] >= 20


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_steps_match_torch(setting):
    spec = SETTINGS[setting]
    step_fn, hyper, keys = STEPS[spec["function"]], _torch_hyper(setting), spec["keys"]
    tol = TOLERANCE[spec["dtype"]]
    series = {k: DATA[f"{setting}/{k}/params"] for k in keys}
    grads_series = {k: DATA[f"{setting}/{k}/grads"] for k in keys}
    assert series["W"].dtype == np.dtype(spec["dtype"])
    params = {k: series[k][0] for k in keys}
    state = None
    for t in range(META["steps"]):
        grads = {k: grads_series[k][t] for k in keys}
        # torch's parameters and ours agree at every step, so the gradients torch used are ours too
        for k in keys:
            np.testing.assert_allclose(params[k], series[k][t], **tol)
        params, state = step_fn(params, grads, state, **hyper)
        assert state["step"] == t + 1
        for k in keys:
            assert params[k].dtype == np.dtype(spec["dtype"])
            np.testing.assert_allclose(params[k], series[k][t + 1], **tol, err_msg=f"{setting} {k} step {t + 1}")
            for name in spec["state"]:
                np.testing.assert_allclose(
                    state[name][k], DATA[f"{setting}/{k}/state/{name}"][t], **tol,
                    err_msg=f"{setting} state {name} {k} step {t + 1}",
                )
                assert state[name][k].dtype == np.dtype(spec["dtype"])


@pytest.mark.parametrize("case", sorted(CLIP_CASES))
def test_clip_grad_norm_matches_torch(case):
    keys, max_norm = CLIP_CASES[case]["keys"], CLIP_CASES[case]["max_norm"]
    grads = {k: DATA[f"clip/{case}/{k}/grad"] for k in keys}
    clipped, total = clip_grad_norm(grads, max_norm)
    assert isinstance(total, float)
    assert total == pytest.approx(float(DATA[f"clip/{case}/total_norm"]), rel=1e-14, abs=0)
    for k in keys:
        np.testing.assert_allclose(clipped[k], DATA[f"clip/{case}/{k}/clipped"], rtol=1e-14, atol=0)


def test_clip_at_max_norm_still_scales_like_torch():
    # torch's scale is max_norm / (norm + 1e-6): just below 1 when the norm equals max_norm
    keys, max_norm = CLIP_CASES["at_max_norm"]["keys"], CLIP_CASES["at_max_norm"]["max_norm"]
    grads = {k: DATA[f"clip/at_max_norm/{k}/grad"] for k in keys}
    clipped, total = clip_grad_norm(grads, max_norm)
    scale = clipped["W"][0, 0] / grads["W"][0, 0]
    assert scale < 1.0
    assert scale == pytest.approx(max_norm / (total + 1e-6), rel=1e-15)


# --------------------------------------------------------------------------
# First steps by hand
# --------------------------------------------------------------------------

P = {"w": np.array([1.0, -2.0])}
G = {"w": np.array([0.5, 4.0])}


def test_gd_first_step_by_hand():
    new, state = gd_step(P, G, None, lr=0.1)
    np.testing.assert_allclose(new["w"], [1.0 - 0.05, -2.0 - 0.4], rtol=1e-15)
    assert state == {"step": 1}


def test_momentum_first_two_steps_by_hand():
    # v1 = g, theta1 = theta0 - lr g; v2 = beta v1 + g2, theta2 = theta1 - lr v2
    p1, s1 = momentum_step(P, G, None, lr=0.1, beta=0.9)
    np.testing.assert_allclose(p1["w"], [0.95, -2.4], rtol=1e-15)
    np.testing.assert_allclose(s1["velocity"]["w"], [0.5, 4.0], rtol=1e-15)
    g2 = {"w": np.array([1.0, -1.0])}
    p2, s2 = momentum_step(p1, g2, s1, lr=0.1, beta=0.9)
    np.testing.assert_allclose(s2["velocity"]["w"], [0.45 + 1.0, 3.6 - 1.0], rtol=1e-15)
    np.testing.assert_allclose(p2["w"], [0.95 - 0.145, -2.4 - 0.26], rtol=1e-14)


def test_nesterov_first_step_by_hand():
    # v1 = g; step g + beta v1 = (1 + beta) g
    p1, _ = momentum_step(P, G, None, lr=0.1, beta=0.9, nesterov=True)
    np.testing.assert_allclose(p1["w"], [1.0 - 0.1 * 1.9 * 0.5, -2.0 - 0.1 * 1.9 * 4.0], rtol=1e-15)


def test_adagrad_first_step_is_lr_times_sign():
    # G1 = g^2, so g / sqrt(G1) = sign(g): every coordinate moves by lr (up to eps)
    p1, s1 = adagrad_step(P, G, None, lr=0.1)
    np.testing.assert_allclose(s1["sum_sq"]["w"], [0.25, 16.0], rtol=1e-15)
    np.testing.assert_allclose(p1["w"], [0.9, -2.1], rtol=1e-9)
    # second step with the same gradient: G2 = 2 g^2, step lr / sqrt(2)
    p2, _ = adagrad_step(p1, G, s1, lr=0.1)
    np.testing.assert_allclose(p2["w"], [0.9 - 0.1 / math.sqrt(2), -2.1 - 0.1 / math.sqrt(2)], rtol=1e-9)


def test_rmsprop_first_step_is_lr_over_sqrt_one_minus_alpha():
    # s1 = (1 - alpha) g^2, so the first step is lr sign(g) / sqrt(1 - alpha): 10 lr for alpha = 0.99
    p1, s1 = rmsprop_step(P, G, None, lr=0.01, alpha=0.99)
    np.testing.assert_allclose(s1["square_avg"]["w"], [0.01 * 0.25, 0.01 * 16.0], rtol=1e-13)
    np.testing.assert_allclose(p1["w"], [1.0 - 0.1, -2.0 + -0.1], rtol=1e-7)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)])
def test_adam_first_step_is_lr_times_sign(betas):
    # bias correction makes m_hat = g and v_hat = g^2 at t = 1, whatever the betas
    p1, s1 = adam_step(P, G, None, lr=0.01, betas=betas)
    np.testing.assert_allclose(p1["w"], [0.99, -2.01], rtol=1e-8)
    np.testing.assert_allclose(s1["m"]["w"], (1 - betas[0]) * G["w"], rtol=1e-15)
    np.testing.assert_allclose(s1["v"]["w"], (1 - betas[1]) * G["w"] ** 2, rtol=1e-15)


def test_adam_l2_and_adamw_first_steps_by_hand():
    lr, lam = 0.01, 0.5
    # L2: the gradient becomes g + lam theta = [1.0, 3.0]; the first Adam step is lr sign of that
    p_l2, _ = adam_step(P, G, None, lr=lr, weight_decay=lam)
    np.testing.assert_allclose(p_l2["w"], [1.0 - lr, -2.0 - lr], rtol=1e-8)
    # AdamW: theta (1 - lr lam) - lr sign(g)
    p_w, _ = adam_step(P, G, None, lr=lr, weight_decay=lam, decoupled=True)
    np.testing.assert_allclose(p_w["w"], [1.0 * 0.995 - lr, -2.0 * 0.995 - lr], rtol=1e-8)


def test_adam_l2_differs_from_adamw_where_the_gradient_is_zero():
    # a coordinate with no gradient: L2-under-Adam moves it by lr (the normalized decay),
    # AdamW by lr * lam * theta; they agree only for plain gradient descent
    p = {"w": np.array([2.0])}
    g = {"w": np.array([0.0])}
    p_l2, _ = adam_step(p, g, None, lr=0.1, weight_decay=0.01)
    p_w, _ = adam_step(p, g, None, lr=0.1, weight_decay=0.01, decoupled=True)
    np.testing.assert_allclose(p_l2["w"], [2.0 - 0.1], rtol=1e-6)  # eps / |g| = 5e-7 off lr
    np.testing.assert_allclose(p_w["w"], [2.0 * (1 - 0.001)], rtol=1e-15)


def test_zero_gradient_coordinate_stays_put():
    p = {"w": np.array([3.0, 1.0])}
    g = {"w": np.array([0.0, 1.0])}
    for step_fn in ALL_STEPS:
        new, state = step_fn(p, g, None)
        for _ in range(5):
            new, state = step_fn(new, g, state)
        assert new["w"][0] == 3.0
        assert np.all(np.isfinite(new["w"]))


def test_gd_step_equals_sgd_step():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    grads = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    new, _ = gd_step(params, grads, None, lr=0.3)
    old = backprop.sgd_step(params, grads, 0.3)
    for k in params:
        np.testing.assert_array_equal(new[k], old[k])


def test_sgd_step_keeps_its_stricter_lr_check():
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        backprop.sgd_step(P, G, 0.0)
    new, _ = gd_step(P, G, None, lr=0.0)  # allowed here, as in torch
    np.testing.assert_array_equal(new["w"], P["w"])


# --------------------------------------------------------------------------
# Long runs reach the optimum of a known quadratic
# --------------------------------------------------------------------------

# f(w) = 1/2 w^T A w - b^T w, minimum at w* = A^{-1} b; eigenvalues 1 and 10 (kappa = 10)
Q = np.array([[0.6, 0.8], [-0.8, 0.6]])
A = Q @ np.diag([1.0, 10.0]) @ Q.T
B = np.array([1.0, -2.0])
W_STAR = np.linalg.solve(A, B)
LONG_RUNS = [
    (gd_step, {"lr": 2 / 11}, 300),  # the best fixed step 2 / (lambda_min + lambda_max)
    (gd_step, {"lr": 0.05}, 2000),
    (momentum_step, {"lr": 4 / (1 + math.sqrt(10)) ** 2, "beta": ((math.sqrt(10) - 1) / (math.sqrt(10) + 1)) ** 2}, 200),
    (momentum_step, {"lr": 0.05, "beta": 0.5, "nesterov": True}, 1000),
    (adagrad_step, {"lr": 0.5}, 3000),
    (rmsprop_step, {"lr": 1e-3, "alpha": 0.9}, 8000),
    (adam_step, {"lr": 0.01}, 3000),
]


@pytest.mark.parametrize("step_fn, hyper, n", LONG_RUNS, ids=lambda v: getattr(v, "__name__", None))
def test_long_run_reaches_the_quadratic_minimum(step_fn, hyper, n):
    params, state = {"w": np.array([3.0, 3.0])}, None
    for _ in range(n):
        params, state = step_fn(params, {"w": A @ params["w"] - B}, state, **hyper)
    assert np.linalg.norm(params["w"] - W_STAR) < 1e-2
    assert state["step"] == n


def test_gd_contracts_at_the_derived_rate():
    # with the best step, the error shrinks by (kappa - 1) / (kappa + 1) = 9/11 per step (at worst)
    params, state, errors = {"w": np.array([3.0, 3.0])}, None, []
    for _ in range(60):
        errors.append(np.linalg.norm(params["w"] - W_STAR))
        params, state = gd_step(params, {"w": A @ params["w"] - B}, state, lr=2 / 11)
    ratios = np.array(errors[1:]) / np.array(errors[:-1])
    np.testing.assert_allclose(ratios, 9 / 11, rtol=1e-9)


def test_heavy_ball_rate_with_the_best_parameters():
    # the error after t steps is about C t rho^t with rho = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)
    # (a double eigenvalue); measured between t = 10 and t = 40, before rounding level
    rho = (math.sqrt(10) - 1) / (math.sqrt(10) + 1)
    hyper = {"lr": 4 / (1 + math.sqrt(10)) ** 2, "beta": rho**2}
    params, state, errors = {"w": np.array([3.0, 3.0])}, None, []
    for _ in range(41):
        errors.append(np.linalg.norm(params["w"] - W_STAR))
        params, state = momentum_step(params, {"w": A @ params["w"] - B}, state, **hyper)
    measured = (errors[40] / errors[10]) ** (1 / 30)
    predicted = rho * (40 / 10) ** (1 / 30)  # the factor t of the double eigenvalue
    assert abs(measured - predicted) < 0.01
    assert measured < 0.6 < 9 / 11  # far faster than gradient descent's best rate


# --------------------------------------------------------------------------
# State in, state out; nothing modified in place
# --------------------------------------------------------------------------

@pytest.mark.parametrize("step_fn", ALL_STEPS, ids=lambda f: f.__name__)
def test_nothing_is_modified_in_place(step_fn):
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    grads = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    p1, s1 = step_fn(params, grads, None)
    before = copy.deepcopy((params, grads, p1, s1))
    p2, s2 = step_fn(p1, grads, s1)
    for (a, b) in [(params, before[0]), (grads, before[1]), (p1, before[2])]:
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert s1["step"] == before[3]["step"] == 1
    for name in s1:
        if name != "step":
            for k in s1[name]:
                np.testing.assert_array_equal(s1[name][k], before[3][name][k])
                assert s2[name][k] is not s1[name][k]
    for k in params:
        assert p2[k] is not p1[k] and p1[k] is not params[k]


@pytest.mark.parametrize("step_fn", ALL_STEPS, ids=lambda f: f.__name__)
def test_old_state_replays_the_same_step(step_fn):
    rng = np.random.default_rng(1)
    params = {"w": rng.normal(size=4)}
    g1, g2 = {"w": rng.normal(size=4)}, {"w": rng.normal(size=4)}
    p1, s1 = step_fn(params, g1, None)
    first, _ = step_fn(p1, g2, s1)
    again, _ = step_fn(p1, g2, s1)
    np.testing.assert_array_equal(first["w"], again["w"])


@pytest.mark.parametrize("step_fn", [momentum_step, adagrad_step, rmsprop_step, adam_step], ids=lambda f: f.__name__)
def test_state_carries_the_history(step_fn):
    # a fresh state instead of the returned one gives a different second step
    params, g1, g2 = {"w": np.array([1.0, 2.0])}, {"w": np.array([0.3, -0.7])}, {"w": np.array([-1.0, 0.2])}
    p1, s1 = step_fn(params, g1, None)
    with_state, _ = step_fn(p1, g2, s1)
    without, _ = step_fn(p1, g2, None)
    assert not np.allclose(with_state["w"], without["w"], rtol=1e-6, atol=0)


def test_state_keys():
    p, g = {"a": np.ones(2), "b": np.ones((1, 3))}, {"a": np.ones(2), "b": np.ones((1, 3))}
    assert set(gd_step(p, g)[1]) == {"step"}
    assert set(momentum_step(p, g)[1]) == {"step", "velocity"}
    assert set(adagrad_step(p, g)[1]) == {"step", "sum_sq"}
    assert set(rmsprop_step(p, g)[1]) == {"step", "square_avg"}
    _, s = adam_step(p, g)
    assert set(s) == {"step", "m", "v"} and set(s["m"]) == {"a", "b"}
    assert s["v"]["b"].shape == (1, 3)


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------

@pytest.mark.parametrize("step_fn", ALL_STEPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(step_fn, dtype):
    params = {"w": np.array([1.0, -2.0], dtype=dtype)}
    grads = {"w": np.array([0.5, 4.0], dtype=dtype)}
    p, s = step_fn(params, grads, None)
    p, s = step_fn(p, grads, s)
    assert p["w"].dtype == dtype
    for name in s:
        if name != "step":
            assert s[name]["w"].dtype == dtype


@pytest.mark.parametrize("step_fn", ALL_STEPS, ids=lambda f: f.__name__)
def test_integer_input_becomes_float64(step_fn):
    p, s = step_fn({"w": [1, 2]}, {"w": [1, -1]}, None)
    assert p["w"].dtype == np.float64


def test_float32_kept_with_numpy_scalar_hyper_parameters():
    params = {"w": np.ones(2, np.float32)}
    p, _ = adam_step(params, params, None, lr=np.float64(0.1), betas=(np.float64(0.9), 0.99))
    assert p["w"].dtype == np.float32
    p, _ = momentum_step(params, params, None, lr=np.float64(0.1), beta=np.float64(0.5))
    assert p["w"].dtype == np.float32


# --------------------------------------------------------------------------
# clip_grad_norm
# --------------------------------------------------------------------------

@pytest.mark.parametrize("magnitude", [1e200, 1e300, 5e307, 1e-200, 5e-324])
def test_clip_grad_norm_no_overflow_or_underflow(magnitude):
    grads = {"a": np.full((2, 2), magnitude), "b": np.full(5, -magnitude)}
    clipped, total = clip_grad_norm(grads, 1.0)
    assert math.isfinite(total)
    assert total == pytest.approx(magnitude * 3.0, rel=1e-14)  # sqrt(9) |g|
    for k in grads:
        assert np.all(np.isfinite(clipped[k]))
    if magnitude > 1:
        # every entry scaled by 1 / (3 magnitude): 1/3 in absolute value
        np.testing.assert_allclose(np.abs(clipped["a"]), 1 / 3, rtol=1e-14)
        _, new_norm = clip_grad_norm(clipped, 1.0)
        assert new_norm == pytest.approx(1.0, rel=1e-12)
    else:
        np.testing.assert_array_equal(clipped["a"], grads["a"])


def test_clip_grad_norm_beyond_the_largest_float():
    # the norm 3 * 1.7e308 is not a float, but the clipped gradients are: each 1/3 in size
    grads = {"a": np.full((2, 2), 1.7e308), "b": np.full(5, -1.7e308)}
    clipped, total = clip_grad_norm(grads, 1.0)
    assert total == math.inf
    np.testing.assert_allclose(clipped["a"], 1 / 3, rtol=1e-14)
    np.testing.assert_allclose(clipped["b"], -1 / 3, rtol=1e-14)


def test_clip_grad_norm_naive_sum_overflows_where_ours_does_not():
    g = np.full(3, 1e200)
    with np.errstate(over="ignore"):
        assert np.sqrt(np.sum(g**2)) == np.inf
    assert clip_grad_norm({"g": g}, 1.0)[1] == pytest.approx(math.sqrt(3) * 1e200, rel=1e-15)


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 5.0, 100.0])
def test_clip_grad_norm_scale_is_torchs(max_norm):
    rng = np.random.default_rng(2)
    grads = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    norm = math.sqrt(sum(float(np.sum(v**2)) for v in grads.values()))
    clipped, total = clip_grad_norm(grads, max_norm)
    assert total == pytest.approx(norm, rel=1e-14)
    scale = min(1.0, max_norm / (norm + 1e-6))
    for k in grads:
        np.testing.assert_allclose(clipped[k], grads[k] * scale, rtol=1e-14)
        assert clipped[k] is not grads[k]


def test_clip_grad_norm_float32_and_no_mutation():
    grads = {"w": np.array([3.0, 4.0], dtype=np.float32)}
    before = grads["w"].copy()
    clipped, total = clip_grad_norm(grads, 1.0)
    assert clipped["w"].dtype == np.float32
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["w"], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(grads["w"], before)


def test_clip_grad_norm_empty_and_zero():
    assert clip_grad_norm({}, 1.0) == ({}, 0.0)
    clipped, total = clip_grad_norm({"w": np.zeros(3), "e": np.zeros((0, 2))}, 1.0)
    assert total == 0.0 and clipped["e"].shape == (0, 2)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_grad_norm_non_finite_gradient(bad):
    with pytest.raises(ValueError, match=r"grads\['b'\] contains inf or nan"):
        clip_grad_norm({"a": np.ones(2), "b": np.array([1.0, bad])}, 1.0)


@pytest.mark.parametrize("max_norm", [0, -1.0, np.nan, np.inf, "1", True, None])
def test_clip_grad_norm_bad_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, max_norm)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------

BAD_HYPER = [
    (gd_step, {"lr": -0.1}, "lr must be a finite number >= 0"),
    (gd_step, {"lr": np.inf}, "lr must be a finite number >= 0"),
    (gd_step, {"lr": np.nan}, "lr must be a real number"),
    (gd_step, {"lr": "0.1"}, "lr must be a real number"),
    (gd_step, {"lr": True}, "lr must be a real number"),
    (momentum_step, {"lr": -1e-9}, "lr must be"),
    (momentum_step, {"beta": 1.0}, r"beta must be in \[0, 1\)"),
    (momentum_step, {"beta": -0.1}, r"beta must be in \[0, 1\)"),
    (momentum_step, {"beta": 0.0, "nesterov": True}, "nesterov=True needs a momentum beta > 0"),
    (momentum_step, {"nesterov": "yes"}, "nesterov must be True or False"),
    (adagrad_step, {"eps": 0.0}, "eps must be a finite number > 0"),
    (adagrad_step, {"eps": -1e-10}, "eps must be a finite number > 0"),
    (adagrad_step, {"lr": -0.01}, "lr must be"),
    (rmsprop_step, {"alpha": 1.0}, r"alpha must be in \[0, 1\)"),
    (rmsprop_step, {"alpha": 1.5}, r"alpha must be in \[0, 1\)"),
    (rmsprop_step, {"eps": 0}, "eps must be"),
    (adam_step, {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
    (adam_step, {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\)"),
    (adam_step, {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
    (adam_step, {"betas": 0.9}, "betas must be a pair"),
    (adam_step, {"betas": (0.9, 0.99, 0.999)}, "betas must be a pair"),
    (adam_step, {"eps": 0.0}, "eps must be"),
    (adam_step, {"weight_decay": -0.1}, "weight_decay must be a finite number >= 0"),
    (adam_step, {"decoupled": 1}, "decoupled must be True or False"),
    (adam_step, {"lr": -1.0}, "lr must be"),
]


@pytest.mark.parametrize("step_fn, hyper, message", BAD_HYPER)
def test_bad_hyper_parameters(step_fn, hyper, message):
    with pytest.raises(ValueError, match=message):
        step_fn({"w": np.ones(2)}, {"w": np.ones(2)}, None, **hyper)


@pytest.mark.parametrize("step_fn", ALL_STEPS, ids=lambda f: f.__name__)
def test_mismatched_keys_and_shapes_name_the_key(step_fn):
    params = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    with pytest.raises(ValueError, match=r"grads has keys \['W'\]; expected the keys of params \['W', 'b'\]"):
        step_fn(params, {"W": np.zeros((2, 3))}, None)
    with pytest.raises(ValueError, match=r"params\['b'\] has shape \(3,\) but grads\['b'\] has shape \(1, 3\)"):
        step_fn(params, {"W": np.zeros((2, 3)), "b": np.zeros((1, 3))}, None)
    with pytest.raises(TypeError, match="params must be a dict"):
        step_fn([np.zeros(3)], {"W": np.zeros(3)}, None)
    with pytest.raises(TypeError, match="must be a real numeric array"):
        step_fn({"W": np.array(["a", "b"])}, {"W": np.zeros(2)}, None)


@pytest.mark.parametrize("step_fn", [momentum_step, adagrad_step, rmsprop_step, adam_step], ids=lambda f: f.__name__)
def test_bad_state(step_fn):
    params = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    _, state = step_fn(params, params, None)
    name = next(k for k in state if k != "step")
    with pytest.raises(ValueError, match="state must be None"):
        step_fn(params, params, {"step": 1})
    with pytest.raises(ValueError, match="state must be None"):
        step_fn(params, params, [state])
    wrong_keys = dict(state, **{name: {"W": state[name]["W"]}})
    with pytest.raises(ValueError, match=rf"state\['{name}'\] has keys \['W'\]; expected the keys of params"):
        step_fn(params, params, wrong_keys)
    wrong_shape = dict(state, **{name: {"W": state[name]["W"], "b": np.zeros(4)}})
    with pytest.raises(ValueError, match=rf"params\['b'\] has shape \(3,\) but state\['{name}'\]\['b'\] has shape \(4,\)"):
        step_fn(params, params, wrong_shape)
    with pytest.raises(ValueError, match=r"state\['step'\] must be an int >= 0"):
        step_fn(params, params, dict(state, step=-1))
    with pytest.raises(ValueError, match=r"state\['step'\] must be an int >= 0"):
        step_fn(params, params, dict(state, step=1.5))
    # the state of another optimizer is not this one's
    other = adam_step if step_fn is not adam_step else momentum_step
    with pytest.raises(ValueError, match="state must be None"):
        step_fn(params, params, other(params, params, None)[1])


def test_gd_step_state():
    p, s = gd_step(P, G)
    assert s == {"step": 1}
    _, s = gd_step(p, G, s)
    assert s == {"step": 2}
    with pytest.raises(ValueError, match="state must be None"):
        gd_step(P, G, {"step": 1, "velocity": {}})


@pytest.mark.parametrize("step_fn", ALL_STEPS, ids=lambda f: f.__name__)
def test_no_warning_and_finite_for_extreme_gradients(step_fn):
    # pytest turns warnings into errors: no overflow warning for huge or tiny gradients
    params = {"w": np.array([1.0, -1.0, 0.0])}
    for g in ([1e150, -1e-150, 0.0], [1e-300, 5e-324, -1e-320]):
        new, state = step_fn(params, {"w": np.array(g)}, None, lr=0.0 if step_fn is gd_step else 1e-3)
        new, state = step_fn(new, {"w": np.array(g)}, state)
        assert np.all(np.isfinite(new["w"]))


# --------------------------------------------------------------------------
# The test problems and the derived rates
# --------------------------------------------------------------------------

def test_quadratic_by_hand_and_batched():
    A2, b2 = np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([1.0, -1.0])
    # f(1, 2) = 1/2 (2 + 2 + 2 + 12) - (1 - 2) = 9 + 1 = 10; grad = A w - b = (4, 7) - (1, -1)
    assert optim.quadratic_loss([1.0, 2.0], A2, b2) == pytest.approx(10.0, rel=1e-15)
    np.testing.assert_allclose(optim.quadratic_grad([1.0, 2.0], A2, b2), [3.0, 8.0], rtol=1e-15)
    rng = np.random.default_rng(3)
    W = rng.normal(size=(4, 5, 2))
    batch = optim.quadratic_loss(W, A2, b2)
    assert batch.shape == (4, 5)
    assert batch[2, 3] == pytest.approx(optim.quadratic_loss(W[2, 3], A2, b2), rel=1e-14)
    np.testing.assert_allclose(optim.quadratic_grad(W, A2, b2)[1, 4], optim.quadratic_grad(W[1, 4], A2, b2), rtol=1e-14)
    # the minimum is at A^{-1} b, where the gradient is zero
    np.testing.assert_allclose(optim.quadratic_grad(np.linalg.solve(A2, b2), A2, b2), 0, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quadratic_and_rosenbrock_gradients_against_finite_differences(seed):
    from dlmath import numerical_gradient, rel_error

    rng = np.random.default_rng(seed)
    M = rng.normal(size=(3, 3))
    A3, b3, w = M @ M.T + np.eye(3), rng.normal(size=3), rng.normal(size=3)
    num = numerical_gradient(lambda v: optim.quadratic_loss(v, A3, b3), w.copy(), eps=1e-5)
    assert rel_error(num, optim.quadratic_grad(w, A3, b3)) < 1e-8
    p = rng.normal(size=2)
    num = numerical_gradient(lambda v: optim.rosenbrock(v), p.copy(), eps=1e-5)
    assert rel_error(num, optim.rosenbrock_grad(p)) < 1e-7
    num = numerical_gradient(lambda v: optim.rosenbrock(v, a=-0.5, b=3.0), p.copy(), eps=1e-5)
    assert rel_error(num, optim.rosenbrock_grad(p, a=-0.5, b=3.0)) < 1e-7


def test_rosenbrock_by_hand():
    # f(0, 0) = a^2 = 1; grad (0, 0) = (-2a, 0); minimum 0 at (a, a^2)
    assert optim.rosenbrock([0.0, 0.0]) == 1.0
    np.testing.assert_array_equal(optim.rosenbrock_grad([0.0, 0.0]), [-2.0, 0.0])
    assert optim.rosenbrock([2.0, 4.0], a=2.0) == 0.0
    np.testing.assert_array_equal(optim.rosenbrock_grad([1.0, 1.0]), [0.0, 0.0])
    # f(-1, 2) = 4 + 100 * 1 = 104; df/dx = -2(2) - 400(-1)(1) = 396; df/dy = 200
    assert optim.rosenbrock([-1.0, 2.0]) == 104.0
    np.testing.assert_array_equal(optim.rosenbrock_grad([-1.0, 2.0]), [396.0, 200.0])
    assert optim.rosenbrock(np.zeros((3, 4, 2))).shape == (3, 4)
    assert optim.rosenbrock_grad(np.zeros((3, 4, 2))).shape == (3, 4, 2)


def test_problem_bad_input():
    with pytest.raises(ValueError, match="A must be symmetric"):
        optim.quadratic_grad([1.0, 2.0], [[1.0, 2.0], [0.0, 1.0]], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"b has shape \(3,\); expected \(2,\)"):
        optim.quadratic_loss([1.0, 2.0], np.eye(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"w has shape \(3,\)"):
        optim.quadratic_loss([1.0, 2.0, 3.0], np.eye(2), np.zeros(2))
    with pytest.raises(ValueError, match="A must be a square"):
        optim.quadratic_grad([1.0, 2.0], np.ones((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"w has shape \(3,\); expected \(2,\)"):
        optim.rosenbrock([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="b must be"):
        optim.rosenbrock([1.0, 2.0], b=-1.0)


def test_quadratic_float32_kept():
    A32 = np.eye(2, dtype=np.float32)
    g = optim.quadratic_grad(np.ones(2, np.float32), A32, np.zeros(2, np.float32))
    assert g.dtype == np.float32
    assert optim.rosenbrock_grad(np.ones(2, np.float32)).dtype == np.float32


def test_gd_contraction_and_optimal_gd():
    assert optim.gd_contraction(0.1, [1.0, 10.0]) == pytest.approx(0.9)
    assert optim.gd_contraction(0.25, [1.0, 10.0]) == pytest.approx(1.5)   # unstable: above 2/lambda_max
    lr, rate = optim.optimal_gd(1.0, 10.0)
    assert lr == pytest.approx(2 / 11) and rate == pytest.approx(9 / 11)
    assert optim.gd_contraction(lr, [1.0, 4.0, 10.0]) == pytest.approx(rate)
    # the best step beats every other step on a fine grid
    grid = np.linspace(0.01, 0.3, 2901)
    assert min(optim.gd_contraction(e, [1.0, 10.0]) for e in grid) == pytest.approx(rate, abs=1e-3)
    assert optim.optimal_gd(2.0, 2.0) == (0.5, 0.0)


def test_optimal_heavy_ball_is_the_best_on_a_grid():
    lr, beta, rate = optim.optimal_heavy_ball(1.0, 100.0)
    assert rate == pytest.approx(9 / 11) and beta == pytest.approx((9 / 11) ** 2)
    assert lr == pytest.approx(4 / 121)
    spectrum = np.linspace(1.0, 100.0, 200)
    assert optim.momentum_contraction(lr, beta, spectrum) == pytest.approx(rate, rel=1e-6)
    best = min(
        optim.momentum_contraction(e, b, [1.0, 100.0])
        for e in np.linspace(0.005, 0.06, 56) for b in np.linspace(0.0, 0.95, 96)
    )
    assert best >= rate - 1e-6
    assert best == pytest.approx(rate, abs=0.01)


# (lr, beta, nesterov); Nesterov needs beta > 0, so beta = 0 is run for the heavy ball only
MOMENTUM_RATE_CASES = [
    (lr, beta, nesterov)
    for nesterov in (False, True)
    for lr, beta in [(0.05, 0.9), (0.15, 0.5), (0.19, 0.3), (0.02, 0.0)]
    if beta > 0 or not nesterov
]


@pytest.mark.parametrize("lr, beta, nesterov", MOMENTUM_RATE_CASES)
def test_momentum_contraction_is_the_measured_rate(lr, beta, nesterov):
    rho = optim.momentum_contraction(lr, beta, [1.0, 10.0], nesterov=nesterov)
    params, state, errors = {"w": np.array([3.0, 3.0])}, None, []
    for _ in range(400):
        errors.append(np.linalg.norm(params["w"] - W_STAR))
        params, state = momentum_step(params, {"w": A @ params["w"] - B}, state, lr=lr, beta=beta, nesterov=nesterov)
    # measured over the second half of the steps before the error reaches rounding level
    n = max(t for t, e in enumerate(errors) if e > 1e-11)
    assert n >= 40
    measured = (errors[n] / errors[n // 2]) ** (1 / (n - n // 2))
    assert measured == pytest.approx(rho, abs=0.02)


def test_nesterov_rate_with_the_standard_parameters():
    # lr = 1/lambda_max, beta = (sqrt(kappa) - 1) / (sqrt(kappa) + 1): rate 1 - 1/sqrt(kappa)
    kappa = 100.0
    beta = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    rate = optim.momentum_contraction(1.0, beta, np.linspace(1 / kappa, 1.0, 500), nesterov=True)
    assert rate == pytest.approx(1 - 1 / math.sqrt(kappa), rel=1e-6)


def test_rates_bad_input():
    with pytest.raises(ValueError, match="need lam_min <= lam_max"):
        optim.optimal_gd(2.0, 1.0)
    with pytest.raises(ValueError, match="lam_min must be a finite number > 0"):
        optim.optimal_heavy_ball(0.0, 1.0)
    with pytest.raises(ValueError, match="eigenvalues must be finite and >= 0"):
        optim.gd_contraction(0.1, [1.0, -2.0])
    with pytest.raises(ValueError, match="eigenvalues must be finite and >= 0"):
        optim.momentum_contraction(0.1, 0.5, [])
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        optim.momentum_contraction(0.1, 1.0, [1.0])


def test_run_optimizer():
    path = optim.run_optimizer(gd_step, lambda w: A @ w - B, [3.0, 3.0], 50, lr=2 / 11)
    assert path.shape == (51, 2)
    np.testing.assert_array_equal(path[0], [3.0, 3.0])
    w, state = {"w": np.array([3.0, 3.0])}, None
    for t in range(50):
        w, state = gd_step(w, {"w": A @ w["w"] - B}, state, lr=2 / 11)
    np.testing.assert_array_equal(path[-1], w["w"])
    # a diverging run stops once a coordinate passes the bound, before any overflow
    path = optim.run_optimizer(gd_step, lambda w: A @ w - B, [3.0, 3.0], 10_000, bound=1e6, lr=0.5)
    assert len(path) < 100 and np.max(np.abs(path[-1])) > 1e6 and np.max(np.abs(path[-2])) <= 1e6
    assert optim.run_optimizer(adam_step, optim.rosenbrock_grad, [-1.2, 1.0], 0).shape == (1, 2)
    with pytest.raises(ValueError, match="num_steps must be >= 0"):
        optim.run_optimizer(gd_step, optim.rosenbrock_grad, [0.0, 0.0], -1)


# --------------------------------------------------------------------------
# non-finite input and overflow: a clear error, never an inf or nan network
# --------------------------------------------------------------------------

STEPS_WITH_HYPER = [
    (optim.gd_step, {"lr": 10.0}),
    (optim.momentum_step, {"lr": 10.0, "beta": 0.9}),
    (optim.momentum_step, {"lr": 10.0, "beta": 0.9, "nesterov": True}),
    (optim.adagrad_step, {"lr": 0.1}),
    (optim.rmsprop_step, {"lr": 0.1}),
    (optim.adam_step, {"lr": 0.1}),
    (optim.adam_step, {"lr": 0.1, "weight_decay": 0.01, "decoupled": True}),
]


@pytest.mark.parametrize("step, hyper", STEPS_WITH_HYPER)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("where", ["params", "grads"])
def test_non_finite_params_or_grads_are_errors(step, hyper, bad, where):
    params, grads = {"w": np.array([1.0, 2.0])}, {"w": np.array([0.5, -0.5])}
    {"params": params, "grads": grads}[where]["w"][1] = bad
    with pytest.raises(ValueError, match=rf"{where}\['w'\] .* inf or nan"):
        step(params, grads, None, **hyper)


@pytest.mark.parametrize("step, hyper", STEPS_WITH_HYPER)
def test_a_step_that_overflows_is_an_error(step, hyper):
    # a gradient of 1e200 has a square of 1e400 (AdaGrad, RMSprop, Adam), and
    # 10 * 1e308 is beyond float64 (gradient descent, momentum)
    g = 1e308 if step in (optim.gd_step, optim.momentum_step) else 1e200
    with pytest.raises(ValueError, match="overflows float64 .*clip the gradients"):
        step({"w": np.array([1.0])}, {"w": np.array([g])}, None, **hyper)


def test_sgd_step_overflow_is_an_error():
    from dlmath.backprop import sgd_step
    with pytest.raises(ValueError, match="sgd_step: the new params\\['w'\\] overflows"):
        sgd_step({"w": np.array([1.0])}, {"w": np.array([1e308])}, lr=10.0)
