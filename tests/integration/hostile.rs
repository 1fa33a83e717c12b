//! Hostile and broken servers: every failure is an error of a named kind, the run goes on (a
//! server broken only some of the time still gets load), nothing crashes or hangs, and memory
//! stays bounded whatever the server sends. Also legal-but-unusual framing, a target that goes
//! away and comes back mid-run, and Ctrl-C. (The basic cases live in `bench.rs`.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::util::raw::{RawConn, RawServer};
use crate::util::signals::bench_interrupted;
use crate::util::{self, Action, Outcome, Response, Server, assert_server_agrees, bench};

const GOOD: &str = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood";

/// Peak memory allowed to a client fed endless answers.
const RSS_LIMIT: u64 = 64 * 1024 * 1024;

/// Every connection answers two requests well, then the third with the next of `bad` (in turn).
fn two_good_then(bad: Vec<Response>) -> Server {
    let next = AtomicU64::new(0);
    Server::start(move |req| {
        if req.on_conn % 3 == 2 {
            let i = next.fetch_add(1, Ordering::SeqCst) as usize % bad.len();
            bad[i].clone().into()
        } else {
            Response::raw(GOOD).into()
        }
    })
}

/// The error reasons of a run, as `kind: reason` keys.
fn reasons(out: &Outcome) -> Vec<String> {
    out.at("/totals/error_reasons").as_object().expect("error_reasons is an object").keys().cloned().collect()
}

/// Only errors of `kind`; at least `min` of them; successes and errors add up to the requests;
/// and each connection's two good answers were counted (the run went on after every failure).
fn assert_only(out: &Outcome, kind: &str, min: u64) -> u64 {
    out.assert_code(0);
    let n = out.errors_of(kind);
    assert!(n >= min, "expected at least {min} `{kind}` errors\n{}", out.describe());
    assert_eq!(out.errors(), n, "only `{kind}` errors expected\n{}", out.describe());
    assert_eq!(out.requests(), out.status(200) + n, "{}", out.describe());
    assert!(out.requests() > out.errors(), "{}", out.describe());
    n
}

fn assert_reasons_mention(out: &Outcome, kind: &str, needles: &[&str]) {
    let reasons = reasons(out);
    assert!(reasons.iter().all(|r| r.starts_with(&format!("{kind}: "))), "reasons: {reasons:#?}");
    for needle in needles {
        assert!(reasons.iter().any(|r| r.contains(needle)), "no reason mentions `{needle}`: {reasons:#?}");
    }
}

fn assert_memory_bounded(out: &Outcome) {
    let peak = out.u64("/generator/peak_rss_bytes");
    assert!(peak < RSS_LIMIT, "peak RSS {} MiB for a bounded client\n{}", peak >> 20, out.describe());
}

