"""User names: the one rule every name entering MUSCode passes.

A name enters through a bearer token's ``sub`` (minted and verified), a roster (JSON or
CSV), the hub's or Jupyter's identity of a request, and the settings ``embedded_user``
and ``admin_users``. Each of those places asks :func:`user_name_problem` and refuses
the name when it answers.

A user name is 1 to 255 characters with no ``/``, no whitespace and no control or
invisible formatting character (bidi overrides, zero-width characters...), and is not
``.`` or ``..``. Names with a ``/`` are MUSCode's own (the grader is
``muscode/grader``): no person, token or roster can take one, so no credential can act
as the grader or read its runs.
"""

from __future__ import annotations

import unicodedata

from .errors import Invalid

MAX_LENGTH = 255
#: MUSCode's own users are named ``muscode/<what>``; a "/" marks them.
INTERNAL_MARK = "/"
#: The owner of grading runs.
GRADER = "muscode/grader"

# Controls, invisible formatting (bidi, zero-width, BOM), separators and surrogates.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Cs"})


def is_internal_user(name: str) -> bool:
    """Is ``name`` one of MUSCode's own users (the grader), which no person can be?"""
    return INTERNAL_MARK in name


def user_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a user name (a sentence), or None when it can."""
    if not isinstance(name, str) or not name:
        return "a user name must be a non-empty string"
    if len(name) > MAX_LENGTH:
        return f"a user name has at most {MAX_LENGTH} characters"
    if is_internal_user(name):
        return f"{name!r} is reserved: names with a '/' belong to MUSCode itself"
    if name in (".", ".."):
        return f"{name!r} is not a user name"
    for ch in name:
        if ch.isspace() or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return (
                f"{name!r} holds U+{ord(ch):04X}: user names have no spaces, control or "
                "invisible formatting characters"
            )
    return None


def check_user_name(name: str, field: str = "name") -> str:
    """``name`` when it is a valid user name; else 422 naming ``field`` and why."""
    problem = user_name_problem(name)
    if problem is not None:
        raise Invalid.field(field, problem)
    return name


def check_setting(setting: str, names: str | set[str] | frozenset[str] | None) -> None:
    """Raise ``ValueError("<setting>: ...")`` when a configured name is not valid."""
    if names is None:
        return
    for name in [names] if isinstance(names, str) else sorted(names):
        problem = user_name_problem(name)
        if problem is not None:
            raise ValueError(f"{setting}: {problem}")
