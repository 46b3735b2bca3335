#!/usr/bin/env python3
"""Cross-validate the learned context (lexicon-5) within the tuning parts.

    python3 services/sentiment/tools/cv_learned.py [GEN_OPTIONS ...]
                                                  [--neutral FILE]

For each fold I of gen_learned.py's 5 folds (a SHA-256 hash of the text), it
generates learned_data.c from the tuning lines outside fold I
(`gen_learned.py --fold I GEN_OPTIONS`), compiles the analyzer with that
table into a small line classifier (tools/cv_classify.c; the C compiler is
$CC, else cc), and
classifies the lines of fold I of each tuning part by the contract's count
rule. It prints each part's out-of-fold accuracy on its pos/neg lines: the
honest figure for a table trained on the tuning parts, which `make eval`
cannot give once the committed table has seen them. GEN_OPTIONS
(--min-count, --alpha, --scale) are passed on, so one run per candidate
setting compares them; the held-out parts are never read.

--neutral FILE (one line of text each, e.g. neutral-labelled first-person
comments) also counts how many of those lines the analyzer built with the
full table gives a tone (more spans of one polarity): the price, on text
with no sentiment, of a rule that adds spans. Nothing of the sort is
committed; tests/data/sentiment/README.md says which file was used.

Run at development time; needs python3 and a C11 compiler, nothing else.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SENTI = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(SENTI))
sys.path.insert(0, HERE)
import gen_learned  # noqa: E402  (the script's own directory)

PARTS = ("goemotions_fp", "goemotions_feel", "xed_fp")



def build(tmp, tag, gen_args):
    table = os.path.join(tmp, "learned_%s.c" % tag)
    with open(table, "w", encoding="utf-8") as f:
        gen = subprocess.run([sys.executable, os.path.join(HERE, "gen_learned.py")] + gen_args,
                             stdout=f, check=False)
    if gen.returncode != 0:
        raise SystemExit("cv_learned: gen_learned.py %s failed" % " ".join(gen_args))
    exe = os.path.join(tmp, "classify_%s" % tag)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", "-O1", "-I" + SENTI, "-I" + os.path.join(ROOT, "common"),
                    os.path.join(HERE, "cv_classify.c"), os.path.join(SENTI, "analyzer.c"),
                    os.path.join(SENTI, "lexicon_data.c"), table,
                    os.path.join(ROOT, "common", "td_utf8.c"), "-lpthread", "-o", exe],
                   check=True)
    return exe


def classify(exe, texts):
    proc = subprocess.run([exe], input="".join(t + "\n" for t in texts), capture_output=True,
                          text=True, check=True)
    got = proc.stdout.split("\n")[:len(texts)]
    if len(got) != len(texts):
        raise SystemExit("cv_learned: %d answers for %d lines" % (len(got), len(texts)))
    return [{"p": "pos", "n": "neg"}.get(v, "neu") for v in got]


def main(argv):
    args = argv[1:]
    neutral = None
    if "--neutral" in args:
        i = args.index("--neutral")
        if i + 1 >= len(args):
            sys.stderr.write(__doc__)
            return 2
        neutral = args[i + 1]
        del args[i:i + 2]
    if "--fold" in args or "--folds" in args:
        sys.stderr.write("cv_learned: the folds are its own\n")
        return 2
    parts = {name: gen_learned.read_tsv(os.path.join(gen_learned.DATA, name + "_tune.tsv"))
             for name in PARTS}
    tmp = tempfile.mkdtemp(prefix="cv_learned.")
    try:
        ok = {name: 0 for name in PARTS}
        for k in range(gen_learned.FOLDS):
            exe = build(tmp, str(k), ["--fold", str(k)] + args)
            for name, rows in parts.items():
                held = [(label, text) for label, text in rows
                        if gen_learned.fold_of(text, gen_learned.FOLDS) == k]
                verdicts = classify(exe, [text for _, text in held])
                ok[name] += sum(1 for (label, _), v in zip(held, verdicts) if v == label)
        print("learned context %s: out-of-fold accuracy on the tuning parts"
              % (" ".join(args) or "(the committed settings)"))
        for name in PARTS:
            n = len(parts[name])
            print("  %-16s %.3f (%d/%d)" % (name, ok[name] / n, ok[name], n))
        if neutral is not None:
            with open(neutral, encoding="utf-8") as f:
                texts = [line.rstrip("\n") for line in f if line.strip()]
            verdicts = classify(build(tmp, "all", args), texts)
            toned = sum(1 for v in verdicts if v != "neu")
            print("  %-16s %d of %d lines given a tone" % ("neutral", toned, len(texts)))
    finally:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
