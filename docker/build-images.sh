#!/usr/bin/env bash
# Build MUSCode's container images without a registry.
#
#   bash docker/build-images.sh          # the runner image only (the Docker sandbox's)
#   bash docker/build-images.sh --all    # every image of the classroom stack
#
# Run as root, with dockerd running (scripts/setup-docker.sh). Debian packages come from
# the host's own apt sources file (mmdebstrap, then `docker import`), so no mirror host
# is named here; Python wheels (pip) and the proxy's npm package are fetched on this
# host and copied into the build context; Docker's classic builder stacks the local
# layers (no BuildKit, no `FROM` a registry image).
#
# | image                      | from                                                     |
# |----------------------------|----------------------------------------------------------|
# | muscode-runner:latest      | runner/packages.txt (the sandbox; default target)        |
# | muscode/base-rootfs        | base/packages.txt: Python, Node.js (the hub's proxy), tini |
# | muscode/muscode            | base + MUSCode's wheel: API replicas and workers         |
# | muscode/hub                | base + JupyterHub, DockerSpawner, configurable-http-proxy |
# | muscode/singleuser         | base + JupyterLab + MUSCode's wheel (relay mode)         |
# | muscode/postgres, redis, lb | their packages.txt (PostgreSQL 15, Redis 7, HAProxy)    |
#
# Every image is tagged `:recipe-<hash>` (the hash of what it is made from: package
# lists, Dockerfiles, requirements, MUSCode's sources) and with a moving tag (`:latest`
# for the runner, MUSCode's version for the rest, which docker-compose.yml uses). An
# image whose recipe tag exists is not built again, so a second call takes seconds; set
# MUSCODE_FORCE_BUILD=1 to rebuild anyway. Downloads are cached in $MUSCODE_BUILD_CACHE
# (default /var/cache/muscode-build).
set -euo pipefail
# Failures inside $(...) stop the script too.
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
suite="${MUSCODE_RUNNER_SUITE:-bookworm}"
sources="${MUSCODE_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
cache="${MUSCODE_BUILD_CACHE:-/var/cache/muscode-build}"
force="${MUSCODE_FORCE_BUILD:-0}"
# configurable-http-proxy 4.6 is the newest line that runs on Debian 12's Node.js 18.
chp_version="4.6.3"

die() {
    echo "build-images: $*" >&2
    exit 1
}
log() { echo "build-images: $*"; }

all=0
case "${1:-}" in
"") ;;
--all) all=1 ;;
*) die "unknown argument $1 (use no argument for the runner image, or --all)" ;;
esac

command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install -y mmdebstrap (or run scripts/setup-docker.sh)"
docker info >/dev/null 2>&1 || die "dockerd is not answering: run scripts/setup-docker.sh"
[ -r "$sources" ] || die "no apt sources file at $sources (set MUSCODE_APT_SOURCES)"
[ "$(id -u)" -eq 0 ] || die "run me as root (mmdebstrap's root mode keeps file owners right)"

arch="$(dpkg --print-architecture)"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/muscode_ext/_version.py")"
[ -n "$version" ] || die "cannot read MUSCode's version from muscode_ext/_version.py"
workdir="$(mktemp -d /var/tmp/muscode-image.XXXXXX)"
trap 'rm -rf "$workdir"' EXIT
mkdir -p "$cache"
# One build at a time on this host: two would share the download cache and the tags.
exec 9>"$cache/.lock"
if ! flock --nonblock 9; then
    log "waiting for another build-images.sh on this host"
    flock 9
fi

hash12() { sha256sum | cut -c1-12; }

