"""Task specs: a full spec parses into every field; each broken spec names its file and field."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from harness import errors, tasks
from harness.limits import Limits

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "tasks"

FULL = """
title = "Mean of a column"
phase = "phase2"
kind = "project"
version = "3b"
formats = ["module", "notebook"]
device = "any"
datasets = ["iris", "titanic"]
preload = ["numpy", "pandas"]
entry = "main.py"
description = \"\"\"

  Compute the mean of a column.

\"\"\"

[[interface]]
name = "column_mean"
signature = "(df, column)"
doc = "Mean of one column."

[[interface]]
name = "Scaler"
kind = "class"

[[interface]]
name = "THRESHOLD"
kind = "value"
signature = ""
doc = "A constant."

[limits]
call_seconds = 2.5
total_seconds = 60
load_seconds = 5
cpu_seconds = 30
memory_mb = 512
output_kb = 64
processes = 4

[checks.test_mean]
points = 2.5
hint = "use df[column].mean()"

[checks.test_no_leak]
points = 0
kind = "leakage"

[checks.test_fast]
points = 3
kind = "timing"
hint = "vectorize"
"""

MINIMAL = """
title = "Add"
phase = "phase1"
description = "Add two numbers."

[[interface]]
name = "add"
"""


def write_spec(pack: Path, task_id: str, text: str) -> Path:
    path = pack / task_id / tasks.SPEC_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return tmp_path / "pack"


# ---------------------------------------------------------------- valid specs


def test_full_spec_parses_every_field(pack: Path) -> None:
    path = write_spec(pack, "phase2/col-mean", FULL)
    t = tasks.parse_spec(path, "phase2/col-mean")
    assert t.id == "phase2/col-mean"
    assert t.root == path.parent
    assert t.title == "Mean of a column"
    assert t.phase == "phase2"
    assert t.kind == "project"
    assert t.version == "3b"
    assert t.description == "Compute the mean of a column."  # stripped
    assert t.formats == ("module", "notebook")
    assert t.device == "any"
    assert t.datasets == ("iris", "titanic")
    assert t.preload == ("numpy", "pandas")
    assert t.entry == "main.py"
    assert t.interface == (
        tasks.InterfaceItem("column_mean", "(df, column)", "Mean of one column.", "function"),
        tasks.InterfaceItem("Scaler", "(...)", "", "class"),
        tasks.InterfaceItem("THRESHOLD", "", "A constant.", "value"),
    )
    base = Limits()
    assert t.limits == Limits(
        call_seconds=2.5, total_seconds=60.0, load_seconds=5.0, cpu_seconds=30,
        memory_bytes=512 * 1024 * 1024, output_bytes=64 * 1024, processes=4,
        open_files=base.open_files, file_size_bytes=base.file_size_bytes,
        frame_bytes=base.frame_bytes, max_elements=base.max_elements)
    # integer seconds become floats
    assert type(t.limits.total_seconds) is float and type(t.limits.cpu_seconds) is int
    assert t.checks == {
        "test_mean": tasks.CheckSpec(2.5, "use df[column].mean()", "correctness"),
        "test_no_leak": tasks.CheckSpec(0.0, "", "leakage"),
        "test_fast": tasks.CheckSpec(3.0, "vectorize", "timing"),
    }
    assert type(t.checks["test_fast"].points) is float


def test_minimal_spec_gets_the_defaults(pack: Path) -> None:
    t = tasks.parse_spec(write_spec(pack, "phase1/add", MINIMAL), "phase1/add")
    assert t.kind == "exercise"
    assert t.version == "1"
    assert t.formats == ("module",)
    assert t.device == "cpu"
    assert t.datasets == ()
    assert t.preload == ("numpy",)
    assert t.entry == "solution.py"
    assert t.limits == Limits()
    assert t.checks == {}
    assert t.interface == (tasks.InterfaceItem("add", "(...)", "", "function"),)


def test_partial_limits_keep_the_other_defaults(pack: Path) -> None:
    t = tasks.parse_spec(write_spec(pack, "phase1/add", MINIMAL + "[limits]\nmemory_mb = 1\n"),
                         "phase1/add")
    assert t.limits.memory_bytes == 1 << 20
    assert t.limits.output_bytes == Limits().output_bytes
    assert t.limits.call_seconds == Limits().call_seconds


def test_task_paths(pack: Path) -> None:
    path = write_spec(pack, "phase1/add", MINIMAL)
    root = path.parent
    for sub, names in (("public", ["test_b.py", "test_a.py", "helper.py"]),
                       ("hidden", ["test_h.py", "conftest.py"])):
        (root / sub).mkdir()
        for n in names:
            (root / sub / n).write_text("")
    t = tasks.load_task(pack, "phase1/add")
    assert t.public_tests == [root / "public" / "test_a.py", root / "public" / "test_b.py"]
    assert t.hidden_tests == [root / "hidden" / "test_h.py"]
    assert t.starter == root / "starter"
    assert t.data_dir == root / "data"


# ---------------------------------------------------------------- broken specs


def spec_error(pack: Path, text: str, task_id: str = "phase1/add") -> errors.SpecError:
    path = write_spec(pack, task_id, text)
    with pytest.raises(errors.SpecError) as info:
        tasks.parse_spec(path, task_id)
    err = info.value
    assert err.path == str(path)
    assert err.exit_code == 4
    assert err.problem and err.field in str(err) and str(path) in str(err)
    # load_task and load_all report the same error
    with pytest.raises(errors.SpecError) as again:
        tasks.load_task(pack, task_id)
    assert (again.value.path, again.value.field) == (err.path, err.field)
    with pytest.raises(errors.SpecError) as again:
        tasks.load_all(pack)
    assert (again.value.path, again.value.field) == (err.path, err.field)
    return err


def without(text: str, line: str) -> str:
    assert line in text
    return text.replace(line, "", 1)


BROKEN = [
    # (test id, spec text, field)
    ("invalid-toml", MINIMAL + "\nthis is = = not toml\n", "(file)"),
    ("duplicate-key", 'title = "again"\n' + MINIMAL, "(file)"),
    ("missing-title", without(MINIMAL, 'title = "Add"\n'), "title"),
    ("missing-phase", without(MINIMAL, 'phase = "phase1"\n'), "phase"),
    ("missing-description", without(MINIMAL, 'description = "Add two numbers."\n'),
     "description"),
    ("missing-interface", without(MINIMAL, '[[interface]]\nname = "add"\n'), "interface"),
    ("empty-interface", without(MINIMAL, '[[interface]]\nname = "add"\n') + "interface = []\n",
     "interface"),
    ("interface-not-a-list", without(MINIMAL, '[[interface]]\nname = "add"\n')
     + 'interface = "add"\n', "interface"),
    ("interface-item-not-a-table", without(MINIMAL, '[[interface]]\nname = "add"\n')
     + 'interface = ["add"]\n', "interface[0]"),
    ("interface-name-missing", MINIMAL + '[[interface]]\nsignature = "(x)"\n',
     "interface[1].name"),
    ("interface-name-not-identifier", MINIMAL + '[[interface]]\nname = "my-func"\n',
     "interface[1].name"),
    ("interface-name-starts-with-digit", MINIMAL.replace('name = "add"', 'name = "2add"'),
     "interface[0].name"),
    ("interface-name-has-space", MINIMAL.replace('name = "add"', 'name = "add "'),
     "interface[0].name"),
    ("interface-name-not-a-string", MINIMAL.replace('name = "add"', "name = 3"),
     "interface[0].name"),
    ("interface-unknown-key", MINIMAL + 'signatur = "(a, b)"\n', "interface[0].signatur"),
    ("interface-bad-kind", MINIMAL + 'kind = "method"\n', "interface[0].kind"),
    ("interface-signature-type", MINIMAL + "signature = 1\n", "interface[0].signature"),
    ("interface-doc-type", MINIMAL + "doc = ['x']\n", "interface[0].doc"),
    ("unknown-top-level-key", MINIMAL.replace("description =", "descripton ="), "descripton"),
    ("unknown-top-level-table", MINIMAL + "[limit]\ncall_seconds = 1\n", "limit"),
    ("title-not-a-string", MINIMAL.replace('title = "Add"', "title = 5"), "title"),
    ("phase-mismatch", MINIMAL.replace('phase = "phase1"', 'phase = "phase2"'), "phase"),
    ("bad-kind", 'kind = "homework"\n' + MINIMAL, "kind"),
    ("bad-format", 'formats = ["module", "script"]\n' + MINIMAL, "formats"),
    ("formats-not-a-list", 'formats = "module"\n' + MINIMAL, "formats"),
    ("bad-device", 'device = "gpu"\n' + MINIMAL, "device"),
    ("version-not-a-string", "version = 2\n" + MINIMAL, "version"),
    ("entry-not-a-string", "entry = true\n" + MINIMAL, "entry"),
    ("datasets-not-a-list", 'datasets = "iris"\n' + MINIMAL, "datasets"),
    ("preload-not-a-list", 'preload = "numpy"\n' + MINIMAL, "preload"),
    ("limits-not-a-table", "limits = 5\n" + MINIMAL, "limits"),
    ("limit-wrong-type", MINIMAL + '[limits]\ncall_seconds = "ten"\n', "limits.call_seconds"),
    ("limit-bool", MINIMAL + "[limits]\nmemory_mb = true\n", "limits.memory_mb"),
    ("int-limit-given-float", MINIMAL + "[limits]\nmemory_mb = 1.5\n", "limits.memory_mb"),
    ("limit-zero", MINIMAL + "[limits]\ncall_seconds = 0\n", "limits.call_seconds"),
    ("limit-negative", MINIMAL + "[limits]\nmemory_mb = -1\n", "limits.memory_mb"),
    ("limit-negative-float", MINIMAL + "[limits]\ntotal_seconds = -0.5\n",
     "limits.total_seconds"),
    ("limit-zero-output", MINIMAL + "[limits]\noutput_kb = 0\n", "limits.output_kb"),
    ("limit-unknown", MINIMAL + "[limits]\nmemory_bytes = 5\n", "limits.memory_bytes"),
    ("checks-not-a-table", "checks = [1]\n" + MINIMAL, "checks"),
    ("check-not-a-table", MINIMAL + "[checks]\ntest_x = 2\n", "checks.test_x"),
    ("check-negative-points", MINIMAL + "[checks.test_x]\npoints = -1\n",
     "checks.test_x.points"),
    ("check-points-string", MINIMAL + '[checks.test_x]\npoints = "2"\n', "checks.test_x.points"),
    ("check-points-bool", MINIMAL + "[checks.test_x]\npoints = true\n", "checks.test_x.points"),
    ("check-unknown-key", MINIMAL + "[checks.test_x]\nweight = 2\n", "checks.test_x.weight"),
    ("check-bad-kind", MINIMAL + '[checks.test_x]\nkind = "speed"\n', "checks.test_x.kind"),
    ("check-hint-type", MINIMAL + "[checks.test_x]\nhint = 3\n", "checks.test_x.hint"),
]


@pytest.mark.parametrize("text, field", [(t, f) for _, t, f in BROKEN],
                         ids=[i for i, _, _ in BROKEN])
def test_broken_spec_names_file_and_field(pack: Path, text: str, field: str) -> None:
    assert spec_error(pack, text).field == field


def test_unreadable_spec_is_a_spec_error(pack: Path) -> None:
    path = pack / "phase1" / "add" / tasks.SPEC_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b'title = "\xff\xfe"\n')
    with pytest.raises(errors.SpecError) as info:
        tasks.parse_spec(path, "phase1/add")
    assert (info.value.path, info.value.field) == (str(path), "(file)")


def test_spec_error_messages_say_what_is_wrong(pack: Path) -> None:
    err = spec_error(pack, MINIMAL + '[limits]\ncall_seconds = "ten"\n')
    assert "must be a float" in err.problem and "'ten'" in err.problem
    err = spec_error(pack, MINIMAL.replace("description =", "descripton ="))
    assert "unknown field" in err.problem and "description" in err.problem
    err = spec_error(pack, 'device = "gpu"\n' + MINIMAL)
    assert "cpu" in err.problem and "'gpu'" in err.problem
    err = spec_error(pack, MINIMAL.replace('phase = "phase1"', 'phase = "phase2"'))
    assert "phase2" in err.problem and "phase1" in err.problem
    assert err.hint and "validate" in err.hint


@pytest.mark.parametrize("task_id", ["Phase1/add", "phase1/Add", "phase1/.add", "phase1",
                                     "a/b/c", "phase1/add task"])
def test_task_id_must_look_like_phase_slash_name(pack: Path, task_id: str) -> None:
    path = write_spec(pack, "phase1/add", MINIMAL)
    with pytest.raises(errors.SpecError) as info:
        tasks.parse_spec(path, task_id)
    assert info.value.field == "(folder)"


def test_load_all_rejects_an_upper_case_folder(pack: Path) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    bad = write_spec(pack, "phase1/Sub", MINIMAL)
    with pytest.raises(errors.SpecError) as info:
        tasks.load_all(pack)
    assert (info.value.path, info.value.field) == (str(bad), "(folder)")


@pytest.mark.parametrize("text, field", [
    (MINIMAL + "[limits]\ncall_seconds = nan\n", "limits.call_seconds"),
    (MINIMAL + "[limits]\ntotal_seconds = inf\n", "limits.total_seconds"),
    (MINIMAL + "[checks.test_x]\npoints = nan\n", "checks.test_x.points"),
    (MINIMAL + "[checks.test_x]\npoints = inf\n", "checks.test_x.points"),
], ids=["call-nan", "total-inf", "points-nan", "points-inf"])
def test_non_finite_numbers_are_refused(pack: Path, text: str, field: str) -> None:
    assert spec_error(pack, text).field == field


@pytest.mark.parametrize("text, field", [
    ("preload = [1]\n" + MINIMAL, "preload"),
    ("datasets = [{ name = 'iris' }]\n" + MINIMAL, "datasets"),
], ids=["preload", "datasets"])
def test_list_items_are_type_checked(pack: Path, text: str, field: str) -> None:
    assert spec_error(pack, text).field == field


# ---------------------------------------------------------------- discover, load_all, load_task


def test_discover_finds_specs_exactly_two_levels_down(pack: Path) -> None:
    a = write_spec(pack, "phase1/b-task", MINIMAL)
    b = write_spec(pack, "phase1/a-task", MINIMAL)
    c = write_spec(pack, "phase2/x", MINIMAL.replace("phase1", "phase2"))
    write_spec(pack, "phase1", MINIMAL)                       # one level: ignored
    write_spec(pack, "phase1/a-task/nested", MINIMAL)         # three levels: ignored
    (pack / "phase3" / "no-spec").mkdir(parents=True)         # no task.toml: ignored
    (pack / "phase3" / "other" / "spec.toml").parent.mkdir(parents=True)
    (pack / "phase3" / "other" / "spec.toml").write_text(MINIMAL)
    assert tasks.discover(pack) == [b, a, c]


def test_discover_on_a_missing_or_empty_pack(tmp_path: Path) -> None:
    assert tasks.discover(tmp_path / "nope") == []
    assert tasks.load_all(tmp_path) == []


def test_load_all_returns_every_task_with_ids_from_folders(pack: Path) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    write_spec(pack, "phase2/col-mean", FULL)
    loaded = tasks.load_all(pack)
    assert [t.id for t in loaded] == ["phase1/add", "phase2/col-mean"]
    assert [t.title for t in loaded] == ["Add", "Mean of a column"]


def test_load_all_raises_on_the_first_broken_spec(pack: Path) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    bad = write_spec(pack, "phase1/broken", without(MINIMAL, 'title = "Add"\n'))
    with pytest.raises(errors.SpecError) as info:
        tasks.load_all(pack)
    assert (info.value.path, info.value.field) == (str(bad), "title")


def test_load_task_by_id(pack: Path) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    write_spec(pack, "phase2/col-mean", FULL)
    t = tasks.load_task(pack, "phase2/col-mean")
    assert t.id == "phase2/col-mean" and t.kind == "project"


def test_unknown_task_with_a_close_name_gets_a_did_you_mean_hint(pack: Path) -> None:
    write_spec(pack, "phase1/dot-product", MINIMAL)
    write_spec(pack, "phase1/add", MINIMAL)
    with pytest.raises(errors.TaskNotFound) as info:
        tasks.load_task(pack, "phase2/dot-product")   # right name, wrong phase
    err = info.value
    assert err.exit_code == 3
    assert "phase2/dot-product" in err.message
    assert err.hint == "did you mean phase1/dot-product?"
    assert "did you mean phase1/dot-product?" in str(err)
    with pytest.raises(errors.TaskNotFound) as info:
        tasks.load_task(pack, "dot")                    # a prefix of the name
    assert info.value.hint == "did you mean phase1/dot-product?"


def test_unknown_task_with_no_close_name_points_to_grade_list(pack: Path) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    with pytest.raises(errors.TaskNotFound) as info:
        tasks.load_task(pack, "phase1/regression")
    assert "did you mean" not in info.value.hint
    assert "grade list" in info.value.hint


def test_load_task_for_a_folder_without_a_spec(pack: Path) -> None:
    (pack / "phase1" / "empty").mkdir(parents=True)
    with pytest.raises(errors.TaskNotFound):
        tasks.load_task(pack, "phase1/empty")


def test_unknown_task_with_a_typo_gets_a_did_you_mean_hint(pack: Path) -> None:
    write_spec(pack, "phase1/dot-product", MINIMAL)
    with pytest.raises(errors.TaskNotFound) as info:
        tasks.load_task(pack, "phase1/dot-prodcut")
    assert info.value.hint == "did you mean phase1/dot-product?"


@pytest.mark.parametrize("task_id", [
    "a" * 300,                         # one name past NAME_MAX: was OSError, File name too long
    "phase1/" + "a" * 300,
    "phase1/" + "a/" * 2100 + "add",   # past PATH_MAX as a whole
])
def test_an_id_too_long_for_the_file_system_is_an_unknown_task(pack: Path, task_id: str) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    with pytest.raises(errors.TaskNotFound) as info:
        tasks.load_task(pack, task_id)
    assert info.value.exit_code == 3
    assert len(info.value.message) < 400  # the id is shortened: one readable line
    assert "\n" not in info.value.message


@pytest.mark.parametrize("task_id", ["../outside/add", "phase1/../../outside/add", "/abs/add",
                                     "phase1/add/", "phase1/add\n"])
def test_an_id_of_the_wrong_shape_never_leaves_the_pack(pack: Path, task_id: str) -> None:
    write_spec(pack, "phase1/add", MINIMAL)
    write_spec(pack.parent, "outside/add", MINIMAL)  # a spec beside the pack, not in it
    with pytest.raises(errors.TaskNotFound) as info:
        tasks.load_task(pack, task_id)
    assert info.value.exit_code == 3


# ---------------------------------------------------------------- the shipped task and fingerprints


def test_shipped_dot_product_task_loads() -> None:
    t = tasks.load_task(SHIPPED, "phase1/dot-product")
    assert t.id == "phase1/dot-product" and t.phase == "phase1"
    assert t.root == SHIPPED / "phase1" / "dot-product"
    assert [i.name for i in t.interface] == ["dot_loop", "dot_numpy"]
    assert t.formats == ("module", "notebook")
    assert t.limits.memory_bytes == 2048 << 20
    assert t.limits.call_seconds == 20.0 and t.limits.total_seconds == 120.0
    assert t.checks["test_loop_uses_no_numpy"].kind == "quality"
    assert t.checks["test_numpy_is_faster_than_loop"].kind == "timing"
    assert sum(c.points for c in t.checks.values()) == 14
    assert t.public_tests and t.hidden_tests
    assert all(p.name.startswith("test_") for p in t.public_tests + t.hidden_tests)
    assert (t.starter / "solution.py").is_file()


def test_every_shipped_task_loads() -> None:
    loaded = tasks.load_all(SHIPPED)
    assert "phase1/dot-product" in [t.id for t in loaded]
    for t in loaded:
        assert t.hidden_tests or t.public_tests, t.id


@pytest.fixture
def task_copy(tmp_path: Path) -> Path:
    pack = tmp_path / "copy"
    shutil.copytree(SHIPPED / "phase1" / "dot-product", pack / "phase1" / "dot-product",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return pack


def fingerprint(pack: Path) -> str:
    return tasks.load_task(pack, "phase1/dot-product").fingerprint()


def test_fingerprint_is_stable_and_matches_the_original(task_copy: Path) -> None:
    fp = fingerprint(task_copy)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fingerprint(task_copy) == fp
    assert tasks.load_task(SHIPPED, "phase1/dot-product").fingerprint() == fp


@pytest.mark.parametrize("change", ["hidden-test", "public-test", "starter", "spec", "new-file",
                                    "removed-file", "renamed-file", "data-file"])
def test_fingerprint_changes_when_a_task_file_changes(task_copy: Path, change: str) -> None:
    before = fingerprint(task_copy)
    root = task_copy / "phase1" / "dot-product"
    hidden = sorted((root / "hidden").glob("test_*.py"))[0]
    if change == "hidden-test":
        hidden.write_text(hidden.read_text().replace("def ", "def  ", 1))
    elif change == "public-test":
        public = sorted((root / "public").glob("test_*.py"))[0]
        public.write_text(public.read_text() + "\n")
    elif change == "starter":
        (root / "starter" / "solution.py").write_text("pass\n")
    elif change == "spec":
        spec = root / tasks.SPEC_FILE
        spec.write_text(spec.read_text().replace("points = 3", "points = 4", 1))
    elif change == "new-file":
        (root / "hidden" / "helper.py").write_text("")
    elif change == "removed-file":
        (root / "starter" / "solution.py").unlink()
    elif change == "renamed-file":
        hidden.rename(hidden.with_name("test_renamed.py"))
    else:
        (root / "data").mkdir()
        (root / "data" / "x.csv").write_text("a\n1\n")
    assert fingerprint(task_copy) != before


def test_fingerprint_ignores_pycache(task_copy: Path) -> None:
    before = fingerprint(task_copy)
    cache = task_copy / "phase1" / "dot-product" / "hidden" / "__pycache__"
    cache.mkdir()
    (cache / "test_hidden.cpython-311.pyc").write_bytes(b"\x00compiled")
    assert fingerprint(task_copy) == before


def test_fingerprint_separates_names_from_contents(pack: Path) -> None:
    a = write_spec(pack, "phase1/a", MINIMAL).parent
    b = write_spec(pack, "phase1/b", MINIMAL).parent
    (a / "data").mkdir()
    (b / "data").mkdir()
    (a / "data" / "ab").write_text("c")
    (b / "data" / "a").write_text("bc")
    assert tasks.load_task(pack, "phase1/a").fingerprint() != \
        tasks.load_task(pack, "phase1/b").fingerprint()
