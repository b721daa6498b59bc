"""`grade validate` reports success only where it was earned: every-check-skipped tasks,
``[checks.<name>]`` entries naming no test, and unknown ``--task`` ids are problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import settings, tasks, validation
from harness.cli import cli

TASK = Path("tasks") / "phase0" / "add"


def _spec(workspace: Path) -> Path:
    return workspace / TASK / "task.toml"


def _add_check(workspace: Path, name: str) -> None:
    spec = _spec(workspace)
    spec.write_text(spec.read_text() + f'\n[checks.{name}]\npoints = 1\nhint = "h"\n')


def _task(workspace: Path) -> tasks.Task:
    return tasks.load_task(workspace / "tasks", "phase0/add")


def _validate(workspace: Path, *only: str) -> validation.ValidationReport:
    return validation.validate_pack(settings.resolve(workspace=str(workspace)), only)


# ---------------------------------------------------------------- [checks.<name>] names a test


def test_a_checks_entry_with_a_typo_is_a_problem_with_the_closest_name(workspace: Path) -> None:
    _add_check(workspace, "test_add_publc")
    problems = validation.unknown_checks(_task(workspace))
    assert problems == ["phase0/add: [checks.test_add_publc] names no test in public/ or "
                        "hidden/; did you mean test_add_public?"]


def test_a_checks_entry_far_from_every_test_gets_no_suggestion(workspace: Path) -> None:
    _add_check(workspace, "zzz")
    [problem] = validation.unknown_checks(_task(workspace))
    assert "[checks.zzz] names no test" in problem and "did you mean" not in problem


def test_checks_entries_naming_real_tests_are_no_problem(workspace: Path) -> None:
    # the fixture's spec names test_add_hidden, a test of hidden/
    assert validation.unknown_checks(_task(workspace)) == []


def test_tests_in_classes_parametrized_and_bound_by_assignment_count(workspace: Path) -> None:
    (workspace / TASK / "hidden" / "test_more.py").write_text(textwrap.dedent("""
        import pytest
        from math import sqrt as test_imported


        class Base:
            def test_inherited(self, submission):
                def test_local_helper():  # a local, never collected: not a test name
                    pass


        class TestAdd(Base):
            @pytest.mark.parametrize("a", [1, 2])
            def test_in_class(self, submission, a):
                assert submission.add(a, 0) == a

            async def test_async(self):
                pass


        def _make():
            def check(submission):
                assert submission.add(0, 0) == 0
            return check


        test_bound = _make()
        if True:
            def test_under_if(submission):
                pass
        """))
    found = validation.defined_tests(_task(workspace))
    assert found is not None
    assert {"test_add_public", "test_add_hidden", "test_in_class", "test_async",
            "test_inherited", "test_bound", "test_under_if", "test_imported"} <= found
    assert "test_local_helper" not in found
    for name in ("test_in_class", "test_inherited", "test_bound", "test_under_if"):
        _add_check(workspace, name)
    assert validation.unknown_checks(_task(workspace)) == []
    _add_check(workspace, "test_local_helper")
    assert len(validation.unknown_checks(_task(workspace))) == 1


def test_an_unparsable_test_file_leaves_the_names_to_grading(workspace: Path) -> None:
    (workspace / TASK / "hidden" / "test_broken.py").write_text("def test_x(:\n")
    _add_check(workspace, "test_typo")
    assert validation.defined_tests(_task(workspace)) is None
    assert validation.unknown_checks(_task(workspace)) == []


def test_grade_validate_fails_on_a_checks_typo(workspace: Path) -> None:
    _add_check(workspace, "test_add_hiden")
    out = CliRunner().invoke(cli, ["--workspace", str(workspace), "validate"])
    assert out.exit_code == 1, out.output
    assert "0 task(s) valid" in out.output
    assert "[checks.test_add_hiden] names no test" in out.output
    assert "did you mean test_add_hidden?" in out.output


# ---------------------------------------------------------------- a task where every check skips


SKIPPING = """
import pytest

def test_add_public(submission):
    pytest.skip("needs a device this machine lacks")
"""


def _skip_hidden(workspace: Path, body: str) -> None:
    (workspace / TASK / "hidden" / "test_hidden.py").write_text(textwrap.dedent(body))


def test_a_task_whose_every_check_skipped_is_not_counted_valid(workspace: Path) -> None:
    (workspace / TASK / "public" / "test_public.py").write_text(SKIPPING)
    _skip_hidden(workspace, """
        import pytest

        def test_add_hidden(submission):
            pytest.skip("needs a device this machine lacks")
        """)
    lines: list[str] = []
    report = validation.validate_pack(settings.resolve(workspace=str(workspace)),
                                      progress=lines.append)
    assert report.ok_count == 0
    assert report.problems == ["phase0/add: nothing was validated: every check skipped: "
                               "needs a device this machine lacks"]
    assert any("every check skipped on this machine" in ln for ln in lines)


def test_a_task_with_one_skipped_check_and_others_passing_is_valid(workspace: Path) -> None:
    # the device-task case: correctness runs on the CPU, only the accelerator check skips
    (workspace / TASK / "public" / "test_public.py").write_text(SKIPPING)
    report = _validate(workspace)
    assert report.problems == [] and report.ok_count == 1


# ---------------------------------------------------------------- --task ids


@pytest.mark.parametrize(("asked", "suggestion"), [("phase0/ad", "; did you mean phase0/add?"),
                                                   ("x" * 300, "")])
def test_an_unknown_task_asked_for_by_id_is_a_problem(workspace: Path, asked: str,
                                                      suggestion: str) -> None:
    report = _validate(workspace, asked)
    assert report.ok_count == 0
    [problem] = report.problems
    assert problem.endswith(f"no such task under {workspace / 'tasks'}{suggestion}")
    assert len(problem) < 300


def test_grade_validate_with_an_unknown_task_id_fails(workspace: Path) -> None:
    out = CliRunner().invoke(cli, ["--workspace", str(workspace), "validate", "--task",
                                   "phase0/nope"])
    assert out.exit_code == 1
    assert "phase0/nope: no such task" in out.output
