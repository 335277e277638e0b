"""A small client of the JupyterHub REST API, for mirroring classes as hub groups.

Used only when MUSCode runs under the hub (as the ``muscode`` service): it calls
``JUPYTERHUB_API_URL`` with the service's ``JUPYTERHUB_API_TOKEN``, which the hub config
grants the scopes to read users and manage groups. A hub that cannot be reached is a
:class:`~muscode_ext.errors.DependencyDown` (503, reason ``hub_unavailable``).

MUSCode changes only the groups it made. It marks each in the group's ``properties``
(``{"muscode": {"class_id": ...}}``), refuses a class slug that names a group it did
not make (409 ``hub_group_exists``: a class called ``admins`` must not take over the
hub's ``admins``), and checks the mark before every later change. A group made before
groups were marked is adopted, once, when its members are exactly the class's roster
(the group MUSCode made and kept in step); any other unmarked group is left as it is
(409 ``hub_group_not_ours``) until a hub admin marks it or makes its members match.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .errors import Conflict, DependencyDown

log = logging.getLogger(__name__)

#: The key of a hub group's ``properties`` that marks it as a MUSCode class's group.
MARK = "muscode"


def made_by_muscode(group: dict[str, Any]) -> bool:
    """Does the hub group (its REST model) carry MUSCode's mark?"""
    properties = group.get("properties")
    return isinstance(properties, dict) and isinstance(properties.get(MARK), dict)


class HubClient:
    """Groups and users on the hub, through its REST API."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    @classmethod
    def from_env(cls) -> HubClient | None:
        """The client for the hub that started this process, or None when not under one."""
        url, token = os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
        if not url or not token:
            return None
        return cls(url, token)

    async def _call(
        self, method: str, path: str, body: Any = None, *, ok: Iterable[int] = ()
    ) -> Any:
        request = HTTPRequest(
            f"{self.api_url}/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self._token}", "Content-Type": "application/json"},
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=self._timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as e:
            if e.code in set(ok):
                return None
            detail = e.response.body.decode(errors="replace")[:200] if e.response else str(e)
            raise DependencyDown(
                "hub",
                f"JupyterHub refused {method} {path} ({e.code}): {detail}",
            ) from None
        except OSError as e:
            raise DependencyDown(
                "hub", f"JupyterHub at {self.api_url} is unreachable: {e}"
            ) from None
        return json.loads(response.body) if response.body else None

    async def group(self, name: str) -> dict[str, Any] | None:
        """The hub group's REST model (``users``, ``properties``...), or None."""
        found = await self._call("GET", f"groups/{quote(name, safe='')}", ok=(404,))
        return found if isinstance(found, dict) else None

    async def _mark(self, name: str, group: dict[str, Any], class_id: str) -> None:
        """Put MUSCode's mark on the group, keeping the properties it has."""
        properties = dict(group.get("properties") or {})
        properties[MARK] = {"class_id": class_id}
        await self._call("PUT", f"groups/{quote(name, safe='')}/properties", properties)

    async def create_class_group(self, name: str, class_id: str, members: list[str]) -> None:
        """Make and mark the group of a new class, holding exactly ``members``.

        409 (``hub_group_exists``) when the hub has a group of that name that MUSCode
        did not make. A group MUSCode made and left behind (a create that failed half
        way) is taken over, its members reset to ``members``.
        """
        created = await self._call("POST", f"groups/{quote(name, safe='')}", {}, ok=(409,))
        group = created if isinstance(created, dict) else await self.group(name)
        if group is None:  # deleted between the two calls: nothing to take over
            raise Conflict(
                f"the hub group {name!r} changed while the class was made; try again",
                reason="hub_group_exists",
            )
        if created is None and not made_by_muscode(group):
            raise Conflict(
                f"the hub already has a group named {name!r} that MUSCode did not make; "
                "MUSCode changes only the groups it makes, so choose another slug",
                reason="hub_group_exists",
            )
        try:
            await self._mark(name, group, class_id)
        except DependencyDown:
            if created is not None:  # do not leave an unmarked group of ours behind
                await self._call("DELETE", f"groups/{quote(name, safe='')}", ok=(404,))
            raise
        stale = sorted(set(group.get("users") or ()) - set(members))
        await self.remove_from_group(name, stale)
        await self.add_to_group(name, members)

    async def claim_class_group(
        self, name: str, class_id: str, roster: Iterable[str], *, create: bool = True
    ) -> bool:
        """May MUSCode change the group of the existing class ``class_id``?

        True for a group it marked; an unmarked group whose members are exactly
        ``roster`` (made by a MUSCode before groups were marked) is marked and True. A
        missing group is made again, with ``roster``, when ``create`` (else False).
        Any other group: 409 ``hub_group_not_ours``.
        """
        roster = sorted(set(roster))
        group = await self.group(name)
        if group is None:
            if create:
                await self.create_class_group(name, class_id, roster)
            return create
        if made_by_muscode(group):
            return True
        members = {str(u).lower() for u in group.get("users") or ()}
        if members == {u.lower() for u in roster}:
            await self._mark(name, group, class_id)
            log.info("adopted the hub group %r of class %s (its members match)", name, class_id)
            return True
        raise Conflict(
            f"the hub group {name!r} was not made by MUSCode and its members differ from "
            "the class's roster, so MUSCode leaves it alone; a hub admin can make its "
            f"members match the roster, or set its property {MARK!r} to "
            f'{{"class_id": "{class_id}"}} to hand it to this class',
            reason="hub_group_not_ours",
        )

    async def delete_class_group(self, name: str, class_id: str, roster: Iterable[str]) -> None:
        """Delete the group of a deleted class, if it is MUSCode's; leave any other."""
        try:
            if await self.claim_class_group(name, class_id, roster, create=False):
                await self._call("DELETE", f"groups/{quote(name, safe='')}", ok=(404,))
        except Conflict as e:
            log.warning("class %s deleted; its hub group stays: %s", class_id, e.message)

    async def ensure_users(self, names: Iterable[str]) -> None:
        """Create the hub users that do not exist yet (adding to a group needs them)."""
        for name in names:
            if await self._call("GET", f"users/{quote(name, safe='')}", ok=(404,)) is None:
                await self._call("POST", f"users/{quote(name, safe='')}", {}, ok=(409,))

    async def add_to_group(self, group: str, names: list[str]) -> None:
        if names:
            await self.ensure_users(names)
            await self._call("POST", f"groups/{quote(group, safe='')}/users", {"users": names})

    async def remove_from_group(self, group: str, names: list[str]) -> None:
        if names:
            await self._call(
                "DELETE", f"groups/{quote(group, safe='')}/users", {"users": names}, ok=(404,)
            )
