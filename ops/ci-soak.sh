#!/usr/bin/env bash
# ops/ci-soak.sh [N] [REF] — runs CI (.ci/run) N times (default 5), each on a
# fresh clean clone of REF (default: main) of this repository, while a CPU
# hog keeps every core busy, and prints each run's time and result. A flaky
# test shows up here long before it blocks a submission; the closing notes of
# CI work quote this script's summary.
#
# The hog is one busy loop per core at normal priority: the "ordinary
# background load" under which a CI run must still pass. SOAK_HOG=0 runs
# without it. Each run's full output is kept in $SOAK_DIR (default
# /var/tmp/td-soak) as run-<i>.log, and for a red run every test stack's
# daemon logs in run-<i>-stacks/; the clones are removed after each run.
set -uo pipefail
runs=${1:-5}
ref=${2:-main}
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${SOAK_DIR:-/var/tmp/td-soak}
mkdir -p "$out"

hogs=()
stop_hogs() {
  for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done
  wait "${hogs[@]}" 2>/dev/null
}
trap stop_hogs EXIT
if [ "${SOAK_HOG:-1}" != 0 ]; then
  for _ in $(seq "$(nproc)"); do
    (while :; do :; done) &
    hogs+=($!)
  done
  echo "soak: ${#hogs[@]} busy loops running (one per core)"
fi

commit=$(git -C "$repo" rev-parse --short "$ref") || exit 2
echo "soak: $runs runs of .ci/run on clean clones of $ref ($commit)"
passed=0
for i in $(seq "$runs"); do
  clone=$(mktemp -d /var/tmp/td-soak-clone.XXXXXX)
  git clone -q --branch "$ref" "$repo" "$clone" 2>/dev/null || git clone -q "$repo" "$clone"
  git -C "$clone" checkout -q "$commit"
  start=$SECONDS
  # Every test stack's daemon logs (tests/harness/harness.h), kept for a red run.
  stacks="$out/run-$i-stacks"
  rm -rf "$stacks"
  (cd "$clone" && TD_TEST_LOG_DIR="$stacks" ./.ci/run) >"$out/run-$i.log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    rm -rf "$stacks"
    echo "soak: run $i: green in ${took} s"
  else
    echo "soak: run $i: RED (exit $rc) in ${took} s; log: $out/run-$i.log"
    grep -E 'Failed|FAIL|ERROR: |Assertion|did not' "$out/run-$i.log" | head -20 | sed 's/^/    /'
    # Every test's full output (the failing test's assertions included).
    for b in "$clone"/build*/test-full.log; do
      [ -f "$b" ] && cp "$b" "$out/run-$i-$(basename "$(dirname "$b")").log"
    done
  fi
  rm -rf "$clone"
done
echo "soak: $passed of $runs runs green at $commit"
[ "$passed" -eq "$runs" ]
