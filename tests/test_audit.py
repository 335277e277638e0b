"""Audit events: class, roster and token changes and runs, as Jupyter events.

The events are caught the way an operator would: a logging handler on the server's
own ``event_logger`` (what ``EventLogger.handlers`` configures), and the JSON-lines
file of ``MuscodeApp.audit_log``; a ``muscode-worker`` writes its run events to it too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from muscode_ext.app import MuscodeApp
from muscode_ext.audit import SCHEMA_IDS, Audit
from muscode_ext.auth import Caller

from .conftest import need_bubblewrap
from .redis_support import REDIS_URL, redis_prefix  # noqa: F401 - fixture
from .test_redis_workers import WORKER_SCRIPT, Workers, wait_until

WRITE = ("execute", "projects", "classes:read", "classes:write")
SCHEMAS = {v: k for k, v in SCHEMA_IDS.items()}


class Captured(logging.Handler):
    """Every event the event logger writes, as the JSON its handlers receive."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = [json.loads(line) for line in self.lines]
        return [e for e in out if kind is None or SCHEMAS.get(e["__schema__"]) == kind]

    def muscode(self) -> list[dict[str, Any]]:
        """MUSCode's events without the envelope, oldest first."""
        return [
            {k: v for k, v in e.items() if not k.startswith("__")}
            for e in self.events()
            if e["__schema__"] in SCHEMAS
        ]


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "audit.jsonl"


@pytest.fixture
def muscode_config(audit_file: Path) -> dict[str, Any]:
    return {"audit_log": str(audit_file)}


@pytest.fixture
def captured(jp_serverapp: Any) -> Iterator[Captured]:
    handler = Captured()
    jp_serverapp.event_logger.register_handler(handler)
    yield handler
    jp_serverapp.event_logger.remove_handler(handler)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text_of(path).splitlines()]


def text_of(path: Path) -> str:
    return path.read_text()


# -- classes and rosters ---------------------------------------------------------------


async def test_class_and_roster_changes_are_events(
    api: Any, bearer: Any, captured: Captured
) -> None:
    ines = bearer("ines", WRITE)
    c = (await api("POST", "classes", {"slug": "cs101", "name": "CS"}, headers=ines)).json
    cid = c["id"]
    body = {"members": [{"name": "sam", "role": "student"}, {"name": "tim", "role": "ta"}]}
    assert (await api("POST", f"classes/{cid}/members", body, headers=ines)).status == 200
    csv = "name,role\numa,\nvic,instructor\n"
    reply = await api(
        "POST",
        f"classes/{cid}/members.csv",
        raw=csv,
        headers={**ines, "Content-Type": "text/csv"},
    )
    assert reply.status == 200
    assert (await api("DELETE", f"classes/{cid}/members/uma", headers=ines)).status == 204
    assert (await api("PATCH", f"classes/{cid}", {"term": "fall"}, headers=ines)).status == 200
    assert (await api("DELETE", f"classes/{cid}", headers=ines)).status == 204

    events = captured.muscode()
    # ines used a bearer token: the events name it by its id (jti).
    assert len({e.pop("token_id") for e in events}) == 1
    who = {"actor": "ines", "via": "token", "outcome": "success"}
    assert events == [
        {"action": "create", **who, "slug": "cs101", "class_id": cid},
        {
            "action": "add",
            **who,
            "class_id": cid,
            "slug": "cs101",
            "members": [{"name": "sam", "role": "student"}, {"name": "tim", "role": "ta"}],
        },
        {
            "action": "import",
            **who,
            "class_id": cid,
            "slug": "cs101",
            "members": [{"name": "uma", "role": "student"}, {"name": "vic", "role": "instructor"}],
        },
        {"action": "remove", **who, "class_id": cid, "slug": "cs101", "members": [{"name": "uma"}]},
        {"action": "update", **who, "class_id": cid, "fields": ["term"]},
        {"action": "delete", **who, "class_id": cid, "slug": "cs101"},
    ]
    kinds = [SCHEMAS[e["__schema__"]] for e in captured.events()]
    assert kinds == ["class", "roster", "roster", "roster", "class", "class"]
    envelope = captured.events()[0]
    assert envelope["__schema__"] == "https://muscode.dev/events/class/v1"
    assert envelope["__schema_version__"] == "1" and envelope["__timestamp__"]


