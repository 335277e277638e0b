"""A small client of the JupyterHub REST API, for mirroring classes as hub groups.

Used only when MUSCode runs under the hub (as the ``muscode`` service): it calls
``JUPYTERHUB_API_URL`` with the service's ``JUPYTERHUB_API_TOKEN``, which the hub config
grants the scopes to read users and manage groups. A hub that cannot be reached is a
:class:`~muscode_ext.errors.DependencyDown` (503, reason ``hub_unavailable``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .errors import DependencyDown


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

    async def ensure_group(self, name: str) -> None:
        # 409: the group exists already, which is what we want.
        await self._call("POST", f"groups/{quote(name, safe='')}", {}, ok=(409,))

    async def delete_group(self, name: str) -> None:
        await self._call("DELETE", f"groups/{quote(name, safe='')}", ok=(404,))

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
