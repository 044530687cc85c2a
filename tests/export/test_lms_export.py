"""Grades out to Canvas and Moodle: the course's grade, pending work held back, exact CSVs."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from ds4023.export import main
from ds4023.export.canvas import to_csv as canvas_csv
from ds4023.export.grades import build_table
from ds4023.export.moodle import moodle_time
from ds4023.export.moodle import to_csv as moodle_csv
from ds4023.grading.state import GradingState
from ds4023.release import run_nbgrader
from tests.helpers import COURSE_ROOT, copy_course
from tests.helpers.lms_zips import ASSIGNMENT, roster_rows, write_roster

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
    moodle = {
        s: {
            "lms": "moodle",
            "entries": [
                {
                    "participant_id": str(7000 + i),
                    "folder": f"{s.title()} Sample_{7000 + i}_assignsubmission_file_",
                }
            ],
        }
        for i, s in enumerate(STUDENTS[:4])
    }
    canvas = {"blank": {"lms": "canvas", "entries": [{"late": "LATE", "lms_user_id": "1003"}]}}
    (c / ".lms").mkdir()
    (c / ".lms" / f"{ASSIGNMENT}_moodle.json").write_text(json.dumps(moodle))
    (c / ".lms" / f"{ASSIGNMENT}_canvas.json").write_text(json.dumps(canvas))
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
    assert capsys.readouterr().err.strip() == (  # not an assignment of source/: named first
        "error: no assignment 'nope' in this course: use --assignment backprop or mlp_from_scratch"
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

    out = course / "canvas.csv"
    run_nbgrader(
        [
            "export",
            "--exporter=ds4023.export.canvas.CanvasExport",
            f"--assignment={ASSIGNMENT}",
            f"--to={out}",
        ],
        course,
    )
    assert out.read_text().splitlines() == CANVAS


@pytest.mark.slow
@pytest.mark.sandbox
def test_sample_class_from_canvas_and_moodle_zips_to_lms_csvs(tmp_path, capsys):
    """Three sample students handed in through Canvas (and again through Moodle), every kind
    of bad entry beside them, graded by the batch grader in its sandbox, then exported."""
    import subprocess
    import sys
    import time

    import nbformat

    from ds4023 import release
    from ds4023.collect import main as collect_main
    from ds4023.course_terms import course_grade, parts
    from ds4023.sample_class import backprop as sample_class_backprop
    from ds4023.sample_class import students as sample_class
    from tests.helpers.lms_zips import canvas_name, moodle_name, write_zip

    course = copy_course(tmp_path / "course")
    shutil.copy2(COURSE_ROOT / "README.md", course / "README.md")
    release.generate_release(ASSIGNMENT, course)
    graded = ["correct", "blank", "partial"]
    rows = roster_rows([*graded, "twice"])
    write_roster(course, rows)
    row = {r["id"]: r for r in rows}
    source = nbformat.read(course / "source" / ASSIGNMENT / "backprop.ipynb", as_version=4)
    rel = sample_class.release_notebook(source)
    by_name = {s.name: s for s in sample_class_backprop.STUDENTS}
    nb = {
        s: nbformat.writes(sample_class.student_notebook(source, rel, by_name[s])).encode()
        for s in graded
    }
    canvas = write_zip(
        tmp_path / "canvas.zip",
        [
            (canvas_name(row["correct"], 11), nb["correct"]),
            (canvas_name(row["blank"], 12, late=True), nb["blank"]),
            (canvas_name(row["partial"], 13, "backprop-1.ipynb"), nb["partial"]),
            ("doejane_9999_14_backprop.ipynb", nb["blank"]),
            (canvas_name(row["twice"], 15), nb["blank"]),
            (canvas_name(row["twice"], 16, "backprop-1.ipynb"), nb["partial"]),
            (canvas_name(row["correct"], 17, "Untitled.ipynb"), nb["correct"]),
            ("../samplecorrect_1001_18_backprop.ipynb", nb["correct"]),
        ],
        links={"samplecorrect_1001_19_backprop.ipynb": "/etc/passwd"},
    )
    moodle = write_zip(
        tmp_path / "moodle.zip",
        [
            *[(moodle_name(row[s], 7100 + i), nb[s]) for i, s in enumerate(graded)],
            ("Jane Doe_7109_assignsubmission_file_/backprop.ipynb", nb["blank"]),
            (moodle_name(row["twice"], 7104), nb["blank"]),
            (moodle_name(row["twice"], 7104, "backprop-1.ipynb"), nb["partial"]),
            (moodle_name(row["correct"], 7100, "Untitled.ipynb"), nb["correct"]),
            ("Correct Sample_7100_assignsubmission_file_/../../x.ipynb", nb["correct"]),
        ],
        links={"Blank Sample_7101_assignsubmission_file_/y.ipynb": "/etc"},
    )
    not_zip = tmp_path / "page.zip"
    not_zip.write_text("<html>login</html>")
    base = ["--course", str(course), "--assignment", ASSIGNMENT]
    assert collect_main([*base, "--lms", "canvas", "--zip", str(not_zip)]) == 2
    assert collect_main([*base, "--lms", "canvas", "--zip", str(canvas)]) == 1
    assert collect_main([*base, "--lms", "canvas", "--zip", str(canvas)]) == 1
    assert collect_main([*base, "--lms", "moodle", "--zip", str(moodle)]) == 1
    out = capsys.readouterr().out.splitlines()
    print("\n".join(out), file=sys.stderr)  # the measured summary, in the test's log
    heads = [line for line in out if line.startswith("collect ")]
    assert heads == [
        "collect canvas backprop from canvas.zip: 3 imported (3 new, 0 updated, 0 unchanged), "
        "5 skipped",
        "collect canvas backprop from canvas.zip: 3 imported (0 new, 0 updated, 3 unchanged), "
        "5 skipped",
        "collect moodle backprop from moodle.zip: 3 imported (0 new, 0 updated, 3 unchanged), "
        "5 skipped",
    ]
    assert len(out) == 3 + 3 * 5
    env = release.nbgrader_env()
    env.pop("DS4023_DB_URL", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "ds4023.cli", "grade", *base, "--workers", "2", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    print(f"graded in {time.monotonic() - started:.0f} s", file=sys.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for lms in ("canvas", "moodle"):
        assert main([*base, "--lms", lms, "--feedback-zip"]) == 0
    table = parts(course, ASSIGNMENT)
    expected = sample_class_backprop.EXPECTED_SCORES
    maxima = {g: p for g, p in sample_class_backprop.POINTS.items()} | dict.fromkeys(WRITTEN, 5.0)
    want = {}
    for s in graded:
        scores = {g: v for g, (v, _) in expected[s].items()}
        g = course_grade(table, scores, maxima)
        want[s] = "" if g.written_pending else f"{g.core + g.optional + g.written:g}"
    lines = (course / "reports" / "backprop_canvas.csv").read_text().splitlines()
    print("\n".join(lines[:4]), file=sys.stderr)
    assert lines[:2] == CANVAS[:2]
    assert lines[2:] == [
        f'"Sample, {r["first_name"]}",{r["lms_user_id"]},,,,{want.get(r["id"], "")}' for r in rows
    ]
    moodle_lines = (course / "reports" / "backprop_moodle.csv").read_text().splitlines()
    print("\n".join(moodle_lines[:4]), file=sys.stderr)
    assert [line.split(",")[0] for line in moodle_lines[1:]] == [
        "Participant 7100",
        "Participant 7101",
        "Participant 7102",
    ]
    assert moodle_lines[2].split(",")[3] == "Submitted for grading - Graded - Late"  # Canvas's LATE
    with zipfile.ZipFile(course / "reports" / "backprop_canvas_feedback.zip") as zf:
        assert zf.namelist() == [
            "sampleblank_LATE_1002_12_backprop.html",
            "samplecorrect_1001_11_backprop.html",
            "samplepartial_1003_13_backprop.html",
        ]
    with zipfile.ZipFile(course / "reports" / "backprop_moodle_feedback.zip") as zf:
        assert [n.split("/")[0] for n in zf.namelist()] == [
            "Blank Sample_7101_assignsubmission_file_",
            "Correct Sample_7100_assignsubmission_file_",
            "Partial Sample_7102_assignsubmission_file_",
        ]
    # A person grades correct's written answers in formgrader: the grade goes out.
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
        sub = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "correct")
        for g in sub.grades:
            if g.name in WRITTEN:
                g.manual_score, g.needs_manual_grade = 4.0, False
        gb.db.commit()
    assert main([*base, "--lms", "canvas"]) == 0
    lines = (course / "reports" / "backprop_canvas.csv").read_text().splitlines()
    core = sum(v for g, (v, _) in expected["correct"].items() if v is not None)
    assert lines[2] == f'"Sample, Correct",1001,,,,{core + 12:g}'
