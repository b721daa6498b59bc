"""Settings: where the learner's name comes from (flag > environment > git > OS user)."""

from __future__ import annotations

import subprocess

from harness import settings


def test_learner_flag_beats_environment_beats_git_beats_os_user(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("HARNESS_LEARNER", raising=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert settings.resolve_learner(None, plain).source in ("OS user", "default (unknown)")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "ana@example.org"],
                   check=True)
    assert settings.resolve_learner(None, repo) == settings.Identity(
        "ana@example.org", "git config user.email")
    monkeypatch.setenv("HARNESS_LEARNER", "ana-env")
    assert settings.resolve_learner(None, repo) == settings.Identity("ana-env", "environment")
    assert settings.resolve_learner("ana-flag", repo) == settings.Identity("ana-flag", "flag")
    assert settings.resolve(workspace=str(repo), learner="x").learner.value == "x"
