#!/usr/bin/env python3
"""Build the committed first-person subtitle sets from XED (English).

    python3 ops/eval/make_xed.py en-annotated.tsv tests/data/sentiment

en-annotated.tsv is AnnotatedData/en-annotated.tsv of Helsinki-NLP/XED
(commit 76666d251f147cf518071bef4f8415dab6b96115; Creative Commons
Attribution 4.0; Öhman, Pàmies, Kajava and Tiedemann, "XED: A Multilingual
Dataset for Sentiment Analysis and Emotion Detection", COLING 2020): English
film subtitle lines, `text<TAB>labels`, labels Plutchik's emotions numbered
anger 1, anticipation 2, disgust 3, fear 4, joy 5, sadness 6, surprise 7,
trust 8. Run once, at development time; its output is committed.

Kept, deterministically: lines whose every label is joy or trust (`pos`) or
every label is anger, disgust, fear or sadness (`neg`; the XED paper's own
polarity grouping; anticipation and surprise are left out as ambiguous), in
the first person (I / I'm / me / my ..., as in make_goemotions.py), of 3 words
or more. The tokenised punctuation of the subtitles is glued back ("I 'm
fine ." -> "I'm fine."). Each line goes to the tuning or the held-out part
by the first byte of SHA-256("xed-split:" + text), and each part is balanced
to PER_CLASS lines per class, taking the smallest SHA-256("xed-pick:" +
text). Output: xed_fp_tune.tsv and xed_fp_heldout.tsv, `label<TAB>text`.
"""
import hashlib
import os
import re
import sys

PER_CLASS = 600
POS = {5, 8}
NEG = {1, 3, 4, 6}
FIRST_PERSON = re.compile(r"(?<![\w'])(i|i'm|i've|i'd|i'll|me|my|myself)(?![\w'])",
                          re.IGNORECASE)


def detok(text):
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"\s+'\s*(s|m|re|ve|ll|d|t)\b", r"'\1", text)
    text = text.replace(" n't", "n't")
    return " ".join(text.split())


def h(prefix, text):
    return hashlib.sha256((prefix + text).encode("utf-8")).hexdigest()


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    parts = {"tune": {"pos": [], "neg": []}, "heldout": {"pos": [], "neg": []}}
    seen = set()
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            if "\t" not in line:
                continue
            text, labels = line.rstrip("\n").rsplit("\t", 1)
            ids = {int(x) for x in labels.split(",")}
            label = "pos" if ids <= POS else "neg" if ids <= NEG else None
            text = detok(text)
            if label is None or text in seen or len(text.split()) < 3:
                continue
            if not FIRST_PERSON.search(text.replace("\u2019", "'")):
                continue
            seen.add(text)
            part = "tune" if int(h("xed-split:", text)[:2], 16) % 2 == 0 else "heldout"
            parts[part][label].append((h("xed-pick:", text), label, text))
    for part, by_label in parts.items():
        rows = []
        for label in ("pos", "neg"):
            got = sorted(by_label[label])
            if len(got) < PER_CLASS:
                raise SystemExit("%s: only %d %s lines" % (part, len(got), label))
            rows += got[:PER_CLASS]
        rows.sort()
        path = os.path.join(argv[2], "xed_fp_%s.tsv" % part)
        with open(path, "w", encoding="utf-8") as f:
            for _, label, text in rows:
                f.write("%s\t%s\n" % (label, text))
        sys.stderr.write("%s: %d lines (of %d pos, %d neg candidates)\n"
                         % (path, len(rows), len(by_label["pos"]), len(by_label["neg"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
