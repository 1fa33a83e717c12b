//! A small Prometheus text endpoint in the test process: each GET gets the page a closure writes
//! at that moment (so a counter can advance at a known pace), on a free loopback port.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

type Page = dyn Fn() -> String + Send + Sync + 'static;

pub struct Exporter {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    scrapes: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    pub fn start(page: impl Fn() -> String + Send + Sync + 'static) -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the exporter");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let (stop, scrapes) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let page: Arc<Page> = Arc::new(page);
        let (st, sc) = (stop.clone(), scrapes.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reader = BufReader::new(&stream);
                // The request head, up to its empty line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).map_or(true, |n| n == 0) || line.trim().is_empty() {
                        break;
                    }
                }
                sc.fetch_add(1, Ordering::Relaxed);
                let body = page();
                let mut w = &stream;
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Exporter { addr, stop, scrapes, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Pages served so far.
    pub fn scrapes(&self) -> u64 {
        self.scrapes.load(Ordering::Relaxed)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
