#!/bin/sh
# Lints gateway/docs/openapi.json with Redocly's OpenAPI linter, pinned in
# tests/tools/package-lock.json and installed by ops/install-deps.sh, under
# the rules of tests/tools/redocly.yaml: any finding fails.
#
#   test_openapi_lint.sh <source_dir> [<build_dir>]
#
# tests/unit/gateway/test_openapi.c keeps the document equal to the routes;
# this keeps it a valid, clean OpenAPI document (no unused components, every
# operation with a 4xx, examples that match their schemas).
set -eu
src=${1:-$(dirname "$0")/../..}
tools="$src/tests/tools"
if [ ! -f "$tools/node_modules/@redocly/openapi-core/package.json" ]; then
  echo "test_openapi_lint: the linter is not installed (run ops/install-deps.sh)" >&2
  exit 1
fi
exec node "$tools/openapi-lint.mjs" "$src/gateway/docs/openapi.json"
