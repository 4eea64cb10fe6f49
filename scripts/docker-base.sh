#!/usr/bin/env bash
# Makes a local stand-in for the official Node image and prints its name:
#
#   base=$(scripts/docker-base.sh)   # then: docker build --build-arg BASE="$base" .
#
# For machines that reach no image registry (only Debian's archive and the npm registry). The image is
# Debian bookworm (debootstrap --variant=minbase) with the Node.js that runs this script laid out as
# the official image lays it out: node in /usr/local/bin, npm in /usr/local/lib/node_modules, the
# headers node-gyp needs in /usr/local/include/node, and a user `node` with uid 1000. It also trusts
# the host's certificate authorities (NODE_EXTRA_CA_CERTS), so that `npm ci` in the build reaches the
# registry through whatever TLS-inspecting proxy the host itself trusts.
#
# Both the debootstrap tree and the image are cached; a second run only checks that they exist.
#
# Environment:
#   MEMSEAL_CACHE          cache directory (default ~/.cache/memseal)
#   MEMSEAL_DEBIAN_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   MEMSEAL_REBUILD_BASE   set to 1 to make the image again from the cached tree
#   DOCKER_HOST            the engine to use (see scripts/docker-engine.sh)
set -euo pipefail

log() { printf 'docker-base: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

cache=${MEMSEAL_CACHE:-${HOME:-/root}/.cache/memseal}
mirror=${MEMSEAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
rootfs_tar=$cache/base/$suite-minbase.tar

node_bin=$(readlink -f "$(command -v node)") || die "node is not on PATH"
node_version=$(node -p 'process.version')
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 18) ? 0 : 1)' \
  || die "node $node_version is older than the project needs (>= 18.18)"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package next to $(command -v npm)"
headers=$(dirname "$(dirname "$node_bin")")/include/node
[ -f "$headers/node_api.h" ] || die "no Node.js headers at $headers (node-gyp needs them offline)"
image=memseal-local-base:$suite-node${node_version#v}

if [ "${MEMSEAL_REBUILD_BASE:-}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  log "cached: $image"
  printf '%s\n' "$image"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "making the base image needs root (debootstrap, chroot)"

if [ ! -s "$rootfs_tar" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2 \
      || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2; }
  fi
  mkdir -p "$cache/base"
  tree=$(mktemp -d "$cache/base/debootstrap.XXXXXX")
  trap 'rm -rf "$tree"' EXIT
  log "debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$tree" "$mirror" >"$cache/base/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/base/debootstrap.log" >&2; die "debootstrap failed (log: $cache/base/debootstrap.log)"; }
  tar -C "$tree" --numeric-owner -cf "$rootfs_tar.partial" . && mv "$rootfs_tar.partial" "$rootfs_tar"
  rm -rf "$tree"
  trap - EXIT
fi

stage=$(mktemp -d "$cache/base/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
tar -C "$stage" --numeric-owner -xf "$rootfs_tar"

log "adding node $node_version, npm $(node -p "require('$npm_dir/package.json').version") and the headers"
install -D -m 0755 "$node_bin" "$stage/usr/local/bin/node"
mkdir -p "$stage/usr/local/lib/node_modules" "$stage/usr/local/include"
cp -a "$npm_dir" "$stage/usr/local/lib/node_modules/npm"
cp -a "$headers" "$stage/usr/local/include/node"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
ca_args=()
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$stage/usr/local/share/memseal-base/host-ca.crt"
  ca_args=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/memseal-base/host-ca.crt')
fi
chroot "$stage" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
env -u NODE_EXTRA_CA_CERTS chroot "$stage" /usr/local/bin/node -e 'process.exit(0)' || die "the copied node does not run inside the tree"
rm -rf "$stage/var/cache/apt/archives/"*.deb "$stage/var/lib/apt/lists/"* 2>/dev/null || true

log "docker import -> $image"
tar -C "$stage" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "LABEL org.opencontainers.image.description=\"local stand-in for node:${node_version#v}-$suite-slim\"" \
  "${ca_args[@]}" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
printf '%s\n' "$image"
