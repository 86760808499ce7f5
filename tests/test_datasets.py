"""Tests for dlmath.datasets.load_digits: scikit-learn's bundled 8x8 digits, split the same way every time."""
import subprocess
import sys

import numpy as np
import pytest

from dlmath.datasets import DIGITS_TEST_SIZE, load_digits


@pytest.fixture(scope="module")
def splits():
    return {s: load_digits(s) for s in ("train", "test")}


def test_shapes_dtypes_and_range(splits):
    (x, y), (xt, yt) = splits["train"], splits["test"]
    assert x.shape == (1437, 1, 8, 8) and y.shape == (1437,)
    assert xt.shape == (DIGITS_TEST_SIZE, 1, 8, 8) == (360, 1, 8, 8) and yt.shape == (360,)
    assert x.dtype == xt.dtype == np.float64 and y.dtype == yt.dtype == np.int64
    for arr in (x, xt):
        assert arr.min() == 0.0 and arr.max() == 1.0
        assert np.all(np.isin(arr * 16, np.arange(17)))  # grey levels 0..16, divided by 16
    assert set(np.unique(y)) == set(np.unique(yt)) == set(range(10))


def test_the_splits_partition_the_data_set(splits):
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    every = np.concatenate([splits["train"][0], splits["test"][0]]).reshape(-1, 64) * 16
    labels = np.concatenate([splits["train"][1], splits["test"][1]])
    # The same multiset of (image, label) rows as scikit-learn's, none twice.
    ours = sorted(map(tuple, np.column_stack([every, labels])))
    theirs = sorted(map(tuple, np.column_stack([bunch.data, bunch.target])))
    assert ours == theirs


def test_split_is_stratified(splits):
    from sklearn.datasets import load_digits as sklearn_digits

    counts = np.bincount(sklearn_digits().target)
    test_counts = np.bincount(splits["test"][1], minlength=10)
    share = DIGITS_TEST_SIZE * counts / counts.sum()
    assert np.all(np.abs(test_counts - share) < 1)
    assert test_counts.sum() == DIGITS_TEST_SIZE


@pytest.mark.parametrize("split", ["train", "test"])
def test_same_seed_same_data_other_seed_other_split(split):
    x0, y0 = load_digits(split, seed=0)
    x0b, y0b = load_digits(split, seed=0)
    x1, _ = load_digits(split, seed=1)
    assert np.array_equal(x0, x0b) and np.array_equal(y0, y0b)
    assert not np.array_equal(np.sort(x0.reshape(len(x0), -1), axis=0), np.sort(x1.reshape(len(x1), -1), axis=0))


def test_returned_arrays_are_fresh():
    x, y = load_digits("test")
    x[:] = -1.0
    assert load_digits("test")[0].min() == 0.0


@pytest.mark.parametrize("split", ["validation", "Train", None, 0])
def test_bad_split_is_a_value_error(split):
    with pytest.raises(ValueError, match="split must be"):
        load_digits(split)


@pytest.mark.parametrize("seed", [1.5, "0", True])
def test_bad_seed_is_a_type_error(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        load_digits("train", seed=seed)


def test_importing_dlmath_does_not_import_scikit_learn():
    code = "import sys, dlmath, dlmath.datasets; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loading_the_digits_does_not_import_scikit_learn_or_scipy():
    # scikit-learn's own load_digits imports SciPy: a second of a chapter's budget.
    code = ("import sys; from dlmath.datasets import load_digits; load_digits('test');"
            "assert 'sklearn' not in sys.modules and 'scipy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
