r"""Showing dlmath's own source in a chapter, so the book never retypes the code."""
import inspect


def show_source(*objects):
    """Return the source of functions (or classes) as a highlighted IPython ``Code`` object.

    A chapter's implementation section displays the code that the tests run,
    not a copy of it that could drift.
    """
    from IPython.display import Code

    if not objects:
        raise ValueError("show_source: name at least one function")
    return Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python")
