"""Service endpoints, the OpenAPI document, and the authentication audit."""

from __future__ import annotations

import inspect
import re
from typing import Any

import yaml
from tornado.websocket import WebSocketHandler

from muscode_ext.handlers import all_handlers
from muscode_ext.handlers.base import MuscodeHandler

from .conftest import ROOT

VERBS = ("get", "post", "put", "patch", "delete")


async def test_health_needs_no_login_and_checks_the_database(api: Any) -> None:
    reply = await api("GET", "health", headers={"Authorization": ""})
    assert reply.status == 200
    assert reply.json["status"] == "ok"
    assert reply.json["checks"]["database"] == "ok"
    assert reply.json["version"]


async def test_me_names_the_embedded_user_as_admin(api: Any) -> None:
    reply = await api("GET", "me")
    assert reply.status == 200
    assert reply.json == {
        "name": "owner",
        "admin": True,
        "scopes": ["admin", "classes:read", "classes:write", "execute", "grade", "projects"],
        "classes": [],
    }


async def test_me_with_a_bearer_token_is_that_user(api: Any, bearer: Any) -> None:
    reply = await api("GET", "me", headers=bearer("alice", ("projects",)))
    assert reply.status == 200
    assert reply.json["name"] == "alice"
    assert reply.json["admin"] is False
    assert reply.json["scopes"] == ["projects"]


async def test_served_openapi_document_is_the_packaged_one(api: Any) -> None:
    reply = await api("GET", "openapi.yaml")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/yaml")
    served = yaml.safe_load(reply.body)
    assert served == yaml.safe_load((ROOT / "muscode_ext" / "openapi.yaml").read_text())


# A named URL group, e.g. (?P<project_id>[^/]+): documented as {project_id}.
_GROUP = re.compile(r"\(\?P<(\w+)>\[\^/\]\+\)")


def _routes() -> list[tuple[str, type[MuscodeHandler], str]]:
    out = []
    for pattern, handler in all_handlers():
        for verb in VERBS:
            if verb in vars(handler):
                out.append((pattern, handler, verb))
    return out


def test_every_verb_is_authenticated_and_authorized() -> None:
    """The `check_auth` idea: a handler method without @api fails CI."""
    missing = []
    for pattern, handler, verb in _routes():
        method = getattr(handler, verb)
        if getattr(method, "__allow_unauthenticated", False):
            assert pattern.endswith("/health"), f"only /health may skip login, not {pattern}"
            continue
        if not getattr(method, "__muscode_auth__", False):
            missing.append(f"{handler.__name__}.{verb} ({pattern})")
    assert not missing, f"handlers without @api: {missing}"
    assert all(h.auth_resource == "muscode" for _, h, _ in _routes())


def test_every_route_is_in_the_openapi_document() -> None:
    spec = yaml.safe_load((ROOT / "muscode_ext" / "openapi.yaml").read_text())
    for pattern, _handler, verb in _routes():
        path = pattern.removeprefix("/api/muscode/v1")
        path = _GROUP.sub(r"{\1}", path).replace("\\.", ".")
        assert path in spec["paths"], f"{pattern} is not documented"
        assert verb in spec["paths"][path], f"{verb.upper()} {pattern} is not documented"


async def test_every_route_refuses_anonymous_callers(api: Any) -> None:
    for pattern, _handler, verb in _routes():
        if pattern.endswith("/health"):
            continue
        path = pattern.removeprefix("/api/muscode/v1/")
        path = _GROUP.sub("x1", path).replace("\\.", ".")
        reply = await api(
            verb.upper(),
            path,
            body={} if verb in ("post", "put", "patch") else None,
            headers={"Authorization": ""},
            validate=not issubclass(_handler, WebSocketHandler),
        )
        assert reply.status == 401, f"{verb.upper()} {path}: {reply.status} {reply.body!r}"
        assert reply.json["reason"] == "unauthenticated"


def test_handler_modules_end_with_default_handlers() -> None:
    from muscode_ext.handlers import executions, live, projects, service

    for module in (executions, live, projects, service):
        assert inspect.getmodule(module) is module
        assert module.default_handlers
