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

Channels of finished runs expire (``retention`` seconds after ``done``).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]


class EventBus(abc.ABC):
    name: str = ""

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
        """Send a control message (stdin, eof, cancel) to the run's worker."""

    @abc.abstractmethod
    def controls(self, execution_id: str) -> AsyncIterator[Event]:
        """Control messages for one run, from its start, in order (never ends itself)."""

    @abc.abstractmethod
    async def finished(self, execution_id: str) -> None:
        """The run is done: its channels may expire after the retention time."""

    async def check(self) -> str | None:
        """None when the bus works, else a sentence saying why not."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and timers."""
