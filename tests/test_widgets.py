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


def data_of(html):
    blob = re.search(r'<script type="application/json" class="dlmath-slider-data">(.*?)</script>', html).group(1)
    return json.loads(blob)


def frames_of(html):
    return data_of(html)["frames"]


def test_static_html_has_one_frame_per_combination_and_a_range_per_parameter():
    s = widgets.slider(line_figure, a=[-1.0, 0.0, 1.0], b=[0.0, 2.0])
    html = s.to_html()
    frames = frames_of(html)
    assert len(frames) == 6
    assert len(set(frames)) == 6  # every frame differs
    params = data_of(html)["params"]
    assert [(p["name"], len(p["ticks"])) for p in params] == [("a", 3), ("b", 2)]
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
    assert data_of(html)["params"][0]["index"] == 2


def test_without_its_script_the_html_is_a_still_picture_that_says_so():
    # JupyterLab strips scripts from untrusted output: no dead controls may remain.
    s = widgets.slider(line_figure, labels={"a": "slope a"}, a=[-1.0, 0.0, 1.0], b=[0.0, 2.0])
    html = s.to_html()
    without_scripts = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert "<input" not in without_scripts
    assert '<img class="dlmath-slider-frame"' in without_scripts
    note = re.search(r'<p class="dlmath-slider-note"[^>]*>(.*?)</p>', without_scripts).group(1)
    assert "slope a = 0" in note and "b = 2" in note and "Run this cell" in note


def test_labels_cannot_close_the_data_script():
    s = widgets.slider(line_figure, labels={"a": "</script><b>a"}, a=[0.0, 1.0])
    html = s.to_html()
    assert html.count("</script>") == 2
    assert data_of(html)["params"][0]["label"] == "</script><b>a"


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


def test_live_widget_shows_the_static_frames_each_drawn_once():
    calls = []

    def counting_figure(fig):
        update = line_figure(fig)

        def counted(a, b=0.0):
            calls.append((a, b))
            return update(a, b)

        return counted

    s = widgets.slider(counting_figure, a=[-1.0, 0.0, 1.0], b=[0.0, 2.0])
    frames = frames_of(s.to_html())
    drawn = len(calls)
    control_a, control_b, image = s.widget().children
    for a_value, b_value in [(-1.0, 2.0), (1.0, 0.0), (-1.0, 2.0)]:
        control_a.value, control_b.value = a_value, b_value
        k = [-1.0, 0.0, 1.0].index(a_value) * 2 + [0.0, 2.0].index(b_value)
        assert "data:image/png;base64," + base64.b64encode(image.value).decode() == frames[k]
    assert len(calls) == drawn  # every frame came from the cache


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


def test_live_picture_has_the_frames_fixed_size():
    from PIL import Image
    import io

    s = widgets.slider(line_figure, a=[-1.0, 0.0, 1.0])
    s.to_html()
    _, image = s.widget().children
    width, height = Image.open(io.BytesIO(image.value)).size
    assert (image.width, image.height) == (str(width), str(height))
    assert image.layout.width == f"{width}px" and image.layout.height == f"{height}px"


def test_png_size_reads_the_header():
    with pytest.raises(ValueError):
        widgets._png_size(b"GIF89a" + bytes(30))
