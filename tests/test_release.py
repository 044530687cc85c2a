"""Tests for ds4023.release: the committed release is what nbgrader makes of source/."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from ds4023 import release
from ds4023.assignments import MANIFESTS, SHIPPED
from tests.helpers import COURSE_ROOT

ASSIGNMENTS = release.assignments(COURSE_ROOT)


def _release_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix != ".mat"
    }


def test_course_has_assignments():
    """Does the course have at least the backprop assignment to release?"""
    assert "backprop" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_matches_regenerated(course_copy, assignment):
    """Does regenerating the release from source/ give exactly the committed release/?"""
    folder = release.generate_release(assignment, course_copy)
    committed = _release_files(COURSE_ROOT / "release" / assignment)
    regenerated = _release_files(folder)
    assert sorted(regenerated) == sorted(committed), "release files differ: run `make release`"
    for name, content in regenerated.items():
        assert content == committed[name], f"release/{assignment}/{name} is stale: `make release`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_stubs_and_no_solutions(assignment):
    """Does the committed release hold stubs for students and no solution or hidden test?"""
    nb = json.loads((COURSE_ROOT / "release" / assignment / f"{assignment}.ipynb").read_text())
    text = "\n".join("".join(cell["source"]) for cell in nb["cells"])
    assert "YOUR CODE HERE" in text
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text


@pytest.mark.parametrize("assignment", sorted(MANIFESTS))
def test_release_carries_its_data(course_copy, assignment):
    """Does a released folder carry the data files its notebook loads by name?"""
    folder = release.generate_release(assignment, course_copy)
    for name in MANIFESTS[assignment].data:
        assert (folder / name).read_bytes() == (course_copy / "data" / name).read_bytes()


def test_missing_data_is_one_clear_error(course_without_data, capsys):
    """Without built data, does the release say so in one line and exit non-zero?"""
    course = course_without_data
    code = release.main(["backprop", "--course", str(course)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "make data" in err[0]
    assert not (course / "source" / "backprop" / "ex4data1.mat").exists()


def test_unknown_assignment_is_one_clear_error(course_copy, capsys):
    """Does asking for an assignment that does not exist fail with one line?"""
    code = release.main(["no_such_assignment", "--course", str(course_copy)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no_such_assignment" in err[0]


def test_data_only_leaves_release_alone(course_copy):
    """Does --data-only put the data beside both notebooks without regenerating release/?"""
    notebook = course_copy / "release" / "backprop" / "backprop.ipynb"
    notebook.write_text(notebook.read_text() + " ")  # a student's unsaved-elsewhere edit
    edited = notebook.read_bytes()
    assert release.main(["backprop", "--data-only", "--course", str(course_copy)]) == 0
    assert notebook.read_bytes() == edited
    for into in ("source", "release"):
        assert (course_copy / into / "backprop" / "ex4weights.mat").is_file()


@pytest.mark.parametrize("assignment", sorted(MANIFESTS))
def test_shared_files_are_copies_of_the_one_in_ds4023(assignment):
    """Are the shared student-side files beside each notebook exact copies of ds4023's?"""
    for name, kept_as in SHIPPED.items():
        kept = (release.SHARED_DIR / kept_as).read_bytes()
        for into in ("source", "release"):
            copy = COURSE_ROOT / into / assignment / name
            assert copy.read_bytes() == kept, f"{into}/{assignment}/{name} is stale: make release"


def test_release_rewrites_an_edited_shared_file(course_copy):
    """Does the release put back ds4023's copy over an edited copy in source/?"""
    copy = course_copy / "source" / "backprop" / "checks_core.py"
    copy.write_text("# edited here by mistake\n")
    folder = release.generate_release("backprop", course_copy)
    kept = (release.SHARED_DIR / "checks_core.py").read_bytes()
    assert copy.read_bytes() == kept and (folder / "checks_core.py").read_bytes() == kept


def test_a_config_nbgrader_cannot_load_never_releases_the_reference(course_copy):
    """When nbgrader_config.py fails to load, is reference.py kept out and the release refused?"""
    config = course_copy / "nbgrader_config.py"
    config.write_text("import no_such_module_here\n" + config.read_text())
    with pytest.raises(release.ReleaseError, match="did not apply nbgrader_config.py"):
        release.generate_release("backprop", course_copy)
    assert not (course_copy / "release" / "backprop").exists()


@pytest.mark.parametrize(
    "notebook", sorted(COURSE_ROOT.glob("source/*/*.ipynb")), ids=lambda p: p.parent.name
)
def test_source_is_committed_clean(notebook):
    """Is each source notebook committed without outputs and with minimal metadata?"""
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert nb.metadata.kernelspec.name == "python3"
    assert dict(nb.metadata.language_info) == {"name": "python"}
    for cell in nb.cells:
        assert set(cell.metadata) <= {"nbgrader"}, cell.id
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
