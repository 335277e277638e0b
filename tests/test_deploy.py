"""The classroom deployment's configuration, checked without building or starting it.

``tests/stack/`` builds the images and boots the stack for real (its own pytest run).
This checks, in the normal suite, what can be checked from the files: Docker Compose
resolves ``docker/docker-compose.yml`` with what ``docker/make-env.sh`` writes;
JupyterHub's own config loader runs ``hub_config/jupyterhub_config.py`` in production
mode; the replicas' server settings agree with the hub's; the Kubernetes manifests are
valid against the Kubernetes schemas (bundled with ``kubernetes-validate``: nothing is
fetched); the README's commands are the ones the stack test runs. With CI=true a
missing Docker Compose fails the test instead of skipping it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from muscode_ext import __version__

from .conftest import ROOT, need_service
from .stack.commands import DEPLOY_COMMANDS, deploy_commands

COMPOSE_FILE = ROOT / "docker" / "docker-compose.yml"
HUB_CONFIG = ROOT / "hub_config" / "jupyterhub_config.py"
SERVICE_CONFIG = ROOT / "docker" / "muscode" / "service_config.py"
MAKE_ENV = ROOT / "docker" / "make-env.sh"
K8S = ROOT / "k8s"
#: Services that run for as long as the deployment does.
LONG_RUNNING = {"postgres", "redis", "hub", "muscode", "muscode-lb", "worker"}
#: Values that look like real secrets (hex, long enough) for the production config.
REAL = {
    "JPY_COOKIE_SECRET": "a1" * 32,
    "CONFIGPROXY_AUTH_TOKEN": "b2" * 16,
    "JUPYTERHUB_CRYPT_KEY": "c3" * 32,
    "JUPYTERHUB_DB_URL": "postgresql+psycopg://muscode:s3cr3t-pw@postgres/jupyterhub",
    "MUSCODE_SERVICE_API_TOKEN": "d4" * 32,
}


def compose_command() -> list[str]:
    """``docker compose`` (v2 plugin) if the Docker CLI has it, else Debian's
    ``docker-compose`` (scripts/setup-docker.sh installs the plugin)."""
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


def make_env(**settings: str) -> dict[str, str]:
    """What ``docker/make-env.sh`` prints, parsed (``settings`` go in its environment)."""
    done = subprocess.run(
        ["bash", str(MAKE_ENV)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **settings},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    values = {}
    for line in done.stdout.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def write_env(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "compose.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
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
def env_values() -> dict[str, str]:
    return {**make_env(), "DOCKER_GID": "998"}


@pytest.fixture
def compose(tmp_path: Path, env_values: dict[str, str]) -> dict[str, Any]:
    """The compose file as Docker Compose resolves it."""
    done = compose_config(write_env(tmp_path, env_values))
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


# -- docker/make-env.sh --------------------------------------------------------------


def test_make_env_writes_fresh_secrets_and_the_docker_group() -> None:
    first, second = make_env(), make_env(HUB_PORT="8123", COMPOSE_PROJECT_NAME="room42")
    secrets = [k for k in first if k.endswith(("PASSWORD", "SECRET", "TOKEN", "CRYPT_KEY"))]
    assert len(secrets) == 8
    for key in secrets:
        assert re.fullmatch(r"[0-9a-f]{64}", first[key]), key
        assert first[key] != second[key], key
    assert len({first[k] for k in secrets}) == len(secrets)  # no secret used twice
    assert first["DOCKER_GID"].isdigit()
    assert first["HUB_PORT"] == "8000" and second["HUB_PORT"] == "8123"
    assert first["HUB_BIND"] == "127.0.0.1"
    assert first["COMPOSE_PROJECT_NAME"] == "muscode"
    assert second["COMPOSE_PROJECT_NAME"] == "room42"
    assert first["MUSCODE_IMAGE_TAG"] == __version__


# -- docker/docker-compose.yml ---------------------------------------------------------


def test_compose_has_every_part_and_a_healthcheck_for_each(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*LONG_RUNNING, "init"}
    for name, service in services.items():
        assert not service.get("privileged"), name
        assert "build" not in service, name  # images come from docker/build-images.sh
        # Local, pinned images: MUSCode's own, at this version.
        assert service["image"].startswith("muscode/"), name
        assert service["image"].endswith(f":{__version__}"), name
        if name in LONG_RUNNING:
            check = service.get("healthcheck")
            assert check and check.get("test") and not check.get("disable"), name
            assert service.get("restart") == "unless-stopped", name
    assert services["init"]["restart"] == "no"
    needs = {name: s.get("depends_on", {}) for name, s in services.items()}
    assert needs["init"]["postgres"]["condition"] == "service_healthy"
    assert needs["hub"]["postgres"]["condition"] == "service_healthy"
    for name in ("muscode", "worker"):
        assert needs[name]["init"]["condition"] == "service_completed_successfully"
        assert needs[name]["redis"]["condition"] == "service_healthy"
        assert services[name]["deploy"]["replicas"] == 2


def test_compose_isolates_the_students_network(compose: dict[str, Any]) -> None:
    services, networks = compose["services"], compose["networks"]
    students = networks["students"]
    assert students["internal"] is True
    assert students["driver_opts"]["com.docker.network.bridge.inhibit_ipv4"] == "true"
    assert students["name"] == "muscode-students"
    # The hub (with its proxy) is the only container on both networks; DockerSpawner
    # puts student servers on `students` by that name.
    on_students = [n for n, s in services.items() if "students" in s["networks"]]
    assert on_students == ["hub"]
    assert set(services["hub"]["networks"]) == {"backend", "students"}
    assert services["hub"]["environment"]["DOCKER_NETWORK_NAME"] == students["name"]
    # Only the hub publishes a port: HUB_PORT, on loopback unless HUB_BIND says otherwise.
    published = {n: s["ports"] for n, s in services.items() if s.get("ports")}
    assert list(published) == ["hub"]
    (port,) = published["hub"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8000", 8000)


def test_compose_wires_secrets_and_shared_paths(
    compose: dict[str, Any], env_values: dict[str, str]
) -> None:
    services = compose["services"]
    hub, api, worker = services["hub"], services["muscode"], services["worker"]
    pw, redis_pw = env_values["POSTGRES_PASSWORD"], env_values["REDIS_PASSWORD"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == pw
    assert services["redis"]["environment"]["REDIS_PASSWORD"] == redis_pw
    assert hub["environment"]["MUSCODE_HUB_MODE"] == "production"
    assert hub["environment"]["JUPYTERHUB_DB_URL"] == (
        f"postgresql+psycopg://muscode:{pw}@postgres/jupyterhub"
    )
    # The hub's external service and the replicas share one token.
    token = env_values["MUSCODE_SERVICE_API_TOKEN"]
    assert hub["environment"]["MUSCODE_SERVICE_API_TOKEN"] == token
    assert api["environment"]["JUPYTERHUB_API_TOKEN"] == token
    assert hub["environment"]["MUSCODE_SERVICE_UPSTREAM"] == "http://muscode-lb:8080"
    for service in (api, worker):
        env = service["environment"]
        assert env["MUSCODE_DB_URL"] == f"postgresql://muscode:{pw}@postgres/muscode"
        assert env["MUSCODE_REDIS_URL"] == f"redis://:{redis_pw}@redis:6379/0"
        assert env["MUSCODE_SANDBOX"] == "docker"
        # Runs happen in containers of the host's engine: each run's directory must be
        # at the same path in the worker and on the host.
        root = env["MUSCODE_DOCKER_WORK_ROOT"]
        assert root == env_values["MUSCODE_RUNS_DIR"]
        mounts = [_mount(v) for v in service["volumes"]]
        assert (root, root) in mounts
        assert ("/var/run/docker.sock", "/var/run/docker.sock") in mounts
        assert [str(g) for g in service["group_add"]] == ["998"]
        assert env["MUSCODE_AUDIT_LOG"].startswith("/var/log/muscode/")
    assert api["environment"]["MUSCODE_JWT_SECRET"] == env_values["MUSCODE_JWT_SECRET"]
    assert api["environment"]["MUSCODE_COOKIE_SECRET"] == env_values["MUSCODE_COOKIE_SECRET"]
    # Workers hold no hub, signing or cookie secrets; the hub no MUSCode database.
    assert not {k for k in worker["environment"] if "SECRET" in k or "TOKEN" in k}
    assert "MUSCODE_DB_URL" not in hub["environment"]
    # Student servers are this version's image.
    assert hub["environment"]["MUSCODE_SINGLEUSER_IMAGE"] == f"muscode/singleuser:{__version__}"


def _mount(volume: Any) -> tuple[str, str]:
    if isinstance(volume, dict):  # the long syntax (compose v2 prints this)
        return str(volume.get("source")), str(volume["target"])
    source, target = str(volume).split(":")[:2]
    return source, target


def test_compose_refuses_a_missing_secret(tmp_path: Path, env_values: dict[str, str]) -> None:
    del env_values["REDIS_PASSWORD"]
    done = compose_config(write_env(tmp_path, env_values))
    assert done.returncode != 0
    assert "REDIS_PASSWORD" in done.stderr


# -- the hub configuration, production mode ---------------------------------------------


def load_hub_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Config:
    """Run hub_config/jupyterhub_config.py the way JupyterHub does (traitlets' Python
    config loader), in production mode, with exactly ``env`` as its secrets."""
    for name in [
        *REAL,
        "MUSCODE_HUB_ADMINS",
        "MUSCODE_HUB_INSTRUCTORS",
        "MUSCODE_SERVICE_UPSTREAM",
        "DOCKER_NETWORK_NAME",
    ]:
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
        ("MUSCODE_SERVICE_API_TOKEN", "changeme"),
        ("MUSCODE_SERVICE_API_TOKEN", ""),
        ("MUSCODE_SERVICE_API_TOKEN", "too-short"),
        ("JPY_COOKIE_SECRET", "change-me-" * 8),
        ("CONFIGPROXY_AUTH_TOKEN", "secret"),
        ("JUPYTERHUB_CRYPT_KEY", "x" * 10),
        ("JUPYTERHUB_DB_URL", "password"),
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
        MUSCODE_HUB_INSTRUCTORS="tao,ines",
        DOCKER_NETWORK_NAME="room42-students",
    )
    hub = c.JupyterHub
    assert hub.db_url == REAL["JUPYTERHUB_DB_URL"]
    assert hub.authenticator_class == "native"
    assert hub.spawner_class == "dockerspawner.DockerSpawner"
    assert hub.cleanup_servers is False  # student servers survive a hub restart
    assert c.DockerSpawner.image == f"muscode/singleuser:{__version__}"
    assert c.DockerSpawner.pull_policy == "never"
    assert c.DockerSpawner.network_name == "room42-students"
    assert c.DockerSpawner.use_internal_ip is True
    assert c.DockerSpawner.extra_host_config["cap_drop"] == ["ALL"]
    assert c.DockerSpawner.mem_limit and c.DockerSpawner.cpu_limit > 0
    assert c.ConfigurableHTTPProxy.auth_token == REAL["CONFIGPROXY_AUTH_TOKEN"]
    assert c.Authenticator.admin_users == {"ada", "grace"}
    # Student servers relay through the hub's proxy, the only thing they can reach.
    assert c.Spawner.environment["MUSCODE_SERVICE_URL"] == "http://hub:8000/services/muscode/"

    services = {s["name"]: s for s in hub.services}
    assert set(services) == {"muscode", "idle-culler"}  # muscode-admin is dev only
    muscode = services["muscode"]
    # External: the hub starts nothing; the proxy sends /services/muscode/ to the LB.
    assert "command" not in muscode and "environment" not in muscode
    assert muscode["url"] == "http://muscode-lb:8080"
    assert muscode["api_token"] == REAL["MUSCODE_SERVICE_API_TOKEN"]
    assert muscode["oauth_no_confirm"] is True

    custom = set(hub.custom_scopes)
    assert custom == set(muscode["oauth_client_allowed_scopes"])
    assert all(s.startswith("custom:muscode:") for s in custom)
    roles = {r["name"]: r for r in hub.load_roles}
    assert {"user", "instructor", "grader", "muscode-service", "idle-culler"} <= set(roles)
    assert "custom:muscode:classes-write" in roles["instructor"]["scopes"]
    assert roles["instructor"]["users"] == ["ines", "tao"]
    assert "custom:muscode:classes-write" not in roles["user"]["scopes"]
    assert {"custom:muscode:execute", "custom:muscode:grade"} <= set(roles["grader"]["scopes"])
    assert "custom:muscode:projects" not in roles["grader"]["scopes"]
    assert roles["muscode-service"]["services"] == ["muscode"]
    assert {"admin:groups", "admin:users"} <= set(roles["muscode-service"]["scopes"])
    # Every MUSCode scope the hub hands out is one MUSCode understands.
    from muscode_ext.auth import HUB_SCOPES

    granted = {s for r in roles.values() for s in r["scopes"] if s.startswith("custom:")}
    assert granted <= set(HUB_SCOPES) == custom


# -- the replicas' server settings -------------------------------------------------------


def load_service_config(monkeypatch: pytest.MonkeyPatch, cookie_secret: str | None) -> Config:
    if cookie_secret is None:
        monkeypatch.delenv("MUSCODE_COOKIE_SECRET", raising=False)
    else:
        monkeypatch.setenv("MUSCODE_COOKIE_SECRET", cookie_secret)
    loader = PyFileConfigLoader(SERVICE_CONFIG.name, str(SERVICE_CONFIG.parent))
    config: Config = loader.load_config()
    return config


@pytest.mark.parametrize("value", [None, "", "changeme", "ab" * 16, "zz" * 32])
def test_replicas_refuse_a_missing_or_weak_cookie_secret(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    with pytest.raises(SystemExit, match="MUSCODE_COOKIE_SECRET"):
        load_service_config(monkeypatch, value)


def test_replicas_serve_what_the_hub_starts_in_dev_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The production replicas and the dev hub's own service: the same server settings
    (one as a config file, one as flags), the same key on every replica."""
    server = load_service_config(monkeypatch, "e5" * 32).ServerApp
    assert server.cookie_secret == bytes.fromhex("e5" * 32)
    monkeypatch.setenv("MUSCODE_HUB_MODE", "dev")
    monkeypatch.setenv("MUSCODE_HUB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("MUSCODE_HUB_ADMIN_TOKEN", "f6" * 16)
    dev = PyFileConfigLoader(HUB_CONFIG.name, str(HUB_CONFIG.parent)).load_config()
    (service,) = [s for s in dev.JupyterHub.services if s["name"] == "muscode"]
    flags = dict(
        arg[len("--ServerApp.") :].split("=", 1)
        for arg in service["command"]
        if arg.startswith("--ServerApp.")
    )
    assert flags.pop("ip") == "127.0.0.1" and server.ip == "0.0.0.0"
    assert flags == {k: str(server[k]) for k in flags}


# -- Kubernetes ------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "values.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_k8s_manifests_are_valid_kubernetes() -> None:
    docs = k8s_documents()
    kinds = sorted((d["kind"], d["metadata"]["name"]) for _, d in docs)
    assert ("Deployment", "muscode-api") in kinds and ("Deployment", "muscode-worker") in kinds
    assert ("Service", "muscode") in kinds
    assert sum(kind == "NetworkPolicy" for kind, _ in kinds) >= 3
    for name, doc in docs:
        # Strict: an unknown field (a typo) is an error too. Schemas ship in the package.
        kubernetes_validate.validate(doc, "1.30", strict=True)
        assert doc["metadata"]["name"], name


def test_k8s_expresses_the_compose_stack() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_documents()}
    api = docs["Deployment", "muscode-api"]["spec"]
    assert api["replicas"] == 2
    (container,) = api["template"]["spec"]["containers"]
    assert container["image"].endswith(f"/muscode/muscode:{__version__}")
    probe = container["readinessProbe"]["httpGet"]["path"]
    assert probe == "/services/muscode/api/muscode/v1/health"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == "/services/muscode/"
    service = docs["Service", "muscode"]["spec"]
    assert service["selector"] == api["selector"]["matchLabels"]
    (port,) = service["ports"]
    # Only the proxy reaches the API; nothing reaches the workers.
    policy = docs["NetworkPolicy", "muscode-api"]["spec"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app": "jupyterhub", "component": "proxy"}}}
    ]
    assert docs["NetworkPolicy", "muscode-worker"]["spec"]["ingress"] == []

    values = yaml.safe_load((K8S / "values.yaml").read_text())
    assert values["singleuser"]["image"]["tag"] == __version__
    allow = values["singleuser"]["networkPolicy"]["egressAllowRules"]
    assert not any(v for k, v in allow.items() if k != "dnsPortsKubeSystemNamespace")
    snippet = values["hub"]["extraConfig"]["muscode"]
    compile(snippet, "values.yaml:hub.extraConfig.muscode", "exec")
    assert f'"url": "http://muscode:{port["port"]}"' in snippet
    assert "http://proxy-public/services/muscode/" in snippet


# -- the README ----------------------------------------------------------------------


def test_readme_deploys_with_the_commands_the_stack_test_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploy for a class", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [
        line
        for block in blocks
        for line in block.splitlines()
        if line.startswith("bash docker/") or line.startswith("docker compose ")
    ]
    assert commands == deploy_commands("docker/.env")
    assert len(DEPLOY_COMMANDS) == 3
