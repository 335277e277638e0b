"""Classes and rosters: who sees and changes them. (Who sees a class's projects and runs:
tests/test_staff_access.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from muscode_ext.store import Base, upgrade

from .conftest import forged

WRITE = ("execute", "projects", "classes:read", "classes:write")


def test_migrations_match_the_models(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


async def make_class(api: Any, headers: Any, slug: str = "cs101") -> dict[str, Any]:
    reply = await api("POST", "classes", {"slug": slug, "name": slug.upper()}, headers=headers)
    assert reply.status == 201, reply.body
    return dict(reply.json)


async def enrol(api: Any, cid: str, headers: Any, **members: str) -> Any:
    body = {"members": [{"name": n, "role": r} for n, r in members.items()]}
    reply = await api("POST", f"classes/{cid}/members", body, headers=headers)
    assert reply.status == 200, reply.body
    return reply.json


async def test_create_enrol_and_see_as_member(api: Any, bearer: Any) -> None:
    ines = bearer("ines", WRITE)
    c = await make_class(api, ines)
    assert c["role"] == "instructor" and c["slug"] == "cs101"
    roster = await enrol(api, c["id"], ines, sam="student", tim="ta")
    assert roster == [
        {"name": "ines", "role": "instructor"},
        {"name": "sam", "role": "student"},
        {"name": "tim", "role": "ta"},
    ]
    sam, zed = bearer("sam"), bearer("zed")
    assert (await api("GET", f"classes/{c['id']}", headers=sam)).json["role"] == "student"
    assert [x["slug"] for x in (await api("GET", "classes", headers=sam)).json] == ["cs101"]
    me = (await api("GET", "me", headers=sam)).json
    assert me["classes"] == [{"id": c["id"], "slug": "cs101", "role": "student"}]
    # Outsiders: 404 everywhere, never 403.
    assert (await api("GET", f"classes/{c['id']}", headers=zed)).status == 404
    assert (await api("GET", "classes", headers=zed)).json == []
    assert (await api("PATCH", f"classes/{c['id']}", {"name": "x"}, headers=zed)).status == 404
    assert (await api("GET", f"classes/{c['id']}/members", headers=zed)).status == 404
    # Students see their class but not its roster, and cannot change it.
    assert (await api("GET", f"classes/{c['id']}/members", headers=sam)).status == 403
    sam_w = bearer("sam", WRITE)
    assert (await api("PATCH", f"classes/{c['id']}", {"name": "x"}, headers=sam_w)).status == 403
    # TAs read the roster but do not change it.
    assert (await api("GET", f"classes/{c['id']}/members", headers=bearer("tim"))).status == 200
    reply = await api(
        "POST",
        f"classes/{c['id']}/members",
        {"members": [{"name": "zed"}]},
        headers=bearer("tim", WRITE),
    )
    assert reply.status == 403
    # The instructor and the admin change it.
    reply = await api("PATCH", f"classes/{c['id']}", {"term": "2026 fall"}, headers=ines)
    assert reply.status == 200 and reply.json["term"] == "2026 fall"
    assert (await api("GET", f"classes/{c['id']}")).json["role"] is None  # admin, not a member
    assert [x["slug"] for x in (await api("GET", "classes")).json] == ["cs101"]


async def test_create_needs_classes_write_and_a_good_unique_slug(api: Any, bearer: Any) -> None:
    assert (
        await api("POST", "classes", {"slug": "a1", "name": "A"}, headers=bearer("s"))
    ).status == 403
    for slug in ("CS101", "-x", "a b", "x" * 65, ""):
        reply = await api("POST", "classes", {"slug": slug, "name": "A"})
        assert reply.status == 422, slug
        assert reply.json["errors"][0]["field"] == "slug"
    await make_class(api, None, "cs101")
    reply = await api("POST", "classes", {"slug": "cs101", "name": "again"})
    assert reply.status == 409 and reply.json["reason"] == "class_exists"


async def test_roster_csv_import_and_line_errors(api: Any, bearer: Any) -> None:
    c = await make_class(api, None)
    url = f"classes/{c['id']}/members.csv"
    csv = {"Content-Type": "text/csv"}
    good = "name,role\nsam,student\ntim,TA\numa,\n"
    reply = await api("POST", url, raw=good, headers=csv)
    assert reply.status == 200, reply.body
    assert reply.json == {
        "added": [
            {"name": "sam", "role": "student"},
            {"name": "tim", "role": "ta"},
            {"name": "uma", "role": "student"},
        ],
        "updated": [],
        "unchanged": [],
        "errors": [],
    }
    members = (await api("GET", f"classes/{c['id']}/members")).json
    assert {m["name"]: m["role"] for m in members} == {
        "owner": "instructor",
        "sam": "student",
        "tim": "ta",
        "uma": "student",
    }
    # Bad lines are reported by number; the good ones are applied all the same.
    bad = "name,role\nvic,student\nbad name,student\nwes,boss\nvic,ta\n,student\nsam,Instructor\n"
    reply = await api("POST", url, raw=bad, headers=csv)
    assert reply.status == 200, reply.body
    assert reply.json["added"] == [{"name": "vic", "role": "student"}]
    assert reply.json["updated"] == [{"name": "sam", "role": "instructor"}]
    assert reply.json["errors"] == [
        {
            "line": 3,
            "message": "'bad name' holds U+0020: user names have no spaces, control or "
            "invisible formatting characters",
        },
        {"line": 4, "message": "role 'boss' is not one of student, ta, instructor"},
        {"line": 5, "message": "'vic' is already on line 2"},
        {"line": 6, "message": "no name"},
    ]
    members = (await api("GET", f"classes/{c['id']}/members")).json
    assert {m["name"]: m["role"] for m in members}["vic"] == "student"
    # No name column: the whole file is refused, saying so.
    reply = await api("POST", url, raw="who,what\na,student\n", headers=csv)
    assert reply.status == 422 and reply.json["reason"] == "no_name_column"
    assert "'who', 'what'" in reply.json["message"]
    assert reply.json["errors"][0]["field"] == "line 1"
    reply = await api("POST", url, raw="name,role\n\n", headers=csv)
    assert reply.status == 422 and "nobody" in reply.json["message"]
    reply = await api("POST", url, raw=good, headers={"Content-Type": "application/json"})
    assert reply.status == 415


async def test_remove_member_and_delete_class(api: Any, bearer: Any) -> None:
    c = await make_class(api, None)
    await enrol(api, c["id"], None, sam="student")
    sam = bearer("sam")
    assert (await api("GET", f"classes/{c['id']}", headers=sam)).status == 200
    assert (await api("DELETE", f"classes/{c['id']}/members/sam")).status == 204
    assert (await api("DELETE", f"classes/{c['id']}/members/sam")).status == 404
    assert (await api("GET", f"classes/{c['id']}", headers=sam)).status == 404
    assert (await api("DELETE", f"classes/{c['id']}")).status == 204
    assert (await api("GET", f"classes/{c['id']}")).status == 404
    assert (await api("GET", "classes")).json == []
    assert (await api("GET", "me")).json["classes"] == []


async def test_expired_and_forged_tokens_get_401_on_classes(api: Any, bearer: Any) -> None:
    expired = bearer("ines", WRITE, expires_in=timedelta(minutes=-5))
    reply = await api("GET", "classes", headers=expired)
    assert reply.status == 401 and reply.json["reason"] == "token_expired"
    bad = forged(bearer("ines", WRITE))
    assert (await api("POST", "classes", {"slug": "x1", "name": "X"}, headers=bad)).status == 401
