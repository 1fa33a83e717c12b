//! A small web app for journey tests, served over HTTP or HTTPS (rustls, a certificate from
//! [`Pki`](super::tls_server::Pki)): a login that sets a session cookie and returns a token,
//! redirects (relative, absolute, 303 after a POST, an endless loop), a page that needs the
//! session cookie, a page that needs an API key, items by id. Thread per connection over
//! std::net, keep-alive, Content-Length request bodies. It counts what it served (per route and
//! method, per login email, per item id) and records the raw request heads, and stops (joining
//! every thread) when dropped.
//!
//! Routes (any method unless named):
//! - `POST /login` `{"email":..,"password":..}`: 200 `{"token":"tok-<email>"}` with
//!   `Set-Cookie: sid=<random hex>; Path=/; HttpOnly` (`; Secure` over HTTPS); password `wrong`:
//!   401 `{"error":"bad password"}`, no cookie; a body that is not such JSON: 400.
//! - `/start`: 302 to `/home` (relative); `/start-abs`: 301 to this server's absolute `/home`;
//!   `/submit`: 303 to `/done`; `/done`: 200 (a POST reaching it is a client bug, counted as
//!   `POST /done`).
//! - `GET /home`: 200 `welcome` when the `Cookie` header carries a `sid` this server issued (or
//!   [`App::accept_sid`] added), else 401. With an `X-Email` header naming someone else than the
//!   sid's owner: 403 (someone else's cookie jar).
//! - `/loop` and `/loop/<tag>`: 302 to themselves, forever.
//! - `GET /bad-cookie`: 200 with a malformed `Set-Cookie: ;;==`.
//! - `GET /secure`: 200 when `X-Api-Key` equals [`App::set_api_key`]'s key, else 403.
//! - `GET /item/<id>`: 200 `{"id":"<id>","status":"active"}`; `POST /items`: 201 `{"id":"<n>"}`,
//!   n = 1, 2, 3...; `POST /items/flaky`: the same for its 1st, 3rd, 5th... request, 500
//!   `{"error":"try again"}` for every other (fails half the time); `GET /items`: 200 `[]`.
//! - anything else: 404.
//!
//! Counter keys for [`App::count`]: `"<METHOD> <path>"` for every request (the path without its
//! query; `/item/<id>` counted as `/item/:id`), and the outcomes `login_ok`, `login_failed`,
//! `home_ok`, `home_ok:<email of the session's owner>`, `home_denied`, `home_wrong_user`,
//! `secure_ok`, `secure_denied`, `with_cookie` (requests that carried a `Cookie` header),
//! `body_on_get` (a GET or HEAD with a body: a redirect that turned into a GET kept the body) and
//! `not_found`.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::aws_lc_rs;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::server::Request;
use super::tls_server::Identity;

/// How often a connection thread blocked in a read looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// Request heads kept for [`App::heads`]; later ones are only counted.
const MAX_HEADS: usize = 20_000;

#[derive(Default)]
struct State {
    counts: HashMap<String, u64>,
    logins: HashMap<String, u64>,
    items: HashMap<String, u64>,
    /// Issued session ids and whose they are.
    sids: HashMap<String, String>,
    api_keys: Vec<String>,
    heads: Vec<Vec<u8>>,
    /// Requests whose head or body holds `{{`: a template hole sent unfilled.
    unfilled: u64,
    next_item: u64,
    /// `POST /items/flaky` requests so far (every second one fails).
    flaky: u64,
}

struct Shared {
    stop: AtomicBool,
    https: bool,
    addr: SocketAddr,
    connections: AtomicU64,
    requests: AtomicU64,
    api_key: Mutex<Option<String>>,
    state: Mutex<State>,
}

/// The running app on 127.0.0.1, an ephemeral port. Dropping it stops it and joins its threads.
pub struct App {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl App {
    /// Plain HTTP.
    pub fn http() -> App {
        App::start(None)
    }

    /// HTTPS with this certificate (from `Pki::server(&["127.0.0.1", "localhost"])`).
    pub fn https(identity: Identity) -> App {
        App::start(Some(identity))
    }

