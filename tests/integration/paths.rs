//! Request-targets on the wire: what a server receives for every way a step can write its path
//! (relative, a full URL with holes at every position of its path and query, a target with a base
//! path) and for redirects to other hosts, recorded line by line by scripted servers.

use std::sync::{Arc, Mutex};

use crate::util::{self, Response, Server, TempDir};

/// A server that answers 200 and records each request-target it reads, in order.
fn recording() -> (Server, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let server = Server::start(move |req| {
        s.lock().unwrap().push(req.target.clone());
        Response::with_length(200, "ok").into()
    });
    (server, seen)
}

/// One user, one iteration, the given steps (`(name, request)`), against `target`.
fn journey(target: &str, steps: &[(&str, String)]) -> String {
    let mut s = format!(
        "target = \"{target}\"\n\n[load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 1\n\n\
         [[users]]\nname = \"u\"\n"
    );
    for (name, request) in steps {
        s.push_str(&format!("  [[users.steps]]\n  name = \"{name}\"\n  request = \"{request}\"\n\n"));
    }
    s
}

/// Regression: a step naming another host by full URL lost the `/` before a hole that starts a
/// path segment (`GET http://H/a/b/{{vu}}/c` went out as `GET /a/b1/c`, `GET http://H/{{vu}}` as
/// `GET 1`). Holes at every position of a full URL's path and query, beside relative paths.
#[test]
fn regression_a_hole_after_a_full_urls_slash_keeps_the_slash() {
    let _m = util::shared_machine();
    let (main, main_seen) = recording();
    let (other, other_seen) = recording();
    let h = other.addr().to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("segment in the middle", format!("GET http://{h}/a/b/{{{{vu}}}}/c"), "/a/b/1/c"),
        ("last segment", format!("GET http://{h}/x/{{{{vu}}}}"), "/x/1"),
        ("first segment", format!("GET http://{h}/{{{{vu}}}}"), "/1"),
        ("first segment, more after", format!("GET http://{h}/{{{{vu}}}}/tail"), "/1/tail"),
        ("inside a segment", format!("GET http://{h}/x{{{{vu}}}}y/z"), "/x1y/z"),
        ("two holes", format!("GET http://{h}/u/{{{{vu}}}}/i/{{{{iter}}}}"), "/u/1/i/0"),
        ("query value", format!("GET http://{h}/q?id={{{{vu}}}}&k=v"), "/q?id=1&k=v"),
        ("whole query", format!("GET http://{h}/q?{{{{vu}}}}"), "/q?1"),
        ("query of the root", format!("GET http://{h}/?{{{{vu}}}}"), "/?1"),
        ("query without a path", format!("GET http://{h}?n={{{{vu}}}}"), "/?n=1"),
        ("path and query", format!("GET http://{h}/p/{{{{vu}}}}?a={{{{iter}}}}"), "/p/1?a=0"),
        ("no hole", format!("GET http://{h}/plain/path?x=1"), "/plain/path?x=1"),
        ("root, no hole", format!("GET http://{h}/"), "/"),
        ("no path, no hole", format!("GET http://{h}"), "/"),
    ];
    let mut steps: Vec<(&str, String)> = cases.iter().map(|(n, r, _)| (*n, r.clone())).collect();
    steps.push(("relative", "GET /rel/{{vu}}/c".to_string()));
    steps.push(("relative root hole", "GET /{{vu}}".to_string()));
    let dir = TempDir::new("paths-full-url");
    let file = dir.write("paths.toml", &journey(&main.url(""), &steps));
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    let expected: Vec<&str> = cases.iter().map(|(_, _, e)| *e).collect();
    assert_eq!(*other_seen.lock().unwrap(), expected, "{:#?}", cases);
    assert_eq!(*main_seen.lock().unwrap(), ["/rel/1/c", "/1"]);

    // A target with a base path is the base of relative requests, not of full URLs.
    main_seen.lock().unwrap().clear();
    other_seen.lock().unwrap().clear();
    let steps = vec![
        ("relative under a base", "GET /r/{{vu}}".to_string()),
        ("full url beside a base", format!("GET http://{h}/{{{{vu}}}}/f")),
    ];
    let file = dir.write("base.toml", &journey(&main.url("/base/"), &steps));
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    assert_eq!(*main_seen.lock().unwrap(), ["/base/r/1"]);
    assert_eq!(*other_seen.lock().unwrap(), ["/1/f"]);
}

/// A step on one host redirected to another: the hop's path is the `Location` as resolved, both
/// absolute (to the other host) and relative (against the templated path that was sent).
#[test]
fn redirects_to_other_hosts_keep_their_paths() {
    let _m = util::shared_machine();
    let (landing, landing_seen) = recording();
    let landing_host = landing.addr().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let origin = Server::start(move |req| {
        s.lock().unwrap().push(req.target.clone());
        let location = if let Some(n) = req.target.strip_prefix("/away/") {
            format!("http://{landing_host}/landed/{n}/end?from=away")
        } else if req.target.starts_with("/dir/") && req.target.ends_with("/x") {
            "../up/here".to_string()
        } else {
            return Response::with_length(200, "ok").into();
        };
        Response::raw(format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")).into()
    });
    let o = origin.addr().to_string();
    let steps = vec![
        ("away", format!("GET http://{o}/away/{{{{vu}}}}")),
        ("relative hop", format!("GET http://{o}/dir/{{{{vu}}}}/x")),
    ];
    let dir = TempDir::new("paths-redirect");
    let file = dir.write("redirect.toml", &journey(&origin.url(""), &steps));
    let out = util::scenario(&file, &["-t", "1"]);
    out.assert_code(0);
    assert_eq!(*seen.lock().unwrap(), ["/away/1", "/dir/1/x", "/dir/up/here"]);
    assert_eq!(*landing_seen.lock().unwrap(), ["/landed/1/end?from=away"]);
    assert_eq!(out.u64("/totals/redirects"), 2, "{}", out.describe());
}

/// A hole in the scheme, host or port cannot choose a connection: refused with file:line:col.
#[test]
fn a_hole_in_a_urls_host_or_port_is_refused() {
    let (server, seen) = recording();
    let h = server.addr().ip().to_string();
    let dir = TempDir::new("paths-host-hole");
    // A hole before `://` panicked (the check sliced backwards) and exited 101.
    for request in [
        format!("GET http://{h}:{{{{vu}}}}/x"),
        "GET http://{{vu}}/x".to_string(),
        format!("GET {{{{vu}}}}://{h}/x"),
        format!("GET http{{{{vu}}}}://{h}/x"),
    ] {
        let file = dir.write("hole.toml", &journey(&server.url(""), &[("bad", request.clone())]));
        let out = util::scenario(&file, &["-t", "1"]);
        util::assert_refused_before_sending(&server, &out, &request);
        assert!(out.stderr.contains("hole.toml:"), "{request}: {}", out.stderr);
        assert!(out.stderr.contains("scheme, host or port"), "{request}: {}", out.stderr);
    }
    assert!(seen.lock().unwrap().is_empty());
}
