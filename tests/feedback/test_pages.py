"""Tests for ds4023.feedback.pages: nbgrader's feedback pages without the hidden tests' source."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from ds4023.collect.release_feedback import RELEASE_FEEDBACK_FILES
from ds4023.feedback import command as feedback_command
from ds4023.feedback import mathjax, pages
from ds4023.feedback.course_feedback import hide_grader_paths
from ds4023.feedback.folders import prune_feedback_folder
from ds4023.feedback.hide_hidden_tests import (
    PLACEHOLDER,
    REDACTED,
    HideHiddenTests,
    drop_bare_values,
)
from ds4023.feedback.pages import generate_feedback
from ds4023.grading.gradebook import grade_table
from tests.helpers.grading_course import (
    ASSIGNMENT,
    FAILING,
    HIDDEN_MARKERS,
    STUDENTS,
    copy_course,
    course_env,
    graded_class,
    hidden_lines,
    nbgrader_env,
)

pytestmark = pytest.mark.timeout(600)


def page_text(page: Path) -> str:
    """The visible text of an HTML page (tags removed, entities decoded)."""
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"<(style|script)\b.*?</\1>", "", raw, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def leaks(page: Path, lines: list[str]) -> list[str]:
    """Hidden-test lines found in a page, in its text or anywhere in its raw HTML."""
    raw = html.unescape(page.read_text(encoding="utf-8"))
    text = page_text(page)
    return [line for line in lines if line in text or line in raw]


@pytest.fixture(scope="module")
def feedback_course(tmp_path_factory):
    """A copy of the graded toy class with feedback generated for everyone."""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("fb") / "c")
    with course_env():
        written = generate_feedback(course, ASSIGNMENT, progress=False)
    return course, written


def test_every_student_gets_a_page(feedback_course):
    """Is there one feedback page per student, failed submissions included?"""
    course, written = feedback_course
    expected = {course / "feedback" / s / ASSIGNMENT / "toy.html" for s in STUDENTS}
    assert set(written) == expected and all(p.is_file() for p in expected)


def test_no_hidden_test_line_appears_in_any_page(feedback_course):
    """Does no line of any hidden-test region reach any feedback page?"""
    course, written = feedback_course
    lines = hidden_lines(course)
    assert len(lines) == 6 and any(m in " ".join(lines) for m in HIDDEN_MARKERS)
    for page in written:
        assert leaks(page, lines) == [], page


def test_nbgrader_own_feedback_hides_them_too(tmp_path_factory):
    """Does nbgrader's own generate_feedback (the formgrader's button) hide the hidden tests too,
    while its page still shows the scores, and leave only pages in the feedback folders?"""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("nbfb") / "c")
    cmd = [sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT]
    subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, check=True)
    page = course / "feedback" / "one_mistake" / ASSIGNMENT / "toy.html"
    lines = hidden_lines(course)
    assert len(lines) == 6
    assert leaks(page, lines) == []
    text = page_text(page)
    assert PLACEHOLDER in text and "Score:" in text
    # each feedback folder holds the page and what release_feedback reads, not the data file
    autograded = course / "autograded" / "one_mistake" / ASSIGNMENT
    assert (autograded / "toy_data.csv").is_file()
    for folder in (course / "feedback").glob(f"*/{ASSIGNMENT}"):
        names = {p.name for p in folder.iterdir()}
        assert "toy.html" in names and names <= {"toy.html", *RELEASE_FEEDBACK_FILES}, folder


def test_plain_nbgrader_feedback_would_leak_them(tmp_path_factory):
    """Without the course's feedback setting, would nbgrader show them (issue #1363)?"""
    course = copy_course(graded_class(tmp_path_factory)[0], tmp_path_factory.mktemp("raw") / "c")
    config = course / "nbgrader_config.py"
    text = config.read_text()
    assert "c.GenerateFeedback.preprocessors" in text
    config.write_text(text.replace("c.GenerateFeedback.preprocessors", "_unused"))
    cmd = [sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT]
    subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, check=True)
    page = course / "feedback" / "one_mistake" / ASSIGNMENT / "toy.html"
    assert len(leaks(page, hidden_lines(course))) == 6


def test_pages_show_results_messages_and_visible_tests(feedback_course):
    """Does a page still show the score, the visible tests and each failure's message?"""
    course, _ = feedback_course
    text = page_text(course / "feedback" / "one_mistake" / ASSIGNMENT / "toy.html")
    assert "toy: core 3 / 8" in text  # the course's terms (no README table: all core)
    assert "Score: 3.0 / 8.0" not in text
    assert "assert square(3) == 9" in text and "assert spread([1.0, 4.0, 2.0]) == 3.0" in text
    assert text.count(PLACEHOLDER) == 3
    assert "AssertionError: spread of the data file" in text
    blank = page_text(course / "feedback" / "blank" / ASSIGNMENT / "toy.html")
    assert "NotImplementedError" in blank and "toy: core 0 / 8" in blank


