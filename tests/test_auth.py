"""Bearer tokens: every way a token can be wrong gets 401; users are recorded."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from muscode_ext.auth import bearer_token, secret_problem
from muscode_ext.store import User

from .conftest import JWT_SECRET


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    claims = {"sub": "mallory", "scopes": ["projects"], "exp": int(time.time()) + 600}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def muscode(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["muscode"]


BAD_TOKENS = {
    "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims()) + ".",
    "alg none with signature": _b64({"alg": "none"}) + "." + _b64(_claims()) + ".c2ln",
    "other algorithm (HS384)": jwt.encode(_claims(), JWT_SECRET, algorithm="HS384"),
    "other key": jwt.encode(_claims(), "another-secret-" + "x" * 32, algorithm="HS256"),
    "expired": jwt.encode(_claims(exp=int(time.time()) - 3600), JWT_SECRET, algorithm="HS256"),
    "no exp": jwt.encode(_claims(exp=None), JWT_SECRET, algorithm="HS256"),
    "no sub": jwt.encode(_claims(sub=None), JWT_SECRET, algorithm="HS256"),
    "blank sub": jwt.encode(_claims(sub="  "), JWT_SECRET, algorithm="HS256"),
    "no scopes": jwt.encode(_claims(scopes=None), JWT_SECRET, algorithm="HS256"),
    "scopes not a list": jwt.encode(_claims(scopes="admin"), JWT_SECRET, algorithm="HS256"),
    "unknown scope": jwt.encode(_claims(scopes=["root"]), JWT_SECRET, algorithm="HS256"),
    "jti not a string": jwt.encode(_claims(jti=5), JWT_SECRET, algorithm="HS256"),
    "garbage shaped like a JWT": "abc.def.ghi",
    "tampered payload": (
        lambda t: t.split(".")[0] + "." + _b64(_claims(sub="admin")) + "." + t.split(".")[2]
    )(jwt.encode(_claims(), JWT_SECRET, algorithm="HS256")),
}


async def test_bad_tokens_are_401(api: Any) -> None:
    for label, token in BAD_TOKENS.items():
        reply = await api("GET", "me", headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 401, (label, reply.status, reply.body)
        assert reply.json["reason"] in ("invalid_token", "token_expired"), label
        # A bad token is never passed on to the Jupyter token check.
        assert "mallory" not in reply.body.decode()


async def test_malformed_authorization_headers_are_401(api: Any) -> None:
    for header in [
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Basic Zm9vOmJhcg==",
        "token nope",
        "Bearer a.b",
    ]:
        reply = await api("GET", "me", headers={"Authorization": header})
        assert reply.status == 401, header
        assert reply.json["reason"] == "unauthenticated"


async def test_revoked_token_is_refused_at_once(api: Any, bearer: Any, jp_serverapp: Any) -> None:
    headers = bearer("grader", ("execute",), jti="tok-1")
    assert (await api("GET", "me", headers=headers)).status == 200
    await muscode(jp_serverapp).authenticator.revoke("tok-1")
    reply = await api("GET", "me", headers=headers)
    assert reply.status == 401
    assert reply.json["reason"] == "token_revoked"


async def test_expired_token_says_so(api: Any, bearer: Any) -> None:
    reply = await api("GET", "me", headers=bearer("late", expires_in=timedelta(seconds=-60)))
    assert reply.status == 401
    assert reply.json["reason"] == "token_expired"


async def test_users_are_recorded_on_first_sight(api: Any, bearer: Any, jp_serverapp: Any) -> None:
    for _ in range(2):
        assert (await api("GET", "me", headers=bearer("dora"))).status == 200
    assert (await api("GET", "me")).status == 200
    async with muscode(jp_serverapp).db.session() as s:
        names = set(await s.scalars(select(User.name)))
    assert names == {"dora", "owner"}


@pytest.mark.parametrize("muscode_config", [{"admin_users": ["root-teacher"]}])
async def test_admins_need_the_list_and_the_admin_scope(api: Any, bearer: Any) -> None:
    with_scope = await api("GET", "me", headers=bearer("root-teacher", ("projects", "admin")))
    assert with_scope.json["admin"] is True
    narrowed = await api("GET", "me", headers=bearer("root-teacher", ("projects",)))
    assert narrowed.json["admin"] is False
    not_listed = await api("GET", "me", headers=bearer("eve", ("projects", "admin")))
    assert not_listed.json["admin"] is False


@pytest.mark.parametrize("muscode_config", [{"allow_bearer_tokens": False}])
async def test_tokens_can_be_turned_off(api: Any, bearer: Any) -> None:
    reply = await api("GET", "me", headers=bearer("alice"))
    assert reply.status == 401
    assert reply.json["reason"] == "tokens_disabled"
    assert (await api("GET", "me")).status == 200


async def test_xsrf_is_not_needed_for_bearer_tokens(api: Any, bearer: Any) -> None:
    reply = await api(
        "POST", "projects", {"name": "x", "language": "python"}, headers=bearer("alice")
    )
    assert reply.status == 201


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer a.b.c") == "a.b.c"
    assert bearer_token("bearer   a.b.c  ") == "a.b.c"
    assert bearer_token("Bearer jupytertoken") is None
    assert bearer_token("token a.b.c") is None
    assert bearer_token(None) is None


@pytest.mark.parametrize(
    "secret,problem",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("changeme", "placeholder"),
        ("CHANGE-ME-please-" * 3, "placeholder"),
        ("short", "shorter"),
        ("s" * 31, "shorter"),
        ("x" * 32, None),
    ],
)
def test_secret_rules(secret: str, problem: str | None) -> None:
    found = secret_problem(secret)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


async def test_cookie_login_still_needs_the_xsrf_token(
    api: Any, jp_fetch: Any, jp_serverapp: Any, jp_http_port: int
) -> None:
    """A cross-site form cannot use a student's login cookie to change their files."""
    login = await jp_fetch(
        "api",
        "muscode",
        "v1",
        "me",
        headers={"Authorization": ""},
        params={"token": jp_serverapp.identity_provider.token},
    )
    cookie = login.headers["Set-Cookie"].split(";")[0]
    headers = {"Authorization": "", "Cookie": cookie, "Host": f"127.0.0.1:{jp_http_port}"}
    assert (await api("GET", "projects", headers=headers)).status == 200
    forged = await api(
        "POST", "projects", {"name": "x", "language": "python"}, headers=headers, validate=False
    )
    assert forged.status == 403
    assert (await api("GET", "projects")).json == []
