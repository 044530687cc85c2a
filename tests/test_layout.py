"""The package shows its pipeline: no stage imports a later one, tests and benchmarks stay out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import COURSE_ROOT

PACKAGE = COURSE_ROOT / "ds4023"

#: Stages from the bottom up (docs/architecture.md). A module may import its own stage and the
#: ones listed before it, never a later one.
STAGES = (
    (
        "ds4023",
        "ds4023.settings",
        "ds4023.files",
        "ds4023.assignments",
        "ds4023.course_terms",
        "ds4023.probe",
        "ds4023.checks_core",
        "ds4023.command_line",
    ),
    ("ds4023.data",),
    ("ds4023.release",),
    ("ds4023.collect", "ds4023.sample_class"),
    ("ds4023.sandbox",),
    ("ds4023.grading",),
    ("ds4023.feedback",),
    ("ds4023.report", "ds4023.export"),
    ("ds4023.pipeline",),
    ("ds4023.hub",),
    ("ds4023.cli", "ds4023.__main__"),
)


def stage_of(module: str) -> int:
    """The index in STAGES of the longest prefix naming ``module``'s stage."""
    best, level = "", None
    for i, names in enumerate(STAGES):
        for name in names:
            inside = name != "ds4023" and module.startswith(name + ".")  # the root: itself only
            if (module == name or inside) and len(name) > len(best):
                best, level = name, i
    assert level is not None, f"{module} belongs to no stage: add it to STAGES and the docs"
    return level


def module_name(path: Path) -> str:
    parts = path.relative_to(COURSE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every ``ds4023``/``tests``/``benchmarks`` module the file imports, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m.split(".")[0] in ("ds4023", "tests", "benchmarks")}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_stage_imports_a_later_one(path: Path) -> None:
    """Does every import of this module stay in its own stage or an earlier one?"""
    me = module_name(path)
    later = sorted(
        m for m in imports(path) if m.startswith("ds4023") and stage_of(m) > stage_of(me)
    )
    assert not later, f"{me} (stage {stage_of(me)}) imports later stages: {later}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_the_package_never_imports_tests_or_benchmarks(path: Path) -> None:
    """Is the installable package free of the test corpus and the benchmarks?"""
    outside = sorted(m for m in imports(path) if not m.startswith("ds4023"))
    assert not outside, f"{module_name(path)} imports {outside}"


def test_the_stage_check_catches_a_late_import(tmp_path: Path) -> None:
    """Would the check above notice grading importing the report (a later stage)?"""
    assert stage_of("ds4023.report.grades") > stage_of("ds4023.grading.task")
    assert stage_of("ds4023.grading.preprocessors.execute") == stage_of("ds4023.grading")
    with pytest.raises(AssertionError, match="belongs to no stage"):
        stage_of("ds4023_elsewhere")
    with pytest.raises(AssertionError, match="belongs to no stage"):
        stage_of("ds4023.unplaced_module")


def test_every_tier_names_a_test_module():
    """Does each entry of the tier table name a test module that exists (none renamed away)?"""
    from tests.conftest import TIERS

    here = COURSE_ROOT / "tests"
    assert [name for name in TIERS if not (here / name).is_file()] == []
