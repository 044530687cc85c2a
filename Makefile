# DS4023 course package. `make demo` and `make test` do all the set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
# nbgrader runs the `alembic` executable when it creates a gradebook: the venv's bin/
# must be on PATH for every nbgrader call, or a fresh clone fails on its first command.
export PATH := $(VENV)/bin:$(PATH)
# Matplotlib must never try to open a window (CI and grading have no screen). Grading kernels
# still draw inline (figures in feedback): TrackedExecute sets their MPLBACKEND alone.
export MPLBACKEND := Agg

REQ_HASH := $(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
ASSIGNMENTS := $(notdir $(wildcard source/*))

.PHONY: help setup data release sample-class autograde demo test lint format bench lab clean

help:
	@echo "make demo   - set up, build data, generate the release, autograde the sample class"
	@echo "make test   - set up, then lint and run every test"
	@echo "make bench  - measure speed against the course's limits (docs/benchmarks.md)"
	@echo "make lab    - JupyterLab with nbgrader's extensions on 127.0.0.1"

$(STAMP): requirements.txt pyproject.toml
	@echo "== installing pinned requirements into .venv (once per requirements change)"
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

data: setup
	$(PY) -m ds4023.data_build

release: data
	$(PY) -m ds4023.release

# The made-up sample class, generated from source/ (never edited by hand) into submitted/.
sample-class: setup
	$(PY) -m ds4023.sample_class

autograde: release
	$(PY) -m ds4023.batch_grade $(GRADE_ARGS)

demo: release sample-class
	$(MAKE) --no-print-directory autograde

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: data lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: data
	$(PY) -m ds4023.bench

# Not `release`: regenerating release/ would wipe a student's work there. Kernels pick
# matplotlib's inline backend only when MPLBACKEND is unset (it is exported as Agg above).
lab: data
	$(PY) -m ds4023.release --data-only
	env -u MPLBACKEND $(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser \
		--ServerApp.root_dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf $(VENV) gradebook.db autograded/*/ feedback reports
