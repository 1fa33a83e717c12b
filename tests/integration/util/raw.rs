//! A loopback server whose connections are each handed to a test's script as a raw
//! [`RawConn`]: for what a response table cannot say (resets, endless or trickled answers).
//! Thread per connection; dropping the server stops it and joins every thread.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a connection blocked in a read looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connections: AtomicU64,
    requests: AtomicU64,
    bytes_sent: AtomicU64,
}

/// One accepted connection, for a script.
pub struct RawConn {
    stream: TcpStream,
    /// Connection number, 0-based in accept order.
    pub index: u64,
    /// Requests read on this connection so far.
    pub requests: u64,
    buf: Vec<u8>,
    shared: Arc<Shared>,
}

impl RawConn {
    /// Read up to the end of the next request head (requests here have no body). False when the
    /// peer closed, the connection failed, or the server stops.
    pub fn read_request(&mut self) -> bool {
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                self.buf.drain(..end + 4);
                self.requests += 1;
                self.shared.requests.fetch_add(1, Ordering::SeqCst);
                return true;
            }
            if self.stopped() {
                return false;
            }
            match self.stream.read(&mut tmp) {
                Ok(0) => return false,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Write all of `bytes`; false if the peer is gone or the server stops.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        if self.stopped() || self.stream.write_all(bytes).is_err() {
            return false;
        }
        self.shared.bytes_sent.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        true
    }

    /// Sleep `d` in short steps; false if the server stops meanwhile.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopped() {
                return false;
            }
            thread::sleep((end - Instant::now()).min(Duration::from_millis(10)));
        }
        !self.stopped()
    }

    pub fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Close with a TCP reset (SO_LINGER 0), not a FIN.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        drop(self.stream);
    }
}

type Script = dyn Fn(RawConn) + Send + Sync + 'static;

/// A running server on a loopback port.
pub struct RawServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Serve on an ephemeral port of 127.0.0.1; `script` runs each connection to its end.
    pub fn start(script: impl Fn(RawConn) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let script: Arc<Script> = Arc::new(script);
        let s = shared.clone();
        let acceptor = thread::Builder::new()
            .name(format!("raw-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, s, script))
            .expect("spawn the acceptor");
        RawServer { addr, shared, acceptor: Some(acceptor) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Bytes written by all connections so far.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.bytes_sent.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, script: Arc<Script>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(POLL));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let index = shared.connections.fetch_add(1, Ordering::SeqCst);
        let conn = RawConn { stream, index, requests: 0, buf: Vec::new(), shared: shared.clone() };
        let script = script.clone();
        threads.retain(|t| !t.is_finished());
        match thread::Builder::new().name(format!("raw-conn-{index}")).spawn(move || script(conn)) {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("raw test server: cannot spawn a connection thread: {e}"),
        }
    }
    for t in threads {
        let _ = t.join();
    }
}
