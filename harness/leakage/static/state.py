"""The abstract values tracked per name, and the pending leaks ("taints") riding on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Taint:
    """A leak waiting for its evidence: it becomes a finding when it reaches an evaluation."""

    kind: str
    line: int
    what: str
    fix: str


@dataclass(frozen=True)
class Split:
    """A split into train and test rows: where, and what it made."""

    line: int
    made: str  # what the split made, for messages ("X_test")


@dataclass(frozen=True)
class Fit:
    """Where an estimator was fitted, and on which rows."""

    line: int
    side: str
    roots: frozenset[str]
    rows: str  # source text of the rows it was fitted on


@dataclass(frozen=True)
class Est:
    """An estimator, splitter or pipeline as constructed, and what its fit learned."""

    uid: int
    cls: str
    role: str  # transformer selector target-encoder oversampler stateless pipeline search
    #            splitter model
    line: int
    steps: tuple[Est, ...] = ()
    taint: Taint | None = None
    fit: Fit | None = None
    shuffle: bool = False
    cv: Est | None = None


@dataclass(frozen=True)
class Val:
    """What the analysis knows about the value of one expression."""

    data: bool = False
    side: str = "full"  # full, train, test or val
    fold: bool = False  # a cross-validation fold, not a held-out split
    roots: frozenset[str] = frozenset()
    taints: frozenset[Taint] = frozenset()
    cols: tuple[tuple[str, frozenset[Taint]], ...] = ()
    stat: Taint | None = None
    split: Split | None = None
    est: Est | None = None
    pred: bool = False
    tgt: bool = False
    tgt_at: int | None = None  # where a value derived from the target was first kept
    window: bool = False  # rolling, expanding, ewm or groupby: statistics here are not global
    subset: bool = False
    items: tuple[Val, ...] | None = None
    elem: Val | None = None
    strs: tuple[str, ...] | None = None
    module: bool = False
    bunch: bool = False


#: The value of anything the analysis does not follow.
NONE = Val()


def all_taints(v: Val) -> frozenset[Taint]:
    """The pending leaks of ``v`` and of each of its columns."""
    return v.taints.union(*(t for _, t in v.cols)) if v.cols else v.taints


def with_taints(v: Val, taints: Iterable[Taint]) -> Val:
    """``v`` carrying ``taints`` as well."""
    extra = frozenset(taints)
    return replace(v, taints=v.taints | extra) if extra - v.taints else v


def combine(vals: Sequence[Val], at: tuple[int, str] | None = None) -> Val:
    """The value of an operation over several values.

    A statistic of all rows (of the features, not the target) applied to data there becomes
    a preprocessing taint at ``at``, the line and place of the operation.
    """
    if not vals:
        return NONE
    sides = {v.side for v in vals if v.side != "full"}
    if "train" in sides and sides & {"test", "val"}:
        side = "full"  # train and test put back together
    else:
        side = next((s for s in ("test", "val", "train") if s in sides), "full")
    taints = frozenset().union(*(all_taints(v) for v in vals))
    stats = [v.stat for v in vals if v.stat is not None and not v.tgt]
    plain = any(v.data and v.stat is None for v in vals)
    stat = stats[0] if stats else None
    if stat is not None and plain:
        if at is not None and at[0] != stat.line:
            stat = replace(stat, line=at[0], what=f"{stat.what} and used at {at[1]} to "
                           "transform the data")
        else:
            stat = replace(stat, what=f"{stat.what} and used there to transform the data")
        taints, stat = taints | {stat}, None
    return Val(
        data=any(v.data for v in vals), side=side,
        fold=side != "full" and any(v.fold for v in vals if v.side == side),
        roots=frozenset().union(*(v.roots for v in vals)), taints=taints, stat=stat,
        split=next((v.split for v in vals if v.split is not None and v.side == side), None),
        est=next((v.est for v in vals if v.est is not None), None),
        pred=any(v.pred for v in vals), tgt=any(v.tgt for v in vals),
        tgt_at=next((v.tgt_at for v in vals if v.tgt and v.tgt_at is not None), None),
        bunch=False)


def ests(v: Val) -> list[Est]:
    """The estimators in ``v`` and its items (the steps of a pipeline being built)."""
    found = [v.est] if v.est is not None else []
    for item in v.items or ():
        found.extend(ests(item))
    return found
