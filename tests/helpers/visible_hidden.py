"""Where a test cell's visible check was silent but its hidden judgement took points."""

from __future__ import annotations

import json
from pathlib import Path


def silent_but_failed(notebook: Path) -> list[str]:
    """The test cells of an autograded notebook whose visible part ran without an error while
    the judge gave less than full points: ``"grade_id: score/points: message"`` each.

    A cell that never ran (the submission stopped before it) is left out: nothing was silent.
    """
    found = []
    for cell in json.loads(Path(notebook).read_text())["cells"]:
        meta = cell.get("metadata", {})
        nbgrader, judged = meta.get("nbgrader", {}), meta.get("ds4023")
        if cell.get("cell_type") != "code" or not judged or cell.get("execution_count") is None:
            continue
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if not failed and judged["score"] < float(nbgrader.get("points", 0)):
            found.append(
                f"{nbgrader['grade_id']}: {judged['score']}/{nbgrader['points']}: "
                f"{judged['message']}"
            )
    return found
