"""nbgrader's sanitizing, hardened: every test cell comes back, in place, whatever was tampered."""

from __future__ import annotations

from nbgrader.api import Gradebook
from nbgrader.preprocessors import DeduplicateIds, OverwriteCells
from traitlets import Bool, Dict

from ds4023.grading.preprocessors.deduplicate_ids import DeduplicateCellIds

#: Jupyter tags that change how a cell runs (skipped, or its error ignored): never honoured.
EXECUTION_TAGS = {"skip-execution", "raises-exception"}


class NotThisNotebook(ValueError):
    """The submitted notebook holds none of the cells of the notebook it is graded as."""


class RestoringOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells that restores every test cell, in its place, as it was released.

    On top of what OverwriteCells does (source of locked cells, cell type, points, checksums):

    - the kind of each known cell (``grade``, ``solution``, ``task``) is reset from the
      gradebook, so a test cannot be turned into an answer or dropped from grading;
    - a cell whose grade_id the gradebook does not know loses its nbgrader metadata (it runs as
      a plain cell) instead of leaving metadata that fails the whole notebook;
    - missing test cells are added back (``add_missing_cells`` is on by default) after the
      cell that precedes them in the released notebook (``cell_order``), not after the
      alphabetically previous one, which may be missing or elsewhere;
    - the tags ``skip-execution`` and ``raises-exception`` are removed from every cell, so a
      cell always runs as it would without them;
    - a notebook holding none of the notebook's test and answer cells is refused
      (:class:`NotThisNotebook`): it is another notebook, not a damaged copy of this one.
    """

    add_missing_cells = Bool(True, help=OverwriteCells.add_missing_cells.help).tag(config=True)
    cell_order = Dict(
        help="notebook name -> grade_ids of its nbgrader cells in the order of the release"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            known = gb.find_notebook(info["notebook"], info["assignment"])
            self._grade = {c.name: c.max_score for c in known.grade_cells}
            self._solution = {c.name for c in known.solution_cells}
            self._task = {c.name for c in known.task_cells}
            self._source = {c.name for c in known.source_cells}
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
        graded = set(self._grade) | self._solution  # tests and answers (not shared boilerplate)
        if graded and not ids & graded:
            raise NotThisNotebook(
                f"the notebook holds none of the {len(graded)} test and answer cells of "
                f"{info['notebook']}.ipynb: is it another assignment's notebook?"
            )
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        tags = cell.metadata.get("tags")
        if isinstance(tags, list) and set(tags) & EXECUTION_TAGS:  # the cell runs as released
            self.log.warning(
                "Cell %s: tags %s removed", cell_index, sorted(set(tags) & EXECUTION_TAGS)
            )
            cell.metadata["tags"] = [t for t in tags if t not in EXECUTION_TAGS]
        meta = cell.metadata.get("nbgrader")
        grade_id = meta.get("grade_id") if meta else None
        if grade_id is None:
            return cell, resources
        if grade_id not in self._source:
            self.log.warning("Cell '%s' does not exist in the database", grade_id)
            del cell.metadata["nbgrader"]
            return cell, resources
        wanted = {
            "grade": grade_id in self._grade,
            "solution": grade_id in self._solution,
            "task": grade_id in self._task,
        }
        for flag, want in wanted.items():
            if bool(meta.get(flag, False)) != want:
                self.report_change(grade_id, flag, want, bool(meta.get(flag, False)))
                meta[flag] = want
        if wanted["grade"] and "points" not in meta:
            meta["points"] = self._grade[grade_id]
        return super().preprocess_cell(cell, resources, cell_index)

    def add_missing_grade_cells(self, nb, resources):
        order = list(self.cell_order.get(self.notebook_id, []))
        known = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        sources = {c.name: c for c in known.source_cells}
        grades = {c.name: c.max_score for c in known.grade_cells}
        order += sorted(set(grades) - set(order))
        for name in order:
            where = self._positions(nb)
            if name not in grades or name in where:
                continue
            self.log.warning(f"Missing grade cell {name} encountered, adding to notebook")
            cell = self.missing_cell_transform(
                sources[name], grades[name], is_solution=name in self._solution
            )
            before = [where[n] for n in order[: order.index(name)] if n in where]
            after = [where[n] for n in order[order.index(name) + 1 :] if n in where]
            at = before[-1] + 1 if before else (after[0] if after else len(nb.cells))
            nb.cells.insert(at, cell)
        return nb, resources

    @staticmethod
    def _positions(nb) -> dict[str, int]:
        where = {}
        for i, cell in enumerate(nb.cells):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                where[grade_id] = i
        return where


def sanitize_chain(configured: list | None) -> list:
    """nbgrader's sanitizing preprocessors with the hardened ones swapped in.

    Args:
        configured: ``Autograde.sanitize_preprocessors`` from the configuration, or None.

    Returns:
        The list to configure.
    """
    from nbgrader.converters import Autograde

    chain = configured or Autograde.class_traits()["sanitize_preprocessors"].default()
    swap = {OverwriteCells: RestoringOverwriteCells, DeduplicateIds: DeduplicateCellIds}
    return [swap.get(p, p) for p in chain]
