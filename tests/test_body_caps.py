"""Request bodies: MUSCode's routes cap them and never read one before knowing the caller.

Jupyter Server buffers a whole request body (up to its ``max_body_size``, 512 MiB by
default) before any handler runs, so a 200 MiB body with no credentials once grew the
server by 400 MB before its 401. MUSCode's handlers take their bodies as a stream: the
caller is authenticated from the headers first, a body without credentials is refused
unread (401, connection closed), and a body over the route's cap (2 MiB, or 20 MiB for
routes that carry files and programs; both configurable) is a 413 with a message.

These tests speak raw HTTP to the test server, count what the server let them send and
sample the server process's resident memory meanwhile (the server runs in this process).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import socket
from dataclasses import dataclass
from typing import Any

import pytest

from .test_projects import make_project

MiB = 1024 * 1024
# The test server is Tornado's HTTPServer with its default 100 MB limit (Jupyter
# Server's own is 512 MiB): bodies stay below it so that MUSCode's caps are what acts.
API = "api/muscode/v1"


def rss() -> int:
    """This process's (the server's) resident memory, in bytes."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Exchange:
    status: int
    body: Any
    #: Body bytes the server let the client send before it answered or hung up.
    sent: int
    #: The most the server's resident memory grew while it happened.
    rss_growth: int


async def exchange(
    port: int,
    path: str,
    size: int,
    *,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
    send_body: bool = True,
) -> Exchange:
    """POST a ``size``-byte body (64 KiB at a time) and read the answer. With
    ``send_body=False`` only the headers go (a client waiting for ``100 Continue``).

    A raw socket, so that an answer the server sends before hanging up on the rest of
    the body is read even when the hang-up resets the connection.
    """
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    await loop.sock_sendall(sock, ("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0
    baseline, peak = rss(), 0
    answer = bytearray()

    async def pump() -> None:
        nonlocal sent
        block = b" " * (64 * 1024)
        with contextlib.suppress(OSError):  # the server hung up: what we wanted
            while send_body and sent < size:
                data = block[: min(len(block), size - sent)]
                frame = f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data
                await loop.sock_sendall(sock, frame)
                sent += len(data)
            if chunked and send_body:
                await loop.sock_sendall(sock, b"0\r\n\r\n")

    async def receive() -> None:
        with contextlib.suppress(OSError):
            while not _complete(answer):
                data = await loop.sock_recv(sock, 65536)
                if not data:
                    return
                answer.extend(data)

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss() - baseline)
            await asyncio.sleep(0.01)

    pumping = asyncio.ensure_future(pump())
    sampling = asyncio.ensure_future(sample())
    try:
        await asyncio.wait_for(receive(), 60)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(pumping), 5)  # the hang-up ends it
    finally:
        pumping.cancel()
        sampling.cancel()
        sock.close()
    peak = max(peak, rss() - baseline)
    head_text, _, body = bytes(answer).partition(b"\r\n\r\n")
    assert head_text, "no answer at all"
    status = int(head_text.split()[1])
    return Exchange(status, json.loads(body) if body else None, sent, peak)


def _complete(answer: bytearray) -> bool:
    """Has a whole HTTP response (with a Content-Length) arrived?"""
    head, sep, body = bytes(answer).partition(b"\r\n\r\n")
    if not sep:
        return False
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return match is not None and len(body) >= int(match.group(1))


@pytest.fixture
def url(jp_base_url: str) -> Any:
    return lambda path: f"{jp_base_url.rstrip('/')}/{API}/{path}"


@pytest.fixture
def server_allows_anonymous() -> bool:
    """Jupyter Server's ``allow_unauthenticated_access`` (its default is True; the
    other tests run with False)."""
    return False


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], server_allows_anonymous: bool) -> Any:
    jp_server_config["ServerApp"]["allow_unauthenticated_access"] = server_allows_anonymous
    return jp_server_config


