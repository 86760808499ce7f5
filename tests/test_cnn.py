"""Tests for dlmath.cnn: the composed network against its layers, finite differences,
the input gradients (saliency, FGSM), the training loop and the confusion matrix."""
import numpy as np
import pytest

from dlmath import backprop as bp
from dlmath import cnn, conv, optim
from dlmath.activations import relu
from dlmath.gradcheck import numerical_gradient
from dlmath.losses import cross_entropy, cross_entropy_grad

# (image_shape, channels, kernel_size, num_classes)
ARCHITECTURES = [
    ((1, 8, 8), (16, 32), 3, 10),     # the chapter's network
    ((1, 8, 8), (4,), 5, 3),          # one convolution, a 5 x 5 kernel
    ((2, 7, 6), (3, 2), 3, 4),        # two channels in, odd sizes (pooling rounds down)
    ((1, 8, 8), (2, 3, 2), 1, 5),     # three blocks of 1 x 1 convolutions: 8 -> 4 -> 2 -> 1
]


def small_problem(image_shape, channels, kernel_size, num_classes, n=5, seed=0):
    rng = np.random.default_rng(seed)
    params = cnn.init_cnn(rng, image_shape, channels, kernel_size, num_classes)
    # non-zero biases, so that their gradients are tested too
    for key in params:
        if key.startswith("b"):
            params[key] = 0.1 * rng.standard_normal(params[key].shape)
    x = rng.random((n,) + tuple(image_shape))
    labels = rng.integers(0, num_classes, n)
    return params, x, labels


def norm_rel_error(a, b):
    """||a - b|| / (||a|| + ||b||): the relative error of the whole gradient.

    dlmath.rel_error takes the worst entry, and a composed network has entries
    of 1e-4 and less, whose rounding error alone (about 1e-10 for a loss of
    order 1 and a step of 1e-6) is then a large fraction of the entry."""
    return np.linalg.norm(a - b) / max(1e-300, np.linalg.norm(a) + np.linalg.norm(b))


def forward_from_naive_layers(params, x):
    """The network written out with chapter 7's naive loops and numpy's relu."""
    h = x
    last = len(params) // 2
    for layer in range(1, last):
        w = params[f"w{layer}"]
        z, _ = conv.conv2d_forward_naive(h, w, params[f"b{layer}"], 1, (w.shape[-1] - 1) // 2)
        h, _ = conv.maxpool2d_forward_naive(relu(z), 2, 2)
    return h.reshape(len(x), -1) @ params[f"W{last}"] + params[f"b{last}"]


# ------------------------------------------------------------------ shapes, init

def test_the_chapters_network_has_these_shapes():
    assert cnn.cnn_shapes() == {
        "w1": (16, 1, 3, 3), "b1": (16,),
        "w2": (32, 16, 3, 3), "b2": (32,),
        "W3": (32 * 2 * 2, 10), "b3": (10,),
    }
    # 1 x 1 convolutions, three blocks: 8 -> 4 -> 2 -> 1
    assert cnn.cnn_shapes((1, 8, 8), (2, 3, 2), 1, 5)["W4"] == (2, 5)
    # pooling rounds down: 7 x 6 -> 3 x 3 -> 1 x 1
    assert cnn.cnn_shapes((2, 7, 6), (3, 2), 3, 4)["W3"] == (2, 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel_size=4), "kernel_size must be odd"),
    (dict(channels=()), "at least one convolution"),
    (dict(channels=(4, 4, 4, 4)), "too small"),
    (dict(image_shape=(8, 8)), r"image_shape must be \(C, H, W\)"),
    (dict(num_classes=0), "num_classes must be >= 1"),
])
def test_impossible_architectures_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.cnn_shapes(**kwargs)


