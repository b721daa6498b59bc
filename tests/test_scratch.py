"""Scratch folders no submission can defeat: removal, limits, leftovers (issue 21).

* :func:`scratch.remove_tree` on hostile trees (a 5 000-level chain, 255-byte names past
  PATH_MAX, ``chmod 000`` folders, read-only files, FIFOs, sockets, links out), as the
  grader's user and, when root, as an unprivileged one; a property test on random trees.
* Random trees built by learner code inside a real box, at a level where the box writes
  to the grader's disk, removed by the box's teardown.
* The scratch attacks of ``tests/fixtures/hostile/scratch_*.py`` graded by ``grade batch``,
  as root and as an unprivileged grader, at the tmpfs level and the watchdog level: each
  gets a recorded verdict, nothing is left under the temp folder, and a right answer in
  the same batch gets full marks. (The same fixtures also run through ``grade submit`` in
  tests/test_sandbox_cli.py as root, and in tests/test_sandbox_root.py unprivileged.)
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.limits import Limits
from harness.sandbox import Box, BoxSpec, Budget, capabilities, scratch
from harness.sandbox.box import boxes_root
from tests.conftest import FIXTURES, ROOT
from tests.test_sandbox_root import AS_USER

LINUX = sys.platform.startswith("linux")
IS_ROOT = LINUX and os.geteuid() == 0
NON_ROOT_UID = 64322
ATTACKS = sorted(p.stem for p in (FIXTURES / "hostile").glob("scratch_*.py")
                 if p.stem != "scratch_traps")


# ------------------------------------------------------------------ trees


def build(base: Path, spec: dict[str, Any], outside: str) -> None:
    """Make the tree ``spec`` under ``base`` with dir_fd-relative calls only.

    ``spec``: {"dirs": {name: spec}, "files": {name: mode}, "links": {name: target kind},
    "fifos": [names], "chain": levels, "mode": the folder's own mode, set last}."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _fill(fd, spec, outside)
    finally:
        os.close(fd)


def _fill(fd: int, spec: dict[str, Any], outside: str) -> None:
    for name, mode in spec.get("files", {}).items():
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
        os.chmod(f"/proc/self/fd/{fd}/{name}" if LINUX else name, mode)
    for name, kind in spec.get("links", {}).items():
        target = {"outside": outside, "dangling": "/nonexistent/x", "self": ".",
                  "parent": ".."}[kind]
        os.symlink(target, name, dir_fd=fd)
    for name in spec.get("fifos", []):
        os.mkfifo(name, dir_fd=fd)
    chain = spec.get("chain", 0)
    if chain:
        os.mkdir("chain", dir_fd=fd)
        cur = os.open("chain", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        for _ in range(chain):
            os.mkdir("c" * 200, dir_fd=cur)
            nxt = os.open("c" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
            os.close(cur)
            cur = nxt
        os.close(cur)
    for name, sub in spec.get("dirs", {}).items():
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        try:
            _fill(child, sub, outside)
            os.fchmod(child, sub.get("mode", 0o700))
        finally:
            os.close(child)


names = st.text(alphabet="abcdefghij-_.é", min_size=1, max_size=12).filter(
    lambda n: n not in (".", "..", "chain")) | st.just("x" * 255)
modes_files = st.sampled_from([0o000, 0o400, 0o200, 0o600, 0o444])
modes_dirs = st.sampled_from([0o000, 0o100, 0o300, 0o500, 0o555, 0o700])
trees = st.recursive(
    st.fixed_dictionaries({"files": st.dictionaries(names, modes_files, max_size=4)}),
    lambda inner: st.fixed_dictionaries({
        "dirs": st.dictionaries(names, inner.map(lambda d: d), max_size=3),
        "files": st.dictionaries(names, modes_files, max_size=3),
        "links": st.dictionaries(names.map(lambda n: "l" + n[:200]),
                                 st.sampled_from(["outside", "dangling", "self", "parent"]),
                                 max_size=2),
        "fifos": st.lists(names.map(lambda n: "f" + n[:200]), max_size=1, unique=True),
        "chain": st.sampled_from([0, 0, 3, 70, 130]),
        "mode": modes_dirs,
    }),
    max_leaves=8,
).map(lambda t: _distinct(t))


def _distinct(tree: dict[str, Any]) -> dict[str, Any]:
    """Names unique across the kinds of one folder (a file and a folder cannot share)."""
    seen: set[str] = set()
    out: dict[str, Any] = {"mode": tree.get("mode", 0o700), "chain": tree.get("chain", 0)}
    for kind in ("files", "links", "dirs"):
        out[kind] = {}
        for name, value in tree.get(kind, {}).items():
            if name not in seen and name != "chain":
                seen.add(name)
                out[kind][name] = _distinct(value) if kind == "dirs" else value
    out["fifos"] = [n for n in tree.get("fifos", []) if n not in seen and not seen.add(n)]
    return out


def hostile_tree(base: Path, outside: Path) -> None:
    """The fixed worst case: a 5 000-level chain, names of 255 bytes nested past PATH_MAX,
    a locked folder of read-only files, a FIFO, a bound socket, links out of the tree."""
    build(base, {"chain": 5000, "files": {"ro": 0o400}, "links": {"out": "outside"},
                 "fifos": ["fifo"],
                 "dirs": {"locked": {"files": {"a": 0o400, "b": 0o000}, "mode": 0o000,
                                     "dirs": {"inner": {"files": {"c": 0o400},
                                                        "mode": 0o500}}},
                          "n" * 255: {"chain": 60, "mode": 0o555}}}, str(outside))
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(base / "sock"))
    finally:
        sock.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "keep").write_text("must survive")
    return target


def test_remove_tree_takes_the_worst_tree_without_raising(tmp_path: Path,
                                                          outside: Path) -> None:
    base = tmp_path / "box"
    base.mkdir()
    hostile_tree(base, outside)
    os.chmod(base, 0o500)
    assert scratch.remove_tree(base) == []
    assert not os.path.lexists(base)
    assert (outside / "keep").read_text() == "must survive"


def test_remove_tree_of_nothing_and_of_a_link(tmp_path: Path, outside: Path) -> None:
    assert scratch.remove_tree(tmp_path / "absent") == []
    (tmp_path / "link").symlink_to(outside)
    assert scratch.remove_tree(tmp_path / "link") == []
    assert (outside / "keep").exists()


def test_remove_tree_reports_what_it_cannot_remove(tmp_path: Path) -> None:
    """A folder whose parent the grader cannot write: described, never raised."""
    if IS_ROOT:
        pytest.skip("root can remove anything here")
    base = tmp_path / "box"
    (base / "stuck").mkdir(parents=True)
    (base / "stuck" / "f").write_text("x")
    os.chmod(base / "stuck", 0o500)
    outer = tmp_path / "frozen"
    outer.mkdir()
    (outer / "x").mkdir()
    os.chmod(outer, 0o500)
    try:
        left = scratch.remove_tree(outer / "x")
        assert len(left) == 1 and "Permission denied" in left[0], left
    finally:
        os.chmod(outer, 0o700)


AS_USER_REMOVE = """
import json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from harness.sandbox import scratch
from tests.test_scratch import build, hostile_tree
base, outside = Path(sys.argv[1]), Path(sys.argv[2])
specs = json.loads(os.environ["TREES"])
report = []
for i, spec in enumerate(specs):
    folder = base / f"t{i}"
    folder.mkdir()
    if spec is None:
        hostile_tree(folder, outside)
    else:
        build(folder, spec, str(outside))
    os.chmod(folder, 0o500)
    report.append([scratch.remove_tree(folder), os.path.lexists(folder)])
print(json.dumps(report))
"""


def run_as_user(tmp_path: Path, outside: Path, trees: list[Any]) -> list[Any]:
    """Build and remove ``trees`` (None: the worst tree) as an unprivileged uid."""
    base = tmp_path / "user"
    base.mkdir()
    os.chown(base, NON_ROOT_UID, NON_ROOT_UID)
    os.chmod(tmp_path, 0o755)
    from harness.sandbox.layout import allow_list

    needed = sorted({*allow_list(), str(ROOT), os.path.realpath(sys.executable),
                     str(tmp_path)})
    env = {"PATH": "/usr/bin:/bin", "TREES": json.dumps(trees)}
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-I", "-c", AS_USER,
         json.dumps(needed), str(NON_ROOT_UID), sys.executable, "-I", "-c", AS_USER_REMOVE,
         str(base), str(outside), str(ROOT)], capture_output=True, text=True, timeout=120,
        cwd="/", env={"PATH": "/usr/bin:/bin", "AS_USER_ENV": json.dumps(env)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return list(json.loads(proc.stdout))


@pytest.mark.skipif(not IS_ROOT or shutil.which("unshare") is None,
                    reason="needs root and util-linux unshare to become an unprivileged user")
def test_remove_tree_as_an_unprivileged_grader(tmp_path: Path, outside: Path) -> None:
    """Without root's override: unreadable folders and read-only files are opened first."""
    assert run_as_user(tmp_path, outside, [None]) == [[[], False]]
    assert (outside / "keep").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(tree=trees)
def test_property_random_trees_are_removed_whole(tree: dict[str, Any]) -> None:
    work = Path(tempfile.mkdtemp(prefix="harness-prop-"))
    try:
        outside = work / "outside"
        outside.mkdir()
        (outside / "keep").write_text("must survive")
        base = work / "box"
        base.mkdir()
        build(base, tree, str(outside))
        os.chmod(base, tree["mode"] | 0o100 if not IS_ROOT else tree["mode"])
        assert scratch.remove_tree(base) == []
        assert not os.path.lexists(base)
        assert (outside / "keep").read_text() == "must survive"
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(not IS_ROOT or shutil.which("unshare") is None,
                    reason="needs root and util-linux unshare to become an unprivileged user")
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(trees, min_size=4, max_size=4))
def test_property_random_trees_as_an_unprivileged_grader(batch: list[Any]) -> None:
    work = Path(tempfile.mkdtemp(prefix="harness-prop-"))
    try:
        outside = work / "outside"
        outside.mkdir()
        (outside / "keep").write_text("x")
        assert run_as_user(work, outside, batch) == [[[], False]] * len(batch)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ usage, sweep


