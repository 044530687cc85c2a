"""Fixtures of the checks tests: a released notebook's folder, its checks, the class's runs.

Each test module names its assignment in ``ASSIGNMENT``; the fixtures serve that one.
"""

from __future__ import annotations

import pytest

from tests.helpers.notebook_cells import load_checks, run_student, student_notebooks, workdir


@pytest.fixture(scope="module")
def folder(request, tmp_path_factory):
    """A scratch folder with the data and the checking module, as beside a released notebook."""
    assignment = request.module.ASSIGNMENT
    return workdir(assignment, tmp_path_factory.mktemp(f"{assignment}_checks"))


@pytest.fixture(scope="module")
def checks(request, folder):
    """The checking module, imported from the scratch folder."""
    return load_checks(request.module.ASSIGNMENT, folder)


@pytest.fixture(scope="module")
def class_runs(request, folder):
    """Every sample student's notebook run as far as the checks tests go: name -> StudentRun."""
    assignment = request.module.ASSIGNMENT
    notebooks = student_notebooks(assignment)
    return {name: run_student(assignment, nb, folder) for name, nb in notebooks.items()}