    fn start(identity: Option<Identity>) -> App {
        let config = identity.map(|id| {
            let provider = Arc::new(aws_lc_rs::default_provider());
            let mut config = ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(vec![id.cert_der.clone()], id.key_der())
                .expect("server certificate");
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            https: config.is_some(),
            addr,
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            api_key: Mutex::new(None),
            state: Mutex::new(State::default()),
        });
        let s = shared.clone();
        let acceptor = thread::Builder::new()
            .name(format!("test-app-{}", addr.port()))
            .spawn(move || accept_loop(listener, config, s))
            .expect("spawn the acceptor");
        App { shared, acceptor: Some(acceptor) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn port(&self) -> u16 {
        self.shared.addr.port()
    }

    /// `http://127.0.0.1:port{path}` (`https://` when serving HTTPS).
    pub fn url(&self, path: &str) -> String {
        self.shared.url(path)
    }

    /// `GET /secure` answers 200 only with `X-Api-Key: key`.
    pub fn set_api_key(&self, key: &str) {
        *self.shared.api_key.lock().unwrap() = Some(key.to_string());
    }

    /// Treat `sid` as a session this server issued to `email` (for cookies a scenario sets).
    pub fn accept_sid(&self, sid: &str, email: &str) {
        self.shared.state.lock().unwrap().sids.insert(sid.to_string(), email.to_string());
    }

    /// A counter (see the module docs for the keys); 0 when never counted.
    pub fn count(&self, key: &str) -> u64 {
        self.shared.state.lock().unwrap().counts.get(key).copied().unwrap_or(0)
    }

    /// Every counter, for assertion messages.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared.state.lock().unwrap().counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Successful logins of this email.
    pub fn logins_of(&self, email: &str) -> u64 {
        self.shared.state.lock().unwrap().logins.get(email).copied().unwrap_or(0)
    }

    /// Successful logins, all emails.
    pub fn logins(&self) -> u64 {
        self.shared.state.lock().unwrap().logins.values().sum()
    }

    /// Successful logins per email.
    pub fn logins_by_email(&self) -> BTreeMap<String, u64> {
        self.shared.state.lock().unwrap().logins.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// `GET /item/<id>` requests for this id.
    pub fn item_count(&self, id: &str) -> u64 {
        self.shared.state.lock().unwrap().items.get(id).copied().unwrap_or(0)
    }

    /// `GET /item/<id>` requests per id.
    pub fn items(&self) -> BTreeMap<String, u64> {
        self.shared.state.lock().unwrap().items.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Every `X-Api-Key` value received, on any route, in arrival order.
    pub fn api_keys(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().api_keys.clone()
    }

    /// The raw heads (request line and headers) of the first requests received, in arrival order.
    pub fn heads(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().heads.iter().map(|h| String::from_utf8_lossy(h).into_owned()).collect()
    }

    /// How many of the kept heads contain `needle`.
    pub fn heads_containing(&self, needle: &str) -> u64 {
        let state = self.shared.state.lock().unwrap();
        state.heads.iter().filter(|h| h.windows(needle.len().max(1)).any(|w| w == needle.as_bytes())).count() as u64
    }

    /// Requests whose head or body held `{{`: a template hole that went out unfilled.
    pub fn unfilled(&self) -> u64 {
        self.shared.state.lock().unwrap().unfilled
    }

    /// Requests read, all routes.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// One line about what the app saw, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "app: {} connections, {} requests, counts {:?}, logins {:?}, items {:?}",
            self.connections(),
            self.requests(),
            self.counts(),
            self.logins_by_email(),
            self.items()
        )
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the acceptor sees the flag and joins its connections.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", if self.https { "https" } else { "http" }, self.addr)
    }

    fn bump(state: &mut State, key: &str) {
        *state.counts.entry(key.to_string()).or_default() += 1;
    }
}

fn accept_loop(listener: TcpListener, config: Option<Arc<ServerConfig>>, shared: Arc<Shared>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(tcp) = stream else { continue };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let _ = tcp.set_nodelay(true);
        let _ = tcp.set_read_timeout(Some(POLL));
        let _ = tcp.set_write_timeout(Some(Duration::from_secs(2)));
        let (config, s) = (config.clone(), shared.clone());
        threads.retain(|t| !t.is_finished());
        let spawned = thread::Builder::new().name("test-app-conn".into()).spawn(move || match config {
            Some(config) => {
                let Ok(conn) = ServerConnection::new(config) else { return };
                serve(&mut StreamOwned::new(conn, tcp), &s);
            }
            None => serve(&mut { tcp }, &s),
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("test app: cannot spawn a connection thread: {e}"),
        }
    }
    for t in threads {
        let _ = t.join();
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// Answer requests until the peer closes, asks to close, or the app stops. Over TLS the handshake
/// happens inside the first read.
fn serve<S: Read + Write>(stream: &mut S, shared: &Shared) {
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = [0u8; 16 * 1024];
    let mut on_conn = 0u64;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Some((head_len, len)) = super::server::request_extent(&buf) {
            let (method, target, head, body) = super::server::take_request(&mut buf, head_len, len);
            let index = shared.requests.fetch_add(1, Ordering::SeqCst);
            let req = Request { conn: 0, on_conn, index, method, target, head, body };
            on_conn += 1;
            let close = req.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
            let response = handle(&req, shared, close);
            if stream.write_all(&response).and_then(|_| stream.flush()).is_err() || close {
                return;
            }
            continue;
        }
        match stream.read(&mut tmp) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if retry(&e) => {}
            Err(_) => return,
        }
    }
}

/// Every value of every `name` header (case-insensitive), in order.
fn headers(req: &Request, name: &str) -> Vec<String> {
    let head = String::from_utf8_lossy(&req.head);
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .collect()
}

/// The `sid` values in the request's `Cookie` headers.
fn sids(req: &Request) -> Vec<String> {
    headers(req, "cookie")
        .iter()
        .flat_map(|h| h.split(';').map(str::trim).filter_map(|c| c.strip_prefix("sid=")).map(str::to_string))
        .collect::<Vec<_>>()
}

/// A fresh session id: 16 hex digits, different for every call in this process.
fn fresh_sid() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    // splitmix64 of a counter mixed with the clock.
    let mut z = nanos ^ N.fetch_add(1, Ordering::SeqCst).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:016x}", z ^ (z >> 31))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Whatever",
    }
}

