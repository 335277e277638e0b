"""Fingerprints: what a grade, or a check of the tests, was made against.

A grading run records the fingerprint of what decides its score (the language, the
limits, each test's input, expected output, rule, limits and points). When the
assignment's fingerprint moves on, the grade is *stale*: a regrade is advisable. A run
of the tests on the reference solution records the fingerprint of what decides its
verdicts (the same without points, with the reference's files): when either changes,
the tests are no longer verified.

Pure: a SHA-256 of canonical JSON, no database.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ...execution.compare import DEFAULT_COMPARE
from ...store import Assignment


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _run_of_test(t: dict[str, Any]) -> dict[str, Any]:
    """What decides a test's verdict."""
    return {
        "stdin": t.get("stdin", ""),
        "expected_output": t.get("expected_output"),
        "compare": t.get("compare") or DEFAULT_COMPARE,
        "tolerance": t.get("tolerance"),
        "limits": t.get("limits") or None,
    }


def grading_fingerprint(a: Assignment) -> str:
    """The fingerprint of what decides a submission's score (a notebook assignment's:
    its source notebook and data files)."""
    if a.format == "nbgrader":
        return _digest(
            {
                "language": a.language,
                "limits": a.limits or None,
                "format": a.format,
                "files": sorted((f["path"], f["content"]) for f in a.starter_files),
            }
        )
    return _digest(
        {
            "language": a.language,
            "limits": a.limits or None,
            "tests": [{**_run_of_test(t), "points": float(t.get("points", 0))} for t in a.tests],
        }
    )


def verification_fingerprint(a: Assignment) -> str | None:
    """The fingerprint of what decides the reference solution's verdicts (None when
    the assignment has no reference solution)."""
    if not a.reference_files:
        return None
    return _digest(
        {
            "language": a.language,
            "limits": a.limits or None,
            "tests": [_run_of_test(t) for t in a.tests],
            "reference": sorted((f["path"], f["content"]) for f in a.reference_files),
        }
    )
