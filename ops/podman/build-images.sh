#!/usr/bin/env bash
# Thought Diary — `make image`: every image of ops/docker/Dockerfile, built
# with podman (no Docker engine needed), tagged as docker-compose.yml names
# them.
#
#   ops/podman/build-images.sh                    # gateway auth diary sentiment edge
#   ops/podman/build-images.sh gateway diary      # some of them
#
# Images: thought-diary/<target>:latest (podman stores them as
# localhost/thought-diary/<target>). The base images come from
# ops/podman/base-images.sh first, which does nothing when they exist (made
# earlier, or pulled where a registry is reachable: `podman pull
# docker.io/library/debian:12 docker.io/library/debian:12-slim
# docker.io/library/redis:7-bookworm`). buildah caches every layer, so a second run
# with unchanged sources takes seconds; the C build runs once for all
# targets. --format docker keeps the Dockerfile's HEALTHCHECKs (the OCI image
# format has no such field).
set -euo pipefail
TD_LOG_TAG=image
. "$(dirname "$0")/common.sh"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gateway auth diary sentiment edge postgres)

td_podman_env
td_podman_deps
"$TD_PODMAN_DIR/base-images.sh"

cd "$TD_ROOT"
total=$SECONDS
for t in "${targets[@]}"; do
  case "$t" in
    gateway|auth|diary|sentiment|edge|postgres) ;;
    *) td_die "unknown target $t (gateway, auth, diary, sentiment, edge, postgres)" ;;
  esac
  start=$SECONDS
  log=$(mktemp /var/tmp/td-image-build.XXXXXX)
  if ! podman build --format docker --layers --pull=missing \
         -f ops/docker/Dockerfile --target "$t" -t "thought-diary/$t:latest" . >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    td_die "podman build --target $t failed"
  fi
  rm -f "$log"
  td_log "thought-diary/$t built in $((SECONDS - start)) s" \
    "($(podman image inspect -f '{{.Size}}' "thought-diary/$t:latest" | awk '{ printf "%d MB", $1 / 1e6 }'))"
done
td_log "${#targets[@]} image(s) in $((SECONDS - total)) s"
