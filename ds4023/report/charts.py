"""The report's two charts: totals in the course's terms, and the mean score of each part."""

from __future__ import annotations

import io
import statistics

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: The status of a student of the gradebook who handed nothing in.
MISSING = "no submission"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def histogram_png(rows: list[dict], assignment: str) -> bytes:
    """Draw the histogram of total scores of the submitted students, as PNG bytes."""
    sub = [r for r in rows if r["status"] != MISSING]
    totals = [r["course"].core + r["course"].optional if "course" in r else r["total"] for r in sub]
    grade = rows[0].get("course") if rows else None
    top = (
        grade.core_max + grade.optional_max
        if grade
        else max([r["max_score"] for r in rows] + [1.0])
    )
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.hist(totals, bins=min(20, max(5, int(top))), range=(0, top), color="#4477aa", ec="white")
    if totals:
        mean, median = statistics.mean(totals), statistics.median(totals)
        ax.axvline(mean, color="#cc3311", lw=2, label=f"mean {mean:.1f}")
        ax.axvline(median, color="#222222", lw=2, ls="--", label=f"median {median:g}")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    what = (
        f"core points out of {grade.core_max:g}, plus up to {grade.optional_max:g} optional"
        if grade
        else f"total score (out of {top:g})"
    )
    ax.set(xlabel=what, ylabel="students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    what_title = "core + optional points" if grade else "total scores"
    ax.set_title(f"{assignment}: {what_title} of {len(totals)} submissions")
    return _png(fig)


def _bar_text(stat: dict, top: float) -> str:
    """E.g. `` 3.5/5: 2 full, 1 part, 0 none, 4 awaiting grading``."""
    waiting = stat.get("awaiting", 0)
    if not stat["scored"]:
        return f" awaiting grading ({waiting})"
    text = f" {stat['mean']:.1f}/{top:g}: {stat['full']} full, {stat['partial']} part, "
    text += f"{stat['zero']} none"
    return text + (f", {waiting} awaiting grading" if waiting else "")


def mean_score_png(parts: list[dict], stats: dict, labels: dict, assignment: str) -> bytes:
    """Draw the mean score of each part in % of its points, half credit included, as PNG.

    Each bar is labelled with the mean and how many got full, part and no marks, and how many
    still await a person (written answers); a part nobody has graded yet says so.
    """
    shown = [p for p in parts if stats[p["id"]]["scored"] or stats[p["id"]].get("awaiting")]
    names = [labels.get(p["id"], p["id"].replace("_", " ")) for p in shown]
    means = [100 * (stats[p["id"]]["mean"] or 0) / p["max_score"] for p in shown]
    texts = [_bar_text(stats[p["id"]], p["max_score"]) for p in shown]
    fig = Figure(figsize=(7.5, 0.5 + 0.42 * max(1, len(shown))))
    ax = fig.subplots()
    bars = ax.barh(names, means, color="#228833")
    ax.bar_label(bars, labels=texts, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 175), xlabel="mean score (% of the part's points)")
    ax.set_xticks(range(0, 101, 25))
    ax.set_title(f"{assignment}: mean score per part")
    return _png(fig)
