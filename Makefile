# Two commands on a fresh machine with only python3 and make:
#   make demo   -- create .venv if needed, install, run the main job
#   make test   -- create .venv with dev extras if needed, run the whole suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(PY) -m aigc_auction demo

test: $(STAMP_DEV)
	$(PY) -m ruff check aigc_auction tests benchmarks experiments
	$(PY) -m mypy
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP_RUN)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
