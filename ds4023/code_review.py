"""Read student code before it runs: reaching into the test machinery holds it for a person."""

from __future__ import annotations

import ast
import builtins
import re
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata

from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

#: Modules a notebook of this course only needs to inspect or rewrite the interpreter itself.
FORBIDDEN_MODULES = frozenset(
    (
        "builtins inspect gc ctypes linecache importlib IPython ipykernel traceback dis pickle "
        "marshal dill cloudpickle shelve runpy code codeop tracemalloc __main__"
    ).split()
)
#: Names that give code the interpreter's namespaces, its history or a way to run hidden text.
FORBIDDEN_NAMES = frozenset(
    (
        "In Out get_ipython globals locals vars exec eval compile __import__ setattr delattr "
        "breakpoint __builtins__ __loader__ __spec__"
    ).split()
)
_HISTORY = re.compile(r"_(i{1,3}|ih|oh|dh|i?\d+)")
#: Attributes that expose frames, code, namespaces or the kernel's display and error machinery.
FORBIDDEN_ATTRIBUTES = frozenset(
    (
        "__dict__ __code__ __globals__ __builtins__ __closure__ __defaults__ __kwdefaults__ "
        "__setattr__ __delattr__ __subclasses__ __import__ f_globals f_locals f_back f_builtins "
        "f_code tb_frame tb_next gi_frame cr_frame ag_frame cell_contents co_consts co_code "
        "_getframe settrace setprofile addaudithook displayhook excepthook last_traceback "
        "last_value set_custom_exc showtraceback chdir fchdir CodeType FunctionType"
    ).split()
)
#: ``sys.<name>`` that reach every loaded module or the import machinery.
SYS_ATTRIBUTES = frozenset({"modules", "meta_path", "path_hooks", "path_importer_cache"})
#: IPython magics a student may use (they only time code or set up plotting).
ALLOWED_MAGICS = frozenset({"matplotlib", "time", "timeit", "precision", "pprint", "who", "whos"})


class HeldForReview(RuntimeError):
    """Student code reaches into the grading machinery: a person must grade the submission."""


@dataclass(frozen=True)
class Harness:
    """What the review knows about an assignment's tests.

    Attributes:
        hidden_names: identifiers that occur only inside hidden-test regions.
        test_builtins: builtins the locked cells use (a student's global of that name would
            replace them in the tests).
        imports: names bound by imports in locked cells -> the module path imported.
        modules: top-level modules the locked cells import (the assignment's own modules).
    """

    hidden_names: frozenset[str]
    test_builtins: frozenset[str]
    imports: dict[str, str]
    modules: frozenset[str]


def _parse(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _import_bindings(tree: ast.AST) -> dict[str, str]:
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                bound[a.asname or top] = a.name if a.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if a.name != "*":
                    bound[a.asname or a.name] = f"{node.module}.{a.name}"
    return bound


def build_harness(sources: dict[str, str], locked: set[str], begin: str, end: str) -> Harness:
    """Describe the tests from the gradebook's source cells.

    Args:
        sources: cell name -> source (test cells with their hidden regions).
        locked: names of the locked cells (tests and read-only code).
        begin: the line that opens a hidden-test region.
        end: the line that closes it.

    Returns:
        The :class:`Harness`.
    """
    hidden, visible = [], []
    for text in sources.values():
        inside = False
        for line in text.split("\n"):
            if begin in line or end in line:
                inside = begin in line
            else:
                (hidden if inside else visible).append(line)
    words = re.compile(r"\b_[A-Za-z0-9_]*\b")
    seen = set(words.findall("\n".join(visible)))
    hidden_names = {w for w in words.findall("\n".join(hidden)) if w not in seen}
    # short names (_x, _g, _t1) are a student's temporaries as often as the tests'
    hidden_names = {w for w in hidden_names if len(w) >= 4 and not w.startswith("__")}
    used, imports = set(), {}
    for name in locked:
        tree = _parse(sources.get(name, ""))
        if tree is not None:
            used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            imports.update(_import_bindings(tree))
    return Harness(
        frozenset(hidden_names),
        frozenset(used & set(dir(builtins))),
        imports,
        frozenset(path.split(".")[0] for path in imports.values()),
    )


@cache
def _installed() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | frozenset(metadata.packages_distributions())


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # an unusual node: name it generically
        return "an attribute"


def _magic_names(tree: ast.AST) -> set[int]:
    """ids of ``get_ipython`` nodes that only run an allowed magic."""
    allowed = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("run_line_magic", "run_cell_magic")
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).lstrip("%") in ALLOWED_MAGICS
        ):
            allowed.add(id(node.func.value.func))
    return allowed


