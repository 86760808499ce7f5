# Two commands do everything (see README.md):
#   make book   set up .venv, execute every notebook, build the HTML book
#   make test   set up .venv, run every test (unit, notebooks, book build, browser)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup book test unit notebooks bench lab browser-deps clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(PY) scripts/build_book.py
	@echo
	@echo "The book is built: open $(CURDIR)/_build/html/index.html"

# Every test: dlmath's unit tests, strict nbval over every notebook here and
# once more as on another machine (another BLAS kernel, one thread), the book
# build with -W, and real-browser tests of the built site and of JupyterLab.
# Warnings are errors.
test: setup browser-deps
	$(PY) -m pytest -n 2 --dist loadfile --nbval --nbval-sanitize-with tests/sanitize.cfg

# Only dlmath's unit tests and the static chapter checks (seconds).
unit: setup
	$(PY) -m pytest tests -m "not book and not browser and not notebooks"

# Re-execute the notebooks in place (after changing a chapter or dlmath).
notebooks: setup
	$(PY) scripts/execute_notebooks.py

bench: setup
	$(PY) benchmarks/run_all.py

# JupyterLab on the chapters: the project's kernel, trusted chapters, offline
# settings, --allow-root for root (scripts/lab.py).
lab: setup
	$(PY) scripts/lab.py

# Debian's chromium for the browser test; installed when missing and we are root.
browser-deps:
	@sh scripts/install_chromium.sh

clean:
	rm -rf _build
