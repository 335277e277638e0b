"""How a program's output is compared with the expected output (API.md, ``compare``).

Pure functions. Five rules, named by the ``compare`` field of a run or a test:

- ``trailing_whitespace`` (the default): whitespace at the end of each line (including
  the ``\\r`` of Windows line ends) and blank lines at the end are ignored;
- ``exact``: the texts must be equal, character for character;
- ``all_whitespace``: whitespace anywhere is ignored (``1 2`` equals ``12``);
- ``case``: like ``trailing_whitespace``, ignoring upper and lower case;
- ``numbers``: both outputs are split into whitespace-separated tokens (line breaks
  count as whitespace); there must be as many of each, and a token of the expected
  output that is a decimal number matches a number within ``tolerance``, absolute or
  relative to the expected number, whichever is larger; other tokens must be equal.

Whitespace means ASCII whitespace (space, tab, CR, LF, FF, VT) throughout: a program may
print U+00A0 on purpose, and it is compared like any other character.

The rule travels with the expected output: :class:`ExpectedOutput` is the expected text
(a ``str``) carrying its rule, so every part that passes an expected output along keeps
its rule without knowing about it.
"""

from __future__ import annotations

import math
import re
from typing import Literal, get_args

Compare = Literal["trailing_whitespace", "exact", "all_whitespace", "case", "numbers"]
COMPARE_MODES: tuple[str, ...] = get_args(Compare)
DEFAULT_COMPARE: Compare = "trailing_whitespace"
#: The ``numbers`` rule's tolerance when none is given.
DEFAULT_TOLERANCE = 1e-6

_WS = " \t\r\n\f\v"
_WS_RUN = re.compile(r"[ \t\r\n\f\v]+")
# A decimal number as programs print them: no "nan", "inf", hex or digit separators.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class ExpectedOutput(str):
    """An expected output and the rule it is compared by (a ``str`` like any other)."""

    compare: str
    tolerance: float

    def __new__(
        cls, text: str, compare: str = DEFAULT_COMPARE, tolerance: float | None = None
    ) -> ExpectedOutput:
        if compare not in COMPARE_MODES:
            raise ValueError(f"unknown output comparison {compare!r}")
        out = super().__new__(cls, text)
        out.compare = compare
        out.tolerance = DEFAULT_TOLERANCE if tolerance is None else float(tolerance)
        return out


def expected_output(
    text: str | None, compare: str | None = None, tolerance: float | None = None
) -> str | None:
    """``text`` with its rule attached (None stays None; the default rule stays a plain
    ``str``)."""
    if text is None or compare in (None, DEFAULT_COMPARE):
        return text
    return ExpectedOutput(text, compare, tolerance)


def _lines(text: str) -> list[str]:
    lines = [line.rstrip(_WS) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _numbers_match(actual: str, expected: str, tolerance: float) -> bool:
    got, want = _WS_RUN.split(actual.strip(_WS)), _WS_RUN.split(expected.strip(_WS))
    if len(got) != len(want):
        return False
    for a, e in zip(got, want, strict=True):
        if _NUMBER.fullmatch(e) and _NUMBER.fullmatch(a):
            x, y = float(a), float(e)
            if not (math.isfinite(x) and math.isfinite(y)):
                if a != e:
                    return False
            elif abs(x - y) > max(tolerance, tolerance * abs(y)):
                return False
        elif a != e:
            return False
    return True


def outputs_match(
    actual: str,
    expected: str,
    compare: str = DEFAULT_COMPARE,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """Does ``actual`` match ``expected`` under the rule ``compare``?"""
    if compare == "exact":
        return actual == expected
    if compare == "all_whitespace":
        return _WS_RUN.sub("", actual) == _WS_RUN.sub("", expected)
    if compare == "case":
        return _lines(actual.casefold()) == _lines(expected.casefold())
    if compare == "numbers":
        return _numbers_match(actual, expected, tolerance)
    if compare == DEFAULT_COMPARE:
        return _lines(actual) == _lines(expected)
    raise ValueError(f"unknown output comparison {compare!r}")


def rule_of(expected: str) -> tuple[str, float]:
    """The rule ``expected`` is compared by: its own, else the default."""
    if isinstance(expected, ExpectedOutput):
        return expected.compare, expected.tolerance
    return DEFAULT_COMPARE, DEFAULT_TOLERANCE


def describe(expected: str) -> str:
    """The rule in words, for a wrong answer's message ("" for the default rule)."""
    compare, tolerance = rule_of(expected)
    words: dict[str, str] = {
        DEFAULT_COMPARE: "",
        "exact": " (compared exactly)",
        "all_whitespace": " (compared ignoring all whitespace)",
        "case": " (compared ignoring case)",
        "numbers": f" (numbers compared within {tolerance:g})",
    }
    return words[compare]
