#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running Thought
# Diary needs. Idempotent: it asks dpkg first and stays quiet when everything
# is already there; apt-get runs only for what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang
  libcivetweb-dev libnng-dev libmsgpack-dev libsqlite3-dev sqlite3
  libjwt-dev libsodium-dev libcurl4-openssl-dev libhiredis-dev libjansson-dev
  libcriterion-dev
  redis-server curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a service on install; the tests start their own
# on free ports, so the packaged one is left as the distribution configured it.
