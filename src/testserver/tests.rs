//! Tests of the target over real loopback sockets: raw HTTP/1.1 with keep-alive from
//! `std::net::TcpStream`, each test with its own server, stopped at the end.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::TestServer;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn start(workers: usize) -> TestServer {
    TestServer::start("127.0.0.1:0".parse().unwrap(), workers).expect("target starts")
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// One keep-alive connection.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn new(t: &TestServer) -> Client {
        let s = TcpStream::connect(t.addr).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client { s, buf: Vec::new() }
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write");
    }

    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.raw(&encode(method, path, headers, body));
        self.read(method == "HEAD")
    }

    fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, &[], b"")
    }

    fn get_auth(&mut self, path: &str, token: &str) -> Resp {
        self.request("GET", path, &[("Authorization", &format!("Bearer {token}"))], b"")
    }

    fn post_json(&mut self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        self.request("POST", path, &headers, body.to_string().as_bytes())
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.s.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Read one response (Content-Length or chunked body).
    fn read(&mut self, head_only: bool) -> Resp {
        loop {
            let mut hs = [httparse::EMPTY_HEADER; 32];
            let mut r = httparse::Response::new(&mut hs);
            if let httparse::Status::Complete(n) = r.parse(&self.buf).expect("valid response head") {
                let status = r.code.unwrap();
                let headers: Vec<(String, String)> = r
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                self.buf.drain(..n);
                let mut resp = Resp { status, headers, body: Vec::new() };
                if head_only {
                    return resp;
                }
                if resp.header("transfer-encoding").is_some() {
                    resp.body = self.read_chunked();
                } else {
                    let len: usize = resp.header("content-length").expect("content-length").parse().unwrap();
                    while self.buf.len() < len {
                        assert!(self.fill(), "connection closed inside a body");
                    }
                    resp.body = self.buf.drain(..len).collect();
                }
                return resp;
            }
            assert!(self.fill(), "connection closed before a response");
        }
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                assert!(self.fill(), "closed inside chunked body");
            };
            let size = usize::from_str_radix(std::str::from_utf8(&self.buf[..line_end]).unwrap(), 16).unwrap();
            while self.buf.len() < line_end + 2 + size + 2 {
                assert!(self.fill(), "closed inside chunk");
            }
            body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
            self.buf.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return body;
            }
        }
    }

    /// True if the server closed the connection (EOF with nothing more to read).
    fn closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill()
    }
}

fn encode(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: target\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn login(c: &mut Client, email: &str) -> String {
    let r = c.post_json("/auth/login", None, &json!({ "email": email, "password": "secret" }));
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["user"], email);
    v["token"].as_str().expect("token is a string").to_string()
}

fn stats(c: &mut Client) -> Value {
    let r = c.get("/stats");
    assert_eq!(r.status, 200);
    r.json()
}

#[test]
fn login_create_and_read_back() {
    let t = start(2);
    let mut c = Client::new(&t);
    let token = login(&mut c, "ana@example.com");
    assert!(token.len() >= 32);
    let again = login(&mut c, "ana@example.com");
    assert_ne!(token, again, "every login gets a fresh token");

    let escrow = json!({ "property_address": "1 Test St", "purchase_price": 450000, "tags": ["a", "b"] });
    let created = c.post_json("/escrows", Some(&token), &escrow);
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.header("content-type"), Some("application/json"));
    let created = created.json();
    let id = created["id"].as_str().expect("id is a string").to_string();
    assert_eq!(created["property_address"], "1 Test St");
    assert_eq!(created["purchase_price"], 450000);
    assert_eq!(created["tags"], json!(["a", "b"]));

    // Read back by the id the server returned, with either token of the same user.
    for tok in [&token, &again] {
        let read = c.get_auth(&format!("/escrows/{id}"), tok);
        assert_eq!(read.status, 200, "{read:?}");
        assert_eq!(read.json(), created);
    }
    // A second record gets another id.
    let second = c.post_json("/escrows", Some(&token), &json!({ "x": 1 })).json();
    assert_ne!(second["id"], created["id"]);

    assert_eq!(t.counters.misuse(), 0, "a correct journey is no misuse");
    assert_eq!(t.counters.logins(), 2);
    assert_eq!(t.counters.records(), 2);
    let s = stats(&mut c);
    assert_eq!(s["misuse"], 0);
    assert_eq!(s["logins"], 2);
    assert_eq!(s["records"], 2);
    assert_eq!(s["routes"]["POST /auth/login"], 2);
    assert_eq!(s["routes"]["POST /escrows"], 2);
    assert_eq!(s["routes"]["GET /escrows/:id"], 2);
    t.stop();
}

