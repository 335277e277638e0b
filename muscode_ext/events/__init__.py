"""Event buses behind one small interface (output, notices, control)."""

from .base import Event, EventBus
from .memory import InProcessEventBus

__all__ = ["Event", "EventBus", "InProcessEventBus"]
