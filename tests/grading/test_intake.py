"""Tests of the grader's intake limits: symbolic links and oversized submissions are refused.

Each refusal is a recorded zero with its reason (state, run table, gradebook, feedback page),
nothing is followed, read or copied into ``autograded/``, the other students are graded as
usual, and a fixed submission is graded on the next run.
"""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

import pytest

from ds4023.feedback.pages import generate_feedback
from ds4023.grading.course import SubmissionRefused, read_submission
from ds4023.grading.state import GradingState
from ds4023.pipeline import format_table, grade_course
from tests.helpers.grading_course import (
    ASSIGNMENT,
    EXPECTED,
    STUDENTS,
    course_env,
    new_course,
    scores,
    table_of,
)

pytestmark = pytest.mark.timeout(900)

SECRET = "intake-secret-marker-7f3a"
HONEST = ("correct", "partial")
MB = 1_000_000

LINK = "hand in the files themselves, not links"
#: student -> words of the reason its refusal must give.
REFUSED = {
    "link_to_source": f"refused: toy.ipynb is a symbolic link; {LINK}",
    "link_extra_file": f"refused: notes.txt is a symbolic link; {LINK}",
    "link_extra_folder": f"refused: extras is a symbolic link; {LINK}",
    "link_submission": "refused: the submission folder toy is a symbolic link",
    "huge_extra_file": "refused: the submission holds 60.0 MB, more than the 50.0 MB limit "
    "(largest: big.bin, 60.0 MB)",
}


def _outside(tmp_path: Path) -> Path:
    """A folder outside the course holding a secret file, as a root-only file would be."""
    out = tmp_path / "outside"
    (out / "dir").mkdir(parents=True)
    (out / "secret.txt").write_text(SECRET)
    (out / "dir" / "secret.txt").write_text(SECRET)
    return out


def plant_refusals(course: Path, outside: Path) -> None:
    """Write one submission per way of being refused, each built from the correct student."""
    sub = course / "submitted"
    correct = sub / "correct" / ASSIGNMENT
    for student in REFUSED:
        shutil.copytree(correct, sub / student / ASSIGNMENT)
    (sub / "link_to_source" / ASSIGNMENT / "toy.ipynb").unlink()
    (sub / "link_to_source" / ASSIGNMENT / "toy.ipynb").symlink_to(
        course / "source" / ASSIGNMENT / "toy.ipynb"
    )
    (sub / "link_extra_file" / ASSIGNMENT / "notes.txt").symlink_to(outside / "secret.txt")
    (sub / "link_extra_folder" / ASSIGNMENT / "extras").symlink_to(outside / "dir")
    target = outside / "submission"
    shutil.move(sub / "link_submission" / ASSIGNMENT, target)
    (sub / "link_submission" / ASSIGNMENT).symlink_to(target)
    with open(sub / "huge_extra_file" / ASSIGNMENT / "big.bin", "wb") as fh:
        fh.truncate(60 * MB)  # sparse: 60 MB by lstat, no disk used


@pytest.fixture(scope="module")
def refused_class(tmp_path_factory):
    """The toy class (two honest students) plus the refused ones, graded once."""
    base = tmp_path_factory.mktemp("intake")
    students = {s: STUDENTS[s] for s in HONEST}
    course = new_course(tmp_path_factory, base / "course", students)
    outside = _outside(base)
    plant_refusals(course, outside)
    with course_env():
        summary = grade_course(course, workers=2, progress=False)
        generate_feedback(course, ASSIGNMENT, progress=False)
    return course, outside, summary