// ---------------------------------------------------------------------------------------------
// Broken answers: parse errors
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_status_lines_and_http_0_9_answers_are_parse_errors_and_the_run_goes_on() {
    let _m = util::shared_machine();
    let bad = vec![
        Response::raw("HTTP/1.1 099 Too Low\r\nContent-Length: 0\r\n\r\n"),
        Response::raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        Response::raw("HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n"),
        Response::raw("ICY 200 OK\r\nicy-name: radio\r\n\r\n"),
        Response::raw("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"),
        Response::raw("HTTP/1.1 200 OK\r\nBad Header Name: x\r\nContent-Length: 0\r\n\r\n"),
        // HTTP/0.9: the body and nothing else, then close.
        Response::raw("<html><body>no status line at all</body></html>\n").then_close(),
    ];
    let server = two_good_then(bad);
    let out = bench(&server.url("/status-lines"), &["-c", "2", "-d", "1s", "-t", "1"]);
    let parse = assert_only(&out, "parse", 70);
    // A parse error ends its connection: two good answers for each bad one.
    assert!(out.status(200).abs_diff(2 * parse) <= 4, "{}", out.describe());
    assert_reasons_mention(&out, "parse", &["not an HTTP/1.x status line", "status code below 100", "protocol switch"]);
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn broken_body_framing_is_a_parse_error_and_the_run_goes_on() {
    let _m = util::shared_machine();
    let chunked = |body: &str| Response::raw(format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{body}"));
    let bad = vec![
        chunked("zz\r\nhello\r\n0\r\n\r\n"),
        chunked("-5\r\nhello\r\n0\r\n\r\n"),
        chunked("0x5\r\nhello\r\n0\r\n\r\n"),
        chunked("fffffffffffffffff\r\nhuge\r\n0\r\n\r\n"),
        chunked("3\r\nabcX\r\n0\r\n\r\n"),
        chunked("3\r\nabc\rX0\r\n\r\n"),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n"),
    ];
    let server = two_good_then(bad);
    let out = bench(&server.url("/framing"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "500ms"]);
    let parse = assert_only(&out, "parse", 100);
    assert!(out.status(200).abs_diff(2 * parse) <= 4, "{}", out.describe());
    assert_reasons_mention(
        &out,
        "parse",
        &[
            "chunk size is not hex",
            "chunk size too large",
            "chunk data longer than its size",
            "conflicting Content-Length",
        ],
    );
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn connection_closed_inside_the_head_or_a_chunk_is_a_closed_error() {
    let _m = util::shared_machine();
    let bad = vec![
        Response::raw("HTTP/1.1 20").then_close(),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Le").then_close(),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n").then_close(),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r").then_close(),
        Response::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nhalf").then_close(),
        Response::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfull\r\n").then_close(),
    ];
    let server = two_good_then(bad);
    let out = bench(&server.url("/cut"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "500ms"]);
    let closed = assert_only(&out, "closed", 50);
    assert!(out.status(200).abs_diff(2 * closed) <= 4, "{}", out.describe());
    assert_reasons_mention(&out, "closed", &["in the middle of a response"]);
    assert_server_agrees(&server, &out, 2);
}

#[test]
fn response_head_over_the_default_64_kib_limit_is_a_parse_error_unless_the_limit_is_raised() {
    let _m = util::shared_machine();
    // 70 KB of head, every other response.
    let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok", "b".repeat(70_000));
    let server = Server::start(move |req| {
        if req.on_conn % 2 == 1 { Response::raw(&big).into() } else { Response::with_length(200, "ok").into() }
    });
    let default = bench(&server.url("/huge-head"), &["-c", "2", "-d", "1s", "-t", "1"]);
    let parse = assert_only(&default, "parse", 50);
    assert!(default.status(200).abs_diff(parse) <= 2, "{}", default.describe());
    assert_reasons_mention(&default, "parse", &["larger than 65536 bytes"]);

    let raised = bench(&server.url("/huge-head"), &["-c", "2", "-d", "1s", "-t", "1", "--max-header-bytes", "100000"]);
    raised.assert_code(0);
    assert_eq!(raised.errors(), 0, "a 70 KB head is within a 100000-byte limit\n{}", raised.describe());
    assert!(raised.status(200) > 100, "{}", raised.describe());
}

// ---------------------------------------------------------------------------------------------
// Resets, trickles, endless answers
// ---------------------------------------------------------------------------------------------

#[test]
fn a_connection_reset_by_the_server_is_a_reset_error_and_the_run_goes_on() {
    let _m = util::shared_machine();
    let server = RawServer::start(|mut c: RawConn| {
        // Every fourth connection is reset on its first request, before any answer; the others
        // answer twice, then reset in the middle of the third answer.
        while c.read_request() {
            if c.index % 4 == 3 {
                return c.reset();
            }
            if c.requests % 3 == 0 {
                if c.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                    && c.sleep(Duration::from_millis(5))
                {
                    c.reset();
                }
                return;
            }
            if !c.write(GOOD.as_bytes()) {
                return;
            }
        }
    });
    let out = bench(&server.url("/reset"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "500ms"]);
    let reset = assert_only(&out, "reset", 20);
    assert!(out.status(200) >= reset, "{}", out.describe());
    assert_reasons_mention(&out, "reset", &[]);
}

#[test]
fn a_server_trickling_one_byte_a_second_times_out() {
    let _m = util::shared_machine();
    let trickle = Response::with_length(200, "slowly, slowly").bytewise(Duration::from_secs(1));
    // Three quick answers on each connection, then a trickle.
    let server =
        Server::start(move |req| if req.on_conn % 4 == 3 { trickle.clone() } else { Response::raw(GOOD) }.into());
    let out = bench(&server.url("/trickle"), &["-c", "2", "-d", "2s", "-t", "1", "--timeout", "500ms"]);
    let timeouts = assert_only(&out, "timeout", 4);
    // About one trickle per half second per connection.
    assert!(timeouts <= 10, "{timeouts} timeouts\n{}", out.describe());
    assert!(out.status(200) >= 2 * timeouts, "{}", out.describe());
    assert_reasons_mention(&out, "timeout", &["500ms"]);
    assert!(out.wall < Duration::from_millis(3500), "the process took {:?}", out.wall);
}

/// Write `first`, then `piece` again and again until the peer goes away or the server stops.
fn endless(c: &mut RawConn, first: &[u8], piece: &[u8]) {
    if !c.write(first) {
        return;
    }
    while c.write(piece) {}
}

#[test]
fn endless_heads_and_chunk_lines_are_cut_off_as_parse_errors_with_memory_bounded() {
    let _m = util::shared_machine();
    let header_line = format!("X-Endless: {}\r\n", "h".repeat(1000));
    let server = RawServer::start(move |mut c: RawConn| {
        while c.read_request() {
            if c.requests % 3 != 0 {
                if !c.write(GOOD.as_bytes()) {
                    return;
                }
                continue;
            }
            match c.index % 3 {
                0 => endless(&mut c, b"HTTP/1.1 200 OK\r\n", header_line.as_bytes()),
                1 => endless(
                    &mut c,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=",
                    "e".repeat(4096).as_bytes(),
                ),
                _ => endless(
                    &mut c,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
                    header_line.replace("X-Endless", "X-Trailer").as_bytes(),
                ),
            }
            return;
        }
    });
    let out = bench(&server.url("/endless-head"), &["-c", "3", "-d", "1s", "-t", "1", "--timeout", "2s"]);
    let parse = assert_only(&out, "parse", 30);
    assert!(out.status(200) >= parse, "{}", out.describe());
    assert_reasons_mention(&out, "parse", &["larger than 65536 bytes", "too long"]);
    assert_memory_bounded(&out);
}

#[test]
fn endless_bodies_time_out_with_memory_bounded() {
    let _m = util::shared_machine();
    let chunk = format!("4000\r\n{}\r\n", "c".repeat(0x4000));
    let raw = "r".repeat(64 * 1024);
    let server = RawServer::start(move |mut c: RawConn| {
        while c.read_request() {
            if c.requests % 3 != 0 {
                if !c.write(GOOD.as_bytes()) {
                    return;
                }
                continue;
            }
            match c.index % 3 {
                0 => endless(&mut c, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk.as_bytes()),
                1 => endless(&mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n", raw.as_bytes()),
                // No framing: the body runs until the server closes, which it never does.
                _ => endless(&mut c, b"HTTP/1.1 200 OK\r\n\r\n", raw.as_bytes()),
            }
            return;
        }
    });
    let out = bench(&server.url("/endless-body"), &["-c", "3", "-d", "1s", "-t", "1", "--timeout", "300ms"]);
    let timeouts = assert_only(&out, "timeout", 3);
    assert!(out.status(200) >= timeouts, "{}", out.describe());
    assert_memory_bounded(&out);
    // Far more went through the client than it ever held.
    let sent = server.bytes_sent();
    assert!(
        sent > 2 * out.u64("/generator/peak_rss_bytes"),
        "the server sent only {} MiB; peak RSS {} MiB",
        sent >> 20,
        out.u64("/generator/peak_rss_bytes") >> 20
    );
    assert!(out.wall < Duration::from_millis(2500), "the process took {:?}", out.wall);
}

// ---------------------------------------------------------------------------------------------
// Legal but unusual
// ---------------------------------------------------------------------------------------------

#[test]
fn legal_framing_variants_succeed_on_kept_alive_connections() {
    let _m = util::shared_machine();
    // Cycled on each connection; none closes it, so a misread framing desynchronises the next.
    let variants = [
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\n1.0k", // 1.0 kept alive
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0005\r\nhello\r\n0\r\n\r\n", // case, zeros
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",             // empty body
        "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 3\r\nX-Empty:\r\n\r\nabc", // odd case, empty value
        "HTTP/1.1 200 OK\r\nContent-Length:7\r\n\r\nnospace",
        "HTTP/1.1 200 OK\r\nContent-Length: 0007\r\n\r\nleading",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nka!",
    ];
    let total: u64 = variants.iter().map(|v| v.len() as u64).sum();
    let server = Server::start(move |req| Response::raw(variants[(req.on_conn % 8) as usize]).into());
    let out = bench(&server.url("/legal"), &["-c", "2", "-d", "1s", "-t", "1", "--timeout", "300ms"]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.status(200) > 400 && out.status(205) > 50, "{}", out.describe());
    assert_eq!(server.connections(), 2, "per connection: {:?}", server.per_connection());
    let cycles = out.requests() / 8;
    let bytes_in = out.u64("/totals/bytes_in");
    assert!(bytes_in >= (cycles - 2) * total && bytes_in <= (cycles + 2) * total, "{bytes_in} bytes in");
    assert_server_agrees(&server, &out, 2);
}

// ---------------------------------------------------------------------------------------------
// A target that goes away and comes back
// ---------------------------------------------------------------------------------------------

#[test]
fn a_target_that_restarts_mid_run_is_counted_while_down_and_loaded_again_when_back() {
    let _m = util::exclusive_machine();
    let first = Server::start(|_| Response::raw(GOOD).into());
    let port = first.addr().port();
    let url = first.url("/restart");
    let started = Instant::now();
    let run = std::thread::spawn(move || bench(&url, &["-c", "2", "-d", "4s", "-t", "1", "--timeout", "1s"]));
    std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
    // Gone: the listener and every connection closed.
    let served_before = first.requests();
    drop(first);
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(started.elapsed()));
    let second = Server::start_on(&format!("127.0.0.1:{port}"), |_| Response::raw(GOOD).into())
        .expect("rebind the port of the first server");
    let out = run.join().expect("bench thread");
    out.assert_code(0);
    assert!(served_before > 100, "the first server answered {served_before}");
    let (connect, reset, closed) = (out.errors_of("connect"), out.errors_of("reset"), out.errors_of("closed"));
    assert!(connect > 0, "the target was down for 1.5 s\n{}", out.describe());
    assert_eq!(out.errors(), connect + reset + closed, "only connect, reset and closed errors\n{}", out.describe());
    assert!(out.requests() > out.errors(), "{}", out.describe());
    let rows = out.doc()["timeline"].as_array().expect("timeline").clone();
    let row = |t: f64| {
        rows.iter()
            .find(|r| (r["t"].as_f64().unwrap() - t).abs() < 0.05)
            .unwrap_or_else(|| panic!("no row at {t}: {rows:?}"))
    };
    assert!(row(1.0)["requests"].as_u64().unwrap() > 100, "first second: {}", row(1.0));
    assert!(row(2.0)["errors"].as_u64().unwrap() > 0, "while down: {}", row(2.0));
    assert_eq!(row(2.0)["requests"], row(2.0)["errors"], "nothing succeeds while down: {}", row(2.0));
    // Connect retries back off to at most 1 s: the target, back at 2.5 s, has load by 3.5 s.
    let last = row(4.0);
    assert!(last["requests"].as_u64().unwrap() > 0, "after the restart: {last}");
    assert_eq!(last["errors"], 0, "after the restart: {last}");
    assert!(second.requests() > 0, "the restarted server got no request");
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C
// ---------------------------------------------------------------------------------------------

/// A server whose connections 1 and 3 never answer: with 4 connections, two requests are always
/// in flight, so a Ctrl-C grace lasts its full second.
fn half_hanging() -> Server {
    Server::start(|req| if req.conn % 2 == 1 { Action::Hang } else { Response::raw(GOOD).into() })
}

#[test]
fn ctrl_c_gives_requests_in_flight_a_second_then_writes_the_whole_result() {
    let _m = util::shared_machine();
    let server = half_hanging();
    let (out, sent) = bench_interrupted(
        &server.url("/interrupted"),
        &["-c", "4", "-d", "30s", "-t", "1"],
        libc::SIGINT,
        &[Duration::from_secs(2)],
    );
    out.assert_code(0);
    let after = out.wall - sent[0];
    // The grace lasts its full second (two requests never finish), and not much more.
    assert!(after >= Duration::from_millis(900), "exited {after:?} after the signal, before the grace ended");
    assert!(after < Duration::from_secs(3), "exited {after:?} after the signal\n{}", out.describe());
    assert_eq!(out.at("/interrupted"), true, "{}", out.describe());
    // About 2 s (the exact length, grace excluded, is checked by the regression test below).
    let duration = out.f64("/duration_s");
    assert!((1.8..=3.0).contains(&duration), "duration_s {duration} for a run stopped after 2 s");
    assert!(out.status(200) > 100, "{}", out.describe());
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.unfinished() >= 2, "the two unanswered requests are unfinished\n{}", out.describe());
    // A complete document: the timeline adds up, the histogram is there, the summary printed.
    let rows = out.doc()["timeline"].as_array().expect("timeline");
    let sum: u64 = rows.iter().map(|r| r["requests"].as_u64().unwrap()).sum();
    assert_eq!(sum, out.requests(), "timeline rows do not add up to the total");
    assert!(out.at("/histogram").as_str().is_some_and(|h| !h.is_empty()));
    assert!(out.stdout.contains("200"), "the summary is printed: {}", out.stdout);
}

/// Regression: when the Ctrl-C grace crossed a whole second of the run, the worker sent that
/// second's snapshot during the grace, so `duration_s` (and the timeline) ran to the end of the
/// grace's second: stopped at 2.5 s, the run reported 3 s and a row for 2-3 s. The run's length
/// is the load's, grace excluded.
#[test]
fn interrupted_run_length_excludes_a_grace_that_crosses_a_second() {
    let _m = util::shared_machine();
    let server = half_hanging();
    let (out, sent) = bench_interrupted(
        &server.url("/grace"),
        &["-c", "4", "-d", "30s", "-t", "1"],
        libc::SIGINT,
        &[Duration::from_millis(2500)],
    );
    out.assert_code(0);
    assert!(out.wall - sent[0] >= Duration::from_millis(900), "the grace did not last: {:?}", out.wall);
    let duration = out.f64("/duration_s");
    let rows = out.doc()["timeline"].as_array().expect("timeline");
    let last_t = rows.last().map_or(0.0, |r| r["t"].as_f64().unwrap());
    assert!(
        (2.2..=2.6).contains(&duration) && (last_t - duration).abs() < 0.01,
        "stopped at about 2.45 s into the run: duration_s {duration}, timeline ends at {last_t}\n{rows:?}"
    );
}

#[test]
fn a_second_ctrl_c_during_the_grace_exits_at_once_with_130() {
    let _m = util::exclusive_machine();
    let server = Server::start(|_| Action::Hang);
    let (out, sent) = bench_interrupted(
        &server.url("/never"),
        &["-c", "2", "-d", "30s", "-t", "1"],
        libc::SIGINT,
        &[Duration::from_millis(1000), Duration::from_millis(1300)],
    );
    assert_eq!(sent.len(), 2, "the process ended before the second signal\n{}", out.describe());
    assert_eq!(out.code, Some(130), "{}", out.describe());
    let after = out.wall - sent[1];
    assert!(after < Duration::from_millis(500), "exited {after:?} after the second signal");
    assert!(out.json.is_none(), "a result was written although the process left at once");
}
