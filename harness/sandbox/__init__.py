"""The sandbox: runs a submission in a child process behind a data-only channel.

Grader-side API: :class:`Box` (one child with the submission loaded), its
:class:`BoxSpec` and :class:`Limits`, and the named :class:`BoxFailure` outcomes.
Backends are chosen by :func:`capabilities`: ``namespaces`` (unshare: user, mount,
PID and network namespaces, hidden paths covered, read-only tree) or ``process``
(a plain child with limits, reported as ``minimal``).
"""

from harness.limits import Limits
from harness.sandbox.box import Box, BoxFailure, BoxSpec, Budget, LoadReport
from harness.sandbox.platform import capabilities, make_grader_non_dumpable

__all__ = ["Box", "BoxFailure", "BoxSpec", "Budget", "LoadReport", "Limits", "capabilities",
           "make_grader_non_dumpable"]