have_image() { [ "$force" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

size_of() { echo "$(($(docker image inspect --format '{{.Size}}' "$1") / 1000000)) MB"; }

# Drop the older recipe tags of an image (each is hundreds of MB); one that a container
# still uses stays.
prune_recipes() {
    local name="$1" keep="$2" old
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$name" | grep ":recipe-" || true); do
        if [ "$old" != "$keep" ] && ! docker rmi "$old" >/dev/null 2>&1; then
            log "kept $old (a container still uses it)"
        fi
    done
}

# build_rootfs NAME TAG PACKAGES_FILE [mmdebstrap options...]: a Debian file system with
# the packages of PACKAGES_FILE (minbase, no recommends, no docs), imported as TAG.
# Options of the form --change=X go to `docker import`; the rest to mmdebstrap.
build_rootfs() {
    local name="$1" tag="$2" packages_file="$3"
    shift 3
    local packages import_args=() mm_args=() arg
    packages="$(grep -v -e '^[[:space:]]*$' -e '^#' "$packages_file" | paste -sd, -)"
    for arg in "$@"; do
        case "$arg" in
        --change=*) import_args+=(--change "${arg#--change=}") ;;
        *) mm_args+=("$arg") ;;
        esac
    done
    local start out="$workdir/$name.tar" mmlog="$workdir/$name.mmdebstrap.log"
    start=$(date +%s)
    log "building $tag from $sources (packages: $packages)"
    # The downloaded .debs are kept between builds (the images share most of them).
    mkdir -p "$cache/debs"
    # Write the tar to a file first: a failed build piped straight into `docker import`
    # still creates an (empty) image.
    mmdebstrap --variant=minbase \
        --include="$packages" \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt="$here/runner/dpkg-excludes" \
        --skip=essential/unlink \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in $cache/debs /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives $cache/debs" \
        --customize-hook='rm -rf "$1"/usr/share/man/* "$1"/var/log/* "$1"/var/cache/debconf/*-old' \
        "${mm_args[@]}" \
        "$suite" "$out" "$sources" >"$mmlog" 2>&1 || {
        # mmdebstrap's own summary hides the failing maintainer script: show the log's end.
        tail -n 40 "$mmlog" >&2
        die "mmdebstrap failed for $name (see above)"
    }
    docker import "${import_args[@]}" \
        --change "LABEL org.muscode.recipe=${tag##*:recipe-}" \
        --message "muscode $name, $tag" \
        "$out" "$tag" >/dev/null
    rm -f "$out"
    log "built $tag in $(($(date +%s) - start)) s, $(size_of "$tag")"
}

# rootfs_recipe PACKAGES_FILE [options...]: the hash of what build_rootfs makes from them.
rootfs_recipe() {
    {
        declare -f build_rootfs
        cat "$1" "$here/runner/dpkg-excludes"
        shift
        printf '%s\n' "$suite" "$arch" "$@"
    } | hash12
}

# -- the runner (the Docker sandbox's image) ------------------------------------------

build_runner() {
    local name="${MUSCODE_RUNNER_IMAGE:-muscode-runner}"
    # The image's settings mirror runner/Dockerfile's USER/WORKDIR/ENV/CMD lines.
    # The JRE's postinst registers a man page alternative and fails when man1/ is missing
    # (dpkg-excludes keeps it from being created): the essential hook makes the directory.
    local opts=(
        '--change=USER 65534:65534'
        '--change=WORKDIR /box'
        '--change=ENV LANG=C.UTF-8'
        '--change=ENV HOME=/tmp'
        '--change=ENV PATH=/usr/local/bin:/usr/bin:/bin'
        '--change=CMD ["python3", "--version"]'
        '--essential-hook=mkdir -p "$1/usr/share/man/man1"'
        '--customize-hook=mkdir -m 0755 "$1/box"'
    )
    local tag
    tag="$name:recipe-$(rootfs_recipe "$here/runner/packages.txt" "${opts[@]}")"
    if have_image "$tag"; then
        log "$tag already exists (recipe unchanged)"
        docker tag "$tag" "$name:latest"
    else
        build_rootfs runner "$tag" "$here/runner/packages.txt" "${opts[@]}"
        docker tag "$tag" "$name:latest"
        prune_recipes "$name" "$tag"
    fi
    log "muscode-runner: $name:latest = $tag ($(size_of "$tag"))"
}

# -- the classroom stack ----------------------------------------------------------------

