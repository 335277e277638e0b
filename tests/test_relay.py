"""Relay mode: a Jupyter server that passes MUSCode's API on to another one.

Under JupyterHub a student's server relays to the ``muscode`` service (see
``muscode_ext/relay.py``); here the service is a real ``jupyter muscode`` in a
subprocess, and the relaying server is the test's Jupyter Server. The relay presents
the upstream's token the way a student's server presents its JupyterHub API token.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from muscode_ext.relay import _query, _safe

from .test_live import collect, output

UPSTREAM_TOKEN = "relay-upstream-token-" + "ab" * 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MUSCode server (the hub service's stand-in) on a free port."""
    home = tmp_path_factory.mktemp("upstream")
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
    }
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "MUSCODE_SERVICE_URL"):
        env.pop(name, None)
    jupyter = Path(sys.executable).with_name("jupyter-muscode")
    proc = subprocess.Popen(
        [
            str(jupyter),
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={UPSTREAM_TOKEN}",
            "--ServerApp.base_url=/services/muscode/",
            f"--ServerApp.root_dir={home}",
            "--MuscodeApp.embedded_user=student",
            f"--MuscodeApp.db_url=sqlite:///{home / 'muscode.sqlite'}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/services/muscode/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "api/muscode/v1/health", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the upstream MUSCode did not start"
                assert proc.poll() is None, "the upstream MUSCode exited"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def db_url() -> str:
    return "sqlite:///:memory:"  # unused: a relaying server keeps no database


@pytest.fixture
def muscode_config(upstream: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # What the hub gives a student's server: its own API token.
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", UPSTREAM_TOKEN)
    return {"service_url": upstream}


def test_this_servers_token_is_never_relayed() -> None:
    assert _query("token=abc&wait=true&_xsrf=x") == "wait=true"
    assert _query("ids=a%2Cb") == "ids=a%2Cb"


def test_only_api_paths_are_relayed() -> None:
    assert _safe("projects/1/files") == "projects/1/files"
    assert _safe("") == ""
    for bad in ("../kernels", "projects/../../api", "a//b", "./x", "x/"):
        with pytest.raises(Exception, match="not a MUSCode API path"):
            _safe(bad)


async def test_rest_calls_reach_the_service_as_the_token_owner(api: Any) -> None:
    me = (await api("GET", "me")).json
    assert me["name"] == "student" and me["admin"] is True  # the upstream's own user
    reply = await api(
        "POST",
        "projects",
        {"name": "relayed", "language": "python", "files": [{"path": "main.py", "content": "x"}]},
    )
    assert reply.status == 201, reply.body
    project = reply.json
    # Links point at the relaying server, not at the service.
    assert reply.headers["Location"].endswith(f"/api/muscode/v1/projects/{project['id']}")
    assert "/services/muscode/" not in reply.headers["Location"]
    f = project["files"][0]
    url = f"projects/{project['id']}/files/{f['id']}"
    got = await api("GET", url)
    assert got.headers["ETag"] and got.json["content"] == "x"
    # Conditional updates keep working: a stale version is the service's 409.
    stale = await api("PUT", url, {"content": "y"}, headers={"If-Match": '"0"'})
    assert stale.status in (409, 412) and stale.json["reason"]
    # Errors come back as the service said them.
    missing = await api("GET", "projects/nope")
    assert missing.status == 404 and missing.json["reason"] == "project_not_found"
    bad = await api("POST", "projects", raw="{")
    assert bad.status == 400
    run = await api(
        "POST",
        "executions",
        {"language": "python", "source": "print(input()[::-1])", "stdin": "relay"},
        params={"wait": "true"},
    )
    assert run.status == 200 and run.json["stdout"] == "yaler\n", run.body


async def test_websockets_are_relayed_both_ways(api: Any, jp_ws_fetch: Any) -> None:
    source = "while True:\n    line = input()\n    print(line.upper(), flush=True)\n"
    reply = await api(
        "POST", "executions", {"language": "python", "source": source, "interactive": True}
    )
    assert reply.status == 201, reply.body
    ws = await jp_ws_fetch("api", "muscode", "v1", "executions", reply.json["id"], "stream")
    await ws.write_message(json.dumps({"type": "stdin", "data": "hello\n"}))
    await ws.write_message(json.dumps({"type": "eof"}))
    events = await collect(ws, timeout=60)
    assert "HELLO" in output(events)
    assert events[-1]["type"] == "done"


async def test_a_service_that_is_down_is_503(
    api: Any, muscode_config: dict[str, Any], jp_serverapp: Any
) -> None:
    relay = jp_serverapp.extension_manager.extension_apps["muscode_ext"]
    (app,) = relay
    app.relay.service_url = f"http://127.0.0.1:{_free_port()}/services/muscode/"
    reply = await api("GET", "me", validate=False)
    assert reply.status == 503 and reply.json["reason"] == "muscode_service"


async def test_the_relay_needs_a_login(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("api", "muscode", "v1", "me", headers={"Authorization": ""})
    assert e.value.code in (401, 403)
