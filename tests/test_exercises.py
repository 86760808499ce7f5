"""dlmath.check_answer: the verdicts a reader sees."""
import numpy as np
import pytest

import dlmath


@pytest.mark.parametrize(
    "answer, expected, verdict, text",
    [
        (None, 0.25, None, "No answer yet"),
        (0.25, 0.25, True, "Correct"),
        (0.2500000001, 0.25, True, "Correct"),
        (0.3, 0.25, False, "Not yet"),
        ([1.0, 2.0], np.array([1.0, 2.0]), True, "Correct"),
        ([1.0, 2.0], np.array([1.0, 2.0, 3.0]), False, "shape"),
        ("a quarter", 0.25, False, "Not yet"),
        (float("nan"), 0.25, False, "Not yet"),
    ],
)
def test_verdicts(capsys, answer, expected, verdict, text):
    assert dlmath.check_answer(answer, expected) is verdict
    assert text in capsys.readouterr().out


def test_function_answers_are_compared_on_points(capsys):
    points = np.linspace(-3, 3, 7)
    assert dlmath.check_answer(lambda x: dlmath.sigmoid(x) * (1 - dlmath.sigmoid(x)), dlmath.sigmoid_grad, points=points)
    assert dlmath.check_answer(lambda x: 0.25 + 0 * x, dlmath.sigmoid_grad, points=points) is False
    assert dlmath.check_answer(0.25, dlmath.sigmoid_grad, points=points) is False
    assert "expected a function" in capsys.readouterr().out


def test_function_comparison_needs_points():
    with pytest.raises(ValueError, match="points"):
        dlmath.check_answer(dlmath.sigmoid, dlmath.sigmoid)
