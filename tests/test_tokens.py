"""Minted tokens: shown once, scoped no wider than the minter, revoked at once."""

from __future__ import annotations

import asyncio
from typing import Any

from muscode_ext.auth import USER_SCOPES, Caller
from muscode_ext.errors import Forbidden


def muscode(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["muscode"]


async def mint(api: Any, headers: Any = None, **body: Any) -> Any:
    body = {"name": "grader", "scopes": ["projects", "classes:read"], "expires_in": 600, **body}
    return await api("POST", "tokens", body, headers=headers)


async def test_mint_use_list_and_revoke_at_once(api: Any) -> None:
    reply = await mint(api)
    assert reply.status == 201, reply.body
    assert reply.headers["Cache-Control"] == "no-store"
    minted = reply.json
    auth = {"Authorization": f"Bearer {minted['token']}"}
    me = await api("GET", "me", headers=auth)
    assert me.status == 200
    assert me.json["name"] == "owner" and me.json["scopes"] == ["classes:read", "projects"]
    assert me.json["admin"] is False  # no admin scope in the token

    listed = (await api("GET", "tokens")).json
    assert [t["id"] for t in listed] == [minted["id"]]
    assert "token" not in listed[0] and listed[0]["revoked_at"] is None

    assert (await api("DELETE", f"tokens/{minted['id']}")).status == 204
    reply = await api("GET", "me", headers=auth)
    assert reply.status == 401 and reply.json["reason"] == "token_revoked"
    assert (await api("GET", "tokens")).json[0]["revoked_at"] is not None


async def test_expired_minted_token_is_refused(api: Any) -> None:
    reply = await mint(api, expires_in=1)
    assert reply.status == 201
    auth = {"Authorization": f"Bearer {reply.json['token']}"}
    # The verifier allows 5 s of clock skew: wait past it (bounded, 7 s).
    await asyncio.sleep(7)
    reply = await api("GET", "me", headers=auth)
    assert reply.status == 401 and reply.json["reason"] == "token_expired"


async def test_bad_requests(api: Any, bearer: Any) -> None:
    assert (await mint(api, scopes=["root"])).status == 422
    assert (await mint(api, expires_in=0)).status == 422
    assert (await mint(api, expires_in=10**9)).status == 422
    # A token cannot mint tokens, so revoking a token never leaves children alive.
    reply = await mint(api, bearer("sam"), scopes=["projects"])
    assert reply.status == 403 and reply.json["reason"] == "token_minting"
    # Other people's tokens are invisible.
    minted = (await mint(api)).json
    assert (await api("DELETE", f"tokens/{minted['id']}", headers=bearer("sam"))).status == 404
    assert (await api("GET", "tokens", headers=bearer("sam"))).json == []


async def test_scopes_cannot_exceed_the_minter(api: Any, jp_serverapp: Any) -> None:
    student = Caller(name="sam", admin=False, scopes=USER_SCOPES, via="hub")
    from muscode_ext.services.tokens import TokenCreate

    data = TokenCreate(name="x", scopes=["admin", "projects"], expires_in=60)
    try:
        await muscode(jp_serverapp).token_service.create(student, data)
    except Forbidden as e:
        assert e.reason == "scope_exceeds_caller"
    else:
        raise AssertionError("a token wider than its minter was issued")


async def test_class_bound_token_sees_only_its_class(api: Any) -> None:
    a = (await api("POST", "classes", {"slug": "a1", "name": "A"})).json
    b = (await api("POST", "classes", {"slug": "b1", "name": "B"})).json
    reply = await mint(api, class_id=a["id"], scopes=["classes:read", "grade"])
    assert reply.status == 201 and reply.json["class_id"] == a["id"]
    auth = {"Authorization": f"Bearer {reply.json['token']}"}
    assert [c["id"] for c in (await api("GET", "classes", headers=auth)).json] == [a["id"]]
    assert (await api("GET", f"classes/{a['id']}", headers=auth)).status == 200
    assert (await api("GET", f"classes/{b['id']}", headers=auth)).status == 404
    assert (await mint(api, class_id="nope")).status == 404


async def test_grader_token_reads_class_projects_only(api: Any, bearer: Any) -> None:
    a = (await api("POST", "classes", {"slug": "a1", "name": "A"})).json
    b = (await api("POST", "classes", {"slug": "b1", "name": "B"})).json
    for c in (a, b):
        body = {"members": [{"name": "sam", "role": "student"}]}
        assert (await api("POST", f"classes/{c['id']}/members", body)).status == 200
    sam = bearer("sam")
    made = {}
    for c in (a, b):
        body = {"name": f"hw-{c['slug']}", "language": "python", "class_id": c["id"]}
        made[c["slug"]] = (await api("POST", "projects", body, headers=sam)).json
    private = (await api("POST", "projects", {"name": "p", "language": "python"}, headers=sam)).json
    reply = await mint(api, class_id=a["id"], scopes=["grade"])
    grader = {"Authorization": f"Bearer {reply.json['token']}"}

    assert (await api("GET", f"projects/{made['a1']['id']}", headers=grader)).status == 200
    listed = await api(
        "GET", "projects", params={"owner": "sam", "class_id": a["id"]}, headers=grader
    )
    assert [p["id"] for p in listed.json] == [made["a1"]["id"]]
    # Bound to class a1: not class b1, not private projects, and never a write.
    assert (await api("GET", f"projects/{made['b1']['id']}", headers=grader)).status == 404
    assert (await api("GET", f"projects/{private['id']}", headers=grader)).status == 404
    reply = await api("PATCH", f"projects/{made['a1']['id']}", {"name": "x"}, headers=grader)
    assert reply.status == 403
    # Its own (the minter's) projects are not readable with a grade-only token either.
    mine = (await api("POST", "projects", {"name": "own", "language": "python"})).json
    assert (await api("GET", f"projects/{mine['id']}", headers=grader)).status == 404
