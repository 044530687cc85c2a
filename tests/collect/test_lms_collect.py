"""Collecting Canvas and Moodle bulk downloads: names, roster matching, every bad entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from ds4023 import release
from ds4023.collect import CollectError, collect, main, read_manifest
from ds4023.collect.lms import CanvasCollector, MoodleCollector, Skip
from ds4023.collect.roster import RosterError, read_roster
from tests.helpers.lms_zips import (
    ASSIGNMENT,
    NOTEBOOK,
    canvas_name,
    course_with_release,
    moodle_name,
    roster_rows,
    write_roster,
    write_zip,
)

STUDENTS = ["correct", "blank", "partial", "late_one"]
ROWS = roster_rows(STUDENTS)
ROW = {r["id"]: r for r in ROWS}


@pytest.fixture(autouse=True)
def own_gradebook(monkeypatch):
    """Each course copy uses its own SQLite gradebook."""
    monkeypatch.delenv("DS4023_DB_URL", raising=False)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    c = course_with_release(tmp_path / "course")
    write_roster(c, ROWS)
    return c


def nb(student: str) -> bytes:
    return json.dumps({"student": student}).encode()


def canvas_zip(path: Path) -> Path:
    """Four good students (one late, one resubmitted as -1) and every kind of bad entry."""
    files = [
        (canvas_name(ROW["correct"], 501), nb("correct")),
        (canvas_name(ROW["blank"], 502, "backprop-1.ipynb"), nb("blank")),
        (canvas_name(ROW["late_one"], 503, late=True), nb("late_one")),
        ("doejane_9999_504_backprop.ipynb", nb("unknown")),
        (canvas_name(ROW["partial"], 505), nb("partial-a")),
        (canvas_name(ROW["partial"], 506, "backprop-2.ipynb"), nb("partial-b")),
        (canvas_name(ROW["correct"], 507, "Untitled.ipynb"), nb("other name")),
        (canvas_name(ROW["correct"], 508, "notes.txt"), b"text"),
        ("../samplecorrect_1001_509_backprop.ipynb", nb("escape")),
        ("backprop.ipynb", nb("no lms naming")),
        ("__MACOSX/._samplecorrect_1001_501_backprop.ipynb", b"noise"),
    ]
    return write_zip(path, files, links={"samplecorrect_1001_510_backprop.ipynb": "/etc/passwd"})


def moodle_zip(path: Path) -> Path:
    """The same class as Moodle downloads it (participant ids of this assignment)."""
    files = [
        (moodle_name(ROW["correct"], 7001), nb("correct")),
        (moodle_name(ROW["blank"], 7002), nb("blank")),
        ("Jane Doe_7009_assignsubmission_file_/backprop.ipynb", nb("unknown")),
        (moodle_name(ROW["partial"], 7003), nb("partial-a")),
        (moodle_name(ROW["partial"], 7003, "backprop-2.ipynb"), nb("partial-b")),
        (moodle_name(ROW["late_one"], 7004, "Untitled.ipynb"), nb("other name")),
        ("LateOne Sample_7004_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>"),
        ("Correct Sample_7001_assignsubmission_file_/../../evil.ipynb", nb("escape")),
    ]
    return write_zip(path, files, links={"Blank Sample_7002_assignsubmission_file_/x.ipynb": "/"})


CANVAS_LINES = [
    "collect canvas backprop from canvas.zip: 3 imported (3 new, 0 updated, 0 unchanged), "
    "7 skipped",
    "skipped '../samplecorrect_1001_509_backprop.ipynb': its path leaves the target folder "
    "('..' or absolute): a damaged or hostile zip",
    "skipped 'backprop.ipynb': not in Canvas's naming (<lastfirst>_<userId>_<attachmentId>_"
    "<file>): was the zip downloaded from another LMS?",
    "skipped 'doejane_9999_504_backprop.ipynb': Canvas user 9999 (doejane) is not in "
    "roster.csv: add the student with lms_user_id 9999 and collect again",
    "skipped 'samplecorrect_1001_507_Untitled.ipynb': notebook 'Untitled.ipynb' is not "
    "backprop.ipynb: rename it in the zip if it is this assignment, or ask the student to "
    "resubmit",
    "skipped 'samplecorrect_1001_508_notes.txt': not a notebook (.ipynb): only backprop.ipynb "
    "is collected",
    "skipped 'samplecorrect_1001_510_backprop.ipynb': a symbolic link, not a file: links are "
    "never followed; ask for the file itself",
    "skipped student partial: 2 files for backprop.ipynb ('samplepartial_1003_505_backprop.ipynb', "
    "'samplepartial_1003_506_backprop-2.ipynb'): keep the one to grade in the zip and collect "
    "again",
]

MOODLE_LINES = [
    "collect moodle backprop from moodle.zip: 2 imported (2 new, 0 updated, 0 unchanged), "
    "6 skipped",
    "skipped 'Blank Sample_7002_assignsubmission_file_/x.ipynb': a symbolic link, not a file: "
    "links are never followed; ask for the file itself",
    "skipped 'Correct Sample_7001_assignsubmission_file_/../../evil.ipynb': its path leaves the "
    "target folder ('..' or absolute): a damaged or hostile zip",
    "skipped 'Jane Doe_7009_assignsubmission_file_/backprop.ipynb': no student named 'Jane Doe' "
    "in roster.csv: add them with first_name and last_name as Moodle shows them, and collect "
    "again",
    "skipped 'LateOne Sample_7004_assignsubmission_file_/Untitled.ipynb': notebook "
    "'Untitled.ipynb' is not backprop.ipynb: rename it in the zip if it is this assignment, or "
    "ask the student to resubmit",
    "skipped 'LateOne Sample_7004_assignsubmission_onlinetext_/onlinetext.html': Moodle "
    "onlinetext submission, not a file: only notebooks count",
    "skipped student partial: 2 files for backprop.ipynb ('Partial Sample_7003_assignsubmission_"
    "file_/backprop-2.ipynb', 'Partial Sample_7003_assignsubmission_file_/backprop.ipynb'): "
    "keep the one to grade in the zip and collect again",
]


def snapshot(course: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under submitted/ and .lms/: bytes and modification time (ns)."""
    found = {}
    for top in ("submitted", ".lms"):
        for p in sorted((course / top).rglob("*")):
            if p.is_file():
                found[p.relative_to(course).as_posix()] = (p.read_bytes(), p.stat().st_mtime_ns)
    return found


