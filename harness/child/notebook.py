"""Child side: run a notebook's code cells in an in-process IPython shell, then serve it.

The cells run top to bottom in one ``InteractiveShell`` whose user namespace is a
module named ``submission`` (so ``if __name__ == "__main__":`` blocks are skipped,
as when a module is imported); the shim then serves the grader's calls from that
module exactly as for a ``.py`` submission. Magics work as learners write them:
``!cmd``, ``%%bash`` and ``%pip`` are subprocesses inside this same sandbox;
``%matplotlib`` only selects the headless Agg backend, and open figures are captured
as PNG after each cell, like Jupyter's inline backend.

Before each cell the child tells the grader which cell starts, and after it what the
cell printed and displayed; the grader enforces the time limits and trusts none of it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import types
import warnings
from multiprocessing.connection import Connection
from typing import Any

from harness import wire
from harness.child import shim

MAX_TEXT_PER_CELL = 20_000
MAX_FIGURES_PER_CELL = 3


class CellFailed(Exception):
    """A cell raised and was not tagged ``raises-exception``; ``error`` describes it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error


class Recorder:
    """The outputs of the running cell, in order: streams merged, displays as mime data."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.text = 0

    def stream(self, name: str, text: str) -> None:
        room = MAX_TEXT_PER_CELL - self.text
        if room <= 0 or not text:
            return
        text = text[:room]
        self.text += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"type": "stream", "name": name, "text": text})

    def display(self, kind: str, data: dict[str, Any]) -> None:
        kept: dict[str, str] = {}
        plain = data.get("text/plain")
        if isinstance(plain, str):
            kept["text/plain"] = plain[:MAX_TEXT_PER_CELL]
        png = data.get("image/png")
        if isinstance(png, bytes):
            png = base64.b64encode(png).decode()
        if isinstance(png, str):
            kept["image/png"] = png
        if kept:
            self.outputs.append({"type": kind, "data": kept})

    def take(self) -> list[dict[str, Any]]:
        out, self.outputs, self.text = self.outputs, [], 0
        return out


class Tee(io.TextIOBase):
    """A text stream that writes through to the real one and records for the cell."""

    def __init__(self, real: Any, name: str, recorder: Recorder) -> None:
        self.real, self.name_, self.recorder = real, name, recorder

    def write(self, text: str) -> int:
        self.recorder.stream(self.name_, str(text))
        return int(self.real.write(text))

    def flush(self) -> None:
        self.real.flush()

    def fileno(self) -> int:
        return int(self.real.fileno())

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return str(getattr(self.real, "encoding", "utf-8"))

    def writable(self) -> bool:
        return True


def _shell(workdir: str, recorder: Recorder) -> tuple[Any, types.ModuleType, list[int]]:
    """An InteractiveShell whose user namespace is the ``submission`` module."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Hook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict[str, Any],
                              md_dict: Any = None) -> None:
            recorder.display("execute_result", format_dict)

    class Publisher(DisplayPublisher):
        def publish(self, data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            recorder.display("display_data", data)

    # IPython's advice for interactive users would name its own file in the learner's output.
    warnings.filterwarnings("ignore", message="To exit: use")
    config = Config()
    config.HistoryManager.enabled = False
    module = types.ModuleType(shim.MODULE_NAME)
    sys.modules[shim.MODULE_NAME] = module
    # Any: the patches below replace methods on this one instance, which mypy forbids.
    shell: Any = InteractiveShell.instance(config=config, user_module=module,
                                           displayhook_class=Hook, display_pub_class=Publisher)
    current = [0]  # the running cell's 1-based number: code objects are named after it
    shell.compile.get_code_name = \
        lambda raw, transformed, number: os.path.join(workdir, f"cell[{current[0]}]")
    shell.showtraceback = lambda *a, **k: None  # errors are reported as data, per cell
    shell.showsyntaxerror = lambda *a, **k: None
    # Replaces IPython's pty-based runner: plain pipes, output through the cell's streams.
    shell.system = types.MethodType(_system, shell)
    shell.register_magic_function(_matplotlib, "line", "matplotlib")
    return shell, module, current


def _system(shell: Any, cmd: str) -> None:
    """``!cmd``: a shell subprocess in this sandbox, its output streamed to the cell."""
    cmd = shell.var_expand(cmd, depth=1)  # {name} and $name from the caller, as IPython does
    sys.stdout.flush()
    # stdin: an already-closed pipe (end of input) rather than /dev/null, which a
    # minimal box root may lack.
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    while chunk := os.read(proc.stdout.fileno(), 65536):
        sys.stdout.write(chunk.decode("utf-8", errors="replace"))
    shell.user_ns["_exit_code"] = proc.wait()


def _matplotlib(line: str = "") -> None:
    """``%matplotlib [inline]``: the headless Agg backend (figures are captured anyway)."""
    try:
        import matplotlib
    except ImportError:
        return  # nothing to configure; `import matplotlib.pyplot` explains itself
    matplotlib.use("Agg")


def _flush_figures(recorder: Recorder) -> None:
    """Open matplotlib figures become PNG outputs of the cell, then close (inline style)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        for num in plt.get_fignums()[:MAX_FIGURES_PER_CELL]:
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png", dpi=72)
            recorder.display("display_data", {"image/png": buf.getvalue(),
                                              "text/plain": f"<Figure {num}>"})
        plt.close("all")
    except Exception:  # a broken figure is the learner's, not a reason to stop
        pass


def run_notebook(conn: Connection, entry: str, workdir: str) -> types.ModuleType:
    """Run the cells listed in ``entry`` (``cells.json``); return the namespace module.

    Raises :class:`CellFailed` at the first cell that raised without being allowed to.
    """
    with open(entry, encoding="utf-8") as fh:
        cells = json.load(fh)["cells"]
    os.environ["HARNESS_GRADING"] = "1"  # lets a starter's "run the checks" cell skip itself
    recorder = Recorder()
    shell, module, current = _shell(workdir, recorder)
    real_out, real_err = sys.stdout, sys.stderr
    for cell in cells:
        index = int(cell["index"])
        conn.send_bytes(wire.encode_message({"op": "cell", "index": index}, {}))
        current[0] = index + 1
        sys.stdout, sys.stderr = Tee(real_out, "stdout", recorder), \
            Tee(real_err, "stderr", recorder)
        try:
            result = shell.run_cell(cell["source"], store_history=True)
            _flush_figures(recorder)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = real_out, real_err
        exc = result.error_before_exec or result.error_in_exec
        error = None
        if exc is not None:
            error = {**shim.describe_error(exc, workdir), "cell": index}
        conn.send_bytes(wire.encode_message(
            {"op": "cell_done", "index": index, "execution_count": result.execution_count,
             "outputs": recorder.take(), "error": error}, {}))
        if error is not None and not cell.get("allow_error"):
            raise CellFailed(error)
    return module
