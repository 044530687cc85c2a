"""requirements.lock holds every pin of requirements.txt, at the same version, with hashes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """Package name (normalised) -> exact version, from a requirements or lock file."""
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[_norm(match[1])] = match[2]
    return found


def hashed_blocks(path: Path) -> dict[str, int]:
    """Package name -> how many --hash lines its lock entry carries."""
    counts: dict[str, int] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _norm(match[1])
            counts[current] = 0
        elif current and line.strip().startswith("--hash=sha256:"):
            counts[current] += 1
    return counts


def test_every_pin_is_locked_at_its_version():
    wanted, locked = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements.lock")
    assert wanted, "requirements.txt pins nothing"
    differ = {n: (v, locked.get(n)) for n, v in wanted.items() if locked.get(n) != v}
    assert not differ, f"run `make lock` after changing requirements.txt: {differ}"


def test_every_locked_package_has_hashes():
    for lock in (ROOT / "requirements.lock", ROOT / ".ci" / "uv-requirements.lock"):
        counts = hashed_blocks(lock)
        assert counts and all(counts.values()), f"{lock.name}: entries without a hash"


def test_the_pinned_uv_is_the_makefiles():
    version = re.search(r"^UV_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)[1]
    assert pins(ROOT / ".ci" / "uv-requirements.lock") == {"uv": version}
