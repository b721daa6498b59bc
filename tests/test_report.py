"""The submission scorecard page: content, escaping, self-containment, and a real browser."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness import report
from harness.cli import cli
from harness.report import charts, progress
from harness.results import CheckResult, Result
from tests.browser import Browser, chromium, find_chromium
from tests.test_scorecard import PACK, TODAY, fixture_history, row

#: A 1x1 PNG, as a notebook's display_data carries it.
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
       "rkJggg==")
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


def _result(**changes: Any) -> Result:
    checks = (
        CheckResult("public/test_small", "test_small", "correctness", "public", "pass", 1.0, 1.0,
                    hint="1*4 + 2*5 + 3*6 = 32"),
        CheckResult("hidden/test_lengths", "test_lengths", "correctness", "hidden", "fail",
                    0.0, 2.0, message=f"ValueError was not raised {HOSTILE}",
                    hint="check len(a) == len(b) first", where=("solution.py:7 in dot",)),
        CheckResult("hidden/test_gpu", "test_gpu", "timing", "hidden", "skip", 0.0, 1.0,
                    message="no accelerator on this machine"),
    )
    base = dict(task="phase1/dot-product", task_version="1", task_fingerprint="6580741c",
                submission="/work/submissions/phase1/dot-product.py",
                submission_sha256="b3786eb1" * 8, verdict="graded", score=1.0, max_score=3.0,
                checks=checks, message="", duration_s=0.59,
                device={"requested": "auto", "used": "cpu", "machine": "x86_64",
                        "python": "3.11.7", "numpy": "2.4.6", "torch": None,
                        "blas": [{"internal_api": "openblas", "version": "0.3.31",
                                  "num_threads": 1, "architecture": "SkylakeX"}]},
                sandbox={"level": "minimal", "network": "none", "pid_namespace": False,
                         "hidden_files": "readable", "process_limit": "RLIMIT_NPROC=64",
                         "memory_bytes": 2 ** 31, "no_survivors": True},
                harness_version="0.1.0", timestamp="2026-11-24T02:11:56+00:00",
                output={"stdout": f"epoch 1 loss 0.3\n{HOSTILE}\n", "stderr": ""})
    return Result(**{**base, **changes})  # type: ignore[arg-type]


def _with(doc: dict[str, Any], name: str, **extra: Any) -> dict[str, Any]:
    """The document with ``extra`` fields added to the check called ``name``."""
    return {**doc, "checks": [{**c, **extra} if c["name"] == name else c
                              for c in doc["checks"]]}


def rich_document() -> dict[str, Any]:
    """A document with timing data, a leakage finding and a failed notebook cell."""
    doc = _with(_result().to_dict(), "test_gpu", status="pass", points=1.0, timing=[
        {"fast": "dot_numpy", "slow": "dot_loop", "ratio": 142.0, "ci": [131.0, 150.0],
         "threshold": 20.0, "rounds": 15, "outcome": "pass"},
        {"fast": "dot_numpy", "slow": "reference", "ratio": 0.9, "ci": [0.8, 1.1],
         "threshold": 0.5, "outcome": "pass"}])
    doc["checks"].append({
        "id": "hidden/test_no_leak", "name": "test_no_leak", "kind": "leakage",
        "visibility": "hidden", "status": "fail", "points": 0.0, "max_points": 3.0,
        "message": "the scaler saw the test rows", "hint": "fit the scaler on X_train",
        "where": ["solution.py:12"], "findings": [{
            "kind": "preprocessing", "file": "solution.py", "line": 12,
            "where": "solution.py:12", "message": "StandardScaler was fitted at line 12 on "
            "rows that include the <60> rows it later helped to evaluate",
            "fix": "fit the scaler on X_train", "impact": "accuracy 0.91 drops to 0.74"}]})
    doc["notebook"] = {"failed_cell": 2, "cells": [
        {"index": 0, "cell_type": "markdown", "source": "# Dot product"},
        {"index": 1, "cell_type": "code", "source": "print('loaded')", "status": "ok",
         "outputs": [{"type": "stream", "name": "stdout", "text": "loaded\n"},
                     {"type": "display_data", "data": {"image/png": PNG}},
                     {"type": "display_data", "data": {"image/png": 'x" onerror="alert(1)',
                                                       "text/plain": "<Figure>"}}]},
        {"index": 2, "cell_type": "code", "source": "import numpy as np\nnp.dot(a, b)",
         "status": "error", "outputs": [],
         "error": {"type": "NameError", "message": "name 'a' is not defined", "line": 2,
                   "frames": [{"file": "cell[3]", "line": 2, "name": "<module>",
                               "code": "np.dot(a, b)"}]}}]}
    return doc


def test_scorecard_shows_task_verdict_score_and_every_check():
    html = report.render_scorecard(_result())
    for text in ("phase1/dot-product", "33%", "1 of 3 points", "public/test_small",
                 "hidden/test_lengths", "hidden/test_gpu", "What to fix first (1 cause)",
                 "check len(a) == len(b) first", "solution.py:7 in dot",
                 "no accelerator on this machine", "openblas 0.3.31", "2048 MiB",
                 "epoch 1 loss 0.3"):
        assert text in html, text
    assert html.count('class="badge skip"') == 1


def test_learner_text_is_escaped():
    html = report.render_scorecard(_result(message=f"while loading: {HOSTILE}"))
    assert "<script>document" not in html and "<img src=x" not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert "<script" not in html.lower()


def test_control_characters_in_learner_text_are_shown_as_escapes():
    html = report.render_scorecard(_result(message="loading: \x1b]0;title\x07\x9b2J \u202eexe",
                                           submission="/w/sol\x1b[2J.py"))
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", html.replace("\n", ""))
    assert "\\x1b]0;title\\x07\\x9b2J \\u202eexe" in html and "sol\\x1b[2J.py" in html


class _Tags(HTMLParser):
    """Every tag and attribute of a page, as the browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def test_page_is_self_contained():
    html = report.render_scorecard(rich_document())
    parsed = _Tags()
    parsed.feed(html)
    names = {tag for tag, _ in parsed.tags}
    assert not names & {"script", "link", "iframe", "object", "embed", "base", "form"}
    links = [value for _, attrs in parsed.tags for key, value in attrs.items()
             if key in ("src", "href", "action", "srcset", "poster")]
    assert all(value and value.startswith("data:image/png;base64,") for value in links)
    assert "url(" not in parsed.style and "@import" not in parsed.style
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    csp = [a["content"] for t, a in parsed.tags if a.get("http-equiv") ==
           "Content-Security-Policy"]
    assert csp and "default-src 'none'" in str(csp[0])


