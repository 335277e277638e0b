"""A booted classroom stack and the ways a test reaches it.

Everything goes through the hub's public port (``HUB_PORT`` on 127.0.0.1), the way a
browser or a grading script would; ``docker`` is used only to look inside (a student's
container) and to break things (kill a replica, restart the hub).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

from ..conftest import ROOT

T = TypeVar("T")
COMPOSE_FILE = ROOT / "docker" / "docker-compose.yml"
MUSCODE_API = "services/muscode/api/muscode/v1"


def wait_until(what: str, check: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """``check()``'s first truthy result, asked every ``every`` s for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
        except (requests.RequestException, subprocess.CalledProcessError) as e:
            value, last = None, e
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")
        time.sleep(every)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


@dataclass
class Stack:
    """One compose project of docker/docker-compose.yml, booted by the stack fixture."""

    project: str
    port: int
    env_file: Path
    env: dict[str, str]
    #: Seconds from `up` to every service healthy (a figure for the report).
    up_seconds: float = 0.0
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run(
            [
                "docker",
                "compose",
                "-p",
                self.project,
                "-f",
                str(COMPOSE_FILE),
                "--env-file",
                str(self.env_file),
                *args,
            ],
            cwd=ROOT,
            timeout=timeout,
            env=self.env,
        )

    def containers(self, service: str) -> list[str]:
        """Names of the running containers of one compose service."""
        done = run(
            [
                "docker",
                "ps",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
                "--format",
                "{{.Names}}",
            ]
        )
        assert done.returncode == 0, done.stderr
        return sorted(done.stdout.split())

    def inspect(self, container: str) -> dict[str, Any]:
        done = run(["docker", "inspect", container])
        assert done.returncode == 0, done.stderr
        info: dict[str, Any] = json.loads(done.stdout)[0]
        return info

    def addresses(self, container: str) -> list[str]:
        networks = self.inspect(container)["NetworkSettings"]["Networks"]
        return [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]

    def student_container(self, user: str) -> str:
        return f"{self.project}-student-{user}"

    # -- HTTP through the hub's public port --------------------------------------------

    def session(self, user: str) -> requests.Session:
        if user not in self.sessions:
            self.sessions[user] = requests.Session()
        return self.sessions[user]

    def xsrf(self, user: str) -> str:
        """The hub's XSRF cookie of the user's browser session."""
        for cookie in self.session(user).cookies:
            if cookie.name == "_xsrf" and cookie.path.startswith("/hub"):
                return str(cookie.value)
        return ""

    def form(self, user: str, path: str, data: dict[str, str]) -> requests.Response:
        """A browser's form POST: the page first (for the _xsrf cookie), then the form."""
        s = self.session(user)
        s.get(self.url + path, timeout=30).raise_for_status()
        return s.post(self.url + path, data={**data, "_xsrf": self.xsrf(user)}, timeout=60)

    def hub_api(self, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The hub's REST API with the user's browser session (cookie + XSRF header)."""
        s = self.session(user)
        headers = {"X-XSRFToken": self.xsrf(user), **kwargs.pop("headers", {})}
        return s.request(
            method, self.url + "hub/api/" + path, headers=headers, timeout=60, **kwargs
        )


def with_token(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def env_of(base: dict[str, str], **settings: str) -> dict[str, str]:
    return {**os.environ, **base, **settings}
