"""The book: it builds with warnings as errors, and the built site works offline.

One build per test run (module fixture; with pytest-xdist ``--dist loadfile``
keeps this file on one worker). The browser test serves the HTML on
127.0.0.1, opens every page in headless Debian Chromium through Playwright,
blocks and records every request to another host, checks that math rendered
and that each static slider moves its picture, and that search works.
"""
import functools
import http.server
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

from conftest import ROOT
from lab_session import CHROMIUM, CHROMIUM_ARGS, offline_page

PAGE_LIMIT_BYTES = 1_500_000  # a chapter page with its images


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc["parts"]:
        pages += [c["file"] for c in part["chapters"]]
    return pages


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)  # the build's own -W covers Sphinx; stderr_output covers notebooks
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--path-output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    return proc, out / "_build" / "html"


@pytest.mark.book
def test_book_builds_with_warnings_as_errors(built_book):
    proc, html = built_book
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert "build succeeded" in log
    executed = re.search(r"executed (\d+) of (\d+) notebooks in parallel", log)
    assert executed and executed.group(1) == executed.group(2), log[:3000]
    # The kernel's notice about its local TCP transport is not a build warning.
    log = re.sub(r"^.*Kernel is running over TCP.*$", "", log, flags=re.M)
    # Nor is the Jupyter cache's note about its own database.
    log = re.sub(r"^.*jupyter_cache.*$", "", log, flags=re.M)
    assert not re.search(r"WARNING|ERROR", log), log[-5000:]
    for page in toc_pages():
        target = "index.html" if page == toc_pages()[0] and not (html / f"{page}.html").exists() else f"{page}.html"
        assert (html / target).exists(), target


@pytest.mark.book
def test_built_html_references_no_other_host(built_book):
    _, html = built_book
    loads = re.compile(r"<(?:script|img|iframe|source|audio|video)[^>]*\ssrc=[\"'](https?:)?//", re.I)
    styles = re.compile(r"<link[^>]*rel=[\"']?(?:stylesheet|preload|modulepreload|icon)[^>]*href=[\"'](https?:)?//", re.I)
    offenders = []
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if loads.search(text) or styles.search(text):
            offenders.append(str(page.relative_to(html)))
    assert not offenders
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.book
def test_chapter_pages_stay_light(built_book):
    _, html = built_book
    for page in (html / "notebooks").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        size = page.stat().st_size
        for src in set(re.findall(r'src="(\.\./_images/[^"]+)"', text)):
            size += (page.parent / src).resolve().stat().st_size
        assert size < PAGE_LIMIT_BYTES, f"{page.name}: {size / 1e6:.2f} MB"


# ---------------------------------------------------------------- browser ---


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: make test installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(built_book):
    _, html = built_book

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def open_offline(browser, url, base):
    """A page whose requests to any other host are blocked and recorded."""
    page, record = offline_page(browser, base)
    page.goto(url, wait_until="load")
    return page, record


@pytest.mark.browser
@pytest.mark.parametrize("page_name", toc_pages())
def test_page_in_browser(browser, site, page_name):
    base, html = site
    path = "index.html" if page_name == toc_pages()[0] and not (html / f"{page_name}.html").exists() else f"{page_name}.html"
    page, record = open_offline(browser, f"{base}/{path}", base)
    try:
        source = (html / path).read_text(encoding="utf-8")
        if 'class="math' in source:
            page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0", timeout=30000)
            page.wait_for_timeout(300)
            assert page.locator("mjx-merror").count() == 0, "MathJax could not typeset some math"
            unrendered = page.evaluate(
                "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length"
            )
            assert unrendered == 0
        for slider in page.locator(".dlmath-slider").all():
            img = slider.locator("img.dlmath-slider-frame")
            for inp in slider.locator("input[type=range]").all():
                before = img.get_attribute("src")
                current, top = int(inp.input_value()), int(inp.get_attribute("max"))
                inp.fill(str(0 if current != 0 else top))
                assert img.get_attribute("src") != before, "the static slider did not change the picture"
        assert not record["errors"], record["errors"]
        assert not record["external"], record["external"]
    finally:
        page.close()


@pytest.mark.browser
def test_chapter_pages_have_sliders(browser, site):
    base, html = site
    for chapter in (html / "notebooks").glob("*.html"):
        assert 'class="dlmath-slider"' in chapter.read_text(encoding="utf-8"), chapter.name


@pytest.mark.browser
def test_search_works_offline(browser, site):
    base, _ = site
    page, record = open_offline(browser, f"{base}/search.html?q=sigmoid", base)
    try:
        page.wait_for_selector("#search-results li", timeout=30000)
        assert page.locator("#search-results li").count() >= 1
        assert not record["external"], record["external"]
    finally:
        page.close()
