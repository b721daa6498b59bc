"""Grading verdicts for honest mistakes: scores, submission errors, interface checks."""

from __future__ import annotations

import json

from harness import grading
from harness.results import result_from_dict


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
