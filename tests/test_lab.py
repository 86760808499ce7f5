"""The chapters in a real JupyterLab, in a real browser, as `make lab` opens them.

One JupyterLab for this file (started through ``scripts/lab.py`` with its own
folders and a decoy ``python3`` kernel in the reader's data folder; see
``tests/lab_session.py``). For every chapter, before anything runs: no MyST
markup reaches the reader raw, the math is typeset, equation references
resolve, every solution is hidden until its toggle is clicked, and the stored
slider (trusted by ``make lab``) moves its picture with no kernel. For one
chapter: run all cells in the project's kernel, with no error, and move a live
slider, whose picture must change. An untrusted copy of a chapter shows each
slider as a still picture that says to run the cell, with no dead controls.
"""
import json
import os
import pathlib
import re
import shutil

import pytest

from conftest import ROOT
from lab_session import (
    CHROMIUM,
    RAW_MYST,
    VISIBLE_FRAME_JS,
    chromium,
    lab_server,
    live_slider_cells,
    markdown_texts,
    open_notebook,
    run_all,
    show_cell,
    slider_latency_ms,
)

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
RUN_IN_KERNEL = "01_sigmoid.ipynb"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: make test installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium)")
    pytest.importorskip("playwright.sync_api")
    # The server's root: the chapters, and an untrusted copy of one (a changed
    # notebook has another signature, so `make lab`'s trust does not cover it).
    root = tmp_path_factory.mktemp("lab-root")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    nb = json.loads((root / RUN_IN_KERNEL).read_text())
    nb["metadata"]["dlmath_untrusted_copy"] = True
    (root / "untrusted.ipynb").write_text(json.dumps(nb))
    with lab_server(root_dir=root) as (base, _), chromium() as browser:
        yield base, browser


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_chapter_reads_as_in_the_book(lab, name):
    base, browser = lab
    page, record = open_notebook(browser, base, name)
    try:
        texts = markdown_texts(page)
        raw = [m.group(0) for t in texts for m in RAW_MYST.finditer(t)]
        assert not raw, f"raw MyST shown to the reader: {raw[:10]}"
        # Math is typeset (KaTeX), without errors.
        assert page.locator(".jp-MarkdownCell .katex").count() > 0
        assert page.locator(".jp-MarkdownCell .katex-error").count() == 0
        # Every equation reference resolves within the chapter.
        unresolved = [c for c in record["console"] if "not found" in c and "term-" not in c]
        assert not unresolved, unresolved[:5]
        # Solutions are hidden until their toggle is clicked.
        exercises = sum(len(re.findall(r"^`{3,}\{exercise\}", "".join(c["source"]), re.M))
                        for c in json.loads((ROOT / "notebooks" / name).read_text())["cells"])
        toggles = page.locator(".jp-MarkdownCell details")
        assert toggles.count() >= exercises >= 3
        for i in range(toggles.count()):
            toggle = toggles.nth(i)
            body = toggle.locator(":scope > :not(summary)").first
            assert toggle.get_attribute("open") is None and not body.is_visible()
            toggle.locator("summary").first.click()
            assert body.is_visible()
        # The stored slider works with no kernel (make lab trusts the chapters).
        sliders = page.locator(".dlmath-slider")
        assert sliders.count() >= 1
        for i in range(sliders.count()):
            slider = sliders.nth(i)
            img = slider.locator("img.dlmath-slider-frame")
            for inp in slider.locator("input[type=range]").all():
                before = img.get_attribute("src")
                inp.fill("0" if inp.input_value() != "0" else inp.get_attribute("max"))
                assert img.get_attribute("src") != before, "the stored slider did not change its picture"
        assert not record["errors"], record["errors"]
        assert not record["external"], record["external"]
    finally:
        page.close()


def test_untrusted_chapter_shows_a_still_picture_that_says_to_run(lab):
    base, browser = lab
    page, _ = open_notebook(browser, base, "untrusted.ipynb")
    try:
        sliders = page.locator(".dlmath-slider")
        assert sliders.count() >= 1
        for i in range(sliders.count()):
            slider = sliders.nth(i)
            assert slider.locator("img.dlmath-slider-frame").is_visible()
            assert slider.locator("input").count() == 0, "a dead control is shown"
            assert "Run this cell" in slider.locator(".dlmath-slider-note").inner_text()
    finally:
        page.close()


def test_run_all_in_the_project_kernel_and_move_a_live_slider(lab):
    base, browser = lab
    page, record = open_notebook(browser, base, RUN_IN_KERNEL)
    try:
        run_all(page)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
                              " .jp-OutputArea-output .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, errors.first.inner_text()[:500]
        # The kernel is the project's: dlmath imported (the decoy kernel would have exited).
        assert "No answer yet" in page.locator(".jp-Notebook").inner_text()
        cells = live_slider_cells(page)
        assert cells, "no live slider after running the chapter"
        for cell in cells:
            show_cell(page, cell)
            before = page.evaluate(VISIBLE_FRAME_JS, cell)
            assert before, "the live slider shows no picture"
            slider_latency_ms(page, cell, "ArrowLeft")  # raises if the picture does not change
            after = page.evaluate(VISIBLE_FRAME_JS, cell)
            assert after and after != before
        assert not record["external"], record["external"]
    finally:
        page.close()
