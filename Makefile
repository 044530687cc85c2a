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
	collect export release-zip hub hub-stop hub-proxy

# Every target below with a `## ` comment is listed by `make help` (the comment is its line).
help: ## this list
	@echo "usage: make TARGET [VAR=value ...]   (ds4023 --help for the command behind them)"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)$$/\1\t\2/' | \
		while IFS=$$'\t' read -r target text; do printf '  make %-13s %s\n' "$$target" "$$text"; done

# requirements.lock (exact versions and every file's hash, for Python 3.11 to 3.13 on every
# platform) and uv's own pin, compiled by uv from requirements.txt: run after changing a pin.
UV_VERSION := 0.13.9
lock: ## recompile requirements.lock from requirements.txt (uv; after changing a pin)
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
setup: $(STAMP) ## set up .venv from requirements.lock by uv (about 35 s; every target does it)
	@bash .ci/install-bubblewrap --optional

# The data, and the files shipped beside every source notebook (ds4023/assignments.py).
data: setup ## build data/ (ex4data1.mat, ex4weights.mat from ../shared/data) and copy it beside the notebooks
	$(DS4023) data
	$(DS4023) release --data-only

release: data ## regenerate release/ (the students' notebooks) from source/
	$(DS4023) release

# The made-up sample class, generated from source/ (never edited by hand) into submitted/.
sample-class: setup ## write the made-up sample class into submitted/
	$(DS4023) sample-class

autograde: release ## grade everything in submitted/, then feedback and reports [GRADE_ARGS=...]
	$(DS4023) grade $(GRADE_ARGS)

# An LMS's bulk download in, grades and feedback pages out (README, "Through an LMS").
LMS_USAGE = LMS=canvas|moodle ASSIGNMENT=<assignment>
collect: setup ## submissions in from an LMS: LMS=canvas|moodle ZIP=<download.zip> ASSIGNMENT=<a>
	@test -n "$(LMS)" -a -n "$(ZIP)" -a -n "$(ASSIGNMENT)" || { echo "usage: make collect $(LMS_USAGE) ZIP=<download.zip>"; exit 2; }
	$(DS4023) collect --lms $(LMS) --zip "$(abspath $(ZIP))" --assignment $(ASSIGNMENT)

# FINAL=1 exports grades still awaiting a person as they stand; COLUMN= names Canvas's column.
export: setup ## grades (and feedback zip) out to an LMS: LMS=canvas|moodle ASSIGNMENT=<a> [FINAL=1]
	@test -n "$(LMS)" -a -n "$(ASSIGNMENT)" || { echo "usage: make export $(LMS_USAGE) [FINAL=1]"; exit 2; }
	$(DS4023) export --lms $(LMS) --assignment $(ASSIGNMENT) --feedback-zip \
		$(if $(filter 1,$(FINAL)),--final,) $(if $(COLUMN),--column "$(COLUMN)",)

# The student release as one zip to upload to the LMS: reports/<assignment>_release.zip.
release-zip: release ## the student release as one zip to upload: ASSIGNMENT=<a>
	@test -n "$(ASSIGNMENT)" -a -d "release/$(ASSIGNMENT)" || { echo "usage: make release-zip ASSIGNMENT=<assignment> (one of: $(ASSIGNMENTS))"; exit 2; }
	@mkdir -p reports
	cd release && $(PY) -m zipfile -c ../reports/$(ASSIGNMENT)_release.zip $(ASSIGNMENT)/
	@echo "wrote reports/$(ASSIGNMENT)_release.zip"

demo: release sample-class ## set up, build data, release, grade the sample class, print grades (about 5 min)
	$(MAKE) --no-print-directory autograde

lint: setup ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Tests run side by side in TEST_WORKERS processes (pytest-xdist): most of the suite waits on
# kernels, servers and browsers, so three keep two cores busy. TEST_WORKERS=0 runs them in turn.
TEST_WORKERS ?= 3
test: data lint hub-proxy ## set up, lint and run every test (about 30 min on 2 cores)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: everything but the slow, sandbox, browser and PostgreSQL tests (a few minutes).
test-fast: data lint ## lint and the quick tests only: no sandbox, browser, PostgreSQL or slow ones (about 2 min)
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not slow and not sandbox and not browser and not postgres" $(PYTEST_ARGS)

# BENCH_ARGS="--only hub_class" runs one section (the others' figures are kept from bench.json);
# hub_class (30 students at once on the hub) needs root and is skipped, saying so, without it.
bench: data hub-proxy ## measure speed against the course's limits (docs/benchmarks.md; about 40 min) [BENCH_ARGS=...]
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Not `release`: regenerating release/ would wipe a student's work there. Kernels pick
# matplotlib's inline backend only when MPLBACKEND is unset (it is exported as Agg above).
lab: data ## JupyterLab with nbgrader's extensions on 127.0.0.1
	env -u MPLBACKEND $(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser \
		--ServerApp.root_dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root,)

# The course on a JupyterHub (README, "On a JupyterHub"): HUB_ARGS="--students 30 --port 8000".
# configurable-http-proxy comes from npm, pinned by ds4023/hub/proxy/package-lock.json.
HUB_PROXY := .hub/proxy/node_modules/.bin/configurable-http-proxy
$(HUB_PROXY): ds4023/hub/proxy/package.json ds4023/hub/proxy/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js 20+ and npm (Debian: sudo apt-get install npm)"; exit 1; }
	@mkdir -p .hub/proxy
	cp ds4023/hub/proxy/package.json ds4023/hub/proxy/package-lock.json .hub/proxy/
	cd .hub/proxy && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

hub-proxy: $(HUB_PROXY) ## configurable-http-proxy from npm into .hub/proxy (make hub does it)

hub: data hub-proxy ## the course on a JupyterHub on 127.0.0.1: prints its URL and logins
	@$(DS4023) hub start $(HUB_ARGS)

hub-stop: setup ## stop everything make hub started
	@$(DS4023) hub stop $(HUB_STOP_ARGS)

clean: ## remove .venv, the gradebook and the grading products
	rm -rf $(VENV) gradebook.db autograded/*/ feedback reports
