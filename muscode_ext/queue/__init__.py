"""Job queues behind one small interface."""

from .base import JobHandler, Queue
from .memory import InProcessQueue

__all__ = ["InProcessQueue", "JobHandler", "Queue"]