def test_usage_counts_and_stops_at_the_limits(tmp_path: Path) -> None:
    build(tmp_path, {"files": {f"f{i}": 0o600 for i in range(30)}, "chain": 10}, "/")
    (tmp_path / "big").write_bytes(b"x" * (3 << 20))
    used = scratch.usage(tmp_path, 1 << 30, 1000)
    assert used.files == 30 + 1 + 11 and used.depth == 11 and used.over == ""
    assert used.bytes >= 3 << 20
    assert "more than 20 files" in scratch.usage(tmp_path, 1 << 30, 20).over
    assert "MiB" in scratch.usage(tmp_path, 1 << 20, 1000).over
    assert "levels deep" in scratch.usage(tmp_path, 1 << 30, 1000, max_depth=5).over


def test_sweep_removes_leftovers_and_keeps_live_and_young_boxes(tmp_path: Path) -> None:
    dead, live, young = tmp_path / "box-dead", tmp_path / "box-live", tmp_path / "box-young"
    for folder in (dead, live, young):
        folder.mkdir()
        build(folder, {"chain": 100, "dirs": {"locked": {"mode": 0o000,
                                                         "files": {"f": 0o400}}}}, "/")
    (tmp_path / "box-dead.root").mkdir()
    (tmp_path / "box-live.root").mkdir()
    (tmp_path / "unrelated").mkdir()
    held = scratch.hold(live)
    try:
        with pytest.raises(OSError):
            scratch.hold(live)  # a second grader cannot take a live box
        old = time.time() - 3600
        for p in (dead, live, tmp_path / "box-dead.root", tmp_path / "box-live.root"):
            os.utime(p, (old, old))
        # Not held: dead and young; a new root's mount point waits for its box to go.
        assert sorted(p.name for p in scratch.stale(tmp_path, min_age=0)) == \
            ["box-dead", "box-young"]
        assert scratch.sweep(tmp_path, min_age=3600) == []
        assert dead.exists()  # all made just now (ctime): within the grace period
        assert scratch.sweep(tmp_path, min_age=0) == []
        assert not dead.exists() and not young.exists() and live.exists()
        assert not (tmp_path / "box-dead.root").exists()
        assert (tmp_path / "box-live.root").exists() and (tmp_path / "unrelated").exists()
    finally:
        os.close(held)