async def test_refused_changes_are_events_with_the_reason(
    api: Any, bearer: Any, captured: Captured
) -> None:
    c = (await api("POST", "classes", {"slug": "cs101", "name": "CS"})).json
    cid = c["id"]
    await api("POST", f"classes/{cid}/members", {"members": [{"name": "sam"}]})
    captured.lines.clear()
    sam, zed = bearer("sam", WRITE), bearer("zed", WRITE)
    assert (await api("PATCH", f"classes/{cid}", {"name": "x"}, headers=sam)).status == 403
    assert (await api("DELETE", f"classes/{cid}", headers=zed)).status == 404
    body = {"members": [{"name": "zed", "role": "instructor"}]}
    assert (await api("POST", f"classes/{cid}/members", body, headers=zed)).status == 404
    bad = "email,role\nok@example.org,student\n"  # no name column
    headers = {"Content-Type": "text/csv"}
    reply = await api("POST", f"classes/{cid}/members.csv", raw=bad, headers=headers)
    assert reply.status == 422 and reply.json["reason"] == "no_name_column"

    events = captured.muscode()
    assert [(e["action"], e["actor"], e["outcome"], e["reason"]) for e in events] == [
        ("update", "sam", "failure", "not_instructor"),
        ("delete", "zed", "failure", "class_not_found"),
        ("add", "zed", "failure", "class_not_found"),
        ("import", "owner", "failure", "no_name_column"),
    ]
    # An attempt by an outsider is recorded by class id only: it learns nothing new.
    assert "slug" not in events[1] and events[1]["class_id"] == cid
    roster = (await api("GET", f"classes/{cid}/members")).json
    assert {m["name"] for m in roster} == {"owner", "sam"}


# -- tokens ------------------------------------------------------------------------------


async def test_token_mint_and_revoke_are_events_without_the_token(
    api: Any, captured: Captured, audit_file: Path
) -> None:
    c = (await api("POST", "classes", {"slug": "cs101", "name": "CS"})).json
    captured.lines.clear()
    body = {"name": "autograder", "scopes": ["grade"], "class_id": c["id"], "expires_in": 600}
    minted = (await api("POST", "tokens", body)).json
    assert (await api("DELETE", f"tokens/{minted['id']}")).status == 204
    assert (await api("DELETE", "tokens/nope")).status == 404

    mint, revoke, missing = captured.muscode()
    common = {
        "actor": "owner",
        "via": "jupyter",
        "subject_token_id": minted["id"],
        "name": "autograder",
        "owner": "owner",
        "scopes": ["grade"],
        "class_id": c["id"],
        "outcome": "success",
    }
    assert mint == {"action": "mint", **common, "expires_at": minted["expires_at"]}
    assert revoke == {"action": "revoke", **common}
    assert missing == {
        "action": "revoke",
        "actor": "owner",
        "via": "jupyter",
        "subject_token_id": "nope",
        "outcome": "failure",
        "reason": "token_not_found",
    }
    # The token is shown once, to its minter, and is in no event or log line.
    assert minted["token"] not in "".join(captured.lines)
    assert minted["token"] not in text_of(audit_file)


async def test_events_of_a_token_name_the_token_used(api: Any, captured: Captured) -> None:
    body = {"name": "script", "scopes": ["classes:read", "classes:write"], "expires_in": 600}
    minted = (await api("POST", "tokens", body)).json
    auth = {"Authorization": f"Bearer {minted['token']}"}
    reply = await api("POST", "classes", {"slug": "cs2", "name": "CS"}, headers=auth)
    assert reply.status == 201
    create = captured.muscode()[-1]
    assert create["action"] == "create"
    assert (create["actor"], create["via"], create["token_id"]) == ("owner", "token", minted["id"])


# -- runs --------------------------------------------------------------------------------

SECRET_SOURCE = "data = input()  # secret-source-marker\nprint(data[::-1])\n"


async def test_a_run_start_and_finish_are_events(
    api: Any, bearer: Any, captured: Captured, audit_file: Path
) -> None:
    need_bubblewrap()
    body = {"language": "python", "source": SECRET_SOURCE, "stdin": "secret-stdin-marker\n"}
    reply = await api(
        "POST", "executions", body, params={"wait": "true", "timeout": "60"}, headers=bearer("sam")
    )
    assert reply.status == 200, reply.body
    run = reply.json
    assert run["verdict"] == "accepted"

    start, finish = captured.events("run")
    assert {k: start[k] for k in ("action", "actor", "run_id", "language", "attempt")} == {
        "action": "start",
        "actor": "sam",
        "run_id": run["id"],
        "language": "python",
        "attempt": 1,
    }
    assert start["queued_ms"] >= 0
    assert finish["action"] == "finish" and finish["run_id"] == run["id"]
    assert (finish["verdict"], finish["outcome"], finish["exit_code"]) == ("accepted", "success", 0)
    assert finish["duration_ms"] >= 0 and finish["time_ms"] == run["time_ms"]
    # Neither the program, its stdin nor its output is recorded.
    for text in ("".join(captured.lines), text_of(audit_file)):
        assert "secret-source-marker" not in text
        assert "secret-stdin-marker" not in text
        assert "rekram-nidts-terces" not in text


async def test_a_run_cancelled_while_queued_has_a_finish_event(
    api: Any, captured: Captured
) -> None:
    need_bubblewrap()
    sleeper = {"language": "python", "source": "import time; time.sleep(30)"}
    blockers = []
    for _ in range(2):  # the server's two workers, busy
        reply = await api("POST", "executions", {**sleeper, "limits": {"wall_time_ms": 40_000}})
        blockers.append(reply.json["id"])
    waiting = (await api("POST", "executions", {"language": "python", "source": "1"})).json
    assert (await api("POST", f"executions/{waiting['id']}/cancel")).status == 200
    for run_id in blockers:
        await api("POST", f"executions/{run_id}/cancel")
    finished = [e for e in captured.events("run") if e["run_id"] == waiting["id"]]
    assert [(e["action"], e["verdict"]) for e in finished] == [("finish", "cancelled")]