@pytest.mark.parametrize("server_allows_anonymous", [False, True])
async def test_an_unauthenticated_body_is_never_read(api: Any, jp_http_port: int, url: Any) -> None:
    await api("GET", "me")  # the server is up
    for path in ("projects", "executions", "classes", "tokens"):
        got = await exchange(jp_http_port, url(path), 90 * MiB)
        assert got.status == 401, got
        assert got.body["reason"] == "unauthenticated" and got.body["message"]
        # What the kernel's socket buffers hold, not the body.
        assert got.sent < 32 * MiB, f"the server read {got.sent / MiB:.0f} MiB of {path}"
        assert got.rss_growth < 64 * MiB, f"{path}: RSS grew {got.rss_growth / MiB:.0f} MiB"


async def test_an_oversized_authenticated_body_is_413_unread(
    api: Any, jp_http_port: int, jp_auth_header: dict[str, str], url: Any
) -> None:
    pid = (await make_project(api))["id"]
    cases = [
        ("classes", 3 * MiB),  # a JSON route: 2 MiB
        ("executions", 25 * MiB),  # a route that carries programs: 20 MiB
        (f"projects/{pid}/files", 90 * MiB),
    ]
    for path, size in cases:
        got = await exchange(jp_http_port, url(path), size, headers=jp_auth_header)
        assert got.status == 413, got
        assert got.body["reason"] == "body_too_large"
        assert "MiB" in got.body["message"], got.body
        assert got.sent < 32 * MiB and got.rss_growth < 64 * MiB, got


async def test_a_client_that_waits_for_100_continue_gets_the_answer_and_sends_nothing(
    api: Any, jp_http_port: int, jp_auth_header: dict[str, str], url: Any
) -> None:
    await api("GET", "me")
    expect = {"Expect": "100-continue"}
    got = await exchange(jp_http_port, url("classes"), 90 * MiB, headers=expect, send_body=False)
    assert got.status == 401 and got.body["reason"] == "unauthenticated", got
    headers = {**jp_auth_header, **expect}
    got = await exchange(jp_http_port, url("classes"), 90 * MiB, headers=headers, send_body=False)
    assert got.status == 413 and got.body["reason"] == "body_too_large", got


async def test_an_oversized_chunked_body_is_cut_at_the_cap(
    api: Any, jp_http_port: int, jp_auth_header: dict[str, str], url: Any
) -> None:
    await api("GET", "me")
    auth = jp_auth_header
    got = await exchange(jp_http_port, url("classes"), 64 * MiB, headers=auth, chunked=True)
    assert got.status == 413, got
    assert got.body["reason"] == "body_too_large"
    assert got.sent < 32 * MiB and got.rss_growth < 64 * MiB, got
    # Without credentials, chunked or not, nothing is read.
    got = await exchange(jp_http_port, url("classes"), 64 * MiB, chunked=True)
    assert got.status == 401 and got.sent < 32 * MiB, got


async def test_bodies_under_the_caps_work(api: Any) -> None:
    """A file near the per-file limit, sent as base64, is more than 2 MiB of JSON."""
    pid = (await make_project(api))["id"]
    data = os.urandom(2 * MiB - 1024)
    body = {"path": "data.bin", "content": base64.b64encode(data).decode(), "encoding": "base64"}
    assert len(json.dumps(body)) > 2 * MiB
    reply = await api("POST", f"projects/{pid}/files", body)
    assert reply.status == 201, reply.body
    reply = await api("POST", "classes", {"slug": "cs1", "name": "x" * 200})
    assert reply.status == 201


@pytest.mark.parametrize("muscode_config", [{"max_body_size": 4096}])
async def test_the_caps_are_configurable(api: Any) -> None:
    reply = await api("POST", "classes", {"slug": "cs1", "name": "CS", "term": ""}, validate=False)
    assert reply.status == 201
    padded = json.dumps({"slug": "cs2", "name": "CS"}) + " " * 5000
    reply = await api("POST", "classes", raw=padded)
    assert reply.status == 413 and reply.json["reason"] == "body_too_large"
    assert "4096 bytes" in reply.json["message"] or "4 KiB" in reply.json["message"]
