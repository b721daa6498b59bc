"""Static leakage analysis: read learner source, never run it, and explain leaks in its terms.

The dynamic trace (:mod:`harness.child.provenance`) decides whether leakage happened on the
run it saw; this pass explains it with a file line (or notebook cell and line) and covers
paths that run did not take. It must be precise: a finding on correct code costs more than a
missed leak, so every suspicious step (a fit, a statistic, a duplication, a feature built from
the label) only becomes a finding when its result is seen to reach an evaluation: the split,
cross-validation, or a score on the test rows.

The program is read as one straight-line flow of statements (a notebook's cells in order;
each branch of an ``if`` from the state before it, loop bodies once), with each function body
read again as a flow of its own (parameters as unknown data) and inlined where it is called.
Each name holds a small abstract value (:class:`~.state.Val`): which side of a split its rows are on
(by the split that made them, or by a name such as ``X_test``), which datasets they come from,
which columns carry what, and the *pending* leaks ("taints") riding on them. Order matters by
construction: a fit on all rows after the last evaluation reaches no evaluation, so it is
never reported.

This package exports only :func:`analyse_source`, :func:`analyse_cells` and
:class:`StaticFinding`; the rest is internal, in the order the analysis uses it:
``findings`` (the entry points), ``cells`` (notebook cells as one module), ``facts`` (a first
syntactic survey), ``program`` (one program and its findings), ``flow`` (statements and
expressions), ``rules`` (what each call does, kind by kind), ``loops`` (candidates chosen in a
loop), ``state`` (the abstract values), ``names`` and ``syntax`` (vocabulary and tree reading).
"""

from __future__ import annotations

from harness.leakage.static.findings import StaticFinding, analyse_cells, analyse_source

__all__ = ["StaticFinding", "analyse_cells", "analyse_source"]
