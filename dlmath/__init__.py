r"""dlmath: the formulas of *The Mathematics of Deep Learning, Derived and Run*.

Each public function implements one formula that a chapter derives; its
docstring states the formula and names the chapter and equation. The package
needs only numpy; :mod:`dlmath.widgets` (the book's sliders) also imports
matplotlib and ipywidgets, lazily.
"""
from .activations import (
    leaky_relu,
    leaky_relu_grad,
    log_softmax,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_jacobian,
    tanh,
    tanh_grad,
)
from .exercises import check_answer
from .gradcheck import numerical_gradient, rel_error
from .losses import (
    bce_with_logits,
    bce_with_logits_grad,
    binary_cross_entropy,
    cross_entropy,
    cross_entropy_grad,
    entropy,
    kl_divergence,
    linear_regression_normal_equations,
    mae,
    mae_grad,
    mse,
    mse_grad,
    mse_linear_grad,
    one_hot,
)

# The chapter modules that are not flattened into the package namespace
# (their names would collide or mislead out of context): dlmath.backprop.*,
# dlmath.autodiff.Value, dlmath.attention.*, ... All are numpy only.
from . import (  # noqa: E402
    attention,
    autodiff,
    backprop,
    conv,
    datasets,
    gan,
    lstm,
    optim,
    perceptron,
    rnn,
    transformer,
    vae,
)

__version__ = "0.1.0"

__all__ = [
    "bce_with_logits",
    "bce_with_logits_grad",
    "binary_cross_entropy",
    "check_answer",
    "cross_entropy",
    "cross_entropy_grad",
    "entropy",
    "kl_divergence",
    "leaky_relu",
    "leaky_relu_grad",
    "linear_regression_normal_equations",
    "log_softmax",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "mse_linear_grad",
    "numerical_gradient",
    "one_hot",
    "rel_error",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_jacobian",
    "tanh",
    "tanh_grad",
]
