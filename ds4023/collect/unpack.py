"""Read an LMS zip without trusting it, and put submissions in place all at once or not at all."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from ds4023 import settings
from ds4023.files import replace_folder

#: Files an archiver adds by itself (macOS): not a student's, never reported.
_NOISE = ("__MACOSX/", ".DS_Store")


class NotAZip(Exception):
    """The download is not a readable zip; the message says what to do."""


def entries(zip_path: Path) -> list[zipfile.ZipInfo]:
    """List a zip's file entries, in name order (folders and archiver noise left out).

    Args:
        zip_path: the downloaded file.

    Returns:
        The entries.

    Raises:
        NotAZip: the file is missing or is not a zip.
    """
    zip_path = Path(zip_path)
    hint = "download the submissions again from the LMS"
    if not zip_path.is_file():
        raise NotAZip(f"{zip_path} not found: give the downloaded zip's path as ZIP=")
    try:
        with zipfile.ZipFile(zip_path) as zf:
            found = zf.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise NotAZip(f"{zip_path.name} is not a zip file ({err}): {hint}") from None
    keep = [
        e
        for e in found
        if not e.is_dir()
        and not e.filename.startswith(_NOISE[0])
        and PurePosixPath(e.filename).name != _NOISE[1]
    ]
    return sorted(keep, key=lambda e: e.filename)


def unsafe(entry: zipfile.ZipInfo) -> str | None:
    """Say why an entry must not be unpacked (None when it may).

    Args:
        entry: a zip entry.

    Returns:
        The reason and fix for a path that leaves the folder, a symbolic link or an entry
        larger than ``DS4023_MAX_SUBMISSION_MB``; None for an ordinary file.
    """
    max_mb = settings.get("DS4023_MAX_SUBMISSION_MB")
    name = entry.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        return "its path leaves the target folder ('..' or absolute): a damaged or hostile zip"
    if stat.S_ISLNK(entry.external_attr >> 16):
        return "a symbolic link, not a file: links are never followed; ask for the file itself"
    if entry.file_size > max_mb * 1e6:
        return (
            f"{entry.file_size / 1e6:.0f} MB, over the {max_mb:g} MB limit "
            "(DS4023_MAX_SUBMISSION_MB): ask the student to clear the notebook's outputs"
        )
    return None


def read_entry(zip_path: Path, name: str) -> bytes:
    """Read one entry, never more than the size limit (a zip may lie about sizes)."""
    max_mb = settings.get("DS4023_MAX_SUBMISSION_MB")
    limit = int(max_mb * 1e6)
    with zipfile.ZipFile(zip_path) as zf, zf.open(name) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"over the {max_mb:g} MB limit once unpacked")
    return data


def folder_files(folder: Path) -> dict[str, bytes] | None:
    """Every file under a folder by relative path, or None when the folder does not exist."""
    if folder.is_symlink() or not folder.is_dir():
        return None
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def place(folder: Path, files: dict[str, bytes]) -> str:
    """Make ``folder`` hold exactly ``files``: written beside it, then renamed into place.

    Args:
        folder: the submission folder, ``submitted/<student>/<assignment>``.
        files: file name -> bytes.

    Returns:
        ``"unchanged"`` (same files and bytes: nothing is touched), ``"new"`` or ``"updated"``.
    """
    before = folder_files(folder)
    if before == files:
        return "unchanged"
    replace_folder(folder, files)
    return "new" if before is None else "updated"