def test_canvas_collect_imports_the_good_and_names_every_bad_entry(course, tmp_path):
    summary = collect(course, "canvas", canvas_zip(tmp_path / "canvas.zip"), ASSIGNMENT)
    assert summary.lines() == CANVAS_LINES
    assert summary.exit_code == 1
    for student in ("correct", "blank", "late_one"):
        folder = course / "submitted" / student / ASSIGNMENT
        assert sorted(p.name for p in folder.iterdir()) == [NOTEBOOK]
        assert (folder / NOTEBOOK).read_bytes() == nb(student)
    assert not (course / "submitted" / "partial").exists()
    assert not (tmp_path / "samplecorrect_1001_509_backprop.ipynb").exists()
    lms = read_manifest(course, ASSIGNMENT, "canvas")
    assert lms["late_one"]["entries"][0]["late"] == "LATE"
    assert lms["blank"]["entries"][0]["attachment_id"] == "502"
    assert lms["correct"]["entries"][0]["lms_user_id"] == "1001"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        people = {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}
    assert people["late_one"] == ("LateOne", "Sample", "late_one@example.edu", "1004")
    assert sorted(people) == sorted(STUDENTS)


def test_second_collect_of_the_same_zip_changes_nothing(course, tmp_path):
    zip_path = canvas_zip(tmp_path / "canvas.zip")
    collect(course, "canvas", zip_path, ASSIGNMENT)
    before = snapshot(course)
    again = collect(course, "canvas", zip_path, ASSIGNMENT)
    assert snapshot(course) == before
    assert again.lines()[0] == (
        "collect canvas backprop from canvas.zip: 3 imported (0 new, 0 updated, 3 unchanged), "
        "7 skipped"
    )
    assert again.lines()[1:] == CANVAS_LINES[1:]


