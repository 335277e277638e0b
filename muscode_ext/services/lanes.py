"""Which lane of the run queue a run goes in (see ``queue.base``).

Runs the server makes on its own by the hundred (grading a submission, a regrade, a
check of an assignment's tests: all owned by :data:`~..names.GRADER`) go in the bulk
lane; a person's or a grader token's runs, which someone waits for, in the
interactive lane, which workers serve first.
"""

from __future__ import annotations

from ..names import GRADER
from ..queue import BULK, INTERACTIVE, Lane


def lane_of(owner: str) -> Lane:
    """The lane of a run owned by ``owner``."""
    return BULK if owner == GRADER else INTERACTIVE