#[test]
fn bad_logins_are_refused_and_the_connection_continues() {
    let t = start(1);
    let mut c = Client::new(&t);
    let cases = [
        (json!({ "email": "a@b.c", "password": "wrong" }), 401),
        (json!({ "email": "", "password": "x" }), 401),
        (json!({ "email": "a@b.c", "password": "" }), 401),
        (json!({ "email": "a@b.c" }), 401),
        (json!({ "email": 7, "password": "x" }), 401),
        (json!(["a@b.c", "x"]), 400),
    ];
    for (body, code) in &cases {
        let r = c.post_json("/auth/login", None, body);
        assert_eq!(r.status, *code, "{body}");
        r.json(); // error bodies are JSON too
    }
    for bad in [&b"{not json"[..], b"", b"\xff\xfe"] {
        let r = c.request("POST", "/auth/login", &[], bad);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(bad));
    }
    // Wrong method: 405, not misuse.
    let r = c.get("/auth/login");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    // Same connection still serves.
    assert_eq!(c.get("/").status, 200);
    login(&mut c, "a@b.c");
    assert_eq!(t.counters.misuse(), 5, "the five 401s");
    assert_eq!(t.counters.logins(), 1);
    assert_eq!(t.counters.route("POST /auth/login"), 10);
    assert_eq!(t.counters.route("GET /auth/login"), 1);
    t.stop();
}