def test_a_resubmission_replaces_the_folder_whole(course, tmp_path):
    first = write_zip(tmp_path / "a.zip", [(canvas_name(ROW["correct"], 1), nb("v1"))])
    collect(course, "canvas", first, ASSIGNMENT)
    extra = course / "submitted" / "correct" / ASSIGNMENT / "timestamp.txt"
    extra.write_text("2026-01-01 00:00:00")
    second = write_zip(tmp_path / "b.zip", [(canvas_name(ROW["correct"], 2), nb("v2"))])
    summary = collect(course, "canvas", second, ASSIGNMENT)
    assert summary.placed == {"correct": "updated"}
    folder = course / "submitted" / "correct"
    assert sorted(p.name for p in folder.iterdir()) == [ASSIGNMENT]  # no staging left behind
    assert sorted(p.name for p in (folder / ASSIGNMENT).iterdir()) == [NOTEBOOK]


def test_moodle_collect_matches_by_name_and_keeps_participant_ids(course, tmp_path):
    summary = collect(course, "moodle", moodle_zip(tmp_path / "moodle.zip"), ASSIGNMENT)
    assert summary.lines() == MOODLE_LINES
    assert sorted(summary.placed) == ["blank", "correct"]
    lms = read_manifest(course, ASSIGNMENT, "moodle")
    assert lms["blank"]["entries"][0]["participant_id"] == "7002"
    assert lms["blank"]["entries"][0]["folder"] == "Blank Sample_7002_assignsubmission_file_"
    again = collect(course, "moodle", tmp_path / "moodle.zip", ASSIGNMENT)
    assert again.placed == {"blank": "unchanged", "correct": "unchanged"}


def test_a_file_that_is_not_a_zip_writes_nothing(course, tmp_path, capsys):
    bad = tmp_path / "download.zip"
    bad.write_text("<html>session expired</html>")
    code = main(
        ["--course", str(course), "--lms", "canvas", "--zip", str(bad), "--assignment", ASSIGNMENT]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (
        "error: download.zip is not a zip file (File is not a zip file): download the "
        "submissions again from the LMS"
    )
    assert not (course / "submitted").exists() and not (course / "gradebook.db").exists()


def test_main_prints_the_summary_and_exits_1_when_something_was_skipped(course, tmp_path, capsys):
    zip_path = canvas_zip(tmp_path / "canvas.zip")
    args = ["--course", str(course), "--lms", "canvas", "--zip", str(zip_path)]
    assert main([*args, "--assignment", ASSIGNMENT]) == 1
    assert capsys.readouterr().out.splitlines() == CANVAS_LINES
    good = write_zip(tmp_path / "good.zip", [(canvas_name(ROW["blank"], 9), nb("blank"))])
    args = ["--course", str(course), "--lms", "canvas", "--zip", str(good)]
    assert main([*args, "--assignment", ASSIGNMENT]) == 0


def test_unknown_assignment_and_missing_roster_are_one_line_errors(course, tmp_path):
    zip_path = canvas_zip(tmp_path / "canvas.zip")
    with pytest.raises(CollectError, match=r"^release/nope/ has no notebook: check ASSIGNMENT="):
        collect(course, "canvas", zip_path, "nope")
    (course / "roster.csv").unlink()
    with pytest.raises(CollectError) as err:
        collect(course, "canvas", zip_path, ASSIGNMENT)
    assert str(err.value) == (
        f"roster.csv not found in {course}: write it with the columns "
        "id,first_name,last_name,email,lms_user_id (nbgrader's student import format), one "
        "line per student"
    )
    assert not (course / "submitted").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "name\nx\n",
            "roster.csv has no 'id' column: its first line must be "
            "id,first_name,last_name,email,lms_user_id",
        ),
        (
            "id\na\n../b\n",
            "roster.csv line 3: student id '../b' is not usable as a folder "
            "name: use letters, digits, '.', '_', '-' or '@' only",
        ),
        (
            "id\na\na\n",
            "roster.csv line 3: student id 'a' is also on line 2: give each student one line",
        ),
        (
            "id,lms_user_id\na,5\nb,5\n",
            "roster.csv line 3: lms_user_id '5' is also on line 2: "
            "each LMS user id belongs to one student",
        ),
    ],
)
def test_roster_errors(tmp_path, text, message):
    (tmp_path / "roster.csv").write_text(text)
    with pytest.raises(RosterError) as err:
        read_roster(tmp_path / "roster.csv")
    assert str(err.value) == message


