#!/usr/bin/env python3
"""Run a Jupyter notebook headless, inside a sandbox, and report on it cell by cell.

    python3 nbrun.py NOTEBOOK [--allow-errors] [--cell-timeout S] [--deadline S]
                              [--max-output-bytes N] [--output EXECUTED.ipynb]

Stand-alone on purpose: it is copied into the sandbox and run by the system's
``python3`` with nothing but the standard library and IPython (which ipykernel brings).
It needs no network, no writable file outside ``$TMPDIR`` and no more than two
processes, so it works under bubblewrap's ``--unshare-all`` and in a locked-down
container alike.

Two processes, one trusted. The *supervisor* (this script) reads the notebook, forks
the *kernel* (an IPython shell running the cells in one interpreter, as ipykernel
does, minus ZeroMQ and a second interpreter start), hands it one cell at a time and
writes progress as JSON lines on stdout (or ``--progress-fd``). The kernel's stdout
and stderr are pipes the supervisor reads; its rich outputs (displays, results,
errors) come back as framed messages on a third pipe. Nothing a cell prints can reach
the progress channel: the kernel never holds that descriptor, and the supervisor is
not dumpable, so the kernel cannot open it through ``/proc`` either. The supervisor
alone decides cell boundaries, timings, execution counts and what is kept of the
outputs (a byte budget); the kernel can only lie about its own cells' outputs, which
is what any code running in a notebook can do to itself.

Each progress line is one event (see :class:`Assembler`); ``Assembler`` rebuilds the
executed notebook from them, here for ``--output`` and on the host from the captured
stream, so a run stopped half-way still yields the cells that ran.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import copy
import json
import os
import select
import signal
import sys
import time

try:
    from . import nbevents as nbe
    from .nbkernel import FrameReader, kernel_main, write_frame
except ImportError:  # run from the sandbox as plain files
    import nbevents as nbe  # type: ignore[no-redef]
    from nbkernel import FrameReader, kernel_main, write_frame  # type: ignore[no-redef]

from typing import Any

Json = dict[str, Any]
_FLUSH_S = 0.1  # a cell's printed text reaches the channel at most this late
_CHUNK = 8 * 1024  # ... or in pieces of this size
_INTERRUPT_GRACE_S = 3.0  # from the interrupt of a cell that timed out to killing it
_NOTE = "\n[output truncated: the notebook's outputs reached {} bytes]\n"
_SHOWTB_OFF = "ERROR: An error occurred while showtraceback was disabled"


class _Supervisor:
    def __init__(self, nb: Json, args: argparse.Namespace, progress_fd: int) -> None:
        self.nb, self.args, self.fd = nb, args, progress_fd
        self.assembler = nbe.Assembler(copy.deepcopy(nb)) if args.output else None
        self.budget, self.used, self.truncated = args.max_output_bytes, 0, False
        self.count = 0
        self.pid = 0
        self.started = time.monotonic()
        self.deadline = self.started + args.deadline if args.deadline else None
        self.cell: int | None = None
        self.error_cells = 0  # cells that ended in an error
        self.unexpected = 0  # ... without the "raises-exception" tag
        self.status: int | None = None  # the kernel's wait status, once reaped
        self.shown_error = False  # the running cell has an error output
        self.cut: set[str] = set()
        self.pending: tuple[str, list[str], float] | None = None
        self.clear_wait = False
        self.raw_read: dict[int, int] = {}  # bytes read so far from each output pipe
        self.held: dict[int, bytearray] = {}  # ... and not yet passed on as output
        self.names: dict[int, str] = {}
        self.decoders = {
            n: codecs.getincrementaldecoder("utf-8")("replace") for n in ("stdout", "stderr")
        }

    # -- the progress channel
    def emit(self, ev: Json) -> int:
        line = (json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(line)
        while view:
            view = view[os.write(self.fd, view) :]
        if self.assembler is not None:
            self.assembler.apply(ev)
        return len(line)

    def _charge(self, ev: Json) -> bool:
        size = len(json.dumps(ev, ensure_ascii=False, separators=(",", ":"))) + 1
        if self.used + size > self.budget:
            return False
        self.used += size
        return True

    def _note(self) -> str:
        self.truncated = True
        return _NOTE.format(self.budget)

    # -- outputs of the running cell
    def stream(self, name: str, text: str) -> None:
        if not text or name in self.cut:
            return
        if self.pending is not None and self.pending[0] != name:
            self.flush()
        if self.pending is None:
            self.pending = (name, [], time.monotonic())
        self.pending[1].append(text)
        if sum(len(t) for t in self.pending[1]) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending is None or self.cell is None:
            return
        name, parts, _ = self.pending
        self.pending = None
        out: Json = {"output_type": "stream", "name": name, "text": "".join(parts)}
        ev: Json = {"event": "output", "index": self.cell, "output": out}
        if not self._charge(ev):  # keep what fits, then say it was cut
            room = max(0, self.budget - self.used - 200)
            out["text"] = out["text"].encode()[:room].decode(errors="ignore") + self._note()
            self.used = self.budget
            self.cut.add(name)
        self._out(ev)

    def _out(self, ev: Json) -> None:
        if self.clear_wait:
            self.clear_wait = False
            self.shown_error = ev["output"]["output_type"] == "error"
            self.emit({"event": "clear_output", "index": self.cell})
        self.emit(ev)

    def rich(self, msg: Json) -> None:
        self.flush()
        kind = msg.get("t")
        if kind == "clear":
            if msg.get("wait"):
                self.clear_wait = True
            else:
                self.clear_wait = False
                self.shown_error = False
                self.emit({"event": "clear_output", "index": self.cell})
            return
        if kind == "error":  # always kept (capped), even past the budget
            ev: Json = {"event": "output", "index": self.cell, "output": nbe.cap_error(msg)}
            if not self._charge(ev):
                self.used = self.budget
            self.shown_error = True
            self._out(ev)
            return
        data: Json = msg["data"] if isinstance(msg.get("data"), dict) else {}
        meta: Json = msg["metadata"] if isinstance(msg.get("metadata"), dict) else {}
        did = msg.get("display_id") if isinstance(msg.get("display_id"), str) else None
        if kind == "display" and msg.get("update"):
            ev = {
                "event": "update_display",
                "display_id": did or "",
                "data": data,
                "metadata": meta,
            }
            if self._charge(ev):
                self.emit(ev)
            else:
                self.truncated = True
            return
        out: Json = {"output_type": "display_data", "data": data, "metadata": meta}
        if kind == "result":
            out = {
                "output_type": "execute_result",
                "execution_count": self.count,
                "data": data,
                "metadata": meta,
            }
        ev = {"event": "output", "index": self.cell, "output": out}
        if did:
            ev["display_id"] = did
        if self._charge(ev):
            self._out(ev)
        elif kind == "result":  # kept, short: a partial-credit score lives in text/plain
            out["data"] = {"text/plain": str(data.get("text/plain", ""))[: nbe.TEXT_CHARS]}
            out["metadata"] = {}
            self.used = self.budget
            self._out(ev)
            self.stream("stdout", self._note())
        elif "display" not in self.cut:
            self.cut.add("display")
            self.stream("stdout", self._note())

    # -- running
    def run(self) -> int:
        try:
            code, status, message = self._run()
        except Exception as exc:  # a bug here: still say how the run ended
            code, status, message = nbe.EXIT_INTERNAL, "internal", f"the executor failed: {exc!r}"
        self.flush()
        self.emit(
            {
                "event": "done",
                "status": status,
                "message": message,
                "errors": self.error_cells,
                "truncated": self.truncated,
                "exit_code": code,
            }
        )
        if self.assembler is not None:
            with open(self.args.output, "w", encoding="utf-8") as fh:
                json.dump(self.assembler.nb, fh, ensure_ascii=False, indent=1)
                fh.write("\n")
        return code

    def _run(self) -> tuple[int, str, str | None]:
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        max_frame = self.budget + _CHUNK
        self.pid = os.fork()
        if self.pid == 0:  # the kernel
            try:
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                keep = sorted({0, 1, 2, cmd_r, res_w})
                for lo, hi in zip(keep, [*keep[1:], 1 << 16], strict=True):
                    os.closerange(lo + 1, hi)
                kernel_main(self.nb, cmd_r, res_w, max_frame)
                os._exit(0)
            finally:
                os._exit(1)
        with contextlib.suppress(OSError):
            os.setpgid(self.pid, self.pid)  # also done by the kernel: whichever runs first
        for fd in (cmd_r, res_w, out_w, err_w):
            os.close(fd)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        self.cmd, self.res = cmd_w, FrameReader(res_r, max_frame)
        self.raw = {out_r: "stdout", err_r: "stderr"}  # the output pipes still open
        self.names = dict(self.raw)
        try:
            return self._cells()
        finally:
            self._kill()
            for fd in (cmd_w, res_r, out_r, err_r):
                os.close(fd)

    def _cells(self) -> tuple[int, str, str | None]:
        ready, why = self._wait(None, None)
        if ready is None or ready.get("t") != "ready":
            if ready is not None and ready.get("t") == "fatal":
                return nbe.EXIT_NO_KERNEL, "no_kernel", str(ready.get("message"))
            return (
                (nbe.EXIT_TIMEOUT, "timeout", why)
                if why == "deadline"
                else (nbe.EXIT_KERNEL_DIED, "died", why)
            )
        li = ready.get("language_info")
        self.emit(
            {
                "event": "start",
                "protocol": nbe.PROTOCOL,
                "language_info": li if isinstance(li, dict) else {},
            }
        )
        stopped: tuple[int, str, str | None] | None = None
        for index, cell in enumerate(self.nb["cells"]):
            if cell.get("cell_type") != "code" or "skip-execution" in nbe.tags(cell):
                continue
            if not nbe.source_of(cell).strip():
                self.emit(
                    {
                        "event": "cell_end",
                        "index": index,
                        "status": "ok",
                        "execution_count": None,
                        "time_ms": 0,
                        "ename": None,
                        "evalue": None,
                    }
                )
                continue
            stopped = self._cell(index, cell)
            if stopped is not None:
                break
        if stopped is not None:
            return stopped
        return (
            (nbe.EXIT_CELL_ERROR, "error", None) if self.unexpected else (nbe.EXIT_OK, "ok", None)
        )

    def _cell(self, index: int, cell: Json) -> tuple[int, str, str | None] | None:
        self.cell, self.count, self.cut = index, self.count + 1, set()
        self.clear_wait = self.shown_error = False
        self.emit({"event": "cell_start", "index": index})
        t0 = time.monotonic()
        write_frame(self.cmd, {"run": index})
        timeout = self.args.cell_timeout
        reply, why = self._wait(t0 + timeout if timeout else None, index)
        self.flush()
        end: Json = {
            "event": "cell_end",
            "index": index,
            "status": "error",
            "execution_count": self.count,
            "time_ms": round((time.monotonic() - t0) * 1000),
            "ename": None,
            "evalue": None,
        }
        result: tuple[int, str, str | None] | None = None
        if reply is not None and reply.get("ok") is True and why is None:
            end["status"] = "ok"
        elif reply is not None:
            end["ename"] = str(reply.get("ename") or "Error")[: nbe.TEXT_CHARS]
            end["evalue"] = str(reply.get("evalue") or "")[: nbe.TEXT_CHARS]
        if why is not None and why.startswith("timeout"):
            end["ename"] = "CellTimeoutError"
            end["evalue"] = f"The cell ran longer than {timeout:g} s and was interrupted."
            if reply is None:
                result = (nbe.EXIT_TIMEOUT, "timeout", f"cell {index + 1}: {end['evalue']}")
        elif why == "deadline":
            end["ename"] = "CellTimeoutError"
            end["evalue"] = "The notebook ran out of time."
            result = (nbe.EXIT_TIMEOUT, "timeout", f"cell {index + 1}: {end['evalue']}")
        elif reply is None:
            end["ename"], end["evalue"] = "DeadKernelError", why or "The kernel died."
            result = (nbe.EXIT_KERNEL_DIED, "died", f"cell {index + 1}: {end['evalue']}")
        if end["status"] == "error":
            if not self.shown_error:
                # Like nbgrader's Execute: an error the kernel did not show still shows.
                self.rich(
                    {
                        "t": "error",
                        "ename": end["ename"],
                        "evalue": end["evalue"],
                        "traceback": [] if reply is None else [_SHOWTB_OFF],
                    }
                )
            allowed = self.args.allow_errors or "raises-exception" in nbe.tags(cell)
            if result is None and not allowed:
                result = (
                    nbe.EXIT_CELL_ERROR,
                    "error",
                    f"cell {index + 1} raised {end['ename']}: {end['evalue']}",
                )
            self.error_cells += 1
            if "raises-exception" not in nbe.tags(cell):
                self.unexpected += 1
        self.emit(end)
        self.cell = None
        return result

    def _wait(
        self, cell_deadline: float | None, index: int | None
    ) -> tuple[Json | None, str | None]:
        """Read the kernel until its reply (a frame other than an output), its death or a
        deadline; returns (reply or None, why it stopped without a clean reply)."""
        interrupted: float | None = None
        timed_out = False
        while True:
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                self._kill()
                return None, "deadline"
            if cell_deadline is not None and now >= cell_deadline and interrupted is None:
                timed_out, interrupted = True, now
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGINT)
            if interrupted is not None and now >= interrupted + _INTERRUPT_GRACE_S:
                self._kill()
                return None, "timeout (the kernel did not stop)"
            waits = [
                self.deadline,
                None if interrupted else cell_deadline,
                interrupted + _INTERRUPT_GRACE_S if interrupted else None,
                self.pending[2] + _FLUSH_S if self.pending else None,
            ]
            timeout = min([w - now for w in waits if w is not None] + [_FLUSH_S * 5])
            readable, _, _ = select.select([self.res.fd, *self.raw], [], [], max(0.0, timeout))
            for fd in readable:
                if fd in self.raw:
                    self._read_raw(fd)
            # The kernel's messages are read after its outputs, so every message sent
            # before the last byte just read is here to put that byte in its place.
            frames, eof = self.res.read()
            if frames or eof:
                for frame in frames:
                    self._drain_raw(frame)
                    if frame is None:
                        self.truncated = True
                        self.stream("stdout", self._note())
                    elif (
                        frame.get("t") in ("display", "result", "error", "clear")
                        and index is not None
                    ):
                        try:
                            self.rich(frame)
                        except (TypeError, ValueError, AttributeError, KeyError):
                            self._kill()
                            return None, "The kernel broke the executor's protocol."
                    elif frame.get("t") == "done" and frame.get("index") != index:
                        self._kill()
                        return None, "The kernel broke the executor's protocol."
                    else:
                        return frame, "timeout" if timed_out else None
                self._release()
                if eof:
                    self._drain_raw()
                    return None, self._death()
            self._release()
            if self._exited() is not None:
                self._drain_raw()
                return None, self._death()
            if self.pending is not None and time.monotonic() >= self.pending[2] + _FLUSH_S:
                self.flush()

    def _read_raw(self, fd: int, limit: int = 65536) -> bool:
        """Read what one of the kernel's stdout/stderr pipes holds; False when empty."""
        try:
            data = os.read(fd, limit)
        except BlockingIOError:
            return False
        if not data:  # closed: the kernel (and all it started) is gone
            del self.raw[fd]
            return False
        self.raw_read[fd] = self.raw_read.get(fd, 0) + len(data)
        if self.cell is not None:
            if not self.held.get(fd):  # the first bytes waiting go after those already waiting
                self.held.pop(fd, None)
            self.held.setdefault(fd, bytearray()).extend(data)
        return True

    def _release(self, fd: int | None = None, upto: int | None = None) -> None:
        """Pass on what was read from the output pipes (``fd``'s only, up to its
        ``upto``-th byte written, when given) as the running cell's output."""
        for held_fd, held in self.held.items():
            if fd is not None and held_fd != fd:
                continue
            first = self.raw_read[held_fd] - len(held)  # how far into the pipe held starts
            n = len(held) if upto is None else max(0, min(len(held), upto - first))
            if n:
                name = self.names[held_fd]
                data = bytes(held[:n])
                del held[:n]
                if self.cell is not None:
                    self.stream(name, self.decoders[name].decode(data))

    def _drain_raw(self, frame: Json | None = None) -> None:
        """Everything the kernel wrote before its last message is in the pipes already:
        read it before going on. A message from a running cell says how many bytes its
        stdout and stderr had written (``o``): read exactly up to there, so what the cell
        prints after, say, a ``clear_output`` is never taken as printed before it. At the
        end of a cell (or with no count) read what is there, bounded, since a background
        process may still be writing."""
        counts = frame.pop("o", None) if frame is not None else None
        if frame is not None and frame.get("t") == "done":
            counts = None
        if isinstance(counts, list) and len(counts) == 2:
            for fd, name in self.names.items():
                written = counts[0 if name == "stdout" else 1]
                if not isinstance(written, int):
                    continue
                for _ in range(64):
                    need = written - self.raw_read.get(fd, 0)
                    if need <= 0 or fd not in self.raw or not self._read_raw(fd, min(need, 65536)):
                        break
                self._release(fd, written)
            return
        for fd in list(self.raw):
            for _ in range(16):
                if not self._read_raw(fd):
                    break
        self._release()

    def _exited(self) -> int | None:
        if self.pid <= 0:
            return None
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        self.pid, self.status = -1, status
        return status

    def _death(self) -> str:
        if self.status is None and self.pid > 0:
            _, self.status = os.waitpid(self.pid, 0)
            self.pid = -1
        status = self.status
        if status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return f"The kernel died (killed by signal {sig}, {signal.Signals(sig).name})."
        code = os.WEXITSTATUS(status) if status is not None else None
        return f"The kernel died (it exited with status {code})."

    def _kill(self) -> None:
        if self.pid > 0:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(OSError):
                    kill(self.pid, signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)
            self.pid = -1


