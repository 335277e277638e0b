"""Revision 0007: reference solutions, extensions, archived classes, stale grades.

A database of 0006 with a class, an assignment and two submissions (one overridden)
is upgraded on SQLite and on PostgreSQL: nothing is lost, the override records the
maximum it was given against, the new columns start empty, extensions can be stored
(and go with their assignment); and a downgrade drops all of it again.
"""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from sqlalchemy import Engine, MetaData, create_engine, inspect, text

from muscode_ext.store import upgrade
from muscode_ext.store.db import alembic_config, sync_url

from .test_grading_migration import empty_url  # noqa: F401 - fixture

NOW = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)


def _engine(url: str) -> Engine:
    return create_engine(sync_url(url))


def _seed_0006(engine: Engine) -> None:
    meta = MetaData()
    meta.reflect(engine)
    users, classes, assignments, submissions = (
        meta.tables[n] for n in ("users", "classes", "assignments", "submissions")
    )
    with engine.begin() as c:
        c.execute(
            users.insert(),
            [{"name": n, "created_at": NOW, "last_seen_at": NOW} for n in ("ines", "sam")],
        )
        c.execute(classes.insert().values(id="c1", slug="cs", name="CS", term="", created_at=NOW))
        c.execute(
            assignments.insert().values(
                id="a1",
                class_id="c1",
                title="A",
                description="",
                language="python",
                starter_files=[],
                tests=[{"name": "t", "stdin": "", "expected_output": "1", "points": 5}],
                late_policy={},
                published=True,
                created_by="ines",
                created_at=NOW,
                updated_at=NOW,
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
                    "submitted_at": NOW,
                    "late": False,
                    "days_late": 0,
                    "status": "graded",
                    "max_score": 5.0,
                    "raw_score": 0.0,
                    "score": score,
                    "override_score": override,
                }
                for sid, attempt, score, override in (("s1", 1, 4.0, 4.0), ("s2", 2, 0.0, None))
            ],
        )


def test_upgrade_and_downgrade(empty_url: str) -> None:  # noqa: F811
    upgrade(empty_url, "0006")
    engine = _engine(empty_url)
    try:
        _seed_0006(engine)
        upgrade(empty_url, "0007")
        with engine.connect() as c:
            subs = {
                sid: (score, override, given_max, fingerprint)
                for sid, score, override, given_max, fingerprint in c.execute(
                    text(
                        "SELECT id, score, override_score, override_max, tests_fingerprint "
                        "FROM submissions"
                    )
                )
            }
            archived = c.execute(text("SELECT archived_at FROM classes")).scalar_one()
            reference, run, fingerprint = c.execute(
                text(
                    "SELECT reference_files, verification_run_id, verification_fingerprint "
                    "FROM assignments"
                )
            ).one()
        # The override was given against the submission's maximum of then.
        assert subs == {"s1": (4.0, 4.0, 5.0, None), "s2": (0.0, None, None, None)}
        assert archived is None and reference is None and run is None and fingerprint is None

        # An extension is stored, and goes with its assignment.
        with engine.begin() as c:
            if engine.dialect.name == "sqlite":
                c.exec_driver_sql("PRAGMA foreign_keys=ON")
            c.execute(
                text(
                    "INSERT INTO extensions (assignment_id, student, due_at, granted_by, "
                    "granted_at) VALUES ('a1', 'sam', :due, 'ines', :due)"
                ),
                {"due": NOW},
            )
            assert c.execute(text("SELECT count(*) FROM extensions")).scalar_one() == 1
            c.execute(text("DELETE FROM submissions"))
            c.execute(text("DELETE FROM assignments"))
            assert c.execute(text("SELECT count(*) FROM extensions")).scalar_one() == 0

        cfg = alembic_config(empty_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
        found = inspect(engine)
        assert "extensions" not in found.get_table_names()
        assert "archived_at" not in {col["name"] for col in found.get_columns("classes")}
        assert "override_max" not in {col["name"] for col in found.get_columns("submissions")}
        assert "reference_files" not in {col["name"] for col in found.get_columns("assignments")}
    finally:
        engine.dispose()
