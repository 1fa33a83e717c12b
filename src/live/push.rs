//! Prometheus remote write: a thread per endpoint that POSTs the latest snapshot once a second
//! (remote-write 1.0: protobuf, snappy), and once more at the end. A failed push is dropped and
//! counted, the next one waits (1 s, doubling to 30 s), and the first failure is warned about once;
//! seconds that arrive while a push is slow or waiting replace each other and count as dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::prom::{self, Labels, Snapshot};
use crate::report::result::PushReport;

/// Time to connect, and to send a push and read its answer, during the run.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The same for the final push (the run is over; do not hold the exit up for long).
const FINAL_TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

enum Cmd {
    Snapshot(Arc<Snapshot>),
    End,
}

/// One remote-write endpoint's thread.
pub struct Pusher {
    tx: Sender<Cmd>,
    handle: JoinHandle<PushReport>,
}

impl Pusher {
    pub fn start(url: url::Url, labels: Labels) -> Pusher {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("stampede-push".into())
            .spawn(move || run(Endpoint::new(url), labels, rx))
            .expect("spawn the remote-write thread");
        Pusher { tx, handle }
    }

    /// Hand over this second (never blocks).
    pub fn send(&self, s: Arc<Snapshot>) {
        let _ = self.tx.send(Cmd::Snapshot(s));
    }

    /// Push the final counts and report.
    pub fn finish(self) -> PushReport {
        let _ = self.tx.send(Cmd::End);
        let url = String::new();
        self.handle.join().unwrap_or(PushReport {
            kind: "prometheus".into(),
            url,
            last_error: Some("the push thread panicked".into()),
            ..PushReport::default()
        })
    }
}

fn run(endpoint: Endpoint, labels: Labels, rx: Receiver<Cmd>) -> PushReport {
    let mut report = PushReport { kind: "prometheus".into(), url: endpoint.shown.clone(), ..PushReport::default() };
    let mut latest: Option<Arc<Snapshot>> = None;
    let mut pending = false;
    let mut backoff = Duration::ZERO;
    let mut next_try = Instant::now();
    let mut failing = false;
    let take = |cmd: Cmd, latest: &mut Option<Arc<Snapshot>>, pending: &mut bool, report: &mut PushReport| match cmd {
        Cmd::Snapshot(s) => {
            if *pending {
                report.dropped += 1;
            }
            *latest = Some(s);
            *pending = true;
            false
        }
        Cmd::End => true,
    };
    loop {
        let first = if pending {
            match rx.recv_timeout(next_try.saturating_duration_since(Instant::now())) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Cmd::End),
            }
        } else {
            Some(rx.recv().unwrap_or(Cmd::End))
        };
        let mut ended = first.is_some_and(|c| take(c, &mut latest, &mut pending, &mut report));
        while !ended && let Ok(c) = rx.try_recv() {
            ended = take(c, &mut latest, &mut pending, &mut report);
        }
        if ended {
            // Once more at the end, stamped now: the final counts, whatever was sent before.
            if let Some(s) = &latest {
                let mut last = (**s).clone();
                last.timestamp_ms = s.timestamp_ms.max(now_ms());
                match endpoint.push(&last, &labels, FINAL_TIMEOUT) {
                    Ok(()) => report.pushed += 1,
                    Err(e) => {
                        report.dropped += 1;
                        if !failing {
                            eprintln!("warning: the final push to {} failed: {e}", endpoint.shown);
                        }
                        report.last_error = Some(e);
                    }
                }
            }
            return report;
        }
        if !pending || Instant::now() < next_try {
            continue;
        }
        let Some(s) = &latest else { continue };
        pending = false;
        match endpoint.push(s, &labels, TIMEOUT) {
            Ok(()) => {
                report.pushed += 1;
                backoff = Duration::ZERO;
                if failing {
                    eprintln!("remote write to {} works again", endpoint.shown);
                    failing = false;
                }
            }
            Err(e) => {
                report.dropped += 1;
                backoff = (backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                next_try = Instant::now() + backoff;
                if !failing && report.last_error.is_none() {
                    eprintln!(
                        "warning: remote write to {} failed: {e}; the run goes on, pushes are retried with backoff and dropped ones counted",
                        endpoint.shown
                    );
                }
                failing = true;
                report.last_error = Some(e);
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Where pushes go, and how to reach it.
struct Endpoint {
    url: url::Url,
    /// The URL without its password, for messages and the result.
    shown: String,
    /// `Basic` credentials from the URL's user info.
    auth: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    fn new(url: url::Url) -> Endpoint {
        use base64::Engine as _;
        let auth = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            let pass = url.password().map(percent_decode).unwrap_or_default();
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        });
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        let tls = (url.scheme() == "https")
            .then(|| crate::tls::client_config(&crate::tls::TlsOptions::default()).ok())
            .flatten();
        Endpoint { shown: shown.to_string(), url, auth, tls }
    }

    /// POST one snapshot; Ok on a 2xx answer.
    fn push(&self, s: &Snapshot, labels: &Labels, timeout: Duration) -> Result<(), String> {
        let series = prom::series(s, labels);
        let body = prom::encode(&series).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        let host = self.url.host_str().unwrap_or_default();
        let port = self.url.port_or_known_default().unwrap_or(80);
        let addrs = self.url.socket_addrs(|| Some(port)).map_err(|e| format!("cannot resolve {host}: {e}"))?;
        let mut last = format!("{host} has no address");
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(t) => {
                    tcp = Some(t);
                    break;
                }
                Err(e) => last = format!("cannot connect to {a}: {e}"),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        let _ = tcp.set_nodelay(true);
        let mut path = self.url.path().to_string();
        if let Some(q) = self.url.query() {
            path.push('?');
            path.push_str(q);
        }
        let authority = match self.url.port() {
            Some(p) => format!("{}:{p}", self.url.host_str().unwrap_or_default()),
            None => host.to_string(),
        };
        let mut head = format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in prom::headers() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: Basic {a}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        let answer = match &self.tls {
            Some(config) => {
                let name = crate::tls::server_name(host).map_err(|e| e.to_string())?;
                let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
                exchange(rustls::StreamOwned::new(conn, tcp), head.as_bytes(), &body)
            }
            None if self.url.scheme() == "https" => return Err("TLS could not be set up".into()),
            None => exchange(tcp, head.as_bytes(), &body),
        }
        .map_err(|e| format!("{e}"))?;
        status_of(&answer)
    }
}

/// Send the request, read the answer until the server closes (at most 64 KiB kept).
fn exchange(mut s: impl Read + Write, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(head)?;
    s.write_all(body)?;
    s.flush()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if answer.len() < 64 * 1024 {
                    answer.extend_from_slice(&buf[..n]);
                }
                if complete(&answer) {
                    break;
                }
            }
            // A TLS peer that closes without close_notify: what came is the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(answer)
}

