#!/usr/bin/env python3
"""Accuracy of the offline analyzer on labelled text: `make eval`.

    python3 ops/eval/eval.py BUILD_DIR [--tune-only] [--errors SET]
                             [--instructions] [--record-baseline]

Runs `BUILD_DIR/bin/td-sentiment --analyze-lines` (SENTIMENT_PROVIDER=lexicon)
over every evaluation set, classifies each line by API.md's count rule (more
positive spans: pos; more negative: neg; as many: neutral) and prints, per set
and part, the accuracy on the pos/neg lines (a neutral verdict on a pos or
neg line counts as a miss) beside the baseline recorded in
tests/data/sentiment/eval_baseline.tsv; then whether the committed
lexicon_data.c and learned_data.c are what their generators make from
services/sentiment/tools/ (and, for learned_data.c, the tuning parts),
and the analyzer's speed from BUILD_DIR/bench/bench_analyzer beside its
recorded baseline.

The sets (tests/data/sentiment/README.md says where each comes from):
 - goemotions_fp: first-person Reddit comments, tuning and held-out parts
   (committed, tests/data/sentiment/goemotions_fp_{tune,heldout}.tsv);
 - goemotions_feel: the GoEmotions comments that report a feeling with the
   verb ("I feel ...", "I've been feeling ..."), both parts;
 - xed_fp: first-person film subtitle lines (XED), both parts;
 - handmade: the project's 40 diary lines (tuning only);
 - uci_reviews: the UCI "Sentiment Labelled Sentences" (Amazon, IMDb, Yelp),
   read from the npm package `sentiment` pinned in ops/eval/package-lock.json
   (ops/eval/run.sh installs it; skipped when it is absent), split in two by
   a hash of the text.

--tune-only leaves the held-out parts out (for tuning runs).
--instructions also counts the analyzer's instructions per KB with valgrind
(about a minute of CPU): a speed figure a busy machine does not move.
--errors SET prints the misses of a tuning part (SET is e.g.
goemotions_fp/tune); held-out parts refuse, on purpose: they are for
reporting, never for tuning. --record-baseline rewrites the baseline file
from this run (do it only on the rules the baseline stands for).
"""
import hashlib
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "sentiment")
BASELINE = os.path.join(DATA, "eval_baseline.tsv")
UCI_DIR = os.path.join(ROOT, "ops", "eval", "node_modules", "sentiment", "test", "fixtures")


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or "\t" not in line:
                continue
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def uci_parts():
    parts = {"tune": [], "heldout": []}
    for name in ("amazon", "imdb", "yelp"):
        with open(os.path.join(UCI_DIR, name + ".json"), encoding="utf-8") as f:
            for item in json.load(f):
                if item.get("class") not in (0, 1) or not item.get("text"):
                    continue  # each file ends with an empty record
                text = " ".join(str(item["text"]).split())
                label = "pos" if int(item["class"]) == 1 else "neg"
                digest = hashlib.sha256(("uci:" + text).encode("utf-8")).digest()
                parts["tune" if digest[0] % 2 == 0 else "heldout"].append((label, text))
    return parts


def sets():
    out = [
        ("goemotions_fp", "tune", read_tsv(os.path.join(DATA, "goemotions_fp_tune.tsv"))),
        ("goemotions_fp", "heldout", read_tsv(os.path.join(DATA, "goemotions_fp_heldout.tsv"))),
        ("goemotions_feel", "tune", read_tsv(os.path.join(DATA, "goemotions_feel_tune.tsv"))),
        ("goemotions_feel", "heldout", read_tsv(os.path.join(DATA, "goemotions_feel_heldout.tsv"))),
        ("xed_fp", "tune", read_tsv(os.path.join(DATA, "xed_fp_tune.tsv"))),
        ("xed_fp", "heldout", read_tsv(os.path.join(DATA, "xed_fp_heldout.tsv"))),
        ("handmade", "tune", read_tsv(os.path.join(DATA, "diary_handmade.tsv"))),
    ]
    if os.path.isdir(UCI_DIR):
        uci = uci_parts()
        out.append(("uci_reviews", "tune", uci["tune"]))
        out.append(("uci_reviews", "heldout", uci["heldout"]))
    return out


