"""HTML pages: the submission scorecard, the weekly progress card and the cohort table.

Each page is one self-contained file (styles and SVG charts inline, no scripts, no
network). Templates are rendered with autoescaping on: learner output, messages and
names are hostile text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from harness import feedback
from harness.report import charts, progress, scorecard
from harness.results import Result, write_atomically

__all__ = ["render_cohort", "render_scorecard", "render_weekly", "write"]

#: Control characters (C0 but tab and newline, DEL, C1) and bidi overrides: escaping
#: makes text safe for HTML, not for a terminal showing the file or for the eye.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _printable(value: Any) -> Any:
    """Every value a template prints: control characters shown as escapes."""
    if not isinstance(value, str):
        return value
    text = _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], value)
    return Markup(text) if isinstance(value, Markup) else text


@cache
def environment() -> jinja2.Environment:
    """The template environment: package templates, autoescape on, undefined is an error."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=_printable)
    env.globals["charts"] = charts
    env.filters["num"] = lambda v, digits=3: f"{float(v):.{digits}g}"
    env.filters["pts"] = lambda v: feedback.points(float(v))
    return env


def render_scorecard(result: Result | Mapping[str, Any]) -> str:
    """The scorecard of one grading (a result, or its JSON document) as one HTML page."""
    doc = result.to_dict() if isinstance(result, Result) else result
    return environment().get_template("scorecard.html").render(scorecard.context(doc))


def render_weekly(card: progress.WeeklyCard) -> str:
    """The weekly progress card as one HTML page."""
    days = [(day.strftime("%a %d %b"), active) for day, active in card.days]
    bars = [(f"{b.task.split('/')[-1]}: {b.speedup.label}", b.speedup.ratio, b.speedup.low,
             b.speedup.high, b.speedup.required) for b in card.speedups]
    return environment().get_template("weekly.html").render(
        card=card, days=days, speedup_rows=bars, title=f"Week {card.week}")


def render_cohort(table: progress.Cohort) -> str:
    """The cohort table (one row per learner, one column per task) as one HTML page."""
    return environment().get_template("cohort.html").render(table=table,
                                                            title=f"Cohort, {table.week}")


def write(html: str, path: Path) -> Path:
    """Write a page atomically (a reader never sees half a file); return its path."""
    return write_atomically(path, html)
