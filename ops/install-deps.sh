#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running Thought
# Diary needs. Idempotent: it asks dpkg first and stays quiet when everything
# is already there; apt-get runs only for what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libcivetweb-dev libnng-dev libmsgpack-dev libsqlite3-dev sqlite3
  libjwt-dev libsodium-dev libcurl4-openssl-dev libhiredis-dev libjansson-dev zlib1g-dev
  libicu-dev libcriterion-dev libpq-dev
  redis-server postgresql curl python3-yaml
  nginx openssl chromium wrk nodejs
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Swagger UI for GET /docs, from npm's swagger-ui-dist (pinned by the lock
# file), installed next to the docs page so the gateway serves it locally.
install_docs_assets() {
  local docs
  docs="$(cd "$(dirname "$0")/.." && pwd)/gateway/docs"
  if [ ! -f "$docs/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ]; then
    # Debian's nodejs lacks npm (a separate package) while other builds of
    # nodejs ship it and conflict with Debian's: install it only when absent.
    if ! command -v npm >/dev/null; then
      ${SUDO:-} apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "install-deps: npm ci in gateway/docs (Swagger UI assets)" >&2
    npm ci --prefix "$docs" --no-audit --no-fund --ignore-scripts >/dev/null
  fi
  # playwright-core and axe-core (pinned by tests/e2e/package-lock.json) for
  # the web app's browser tests; they drive Debian's chromium, so no browser
  # is downloaded.
  local e2e
  e2e="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
  if [ ! -f "$e2e/node_modules/playwright-core/package.json" ] ||
     [ ! -f "$e2e/node_modules/axe-core/package.json" ]; then
    if ! command -v npm >/dev/null; then
      ${SUDO:-} apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "install-deps: npm ci in tests/e2e (playwright-core, axe-core)" >&2
    npm ci --prefix "$e2e" --no-audit --no-fund --ignore-scripts >/dev/null
  fi
  # Redocly's OpenAPI linter, ESLint and Prettier (pinned by
  # tests/tools/package-lock.json) for tests/scripts/test_openapi_lint.sh and
  # tests/scripts/test_frontend_lint.sh.
  local tools
  tools="$(cd "$(dirname "$0")/.." && pwd)/tests/tools"
  if [ ! -f "$tools/node_modules/@redocly/openapi-core/package.json" ] ||
     [ ! -f "$tools/node_modules/eslint/package.json" ] ||
     [ ! -f "$tools/node_modules/prettier/package.json" ]; then
    if ! command -v npm >/dev/null; then
      ${SUDO:-} apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "install-deps: npm ci in tests/tools (OpenAPI linter, ESLint, Prettier)" >&2
    npm ci --prefix "$tools" --no-audit --no-fund --ignore-scripts >/dev/null
  fi
}

# promtool, Prometheus' own checker of /metrics (tests/integration/test_metrics.c),
# from Debian's prometheus package: only that binary is unpacked, into
# tests/tools/promtool/, because installing the package would also start a
# Prometheus server on the machine. Best effort: without it the test checks
# /metrics with its own reader alone and says so.
install_promtool() {
  local dir tmp
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/tools/promtool"
  [ -x "$dir/usr/bin/promtool" ] && return 0
  tmp="$(mktemp -d)"
  echo "install-deps: unpacking promtool from Debian's prometheus package" >&2
  if (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
    mkdir -p "$dir"
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$dir" ./usr/bin/promtool ||
      echo "install-deps: could not unpack promtool" >&2
  else
    echo "install-deps: could not download Debian's prometheus package (promtool)" >&2
  fi
  rm -rf "$tmp"
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -eq 0 ]; then install_docs_assets; install_promtool; exit 0; fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server and a PostgreSQL cluster as services on install;
# the tests start their own on free ports (tests/harness/pg.h runs
# /usr/lib/postgresql/15/bin/initdb and postgres), so the packaged ones are
# left as the distribution configured them.
install_docs_assets
install_promtool
