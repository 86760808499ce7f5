"""Keep the built book self-contained: no script or stylesheet from another host.

Jupyter Book 1 always loads sphinx-thebe, which puts a Thebe loader (and the
address of Thebe on a CDN) on every page even with ``launch_buttons.thebe:
false``; on some pages it is added twice, and the second copy throws a
JavaScript error. The book runs no live code in the browser, so this
extension removes Thebe's files from every page.
"""


def _is_thebe(asset):
    text = f"{getattr(asset, 'filename', asset)} {getattr(asset, 'attributes', {}).get('body', '')}"
    return "thebe" in text.lower()


def _drop_thebe(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def setup(app):
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
