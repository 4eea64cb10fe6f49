#!/usr/bin/env bash
# Makes sure a Docker engine answers, and prints the DOCKER_HOST to use:
#
#   eval "$(scripts/docker-engine.sh)"
#
# If an engine already answers (DOCKER_HOST, the default socket, or the private one this script
# starts), it is used as it is. Otherwise Debian's docker.io is installed when missing and its dockerd
# is started by hand as root, with private data and exec roots and no iptables or bridge, because
# machines without systemd or a network (CI sandboxes) have neither a service manager nor NAT to offer.
# Running it again is harmless: it finds the engine it started.
#
# Environment:
#   MEMSEAL_CACHE          cache directory (default ~/.cache/memseal); the engine's data root lives here,
#                          so images built once stay for the next run
#   MEMSEAL_DOCKER_EXEC    exec root and socket directory (default /run/memseal-docker; kept short
#                          because unix socket paths are limited to 108 bytes)
set -euo pipefail

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

cache=${MEMSEAL_CACHE:-${HOME:-/root}/.cache/memseal}
exec_root=${MEMSEAL_DOCKER_EXEC:-/run/memseal-docker}
data_root=$cache/docker
socket=unix://$exec_root/docker.sock

answers() { DOCKER_HOST=$1 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# 1. An engine that already answers: whatever the caller configured, then the default socket.
if command -v docker >/dev/null 2>&1; then
  for host in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "$socket"; do
    [ -n "$host" ] || continue
    if answers "$host"; then
      log "using the engine at $host"
      printf 'export DOCKER_HOST=%q\n' "$host"
      exit 0
    fi
  done
fi

# 2. None answers: start one from Debian's packages. That needs root.
[ "$(id -u)" = 0 ] || die "no container engine answers and starting one needs root; start Docker or Podman yourself"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "no dockerd and no apt-get to install Debian's docker.io"
  log "installing docker.io with apt-get"
  # Keep the package's postinst from starting a system-wide service: this script starts its own.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  trap '[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >&2; then
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >&2
  fi
fi

mkdir -p "$exec_root" "$data_root"
pidfile=$exec_root/dockerd.pid
logfile=$cache/dockerd.log

if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  log "dockerd $(cat "$pidfile") is starting already"
else
  log "starting dockerd (data root $data_root, log $logfile)"
  # setsid + nohup: the engine outlives this script and the CI step that ran it.
  setsid nohup dockerd \
    --host "$socket" \
    --data-root "$data_root" \
    --exec-root "$exec_root" \
    --pidfile "$pidfile" \
    --iptables=false --ip6tables=false --bridge=none \
    >"$logfile" 2>&1 </dev/null &
fi

for _ in $(seq 1 120); do
  if answers "$socket"; then
    log "dockerd answers at $socket ($(DOCKER_HOST=$socket docker version --format '{{.Server.Version}}'))"
    printf 'export DOCKER_HOST=%q\n' "$socket"
    exit 0
  fi
  sleep 0.5
done
tail -n 20 "$logfile" >&2 || true
die "dockerd did not answer at $socket within 60 s"
