"""Grading verdicts for honest mistakes: scores, submission errors, interface checks."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import click

from harness import grading, submissions, summary
from harness.results import result_from_dict
from harness.sandbox import box


def test_reference_scores_full_and_result_document_is_complete(grade_source):
    r = grade_source("def add(a, b):\n    return a + b\n")
    assert r.verdict == "graded"
    assert r.score == r.max_score == 3
    doc = json.loads(r.to_json())
    for key in ("task", "submission", "verdict", "score", "max_score", "checks", "duration_s",
                "device", "sandbox", "harness_version", "timestamp", "schema_version"):
        assert key in doc
    check = doc["checks"][0]
    for key in ("id", "kind", "visibility", "status", "points", "max_points", "message"):
        assert key in check
    assert {c["visibility"] for c in doc["checks"]} == {"public", "hidden"}
    assert result_from_dict(doc) == r


def test_wrong_answer_loses_points_and_hidden_failure_shows_only_name_and_hint(grade_source):
    r = grade_source("def add(a, b):\n    return a - b\n")
    assert r.verdict == "graded" and r.score == 0
    hidden = next(c for c in r.checks if c.visibility == "hidden")
    assert hidden.status == "fail"
    assert hidden.hint == "add the two numbers"
    assert "42" not in hidden.message and "MARKER" not in hidden.message
    public = next(c for c in r.checks if c.visibility == "public")
    assert "3" in public.message  # public failures show what was expected


def test_syntax_error_reports_file_and_line(grade_source):
    r = grade_source("def add(a, b):\n    return a +\n")
    assert r.verdict == "submission_error"
    assert "solution.py:2" in r.message
    assert all(c.status == "error" for c in r.checks) and r.score == 0


def test_missing_function_is_a_submission_error(grade_source):
    r = grade_source("def plus(a, b):\n    return a + b\n")
    assert r.verdict == "submission_error"
    assert "missing function `add(a, b)`" in r.message


def test_wrong_signature_is_a_submission_error(grade_source):
    r = grade_source("def add(a):\n    return a\n")
    assert r.verdict == "submission_error"
    assert "add(a)" in r.message and "add(a, b)" in r.message


def test_missing_package_is_named(grade_source):
    r = grade_source("import not_a_real_package_xyz\ndef add(a, b):\n    return a + b\n")
    assert r.verdict == "submission_error"
    assert "not_a_real_package_xyz" in r.message and "not installed" in r.message


def test_exception_at_import_points_at_learner_line(grade_source):
    r = grade_source("x = 1\nraise RuntimeError('boom')\ndef add(a, b):\n    return a + b\n")
    assert r.verdict == "submission_error"
    assert "RuntimeError: boom" in r.message and "solution.py:2" in r.message


def test_learner_exception_in_a_check_shows_learner_frame(grade_source):
    r = grade_source("""
        def helper(a):
            raise KeyError(a)

        def add(a, b):
            return helper(a)
        """)
    failed = [c for c in r.checks if c.status == "fail"]
    assert failed and all("KeyError" in c.message for c in failed)
    assert any("solution.py:3" in w for w in failed[0].where)
    assert not any("harness" in w for c in failed for w in c.where)


def test_check_mode_runs_only_public_tests(grade_source):
    r = grade_source("def add(a, b):\n    return a + b\n", mode="check")
    assert {c.visibility for c in r.checks} == {"public"}


def test_signature_mismatch_rules():
    p = [["a", "POSITIONAL_OR_KEYWORD", False], ["b", "POSITIONAL_OR_KEYWORD", False]]
    assert grading.signature_mismatch("(a, b)", p) == ""
    assert grading.signature_mismatch("(a, b)", p[:1])
    assert grading.signature_mismatch("(a, b)", [*p, ["c", "POSITIONAL_OR_KEYWORD", True]]) == ""
    assert grading.signature_mismatch("(a, b)", [*p, ["c", "POSITIONAL_OR_KEYWORD", False]])
    assert grading.signature_mismatch("(a, b)", [["args", "VAR_POSITIONAL", False]]) == ""


def test_pytest_options_in_the_graders_environment_change_no_check(grade_source, monkeypatch):
    # "-k public" would deselect the hidden check, and score 1/1 = 100 % on what is left.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-k public -x")
    monkeypatch.setenv("PYTEST_PLUGINS", "no_such_plugin_module")
    r = grade_source("def add(a, b):\n    return 3\n")
    assert [(c.visibility, c.status) for c in r.checks] == [("public", "pass"),
                                                            ("hidden", "fail")]
    assert (r.score, r.max_score) == (1, 3)
    assert os.environ["PYTEST_ADDOPTS"] == "-k public -x"  # restored for the caller


def test_what_a_call_prints_is_kept_without_a_flush(grade_source):
    r = grade_source("def add(a, b):\n    print('adding', a, b)\n    return a + b\n")
    assert "adding 1 2" in r.output["stdout"] and "adding 40 2" in r.output["stdout"]


def test_more_code_than_the_grader_parses_is_refused_unparsed(grade_source, monkeypatch):
    # The grader parses learner code itself, with no sandbox limit: a few MiB of one-line
    # statements cost it minutes and gigabytes. Refused from the size, before parsing.
    def parse(*args, **kwargs):
        raise AssertionError("the grader parsed oversized code")

    monkeypatch.setattr(submissions.ast, "parse", parse)
    r = grade_source("x = 1\n" * 200_000 + "def add(a, b):\n    return a + b\n")
    assert r.verdict == "submission_error" and r.score == 0
    assert "1.1 MiB of Python code" in r.message and "at most 1 MiB" in r.message
    staged = Path(tempfile.mkdtemp())
    try:
        (staged / "solution.py").write_text("x = 1\n" * 200_000)
        sub = submissions.Submission(staged / "solution.py", "module", "solution.py")
        assert submissions.function_source(staged, sub, "add") is None
    finally:
        shutil.rmtree(staged)


def test_learner_control_sequences_never_reach_messages_or_the_terminal(grade_source):
    r = grade_source(r'''
        Title = type("T\x1b]0;title\x07", (), {"__repr__": lambda s: "\x1b[2J\x9b2J!"})

        def add(a, b):
            if a == 1:
                return Title()
            raise type("E\x1b[2J", (ValueError,), {})("\x1b]0;pwned\x07 \u202egnp.exe")
        ''')
    texts = [c.message for c in r.checks] + [w for c in r.checks for w in c.where]
    assert texts and not [t for t in texts if re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", t)]
    assert "pwned" in r.checks[1].message
    shown = summary.render(dataclasses.replace(r, submission="/x/sol\x1b]0;t\x07.py"))
    assert re.findall("\x1b(?!\\[[0-9;]*m)", shown) == []  # only click's own colours
    plain = click.unstyle(shown)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", plain.replace("\n", ""))
    assert "sol\\x1b]0;t\\x07.py" in plain and "\\u202egnp.exe" in plain


def test_digest_reads_regular_files_only_without_following_links(tmp_path):
    (tmp_path / "solution.py").write_text("def add(a, b):\n    return a + b\n")
    before = grading.digest(tmp_path)
    os.mkfifo(tmp_path / "trap.py")  # opening it for reading would wait for a writer
    (tmp_path / "zero.py").symlink_to("/dev/zero")  # reading it would never end
    (tmp_path / "hidden.py").symlink_to(tmp_path / "solution.py")
    assert grading.digest(tmp_path) == before


def test_a_fifo_in_the_staged_copy_is_never_copied_into_a_box(tmp_path):
    (tmp_path / "solution.py").write_text("x = 1\n")
    os.mkfifo(tmp_path / "trap.py")
    dest = tmp_path.parent / f"{tmp_path.name}-copy"
    shutil.copytree(tmp_path, dest, symlinks=True, ignore=box.special_files)  # as Box.start
    assert sorted(p.name for p in dest.iterdir()) == ["solution.py"]
