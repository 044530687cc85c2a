"""Collect a Canvas or Moodle bulk download into submitted/<student>/<assignment>/.

``ds4023 collect --lms canvas --zip submissions.zip --assignment backprop``
(``make collect LMS=canvas ZIP=... ASSIGNMENT=...``, ``python -m ds4023.collect``): students
are matched through roster.csv, which is imported into the gradebook; every entry that is not
imported gets one line.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ds4023 import command_line
from ds4023.collect import unpack
from ds4023.collect.lms import COLLECTORS, Skip
from ds4023.collect.roster import RosterError, read_roster
from ds4023.files import GRADING_LOCK, LockHeld, atomic_write_text, hold_lock
from ds4023.release import ReleaseError, run_nbgrader
from ds4023.settings import COURSE_ROOT

#: The roster goes into the gradebook only. On the course's hub (``ds4023/hub/config.py``)
#: nbgrader's JupyterHubAuthPlugin would also put each imported student into the hub's course
#: group, and it stops the import outright when run outside a hub server (no $JUPYTERHUB_USER),
#: as ``ds4023 hub exec`` runs it. Students from an LMS download are not the hub's users.
NO_HUB = "--Authenticator.plugin_class=nbgrader.auth.NoAuthPlugin"
#: What the LMS said about each collected submission, per assignment (gitignored).
MANIFEST_DIR = ".lms"


class CollectError(RuntimeError):
    """Nothing can be collected as asked; the message says what to fix."""


@dataclass
class Summary:
    """What one collect did.

    Attributes:
        lms, assignment, zip_name: what was collected, from which download.
        placed: student -> ``new``, ``updated`` or ``unchanged``.
        skipped: one line per entry (or student) not imported.
    """

    lms: str
    assignment: str
    zip_name: str
    placed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as printed: a count line, then one line per skipped entry."""
        n = {k: sum(v == k for v in self.placed.values()) for k in ("new", "updated", "unchanged")}
        head = (
            f"collect {self.lms} {self.assignment} from {self.zip_name}: "
            f"{len(self.placed)} imported ({n['new']} new, {n['updated']} updated, "
            f"{n['unchanged']} unchanged), {len(self.skipped)} skipped"
        )
        return [head, *self.skipped]

    @property
    def exit_code(self) -> int:
        """0 when every entry was imported, 1 when something was skipped."""
        return 1 if self.skipped else 0


def collect(course_root: Path, lms: str, zip_path: Path, assignment: str) -> Summary:
    """Unpack an LMS bulk download into the course's submissions.

    Every entry is checked before anything is written; the roster is imported into the
    gradebook (``nbgrader db student import roster.csv``); each student's folder is then staged
    and renamed into place, so it holds the old or the new submission, never part of one. A
    folder whose files are already the same is left untouched.

    Args:
        course_root: the course directory (with roster.csv and release/<assignment>/).
        lms: ``canvas`` or ``moodle``.
        zip_path: the downloaded zip.
        assignment: the assignment name.

    Returns:
        The summary.

    Raises:
        CollectError: unknown LMS, no release of the assignment, a bad roster, a file that
            is not a zip, a gradebook nbgrader cannot import into, or a grading run holding
            the course.
    """
    if lms not in COLLECTORS:
        raise CollectError(f"unknown LMS {lms!r}: use LMS=canvas or LMS=moodle")
    root = Path(course_root).resolve()
    notebooks = {p.name for p in (root / "release" / assignment).glob("*.ipynb")}
    if not notebooks:
        raise CollectError(
            f"release/{assignment}/ has no notebook: check ASSIGNMENT= or run make release"
        )
    try:
        people = read_roster(root / "roster.csv")
        found = unpack.entries(zip_path)
    except (RosterError, unpack.NotAZip) as err:
        raise CollectError(str(err)) from None
    if lms == "canvas" and not any(p.lms_user_id for p in people):
        raise CollectError(
            "roster.csv gives no student an lms_user_id, and Canvas names every submission by "
            "it: add an lms_user_id column with each student's Canvas user id, then collect again"
        )
    collector = COLLECTORS[lms]()
    collector.setup(people, notebooks)
    summary = Summary(lms, assignment, Path(zip_path).name)
    chosen: dict[str, list[tuple[str, dict]]] = {}
    for entry in found:
        why = unpack.unsafe(entry)
        try:
            if why:
                raise Skip(why)
            info = collector.parse(entry.filename)
        except Skip as err:
            summary.skipped.append(f"skipped {entry.filename!r}: {err}")
            continue
        chosen.setdefault(info["student_id"], []).append((entry.filename, info))
    files: dict[str, dict[str, bytes]] = {}
    manifest: dict[str, dict] = {}
    for student, got in sorted(chosen.items()):
        names = [info["file_id"] for _, info in got]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            listed = ", ".join(repr(e) for e, info in got if info["file_id"] in twice)
            summary.skipped.append(
                f"skipped student {student}: {names.count(twice[0])} files for {twice[0]} "
                f"({listed}): keep the one to grade in the zip and collect again"
            )
            continue
        try:
            files[student] = {i["file_id"]: unpack.read_entry(zip_path, e) for e, i in got}
        except (ValueError, OSError) as err:
            summary.skipped.append(f"skipped student {student}: {err}: ask for a smaller notebook")
            continue
        manifest[student] = {"lms": lms, "entries": [dict(i, entry=e) for e, i in got]}
    with _grading_lock(root):
        try:
            run_nbgrader(["db", "student", "import", str(root / "roster.csv"), NO_HUB], root)
        except ReleaseError as err:
            raise CollectError(f"the roster cannot be imported into the gradebook: {err}") from None
        for student in sorted(files):
            folder = root / "submitted" / student / assignment
            summary.placed[student] = unpack.place(folder, files[student])
        _merge_manifest(root, assignment, lms, manifest)
    return summary


