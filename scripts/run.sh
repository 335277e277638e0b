#!/usr/bin/env bash
# Install MUSCode with JupyterLab into ./.venv and start JupyterLab with MUSCode on its
# embedded default: SQLite in the Jupyter data directory, the in-process queue, and the
# local bubblewrap sandbox. Any `jupyter lab` / Jupyter Server option may follow, e.g.
# `bash scripts/run.sh --port 8890`.
#
# The install runs once: .venv/muscode-run.stamp holds a hash of what it installed from
# (pyproject.toml and the MUSCode version), and a later start with the same hash goes
# straight to JupyterLab. Delete the stamp to force a reinstall.
set -euo pipefail
here="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

# The local sandbox needs bubblewrap; PHP is the one runtime Debian does not ship by default.
# Notebooks run with the system python3's IPython (python3-ipykernel).
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v php >/dev/null || need+=(php-cli)
python3 -c "import IPython" 2>/dev/null || need+=(python3-ipykernel)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        echo "run.sh: please install ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/muscode-run.stamp
want="$(cat pyproject.toml muscode_ext/_version.py | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "run.sh: .venv is up to date with pyproject.toml; not reinstalling"
else
    echo "run.sh: installing MUSCode with JupyterLab into .venv (once; later starts skip this)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[lab]'
    echo "$want" >"$stamp"
fi

# Jupyter prints the address to open: http://127.0.0.1:<port>/lab?token=...
# Local only, unless the command line names an address (`--ip 0.0.0.0`); Jupyter
# refuses an option given twice, so a default steps aside for the person's own.
given() {
    local name="$1" arg
    for arg in "${args[@]}"; do
        case "$arg" in "$name" | "$name"=*) return 0 ;; esac
    done
    return 1
}
args=("$@")
extra=()
given --ip || given --ServerApp.ip || extra+=(--ServerApp.ip=127.0.0.1)
given --ServerApp.reraise_server_extension_failures ||
    extra+=(--ServerApp.reraise_server_extension_failures=True)
[ "$(id -u)" -eq 0 ] && ! given --allow-root && extra+=(--allow-root)
# JupyterLab's file browser opens where the person ran this.
cd "$here"
exec "$repo/.venv/bin/jupyter" lab "${extra[@]}" "$@"
