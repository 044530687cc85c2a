"""One manifest per assignment: what its notebook reads, what ships beside it, its sample class.

Adding an assignment means adding a ``source/<name>/`` folder (notebook, ``reference.py``,
``<name>_checks.py``), a points table in the README, and one ``Manifest`` here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Files kept once in ``ds4023/`` and copied beside every notebook by ``ds4023 release``:
#: copy name -> module file in ``ds4023/`` (the probe's copy has its own name, so that the
#: instructor's source notebook can import it in JupyterLab).
SHIPPED = {"checks_core.py": "checks_core.py", "ds4023_probe.py": "probe.py"}


@dataclass(frozen=True)
class Manifest:
    """What the pipeline needs to know about one assignment.

    Attributes:
        name: the folder name under ``source/`` and ``release/`` (nbgrader's assignment id).
        data: files built into ``data/`` that the notebook reads by name.
        checks: the student-side checking module beside the notebook (without ``.py``).
        sample_class: module defining the sample class's ``STUDENTS`` and ``EXPECTED_SCORES``.
        corpus: module (under ``tests/``) defining the hostile corpus, or "" when there is none.
        slow_cells: ids of cells the notebook tests skip to save time (figures, long training).
        stop_at: id of the first cell the notebook tests do not run ("" for all of them).
    """

    name: str
    data: tuple[str, ...]
    checks: str
    sample_class: str
    corpus: str = ""
    slow_cells: frozenset[str] = frozenset()
    stop_at: str = ""

    @property
    def shipped(self) -> tuple[str, ...]:
        """The files copied beside the notebook from ``ds4023/`` (see SHIPPED)."""
        return tuple(SHIPPED)


MANIFESTS = {
    m.name: m
    for m in (
        Manifest(
            name="backprop",
            data=("ex4data1.mat", "ex4weights.mat"),
            checks="backprop_checks",
            sample_class="ds4023.sample_class.backprop",
            corpus="tests.corpus.backprop",
            slow_cells=frozenset({"show-100-before", "show-100-after"}),
            stop_at="sec4",
        ),
        Manifest(
            name="mlp_from_scratch",
            data=(),
            checks="mlp_from_scratch_checks",
            sample_class="ds4023.sample_class.mlp_from_scratch",
            slow_cells=frozenset({"plot_sigmoid_prime", "plot_weights"}),
            stop_at="part3_intro",
        ),
    )
}


def manifest(name: str) -> Manifest:
    """The manifest of assignment ``name``.

    Raises:
        KeyError: with the known names, when ``name`` has no manifest.
    """
    try:
        return MANIFESTS[name]
    except KeyError:
        known = ", ".join(sorted(MANIFESTS))
        raise KeyError(f"no assignment {name!r}: the known ones are {known}") from None
