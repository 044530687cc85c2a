# DS4023 course package. `make demo` and `make test` do all the set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter the venv is made from: `make demo PYTHON=python3.12`. CI runs Debian 12's
# 3.11.2, 3.12.1 and 3.13.0 too (README). VENV may point elsewhere (CI sets those up that way).
PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
# The course's one command (ds4023/cli.py); every stage below is a subcommand of it.
DS4023 := $(VENV)/bin/ds4023
# nbgrader runs the `alembic` executable when it creates a gradebook: the venv's bin/
# must be on PATH for every nbgrader call, or a fresh clone fails on its first command.
export PATH := $(VENV)/bin:$(PATH)
# Matplotlib must never try to open a window (CI and grading have no screen). Grading kernels
# still draw inline (figures in feedback): TrackedExecute sets their MPLBACKEND alone.
export MPLBACKEND := Agg

REQ_HASH := $(shell cat requirements.lock pyproject.toml | (sha256sum 2>/dev/null || shasum -a 256) | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
ASSIGNMENTS := $(notdir $(wildcard source/*))

.PHONY: help check-python setup data release sample-class autograde demo test test-fast lint format bench lab clean lock \
	collect export release-zip

help:
	@echo "make demo   - set up, build data, generate the release, autograde the sample class"
	@echo "make test   - set up, then lint and run every test"
	@echo "make test-fast - lint and the quick tests only (no sandbox, browser, PostgreSQL or slow ones)"
	@echo "make bench  - measure speed against the course's limits (docs/benchmarks.md)"
	@echo "make lab    - JupyterLab with nbgrader's extensions on 127.0.0.1"
	@echo "make collect LMS=canvas|moodle ZIP=<download.zip> ASSIGNMENT=<a> - submissions in from an LMS"
	@echo "make export LMS=canvas|moodle ASSIGNMENT=<a> [FINAL=1] - grades (and feedback zip) out to it"

# requirements.lock (exact versions and every file's hash, for Python 3.11 to 3.13 on every
# platform) and uv's own pin, compiled by uv from requirements.txt: run after changing a pin.
UV_VERSION := 0.13.9
lock:
	@command -v uv >/dev/null || { echo "error: make lock needs uv $(UV_VERSION) on PATH: pip install uv==$(UV_VERSION)"; exit 1; }
	uv pip compile requirements.txt --universal --python-version 3.11 --generate-hashes --quiet \
		--custom-compile-command "make lock" -o requirements.lock
	echo "uv==$(UV_VERSION)" | uv pip compile - --universal --python-version 3.11 \
		--generate-hashes --quiet --custom-compile-command "make lock" -o .ci/uv-requirements.lock

# One line, before anything is installed, when the interpreter cannot do.
check-python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 or later, or run make PYTHON=/path/to/python3"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); this course needs 3.11 or later: run make PYTHON=python3.12 (or another 3.11+)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "error: $(PYTHON) cannot make a venv: install python3-venv (Debian/Ubuntu: sudo apt-get install python3-venv)"; exit 1; }

$(STAMP): requirements.lock pyproject.toml | check-python
	@echo "== installing the locked requirements into $(VENV) (once per lock change)"
	@bash .ci/install-venv $(PYTHON) $(VENV)
	@rm -f $(VENV)/.installed-*
	@touch $@

# The grading sandbox needs bubblewrap: installed when missing on Debian/Ubuntu as root,
# otherwise one line says how (make lab and the rest work without it).
setup: $(STAMP)
	@bash .ci/install-bubblewrap --optional

# The data, and the files shipped beside every source notebook (ds4023/assignments.py).
data: setup
	$(DS4023) data
	$(DS4023) release --data-only

release: data
	$(DS4023) release

# The made-up sample class, generated from source/ (never edited by hand) into submitted/.
sample-class: setup
	$(DS4023) sample-class

autograde: release
	$(DS4023) grade $(GRADE_ARGS)

# An LMS's bulk download in, grades and feedback pages out (README, "Through an LMS").
LMS_USAGE = LMS=canvas|moodle ASSIGNMENT=<assignment>
collect: setup
	@test -n "$(LMS)" -a -n "$(ZIP)" -a -n "$(ASSIGNMENT)" || { echo "usage: make collect $(LMS_USAGE) ZIP=<download.zip>"; exit 2; }
	$(DS4023) collect --lms $(LMS) --zip "$(abspath $(ZIP))" --assignment $(ASSIGNMENT)

# FINAL=1 exports grades still awaiting a person as they stand; COLUMN= names Canvas's column.
export: setup
	@test -n "$(LMS)" -a -n "$(ASSIGNMENT)" || { echo "usage: make export $(LMS_USAGE) [FINAL=1]"; exit 2; }
	$(DS4023) export --lms $(LMS) --assignment $(ASSIGNMENT) --feedback-zip \
		$(if $(filter 1,$(FINAL)),--final,) $(if $(COLUMN),--column "$(COLUMN)",)

# The student release as one zip to upload to the LMS: reports/<assignment>_release.zip.
release-zip: release
	@test -n "$(ASSIGNMENT)" -a -d "release/$(ASSIGNMENT)" || { echo "usage: make release-zip ASSIGNMENT=<assignment> (one of: $(ASSIGNMENTS))"; exit 2; }
	@mkdir -p reports
	cd release && $(PY) -m zipfile -c ../reports/$(ASSIGNMENT)_release.zip $(ASSIGNMENT)/
	@echo "wrote reports/$(ASSIGNMENT)_release.zip"

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

# The inner loop: everything but the slow, sandbox, browser and PostgreSQL tests (a few minutes).
test-fast: data lint
	$(PY) -m pytest -m "not slow and not sandbox and not browser and not postgres" $(PYTEST_ARGS)

bench: data
	$(PY) -m benchmarks.run

# Not `release`: regenerating release/ would wipe a student's work there. Kernels pick
# matplotlib's inline backend only when MPLBACKEND is unset (it is exported as Agg above).
lab: data
	env -u MPLBACKEND $(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser \
		--ServerApp.root_dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf $(VENV) gradebook.db autograded/*/ feedback reports
