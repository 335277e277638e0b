"""The classroom deployment's configuration: ``docker/docker-compose.yml`` and the
production variant of ``hub_config/jupyterhub_config.py``.

The images cannot be built or pulled here (no registry), so this checks what can be
checked without them: Docker Compose itself resolves the compose file (``config``), and
JupyterHub's own config loader runs the hub configuration in production mode. With
CI=true a missing Docker Compose fails the test instead of skipping it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .conftest import ROOT, need_service

COMPOSE_FILE = ROOT / "docker" / "docker-compose.yml"
HUB_CONFIG = ROOT / "hub_config" / "jupyterhub_config.py"
#: Services that run for as long as the deployment does (all of them here).
LONG_RUNNING = {"postgres", "redis", "hub", "worker"}
#: Values that look like real secrets (hex, long enough) for the production config.
REAL = {
    "JPY_COOKIE_SECRET": "a1" * 32,
    "CONFIGPROXY_AUTH_TOKEN": "b2" * 16,
    "JUPYTERHUB_CRYPT_KEY": "c3" * 32,
    "JUPYTERHUB_DB_URL": "postgresql://muscode:s3cr3t-pw@postgres/jupyterhub",
    "MUSCODE_DB_URL": "postgresql://muscode:s3cr3t-pw@postgres/muscode",
    "MUSCODE_JWT_SECRET": "d4" * 32,
}


def compose_command() -> list[str]:
    """``docker compose`` (v2 plugin) if the Docker CLI has it, else Debian's
    ``docker-compose`` (scripts/test.sh installs it)."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    need_service("Docker Compose", "neither `docker compose` nor `docker-compose` is installed")
    raise AssertionError("unreachable")


def env_file(tmp_path: Path, **overrides: str) -> Path:
    """docker/example.env with each value replaced (placeholders would be refused)."""
    lines = []
    for line in (ROOT / "docker" / "example.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            value = overrides.get(key, value if value and value != "changeme" else "x" * 40)
        lines.append(f"{key}{sep}{value}" if sep else line)
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose_config(env: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture
def compose(tmp_path: Path) -> dict[str, Any]:
    """The compose file as Docker Compose resolves it."""
    done = compose_config(env_file(tmp_path, DOCKER_GID="998"))
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_compose_has_every_part_and_a_healthcheck_for_each(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == LONG_RUNNING
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
        assert service.get("restart") == "unless-stopped", name
        assert not service.get("privileged"), name
        # Pinned images: a rebuild or a pull gives the same thing.
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), image
    # The hub and the workers start once the database and Redis answer.
    for name in ("hub", "worker"):
        needs = services[name]["depends_on"]
        assert {k: v["condition"] for k, v in needs.items()} == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
        }


def test_compose_wires_secrets_and_shared_paths(compose: dict[str, Any]) -> None:
    services = compose["services"]
    hub, worker = services["hub"], services["worker"]
    assert hub["environment"]["MUSCODE_HUB_MODE"] == "production"
    assert hub["environment"]["MUSCODE_JWT_SECRET"] == "x" * 40  # from the env file
    # Workers run code in containers of the host's engine: each run's directory must
    # be at the same path in the worker and on the host.
    for service in (hub, worker):
        env = service["environment"]
        root = env["MUSCODE_DOCKER_WORK_ROOT"]
        mounts = [_mount(v) for v in service["volumes"]]
        assert (root, root) in mounts
        assert ("/var/run/docker.sock", "/var/run/docker.sock") in mounts
        assert [str(g) for g in service["group_add"]] == ["998"]
        assert env["MUSCODE_AUDIT_LOG"].startswith("/var/log/muscode/")
    assert worker["environment"]["MUSCODE_SANDBOX"] == "docker"
    # Workers hold no hub or signing secrets; nothing but the hub is published.
    assert not {"MUSCODE_JWT_SECRET", "CONFIGPROXY_AUTH_TOKEN"} & set(worker["environment"])
    assert [name for name, s in services.items() if s.get("ports")] == ["hub"]


def _mount(volume: Any) -> tuple[str, str]:
    if isinstance(volume, dict):  # the long syntax (compose v2 prints this)
        return str(volume.get("source")), str(volume["target"])
    source, target = str(volume).split(":")[:2]
    return source, target


def test_compose_refuses_a_missing_secret(tmp_path: Path) -> None:
    env = env_file(tmp_path)
    env.write_text(
        "\n".join(line for line in env.read_text().splitlines() if not line.startswith("POSTGRES_"))
    )
    done = compose_config(env)
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr


# -- the hub configuration, production mode ---------------------------------------------


def load_hub_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Config:
    """Run hub_config/jupyterhub_config.py the way JupyterHub does (traitlets' Python
    config loader), in production mode, with exactly ``env`` as its secrets."""
    for name in [*REAL, "MUSCODE_HUB_ADMINS", "MUSCODE_AUDIT_LOG", "DOCKER_HOST"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MUSCODE_HUB_MODE", "production")
    monkeypatch.setenv("MUSCODE_HUB_STATE_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loader = PyFileConfigLoader(HUB_CONFIG.name, str(HUB_CONFIG.parent))
    config: Config = loader.load_config()
    return config


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MUSCODE_JWT_SECRET", "changeme"),
        ("MUSCODE_JWT_SECRET", ""),
        ("MUSCODE_JWT_SECRET", "too-short"),
        ("JPY_COOKIE_SECRET", "change-me-" * 8),
        ("CONFIGPROXY_AUTH_TOKEN", "secret"),
        ("JUPYTERHUB_CRYPT_KEY", "x" * 10),
        ("JUPYTERHUB_DB_URL", "password"),
        ("MUSCODE_DB_URL", ""),
    ],
)
def test_production_hub_refuses_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SystemExit, match=name):
        load_hub_config(monkeypatch, tmp_path, **{**REAL, name: value})


