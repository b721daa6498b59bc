"""The weekly card and the cohort table as terminal text (colour where click allows it)."""

from __future__ import annotations

import click

from harness.report.progress import Cohort, WeeklyCard

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[float | None, ...], top: float = 100.0) -> str:
    """One character per value, ``·`` where there is none."""
    return "".join("·" if v is None else
                   BLOCKS[min(len(BLOCKS) - 1, int(max(0.0, v) / top * (len(BLOCKS) - 1) + 0.5))]
                   for v in values)


def bar(done: int, total: int, width: int = 20) -> str:
    """A text progress bar, green when complete."""
    filled = width if total <= 0 else round(width * min(done, total) / total)
    text = "█" * filled + "░" * (width - filled)
    return click.style(text, fg="green" if filled == width else "blue")


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    colour = "green" if value >= 100 else "yellow" if value >= 50 else "red"
    return click.style(f"{value:.0f}%", fg=colour)


def weekly_text(card: WeeklyCard) -> str:
    """The weekly scorecard as a few aligned blocks of text."""
    days = "".join(click.style("■", fg="green") if active else "□" for _, active in card.days)
    lines = [
        click.style(f"Week {card.week}", bold=True) + f"  {card.learner or 'this workspace'}  "
        f"({card.start:%a %d %b} – {card.end:%a %d %b %Y})",
        f"tasks attempted {click.style(str(card.attempted), bold=True)}   "
        f"passed {click.style(str(card.passed), bold=True, fg='green' if card.passed else None)}"
        f"   active days {card.active_days}/7 {days}   streak {card.streak} "
        f"day{'' if card.streak == 1 else 's'}",
        "",
    ]
    if card.tasks:
        width = max(len(t.task) for t in card.tasks)
        lines.append(click.style(f"{'task':<{width}}  {'week':>5}  {'runs':>4}  "
                                 f"trend {card.weeks[0]}…{card.weeks[-1]}", bold=True))
        for t in card.tasks:
            mark = click.style(" passed", fg="green") if t.passed_this_week else ""
            best = _percent(t.best) if t.best is not None else (
                "checked" if t.attempts and not t.not_gradable else "—")
            pad = 5 + len(best) - len(click.unstyle(best))
            lines.append(f"{t.task:<{width}}  {best:>{pad}}  {t.attempts:>4}  "
                         f"{sparkline(t.trend)}{mark}"
                         + (click.style(f"  {t.not_gradable}", fg="yellow")
                            if t.not_gradable else ""))
    else:
        lines.append(f"nothing graded in the last {len(card.weeks)} weeks")
    if card.phases:
        lines += ["", click.style("phases", bold=True)]
        width = max(len(p.phase) for p in card.phases)
        lines += [f"  {p.phase:<{width}}  {bar(p.passed, p.total)}  {p.passed}/{p.total}"
                  for p in card.phases]
    lines += ["", click.style("milestones", bold=True)]
    for m in card.milestones:
        parts = ", ".join(f"{what} {n}/{need}" for what, n, need in m.parts)
        done = click.style(" ✓", fg="green") if m.done else ""
        due = f" (due {m.due.isoformat()})" if m.due else ""
        lines.append(f"  month {m.month:>2}  {bar(round(100 * m.fraction), 100, 10)}  "
                     f"{parts}{done}{due}")
    if card.speedups:
        lines += ["", click.style("best speedups", bold=True)]
        lines += [f"  {b.task}  {b.speedup.describe()}" for b in card.speedups]
    if card.leakage_checked:
        lines += ["", click.style("leakage findings fixed", bold=True)
                  + f"  {len(card.leaks_fixed)} "
                  f"({sum(1 for f in card.leaks_fixed if f.this_week)} this week)"]
        lines += [f"  {f.task}  {f.check}  {f.fixed_on[:10]}" for f in card.leaks_fixed]
    return "\n".join(lines)


def cohort_text(table: Cohort) -> str:
    """One row per learner, one column per task (short names), best score in each cell."""
    if not table.learners:
        return f"no gradings recorded up to {table.week}"
    names = [t.split("/")[-1][:12] for t in table.tasks]
    width = max(len(w or "(not recorded)") for w in table.learners)
    head = f"{'learner':<{width}}  {'passed':>6}  {'week':>4}  " + "  ".join(
        f"{n:>{max(len(n), 4)}}" for n in names)
    lines = [click.style(head, bold=True)]
    for who in table.learners:
        cells = []
        for task, name in zip(table.tasks, names, strict=True):
            text = _percent(table.best.get((who, task)))
            cells.append(" " * (max(len(name), 4) - len(click.unstyle(text))) + text)
        lines.append(f"{who or '(not recorded)':<{width}}  "
                     f"{table.passed(who):>3}/{len(table.tasks):<2}  "
                     f"{table.active.get(who, 0):>4}  " + "  ".join(cells))
    lines.append("")
    lines.append("columns: " + ", ".join(table.tasks))
    return "\n".join(lines)
