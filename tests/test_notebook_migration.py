"""Revision 0008: runs keep the executed notebook of a notebook run.

A database of 0007 with a finished run is upgraded on SQLite and on PostgreSQL: the run
is kept, its ``notebook`` starts empty and can hold a notebook; a downgrade drops the
column again and keeps the run.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from alembic import command
from sqlalchemy import Engine, MetaData, create_engine, inspect, text

from muscode_ext.store import upgrade
from muscode_ext.store.db import alembic_config, sync_url

from .test_grading_migration import empty_url  # noqa: F401 - fixture

NOW = datetime(2026, 12, 2, 10, tzinfo=timezone.utc)


def _engine(url: str) -> Engine:
    return create_engine(sync_url(url))


def test_upgrade_and_downgrade(empty_url: str) -> None:  # noqa: F811
    upgrade(empty_url, "0007")
    engine = _engine(empty_url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.begin() as c:
            c.execute(
                meta.tables["users"].insert().values(name="sam", created_at=NOW, last_seen_at=NOW)
            )
            c.execute(
                meta.tables["executions"]
                .insert()
                .values(
                    id="r1",
                    owner="sam",
                    language="python",
                    status="done",
                    verdict="accepted",
                    request={"main": "main.py"},
                    result={"stdout": "hi\n"},
                    attempts=1,
                    created_at=NOW,
                )
            )
        upgrade(empty_url, "0008")
        with engine.connect() as c:
            verdict, notebook = c.execute(
                text("SELECT verdict, notebook FROM executions WHERE id = 'r1'")
            ).one()
        assert (verdict, notebook) == ("accepted", None)
        nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        with engine.begin() as c:
            c.execute(
                text("UPDATE executions SET notebook = :nb WHERE id = 'r1'"),
                {"nb": json.dumps(nb)},
            )
            stored = c.execute(text("SELECT notebook FROM executions")).scalar_one()
        assert (json.loads(stored) if isinstance(stored, str) else stored) == nb

        cfg = alembic_config(empty_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        found = inspect(engine)
        assert "notebook" not in {col["name"] for col in found.get_columns("executions")}
        with engine.connect() as c:
            assert c.execute(text("SELECT verdict FROM executions")).scalar_one() == "accepted"
    finally:
        engine.dispose()
