#!/usr/bin/env bash
# test_lexicon_generated.sh <source_dir> [<build_dir>] — the committed
# services/sentiment/lexicon_data.c must be exactly what
# services/sentiment/tools/gen_lexicon.py makes from the two word lists in the
# tree (services/sentiment/LEXICON.md), so a hand edit to the generated file,
# or a list changed without regenerating, fails here.
set -euo pipefail
src=${1:-.}
tools=$src/services/sentiment/tools
out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 "$tools/gen_lexicon.py" "$tools/vader_lexicon.txt" "$tools/project_lexicon.tsv" \
  >"$out" 2>/dev/null
if ! diff -u "$src/services/sentiment/lexicon_data.c" "$out" | head -40; then
  echo "test_lexicon_generated: lexicon_data.c differs from what gen_lexicon.py makes;" \
       "regenerate it (see the script's docstring)" >&2
  exit 1
fi
echo "test_lexicon_generated: lexicon_data.c is what gen_lexicon.py makes from the lists"
