"""Feedback pages that run nothing a student wrote: every piece of student HTML is sanitised.

A feedback page is opened by the student and by the instructor (in the formgrader's
origin, logged in), so HTML or JavaScript from a submission must never become live there.
:class:`SafeFeedbackExporter` is nbconvert's HTML exporter with two changes, used both by
``ds4023 feedback`` and, through ``c.GenerateFeedback.exporter_class`` in
``nbgrader_config.py``, by nbgrader's own feedback (the formgrader's *Generate Feedback*
button, ``nbgrader generate_feedback``):

- after every other preprocessor (``HideHiddenTests`` included, so redacting a line can never
  re-open a tag), :func:`sanitize_notebook` cleans the notebook: ``text/html`` outputs go
  through the sanitiser; ``image/png``/``image/jpeg`` stay when they are plain base64;
  ``image/svg+xml`` stays (nbconvert shows it as an ``<img>``, where browsers run no script)
  unless it holds anything active, then it becomes a note; ``application/javascript``,
  widget views and every other type are dropped for a ``text/plain`` note; output metadata
  (``isolated`` iframes, file names) and notebook widget state are dropped; raw cells are
  sanitised; execution counts must be integers and nbgrader ``grade_id``s plain names (the
  feedback template prints both unescaped);
- the ``markdown2html`` filter sanitises what the markdown renderer produced, so markdown
  cells (written answers included), ``text/markdown`` outputs and comments are cleaned
  *after* rendering: math (left as text for MathJax, which runs with its ``Safe``
  extension), tables, code and images still render.

It renders the course's template, ``ds4023/feedback/templates/ds4023_feedback`` (nbgrader's feedback
template with the grade in the course's terms, the README's part names, wrapping output boxes
and a local MathJax or none, never a CDN's; see ``ds4023.feedback.course_feedback.CourseFeedback``).

The sanitiser is ``nh3`` (pinned in ``requirements.txt``), the Python binding of the Rust
``ammonia`` sanitiser, which is maintained and parses like a browser (html5ever). ``bleach``
is installed only as nbconvert's dependency and is deprecated by its maintainers. nbconvert's
own ``SanitizeHTML`` preprocessor is not enough: it cleans markdown *source* before it is
rendered, so ``[x](javascript:...)`` comes out of the renderer as a live link
(``tests/test_feedback_safety.py`` shows it), and nbgrader's feedback template renders
markdown cells without nbconvert's ``sanitize_html`` switch anyway.

Allowed: nh3's default tags and attributes plus ``class`` and ``title``; no ``style``
attribute or element, no ``id`` (it could clobber the page's globals, e.g. ``MathJax``); links
only to ``http``, ``https``, ``mailto`` or relative targets; images only as ``data:`` URIs of
PNG or JPEG (no external fetch from a page a student may have planted).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbgrader
import nh3
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config

#: Output types kept as they are (the template escapes them) or after cleaning.
PLAIN_TYPES = {"text/plain", "text/latex"}
IMAGE_TYPES = {"image/png", "image/jpeg"}
CLEANED_TYPES = {"text/html", "text/markdown", "image/svg+xml"}

_TAGS = set(nh3.ALLOWED_TAGS)
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES["*"] = {"class", "title"}
_ATTRIBUTES["a"] = _ATTRIBUTES.get("a", set()) | {"href"}
_URL_ATTRIBUTES = {"href", "src", "cite", "action", "formaction", "poster", "background"}
_LINK_SCHEMES = {"http", "https", "mailto"}
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]*\Z", re.I)
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*\Z")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
#: Anything that could run or fetch inside an SVG (shown as an <img>, where it would not).
_ACTIVE_SVG = re.compile(
    r"<\s*(script|foreignobject|iframe|object|embed|handler|animate|set)\b|\bon[a-z]+\s*=|"
    r"javascript:|href\s*=\s*([\"']\s*)?(?![#\"'])",
    re.I,
)
_SAFE_GRADE_ID = re.compile(r"[A-Za-z0-9_.\-]+\Z")

#: The course's feedback template (``ds4023/feedback/templates/ds4023_feedback``), on nbgrader's.
TEMPLATE_NAME = "ds4023_feedback"
TEMPLATES = Path(__file__).resolve().parent / "templates"
NBGRADER_TEMPLATES = (
    Path(nbgrader.__file__).resolve().parent / "server_extensions/formgrader/templates"
)


def _url_ok(element: str, attribute: str, value: str) -> bool:
    url = _CONTROL.sub("", value).lower()
    if element == "img" and attribute == "src":
        return bool(_DATA_IMAGE.match(url))
    scheme = _SCHEME.match(url)
    return scheme is None or scheme.group(1) in _LINK_SCHEMES


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES and not _url_ok(element, attribute, value):
        return None
    return value


def clean_html(fragment: str) -> str:
    """Sanitise an HTML fragment a student produced (see the module docstring for the rules).

    Args:
        fragment: any HTML.

    Returns:
        HTML without scripts, event handlers, styles, frames, objects or unsafe URLs.
    """
    return nh3.clean(
        fragment,
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=_LINK_SCHEMES | {"data"},
        strip_comments=True,
    )


def _note(kinds) -> str:
    return f"[output not shown in feedback: {', '.join(sorted(kinds))}]"


def _clean_output(out) -> None:
    if "execution_count" in out and not isinstance(out.execution_count, int):
        out.execution_count = None
    if out.get("output_type") not in ("display_data", "execute_result", "update_display_data"):
        return
    if "metadata" in out:
        out.metadata = {}
    data, dropped = out.get("data", {}), set()
    for mime in list(data):
        value = data[mime]
        if isinstance(value, list):  # nbformat allows multi-line strings as lists
            value = "".join(value)
        keep = None
        if mime in PLAIN_TYPES and isinstance(value, str):
            keep = value
        elif mime in IMAGE_TYPES and isinstance(value, str) and _BASE64.match(value):
            keep = value
        elif mime == "text/html" and isinstance(value, str):
            keep = clean_html(value)
        elif mime == "text/markdown" and isinstance(value, str):
            keep = value  # rendered by SafeFeedbackExporter.markdown2html, which sanitises
        elif mime == "image/svg+xml" and isinstance(value, str) and not _ACTIVE_SVG.search(value):
            keep = value
        if keep is None:
            del data[mime]
            dropped.add(mime)
        else:
            data[mime] = keep
    if dropped and "text/plain" not in data:
        data["text/plain"] = _note(dropped)


def sanitize_notebook(nb) -> None:
    """Clean, in place, everything in a notebook the feedback template would print unescaped.

    Args:
        nb: a notebook node (after the other feedback preprocessors ran).
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and "grade_id" in meta:
            if not _SAFE_GRADE_ID.match(str(meta["grade_id"])):
                meta["grade_id"] = "invalid-grade-id"
        if cell.cell_type == "raw":
            cell.source = clean_html(cell.source)
        elif cell.cell_type == "code":
            if not isinstance(cell.get("execution_count"), int):
                cell.execution_count = None
            for out in cell.get("outputs", []):
                _clean_output(out)


class SafeFeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter that sanitises every piece of student HTML (module docstring)."""

    def __init__(self, config=None, **kwargs):
        """Build the exporter on the course's template (grade in the course's terms, part
        names, wrapped messages, local MathJax), whatever template the caller configured
        (nbgrader's GenerateFeedback sets its own 'feedback'); SVG is always an image."""
        cfg = copy.deepcopy(config) if config is not None else Config()
        base = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
        configured = cfg.get("HTMLExporter", {}).get("extra_template_basedirs", [])
        cfg.SafeFeedbackExporter.extra_template_basedirs = base + [
            d for d in configured if d not in base
        ]
        cfg.SafeFeedbackExporter.template_name = TEMPLATE_NAME
        # ... whose index.html.j2 extends nbgrader's as 'feedback/index.html.j2'
        paths = cfg.get("HTMLExporter", {}).get("extra_template_paths", [])
        cfg.SafeFeedbackExporter.extra_template_paths = [*paths, str(NBGRADER_TEMPLATES)]
        # no CDN: course_feedback.CourseFeedback points the page at a local copy, or at none
        cfg.SafeFeedbackExporter.mathjax_url = ""
        super().__init__(config=cfg, **kwargs)
        self.skip_svg_encoding = False

    def _preprocess(self, nb, resources):
        nb, resources = super()._preprocess(nb, resources)
        sanitize_notebook(nb)
        return nb, resources

    @pass_context
    def markdown2html(self, context, source):
        """Render markdown as nbconvert does, then sanitise the HTML it produced."""
        return clean_html(HTMLExporter.markdown2html(self, context, source))