/// A complete response: status line, these headers, Content-Length, the body.
fn response(code: u16, extra: &[(&str, String)], body: &str, close: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

fn json_type(code: u16, body: &str, close: bool) -> Vec<u8> {
    response(code, &[("Content-Type", "application/json".into())], body, close)
}

fn redirect(code: u16, location: String, close: bool) -> Vec<u8> {
    response(code, &[("Location", location)], "moved", close)
}

/// Route one request, counting it; returns the response bytes.
fn handle(req: &Request, shared: &Shared, close: bool) -> Vec<u8> {
    let path = req.target.split('?').next().unwrap_or_default().to_string();
    let method = req.method.as_str();
    let mut state = shared.state.lock().unwrap();
    let state = &mut *state;
    let route = if path.starts_with("/item/") { "/item/:id" } else { path.as_str() };
    Shared::bump(state, &format!("{method} {route}"));
    if state.heads.len() < MAX_HEADS {
        state.heads.push(req.head.clone());
    }
    if req.head.windows(2).any(|w| w == b"{{") || req.body.windows(2).any(|w| w == b"{{") {
        state.unfilled += 1;
    }
    state.api_keys.extend(headers(req, "x-api-key"));
    if !headers(req, "cookie").is_empty() {
        Shared::bump(state, "with_cookie");
    }
    if matches!(method, "GET" | "HEAD") && !req.body.is_empty() {
        Shared::bump(state, "body_on_get");
    }

    match (method, path.as_str()) {
        ("POST", "/login") => {
            let parsed: Option<(String, String)> = serde_json::from_slice::<serde_json::Value>(&req.body)
                .ok()
                .and_then(|v| Some((v.get("email")?.as_str()?.to_string(), v.get("password")?.as_str()?.to_string())));
            match parsed {
                None => json_type(400, r#"{"error":"want {\"email\":..,\"password\":..}"}"#, close),
                Some((_, password)) if password == "wrong" => {
                    Shared::bump(state, "login_failed");
                    json_type(401, r#"{"error":"bad password"}"#, close)
                }
                Some((email, _)) => {
                    Shared::bump(state, "login_ok");
                    *state.logins.entry(email.clone()).or_default() += 1;
                    let sid = fresh_sid();
                    state.sids.insert(sid.clone(), email.clone());
                    let secure = if shared.https { "; Secure" } else { "" };
                    let body = serde_json::json!({ "token": format!("tok-{email}") }).to_string();
                    response(
                        200,
                        &[
                            ("Content-Type", "application/json".into()),
                            ("Set-Cookie", format!("sid={sid}; Path=/; HttpOnly{secure}")),
                        ],
                        &body,
                        close,
                    )
                }
            }
        }
        (_, "/start") => redirect(302, "/home".into(), close),
        (_, "/start-abs") => redirect(301, shared.url("/home"), close),
        (_, "/submit") => redirect(303, "/done".into(), close),
        (_, "/done") => response(200, &[], "done", close),
        (_, p) if p == "/loop" || p.starts_with("/loop/") => redirect(302, p.to_string(), close),
        ("GET", "/home") => {
            let owners: Vec<String> = sids(req).iter().filter_map(|s| state.sids.get(s).cloned()).collect();
            let claimed = headers(req, "x-email").into_iter().next();
            if owners.is_empty() {
                Shared::bump(state, "home_denied");
                response(401, &[], "log in first", close)
            } else if claimed.is_some_and(|c| !owners.contains(&c)) {
                Shared::bump(state, "home_wrong_user");
                response(403, &[], "that is someone else's session", close)
            } else {
                Shared::bump(state, "home_ok");
                Shared::bump(state, &format!("home_ok:{}", owners[0]));
                response(200, &[], "welcome", close)
            }
        }
        ("GET", "/bad-cookie") => response(200, &[("Set-Cookie", ";;==".into())], "crumbs", close),
        ("GET", "/secure") => {
            let want = shared.api_key.lock().unwrap().clone();
            let got = headers(req, "x-api-key").into_iter().next();
            if want.is_some() && got == want {
                Shared::bump(state, "secure_ok");
                response(200, &[], "secret", close)
            } else {
                Shared::bump(state, "secure_denied");
                response(403, &[], "bad api key", close)
            }
        }
        ("GET", p) if p.starts_with("/item/") => {
            let id = p["/item/".len()..].to_string();
            *state.items.entry(id.clone()).or_default() += 1;
            json_type(200, &serde_json::json!({ "id": id, "status": "active" }).to_string(), close)
        }
        ("POST", "/items") => {
            state.next_item += 1;
            json_type(201, &format!(r#"{{"id":"{}"}}"#, state.next_item), close)
        }
        ("POST", "/items/flaky") => {
            state.flaky += 1;
            if state.flaky % 2 == 0 {
                return json_type(500, r#"{"error":"try again"}"#, close);
            }
            state.next_item += 1;
            json_type(201, &format!(r#"{{"id":"{}"}}"#, state.next_item), close)
        }
        ("GET", "/items") => json_type(200, "[]", close),
        _ => {
            Shared::bump(state, "not_found");
            response(404, &[], "not found", close)
        }
    }
}

/// The app's own checks, with a raw client: `cargo test --test integration app::`.
mod tests {
    use super::*;
    use crate::util::TempDir;
    use crate::util::tls_server::Pki;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection};

    /// One response as the raw client read it.
    struct Reply {
        status: u16,
        head: String,
        body: String,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<String> {
            self.head.split("\r\n").skip(1).find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        }
    }

    /// Write `request`, read one Content-Length response.
    fn exchange<S: Read + Write>(s: &mut S, request: &str) -> Reply {
        s.write_all(request.as_bytes()).and_then(|_| s.flush()).expect("write the request");
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let len: usize = head
                    .split("\r\n")
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .expect("Content-Length")
                    .parse()
                    .unwrap();
                if buf.len() >= end + len {
                    let status = head[9..12].parse().expect("status code");
                    let body = String::from_utf8_lossy(&buf[end..end + len]).into_owned();
                    return Reply { status, head, body };
                }
            }
            let n = s.read(&mut tmp).expect("read the response");
            assert!(n > 0, "the app closed the connection mid-response: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    fn get(path: &str, headers: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n")
    }

    fn post(path: &str, body: &str) -> String {
        format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    }

    fn login(email: &str, password: &str) -> String {
        post("/login", &format!(r#"{{"email":"{email}","password":"{password}"}}"#))
    }

    /// `sid=...` from a Set-Cookie header.
    fn cookie_of(r: &Reply) -> String {
        r.header("set-cookie").expect("Set-Cookie").split(';').next().unwrap().to_string()
    }

    #[test]
    fn login_cookie_opens_home_for_its_owner_only() {
        let app = App::http();
        let mut c = TcpStream::connect(app.addr()).unwrap();
        let r = exchange(&mut c, &login("a@app.test", "pw"));
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"token":"tok-a@app.test"}"#));
        let set = r.header("set-cookie").unwrap();
        assert!(set.starts_with("sid=") && set.ends_with("; Path=/; HttpOnly"), "{set}");
        let sid = cookie_of(&r);
        assert_eq!(sid.len(), "sid=".len() + 16);
        // Same connection (keep-alive): with the cookie, without it, with someone else's.
        assert_eq!(exchange(&mut c, &get("/home", &format!("Cookie: x=1; {sid}\r\n"))).status, 200);
        assert_eq!(exchange(&mut c, &get("/home", "")).status, 401);
        assert_eq!(exchange(&mut c, &get("/home", "Cookie: sid=0123456789abcdef\r\n")).status, 401);
        let other = format!("Cookie: {sid}\r\nX-Email: b@app.test\r\n");
        assert_eq!(exchange(&mut c, &get("/home", &other)).status, 403);
        let mine = format!("Cookie: {sid}\r\nX-Email: a@app.test\r\n");
        assert_eq!(exchange(&mut c, &get("/home", &mine)).status, 200);
        app.accept_sid("preset", "p@app.test");
        assert_eq!(exchange(&mut c, &get("/home", "Cookie: sid=preset\r\n")).status, 200);
        assert_eq!((app.count("home_ok:p@app.test"), app.count("home_ok:a@app.test")), (1, 2));
        let second = cookie_of(&exchange(&mut c, &login("a@app.test", "pw")));
        assert_ne!(second, sid, "every login gets a fresh session id");
        assert_eq!(exchange(&mut c, &login("b@app.test", "wrong")).status, 401);
        assert_eq!(exchange(&mut c, &post("/login", "not json")).status, 400);
        assert_eq!((app.logins_of("a@app.test"), app.logins_of("b@app.test"), app.logins()), (2, 0, 2));
        assert_eq!((app.count("home_ok"), app.count("home_denied"), app.count("home_wrong_user")), (3, 2, 1));
        assert_eq!((app.count("login_ok"), app.count("login_failed"), app.count("POST /login")), (2, 1, 4));
        assert_eq!(app.count("with_cookie"), 5);
        assert_eq!((app.connections(), app.requests()), (1, 10));
    }

    #[test]
    fn redirects_loops_items_and_unknown_routes() {
        let app = App::http();
        let mut c = TcpStream::connect(app.addr()).unwrap();
        let r = exchange(&mut c, &get("/start", ""));
        assert_eq!((r.status, r.header("location")), (302, Some("/home".into())));
        let r = exchange(&mut c, &get("/start-abs", ""));
        assert_eq!((r.status, r.header("location")), (301, Some(app.url("/home"))));
        assert!(app.url("/home").starts_with("http://127.0.0.1:"));
        let r = exchange(&mut c, &post("/submit", "a=1"));
        assert_eq!((r.status, r.header("location")), (303, Some("/done".into())));
        assert_eq!(exchange(&mut c, &get("/done", "")).status, 200);
        assert_eq!(exchange(&mut c, &post("/done", "")).status, 200);
        assert_eq!(exchange(&mut c, &get("/loop", "")).header("location"), Some("/loop".into()));
        assert_eq!(exchange(&mut c, &get("/loop/x?q=1", "")).header("location"), Some("/loop/x".into()));
        let r = exchange(&mut c, &get("/bad-cookie", ""));
        assert_eq!((r.status, r.header("set-cookie")), (200, Some(";;==".into())));
        let r = exchange(&mut c, &get("/item/7?x=y", ""));
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"id":"7","status":"active"}"#));
        exchange(&mut c, &get("/item/7", ""));
        let r = exchange(&mut c, &post("/items", "{}"));
        assert_eq!((r.status, r.body.as_str()), (201, r#"{"id":"1"}"#));
        assert_eq!(exchange(&mut c, &post("/items", "{}")).body, r#"{"id":"2"}"#);
        assert_eq!(exchange(&mut c, &get("/nowhere", "")).status, 404);
        exchange(&mut c, "GET /done HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
        assert_eq!((app.item_count("7"), app.count("GET /item/:id")), (2, 2));
        assert_eq!((app.count("GET /done"), app.count("POST /done"), app.count("body_on_get")), (2, 1, 1));
        assert_eq!((app.count("GET /loop"), app.count("GET /loop/x"), app.count("not_found")), (1, 1, 1));
        // Connection: close is honoured.
        let r = exchange(&mut c, &get("/done", "Connection: close\r\n"));
        assert_eq!(r.header("connection"), Some("close".into()));
        assert_eq!(c.read(&mut [0u8; 16]).unwrap(), 0, "closed after a Connection: close");
    }

    #[test]
    fn secure_needs_the_key_and_every_key_and_head_is_recorded() {
        let app = App::http();
        let mut c = TcpStream::connect(app.addr()).unwrap();
        assert_eq!(exchange(&mut c, &get("/secure", "X-Api-Key: k1\r\n")).status, 403, "no key configured");
        app.set_api_key("k1");
        assert_eq!(exchange(&mut c, &get("/secure", "X-Api-Key: k1\r\n")).status, 200);
        assert_eq!(exchange(&mut c, &get("/secure", "X-Api-Key: {{env.API_KEY}}\r\n")).status, 403);
        assert_eq!(exchange(&mut c, &get("/secure", "")).status, 403);
        assert_eq!(exchange(&mut c, &post("/items", r#"{"a":"{{x}}"}"#)).status, 201);
        assert_eq!(app.api_keys(), ["k1", "k1", "{{env.API_KEY}}"]);
        assert_eq!((app.count("secure_ok"), app.count("secure_denied")), (1, 3));
        assert_eq!(app.unfilled(), 2, "one in a header, one in a body");
        assert_eq!(app.heads().len(), 5);
        assert!(app.heads()[1].starts_with("GET /secure HTTP/1.1\r\n"), "{:?}", app.heads());
        assert_eq!(app.heads_containing("X-Api-Key: k1\r\n"), 2);
    }

    #[test]
    fn https_serves_the_same_app_with_secure_cookies() {
        let pki = Pki::new("app test CA");
        let app = App::https(pki.server(&["127.0.0.1", "localhost"]));
        assert!(app.url("/x").starts_with("https://127.0.0.1:"));
        let config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(pki.roots())
            .with_no_client_auth();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut s = StreamOwned::new(conn, TcpStream::connect(app.addr()).unwrap());
        let r = exchange(&mut s, &login("s@app.test", "pw"));
        assert_eq!(r.status, 200);
        let set = r.header("set-cookie").unwrap();
        assert!(set.ends_with("; Path=/; HttpOnly; Secure"), "{set}");
        let sid = cookie_of(&r);
        assert_eq!(exchange(&mut s, &get("/home", &format!("Cookie: {sid}\r\n"))).status, 200);
        let r = exchange(&mut s, &get("/start-abs", ""));
        assert_eq!(r.header("location"), Some(app.url("/home")));
        assert_eq!((app.logins_of("s@app.test"), app.count("home_ok"), app.connections()), (1, 1, 1));
        // The CA file a run would be given.
        let dir = TempDir::new("app-ca");
        assert!(std::fs::read_to_string(pki.write_ca(&dir)).unwrap().contains("BEGIN CERTIFICATE"));
    }

    #[test]
    fn drop_stops_the_app_with_a_client_still_connected() {
        let app = App::http();
        let addr = app.addr();
        let mut c = TcpStream::connect(addr).unwrap();
        assert_eq!(exchange(&mut c, &get("/done", "")).status, 200);
        let started = std::time::Instant::now();
        drop(app);
        assert!(started.elapsed() < Duration::from_secs(2), "stopping took {:?}", started.elapsed());
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        assert!(matches!(c.read(&mut [0u8; 16]), Ok(0) | Err(_)), "the connection is closed");
        assert!(TcpStream::connect(addr).is_err(), "nothing listens any more");
    }
}
