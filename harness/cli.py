"""The ``grade`` command: thin click adapters over tasks, grading, results and history."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from harness import history, settings, tasks
from harness.errors import HarnessError, UsageError, ValidationFailed


def _settings(ctx: click.Context) -> settings.Settings:
    return ctx.obj  # type: ignore[no-any-return]


class HarnessGroup(click.Group):
    """The one error handler: a harness error prints its message and exits with its code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(click.style("error: ", fg="red", bold=True) + str(exc), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tasks", "tasks_dir", metavar="DIR", help="Task pack folder [env HARNESS_TASKS].")
@click.option("--reference", metavar="DIR", help="Reference solutions [env HARNESS_REFERENCE].")
@click.option("--workspace", metavar="DIR",
              help="Folder with submissions/, reports/ and history [default: current folder].")
@click.version_option(package_name="ml-harness")
@click.pass_context
def cli(ctx: click.Context, tasks_dir: str | None, reference: str | None,
        workspace: str | None) -> None:
    """Grade machine-learning exercises: correctness, leakage and timing, sandboxed."""
    ctx.meta["flags"] = {"reference": reference, "workspace": workspace}
    ctx.obj = settings.resolve(tasks=tasks_dir, reference=reference, workspace=workspace)


def _pack(ctx: click.Context) -> Path:
    pack = _settings(ctx).tasks.value
    if not pack.is_dir():
        raise UsageError(f"task pack {pack} does not exist",
                         hint="pass --tasks DIR or set HARNESS_TASKS")
    return pack


@cli.command("list")
@click.option("--phase", help="Only tasks of this phase (e.g. phase1, projects).")
@click.pass_context
def list_tasks(ctx: click.Context, phase: str | None) -> None:
    """List the tasks of the pack."""
    found = [t for t in tasks.load_all(_pack(ctx)) if phase is None or t.phase == phase]
    if not found:
        click.echo("no tasks" + (f" in phase {phase}" if phase else ""))
    width = max((len(t.id) for t in found), default=0)
    for t in found:
        click.echo(f"{t.id:<{width}}  {t.kind:<8}  {t.title}")


@cli.command()
@click.argument("task_id")
@click.pass_context
def show(ctx: click.Context, task_id: str) -> None:
    """Show a task: description, interface, limits and its public tests."""
    task = tasks.load_task(_pack(ctx), task_id)
    click.echo(click.style(f"{task.id}: {task.title}", bold=True))
    click.echo(f"{task.kind}, formats: {', '.join(task.formats)}, device: {task.device}\n")
    click.echo(task.description + "\n")
    click.echo(click.style("Interface", bold=True))
    for item in task.interface:
        click.echo(f"  {item.name}{item.signature}\n      {item.doc}")
    lim = task.limits
    click.echo(f"\nLimits: {lim.call_seconds:g} s per call, {lim.total_seconds:g} s in all, "
               f"{lim.memory_bytes >> 20} MiB memory, {lim.output_bytes >> 10} KiB output")
    click.echo(f"Hidden tests: {len(task.hidden_tests)} file(s), never shown.\n")
    for path in task.public_tests:
        click.echo(click.style(f"# public test: {path.name}", bold=True))
        click.echo(path.read_text())


@cli.command()
@click.argument("task_id")
@click.option("--force", is_flag=True, help="Overwrite an existing submission.")
@click.pass_context
def init(ctx: click.Context, task_id: str, force: bool) -> None:
    """Copy a task's starter into submissions/."""
    task = tasks.load_task(_pack(ctx), task_id)
    starter = task.starter / task.entry
    if not starter.is_file():
        raise UsageError(f"task {task_id} has no starter ({starter})")
    dest = _settings(ctx).submissions_dir / f"{task.id}.py"
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists", hint="pass --force to overwrite it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(starter, dest)
    click.echo(f"wrote {dest}\nnext: edit it, then `grade check {task.id}`")


def _grade_and_record(ctx: click.Context, task_id: str, path: str | None, mode: str,
                      as_json: bool, device: str) -> None:
    from harness import grading, results, summary

    s = _settings(ctx)
    task = tasks.load_task(_pack(ctx), task_id)
    result = grading.grade(task, Path(path) if path else None, s, mode=mode,  # type: ignore[arg-type]
                           requested_device=device)
    saved = results.save(result, s.reports_dir)
    history.record(s.history.value, result)
    if as_json:
        click.echo(result.to_json())
    else:
        click.echo(summary.render(result, str(saved)))


@cli.command()
@click.argument("task_id")
@click.argument("path", required=False, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result document as JSON.")
@click.option("--device", type=click.Choice(["auto", "cpu", "mps", "cuda"]), default="auto",
              show_default=True)
@click.pass_context
def submit(ctx: click.Context, task_id: str, path: str | None, as_json: bool,
           device: str) -> None:
    """Grade a submission with public and hidden tests (default: submissions/<task>)."""
    _grade_and_record(ctx, task_id, path, "submit", as_json, device)


@cli.command()
@click.argument("task_id")
@click.argument("path", required=False, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result document as JSON.")
@click.pass_context
def check(ctx: click.Context, task_id: str, path: str | None, as_json: bool) -> None:
    """Run only the public tests (a fast loop while working)."""
    _grade_and_record(ctx, task_id, path, "check", as_json, "auto")


@cli.command()
@click.argument("tasks_dir", required=False, type=click.Path(file_okay=False))
@click.option("--task", "only", multiple=True, help="Validate only this task id (repeatable).")
@click.pass_context
def validate(ctx: click.Context, tasks_dir: str | None, only: tuple[str, ...]) -> None:
    """Check every spec, and that each reference scores 100% and each mutant fails."""
    from harness import validation

    s = _settings(ctx)
    if tasks_dir:
        flags = ctx.meta.get("flags", {})
        s = settings.resolve(tasks=tasks_dir, reference=flags.get("reference"),
                             workspace=flags.get("workspace"))
    report = validation.validate_pack(s, only, progress=lambda line: click.echo(line))
    click.echo(f"\n{report.ok_count} task(s) valid, {len(report.problems)} problem(s)")
    for problem in report.problems:
        click.echo(click.style(f"  {problem}", fg="red"))
    if report.problems:
        raise ValidationFailed(f"{len(report.problems)} problem(s) in the task pack")


@cli.command("history")
@click.argument("task_id", required=False)
@click.option("--limit", default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_context
def history_cmd(ctx: click.Context, task_id: str | None, limit: int, fmt: str) -> None:
    """List past gradings (newest first); export as JSON or CSV for a gradebook."""
    found = history.rows(_settings(ctx).history.value, task_id, limit)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(found[0]) if found else ["id"])
        writer.writeheader()
        writer.writerows(found)
        return
    if not found:
        click.echo("no gradings recorded yet")
    for row in found:
        click.echo(f"{row['id']:>5}  {row['timestamp']}  {row['task']:<28} {row['mode']:<7} "
                   f"{row['verdict']:<17} {row['score']:g}/{row['max_score']:g}")


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``grade`` console script."""
    return cli.main(args=argv, prog_name="grade")
