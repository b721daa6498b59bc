"""Settings resolved once at the edge: flag > environment > pyproject.toml > default.

Each value remembers where it came from, so `grade` can say why it looked where it did.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = {"tasks": "HARNESS_TASKS", "reference": "HARNESS_REFERENCE",
       "workspace": "HARNESS_WORKSPACE", "history": "HARNESS_HISTORY",
       "learner": "HARNESS_LEARNER"}


@dataclass(frozen=True)
class Setting:
    """A resolved value and its source (flag, environment, pyproject.toml, default)."""

    value: Path
    source: str


@dataclass(frozen=True)
class Identity:
    """Who is being graded (recorded in the history) and where that name came from."""

    value: str
    source: str


@dataclass(frozen=True)
class Settings:
    """Where tasks, references, submissions, reports and history live, and who is graded."""

    workspace: Setting
    tasks: Setting
    reference: Setting
    history: Setting
    learner: Identity = Identity("", "default (unknown)")

    @property
    def submissions_dir(self) -> Path:
        return self.workspace.value / "submissions"

    @property
    def reports_dir(self) -> Path:
        return self.workspace.value / "reports"

    def describe(self) -> dict[str, str]:
        return {name: f"{getattr(self, name).value} ({getattr(self, name).source})"
                for name in ("workspace", "tasks", "reference", "history")}


def _pyproject(workspace: Path) -> dict[str, Any]:
    path = workspace / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    section = data.get("tool", {}).get("harness", {})
    return section if isinstance(section, dict) else {}


def resolve_learner(flag: str | None, workspace: Path) -> Identity:
    """Flag > ``HARNESS_LEARNER`` > the workspace's ``git config user.email`` > OS user."""
    if flag:
        return Identity(flag, "flag")
    if os.environ.get(ENV["learner"]):
        return Identity(os.environ[ENV["learner"]], "environment")
    try:
        out = subprocess.run(["git", "-C", str(workspace), "config", "user.email"],
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return Identity(out.stdout.strip(), "git config user.email")
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        return Identity(getpass.getuser(), "OS user")
    except (OSError, KeyError):
        return Identity("", "default (unknown)")


def resolve(tasks: str | None = None, reference: str | None = None,
            workspace: str | None = None, history: str | None = None,
            learner: str | None = None) -> Settings:
    """Resolve every setting once; relative paths are relative to the workspace."""
    if workspace:
        ws = Setting(Path(workspace).resolve(), "flag")
    elif os.environ.get(ENV["workspace"]):
        ws = Setting(Path(os.environ[ENV["workspace"]]).resolve(), "environment")
    else:
        ws = Setting(Path.cwd().resolve(), "default (current folder)")
    config = _pyproject(ws.value)

    def pick(name: str, flag: str | None, default: Path) -> Setting:
        if flag:
            return Setting(Path(flag).resolve(), "flag")
        if os.environ.get(ENV[name]):
            return Setting(Path(os.environ[ENV[name]]).resolve(), "environment")
        if isinstance(config.get(name), str):
            return Setting((ws.value / config[name]).resolve(), "pyproject.toml")
        return Setting(default, "default")

    task_dir = pick("tasks", tasks, ws.value / "tasks")
    return Settings(
        workspace=ws,
        tasks=task_dir,
        reference=pick("reference", reference, task_dir.value.parent / "reference"),
        history=pick("history", history, ws.value / ".harness" / "history.sqlite"),
        learner=resolve_learner(learner, ws.value),
    )
