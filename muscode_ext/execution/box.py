"""What a sandboxed program finds around it, in either backend: the user it runs as,
its work dir, the ``PATH`` and locale of its environment."""

from __future__ import annotations

#: The unprivileged user (``nobody``/``nogroup`` on Debian) sandboxed programs run as.
SANDBOX_UID = 65534
SANDBOX_GID = 65534

#: The work dir inside the sandbox: a size-capped tmpfs and the program's cwd. The same
#: path in both backends, so paths in messages do not depend on the backend.
BOX = "/box"

#: The program's private temp dir (a size-capped tmpfs of its own) and its ``HOME``.
PRIVATE_TMP = "/tmp"  # noqa: S108 - a fresh tmpfs inside the sandbox, not the host's

#: The environment every program starts from; the language's own ``env`` is added.
#: Nothing of the server's environment is ever passed on.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}
