"""Grader-side helpers for task authors: timing comparisons and static code checks.

Everything here runs in the grader and may see hidden tests and expected values; the
learner's code is reached only through the sandbox channel.
"""

from __future__ import annotations


class ShownToLearner(AssertionError):
    """A failed check whose message is written for the learner and reveals nothing hidden.

    The plugin shows its message even for hidden checks (where other failures show only
    the check's name and hint): raise it only with measured facts about the learner's own
    code (a speed ratio, the learner's file:line), never with expected values.
    ``public_message``, when given, is shown instead where the check is public: the same
    words with the expected values added.
    """

    def __init__(self, message: str, where: tuple[str, ...] = (),
                 public_message: str | None = None) -> None:
        super().__init__(message)
        self.where = where  # the learner's file:line (or cell) the message is about
        self.public_message = public_message
