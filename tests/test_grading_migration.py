"""Revision 0006: grading runs name their submission in a column, not in their request.

A database of 0005 with grading runs in it (one done, one of a regrade still queued,
one whose submission is gone) is upgraded: every link survives, on SQLite and on
PostgreSQL, and a downgrade puts the request's "grading" back as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, create_engine, text

from muscode_ext.store import upgrade
from muscode_ext.store.db import alembic_config, sync_url

from .conftest import _pg_admin, _pg_url, need_service

GRADER = "muscode/grader"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
        return
    try:
        conn = _pg_admin()
    except Exception as e:
        need_service("PostgreSQL", str(e))
    name = f"muscode_mig_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine(url: str) -> Engine:
    return create_engine(sync_url(url))


REQUEST = {"files": [], "main": "main.py", "stdin": "", "tests": [], "limits": {}}


def _seed_0005(engine: Engine) -> None:
    """One class, one assignment, two submissions and three grading runs, as 0005
    stored them; and one ordinary run of a student."""
    meta = MetaData()
    meta.reflect(engine)
    users, classes, assignments, submissions, executions = (
        meta.tables[n] for n in ("users", "classes", "assignments", "submissions", "executions")
    )
    now = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
    with engine.begin() as c:
        c.execute(
            users.insert(),
            [{"name": n, "created_at": now, "last_seen_at": now} for n in ("ines", "sam", GRADER)],
        )
        c.execute(classes.insert().values(id="c1", slug="cs", name="CS", term="", created_at=now))
        c.execute(
            assignments.insert().values(
                id="a1",
                class_id="c1",
                title="A",
                description="",
                language="python",
                starter_files=[],
                tests=[],
                late_policy={},
                published=True,
                created_by="ines",
                created_at=now,
                updated_at=now,
            )
        )
        c.execute(
            submissions.insert(),
            [
                {
                    "id": sid,
                    "assignment_id": "a1",
                    "student": "sam",
                    "attempt": attempt,
                    "files": [],
                    "main": "main.py",
                    "submitted_at": now,
                    "late": False,
                    "days_late": 0,
                    "execution_id": run,
                    "status": "grading",
                    "max_score": 0.0,
                }
                for sid, attempt, run in (("s1", 1, "r2"), ("s2", 2, "r3"))
            ],
        )
        runs = [
            # s1's first grading run, done; s1 was regraded since (r2 is its run now).
            ("r1", GRADER, "done", {"submission_id": "s1", "assignment_id": "a1", "notify": []}),
            ("r2", GRADER, "done", {"submission_id": "s1", "assignment_id": "a1", "notify": []}),
            # The regrade of s2 that ines asked for, still queued.
            (
                "r3",
                GRADER,
                "queued",
                {"submission_id": "s2", "assignment_id": "a1", "notify": ["ines"]},
            ),
            # A grading run whose submission was deleted (the queue was down).
            ("r4", GRADER, "done", {"submission_id": "gone", "assignment_id": "a1", "notify": []}),
            # Not a grading run.
            ("r5", "sam", "done", None),
        ]
        c.execute(
            executions.insert(),
            [
                {
                    "id": rid,
                    "owner": owner,
                    "language": "python",
                    "status": status,
                    "request": {**REQUEST, "grading": grading} if grading else REQUEST,
                    "created_at": now,
                    "attempts": 0,
                }
                for rid, owner, status, grading in runs
            ],
        )


def _runs(engine: Engine) -> dict[str, tuple[str | None, dict[str, Any]]]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, submission_id, request FROM executions")).all()
    return {rid: (sid, req if isinstance(req, dict) else json.loads(req)) for rid, sid, req in rows}


def test_upgrade_keeps_each_grading_runs_submission(empty_url: str) -> None:
    upgrade(empty_url, "0005")
    engine = _engine(empty_url)
    try:
        _seed_0005(engine)
        upgrade(empty_url, "0006")
        runs = _runs(engine)
        assert {rid: sid for rid, (sid, _) in runs.items()} == {
            "r1": "s1",
            "r2": "s1",
            "r3": "s2",
            "r4": None,  # its submission is gone: no dangling link
            "r5": None,
        }
        # The request holds what to run, nothing about grading any more.
        assert all("grading" not in req for _, req in runs.values())
        assert all(req["main"] == "main.py" for _, req in runs.values())
        with engine.connect() as c:
            regraded = dict(c.execute(text("SELECT id, regraded_by FROM submissions")).all())
        assert regraded == {"s1": None, "s2": "ines"}

        # Deleting a submission unlinks its runs rather than failing.
        with engine.begin() as c:
            if engine.dialect.name == "sqlite":
                c.exec_driver_sql("PRAGMA foreign_keys=ON")
            c.execute(text("DELETE FROM submissions WHERE id = 's1'"))
        assert _runs(engine)["r1"][0] is None and _runs(engine)["r2"][0] is None

        # And back: the request carries its grading context again.
        cfg = alembic_config(empty_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with engine.connect() as c:
            rows = c.execute(text("SELECT id, request FROM executions")).all()
        back = {rid: req if isinstance(req, dict) else json.loads(req) for rid, req in rows}
        assert back["r3"]["grading"] == {
            "submission_id": "s2",
            "assignment_id": "a1",
            "notify": ["ines"],
        }
        # s1 is gone, so r1 and r2 grade nothing any more; r5 never did.
        assert all("grading" not in back[rid] for rid in ("r1", "r2", "r4", "r5"))
    finally:
        engine.dispose()
