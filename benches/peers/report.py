#!/usr/bin/env python3
"""Reads what each tool printed or wrote and turns it into table rows (benches/peers/run.sh).

  report.py row ROWS TOOL CASE USERS SECONDS TIMEFILE OUTFILE [RESULTFILE]  -> appends to ROWS, prints it
  report.py table ROWS                                                       -> the table and the ratios

TIMEFILE holds `/usr/bin/time -f "%e %U %S %M"` of the tool's process: wall, user and system CPU
seconds, peak RSS in KiB. CPU per request = (user + system) / requests the tool counted.
Requests per second: the URL case takes each tool's own figure (requests over the time it measured);
the journey cases take requests / SECONDS for every tool, as each stops when SECONDS are up.
"""
import csv
import json
import re
import sys

CASES = {"url": "one URL, nginx", "fast": "journey, no think", "many": "journey, thinking"}


def label(case):
    """A case's name in the table: the fixed ones, and HTTP/2 ones such as h2c-10x10 (connections x
    streams per connection, against nginx)."""
    if case in CASES:
        return CASES[case]
    proto, _, shape = case.partition("-")
    return f"h2c {shape}, nginx" if proto == "h2c" else f"h2/TLS {shape} nginx"


def num(pattern, text, cast=float, default=None):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else default


def parse(tool, case, secs, out, result):
    """-> (requests, rps, p95 ms or None, errors, note)"""
    text = open(out, errors="replace").read()
    if tool == "wrk":
        n = num(r"(\d+) requests in", text, int)
        rps = num(r"Requests/sec:\s+([\d.]+)", text)
        p95 = num(r"p95_us (\d+)", text, int)
        errs = num(r"Non-2xx or 3xx responses: (\d+)", text, int, 0)
        sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        errs += sum(int(g) for g in sock.groups()) if sock else 0
        return n, rps, p95 / 1000 if p95 is not None else None, errs, ""
    if tool == "h2load":
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
        rps = num(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
        return int(m.group(3)), rps, None, int(m.group(5)) + int(m.group(6)) + int(m.group(7)), "h2load reports no percentiles"
    if tool == "oha":
        # Its JSON summary, printed on standard output (--output-format json); times in seconds.
        d = json.loads(text[text.index("{"):])
        codes = {int(k): int(v) for k, v in d.get("statusCodeDistribution", {}).items()}
        n = sum(codes.values())
        errs = sum(int(v) for v in d.get("errorDistribution", {}).values()) + sum(v for k, v in codes.items() if k >= 400)
        p95 = d.get("latencyPercentiles", {}).get("p95")
        return n, d["summary"]["requestsPerSec"], p95 * 1000 if p95 is not None else None, errs, ""
    if tool == "stampede":
        d = json.load(open(result))
        t, io = d["totals"], d.get("generator", {}).get("io", "io_uring")
        n = t["requests"]
        rps = n / secs if case in ("fast", "many") else t["rps"]
        return n, rps, t["latency_us"]["p95"] / 1000, t["errors"], "" if io == "io_uring" else f"I/O path: {io}"
    if tool == "k6":
        m = json.load(open(result))["metrics"]
        n = int(m["http_reqs"]["values"]["count"])
        p95 = m["http_req_duration"]["values"]["p(95)"]
        errs = int(m.get("http_req_failed", {}).get("values", {}).get("passes", 0))
        return n, n / secs, p95, errs, ""
    if tool == "locust":
        with open(result, newline="") as f:
            agg = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
        n = int(agg["Request Count"])
        p95 = float(agg["95%"]) if agg["95%"] not in ("", "N/A") else None
        note = "CPU above 90% (Locust's warning)" if "CPU usage" in text else ""
        return n, n / secs, p95, int(agg["Failure Count"]), note
    raise SystemExit(f"unknown tool {tool}")


def row(rows, tool, case, users, secs, timefile, out, result=""):
    secs = float(secs)
    wall, user, sys_, rss = open(timefile).read().split()[-4:]
    n, rps, p95, errs, note = parse(tool, case, secs, out, result)
    if not n:
        raise SystemExit(f"{tool} counted no request")
    cpu = (float(user) + float(sys_)) * 1e6 / n
    r = dict(case=case, tool=tool, users=int(users), rps=rps, cpu=cpu, p95=p95, rss=int(rss) / 1024,
             errors=errs, requests=n, wall=float(wall), note=note)
    with open(rows, "a") as f:
        f.write(json.dumps(r) + "\n")
    print(line(r))


HEAD = f"{'case':18s} {'tool':9s} {'users':>6s} {'req/s':>9s} {'CPU µs/req':>10s} {'p95 ms':>8s} {'RSS MiB':>8s} {'errors':>7s} {'wall s':>6s}"


def line(r):
    p95 = f"{r['p95']:8.2f}" if r["p95"] is not None else f"{'—':>8s}"
    err = f"{r['errors']:7d}" + ("!" if r["errors"] > 0.01 * r["requests"] else "")
    s = (f"{label(r['case']):18s} {r['tool']:9s} {r['users']:6d} {r['rps']:9.0f} {r['cpu']:10.2f} {p95} "
         f"{r['rss']:8.1f} {err} {r['wall']:6.1f}")
    return s + (f"  {r['note']}" if r["note"] else "")


def table(rows):
    rs = [json.loads(l) for l in open(rows) if l.strip()]
    print(HEAD)
    for r in rs:
        print(line(r))
    print()
    if not any(r["tool"] != "stampede" and any(s["tool"] == "stampede" and s["case"] == r["case"] for s in rs) for r in rs):
        print("no peer ran beside stampede: no ratios")
        return
    print("stampede / peer (throughput: above 1 = stampede faster; CPU per request, memory, p95: below 1 = stampede uses less)")
    print(f"{'case':18s} {'peer':9s} {'throughput':>10s} {'CPU/req':>9s} {'memory':>8s} {'p95':>8s}")
    for case in dict.fromkeys(r["case"] for r in rs):
        s = next((r for r in rs if r["case"] == case and r["tool"] == "stampede"), None)
        if not s:
            continue
        for p in (r for r in rs if r["case"] == case and r["tool"] != "stampede"):
            x = lambda a, b: f"x{a / b:.3g}" if a is not None and b else "—"
            print(f"{label(case):18s} {p['tool']:9s} {x(s['rps'], p['rps']):>10s} {x(s['cpu'], p['cpu']):>9s} "
                  f"{x(s['rss'], p['rss']):>8s} {x(s['p95'], p['p95']):>8s}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        {"row": row, "table": table}[cmd](*args)
    except (OSError, ValueError, KeyError, AttributeError, TypeError, StopIteration, json.JSONDecodeError) as e:
        raise SystemExit(f"could not read its result: {type(e).__name__}: {e}")
