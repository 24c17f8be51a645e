# Set-up, tests and the benchmark.  Every target creates .venv and installs what
# it needs when missing: torch's pinned CPU build first, so that the package's
# general requirement (torch>=2.4) installs nothing more; then the package.
# `make bench` needs only the core; `make test` adds the optional extras whose
# tests it runs (PettingZoo and Gymnasium, Ray, TensorBoard, pandas) and pdoc, since the suite checks
# the API reference; `make docs` writes that reference into site/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
TORCH := torch==2.13.0
CORE := $(VENV)/.core-stamp
FULL := $(VENV)/.full-stamp
DOCS := $(VENV)/.docs-stamp

.PHONY: install test bench lint docs clean

install: $(CORE)

$(CORE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(TORCH)
	$(PIP) -e '.[dev]'
	touch $(CORE)

$(FULL): $(CORE)
	$(PIP) -e '.[dev,envs,ray,docs,tensorboard,analysis]'
	touch $(FULL)

test: $(FULL)
	$(PY) -m pytest -q -n 2

bench: $(CORE)
	$(VENV)/bin/recigrad bench --quick --out reports/quick --overwrite

$(DOCS): $(CORE)
	$(PIP) -e '.[docs,envs]'
	touch $(DOCS)

docs: $(DOCS)
	$(PY) docs/api/build.py site

lint: $(CORE)
	$(VENV)/bin/ruff check src tests benchmarks examples docs/api

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache
