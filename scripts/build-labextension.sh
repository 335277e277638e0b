#!/usr/bin/env bash
# Build the MUSCode JupyterLab extension (labextension/) into muscode_ext/labextension,
# the directory the wheel ships. Idempotent: run it as often as you like.
#
#   bash scripts/build-labextension.sh           # install JS deps, production build
#   bash scripts/build-labextension.sh --check   # also: client vs openapi.yaml, unit tests,
#                                                # formatting (what CI runs)
#   bash scripts/build-labextension.sh --dev     # development build (source maps)
#
# Needs Node.js >= 18 and jlpm, which comes with jupyterlab (pip install 'jupyterlab>=4.2,<5');
# .venv/bin/jlpm is used when it exists. With CI=true the lock file must be up to date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { echo "== build-labextension.sh: $*"; }

check=0
mode=prod
for arg in "$@"; do
    case "$arg" in
        --check) check=1 ;;
        --dev) mode=dev ;;
        *) echo "build-labextension.sh: unknown option $arg (use --check, --dev)" >&2; exit 2 ;;
    esac
done

if [ -x .venv/bin/jlpm ]; then
    jlpm_bin="$PWD/.venv/bin/jlpm"
elif command -v jlpm >/dev/null; then
    jlpm_bin="$(command -v jlpm)"
else
    echo "build-labextension.sh: jlpm not found: pip install 'jupyterlab>=4.2,<5'" >&2
    exit 1
fi
# jupyter-builder (the build step) lives beside jlpm
export PATH="$(dirname "$jlpm_bin"):$PATH"
if ! command -v node >/dev/null; then
    echo "build-labextension.sh: Node.js >= 18 is needed to build the lab extension" >&2
    exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
    echo "build-labextension.sh: Node.js $(node --version) is too old (need >= 18)" >&2
    exit 1
fi

step() {
    local what="$1"
    shift
    local start=$SECONDS
    log "$what"
    "$@"
    log "$what: done in $((SECONDS - start)) s"
}

cd labextension
install=(install)
[ "${CI:-}" = "true" ] && install+=(--immutable)
step "jlpm ${install[*]} (JS dependencies into labextension/node_modules)" \
    "$jlpm_bin" "${install[@]}"
if [ "$check" -eq 1 ]; then
    step "check the client against muscode_ext/openapi.yaml" "$jlpm_bin" check:api
    step "unit tests (vitest)" "$jlpm_bin" test
    step "formatting (prettier)" "$jlpm_bin" prettier:check
fi
if [ "$mode" = dev ]; then
    step "development build" "$jlpm_bin" build
else
    step "production build" "$jlpm_bin" build:prod
fi
cd ..

out=muscode_ext/labextension
if [ ! -f "$out/package.json" ] || ! ls "$out"/static/remoteEntry.*.js >/dev/null 2>&1; then
    echo "build-labextension.sh: the build did not produce $out" >&2
    exit 1
fi
log "built $(node -p "require('./$out/package.json').name") into $out ($(du -sh "$out" | cut -f1))"