def test_failed_submissions_get_a_page_with_the_reason(feedback_course):
    """Does a student whose notebook could not be graded read why, and their zero?"""
    course, _ = feedback_course
    for student in FAILING:
        text = page_text(course / "feedback" / student / ASSIGNMENT / "toy.html")
        assert "could not be graded automatically" in text and "Score: 0 / 8" in text
    killed = page_text(course / "feedback" / "kernel_killer" / ASSIGNMENT / "toy.html")
    assert "the kernel died while running cell 4 (test_square)" in killed


def test_pages_are_rebuilt_only_when_grades_change(feedback_course, tmp_path):
    """Is a second run a no-op, and does a manual grade rebuild just that student's page?"""
    course = copy_course(feedback_course[0], tmp_path / "c")
    with course_env():
        assert generate_feedback(course, ASSIGNMENT, progress=False) == []
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "ds4023") as gb:
            gb.find_grade("explain", "toy", ASSIGNMENT, "correct").manual_score = 2.0
            gb.db.commit()
        again = generate_feedback(course, ASSIGNMENT, progress=False)
    assert again == [course / "feedback" / "correct" / ASSIGNMENT / "toy.html"]
    assert "toy: core 8 / 8" in page_text(again[0])
    assert "awaiting grading" not in page_text(again[0])
    table = grade_table(f"sqlite:///{course / 'gradebook.db'}", "ds4023", ASSIGNMENT)
    assert table["correct"]["parts"]["explain"]["score"] == 2.0


def test_hidden_regions_and_what_their_outputs_quote_are_scrubbed():
    """Are the region, a quoting traceback and a quoting stream line all replaced?"""
    meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
    source = "assert f(1) == 1\n    ### BEGIN HIDDEN TESTS\n    assert f(2) == 99\n"
    source += "    ### END HIDDEN TESTS\nprint('done')"
    cell = new_code_cell(source, metadata=meta)
    cell.outputs = [
        new_output("stream", name="stderr", text="warning at\n    assert f(2) == 99\nend"),
        new_output(
            "error",
            ename="AssertionError",
            evalue="",
            traceback=["Cell In[3], line 3", "----> 3 \x1b[0massert f(2) == 99", "AssertionError"],
        ),
    ]
    plain = new_code_cell("assert g() == 1", metadata=meta)
    plain.outputs = [new_output("error", ename="E", evalue="v", traceback=["line 1", "E: v"])]
    nb = new_notebook(cells=[cell, plain])
    HideHiddenTests().preprocess(nb, {})
    assert cell.source == f"assert f(1) == 1\n    {PLACEHOLDER}\nprint('done')"
    assert cell.outputs[0].text == f"warning at\n{REDACTED}\nend"
    assert cell.outputs[1].traceback == ["AssertionError: "]
    assert plain.outputs[0].traceback == ["line 1", "E: v"]  # no hidden region: untouched
    assert "f(2)" not in nbformat.writes(nb)


def test_a_student_cell_quoting_a_hidden_test_is_scrubbed_too():
    """If a student's own cell prints a line it caught of a hidden test, is that line removed?"""
    meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
    source = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4  # secret\n"
    source += "### END HIDDEN TESTS"
    test = new_code_cell(source, metadata=meta)
    student = new_code_cell("print(caught)")
    student.outputs = [
        new_output("stream", name="stdout", text="I saw:\nassert f(2) == 4  # secret\n"),
        new_output("execute_result", data={"text/plain": "'assert f(2) == 4  # secret'"}),
        new_output("error", ename="E", evalue="x", traceback=["assert f(2) == 4  # secret"]),
    ]
    nb = new_notebook(cells=[test, student])
    HideHiddenTests().preprocess(nb, {})
    assert student.outputs[0].text == f"I saw:\n{REDACTED}\n"
    assert student.outputs[1].data["text/plain"] == REDACTED
    assert student.outputs[2].traceback == [REDACTED]  # a student's own traceback stays whole
    assert "secret" not in nbformat.writes(nb)


def test_a_written_answer_nobody_graded_is_awaiting_grading(feedback_course):
    """Does an edited written answer show 'awaiting grading', not a score of 0?"""
    course, _ = feedback_course
    text = page_text(course / "feedback" / "one_mistake" / ASSIGNMENT / "toy.html")
    assert "awaiting grading / 2" in text
    assert "Score: 0 / 2" not in text and "Score: 0.0 / 2.0" not in text