# ------------------------------------------------------------------ in a real box

BUILDER = """
import json, os
from pathlib import Path

def _fill(fd, spec):
    for name, mode in spec.get("files", {}).items():
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd))
        os.chmod(f"/proc/self/fd/{fd}/{name}", mode)
    for name, kind in spec.get("links", {}).items():
        os.symlink({"outside": "/etc", "dangling": "/nonexistent/x", "self": ".",
                    "parent": ".."}[kind], name, dir_fd=fd)
    for name in spec.get("fifos", []):
        os.mkfifo(name, dir_fd=fd)
    if spec.get("chain"):
        os.mkdir("chain", dir_fd=fd)
        cur = os.open("chain", os.O_RDONLY, dir_fd=fd)
        for _ in range(spec["chain"]):
            os.mkdir("c" * 200, dir_fd=cur)
            nxt = os.open("c" * 200, os.O_RDONLY, dir_fd=cur)
            os.close(cur)
            cur = nxt
        os.close(cur)
    for name, sub in spec.get("dirs", {}).items():
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY, dir_fd=fd)
        _fill(child, sub)
        os.fchmod(child, sub.get("mode", 0o700))
        os.close(child)

def add(a, b):
    spec = json.loads(a)
    os.mkdir("tree")
    fd = os.open("tree", os.O_RDONLY)
    _fill(fd, spec)
    os.fchmod(fd, spec.get("mode", 0o700))
    os.close(fd)
    return "built"
"""


