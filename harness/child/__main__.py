"""Child entry point: ``python -I -m harness.child`` with the channel on fd 3."""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection

from harness import wire
from harness.child import landlock, lockdown, notebook, seccomp, shim


def main() -> None:
    sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; keep scratch clean
    conn = Connection(int(sys.argv[1]))
    _, config = wire.decode_message(conn.recv_bytes(1 << 20))
    cfg = config["config"]
    report: dict[str, object] = {}
    if cfg.get("namespaces"):
        report.update(lockdown.close_namespaces(cfg["scratch"], cfg.get("boxes_root"),
                                                cfg.get("masks", []), cfg.get("root_dir"),
                                                cfg.get("binds")))
    if cfg.get("landlock"):
        report.update(landlock.apply(cfg.get("landlock_read", []), cfg.get("landlock_write", [])))
    report["limits"] = lockdown.set_limits(cfg.get("limits", {}))
    if sys.platform.startswith("linux"):
        report.update(seccomp.apply())
    os.chdir(cfg["workdir"])
    for name in cfg.get("preload", []):
        try:
            __import__(name)
        except ImportError:
            pass
    try:
        if cfg.get("notebook"):
            module = notebook.run_notebook(conn, cfg["entry"], cfg["workdir"])
        else:
            module = shim.load_submission(cfg["entry"], cfg["workdir"], cfg.get("folder", False))
    except BaseException as exc:  # learner failure is data, SystemExit included
        error = exc.error if isinstance(exc, notebook.CellFailed) \
            else shim.describe_error(exc, cfg["workdir"])
        conn.send_bytes(wire.encode_message({"op": "load_error", "error": error,
                                             "lockdown": report}, {}))
        return
    names = shim.describe_names(module, list(cfg.get("names", [])))
    conn.send_bytes(wire.encode_message({"op": "ready", "names": names, "lockdown": report}, {}))
    sys.stdout.flush()
    shim.Server(conn, module, cfg["workdir"], int(cfg.get("max_frame", 64 << 20))).serve()


if __name__ == "__main__":
    main()
