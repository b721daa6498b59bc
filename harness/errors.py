"""The harness's own failures: each class owns its exit code and a message saying what to do.

Learner failures are never exceptions here; they are verdicts and check results.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(HarnessError):
    """The command line asked for something that cannot be done."""

    exit_code = 2


class TaskNotFound(HarnessError):
    """No task with that id in the task pack."""

    exit_code = 3


class SpecError(HarnessError):
    """A task spec is broken: which file, which field, what is wrong."""

    exit_code = 4

    def __init__(self, path: str, field: str, problem: str) -> None:
        super().__init__(f"{path}: field '{field}': {problem}",
                         hint="fix the task spec; `grade validate` checks every task")
        self.path, self.field, self.problem = path, field, problem


class SubmissionNotFound(HarnessError):
    """The submission path does not exist or has no gradable file."""

    exit_code = 5


class SandboxError(HarnessError):
    """The sandbox could not be set up (not the submission's fault)."""

    exit_code = 6


class ValidationFailed(HarnessError):
    """`grade validate` found tasks whose reference or mutants misbehave."""

    exit_code = 1


class PolicyFailed(HarnessError):
    """`grade ci` graded everything, and the chosen ``--fail-on`` policy says fail."""

    exit_code = 1
