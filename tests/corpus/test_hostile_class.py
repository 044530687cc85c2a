"""The hostile corpus graded together with legitimate students: every outcome as expected.

Slow: one session fixture generates the corpus (``tests.corpus.hostile``) in a course copy and
grades it with the legitimate students through ``grade_course`` as ``make autograde`` does
(sandboxed kernels, two workers), with limits of its own: 40 s per cell for the corpus (its
cells take seconds), 15 s for the two whose cell never ends (any limit stops them; each endless
cell costs one limit), 180 s per cell for the two legitimate
students (their training cell takes 13 s alone, up to 45 s on a busy machine) and 240 s per
submission. About 6 minutes on the 2-core development machine.
"""

from __future__ import annotations

import hashlib
import html
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from ds4023 import pipeline as batch_grade
from ds4023 import release
from ds4023.feedback import pages as feedback
from ds4023.grading import gradebook as gradebook_io
from ds4023.grading.state import GradingState
from ds4023.sample_class import students as sample_class
from ds4023.sandbox import kernelspec, limits
from tests.corpus import hostile as hostile_class
from tests.corpus.backprop import HOSTILE, LEGIT, SHORTCUTS, TESTS, TRAINING_PART
from tests.helpers import COURSE_ROOT, copy_course
from tests.helpers.grading_course import ASSIGNMENT as TOY
from tests.helpers.grading_course import STUDENTS as TOY_STUDENTS
from tests.helpers.grading_course import course_env, new_course, scores
from tests.helpers.visible_hidden import silent_but_failed

pytestmark = [
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        limits.unavailable_reason() is not None, reason=str(limits.unavailable_reason())
    ),
]

