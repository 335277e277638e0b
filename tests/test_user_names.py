"""Reserved and malformed user names are refused wherever a name enters MUSCode.

``muscode/grader`` owns the grading runs, whose requests hold the hidden tests: a
bearer token naming it once listed them. Names with a "/", blank or over-long names,
and names with spaces, control or invisible formatting characters (bidi overrides,
zero-width characters) are refused in token subjects (minting and verifying), rosters
(JSON and CSV), hub and Jupyter identities, and the ``embedded_user`` and
``admin_users`` settings.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from muscode_ext.auth import Authenticator, TokenAuthority
from muscode_ext.errors import Forbidden
from muscode_ext.names import GRADER, user_name_problem
from muscode_ext.services.assignments import GRADER as GRADING_OWNER

from .conftest import JWT_SECRET
from .test_app import _env, _muscode
from .test_classes import make_class

BAD_NAMES = [
    GRADER,
    "muscode/admin",
    "../etc",
    "",
    " ",
    "ali ce",
    "alice\n",
    "ad\u202emin",  # RIGHT-TO-LEFT OVERRIDE
    "al\u200bice",  # ZERO WIDTH SPACE
    "\ufeffbob",  # BYTE ORDER MARK
    "bob\u2066",  # LEFT-TO-RIGHT ISOLATE
    "a\u00a0b",  # NO-BREAK SPACE
    ".",
    "..",
    "x" * 256,
]
GOOD_NAMES = ["alice", "Bob.Smith", "o'brien", "user@example.edu", "zoë", "李雷", "x" * 255]
ALL = ("execute", "projects", "classes:read", "classes:write", "grade")


def test_the_grader_is_the_grading_runs_owner() -> None:
    assert GRADING_OWNER == GRADER == "muscode/grader"


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_have_a_problem(name: str) -> None:
    assert user_name_problem(name) is not None


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_have_none(name: str) -> None:
    assert user_name_problem(name) is None


def test_no_token_is_minted_for_a_bad_name() -> None:
    authority = TokenAuthority(JWT_SECRET)
    for name in BAD_NAMES:
        with pytest.raises(ValueError):
            authority.issue(name, ["execute"])


def _forge(name: str) -> dict[str, str]:
    """A correctly signed token whose subject is ``name`` (issue() would refuse it)."""
    import time

    import jwt

    now = int(time.time())
    claims = {"sub": name, "scopes": list(ALL), "iat": now, "exp": now + 600, "jti": "x" + name}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


async def test_a_token_naming_the_grader_or_a_bad_name_is_refused(api: Any) -> None:
    for name in BAD_NAMES:
        headers = _forge(name)
        for path in ("me", "executions", "projects"):
            reply = await api("GET", path, headers=headers)
            assert reply.status == 401, (name, path, reply.body)
            assert reply.json["reason"] == "invalid_token"


async def test_rosters_refuse_reserved_and_malformed_names(api: Any, bearer: Any) -> None:
    ines = bearer("ines", ALL)
    c = await make_class(api, ines)
    url = f"classes/{c['id']}/members"
    for name in BAD_NAMES:
        body = {"members": [{"name": "sam"}, {"name": name}]}
        reply = await api("POST", url, body, headers=ines)
        assert reply.status == 422, (name, reply.body)
        assert reply.json["errors"][0]["field"] == "members[1].name"
    rows = [n for n in BAD_NAMES if n.strip() and "\n" not in n and "," not in n]
    csv = "name,role\nsam,student\n" + "".join(f"{n},student\n" for n in rows)
    reply = await api(
        "POST", f"{url}.csv", raw=csv.encode(), headers={**ines, "Content-Type": "text/csv"}
    )
    assert reply.status in (200, 422), reply.body
    lines = {e.get("field") or f"line {e.get('line')}" for e in reply.json["errors"]}
    assert lines == {f"line {i}" for i in range(3, 3 + len(rows))}, reply.body
    roster = {m["name"] for m in (await api("GET", url, headers=ines)).json}
    assert roster & set(BAD_NAMES) == set()


@dataclass
class _HubUser:
    """What a JupyterHub-authenticated request's user looks like to MUSCode."""

    username: str
    hub_user: dict[str, Any] = field(default_factory=dict)


async def test_hub_identities_with_bad_names_are_refused() -> None:
    auth = Authenticator(db=None, authority=None)  # type: ignore[arg-type]
    for name in [n for n in BAD_NAMES if n]:  # no name at all: 401, "who are you?"
        user = _HubUser(username=name, hub_user={"name": name, "admin": True, "groups": []})
        with pytest.raises(Forbidden) as info:
            await auth.from_jupyter_user(user)
        assert info.value.reason == "invalid_user_name"


@pytest.mark.parametrize(
    ("setting", "value"),
    [("admin_users", GRADER), ("embedded_user", GRADER), ("embedded_user", "ad\u202emin")],
)
def test_settings_with_bad_names_refuse_to_start(tmp_path: Path, setting: str, value: str) -> None:
    out = subprocess.run(
        _muscode("--no-browser", "--allow-root", f"--MuscodeApp.{setting}={value}"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "MUSCode cannot start" in out.stderr
    assert f"MuscodeApp.{setting}" in out.stderr


def test_the_authenticator_refuses_bad_configured_names() -> None:
    for kwargs in ({"admin_users": {"alice", GRADER}}, {"embedded_user": "a b"}):
        with pytest.raises(ValueError):
            Authenticator(db=None, authority=None, **kwargs)  # type: ignore[arg-type]
