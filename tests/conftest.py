"""Shared fixtures: a real Jupyter Server with MUSCode, on SQLite and on PostgreSQL.

Every test that uses ``api`` (or ``jp_fetch``) runs twice: once on the embedded SQLite
default and once on a fresh PostgreSQL database. With ``CI=true`` an unreachable
PostgreSQL fails those tests instead of skipping them.

``api`` validates every response against ``muscode_ext/openapi.yaml``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from muscode_ext.auth import TokenAuthority

pytest_plugins = ["pytest_jupyter.jupyter_server"]

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "muscode-test-secret-" + "0123456789abcdef" * 2
PG_URL = os.environ.get("MUSCODE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI") == "true"
API = "api/muscode/v1"


def need_service(what: str, why: str) -> None:
    """Skip locally, fail in CI: CI must run every integration test."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration services are required)")
    pytest.skip(message)


def need_bubblewrap() -> None:
    """Tests that run programs on the local sandbox need bwrap."""
    if shutil.which("bwrap") is None:
        need_service("bubblewrap", "the local sandbox needs the bwrap command")


@pytest.fixture
def bubblewrap() -> None:
    """``pytestmark = pytest.mark.usefixtures("bubblewrap")`` for modules that run code."""
    need_bubblewrap()


def forged(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with the bearer token's signature changed (a forged token)."""
    good = headers["Authorization"]
    return {"Authorization": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")}


# -- PostgreSQL ---------------------------------------------------------------------


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)


def _pg_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test gets a copy of it."""
    try:
        conn = _pg_admin()
    except Exception as e:
        need_service("PostgreSQL", f"{PG_URL}: {e}")
    name = f"muscode_tmpl_{os.getpid()}"
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    from muscode_ext.store import upgrade

    upgrade(_pg_url(name))
    yield name
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test; dropped afterwards."""
    template = request.getfixturevalue("pg_template")
    name = f"muscode_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'muscode.sqlite'}"


# -- the server ---------------------------------------------------------------------


@pytest.fixture
def muscode_config() -> dict[str, Any]:
    """Extra ``MuscodeApp`` settings for one test (override or update it)."""
    return {}


@pytest.fixture
def jp_server_config(db_url: str, muscode_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"muscode_ext": True, "jupyter_server_terminals": False},
            # Every handler must authenticate on its own: nothing is let through.
            "allow_unauthenticated_access": False,
        },
        "MuscodeApp": {
            "db_url": db_url,
            "jwt_secret": JWT_SECRET,
            "embedded_user": "owner",
            **muscode_config,
        },
    }


@pytest.fixture(scope="session")
def openapi_spec() -> OpenAPI:
    return OpenAPI.from_file_path(str(ROOT / "muscode_ext" / "openapi.yaml"))


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Calls the MUSCode API of the test server; checks replies against the OpenAPI."""

    def __init__(self, jp_fetch: Any, spec: OpenAPI, base_url: str) -> None:
        self._fetch = jp_fetch
        self._spec = spec
        self._base_path = unquote(base_url).rstrip("/")

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        validate: bool = True,
    ) -> Reply:
        headers = dict(headers or {})
        data: bytes | None = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
            headers.setdefault("Content-Type", "application/json")
        elif body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        parts = [API, *path.strip("/").split("/")] if path.strip("/") else [API]
        response = await self._fetch(
            *parts,
            method=method,
            body=data,
            headers=headers,
            params=params,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        reply = Reply(response.code, response.headers, response.body or b"")
        if validate:
            self._validate(method, response.effective_url, reply, headers)
        return reply

    def _validate(self, method: str, url: str, reply: Reply, headers: dict[str, str]) -> None:
        path = unquote(urlsplit(url).path)
        assert path.startswith(self._base_path + "/api/muscode/v1"), path
        path = path[len(self._base_path) :]
        content_type = (reply.headers.get("Content-Type") or "").split(";")[0]
        request = MockRequest("http://localhost", method.lower(), path, headers=headers)
        response = MockResponse(
            # openapi-core checks a text body (CSV) as a string, not as bytes
            reply.body.decode() if content_type.startswith("text/") else reply.body,
            status_code=reply.status,
            headers=dict(reply.headers),
            content_type=content_type,
        )
        self._spec.validate_response(request, response)
        if reply.status >= 400 and not path.endswith("/health"):
            err = reply.json
            assert err["message"] and err["reason"], err


@pytest.fixture
def api(jp_fetch: Any, openapi_spec: OpenAPI, jp_base_url: str) -> Client:
    return Client(jp_fetch, openapi_spec, jp_base_url)


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(JWT_SECRET)


@pytest.fixture
def bearer(authority: TokenAuthority) -> Any:
    """``bearer("alice")`` → headers carrying a MUSCode token for alice."""

    def make(
        name: str,
        scopes: tuple[str, ...] = ("execute", "projects", "classes:read"),
        expires_in: timedelta = timedelta(minutes=10),
        jti: str | None = None,
    ) -> dict[str, str]:
        token, _ = authority.issue(name, scopes, expires_in=expires_in, jti=jti)
        return {"Authorization": f"Bearer {token}"}

    return make
