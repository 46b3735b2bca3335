#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...] — the run part of
# `make fuzz`: each libFuzzer binary of BUILD_DIR/fuzz/ runs for SECONDS
# (default 8) starting from its committed corpus, tests/fuzz/corpus/<name>/.
# New inputs go to a scratch directory first; afterwards only those that add
# coverage are merged into the committed corpus (-merge=1), so it grows by
# what is new and stays small. A crash (sanitizer report, oracle failure,
# leak, timeout) leaves its input in BUILD_DIR/fuzz-artifacts/ and makes the
# whole run fail once every target has had its turn.
#
# FUZZ_MINIMIZE=1 rebuilds each corpus from scratch with -merge=1 instead
# (the smallest set of inputs with the same coverage).
set -uo pipefail

build=${1:?usage: run.sh BUILD_DIR [SECONDS] [TARGET...]}
secs=${2:-8}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
bins=$(cd "$build/fuzz" && pwd) || exit 1
artifacts="$(cd "$build" && pwd)/fuzz-artifacts"
mkdir -p "$artifacts"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for b in "$bins"/fuzz_*; do targets+=("$(basename "$b" | sed 's/^fuzz_//')"); done
fi

# Leaks count as failures; a slow input (over 10 s) too; 2 GB is the ceiling.
opts=(-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0)
# Merging counts edges only, not hit counts: the corpora stay a few hundred
# inputs instead of thousands, at little cost to what they cover.
merge_opts=(-use_counters=0)
failed=()
start=$(date +%s)
for t in "${targets[@]}"; do
  bin="$bins/fuzz_$t"
  corpus="$here/corpus/$t"
  mkdir -p "$corpus"
  scratch=$(mktemp -d)
  t0=$(date +%s)
  before=$(ls "$corpus" | wc -l)
  if ! "$bin" "${opts[@]}" -max_total_time="$secs" -artifact_prefix="$artifacts/$t-" \
       "$scratch" "$corpus" >"$artifacts/$t.log" 2>&1; then
    failed+=("$t")
    echo "fuzz: $t FAILED, see $artifacts/$t.log:" >&2
    grep -E "oracle failed|ERROR:|SUMMARY|Test unit written" "$artifacts/$t.log" | head -8 >&2
  fi
  if [ "${FUZZ_MINIMIZE:-0}" = 1 ]; then
    # The hand-written seeds and regression inputs (seed-*, regress-*) stay,
    # under their names; of the rest, only what adds coverage to them is kept.
    fresh=$(mktemp -d)
    cp "$corpus"/seed-* "$corpus"/regress-* "$fresh"/ 2>/dev/null
    "$bin" -merge=1 "${merge_opts[@]}" -artifact_prefix="$artifacts/$t-merge-" \
      "$fresh" "$corpus" "$scratch" >>"$artifacts/$t.log" 2>&1 &&
      rm -f "$corpus"/* && cp "$fresh"/* "$corpus"/
    rm -rf "$fresh"
  else
    "$bin" -merge=1 "${merge_opts[@]}" -artifact_prefix="$artifacts/$t-merge-" \
      "$corpus" "$scratch" >>"$artifacts/$t.log" 2>&1
  fi
  rm -rf "$scratch"
  # A merge skips an input that crashes it (the artifact says which).
  if ls "$artifacts/$t-merge-"* >/dev/null 2>&1 && [[ ! " ${failed[*]} " =~ " $t " ]]; then
    failed+=("$t")
    echo "fuzz: $t FAILED while merging: $(ls "$artifacts/$t-merge-"*)" >&2
  fi
  after=$(ls "$corpus" | wc -l)
  cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$artifacts/$t.log" | tail -1)
  printf 'fuzz: %-13s %3ss  corpus %4d -> %4d  %s\n' "$t" "$(( $(date +%s) - t0 ))" \
    "$before" "$after" "$cov"
done
echo "fuzz: ${#targets[@]} targets in $(( $(date +%s) - start ))s; corpora in tests/fuzz/corpus/"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in: ${failed[*]} (inputs in $artifacts/)" >&2
  exit 1
fi
