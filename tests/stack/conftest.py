"""The classroom stack, built and booted for real (``pytest tests/stack``).

Collected only when asked for by path: the normal ``pytest tests`` leaves this folder
out (it builds images and boots a dozen containers; scripts/test.sh runs it as a step of
its own). The ``stack`` fixture runs the README's deploy commands
(``tests/stack/commands.py``) under a compose project name of its own, a free port and
a run directory of its own, and tears down everything it started: the compose project's
containers, networks and volumes, and the student containers and volumes the hub made.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import ROOT, need_service
from .commands import deploy_commands
from .stack import Stack, env_of, run

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    asked = [Path(str(arg).split("::")[0]).resolve() for arg in config.args]
    if any(p == HERE or HERE in p.parents for p in asked):
        return None
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def need_engine() -> None:
    if shutil.which("docker") is None:
        need_service("Docker", "the docker command is missing (scripts/setup-docker.sh)")
    if run(["docker", "info"], timeout=60).returncode != 0:
        need_service("Docker", "dockerd is not answering (scripts/setup-docker.sh)")
    if run(["docker", "compose", "version"], timeout=60).returncode != 0:
        need_service("Docker Compose v2", "`docker compose` is missing (scripts/setup-docker.sh)")


def sandbox_containers(runs_dir: Path) -> list[str]:
    """The runner containers this stack's replicas and workers started: each mounts a
    directory under the stack's own run directory (a killed worker leaves its own)."""
    ids = run(["docker", "ps", "-aq", "--filter", "label=muscode.sandbox=1"]).stdout.split()
    if not ids:
        return []
    found = run(
        ["docker", "inspect", "--format", "{{.Id}} {{range .Mounts}}{{.Source}} {{end}}", *ids]
    )
    mine = []
    for line in found.stdout.splitlines():
        container, *sources = line.split()
        if any(Path(s).is_relative_to(runs_dir) for s in sources):
            mine.append(container)
    return mine


def _ids(kind: str, *filters: str) -> list[str]:
    args = [f"--filter={f}" for f in filters]
    listing = (
        ["docker", "ps", "-aq", *args]
        if kind == "container"
        else ["docker", kind, "ls", "-q", *args]
    )
    return run(listing, timeout=120).stdout.split()


def teardown(stack: Stack, runs_dir: Path) -> None:
    """Everything of this project, found by compose's project label and by the names
    the hub gave student containers and volumes: containers first (the hub's students
    hold the students' network, then compose's own), the runner containers its
    replicas and workers left, then networks and volumes. Waits for the engine if it
    is restarting (tests elsewhere on this machine may restart it)."""
    wait_until_engine = time.monotonic() + 180
    while run(["docker", "info"], timeout=60).returncode != 0:
        assert time.monotonic() < wait_until_engine, "dockerd did not come back: cannot clean up"
        time.sleep(2)
    project = f"label=com.docker.compose.project={stack.project}"
    prefix = f"{stack.project}-student-"
    names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    containers = [n for n in names if n.startswith(prefix)] + _ids("container", project)
    containers += sandbox_containers(runs_dir)
    if containers:
        run(["docker", "rm", "-f", "--volumes", *containers], timeout=300)
    networks = _ids("network", project)
    if networks:
        done = run(["docker", "network", "rm", *networks], timeout=120)
        assert done.returncode == 0, done.stderr
    volumes = _ids("volume", project) + [
        v
        for v in run(["docker", "volume", "ls", "--format", "{{.Name}}"]).stdout.split()
        if v.startswith(prefix)
    ]
    if volumes:
        done = run(["docker", "volume", "rm", "-f", *volumes], timeout=120)
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    need_engine()
    # A project name no real deployment uses, so nothing of one is touched.
    project = f"muscodetest{secrets.token_hex(4)}"
    runs_dir = Path(tempfile.mkdtemp(prefix=f"{project}-runs-", dir="/var/tmp"))
    env_file = tmp_path_factory.mktemp("stack") / "stack.env"
    settings = {
        "COMPOSE_PROJECT_NAME": project,
        "HUB_PORT": str(free_port()),
        "MUSCODE_RUNS_DIR": str(runs_dir),
        "MUSCODE_HUB_ADMINS": "instructor",
    }
    env = env_of(settings)
    build, make_env, up = deploy_commands(str(env_file))
    stack = Stack(project, int(settings["HUB_PORT"]), env_file, env)

    def sh(command: str, timeout: float) -> float:
        start = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env=env,
            timeout=timeout,
            check=False,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return time.monotonic() - start

    try:
        sh(build, 1800)
        sh(make_env, 60)
        assert f"COMPOSE_PROJECT_NAME={project}" in env_file.read_text()
        try:
            stack.up_seconds = sh(up, 600)
        except AssertionError:
            logs = stack.compose("logs", "--no-color", "--tail", "40").stdout
            raise AssertionError(f"the stack did not come up healthy:\n{logs[-8000:]}") from None
        print(f"\nstack {project}: up --wait took {stack.up_seconds:.1f} s")
        yield stack
    finally:
        teardown(stack, runs_dir)
        shutil.rmtree(runs_dir, ignore_errors=True)
