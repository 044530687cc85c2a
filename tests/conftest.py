"""Shared fixtures: temporary copies of the course directory, so no test writes into the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import copy_course


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A fresh copy of the course with its built data, in tmp_path."""
    return copy_course(tmp_path / "course")


@pytest.fixture
def course_without_data(tmp_path: Path) -> Path:
    """A fresh copy of the course whose data has not been built yet."""
    return copy_course(tmp_path / "course", with_data=False)


@pytest.fixture(scope="module")
def artifacts(request, tmp_path_factory) -> Path:
    """Directory for screenshots and server logs (env DS4023_ARTIFACTS overrides)."""
    chosen = os.environ.get("DS4023_ARTIFACTS")
    name = request.module.__name__.rsplit(".", 1)[-1]
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp(f"{name}-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


#: The tier of each test module that is not quick, in one place (markers: pyproject.toml).
#: `make test-fast` leaves out every test marked here; single slow tests carry their own mark.
TIERS = {
    "collect/test_lms_collect.py": ("slow",),  # nbgrader db import, ~10 s a collect
    "export/test_lms_export.py": ("slow",),
    "corpus/test_hostile_class.py": ("slow", "sandbox"),
    "feedback/test_feedback_in_browser.py": ("slow", "sandbox", "browser"),
    "feedback/test_pages.py": ("slow",),
    "feedback/test_sanitise.py": ("slow",),
    "feedback/test_sample_class_feedback.py": ("slow", "sandbox"),
    "grading/runners/test_dask.py": ("slow",),
    "grading/test_backprop_judge.py": ("slow",),  # trains three times in-process
    "grading/test_course.py": ("slow", "sandbox"),
    "grading/test_gradebook_postgres.py": ("slow", "postgres"),
    "grading/test_intake.py": ("slow",),
    "hub/test_term.py": ("slow", "browser", "hub"),  # a JupyterHub, three users, ~10 min
    "grading/test_judge_grading.py": ("slow",),
    "grading/test_kernel_figures.py": ("slow",),
    "grading/preprocessors/test_execute_kernel.py": ("slow",),
    "notebooks/test_backprop_notebook.py": ("slow", "sandbox"),
    "notebooks/test_mlp_from_scratch_notebook.py": ("slow", "sandbox"),
    "report/test_grades.py": ("slow",),
    "sandbox/test_sandbox.py": ("sandbox",),
    "sandbox/test_unprivileged.py": ("slow", "sandbox"),
    "test_browser.py": ("slow", "browser"),
    "test_browser_exchange.py": ("slow", "browser"),
    "test_pipeline.py": ("slow", "sandbox"),
    "test_pipeline_sample_class.py": ("slow", "sandbox"),
}


#: Modules that share one session's expensive product run in one group, on one xdist worker:
#: the sample class graded once (tests/helpers/sample_class_course.py) feeds all three.
SHARED = {
    "feedback/test_feedback_in_browser.py": "sample class",
    "feedback/test_sample_class_feedback.py": "sample class",
    "test_pipeline_sample_class.py": "sample class",
}

#: The longest groups, longest first (seconds of one worker, measured by `make test
#: PYTEST_ARGS=--durations=0`): they start first, so that no long group starts last and
#: leaves the other workers idle (`--no-loadscope-reorder` in pyproject.toml).
LONGEST = (
    "corpus/test_hostile_class.py",
    "sample class",
    "hub/test_term.py",
    "notebooks/test_mlp_from_scratch_notebook.py",
    "notebooks/test_backprop_notebook.py",
    "export/test_lms_export.py",
    "test_browser_exchange.py",
    "sandbox/test_unprivileged.py",
)


def group_of(rel: str) -> str:
    """The xdist group of a test module (its path under tests/, or its SHARED group)."""
    return SHARED.get(rel, rel)


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test with its module's TIERS markers; put the LONGEST groups first."""
    here = Path(__file__).parent
    for item in items:
        rel = Path(item.fspath).relative_to(here).as_posix()
        for name in TIERS.get(rel, ()):
            item.add_marker(getattr(pytest.mark, name))
    rank = {group: i for i, group in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(group_of(_module(item.nodeid)), len(LONGEST)))


def _module(nodeid: str) -> str:
    """The test module of a node id, relative to tests/."""
    return nodeid.split("::", 1)[0].removeprefix("tests/")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist (requirements.txt)
def pytest_xdist_make_scheduler(config, log):
    """Under ``pytest -n N`` (make test) hand each group whole to one worker, in collection order.

    xdist's own ``--dist loadgroup`` cannot do it with pytest 9.2 (it renames node ids through
    an attribute pytest no longer reads), so the scope of a test is its group, computed here.
    Module- and session-scoped fixtures are then built once per group, as in a serial run.
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(_module(nodeid))

    return ByGroup(config, log)
