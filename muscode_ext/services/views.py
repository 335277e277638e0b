"""JSON views of stored objects, shared by the API and the workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..store import Execution


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


_EMPTY_RESULT: dict[str, Any] = {
    "exit_code": None,
    "signal": None,
    "stdout": "",
    "stderr": "",
    "stdout_base64": None,
    "stderr_base64": None,
    "compile_output": "",
    "truncated": {"stdout": False, "stderr": False},
    "time_ms": None,
    "wall_time_ms": None,
    "memory_kb": None,
}


def execution_json(row: Execution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "verdict": row.verdict,
        "language": row.language,
        "project_id": row.project_id,
        "owner": row.owner,
        "limits": row.request.get("limits"),
        **_EMPTY_RESULT,
        **(row.result or {}),
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "message": row.message,
    }
    # "tests" appears exactly when tests were given (empty until the run is done).
    if row.request.get("tests") is not None:
        out["tests"] = out.get("tests") or []
    else:
        out.pop("tests", None)
    # "notebook" and "cells" appear exactly for notebook runs (null and empty until done).
    if row.request.get("notebook") is not None:
        out["notebook"] = row.notebook
        out["cells"] = out.get("cells") or []
    else:
        out.pop("cells", None)
    return out