async def test_a_run_of_a_project_names_it(api: Any, captured: Captured) -> None:
    need_bubblewrap()
    files = [{"path": "main.py", "content": "print(1/0)\n"}]
    p = (await api("POST", "projects", {"name": "p", "language": "python", "files": files})).json
    reply = await api(
        "POST",
        "executions",
        {"language": "python", "project_id": p["id"]},
        params={"wait": "true", "timeout": "60"},
    )
    assert reply.json["verdict"] == "runtime_error"
    start, finish = captured.events("run")
    assert start["project_id"] == finish["project_id"] == p["id"]
    assert (finish["verdict"], finish["outcome"]) == ("runtime_error", "success")


# -- the log file ------------------------------------------------------------------------


async def test_the_audit_log_gets_json_lines(api: Any, audit_file: Path) -> None:
    c = (await api("POST", "classes", {"slug": "cs101", "name": "CS"})).json
    await api("POST", f"classes/{c['id']}/members", {"members": [{"name": "sam"}]})
    lines = read_lines(audit_file)
    assert [(e["__schema__"], e["action"]) for e in lines] == [
        ("https://muscode.dev/events/class/v1", "create"),
        ("https://muscode.dev/events/roster/v1", "add"),
    ]
    # Jupyter's event envelope on every line; no stray logging fields.
    for e in lines:
        assert set(e) >= {"__timestamp__", "__schema__", "__schema_version__"}
        assert "message" not in e and e["outcome"] == "success"


def test_an_unwritable_audit_log_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    app = MuscodeApp(audit_log=str(blocker / "audit.jsonl"))
    from muscode_ext.app import StartupError

    with pytest.raises(StartupError, match="audit_log"):
        app.make_audit()


async def test_an_event_logger_of_its_own_writes_the_file(tmp_path: Path) -> None:
    """What a worker gets: no Jupyter Server, an event logger made by ``make_audit``."""
    path = tmp_path / "worker-audit.jsonl"
    audit = MuscodeApp(audit_log=str(path)).make_audit()
    caller = Caller(name="ines", admin=False, scopes=frozenset(WRITE), via="hub")
    with audit.recording("class", "create", caller, slug="cs9") as event:
        event["class_id"] = "c1"
    audit.close()
    (line,) = read_lines(path)
    assert line["__schema__"] == SCHEMA_IDS["class"]
    assert (line["actor"], line["via"], line["class_id"]) == ("ines", "hub", "c1")


async def test_events_a_schema_does_not_allow_are_never_emitted(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    audit = Audit()
    audit.log_to_file(str(path))
    # A field no schema lists (say, a token) cannot slip into the log.
    audit.emit("token", {"action": "mint", "actor": "x", "outcome": "success", "token": "t"})
    audit.emit("token", {"action": "mint", "actor": "x", "outcome": "success"})
    audit.close()
    assert [e.get("token") for e in read_lines(path)] == [None]


# -- a worker process --------------------------------------------------------------------


class TestWorker:
    """``muscode-worker`` emits the run events (the server with Redis runs nothing)."""

    @pytest.fixture
    def db_url(self, pg_database: str) -> str:
        return pg_database

    @pytest.fixture
    def muscode_config(self, redis_prefix: str, audit_file: Path) -> dict[str, Any]:  # noqa: F811
        return {
            "redis_url": REDIS_URL,
            "redis_prefix": redis_prefix,
            "audit_log": str(audit_file),
        }

    async def test_a_worker_writes_run_events_to_the_shared_log(
        self,
        api: Any,
        db_url: str,
        redis_prefix: str,  # noqa: F811
        audit_file: Path,
        tmp_path: Path,
        captured: Captured,
    ) -> None:
        need_bubblewrap()
        assert WORKER_SCRIPT.exists(), "reinstall the package: muscode-worker is missing"
        pool = Workers(db_url, REDIS_URL, redis_prefix, tmp_path)
        pool.args.append(f"--MuscodeApp.audit_log={audit_file}")
        try:
            await pool.started()
            reply = await api(
                "POST",
                "executions",
                {"language": "python", "source": SECRET_SOURCE, "stdin": "abc\n"},
                params={"wait": "true", "timeout": "60"},
            )
            assert reply.status == 200 and reply.json["verdict"] == "accepted", reply.body
            run_id = reply.json["id"]

            def run_events() -> list[tuple[str, str]]:
                return [
                    (e["action"], e.get("verdict", ""))
                    for e in read_lines(audit_file)
                    if e["__schema__"] == SCHEMA_IDS["run"] and e["run_id"] == run_id
                ]

            async def both() -> bool:
                return len(run_events()) == 2

            await wait_until(both, 10, "the worker's run events")
            assert run_events() == [("start", ""), ("finish", "accepted")]
            # The server queued it and ran nothing: no run events on its own logger.
            assert captured.events("run") == []
        finally:
            pool.close()
