"""Checks of the security-relevant settings: user names, hosts and URLs.

A setting that silently means something else is worse than one that stops the start:
Jupyter's command line takes ``--MuscodeApp.admin_users="['teacher']"`` as the one
name ``['teacher']`` when another ``--MuscodeApp.*`` option is given (the list is only
parsed as a Python literal in some cases), and a host written that way matches no
host. These checks run as the settings' traitlets validators, so a wrong value stops
``jupyter muscode``, ``jupyter lab`` and ``muscode-worker`` with a sentence naming the
setting and the forms it accepts. User names follow the one rule of :mod:`.names`.
"""

from __future__ import annotations

import ast
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from traitlets import TraitError

from .names import user_name_problem

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _as_list_problem(setting: str, value: str, what: str) -> str | None:
    """A sentence when ``value`` looks like several values written as one string (a
    Python list, quoted, or comma-separated), else None."""
    v = value.strip()
    bracketed = len(v) >= 2 and v[0] in "[({" and v[-1] in "])}"
    quoted = len(v) >= 2 and v[0] == v[-1] and v[0] in "'\""
    if not (bracketed or quoted or "," in v):
        return None
    first, second = _examples(v, what)
    return (
        f'{setting}: got the string "{value}"; give {what}s as '
        f"--{setting}={first} --{setting}={second} or in a config file as a list"
    )


def _examples(value: str, what: str) -> tuple[str, str]:
    """Two values to show in the message: from what was meant, where it can be read."""
    try:
        meant = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        meant = [p.strip(" '\"[](){}") for p in value.split(",")]
    if isinstance(meant, str):
        meant = [meant]
    names = [str(m) for m in meant if str(m).strip()] if isinstance(meant, Iterable) else []
    first = names[0] if names else what
    second = names[1] if len(names) > 1 else "other"
    return first, second


def check_user_names(setting: str, names: Iterable[str]) -> None:
    """TraitError naming ``setting`` unless every name is a user name."""
    for name in sorted(names):
        problem = _as_list_problem(setting, name, "name") or (
            f"{setting}: {p}" if (p := user_name_problem(name)) else None
        )
        if problem:
            raise TraitError(problem)


def host_problem(host: str) -> str | None:
    """Why ``host`` is not a host name, an IP address or a network (CIDR); or None."""
    h = host.strip()
    if "/" in h:
        try:
            ipaddress.ip_network(h, strict=False)
            return None
        except ValueError:
            return f"{host!r} is not a network such as 10.0.0.0/8 or fd00::/8"
    try:
        ipaddress.ip_address(h.strip("[]"))
        return None
    except ValueError:
        pass
    labels = h.rstrip(".").split(".")
    if len(h) <= 253 and all(_HOST_LABEL.match(label) for label in labels):
        return None
    return f"{host!r} is not a host name, an IP address or a network (CIDR such as 10.0.0.0/8)"


def check_hosts(setting: str, hosts: Iterable[str]) -> None:
    """TraitError naming ``setting`` unless every entry is a host, an IP or a CIDR."""
    for host in sorted(hosts):
        problem = host_problem(host)  # first: "[::1]" is an address, not a list
        if problem:
            raise TraitError(_as_list_problem(setting, host, "host") or f"{setting}: {problem}")


def check_url(setting: str, url: str, schemes: tuple[str, ...], example: str) -> None:
    """TraitError naming ``setting`` unless ``url`` is empty or has one of ``schemes``
    and a host (a ``unix`` URL: a path)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # the port must be a number
    except ValueError as e:
        raise TraitError(
            f"{setting}: {url!r} is not a URL ({e}); give one like {example}"
        ) from None
    accepted = ", ".join(f"{s}://" for s in schemes)
    if parts.scheme not in schemes:
        raise TraitError(f"{setting}: {url!r} must start with {accepted}; e.g. {example}")
    if parts.scheme == "unix" and parts.path:
        return
    if not host or host_problem(host) is not None:
        raise TraitError(f"{setting}: {url!r} names no valid host; give one like {example}")


__all__ = ["check_hosts", "check_url", "check_user_names", "host_problem"]