def test_weak_sandbox_protections_stand_out():
    html = report.render_scorecard(_result())
    assert re.search(r'<dt>level</dt><dd class="weak">minimal</dd>', html)
    assert re.search(r'<dt>hidden files</dt><dd class="weak">readable</dd>', html)
    assert re.search(r"<dt>network</dt><dd>none</dd>", html)


def test_sections_for_timing_leakage_and_notebooks_only_when_present():
    plain = report.render_scorecard(_result())
    for section in ('id="timing"', 'id="leakage"', 'id="notebook"'):
        assert section not in plain
    html = report.render_scorecard(rich_document())
    assert 'id="timing"' in html and "dot_numpy vs dot_loop: 142× faster" in html
    assert "(95% CI 131–150×, 15 rounds); needed ≥ 20×" in html
    assert 'id="leakage"' in html and "accuracy 0.91 drops to 0.74" in html
    assert "Data leakage (1 found)" in html and "1 finding under" in html
    assert '<span class="badge fail">preprocessing</span> <span class="mono">solution.py:12' \
        in html and "include the &lt;60&gt; rows it later" in html
    assert "fit the scaler on X_train" in html
    assert "Notebook: cell 3 failed" in html
    assert "NameError: name &#39;a&#39; is not defined" in html
    assert "Output of cell 2, before it" in html and "loaded" in html
    assert f'src="data:image/png;base64,{PNG}"' in html  # a plot, inline
    assert 'onerror="' not in html and "&lt;Figure&gt;" in html  # a bad image falls back to text


def test_passing_leakage_checks_say_so():
    doc = rich_document()
    doc = _with(doc, "test_no_leak", status="pass", points=3.0, findings=[])
    html = report.render_scorecard(doc)
    assert 'id="leakage"' in html and "no leakage found by 1 check<" in html
    assert 'class="problem leak"' not in html


