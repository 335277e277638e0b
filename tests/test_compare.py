"""Output comparison rules (``compare``): the pure rules, then runs, tests and batches
through the API, and the 422s of a bad rule. (Assignment tests with a rule:
tests/test_verify_and_regrade.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from muscode_ext.execution.compare import ExpectedOutput, expected_output, outputs_match
from muscode_ext.execution.verdicts import outputs_match as verdict_match

# -- the rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compare", "actual", "expected", "match"),
    [
        # trailing_whitespace (today's rule, the default)
        ("trailing_whitespace", "a  \nb\t\r\n\n\n", "a\nb", True),
        ("trailing_whitespace", " a\n", "a\n", False),
        ("trailing_whitespace", "a\n\nb\n", "a\nb\n", False),
        ("trailing_whitespace", "a\u00a0\n", "a\n", False),  # U+00A0 is not ASCII space
        # exact
        ("exact", "a\n", "a\n", True),
        ("exact", "a\n", "a", False),
        ("exact", "a\r\n", "a\n", False),
        # all_whitespace
        ("all_whitespace", "1 2\n3\t4 \n", "12\n34", True),
        ("all_whitespace", "  h e l l o ", "hello", True),
        ("all_whitespace", "hello!", "hello", False),
        # case
        ("case", "Hello WORLD  \n\n", "hello world\n", True),
        ("case", "STRASSE\n", "straße", True),  # case-folded, not just lowered
        ("case", "hello\n world", "hello\nworld", False),
        # numbers
        ("numbers", "3.1415927\n", "3.14159265", True),
        ("numbers", "3.1416\n", "3.14159265", False),
        ("numbers", "1000000.5 2.0\n", "1000000\n2", True),  # relative beats absolute
        ("numbers", "0.0000005", "0", True),  # absolute near zero
        ("numbers", "0.000002", "0", False),
        ("numbers", "x = 1.0", "x = 1", True),  # "x" and "=" are compared exactly
        ("numbers", "X = 1.0", "x = 1", False),
        ("numbers", "1 2 3", "1 2", False),  # as many tokens
        ("numbers", "nan", "nan", True),  # not a number: compared as text
        ("numbers", "1e999", "1e999", True),
        ("numbers", "1e999", "2e999", False),
        ("numbers", "", "", True),
        ("numbers", "  \n", "", True),
        ("numbers", "1", "", False),
        ("numbers", "abc", "1", False),
    ],
)
def test_rules(compare: str, actual: str, expected: str, match: bool) -> None:
    assert outputs_match(actual, expected, compare) is match
    # The expected output carries its rule through the verdict code.
    assert verdict_match(actual, ExpectedOutput(expected, compare)) is match


def test_tolerance_and_the_default_rule() -> None:
    assert outputs_match("1.05", "1", "numbers", 0.1)
    assert not outputs_match("1.2", "1", "numbers", 0.1)
    assert outputs_match("110", "100", "numbers", 0.1)  # 10% of 100
    assert verdict_match("1.05", ExpectedOutput("1", "numbers", 0.1))
    # A plain str, or the default rule, is today's rule.
    assert verdict_match("a  \n", "a")
    assert type(expected_output("a", None)) is str
    assert type(expected_output("a", "trailing_whitespace")) is str
    assert expected_output(None, "numbers") is None
    wrapped = expected_output("a", "numbers", None)
    assert isinstance(wrapped, ExpectedOutput) and wrapped.tolerance == 1e-6
    with pytest.raises(ValueError):
        ExpectedOutput("a", "fuzzy")


# -- through the API ---------------------------------------------------------------------

runs_code = pytest.mark.usefixtures("bubblewrap")
PI = "print(3.14159265358)\nprint('Done')\n"


async def run(api: Any, body: dict[str, Any], status: int = 200) -> Any:
    reply = await api("POST", "executions", body, params={"wait": "true", "timeout": "60"})
    assert reply.status == status, reply.body
    return reply.json


@runs_code
async def test_a_run_with_a_rule(api: Any) -> None:
    base = {"language": "python", "source": PI, "expected_output": "3.1416 done"}
    assert (await run(api, base))["verdict"] == "wrong_answer"
    numbers = await run(api, {**base, "compare": "numbers", "tolerance": 1e-4})
    assert numbers["verdict"] == "wrong_answer"  # "Done" is not "done"
    assert "numbers compared within 0.0001" in numbers["message"]
    fixed = {**base, "expected_output": "3.1416\nDone\n"}
    loose = await run(api, {**fixed, "compare": "numbers", "tolerance": 1e-4})
    assert loose["verdict"] == "accepted"
    # 3.1416 is 7.3e-6 away: more than the default 1e-6, even relative (3.1e-6).
    assert (await run(api, {**fixed, "compare": "numbers"}))["verdict"] == "wrong_answer"
    exact = await run(api, {**fixed, "expected_output": "3.14159265358\nDone", "compare": "exact"})
    assert exact["verdict"] == "wrong_answer" and "compared exactly" in exact["message"]
    case = await run(api, {**fixed, "expected_output": "3.14159265358\nDONE", "compare": "case"})
    assert case["verdict"] == "accepted"


@runs_code
async def test_tests_with_rules_of_their_own_and_the_runs(api: Any) -> None:
    body = {
        "language": "python",
        "source": "print(input().replace(',', ' , '))\n",
        # The run's rule: each test that names none compares ignoring all whitespace.
        "compare": "all_whitespace",
        "tests": [
            {"name": "spaces", "stdin": "a,b\n", "expected_output": "a,b"},
            {"name": "exact", "stdin": "a,b\n", "expected_output": "a,b", "compare": "exact"},
            {
                "name": "numbers",
                "stdin": "1.0000001,2\n",
                "expected_output": "1 , 2.0000001",
                "compare": "numbers",
            },
            {
                "name": "loose",
                "stdin": "1.01,2\n",
                "expected_output": "1 , 2",
                "compare": "numbers",
                "tolerance": 0.05,
            },
        ],
    }
    result = await run(api, body)
    assert [(t["name"], t["verdict"]) for t in result["tests"]] == [
        ("spaces", "accepted"),
        ("exact", "wrong_answer"),
        ("numbers", "accepted"),
        ("loose", "accepted"),
    ]
    assert result["verdict"] == "wrong_answer"


@runs_code
async def test_a_batch_carries_rules(api: Any) -> None:
    def one(expected: str, compare: str) -> dict[str, Any]:
        return {
            "language": "python",
            "source": "print('Yes')",
            "expected_output": expected,
            "compare": compare,
        }

    body = {
        "submissions": [one("YES", "case"), one("YES", "exact"), one("Y e s", "all_whitespace")]
    }
    reply = await api("POST", "executions/batch", body)
    assert reply.status == 201, reply.body
    ids = ",".join(reply.json["ids"])
    for _ in range(600):
        runs = (await api("GET", "executions", params={"ids": ids})).json
        if all(r["status"] == "done" for r in runs):
            break
        await asyncio.sleep(0.05)
    verdicts = {r["id"]: r["verdict"] for r in runs}
    assert [verdicts[i] for i in reply.json["ids"]] == ["accepted", "wrong_answer", "accepted"]


async def test_bad_rules_are_422_naming_the_field(api: Any) -> None:
    base = {"language": "python", "source": "print(1)", "expected_output": "1"}

    async def bad(body: dict[str, Any], field: str, path: str = "executions") -> None:
        reply = await api("POST", path, body)
        assert reply.status == 422, reply.body
        assert field in [e["field"] for e in reply.json["errors"]], reply.json
        assert reply.json["message"] and reply.json["reason"]

    await bad({**base, "compare": "fuzzy"}, "compare")
    await bad({**base, "compare": "numbers", "tolerance": -1}, "tolerance")
    await bad({**base, "compare": "numbers", "tolerance": "0.1"}, "tolerance")
    await bad({**base, "tolerance": 0.1}, "tolerance")  # only with "numbers"
    await bad({**base, "compare": "exact", "tolerance": 0.1}, "tolerance")
    tests = {
        "language": "python",
        "source": "print(1)",
        "tests": [{"name": "a", "expected_output": "1", "compare": "near"}],
    }
    await bad(tests, "tests[0].compare")
    tests["tests"] = [{"name": "a", "expected_output": "1", "tolerance": 1}]
    await bad(tests, "tests[0].tolerance")
    await bad(
        {"submissions": [{**base, "compare": "fuzzy"}]},
        "submissions[0].compare",
        "executions/batch",
    )
