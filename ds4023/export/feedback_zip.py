"""The feedback pages in one zip, named so the LMS's bulk feedback upload finds each student.

Moodle (*Upload multiple feedback files in a zip*) reads the download's folder names back:
``<Full Name>_<participantId>_assignsubmission_file_/<page>``. Canvas (*Upload Submissions*
after *Download Submissions*) takes the first two all-digit parts of a file name as the user
and the attachment id: ``<lastfirst>_<userId>_<attachmentId>_<page>``. Both come from what the
collected download said (``.lms/<assignment>_<lms>.json``): a student not collected from this
LMS gets no page here. Each page is self-contained (MathJax, fonts and figures inside it,
``ds4023/feedback/mathjax.py``), so the page alone renders from the unpacked zip.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ds4023.collect import read_manifest
from ds4023.files import atomic_write_bytes

#: A fixed time for every entry, so the same pages give the same zip bytes.
_STAMP = (2020, 1, 1, 0, 0, 0)


def entry_name(lms: str, assignment: str, entry: dict) -> str:
    """The name a student's page gets in the zip.

    Args:
        lms: ``canvas`` or ``moodle``.
        assignment: the assignment name (the page is ``<assignment>.html``).
        entry: the student's first file in the collect manifest.

    Returns:
        The entry's path inside the zip.
    """
    page = f"{assignment}.html"
    if lms == "moodle":
        return f"{entry['folder']}/{page}"
    late = "LATE_" if entry.get("late") else ""
    return f"{entry['name']}_{late}{entry['lms_user_id']}_{entry['attachment_id']}_{page}"


def write_feedback_zip(course_root: Path, lms: str, assignment: str) -> list[str]:
    """Write ``reports/<assignment>_<lms>_feedback.zip`` from ``feedback/<s>/<a>/<a>.html``.

    Args:
        course_root: the course directory.
        lms: ``canvas`` or ``moodle``.
        assignment: the assignment name.

    Returns:
        What was written, then one line per student left out and why.
    """
    root = Path(course_root)
    manifest = read_manifest(root, assignment, lms)
    pages, lines = {}, []
    for student, info in sorted(manifest.items()):
        page = root / "feedback" / student / assignment / f"{assignment}.html"
        if not page.is_file():
            lines.append(f"no feedback page for {student}: {page.relative_to(root)} is missing")
        else:
            pages[entry_name(lms, assignment, info["entries"][0])] = page.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(pages.items()):
            zf.writestr(zipfile.ZipInfo(name, _STAMP), data)
    path = root / "reports" / f"{assignment}_{lms}_feedback.zip"
    atomic_write_bytes(path, buf.getvalue())
    return [f"wrote {path}: {len(pages)} feedback pages", *lines]
