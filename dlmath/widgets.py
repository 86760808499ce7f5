r"""Sliders that work in a live notebook and in the built HTML book.

:func:`slider` turns a drawing function and a few parameter ranges into one
object. When it is displayed, every combination of the parameter values is
drawn once, by ``update`` in the kernel (only the artists that change are
redrawn: blitting), as a small PNG frame. In Jupyter the object is a live
ipywidgets control: moving a slider sends the frame for the new values to an
``ipywidgets.Image``, so the picture follows the hand at once. In the built
book, where there is no kernel, the same object shows its ``text/html`` form:
the frames, and one ``<input type="range">`` per parameter added by a few lines
of inline JavaScript that swap them. Nothing is loaded from the network in
either place. Re-run the cell after changing the code: the frames are drawn
again.

The book selects the ``text/html`` part with ``nb_mime_priority_overrides`` in
``_config.yml``; JupyterLab prefers the widget. Stored notebook outputs keep
only the ``text/html`` part (``scripts/execute_notebooks.py``): without a
kernel a widget would look live and do nothing.

Example
-------
>>> def setup(fig):
...     ax = fig.add_subplot()
...     x = np.linspace(-6, 6, 200)
...     (line,) = ax.plot(x, dlmath.sigmoid(x))
...     ax.set(xlim=(-6, 6), ylim=(0, 1), xlabel="x", ylabel="sigma(wx)")
...     def update(w):
...         line.set_ydata(dlmath.sigmoid(w * x))
...     return update
>>> dlmath.widgets.slider(setup, w=np.linspace(-3, 3, 13))   # doctest: +SKIP
"""
import base64
import html
import io
import itertools
import json
import math
import time

import numpy as np

#: Width and height in inches, and the resolution of live and static frames.
DEFAULT_FIGSIZE = (7.0, 2.8)
LIVE_DPI = 90
STATIC_DPI = 86
#: The most frames (the product of the parameter counts) a static slider holds:
#: each frame is a few kB, and a chapter page should stay under 1.5 MB.
MAX_FRAMES = 150


def slider(setup, figsize=DEFAULT_FIGSIZE, initial=None, labels=None, **params):
    """Make a :class:`Slider`: ``setup(fig)`` draws and returns ``update(**values)``.

    Parameters
    ----------
    setup : callable
        ``setup(fig)`` adds axes and artists to the empty matplotlib figure
        ``fig`` and returns ``update``; ``update(**values)`` changes the
        artists for one value of each parameter (``line.set_ydata``,
        ``image.set_data``, ``text.set_text``, ...) and returns the list of
        artists it changed. Only those are redrawn when a slider moves (the
        rest of the figure is drawn once and copied: blitting), which is what
        keeps a redraw far under 50 ms. If ``update`` returns ``None`` the
        whole figure is redrawn each time. Fix the axis limits in ``setup``:
        they are part of the background that is drawn once.
    figsize : (float, float)
        Figure size in inches.
    initial : dict, optional
        The starting value of each parameter (the nearest listed value is
        used); by default the middle of each list.
    labels : dict, optional
        The text shown beside each parameter's slider (default: its name).
    **params : sequence of float
        For each parameter of ``update``, the values the slider steps through,
        in increasing order.
    """
    return Slider(setup, params, figsize=figsize, initial=initial, labels=labels)