def test_canvas_names_parse_as_canvas_writes_them():
    c = CanvasCollector()
    c.setup(read_roster_rows(), {NOTEBOOK})
    info = c.parse("o_brienann_LATE_1001_77_backprop-3.ipynb")
    assert info == {
        "name": "o_brienann",
        "late": "LATE",
        "lms_user_id": "1001",
        "attachment_id": "77",
        "file_id": NOTEBOOK,
        "student_id": "correct",
    }
    with pytest.raises(Skip, match="not in Canvas's naming"):
        c.parse("samplecorrect_backprop.ipynb")
    assert skipped(c, "LATE_anon_x7Yq2_77_backprop.ipynb") == (
        "Canvas's anonymous grading hides who handed this in: download the submissions again "
        "after turning anonymous grading off (or posting the grades)"
    )


def test_moodle_names_match_either_order_and_older_flat_downloads():
    m = MoodleCollector()
    m.setup(read_roster_rows(), {NOTEBOOK})
    assert (
        m.parse("sample  CORRECT_12_assignsubmission_file_/backprop.ipynb")["student_id"]
        == "correct"
    )
    flat = m.parse("Blank Sample_13_assignsubmission_file_backprop.ipynb")
    assert (flat["student_id"], flat["participant_id"]) == ("blank", "13")
    newer = m.parse("Blank Sample_13_assignsubmission_file/backprop.ipynb")
    assert newer["file_id"] == NOTEBOOK
    twins = read_roster_rows() + [
        read_roster_rows()[1].__class__(id="blank2", first_name="Blank", last_name="Sample")
    ]
    m.setup(twins, {NOTEBOOK})
    assert skipped(m, "Blank Sample_13_assignsubmission_file_/backprop.ipynb") == (
        "'Blank Sample' names 2 students in roster.csv (blank, blank2): move this folder to "
        "the right student by hand"
    )


def skipped(collector, entry: str) -> str:
    """Why ``collector`` skips ``entry`` (the test fails when it does not)."""
    with pytest.raises(Skip) as err:
        collector.parse(entry)
    return str(err.value)


def read_roster_rows():
    from ds4023.collect.roster import Person

    return [Person(**r) for r in ROWS]


def test_the_collectors_work_under_nbgrader_zip_collect(course, tmp_path):
    """``nbgrader zip_collect --collector=...CanvasCollector`` uses the same names and roster."""
    downloaded = course / "downloaded" / ASSIGNMENT / "archive"
    downloaded.mkdir(parents=True)
    write_zip(downloaded / "canvas.zip", [(canvas_name(ROW["blank"], 9), nb("blank"))])
    release.run_nbgrader(
        [
            "zip_collect",
            ASSIGNMENT,
            "--collector=ds4023.collect.lms.CanvasCollector",
        ],
        course,
    )
    assert (course / "submitted" / "blank" / ASSIGNMENT / NOTEBOOK).read_bytes() == nb("blank")


def test_collect_works_in_a_course_configured_for_the_hub(course, tmp_path, monkeypatch):
    """Does a course whose nbgrader uses JupyterHubAuthPlugin (the hub's) import the roster
    from a shell outside any hub server, where that plugin needs $JUPYTERHUB_USER?"""
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    config = course / "nbgrader_config.py"
    plugin = "c.Authenticator.plugin_class = 'nbgrader.auth.JupyterHubAuthPlugin'\n"
    config.write_text(config.read_text() + plugin)
    good = write_zip(tmp_path / "good.zip", [(canvas_name(ROW["blank"], 9), nb("blank"))])
    summary = collect(course, "canvas", good, ASSIGNMENT)
    assert summary.placed == {"blank": "new"} and summary.exit_code == 0
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        assert sorted(s.id for s in gb.students) == sorted(STUDENTS)
