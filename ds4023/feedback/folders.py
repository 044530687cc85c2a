"""A feedback folder holds the pages and what release_feedback reads beside them, nothing else.

nbgrader's ``generate_feedback`` (and the formgrader's *Generate Feedback* button) copies every
file of ``autograded/<student>/<assignment>/`` next to the pages: the 7 MB data file, the
checking and probe modules. Students receive a page, not the grader's files, so
:func:`prune_after_feedback` runs as nbgrader's own ``GenerateFeedback.post_convert_hook``
(``nbgrader_config.py``) and removes them again; nbgrader offers no per-converter ``ignore``
(``CourseDirectory.ignore`` would also keep the data out of the autograded copy).
The course's own ``ds4023 feedback`` writes only pages in the first place.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path

from ds4023.collect.release_feedback import RELEASE_FEEDBACK_FILES

#: What stays in ``feedback/<student>/<assignment>/``: the pages and the two files nbgrader's
#: release_feedback reads beside them.
KEEP = ("*.html", *RELEASE_FEEDBACK_FILES)


def prune_feedback_folder(folder: Path) -> list[str]:
    """Remove from a feedback folder everything but :data:`KEEP` (links are removed, never
    followed).

    Args:
        folder: ``feedback/<student>/<assignment>``.

    Returns:
        The names removed, sorted.
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return []
    removed = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        wanted = any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in KEEP)
        if wanted and entry.is_file(follow_symlinks=False):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
        removed.append(entry.name)
    return removed


def feedback_folder_of(notebook: str | Path, feedback: str = "feedback") -> Path:
    """The feedback folder of an autograded notebook, in nbgrader's default layout.

    Args:
        notebook: ``<course>/autograded/<student>/<assignment>/<name>.ipynb``.
        feedback: the course's feedback folder name.

    Returns:
        ``<course>/<feedback>/<student>/<assignment>``.
    """
    folder = Path(notebook).parent
    return folder.parents[2] / feedback / folder.parent.name / folder.name


def prune_after_feedback(assignment=None, student=None, notebooks=(), **_) -> None:
    """nbgrader's ``post_convert_hook`` for ``GenerateFeedback``: prune each folder written.

    Args:
        assignment: nbgrader's assignment id pattern (unused: the notebooks say which).
        student: nbgrader's student id pattern (unused).
        notebooks: the autograded notebooks just converted.
    """
    for folder in sorted({feedback_folder_of(nb) for nb in notebooks}):
        prune_feedback_folder(folder)
