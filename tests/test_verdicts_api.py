"""Verdicts graders expect, through the API: a Python or PHP file that does not parse is
a ``compile_error`` with the interpreter's message (in runs, tests, batches and grading,
where it scores 0), and output that is not UTF-8 comes back exactly as
``stdout_base64``/``stderr_base64``, hidden from students with the rest of a hidden
test's output."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from .test_assignments import make_assignment, setup_class, start_and_write, submit

pytestmark = pytest.mark.usefixtures("bubblewrap")


async def run(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api("POST", "executions", body, params={"wait": "true", "timeout": "60"})
    assert reply.status == 200, reply.body
    assert reply.json["status"] == "done", reply.json
    return dict(reply.json)


async def test_a_file_that_does_not_parse_is_a_compile_error(api: Any) -> None:
    python = await run(api, {"language": "python", "source": "print(1\n", "expected_output": "1"})
    assert python["verdict"] == "compile_error", python
    assert python["compile_output"].rstrip().endswith("SyntaxError: '(' was never closed")
    assert 'main.py", line 1' in python["compile_output"]
    assert python["stdout"] == "" and python["exit_code"] is None
    assert python["stdout_base64"] is None and python["stderr_base64"] is None

    php = await run(api, {"language": "php", "source": "<?php\necho 1\necho 2;\n"})
    assert php["verdict"] == "compile_error", php
    assert "Parse error: syntax error" in php["compile_output"]

    tests = [{"name": "a", "stdin": "1\n", "expected_output": "1"}, {"name": "b", "stdin": ""}]
    with_tests = await run(
        api, {"language": "python", "source": "x = input(\nprint(x)\n", "tests": tests}
    )
    assert with_tests["verdict"] == "compile_error", with_tests
    assert [t["verdict"] for t in with_tests["tests"]] == ["compile_error", "compile_error"]
    assert "SyntaxError" in with_tests["compile_output"]


async def test_a_valid_program_runs_as_before(api: Any) -> None:
    crash = await run(api, {"language": "python", "source": "def f():\n    1 / 0\n\nf()\n"})
    assert crash["verdict"] == "runtime_error", crash
    assert crash["stderr"].startswith("Traceback (most recent call last):\n")
    assert crash["stderr"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert "<string>" not in crash["stderr"] and "_muscode" not in crash["stderr"]
    assert crash["compile_output"] is None

    source = (
        "import sys\n"
        "if __name__ == '__main__':\n"
        "    print(sys.argv[0], __file__.endswith('/main.py'), input())\n"
    )
    fine = await run(api, {"language": "python", "source": source, "stdin": "typed\n"})
    assert fine["verdict"] == "accepted", fine
    assert fine["stdout"] == "main.py True typed\n"


async def test_output_that_is_not_utf8_is_returned_exactly(api: Any) -> None:
    source = "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok')\n"
    raw = await run(api, {"language": "python", "source": source})
    assert raw["verdict"] == "accepted", raw
    assert raw["stdout"] == "\ufffd\ufffd ok"
    assert base64.b64decode(raw["stdout_base64"]) == b"\xff\xfe ok"
    assert raw["stderr_base64"] is None

    text = await run(api, {"language": "python", "source": "print('héllo ✓')"})
    assert text["stdout"] == "héllo ✓\n" and text["stdout_base64"] is None

    # Judge0-style batch, read back by ids: each run's bytes, and each test's.
    body = {
        "submissions": [
            {"language": "python", "source": source},
            {
                "language": "python",
                "source": source,
                "tests": [{"name": "only", "stdin": ""}],
            },
        ]
    }
    reply = await api("POST", "executions/batch", body)
    assert reply.status == 201, reply.body
    ids = ",".join(reply.json["ids"])
    runs: list[dict[str, Any]] = []
    for _ in range(1200):
        runs = (await api("GET", "executions", params={"ids": ids})).json
        if all(r["status"] == "done" for r in runs):
            break
        await asyncio.sleep(0.05)
    assert [r["status"] for r in runs] == ["done", "done"]
    for r in runs:
        assert base64.b64decode(r["stdout_base64"]) == b"\xff\xfe ok", r
    with_tests = (await api("GET", f"executions/{reply.json['ids'][1]}")).json
    assert base64.b64decode(with_tests["tests"][0]["stdout_base64"]) == b"\xff\xfe ok"


async def test_grading_a_file_that_does_not_parse_scores_zero(api: Any, bearer: Any) -> None:
    cid, people = await setup_class(api, bearer)
    a = await make_assignment(api, cid, people["ines"])
    pid = await start_and_write(api, a["id"], people["sam"], "n = int(input()\nprint(n * 2)\n")
    sub = await submit(api, a["id"], pid, people["sam"])
    assert sub["verdict"] == "compile_error", sub
    assert sub["score"] == 0 and sub["raw_score"] == 0
    assert "SyntaxError" in sub["compile_output"]
    assert all(not t["passed"] and t["points_awarded"] == 0 for t in sub["tests"])
    staff = (await api("GET", f"submissions/{sub['id']}", headers=people["ines"])).json
    assert [t["verdict"] for t in staff["tests"]] == ["compile_error"] * 3


async def test_raw_bytes_of_a_hidden_test_stay_hidden(api: Any, bearer: Any) -> None:
    cid, people = await setup_class(api, bearer)
    a = await make_assignment(api, cid, people["ines"])
    source = "import sys\nn = int(input())\nsys.stderr.buffer.write(b'\\xff%d' % n)\nprint(n * 2)\n"
    pid = await start_and_write(api, a["id"], people["sam"], source)
    sub = await submit(api, a["id"], pid, people["sam"])
    assert sub["score"] == sub["max_score"], sub
    visible, hidden = sub["tests"][:2], sub["tests"][2]
    assert base64.b64decode(visible[0]["stderr_base64"]) == b"\xff2"
    assert visible[0]["stdout_base64"] is None
    assert set(hidden) == {"name", "hidden", "points", "points_awarded", "passed"}
    staff = (await api("GET", f"submissions/{sub['id']}", headers=people["ines"])).json
    secret = staff["tests"][2]
    assert base64.b64decode(secret["stderr_base64"]).startswith(b"\xff")
