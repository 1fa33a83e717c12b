#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ (run from anywhere: python3 fuzz/make_seeds.py).

Each seed is named after what it holds. The binary layouts are those documented at the top of each
fuzz target. Re-running rewrites the seeds it owns and leaves other files alone.
"""
import os
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


# ---------------------------------------------------------------------------------------------
# response_parser: [flags, max_head, head_mask, feed_after_done_mask, k, lens..., stream...]
# flags bit0 = capture, bits1-2 = max_body index (0, 1, 5, 4096)
CAP_4096 = 0b111
CAP_5 = 0b101
CAP_1 = 0b011
NO_CAP = 0
MH_DEFAULT = 0xC0   # 64 KiB
MH_16K = 0x80
MH_SMALL = 0x0F     # 8 + 15 * 4 = 68 bytes
MH_4544 = 0x7F      # 512 + 63 * 64


def resp(flags, max_head, head_mask, fad_mask, lens, stream):
    if isinstance(stream, str):
        stream = stream.encode()
    return bytes([flags, max_head, head_mask, fad_mask, len(lens)] + list(lens)) + stream


NGINX = (
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.24.0\r\n"
    "Date: Tue, 14 May 2024 10:00:00 GMT\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 45\r\n"
    "Last-Modified: Mon, 13 May 2024 09:00:00 GMT\r\n"
    "Connection: keep-alive\r\n"
    'ETag: "66421d2c-2d"\r\n'
    "Accept-Ranges: bytes\r\n"
    "\r\n"
    "<html><body><h1>It works!</h1></body></html>\n"
)
JSON = (
    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Cache: HIT\r\nContent-Length: 27\r\n\r\n"
    '{"token":"abc","id":123456}'
)
CHUNKED = (
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    "4;name=val\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n"
)
CHUNKED_GZIP = (
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
)
INTERIM = (
    "HTTP/1.1 100 Continue\r\n\r\n"
    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
)
HTTP10 = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body runs until the server closes"
HTTP10_KA = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\nabc"
HEAD_RESP = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/html\r\n\r\n"
NO_BODY = (
    "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"
    "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nETag: \"x\"\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
)
CLOSE = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 5\r\n\r\nbusy!"
TE_ONLY = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00rest"
LENIENT = (
    "HTTP/1.1  200  OK\r\nX-Folded: first\r\n  continued\r\nContent-Length : 2\r\n"
    "cOnTeNt-LeNgTh: 2\r\nContent-Length: 2, 2\r\nconnection: upgrade, keep-alive\r\n\r\nhi"
)
BARE_LF = "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"
LEADING_CRLF = "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
PIPELINED = NGINX + CHUNKED + JSON + "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found" + HTTP10
LEFTOVER = (
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
)
LEFTOVER_CHUNKED = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
EXTRA_BODY = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello"
BAD = [
    ("garbage", "garbage\r\n\r\n"),
    ("conflicting-cl", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab"),
    ("negative-cl", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
    ("huge-cl", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"),
    ("bad-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"),
    ("upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
    ("status-099", "HTTP/1.1 099 Low\r\n\r\n"),
    ("http2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    ("truncated-head", "HTTP/1.1 200 OK\r\nContent-Le"),
    ("truncated-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
]


def seeds_response_parser():
    t = "response_parser"
    write(t, "nginx-cl", resp(NO_CAP, MH_DEFAULT, 0, 0, [], NGINX))
    write(t, "nginx-cl-capture-split", resp(CAP_4096, MH_DEFAULT, 0, 0, [7, 1, 30], NGINX))
    write(t, "json-capture-truncated", resp(CAP_5, MH_DEFAULT, 0, 0, [3], JSON))
    write(t, "chunked-ext-trailers", resp(CAP_4096, MH_DEFAULT, 0, 0, [5, 2], CHUNKED))
    write(t, "chunked-gzip", resp(CAP_1, MH_DEFAULT, 0, 0, [0, 4], CHUNKED_GZIP))
    write(t, "interim-1xx", resp(CAP_4096, MH_DEFAULT, 0, 0, [9], INTERIM))
    write(t, "http10-close", resp(CAP_4096, MH_DEFAULT, 0, 0, [11], HTTP10))
    write(t, "http10-keepalive", resp(NO_CAP, MH_DEFAULT, 0, 0, [], HTTP10_KA))
    write(t, "head", resp(CAP_4096, MH_DEFAULT, 0xFF, 0, [13], HEAD_RESP + HEAD_RESP))
    write(t, "204-304", resp(CAP_4096, MH_DEFAULT, 0, 0, [6], NO_BODY))
    write(t, "conn-close", resp(CAP_4096, MH_DEFAULT, 0, 0, [2], CLOSE))
    write(t, "te-not-chunked", resp(CAP_4096, MH_DEFAULT, 0, 0, [4], TE_ONLY))
    write(t, "lenient", resp(CAP_4096, MH_DEFAULT, 0, 0, [1], LENIENT))
    write(t, "bare-lf", resp(CAP_4096, MH_DEFAULT, 0, 0, [2], BARE_LF))
    write(t, "leading-crlf", resp(CAP_4096, MH_DEFAULT, 0, 0, [3], LEADING_CRLF))
    write(t, "pipelined", resp(CAP_4096, MH_DEFAULT, 0b0010, 0, [64, 0, 17], PIPELINED))
    write(t, "pipelined-feed-after-done", resp(NO_CAP, MH_4544, 0, 0xFF, [100], PIPELINED))
    write(t, "leftover-partial", resp(NO_CAP, MH_DEFAULT, 0, 0, [200], LEFTOVER))
    write(t, "leftover-partial-chunked", resp(CAP_4096, MH_DEFAULT, 0, 0, [90], LEFTOVER_CHUNKED))
    write(t, "extra-body", resp(CAP_4096, MH_DEFAULT, 0, 0, [1], EXTRA_BODY))
    write(t, "small-max-head", resp(CAP_4096, MH_SMALL, 0, 0, [10], NGINX))
    for name, s in BAD:
        write(t, "bad-" + name, resp(CAP_4096, MH_DEFAULT, 0, 0, [3], s))
    big_cookie = "HTTP/1.1 200 OK\r\nSet-Cookie: session=" + "a" * 6000 + "\r\nContent-Length: 2\r\n\r\nok"
    write(t, "huge-header-too-large", resp(CAP_4096, MH_4544, 0, 0, [255, 255, 100], big_cookie))
    write(t, "huge-header-fits", resp(CAP_4096, MH_16K, 0, 0, [255], big_cookie))
    many = "HTTP/1.1 200 OK\r\n" + "".join(f"X-H{i}: {i}\r\n" for i in range(130)) + "\r\n"
    write(t, "too-many-headers", resp(NO_CAP, MH_16K, 0, 0, [], many))
    long_chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + "".join(
        f"{len(w):x}\r\n{w}\r\n" for w in ["x" * 300, "y" * 1000, "z" * 4000]) + "0\r\n\r\n"
    write(t, "long-chunked", resp(CAP_4096, MH_DEFAULT, 0, 0, [200, 13], long_chunks))
    long_cl = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + "b" * 5000
    write(t, "long-cl-small-feeds", resp(CAP_4096, MH_DEFAULT, 0, 0, [31], long_cl + long_cl))


# ---------------------------------------------------------------------------------------------
# chunked: [flags (bits 0-3 = k, 4 ext, 5 upper, 6 trailers, 7 bare LF), lens..., bytes...]
def chunked(flags, lens, stream):
    if isinstance(stream, str):
        stream = stream.encode()
    return bytes([(flags & 0xF0) | len(lens)] + list(lens)) + stream


def seeds_chunked():
    t = "chunked"
    write(t, "wiki", chunked(0, [], "4;name=val\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n"))
    write(t, "wiki-split", chunked(0x10, [3, 1], "4;name=val\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nHTTP/1.1"))
    write(t, "bare-lf", chunked(0x80, [2], "3\nabc\n0\n\n"))
    write(t, "upper-hex-trailers", chunked(0x60, [5], "1A\r\n" + "q" * 26 + "\r\n0\r\nX: y\r\n\r\n"))
    write(t, "leading-zeros", chunked(0, [1], "0000000000000003\r\nabc\r\n0\r\n\r\n"))
    write(t, "too-many-digits", chunked(0, [], "11111111111111111\r\n"))
    write(t, "data-too-long", chunked(0, [], "2\r\nabc\r\n"))
    write(t, "space-ext", chunked(0x10, [4], "3 ; a=\"b;c\"\r\nabc\r\n0 \r\n\r\n"))
    write(t, "missing-lf", chunked(0, [], "3\r\rabc"))
    write(t, "long-ext", chunked(0, [200], "1;" + "x" * 9000 + "\r\na\r\n0\r\n\r\n"))
    write(t, "long-trailers", chunked(0x40, [100], "0\r\n" + "T: v\r\n" * 1500 + "\r\n"))
    write(t, "roundtrip-json", chunked(0xF0, [7, 3], '{"token":"abc","items":[1,2,3]}'))


# ---------------------------------------------------------------------------------------------
def seeds_scenario():
    t = "scenario"
    for f in sorted((ROOT / "scenarios").glob("*.toml")):
        write(t, f.name, f.read_bytes())
    write(t, "minimal.toml", 'target = "http://127.0.0.1:8080"\n[load]\nexecutor = "constant-vus"\nvus = 1\nduration = "1s"\n[[users]]\nname = "u"\n[[users.steps]]\nrequest = "GET /"\n')
    write(t, "arrival-rate.toml", '''target = "http://localhost:8080/base?q=1"
timeout = "2s"
thresholds = ["p(99.9) <= 1.5s", { expr = "errors < 1%", abort_on_fail = true, delay = "10s" }, "rps >= 10"]
[load]
executor = "ramping-arrival-rate"
start_rate = 5
stages = [{ duration = "10s", target = 50 }, { duration = "1m", target = 50.5 }, { duration = "5s", target = 0 }]
pre_allocated_vus = 10
max_vus = 100
graceful_stop = "3s"
[[users]]
name = "mix"
pick = "weighted"
think = "100ms..2s"
  [[users.steps]]
  name = "a"
  request = "PUT http://other.example:9000/x/{{id}}?v={{vu}}"
  weight = 3
  probability = 0.5
  headers = { "X-Trace" = "{{uuid}}", Host = "h" }
  body = "{{rand -5 5}}{{{iter}}}"
  expect = { status = "2xx, 304", header = { "X-Cache" = "HIT" }, header_present = ["ETag"] }
  extract = { id = "header X-Id" }
  timeout = "500ms"
  thresholds = ["p(50) < 10ms"]
  [[users.steps]]
  name = "b"
  request = "HEAD /b"
  think = "0s"
  expect = { status = [200, 201] }
  extract = { x = "regex id=(\\\\d+)", y = "json $['odd key'].list[0]" }
''')
    write(t, "constant-arrival.toml", 'target = "http://[::1]:8080"\n[load]\nexecutor = "constant-arrival-rate"\nrate = 0.5\nduration = "1h30m"\n[[users]]\nname = "u"\nweight = 0\n[[users]]\nname = "v"\n[[users.steps]]\nrequest = "post /p"\n')
    write(t, "errors.toml", 'target = "ftp://x"\n[load]\nexecutor = "warp"\nvus = 0\n[[users]]\nname = "  "\n')
    write(t, "bad-template.toml", 'target = "http://127.0.0.1:8080"\n[load]\nexecutor = "constant-vus"\nvus = 1\nduration = "1s"\n[[users]]\nname = "u"\n[[users.steps]]\nrequest = "GET /{{nope}}"\nheaders = { "Bad Name" = "v\\r\\n" }\n')
    write(t, "bad-threshold.toml", 'target = "http://127.0.0.1:8080"\nthresholds = ["p(95) < 200xs", \'\'\'errors\n< 1\'\'\', "median < 5"]\n[load]\nexecutor = "constant-vus"\nvus = 1\nduration = "1s"\n[[users]]\nname = "u"\n[[users.steps]]\nrequest = "GET /"\n')
    write(t, "unicode.toml", 'name = "ünïcödé 🚀"\ntarget = "http://127.0.0.1:8080"\n[load]\nexecutor = "constant-vus"\nvus = 1\nduration = "1s"\n[[users]]\nname = "é"\n[[users.steps]]\nrequest = "GET /é/{{ünknown}}"\n')


def seeds_template():
    t = "template"
    for i, s in enumerate([
        "Bearer {{token}}",
        '{"email":"{{email}}","password":"{{ password }}"}',
        "/escrows/{{escrow_id}}?vu={{vu}}&iter={{iter}}",
        "{{rand 300000 1300000}}",
        "{{rand -9223372036854775808 9223372036854775807}}",
        "{{uuid}}-{{uuid}}",
        "{{{vu}}}",
        "{{env.SECRET}} and {{env.MISSING}}",
        "{{env.}}",
        "{{}}",
        "{{unclosed",
        "{{ {{id}} }}",
        "{{rand 5 1}}",
        "{{rand a b}}",
        "{{two words}}",
        "plain text, no holes: } { }} {",
    ]):
        write(t, f"t{i:02}", s.encode() + b"\0tok\0me@example.com\0\xff\x0042\0")


def seeds_threshold():
    t = "threshold"
    for i, s in enumerate([
        "p(95) < 200ms", "p(99) < 500ms", "errors < 1%", "rps > 100", "p(99.9)<=1.5s", "avg < 100us",
        "mean<=1m", "min >= 0", "max != 5000µs", "med == 10", "error_rate < 0.01", "checks >= 99.5%",
        "requests > 20", "  P ( 50 )  <  2 S  ", "p(0) < 1", "p(101) < 1", "p95 < 200", "median < 5",
        "errors = 1", "errors < 150", "rps > 10ms", "p(95) < -1", "p(95) < 1e3", "p(95) < 200 ms extra",
        "", "<", "p(", "p(95", "p(95) <",
    ]):
        write(t, f"t{i:02}", s)
    # A finite bound in minutes that overflows in milliseconds (was an infinite bound).
    write(t, "huge-bound-minutes", "p(95) < 1" + "0" * 307 + "m")


def seeds_extract():
    t = "extract"
    body = b'{"token":"abc","id":42,"items":[{"id":1},{"id":null}],"odd key":{"x":[true,1.5]}}'
    for i, s in enumerate([
        "json $.token", "json $.items[0].id", "json $.items[1].id", "json $['odd key'].x", "json $[\"odd key\"].x[1]",
        "json $", "json $..id", "json $.*", "json token", "json $.items[x]", "json $['unclosed", "json $.",
        "header X-Request-Id", "header x-cache", "header Bad Name", "header", "regex id=(\\d+)",
        "regex \"token\":\"([^\"]+)\"", "regex (", "regex a{1000}{1000}", "xpath //a", "",
    ]):
        write(t, f"e{i:02}", s.encode() + b"\0" + body)
    write(t, "e-not-json", b"json $.a\0id=77 not json \xff")


if __name__ == "__main__":
    seeds_response_parser()
    seeds_chunked()
    seeds_scenario()
    seeds_template()
    seeds_threshold()
    seeds_extract()
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"seeds written; corpus now {total} bytes in {sum(1 for f in CORPUS.rglob('*') if f.is_file())} files")
