"""`grade init-ci`: the GitHub Actions workflow and pre-commit hook for a learner's repo.

The workflow checks the repository out with its whole history (``grade ci`` diffs
against a base commit), installs the harness from a requirements file (so
``setup-python`` can key its pip cache on it), restores the grading history from the
Actions cache (so ``--fail-on regression`` has something to compare with), runs
``grade ci`` and uploads the reports folder. With ``tasks_repo`` it also checks out an
instructor's private task pack beside the learner's code, outside the repository's
tracked files, with a read token from a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import harness
from harness.errors import UsageError

WORKFLOW = ".github/workflows/grade.yml"
REQUIREMENTS = ".github/grade-requirements.txt"
PRE_COMMIT = ".pre-commit-config.yaml"
PACK_DIR = ".grader-pack"


@dataclass(frozen=True)
class CiSetup:
    """What to write: Python version, what pip installs, policy, the optional private pack."""

    python: str = "3.12"
    install: str = f"ml-harness=={harness.__version__}"
    fail_on: str = "any-failure"
    tasks_repo: str = ""
    token_secret: str = "GRADER_PACK_TOKEN"


def workflow_text(setup: CiSetup) -> str:
    """The workflow file's YAML."""
    pack_steps = ""
    grade_flags = ""
    if setup.tasks_repo:
        pack_steps = f"""
      # The instructor's private pack (hidden tests, references): checked out beside the
      # code for this job only; it is never committed to this repository.
      - uses: actions/checkout@v4
        with:
          repository: {setup.tasks_repo}
          token: ${{{{ secrets.{setup.token_secret} }}}}
          path: {PACK_DIR}
          persist-credentials: false
"""
        grade_flags = f" --tasks {PACK_DIR}/tasks --reference {PACK_DIR}/reference"
    return f"""# Written by `grade init-ci` (harness {harness.__version__}).
# Grades the submissions this push or pull request changed; fails according to --fail-on.
name: grade

on:
  push:
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0   # grade ci compares with the merge base
{pack_steps}
      - uses: actions/setup-python@v5
        with:
          python-version: "{setup.python}"
          cache: pip
          cache-dependency-path: {REQUIREMENTS}

      - name: Install the harness
        run: python -m pip install -r {REQUIREMENTS}

      - name: Restore the grading history (for --fail-on regression)
        uses: actions/cache/restore@v4
        with:
          path: .harness/history.sqlite
          key: grade-history-${{{{ github.ref_name }}}}-${{{{ github.run_id }}}}
          restore-keys: |
            grade-history-${{{{ github.ref_name }}}}-
            grade-history-

      - name: Grade the changed submissions
        run: grade{grade_flags} ci --out reports/ci --fail-on {setup.fail_on}

      - name: Save the grading history, whatever the policy decided
        if: always()
        uses: actions/cache/save@v4
        with:
          path: .harness/history.sqlite
          key: grade-history-${{{{ github.ref_name }}}}-${{{{ github.run_id }}}}

      - name: Upload the reports
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: grading-reports
          path: reports/ci
          if-no-files-found: ignore
"""


def pre_commit_text() -> str:
    """A ``pre-commit`` configuration: public checks of the staged submissions."""
    return """# Written by `grade init-ci --pre-commit`. Install once with `pre-commit install`.
repos:
  - repo: local
    hooks:
      - id: grade-check
        name: grade check (public tests of the changed submissions)
        entry: grade ci --since HEAD --mode check --out reports/pre-commit --fail-on any-failure
        language: system
        pass_filenames: false
        files: ^submissions/
"""


def write(repo: Path, setup: CiSetup, pre_commit: bool = False,
          force: bool = False) -> list[Path]:
    """Write the workflow, its requirements file and optionally the hook; return the paths."""
    planned = {repo / WORKFLOW: workflow_text(setup), repo / REQUIREMENTS: setup.install + "\n"}
    if pre_commit:
        planned[repo / PRE_COMMIT] = pre_commit_text()
    existing = [p for p in planned if p.exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} already exists", hint="pass --force to overwrite it")
    for path, text in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(planned)
