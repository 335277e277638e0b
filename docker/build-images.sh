#!/usr/bin/env bash
# Build the MUSCode runner image without a registry, from the distribution's mirror.
#
#   bash docker/build-images.sh          # as root, with dockerd running
#
# It builds the same image as docker/runner/Dockerfile (same packages.txt, same
# dpkg-excludes) with mmdebstrap and `docker import`, tags it muscode-runner:latest and
# muscode-runner:recipe-<hash of the recipe>, and does nothing when an image with that
# recipe hash already exists (set MUSCODE_FORCE_BUILD=1 to rebuild anyway).
#
# The mirror is the host's own apt sources file, so no mirror host is named here.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runner="$here/runner"
name="${MUSCODE_RUNNER_IMAGE:-muscode-runner}"
suite="${MUSCODE_RUNNER_SUITE:-bookworm}"
sources="${MUSCODE_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"

die() {
    echo "build-images: $*" >&2
    exit 1
}

command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install -y mmdebstrap (or run scripts/setup-docker.sh)"
docker info >/dev/null 2>&1 || die "dockerd is not answering: run scripts/setup-docker.sh"
[ -r "$sources" ] || die "no apt sources file at $sources (set MUSCODE_APT_SOURCES)"
[ "$(id -u)" -eq 0 ] || die "run me as root (mmdebstrap's root mode keeps file owners right)"

# The image's settings, shared by the recipe hash and the import below. They mirror the
# Dockerfile's USER/WORKDIR/ENV/CMD lines.
changes=(
    'USER 65534:65534'
    'WORKDIR /box'
    'ENV LANG=C.UTF-8'
    'ENV HOME=/tmp'
    'ENV PATH=/usr/local/bin:/usr/bin:/bin'
    'CMD ["python3", "--version"]'
)

packages="$(grep -v '^[[:space:]]*$' "$runner/packages.txt" | paste -sd, -)"
recipe="$(
    {
        cat "$0" "$runner/packages.txt" "$runner/dpkg-excludes"
        printf '%s\n' "$suite" "$(dpkg --print-architecture)" "${changes[@]}"
    } | sha256sum | cut -c1-12
)"
tag="$name:recipe-$recipe"

if [ "${MUSCODE_FORCE_BUILD:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" "$name:latest"
    echo "build-images: $tag already exists (recipe unchanged); tagged $name:latest"
    exit 0
fi

workdir="$(mktemp -d /var/tmp/muscode-image.XXXXXX)"
trap 'rm -rf "$workdir"' EXIT
start=$(date +%s)
echo "build-images: building $tag from $sources (packages: $packages)"

# The JRE's postinst registers a man page alternative and fails when man1/ is missing
# (dpkg-excludes keeps it from being created): the essential hook makes the directory,
# the customize hook drops what the alternatives left in it.
# Write the tar to a file first: a failed build piped straight into `docker import`
# still creates an (empty) image.
mmdebstrap --variant=minbase \
    --include="$packages" \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt="$runner/dpkg-excludes" \
    --essential-hook='mkdir -p "$1/usr/share/man/man1"' \
    --customize-hook='mkdir -m 0755 "$1/box"' \
    --customize-hook='rm -rf "$1"/usr/share/man/* "$1"/var/log/* "$1"/var/cache/debconf/*-old' \
    "$suite" "$workdir/rootfs.tar" "$sources" >"$workdir/mmdebstrap.log" 2>&1 || {
    # mmdebstrap's own summary hides the failing maintainer script: show the log's end.
    tail -n 40 "$workdir/mmdebstrap.log" >&2
    die "mmdebstrap failed (see above)"
}

import_args=()
for change in "${changes[@]}"; do
    import_args+=(--change "$change")
done
docker import "${import_args[@]}" \
    --change "LABEL org.muscode.recipe=$recipe" \
    --message "muscode runner, recipe $recipe" \
    "$workdir/rootfs.tar" "$tag" >/dev/null
docker tag "$tag" "$name:latest"

# Older recipes' images are dead weight (about 700 MB each); one that a container still
# uses stays.
for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$name" | grep ":recipe-"); do
    if [ "$old" != "$tag" ] && ! docker rmi "$old" >/dev/null 2>&1; then
        echo "build-images: kept $old (a container still uses it)"
    fi
done

size="$(docker image inspect --format '{{.Size}}' "$tag")"
echo "build-images: built $tag and $name:latest in $(($(date +%s) - start)) s, $((size / 1000000)) MB"
