#!/usr/bin/env bash
# Runs every test of a build directory with ctest, then checks the output for
# sanitizer reports: Criterion exits 0 even when a test leaked under
# LeakSanitizer (PITFALLS.md), so the run is failed here instead.
set -uo pipefail
build=${1:-build}
log="$build/test-output.log"
mkdir -p "$build"
# Unit tests run in parallel; integration tests hold the "stack" lock.
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
  echo "run-tests: sanitizer report found in $log" >&2
  rc=1
fi
# Criterion's synthesis lines, summed, so the closing lines say what ran.
awk '/Synthesis:/ {for (i=1;i<=NF;i++) { if ($i=="Tested:") t+=$(i+1); if ($i=="Passing:") p+=$(i+1); if ($i=="Failing:") f+=$(i+1); if ($i=="Crashing:") c+=$(i+1)}}
     END {printf "run-tests: Criterion total: tested %d, passing %d, failing %d, crashing %d\n", t, p, f, c}' "$log"
exit $rc
