#!/usr/bin/env bash
# Thought Diary — the base images of ops/docker/Dockerfile and of the compose
# file's redis, made from Debian's packages, without any container registry.
#
#   ops/podman/base-images.sh           # skips the images that already exist
#   ops/podman/base-images.sh --force   # makes them again
#
# Where Docker Hub can be reached, none of this is needed: `docker build`
# and `podman build` pull debian:12, debian:12-slim and redis:7-bookworm. Where
# only a Debian mirror can be (this project's CI), this script makes local
# images under the very names the FROM lines resolve to, so the Dockerfile
# stays the same for everybody:
#
#   docker.io/library/debian:12        debootstrap --variant=minbase bookworm,
#                                      from the mirror the host's apt uses
#   docker.io/library/debian:12-slim   the same without docs, man pages and
#                                      locales (dpkg path excludes, as the
#                                      official slim image has)
#   docker.io/library/redis:7-bookworm debian:12-slim + Debian's redis-server
#                                      (ops/podman/redis.Containerfile)
#
# The host's apt sources and apt Acquire settings, its extra CA certificates
# (/usr/local/share/ca-certificates) and its global npm settings are copied
# in, so `apt-get install` and `npm ci` inside a build reach the registries
# the way the host does. Nothing lands in the source tree: the root
# filesystem is made under /var/tmp and deleted; the images live in podman's
# store (/var/lib/containers), where later runs find them. About half a
# minute on a cold machine (mostly debootstrap), a second otherwise.
set -euo pipefail
TD_LOG_TAG=base-images
. "$(dirname "$0")/common.sh"

force=0
[ "${1:-}" = "--force" ] && force=1

td_podman_env
td_podman_deps

missing=()
for img in "${TD_BASE_IMAGES[@]}"; do
  if [ $force -eq 1 ] || ! podman image exists "$img"; then missing+=("$img"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  td_log "present: ${TD_BASE_IMAGES[*]}"
  exit 0
fi

start=$SECONDS
need() { local m; for m in "${missing[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }

# The Debian mirror of the host's apt sources (deb822 .sources or one-line
# .list): the first one carrying bookworm's main component.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           uris = ""; suites = ""; comps = ""; types = ""
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/)       { uris = $i;   sub(/^URIs:[ \t]*/, "", uris) }
             if ($i ~ /^Suites:/)     { suites = " " $i " " }
             if ($i ~ /^Components:/) { comps = " " $i " " }
             if ($i ~ /^Types:/)      { types = " " $i " " }
           }
           if (types ~ / deb / && suites ~ /[ :]bookworm / && comps ~ / main /) {
             split(uris, u, /[ \t]+/); print u[1]; exit
           }
         }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -E 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }'
  done
}

rootfs=""
cleanup() {
  [ -n "$rootfs" ] || return 0
  # debootstrap mounts /proc and /sys inside; a failed run may leave them.
  awk -v r="$rootfs/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf --one-file-system "$rootfs" "$rootfs.log"
}
trap cleanup EXIT

# Copies the host's package-manager settings into a root filesystem.
copy_host_settings() {
  local root=$1 f
  # apt sources: the enabled ones (*.list, *.sources), and the keyrings they
  # name with Signed-By when those are not Debian's own (already in the root).
  rm -f "$root/etc/apt/sources.list"
  install -d "$root/etc/apt/sources.list.d"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    install -m 0644 "$f" "$root$f"
    grep -ho 'signed-by=[^] ]*\|Signed-By: *[^ ]*' "$f" | sed 's/.*[=:] *//' | sort -u |
      while read -r key; do
        [ -f "$key" ] && [ ! -e "$root$key" ] && install -D -m 0644 "$key" "$root$key"
      done || true
  done
  if [ -d /etc/apt/trusted.gpg.d ]; then cp -a /etc/apt/trusted.gpg.d/. "$root/etc/apt/trusted.gpg.d/"; fi
  # apt's Acquire settings (proxies, snapshot mirrors' Check-Valid-Until, ...).
  for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
    [ -f "$f" ] || continue
    if grep -q '^[[:space:]]*Acquire' "$f"; then install -m 0644 "$f" "$root$f"; fi
  done
  # Extra CA certificates: ca-certificates adds them to the bundle when a
  # build installs it (the Dockerfile's docs stage does, before npm ci).
  if [ -d /usr/local/share/ca-certificates ]; then
    install -d "$root/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  fi
  # npm's global settings (registry, cafile, proxies) where Debian's npm
  # reads them.
  for f in /etc/npmrc /usr/etc/npmrc; do
    [ -f "$f" ] && install -D -m 0644 "$f" "$root$f"
  done
  # What the official images set for apt in containers: no recommends kept
  # in caches, no translations, downloaded .debs deleted after install.
  cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  cat > "$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
  cat > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests" <<'EOF'
Apt::AutoRemove::SuggestsImportant "false";
EOF
}

tidy_rootfs() {
  local root=$1
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
         "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
         "$root"/var/log/apt/* "$root"/tmp/* "$root"/root/.cache
  : > "$root/etc/machine-id"
  rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
}

import_rootfs() {
  local root=$1 name=$2 desc=$3
  tar --numeric-owner --xattrs -C "$root" -cf - . |
    podman import --quiet \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --change "LABEL org.opencontainers.image.description=\"$desc\"" \
      --change 'LABEL org.thought-diary.base-images=ops/podman/base-images.sh' \
      - "$name" >/dev/null
  td_log "imported $name ($(podman image inspect -f '{{.Size}}' "$name" | awk '{ printf "%d MB", $1 / 1e6 }'))"
}

if need docker.io/library/debian:12 || need docker.io/library/debian:12-slim; then
  mirror=$(debian_mirror | head -n1)
  [ -n "$mirror" ] || td_die "no bookworm main source in /etc/apt/sources.list{,.d}"
  rootfs=$(mktemp -d /var/tmp/td-rootfs.XXXXXX)
  chmod 0755 "$rootfs"
  td_log "debootstrap --variant=minbase bookworm from $mirror"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
    tail -n 20 "$rootfs.log" >&2
    rm -f "$rootfs.log"
    td_die "debootstrap failed"
  fi
  rm -f "$rootfs.log"
  copy_host_settings "$rootfs"
  tidy_rootfs "$rootfs"
  if need docker.io/library/debian:12; then
    import_rootfs "$rootfs" docker.io/library/debian:12 "Debian 12 minbase (debootstrap), local"
  fi
  if need docker.io/library/debian:12-slim; then
    # The slim variant: what the official one leaves out, kept out of later
    # installs too.
    cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/info/* \
           "$rootfs"/usr/share/lintian/* "$rootfs"/usr/share/linda/* "$rootfs"/usr/share/locale/*
    import_rootfs "$rootfs" docker.io/library/debian:12-slim "Debian 12 slim (debootstrap), local"
  fi
  rm -rf --one-file-system "$rootfs"
  rootfs=""
fi

if need docker.io/library/redis:7-bookworm; then
  td_log "building docker.io/library/redis:7-bookworm from Debian's redis-server"
  blog=$(mktemp /var/tmp/td-redis-build.XXXXXX)
  if ! podman build --pull=never -f "$TD_PODMAN_DIR/redis.Containerfile" \
      -t docker.io/library/redis:7-bookworm "$TD_PODMAN_DIR" >"$blog" 2>&1; then
    tail -n 30 "$blog" >&2
    rm -f "$blog"
    td_die "building the redis image failed"
  fi
  rm -f "$blog"
fi
td_log "done in $((SECONDS - start)) s: ${missing[*]}"
