"""dlmath.display.show_source shows the code the tests run."""
import inspect

import pytest

import dlmath
from dlmath.display import below, show_source


def test_show_source_is_the_real_source():
    code = show_source(dlmath.sigmoid, dlmath.sigmoid_grad)
    assert code.data == inspect.getsource(dlmath.sigmoid) + "\n\n" + inspect.getsource(dlmath.sigmoid_grad)
    html = code._repr_html_()
    assert "<pre" in html and "sigmoid_grad" in html


def test_show_source_needs_an_object():
    with pytest.raises(ValueError):
        show_source()


@pytest.mark.parametrize(
    "value, bound, text",
    [(1.6e-9, 1e-8, "< 1e-8"), (6.9e-10, 1e-8, "< 1e-8"), (0.0, 1e-15, "< 1e-15"),
     (2.2e-16, 1e-15, "< 1e-15"), (3e-4, 0.001, "< 0.001"), (4e-7, 5e-7, "< 5e-7")],
)
def test_below_prints_the_bound_whatever_the_digits(value, bound, text):
    assert below(value, bound) == text


@pytest.mark.parametrize("value", [1e-8, 2.5e-8, float("nan"), float("inf")])
def test_below_shows_a_value_that_breaks_its_bound(value):
    text = below(value, 1e-8)
    assert not text.startswith("<")
    assert "not below the printed bound 1e-8" in text


@pytest.mark.parametrize("bound", [0.0, -1e-8, float("nan"), float("inf")])
def test_below_needs_a_positive_bound(bound):
    with pytest.raises(ValueError):
        below(1e-9, bound)
