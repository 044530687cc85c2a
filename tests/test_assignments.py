"""Tests for ds4023.assignments: one manifest per assignment, and each names what exists."""

from __future__ import annotations

import importlib

import pytest

from ds4023 import release
from ds4023.assignments import MANIFESTS, manifest
from tests.helpers import COURSE_ROOT

NAMES = sorted(MANIFESTS)


def test_every_assignment_has_a_manifest_and_no_more():
    """Is there exactly one manifest per notebook in source/?"""
    assert NAMES == release.assignments(COURSE_ROOT)


@pytest.mark.parametrize("name", NAMES)
def test_the_manifest_names_files_and_modules_that_exist(name):
    """Do the checks module, data files, sample class and corpus of the manifest exist?"""
    m = manifest(name)
    folder = COURSE_ROOT / "source" / name
    assert (folder / f"{m.checks}.py").is_file()
    assert (folder / "reference.py").is_file()
    for data in m.data:
        assert (COURSE_ROOT / "data" / data).is_file(), f"{data}: run `make data`"
    table = importlib.import_module(m.sample_class)
    assert table.STUDENTS and set(table.EXPECTED_SCORES) <= {s.name for s in table.STUDENTS}
    if m.corpus:
        assert importlib.import_module(m.corpus).HOSTILE


def test_an_unknown_assignment_names_the_known_ones():
    """Does asking for a missing manifest say which ones exist?"""
    with pytest.raises(KeyError, match="no assignment 'nope': the known ones are backprop"):
        manifest("nope")