@pytest.mark.skipif(not LINUX, reason="builds trees through /proc/self/fd")
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(tree=trees)
def test_property_random_trees_built_in_a_box_are_torn_down(tree: dict[str, Any]) -> None:
    """At a level where the box writes to the grader's disk (no tmpfs): learner code (as
    the box's own uid when the grader is root) builds the tree, the teardown removes it."""
    os.environ["HARNESS_SANDBOX"] = "landlock"
    capabilities.cache_clear()
    own_tmp = tempfile.mkdtemp(prefix="harness-tmp-")
    tempfile.tempdir = own_tmp  # this test's boxes only, whatever else runs here
    try:
        if capabilities().namespaces:
            pytest.skip("no level without a mount namespace here")
        source = Path(tempfile.mkdtemp(prefix="harness-src-"))
        (source / "solution.py").write_text(BUILDER)
        box = Box(BoxSpec(source, "solution.py", False, ("add",), (), Limits(files=100_000)),
                  Budget(60))
        try:
            assert box.start().ok
            reply = box.request({"op": "call", "path": ["add"]},
                                {"args": [json.dumps(tree), 0], "kwargs": {}})
            assert reply.get("value") == "built", reply
        finally:
            box.close()
        shutil.rmtree(source)
        assert box.leftovers == []
        assert os.listdir(boxes_root()) == []
    finally:
        tempfile.tempdir = None
        shutil.rmtree(own_tmp, ignore_errors=True)
        del os.environ["HARNESS_SANDBOX"]
        capabilities.cache_clear()


# ------------------------------------------------------------------ through grade batch


def batch_cohort(root: Path) -> Path:
    """One learner per scratch attack, and one right answer after them."""
    for name in ATTACKS:
        path = root / name.replace("_", "-") / "phase0" / "add.py"
        path.parent.mkdir(parents=True)
        shutil.copy(FIXTURES / "hostile" / f"{name}.py", path)
    right = root / "zz-right" / "phase0" / "add.py"
    right.parent.mkdir(parents=True)
    right.write_text("def add(a, b):\n    return a + b\n")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("as_user", [False, True], ids=["root-or-self", "unprivileged"])
