#!/usr/bin/env python3
"""Build the committed first-person evaluation sets from GoEmotions.

    python3 ops/eval/make_goemotions.py GOEMOTIONS_DATA_DIR tests/data/sentiment

GOEMOTIONS_DATA_DIR holds GoEmotions' train.tsv, dev.tsv and test.tsv
(text<TAB>comma-separated emotion ids<TAB>comment id, no header) as published
in google-research/google-research, goemotions/data/ (Apache License 2.0;
Demszky et al., "GoEmotions: A Dataset of Fine-Grained Emotions", ACL 2020).
Run once, at development time; its output is committed and `make eval` reads
only that. See tests/data/sentiment/README.md for the figures.

What is kept, deterministically (no randomness, no dependence on file order):
 - polarity from GoEmotions' own sentiment grouping (its sentiment_dict.json,
   repeated below): a comment whose every label is a positive emotion is
   `pos`, every label a negative one `neg`; neutral, ambiguous (surprise,
   curiosity, confusion, realization) and mixed comments are left out;
 - first person only: the comment contains I / I'm / I've / I'd / I'll /
   me / my / myself (any case, either apostrophe), so it says how the writer
   feels or what happened to them, the way a diary line does;
 - 3 to 60 words, one line.
Each kept comment goes to the tuning part or the held-out part by the first
byte of SHA-256("split:" + comment id) (even: tune, odd: held-out), and each
part is balanced to PER_CLASS comments per class, taking the comments with
the smallest SHA-256("pick:" + id). Output: goemotions_fp_tune.tsv and
goemotions_fp_heldout.tsv, `label<TAB>text`, sorted by that hash.

A second, smaller pair, goemotions_feel_{tune,heldout}.tsv, holds every
pos/neg comment (first person by construction) in which the writer reports a
feeling with the verb: "I feel", "I felt", "I'm feeling", "I've been feeling"
(split by the same hash, not balanced, not capped). It is the closest
GoEmotions has to a diary's "I felt ... today".
"""
import hashlib
import os
import re
import sys

PER_CLASS = 1500

EMOTIONS = ("admiration amusement anger annoyance approval caring confusion "
            "curiosity desire disappointment disapproval disgust embarrassment "
            "excitement fear gratitude grief joy love nervousness optimism pride "
            "realization relief remorse sadness surprise neutral").split()
# goemotions/data/sentiment_dict.json
POSITIVE = {"amusement", "excitement", "joy", "love", "desire", "optimism",
            "caring", "pride", "admiration", "gratitude", "relief", "approval"}
NEGATIVE = {"fear", "nervousness", "remorse", "embarrassment", "disappointment",
            "sadness", "grief", "disgust", "anger", "annoyance", "disapproval"}

FEEL = re.compile(r"(?<![\w'])(i|i'm|im|i am|i was|i've been|ive been)"
                  r"(\s+(so|really|very|just|kinda|still|also|always|often|sometimes|"
                  r"honestly|actually|definitely|genuinely|totally))*"
                  r"\s+(feel|felt|feeling)(?![\w'])", re.IGNORECASE)
FIRST_PERSON = re.compile(r"(?<![\w'])(i|i'm|i've|i'd|i'll|me|my|myself)(?![\w'])",
                          re.IGNORECASE)


def unquote(text):
    # A few texts carry CSV quoting from the original export: "a ""b"" c".
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('""', '"')
    return text.replace('""', '"').strip()


def h(prefix, cid):
    return hashlib.sha256((prefix + cid).encode("utf-8")).hexdigest()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, out = argv[1], argv[2]
    parts = {"tune": {"pos": [], "neg": []}, "heldout": {"pos": [], "neg": []}}
    feel = {"tune": [], "heldout": []}
    seen = set()
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        with open(os.path.join(src, name), encoding="utf-8") as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if len(cols) != 3 or cols[2] in seen:
                    continue
                text, ids, cid = unquote(cols[0]), cols[1], cols[2]
                seen.add(cid)
                labels = {EMOTIONS[int(i)] for i in ids.split(",")}
                if labels <= POSITIVE:
                    label = "pos"
                elif labels <= NEGATIVE:
                    label = "neg"
                else:
                    continue
                words = len(text.split())
                if not 3 <= words <= 60 or "\t" in text or "\r" in text:
                    continue
                plain = text.replace("\u2019", "'")
                if not FIRST_PERSON.search(plain):
                    continue
                part = "tune" if int(h("split:", cid)[:2], 16) % 2 == 0 else "heldout"
                if FEEL.search(plain):
                    feel[part].append((h("pick:", cid), label, text))
                parts[part][label].append((h("pick:", cid), label, text))
    for part, by_label in parts.items():
        rows = []
        for label in ("pos", "neg"):
            got = sorted(by_label[label])
            if len(got) < PER_CLASS:
                raise SystemExit("%s: only %d %s comments" % (part, len(got), label))
            rows += got[:PER_CLASS]
        rows.sort()
        path = os.path.join(out, "goemotions_fp_%s.tsv" % part)
        with open(path, "w", encoding="utf-8") as f:
            for _, label, text in rows:
                f.write("%s\t%s\n" % (label, text))
        sys.stderr.write("%s: %d lines (of %d pos, %d neg candidates)\n"
                         % (path, len(rows), len(by_label["pos"]), len(by_label["neg"])))
    for part, rows in feel.items():
        rows.sort()
        path = os.path.join(out, "goemotions_feel_%s.tsv" % part)
        with open(path, "w", encoding="utf-8") as f:
            for _, label, text in rows:
                f.write("%s\t%s\n" % (label, text))
        sys.stderr.write("%s: %d lines (%d pos)\n"
                         % (path, len(rows), sum(1 for r in rows if r[1] == "pos")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