/// The answer's head has come, and as much body as its Content-Length says.
fn complete(answer: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    match r.parse(answer) {
        Ok(httparse::Status::Complete(n)) => {
            let len = r
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok());
            len.is_some_and(|l| answer.len() >= n + l)
        }
        _ => false,
    }
}

/// Ok for a 2xx answer; otherwise the status and the start of the body.
fn status_of(answer: &[u8]) -> Result<(), String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let n = match r.parse(answer) {
        Ok(httparse::Status::Complete(n)) => n,
        _ if answer.is_empty() => return Err("the server closed the connection without answering".into()),
        _ => return Err("the answer is not HTTP".into()),
    };
    let code = r.code.unwrap_or(0);
    if (200..300).contains(&code) {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&answer[n..]);
    let body = body.trim();
    let cut: String = body.chars().take(200).collect();
    Err(format!("HTTP {code}{}{cut}", if cut.is_empty() { "" } else { ": " }))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map_or_else(|| s.to_string(), |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_2xx_answer_is_success_anything_else_says_why() {
        assert!(status_of(b"HTTP/1.1 204 No Content\r\n\r\n").is_ok());
        let e =
            status_of(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 22\r\n\r\nout of order sample\r\n").unwrap_err();
        assert_eq!(e, "HTTP 400: out of order sample");
        assert!(status_of(b"").unwrap_err().contains("without answering"));
        assert!(status_of(b"garbage\r\n\r\n").unwrap_err().contains("not HTTP"));
    }

    #[test]
    fn credentials_go_in_a_header_not_in_messages() {
        let e = Endpoint::new(url::Url::parse("https://me:s%40cret@example.com/push").unwrap());
        assert_eq!(e.shown, "https://me:***@example.com/push");
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(e.auth.unwrap()).unwrap();
        assert_eq!(decoded, b"me:s@cret");
    }

    #[test]
    fn an_answer_is_complete_once_its_body_is_in() {
        assert!(!complete(b"HTTP/1.1 204 No Content\r\n"));
        assert!(complete(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"));
        assert!(!complete(b"HTTP/1.1 400 Bad\r\nContent-Length: 5\r\n\r\nabc"));
    }
}
