"""Grades out to Canvas and Moodle: the course's grade, pending work held back, exact CSVs."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import copy_course
from lms_zips import ASSIGNMENT, roster_rows, write_roster
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from ds4023 import COURSE_ROOT
from ds4023.export import main
from ds4023.export.canvas import to_csv as canvas_csv
from ds4023.export.grades import build_table
from ds4023.export.moodle import moodle_time
from ds4023.export.moodle import to_csv as moodle_csv
from ds4023.grading_state import GradingState
from ds4023.release import run_nbgrader

STUDENTS = ["correct", "pending", "blank", "failed", "absent"]
WRITTEN = ("answer_image_orientation", "answer_cost_differs", "answer_gradient_checking_slow")
OPTIONAL = "gradient_checking_small_network"
_CACHE: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def own_gradebook(monkeypatch):
    monkeypatch.delenv("DS4023_DB_URL", raising=False)


def released(factory) -> Path:
    """A course copy whose gradebook knows backprop (nbgrader generate_assignment), once."""
    if "course" not in _CACHE:
        course = copy_course(factory.mktemp("lms-export") / "course", with_data=False)
        shutil.copy2(COURSE_ROOT / "README.md", course / "README.md")
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
        _CACHE["course"] = course
    return _CACHE["course"]


def set_scores(course: Path, student: str, auto: str, written: str | None) -> None:
    """Record a submission: ``auto`` full/zero for every test, written answers 5 or pending."""
    db = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db, "ds4023") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush notice
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(
            ASSIGNMENT, student, timestamp=datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        )
        for nb in sub.notebooks:
            for g in nb.grades:
                if g.name in WRITTEN:
                    g.auto_score = None if written == "pending" else 0.0
                    g.needs_manual_grade = written == "pending"
                    g.manual_score = 5.0 if written == "graded" else None
                else:
                    g.auto_score = g.max_score if auto == "full" else 0.0
                    g.needs_manual_grade = auto == "failed"
        gb.db.commit()


@pytest.fixture
def course(tmp_path_factory, tmp_path) -> Path:
    c = shutil.copytree(released(tmp_path_factory), tmp_path / "course")
    rows = roster_rows(STUDENTS)
    rows[3]["lms_user_id"] = ""  # failed: no Canvas id known
    write_roster(c, rows)
    set_scores(c, "correct", "full", "graded")
    set_scores(c, "pending", "full", "pending")
    set_scores(c, "blank", "zero", None)
    set_scores(c, "failed", "failed", None)
    GradingState(c).put(ASSIGNMENT, "failed", {"status": "failed", "reason": "kernel died"})
    manifest = {
        s: {
            "lms": "moodle",
            "entries": [
                {
                    "participant_id": str(7000 + i),
                    "late": "LATE" * (s == "blank"),
                    "folder": f"{s.title()} Sample_{7000 + i}_assignsubmission_file_",
                }
            ],
        }
        for i, s in enumerate(STUDENTS[:4])
    }
    (c / ".lms").mkdir()
    (c / ".lms" / f"{ASSIGNMENT}.json").write_text(json.dumps(manifest))
    return c


CANVAS = [
    "Student,ID,SIS User ID,SIS Login ID,Section,backprop",
    "Points Possible,,,,,115",
    '"Sample, Correct",1001,,,,135',
    '"Sample, Pending",1002,,,,',
    '"Sample, Blank",1003,,,,0',
    '"Sample, Failed",,,,,',
    '"Sample, Absent",1005,,,,',
]


def test_build_table_gives_the_course_grade_and_holds_back_pending_work(course):
    table = build_table(course, ASSIGNMENT)
    assert (table.points_possible, table.extra_credit) == (115.0, 20.0)
    got = {r.person.id: (r.status, r.grade, r.points, r.late) for r in table.rows}
    assert got == {
        "correct": ("graded", 135.0, 135.0, False),
        "pending": ("awaiting manual grading", None, 120.0, False),
        "blank": ("graded", 0.0, 0.0, True),
        "failed": ("failed", None, 0.0, False),
        "absent": ("no submission", None, 0.0, False),
    }
    final = {r.person.id: r.grade for r in build_table(course, ASSIGNMENT, final=True).rows}
    assert final == {"correct": 135.0, "pending": 120.0, "blank": 0.0, "failed": 0.0, "absent": 0.0}


def test_canvas_csv_exactly(course):
    assert canvas_csv(build_table(course, ASSIGNMENT)).splitlines() == CANVAS
    named = canvas_csv(build_table(course, ASSIGNMENT), "Backprop (4711)")
    assert named.splitlines()[0].endswith(",Backprop (4711)")


def test_moodle_worksheet_exactly(course):
    now = datetime(2026, 12, 3, 7, 5, tzinfo=UTC)
    text = moodle_csv(build_table(course, ASSIGNMENT), now)
    assert text.splitlines() == [
        "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
        "Last modified (submission),Last modified (grade),Feedback comments",
        "Participant 7000,Correct Sample,correct@example.edu,Submitted for grading - Graded,"
        '135.00,115.00,Yes,"Sunday, 1 March 2026, 12:00 PM","Thursday, 3 December 2026, 7:05 AM",'
        '"core 100 / 100, optional +20 / 20, written 15 / 15"',
        "Participant 7001,Pending Sample,pending@example.edu,Submitted for grading - Awaiting "
        'manual grading (grade not exported),,115.00,Yes,"Sunday, 1 March 2026, 12:00 PM",-,',
        "Participant 7002,Blank Sample,blank@example.edu,Submitted for grading - Graded - Late,"
        '0.00,115.00,Yes,"Sunday, 1 March 2026, 12:00 PM","Thursday, 3 December 2026, 7:05 AM",'
        '"core 0 / 100, optional +0 / 20, written 0 / 15"',
        "Participant 7003,Failed Sample,failed@example.edu,Submitted for grading - Failed (grade "
        'not exported),,115.00,Yes,"Sunday, 1 March 2026, 12:00 PM",-,',
    ]
    assert moodle_time(datetime(2026, 1, 5, 23, 9)) == "Monday, 5 January 2026, 11:09 PM"


def test_main_writes_reports_and_says_what_was_held_back(course, capsys):
    assert main(["--course", str(course), "--lms", "canvas", "--assignment", ASSIGNMENT]) == 0
    out = capsys.readouterr().out.splitlines()
    path = course / "reports" / "backprop_canvas.csv"
    assert path.read_text().splitlines() == CANVAS
    assert out == [
        f"wrote {path}: 5 students, 2 grades exported (2 graded, 1 awaiting manual grading, "
        "1 failed, 1 without submission)",
        "not exported: pending: awaiting manual grading (core 100 / 100, optional +20 / 20, "
        "written awaiting grading / 15); FINAL=1 exports it",
        "not exported: failed: failed (not graded automatically: kernel died); FINAL=1 exports it",
    ]
    assert (
        main(["--course", str(course), "--lms", "moodle", "--assignment", ASSIGNMENT, "--final"])
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    moodle = course / "reports" / "backprop_moodle.csv"
    assert out[1:] == [
        "2 grades exceed 115 with extra credit (correct, pending): Moodle skips a grade above the "
        "assignment's maximum; set it to 135",
        "not in the worksheet: absent: no Moodle participant id for backprop (they were not in "
        "a collected Moodle download)",
    ]
    assert [line.split(",")[4] for line in moodle.read_text().splitlines()[1:]] == [
        "135.00",
        "120.00",
        "0.00",
        "0.00",
    ]


def test_export_errors_are_one_line(course, capsys):
    (course / "roster.csv").unlink()
    assert main(["--course", str(course), "--lms", "canvas", "--assignment", ASSIGNMENT]) == 2
    assert capsys.readouterr().err.startswith("error: roster.csv not found in ")
    write_roster(course, roster_rows(STUDENTS))
    assert main(["--course", str(course), "--lms", "canvas", "--assignment", "nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: assignment 'nope' is not in the gradebook: release it first (`make release` or "
        "`nbgrader generate_assignment nope`)"
    )
    assert not (course / "reports").exists()


def test_feedback_zip_uses_the_lms_names(course, capsys):
    for student in ("correct", "blank"):
        page = course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<p>{student}</p>")
    args = ["--course", str(course), "--lms", "moodle", "--assignment", ASSIGNMENT]
    assert main([*args, "--feedback-zip"]) == 0
    out = capsys.readouterr().out.splitlines()
    path = course / "reports" / "backprop_moodle_feedback.zip"
    assert out[-3:] == [
        f"wrote {path}: 2 feedback pages",
        "no feedback page for failed: feedback/failed/backprop/backprop.html is missing",
        "no feedback page for pending: feedback/pending/backprop/backprop.html is missing",
    ]
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == [
            "Blank Sample_7002_assignsubmission_file_/backprop.html",
            "Correct Sample_7000_assignsubmission_file_/backprop.html",
        ]
        assert zf.read(zf.namelist()[0]) == b"<p>blank</p>"
    first = path.read_bytes()
    assert main([*args, "--feedback-zip"]) == 0
    assert path.read_bytes() == first  # same pages, same zip


def test_nbgrader_export_runs_the_plugins(course):
    """``nbgrader export --exporter=ds4023.export.canvas.CanvasExport`` writes the same file."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = course / "canvas.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "export",
            "--exporter=ds4023.export.canvas.CanvasExport",
            f"--assignment={ASSIGNMENT}",
            f"--to={out}",
        ],
        cwd=course,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_text().splitlines() == CANVAS