# rootfs NAME: the imported Debian file system of NAME/packages.txt; prints its tag.
rootfs() {
    local name="$1" tag
    tag="muscode/$name-rootfs:recipe-$(rootfs_recipe "$here/$name/packages.txt")"
    if ! have_image "$tag"; then
        build_rootfs "$name" "$tag" "$here/$name/packages.txt" >&2
        prune_recipes "muscode/$name-rootfs" "$tag" >&2
    fi
    echo "$tag"
}

# The hash of MUSCode's sources that go into its wheel (tracked and new files).
source_hash() {
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
        muscode_ext labextension/src labextension/style labextension/package.json \
        labextension/install.json labextension/tsconfig.json jupyter-config \
        pyproject.toml README.md | sort -z | xargs -0 sha256sum 2>/dev/null) | hash12
}

# MUSCode's wheel (with the lab extension), built once per source hash; prints its dir.
muscode_wheel() {
    local dir="$cache/muscode-wheel-$1"
    if [ ! -d "$dir" ]; then
        log "building MUSCode's wheel" >&2
        rm -rf "$dir.tmp"
        local uv
        uv="$(command -v uv || true)"
        [ -n "$uv" ] || [ ! -x "$repo/.venv/bin/uv" ] || uv="$repo/.venv/bin/uv"
        if [ -n "$uv" ]; then
            "$uv" build -q --wheel --out-dir "$dir.tmp" "$repo" >&2
        else
            python3 -m pip wheel -q --no-deps -w "$dir.tmp" "$repo" >&2
        fi
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# deps_wheels NAME BASE_TAG [MUSCODE_WHEEL]: the wheels of NAME/requirements.txt (and of
# MUSCode's dependencies) for the Python of the base image (its version and C library,
# asked of the image itself), fetched once per requirements and base; prints their dir.
deps_wheels() {
    local name="$1" base="$2" wheel="${3:-}" key dir target
    target="$(docker run --rm --network none --entrypoint python3 "$base" -c \
        'import platform; print(platform.python_version(), platform.libc_ver()[1].replace(".", "_"))')"
    local py="${target% *}" glibc="${target#* }" platforms=() minor machine
    machine="$(uname -m)"
    # Every manylinux tag that glibc satisfies (pip does not work them out for a target).
    for minor in $(seq 5 "${glibc#2_}"); do
        platforms+=(--platform "manylinux_2_${minor}_$machine")
    done
    platforms+=(--platform "manylinux1_$machine" --platform "manylinux2010_$machine" --platform "manylinux2014_$machine")
    key="$(cat "$here/$name/"*.txt "$repo/pyproject.toml" <(echo "$target") | hash12)"
    dir="$cache/wheels-$name-$key"
    if [ ! -d "$dir" ]; then
        log "fetching the Python wheels of the $name image (Python $py, glibc ${glibc/_/.})" >&2
        rm -rf "$dir.tmp"
        if [ -f "$here/$name/sdists.txt" ]; then
            python3 -m pip wheel -q --disable-pip-version-check --no-deps -w "$dir.tmp" \
                -r "$here/$name/sdists.txt" >&2
        fi
        python3 -m pip download -q --find-links "$dir.tmp" --disable-pip-version-check --only-binary=:all: \
            --python-version "$py" --implementation cp --abi "cp$(echo "$py" | cut -d. -f1-2 | tr -d .)" \
            "${platforms[@]}" \
            -d "$dir.tmp" -r "$here/$name/requirements.txt" ${wheel:+"$wheel"} >&2
        # MUSCode's own wheel goes into its own layer (it changes with every commit).
        rm -f "$dir.tmp"/muscode-*.whl
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# The proxy's npm package with its dependencies (plain JavaScript); prints its dir.
chp_package() {
    local dir="$cache/configurable-http-proxy-$chp_version"
    if [ ! -d "$dir" ]; then
        log "fetching configurable-http-proxy $chp_version" >&2
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
        npm install --prefix "$dir.tmp" --omit=dev --no-audit --no-fund --no-save \
            --loglevel=error "configurable-http-proxy@$chp_version" >&2
        rm -f "$dir.tmp/package.json" "$dir.tmp/package-lock.json"
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# image NAME BASE_TAG CONTEXT_DIR EXTRA_RECIPE: build docker/NAME/Dockerfile on BASE_TAG
# with the staged context, as muscode/NAME:recipe-<hash> and muscode/NAME:<version>.
image() {
    local name="$1" base="$2" context="$3" extra="$4" recipe tag start
    recipe="$({
        printf '%s\n' "$base" "$extra"
        (cd "$here/$name" && find . -type f ! -name packages.txt -print0 | sort -z | xargs -0 sha256sum)
    } | hash12)"
    tag="muscode/$name:recipe-$recipe"
    if have_image "$tag"; then
        log "$tag already exists (recipe unchanged)"
    else
        start=$(date +%s)
        log "building $tag"
        cp -a "$here/$name/." "$context/"
        # The classic builder: BuildKit needs the buildx plugin, which these hosts lack,
        # and nothing here needs its features.
        DOCKER_BUILDKIT=0 docker build --quiet --force-rm \
            --build-arg "BASE=$base" --label "org.muscode.recipe=$recipe" \
            -t "$tag" "$context" >"$workdir/$name.build.log" 2>&1 || {
            tail -n 40 "$workdir/$name.build.log" >&2
            die "docker build failed for $name (see above)"
        }
        log "built $tag in $(($(date +%s) - start)) s"
        # The moving tag first: an older image that loses both tags is deleted.
        docker tag "$tag" "muscode/$name:$version"
        prune_recipes "muscode/$name" "$tag"
        # The build stages of earlier builds (this one's stays: the next build's cache).
        docker image prune --force --filter "label=org.muscode.build-stage=$name" \
            --filter "until=$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
    fi
    docker tag "$tag" "muscode/$name:$version"
    log "muscode/$name:$version = $tag ($(size_of "$tag"))"
}

# stage NAME: a fresh build context directory for NAME; prints it.
stage() {
    local dir="$workdir/context-$1"
    mkdir -p "$dir/wheels/deps" "$dir/wheels/app"
    echo "$dir"
}

# link_wheels FROM TO: hard links (same file system) or copies of the wheels.
link_wheels() { cp -al "$1"/. "$2"/ 2>/dev/null || cp -a "$1"/. "$2"/; }

build_stack() {
    local base src wheel_dir wheel deps ctx
    base="$(rootfs base)"
    src="$(source_hash)"

    ctx="$(stage muscode)"
    wheel_dir="$(muscode_wheel "$src")"
    wheel="$(echo "$wheel_dir"/muscode-*.whl)"
    [ -f "$wheel" ] || die "no MUSCode wheel in $wheel_dir"
    deps="$(deps_wheels muscode "$base" "$wheel")"
    link_wheels "$deps" "$ctx/wheels/deps"
    link_wheels "$wheel_dir" "$ctx/wheels/app"
    image muscode "$base" "$ctx" "src=$src deps=$(basename "$deps")"

    ctx="$(stage singleuser)"
    deps="$(deps_wheels singleuser "$base" "$wheel")"
    link_wheels "$deps" "$ctx/wheels/deps"
    link_wheels "$wheel_dir" "$ctx/wheels/app"
    image singleuser "$base" "$ctx" "src=$src deps=$(basename "$deps")"

    ctx="$(stage hub)"
    deps="$(deps_wheels hub "$base")"
    link_wheels "$deps" "$ctx/wheels/deps"
    cp -a "$(chp_package)" "$ctx/chp"
    cp "$repo/hub_config/jupyterhub_config.py" "$ctx/"
    image hub "$base" "$ctx" "deps=$(basename "$deps") chp=$chp_version hub_config=$(hash12 <"$repo/hub_config/jupyterhub_config.py")"

    local name fs
    for name in postgres redis lb; do
        fs="$(rootfs "$name")"
        ctx="$(stage "$name")"
        image "$name" "$fs" "$ctx" ""
    done
}

build_runner
if [ "$all" = 1 ]; then
    build_stack
fi
