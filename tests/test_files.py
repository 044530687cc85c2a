"""Tests for atomic writes: a reader sees the old file or the whole new one, never half."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ds4023 import files
from ds4023.files import atomic_write, atomic_write_bytes, atomic_write_json, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_writer_that_raises_leaves_the_old_file_and_no_temporary(tmp_path):
    """When the writer fails half-way, is the old content intact and nothing left beside it?"""
    path = tmp_path / "state.json"
    path.write_text("old")

    def half(tmp):
        tmp.write_text("new but not fini")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_new_file_is_not_created_when_the_writer_raises(tmp_path):
    """Does a failed first write leave no file at all (not an empty one)?"""
    path = tmp_path / "new.bin"
    with pytest.raises(ValueError):
        atomic_write(path, lambda tmp: (_ for _ in ()).throw(ValueError("no")))
    assert list(tmp_path.iterdir()) == []


def test_replaces_content_and_creates_missing_folders(tmp_path):
    """Is the new content in place, in a folder made for it, with no temporary left?"""
    path = tmp_path / "a" / "b" / "out.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "zweite – second")
    assert path.read_text(encoding="utf-8") == "zweite – second"
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o444])
def test_permissions_are_the_ones_asked_for(tmp_path, mode):
    """Does the file get the requested mode (the temporary file starts private)?"""
    path = tmp_path / "f"
    atomic_write_bytes(path, b"\x00\x01", mode=mode)
    assert path.read_bytes() == b"\x00\x01" and _mode(path) == mode


def test_default_mode_is_world_readable_whatever_the_umask(tmp_path):
    """Is a file written with the defaults readable by others (0644), not mkstemp's 0600?"""
    path = tmp_path / "report.json"
    old = os.umask(0o077)
    try:
        atomic_write_json(path, {"b": [1, 2]})
    finally:
        os.umask(old)
    assert _mode(path) == 0o644
    assert json.loads(path.read_text()) == {"b": [1, 2]}
    assert path.read_text().endswith("\n")


def test_replacing_keeps_readers_of_the_old_file_on_the_old_content(tmp_path):
    """Is the file replaced by a rename (an open reader keeps the old inode), not rewritten?"""
    path = tmp_path / "f"
    path.write_text("old")
    with open(path) as reader:
        atomic_write_text(path, "new")
        assert reader.read() == "old"
    assert path.read_text() == "new"


def test_replace_folder_leaves_exactly_the_new_files(tmp_path):
    """Does a replaced folder hold exactly the new files, with the modes asked for?"""
    folder = tmp_path / "submitted" / "ann" / "backprop"
    files.replace_folder(folder, {"old.txt": b"old", "sub/keep.txt": b"1"})
    files.replace_folder(folder, {"backprop.ipynb": b"{}", "sub/data.txt": b"2"}, file_mode=0o444)
    found = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}
    assert found == {"backprop.ipynb": b"{}", "sub/data.txt": b"2"}
    assert stat.S_IMODE((folder / "backprop.ipynb").stat().st_mode) == 0o444
    assert sorted(p.name for p in folder.parent.iterdir()) == ["backprop"]


def test_a_failed_replace_folder_leaves_the_old_folder(tmp_path, monkeypatch):
    """When writing the new files fails, is the old folder untouched and no staging left?"""
    folder = tmp_path / "backprop"
    files.replace_folder(folder, {"a.txt": b"old"})

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "chmod", fail)
    with pytest.raises(OSError, match="disk full"):
        files.replace_folder(folder, {"a.txt": b"new"})
    assert (folder / "a.txt").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop"]
