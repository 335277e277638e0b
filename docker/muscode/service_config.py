# ruff: noqa: F821  (`c` and `get_config` are provided by Jupyter when it loads this file)
"""Jupyter Server settings of a muscode API replica, an external JupyterHub service.

docker-compose.yml starts N replicas of ``jupyter-muscode --config=<this file>`` behind
the load balancer; the hub's proxy sends ``/services/muscode/`` to the load balancer
(``hub_config/jupyterhub_config.py``, production). They are the flags the hub passes to
the service it starts itself in dev mode, plus what N replicas must share: the cookie
key (a browser's login works on every replica). The hub side of the service (its token,
name, OAuth client) comes in ``JUPYTERHUB_*`` variables that the compose file sets the
way the hub sets them for a service it starts.
"""

import os

c = get_config()


def secret_hex(name: str) -> bytes:
    """The environment variable ``name``: at least 32 random bytes, hex-encoded."""
    value = os.environ.get(name, "").strip()
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise SystemExit(f"{name} must be at least 64 hex digits (docker/make-env.sh writes one)")
    return key


# The hub's browser session or a hub API token identifies the user (OAuth with the hub).
c.ServerApp.identity_provider_class = "jupyterhub.singleuser.extension.JupyterHubIdentityProvider"
# Users get MUSCode's API and nothing else of this Jupyter Server: no kernels, terminals,
# files or event stream in a process that holds the database and Docker credentials.
c.ServerApp.authorizer_class = "muscode_ext.auth.ServiceAuthorizer"
c.ServerApp.ip = "0.0.0.0"  # noqa: S104 (in its container; the network decides who reaches it)
c.ServerApp.port = int(os.environ.get("MUSCODE_SERVICE_PORT", "10101"))
c.ServerApp.port_retries = 0
c.ServerApp.base_url = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/muscode/")
c.ServerApp.open_browser = False
# Requests arrive through the hub's proxy and the load balancer, with the public host
# name and X-Forwarded-* headers.
c.ServerApp.allow_remote_access = True
c.ServerApp.trust_xheaders = True
# One key for every replica: cookies one replica signs, the others accept.
c.ServerApp.cookie_secret = secret_hex("MUSCODE_COOKIE_SECRET")
# Replicas run no programs (the workers do): no idle runner containers kept ready.
c.DockerSandbox.pool_size = 0
