#!/usr/bin/env bash
# Builds the chirpfarm container image without pulling anything: the three binaries are built
# statically (glibc, crt-static) on this machine and put in a FROM-scratch image that runs as
# uid/gid 65532 with a writable /var/lib/chirpfarm.
#
#   deploy/build-image.sh [TAG]          TAG, else $CHIRPFARM_IMAGE, else chirpfarm:latest
#
# Environment:
#   CHIRPFARM_IMAGE               image tag (when no argument is given)
#   CHIRPFARM_STATIC_TARGET_DIR   cargo target dir for the static build (default: target/static,
#                                 kept apart from target/release so other builds stay valid)
#   CHIRPFARM_IMAGE_METHOD        auto (default): `docker build`, falling back to `docker import`
#                                 of an assembled rootfs tarball if the build fails;
#                                 build or import: only that method.
#   CHIRPFARM_SKIP_CARGO=1        do not run cargo (use the binaries already in the target dir)
#
# Needs: a Rust toolchain with the x86_64-unknown-linux-gnu target (the host's), glibc's static
# libraries (libc6-dev, which any Rust toolchain that links already has), docker, GNU tar.
# Cargo may download crates from crates.io on a fresh machine; nothing else is downloaded.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tag="${1:-${CHIRPFARM_IMAGE:-chirpfarm:latest}}"
method="${CHIRPFARM_IMAGE_METHOD:-auto}"
rust_target=x86_64-unknown-linux-gnu
bins=(chirpfarm chirpfarm-coordinator chirpfarm-worker)
uid=65532
gid=65532

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }

case "$method" in auto | build | import) ;; *) die "CHIRPFARM_IMAGE_METHOD must be auto, build or import (got '$method')" ;; esac
[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported (static glibc build for $rust_target)"
command -v docker >/dev/null || die "docker is not installed"

export CARGO_TARGET_DIR="${CHIRPFARM_STATIC_TARGET_DIR:-$root/target/static}"
bindir="$CARGO_TARGET_DIR/$rust_target/release"

if [ "${CHIRPFARM_SKIP_CARGO:-0}" != 1 ]; then
    log "cargo build (static, $rust_target) into $CARGO_TARGET_DIR"
    # --target makes RUSTFLAGS apply to the target only, not to build scripts and proc macros
    # (which cannot be static). A static glibc's getaddrinfo needs no NSS library in the
    # image: glibc >= 2.34 has the "files" and "dns" sources built in (deploy/test-cluster.sh
    # reaches the coordinator by its compose service name).
    (cd "$root" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
        cargo build --release --target "$rust_target" --bins)
fi

for b in "${bins[@]}"; do
    [ -x "$bindir/$b" ] || die "missing $bindir/$b"
    if command -v readelf >/dev/null && readelf -l "$bindir/$b" | grep -q 'Requesting program interpreter'; then
        die "$bindir/$b is dynamically linked (crt-static did not take effect)"
    fi
done

stage="$(mktemp -d "${TMPDIR:-/tmp}/chirpfarm-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
install -d -m 0755 "$stage/rootfs/usr/local/bin" "$stage/rootfs/etc"
install -d -m 1777 "$stage/rootfs/tmp"
install -d -m 0755 "$stage/data"
for b in "${bins[@]}"; do
    # Drop DWARF (the release profile keeps line tables) but keep symbols for backtraces.
    if command -v strip >/dev/null; then
        strip --strip-debug -o "$stage/rootfs/usr/local/bin/$b" "$bindir/$b"
    else
        cp "$bindir/$b" "$stage/rootfs/usr/local/bin/$b"
    fi
    chmod 0755 "$stage/rootfs/usr/local/bin/$b"
done
cat >"$stage/rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
chirpfarm:x:$uid:$gid:chirpfarm:/var/lib/chirpfarm:/sbin/nologin
EOF
cat >"$stage/rootfs/etc/group" <<EOF
root:x:0:
chirpfarm:x:$gid:
EOF
# Static glibc reads this for getaddrinfo; "files dns" is also its default.
printf 'hosts: files dns\n' >"$stage/rootfs/etc/nsswitch.conf"
chmod 0644 "$stage/rootfs/etc/passwd" "$stage/rootfs/etc/group" "$stage/rootfs/etc/nsswitch.conf"
cp "$here/Dockerfile" "$stage/Dockerfile"

version="$("$bindir/chirpfarm" --version 2>/dev/null | awk '{print $2}')" || version=unknown
if revision="$(git -C "$root" rev-parse --short HEAD 2>/dev/null)"; then
    git -C "$root" diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
else
    revision=unknown
fi
labels=(
    "org.opencontainers.image.title=chirpfarm"
    "org.opencontainers.image.version=$version"
    "org.opencontainers.image.revision=$revision"
    "org.opencontainers.image.licenses=MIT OR Apache-2.0"
)

build_with_docker_build() {
    local label_args=() l
    for l in "${labels[@]}"; do label_args+=(--label "$l"); done
    if docker buildx version >/dev/null 2>&1; then
        log "docker build (BuildKit) -> $tag"
        docker build --pull=false "${label_args[@]}" -t "$tag" "$stage"
    else
        # No buildx plugin: the legacy builder handles this Dockerfile (FROM scratch, COPY --chown).
        log "docker build (legacy builder, DOCKER_BUILDKIT=0) -> $tag"
        DOCKER_BUILDKIT=0 docker build "${label_args[@]}" -t "$tag" "$stage"
    fi
}

build_with_docker_import() {
    log "docker import of an assembled rootfs -> $tag"
    local tarball="$stage/rootfs.tar" l
    tar --numeric-owner --owner=0 --group=0 -C "$stage/rootfs" -cf "$tarball" .
    mkdir -p "$stage/data-root/var/lib"
    cp -a "$stage/data" "$stage/data-root/var/lib/chirpfarm"
    tar --numeric-owner --owner="$uid" --group="$gid" -C "$stage/data-root" -rf "$tarball" var/lib/chirpfarm
    local changes=(
        --change 'ENV PATH=/usr/local/bin'
        --change 'WORKDIR /var/lib/chirpfarm'
        --change "USER $uid:$gid"
        --change 'EXPOSE 50051'
        --change 'CMD ["chirpfarm", "--help"]'
    )
    for l in "${labels[@]}"; do changes+=(--change "LABEL ${l%%=*}=\"${l#*=}\""); done
    docker import "${changes[@]}" "$tarball" "$tag" >/dev/null
}

old_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
case "$method" in
build) build_with_docker_build ;;
import) build_with_docker_import ;;
auto)
    if ! build_with_docker_build; then
        log "docker build failed; falling back to docker import"
        build_with_docker_import
    fi
    ;;
esac

# The image this tag named before, now untagged: remove it unless something still uses it.
new_id="$(docker image inspect -f '{{.Id}}' "$tag")"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
fi

size_bytes="$(docker image inspect -f '{{.Size}}' "$tag")"
size_mb="$(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1000000 }')"
echo "built $tag: ${size_mb} MB ($size_bytes bytes), revision $revision"
