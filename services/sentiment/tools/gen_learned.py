#!/usr/bin/env python3
"""Build services/sentiment/learned_data.c: word weights learned from the
tuning parts of the labelled evaluation sets (lexicon-5, issue 15).

Run at development time only; the generated C file is committed so the build
needs neither Python nor the data, and `make eval` checks that the committed
file is what this script makes:

    python3 services/sentiment/tools/gen_learned.py > services/sentiment/learned_data.c

What it learns from: the `tune` parts of tests/data/sentiment/
(goemotions_fp_tune.tsv, goemotions_feel_tune.tsv, xed_fp_tune.tsv; their
sources and licences are in tests/data/sentiment/README.md), never the
held-out parts. The same text in two tuning files counts once, and a text
that also appears in a held-out part (a few Reddit comments were posted
twice under two ids) is left out, so that no held-out line is trained on:
that is the only use of the held-out files here.

What it learns: for each word (folded as the analyzer folds it: lower case,
accents and curly apostrophes folded), the number of `pos` and `neg` lines
that contain it (once per line), and its smoothed log-odds, a naive-Bayes
weight:

    weight = ln((pos + ALPHA) / (neg + ALPHA)) + ln(NEG / POS)

where POS and NEG are the numbers of pos and neg lines (the second term
corrects for the classes' sizes). Every word seen in at least MIN_COUNT
lines is written out, function words included: the weights are context,
never spans. The analyzer adds up the weights of an entry's words and lets
SCALE times that sum tip the weighted verdict that its reconciliation makes
the spans agree with, towards a polarity the hand lexicon already marked
(analyzer.c, "Learned context"). No learned word is ever marked: the
highlighted phrases stay the hand lexicon's.

MIN_COUNT, ALPHA and SCALE were chosen by 5-fold cross-validation within the
tuning parts (tests/data/sentiment/README.md, "Figures (lexicon-5)"):

    gen_learned.py [--fold I] [--folds K] [--min-count N] [--alpha A] [--scale S]

--fold I leaves out the lines whose SHA-256 hash of the text puts them in
fold I of K (the analyzer built with that table is then scored on fold I of
each tuning part only); the other options override the constants. Without
options the output is the committed table. The output is sorted by word and
the weights are rounded to two decimals, so it is the same on every machine.
"""
import hashlib
import math
import os
import re
import sys
import unicodedata

MIN_COUNT = 3
ALPHA = 1.0
SCALE = 1.2
FOLDS = 5

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                    "tests", "data", "sentiment")
TUNE = ("goemotions_fp_tune.tsv", "goemotions_feel_tune.tsv", "xed_fp_tune.tsv")
HELDOUT = ("goemotions_fp_heldout.tsv", "goemotions_feel_heldout.tsv",
           "xed_fp_heldout.tsv")

# The analyzer's word (analyzer.c, tokenize()): letters and digits with inner
# apostrophes or hyphens, after folding case and accents. It never matches a
# word of TOKW (32) bytes or more.
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
TOKW = 32


def fold(text):
    text = text.replace("\u2019", "'")
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "\t" not in line:
                continue
            label, text = line.split("\t", 1)
            if label in ("pos", "neg"):
                rows.append((label, text))
    return rows


def fold_of(text, folds):
    digest = hashlib.sha256(("fold:" + text).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % folds


def training_lines(leave_out, folds):
    held = set()
    for name in HELDOUT:
        held.update(t for _, t in read_tsv(os.path.join(DATA, name)))
    seen = set()
    lines = []
    for name in TUNE:
        for label, text in read_tsv(os.path.join(DATA, name)):
            if text in seen or text in held:
                continue
            seen.add(text)
            if leave_out is not None and fold_of(text, folds) == leave_out:
                continue
            lines.append((label, text))
    return lines


def learn(lines, min_count, alpha):
    pos_lines = sum(1 for label, _ in lines if label == "pos")
    neg_lines = len(lines) - pos_lines
    if pos_lines == 0 or neg_lines == 0:
        raise SystemExit("gen_learned.py: the tuning parts need pos and neg lines")
    counts = {}
    for label, text in lines:
        for w in set(TOKEN.findall(fold(text))):
            c = counts.setdefault(w, [0, 0])
            c[0 if label == "pos" else 1] += 1
    prior = math.log(neg_lines / pos_lines)
    table = []
    for w, (p, n) in counts.items():
        if p + n < min_count or len(w.encode("utf-8")) >= TOKW:
            continue
        weight = round(math.log((p + alpha) / (n + alpha)) + prior, 2)
        if weight != 0.0:
            table.append((w, weight, p, n))
    table.sort()
    return table, pos_lines, neg_lines


def main(argv):
    args = argv[1:]
    opts = {"--fold": None, "--folds": str(FOLDS), "--min-count": str(MIN_COUNT),
            "--alpha": str(ALPHA), "--scale": str(SCALE)}
    while args:
        a = args.pop(0)
        if a not in opts or not args:
            sys.stderr.write(__doc__)
            return 2
        opts[a] = args.pop(0)
    folds = int(opts["--folds"])
    leave_out = int(opts["--fold"]) if opts["--fold"] is not None else None
    table, npos, nneg = learn(training_lines(leave_out, folds), int(opts["--min-count"]),
                              float(opts["--alpha"]))
    if not table:
        raise SystemExit("gen_learned.py: no word is seen often enough")
    out = sys.stdout
    out.write("/* learned_data.c — GENERATED by services/sentiment/tools/gen_learned.py\n"
              " * from the tuning parts of tests/data/sentiment/ (%d pos and %d neg\n"
              " * lines; that folder's README.md gives their sources and licences).\n"
              " * Do not edit: change the script and regenerate (LEXICON.md).\n"
              " * Per word seen in at least %d lines: ln((pos + %g) / (neg + %g)),\n"
              " * corrected for the classes' sizes%s. */\n"
              % (npos, nneg, int(opts["--min-count"]), float(opts["--alpha"]),
                 float(opts["--alpha"]),
                 "" if leave_out is None else
                 "; cross-validation fold %d of %d left out" % (leave_out, folds)))
    out.write('#include "analyzer.h"\n\n')
    out.write("const struct senti_lex_word senti_learned_words[] = {\n")
    for w, weight, p, n in table:
        out.write('    {"%s", %.2ff}, /* %d pos, %d neg */\n' % (w, weight, p, n))
    out.write("};\n")
    out.write("const size_t senti_learned_nwords = %d;\n" % len(table))
    out.write("const float senti_learned_scale = %.2ff;\n" % float(opts["--scale"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
