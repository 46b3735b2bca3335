#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into
tests/fuzz/corpus/<target>/seed-<what> (idempotent: existing seeds are
rewritten, other corpus files are left alone). The fuzzers grow the corpora
from these; see tests/fuzz/README.md."""
import base64, hashlib, hmac, json, os, struct, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def mp(o):
    """A small msgpack packer (no dependency): None, bool, int, float, str,
    bytes, list, dict, and Raw for bytes written as they are."""
    if isinstance(o, Raw):
        return o.b
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        if 0 <= o < 2**16:
            return b"\xcd" + struct.pack(">H", o)
        if 0 <= o < 2**32:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o < 2**64:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, float):
        return b"\xcb" + struct.pack(">d", o)
    if isinstance(o, str):
        o = o.encode()
        if len(o) < 32:
            return bytes([0xA0 | len(o)]) + o
        if len(o) < 256:
            return b"\xd9" + bytes([len(o)]) + o
        return b"\xda" + struct.pack(">H", len(o)) + o
    if isinstance(o, bytes):  # a str with these exact bytes (maybe bad UTF-8)
        return (bytes([0xA0 | len(o)]) if len(o) < 32 else b"\xd9" + bytes([len(o)])) + o
    if isinstance(o, list):
        h = bytes([0x90 | len(o)]) if len(o) < 16 else b"\xdc" + struct.pack(">H", len(o))
        return h + b"".join(mp(x) for x in o)
    if isinstance(o, dict):
        h = bytes([0x80 | len(o)]) if len(o) < 16 else b"\xde" + struct.pack(">H", len(o))
        return h + b"".join(mp(k) + mp(v) for k, v in o.items())
    raise TypeError(o)


class Raw:
    def __init__(self, b):
        self.b = b


def env(op, args=None, **extra):
    e = {"v": 1, "op": op, "rid": "req-1", "cid": "0123456789abcdef", "uid": 7}
    if args is not None:
        e["args"] = args
    e.update(extra)
    return mp(e)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def seeds_mp():
    t = "mp"
    write(t, "nil", b"\xc0")
    write(t, "envelope", env("diary.list", {"page": 1, "per_page": 10}))
    write(t, "reply-error", mp({"v": 1, "status": 404, "error": {"error": "not_found", "message": "x"}}))
    write(t, "array-huge-count", b"\xdd\xff\xff\xff\xff")
    write(t, "array-4g-reserve", b"\xdd\x0f\xff\xff\xff")
    write(t, "map-huge-count", b"\xdf\xff\xff\xff\xff")
    write(t, "str32-huge", b"\xdb\xff\xff\xff\xff" + b"a")
    write(t, "bin32-huge", b"\xc6\x7f\xff\xff\xff")
    write(t, "nest-17", b"\x91" * 17 + b"\xc0")
    write(t, "nest-40", b"\x81\xa1k" * 40 + b"\xc0")
    write(t, "trailing", b"\xc0\xc0")
    write(t, "truncated-map", b"\x82\xa1a\x01")
    write(t, "ext", b"\xd4\x01\x02")
    write(t, "reserved-c1", b"\xc1")
    write(t, "floats", mp([1.5, -0.0, float("inf"), float("nan"), 1e308]) + b"")
    write(t, "float32-nan", b"\x91\xca\x7f\xc0\x00\x00")
    write(t, "u64-max", mp([2**64 - 1, -(2**63)]))
    write(t, "str-bad-utf8", mp({"k": b"\xff\xfe", b"\xc3": 1}))
    write(t, "key-nul", mp({b"a\x00b": 1}))
    write(t, "key-256", mp({"k" * 300: 1}))
    write(t, "dup-keys", b"\x82\xa1a\x01\xa1a\x02")
    write(t, "int-key", b"\x81\x01\x02")
    write(t, "bin8", b"\xc4\x03abc")


def seeds_rpc():
    t = "rpc"
    write(t, "ping", env("ping"))
    write(t, "analyze", env("sentiment.analyze", {"text": "I am not happy today, but the sun is lovely \U0001F60A"}))
    write(t, "analyze-html", env("sentiment.analyze", {"text": "<script>alert('x')</script> & \"love\" <3"}))
    write(t, "analyze-negations", env("sentiment.analyze", {"text": "I couldn't stop crying. Never felt better! Not bad at all; although tired, I'm proud."}))
    write(t, "analyze-emoji", env("sentiment.analyze", {"text": "\U0001F44D\U0001F3FD great \U0001F468\u200d\U0001F469\u200d\U0001F467 :) :-( \u2764\ufe0f"}))
    write(t, "analyze-bad-utf8", env("sentiment.analyze", {"text": b"caf\xc3 \xff sad"}))
    write(t, "analyze-nul", env("sentiment.analyze", {"text": b"happy\x00sad"}))
    write(t, "analyze-not-str", env("sentiment.analyze", {"text": 42}))
    write(t, "analyze-empty", env("sentiment.analyze", {"text": ""}))
    write(t, "empty-keys", env("diary.create", {"": "", "a": ""}))
    write(t, "analyze-unknown-field", env("sentiment.analyze", {"text": "ok", b"\x01weird\xff": 1}))
    write(t, "analyze-dup-text", env("sentiment.analyze", Raw(b"\x82\xa4text\xa5happy\xa4text\xa3sad")))
    write(t, "echo", env("diary.create", {"content": "hello", "n": [1, 2.5, None, True, {"a": "b"}]}))
    write(t, "echo-bad-utf8-key", env("diary.create", {b"\xff": 1}))
    write(t, "echo-nan", env("diary.create", {"x": float("nan")}))
    write(t, "unknown-op", env("diary.nope"))
    write(t, "op-too-long", env("x" * 60))
    write(t, "version-2", mp({"v": 2, "op": "ping"}))
    write(t, "no-version", mp({"op": "ping"}))
    write(t, "rid-too-long", env("ping", rid="r" * 200))
    write(t, "rid-nul", env("ping", rid=b"a\x00b"))
    write(t, "uid-negative", env("ping", uid=-1))
    write(t, "uid-huge", env("ping", uid=2**64 - 1))
    write(t, "args-array", env("ping", [1, 2]))
    write(t, "not-map", mp([1, 2, 3]))
    write(t, "int-key", b"\x81\x01\x02")
    write(t, "huge-array", b"\x82\xa1v\x01\xa4args\xdd\xff\xff\xff\xff")
    write(t, "empty", b"")


def seeds_json_body():
    t = "json_body"
    write(t, "login", '{"email":"a@example.com","password":"correct horse battery"}')
    write(t, "create", '{"content":"Today I felt \\u00e9 great \\ud83d\\ude0a <b>"}')
    write(t, "dup-keys", '{"email":"a@b.c","email":"x@y.z"}')
    write(t, "array", "[1,2,3]")
    write(t, "string", '"just a string"')
    write(t, "empty", "")
    write(t, "ws", "  \n\t ")
    write(t, "deep-33", "[" * 33 + "]" * 33)
    write(t, "deep-obj-20", '{"a":' * 20 + "1" + "}" * 20)
    write(t, "deep-obj-16", '{"a":' * 16 + "1" + "}" * 16)
    write(t, "deep-10000", "[" * 10000 + "]" * 10000)
    write(t, "closers-first", "]]]]" + "[" * 40 + "]" * 40)
    write(t, "brackets-in-string", '{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"]]"}')
    write(t, "bad-utf8", b'{"a":"\xff\xfe"}')
    write(t, "overlong-utf8", b'{"a":"\xc0\xaf"}')
    write(t, "lone-surrogate", '{"a":"\\ud800"}')
    write(t, "nul-escape", '{"a":"x\\u0000y"}')
    write(t, "raw-nul", b'{"a":"x\x00y"}')
    write(t, "trailing", '{"a":1} {"b":2}')
    write(t, "numbers", '{"a":1e400,"b":-0,"c":18446744073709551616}')
    write(t, "reals", '{"a":1.5e308,"b":-0.0,"c":1e-320,"d":9223372036854775807,"e":-9223372036854775808}')
    write(t, "long-key", '{"' + "k" * 300 + '":1}')
    write(t, "bom", b'\xef\xbb\xbf{"a":1}')
    write(t, "nan", '{"a":NaN}')
    write(t, "types", '{"s":"x","i":1,"r":2.5,"t":true,"f":false,"n":null,"a":[],"o":{}}')


B64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(hdr, claims, key=b"fuzz-secret-0123456789abcdef-0123456789", alg="sha256"):
    h = B64(hdr.encode() if isinstance(hdr, str) else hdr)
    c = B64(claims.encode() if isinstance(claims, str) else claims)
    sig = hmac.new(key, (h + "." + c).encode(), getattr(hashlib, alg)).digest()
    return h + "." + c + "." + B64(sig)


def seeds_jwt():
    t = "jwt"
    good = {"sub": "42", "type": "access", "jti": "abcdefghijklmnopqrstuv", "iat": 1699999000,
            "nbf": 1699999000, "exp": 1700000800, "iat_us": 1699999000123456, "fresh": True}
    refresh = dict(good, type="refresh", fam="fam0123456789abcdefgh")
    refresh.pop("fresh")
    hs = '{"alg":"HS256","typ":"JWT"}'
    def signed(mode, hdr, claims):
        return bytes([mode]) + hdr.encode() + b"\x00" + (claims if isinstance(claims, bytes) else claims.encode())
    write(t, "signed-access", signed(1, hs, json.dumps(good)))
    write(t, "signed-refresh", signed(1, '{"alg":"HS256"}', json.dumps(refresh)))
    write(t, "signed-expired", signed(1, hs, json.dumps(dict(good, exp=1600000000, iat=1599999000, nbf=1599999000, iat_us=1599999000000000))))
    write(t, "signed-nbf-future", signed(1, hs, json.dumps(dict(good, nbf=1800000000))))
    write(t, "signed-sub-int", signed(1, hs, json.dumps(dict(good, sub=42))))
    write(t, "signed-sub-big", signed(1, hs, json.dumps(dict(good, sub="99999999999999999999"))))
    write(t, "signed-exp-string", signed(1, hs, json.dumps(dict(good, exp="1700000800"))))
    write(t, "signed-exp-float", signed(1, hs, json.dumps(dict(good, exp=1700000800.5))))
    write(t, "signed-dup-claims", signed(1, hs, '{"sub":"1","sub":"42"}'))
    write(t, "signed-alg-none", signed(1, '{"alg":"none"}', json.dumps(good)))
    write(t, "signed-dup-alg", signed(1, '{"alg":"none","alg":"HS256"}', json.dumps(good)))
    write(t, "signed-typ-other", signed(1, '{"alg":"HS256","typ":"JWS"}', json.dumps(good)))
    write(t, "signed-extra-header", signed(1, '{"alg":"HS256","kid":"x"}', json.dumps(good)))
    write(t, "signed-claims-array", signed(1, hs, "[1,2]"))
    write(t, "signed-claims-bad-utf8", signed(1, hs, b'{"sub":"\xff"}'))
    write(t, "hs512", signed(2, '{"alg":"HS512","typ":"JWT"}', json.dumps(good)))
    write(t, "hs256-header-hs512-mac", signed(2, hs, json.dumps(good)))
    write(t, "other-key", signed(3, hs, json.dumps(good)))
    tok = token(hs, json.dumps(good))
    write(t, "bearer-good", b"\x00Bearer " + tok.encode())
    write(t, "bearer-lowercase", b"\x00bearer " + tok.encode())
    write(t, "bearer-two-spaces", b"\x00Bearer  " + tok.encode())
    write(t, "bearer-padding", b"\x00Bearer " + tok.encode() + b"==")
    write(t, "bearer-none-alg", b"\x00Bearer " + (B64(b'{"alg":"none"}') + "." + B64(json.dumps(good).encode()) + ".").encode())
    write(t, "bearer-hs512", b"\x00Bearer " + token('{"alg":"HS512"}', json.dumps(good), alg="sha512").encode())
    write(t, "bearer-bad-b64", b"\x00Bearer abc$.def.ghi")
    write(t, "bearer-4-dots", b"\x00Bearer a.b.c.d")
    write(t, "bearer-only", b"\x00Bearer")
    write(t, "basic", b"\x00Basic dXNlcjpwYXNz")
    write(t, "bearer-long", b"\x00Bearer " + b"a" * 5000 + b".b.c")
    write(t, "bearer-bad-sig", b"\x00Bearer " + tok[:-4].encode() + b"AAAA")


TEXTS = [
    ("plain", "Today was a good day. I'm grateful for my friends."),
    ("negations", "I'm not happy. I couldn't stop crying, but never felt better after. Not bad, not good."),
    ("but", "The morning started badly, but in the end I was so happy and proud."),
    ("although", "Although I was tired and sad, the walk was lovely; however it rained."),
    ("emoji", "Great \U0001F60A\U0001F44D\U0001F3FD but \U0001F622 \U0001F468\u200d\U0001F469\u200d\U0001F467 \u2764\ufe0f :) :( :-/ http://x.y/:("),
    ("html", "<script>alert(\"x\")</script> I <3 'quotes' & <b>bold</b> &amp; love"),
    ("accents", "J'\u00e9tais tr\u00e8s heureux, na\u00efve joy \u00c9NORME, \u201cgreat\u201d \u2019don\u2019t\u2019 worry"),
    ("boosters", "very very extremely good, kind of bad, a bit sad, super chewy, pretty awful, at least fine"),
    ("breaks", "happy\nsad\r\nangry\u2026 joy - pain; love: hate (good) [bad]"),
    ("bad-utf8", b"happy \xff\xfe sad \xc3 caf\xc3\xa9 \xe2\x82 \xf0\x9f\x98 good"),
    ("nul", b"good\x00bad\x00"),
    ("empty", ""),
    ("spaces", "   \t\n  "),
    ("cjk", "\u4eca\u5929\u5f88\u5f00\u5fc3 happy \u3002 sad"),
    ("long", "I am happy and sad. " * 200),
]


def seeds_markup():
    t = "markup"
    for name, txt in TEXTS:
        b = txt.encode() if isinstance(txt, str) else txt
        write(t, "analyze-" + name, b"\x01" + b)
    # Hostile span tables: count, then (start u16le, len u8, flags) each.
    def spans(lst, text):
        out = bytes([0, len(lst)])
        for s, l, f in lst:
            out += struct.pack("<HBB", s, l, f)
        return out + (text.encode() if isinstance(text, str) else text)
    write(t, "spans-ok", spans([(0, 5, 1), (6, 4, 0)], "happy sad day"))
    write(t, "spans-overlap", spans([(0, 5, 1), (2, 5, 0), (1, 1, 1)], "happy sad day"))
    write(t, "spans-unsorted", spans([(6, 3, 0), (0, 5, 1)], "happy sad day"))
    write(t, "spans-out-of-range", spans([(10, 200, 1), (65535, 255, 0)], "short"))
    write(t, "spans-mid-char", spans([(1, 1, 1), (0, 2, 0), (3, 4, 1)], "\u00e9\U0001F60A<&>"))
    write(t, "spans-empty-and-bad-polarity", spans([(0, 0, 1), (0, 3, 2), (0, 3, 3)], "abc"))
    write(t, "spans-html", spans([(0, 8, 1), (9, 6, 0)], "<script>\"'&amp;"))
    write(t, "spans-invalid-utf8", spans([(0, 1, 1), (1, 2, 0)], b"\xff\xc3\xa9\xe2"))


def chat(content):
    return json.dumps({"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})


def seeds_llm_parse():
    t = "llm_parse"
    text = "Today was not great. I felt anxious, but my friend was so kind and I'm really happy. Caf\u00e9 \U0001F60A"
    def both(name, body, txt=text):
        write(t, name, txt.encode() + b"\x00" + (body.encode() if isinstance(body, str) else body))
    ok = {"phrases": [{"text": "not great", "sentiment": "negative"}, {"text": "anxious", "sentiment": "negative"},
                      {"text": "so kind", "sentiment": "positive"}, {"text": "really happy", "sentiment": "positive"}]}
    both("ok", chat(json.dumps(ok)))
    both("fenced-json", chat("```json\n" + json.dumps(ok) + "\n```"))
    both("fenced-one-line", chat("```" + json.dumps(ok) + "```"))
    both("bare-array", chat(json.dumps(ok["phrases"])))
    both("empty-phrases", chat('{"phrases":[]}'))
    both("prose", chat("Sure! Here are the phrases: not great (negative)."))
    both("html-in-phrase", chat(json.dumps({"phrases": [{"text": "<b>happy</b>", "sentiment": "positive"}]})))
    both("case-and-space", chat(json.dumps({"phrases": [{"text": "  REALLY HAPPY \n", "sentiment": "Positive"}]})))
    both("repeated", chat(json.dumps({"phrases": [{"text": "a", "sentiment": "positive"}] * 5})))
    both("mid-word", chat(json.dumps({"phrases": [{"text": "appy", "sentiment": "positive"}, {"text": "Caf", "sentiment": "negative"}]})))
    both("emoji", chat(json.dumps({"phrases": [{"text": "\U0001F60A", "sentiment": "positive"}, {"text": "\u00e9", "sentiment": "positive"}]})))
    both("bad-sentiment", chat(json.dumps({"phrases": [{"text": "kind", "sentiment": "neutral"}, {"text": 1, "sentiment": "positive"}]})))
    both("dup-keys", chat('{"phrases":[],"phrases":[{"text":"kind","sentiment":"positive"}]}'))
    both("outer-dup", '{"choices":[],"choices":[]}')
    both("no-choices", '{"error":{"message":"rate limited"}}')
    both("content-null", json.dumps({"choices": [{"message": {"content": None}}]}))
    both("garbage", b"\xff\xfe<html>502 Bad Gateway</html>")
    both("truncated", chat(json.dumps(ok))[:60])
    both("overlap", chat(json.dumps({"phrases": [{"text": "really happy", "sentiment": "positive"}, {"text": "happy", "sentiment": "negative"}, {"text": "I'm really", "sentiment": "negative"}]})))
    both("pathological", chat(json.dumps({"phrases": [{"text": "a" * 500 + "b", "sentiment": "positive"}]})), "a" * 3000)
    both("bad-utf8-text", chat(json.dumps({"phrases": [{"text": "happy", "sentiment": "positive"}]})), "")
    write(t, "bad-utf8-text2", b"\xc3happy\xa9 \xff happy\x00" + chat(json.dumps({"phrases": [{"text": "happy", "sentiment": "positive"}]})).encode())
    write(t, "body-only", chat(json.dumps(ok)).encode())


def seeds_diary_markup():
    t = "diary_markup"
    P, N, C = '<span class="positive">', '<span class="negative">', "</span>"
    def both(name, content, markup):
        write(t, name, content.encode() + b"\x00" + (markup.encode() if isinstance(markup, str) else markup))
    both("ok", "I am happy & sad", "I am " + P + "happy" + C + " &amp; " + N + "sad" + C)
    both("entities", "<>\"'&", "&lt;&gt;&quot;&#39;&amp;")
    both("raw-lt", "a<b", "a<b")
    both("raw-quote", "a\"b", "a\"b")
    both("script", "x", "<script>x</script>")
    both("nested", "ab", P + "a" + N + "b" + C + C)
    both("empty-span", "ab", "a" + P + C + "b")
    both("unclosed", "ab", P + "ab")
    both("stray-close", "ab", "ab" + C)
    both("other-entity", "\u00e9", "&eacute;")
    both("numeric-entity", "'", "&#x27;")
    both("attr-quote", "a", '<span class="positive" onclick="x">a</span>')
    both("mid-char", "\u00e9t\u00e9", b"\xc3" + P.encode() + b"\xa9t" + C.encode() + "\u00e9".encode())
    both("extra-text", "ab", "abc")
    both("short", "abc", "ab")
    both("case", "a", '<SPAN class="positive">a</SPAN>')
    write(t, "same-bytes", b"plain text without markup")


def main():
    seeds_mp()
    seeds_rpc()
    seeds_json_body()
    seeds_jwt()
    seeds_markup()
    seeds_llm_parse()
    seeds_diary_markup()


if __name__ == "__main__":
    sys.exit(main())
