"""The kernel side of ``nbrun.py``: an IPython shell in a forked child, and the framed
messages it exchanges with the supervisor.

Stand-alone (standard library and IPython only): copied into the sandbox beside
``nbrun.py``. Nothing here is trusted by the supervisor.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import sys
from typing import Any

try:
    from .nbevents import TEXT_CHARS, Json, source_of
except ImportError:  # run from the sandbox as plain files
    from nbevents import TEXT_CHARS, Json, source_of  # type: ignore[no-redef]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):  # images from IPython's formatters
        import base64

        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    return str(obj)


def write_frame(fd: int, msg: Json) -> None:
    """One message: a 4-byte length, then JSON; written whole with SIGINT held back, so
    an interrupt can never leave half a frame in the pipe."""
    data = json.dumps(msg, default=_jsonable, separators=(",", ":")).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        while view:
            view = view[os.write(fd, view) :]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def read_frame(fd: int) -> Json | None:
    """Blocking read of one frame (the kernel's side); None at EOF."""
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        data += chunk
    return dict(json.loads(data[4:]))


class FrameReader:
    """Frames from the kernel, read without blocking. A frame larger than ``max_frame``
    is skipped as it streams in, and so is anything that is not a JSON object; each
    shows as None."""

    def __init__(self, fd: int, max_frame: int) -> None:
        self.fd, self.max_frame = fd, max_frame
        self.buf = bytearray()
        self.skip = 0
        os.set_blocking(fd, False)

    def read(self) -> tuple[list[Json | None], bool]:
        try:
            data = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return [], False
        self.buf += data
        frames: list[Json | None] = []
        while True:
            if self.skip:
                n = min(self.skip, len(self.buf))
                del self.buf[:n]
                self.skip -= n
                if self.skip:
                    break
            if len(self.buf) < 4:
                break
            (size,) = struct.unpack(">I", self.buf[:4])
            if size > self.max_frame:
                del self.buf[:4]
                self.skip = size
                frames.append(None)
                continue
            if len(self.buf) < 4 + size:
                break
            payload = bytes(self.buf[4 : 4 + size])
            del self.buf[: 4 + size]
            try:
                frame = json.loads(payload)
            except ValueError:
                frame = None
            frames.append(frame if isinstance(frame, dict) else None)
        return frames, not data


# ----------------------------------------------------------------- the kernel


def kernel_main(nb: Json, cmd_r: int, res_w: int, max_frame: int) -> None:
    """Run in the forked child: an IPython shell whose displays, results and errors
    become messages on ``res_w``; stdout and stderr (fds 1, 2) are the pipes the
    supervisor reads. Runs the cells it is told to, one at a time."""
    import builtins
    import io
    import platform
    import tempfile

    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    class Counted(io.FileIO):
        """An output pipe that counts what went through it, so each message can say how
        far the outputs had got when it was sent."""

        written = 0

        def write(self, b: Any, /) -> int:
            n = super().write(b)
            self.written += n
            return n

    pipes = [Counted(fd, "w", closefd=False) for fd in (1, 2)]
    for pipe, name in zip(pipes, ("stdout", "stderr"), strict=True):
        stream = io.TextIOWrapper(
            pipe,
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    sys.__stdin__ = sys.stdin  # type: ignore[misc]
    # Like ipykernel: the notebook's own folder first on the path (its helper modules),
    # not the executor's.
    sys.path[0] = ""
    try:
        home = tempfile.mkdtemp(prefix="nbrun-")
    except OSError as exc:
        write_frame(res_w, {"t": "fatal", "message": f"no writable temporary folder: {exc}"})
        return
    os.environ["IPYTHONDIR"] = os.path.join(home, "ipython")
    os.environ["MPLCONFIGDIR"] = os.path.join(home, "matplotlib")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    kernel = os.getpid()

    def send(msg: Json) -> None:
        if os.getpid() != kernel:  # a process the cell forked: only the kernel speaks
            return
        sys.stdout.flush()  # what was printed before this message comes before it
        sys.stderr.flush()
        msg["o"] = [pipes[0].written, pipes[1].written]
        if msg.get("t") == "result":
            data = json.dumps(msg, default=_jsonable)
            if len(data) > max_frame:  # keep what a score may be read from
                msg["data"] = {"text/plain": str(msg["data"].get("text/plain", ""))[:TEXT_CHARS]}
        write_frame(res_w, msg)

    # IPython's completer loads jedi when it can: a quarter of the kernel's start, for
    # completions nobody asks for here. Hidden while IPython loads, importable after.
    hide_jedi = "jedi" not in sys.modules
    if hide_jedi:
        sys.modules["jedi"] = None  # type: ignore[assignment]
    try:
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.error import StdinNotImplementedError
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets import Type
        from traitlets.config import Config
    except Exception as exc:
        write_frame(res_w, {"t": "fatal", "message": f"IPython cannot be imported: {exc}"})
        return
    finally:
        if hide_jedi and sys.modules.get("jedi", 0) is None:
            del sys.modules["jedi"]

    class Publisher(DisplayPublisher):
        def publish(
            self,
            data: Any,
            metadata: Any = None,
            source: Any = None,
            *,
            transient: Any = None,
            update: bool = False,
            **kwargs: Any,
        ) -> None:
            did = (transient or {}).get("display_id")
            send(
                {
                    "t": "display",
                    "data": data,
                    "metadata": metadata or {},
                    "display_id": None if did is None else str(did),
                    "update": bool(update),
                }
            )

        def clear_output(self, wait: bool = False) -> None:
            send({"t": "clear", "wait": bool(wait)})

    class Hook(DisplayHook):
        fmt: Any = None

        def start_displayhook(self) -> None:
            self.fmt = None

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            self.fmt = (format_dict, md_dict or {})

        def finish_displayhook(self) -> None:
            if self.fmt and self.fmt[0]:
                send({"t": "result", "data": self.fmt[0], "metadata": self.fmt[1]})
            self.fmt = None

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            send(
                {
                    "t": "error",
                    "ename": str(etype.__name__),
                    "evalue": str(evalue),
                    "traceback": [str(line) for line in stb],
                }
            )

        def enable_gui(self, gui: Any = None) -> None:
            pass

    def no_input(*args: Any, **kwargs: Any) -> str:
        raise StdinNotImplementedError("input was called, but notebooks run without input.")

    config = Config()
    config.HistoryManager.enabled = False
    shell = Shell.instance(config=config)
    builtins.input = no_input
    import getpass

    getpass.getpass = no_input
    send(
        {
            "t": "ready",
            "language_info": {
                "name": "python",
                "version": platform.python_version(),
                "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": 3},
                "pygments_lexer": "ipython3",
                "nbconvert_exporter": "python",
                "file_extension": ".py",
            },
        }
    )
    while True:
        cmd = read_frame(cmd_r)
        if cmd is None:
            return
        index = int(cmd["run"])
        if signal.SIGINT in signal.sigpending():  # an interrupt that came too late
            signal.sigwait({signal.SIGINT})
        failure: BaseException | None = None
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            try:
                result = shell.run_cell(source_of(nb["cells"][index]), store_history=True)
            finally:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            failure = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # an interrupt outside the cell's own code
            failure = exc
        if os.getpid() != kernel:  # a forked copy finished the cell: it must not go on
            os._exit(0)
        ok = failure is None
        ename = None if failure is None else type(failure).__name__
        evalue = None if failure is None else str(failure)
        send({"t": "done", "index": index, "ok": ok, "ename": ename, "evalue": evalue})
