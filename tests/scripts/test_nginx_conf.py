#!/usr/bin/env python3
"""Runs `nginx -t` on ops/nginx/thought-diary.conf and on it with every nginx
snippet of docs/operations.md applied, so an operator who follows the docs
gets a configuration nginx accepts.

    test_nginx_conf.py <source_dir> [<build_dir>]

A snippet is a fenced code block tagged `nginx` in docs/operations.md; each
is one or more blocks (`location = /metrics { ... }`). Applying one means
what the docs ask: a block whose opening line (`location = /metrics`) the
shipped file already has in its TLS server replaces that block; any other is
added to that server; and the sentence introducing the snippet must say
"replace" or "add" accordingly (telling operators to add a location the file
already has is what once gave them nginx's "duplicate location" error). The site file runs as in tests/integration/test_nginx.c:
free loopback ports, a certificate made here, a scratch prefix. Without
nginx (ops/install-deps.sh installs it) the test says so and passes.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(os.path.dirname(__file__), "..", ".."))

failures = []


def fail(msg):
    failures.append(msg)


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def snippets(markdown):
    """(the prose just before, the block) of each fenced ```nginx block of a
    Markdown text, the block dedented."""
    out = []
    for m in re.finditer(r"^([ \t]*)```nginx[ \t]*\n(.*?)^[ \t]*```[ \t]*$", markdown,
                         re.M | re.S):
        indent = len(m.group(1))
        lines = [l[indent:] if l[:indent].strip() == "" else l
                 for l in m.group(2).splitlines()]
        # The text that introduces the snippet: since the previous blank
        # line or list item.
        before = markdown[:m.start()].rstrip()
        para = before[max(before.rfind("\n\n"), before.rfind("\n- "), before.rfind("\n* ")) + 1:]
        out.append((" ".join(para.split()), "\n".join(lines).strip("\n") + "\n"))
    return out


def scan(text):
    """Yields (index, char) of the characters that are nginx syntax: outside
    comments and quoted strings (the 413 page's JSON has braces in quotes)."""
    i, n, quote = 0, len(text), None
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        else:
            yield i, c
        i += 1


def block_end(text, open_brace):
    """Index just past the '}' closing the '{' at open_brace."""
    depth = 0
    for i, c in scan(text):
        if i < open_brace:
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError("unbalanced braces")


def top_blocks(snippet):
    """(header, text) of each top-level block of a snippet."""
    out, start = [], 0
    for i, c in scan(snippet):
        if i < start or c != "{":
            continue
        end = block_end(snippet, i)
        header = " ".join(snippet[start:i].split())
        out.append((header, snippet[start:end].strip()))
        start = end
    if snippet[start:].strip():
        raise ValueError(f"text outside a block: {snippet[start:].strip()!r}")
    return out


def tls_server(conf):
    """(start, end) of the server block that listens with ssl."""
    for m in re.finditer(r"^\s*server\s*\{", conf, re.M):
        brace = conf.index("{", m.start())
        end = block_end(conf, brace)
        if re.search(r"^\s*listen\s+[^;]*\bssl\b", conf[brace:end], re.M):
            return brace, end
    raise ValueError("no server block listens with ssl")


def find_block(conf, start, end, header):
    """The match of the block opening `header` in conf[start:end], or None."""
    pattern = r"^([ \t]*)" + r"\s+".join(re.escape(w) for w in header.split()) + r"\s*\{"
    for cand in re.finditer(pattern, conf[start:end], re.M):
        # Only a real directive: not inside a comment line.
        line_start = conf.rfind("\n", 0, start + cand.start()) + 1
        if "#" not in conf[line_start:start + cand.start()]:
            return cand
    return None


def apply(conf, snippet, prose, label):
    """The site file with each block of the snippet replacing the block with
    the same opening line in the TLS server, or added to it. The prose must
    ask for what is done: "replace" a block the file has (adding a second
    one is the duplicate location nginx refuses), "add" one it lacks."""
    for header, block in top_blocks(snippet):
        start, end = tls_server(conf)
        m = find_block(conf, start, end, header)
        word = "replac" if m else "add"
        if word not in prose.lower():
            fail(f"{label}: the shipped file {'has' if m else 'lacks'} `{header}`, so the text "
                 f"before the snippet must say to {'replace' if m else 'add'} it: {prose!r}")
        indent = "    "
        body = "\n".join(indent + l if l.strip() else l for l in block.splitlines())
        if m:
            a = start + m.start()
            b = block_end(conf, conf.index("{", start + m.end() - 1))
            conf = conf[:a] + body + conf[b:]
        else:
            conf = conf[:end - 1] + "\n" + body + "\n" + conf[end - 1:]
    return conf


def nginx_t(nginx, workdir, site, label):
    with open(os.path.join(workdir, "site.conf"), "w", encoding="utf-8") as f:
        f.write(site)
    main = os.path.join(workdir, "nginx.conf")
    user = "user root;\n" if os.geteuid() == 0 else ""
    with open(main, "w", encoding="utf-8") as f:
        f.write(f"{user}worker_processes 1;\npid {workdir}/nginx.pid;\n"
                f"error_log {workdir}/error.log warn;\n"
                "events { worker_connections 64; }\n"
                f"http {{\n  access_log {workdir}/access.log;\n"
                f"  client_body_temp_path {workdir}/body;\n  proxy_temp_path {workdir}/proxy;\n"
                f"  fastcgi_temp_path {workdir}/fastcgi;\n  uwsgi_temp_path {workdir}/uwsgi;\n"
                f"  scgi_temp_path {workdir}/scgi;\n  include {workdir}/site.conf;\n}}\n")
    r = subprocess.run([nginx, "-t", "-q", "-p", workdir, "-e", os.path.join(workdir, "t.log"),
                        "-c", main], capture_output=True, text=True)
    if r.returncode != 0:
        log = ""
        try:
            with open(os.path.join(workdir, "t.log"), encoding="utf-8") as f:
                log = f.read()
        except OSError:
            pass
        fail(f"{label}: nginx -t failed:\n{r.stdout}{r.stderr}{log}\n--- site.conf ---\n{site}")


def main():
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    openssl = shutil.which("openssl")
    if nginx is None or openssl is None:
        print("test_nginx_conf: nginx or openssl is not installed "
              "(ops/install-deps.sh installs both); not checked")
        return 0
    docs = snippets(read("docs/operations.md"))
    if not docs:
        fail("docs/operations.md has no ```nginx snippet (the /metrics one at least)")
    workdir = tempfile.mkdtemp(prefix="td-nginx-t-")
    try:
        r = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=127.0.0.1", "-keyout",
                            os.path.join(workdir, "tls.key"), "-out",
                            os.path.join(workdir, "tls.crt")], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"openssl could not make a test certificate: {r.stderr}")
            return report()
        # The shipped file with this test's ports and certificate, as
        # tests/integration/test_nginx.c runs it.
        site = read("ops/nginx/thought-diary.conf")
        for old, new in (("listen 443 ssl http2;", "listen 127.0.0.1:18443 ssl http2;"),
                         ("listen 80;", "listen 127.0.0.1:18080;"),
                         ("/etc/ssl/certs/thought-diary.crt", f"{workdir}/tls.crt"),
                         ("/etc/ssl/private/thought-diary.key", f"{workdir}/tls.key")):
            if old not in site:
                fail(f"ops/nginx/thought-diary.conf: no '{old}' (update this test with it)")
            site = site.replace(old, new)
        nginx_t(nginx, workdir, site, "ops/nginx/thought-diary.conf")
        for n, (prose, snippet) in enumerate(docs, 1):
            label = f"docs/operations.md nginx snippet {n}"
            try:
                applied = apply(site, snippet, prose, label)
            except ValueError as e:
                fail(f"{label}: {e}:\n{snippet}")
                continue
            if applied == site:
                fail(f"{label} changes nothing:\n{snippet}")
            nginx_t(nginx, workdir, applied, f"{label} applied")
    finally:
        if not os.environ.get("TD_TEST_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    return report(len(docs))


def report(nsnippets=0):
    if failures:
        for f in failures:
            print("FAIL:", f)
        print(f"test_nginx_conf: {len(failures)} failure(s)")
        return 1
    print(f"test_nginx_conf: the shipped site file and {nsnippets} snippet(s) of "
          "docs/operations.md pass nginx -t")
    return 0


if __name__ == "__main__":
    sys.exit(main())
