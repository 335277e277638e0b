# ruff: noqa: F821  (`c` and `get_config` are provided by JupyterHub when it loads this file)
"""JupyterHub configuration for a MUSCode classroom.

Two variants in one file, chosen by ``MUSCODE_HUB_MODE``:

- ``production`` (the default; ``docker/docker-compose.yml``): NativeAuthenticator,
  DockerSpawner for student servers, PostgreSQL for the hub, and ``muscode`` as an
  EXTERNAL service: N replicas of the muscode API behind a load balancer, which this hub
  neither starts nor stops (the compose file does; their own settings are in
  ``docker/muscode/service_config.py``). The hub registers the service's URL (the load
  balancer) with its proxy, gives it its API token and its OAuth client, and grants it
  the scopes it needs. Every secret comes from the environment; a missing, short or
  placeholder secret stops the hub before it starts.
- ``dev``: everything on one machine without Docker spawning (SimpleLocalProcessSpawner,
  DummyAuthenticator, SQLite, MUSCode's embedded sandbox), the ``muscode`` service
  started by the hub itself, plus a ``muscode-admin`` service whose token
  (``MUSCODE_HUB_ADMIN_TOKEN``) lets scripts and tests drive the hub.
  DEMO ONLY: anyone can log in as anyone with any password.

    MUSCODE_HUB_MODE=dev MUSCODE_HUB_ADMIN_TOKEN=$(openssl rand -hex 32) \\
        jupyterhub -f hub_config/jupyterhub_config.py --port 8000

How a student uses MUSCode with no second login: the lab extension in the student's
server calls its own server's ``api/muscode/v1/...``, and that server (MUSCode in relay
mode, ``MUSCODE_SERVICE_URL``) relays to the ``muscode`` service with the server's own
JupyterHub API token; in production it goes through the hub's proxy, the only thing a
student's container can reach. A page at ``/user/<name>/`` cannot call
``/services/muscode/`` itself with the hub session: JupyterHub accepts a
cookie-authenticated fetch only with the service's own XSRF token, which a page on
another path cannot read. The student's server holds that hub token and nothing else:
no database, Redis, Docker or MUSCode secret. The token is the student's own (the hub
scopes it to what they may do anyway), so a student who reads it from their server
gains nothing. The service is also a hub OAuth client with ``oauth_no_confirm``: a
browser opening ``/services/muscode/`` directly is signed in without a visible step.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

c = get_config()

MODE = os.environ.get("MUSCODE_HUB_MODE", "production").strip().lower()
if MODE not in ("production", "dev"):
    raise SystemExit(f"MUSCODE_HUB_MODE={MODE!r}: use production or dev")
DEV = MODE == "dev"

# Where the hub keeps its state (SQLite database, cookie secret, proxy pid) in dev mode;
# the current directory unless MUSCODE_HUB_STATE_DIR says otherwise.
STATE_DIR = Path(os.environ.get("MUSCODE_HUB_STATE_DIR") or os.getcwd()).resolve()
STATE_DIR.mkdir(parents=True, exist_ok=True)

# -- secrets -------------------------------------------------------------------------

# Values people paste from examples; the hub refuses to start with any of them.
PLACEHOLDERS = {"", "changeme", "change-me", "change_me", "secret", "password", "xxx", "test"}


def require_secret(name: str, min_length: int = 32) -> str:
    """The environment variable ``name``, refusing empty, short and placeholder values."""
    value = os.environ.get(name, "").strip()
    lowered = value.lower()
    if lowered in PLACEHOLDERS or "changeme" in lowered.replace("-", "").replace("_", ""):
        raise SystemExit(
            f"{name} is unset or a placeholder: set it to a random value, "
            "e.g. `openssl rand -hex 32`"
        )
    if len(value) < min_length:
        raise SystemExit(f"{name} must be at least {min_length} characters long")
    return value


# -- the hub and its proxy -------------------------------------------------------------

# The public port; tests and operators override it with --port. Behind a TLS-terminating
# reverse proxy in production, so plain HTTP here.
c.JupyterHub.port = int(os.environ.get("MUSCODE_HUB_PORT", "8000"))
# Dev binds to loopback only; in production the hub container listens on all interfaces
# and Docker's network decides who reaches it.
c.JupyterHub.ip = "127.0.0.1" if DEV else "0.0.0.0"  # noqa: S104 (in its container)
# The hub's internal API: student containers call it, so in production it must be
# reachable from the Docker network (hub_connect_url below says how).
c.JupyterHub.hub_ip = "127.0.0.1" if DEV else "0.0.0.0"  # noqa: S104 (in its container)
# Cookie secret: a file in dev (created on first start), the environment in production.
if DEV:
    c.JupyterHub.cookie_secret_file = str(STATE_DIR / "jupyterhub_cookie_secret")
    # The proxy's pid file, so a restarted hub finds (and replaces) its old proxy.
    c.ConfigurableHTTPProxy.pid_file = str(STATE_DIR / "jupyterhub-proxy.pid")
else:
    # JupyterHub reads JPY_COOKIE_SECRET (hex) itself; we only check it is real.
    require_secret("JPY_COOKIE_SECRET", 64)
    # The token between hub and proxy; the proxy runs in the same container.
    c.ConfigurableHTTPProxy.auth_token = require_secret("CONFIGPROXY_AUTH_TOKEN")
    # Encrypts auth state (e.g. OAuth tokens of an upstream identity provider).
    require_secret("JUPYTERHUB_CRYPT_KEY", 64)

# -- the hub's database --------------------------------------------------------------

if DEV:
    # SQLite next to the other dev state: nothing to install.
    c.JupyterHub.db_url = f"sqlite:///{STATE_DIR / 'jupyterhub.sqlite'}"
else:
    # PostgreSQL, e.g. postgresql+psycopg://muscode:PASSWORD@postgres/jupyterhub (psycopg 3
    # is the driver in the hub image).
    c.JupyterHub.db_url = require_secret("JUPYTERHUB_DB_URL", 12)

# -- who may log in ----------------------------------------------------------------------

if DEV:
    # DEMO ONLY: any name, any password.
    c.JupyterHub.authenticator_class = "dummy"
else:
    # NativeAuthenticator: accounts live in the hub's database; students sign up and an
    # admin authorizes them (or the roster import creates them; see MUSCode's /classes).
    c.JupyterHub.authenticator_class = "native"
    c.NativeAuthenticator.open_signup = False  # an admin approves every sign-up
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True

    # Alternative: single sign-on with the school's OAuth2/OIDC provider.
    # c.JupyterHub.authenticator_class = "generic-oauth"
    # c.GenericOAuthenticator.client_id = os.environ["OAUTH_CLIENT_ID"]
    # c.GenericOAuthenticator.client_secret = require_secret("OAUTH_CLIENT_SECRET", 16)
    # c.GenericOAuthenticator.oauth_callback_url = "https://hub.example.edu/hub/oauth_callback"
    # c.GenericOAuthenticator.authorize_url = "https://idp.example.edu/oauth2/authorize"
    # c.GenericOAuthenticator.token_url = "https://idp.example.edu/oauth2/token"
    # c.GenericOAuthenticator.userdata_url = "https://idp.example.edu/oauth2/userinfo"
    # c.GenericOAuthenticator.username_claim = "preferred_username"

    # Alternative: launch from the LMS (Canvas, Moodle...) with LTI 1.3.
    # c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
    # c.LTI13Authenticator.issuer = "https://canvas.instructure.com"
    # c.LTI13Authenticator.authorize_url = "https://canvas.example.edu/api/lti/authorize_redirect"
    # c.LTI13Authenticator.jwks_endpoint = "https://canvas.example.edu/api/lti/security/jwks"
    # c.LTI13Authenticator.client_id = [os.environ["LTI_CLIENT_ID"]]

# JupyterHub 5 lets nobody in unless told who: every authenticated user may have a
# server (the authenticator above already decides who is authenticated).
c.Authenticator.allow_all = True
# Hub admins are MUSCode admins. In dev the user `instructor` is one, so tests and demos
# have an admin; in production list them in MUSCODE_HUB_ADMINS (comma-separated).


def names(variable: str) -> list[str]:
    """The comma-separated user names in the environment variable ``variable``."""
    return sorted({n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()})


c.Authenticator.admin_users = {"instructor"} if DEV else set(names("MUSCODE_HUB_ADMINS"))

# -- student servers -----------------------------------------------------------------------

# Where student servers reach the hub (its API) and its proxy (everything else,
# MUSCode included): the hub container's name on the students' network.
HUB_HOST = os.environ.get("MUSCODE_HUB_CONNECT_HOST", "hub")
# The proxy's port in the hub container (the host publishes it as HUB_PORT).
PROXY_PORT = c.JupyterHub.port
# Dev only: the port of the muscode service the hub starts itself.
MUSCODE_PORT = int(os.environ.get("MUSCODE_SERVICE_PORT", "10101"))

if DEV:
    # Local processes, no Docker: fine on a laptop or in CI, no isolation between users.
    c.JupyterHub.spawner_class = "simple"
    # CI containers run as root, where Jupyter Server refuses to start without this.
    c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
    c.Spawner.default_url = "/lab"
    # A busy machine starts JupyterLab in tens of seconds; the defaults (60 s, 30 s) fail it.
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 120
else:
    c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
    # The single-user image (docker/singleuser/Dockerfile: JupyterLab and the MUSCode lab
    # extension; no database, Redis or Docker credentials inside), built locally by
    # docker/build-images.sh --all: never pulled.
    c.DockerSpawner.image = os.environ.get("MUSCODE_SINGLEUSER_IMAGE", "muscode/singleuser:0.1.0")
    c.DockerSpawner.pull_policy = "never"
    # The students' network (docker-compose.yml): internal, and its bridge has no host
    # address, so a student's container reaches the hub's container (proxy and hub API)
    # and nothing else: not PostgreSQL, Redis, the workers, the muscode replicas or the
    # load balancer, which are on the backend network, nor the host.
    c.DockerSpawner.network_name = os.environ.get("DOCKER_NETWORK_NAME", "muscode-students")
    # The hub talks to each student server at its address on that network.
    c.DockerSpawner.use_internal_ip = True
    c.JupyterHub.hub_connect_ip = HUB_HOST
    # Names of student containers and work volumes start with this prefix (one per
    # deployment, so that two stacks on one engine never share a student's files).
    prefix = os.environ.get("MUSCODE_STUDENT_PREFIX", "muscode-student")
    c.DockerSpawner.prefix = prefix
    # Per-student persistent work volume; the container itself is thrown away.
    c.DockerSpawner.volumes = {f"{prefix}-{{username}}": "/home/jovyan/work"}
    c.DockerSpawner.notebook_dir = "/home/jovyan/work"
    c.DockerSpawner.remove = True
    # Resource limits per student server (bytes / CPUs / processes), no capabilities
    # (the server runs as jovyan and needs none) and no way to gain privileges.
    c.DockerSpawner.mem_limit = os.environ.get("MUSCODE_STUDENT_MEM_LIMIT", "1G")
    c.DockerSpawner.cpu_limit = float(os.environ.get("MUSCODE_STUDENT_CPU_LIMIT", "1.0"))
    c.DockerSpawner.extra_host_config = {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 1024,
    }
    c.Spawner.default_url = "/lab"
    # A busy host may take a while to start a container and its server.
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 120
    # Students' servers outlive a hub restart (an upgrade, a crash): the hub finds them
    # again in its database when it comes back.
    c.JupyterHub.cleanup_servers = False

# Student servers relay MUSCode's API to the service (muscode_ext/relay.py). A page at
# /user/<name>/lab cannot call /services/muscode/ with the browser's hub session:
# JupyterHub accepts a cookie-authenticated fetch only with the service's own XSRF
# token, which a page on another path cannot read. So the lab calls its own server
# (api/muscode/v1/... as on a laptop), and the server calls the service with its
# JupyterHub API token. That token is the student's: the hub gives it the subset of
# these scopes that the student holds, so it can do nothing the student could not.
# In production the relay goes through the hub's proxy (the only route out of a
# student's container); in dev straight to the service the hub started.
c.Spawner.environment = {
    "MUSCODE_SERVICE_URL": (
        f"http://127.0.0.1:{MUSCODE_PORT}/services/muscode/"
        if DEV
        else f"http://{HUB_HOST}:{PROXY_PORT}/services/muscode/"
    ),
}
c.Spawner.server_token_scopes = [
    # The default `server` role's scopes...
    "users:activity!user",
    "access:servers!server",
    # ...and MUSCode through the relay.
    "access:services!service=muscode",
    "custom:muscode:execute",
    "custom:muscode:projects",
    "custom:muscode:classes-read",
    "custom:muscode:classes-write",
    "custom:muscode:grade",
]

# -- the MUSCode service ---------------------------------------------------------------------

# What both variants grant: logged-in users reach the service without an "authorize
# this app" page, and the MUSCode scopes a user holds travel in their OAuth token to
# the service, which maps them to its own (custom:muscode:classes-write ->
# classes:write...). `display` shows it on the hub's home page.
MUSCODE_SERVICE = {
    "name": "muscode",
    "oauth_no_confirm": True,
    "oauth_client_allowed_scopes": [
        "custom:muscode:execute",
        "custom:muscode:projects",
        "custom:muscode:classes-read",
        "custom:muscode:classes-write",
        "custom:muscode:grade",
    ],
    "display": True,
}

if DEV:
    # Hub-managed: the hub starts `jupyter muscode` from its own environment, restarts
    # it, and gives it its API token.
    _jupyter_muscode = Path(sys.executable).with_name("jupyter-muscode")
    MUSCODE_COMMAND = [
        str(_jupyter_muscode) if _jupyter_muscode.exists() else "jupyter-muscode",
        # The same server settings as a production replica's
        # (docker/muscode/service_config.py), as flags.
        "--ServerApp.identity_provider_class="
        "jupyterhub.singleuser.extension.JupyterHubIdentityProvider",
        "--ServerApp.authorizer_class=muscode_ext.auth.ServiceAuthorizer",
        f"--ServerApp.port={MUSCODE_PORT}",
        "--ServerApp.base_url=/services/muscode/",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=True",
        "--ServerApp.trust_xheaders=True",
        "--ServerApp.ip=127.0.0.1",
    ]
    if os.geteuid() == 0:
        MUSCODE_COMMAND += ["--allow-root"]  # CI containers run as root
    muscode_env = {
        # SQLite next to the hub's state; the embedded (local) sandbox runs the code.
        "MUSCODE_DB_URL": f"sqlite:///{STATE_DIR / 'muscode.sqlite'}",
        # A fresh signing key per hub start unless given: dev tokens die with the hub.
        "MUSCODE_JWT_SECRET": os.environ.get("MUSCODE_JWT_SECRET") or secrets.token_hex(32),
        "MUSCODE_SANDBOX": "local",
    }
    for passthrough in ("MUSCODE_ALLOW_UNSAFE_SANDBOX", "PATH", "HOME"):
        if passthrough in os.environ:
            muscode_env[passthrough] = os.environ[passthrough]
    managed: dict[str, object] = {}
    import jupyterhub

    if int(jupyterhub.__version__.split(".")[0]) >= 6:
        # JupyterHub 6 gives a managed service 30 s to answer; a busy machine needs more.
        managed["timeout"] = 120
    c.JupyterHub.services = [
        {
            **MUSCODE_SERVICE,
            **managed,
            "url": f"http://127.0.0.1:{MUSCODE_PORT}",
            "command": MUSCODE_COMMAND,
            "environment": muscode_env,
        },
        {
            # A token for scripts and tests to drive the hub (create users, tokens...).
            "name": "muscode-admin",
            "api_token": require_secret("MUSCODE_HUB_ADMIN_TOKEN", 16),
        },
    ]
else:
    c.JupyterHub.services = [
        {
            **MUSCODE_SERVICE,
            # External: no `command`. The proxy sends /services/muscode/ to the load
            # balancer in front of the replicas (docker-compose.yml, `muscode-lb`).
            "url": os.environ.get("MUSCODE_SERVICE_UPSTREAM", "http://muscode-lb:8080"),
            # The replicas present the same token (their JUPYTERHUB_API_TOKEN).
            "api_token": require_secret("MUSCODE_SERVICE_API_TOKEN"),
        },
        {
            # Stops student servers idle for an hour (their files stay in their volume).
            "name": "idle-culler",
            "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
        },
    ]

# -- roles and scopes ----------------------------------------------------------------------

# MUSCode's own permissions, as hub scopes: a hub role can grant them, and hub tokens
# carry them. (MUSCode's API scopes: execute, projects, classes:read, classes:write,
# grade, admin.)
c.JupyterHub.custom_scopes = {
    "custom:muscode:execute": {"description": "Run code with MUSCode"},
    "custom:muscode:projects": {"description": "Read and write one's MUSCode projects"},
    "custom:muscode:classes-read": {"description": "See one's MUSCode classes"},
    "custom:muscode:classes-write": {"description": "Create and manage MUSCode classes"},
    "custom:muscode:grade": {"description": "Read the submissions of classes one teaches"},
}
_student_scopes = [
    "custom:muscode:execute",
    "custom:muscode:projects",
    "custom:muscode:classes-read",
]
c.JupyterHub.load_roles = [
    {
        # Every user: their own things, and the MUSCode service.
        "name": "user",
        "scopes": ["self", "access:services!service=muscode", *_student_scopes],
    },
    {
        # Teachers: create classes and grade. In production the users named in
        # MUSCODE_HUB_INSTRUCTORS (comma-separated) hold it.
        "name": "instructor",
        "description": "MUSCode instructors: create classes, manage rosters, grade",
        "scopes": [
            "self",
            "access:services!service=muscode",
            *_student_scopes,
            "custom:muscode:classes-write",
            "custom:muscode:grade",
        ],
        # Dev: `teacher` is an instructor who is not a hub admin (tests use it).
        "users": ["instructor", "teacher"] if DEV else names("MUSCODE_HUB_INSTRUCTORS"),
    },
    {
        # For tokens of grading scripts: read and run, nothing else.
        "name": "grader",
        "description": "Service tokens that run and grade submissions",
        "scopes": [
            "access:services!service=muscode",
            "custom:muscode:execute",
            "custom:muscode:grade",
        ],
    },
    {
        # What the muscode service itself needs: read users and groups, create the hub
        # users a roster names, and create, fill and delete class groups.
        "name": "muscode-service",
        "scopes": ["admin:users", "admin:groups", "list:users", "list:groups"],
        "services": ["muscode"],
    },
]
if not DEV:
    c.JupyterHub.load_roles.append(
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    )
if DEV:
    c.JupyterHub.load_roles.append(
        {
            # DEMO ONLY: scripts and tests drive users, groups, servers and tokens.
            "name": "muscode-admin",
            "scopes": ["admin:users", "admin:groups", "admin:servers", "tokens", "list:users"],
            "services": ["muscode-admin"],
        }
    )
