#!/usr/bin/env bash
# Install MUSCode into ./.venv and start it on its embedded default: SQLite in the
# Jupyter data directory, the in-process queue, and the local bubblewrap sandbox.
# Any `jupyter muscode` option may follow, e.g. `bash scripts/run.sh --port 8890`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The local sandbox needs bubblewrap; PHP is the one runtime Debian does not ship by default.
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v php >/dev/null || need+=(php-cli)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        echo "run.sh: please install ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-root)
exec .venv/bin/jupyter muscode "${extra[@]}" "$@"