@pytest.mark.parametrize("level", ["auto", "landlock"])
def test_scratch_attacks_in_a_batch(workspace: Path, tmp_path: Path, level: str,
                                    as_user: bool) -> None:
    if as_user and not IS_ROOT:
        pytest.skip("needs root to become an unprivileged grader")
    if as_user and shutil.which("unshare") is None:
        pytest.skip("needs util-linux unshare")
    home = Path(tempfile.mkdtemp(prefix="harness-batch-"))
    try:
        shutil.copytree(workspace, home / "ws")
        cohort = batch_cohort(home / "cohort")
        box_tmp = home / "tmp"
        box_tmp.mkdir()
        out = home / "out"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(box_tmp),
               "HARNESS_SANDBOX": level, "HARNESS_HISTORY": str(home / "h.sqlite")}
        grade = str(Path(sys.executable).with_name("grade"))
        command = [grade, "--workspace", str(home / "ws"), "batch", str(cohort),
                   "--workers", "2", "--out", str(out)]
        if as_user:
            from harness.sandbox.layout import allow_list

            for folder, dirs, files in os.walk(home):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(folder, name), NON_ROOT_UID, NON_ROOT_UID)
            os.chown(home, NON_ROOT_UID, NON_ROOT_UID)
            needed = sorted({*allow_list(), str(ROOT), os.path.realpath(sys.executable),
                             str(home)})
            command = ["unshare", "--mount", "--propagation", "private", sys.executable,
                       "-I", "-c", AS_USER, json.dumps(needed), str(NON_ROOT_UID), *command]
            run_env = {"PATH": "/usr/bin:/bin", "AS_USER_ENV": json.dumps(env)}
        else:
            run_env = env
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              env=run_env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        with open(out / "gradebook.csv") as fh:
            book = {row["learner"]: row for row in csv.DictReader(fh)}
        assert set(book) == {n.replace("_", "-") for n in ATTACKS} | {"zz-right"}
        docs = {p.relative_to(out / "results").parts[0]: json.loads(p.read_text())
                for p in (out / "results").rglob("*.json")}
        assert set(docs) == set(book)
        for learner, doc in docs.items():
            assert doc["verdict"] in ("graded", "disk_limit"), (learner, doc["message"])
            assert "NOT fully removed" not in doc["sandbox"]["teardown"], doc["sandbox"]
            if learner == "zz-right":
                assert (doc["verdict"], doc["score"]) == ("graded", doc["max_score"])
            else:
                assert doc["score"] == 0, (learner, doc["message"])
        assert docs["scratch-fill"]["verdict"] == "disk_limit"
        assert "disk_mb" in docs["scratch-fill"]["message"]
        assert docs["scratch-million-files"]["verdict"] == "disk_limit"
        left = [p.name for p in box_tmp.glob("harness-boxes-*/*")]
        assert left == [], f"left under the temp folder: {left}"
    finally:
        subprocess.run(["pkill", "-9", "-u", str(NON_ROOT_UID)], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_spec_limits_for_scratch(tmp_path: Path) -> None:
    from harness import tasks

    task = tmp_path / "phase0" / "t"
    task.mkdir(parents=True)
    (task / "task.toml").write_text(textwrap.dedent("""
        title = "t"
        phase = "phase0"
        kind = "exercise"
        description = "d"
        [[interface]]
        name = "f"
        signature = "(x)"
        doc = "f"
        [limits]
        disk_mb = 8
        files = 500
    """))
    limits = tasks.parse_spec(task / "task.toml", "phase0/t").limits
    assert (limits.disk_bytes, limits.files) == (8 << 20, 500)
    assert Limits().disk_bytes == 256 << 20 and Limits().files == 10_000


def test_doctor_lists_leftovers_and_the_next_grading_removes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grade_source: Any) -> None:
    from harness.sandbox import box, doctor

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(box, "_SWEPT", set())
    root = tmp_path / f"harness-boxes-{os.getuid()}"
    root.mkdir(mode=0o700)
    stale = root / "box-leftover"
    stale.mkdir()
    build(stale, {"chain": 300, "dirs": {"locked": {"mode": 0, "files": {"f": 0o400}}}}, "/")
    layer = next(x for x in doctor.diagnose() if x.name == "no leftover box folders")
    assert not layer.available and "box-leftover" in layer.detail and layer.fix
    monkeypatch.setattr(scratch, "GRACE_SECONDS", 0.0)
    monkeypatch.setattr(scratch.stale, "__defaults__", (0.0,))
    monkeypatch.setattr(scratch.sweep, "__defaults__", (0.0,))
    result = grade_source("def add(a, b):\n    return a + b\n")
    assert (result.verdict, result.score) == ("graded", result.max_score)
    assert not stale.exists() and os.listdir(root) == []
    layer = next(x for x in doctor.diagnose() if x.name == "no leftover box folders")
    assert layer.available


@pytest.mark.skipif(not IS_ROOT, reason="needs root to hand a folder to another uid")
def test_shared_tmp_cleanup_of_a_box_uid_takes_a_deep_chain(tmp_path: Path) -> None:
    """At the levels without a private /tmp, a dedicated uid's files in the shared temp
    folders are removed after its box: a chain there must not stop that either."""
    from harness.sandbox import uids

    shared = tmp_path / "shared"
    shared.mkdir()
    mine = shared / "hostile-chain"
    mine.mkdir()
    build(mine, {"chain": 3000, "dirs": {"locked": {"mode": 0, "files": {"f": 0o400}}}}, "/")
    os.lchown(mine, NON_ROOT_UID, NON_ROOT_UID)  # the top entry's owner selects it
    (shared / "other").mkdir()  # another user's: kept
    try:
        uids.remove_files(NON_ROOT_UID, (str(shared),))
        assert os.listdir(shared) == ["other"]
    finally:
        scratch.remove_tree(shared)  # pytest's own clean-up recurses