def classify(binary, texts):
    env = dict(os.environ, SENTIMENT_PROVIDER="lexicon", LOG_LEVEL="err")
    env.pop("GITHUB_TOKEN", None)
    proc = subprocess.run([binary, "--analyze-lines"], input="\n".join(texts) + "\n",
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit("eval: %s --analyze-lines failed: %s" % (binary, proc.stderr.strip()))
    verdicts = []
    for line in proc.stdout.splitlines():
        p, n = (int(x) for x in line.split("\t"))
        verdicts.append("pos" if p > n else "neg" if n > p else "neu")
    if len(verdicts) != len(texts):
        raise SystemExit("eval: %d answers for %d lines" % (len(verdicts), len(texts)))
    return verdicts


def read_baseline():
    base = {}
    if not os.path.exists(BASELINE):
        return base
    with open(BASELINE, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            base[(cols[0], cols[1])] = cols[2:]
    return base


def bench(build):
    exe = os.path.join(build, "bench", "bench_analyzer")
    if not os.access(exe, os.X_OK):
        return {}
    runs = {}
    for _ in range(3):  # the median of three runs: the machine may be busy
        out = subprocess.run([exe], capture_output=True, text=True, check=False).stdout
        for m in re.finditer(r"senti_analyze (\d+ KB):\s+([\d.]+) us/KB", out):
            runs.setdefault(m.group(1).replace(" ", ""), []).append(float(m.group(2)))
    return {size: sorted(v)[len(v) // 2] for size, v in runs.items()}


BENCH_KB = 20001 * 1 + 501 * 40  # what one bench_analyzer run analyses


def instructions(build):
    """Instructions per KB analysed, counted by valgrind (callgrind) over one
    bench_analyzer run: unlike the timings, the same on a busy machine."""
    exe = os.path.join(build, "bench", "bench_analyzer")
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", exe],
                          capture_output=True, text=True, check=False)
    m = re.search(r"Collected : (\d+)", proc.stderr)
    return int(m.group(1)) / BENCH_KB if m else None


def main(argv):
    args = argv[1:]
    if not args:
        sys.stderr.write(__doc__)
        return 2
    build = os.path.abspath(args.pop(0))
    record = "--record-baseline" in args
    tune_only = "--tune-only" in args
    count = "--instructions" in args
    errors = args[args.index("--errors") + 1] if "--errors" in args else None
    if errors and errors.endswith("/heldout"):
        raise SystemExit("eval: held-out errors are not shown: that part is for reporting only")
    binary = os.path.join(build, "bin", "td-sentiment")
    if not os.access(binary, os.X_OK):
        raise SystemExit("eval: %s is missing (build first)" % binary)

    base = read_baseline()
    results = []
    print("%-15s %-8s %6s  %-22s %-22s %s" % ("set", "part", "lines", "baseline", "now", "change"))
    for name, part, rows in sets():
        if tune_only and part != "tune":
            continue
        rows = [r for r in rows if r[0] in ("pos", "neg")]
        verdicts = classify(binary, [t for _, t in rows])
        ok = sum(1 for (label, _), v in zip(rows, verdicts) if v == label)
        neu = sum(1 for v in verdicts if v == "neu")
        acc = ok / len(rows)
        results.append((name, part, len(rows), ok, acc))
        b = base.get((name, part))
        btxt, delta = "-", ""
        if b and int(b[0]) == len(rows):
            bacc = int(b[1]) / int(b[0])
            btxt = "%.3f (%s/%s)" % (bacc, b[1], b[0])
            delta = "%+.1f points" % (100 * (acc - bacc))
        elif b:
            btxt = "(baseline has %s lines)" % b[0]
        print("%-15s %-8s %6d  %-22s %-22s %s  [%d neutral]"
              % (name, part, len(rows), btxt, "%.3f (%d/%d)" % (acc, ok, len(rows)),
                 delta, neu))
        if errors == "%s/%s" % (name, part):
            for (label, text), v in zip(rows, verdicts):
                if v != label:
                    sys.stderr.write("miss %s->%s\t%s\n" % (label, v, text))
    if not os.path.isdir(UCI_DIR):
        print("(uci_reviews skipped: run ops/eval/run.sh, which installs ops/eval/node_modules)")
    print("(the learned weights of learned_data.c are trained on the goemotions_fp, "
          "goemotions_feel and xed_fp tune parts: their figures above are in-sample; "
          "services/sentiment/tools/cv_learned.py gives the cross-validated ones)")

    tools = os.path.join(ROOT, "services", "sentiment", "tools")
    gen = subprocess.run([sys.executable, os.path.join(tools, "gen_lexicon.py"),
                          os.path.join(tools, "vader_lexicon.txt"),
                          os.path.join(tools, "project_lexicon.tsv")],
                         capture_output=True, text=True, check=False)
    with open(os.path.join(ROOT, "services", "sentiment", "lexicon_data.c"),
              encoding="utf-8") as f:
        fresh = gen.returncode == 0 and gen.stdout == f.read()
    print("lexicon_data.c: %s" % ("regenerated from tools/ gives the committed file"
                                  if fresh else "STALE: run services/sentiment/tools/gen_lexicon.py"
                                  " (services/sentiment/LEXICON.md)"))
    gen = subprocess.run([sys.executable, os.path.join(tools, "gen_learned.py")],
                         capture_output=True, text=True, check=False)
    with open(os.path.join(ROOT, "services", "sentiment", "learned_data.c"),
              encoding="utf-8") as f:
        fresh = gen.returncode == 0 and gen.stdout == f.read()
    print("learned_data.c: %s" % ("regenerated from tools/ and the tuning parts gives the"
                                  " committed file" if fresh else
                                  "STALE: run services/sentiment/tools/gen_learned.py"
                                  " (services/sentiment/LEXICON.md)"))

    speed = bench(build)
    for size in ("1KB", "40KB"):
        if size in speed:
            b = base.get(("speed", size))
            btxt = "baseline %s us/KB" % b[1] if b else "no baseline"
            print("analyzer speed %-5s %6.1f us/KB  (%s; bench_analyzer, median of 3, this machine)"
                  % (size, speed[size], btxt))

    ipk = instructions(build) if count else None
    if ipk is not None:
        b = base.get(("instructions", "perKB"))
        btxt = ("baseline %s, %+.1f%%" % (b[1], 100 * (ipk / float(b[1]) - 1))
                if b else "no baseline")
        print("analyzer cost  %.0f instructions/KB  (%s; callgrind over bench_analyzer)"
              % (ipk, btxt))
    elif count:
        print("analyzer cost: valgrind is not installed")

    if record and tune_only:
        raise SystemExit("eval: --record-baseline needs every part")
    if record:
        with open(BASELINE, "w", encoding="utf-8") as f:
            f.write("# Baseline of `make eval` (ops/eval/eval.py --record-baseline): the\n"
                    "# analyzer as it was before the issue-15 changes (SENTI_ANALYZER_VERSION\n"
                    "# lexicon-2). set<TAB>part<TAB>lines<TAB>correct; speed<TAB>size<TAB>lines\n"
                    "# (unused)<TAB>us/KB from bench_analyzer (median of three runs) on the\n"
                    "# 2-core development machine.\n")
            for name, part, n, ok, _ in results:
                f.write("%s\t%s\t%d\t%d\n" % (name, part, n, ok))
            for size in ("1KB", "40KB"):
                if size in speed:
                    f.write("speed\t%s\t0\t%.1f\n" % (size, speed[size]))
            if ipk is not None:
                f.write("instructions\tperKB\t0\t%.0f\n" % ipk)
        print("baseline written to %s" % os.path.relpath(BASELINE, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
