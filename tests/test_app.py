"""Start-up as an operator sees it: `jupyter muscode`, its refusals, `db upgrade`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from muscode_ext.store import upgrade
from muscode_ext.store.db import schema_state

from .conftest import _pg_admin, _pg_url, need_service

BIN = Path(sys.executable).parent
SECRET = "startup-test-secret-" + "f" * 32
# Servers started as processes take a minute to answer on a busy machine.
pytestmark = pytest.mark.timeout(600)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSCODE_", "JUPYTER"))}
    env.update(
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        MUSCODE_JWT_SECRET=SECRET,
    )
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _muscode(*args: str) -> list[str]:
    return [str(BIN / "jupyter-muscode"), *args]


def _serve(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen(
        _muscode(
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--allow-root",
            "--ServerApp.token=t0k3n",
            *args,
        ),
        env=_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return proc, port


def _health(proc: subprocess.Popen[bytes], port: int, timeout: float = 150) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            url = f"http://127.0.0.1:{port}/api/muscode/v1/health"
            with urllib.request.urlopen(url, timeout=2) as r:
                return dict(json.loads(r.read()))
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not answer /health in time")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def pg_empty() -> Iterator[str]:
    try:
        conn = _pg_admin()
    except Exception as e:
        need_service("PostgreSQL", str(e))
    name = f"muscode_app_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_extension_is_enabled_after_install(tmp_path: Path) -> None:
    out = subprocess.run(
        [str(BIN / "jupyter"), "server", "extension", "list"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = out.stdout + out.stderr
    assert "muscode_ext" in text and "enabled" in text and "OK" in text, text


def test_jupyter_muscode_serves_the_api_with_server_options(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path)
    try:
        health = _health(proc, port)
        assert health["checks"]["database"] == "ok"  # type: ignore[index]
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/muscode/v1/me", headers={"Authorization": "token t0k3n"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            me = json.loads(r.read())
        assert me["admin"] is True
    finally:
        _stop(proc)
    assert (tmp_path / "data" / "muscode" / "muscode.sqlite").exists()


@pytest.mark.parametrize("secret", ["", "changeme", "too-short"])
def test_refuses_to_start_with_a_weak_secret(tmp_path: Path, secret: str) -> None:
    out = subprocess.run(
        _muscode("--no-browser", "--allow-root"),
        env=_env(tmp_path, MUSCODE_JWT_SECRET=secret),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "MUSCode cannot start" in out.stderr
    assert "MUSCODE_JWT_SECRET" in out.stderr


def test_a_weak_secret_is_fine_when_tokens_are_off(tmp_path: Path) -> None:
    proc, port = _serve(
        tmp_path, "--MuscodeApp.allow_bearer_tokens=False", MUSCODE_JWT_SECRET="changeme"
    )
    try:
        assert _health(proc, port)["status"] in ("ok", "degraded")
    finally:
        _stop(proc)


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    env = {k: v for k, v in _env(tmp_path).items() if k != "MUSCODE_JWT_SECRET"}
    proc, _port = _serve(tmp_path)
    proc.terminate()
    proc.wait(10)
    code = "from muscode_ext.app import MuscodeApp; a = MuscodeApp(); print(a.jwt_secret)"
    first = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    second = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert len(first) >= 32 and first == second
    secret_file = tmp_path / "data" / "muscode" / "jwt_secret"
    assert secret_file.stat().st_mode & 0o077 == 0


def test_postgres_behind_is_refused_until_db_upgrade(tmp_path: Path, pg_empty: str) -> None:
    upgrade(pg_empty, "0001")
    out = subprocess.run(
        _muscode("--no-browser", "--allow-root", f"--MuscodeApp.db_url={pg_empty}"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "jupyter muscode db upgrade" in out.stderr
    assert "behind" in out.stderr
    assert schema_state(pg_empty)[0] == "0001"  # nothing was touched

    current = subprocess.run(
        _muscode("db", "current", f"--db-url={pg_empty}"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "behind" in current.stdout, current.stdout + current.stderr
    up = subprocess.run(
        _muscode("db", "upgrade", f"--db-url={pg_empty}"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 0, up.stderr
    assert "upgraded from 0001" in up.stdout
    current, head = schema_state(pg_empty)
    assert current == head

    proc, port = _serve(tmp_path, f"--MuscodeApp.db_url={pg_empty}")
    try:
        assert _health(proc, port)["checks"]["database"] == "ok"  # type: ignore[index]
    finally:
        _stop(proc)


def test_empty_postgres_is_created_on_first_start(tmp_path: Path, pg_empty: str) -> None:
    proc, port = _serve(
        tmp_path, MUSCODE_DB_URL=pg_empty.replace("postgresql+psycopg", "postgresql")
    )
    try:
        assert _health(proc, port)["checks"]["database"] == "ok"  # type: ignore[index]
    finally:
        _stop(proc)
    current, head = schema_state(pg_empty)
    assert current == head


def test_old_sqlite_is_upgraded_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0001")
    proc, port = _serve(tmp_path, f"--MuscodeApp.db_url={url}")
    try:
        _health(proc, port)
    finally:
        _stop(proc)
    assert schema_state(url)[0] == schema_state(url)[1]


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        _muscode("--no-browser", "--allow-root", "--MuscodeApp.db_url=mysql://root@localhost/x"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "unsupported database" in out.stderr
