"""Projects: create with files, list, get, patch, soft delete and restore, isolation."""

from __future__ import annotations

from typing import Any

import pytest

HELLO = {"path": "main.py", "content": "print('hello')\n"}


async def make_project(api: Any, name: str = "hello", headers: Any = None, **extra: Any) -> Any:
    body = {"name": name, "language": "python", "files": [HELLO], **extra}
    reply = await api("POST", "projects", body, headers=headers)
    assert reply.status == 201, reply.body
    return reply.json


async def test_create_with_initial_files_and_get(api: Any) -> None:
    reply = await api(
        "POST",
        "projects",
        {
            "name": "Week 1",
            "description": "loops",
            "language": "python",
            "files": [HELLO, {"path": "lib/util.py", "content": "X = 1\n"}],
        },
    )
    assert reply.status == 201
    project = reply.json
    assert reply.headers["Location"].endswith(f"/api/muscode/v1/projects/{project['id']}")
    assert project["name"] == "Week 1"
    assert project["owner"] == "owner"
    assert project["deleted_at"] is None
    assert [f["path"] for f in project["files"]] == ["lib/util.py", "main.py"]
    assert all(f["version"] == 1 for f in project["files"])

    got = await api("GET", f"projects/{project['id']}")
    assert got.status == 200
    assert got.json["files"] == project["files"]
    listed = await api("GET", "projects")
    assert [p["id"] for p in listed.json] == [project["id"]]


async def test_patch_renames_and_changes_language(api: Any) -> None:
    project = await make_project(api)
    reply = await api("PATCH", f"projects/{project['id']}", {"name": "renamed", "language": "c"})
    assert reply.status == 200
    assert (reply.json["name"], reply.json["language"]) == ("renamed", "c")
    assert reply.json["updated_at"] >= project["updated_at"]


