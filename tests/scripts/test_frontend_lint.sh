#!/bin/sh
# Lints and format-checks the web app (frontend/) with ESLint and Prettier,
# pinned in tests/tools/package-lock.json and installed by
# ops/install-deps.sh, under tests/tools/eslint.config.mjs and
# tests/tools/prettier.config.mjs: any finding fails. To fix the format:
#   node tests/tools/node_modules/prettier/bin/prettier.cjs \
#     --config tests/tools/prettier.config.mjs --write frontend
#
#   test_frontend_lint.sh <source_dir> [<build_dir>]
set -eu
src=${1:-$(dirname "$0")/../..}
tools="$src/tests/tools"
for tool in eslint prettier; do
  if [ ! -f "$tools/node_modules/$tool/package.json" ]; then
    echo "test_frontend_lint: $tool is not installed (run ops/install-deps.sh)" >&2
    exit 1
  fi
done
status=0
# With --config, ESLint resolves file patterns from the working directory:
# run it from the source tree, or it ignores every file outside tests/tools.
(cd "$src" && node "$tools/node_modules/eslint/bin/eslint.js" --config "$tools/eslint.config.mjs" \
  --max-warnings 0 frontend/js) || status=1
node "$tools/node_modules/prettier/bin/prettier.cjs" --config "$tools/prettier.config.mjs" \
  --check "$src/frontend" || status=1
exit $status
