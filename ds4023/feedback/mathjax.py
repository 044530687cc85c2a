"""MathJax inside each feedback page, so formulas render wherever the page goes, offline.

A feedback page leaves the course alone: nbgrader's ``release_feedback`` copies only the
``.html`` file into the exchange (``fetch_feedback`` puts it in a timestamped folder of the
student's), and the LMS takes one file per student. A page that loads MathJax from beside it
shows raw TeX there, so every page carries MathJax itself: MathJax 2 from the
``jupyter_server_mathjax`` package (the one JupyterLab's server ships; nothing is downloaded),
with what its TeX input and HTML-CSS output can load, and the STIX-Web fonts as ``data:`` URIs.

Written here is only the glue no maintained package provides for MathJax 2: MathJax's own
``AuthorInit`` hook points its loader (``MathJax.Ajax.loader.JS``) at the files held in the
page, and a ``StartupHook`` gives the ``@font-face`` rules the fonts in the page. MathJax's
configuration names the fonts that are shipped (STIX-Web, as web fonts only: no local STIX,
no TeX fonts and no image fonts, which the package lacks and whose absence gave "[Math
Processing Error]"), and its ``Safe`` extension stays on. It adds 2.2 MB to a page
(:func:`bundle_size`); a sample page is 2.5-2.9 MB, about 1.5 MB deflated in the LMS zip.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

#: What the pages load: MathJax's combined configuration, then its Safe extension.
CONFIGS = ("TeX-AMS-MML_HTMLorMML-full.js", "Safe.js")
#: The files MathJax may load after its combined configuration, relative to its root: the
#: Safe extension, TeX's autoloaded extensions, HTML-CSS's autoloaded parts and font data.
BUNDLED = (
    "config/*.js",
    "extensions/*.js",
    "extensions/TeX/*.js",
    "extensions/HTML-CSS/*.js",
    "jax/element/mml/optable/*.js",
    "jax/output/HTML-CSS/autoload/*.js",
    "jax/output/HTML-CSS/fonts/STIX-Web/**/*.js",
)
#: The web fonts of STIX-Web, relative to MathJax's root.
FONTS = "fonts/HTML-CSS/STIX-Web/woff"
#: The name pages give MathJax's root; nothing is ever fetched from it.
ROOT = "ds4023-mathjax"

_SETTINGS = {
    "root": ROOT,
    "config": list(CONFIGS),
    "messageStyle": "none",
    "showMathMenu": False,
    "displayAlign": "center",
    "tex2jax": {
        "inlineMath": [["$", "$"], ["\\(", "\\)"]],
        "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
        "processEscapes": True,
        "processEnvironments": True,
    },
    "TeX": {"equationNumbers": {"autoNumber": "AMS", "useLabelIds": True}},
    "HTML-CSS": {
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
        "linebreaks": {"automatic": True},
    },
    "MMLorHTML": {"prefer": "HTML"},
}

#: Runs in the page: MathJax's loader takes bundled files from the page, fonts are data: URIs.
_GLUE = """
(function () {
  var files = %(files)s, fonts = %(fonts)s, root = %(root)s;
  var settings = %(settings)s;
  settings.AuthorInit = function () {
    var ajax = MathJax.Ajax, load = ajax.loader.JS;
    ajax.loader.JS = function (url, callback) {
      var code = url.indexOf(root + "/") === 0 ? files[url.substr(root.length + 1)] : undefined;
      if (code === undefined) { return load.call(this, url, callback); }
      var script = document.createElement("script");
      this.loading[url] = {callback: callback, status: this.STATUS.OK, script: script,
        timeout: setTimeout(MathJax.Callback(["loadTimeout", this, url]), this.timeout),
        message: MathJax.Message.File(this.fileName(url))};
      script.text = code;
      // after this call returns, as a loaded file's script would run
      setTimeout(function () { document.head.appendChild(script); }, 0);
    };
    MathJax.Hub.Register.StartupHook("HTML-CSS Jax Startup", function () {
      var font = MathJax.OutputJax["HTML-CSS"].Font, face = font.fontFace;
      font.fontFace = function (name) {
        var rule = face.apply(this, arguments);
        var file = String(rule.src).match(/\\/(STIXMathJax_[A-Za-z0-9-]+)\\.woff/);
        if (file && fonts[file[1]]) {
          rule.src = "url(data:font/woff;base64," + fonts[file[1]] + ") format('woff')";
        }
        return rule;
      };
    });
  };
  window.MathJax = settings;
})();
"""


def _static() -> Path | None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    folder = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    return folder if (folder / "MathJax.js").is_file() else None


def _script(code: str) -> str:
    # inside <script>, only "</" could end the element early; "<\/" means the same in JS
    return "<script>" + code.replace("</", "<\\/") + "</script>"


@functools.lru_cache(maxsize=1)
def page_scripts() -> str:
    """The ``<script>`` elements that put MathJax, its files and fonts into a feedback page.

    Returns:
        HTML for the page's ``<head>``, or "" when ``jupyter_server_mathjax`` is not installed
        (formulas then stay as TeX).
    """
    static = _static()
    if static is None:
        return ""
    files = {}
    for pattern in BUNDLED:
        for path in sorted(static.glob(pattern)):
            files[path.relative_to(static).as_posix()] = path.read_text(encoding="utf-8")
    fonts = {
        path.stem: base64.b64encode(path.read_bytes()).decode("ascii")
        for path in sorted((static / FONTS).glob("*.woff"))
    }
    glue = _GLUE % {
        "files": json.dumps(files, sort_keys=True),
        "fonts": json.dumps(fonts, sort_keys=True),
        "root": json.dumps(ROOT),
        "settings": json.dumps(_SETTINGS, sort_keys=True),
    }
    mathjax = (static / "MathJax.js").read_text(encoding="utf-8")
    return "\n".join([_script(glue), _script(mathjax)])


def bundle_size() -> int:
    """The bytes MathJax adds to every feedback page (0 without ``jupyter_server_mathjax``)."""
    return len(page_scripts().encode("utf-8"))
