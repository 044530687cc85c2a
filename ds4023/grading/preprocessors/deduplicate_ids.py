"""nbgrader's DeduplicateIds that leaves a copied cell plain instead of failing the notebook."""

from __future__ import annotations

from nbgrader.preprocessors import DeduplicateIds


class DeduplicateCellIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, leaving a duplicate as a plain cell instead of a broken one.

    nbgrader keeps the last cell of a grade_id and empties the nbgrader metadata of earlier
    copies to ``{}``, which its own metadata check then rejects ("Outdated schema version"),
    failing the whole notebook; a copied cell (JupyterLab keeps the metadata) is common.
    """

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.metadata.get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
