"""REST and websocket handlers, one module per resource."""

from __future__ import annotations

from typing import Any

from . import assignments, classes, collab, executions, live, projects, service, tokens


def all_handlers() -> list[tuple[str, Any]]:
    """The handler table of every resource module."""
    return [
        *service.default_handlers,
        *projects.default_handlers,
        *executions.default_handlers,
        *live.default_handlers,
        *classes.default_handlers,
        *tokens.default_handlers,
        *assignments.default_handlers,
        *collab.default_handlers,
    ]
