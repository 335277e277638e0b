"""The build cache through the server: Run again, and Check then Submit, of the same C
code compile once; another user's identical code compiles on its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from muscode_ext import metrics

from .test_assignments import STAFF, make_assignment, submit
from .test_classes import enrol, make_class
from .test_executions import run

pytestmark = pytest.mark.usefixtures("bubblewrap")


def builds(build: str) -> float:
    return float(metrics.BUILDS.labels("c", build)._value.get())


def doubler() -> str:
    """A C program printing twice its input, unique to this test run."""
    return (
        f"#include <stdio.h>\n/* {uuid.uuid4()} */\n"
        'int main(void){int n; if (scanf("%d", &n) != 1) return 1; printf("%d\\n", 2 * n);}\n'
    )


async def test_run_again_reuses_the_build_of_the_same_user_only(api: Any, bearer: Any) -> None:
    source = doubler()
    body = {"language": "c", "source": source, "stdin": "21\n", "expected_output": "42"}
    alice, bob = bearer("alice"), bearer("bob")
    reused = builds("reused")
    first = await run(api, body, headers=alice)
    assert first["verdict"] == "accepted" and first["compile_time_ms"] is not None
    again = await run(api, {**body, "stdin": "5\n", "expected_output": "10"}, headers=alice)
    assert again["verdict"] == "accepted" and again["stdout"] == "10\n"
    assert again["compile_time_ms"] is None  # no compile step ran
    assert again["compile_output"] == first["compile_output"]
    assert builds("reused") == reused + 1
    # The same code from someone else compiles.
    other = await run(api, body, headers=bob)
    assert other["verdict"] == "accepted" and other["compile_time_ms"] is not None
    assert builds("reused") == reused + 1
    # An edit compiles, and a compile error stays one.
    broken = await run(api, {**body, "source": source + "oops\n"}, headers=alice)
    assert broken["verdict"] == "compile_error" and broken["compile_time_ms"] is not None
    again = await run(api, {**body, "source": source + "oops\n"}, headers=alice)
    assert again["verdict"] == "compile_error" and again["compile_time_ms"] is not None
    assert builds("reused") == reused + 1


async def test_check_then_submit_compiles_once(api: Any, bearer: Any) -> None:
    ines = bearer("ines", STAFF)
    c = await make_class(api, ines, slug="cache101")
    await enrol(api, c["id"], ines, sam="student")
    sam = bearer("sam")
    tests = [
        {"name": "two", "stdin": "2\n", "expected_output": "4\n", "points": 1},
        {"name": "hidden", "stdin": "7\n", "expected_output": "14\n", "points": 1, "hidden": True},
    ]
    a = await make_assignment(
        api,
        c["id"],
        ines,
        language="c",
        starter_files=[{"path": "main.c", "content": "int main(void){return 0;}\n"}],
        tests=tests,
    )
    started = await api("POST", f"assignments/{a['id']}/start", headers=sam)
    assert started.status == 201, started.body
    pid, f = started.json["id"], started.json["files"][0]
    reply = await api(
        "PUT",
        f"projects/{pid}/files/{f['id']}",
        {"content": doubler(), "version": f["version"]},
        headers=sam,
    )
    assert reply.status == 200, reply.body
    compiled, reused = builds("compiled"), builds("reused")
    check = await api(
        "POST",
        f"assignments/{a['id']}/check",
        {"project_id": pid},
        headers=sam,
        params={"wait": "true"},
    )
    assert check.status == 200, check.body
    assert [t["verdict"] for t in check.json["tests"]] == ["accepted"]
    assert builds("compiled") == compiled + 1
    graded = await submit(api, a["id"], pid, sam)
    assert graded["score"] == 2 and graded["verdict"] == "accepted"
    assert builds("compiled") == compiled + 1
    assert builds("reused") == reused + 1
