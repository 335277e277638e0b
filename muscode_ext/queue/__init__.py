"""Job queues behind one small interface."""

from .base import BULK, INTERACTIVE, LANES, JobHandler, Lane, Queue
from .memory import InProcessQueue

__all__ = ["BULK", "INTERACTIVE", "LANES", "InProcessQueue", "JobHandler", "Lane", "Queue"]
