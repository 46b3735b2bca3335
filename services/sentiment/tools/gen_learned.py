#!/usr/bin/env python3
"""Build services/sentiment/learned_data.c: word polarities learned from the
tuning parts of the labelled evaluation sets (lexicon-5, issue 15).

Run at development time only; the generated C file is committed so the build
needs neither Python nor the data, and `make eval` checks that the committed
file is what this script makes.

    python3 services/sentiment/tools/gen_learned.py \\
        services/sentiment/tools/vader_lexicon.txt \\
        services/sentiment/tools/project_lexicon.tsv \\
        > services/sentiment/learned_data.c

What it learns from: the `tune` parts of tests/data/sentiment/
(goemotions_fp_tune.tsv, goemotions_feel_tune.tsv, xed_fp_tune.tsv; their
sources and licences are in tests/data/sentiment/README.md), never the
held-out parts. The same text in two tuning files counts once, and a text
that also appears in a held-out part (a few Reddit comments were posted
twice) is left out, so that no held-out line is trained on: that is the
only use of the held-out files here.

What it learns: for each word, the number of `pos` and `neg` lines that
contain it (once per line), and its smoothed log-odds

    weight = ln((pos + ALPHA) / (neg + ALPHA)) + ln(NEG / POS)

where POS and NEG are the numbers of pos and neg lines (the second term
corrects for the classes' sizes). A word is kept when it is seen in at
least MIN_COUNT lines, |weight| >= MIN_WEIGHT, and it is a word a diary
user would accept as a highlighted phrase:
 - at least three lower-case letters, nothing else (a contraction such as
   "ain't" is the analyzer's negator, not a learned word);
 - not a function word (STOPWORDS below: pronouns, determiners,
   prepositions, conjunctions, auxiliaries, the closed classes of English)
   nor GoEmotions' "[NAME]" placeholder;
 - not a name: a word written with a capital letter in at least half of
   its occurrences that do not start a sentence is a proper noun;
 - not in the hand lexicons (every VADER word, even the ones gen_lexicon.py
   drops, and tools/project_lexicon.tsv): where a person rated a word, that
   rating stands. analyzer.c also skips learned words its own rule table or
   morphology already knows.
The analyzer's valence of a kept word is SCALE * weight (VADER's words
are rated -4..4; a learned word's strength decides how often it overrules
them). MIN_COUNT, MIN_WEIGHT and SCALE were chosen by
5-fold cross-validation within the tuning parts (`--fold I`, below;
tests/data/sentiment/README.md, "Figures (lexicon-5)").

    --fold I [--folds K] [--min-count N] [--min-weight W] [--scale S]

leave out the lines whose SHA-256 hash of the text puts them in fold I of K
(for cross-validation: the analyzer built with that table is then scored on
fold I only) and override the thresholds; without them the output is the
committed table. The output is sorted by word and the weights are rounded,
so it is the same on every machine.
"""
import hashlib
import math
import os
import re
import sys
import unicodedata

ALPHA = 1.0
MIN_COUNT = 8
MIN_WEIGHT = 1.0
SCALE = 0.5
MIN_Z = 0.0
FOLDS = 5

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                    "tests", "data", "sentiment")
TUNE = ("goemotions_fp_tune.tsv", "goemotions_feel_tune.tsv", "xed_fp_tune.tsv")
HELDOUT = ("goemotions_fp_heldout.tsv", "goemotions_feel_heldout.tsv",
           "xed_fp_heldout.tsv")

# The analyzer's word: letters and digits with inner apostrophes or hyphens
# (analyzer.c, tokenize()), after folding case and accents.
TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
KEEP = re.compile(r"^[a-z]{3,}$")
RAW_TOKEN = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")

STOPWORDS = frozenset("""
a about above across after afterwards again against all almost alone along
already also although always am among amongst an and another any anybody
anyhow anyone anything anyway anywhere are aren't around as at be became
because become becomes been before beforehand behind being below beside
besides between beyond both but by can can't cannot could couldn't did didn't
do does doesn't doing don't done down during each either else elsewhere
enough etc even ever every everybody everyone everything everywhere except
few for former formerly from further had hadn't has hasn't have haven't
having he he'd he'll he's hence her here here's hers herself him himself his
how however i i'd i'll i'm i've ie if in indeed into is isn't it it'd it'll
it's its itself just latter latterly least less let's many may me meanwhile
might mine more moreover most mostly much must mustn't my myself name
namely neither never nevertheless next no nobody none noone nor not nothing
now nowhere of off often on once one only onto or other others otherwise
our ours ourselves out over own per perhaps rather same several shall shan't
she she'd she'll she's should shouldn't since so some somebody somehow
someone something sometime sometimes somewhere still such than that that's
the their theirs them themselves then thence there there's thereafter
thereby therefore therein thereupon these they they'd they'll they're
they've this those though through throughout thru thus to together too
toward towards under until up upon us very via was wasn't we we'd we'll
we're we've were weren't what what's whatever when whence whenever where
where's whereafter whereas whereby wherein whereupon wherever whether which
while whither who who's whoever whole whom whose why will with within
without won't would wouldn't yet you you'd you'll you're you've your yours
yourself yourselves
im ive id ill youre youve dont doesnt didnt cant couldnt wont wouldnt isnt
wasnt arent werent hes shes thats theres whats lets gonna gotta wanna
""".split())


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


