"""MUSCode edits only the hub groups it made, on a real JupyterHub (as tests/test_hub.py).

A class is mirrored by a hub group named after its slug. A slug naming a group the hub
already has, and that MUSCode did not make (``admins``), is refused with 409: MUSCode
never adds to, removes from or deletes someone else's group. Groups MUSCode makes carry
its mark in their ``properties``. A group made by an earlier MUSCode (no mark) is
adopted once, and marked, when its members are exactly the class's roster; otherwise
MUSCode leaves it alone and says why.
"""

from __future__ import annotations

from typing import Any

from .test_hub import API, Hub
from .test_hub import hub as hub  # a hub of this module's own


def group(hub: Hub, name: str) -> tuple[int, Any]:
    return hub.call("GET", f"/hub/api/groups/{name}")


def test_a_slug_naming_a_foreign_hub_group_is_refused(hub: Hub) -> None:
    teacher = hub.user_token("instructor")
    hub.user_token("root1")
    status, _ = hub.call("POST", "/hub/api/groups/admins", {"users": ["root1"]})
    assert status == 201
    status, err = hub.call(
        "POST", f"{API}/classes", {"slug": "admins", "name": "Pwn"}, token=teacher
    )
    assert status == 409, err
    assert err["reason"] == "hub_group_exists"
    assert "admins" in err["message"] and "MUSCode" in err["message"]
    # The group is as it was; no class was made.
    status, g = group(hub, "admins")
    assert status == 200 and g["users"] == ["root1"] and g["properties"] == {}
    status, classes = hub.call("GET", f"{API}/classes", token=teacher)
    assert "admins" not in {c["slug"] for c in classes}


def test_groups_muscode_makes_are_marked_and_edited(hub: Hub) -> None:
    teacher = hub.user_token("instructor")
    status, c = hub.call("POST", f"{API}/classes", {"slug": "cs303", "name": "CS"}, token=teacher)
    assert status == 201, c
    status, g = group(hub, "cs303")
    assert g["users"] == ["instructor"]
    assert g["properties"]["muscode"]["class_id"] == c["id"]
    members = {"members": [{"name": "student6"}]}
    status, _ = hub.call("POST", f"{API}/classes/{c['id']}/members", members, token=teacher)
    assert status == 200
    assert sorted(group(hub, "cs303")[1]["users"]) == ["instructor", "student6"]
    assert hub.call("DELETE", f"{API}/classes/{c['id']}", token=teacher)[0] == 204
    assert group(hub, "cs303")[0] == 404


def test_an_unmarked_group_matching_the_roster_is_adopted_once(hub: Hub) -> None:
    """What a class made by an earlier MUSCode looks like: its group has no mark."""
    teacher = hub.user_token("instructor")
    status, c = hub.call("POST", f"{API}/classes", {"slug": "legacy1", "name": "L"}, token=teacher)
    assert status == 201, c
    assert hub.call("PUT", "/hub/api/groups/legacy1/properties", {"note": "kept"})[0] == 200
    members = {"members": [{"name": "student7"}]}
    status, roster = hub.call("POST", f"{API}/classes/{c['id']}/members", members, token=teacher)
    assert status == 200, roster
    status, g = group(hub, "legacy1")
    assert sorted(g["users"]) == ["instructor", "student7"]
    assert g["properties"]["muscode"]["class_id"] == c["id"]
    assert g["properties"]["note"] == "kept"  # the hub's own properties stay


def test_an_unmarked_group_that_differs_from_the_roster_is_left_alone(hub: Hub) -> None:
    teacher = hub.user_token("instructor")
    status, c = hub.call("POST", f"{API}/classes", {"slug": "legacy2", "name": "L"}, token=teacher)
    assert status == 201, c
    hub.user_token("outsider9")
    assert hub.call("PUT", "/hub/api/groups/legacy2/properties", {})[0] == 200
    assert hub.call("POST", "/hub/api/groups/legacy2/users", {"users": ["outsider9"]})[0] == 200
    before = group(hub, "legacy2")[1]

    members = {"members": [{"name": "student8"}]}
    status, err = hub.call("POST", f"{API}/classes/{c['id']}/members", members, token=teacher)
    assert status == 409, err
    assert err["reason"] == "hub_group_not_ours" and "legacy2" in err["message"]
    status, _ = hub.call("DELETE", f"{API}/classes/{c['id']}/members/instructor", token=teacher)
    assert status == 409
    status, roster = hub.call("GET", f"{API}/classes/{c['id']}/members", token=teacher)
    assert [m["name"] for m in roster] == ["instructor"]
    # Deleting the class deletes MUSCode's class, not the hub's group.
    assert hub.call("DELETE", f"{API}/classes/{c['id']}", token=teacher)[0] == 204
    assert group(hub, "legacy2")[1] == before
