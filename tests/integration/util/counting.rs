//! A keep-alive HTTP/1.1 server on loopback that answers every request `200 ok` and counts, by
//! its own clock, the requests of each second and the connections it accepted: what a test of
//! steering a run (`--control`) compares with what it asked for.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

struct Counts {
    started: Instant,
    /// Requests answered in each second since the start.
    seconds: Mutex<Vec<u64>>,
    connections: AtomicU64,
    closing: AtomicBool,
}

impl Counts {
    fn count(&self) {
        let s = self.started.elapsed().as_secs() as usize;
        let mut v = self.seconds.lock().unwrap();
        if v.len() <= s {
            v.resize(s + 1, 0);
        }
        v[s] += 1;
    }
}

/// The server; stops when dropped.
pub struct CountingServer {
    addr: SocketAddr,
    counts: Arc<Counts>,
    accept: Option<JoinHandle<()>>,
}

impl CountingServer {
    pub fn start() -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts {
            started: Instant::now(),
            seconds: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        });
        let c = counts.clone();
        let accept = std::thread::spawn(move || {
            while !c.closing.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        c.connections.fetch_add(1, Ordering::Relaxed);
                        let c = c.clone();
                        std::thread::spawn(move || serve(s, &c));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CountingServer { addr, counts, accept: Some(accept) }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The server's clock: seconds since it started.
    pub fn now(&self) -> f64 {
        self.counts.started.elapsed().as_secs_f64()
    }

    /// Requests answered in each second so far.
    pub fn seconds(&self) -> Vec<u64> {
        self.counts.seconds.lock().unwrap().clone()
    }

    /// Requests answered in second `s` of its clock.
    pub fn in_second(&self, s: usize) -> u64 {
        self.seconds().get(s).copied().unwrap_or(0)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.counts.connections.load(Ordering::Relaxed)
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.counts.closing.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Answer each request head on the connection until it closes (or the server does).
fn serve(mut s: TcpStream, counts: &Counts) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !counts.closing.load(Ordering::Relaxed) {
        let n = match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            counts.count();
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok").is_err() {
                return;
            }
        }
    }
}
