#!/usr/bin/env bash
# test_learned_generated.sh <source_dir> [<build_dir>] — the committed
# services/sentiment/learned_data.c must be exactly what
# services/sentiment/tools/gen_learned.py makes from the tuning parts in
# tests/data/sentiment/ (services/sentiment/LEXICON.md), so a hand edit to the
# generated file, or a tuning part or setting changed without regenerating,
# fails here.
set -euo pipefail
src=${1:-.}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 "$src/services/sentiment/tools/gen_learned.py" >"$out"
if ! diff -u "$src/services/sentiment/learned_data.c" "$out" | head -40; then
  echo "test_learned_generated: learned_data.c differs from what gen_learned.py makes;" \
       "regenerate it (see the script's docstring)" >&2
  exit 1
fi
echo "test_learned_generated: learned_data.c is what gen_learned.py makes from the tuning parts"
