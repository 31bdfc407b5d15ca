#!/usr/bin/env bash
# Builds the scimd container image with buildah from a static binary, without any registry:
#   packaging/build-image.sh target/x86_64-unknown-linux-musl/release/scimd OUTDIR
# Writes OUTDIR/scimd.tar (OCI archive) and OUTDIR/scimd-docker.tar (docker archive: the OCI
# image config has no HEALTHCHECK field, so only this one keeps it for `podman/docker load`).
set -euo pipefail
binary=${1:?usage: build-image.sh STATIC_BINARY OUTDIR}
out=${2:?usage: build-image.sh STATIC_BINARY OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
# vfs works where overlay mounts are not allowed (unprivileged CI sandboxes); the image has
# one small layer, so its cost does not matter.
buildah() { command buildah --storage-driver "${STORAGE_DRIVER:-vfs}" "$@"; }

if file "$binary" | grep -q 'dynamically linked'; then
    echo "error: $binary is dynamically linked; the image has no libc (build with --target x86_64-unknown-linux-musl)" >&2
    exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# Git keeps no empty directories, so the image's directory skeleton is made here.
mkdir -p "$ctx/root/var/lib" "$ctx/state"
cp "$binary" "$ctx/scimd"
chmod 0755 "$ctx/scimd"

mkdir -p "$out"
# Docker format: OCI image configs cannot carry HEALTHCHECK.
buildah bud --quiet --format docker --file "$here/Containerfile" --tag localhost/scimd:latest "$ctx"
rm -f "$out/scimd.tar" "$out/scimd-docker.tar"
buildah push --quiet localhost/scimd:latest "oci-archive:$out/scimd.tar:scimd:latest"
buildah push --quiet localhost/scimd:latest "docker-archive:$out/scimd-docker.tar:scimd:latest"
echo "image localhost/scimd:latest -> $out/scimd.tar, $out/scimd-docker.tar"
