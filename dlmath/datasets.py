r"""The data the chapters train on: seeded toy sets in the plane, and real digits.

Each toy generator returns ``(X, y)`` with ``X`` of shape ``(N, 2)`` (float64)
and integer labels ``y`` of shape ``(N,)`` (int64), rows in a random order. The
same ``rng`` seed gives the same data. :func:`load_digits` reads the 8x8
handwritten digits that scikit-learn ships with its package (no download); it
is the only function here that needs scikit-learn (``pip install dlmath[data]``).
"""
import numbers

import numpy as np

from ._checks import check_positive_int


def two_moons(n, noise, rng):
    r"""Two interleaving half circles, one per class.

    Class 0 is the upper half of the unit circle, class 1 the lower half of a
    unit circle shifted right by 1 and up by 1/2 (the layout of scikit-learn's
    ``make_moons``). With :math:`t` evenly spaced in :math:`[0, \pi]`,

    .. math::
        x^{(0)}(t) = (\cos t,\ \sin t),
        \qquad
        x^{(1)}(t) = \bigl(1 - \cos t,\ \tfrac12 - \sin t\bigr),

    and every point then moves by independent Gaussian noise
    :math:`\mathcal N(0, \text{noise}^2)` in each coordinate. No straight line
    separates the classes, so a linear classifier fails and an MLP succeeds
    (chapter 5).

    Parameters
    ----------
    n : int
        The total number of points, >= 2: ``n // 2`` in class 1 and the rest
        in class 0.
    noise : float
        The standard deviation of the noise, >= 0.
    rng : numpy.random.Generator or int
        The source of randomness (an int is used as a seed).

    Returns
    -------
    X : numpy.ndarray, shape (n, 2), float64
    y : numpy.ndarray, shape (n,), int64
        Labels 0 and 1.
    """
    n = check_positive_int(n, "n", "two_moons", minimum=2)
    noise = _check_noise(noise, "two_moons")
    rng = np.random.default_rng(rng)
    n_lower = n // 2
    n_upper = n - n_lower
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.vstack([upper, lower])
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng)


def spirals(n_per_class, n_classes, noise, rng):
    r"""Interleaved spiral arms, one per class (the CS231n spiral data).

    Arm :math:`k` has :math:`n` points at radii :math:`r` evenly spaced in
    :math:`[0, 1]`; its angle runs over :math:`[4k, 4(k+1)]` radians in step
    with the radius, plus Gaussian noise on the angle:

    .. math::
        x = r\,(\sin\theta,\ \cos\theta),
        \qquad \theta = 4k + 4r + \varepsilon,
        \qquad \varepsilon \sim \mathcal N(0, \text{noise}^2).

    Parameters
    ----------
    n_per_class : int
        Points per arm, >= 2.
    n_classes : int
        The number of arms (classes), >= 1.
    noise : float
        The standard deviation of the angle noise, in radians, >= 0
        (0.2 gives the classic picture).
    rng : numpy.random.Generator or int
        The source of randomness (an int is used as a seed).

    Returns
    -------
    X : numpy.ndarray, shape (n_per_class * n_classes, 2), float64
        Every point lies in the unit disc.
    y : numpy.ndarray, shape (n_per_class * n_classes,), int64
        Labels ``0, ..., n_classes - 1``, ``n_per_class`` of each.
    """
    n = check_positive_int(n_per_class, "n_per_class", "spirals", minimum=2)
    k_total = check_positive_int(n_classes, "n_classes", "spirals")
    noise = _check_noise(noise, "spirals")
    rng = np.random.default_rng(rng)
    r = np.linspace(0.0, 1.0, n)
    arms, labels = [], []
    for k in range(k_total):
        theta = 4.0 * k + 4.0 * r + noise * rng.standard_normal(n)
        arms.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        labels.append(np.full(n, k, dtype=np.int64))
    return _shuffled(np.vstack(arms), np.concatenate(labels), rng)


#: How many of the 1,797 digits go to the test split (about 20%).
DIGITS_TEST_SIZE = 360


def load_digits(split="train", seed=0):
    r"""The 8x8 handwritten digits bundled with scikit-learn, as images in [0, 1].

    The 1,797 grey-level images of the UCI optical-recognition digits
    (:math:`8 \times 8` pixels, values 0 to 16, labels 0 to 9) are read from
    the file that scikit-learn installs, so nothing is downloaded. Pixels are
    divided by 16, so :math:`x \in [0, 1]`, and shaped ``(N, 1, 8, 8)``: a batch
    of one-channel images in the NCHW layout of chapter 7.

    The split is stratified by class and the same for the same ``seed``:
    360 test images, each class contributing
    :math:`\lfloor 360\, n_c / 1797 \rfloor` of its :math:`n_c` images plus
    one more for the classes with the largest remainders until the total is
    360; which images go to the test split is a random permutation of each
    class, drawn with ``numpy.random.default_rng(seed)``. The train split is
    the other 1,437 images. Both come in a shuffled order (the same for the
    same seed).

    Parameters
    ----------
    split : {"train", "test"}
    seed : int
        Chooses the split and the order.

    Returns
    -------
    x : numpy.ndarray, shape (N, 1, 8, 8), float64
        N is 1,437 for "train" and 360 for "test".
    y : numpy.ndarray, shape (N,), int64
        Labels 0 to 9.
    """
    if split not in ("train", "test"):
        raise ValueError(f'load_digits: split must be "train" or "test", got {split!r}')
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"load_digits: seed must be an int, got {seed!r}")
    table = _read_digits_table()
    images = table[:, :64].reshape(-1, 8, 8) / 16.0
    labels = table[:, 64].astype(np.int64)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = DIGITS_TEST_SIZE * counts / labels.size
    n_test = np.floor(share).astype(int)
    # Largest remainders first (a stable sort keeps the lower class first on ties).
    for c in np.argsort(-(share - n_test), kind="stable")[: DIGITS_TEST_SIZE - n_test.sum()]:
        n_test[c] += 1
    test_idx, train_idx = [], []
    for c, k in zip(classes, n_test):
        members = rng.permutation(np.flatnonzero(labels == c))
        test_idx.append(members[:k])
        train_idx.append(members[k:])
    chosen = np.concatenate(test_idx if split == "test" else train_idx)
    chosen = chosen[rng.permutation(chosen.size)]
    return images[chosen][:, None, :, :], labels[chosen]


def _read_digits_table():
    """The (1797, 65) table of scikit-learn's digits: 64 grey levels 0..16, then the label.

    Read straight from the file scikit-learn installs (``sklearn/datasets/data/
    digits.csv.gz``, the file its own ``load_digits`` reads), without importing
    scikit-learn, which would import SciPy and cost a second; if the file is
    not where it has always been, scikit-learn's ``load_digits`` is used.
    """
    import importlib.util
    import pathlib

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits: pip install 'dlmath[data]'"
        )
    for folder in spec.submodule_search_locations or ():
        path = pathlib.Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return np.loadtxt(path, delimiter=",", dtype=np.float64)
    from sklearn.datasets import load_digits as sklearn_digits  # pragma: no cover

    bunch = sklearn_digits()  # pragma: no cover
    return np.column_stack([bunch.data, bunch.target]).astype(np.float64)  # pragma: no cover


def _check_noise(noise, where):
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"{where}: noise must be a real number, got {noise!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"{where}: noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _shuffled(X, y, rng):
    order = rng.permutation(len(y))
    return X[order].astype(np.float64), y[order]
