"""`grade ci` and `grade init-ci` on a throwaway git repository, and the JUnit document."""

from __future__ import annotations

import importlib.util
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import ci, junit
from harness.cli import cli
from harness.results import CheckResult, Result
from tests.conftest import SECRET

RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.email=learner@example.org", "-c", "user.name=L",
                          "-c", "init.defaultBranch=main", "-C", str(repo), *args],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def repo(workspace: Path) -> Path:
    """The workspace as a learner's repo: commit 1 a wrong `add`, commit 2 fixes it."""
    sub = workspace / "submissions" / "phase0" / "add.py"
    sub.parent.mkdir(parents=True)
    sub.write_text(WRONG)
    (workspace / "notes.txt").write_text("not a submission\n")
    git(workspace, "init", "-q")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "first try")
    sub.write_text(RIGHT)
    (workspace / "notes.txt").write_text("changed, still not a submission\n")
    git(workspace, "commit", "-q", "-am", "fix add")
    return workspace


def grade(repo: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["--workspace", str(repo), "ci", *args], env=env)


def parse_junit(path: Path) -> ET.Element:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == sum(len(c.findall("failure")) for c in cases)
        assert int(suite.get("errors", "-1")) == sum(len(c.findall("error")) for c in cases)
    assert int(root.get("tests", "-1")) == len(list(root.iter("testcase")))
    return root


def test_ci_grades_only_what_changed_and_writes_artifacts(repo, tmp_path):
    step_summary = tmp_path / "step-summary.md"
    out = grade(repo, env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    assert out.exit_code == 0, out.output
    folder = repo / "reports" / "ci"
    root = parse_junit(folder / "junit.xml")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["submissions/phase0/add.py"]
    names = {c.get("name") for c in root.iter("testcase")}
    assert names == {"test_add_public", "test_add_hidden"}
    assert root.get("failures") == "0"
    assert "✅" in step_summary.read_text() and "submissions/phase0/add.py" in \
        (folder / "summary.md").read_text()
    assert list((folder / "results" / "phase0" / "add").glob("*.json"))
    if importlib.util.find_spec("harness.report") is not None:
        page = (folder / "scorecards" / "phase0__add.html").read_text()
        assert "test_add_hidden" in page and SECRET not in page


def test_ci_policies_failure_threshold_and_regression(repo):
    first = grade(repo, "--since", "HEAD~1", "--fail-on", "regression")
    assert first.exit_code == 0, first.output  # nothing recorded before: no regression
    (repo / "submissions" / "phase0" / "add.py").write_text(WRONG)  # uncommitted edit
    out = grade(repo, "--since", "HEAD", "--fail-on", "regression")
    assert out.exit_code == 1 and "lower than the last recorded 100.0%" in out.output
    root = parse_junit(repo / "reports" / "ci" / "junit.xml")
    failures = list(root.iter("failure"))
    assert root.get("failures") == "2" and len(failures) == 2
    hidden = [c for c in root.iter("testcase") if c.get("name") == "test_add_hidden"]
    assert hidden and hidden[0].find("failure") is not None
    assert "add the two numbers" in (hidden[0].find("failure").text or "")  # the hint
    for name in ("junit.xml", "summary.md"):
        assert SECRET not in (repo / "reports" / "ci" / name).read_text()
    assert grade(repo, "--since", "HEAD", "--fail-on", "never").exit_code == 0
    assert grade(repo, "--since", "HEAD", "--fail-on", "below:50").exit_code == 1
    assert grade(repo, "--since", "HEAD", "--fail-on", "nonsense").exit_code == 2


def test_ci_all_and_nothing_changed(repo):
    out = grade(repo, "--all", "--mode", "check")
    assert out.exit_code == 0, out.output
    assert "test_add_hidden" not in (repo / "reports" / "ci" / "junit.xml").read_text()
    git(repo, "commit", "-q", "--allow-empty", "-m", "nothing")
    out = grade(repo)
    assert out.exit_code == 0 and "No submissions to grade." in out.output


def test_changed_files_map_to_tasks(tmp_path):
    subs = tmp_path / "submissions"
    for rel in ("phase1/dot-product.py", "phase1/knn/solution.py", "phase1/knn/helpers/x.py",
                "phase2/nb.ipynb", "phase2/nb.py", "README.md", "phase1/.hidden.py"):
        (subs / rel).parent.mkdir(parents=True, exist_ok=True)
        (subs / rel).write_text("")
    found = ci.select(ci.all_submissions(subs), subs)
    assert found == {"phase1/dot-product": (subs / "phase1/dot-product.py").resolve(),
                     "phase1/knn": (subs / "phase1/knn").resolve(),
                     "phase2/nb": (subs / "phase2/nb.py").resolve()}


def test_junit_document_counts_and_control_characters():
    checks = (CheckResult("public/t::a", "test_a", "correctness", "public", "pass", 1, 1),
              CheckResult("hidden/t::b", "test_b", "correctness", "hidden", "fail", 0, 2,
                          message="wrong\x1b[31m value", hint="look at b"),
              CheckResult("hidden/t::c", "test_c", "timing", "hidden", "skip", 0, 0, "no gpu"))
    result = Result("p/t", "1", "f" * 16, "s.py", "0" * 64, "graded", 1, 3, checks, "", 0.5,
                    {}, {}, "0.1.0", "2026-01-01T00:00:00+00:00")
    root = ET.fromstring(junit.document([("s.py", result)], [("x.py", "no such task")]))
    assert root.get("tests") == "4" and root.get("failures") == "1"
    assert root.get("errors") == "1" and root.get("skipped") == "1"
    failure = root.find(".//failure")
    assert failure is not None and "\x1b" not in (failure.text or "")
    assert "look at b" in (failure.text or "")


def test_init_ci_writes_workflow_and_pre_commit(tmp_path):
    out = CliRunner().invoke(cli, ["--workspace", str(tmp_path), "init-ci", "--pre-commit",
                                   "--tasks-repo", "course/private-pack"])
    assert out.exit_code == 0, out.output
    workflow = (tmp_path / ".github" / "workflows" / "grade.yml").read_text()
    for needle in ("fetch-depth: 0", "cache: pip", "grade-requirements.txt",
                   "repository: course/private-pack", "secrets.GRADER_PACK_TOKEN",
                   "--tasks .grader-pack/tasks", "ci --out reports/ci",
                   "actions/upload-artifact"):
        assert needle in workflow, needle
    hook = (tmp_path / ".pre-commit-config.yaml").read_text()
    assert "grade ci --since HEAD --mode check" in hook
    again = CliRunner().invoke(cli, ["--workspace", str(tmp_path), "init-ci"])
    assert again.exit_code == 2  # no silent overwrite
