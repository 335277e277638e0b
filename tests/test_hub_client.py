"""The hub client's failure mode: a hub that is down is a 503 naming the hub."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from muscode_ext.errors import DependencyDown
from muscode_ext.hub import HubClient


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub/api"  # nothing listens there any more


def test_unreachable_hub_is_dependency_down() -> None:
    client = HubClient(dead_url(), "token", timeout=5)
    with pytest.raises(DependencyDown) as info:
        asyncio.run(client.create_class_group("cs101", "c1", ["ines"]))
    assert info.value.status == 503 and info.value.reason == "hub_unavailable"
    assert "JupyterHub" in info.value.message


async def test_class_changes_with_the_hub_down_are_503_and_change_nothing(
    api: Any, jp_serverapp: Any
) -> None:
    muscode = jp_serverapp.web_app.settings["muscode"]
    muscode.class_service.hub = HubClient(dead_url(), "token", timeout=5)
    reply = await api("POST", "classes", {"slug": "cs101", "name": "CS"})
    assert reply.status == 503 and reply.json["reason"] == "hub_unavailable"
    assert "JupyterHub" in reply.json["message"]
    muscode.class_service.hub = None
    assert (await api("GET", "classes")).json == []
