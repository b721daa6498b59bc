"""Sandbox layers: levels, doctor, the allow-listed root, and the macOS profile text."""

from __future__ import annotations

import pytest

from harness.sandbox import capabilities, doctor, layout, macos


def test_levels_are_ordered():
    assert doctor.level_at_least("strong", "namespaces")
    assert doctor.level_at_least("namespaces", "namespaces")
    assert not doctor.level_at_least("minimal", "namespaces")
    assert not doctor.level_at_least("namespaces", "strong")


def test_doctor_reports_every_layer_with_a_fix_when_missing():
    layers = doctor.diagnose()
    names = " ".join(layer.name for layer in layers)
    assert "namespaces" in names and "strong" in names and "pids cgroup" in names
    for layer in layers:
        assert layer.detail
        if not layer.available and "dumpable" not in layer.name:
            assert layer.fix, layer


def test_allow_list_holds_the_interpreter_and_harness_but_not_the_repo():
    import sys
    from pathlib import Path

    import harness

    paths = layout.allow_list()
    repo = Path(harness.__file__).resolve().parent.parent
    assert str(repo) not in paths  # only the package, never the checkout holding tasks/
    assert any(Path(p) == Path(harness.__file__).resolve().parent for p in paths)
    assert any(sys.base_prefix.startswith(p) or p == sys.base_prefix for p in paths)
    assert not any(p in ("/", "/root", "/home", "/tmp", "/work") for p in paths)


def test_strong_level_is_used_where_available():
    caps = capabilities()
    if not caps.namespaces:
        pytest.skip("no namespaces here")
    assert caps.level in ("strong", "namespaces")


def test_macos_profile_denies_by_default_and_scopes_writes_to_scratch():
    text = macos.profile(["/opt/py"], "/private/tmp/box-1", ["/opt/py/bin/python3"])
    lines = text.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    assert "(deny network*)" in lines
    assert '(allow file-read* file-write* (subpath "/private/tmp/box-1"))' in lines
    assert '(allow process-exec (subpath "/opt/py/bin/python3"))' in lines
    assert "(allow signal (target same-sandbox))" in lines
    writes = [line for line in lines if "file-write*" in line]
    assert writes == ['(allow file-read* file-write* (subpath "/private/tmp/box-1"))']


@pytest.mark.parametrize("bad", ['/tmp/a")(allow default', "/tmp/a\n(allow default)",
                                 "relative/path", "/tmp/\x00"])
def test_macos_profile_refuses_paths_that_could_escape_the_literal(bad):
    if '"' in bad:
        assert macos.quote(bad) == '"/tmp/a\\")(allow default"'
    else:
        with pytest.raises(ValueError):
            macos.profile([bad], "/tmp/box", [])