def capitalised_words(lines):
    """Words written capitalised in at least half of their occurrences that
    do not start a sentence: names (of people, places, teams, films)."""
    cap, total = {}, {}
    for _, text in lines:
        start = True
        for m in RAW_TOKEN.finditer(text):
            raw = m.group(0)
            before = text[:m.start()].rstrip()
            start = not before or before[-1] in ".!?\"'(\u201c"
            if not start:
                w = fold(raw)
                total[w] = total.get(w, 0) + 1
                if raw[0].isupper():
                    cap[w] = cap.get(w, 0) + 1
    return {w for w, n in total.items() if 2 * cap.get(w, 0) >= n}


def hand_words(vader_path, project_path):
    words = set()
    for path in (vader_path, project_path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or "\t" not in line:
                    continue
                words.add(line.split("\t", 1)[0].strip().lower())
    return words


def learn(lines, exclude, min_count, min_weight, alpha=ALPHA, min_z=0.0):
    pos_lines = sum(1 for label, _ in lines if label == "pos")
    neg_lines = len(lines) - pos_lines
    counts = {}
    for label, text in lines:
        for w in set(TOKEN.findall(fold(text))):
            c = counts.setdefault(w, [0, 0])
            c[0 if label == "pos" else 1] += 1
    prior = math.log(neg_lines / pos_lines)
    table = []
    for w, (p, n) in counts.items():
        if p + n < min_count or not KEEP.match(w) or w in STOPWORDS or w in exclude:
            continue
        weight = math.log((p + alpha) / (n + alpha)) + prior
        z = weight / math.sqrt(1.0 / (p + alpha) + 1.0 / (n + alpha))
        if abs(weight) >= min_weight and abs(z) >= min_z:
            table.append((w, round(weight, 2), p, n))
    table.sort()
    return table, pos_lines, neg_lines


def main(argv):
    args = argv[1:]
    opts = {"--fold": None, "--folds": str(FOLDS), "--min-count": str(MIN_COUNT),
            "--min-weight": str(MIN_WEIGHT), "--scale": str(SCALE),
            "--alpha": str(ALPHA), "--min-z": str(MIN_Z)}
    pos = []
    while args:
        a = args.pop(0)
        if a in opts and args:
            opts[a] = args.pop(0)
        else:
            pos.append(a)
    if len(pos) != 2:
        sys.stderr.write("usage: gen_learned.py vader_lexicon.txt project_lexicon.tsv "
                         "[--fold I [--folds K]] [--min-count N] [--min-weight W] [--scale S] "
                         "> learned_data.c\n")
        return 2
    folds = int(opts["--folds"])
    leave_out = int(opts["--fold"]) if opts["--fold"] is not None else None
    lines = training_lines(leave_out, folds)
    exclude = hand_words(pos[0], pos[1]) | capitalised_words(lines)
    table, npos, nneg = learn(lines, exclude, int(opts["--min-count"]),
                              float(opts["--min-weight"]), float(opts["--alpha"]),
                              float(opts["--min-z"]))
    if not table:
        raise SystemExit("gen_learned.py: no word passes the thresholds")
    scale = float(opts["--scale"])
    out = sys.stdout
    out.write("/* learned_data.c — GENERATED by services/sentiment/tools/gen_learned.py\n"
              " * from the tuning parts of tests/data/sentiment/ (%d pos and %d neg\n"
              " * lines; see that folder's README.md for sources and licences).\n"
              " * Do not edit: change the script or its inputs and regenerate\n"
              " * (services/sentiment/LEXICON.md). Smoothed log-odds of a word's\n"
              " * lines being pos rather than neg, times %.2f; min count %d, min\n"
              " * |log-odds| %.2f%s. */\n"
              % (npos, nneg, scale, int(opts["--min-count"]), float(opts["--min-weight"]),
                 "" if leave_out is None else
                 ", cross-validation fold %d of %d left out" % (leave_out, folds)))
    out.write('#include "analyzer.h"\n\n')
    out.write("const struct senti_lex_word senti_learned_words[] = {\n")
    for w, weight, p, n in table:
        out.write('    {"%s", %.2ff}, /* log-odds %.2f: %d pos, %d neg */\n'
                  % (w, round(scale * weight, 2), weight, p, n))
    out.write("};\n")
    out.write("const size_t senti_learned_nwords = %d;\n" % len(table))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
