#!/usr/bin/env python3
"""seed.py BASE_URL N — registers a fresh user through the HTTP API, logs in,
writes N entries of about 300 bytes, and prints shell assignments:
BENCH_EMAIL, BENCH_PASSWORD, BENCH_TOKEN, BENCH_WRITER_TOKEN, BENCH_IDS, BENCH_ENTRY (a 300-byte
create/replace body). Used by ops/bench/run.sh."""
import http.client
import json
import shlex
import sys
import time
from urllib.parse import urlparse

base = urlparse(sys.argv[1])
n = int(sys.argv[2])
conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)


def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"seed: {method} {path} -> {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


email = f"bench{int(time.time() * 1000)}@example.com"
password = "Bench!pass123"
call("POST", "/auth/register", {"email": email, "password": password})
token = call("POST", "/auth/login", {"email": email, "password": password})["access_token"]

sentences = [
    "Today was not a bad day at all, but the morning was really stressful. ",
    "I'm so happy the meeting went well and I couldn't stop smiling. ",
    "My sister was a bit grumpy; I felt lonely and sad later. ",
    "Still, I am grateful for a calm evening and a good book. ",
]
text = ""
i = 0
while len(text.encode()) < 300:
    text += sentences[i % len(sentences)]
    i += 1
text = text.encode()[:300].decode("utf-8", "ignore").rstrip() + "."
ids = []
for k in range(n):
    ids.append(call("POST", "/diaries", {"content": f"{k}: {text}"}, token)["id"])

# A second user takes the POST /diaries runs, so the first keeps its 200
# entries (list, stats) for every connection count.
writer = email.replace("bench", "writer", 1)
call("POST", "/auth/register", {"email": writer, "password": password})
writer_token = call("POST", "/auth/login", {"email": writer, "password": password})["access_token"]

entry = json.dumps({"content": text})
for k, v in [("BENCH_EMAIL", email), ("BENCH_PASSWORD", password), ("BENCH_TOKEN", token),
             ("BENCH_WRITER_TOKEN", writer_token),
             ("BENCH_IDS", ",".join(str(x) for x in ids)), ("BENCH_ENTRY", entry)]:
    print(f"{k}={shlex.quote(v)}")
