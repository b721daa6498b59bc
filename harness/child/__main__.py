"""Child entry point: ``python -I -m harness.child`` with the channel on fd 3."""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection

from harness import wire
from harness.child import identity, landlock, lockdown, notebook, seccomp, shim


def main() -> None:
    sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; keep scratch clean
    conn = Connection(int(sys.argv[1]))
    _, config = wire.decode_message(conn.recv_bytes(1 << 20))
    cfg = config["config"]
    report: dict[str, object] = {}
    # A dedicated uid (grader is root): keep root for the lockdown only, then drop for good.
    drop = (cfg["box_uid"], cfg["box_gid"]) if isinstance(cfg.get("box_uid"), int) else None
    reach = [*cfg.get("reach", []), cfg["scratch"]]
    if cfg.get("namespaces"):
        report.update(lockdown.close_namespaces(cfg["scratch"], cfg.get("boxes_root"),
                                                cfg.get("masks", []), cfg.get("root_dir"),
                                                cfg.get("binds"), drop, reach,
                                                scratch_limits(cfg)))
    elif drop is not None:
        report.update(identity.private_mounts(reach, *drop))
        if "reach_error" in report:
            drop = None  # stays the grader's root, and says so (``reach_error``)
    if cfg.get("landlock"):
        report.update(landlock.apply(cfg.get("landlock_read", []), cfg.get("landlock_write", [])))
    report["limits"] = lockdown.set_limits(cfg.get("limits", {}))
    if drop is not None:
        report.update(identity.become(*drop))
    if sys.platform.startswith("linux"):
        report.update(seccomp.apply())
    os.chdir(cfg["workdir"])
    for name in cfg.get("preload", []):
        try:
            __import__(name)
        except ImportError:
            pass
    program = None
    if isinstance(cfg.get("trace_program"), dict):  # `grade leakage`: trace the whole run
        from harness.child import provenance

        program = provenance.start_program(cfg["workdir"], cfg["trace_program"])
    try:
        if cfg.get("notebook"):
            module = notebook.run_notebook(conn, cfg["entry"], cfg["workdir"])
        else:
            module = shim.load_submission(cfg["entry"], cfg["workdir"], cfg.get("folder", False),
                                          "__main__" if program is not None else shim.MODULE_NAME)
    except BaseException as exc:  # learner failure is data, SystemExit included
        if program is not None:  # `grade leakage`: what ran before the error is the trace
            module = program.failed(exc.error if isinstance(exc, notebook.CellFailed)
                                    else shim.describe_error(exc, cfg["workdir"]))
        else:
            error = exc.error if isinstance(exc, notebook.CellFailed) \
                else shim.describe_error(exc, cfg["workdir"])
            conn.send_bytes(wire.encode_message({"op": "load_error", "error": error,
                                                 "lockdown": report}, {}))
            return
    if program is not None:
        program.end()
    names = shim.describe_names(module, list(cfg.get("names", [])))
    conn.send_bytes(wire.encode_message({"op": "ready", "names": names, "lockdown": report}, {}))
    sys.stdout.flush()
    shim.Server(conn, module, cfg["workdir"], int(cfg.get("max_frame", 64 << 20))).serve()


def scratch_limits(cfg: dict[str, object]) -> tuple[int, int] | None:
    """(bytes, files) for a tmpfs scratch, when the grader asked for one."""
    raw = cfg.get("scratch_limits")
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int) for v in raw):
        return raw[0], raw[1]
    return None


if __name__ == "__main__":
    main()
