#!/usr/bin/env python3
"""Fails when a comment or a document cites a file that is not in the tree.

    test_citations.py <source_dir> [<build_dir>]

Comments are how this code base explains itself ("why: see
docs/library-notes.md"), so a citation that leads nowhere is a broken
explanation. Scanned: the comments of C, JavaScript, shell, Python, CMake and
Makefile sources, and the whole text of Markdown files, of every file git
tracks. A citation is a token that looks like a file name with an extension
this project uses (`docs/architecture.md`, `gateway/forward.c`, `harness.h`).
It is good when it names a tracked file: a path relative to the repository
root or to the citing file's directory, the tail of a tracked path
(`views/diary.js`), or a bare name that some tracked file has. Absolute
paths and paths after a `/` or a variable (`$TD_ROOT/x.md`) name places on a
host, not files of the tree, and are not checked. Upstream sources cited on purpose (nng's `src/core/listener.c` in
docs/library-notes.md) are listed in tests/scripts/citations-external.txt.
"""
import os
import re
import subprocess
import sys

# The kinds of file this tree is made of. Configuration names (.conf, .yml)
# are left out: in comments they mostly name files on an operator's host.
EXTENSIONS = ("md", "c", "h", "mjs", "js", "json", "sh", "py", "supp", "css", "html", "lua",
              "cmake")
CITATION = re.compile(r"(?<![\w/.@:$}~-])((?:\.\.?/)?(?:[\w.-]+/)*[\w-]+(?:\.[\w-]+)*\.(?:%s))"
                      r"(?![\w/-]|\.\w)" % "|".join(EXTENSIONS))

C_LIKE = (".c", ".h", ".js", ".mjs", ".css")
HASH_COMMENTS = (".sh", ".py", ".cmake", ".yml", ".yaml", ".conf", ".service", ".toml")


def c_comments(text):
    """The comments of a C-like file, string literals skipped."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'`":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(text[i:j])
            i = j
        else:
            i += 1
    return out


def hash_comments(text):
    return [line[line.index("#"):] for line in text.splitlines()
            if "#" in line and not line.lstrip().startswith("#!")]


def cited_text(path, text):
    name = os.path.basename(path)
    if path.endswith(".md"):
        return [text]
    if path.endswith(C_LIKE):
        return c_comments(text)
    if path.endswith(HASH_COMMENTS) or name in ("Makefile", "CMakeLists.txt", "Dockerfile") \
            or path.startswith(".ci/") or "/" not in path and "." not in name:
        return hash_comments(text)
    if path.startswith("tests/scripts/") or path.startswith("ops/"):
        return hash_comments(text)  # extension-less scripts
    return []


def main():
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    files = subprocess.run(["git", "-C", src, "ls-files"], check=True, capture_output=True,
                           text=True).stdout.split()
    files = [f for f in files if "node_modules/" not in f and os.path.isfile(os.path.join(src, f))]
    tracked = set(files)
    basenames = {os.path.basename(f) for f in files}
    external = set()
    allow = os.path.join(src, "tests/scripts/citations-external.txt")
    if os.path.exists(allow):
        with open(allow, encoding="utf-8") as f:
            external = {l.strip() for l in f if l.strip() and not l.startswith("#")}

    broken = []
    for path in files:
        if path.startswith("tests/fuzz/corpus") or path.endswith(".json") and "corpus" in path:
            continue
        try:
            with open(os.path.join(src, path), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        here = os.path.dirname(path)
        for chunk in cited_text(path, text):
            for m in CITATION.finditer(chunk):
                cite = m.group(1)
                if cite in external:
                    continue
                rel = os.path.normpath(os.path.join(here, cite))
                if cite.lstrip("./") in tracked or rel in tracked:
                    continue
                if "/" not in cite and cite in basenames:
                    continue
                if any(f.endswith("/" + cite.lstrip("./")) for f in files):
                    continue
                broken.append((path, cite))
    for path, cite in sorted(set(broken)):
        print("%s: cites %s, which is not in the tree" % (path, cite))
    if broken:
        print("test_citations: %d broken citation(s)" % len(set(broken)))
        return 1
    print("test_citations: every cited file exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