def test_a_leakage_check_that_failed_without_a_finding_is_not_called_clean():
    doc = _with(rich_document(), "test_no_leak", findings=[], message="returned a string")
    doc = {k: v for k, v in doc.items() if k != "notebook"}
    html = report.render_scorecard(doc)
    assert "0 of 1 leakage checks passed" in html and "PASS</span> no leakage" not in html
    assert "returned a string" in html  # shown under What to fix, like any failure


def test_a_document_written_before_findings_existed_still_loads_and_renders():
    from harness.results import result_from_dict

    doc = json.loads(_result().to_json())
    for check in doc["checks"]:
        del check["findings"]
    assert result_from_dict(doc).checks == _result().checks
    assert 'id="leakage"' not in report.render_scorecard(doc)


def test_leakage_findings_read_tolerantly():
    from harness.report.findings import leakage_findings

    checks = [{"name": "t", "kind": "leakage", "hint": "h", "findings": [
        {"kind": "overlap", "file": "cell[2]", "line": 4, "message": "m"}, "junk",
        {"file": "a.py", "line": 3, "where": "a.py:3", "fix": "f", "impact": "i"}]},
        {"name": "u", "kind": "correctness", "findings": [{"kind": "target"}]},
        {"name": "v", "kind": "leakage", "findings": "not a list"}]
    found = leakage_findings(checks)
    assert [(f.check, f.kind, f.where, f.fix, f.impact) for f in found] == [
        ("t", "overlap", "cell[2]:4", "h", ""), ("t", "leakage", "a.py:3", "f", "i")]


def test_a_document_from_json_renders_like_the_result():
    result = _result()
    assert report.render_scorecard(json.loads(result.to_json())) == \
        report.render_scorecard(result)


def test_charts_escape_labels_and_scale():
    svg = charts.speedup_bars([("<b>x</b>", 5.0, 4.0, 6.0, 20.0)], "t<")
    assert "<b>" not in svg and "&lt;b&gt;" in svg and 'class="c-bad"' in svg
    assert charts.trend([None, 50.0, None, 100.0], ["w1", "w2", "w3", "w4"], "t").count(
        "<circle") == 2
    assert 'width="100"' in charts.progress_bar(1, 2, "half")