def test_each_refusal_is_a_recorded_zero_with_its_reason(refused_class):
    """Is every refused submission failed, with its reason in state, table and feedback?"""
    course, _, summary = refused_class
    state = GradingState(course)
    table = scores(table_of(course))
    # The note column wraps to the terminal: read the table with its line breaks as spaces.
    text = " ".join(format_table(summary, width=100).split())
    for student, reason in REFUSED.items():
        entry = state.get(ASSIGNMENT, student)
        assert entry["status"] == "failed" and entry["reason"].startswith(reason), entry
        assert all(score == 0.0 for score, _ in table[student].values())
        row = next(r for r in summary.rows if r.student == student)
        assert row.status == "failed" and row.note == entry["reason"]
        assert " ".join(entry["reason"].split()) in text  # whole, never cut
        page = course / "feedback" / student / ASSIGNMENT / "toy.html"
        assert reason.split(";")[0].replace("refused: ", "") in page.read_text()
        assert not (course / "autograded" / student).exists()
    assert summary.exit_code == 1


def test_the_other_students_are_graded_as_usual(refused_class):
    """Are the honest students' scores exactly what they are without the refused ones?"""
    course, _, _ = refused_class
    table = scores(table_of(course))
    for student in HONEST:
        assert table[student] == EXPECTED[student]
        assert GradingState(course).get(ASSIGNMENT, student)["status"] == "graded"


def test_nothing_from_outside_the_course_is_copied(refused_class):
    """Does no file of the course's products hold the secret, and no link sit in autograded/?"""
    course, _, _ = refused_class
    for folder in ("autograded", "feedback", ".grading"):
        for path in (course / folder).rglob("*"):
            assert not path.is_symlink(), path
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


def test_unchanged_refusals_are_skipped_and_fixed_ones_graded(refused_class, tmp_path):
    """Is a second run a no-op, and is a fixed submission graded on the next run?"""
    course = tmp_path / "course"
    shutil.copytree(refused_class[0], course, symlinks=True)
    with course_env():
        again = grade_course(course, workers=1, progress=False)
        assert again.graded_now == 0 and again.skipped == len(REFUSED) + len(HONEST)
        folder = course / "submitted" / "link_to_source" / ASSIGNMENT
        (folder / "toy.ipynb").unlink()
        shutil.copy2(course / "submitted" / "correct" / ASSIGNMENT / "toy.ipynb", folder)
        (course / "submitted" / "huge_extra_file" / ASSIGNMENT / "big.bin").unlink()
        fixed = grade_course(course, workers=2, progress=False)
    assert fixed.graded_now == 2
    table = scores(table_of(course))
    state = GradingState(course)
    for student in ("link_to_source", "huge_extra_file"):
        assert state.get(ASSIGNMENT, student)["status"] == "graded"
        assert table[student] == EXPECTED["correct"]


def test_a_huge_file_is_refused_from_lstat_without_being_read(tmp_path):
    """Is a 1 GiB extra file refused before a byte of it is read (memory stays flat)?"""
    folder = tmp_path / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "toy.ipynb").write_text("{}")
    with open(folder / "big.bin", "wb") as fh:
        fh.truncate(1 << 30)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SubmissionRefused, match="more than the 50.0 MB limit") as refused:
        read_submission(folder, "alice", {}, [], max_bytes=50 * MB)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50_000, grown_kib
    assert refused.value.digest.startswith("refused-")
    # a bigger limit changes what was seen, so raising the setting regrades the submission
    with pytest.raises(SubmissionRefused) as other:
        read_submission(folder, "alice", {}, [], max_bytes=60 * MB)
    assert other.value.digest != refused.value.digest


def test_special_files_and_ignored_links_are_handled(tmp_path):
    """Is a FIFO refused, and a link nbgrader ignores (or at a data file's path) left unread?"""
    folder = tmp_path / "bob" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "toy.ipynb").write_text("{}")
    (folder / ".ipynb_checkpoints").symlink_to("/")
    (folder / "toy_data.csv").symlink_to("/dev/zero")
    sub = read_submission(folder, "bob", {"toy_data.csv": b"1"}, [".ipynb_checkpoints"])
    assert sub.files == {"toy.ipynb": b"{}"}
    os.mkfifo(folder / "pipe")
    with pytest.raises(SubmissionRefused, match="pipe is not a regular file"):
        read_submission(folder, "bob", {"toy_data.csv": b"1"}, [".ipynb_checkpoints"])