def test_production_hub_config_loads_with_real_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    c = load_hub_config(
        monkeypatch,
        tmp_path,
        **REAL,
        MUSCODE_HUB_ADMINS="ada, grace",
        MUSCODE_AUDIT_LOG="/var/log/muscode/audit.jsonl",
    )
    hub = c.JupyterHub
    assert hub.db_url == REAL["JUPYTERHUB_DB_URL"]
    assert hub.authenticator_class == "native"
    assert hub.spawner_class == "dockerspawner.DockerSpawner"
    assert c.DockerSpawner.image.startswith("muscode/singleuser:")
    assert c.DockerSpawner.network_name == "muscode"
    assert c.DockerSpawner.mem_limit and c.DockerSpawner.cpu_limit > 0
    assert c.ConfigurableHTTPProxy.auth_token == REAL["CONFIGPROXY_AUTH_TOKEN"]
    assert c.Authenticator.admin_users == {"ada", "grace"}

    (muscode,) = [s for s in hub.services if s["name"] == "muscode"]
    assert not [s for s in hub.services if s["name"] == "muscode-admin"]  # dev only
    command = " ".join(muscode["command"])
    assert "JupyterHubIdentityProvider" in command
    assert "--ServerApp.authorizer_class=muscode_ext.auth.ServiceAuthorizer" in command
    assert "--ServerApp.base_url=/services/muscode/" in command
    assert muscode["oauth_no_confirm"] is True
    env = muscode["environment"]
    assert env["MUSCODE_DB_URL"] == REAL["MUSCODE_DB_URL"]
    assert env["MUSCODE_JWT_SECRET"] == REAL["MUSCODE_JWT_SECRET"]
    assert env["MUSCODE_SANDBOX"] == "docker" and env["MUSCODE_REDIS_URL"].startswith("redis://")
    assert env["MUSCODE_AUDIT_LOG"] == "/var/log/muscode/audit.jsonl"

    custom = set(hub.custom_scopes)
    assert custom == set(muscode["oauth_client_allowed_scopes"])
    assert all(s.startswith("custom:muscode:") for s in custom)
    roles = {r["name"]: r for r in hub.load_roles}
    assert {"user", "instructor", "grader", "muscode-service"} <= set(roles)
    assert "custom:muscode:classes-write" in roles["instructor"]["scopes"]
    assert "custom:muscode:classes-write" not in roles["user"]["scopes"]
    assert {"custom:muscode:execute", "custom:muscode:grade"} <= set(roles["grader"]["scopes"])
    assert "custom:muscode:projects" not in roles["grader"]["scopes"]
    assert roles["muscode-service"]["services"] == ["muscode"]
    assert {"admin:groups", "admin:users"} <= set(roles["muscode-service"]["scopes"])
    # Every MUSCode scope the hub hands out is one MUSCode understands.
    from muscode_ext.auth import HUB_SCOPES

    granted = {s for r in roles.values() for s in r["scopes"] if s.startswith("custom:")}
    assert granted <= set(HUB_SCOPES) == custom