ASSIGNMENT = "backprop"
CELL_TIMEOUT = 40
LEGIT_CELL_TIMEOUT = 180
#: The corpus students whose cell never ends by design: any limit stops them, a short one keeps
#: the test quick.
ENDLESS = ("loop_forever", "deaf_to_interrupts")
ENDLESS_CELL_TIMEOUT = 15
#: Per-student cell limits where they differ from CELL_TIMEOUT.
CELL_TIMEOUTS = {
    **dict.fromkeys(LEGIT, LEGIT_CELL_TIMEOUT),
    **{h.name: LEGIT_CELL_TIMEOUT for h in HOSTILE if not h.fast},  # they train in full
    **dict.fromkeys(ENDLESS, ENDLESS_CELL_TIMEOUT),
}
SUBMISSION_TIMEOUT = 240
#: What must stay byte-identical, in the course copy and in the repository.
GUARDED = ("source", "release", "data")


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root's source/, release/ and data/, by relative path."""
    found = {}
    for part in GUARDED:
        for path in sorted((root / part).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def sandbox_with_limits(config, scratch):
    """The grading hook of ``make autograde`` (the sandbox) plus this test's cell limits."""
    cleanup = kernelspec.grading_hook(config, scratch)
    student = config.CourseDirectory.student_id
    config.Execute.timeout = CELL_TIMEOUTS.get(student, CELL_TIMEOUT)
    return cleanup


@dataclass
class Graded:
    course: Path
    summary: batch_grade.Summary
    before: dict[str, str]
    repo_before: dict[str, str]
    table: dict
    state: GradingState


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> Graded:
    """The corpus and its legitimate students, graded once, with feedback pages."""
    repo_before = tree_hashes(COURSE_ROOT)
    course = copy_course(tmp_path_factory.mktemp("hostile") / "course")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DS4023_DB_URL", raising=False)  # the copy's own SQLite gradebook
        mp.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
        mp.setenv("DS4023_CELL_TIMEOUT", str(CELL_TIMEOUT))
        mp.setenv("MPLBACKEND", "Agg")
        release.generate_release(ASSIGNMENT, course)
        before = tree_hashes(course)
        hostile_class.generate(course / "submitted", course, ASSIGNMENT)
        summary = batch_grade.grade_course(
            course,
            assignment=ASSIGNMENT,
            workers=2,
            setup_hook="tests.corpus.test_hostile_class:sandbox_with_limits",
            submission_timeout=SUBMISSION_TIMEOUT,
            progress=False,
        )
        feedback.generate_feedback(course, ASSIGNMENT, progress=False)
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    table = gradebook_io.grade_table(db_url, "ds4023", ASSIGNMENT)
    return Graded(course, summary, before, repo_before, table, GradingState(course))


def autograded_text(g: Graded, student: str) -> str:
    path = g.course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return path.read_text() if path.is_file() else ""


def test_the_corpus_covers_every_kind_of_attack():
    """Does the corpus hold at least 20 bad submissions, of all four kinds, each named once?"""
    names = [h.name for h in HOSTILE]
    assert len(names) >= 20 and len(set(names)) == len(names)
    assert {h.kind for h in HOSTILE} == {"resource", "tampering", "fooling", "outside", "honest"}
    assert not set(names) & set(LEGIT)


def test_every_submission_gets_its_expected_outcome(graded):
    """Is each bad submission graded, or failed, exactly as the corpus says, part by part?"""
    wrong = []
    for student, want in hostile_class.expected(ASSIGNMENT).items():
        entry = graded.state.get(ASSIGNMENT, student) or {}
        if want.failed is not None:
            if entry.get("status") != "failed" or want.failed not in (entry.get("reason") or ""):
                wrong.append(f"{student}: want failed ({want.failed}), got {entry}")
            continue
        if entry.get("status") != "graded":
            wrong.append(
                f"{student}: want graded, got {entry.get('status')}: {entry.get('reason')}"
            )
            continue
        parts = graded.table[student]["parts"]
        for grade_id, score in want.scores.items():
            got = parts[grade_id]
            ok = got["needs_manual_grade"] if score is None else got["auto_score"] == score
            if not ok:
                wrong.append(f"{student}/{grade_id}: want {score}, got {got}")
        if want.output and want.output not in autograded_text(graded, student):
            wrong.append(f"{student}: its outputs lack {want.output!r}")
    assert not wrong, "\n".join(wrong)


def test_legitimate_students_score_exactly_their_sample_class_scores(graded):
    """Graded among hostile submissions, do the legitimate students get exactly their scores?"""
    rows = sample_class.load_table(ASSIGNMENT).EXPECTED_SCORES
    for student in LEGIT:
        got = graded.table[student]["parts"]
        for grade_id, (score, why) in rows[student].items():
            if score is None:
                assert got[grade_id]["needs_manual_grade"], (student, grade_id, why)
            else:
                assert got[grade_id]["auto_score"] == score, (student, grade_id, why)


def test_warnings_on_stderr_in_test_cells_leave_their_scores_alone(graded):
    """The warnings honest_warnings' sigmoid logs land on stderr inside the test cells that
    call it (nbgrader alone scores such a cell 0): do those tests score as without them?"""
    nb = nbformat.reads(autograded_text(graded, "honest_warnings"), as_version=4)
    warned = {
        cell.metadata["nbgrader"]["grade_id"]
        for cell in nb.cells
        if cell.cell_type == "code"
        and cell.metadata.get("nbgrader", {}).get("grade")
        and any(o.get("name") == "stderr" and "sigmoid called on" in o.text for o in cell.outputs)
    }
    assert {"sigmoid_values", "forward_propagate_values"} <= warned
    want = hostile_class.expected(ASSIGNMENT)["honest_warnings"].scores
    parts = graded.table["honest_warnings"]["parts"]
    assert {g: parts[g]["auto_score"] for g in warned} == {g: want[g] for g in warned}
    assert all(want[g] > 0 for g in warned - {TRAINING_PART})  # corpus students train briefly


def test_source_release_and_data_stay_byte_identical(graded):
    """After the corpus ran, are source/, release/ and data/ unchanged, in the copy and repo?"""
    assert tree_hashes(graded.course) == graded.before
    assert tree_hashes(COURSE_ROOT) == graded.repo_before
    leftovers = [p for p in graded.course.rglob("planted*")] + [
        p for p in COURSE_ROOT.glob("*/planted*")
    ]
    assert leftovers == []


def test_failures_are_recorded_zeros_with_their_reason(graded):
    """Does every failed submission stand as zero, flagged for a person, with its reason?"""
    failed = [s for s, w in hostile_class.expected(ASSIGNMENT).items() if w.failed]
    assert len(failed) >= 7  # crashes, a kernel deaf to interrupts, unreadable or misnamed files
    for student in failed:
        reason = graded.state.get(ASSIGNMENT, student)["reason"]
        parts = graded.table[student]["parts"].values()
        assert {(p["auto_score"], p["needs_manual_grade"]) for p in parts} == {(0.0, True)}
        comments = set(graded.table[student]["comments"].values())
        assert comments == {gradebook_io.FAILURE_COMMENT + reason}
        page = graded.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert html.escape(reason[:60]) in page.read_text()


def test_output_floods_are_cut_and_notebooks_stay_small(graded):
    """Is a 200 MB print cut while it arrives, and every autograded notebook kept small?"""
    flood = autograded_text(graded, "print_flood")
    assert "output truncated by the grader" in flood
    for folder in (graded.course / "autograded").iterdir():
        notebook = folder / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        if notebook.is_file():
            assert notebook.stat().st_size < 3 * 2**20, notebook


def test_feedback_pages_never_show_a_hidden_test_line(graded):
    """Whatever a submission printed, does any feedback page quote a hidden test?"""
    source = nbformat.read(graded.course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    everyone = "\n".join(
        p.read_text() for p in (graded.course / "submitted").glob(f"*/{ASSIGNMENT}/*.ipynb")
    )
    hidden, inside = [], False
    for cell in source.cells:
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line or "END HIDDEN TESTS" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) >= 12 and line.strip() not in everyone:
                hidden.append(line.strip())
    assert len(set(hidden)) > len(TESTS)  # each test cell's probe call, and its comment
    pages = list((graded.course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) == len(LEGIT) + len(HOSTILE)
    for page in pages:
        text = html.unescape(page.read_text())
        assert [h for h in hidden if h in text] == [], page


_SQUARE_FAKE_SCORE = "import sys\n\ndef square(x):\n    sys.displayhook(2.0)\n    return x + 1"
_SQUARE_SWALLOW = (
    "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n\n"
    "def square(x):\n    return x + 1"
)


def test_a_score_printed_before_a_failing_test_counts_nothing(tmp_path_factory):
    """In a test that scores itself (no probe), do an emitted result or a hidden traceback
    still score 0?"""
    students = {
        "fake_score": {"square": _SQUARE_FAKE_SCORE},
        "swallowed": {"square": _SQUARE_SWALLOW},
        "correct": TOY_STUDENTS["correct"],
    }
    course = new_course(tmp_path_factory, tmp_path_factory.mktemp("fake") / "c", students)
    with course_env():
        batch_grade.grade_course(course, workers=2, progress=False)
        graded = scores(gradebook_io.grade_table(f"sqlite:///{course}/gradebook.db", "ds4023", TOY))
    assert graded["fake_score"]["test_square"] == (0.0, False)
    assert graded["swallowed"]["test_square"] == (0.0, False)
    assert graded["correct"]["test_square"] == (2.0, False)
    state = GradingState(course)
    assert {state.get(TOY, s)["status"] for s in students} == {"graded"}


def test_visible_checks_see_what_the_hidden_tests_see(graded):
    """For the legitimate and honest students and the issue-24 shortcuts (whose cheats leave
    the visible checks alone): where a visible check was silent, did the hidden judgement
    give full points? Rows that disable the visible checks on purpose are left out."""
    names = [*LEGIT, *(h.name for h in HOSTILE if h.kind == "honest"), *SHORTCUTS]
    disagree = {}
    for name in names:
        path = graded.course / "autograded" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        disagree[name] = silent_but_failed(path)
    assert not any(disagree.values()), {k: v for k, v in disagree.items() if v}
