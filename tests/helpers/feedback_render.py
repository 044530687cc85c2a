"""A feedback page as chromium renders it: MathJax's errors, raw TeX, fonts, figures, requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: MathJax's HTML-CSS output probes fonts with its own ``MathJax_Blank`` face at about:blank,
#: in every browser and with every font; that probe is not a request for anything the page lacks.
PROBE = "about:blank"
#: Resolves once MathJax has typeset the page (its queue runs the initial typeset first).
_TYPESET = "() => new Promise(done => MathJax.Hub.Queue(() => done(true)))"
#: What the rendered page says about itself once typeset.
_FACTS = r"""() => {
  const text = document.body.innerText;
  const cells = [...document.querySelectorAll('div.cell')].map(cell => {
    const input = cell.querySelector('.input_area');
    return {
      input: input ? input.innerText : '',
      images: cell.querySelectorAll('.output_area img').length,
      out: [...cell.querySelectorAll('.output_prompt')].map(p => p.innerText).join(' '),
    };
  });
  const html = MathJax.OutputJax['HTML-CSS'];
  return {
    math: document.querySelectorAll('.MathJax, .MathJax_Display').length,
    errors: document.querySelectorAll('.MathJax_Error, .merror, .noError').length
      + (text.match(/Math Processing Error/g) || []).length,
    raw_tex: ['$$', '\\begin{', '\\frac', '\\left'].filter(t => text.includes(t)),
    font: html ? html.fontInUse + (html.webFonts ? '' : '/no-web-fonts') : 'none',
    font_failures: [...document.fonts]
      .filter(f => f.status === 'error' && f.family.replace(/"/g, '') !== 'MathJax_Blank')
      .map(f => f.family),
    fonts: [...new Set([...document.fonts].filter(f => f.status === 'loaded')
      .map(f => f.family.replace(/"/g, '')))].sort(),
    cells: cells,
  };
}"""


@dataclass
class Rendered:
    """What chromium made of one page."""

    math: int
    errors: int
    raw_tex: list[str]
    font: str
    font_failures: list[str]
    fonts: list[str]
    cells: list[dict]
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything wrong with the page (empty: it renders as a student should see it)."""
        found = []
        if self.errors:
            found.append(f"{self.errors} MathJax error(s)")
        if self.raw_tex:
            found.append(f"raw TeX visible: {self.raw_tex}")
        if self.font != "STIX-Web":
            found.append(f"MathJax font {self.font!r}, not the shipped STIX-Web")
        if self.font_failures or any(not f.startswith("STIXMathJax") for f in self.fonts):
            found.append(f"fonts: loaded {self.fonts}, failed {self.font_failures}")
        if self.requests:
            found.append(f"loaded from outside the page: {self.requests[:3]}")
        if self.console:
            found.append(f"console errors: {self.console[:3]}")
        for cell in self.cells:
            if cell["images"] and "plt.show()" not in cell["input"]:
                found.append(f"a figure under a cell that draws nothing: {cell['input'][:60]!r}")
            if "checks.check" in cell["input"] and "Out" in cell["out"]:
                found.append(f"a bare value under a test cell: {cell['input'][:60]!r}")
        return found


def render(browser_context, page_file: Path, screenshot: Path | None = None) -> Rendered:
    """Open a feedback page from disk in chromium and wait until MathJax has typeset it.

    Args:
        browser_context: a Playwright browser context (``tests.helpers.browser.chromium``).
        page_file: the HTML file.
        screenshot: where to save a full-page PNG, if given.

    Returns:
        What the rendered page shows; ``requests`` lists every URL it asked for other than
        itself and ``data:`` URIs.
    """
    page = browser_context.new_page()
    own = page_file.resolve().as_uri()
    requests, console = [], []
    page.on("request", lambda r: r.url.startswith(("data:", own, PROBE)) or requests.append(r.url))
    # a failed load is in ``requests`` already (the probe's too, as net::ERR_FAILED)
    failed_load = ("Failed to load resource", PROBE)
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not any(f in m.text for f in failed_load)
            and console.append(m.text)
        ),
    )
    page.on("pageerror", lambda err: console.append(str(err)))
    try:
        page.goto(own)
        rendered = typeset(page)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    rendered.requests, rendered.console = requests, console
    return rendered


def typeset(page) -> Rendered:
    """Wait until MathJax has typeset the feedback page open in ``page``; what it shows.

    Used by :func:`render` for pages on disk, and as it stands for a page a server serves
    (a hub's files view).
    """
    page.wait_for_function("window.MathJax && MathJax.isReady === true")
    page.evaluate(_TYPESET)
    return Rendered(**page.evaluate(_FACTS))