def test_init_is_he_with_zero_biases_and_seeded():
    params = cnn.init_cnn(0, (1, 8, 8), (64, 64), 3, 10)
    again = cnn.init_cnn(0, (1, 8, 8), (64, 64), 3, 10)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert all(np.all(params[k] == 0) for k in ("b1", "b2", "b3"))
    # standard deviations sqrt(2 / fan_in): fan-ins 9, 64 * 9 = 576 and 64 * 2 * 2 = 256
    for key, fan_in in [("w1", 9), ("w2", 576), ("W3", 256)]:
        assert abs(params[key].std() / np.sqrt(2.0 / fan_in) - 1) < 0.1, key
    assert all(params[k].dtype == np.float64 for k in params)


def test_params_with_wrong_keys_are_rejected():
    params, x, _ = small_problem(*ARCHITECTURES[0])
    del params["b2"]
    with pytest.raises(ValueError, match="params has keys"):
        cnn.cnn_forward(params, x)
    with pytest.raises(ValueError, match="must be 4-D"):
        cnn.cnn_forward(cnn.init_cnn(0), np.zeros((2, 64)))


# ---------------------------------------------------------------- forward

@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forward_matches_the_naive_layers(arch):
    params, x, _ = small_problem(*arch)
    logits, _ = cnn.cnn_forward(params, x)
    assert logits.shape == (len(x), arch[3])
    np.testing.assert_allclose(logits, forward_from_naive_layers(params, x), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(cnn.cnn_logits(params, x), logits)
    np.testing.assert_array_equal(cnn.cnn_predict(params, x), np.argmax(logits, axis=1))
    probs = cnn.predict_proba(cnn.cnn_logits, params, x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)


def test_forward_does_not_modify_its_inputs_and_keeps_float32():
    params, x, _ = small_problem(*ARCHITECTURES[2])
    copies = {k: v.copy() for k, v in params.items()}, x.copy()
    cnn.cnn_forward(params, x)
    assert all(np.array_equal(params[k], copies[0][k]) for k in params)
    np.testing.assert_array_equal(x, copies[1])
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    logits, cache = cnn.cnn_forward(params32, x.astype(np.float32))
    assert logits.dtype == np.float32
    dx, grads = cnn.cnn_backward(np.ones_like(logits), cache)
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


# ---------------------------------------------------------------- backward

@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_backward_matches_finite_differences_for_every_parameter_and_the_input(arch):
    params, x, labels = small_problem(*arch, n=3, seed=1)
    loss, grads = cnn.cnn_loss_and_grads(params, x, labels)
    logits, cache = cnn.cnn_forward(params, x)
    assert loss == cross_entropy(logits, labels)
    dx, grads_again = cnn.cnn_backward(cross_entropy_grad(logits, labels), cache)
    assert list(grads) == list(params) == list(grads_again)
    for key in params:
        assert grads[key].shape == params[key].shape
        np.testing.assert_array_equal(grads[key], grads_again[key])

    def loss_of(_):
        return cnn.cnn_loss_and_grads(params, x, labels)[0]

    # relu and max pooling have kinks; these seeds and the default step of 1e-6
    # cross none of them (a crossing would show as an error of order 0.1 or more)
    for key in params:
        assert norm_rel_error(grads[key], numerical_gradient(loss_of, params[key])) < 1e-7, key
    assert norm_rel_error(dx, numerical_gradient(loss_of, x)) < 1e-7


def test_backward_is_the_layers_backward_passes_in_reverse():
    # one block written out by hand with chapter 5 and 7's functions
    params, x, labels = small_problem((1, 6, 6), (3,), 3, 4, n=4, seed=2)
    z, c_conv = conv.conv2d_forward(x, params["w1"], params["b1"], 1, 1)
    a, c_relu = bp.relu_forward(z)
    h, c_pool = conv.maxpool2d_forward(a, 2, 2)
    logits, c_lin = bp.linear_forward(h.reshape(4, -1), params["W2"], params["b2"])
    g = cross_entropy_grad(logits, labels)
    d_flat, dW2, db2 = bp.linear_backward(g, c_lin)
    dz = bp.relu_backward(conv.maxpool2d_backward(d_flat.reshape(h.shape), c_pool), c_relu)
    dx, dw1, db1 = conv.conv2d_backward(dz, c_conv)
    dx_net, grads = cnn.cnn_backward(g, cnn.cnn_forward(params, x)[1])
    for mine, theirs in [(dx_net, dx), (grads["w1"], dw1), (grads["b1"], db1),
                         (grads["W2"], dW2), (grads["b2"], db2)]:
        np.testing.assert_array_equal(mine, theirs)


# ---------------------------------------------------------- input gradients

def test_input_gradient_is_each_images_own_loss_gradient():
    params, x, labels = small_problem(*ARCHITECTURES[0], n=4, seed=3)
    g = cnn.input_gradient(params, x, labels)
    for n in (0, 3):
        def own_loss(xn, n=n):
            return cross_entropy(cnn.cnn_logits(params, xn[None]), labels[n:n + 1])
        assert norm_rel_error(g[n], numerical_gradient(own_loss, x[n].copy())) < 1e-7


def test_class_saliency_is_the_gradient_of_one_logit():
    params, x, _ = small_problem(*ARCHITECTURES[0], n=3, seed=4)
    classes = np.array([7, 0, 7])
    s = cnn.class_saliency(params, x, classes)
    for n in range(3):
        def logit(xn, n=n):
            return cnn.cnn_logits(params, xn[None])[0, classes[n]]
        assert norm_rel_error(s[n], numerical_gradient(logit, x[n].copy())) < 1e-7
    with pytest.raises(ValueError, match="labels must be in"):
        cnn.class_saliency(params, x, [0, 1, 10])


def test_fgsm_moves_every_pixel_by_eps_along_the_gradient_sign_then_clips():
    params, x, labels = small_problem(*ARCHITECTURES[0], n=6, seed=5)
    x = 0.2 + 0.6 * x                     # inside (0.2, 0.8): no clipping at eps = 0.1
    x_copy = x.copy()
    g = cnn.input_gradient(params, x, labels)
    x_adv = cnn.fgsm(params, x, labels, 0.1)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_allclose(x_adv - x, 0.1 * np.sign(g), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(cnn.fgsm(params, x, labels, 0.0), x)
    clipped = cnn.fgsm(params, x, labels, 0.5)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    np.testing.assert_array_equal(clipped, np.clip(x + 0.5 * np.sign(g), 0.0, 1.0))


def test_fgsm_raises_the_loss_by_eps_times_the_l1_norm_to_first_order():
    params, x, labels = small_problem(*ARCHITECTURES[0], n=1, seed=6)
    x = 0.2 + 0.6 * x
    g = cnn.input_gradient(params, x, labels)
    base = cross_entropy(cnn.cnn_logits(params, x), labels)
    for eps in (1e-4, 1e-5):
        gain = cross_entropy(cnn.cnn_logits(params, cnn.fgsm(params, x, labels, eps)), labels) - base
        # the remainder is O(eps^2): relative to the first-order term it shrinks with eps
        assert abs(gain - eps * np.abs(g).sum()) < 1e3 * eps ** 2 + 1e-12


@pytest.mark.parametrize("eps", [-0.1, np.nan, np.inf, True, "0.1"])
def test_fgsm_rejects_a_bad_eps(eps):
    params, x, labels = small_problem(*ARCHITECTURES[0], n=2)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        cnn.fgsm(params, x, labels, eps)
    with pytest.raises(ValueError, match="lo <= hi"):
        cnn.fgsm(params, x, labels, 0.1, lo=1.0, hi=0.0)


# ------------------------------------------------------------------ training

def toy_digits(seed=0, n=120):
    """Two classes of 1 x 8 x 8 images: a bright left half or a bright right half."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = 0.1 * rng.random((n, 1, 8, 8))
    for i, y in enumerate(labels):
        x[i, 0, :, 4 * y:4 * y + 4] += 0.8
    return x, labels


def test_training_is_seeded_records_every_epoch_and_learns():
    x, labels = toy_digits()
    params0 = cnn.init_cnn(0, (1, 8, 8), (4,), 3, 2)
    copies = {k: v.copy() for k, v in params0.items()}
    runs = [cnn.train_classifier(cnn.cnn_loss_and_grads, cnn.cnn_logits, params0, x[:90], labels[:90],
                                 x[90:], labels[90:], epochs=4, batch_size=16, seed=3, lr=1e-2)
            for _ in range(2)]
    (params, history), (params_again, history_again) = runs
    assert history == history_again
    assert all(np.array_equal(params[k], params_again[k]) for k in params)
    assert all(np.array_equal(params0[k], copies[k]) for k in params0)        # not modified
    assert [len(v) for v in history.values()] == [4, 4, 4]
    assert history["test accuracy"][-1] == 1.0
    assert history["train loss"][-1] < history["train loss"][0]
    # the test loss is that of the returned parameters
    assert history["test loss"][-1] == cross_entropy(cnn.cnn_logits(params, x[90:]), labels[90:])


def test_training_takes_one_step_per_batch_with_the_given_optimizer():
    x, labels = toy_digits(n=50)
    calls = []

    def counting_step(params, grads, state, **hyper):
        calls.append(hyper)
        return optim.gd_step(params, grads, state, **hyper)

    schedule = [0.1, 0.05, 0.01]
    cnn.train_classifier(cnn.cnn_loss_and_grads, cnn.cnn_logits, cnn.init_cnn(0, (1, 8, 8), (2,), 3, 2),
                         x, labels, x, labels, epochs=3, batch_size=16, seed=0, step=counting_step,
                         lr_schedule=lambda epoch: schedule[epoch])
    # 50 examples in batches of 16: 4 batches (16, 16, 16, 2) per epoch
    assert [c["lr"] for c in calls] == [0.1] * 4 + [0.05] * 4 + [0.01] * 4


def test_training_mean_loss_weights_the_last_smaller_batch():
    # with lr = 0 nothing moves: the recorded training loss is the full-set loss
    x, labels = toy_digits(n=50)
    params = cnn.init_cnn(1, (1, 8, 8), (2,), 3, 2)
    _, history = cnn.train_classifier(cnn.cnn_loss_and_grads, cnn.cnn_logits, params, x, labels, x, labels,
                                      epochs=1, batch_size=16, seed=0, step=optim.gd_step, lr=0.0)
    assert abs(history["train loss"][0] - cross_entropy(cnn.cnn_logits(params, x), labels)) < 1e-12


def test_training_also_trains_an_mlp():
    x, labels = toy_digits(n=80)
    flat = x.reshape(80, -1)
    params, history = cnn.train_classifier(
        bp.mlp_loss_and_grads, lambda p, v: bp.mlp_forward(p, v)[0], bp.init_mlp([64, 8, 2], 0),
        flat, labels, flat, labels, epochs=3, batch_size=20, seed=0, lr=1e-2)
    assert history["test accuracy"][-1] == 1.0


def test_training_rejects_bad_arguments():
    x, labels = toy_digits(n=20)
    args = (cnn.cnn_loss_and_grads, cnn.cnn_logits, cnn.init_cnn(0, (1, 8, 8), (2,), 3, 2))
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        cnn.train_classifier(*args, x, labels, x, labels, epochs=0, batch_size=4, seed=0)
    with pytest.raises(ValueError, match=r"labels has shape \(19,\)"):
        cnn.train_classifier(*args, x, labels[:19], x, labels, epochs=1, batch_size=4, seed=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        cnn.train_classifier(*args, x, labels, x, labels, epochs=1, batch_size=4, seed=0.5)


# ------------------------------------------------------------- confusion matrix

def test_confusion_matrix_counts_true_against_predicted():
    m = cnn.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert m.dtype == np.int64 and m.sum() == 6 and np.trace(m) == 4
    with pytest.raises(ValueError, match="labels must be in"):
        cnn.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="expected"):
        cnn.confusion_matrix([0, 1], [0, 1, 2], 3)
