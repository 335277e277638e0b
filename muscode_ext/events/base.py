"""The event bus contract: what flows between the process running a program and the
processes serving its websockets.

Three kinds of channel:

- a run's **output channel** (``publish``/``subscribe``): status, stdout, stderr and
  done events, each with a sequence number ``seq`` (1, 2, ...). A subscriber gets every
  event from the first (replay), then the live rest, in order, without gaps or
  duplicates; the iteration ends after the ``done`` event;
- a user's **notice channel** (``notify``/``notices``): run status changes and
  project/file change notices for ``GET /events`` (live only, no replay);
- a run's **control channel** (``control``/``controls``): stdin chunks, end of input
  and cancel requests from any server process to whichever worker runs the program.

Channels of finished runs expire (``retention`` seconds after ``done``). An event bus
is a configurable part: ``c.EventBus.retention`` sets every bus's.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any

from traitlets import Float, Int

from ..configurable import Part
from ..errors import TooLarge

Event = dict[str, Any]

#: Why a control message was refused: too many wait for the run's worker.
CONTROL_BACKLOG_FULL = "stdin_backlog_full"


class EventBus(Part):
    name: str = ""

    retention = Float(
        300.0,
        help="""Seconds a finished run's output stays replayable (a websocket that
        connects late still gets it all); after that, its record in the database answers.""",
    ).tag(config=True)

    max_control_backlog = Int(
        64,
        help="""Most control messages (stdin chunks, end of input, cancel) of one run that
        may wait for its worker to take them; one more is refused with an error
        (reason stdin_backlog_full). With messages of at most Sockets.max_message_size
        bytes, this bounds what a run's control channel holds.""",
    ).tag(config=True)

    max_replay_bytes = Int(
        8 * 1024 * 1024,
        help="""Most bytes of output (plus 100 per event) a run's channel keeps for
        replay. Past it, further stdout and stderr events are not kept or sent live:
        subscribers get one {"type": "error", "reason": "replay_full"} event, and the
        run's final result still carries its output (up to its output_kb limit).""",
    ).tag(config=True)

    max_pending_notices = Int(
        1000,
        help="""Most notices one /events socket may have waiting to be sent (a client
        that does not read); further ones are dropped for that socket, with a log line.""",
    ).tag(config=True)

    @abc.abstractmethod
    async def publish(self, execution_id: str, event: Event) -> int:
        """Append ``event`` (``{"type": ..., ...}``) to the run's channel; return its seq."""

    @abc.abstractmethod
    def subscribe(self, execution_id: str, after: int = 0) -> AsyncIterator[Event]:
        """Events with ``seq > after``, then live ones, ending after ``done``."""

    @abc.abstractmethod
    async def notify(self, user: str, event: Event) -> None:
        """Send a notice to ``user``'s live subscribers."""

    @abc.abstractmethod
    def notices(self, user: str) -> AsyncIterator[Event]:
        """Live notices for ``user`` (from now on; never ends by itself)."""

    @abc.abstractmethod
    async def control(self, execution_id: str, message: Event) -> None:
        """Send a control message (stdin, eof, cancel) to the run's worker.

        Raises :class:`~muscode_ext.errors.TooLarge` (reason ``stdin_backlog_full``)
        when ``max_control_backlog`` messages already wait for it."""

    @abc.abstractmethod
    def controls(self, execution_id: str) -> AsyncIterator[Event]:
        """Control messages for one run, from its start, in order (never ends itself)."""

    @abc.abstractmethod
    async def finished(self, execution_id: str) -> None:
        """The run is done: its channels may expire after the retention time."""

    async def check(self) -> str | None:
        """None when the bus works, else a sentence saying why not."""
        return None

    async def close(self) -> None:
        """Release connections and timers."""


def replay_full(limit: int) -> Event:
    """The event that tells subscribers a run's channel stopped keeping output."""
    return {
        "type": "error",
        "reason": "replay_full",
        "message": (
            f"this run printed more than the live channel keeps ({limit} bytes); "
            "the rest of its output is in its final result"
        ),
    }


def backlog_full(execution_id: str, limit: int) -> TooLarge:
    """The error a control message gets when too many wait for the run's worker."""
    return TooLarge(
        f"stdin not sent: execution {execution_id} already has {limit} messages waiting "
        "for the program; send more once it has read them",
        reason=CONTROL_BACKLOG_FULL,
    )
