"""Every sample feedback page in chromium: where it stands, fetched through the exchange, and
unpacked from the LMS zip. Formulas typeset with the shipped fonts, no raw TeX, nothing loaded
from outside the page, no figure a hidden input drew, no bare value under a test cell.

The graded sample class is the session's (``tests/helpers/sample_class_course.py``). The
exchange round trip runs nbgrader's own release_feedback (the course's configured class) and
fetch_feedback for each student (their cache holding the secret a submit leaves); the zip is
``ds4023 export --feedback-zip``'s Moodle zip. Full-page screenshots of one page per place go
to the artifacts folder (``DS4023_ARTIFACTS``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from nbgrader.exchange.default import ExchangeFetchFeedback
from traitlets.config import Config

from ds4023.collect import exchange
from ds4023.export.feedback_zip import write_feedback_zip
from ds4023.feedback import mathjax
from ds4023.grading.course import load_course
from tests.helpers.browser import chromium, require_chromium
from tests.helpers.feedback_render import render
from tests.helpers.sample_class_course import graded_sample_class

pytestmark = pytest.mark.timeout(2400)

ASSIGNMENTS = ("backprop", "mlp_from_scratch")
COURSE_ID = "ds4023"
TIMESTAMP = "2026-03-01 12:00:00.000000 UTC"
#: The page whose screenshots are kept: the issue's student, with partial credit.
SHOWN = ("no_bias_column", "backprop")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The graded sample class (shared, read only)."""
    require_chromium()
    course, proc = graded_sample_class(tmp_path_factory)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return course


@pytest.fixture(scope="module")
def instructor(graded, tmp_path_factory) -> Path:
    """A copy of the course's config and feedback pages, for the exchange and the zip."""
    copy = tmp_path_factory.mktemp("instructor") / "course"
    copy.mkdir()
    shutil.copy2(graded / "nbgrader_config.py", copy / "nbgrader_config.py")
    shutil.copytree(graded / "feedback", copy / "feedback")
    return copy


def _secret(student: str, assignment: str) -> str:
    return hashlib.sha256(f"{student}/{assignment}".encode()).hexdigest() * 2


def _standing(course: Path) -> dict[tuple[str, str], Path]:
    return {
        (p.parent.parent.name, a): p
        for a in ASSIGNMENTS
        for p in sorted((course / "feedback").glob(f"*/{a}/{a}.html"))
    }


def _fetched(instructor: Path, tmp: Path) -> dict[tuple[str, str], Path]:
    """Release every page through the exchange as the course does, fetch each as its student."""
    root = exchange.ensure_root(tmp / "exchange")
    for student, assignment in _standing(instructor):
        folder = instructor / "feedback" / student / assignment
        (folder / "timestamp.txt").write_text(TIMESTAMP)
        (folder / "submission_secret.txt").write_text(_secret(student, assignment))
    cfg, _ = load_course(instructor)
    cfg.Exchange.root = str(root)
    for assignment in ASSIGNMENTS:
        cfg.CourseDirectory.assignment_id = assignment
        factory = ExchangeFactory(config=cfg)
        factory.ReleaseFeedback(coursedir=CourseDirectory(config=cfg), config=cfg).start()
    fetched = {}
    for student, assignment in _standing(instructor):
        cache = tmp / "cache" / student
        submitted = cache / COURSE_ID / f"{student}+{assignment}+{TIMESTAMP}"
        submitted.mkdir(parents=True, exist_ok=True)
        (submitted / f"{assignment}.ipynb").write_text("{}")
        (submitted / "submission_secret.txt").write_text(_secret(student, assignment))
        mine = Config()
        mine.Exchange.root, mine.Exchange.cache = str(root), str(cache)
        mine.Exchange.assignment_dir = str(tmp / "home" / student)
        mine.CourseDirectory.course_id, mine.CourseDirectory.assignment_id = COURSE_ID, assignment
        ExchangeFetchFeedback(coursedir=CourseDirectory(config=mine), config=mine).start()
        page = tmp / "home" / student / assignment / "feedback" / TIMESTAMP / f"{assignment}.html"
        fetched[student, assignment] = page
    return fetched


def _unzipped(instructor: Path, tmp: Path) -> dict[tuple[str, str], Path]:
    """``ds4023 export --feedback-zip`` for Moodle, unpacked as a student's download."""
    unpacked = {}
    for assignment in ASSIGNMENTS:
        students = sorted(s for s, a in _standing(instructor) if a == assignment)
        manifest = {
            s: {"lms": "moodle", "entries": [{"folder": f"{s} Sample_{100 + i}_assignsub_"}]}
            for i, s in enumerate(students)
        }
        (instructor / ".lms").mkdir(exist_ok=True)
        (instructor / ".lms" / f"{assignment}_moodle.json").write_text(json.dumps(manifest))
        write_feedback_zip(instructor, "moodle", assignment)
        zipped = instructor / "reports" / f"{assignment}_moodle_feedback.zip"
        with zipfile.ZipFile(zipped) as zf:
            zf.extractall(tmp / "lms" / assignment)
        for i, s in enumerate(students):
            folder = tmp / "lms" / assignment / f"{s} Sample_{100 + i}_assignsub_"
            unpacked[s, assignment] = folder / f"{assignment}.html"
    return unpacked


@pytest.fixture(scope="module")
def places(graded, instructor, tmp_path_factory) -> dict[str, dict[tuple[str, str], Path]]:
    """place -> (student, assignment) -> the page there."""
    tmp = tmp_path_factory.mktemp("delivered")
    standing = _standing(graded)
    assert {a for _, a in standing} == set(ASSIGNMENTS) and SHOWN in standing
    return {
        "course": standing,
        "exchange": _fetched(instructor, tmp),
        "lms-zip": _unzipped(instructor, tmp),
    }


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian chromium, fresh profile."""
    with chromium(tmp_path_factory.mktemp("chromium-feedback")) as context:
        yield context


@pytest.mark.parametrize("place", ["course", "exchange", "lms-zip"])
def test_every_feedback_page_renders_its_formulas_offline(
    places, browser, place, artifacts: Path, capsys
):
    """Does every sample page, in this place, typeset every formula with STIX-Web (no MathJax
    error, no raw TeX), load nothing from outside itself, and show no leaked figure or bare
    test value? Each delivered page is the very page the course wrote."""
    pages = places[place]
    assert pages.keys() == places["course"].keys()
    problems = {}
    for key, page in sorted(pages.items()):
        assert page.read_bytes() == places["course"][key].read_bytes(), page
        shot = artifacts / f"feedback-{place}-{key[0]}-{key[1]}.png" if key == SHOWN else None
        rendered = render(browser, page, shot)
        assert rendered.math > 10, (page, rendered.math)  # the notebook's formulas are there
        if rendered.problems():
            problems["/".join(key)] = rendered.problems()
        if shot:
            with capsys.disabled():
                print(f"\n[browser screenshot] {shot}")
    assert problems == {}


def test_a_page_carries_all_it_needs_in_one_file(places):
    """Is each delivered page one file that holds MathJax, its fonts and its figures?"""
    size = mathjax.bundle_size()
    for place, pages in places.items():
        for page in pages.values():
            assert [p.name for p in page.parent.iterdir()] == [page.name], (place, page)
            assert page.stat().st_size > size
