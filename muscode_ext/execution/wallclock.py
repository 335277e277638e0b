"""The wall-clock limit of one run, the same for both backends, and for an interactive
run the pause while the program waits for input.

A run whose stdin is given up front has one timer: ``wall_time_ms`` after the start
the run is stopped. An interactive run (stdin fed live, chunk by chunk) must not die
while the student has not typed yet, so the host tracks its own side of the program's
stdin: the clock pauses when everything the source gave has been passed to the program
(nothing pending in the host's write, and the backend's ``drained`` says the pipe or
socket holds nothing the program has not taken) and the source has nothing new yet. It
starts again the moment new input arrives, or for good when the source ends (the
program then reads end of file and cannot wait for input any more). One pause is
capped by ``idle_ms``; passing it stops the run with ``limit_hit = "idle"``.

The host cannot see what the program does with input it took: a program that took
its input and then sleeps without reading looks the same as one waiting for more, and
is stopped by ``idle_ms`` rather than ``wall_time_ms``. CPU time is limited as always.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .base import LimitHit, Limits

#: How often to look whether the program has taken what was written to its stdin.
DRAIN_POLL_S = 0.02


class WallClock:
    """Calls ``on_limit("wall_time")`` once the run's counted wall time passes
    ``limits.wall_time_ms``, or ``on_limit("idle")`` when one wait for input passes
    ``limits.idle_ms``. Without ``drained`` (stdin given up front) it never pauses.

    The stdin feeder reports through :meth:`awaiting_input`, :meth:`input_arrived` and
    :meth:`input_ended`; ``drained()`` is True when the program has taken everything
    written to its stdin so far.
    """

    def __init__(
        self,
        limits: Limits,
        on_limit: Callable[[LimitHit], None],
        drained: Callable[[], bool] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.limit_s = limits.wall_time_ms / 1000
        self.idle_s = limits.idle_ms / 1000
        self.on_limit = on_limit
        self.drained = drained
        self.started = self.loop.time()
        #: Wall seconds counted before the current stretch.
        self.counted = 0.0
        #: Start of the stretch being counted, None while paused.
        self.since: float | None = self.started
        self.paused_at = 0.0
        #: Seconds spent waiting for input, all pauses together.
        self.waited = 0.0
        self.source_idle = False
        self.ended = drained is None
        self.stopped = False
        self.timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.limit_s, self._fire, "wall_time"
        )
        self.poll: asyncio.TimerHandle | None = None

    @property
    def input_wait_ms(self) -> int:
        """Milliseconds the clock was paused, the current pause included."""
        waited = self.waited
        if self.since is None and not self.stopped:
            waited += self.loop.time() - self.paused_at
        return round(waited * 1000)

    @property
    def waiting(self) -> bool:
        """True while paused: the program waits for input."""
        return self.since is None

    # -- what the stdin feeder reports

    def awaiting_input(self) -> None:
        """Everything the source gave has been written; the feeder waits for more."""
        if self.ended or self.stopped:
            return
        self.source_idle = True
        self._check()

    def input_arrived(self) -> None:
        """The source gave a new chunk: the program is no longer waiting for it."""
        self.source_idle = False
        self._resume()

    def input_ended(self) -> None:
        """The source ended (or failed): the program reads end of file from now on."""
        self.ended = True
        self.source_idle = False
        self._resume()

    def stop(self) -> None:
        """The run is over: no timer fires any more (idempotent)."""
        if self.stopped:
            return
        if self.since is None:
            self.waited += self.loop.time() - self.paused_at
        self.stopped = True
        self._cancel_timers()

    # -- inside

    def _check(self) -> None:
        self.poll = None
        if self.stopped or self.ended or not self.source_idle or self.since is None:
            return
        assert self.drained is not None
        if self.drained():
            self._pause()
        else:
            self.poll = self.loop.call_later(DRAIN_POLL_S, self._check)

    def _pause(self) -> None:
        now = self.loop.time()
        assert self.since is not None
        self.counted += now - self.since
        self.since = None
        self.paused_at = now
        self._cancel_timers()
        self.timer = self.loop.call_later(self.idle_s, self._fire, "idle")

    def _resume(self) -> None:
        if self.stopped:
            return
        if self.poll is not None:
            self.poll.cancel()
            self.poll = None
        if self.since is not None:
            return
        now = self.loop.time()
        self.waited += now - self.paused_at
        self.since = now
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(
            max(0.0, self.limit_s - self.counted), self._fire, "wall_time"
        )

    def _cancel_timers(self) -> None:
        for handle in (self.timer, self.poll):
            if handle is not None:
                handle.cancel()
        self.timer = self.poll = None

    def _fire(self, reason: LimitHit) -> None:
        self.timer = None
        if not self.stopped:
            self.on_limit(reason)