def test_doctor_command_prints_the_level(workspace):
    import json

    from click.testing import CliRunner

    from harness.cli import cli

    out = CliRunner().invoke(cli, ["--workspace", str(workspace), "doctor", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["level"] == capabilities().level
    assert len(doc["layers"]) >= 5


def test_required_level_above_the_machine_withholds_hidden_tests(workspace, monkeypatch,
                                                                  tmp_path):
    import json

    from click.testing import CliRunner

    from harness.cli import cli

    monkeypatch.setenv("HARNESS_SANDBOX", "process")
    capabilities.cache_clear()
    try:
        sub = tmp_path / "s.py"
        sub.write_text("def add(a, b):\n    return a + b\n")
        out = CliRunner().invoke(cli, ["--workspace", str(workspace), "submit", "phase0/add",
                                       str(sub), "--json", "--require-sandbox", "namespaces"])
        assert out.exit_code == 0, out.output
        doc = json.loads(out.output)
        assert {c["visibility"] for c in doc["checks"]} == {"public"}
        assert "hidden tests not run" in doc["message"]
        assert doc["sandbox"]["hidden_tests_run"] is False
    finally:
        capabilities.cache_clear()


def test_required_level_met_runs_hidden_tests(workspace, tmp_path):
    from harness import grading, settings, tasks

    sub = tmp_path / "s.py"
    sub.write_text("def add(a, b):\n    return a + b\n")
    s = settings.resolve(workspace=str(workspace))
    r = grading.grade(tasks.load_task(s.tasks.value, "phase0/add"), sub, s,
                      required_level=capabilities().level)
    assert r.sandbox["hidden_tests_run"] is True and r.sandbox["required"]
    assert {c.visibility for c in r.checks} == {"public", "hidden"}


def test_child_has_the_usual_devices_and_a_shell(tmp_path):
    from harness.sandbox import Box, BoxSpec, Budget

    (tmp_path / "solution.py").write_text(
        "import os\n"
        "def add(a, b):\n"
        "    found = [os.path.exists('/dev/' + d) for d in ('null', 'zero', 'urandom')]\n"
        "    with open('/dev/null', 'w') as fh:\n"
        "        fh.write('x')\n"
        "    return found + [os.system('echo hi > /dev/null 2>/dev/null') == 0]\n")
    box = Box(BoxSpec(tmp_path, "solution.py", False, ("add",), ()), Budget(30))
    try:
        assert box.start().ok
        assert box.request({"op": "call", "path": ["add"]}, {"args": [1, 2]})["value"] == \
            [True] * 4
        if capabilities().level == "strong":
            assert box.protections()["hidden_files"].startswith("absent")
    finally:
        box.close()


@pytest.mark.parametrize("backend", ["auto", "process"])
def test_seccomp_refuses_sockets_namespaces_and_ptrace_but_not_threads_or_fork(
        tmp_path, monkeypatch, backend):
    import platform

    from harness.sandbox import Box, BoxSpec, Budget

    if platform.machine() != "x86_64":
        pytest.skip("the seccomp filter is written for x86_64")
    monkeypatch.setenv("HARNESS_SANDBOX", backend)
    capabilities.cache_clear()
    (tmp_path / "solution.py").write_text(
        "import ctypes, os, socket, threading\n"
        "def add(a, b):\n"
        "    out = {}\n"
        "    for name, fam in (('inet', socket.AF_INET), ('inet6', socket.AF_INET6),\n"
        "                      ('unix', socket.AF_UNIX)):\n"
        "        try:\n"
        "            socket.socket(fam, socket.SOCK_STREAM).close(); out[name] = 'ok'\n"
        "        except OSError as e:\n"
        "            out[name] = e.errno\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    out['unshare'] = libc.unshare(0x10000000) == 0\n"
        "    out['ptrace'] = libc.ptrace(16, os.getpid(), 0, 0) == 0\n"
        "    t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(3)\n"
        "    out['fork'] = os.waitpid(pid, 0)[1] >> 8\n"
        "    return out\n")
    box = Box(BoxSpec(tmp_path, "solution.py", False, ("add",), ()), Budget(30))
    try:
        assert box.start().ok
        out = box.request({"op": "call", "path": ["add"]}, {"args": [1, 2]})["value"]
        assert box.protections()["seccomp"].startswith("network sockets")
    finally:
        box.close()
        capabilities.cache_clear()
    assert out == {"inet": 1, "inet6": 1, "unix": "ok", "unshare": False, "ptrace": False,
                   "fork": 3}


def test_landlock_level_hides_task_files_without_namespaces(workspace, tmp_path, monkeypatch):
    from harness import grading, settings, tasks
    from harness.sandbox.platform import landlock_abi

    if landlock_abi() < 1:
        pytest.skip("no Landlock on this kernel")
    monkeypatch.setenv("HARNESS_SANDBOX", "landlock")
    capabilities.cache_clear()
    hidden = workspace / "tasks" / "phase0" / "add" / "hidden" / "test_hidden.py"
    outside = tmp_path / "written-from-the-box"
    sub = tmp_path / "s.py"
    sub.write_text(
        "def add(a, b):\n"
        f"    for path in ({str(hidden)!r},):\n"
        "        try:\n"
        "            open(path).read()\n"
        "            return 'read the hidden test'\n"
        "        except PermissionError:\n"
        "            pass\n"
        "    try:\n"
        f"        open({str(outside)!r}, 'w').close()\n"
        "        return 'wrote outside scratch'\n"
        "    except PermissionError:\n"
        "        pass\n"
        "    return a + b\n")
    try:
        s = settings.resolve(workspace=str(workspace))
        r = grading.grade(tasks.load_task(s.tasks.value, "phase0/add"), sub, s,
                          required_level="landlock")
    finally:
        capabilities.cache_clear()
    assert r.sandbox["level"] == "landlock"
    assert r.sandbox["hidden_files"].startswith("unreadable")
    assert r.score == r.max_score, [c.message for c in r.checks]
    assert not outside.exists()


@pytest.mark.parametrize("backend", ["namespaces", "auto"])
def test_host_runtime_sockets_are_out_of_reach(tmp_path, monkeypatch, backend):
    """/run (docker.sock, D-Bus) is empty in the box: a unix socket can be connected to on
    a read-only mount, so hiding the folder is what keeps the host's daemons out of reach."""
    from harness.sandbox import Box, BoxSpec, Budget

    monkeypatch.setenv("HARNESS_SANDBOX", backend)
    capabilities.cache_clear()
    if capabilities().level not in ("namespaces", "strong"):
        capabilities.cache_clear()
        pytest.skip("needs user namespaces")
    (tmp_path / "solution.py").write_text(
        "import os\n"
        "def add(a, b):\n"
        "    return sorted(os.listdir('/run')) if os.path.isdir('/run') else []\n")
    box = Box(BoxSpec(tmp_path, "solution.py", False, ("add",), ()), Budget(30))
    try:
        assert box.start().ok
        assert box.request({"op": "call", "path": ["add"]}, {"args": [1, 2]})["value"] == []
    finally:
        box.close()
        capabilities.cache_clear()
