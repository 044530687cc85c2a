"""Writing files and folders so a reader sees the old content or all of the new, never half."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: The course's grading lock, below the course root: held by a grading run and by a collect.
GRADING_LOCK = Path(".grading") / "lock"


def atomic_write(path: Path, write: Callable[[Path], object], mode: int = 0o644) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    Args:
        path: the file to (re)write; its folder is created if needed.
        write: fills the temporary file it is given (e.g. ``np.savez``, ``Path.write_bytes``).
        mode: the file's permissions (temporary files start private).

    Raises:
        Whatever ``write`` raises; the temporary file is removed and ``path`` left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data), mode)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path: Path, data: object) -> None:
    """Write ``data`` as indented JSON, atomically (see :func:`atomic_write`)."""
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def replace_folder(folder: Path, files: dict[str, bytes], file_mode: int = 0o644) -> None:
    """Make ``folder`` hold exactly ``files``: written beside it, then renamed into place.

    Args:
        folder: the folder to (re)write; its parent is created if needed.
        files: relative path -> bytes.
        file_mode: the permissions of every file (the folders get 0755).

    Raises:
        OSError: writing failed; ``folder`` is left as it was and the staging folder removed.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    old = folder.parent / f".{folder.name}.old-{os.getpid()}"
    try:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, file_mode)
        os.chmod(staging, 0o755)
        moved = folder.exists() or folder.is_symlink()
        if moved:
            os.replace(folder, old)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if moved:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` is its pid as it wrote it, or "unknown"."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


@contextmanager
def hold_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed), with this pid written in it.

    The operating system drops the lock when the process ends, even when it is killed.

    Raises:
        LockHeld: another process holds it; nothing waits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise LockHeld(fh.read().strip() or "unknown") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
