"""The ``grade`` command: thin click adapters over tasks, grading, results and history."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from harness import history, pathnames, settings, tasks
from harness.errors import HarnessError, UsageError, ValidationFailed


def _settings(ctx: click.Context) -> settings.Settings:
    return ctx.obj  # type: ignore[no-any-return]


class PathName(click.Path):
    """A path argument whose name the file system can take, else a usage error (exit 2).

    Checked as click parses it, before a command opens anything: a name too long
    otherwise surfaced as an ``OSError`` traceback from whichever call touched it first.
    Submission paths are not of this type; :func:`harness.submissions.locate` checks them.
    """

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        why = pathnames.problem(value)
        if why:
            shown = (param.opts[0] if isinstance(param, click.Option) else
                     param.human_readable_name if param is not None else "path")
            raise UsageError(f"{shown} {pathnames.shorten(os.fsdecode(value))!r}: {why}")
        return super().convert(value, param, ctx)


def _usable(s: settings.Settings) -> settings.Settings:
    """``s`` when every folder it names can exist; a usage error naming the one that cannot
    and where its value came from (flag, environment, pyproject.toml)."""
    for name in ("workspace", "tasks", "reference", "history"):
        setting = getattr(s, name)
        why = pathnames.problem(setting.value)
        if why:
            raise UsageError(f"the {name} path {pathnames.shorten(str(setting.value))!r} "
                             f"(from {setting.source}): {why}")
    return s


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
@click.option("--learner", metavar="NAME",
              help="Who is graded, for the history [env HARNESS_LEARNER; default: git "
                   "user.email, then the OS user].")
@click.version_option(package_name="ml-harness")
@click.pass_context
def cli(ctx: click.Context, tasks_dir: str | None, reference: str | None,
        workspace: str | None, learner: str | None) -> None:
    """Grade machine-learning exercises: correctness, leakage and timing, sandboxed."""
    ctx.meta["flags"] = {"reference": reference, "workspace": workspace}
    ctx.obj = _usable(settings.resolve(tasks=tasks_dir, reference=reference,
                                       workspace=workspace, learner=learner))


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
@click.option("--notebook", is_flag=True, help="Write a starter notebook (.ipynb) instead.")
@click.pass_context
def init(ctx: click.Context, task_id: str, force: bool, notebook: bool) -> None:
    """Copy a task's starter into submissions/ (a module, or a notebook with --notebook)."""
    task = tasks.load_task(_pack(ctx), task_id)
    starter = task.starter / task.entry
    if not starter.is_file():
        raise UsageError(f"task {task_id} has no starter ({starter})")
    if notebook and "notebook" not in task.formats:
        raise UsageError(f"task {task_id} accepts {', '.join(task.formats)} submissions only")
    dest = _settings(ctx).submissions_dir / f"{task.id}{'.ipynb' if notebook else '.py'}"
    if dest.exists() and not force:
        raise UsageError(f"{dest} already exists", hint="pass --force to overwrite it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if notebook:
        from harness import notebooks

        # Jupyter runs a notebook in its own folder: the check command finds the workspace.
        ws = os.path.relpath(_settings(ctx).workspace.value, dest.parent)
        check = f"--workspace {ws} check {task.id} {dest.name}"
        dest.write_text(json.dumps(notebooks.starter_notebook(task, starter.read_text(), check),
                                   indent=1) + "\n")
    else:
        shutil.copyfile(starter, dest)
    click.echo(f"wrote {dest}\nnext: edit it, then `grade check {task.id}`")


def _grade_and_record(ctx: click.Context, task_id: str, path: str | None, mode: str,
                      as_json: bool, device: str, require_sandbox: str | None = None) -> None:
    from harness import grading, report, results, summary
    from harness.ticker import Ticker

    s = _settings(ctx)
    task = tasks.load_task(_pack(ctx), task_id)
    with Ticker(enabled=None if not as_json else False) as ticker:
        result = grading.grade(task, Path(path) if path else None, s,
                               mode=mode,  # type: ignore[arg-type]
                               requested_device=device, required_level=require_sandbox,
                               progress=ticker)
    saved = results.save(result, s.reports_dir)
    history.record(s.history.value, result, learner=s.learner.value)
    page = report.write(report.render_scorecard(result), saved.with_suffix(".html"))
    if as_json:
        click.echo(result.to_json())
    else:
        click.echo(summary.render(result, str(saved)))
        click.echo(f"scorecard saved to {page}")


@cli.command()
@click.argument("task_id")
@click.argument("path", required=False, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result document as JSON.")
@click.option("--device", type=click.Choice(["auto", "cpu", "mps", "cuda"]), default="auto",
              show_default=True)
@click.option("--require-sandbox", type=click.Choice(["minimal", "namespaces", "strong"]),
              envvar="HARNESS_REQUIRE_SANDBOX",
              help="Below this sandbox level, hidden tests are not run and the result says "
              "why [env HARNESS_REQUIRE_SANDBOX].")
@click.pass_context
def submit(ctx: click.Context, task_id: str, path: str | None, as_json: bool,
           device: str, require_sandbox: str | None) -> None:
    """Grade a submission with public and hidden tests (default: submissions/<task>)."""
    _grade_and_record(ctx, task_id, path, "submit", as_json, device, require_sandbox)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the layers as JSON.")
def doctor(as_json: bool) -> None:
    """Which sandbox layers this machine supports, and how to enable the others."""
    from dataclasses import asdict

    from harness.sandbox import capabilities
    from harness.sandbox.doctor import diagnose

    layers = diagnose()
    if as_json:
        click.echo(json.dumps({"level": capabilities().level,
                               "layers": [asdict(layer) for layer in layers]}, indent=2))
        return
    for layer in layers:
        mark = click.style(" ok ", fg="green") if layer.available else click.style(" -- ",
                                                                                  fg="yellow")
        click.echo(f"[{mark}] {layer.name}\n       {layer.detail}")
        if layer.fix:
            click.echo(f"       fix: {layer.fix}")
    click.echo(click.style(f"sandbox level: {capabilities().level}", bold=True))


@cli.command()
@click.argument("path", type=PathName(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--no-impact", is_flag=True,
              help="Skip the re-runs that measure how far each leak moved the score.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=600.0, show_default=True,
              help="Wall-clock seconds the program may run (each run).")
def leakage(path: str, as_json: bool, no_impact: bool, timeout: float) -> None:
    """Run any script or notebook in the sandbox and report data leakage.

    Exits 1 when leakage is found (for CI and pre-commit), 0 when clean, 3 when the
    program could not be run.
    """
    from dataclasses import replace

    from harness.leakage import scan as scanning
    from harness.leakage.text import render

    limits = replace(scanning.DEFAULT_LIMITS, call_seconds=timeout, load_seconds=timeout,
                     total_seconds=timeout * 2 * (1 + scanning.IMPACT_RUNS))
    result = scanning.scan(Path(path), limits, impact=not no_impact)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else render(result))
    sys.exit({"clean": 0, "leakage": 1}.get(result.verdict, 3))


@cli.command()
@click.argument("task_id")
@click.argument("path", required=False, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result document as JSON.")
@click.pass_context
def check(ctx: click.Context, task_id: str, path: str | None, as_json: bool) -> None:
    """Run only the public tests (a fast loop while working)."""
    _grade_and_record(ctx, task_id, path, "check", as_json, "auto")


@cli.command()
@click.argument("task_id")
@click.argument("path", required=False, type=click.Path())
@click.option("--sizes", metavar="N,N,...", help="Input sizes [default: the task's, or "
              "100,1000,10000,100000,1000000].")
@click.option("--out", metavar="DIR", type=PathName(file_okay=False),
              help="Where to write the JSON and SVG [default: reports/<task>/bench].")
@click.pass_context
def bench(ctx: click.Context, task_id: str, path: str | None, sizes: str | None,
          out: str | None) -> None:
    """Time the submission's implementations across input sizes: table, chart, JSON."""
    from harness import bench as benchmark

    s = _settings(ctx)
    chosen = list(benchmark.parse_sizes(sizes)) if sizes else None
    task = tasks.load_task(_pack(ctx), task_id)
    planned: Any = chosen or getattr(benchmark.load_recipe(task), "SIZES",
                                     benchmark.DEFAULT_SIZES)
    total = len(planned)
    with click.progressbar(length=total, label="benchmarking", file=sys.stderr) as bar:
        report = benchmark.run_bench(task, Path(path) if path else None, s, chosen,
                                     progress=lambda _: bar.update(1))
    click.echo(benchmark.render_table(report))
    paths = benchmark.write_outputs(report, Path(out) if out else
                                    s.reports_dir / task.id / "bench")
    for kind, p in paths.items():
        click.echo(f"{kind}: {p}")


@cli.command()
@click.argument("tasks_dir", required=False, type=PathName(file_okay=False))
@click.option("--task", "only", multiple=True, help="Validate only this task id (repeatable).")
@click.pass_context
def validate(ctx: click.Context, tasks_dir: str | None, only: tuple[str, ...]) -> None:
    """Check every spec, and that each reference scores 100% and each mutant fails."""
    from harness import validation

    s = _settings(ctx)
    if tasks_dir:
        flags = ctx.meta.get("flags", {})
        s = _usable(settings.resolve(tasks=tasks_dir, reference=flags.get("reference"),
                                     workspace=flags.get("workspace")))
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


@cli.command("report")
@click.argument("result_json", type=PathName(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", type=PathName(dir_okay=False),
              help="Where to write the page [default: beside the JSON, .html].")
def report_cmd(result_json: str, out: str | None) -> None:
    """Re-render the HTML scorecard of a saved result document."""
    from harness import report

    source = Path(result_json)
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read {source}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise UsageError(f"{source} is not a result document",
                         hint="pass a JSON file that `grade submit` saved under reports/")
    page = report.write(report.render_scorecard(doc),
                        Path(out) if out else source.with_suffix(".html"))
    click.echo(f"scorecard saved to {page}")


@cli.command()
@click.option("--week", metavar="YYYY-Www", help="ISO week, e.g. 2026-W48 [default: this week].")
@click.option("--html", "html_out", type=PathName(dir_okay=False),
              help="Write the card as one HTML page instead of printing it.")
@click.option("--cohort", is_flag=True,
              help="Every learner in the history: one row each, one column per task.")
@click.pass_context
def scorecard(ctx: click.Context, week: str | None, html_out: str | None, cohort: bool) -> None:
    """The weekly progress card from the history (or, with --cohort, the class table)."""
    from functools import partial

    from harness import clock, report
    from harness.report import progress, terminal

    s = _settings(ctx)
    today = clock.now().date()
    week = week or progress.week_label(today)
    try:
        progress.parse_week(week)
    except ValueError as exc:
        raise UsageError(str(exc), hint="write the week as YYYY-Www, e.g. 2026-W48") from None
    pack_dir = s.tasks.value
    pack = [tasks.task_id_of(p, pack_dir) for p in tasks.discover(pack_dir)]
    if cohort:
        table = progress.cohort(history.timeline(s.history.value, documents=False), pack, week)
        html, text = partial(report.render_cohort, table), partial(terminal.cohort_text, table)
    else:
        rows = history.timeline(s.history.value, learners=(s.learner.value, ""))
        card = progress.weekly_card(rows, pack, week, s.learner.value, today)
        html, text = partial(report.render_weekly, card), partial(terminal.weekly_text, card)
    if html_out:
        click.echo(f"scorecard saved to {report.write(html(), Path(html_out))}")
    else:
        click.echo(text())


@cli.command("ci")
@click.option("--since", metavar="REF",
              help="Grade what changed since this commit [default: the merge base with the "
                   "default branch; on that branch, the previous commit].")
@click.option("--all", "everything", is_flag=True, help="Grade every submission.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="POLICY",
              help="any-failure (default), below:<percent>, regression, never; repeatable.")
@click.option("--mode", type=click.Choice(["submit", "check"]), default="submit",
              show_default=True, help="check: public tests only (the pre-commit hook).")
@click.option("--out", type=PathName(file_okay=False), default="reports/ci", show_default=True,
              help="Folder for junit.xml, summary.md, results/ and scorecards/.")
@click.pass_context
def ci_cmd(ctx: click.Context, since: str | None, everything: bool, fail_on: tuple[str, ...],
           mode: str, out: str) -> None:
    """Grade the submissions changed since a base commit; JUnit, Markdown, JSON, HTML."""
    from harness import ci
    from harness.errors import PolicyFailed

    s = _settings(ctx)
    policy = ci.Policy.parse(fail_on)
    folder = Path(out) if Path(out).is_absolute() else s.workspace.value / out
    done = ci.run(s, folder, since, everything, policy, mode,  # type: ignore[arg-type]
                  progress=lambda line: click.echo(line, err=True))
    click.echo((folder / "summary.md").read_text(encoding="utf-8"))
    click.echo(f"artifacts in {folder}")
    if done.failures:
        raise PolicyFailed(f"{len(done.failures)} reason(s) to fail under --fail-on "
                           f"{','.join(policy.rules)}:\n  " + "\n  ".join(done.failures))


@cli.command("init-ci")
@click.option("--repo", type=PathName(file_okay=False), help="[default: the workspace]")
@click.option("--pre-commit", "pre_commit", is_flag=True,
              help="Also write .pre-commit-config.yaml (public checks before each commit).")
@click.option("--python", "python_version", default="3.12", show_default=True)
@click.option("--install", metavar="SPEC", help="What pip installs [default: this harness].")
@click.option("--fail-on", "fail_on", default="any-failure", show_default=True)
@click.option("--tasks-repo", metavar="OWNER/NAME",
              help="A private task pack checked out in CI with a token secret.")
@click.option("--token-secret", default="GRADER_PACK_TOKEN", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.pass_context
def init_ci(ctx: click.Context, repo: str | None, pre_commit: bool, python_version: str,
            install: str | None, fail_on: str, tasks_repo: str | None, token_secret: str,
            force: bool) -> None:
    """Write a GitHub Actions workflow that runs `grade ci` on every push."""
    from harness import ci, workflow

    ci.Policy.parse([fail_on])
    setup = workflow.CiSetup(python=python_version, fail_on=fail_on,
                             tasks_repo=tasks_repo or "", token_secret=token_secret)
    if install:
        setup = workflow.CiSetup(python_version, install, fail_on, tasks_repo or "",
                                 token_secret)
    root = Path(repo) if repo else _settings(ctx).workspace.value
    for path in workflow.write(root, setup, pre_commit, force):
        click.echo(f"wrote {path}")


@cli.command("batch")
@click.argument("submissions_dir", required=False, type=PathName(file_okay=False))
@click.option("--manifest", type=PathName(dir_okay=False, exists=True),
              help="CSV with columns learner,task,path instead of a folder tree.")
@click.option("--out", type=PathName(file_okay=False), default="reports/batch",
              show_default=True, help="Results, gradebook.csv, cohort.html, batch.sqlite.")
@click.option("--workers", type=int, help="Warm grader processes, one per core "
              "[default: usable cores]; 0 grades in this process.")
@click.option("--dask", "use_dask", is_flag=True, help="Run on a local Dask cluster.")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run on this Dask scheduler.")
@click.option("--mode", type=click.Choice(["submit", "check"]), default="submit",
              show_default=True)
@click.option("--no-resume", is_flag=True, help="Grade again what the ledger says is done.")
@click.pass_context
def batch_cmd(ctx: click.Context, submissions_dir: str | None, manifest: str | None, out: str,
              workers: int | None, use_dask: bool, scheduler: str | None, mode: str,
              no_resume: bool) -> None:
    """Grade a cohort: SUBMISSIONS_DIR/<learner>/<phase>/<name>.py|folder, resumably."""
    from harness import batch
    from harness.batch import Executor

    s = _settings(ctx)
    if bool(submissions_dir) == bool(manifest):
        raise UsageError("give either SUBMISSIONS_DIR or --manifest CSV")
    jobs = (batch.read_manifest(Path(manifest)) if manifest
            else batch.discover(Path(submissions_dir or ".")))
    folder = Path(out) if Path(out).is_absolute() else s.workspace.value / out
    executor: Executor
    if use_dask or scheduler:
        from harness.cluster import DaskCluster

        executor = DaskCluster(scheduler, workers)
    elif workers == 0:
        from harness.pool import InProcess

        executor = InProcess()
    else:
        from harness.pool import WarmPool

        executor = WarmPool(workers)
    failing = 0

    def shown(item: batch.Outcome | None) -> str:
        return f"{failing} failing" + (f"  {item.job.learner} {item.job.task_id}" if item
                                       else "")

    with click.progressbar(length=len(jobs), label="grading", show_eta=True, show_pos=True,
                           item_show_func=shown, file=sys.stderr) as bar:
        def tick(item: batch.Outcome) -> None:
            nonlocal failing
            failing += item.failing
            bar.update(1, item)

        report = batch.run(jobs, s, folder, executor, mode, tick,  # type: ignore[arg-type]
                           resume=not no_resume)
    click.echo("\n".join(batch.summary_lines(report)))
    click.echo(f"written: {', '.join(str(p) for p in report.outputs)}; results in "
               f"{folder / 'results'}")


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``grade`` console script."""
    return cli.main(args=argv, prog_name="grade")