def test_pages_carry_mathjax_and_load_nothing(feedback_course):
    """Does every graded page hold MathJax itself (fonts included) and refer to no file or
    URL, so it renders the same wherever it is copied (exchange, LMS zip)?"""
    course, written = feedback_course
    assert not (course / "feedback" / "_static").exists()
    scripts = mathjax.page_scripts()
    assert "STIXMathJax_Main-Regular" in scripts and "TeX-AMS-MML_HTMLorMML-full.js" in scripts
    for page in written:
        raw = page.read_text(encoding="utf-8")
        if "could not be graded" in raw:
            continue
        assert scripts in raw, page
        raw = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1", raw, flags=re.S)
        refs = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']?([^\"' >]*)", raw)
        assert [r for r in refs if not r.startswith("data:")] == [], page


def test_grader_paths_are_replaced_by_placeholders():
    """Are the scratch course, the venv's packages and the interpreter's folders hidden?"""
    scratch = "/tmp/ds4023-grade-x1y2/autograded/alice/backprop/backprop_checks.py"
    site = f"{sys.prefix}/lib/python3.11/site-packages/numpy/_core/fromnumeric.py"
    text = f"File \x1b[0;32m{scratch}:12\x1b[0m\n  File {site}:3, in f\n{sys.prefix}/bin/python"
    hidden = hide_grader_paths(text)
    assert "ds4023-grade" not in hidden and "site-packages" not in hidden
    assert sys.prefix not in hidden
    assert "<grader>/backprop_checks.py:12" in hidden
    assert "<python>/numpy/_core/fromnumeric.py:3" in hidden
    assert hide_grader_paths("see /data/x.mat and 5 / 2") == "see /data/x.mat and 5 / 2"


def test_a_page_that_cannot_be_rendered_is_reported_and_fails_the_command(
    feedback_course, tmp_path, monkeypatch, capsys
):
    """Does `ds4023 feedback` write the other pages, name the failed one and exit non-zero?"""
    course = copy_course(feedback_course[0], tmp_path / "c")
    real_render = pages._render

    def render(exporter, data, student, *args):
        if student == "correct":
            raise ValueError("a broken output")
        return real_render(exporter, data, student, *args)

    monkeypatch.setattr(pages, "_render", render)
    with course_env():
        status = feedback_command.main(
            ["--course", str(course), "--assignment", ASSIGNMENT, "--force"]
        )
    err = capsys.readouterr().err
    assert status == 1
    assert "feedback: no page for correct/toy: a broken output" in err
    assert (course / "feedback" / "partial" / ASSIGNMENT / "toy.html").is_file()


def test_a_test_cells_bare_value_is_dropped_but_not_its_messages_or_figures():
    """Does a test cell lose the bare `Out: 5` of its last line, but keep printed messages,
    errors and figures, and a student's own cell keep its value?"""
    meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
    test = new_code_cell("check()\n5", metadata=meta)
    test.outputs = [
        new_output("stream", name="stdout", text="Partial credit: 1 of 2 points\n"),
        new_output("execute_result", data={"text/plain": "5"}, execution_count=3),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Fig>"}),
    ]
    student = new_code_cell("y[0]")
    student.outputs = [new_output("execute_result", data={"text/plain": "10"}, execution_count=4)]
    nb = new_notebook(cells=[test, student])
    HideHiddenTests().preprocess(nb, {})
    assert [o.output_type for o in test.outputs] == ["stream", "display_data"]
    assert student.outputs[0].data["text/plain"] == "10"
    drop_bare_values(student)  # what the preprocessor does to a test cell, on any cell
    assert student.outputs == []


def test_a_feedback_folder_is_pruned_to_pages_and_release_files(tmp_path):
    """Are data files, modules, folders and links removed, the page and the two files kept?"""
    folder = tmp_path / "feedback" / "alice" / "backprop"
    (folder / "sub").mkdir(parents=True)
    for name in ("backprop.html", "timestamp.txt", "submission_secret.txt", "ex4data1.mat"):
        (folder / name).write_text(name)
    (folder / "backprop_checks.py").write_text("x")
    (folder / "sub" / "y.txt").write_text("y")
    (folder / "other.html").symlink_to(tmp_path / "outside.html")
    removed = prune_feedback_folder(folder)
    assert removed == ["backprop_checks.py", "ex4data1.mat", "other.html", "sub"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "backprop.html",
        "submission_secret.txt",
        "timestamp.txt",
    ]
