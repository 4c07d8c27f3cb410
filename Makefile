# Two commands on a fresh machine with only python3 and make:
#   make demo   -- create .venv if needed, install (with the [plot] extra), run the main job
#   make test   -- create .venv with the dev extra if needed, run the whole suite
# Also: make docs (the documentation site in site/), make gallery (redraw the gallery
# figures), make bench (benchmark tables).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_DOCS := $(VENV)/.installed-docs
STAMP_DEV  := $(VENV)/.installed-dev
PIPLOG := $(VENV)/pip.log
# pip's own output (and setuptools' editable-install banner) goes to $(PIPLOG),
# shown only when the install fails.
PIP_INSTALL = $(PY) -m pip install --quiet --disable-pip-version-check
QUIET_PIP = > $(PIPLOG) 2>&1 || { cat $(PIPLOG); exit 1; }
MKDOCS := NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs

.PHONY: demo test lint typecheck docs docs-strict pytest gallery bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	@$(PIP_INSTALL) --upgrade pip $(QUIET_PIP)

$(STAMP_RUN): pyproject.toml | $(PY)
	@echo "installing aigc_auction[plot] into $(VENV) (pip log: $(PIPLOG))"
	@$(PIP_INSTALL) -e ".[plot]" $(QUIET_PIP)
	@touch $@

$(STAMP_DOCS): pyproject.toml | $(PY)
	@echo "installing aigc_auction[docs] into $(VENV) (pip log: $(PIPLOG))"
	@$(PIP_INSTALL) -e ".[docs]" $(QUIET_PIP)
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	@echo "installing aigc_auction[dev] into $(VENV) (pip log: $(PIPLOG))"
	@$(PIP_INSTALL) -e ".[dev]" $(QUIET_PIP)
	@touch $@ $(STAMP_RUN) $(STAMP_DOCS)

demo: $(STAMP_RUN)
	$(PY) -m aigc_auction demo
	@echo
	@echo "The aigc-auction command is installed in $(VENV). To use it as the README does:"
	@echo "    source $(VENV)/bin/activate      # then: aigc-auction --help"
	@echo "or call it as $(VENV)/bin/aigc-auction without activating."

test: $(STAMP_DEV) lint typecheck docs-strict pytest

lint: $(STAMP_DEV)
	$(PY) -m ruff check aigc_auction tests benchmarks experiments tools conftest.py

typecheck: $(STAMP_DEV)
	$(PY) -m mypy

# The docs site in strict mode: a broken link or anchor, a missing page or an
# unresolved docstring cross-reference fails. Built to a temporary folder.
# (Not --quiet: it raises the log level above WARNING, so strict mode would count
# nothing. The log is shown when the build fails.)
docs-strict: $(STAMP_DEV)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && echo "mkdocs build --strict" && \
	  { $(MKDOCS) build --strict --site-dir "$$tmp/site" > "$$tmp/log" 2>&1 || \
	    { grep -v '^INFO' "$$tmp/log"; exit 1; }; }

pytest: $(STAMP_DEV)
	$(PY) -m pytest -q -p no:cacheprovider

docs: $(STAMP_DOCS)
	$(MKDOCS) build --strict
	@echo "open site/index.html"

gallery: $(STAMP_DEV)
	$(PY) tools/gallery.py

bench: $(STAMP_RUN)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .mypy_cache .ruff_cache