def test_submit_writes_the_scorecard_beside_the_json_and_report_rerenders(workspace, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("HARNESS_HISTORY", str(tmp_path / "h.sqlite"))
    bad = tmp_path / "bad.py"
    bad.write_text(f"print({HOSTILE!r})\ndef add(a, b):\n    return a * b\n")
    out = CliRunner().invoke(cli, ["--workspace", str(workspace), "--learner", "ana",
                                   "submit", "phase0/add", str(bad)])
    assert out.exit_code == 0, out.output
    (saved,) = (workspace / "reports" / "phase0" / "add").glob("*.json")
    page = saved.with_suffix(".html")
    assert f"scorecard saved to {page}" in out.output
    html = page.read_text()
    assert "phase0/add" in html and "add the two numbers" in html
    assert "<script>document" not in html and "&lt;script&gt;document" in html
    again = tmp_path / "again.html"
    out = CliRunner().invoke(cli, ["report", str(saved), "-o", str(again)])
    assert out.exit_code == 0 and again.read_text() == html
    bogus = tmp_path / "bogus.json"
    bogus.write_text("[1, 2]")
    assert CliRunner().invoke(cli, ["report", str(bogus)]).exit_code == 2


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module; skips when none is installed."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with chromium() as started:
        yield started


def test_the_browser_check_sees_console_errors_and_requests(browser, tmp_path):
    """A control: a page that logs an error and fetches from outside is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><title>bad</title><img src='http://127.0.0.1:9/x.png'>"
                    "<script>console.error('boom')</script>")
    visit = browser.visit(page, 800)
    assert any("boom" in e for e in visit.errors)
    assert visit.outside_requests == ["http://127.0.0.1:9/x.png"]


def test_pages_in_headless_chromium(browser, tmp_path):
    """Each page loads with no console error, no request beyond itself, no script, and no
    horizontal scrolling on a phone; screenshots go to $HARNESS_SCREENSHOTS (or tmp)."""
    shots = Path(os.environ.get("HARNESS_SCREENSHOTS") or tmp_path / "screens")
    history_rows = fixture_history() + [row("phase1/dot-product", 24, 75.0, learner="ben")]
    pages = {
        "scorecard": report.render_scorecard(rich_document()),
        "weekly": report.render_weekly(progress.weekly_card(history_rows, PACK, "2026-W48",
                                                            "ana", TODAY)),
        "cohort": report.render_cohort(progress.cohort(history_rows, PACK, "2026-W48")),
    }
    for name, html in pages.items():
        path = report.write(html, tmp_path / f"{name}.html")
        for label, width, mobile in (("phone", 390, True), ("desktop", 1100, False)):
            visit = browser.visit(path, width, mobile=mobile)
            assert visit.errors == [], (name, label, visit.console)
            assert visit.outside_requests == [], (name, label, visit.requests)
            assert browser.evaluate("document.scripts.length") == 0
            assert browser.evaluate("document.title") != "pwned"
            if name != "cohort":  # the cohort table scrolls inside its own box
                assert browser.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"), \
                    (name, label, "scrolls sideways")
            w, h = browser.screenshot(shots / f"{name}-{label}.png")
            assert w == width and h > 300
        browser.screenshot(shots / f"{name}-print.png", media="print")
    assert all((shots / f"{n}-{k}.png").stat().st_size > 1000 for n in pages
               for k in ("phone", "desktop", "print"))


NO_GPU = "this check needs cuda, and none is available on this machine"


def _unscored_row(day: int, month: int = 11) -> dict[str, Any]:
    """A submit whose every check was skipped here: nothing gradable, max_score 0."""
    return {**row("phase3/device-speedup", day, month=month), "score": 0.0, "max_score": 0.0,
            "result": {"checks": [{"name": "test_matmul_small", "kind": "correctness",
                                   "status": "skip", "message": NO_GPU}]}}


def test_a_result_with_nothing_gradable_reads_so_on_the_scorecard_never_zero_percent():
    skipped = tuple(CheckResult(f"hidden/test_{n}", f"test_{n}", "correctness", "hidden", "skip",
                                0.0, 2.0, message=NO_GPU) for n in ("a", "b"))
    r = _result(score=0.0, max_score=0.0, checks=skipped)
    assert not r.gradable and _result().gradable
    html = report.render_scorecard(r)
    assert f"not gradable on this machine: {NO_GPU}" in html
    assert not re.search(r"(?<![\d.])0%", html) and "0 of 0 points" not in html
    assert "not gradable" not in report.render_scorecard(_result())


def test_nothing_gradable_is_left_out_of_the_weekly_card_and_the_cohort():
    import click

    from harness.report import terminal

    rows = fixture_history() + [_unscored_row(10), row("phase3/device-speedup", 17, 50.0),
                                _unscored_row(24)]
    c = progress.weekly_card(rows, PACK, "2026-W48", "ana", TODAY)
    gpu = next(t for t in c.tasks if t.task == "phase3/device-speedup")
    assert gpu.best is None and gpu.attempts == 1 and not gpu.passed_this_week
    assert gpu.trend[-3:] == (None, 50.0, None)  # W46 and W48 had nothing gradable: no 0 %
    assert gpu.not_gradable == f"not gradable on this machine: {NO_GPU}"
    others = next(t for t in c.tasks if t.task == "phase1/dot-product")
    assert not others.not_gradable and others.best == 100.0
    html = report.render_weekly(c)
    assert f"not gradable on this machine: {NO_GPU}" in html
    text = click.unstyle(terminal.weekly_text(c))
    line = next(x for x in text.splitlines() if x.startswith("phase3/device-speedup"))
    assert "not gradable on this machine" in line and "0%" not in line
    table = progress.cohort(rows, PACK, "2026-W48")
    assert table.best[("ana", "phase3/device-speedup")] == 50.0  # the unscored ones: ignored
    alone = progress.cohort([_unscored_row(24)], PACK, "2026-W48")
    assert ("ana", "phase3/device-speedup") not in alone.best
