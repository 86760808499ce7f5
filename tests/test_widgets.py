"""dlmath.widgets: one object, a live widget in Jupyter and a static slider in HTML."""
import base64
import json
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from dlmath import widgets  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def line_figure(fig):
    ax = fig.add_subplot()
    x = np.linspace(-3, 3, 50)
    (line,) = ax.plot(x, x)
    ax.set(xlim=(-3, 3), ylim=(-10, 10))

    def update(a, b=0.0):
        line.set_ydata(a * x + b)
        return [line]

    return update


def frames_of(html):
    blob = re.search(r'<script type="application/json" class="dlmath-frames">(.*?)</script>', html).group(1)
    return json.loads(blob)


def test_static_html_has_one_frame_per_combination_and_a_range_per_parameter():
    s = widgets.slider(line_figure, a=[-1.0, 0.0, 1.0], b=[0.0, 2.0])
    html = s.to_html()
    frames = frames_of(html)
    assert len(frames) == 6
    assert len(set(frames)) == 6  # every frame differs
    assert html.count('type="range"') == 2
    assert 'max="2"' in html and 'max="1"' in html
    assert "http" not in html  # nothing from the network
    for frame in frames:
        assert base64.b64decode(frame.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_frame_order_is_row_major_over_parameters():
    s = widgets.slider(line_figure, a=[-1.0, 1.0], b=[0.0, 5.0])
    frames = frames_of(s.to_html())
    direct = s._frame_image(widgets.STATIC_DPI, a=1.0, b=0.0)
    assert frames[2].split(",", 1)[1] == base64.b64encode(widgets._palette_png(direct)).decode()


def test_initial_value_and_starting_frame():
    s = widgets.slider(line_figure, initial={"a": 0.9}, a=[-1.0, 0.0, 1.0])
    assert s.values() == {"a": 1.0}
    html = s.to_html()
    frames = frames_of(html)
    img_src = re.search(r'<img class="dlmath-slider-frame" src="([^"]+)"', html).group(1)
    assert img_src == frames[2]
    assert 'value="2"' in html


def test_blitted_render_equals_a_full_redraw():
    s = widgets.slider(line_figure, a=[-1.0, 0.5, 1.0])
    blitted = s.render(a=0.5)
    for artist in s._artists:
        artist.set_animated(False)  # a full draw skips animated artists
    s._artists = None  # force a full redraw of the same state
    full = s.render(a=0.5)
    from PIL import Image
    import io

    a = np.asarray(Image.open(io.BytesIO(blitted)))
    b = np.asarray(Image.open(io.BytesIO(full)))
    assert a.shape == b.shape
    differ = np.any(a != b, axis=-1)
    # The moving line is drawn last when blitted, so where it crosses the
    # axes frame a few pixels may differ; nothing else may.
    assert differ.mean() < 0.002


def test_mimebundle_carries_widget_and_static_html():
    s = widgets.slider(line_figure, a=[0.0, 1.0])
    bundle = s._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    assert bundle["text/plain"].startswith("<dlmath slider: a: 0..1")
    assert 'class="dlmath-slider"' in bundle["text/html"]


def test_live_widget_redraws_when_the_slider_moves():
    s = widgets.slider(line_figure, a=[-1.0, 0.0, 1.0])
    box = s.widget()
    control, image = box.children
    before = image.value
    control.value = -1.0
    assert image.value != before
    control.value = 0.0
    assert image.value == before


def test_redraw_is_fast():
    # Not a timing gate (see benchmarks/bench_slider.py); it catches a redraw
    # that falls back to drawing the whole figure a hundred times too slowly.
    s = widgets.slider(line_figure, a=np.linspace(-1, 1, 5))
    assert widgets.time_redraw(s, repeats=5) < 500


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "at least one parameter"),
        ({"a": [1.0]}, "at least two increasing"),
        ({"a": [1.0, 0.0]}, "at least two increasing"),
        ({"a": np.linspace(0, 1, 20), "b": np.linspace(0, 1, 20)}, "more than"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        widgets.slider(line_figure, **params)


def test_setup_must_return_update():
    with pytest.raises(TypeError, match="update"):
        widgets.slider(lambda fig: None, a=[0.0, 1.0])


def test_unknown_initial_name():
    with pytest.raises(ValueError, match="unknown"):
        widgets.slider(line_figure, initial={"c": 1.0}, a=[0.0, 1.0])