def _module_bindings(tree: ast.Module):
    """(node, name, imported module path or None) for names bound at the top level."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node, node.name, None
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name, path in _import_bindings(node).items():
                yield node, name, path
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                yield child, child.id, None
            elif isinstance(child, ast.stmt | ast.expr | ast.excepthandler | ast.withitem):
                stack.append(child)
            elif isinstance(child, ast.comprehension | ast.match_case):
                stack.append(child)


def _check_node(node: ast.AST, harness: Harness, magic: set[int], imported: set[str]):
    if isinstance(node, ast.Import | ast.ImportFrom):
        if isinstance(node, ast.ImportFrom) and node.level:
            yield "imports relative to the notebook's folder"
        mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        for mod in filter(None, mods):
            top = mod.split(".")[0]
            if top in FORBIDDEN_MODULES:
                yield f"imports {mod}"
            elif top not in _installed() and top not in harness.modules:
                yield f"imports {mod}, which is not installed (a file written at run time?)"
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name in FORBIDDEN_ATTRIBUTES or (
                    node.module == "sys" and a.name in SYS_ATTRIBUTES
                ):
                    yield f"imports {a.name} from {node.module}"
    elif isinstance(node, ast.Name) and id(node) not in magic:
        if node.id in FORBIDDEN_NAMES or _HISTORY.fullmatch(node.id):
            yield f"uses {node.id}"
        elif node.id in harness.hidden_names:
            yield f"uses {node.id}, a name of the hidden tests"
    elif isinstance(node, ast.Attribute):
        if node.attr in FORBIDDEN_ATTRIBUTES:
            yield f"uses .{node.attr}"
        elif node.attr in SYS_ATTRIBUTES and _root(node) == "sys":
            yield f"uses sys.{node.attr}"
    elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        flat = list(targets)
        while flat:
            target = flat.pop()
            if isinstance(target, ast.Tuple | ast.List):
                flat += target.elts
            elif isinstance(target, ast.Starred):
                flat.append(target.value)
            elif isinstance(target, ast.Attribute) and _root(target) in imported:
                yield f"changes {_dotted(target)}"
    elif isinstance(node, ast.Global):
        for name in set(node.names) & (harness.test_builtins | set(harness.imports)):
            yield f"declares global {name}, which the tests use"
    elif isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) > 1:
            attr = node.args[1]
            if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                yield "calls getattr with a computed name"
            elif attr.value in FORBIDDEN_ATTRIBUTES:
                yield f"gets {attr.value}"
        for kw in node.keywords:
            if kw.arg == "allow_pickle":
                yield "loads pickled objects (allow_pickle)"


def review(cells: list[tuple[str, str]], harness: Harness) -> list[str]:
    """Find the constructs in student code that could change how the tests judge it.

    Args:
        cells: (cell name, source) of every code cell the student could have written.
        harness: what the tests rely on (see :func:`build_harness`).

    Returns:
        One line per finding, ``"cell <name> line <n>: <what>"``; empty when nothing is found.
        Cells that do not parse are skipped: they fail when they run anyway.
    """
    trees = [(name, _parse(source)) for name, source in cells]
    imported = set(harness.imports)
    for _, tree in trees:
        if tree is not None:
            imported |= set(_import_bindings(tree))
    findings: list[str] = []
    for name, tree in trees:
        if tree is None:
            continue
        magic = _magic_names(tree)
        found = []
        for node in ast.walk(tree):
            for what in _check_node(node, harness, magic, imported):
                found.append((getattr(node, "lineno", 0), what))
        for node, bound, path in _module_bindings(tree):
            if bound in harness.test_builtins:
                found.append((node.lineno, f"redefines {bound}, which the tests use"))
            elif bound in harness.imports and path != harness.imports[bound]:
                found.append((node.lineno, f"rebinds {bound}, which the tests use"))
        for line, what in sorted(set(found)):
            findings.append(f"cell {name} line {line}: {what}")
    return findings


class ReviewCode(NbGraderPreprocessor):
    """Before the notebook runs, hold it for a person if its code reaches into the tests.

    Reads every code cell except the locked cells nbgrader restored from the gradebook, and
    raises :class:`HeldForReview` naming what it found (see :func:`review`). Turn it off with
    ``c.ReviewCode.enabled = False``.
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source = gb.find_notebook(info["notebook"], info["assignment"])
            sources = {c.name: c.source for c in source.source_cells}
            locked = {c.name for c in source.source_cells if c.locked}
        begin = ClearHiddenTests.begin_test_delimeter.default_value
        end = ClearHiddenTests.end_test_delimeter.default_value
        harness = build_harness(sources, locked, begin, end)
        cells = []
        for i, cell in enumerate(nb.cells):
            name = cell.metadata.get("nbgrader", {}).get("grade_id")
            # a locked cell as nbgrader restored it (a re-added one starts with a comment line)
            if cell.cell_type != "code" or (name in locked and cell.source.endswith(sources[name])):
                continue
            cells.append((name or cell.get("id") or f"#{i}", cell.source))
        findings = review(cells, harness)
        if findings:
            more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
            raise HeldForReview(
                "held for review: the code reaches into the grading machinery ("
                + "; ".join(findings[:3])
                + more
                + "); a person must grade this submission"
            )
        return nb, resources
