"""Who may read and change a class, its roster, its assignments, submissions and grades.

The same cast as tests/test_staff_access.py (which covers projects, files and runs): one
class cs101 (instructor ines, TA tim, students sam and olga) and another, cs102
(instructor ivan); zed is in no class. Sam has started and submitted an assignment with a
hidden test. Every person holds every scope a person can hold, so what is refused is
refused for their role in the class, not for a missing scope. Grader tokens are bound to
a class; expired and forged tokens get 401 everywhere.

The rules: outsiders (another class's instructor, zed, a token bound to another class)
get 404, never a hint that the class exists; members get 403 for what their role may
not do; students see their own submissions only, and no response to a student holds a
hidden test's input or expected output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from muscode_ext.auth import USER_SCOPES, Caller, TokenAuthority
from muscode_ext.errors import MuscodeError
from muscode_ext.services.tokens import TokenCreate

from .conftest import forged
from .test_assignments import SECRET_IN, SECRET_OUT, SOLUTION, make_assignment
from .test_assignments import submit as submit_and_wait
from .test_classes import enrol, make_class

EVERY_SCOPE = ("execute", "projects", "classes:read", "classes:write", "grade")


pytestmark = pytest.mark.usefixtures("bubblewrap")


@dataclass
class World:
    cid: str  # cs101
    other_cid: str  # cs102
    aid: str  # a published assignment of cs101, with a hidden test
    draft_aid: str  # an unpublished one
    pid: str  # sam's project of aid
    sid: str  # sam's graded submission


async def build(api: Any, bearer: Any) -> World:
    ines, ivan = bearer("ines", EVERY_SCOPE), bearer("ivan", EVERY_SCOPE)
    c = await make_class(api, ines, "cs101")
    d = await make_class(api, ivan, "cs102")
    await enrol(api, c["id"], ines, sam="student", olga="student", tim="ta")
    a = await make_assignment(api, c["id"], ines)
    draft = await make_assignment(api, c["id"], ines, title="Draft", published=False)
    sam = bearer("sam", EVERY_SCOPE)
    reply = await api("POST", f"assignments/{a['id']}/start", headers=sam)
    assert reply.status == 201, reply.body
    project = reply.json
    main = next(f for f in project["files"] if f["path"] == "main.py")
    body = {"content": SOLUTION, "version": main["version"]}
    reply = await api("PUT", f"projects/{project['id']}/files/{main['id']}", body, headers=sam)
    assert reply.status == 200, reply.body
    submission = await submit_and_wait(api, a["id"], project["id"], sam)
    assert submission["score"] == 10
    return World(
        cid=c["id"],
        other_cid=d["id"],
        aid=a["id"],
        draft_aid=draft["id"],
        pid=project["id"],
        sid=submission["id"],
    )


def credentials(who: str, bearer: Any, authority: TokenAuthority, w: World) -> Any:
    """Request headers for ``who`` (None: the embedded server's user, an admin)."""

    def bound(sub: str, scopes: tuple[str, ...], class_id: str) -> dict[str, str]:
        token, _ = authority.issue(sub, scopes, extra={"class_id": class_id})
        return {"Authorization": f"Bearer {token}"}

    if who == "admin":
        return None
    if who == "grader":
        return bound("ines", ("execute", "grade", "classes:read"), w.cid)
    if who == "other_grader":
        return bound("ivan", ("execute", "grade", "classes:read"), w.other_cid)
    if who == "expired":
        return bearer("ines", EVERY_SCOPE, expires_in=timedelta(minutes=-5))
    if who == "forged":
        return forged(bearer("ines", EVERY_SCOPE))
    return bearer(who, EVERY_SCOPE)


# What each caller gets: a status, or for listings the names they hold.
INSTRUCTOR = {
    "class": 200,
    "classes": ["cs101"],
    "members": 200,
    "assignments": ["Double it", "Draft"],
    "assignment": 200,
    "draft": 200,
    "submissions": ["sam"],
    "submission": 200,
    "results_json": 200,
    "grades": 200,
    "grades_csv": 200,
    "class_grades": 200,
    "class_grades_csv": 200,
    "check_sams_project": 404,  # only the project's owner checks or submits it
    "submit_sams_project": 404,
    "override": 200,
    "regrade": 202,
    "patch_class": 200,
    "create_assignment": 201,
    "patch_assignment": 200,
    "add_members": 200,
    "roster_csv": 200,
    # Bearer tokens never mint tokens (see test_who_mints_a_token_bound_to_the_class).
    "mint_class_token": 403,
    "remove_member": 204,
    "delete_assignment": 204,
    "delete_class": 204,
}
TA = {
    **INSTRUCTOR,
    # TAs grade: they read everything and override and regrade, but change nothing else.
    "patch_class": 403,
    "create_assignment": 403,
    "patch_assignment": 403,
    "add_members": 403,
    "roster_csv": 403,
    "remove_member": 403,
    "delete_assignment": 403,
    "delete_class": 403,
}
STUDENT = {
    **{key: 403 for key in INSTRUCTOR},
    "class": 200,
    "classes": ["cs101"],
    "assignments": ["Double it"],  # published ones only
    "assignment": 200,
    "draft": 404,  # unpublished: not there for students
    "submissions": [],  # their own: none
    "submission": 404,
    "results_json": 404,
    "check_sams_project": 404,
    "submit_sams_project": 404,
    "override": 404,
    "delete_assignment": 404,  # the draft
}
OWNER = {
    **STUDENT,
    "submissions": ["sam"],
    "submission": 200,
    "results_json": 200,
    "check_sams_project": 200,
    "submit_sams_project": 200,
    "override": 403,
}
OUTSIDER = {
    **{key: 404 for key in INSTRUCTOR},
    "classes": [],
    "mint_class_token": 403,  # refused for the credential, before the class is looked at
}
GRADER = {
    **TA,
    # A grader token reads and grades; it never writes a student's project.
    "check_sams_project": 403,
    "submit_sams_project": 403,
}
BAD_TOKEN = {key: 401 for key in INSTRUCTOR}
MATRIX: dict[str, dict[str, Any]] = {
    "sam": OWNER,
    "olga": STUDENT,
    "tim": TA,
    "ines": INSTRUCTOR,
    "ivan": {**OUTSIDER, "classes": ["cs102"]},
    "zed": OUTSIDER,
    "admin": {
        **INSTRUCTOR,
        "classes": ["cs101", "cs102"],
        "check_sams_project": 200,  # an admin reads every project, so may check it
        "submit_sams_project": 422,  # but submits only their own
        "mint_class_token": 201,  # signed in, not a token
    },
    "grader": GRADER,
    "other_grader": {**OUTSIDER, "classes": ["cs102"]},
    "expired": BAD_TOKEN,
    "forged": BAD_TOKEN,
}


@pytest.mark.parametrize("who", list(MATRIX))
async def test_class_and_assignment_authorization_matrix(
    api: Any, bearer: Any, authority: TokenAuthority, who: str
) -> None:
    w = await build(api, bearer)
    h = credentials(who, bearer, authority, w)
    bodies: list[str] = []

    async def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {**(h or {}), **kw.pop("headers", {})}
        reply = await api(method, path, body, headers=headers, **kw)
        bodies.append(reply.body.decode(errors="replace") if reply.body else "")
        return reply

    async def status(method: str, path: str, body: Any = None, **kw: Any) -> int:
        return int((await call(method, path, body, **kw)).status)

    async def names(path: str, key: str) -> Any:
        reply = await call("GET", path)
        return sorted(x[key] for x in reply.json) if reply.status == 200 else reply.status

    csv = {"Content-Type": "text/csv"}
    got: dict[str, Any] = {
        "class": await status("GET", f"classes/{w.cid}"),
        "classes": await names("classes", "slug"),
        "members": await status("GET", f"classes/{w.cid}/members"),
        "assignments": await names(f"classes/{w.cid}/assignments", "title"),
        "assignment": await status("GET", f"assignments/{w.aid}"),
        "draft": await status("GET", f"assignments/{w.draft_aid}"),
        "submissions": await names(f"assignments/{w.aid}/submissions", "student"),
        "submission": await status("GET", f"submissions/{w.sid}"),
        "results_json": await status("GET", f"submissions/{w.sid}/results.json"),
        "grades": await status("GET", f"assignments/{w.aid}/grades"),
        "grades_csv": await status("GET", f"assignments/{w.aid}/grades.csv"),
        "class_grades": await status("GET", f"classes/{w.cid}/grades"),
        "class_grades_csv": await status("GET", f"classes/{w.cid}/grades.csv"),
    }
    wait = {"wait": "true"}
    project = {"project_id": w.pid}
    got["check_sams_project"] = await status(
        "POST", f"assignments/{w.aid}/check", project, params=wait
    )
    got["submit_sams_project"] = await status(
        "POST", f"assignments/{w.aid}/submissions", project, params=wait
    )
    override = {"score": 7, "comment": "late work accepted"}
    got["override"] = await status("PATCH", f"submissions/{w.sid}", override)
    got["regrade"] = await status("POST", f"assignments/{w.aid}/regrade")
    got["patch_class"] = await status("PATCH", f"classes/{w.cid}", {"name": "renamed"})
    new = {"title": "Another", "language": "python"}
    got["create_assignment"] = await status("POST", f"classes/{w.cid}/assignments", new)
    got["patch_assignment"] = await status("PATCH", f"assignments/{w.aid}", {"title": "Twice"})
    roster = {"members": [{"name": "newcomer", "role": "student"}]}
    got["add_members"] = await status("POST", f"classes/{w.cid}/members", roster)
    got["roster_csv"] = await status(
        "POST", f"classes/{w.cid}/members.csv", raw="name,role\nlate,student\n", headers=csv
    )
    token = {"name": "ci", "scopes": ["classes:read"], "class_id": w.cid, "expires_in": 600}
    got["mint_class_token"] = await status("POST", "tokens", token)
    # Destructive last.
    got["remove_member"] = await status("DELETE", f"classes/{w.cid}/members/olga")
    got["delete_assignment"] = await status("DELETE", f"assignments/{w.draft_aid}")
    got["delete_class"] = await status("DELETE", f"classes/{w.cid}")

    assert got == MATRIX[who]
    if who in ("sam", "olga"):
        for text in bodies:
            assert SECRET_IN not in text and SECRET_OUT not in text, text


async def test_what_a_refused_caller_tried_changed_nothing(api: Any, bearer: Any) -> None:
    """After the TA, a student and an outsider tried every write, all is as it was."""
    w = await build(api, bearer)
    ines = bearer("ines", EVERY_SCOPE)
    before = {
        path: (await api("GET", path, headers=ines)).json
        for path in (
            f"classes/{w.cid}",
            f"classes/{w.cid}/members",
            f"classes/{w.cid}/assignments",
            f"submissions/{w.sid}",
        )
    }
    for who in ("tim", "olga", "ivan"):
        h = bearer(who, EVERY_SCOPE)
        for method, path, body in (
            ("PATCH", f"classes/{w.cid}", {"name": "renamed"}),
            ("POST", f"classes/{w.cid}/members", {"members": [{"name": who + "x"}]}),
            ("DELETE", f"classes/{w.cid}/members/sam", None),
            ("PATCH", f"assignments/{w.aid}", {"title": "Twice"}),
            ("DELETE", f"assignments/{w.aid}", None),
            ("DELETE", f"classes/{w.cid}", None),
        ):
            reply = await api(method, path, body, headers=h)
            assert reply.status in (403, 404), (who, method, path, reply.status)
            assert reply.json["message"], reply.json
    # The student's own attempt to change their score.
    reply = await api("PATCH", f"submissions/{w.sid}", {"score": 1}, headers=bearer("sam"))
    assert reply.status == 403
    after = {path: (await api("GET", path, headers=ines)).json for path in before}
    assert after == before


@pytest.mark.parametrize(
    ("who", "outcome"),
    [
        ("ines", "minted"),
        ("tim", "not_instructor"),
        ("sam", "not_instructor"),
        ("ivan", "class_not_found"),
        ("zed", "class_not_found"),
    ],
)
async def test_who_mints_a_token_bound_to_the_class(
    api: Any, bearer: Any, jp_serverapp: Any, who: str, outcome: str
) -> None:
    """Signed in through the hub (tokens cannot mint tokens): only the class's
    instructors mint tokens bound to it; for outsiders the class does not exist."""
    w = await build(api, bearer)
    caller = Caller(name=who, admin=False, scopes=USER_SCOPES | {"grade"}, via="hub")
    data = TokenCreate(name="ci", scopes=["grade"], class_id=w.cid, expires_in=600)
    service = jp_serverapp.web_app.settings["muscode"].token_service
    try:
        minted = await service.create(caller, data)
    except MuscodeError as e:
        assert e.reason == outcome, e
        assert (e.status, outcome) in ((403, "not_instructor"), (404, "class_not_found"))
    else:
        assert outcome == "minted" and minted["class_id"] == w.cid
        grader = {"Authorization": f"Bearer {minted['token']}"}
        assert (await api("GET", f"assignments/{w.aid}/grades", headers=grader)).status == 200