async def test_soft_delete_hides_and_restore_brings_back(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    assert (await api("DELETE", f"projects/{pid}")).status == 204
    assert (await api("GET", "projects")).json == []
    assert (await api("GET", f"projects/{pid}")).status == 404
    assert (await api("GET", f"projects/{pid}/files")).status == 404
    assert (await api("DELETE", f"projects/{pid}")).status == 404
    deleted = await api("GET", "projects", params={"include_deleted": "true"})
    assert [p["id"] for p in deleted.json] == [pid]
    assert deleted.json[0]["deleted_at"] is not None

    restored = await api("POST", f"projects/{pid}/restore")
    assert restored.status == 200
    assert restored.json["deleted_at"] is None
    assert [f["path"] for f in restored.json["files"]] == ["main.py"]
    assert [p["id"] for p in (await api("GET", "projects")).json] == [pid]


async def test_duplicate_live_name_conflicts_but_a_deleted_one_does_not(api: Any) -> None:
    first = await make_project(api, "same")
    dup = await api("POST", "projects", {"name": "same", "language": "python"})
    assert dup.status == 409
    assert dup.json["reason"] == "project_exists"
    await api("DELETE", f"projects/{first['id']}")
    second = await make_project(api, "same")
    # Restoring the first now would make two live projects named "same".
    clash = await api("POST", f"projects/{first['id']}/restore")
    assert clash.status == 409
    assert second["id"] != first["id"]


async def test_a_user_never_sees_another_users_project(api: Any, bearer: Any) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    project = await make_project(api, "alice's", headers=alice)
    pid = project["id"]
    fid = project["files"][0]["id"]
    assert (await api("GET", "projects", headers=bob)).json == []
    for method, path, body in [
        ("GET", f"projects/{pid}", None),
        ("PATCH", f"projects/{pid}", {"name": "mine now"}),
        ("DELETE", f"projects/{pid}", None),
        ("POST", f"projects/{pid}/restore", None),
        ("GET", f"projects/{pid}/files", None),
        ("POST", f"projects/{pid}/files", {"path": "x.py", "content": ""}),
        ("GET", f"projects/{pid}/files/{fid}", None),
        ("PUT", f"projects/{pid}/files/{fid}", {"content": "stolen", "version": 1}),
        ("DELETE", f"projects/{pid}/files/{fid}", None),
    ]:
        reply = await api(method, path, body, headers=bob)
        assert reply.status == 404, (method, path, reply.status)
        assert "alice" not in reply.body.decode()
    listing = await api("GET", "projects", headers=bob, params={"owner": "alice"})
    assert listing.status == 404
    # Nothing changed for alice.
    again = await api("GET", f"projects/{pid}/files/{fid}", headers=alice)
    assert again.json["content"] == HELLO["content"]
    assert again.json["version"] == 1
    # The embedded server's owner is an admin and may look.
    assert (await api("GET", "projects", params={"owner": "alice"})).json[0]["id"] == pid


async def test_a_token_without_the_projects_scope_is_forbidden(api: Any, bearer: Any) -> None:
    reply = await api("GET", "projects", headers=bearer("carol", ("execute",)))
    assert reply.status == 403
    assert reply.json["reason"] == "missing_scope"
    assert "projects" in reply.json["message"]


async def test_bad_project_input_gets_a_clear_error(api: Any) -> None:
    cases: list[tuple[Any, int, str]] = [
        ({"language": "python"}, 422, "name"),
        ({"name": "x"}, 422, "language"),
        ({"name": 5, "language": "python"}, 422, "name"),
        ({"name": "x", "language": "cobol"}, 422, "language"),
        ({"name": "x", "language": "python", "colour": "red"}, 422, "colour"),
        ({"name": "a/b", "language": "python"}, 422, "name"),
        ({"name": "   ", "language": "python"}, 422, "name"),
        ({"name": "x" * 101, "language": "python"}, 422, "name"),
        ({"name": "tab\there", "language": "python"}, 422, "name"),
        ({"name": "x", "language": "python", "files": "main.py"}, 422, "files"),
        ({"name": "x", "language": "python", "files": [{"path": "a.py"}]}, 422, "files[0].content"),
        ({"name": "x", "language": "python", "class_id": "nope"}, 422, "class_id"),
        (
            {"name": "x", "language": "python", "files": [HELLO, HELLO]},
            409,
            "main.py",
        ),
    ]
    for body, status, mention in cases:
        reply = await api("POST", "projects", body)
        assert reply.status == status, (body, reply.status, reply.body)
        assert mention in reply.body.decode(), (body, reply.body)
        if status == 422:
            assert reply.json["errors"], body
    assert (await api("GET", "projects")).json == []


async def test_malformed_bodies_are_400_and_415(api: Any) -> None:
    bad_json = await api(
        "POST", "projects", raw="{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status == 400
    assert bad_json.json["reason"] == "malformed_json"
    not_object = await api("POST", "projects", raw="[1, 2]")
    assert not_object.status == 400
    empty = await api("POST", "projects", raw="")
    assert empty.status == 400
    not_utf8 = await api("POST", "projects", raw=b'{"name": "\xff", "language": "python"}')
    assert not_utf8.status == 400
    assert "UTF-8" in not_utf8.json["message"]
    form = await api(
        "POST",
        "projects",
        raw="name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status == 415
    assert "application/json" in form.json["message"]


async def test_patch_needs_a_field_and_rejects_nulls(api: Any) -> None:
    project = await make_project(api)
    empty = await api("PATCH", f"projects/{project['id']}", {})
    assert empty.status == 422
    null = await api("PATCH", f"projects/{project['id']}", {"name": None})
    assert null.status == 422
    assert null.json["errors"][0]["field"] == "name"


@pytest.mark.parametrize(
    "muscode_config",
    [{"max_file_size": 1000, "max_project_size": 2000, "max_project_files": 5}],
)
async def test_project_size_caps(api: Any) -> None:
    files = [{"path": f"f{i}.py", "content": "x" * 900} for i in range(3)]
    reply = await api("POST", "projects", {"name": "big", "language": "python", "files": files})
    assert reply.status == 413
    assert reply.json["reason"] == "project_too_large"
    many = [{"path": f"f{i}.py", "content": ""} for i in range(6)]
    reply = await api("POST", "projects", {"name": "many", "language": "python", "files": many})
    assert reply.status == 413
    assert reply.json["reason"] == "too_many_files"
    assert (await api("GET", "projects")).json == []
