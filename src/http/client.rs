//! A small blocking HTTP/1.1 client for side work off the workers' threads (remote write,
//! monitoring): one request per connection, a deadline over connect, send and answer, http and
//! https (rustls, the system's roots), `user:password@` sent as basic auth.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest answer kept (bytes); the rest is read and dropped.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Where requests go, and how to reach it.
#[derive(Clone)]
pub struct Endpoint {
    url: url::Url,
    /// The URL without its password, for messages and results.
    pub shown: String,
    /// `Basic` credentials from the URL's user info.
    auth: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// A complete answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Ok for a 2xx; otherwise the status and the start of the body.
    pub fn ok(self) -> Result<Answer, String> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let text = self.text();
        let cut: String = text.trim().chars().take(200).collect();
        Err(format!("HTTP {}{}{cut}", self.status, if cut.is_empty() { "" } else { ": " }))
    }
}

impl Endpoint {
    pub fn new(url: url::Url) -> Endpoint {
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

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// GET `path_and_query` (relative to the endpoint's origin; `None`: the URL's own).
    pub fn get(&self, path_and_query: Option<&str>, timeout: Duration) -> Result<Answer, String> {
        self.request("GET", path_and_query, &[], &[], timeout)
    }

    /// Send one request and read its answer, all within `timeout`.
    pub fn request(
        &self,
        method: &str,
        path_and_query: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Answer, String> {
        let deadline = Instant::now() + timeout;
        let host = self.url.host_str().unwrap_or_default();
        let port = self.url.port_or_known_default().unwrap_or(80);
        let addrs = self.url.socket_addrs(|| Some(port)).map_err(|e| format!("cannot resolve {host}: {e}"))?;
        let mut last = format!("{host} has no address");
        let mut tcp = None;
        for a in addrs {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
            match TcpStream::connect_timeout(&a, left) {
                Ok(t) => {
                    tcp = Some(t);
                    break;
                }
                Err(e) => last = format!("cannot connect to {a}: {e}"),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        let _ = tcp.set_nodelay(true);
        let target = match path_and_query {
            Some(p) => p.to_string(),
            None => {
                let mut p = self.url.path().to_string();
                if let Some(q) = self.url.query() {
                    p.push('?');
                    p.push_str(q);
                }
                p
            }
        };
        let authority = match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\n");
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: Basic {a}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        let raw = match &self.tls {
            Some(config) => {
                let name = crate::tls::server_name(host).map_err(|e| e.to_string())?;
                let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
                exchange(rustls::StreamOwned::new(conn, tcp), head.as_bytes(), body, deadline)
            }
            None if self.url.scheme() == "https" => return Err("TLS could not be set up".into()),
            None => exchange(tcp, head.as_bytes(), body, deadline),
        }
        .map_err(|e| e.to_string())?;
        parse_answer(&raw)
    }
}

/// Send the request, read the answer until it is complete or the server closes.
fn exchange(mut s: impl Read + Write, head: &[u8], body: &[u8], deadline: Instant) -> std::io::Result<Vec<u8>> {
    s.write_all(head)?;
    s.write_all(body)?;
    s.flush()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no complete answer in time"));
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if answer.len() < MAX_ANSWER {
                    answer.extend_from_slice(&buf[..n]);
                }
                if complete(&answer) {
                    break;
                }
            }
            // A signal (Ctrl-C's handler, a stop and continue) lands during the read: a read
            // with a timeout is never restarted by the kernel, so read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A TLS peer that closes without close_notify: what came is the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(answer)
}

/// The head, and its body length when it says (`None`: read to the close, or chunked).
fn head_of(answer: &[u8]) -> Option<(usize, u16, Option<usize>, bool)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    match r.parse(answer) {
        Ok(httparse::Status::Complete(n)) => {
            let find = |name: &str| {
                r.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
            };
            let len = find("content-length").and_then(|v| v.trim().parse::<usize>().ok());
            let chunked = find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
            Some((n, r.code.unwrap_or(0), len, chunked))
        }
        _ => None,
    }
}

/// The answer's head has come, and all of its body.
fn complete(answer: &[u8]) -> bool {
    match head_of(answer) {
        Some((n, code, len, chunked)) => {
            if code == 204 || code == 304 {
                true
            } else if chunked {
                answer[n..].ends_with(b"0\r\n\r\n")
            } else {
                len.is_some_and(|l| answer.len() >= n + l)
            }
        }
        None => false,
    }
}

/// Status and body of a raw answer (chunked bodies joined).
fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let Some((n, status, len, chunked)) = head_of(raw) else {
        return Err(if raw.is_empty() {
            "the server closed the connection without answering".into()
        } else {
            "the answer is not HTTP".into()
        });
    };
    let rest = &raw[n..];
    let body = if chunked {
        let mut body = Vec::new();
        let mut p = crate::http::chunked::ChunkedDecoder::default();
        let _ = p.decode(rest, |piece| body.extend_from_slice(piece));
        body
    } else {
        rest[..len.unwrap_or(rest.len()).min(rest.len())].to_vec()
    };
    Ok(Answer { status, body })
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
        assert!(parse_answer(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap().ok().is_ok());
        let a = parse_answer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 21\r\n\r\nout of order sample\r\n").unwrap();
        assert_eq!(a.ok().unwrap_err(), "HTTP 400: out of order sample");
        assert!(parse_answer(b"").unwrap_err().contains("without answering"));
        assert!(parse_answer(b"garbage\r\n\r\n").unwrap_err().contains("not HTTP"));
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
        assert!(!complete(b"HTTP/1.1 200 OK\r\n"));
        assert!(complete(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!complete(b"HTTP/1.1 400 Bad\r\nContent-Length: 5\r\n\r\nabc"));
        assert!(complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(a.body, b"abcde");
    }

    extern "C" fn nothing(_: libc::c_int) {}

    /// Regression: a monitor check failed with "Interrupted system call (os error 4)" when a
    /// signal reached the process during the scrape's read (a socket read with a timeout is
    /// never restarted, SA_RESTART or not).
    #[test]
    fn a_signal_during_the_read_is_not_an_error() {
        // SAFETY: a handler that does nothing, without SA_RESTART, as a program's Ctrl-C handler.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = nothing as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = url::Url::parse(&format!("http://{}/metrics", listener.local_addr().unwrap())).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            std::thread::sleep(Duration::from_millis(300));
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
        });
        // SAFETY: pthread_self of this thread, which lives until the end of the test.
        let me = unsafe { libc::pthread_self() } as usize;
        let poker = std::thread::spawn(move || {
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(40));
                // SAFETY: signalling the test's own thread, alive while it waits for the answer.
                unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
            }
        });
        let answer = Endpoint::new(url).request("GET", None, &[], b"", Duration::from_secs(5));
        poker.join().unwrap();
        server.join().unwrap();
        assert_eq!(answer.unwrap().body, b"ok");
    }
}