#[test]
fn missing_wrong_or_forged_tokens_get_401() {
    let t = start(1);
    let mut c = Client::new(&t);
    let token = login(&mut c, "ana@example.com");
    let id = c.post_json("/escrows", Some(&token), &json!({ "a": 1 })).json()["id"].as_str().unwrap().to_string();
    let path = format!("/escrows/{id}");

    // The token's user swapped for another (hex of "bob@example.com"), MAC kept.
    let bob_hex: String = "bob@example.com".bytes().map(|b| format!("{b:02x}")).collect();
    let forged = format!("{}{bob_hex}", &token[..32]);
    let mut flipped = token.clone().into_bytes();
    flipped[20] = if flipped[20] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let bad_tokens = ["nope", "", forged.as_str(), flipped.as_str(), "0123456789abcdef0123456789abcdef"];
    let mut expected_misuse = 0;
    for bad in bad_tokens {
        let r = c.post_json("/escrows", Some(bad), &json!({ "a": 1 }));
        assert_eq!(r.status, 401, "POST with {bad:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(c.get_auth(&path, bad).status, 401, "GET with {bad:?}");
        expected_misuse += 2;
    }
    // No Authorization header at all, and a non-bearer scheme.
    assert_eq!(c.post_json("/escrows", None, &json!({ "a": 1 })).status, 401);
    assert_eq!(c.get(&path).status, 401);
    assert_eq!(c.request("GET", &path, &[("Authorization", &format!("Basic {token}"))], b"").status, 401);
    expected_misuse += 3;
    // Auth comes before the body check; a valid token with a bad body is 400, not misuse.
    assert_eq!(c.request("POST", "/escrows", &[("Authorization", "Bearer x")], b"{").status, 401);
    expected_misuse += 1;
    let auth = format!("Bearer {token}");
    assert_eq!(c.request("POST", "/escrows", &[("Authorization", &auth)], b"{").status, 400);
    assert_eq!(c.request("POST", "/escrows", &[("Authorization", &auth)], b"[1]").status, 400);
    assert_eq!(c.request("POST", "/escrows", &[("authorization", &format!("bearer {token}"))], b"{}").status, 201);

    assert_eq!(t.counters.misuse(), expected_misuse);
    assert_eq!(stats(&mut c)["misuse"], expected_misuse);
    // The real token still works.
    assert_eq!(c.get_auth(&path, &token).status, 200);
    t.stop();
}

#[test]
fn other_users_record_is_403_and_unknown_id_404() {
    let t = start(2);
    let mut ana = Client::new(&t);
    let mut bob = Client::new(&t);
    let ana_token = login(&mut ana, "ana@example.com");
    let bob_token = login(&mut bob, "bob@example.com");
    let id = ana.post_json("/escrows", Some(&ana_token), &json!({ "a": 1 })).json()["id"].as_str().unwrap().to_string();

    let r = bob.get_auth(&format!("/escrows/{id}"), &bob_token);
    assert_eq!(r.status, 403, "{r:?}");
    for unknown in ["999999999", "not-a-number", "-1"] {
        assert_eq!(bob.get_auth(&format!("/escrows/{unknown}"), &bob_token).status, 404, "{unknown}");
    }
    assert_eq!(ana.get_auth(&format!("/escrows/{id}"), &ana_token).status, 200);
    // Wrong methods on the record routes: 405, no misuse.
    assert_eq!(ana.request("DELETE", &format!("/escrows/{id}"), &[], b"").status, 405);
    assert_eq!(ana.get("/escrows").status, 405);

    assert_eq!(t.counters.misuse(), 4, "one 403 and three 404s");
    assert_eq!(t.counters.route("GET /escrows/:id"), 5);
    assert_eq!(t.counters.route("DELETE /escrows/:id"), 1);
    assert_eq!(t.counters.route("GET /escrows"), 1);
    let s = stats(&mut ana);
    assert_eq!(s["misuse"], 4);
    assert_eq!(s["records"], 1);
    t.stop();
}

#[test]
fn api_mix_answers_with_an_80_percent_cache_hit_ratio() {
    let t = start(2);
    let mut clients = [Client::new(&t), Client::new(&t)];
    let names = ["pricing", "analytics", "reports", "search"];
    let (mut hit, mut miss) = (0, 0);
    for i in 0..100 {
        let name = names[i % names.len()];
        let r = clients[i % 2].get(&format!("/api/{name}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), json!({ "name": name, "ok": true }));
        match r.header("x-cache") {
            Some("HIT") => hit += 1,
            Some("MISS") => miss += 1,
            other => panic!("X-Cache: {other:?}"),
        }
    }
    assert_eq!((hit, miss), (80, 20));
    assert_eq!(t.counters.route("GET /api/:name"), 100);

    // ?delay=MS holds the answer.
    let t0 = Instant::now();
    let r = clients[0].get("/api/slow?delay=150");
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(150), "{:?}", t0.elapsed());
    assert_eq!(clients[0].get("/api/x?delay=soon").status, 400);
    assert_eq!(clients[0].get("/api/x?delay=9999999").status, 400);
    assert_eq!(clients[0].request("POST", "/api/x", &[], b"{}").status, 405);
    // A name is JSON-escaped.
    assert_eq!(clients[1].get("/api/a%22b").json()["name"], "a%22b");
    // HEAD: headers, no body; the connection keeps its framing.
    let h = clients[1].request("HEAD", "/api/pricing", &[], b"");
    assert_eq!(h.status, 200);
    assert!(h.header("x-cache").is_some());
    assert_eq!(clients[1].get("/").body, b"hello world\n");
    t.stop();
}

/// Where the target's stall clock is now, in ms within an `every`-ms period.
fn phase_ms(t: &TestServer, every: u64) -> u64 {
    (t.shared.started.elapsed().as_millis() % u128::from(every)) as u64
}

/// Sleep until the stall clock is at `at` ms within its `every`-ms period.
fn sleep_until_phase(t: &TestServer, every: u64, at: u64) {
    let now = phase_ms(t, every);
    std::thread::sleep(Duration::from_millis((every + at - now) % every));
}

#[test]
fn stall_holds_requests_inside_the_window_until_it_ends() {
    let t = start(1);
    let mut c = Client::new(&t);
    assert_eq!(c.get("/").status, 200); // connection accepted and warm
    let (every, for_) = (1000, 300);
    let path = format!("/stall/{every}/{for_}");

    // Inside the window: held until it ends.
    let mut phase = every;
    for _ in 0..5 {
        sleep_until_phase(&t, every, 50);
        phase = phase_ms(&t, every);
        if phase < 200 {
            break;
        }
    }
    assert!(phase < 200, "could not reach the stall window (phase {phase} ms)");
    let t0 = Instant::now();
    let r = c.get(&path);
    let held = t0.elapsed();
    assert_eq!(r.status, 200);
    let expected = Duration::from_millis(for_ - phase);
    assert!(held + Duration::from_millis(20) >= expected, "held {held:?}, expected about {expected:?}");
    assert!(held <= expected + Duration::from_millis(250), "held {held:?}, expected about {expected:?}");

    // Outside the window: at once.
    sleep_until_phase(&t, every, 550);
    let t0 = Instant::now();
    assert_eq!(c.get(&path).status, 200);
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(100), "answered after {took:?} outside the window");

    // A pipelined quick request before a stalled one is not held with it.
    sleep_until_phase(&t, every, 30);
    let t0 = Instant::now();
    let mut two = encode("GET", "/", &[], b"");
    two.extend_from_slice(&encode("GET", &path, &[], b""));
    c.raw(&two);
    assert_eq!(c.read(false).body, b"hello world\n");
    let first = t0.elapsed();
    assert_eq!(c.read(false).status, 200);
    let second = t0.elapsed();
    assert!(first < Duration::from_millis(100), "the quick answer waited {first:?}");
    assert!(second >= Duration::from_millis(200), "the stalled answer came after {second:?}");

    for bad in ["/stall/1000", "/stall/0/0", "/stall/100/100", "/stall/100/200", "/stall/x/1", "/stall/700000/1"] {
        assert_eq!(c.get(bad).status, 400, "{bad}");
    }
    assert_eq!(t.counters.route("GET /stall"), 3 + 6);
    t.stop();
}

#[test]
fn stats_route_counts_equal_the_requests_sent() {
    let t = start(2);
    let mut sent: BTreeMap<&str, u64> = BTreeMap::new();
    let mut clients: Vec<Client> = (0..3).map(|_| Client::new(&t)).collect();
    let tokens: Vec<String> = clients.iter_mut().enumerate().map(|(i, c)| login(c, &format!("u{i}@x"))).collect();
    *sent.entry("POST /auth/login").or_default() += 3;
    for round in 0..10 {
        for (i, c) in clients.iter_mut().enumerate() {
            let id = c.post_json("/escrows", Some(&tokens[i]), &json!({ "round": round })).json()["id"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(c.get_auth(&format!("/escrows/{id}"), &tokens[i]).status, 200);
            assert_eq!(c.get("/").status, 200);
            assert_eq!(c.get(&format!("/api/n{round}")).status, 200);
            assert_eq!(c.get("/bytes/10").body.len(), 10);
            assert_eq!(c.get("/stats").status, 200); // not counted
        }
    }
    for (k, n) in
        [("POST /escrows", 30), ("GET /escrows/:id", 30), ("GET /", 30), ("GET /api/:name", 30), ("GET /bytes", 30)]
    {
        *sent.entry(k).or_default() += n;
    }
    let c = &mut clients[0];
    assert_eq!(c.get("/stall/1000/1?x").status, 200);
    assert_eq!(c.get("/status/418").status, 418);
    assert_eq!(c.get("/delay/1").status, 200);
    assert_eq!(c.get("/chunked/2500").body.len(), 2500);
    assert_eq!(c.request("POST", "/echo", &[], b"ping").body, b"ping");
    assert_eq!(c.request("PUT", "/nowhere", &[], b"").status, 404);
    assert_eq!(c.request("BREW", "/nowhere", &[], b"").status, 404);
    for k in ["GET /stall", "GET /status", "GET /delay", "GET /chunked", "POST /echo", "PUT /*", "OTHER /*"] {
        *sent.entry(k).or_default() += 1;
    }

    let s = stats(c);
    let routes: BTreeMap<String, u64> = serde_json::from_value(s["routes"].clone()).unwrap();
    let expected: BTreeMap<String, u64> = sent.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(routes, expected);
    let total: u64 = expected.values().sum();
    assert_eq!(s["requests"], total);
    assert_eq!(s["misuse"], 0);
    assert_eq!(s["logins"], 3);
    assert_eq!(s["records"], 30);
    assert_eq!(t.counters.by_route(), expected);
    assert_eq!(t.counters.requests.load(Ordering::Relaxed), total);
    for (k, v) in &expected {
        assert_eq!(t.counters.route(k), *v, "{k}");
    }
    assert_eq!(t.counters.route("GET /nothing"), 0);
    assert_eq!(t.counters.route("nonsense"), 0);
    t.stop();
}

#[test]
fn fixed_endpoints_framing_and_bad_input() {
    let t = start(1);
    let mut c = Client::new(&t);
    let r = c.get("/");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello world\n"[..]));
    assert_eq!(c.get("/status/503").status, 503);
    assert_eq!(c.get("/status/99").status, 400);
    assert_eq!(c.get("/bytes/100000").body, vec![b'x'; 100_000]);
    assert_eq!(c.get("/bytes/huge").status, 400);
    assert_eq!(c.get("/chunked/0").body, b"");
    let t0 = Instant::now();
    assert_eq!(c.get("/delay/60").status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(60));
    assert_eq!(c.get("/delay/forever").status, 400);
    let big = vec![b'y'; 200_000];
    assert_eq!(c.request("POST", "/echo", &[], &big).body, big);
    let h = c.request("HEAD", "/bytes/50", &[], b"");
    assert_eq!(h.header("content-length"), Some("50"));

    // Pipelined: three requests in one write, three answers in order.
    let mut three = encode("GET", "/status/201", &[], b"");
    three.extend_from_slice(&encode("POST", "/echo", &[], b"abc"));
    three.extend_from_slice(&encode("GET", "/", &[], b""));
    c.raw(&three);
    assert_eq!(c.read(false).status, 201);
    assert_eq!(c.read(false).body, b"abc");
    assert_eq!(c.read(false).body, b"hello world\n");

    // /close answers, then closes.
    let r = c.get("/close");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed(), "the connection stays open after /close");

    // Connection: close from the client is honoured.
    let mut c = Client::new(&t);
    assert_eq!(c.request("GET", "/", &[("Connection", "keep-alive, close")], b"").status, 200);
    assert!(c.closed());

    // Malformed heads and bodies: an answer, then close; never a dead server.
    for (raw, code) in [
        (&b"GARBAGE\r\n\r\n"[..], 400),
        (b"GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 411),
        (b"POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
    ] {
        let mut c = Client::new(&t);
        c.raw(raw);
        assert_eq!(c.read(false).status, code, "{:?}", String::from_utf8_lossy(raw));
        assert!(c.closed());
    }
    let mut c = Client::new(&t);
    assert_eq!(c.get("/").status, 200);
    t.stop();
}

#[test]
fn stop_returns_with_requests_still_held() {
    let t = start(2);
    let mut c = Client::new(&t);
    c.raw(&encode("GET", "/delay/60000", &[], b""));
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    t.stop();
    assert!(t0.elapsed() < Duration::from_secs(5), "stop took {:?}", t0.elapsed());
}

#[test]
fn schedule_answers_after_high_ms_inside_its_window_and_base_ms_outside() {
    let t = start(1);
    let mut c = Client::new(&t);
    assert_eq!(c.get("/").status, 200);
    let timed = |c: &mut Client, path: &str| {
        let t0 = Instant::now();
        assert_eq!(c.get(path).status, 200, "{path}");
        t0.elapsed()
    };
    let now = t.shared.started.elapsed().as_millis() as u64;
    let inside = timed(&mut c, &format!("/schedule/0/300/{now}/{}", now + 60_000));
    assert!(inside >= Duration::from_millis(300), "inside the window: answered after {inside:?}");
    let before = timed(&mut c, &format!("/schedule/150/5000/{}/{}", now + 60_000, now + 120_000));
    assert!(before >= Duration::from_millis(150) && before < Duration::from_millis(2000), "before it: {before:?}");
    let after = timed(&mut c, "/schedule/0/5000/0/1");
    assert!(after < Duration::from_millis(2000), "after it: answered after {after:?}");
    for bad in
        ["/schedule/1/2/3", "/schedule/1/2/5/4", "/schedule/x/1/1/2", "/schedule/700000/1/1/2", "/schedule/1/2/3/4/5"]
    {
        assert_eq!(c.get(bad).status, 400, "{bad}");
    }
    assert_eq!(t.counters.route("GET /schedule"), 3 + 5);
    t.stop();
}