# ----------------------------------------------------------------- entry point


def _not_dumpable() -> None:
    """Keep the kernel (same uid) out of /proc/<supervisor>/fd and /mem."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a notebook headless, cell by cell.")
    parser.add_argument("notebook")
    parser.add_argument("--allow-errors", action="store_true", help="go on after a cell raises")
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=0,
        help="seconds a cell may run before it is interrupted (0: no limit)",
    )
    parser.add_argument(
        "--deadline", type=float, default=0, help="seconds the whole run may take (0: no limit)"
    )
    parser.add_argument("--max-output-bytes", type=int, default=nbe.DEFAULT_OUTPUT_BYTES)
    parser.add_argument("--output", help="also write the executed notebook here")
    parser.add_argument("--progress-fd", type=int, default=1)
    args = parser.parse_args(argv)
    fd = args.progress_fd

    def invalid(message: str) -> int:
        line = {
            "event": "done",
            "status": "invalid",
            "message": message,
            "errors": 0,
            "truncated": False,
            "exit_code": nbe.EXIT_INVALID,
        }
        os.write(fd, (json.dumps(line) + "\n").encode())
        return nbe.EXIT_INVALID

    try:
        with open(args.notebook, "rb") as fh:
            nb = json.loads(fh.read())
    except OSError as exc:
        return invalid(f"the notebook cannot be read: {exc.strerror}")
    except ValueError as exc:
        return invalid(f"the notebook is not valid JSON: {exc}")
    problem = nbe.check_notebook(nb)
    if problem is not None:
        return invalid(problem)
    os.chdir(os.path.dirname(os.path.abspath(args.notebook)))
    _not_dumpable()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the reader went away: stop at once
    return _Supervisor(nb, args, fd).run()


if __name__ == "__main__":
    sys.exit(main())
