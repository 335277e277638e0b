#!/usr/bin/env bash
# Install everything the tests need (system packages, services, the Docker engine and
# runner images, Python dependencies) and run the whole test suite.
#
# With CI=true a missing PostgreSQL, Redis or Docker engine fails the tests instead of
# skipping them. Extra arguments go to pytest, e.g. `bash scripts/test.sh -k files`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { echo "== test.sh: $*"; }

# -- system packages ---------------------------------------------------------------
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v php >/dev/null || need+=(php-cli)
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
# Notebook runs: the system python3 runs the notebook executor, which needs IPython.
/usr/bin/python3 -c "import IPython" 2>/dev/null || need+=(python3-ipykernel)
if [ "${#need[@]}" -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# -- services ------------------------------------------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

# -- Docker engine and runner images (built offline from the Debian mirror) ------------
log "preparing the Docker engine and runner image"
bash scripts/setup-docker.sh

# -- configurable-http-proxy for the JupyterHub integration test (tests/test_hub.py) ---
log "installing configurable-http-proxy"
npm install -g --silent --prefix .ci/node configurable-http-proxy >/dev/null
export PATH="$PWD/.ci/node/bin:$PATH"

# -- Python ----------------------------------------------------------------------------
[ -x .venv/bin/python ] || python3 -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install -q uv
log "installing MUSCode with its test dependencies"
.venv/bin/uv pip install -q --python .venv/bin/python -e '.[test]'
# JupyterHub for tests/test_hub.py (a real hub with the hub_config/ dev variant).
.venv/bin/uv pip install -q --python .venv/bin/python 'jupyterhub>=5,<7'

# -- checks and tests ------------------------------------------------------------------
log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
log "mypy"
.venv/bin/mypy
log "lab extension: dependencies, API types, unit tests, build"
PATH="$PWD/.venv/bin:$PATH" bash scripts/build-labextension.sh --check

# pytest's exit code 5 means it collected nothing: that is a failure here.
run_pytest() {
    local status=0
    .venv/bin/python -m pytest -p no:cacheprovider "$@" || status=$?
    if [ "$status" -eq 5 ]; then
        echo "test.sh: pytest collected no tests in: $*" >&2
        return 1
    fi
    return "$status"
}
status=0
log "pytest: server, sandboxes, services"
run_pytest tests --ignore=tests/browser "$@" || status=$?
# The docker backend's sandbox suite again, under gVisor (about 2 minutes).
log "pytest: docker sandbox under gVisor (runsc)"
MUSCODE_TEST_DOCKER_RUNTIME=runsc run_pytest tests/execution -k docker || status=$?
# Playwright's sync API and pytest-jupyter's event loop cannot share one process.
log "pytest: browser tests (headless Chromium)"
run_pytest tests/browser || status=$?
# The classroom stack, built (cached by recipe) and booted end to end through the hub's
# port: the README's "Deploy for a class" commands, then a class's day.
log "pytest: the classroom stack (docker compose)"
run_pytest tests/stack -s || status=$?
exit "$status"
