# Set-up, tests and the benchmark.  Every target creates .venv and installs what
# it needs when missing: torch's pinned CPU build first, so that the package's
# general requirement (torch>=2.4) installs nothing more; then the package.
# `make bench` needs the core and Stable-Baselines3 (extra sb3: the quick suite runs sb3-ppo on
# discriminative-sh) and runs its jobs in 2 processes (--backend processes --workers 2); `make test`
# adds the optional extras whose tests it runs (PettingZoo and Gymnasium, Ray, TensorBoard, pandas,
# Stable-Baselines3) and pdoc, since the suite checks the API reference; `make docs` writes that
# reference into site/.  Stable-Baselines3 installs after the pinned torch, which satisfies it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
TORCH := torch==2.13.0
CORE := $(VENV)/.core-stamp
FULL := $(VENV)/.full-stamp
DOCS := $(VENV)/.docs-stamp
SB3 := $(VENV)/.sb3-stamp

.PHONY: install test bench lint docs clean

install: $(CORE)

$(CORE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(TORCH)
	$(PIP) -e '.[dev]'
	touch $(CORE)

$(FULL): $(CORE)
	$(PIP) -e '.[dev,envs,ray,docs,tensorboard,analysis,sb3]'
	touch $(FULL)

$(SB3): $(CORE)
	$(PIP) -e '.[sb3]'
	touch $(SB3)

test: $(FULL)
	$(PY) -m pytest -q -n 2

bench: $(SB3)
	$(VENV)/bin/recigrad bench --quick --backend processes --workers 2 --out reports/quick --overwrite

$(DOCS): $(CORE)
	$(PIP) -e '.[docs,envs]'
	touch $(DOCS)

docs: $(DOCS)
	$(PY) docs/api/build.py site

lint: $(CORE)
	$(VENV)/bin/ruff check src tests benchmarks examples docs/api

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache
