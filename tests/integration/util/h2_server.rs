//! A loopback HTTP/2 (h2c) server whose connections each run a test's script over raw frames:
//! for the hostile servers (frames too large, bad HPACK, no window, no streams, cut frames,
//! resets, GOAWAY) that no real server can be made to be. Thread per connection; dropping the
//! server stops it and joins every thread.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use stampede::http::h2::frame::{self as f, Head};

/// One accepted connection, for a script.
pub struct H2Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    answered_here: u64,
}

impl H2Conn {
    /// Requests this connection answered.
    pub fn answered_here(&self) -> u64 {
        self.answered_here
    }

    /// Read the client's preface and answer with SETTINGS `settings`; false if it was no h2 client.
    pub fn handshake(&mut self, settings: &[(u16, u32)]) -> bool {
        if !self.fill(f::PREFACE.len()) || &self.buf[..f::PREFACE.len()] != f::PREFACE {
            return false;
        }
        self.buf.drain(..f::PREFACE.len());
        let mut out = Vec::new();
        f::write_settings(&mut out, settings);
        self.send(&out)
    }

    /// The next frame from the client.
    pub fn frame(&mut self) -> Option<(Head, Vec<u8>)> {
        if !self.fill(f::HEADER_LEN) {
            return None;
        }
        let h = Head::read(&self.buf);
        if !self.fill(f::HEADER_LEN + h.len) {
            return None;
        }
        let payload = self.buf[f::HEADER_LEN..f::HEADER_LEN + h.len].to_vec();
        self.buf.drain(..f::HEADER_LEN + h.len);
        Some((h, payload))
    }

    /// Read frames up to the next request's HEADERS (SETTINGS acknowledged on the way); its
    /// stream id.
    pub fn request(&mut self) -> Option<u32> {
        loop {
            let (h, _) = self.frame()?;
            if h.kind == f::SETTINGS && h.flags & f::ACK == 0 {
                let mut ack = Vec::new();
                f::write_settings_ack(&mut ack);
                self.send(&ack);
            }
            if h.kind == f::HEADERS {
                return Some(h.stream);
            }
        }
    }

    /// Answer stream `id` with 200 and a two-byte body (counted as answered).
    pub fn answer(&mut self, id: u32) -> bool {
        let mut out = Vec::new();
        f::write_headers(&mut out, id, &[0x88], false, 16_384);
        f::write_data(&mut out, id, b"ok", true);
        self.answered.fetch_add(1, Ordering::SeqCst);
        self.answered_here += 1;
        self.send(&out)
    }

    pub fn send(&mut self, bytes: &[u8]) -> bool {
        !self.stop.load(Ordering::SeqCst) && self.stream.write_all(bytes).is_ok()
    }

    /// Hold the connection open (reading and dropping frames) until the client closes it or the
    /// server stops.
    pub fn linger(&mut self) {
        while self.frame().is_some() {}
    }

    /// Close cleanly: no more bytes from the server, and what the client still sends is read
    /// (for up to `for_at_most`) so the kernel ends the connection with FIN, not a reset.
    pub fn close_after(mut self, for_at_most: Duration) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let end = std::time::Instant::now() + for_at_most;
        while std::time::Instant::now() < end && self.frame().is_some() {}
    }

    fn fill(&mut self, n: usize) -> bool {
        let mut tmp = [0u8; 16_384];
        while self.buf.len() < n {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            match self.stream.read(&mut tmp) {
                Ok(0) => return false,
                Ok(k) => self.buf.extend_from_slice(&tmp[..k]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}

type Script = dyn Fn(H2Conn) + Send + Sync + 'static;

/// A running server on a loopback port.
pub struct H2Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    acceptor: Option<JoinHandle<()>>,
}

impl H2Server {
    pub fn start(script: impl Fn(H2Conn) + Send + Sync + 'static) -> H2Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, answered) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let script: Arc<Script> = Arc::new(script);
        let (s, a) = (stop.clone(), answered.clone());
        let acceptor = thread::spawn(move || {
            let mut conns = Vec::new();
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
                let conn = H2Conn { stream, buf: Vec::new(), stop: s.clone(), answered: a.clone(), answered_here: 0 };
                let script = script.clone();
                conns.push(thread::spawn(move || script(conn)));
            }
            conns.into_iter().for_each(|t| drop(t.join()));
        });
        H2Server { addr, stop, answered, acceptor: Some(acceptor) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests answered by [`H2Conn::answer`].
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}
