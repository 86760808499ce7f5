"""dlmath.display.show_source shows the code the tests run."""
import inspect

import pytest

import dlmath
from dlmath.display import show_source


def test_show_source_is_the_real_source():
    code = show_source(dlmath.sigmoid, dlmath.sigmoid_grad)
    assert code.data == inspect.getsource(dlmath.sigmoid) + "\n\n" + inspect.getsource(dlmath.sigmoid_grad)
    html = code._repr_html_()
    assert "<pre" in html and "sigmoid_grad" in html


def test_show_source_needs_an_object():
    with pytest.raises(ValueError):
        show_source()
