"""Dependencies that go down give 503 naming them, and MUSCode recovers when they return."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest

from muscode_ext.execution.docker import DockerSandbox

from .conftest import _pg_admin, need_service


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_database_outage_is_503_then_recovers(
    api: Any, db_url: str, pg_template: str
) -> None:
    assert (await api("POST", "projects", {"name": "before", "language": "python"})).status == 201
    name = db_url.rsplit("/", 1)[1]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    down = await api("GET", "projects")
    assert down.status == 503
    assert down.json["reason"] == "database_unavailable"
    health = await api("GET", "health", headers={"Authorization": ""})
    assert health.status == 503
    assert health.json["checks"]["database"] == "unavailable"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    back = await api("GET", "projects")
    assert back.status == 200  # no restart needed
    assert (await api("GET", "health", headers={"Authorization": ""})).status == 200


@pytest.mark.parametrize(
    "muscode_config",
    [{"sandbox_class": DockerSandbox, "docker_url": "unix:///nonexistent/docker.sock"}],
)
async def test_unreachable_docker_engine_is_503_naming_the_executor(api: Any) -> None:
    reply = await api("POST", "executions", {"language": "python", "source": "print(1)"})
    assert reply.status == 503
    assert reply.json["reason"] == "executor_unavailable"
    health = await api("GET", "health", headers={"Authorization": ""})
    assert health.status == 200  # the database is fine: degraded, not down
    assert health.json["status"] == "degraded"
    assert health.json["checks"]["executor"].startswith("unavailable")
    languages = await api("GET", "languages")
    assert not any(lang["available"] for lang in languages.json)


@pytest.fixture
def docker_ready() -> None:
    if shutil.which("docker") is None:
        need_service("Docker", "the docker command is missing")
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.images.get("muscode-runner:latest")
    except Exception as e:
        need_service(
            "Docker", f"engine or runner image missing ({e}); run `bash scripts/setup-docker.sh`"
        )


@pytest.mark.parametrize("muscode_config", [{"sandbox_class": DockerSandbox}])
async def test_the_api_runs_code_in_docker(api: Any, docker_ready: None) -> None:
    languages = {lang["id"]: lang for lang in (await api("GET", "languages")).json}
    assert all(lang["available"] for lang in languages.values()), languages
    runs = {
        "python": "print(input()[::-1])",
        "c": '#include <stdio.h>\nint main(void){char s[64]; scanf("%63s", s);'
        ' printf("%s!\\n", s); return 0;}',
    }
    for language, source in runs.items():
        reply = await api(
            "POST",
            "executions",
            {"language": language, "source": source, "stdin": "abc\n"},
            params={"wait": "true", "timeout": "120"},
        )
        assert reply.status == 200, reply.body
        assert reply.json["verdict"] == "accepted", reply.json
        assert reply.json["stdout"] in ("cba\n", "abc!\n")
    await asyncio.sleep(0)


async def test_a_sqlite_transaction_that_never_ends_makes_others_503_not_hang(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process's SQLite transactions take turns; one that never ends (a bug, a
    stuck call) must make the others fail with the database named, as SQLite's own busy
    timeout would, never wait forever."""
    from muscode_ext.errors import DependencyDown
    from muscode_ext.store import db as db_module

    url = f"sqlite:///{tmp_path}/muscode.sqlite"
    db_module.ensure_schema(url, auto_upgrade=True)
    database = db_module.Database(url)
    monkeypatch.setattr(db_module, "SQLITE_BUSY_SECONDS", 0.5)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with database.session():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    with pytest.raises(DependencyDown) as refused:
        async with database.session():
            pass
    assert refused.value.dependency == "database"
    release.set()
    await holder
    async with database.session():  # and the turn passes on once it ends
        pass
    await database.dispose()


async def test_sqlite_connections_use_wal_with_normal_sync(tmp_path: Any) -> None:
    """The embedded database commits without a disk sync per transaction (WAL syncs at
    checkpoints), keeps foreign keys on, and a committed row survives the process's
    connections closing."""
    from sqlalchemy import text

    from muscode_ext.store import User
    from muscode_ext.store import db as db_module

    url = f"sqlite:///{tmp_path}/muscode.sqlite"
    db_module.ensure_schema(url, auto_upgrade=True)
    database = db_module.Database(url)
    async with database.session() as s:
        pragmas = [
            (await s.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        ]
        s.add(User(name="wal-check"))
    assert pragmas == ["wal", 1, 1]  # synchronous 1 = NORMAL
    await database.engine.dispose()
    reopened = db_module.Database(url)
    async with reopened.session() as s:
        names = (await s.execute(text("SELECT name FROM users"))).scalars().all()
    await reopened.engine.dispose()
    assert "wal-check" in names
