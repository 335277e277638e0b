"""The commands that deploy a classroom: the README's "Deploy for a class" runs exactly
these, and so does the stack test (with its own env file instead of ``docker/.env``,
and its own settings in make-env.sh's environment, so that it never touches a real
deployment's file, port, project or run directory)."""

from __future__ import annotations

#: ``{env}`` is the env file: ``docker/.env`` in the README.
DEPLOY_COMMANDS = (
    "bash docker/build-images.sh --all",
    "bash docker/make-env.sh > {env}",
    "docker compose -f docker/docker-compose.yml --env-file {env} up -d --wait"
    " --scale muscode=2 --scale worker=2",
)


def deploy_commands(env: str) -> list[str]:
    return [command.format(env=env) for command in DEPLOY_COMMANDS]