class Slider:
    """A figure with one slider per parameter; see :func:`slider`."""

    def __init__(self, setup, params, figsize=DEFAULT_FIGSIZE, initial=None, labels=None):
        if not params:
            raise ValueError("slider: give at least one parameter, e.g. w=np.linspace(-3, 3, 13)")
        self.params = {}
        for name, values in params.items():
            arr = np.asarray(values, dtype=np.float64)
            if arr.ndim != 1 or arr.size < 2 or not np.all(np.diff(arr) > 0):
                raise ValueError(
                    f"slider: {name} must list at least two increasing values, got {values!r}"
                )
            self.params[name] = arr
        n_frames = math.prod(v.size for v in self.params.values())
        if n_frames > MAX_FRAMES:
            raise ValueError(
                f"slider: {n_frames} frames (the product of the parameter counts) is more "
                f"than {MAX_FRAMES}; use fewer values per parameter"
            )
        self.labels = {name: name for name in self.params}
        self.labels.update(labels or {})
        initial = initial or {}
        unknown = set(initial) - set(self.params)
        if unknown:
            raise ValueError(f"slider: initial names unknown parameters {sorted(unknown)}")
        self.index = {
            name: (int(np.argmin(np.abs(vals - initial[name]))) if name in initial else vals.size // 2)
            for name, vals in self.params.items()
        }

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # A Figure made without pyplot: the inline backend does not also show it.
        self.figure = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(self.figure)
        self._update = setup(self.figure)
        if not callable(self._update):
            raise TypeError("slider: setup(fig) must return the update(**values) function")
        changed = self._update(**self.values())
        self._artists = None if changed is None else list(changed)
        for artist in self._artists or ():
            artist.set_animated(True)  # left out of the background
        self.figure.canvas.draw()
        # Freeze the layout found for the first frame: no re-layout per redraw,
        # and the axes do not jump between frames.
        self.figure.set_layout_engine("none")
        self._background = None  # (dpi, saved pixels) of the figure without the artists
        self._widget = None
        self._html = None
        self._frames = {}  # parameter indices -> static PNG frame, shared by the book and the live widget

    def values(self):
        """The current value of each parameter, as a dict of floats."""
        return {name: float(vals[self.index[name]]) for name, vals in self.params.items()}

    def render(self, dpi=LIVE_DPI, **values):
        """Update the artists for ``values``, draw, and return full-colour PNG bytes."""
        return _png(self._frame_image(dpi, **values))

    def frame(self, indices):
        """The PNG frame for one value index per parameter, drawn once and then kept.

        The static HTML and the live widget show the same frames: :meth:`to_html`
        draws every combination when the cell's output is displayed, so moving a
        live slider only sends a frame the kernel has already computed.
        """
        indices = tuple(int(i) for i in indices)
        if indices not in self._frames:
            values = {n: float(v[i]) for (n, v), i in zip(self.params.items(), indices)}
            self._frames[indices] = _palette_png(self._frame_image(STATIC_DPI, **values))
        return self._frames[indices]

    def _frame_image(self, dpi, **values):
        """Update the artists for ``values``, draw at ``dpi``, return the pixels as a PIL image."""
        fig, canvas = self.figure, self.figure.canvas
        if self._background is None or self._background[0] != dpi:
            fig.set_dpi(dpi)
            canvas.draw()
            self._background = (dpi, canvas.copy_from_bbox(fig.bbox)) if self._artists else (dpi, None)
        elif self._artists:
            canvas.restore_region(self._background[1])
        if values:
            self._update(**values)
        if self._artists:
            for artist in self._artists:
                fig.draw_artist(artist)
        else:
            canvas.draw()
        return _canvas_image(canvas)

    # -- live: ipywidgets ------------------------------------------------
    def widget(self):
        """The live ipywidgets control (built once)."""
        if self._widget is None:
            import ipywidgets as w

            start = tuple(self.index[n] for n in self.params)
            first = self.frame(start)
            # Every frame has the first one's size; saying so keeps the picture's box
            # from collapsing while the next frame loads (no re-layout of the page).
            width, height = _png_size(first)
            image = w.Image(value=first, format="png", width=width, height=height,
                            layout=w.Layout(width=f"{width}px", height=f"{height}px"))
            controls = []
            for name, vals in self.params.items():
                ctl = w.SelectionSlider(
                    options=[(_fmt(v), float(v)) for v in vals],
                    value=float(vals[self.index[name]]),
                    description=self.labels[name],
                    continuous_update=True,
                    style={"description_width": "initial"},
                    layout=w.Layout(width="60%"),
                )
                controls.append(ctl)

            def redraw(change, _controls=controls):
                image.value = self.frame(c.index for c in _controls)

            for ctl in controls:
                ctl.observe(redraw, names="value")
            self._widget = w.VBox([*controls, image], layout=w.Layout(overflow="hidden"))
        return self._widget

    # -- static: HTML with pre-rendered frames ----------------------------
    def to_html(self):
        """Self-contained HTML: the pre-rendered frames, and a script that adds the sliders.

        Progressive: without its script (a sanitized, untrusted notebook output in
        JupyterLab, or GitHub's viewer) the HTML is a still picture of the initial
        frame with a note that says which values it shows and to run the cell. The
        script (which runs in the built book and in trusted notebooks) adds one
        ``<input type="range">`` per parameter, swaps the frames, and removes the note.
        """
        if self._html is None:
            names = list(self.params)
            frames = [
                "data:image/png;base64," + base64.b64encode(self.frame(combo)).decode()
                for combo in itertools.product(*(range(self.params[n].size) for n in names))
            ]
            self._update(**self.values())  # leave the figure at the initial values
            start = np.ravel_multi_index(
                tuple(self.index[n] for n in names), tuple(self.params[n].size for n in names)
            )
            data = {
                "params": [
                    {"name": n, "label": self.labels[n], "index": self.index[n],
                     "ticks": [_fmt(v) for v in self.params[n]]}
                    for n in names
                ],
                "frames": frames,
            }
            shown = ", ".join(f"{self.labels[n]} = {_fmt(self.params[n][self.index[n]])}" for n in names)
            self._html = (
                '<div class="dlmath-slider">'
                f'<img class="dlmath-slider-frame" src="{frames[start]}" '
                f'alt="{html.escape(self._alt())}" style="max-width:100%">'
                '<p class="dlmath-slider-note" style="font-family:sans-serif;font-size:0.85em">'
                f"A still picture at {html.escape(shown)}. Run this cell to move the sliders.</p>"
                '<script type="application/json" class="dlmath-slider-data">'
                + json.dumps(data).replace("</", "<\\/")
                + "</script>"
                + f"<script>{_PLAYER_JS}</script></div>"
            )
        return self._html

    def _alt(self):
        return "Figure with sliders for " + ", ".join(self.labels[n] for n in self.params)

    # -- display ------------------------------------------------------------
    def __repr__(self):
        ranges = ", ".join(
            f"{n}: {_fmt(v[0])}..{_fmt(v[-1])} ({v.size} values)" for n, v in self.params.items()
        )
        return f"<dlmath slider: {ranges}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        try:
            view = self.widget()._repr_mimebundle_()
        except ImportError:  # no ipywidgets: the static slider is shown
            view = None
        if view:
            key = "application/vnd.jupyter.widget-view+json"
            bundle[key] = view[key]
        return bundle


# The static player: finds its own <div> from the running <script>, so any
# number of sliders can share a page; builds one labelled range input per
# parameter above the picture and removes the still-picture note. Frames are in
# row-major order over the parameters, as itertools.product yields them.
_PLAYER_JS = """(function(){
var root=document.currentScript.parentNode;
var data=JSON.parse(root.querySelector('.dlmath-slider-data').textContent);
var img=root.querySelector('.dlmath-slider-frame');
var note=root.querySelector('.dlmath-slider-note');if(note){note.remove();}
var inputs=[],outputs=[];
data.params.forEach(function(p){
var label=document.createElement('label');
label.style.cssText='display:block;font-family:sans-serif;font-size:0.9em';
label.appendChild(document.createTextNode(p.label+' '));
var input=document.createElement('input');
input.type='range';input.className='dlmath-slider-input';input.min=0;input.max=p.ticks.length-1;
input.step=1;input.value=p.index;input.style.cssText='width:55%;vertical-align:middle';
input.setAttribute('aria-label',p.label);input.dataset.name=p.name;
var out=document.createElement('output');out.textContent=p.ticks[p.index];
label.appendChild(input);label.appendChild(document.createTextNode(' '));label.appendChild(out);
root.insertBefore(label,img);inputs.push(input);outputs.push(out);
input.addEventListener('input',show);});
function show(){var k=0;for(var i=0;i<inputs.length;i++){
k=k*data.params[i].ticks.length+(+inputs[i].value);
outputs[i].textContent=data.params[i].ticks[+inputs[i].value];}
img.src=data.frames[k];}
})();"""


def _canvas_image(canvas):
    """The canvas's pixels as an RGB PIL image (a copy)."""
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    rgba = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    return rgba.convert("RGB")


def _png_size(png):
    """(width, height) in pixels of PNG bytes, from the IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _png(image):
    """A live frame: fast PNG, full colour, no metadata (reproducible bytes)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _palette_png(image):
    """A static frame: 64-colour palette PNG, a third of the bytes; plots lose nothing visible.

    Fast-octree quantisation without PNG ``optimize`` takes about 7 ms a frame
    (median cut with ``optimize``: 24 ms) and gives files as small.
    """
    from PIL import Image

    small = image.quantize(colors=64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    small.save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def _fmt(v):
    return f"{v:.3g}"


def time_redraw(s, repeats=30):
    """Median wall time in milliseconds of one live redraw of slider ``s``.

    A redraw is what the widget does when a slider moves: update the artists,
    draw the figure and encode the PNG. Used by ``benchmarks/bench_slider.py``.
    """
    names = list(s.params)
    combos = list(itertools.product(*(s.params[n] for n in names)))
    times = []
    for i in range(repeats):
        values = dict(zip(names, map(float, combos[(i * 7) % len(combos)])))
        t0 = time.perf_counter()
        s.render(**values)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))
