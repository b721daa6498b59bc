"""Notebook submissions: hostile files, cell-level feedback, magics, containment, parity."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from harness import grading, notebooks, settings, tasks, validation
from harness.cli import cli
from harness.results import Result, result_from_dict
from harness.sandbox import capabilities
from tests.conftest import FIXTURES, ROOT, SECRET

NOTEBOOKS = FIXTURES / "notebooks"
ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def nb_workspace(workspace: Path) -> Path:
    """The shared ``phase0/add`` workspace, with notebooks allowed by its spec."""
    spec = workspace / "tasks" / "phase0" / "add" / "task.toml"
    text = spec.read_text()
    spec.write_text(text.replace('description = "Return a + b."',
                                 'description = "Return a + b."\nformats = ["module", "notebook"]'))
    return workspace


def grade(workspace: Path, path: Path | None, mode: grading.Mode = "submit") -> Result:
    s = settings.resolve(workspace=str(workspace))
    return grading.grade(tasks.load_task(s.tasks.value, "phase0/add"), path, s, mode=mode)


def fixture(workspace: Path, name: str) -> Result:
    return grade(workspace, NOTEBOOKS / f"{name}.ipynb")


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    path.write_text(json.dumps(notebooks.new_notebook(cells)))
    return path


def checks(result: Result) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


# ------------------------------------------------------------------ parsing (no sandbox)


@pytest.mark.parametrize("name, words", [
    ("not_json", ["not valid JSON", "line 1, column"]),
    ("bad_utf8", ["not UTF-8"]),
    ("deep_nesting", ["nested too deeply"]),
    ("old_format", ["format 3", "too old"]),
    ("schema_invalid", ["not a valid notebook", "cells/0"]),
    ("empty", ["no code"]),
    ("not_a_notebook", ["not a Jupyter notebook"]),
])
def test_hostile_files_are_problems_not_exceptions(name, words):
    data = (NOTEBOOKS / f"{name}.ipynb").read_bytes()
    prepared = notebooks.parse(data, f"{name}.ipynb")
    assert prepared.notebook is None and prepared.problems
    for word in words:
        assert word in prepared.problems[0].message


def test_oversized_notebook_is_a_problem():
    prepared = notebooks.parse(b" " * (notebooks.MAX_NOTEBOOK_BYTES + 1))
    assert "larger than" in prepared.problems[0].message


def test_ipython_syntax_parses_and_function_ast_takes_the_last_definition():
    nb = notebooks.parse((NOTEBOOKS / "add_magics.ipynb").read_bytes()).notebook
    assert nb is not None and not notebooks.syntax_problems(nb)
    node = notebooks.function_source(nb, "add")
    assert node is not None and node.name == "add"


def test_module_cells_split_at_definitions():
    cells = notebooks.module_cells('"""Doc."""\nimport numpy as np\nX = 1\n\n\n'
                                   "@staticmethod\ndef f():\n    return X\n")
    assert cells == [("markdown", "Doc."), ("code", "import numpy as np\nX = 1"),
                     ("code", "@staticmethod\ndef f():\n    return X")]
    nbformat.validate(notebooks.new_notebook(cells))


# ------------------------------------------------------------------ bad input -> verdicts


@pytest.mark.parametrize("name", ["not_json", "deep_nesting", "empty", "schema_invalid"])
def test_bad_notebooks_are_submission_errors(nb_workspace, name):
    r = fixture(nb_workspace, name)
    assert r.verdict == "submission_error" and r.score == 0
    assert f"{name}.ipynb" in r.message


def test_main_guard_only_is_never_defined_with_explanation(nb_workspace):
    r = fixture(nb_workspace, "main_guard")
    assert r.verdict == "submission_error"
    assert "missing function `add(a, b)`" in r.message
    assert 'if __name__ == "__main__":' in r.message and "never defined" in r.message


def test_syntax_error_names_the_cell_without_running_anything(nb_workspace):
    r = fixture(nb_workspace, "syntax_error")
    assert r.verdict == "submission_error" and "syntax error in cell 2, line 1" in r.message
    assert r.notebook == {}  # nothing ran


def test_task_without_notebook_format_refuses_notebooks(workspace):
    r = grade(workspace, NOTEBOOKS / "add_magics.ipynb")
    assert r.verdict == "submission_error" and "not notebooks" in r.message


# ------------------------------------------------------------------ running cells


def test_magics_shell_and_display_work_and_outputs_are_kept(nb_workspace):
    r = fixture(nb_workspace, "add_magics")
    assert r.verdict == "graded" and r.score == r.max_score == 3, r.message
    assert r.submission_format == "notebook"
    cells = {c["index"]: c for c in r.notebook["cells"]}
    text = {i: "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                       for o in c.get("outputs", [])) for i, c in cells.items()}
    assert "per loop" in text[2]                        # %timeit
    assert "shell says 42" in text[3] and "True" in text[3]  # !cmd and files = !ls
    assert "bash says hello" in text[4]                 # %%bash
    assert "shown" in text[5]                           # display()
    assert all(c["status"] == "ok" for c in r.notebook["cells"] if c["cell_type"] == "code")
    assert checks(r)["notebook/run_in_order"] == "pass"
    assert checks(r)["notebook/outputs_match_fresh_run"] == "pass"
    assert result_from_dict(json.loads(r.to_json())) == r


def test_saved_outputs_never_count_and_hygiene_is_reported(nb_workspace):
    r = fixture(nb_workspace, "fake_outputs")
    assert r.verdict == "graded" and r.score == 0  # "All tests passed!" in outputs is ignored
    found = checks(r)
    assert found["notebook/run_in_order"] == "fail"
    assert found["notebook/outputs_match_fresh_run"] == "fail"
    assert found["notebook/python_kernel"] == "fail"
    hygiene = [c for c in r.checks if c.id.startswith("notebook/")]
    assert all(c.kind == "quality" and c.max_points == 0 and c.hint for c in hygiene)


def test_cell_error_names_cell_shows_traceback_and_earlier_output(nb_workspace):
    r = fixture(nb_workspace, "cell_raises")
    assert r.verdict == "submission_error"
    assert r.message.startswith("cell 4 raised ZeroDivisionError")
    assert "cell 3, line 2, in helper: return x / 0" in r.message
    assert "checkpoint before the error" in r.message
    assert "harness" not in r.message and "interactiveshell" not in r.message
    assert r.notebook["failed_cell"] == 3
    assert [c.get("status") for c in r.notebook["cells"]] == ["ok", "ok", "ok", "error"]


def test_raises_exception_tag_lets_a_cell_fail(nb_workspace):
    r = fixture(nb_workspace, "allowed_error")
    assert r.verdict == "graded" and r.score == 3


@pytest.mark.parametrize("name, words", [
    ("sys_exit", ["cell 2 called sys.exit()"]),
    ("missing_module", ["cell 1 imports 'matplotlib'", "not installed"]),
])
def test_load_failures_are_explained_per_cell(nb_workspace, name, words):
    r = fixture(nb_workspace, name)
    assert r.verdict == "submission_error"
    for word in words:
        assert word in r.message


def test_cell_that_runs_forever_is_a_timeout_naming_the_cell(nb_workspace):
    r = fixture(nb_workspace, "loops_forever")
    assert r.verdict == "timeout"
    assert "cell 3 (`while True:`)" in r.message and "a cell may take" in r.message
    assert r.notebook["failed_cell"] == 2
    statuses = [c["status"] for c in r.notebook["cells"]]
    assert statuses == ["ok", "ok", "timeout", "not_run"]
    assert "before the loop" in json.dumps(r.notebook["cells"][1]["outputs"])
    assert r.duration_s < 15


# ------------------------------------------------------------------ containment


def test_destructive_shell_commands_are_contained(nb_workspace, tmp_path):
    sentinel = nb_workspace / "sentinel.txt"
    sentinel.write_text("still here")
    cells = json.loads((NOTEBOOKS / "rm_rf_home.ipynb").read_text())
    if capabilities().namespaces:  # only inside namespaces may we aim at the real workspace
        cells["cells"].insert(0, {"cell_type": "code", "id": "aim", "metadata": {},
                                  "execution_count": None, "outputs": [],
                                  "source": f"!rm -rf {sentinel} {nb_workspace / 'tasks'}"})
    path = tmp_path / "rm_rf_home.ipynb"
    path.write_text(json.dumps(cells))
    r = grade(nb_workspace, path)
    assert r.verdict == "graded" and r.score == 3, r.message
    assert sentinel.read_text() == "still here"
    assert (nb_workspace / "tasks" / "phase0" / "add" / "task.toml").is_file()
    assert "home is gone" in r.output["stdout"]


def test_notebook_hunting_hidden_tests_finds_nothing(nb_workspace):
    r = fixture(nb_workspace, "hunt_hidden")
    assert r.verdict == "graded" and r.score == 3, r.message
    assert SECRET not in r.to_json()
    assert "found: []" in json.dumps(r.notebook["cells"][0]["outputs"])


# ------------------------------------------------------------------ parity and discovery


@pytest.mark.parametrize("source", [ADD, "def add(a, b):\n    return a - b\n"])
def test_module_and_notebook_forms_score_the_same(nb_workspace, tmp_path, source):
    module = tmp_path / "solution.py"
    module.write_text(source)
    nb = tmp_path / "solution.ipynb"
    nb.write_text(json.dumps(notebooks.module_to_notebook(source)))
    a, b = grade(nb_workspace, module), grade(nb_workspace, nb)
    assert (a.verdict, a.score, a.max_score) == (b.verdict, b.score, b.max_score)
    assert [c.status for c in a.checks] == [c.status for c in b.checks
                                            if not c.id.startswith("notebook/")]


def test_default_lookup_finds_a_notebook_and_prefers_the_module(nb_workspace):
    folder = nb_workspace / "submissions" / "phase0"
    folder.mkdir(parents=True)
    write_notebook(folder / "add.ipynb", [("code", ADD)])
    r = grade(nb_workspace, None)
    assert r.submission_format == "notebook" and r.score == 3
    (folder / "add.py").write_text("def add(a, b):\n    return 0\n")
    r = grade(nb_workspace, None)
    assert r.submission_format == "module" and r.submission.endswith("add.py")
    assert "found both add.py and add.ipynb" in r.message


def test_older_result_documents_without_notebook_fields_still_load(nb_workspace, tmp_path):
    r = grade(nb_workspace, write_notebook(tmp_path / "x.ipynb", [("code", ADD)]))
    doc = json.loads(r.to_json())
    del doc["notebook"], doc["submission_format"]
    old = result_from_dict(doc)
    assert old.notebook == {} and old.submission_format == ""


def test_init_notebook_writes_a_valid_starter_that_grades(nb_workspace):
    out = CliRunner().invoke(cli, ["--workspace", str(nb_workspace), "init", "phase0/add",
                                   "--notebook"])
    assert out.exit_code == 0, out.output
    path = nb_workspace / "submissions" / "phase0" / "add.ipynb"
    nb = json.loads(path.read_text())
    nbformat.validate(nb)
    assert nb["cells"][0]["cell_type"] == "markdown" and "add(a, b)" in nb["cells"][0]["source"]
    assert "check phase0/add add.ipynb" in nb["cells"][-1]["source"]
    r = grade(nb_workspace, None, mode="check")
    assert r.verdict == "graded" and r.submission_format == "notebook"
    assert "harness" not in r.output["stdout"]  # the check cell skipped itself while grading


def test_validate_checks_notebook_forms_of_reference_and_mutants(nb_workspace):
    s = settings.resolve(workspace=str(nb_workspace))
    lines: list[str] = []
    report = validation.validate_pack(s, progress=lines.append)
    assert report.problems == [] and report.ok_count == 1
    assert any("reference (notebook) 3/3" in ln for ln in lines)
    assert any("mutant subtracts.py (notebook): caught by test_" in ln for ln in lines)
    # A shipped notebook mutant that passes every check is a problem of the task.
    mutants = nb_workspace / "reference" / "phase0" / "add" / "mutants"
    write_notebook(mutants / "not_wrong.ipynb", [("code", ADD)])
    report = validation.validate_pack(s)
    assert any("not_wrong.ipynb passes every check as a notebook" in p for p in report.problems)


def test_dot_product_notebook_reference_passes_the_public_checks():
    s = settings.resolve(workspace=str(ROOT))
    task = tasks.load_task(s.tasks.value, "phase1/dot-product")
    ref = ROOT / "reference" / "phase1" / "dot-product"
    a = grading.grade(task, ref / "solution.py", s, mode="check")
    b = grading.grade(task, ref / "solution.ipynb", s, mode="check")
    assert a.score == b.score == a.max_score == b.max_score > 0  # full: `grade validate`


def test_more_code_than_the_grader_parses_is_refused_before_ipython_sees_it(monkeypatch):
    # 19 MiB of one-line statements (under the file cap) took the grader 7.5 minutes and
    # 7 GB in IPython's transformer and ast; the size alone now refuses it.
    def transform(source):
        raise AssertionError("the grader transformed oversized code")

    monkeypatch.setattr(notebooks, "python_source", transform)
    nb = notebooks.new_notebook([("code", "x = 1\n" * 100_000), ("code", "x = 2\n" * 100_000),
                                 ("code", ADD)])
    prepared = notebooks.parse(json.dumps(nb).encode())
    assert prepared.notebook is None
    assert "1.1 MiB of Python code" in prepared.problems[0].message
