# shellcheck shell=bash
# Thought Diary — shared by the scripts in ops/podman/ (sourced, not run).
#
# - td_podman_env: CONTAINERS_CONF=ops/podman/containers.conf (the rlimits a
#   root without CAP_SYS_RESOURCE can apply), checked against `ulimit -H`.
# - td_podman_deps: installs the Debian packages that building and running
#   the images with podman needs, only when one is missing (so `make test`
#   never pays for them: only the container targets call this).

TD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TD_PODMAN_DIR="$TD_ROOT/ops/podman"

# podman + buildah (build and run), runc (containers.conf says why not crun),
# podman-compose (the compose file),
# netavark + aardvark-dns + iptables (the compose network, its DNS for
# service names and the published port), debootstrap (base images without a
# registry), docker-compose (1.29: a second loader to check the file with),
# curl and sqlite3 (the smoke test).
TD_PODMAN_PACKAGES=(
  podman buildah runc podman-compose netavark aardvark-dns iptables
  debootstrap docker-compose curl sqlite3
)

td_log() { printf '%s: %s\n' "${TD_LOG_TAG:-podman}" "$*" >&2; }
td_die() { td_log "error: $*"; exit 1; }

td_podman_deps() {
  local missing=() p
  for p in "${TD_PODMAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  td_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

td_podman_env() {
  [ "$(id -u)" -eq 0 ] || td_die "run as root (rootful podman; debootstrap needs root too)"
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$TD_PODMAN_DIR/containers.conf}"
  # The limits of containers.conf must fit under this shell's hard limits.
  local want
  want=$(sed -n 's/.*"nofile=[0-9]*:\([0-9]*\)".*/\1/p' "$CONTAINERS_CONF" | head -n1)
  if [ -n "$want" ] && [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then
    td_die "ulimit -Hn is $(ulimit -Hn), below the nofile=$want of $CONTAINERS_CONF: lower it there"
  fi
  want=$(sed -n 's/.*"nproc=[0-9]*:\([0-9]*\)".*/\1/p' "$CONTAINERS_CONF" | head -n1)
  if [ -n "$want" ] && [ "$(ulimit -Hu)" != unlimited ] && [ "$(ulimit -Hu)" -lt "$want" ]; then
    td_die "ulimit -Hu is $(ulimit -Hu), below the nproc=$want of $CONTAINERS_CONF: lower it there"
  fi
}

# The names the Dockerfile's FROM lines and the compose file's redis image
# resolve to (short names: podman's shortnames.conf maps debian to
# docker.io/library/debian; Docker normalises both the same way).
TD_BASE_IMAGES=(
  docker.io/library/debian:12
  docker.io/library/debian:12-slim
  docker.io/library/redis:7-bookworm
)
