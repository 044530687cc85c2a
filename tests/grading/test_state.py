"""Tests for the grading state: digests, fingerprints, resume entries and their atomic save."""

from __future__ import annotations

import json

import pytest

from ds4023.grading import state as state_module
from ds4023.grading.state import GRADER_VERSION, GradingState, digest_files, fingerprint

ENTRY = {"digest": "d1", "fingerprint": "f1", "status": "graded", "reason": None}


def test_digest_changes_with_any_name_or_content_but_not_with_order():
    """Does the submission digest follow names and bytes, and ignore dict order?"""
    files = {"a.ipynb": b"x", "data/b.csv": b"1,2"}
    base = digest_files(files)
    assert base == digest_files(dict(reversed(list(files.items()))))
    assert base != digest_files({**files, "a.ipynb": b"y"})
    assert base != digest_files({"A.ipynb": b"x", "data/b.csv": b"1,2"})
    assert base != digest_files({**files, "extra.txt": b""})
    assert digest_files({}) != base and len(base) == 64


def test_digest_cannot_be_forged_by_moving_bytes_between_name_and_content():
    """Do ``{"ab": "c"}`` and ``{"a": "bc"}`` hash differently (names and contents are framed)?"""
    assert digest_files({"ab": b"c"}) != digest_files({"a": b"bc"})


def test_fingerprint_follows_spec_files_config_and_grader_version(monkeypatch):
    """Does the assignment fingerprint change with each input that decides grades?"""
    spec, files, cfg = {"cells": [1]}, {"d.csv": b"1"}, {"Execute": {"timeout": 180}}
    base = fingerprint(spec, files, cfg)
    assert base == fingerprint({"cells": [1]}, {"d.csv": b"1"}, {"Execute": {"timeout": 180}})
    assert base != fingerprint({"cells": [2]}, files, cfg)
    assert base != fingerprint(spec, {"d.csv": b"2"}, cfg)
    assert base != fingerprint(spec, files, {"Execute": {"timeout": 20}})
    monkeypatch.setattr(state_module, "GRADER_VERSION", GRADER_VERSION + 1)
    assert base != fingerprint(spec, files, cfg)


def test_fingerprint_accepts_classes_in_the_config():
    """Can a configuration holding preprocessor classes (not JSON) still be fingerprinted?"""
    from nbgrader.preprocessors import Execute

    one = fingerprint({}, {}, {"Autograde": {"autograde_preprocessors": [Execute]}})
    assert one == fingerprint({}, {}, {"Autograde": {"autograde_preprocessors": [Execute]}})
    assert one != fingerprint({}, {}, {"Autograde": {"autograde_preprocessors": []}})


def test_put_saves_and_a_new_state_resumes_from_it(tmp_path):
    """Is a recorded submission found again by the next run, with the same hashes only?"""
    state = GradingState(tmp_path)
    assert state.get("a1", "s1") is None and not state.is_current("a1", "s1", "d1", "f1")
    state.put("a1", "s1", ENTRY)
    again = GradingState(tmp_path)
    assert again.get("a1", "s1") == ENTRY
    assert again.is_current("a1", "s1", "d1", "f1")
    assert not again.is_current("a1", "s1", "d2", "f1")  # the student changed the files
    assert not again.is_current("a1", "s1", "d1", "f2")  # the assignment changed
    assert not again.is_current("a1", "s2", "d1", "f1")
    saved = json.loads((tmp_path / ".grading" / "state.json").read_text())
    assert saved == {"version": GRADER_VERSION, "entries": {"a1/s1": ENTRY}}


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"version": GRADER_VERSION + 1, "entries": {"a1/s1": ENTRY}}),
        "",
    ],
)
def test_unreadable_or_other_version_state_starts_empty(tmp_path, content):
    """Does a damaged state, or one from another grader version, mean: grade everything?"""
    path = tmp_path / ".grading" / "state.json"
    path.parent.mkdir()
    path.write_text(content)
    state = GradingState(tmp_path)
    assert state.entries == {}
    state.put("a1", "s2", ENTRY)  # and it can be written over
    assert set(GradingState(tmp_path).entries) == {"a1/s2"}


def test_a_failed_save_keeps_the_previous_state(tmp_path, monkeypatch):
    """When saving fails (disk full at flush), does the file still hold the earlier entries?"""
    state = GradingState(tmp_path)
    state.put("a1", "s1", ENTRY)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ds4023.files.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        state.put("a1", "s2", {**ENTRY, "digest": "d2"})
    monkeypatch.undo()
    assert set(GradingState(tmp_path).entries) == {"a1/s1"}
    assert [p.name for p in (tmp_path / ".grading").iterdir()] == ["state.json"]
