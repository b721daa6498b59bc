"""The hostile fixtures graded through the real `grade` command, one process each.

Whatever the attack, the command must end with a recorded result (exit 0, a result
document on stdout), no passing verdict, no process of the submission left behind, and
none of the hidden test's text in what the learner sees.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sandbox import capabilities
from tests.conftest import FIXTURES, SECRET

HOSTILE = FIXTURES / "hostile"
SLOW = {"loop_at_import", "loop_in_add", "stall_after_reply"}  # timed in the API suite
# Answers correctly, then floods 0.2 s after its last reply: whether the flood lands before
# teardown is a race, so the API suite tests it deterministically at the session level.
RACY = {"output_burst_after_reply"}
NAMES = sorted(p.stem for p in HOSTILE.glob("*.py")
               if "@" not in p.read_text().replace("@pytest", "") and p.stem not in SLOW | RACY)


@pytest.mark.parametrize("name", NAMES)
def test_hostile_submission_through_the_cli(workspace: Path, tmp_path: Path, name: str) -> None:
    grade = Path(sys.executable).with_name("grade")
    proc = subprocess.run(
        [str(grade), "--workspace", str(workspace), "submit", "phase0/add",
         str(HOSTILE / f"{name}.py"), "--json"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HARNESS_HISTORY": str(tmp_path / "h.sqlite")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert not (doc["verdict"] == "graded" and doc["score"] == doc["max_score"]), doc["message"]
    assert doc["sandbox"]["no_survivors"] is True
    if capabilities().level == "strong":
        assert SECRET not in proc.stdout