def read_manifest(course_root: Path, assignment: str, lms: str) -> dict[str, dict]:
    """What an LMS's downloads said about each collected submission of an assignment.

    Args:
        course_root: the course directory.
        assignment: the assignment name.
        lms: ``canvas`` or ``moodle``.

    Returns:
        student -> ``{"lms", "entries": [{"entry", "file_id", "late", "lms_user_id" or
        "participant_id", "attachment_id", "folder", ...}]}`` (empty before any collect).
        ``late`` (Canvas's ``LATE`` mark) is the hook for the course's late-work policy.
    """
    path = Path(course_root) / MANIFEST_DIR / f"{assignment}_{lms}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _merge_manifest(root: Path, assignment: str, lms: str, new: dict[str, dict]) -> None:
    """Add this collect's students to the manifest; unchanged content is not rewritten."""
    merged = {**read_manifest(root, assignment, lms), **new}
    text = json.dumps(dict(sorted(merged.items())), indent=1, sort_keys=True) + "\n"
    path = root / MANIFEST_DIR / f"{assignment}_{lms}.json"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)


@contextmanager
def _grading_lock(root: Path):
    """Hold the grading runs' lock (``.grading/lock``): never swap a submission being graded."""
    try:
        with hold_lock(root / GRADING_LOCK):
            yield
    except LockHeld:
        raise CollectError(
            f"a grading run is using {root}: collect again when it has finished"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ds4023 collect --lms canvas|moodle --zip FILE --assignment A``.

    Returns:
        0 when everything was imported, 1 when some entry was skipped (one line each),
        2 when nothing could be collected (one ``error:`` line).
    """
    parser = command_line.parser(
        "collect",
        "Unpack a Canvas or Moodle bulk download (zip) into submitted/<student>/<assignment>/; "
        "students are matched through roster.csv, which is imported into the gradebook.",
        "example:\n  ds4023 collect --lms canvas --zip submissions.zip --assignment backprop",
    )
    parser.add_argument(
        "--lms", required=True, choices=sorted(COLLECTORS), help="where the zip is from"
    )
    parser.add_argument("--zip", required=True, type=Path, help="the bulk download")
    parser.add_argument("--assignment", required=True, help="assignment the zip holds")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course directory")
    args = parser.parse_args(argv)
    if not args.zip.is_file():
        return command_line.fail(f"no file {args.zip}: pass the zip the LMS downloaded (--zip)")
    try:
        summary = collect(args.course, args.lms, args.zip, args.assignment)
    except CollectError as err:
        return command_line.fail(str(err))
    print("\n".join(summary.lines()))
    return summary.exit_code
