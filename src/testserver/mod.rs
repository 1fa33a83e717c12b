//! The built-in test target (`stampede target`): a small HTTP/1.1 and h2c server on the same
//! compio runtime, so demos and tests have something real and stateful to hit, and can compare
//! the client's counts with the server's own. One route table ([`route`]) answers both sides
//! ([`h1`], and [`h2`] for connections that open with the HTTP/2 preface).
//!
//! Routes (request counts by method and route pattern are on `GET /stats`):
//! - `/` → `hello world`; `/status/{code}`, `/delay/{ms}`, `/bytes/{n}`, `/chunked/{n}`,
//!   `/echo` (body back), `/close` (answers, then closes).
//! - `POST /auth/login` `{"email","password"}` → 200 `{"token","user"}`, 401 (empty fields or
//!   password `wrong`), 400 (bad JSON).
//! - `POST /escrows` (bearer token, JSON object) → 201 the object with a new `id`;
//!   `GET /escrows/{id}` → 200 own record, 403 another user's, 404 none; 401 without a valid
//!   token. Every 401/403/404 of these three routes counts as misuse.
//! - `GET /api/{name}[?delay=MS]` → `{"name","ok":true}` with `X-Cache: HIT` 4 times in 5.
//! - `GET /capacity/queue/{R}`, `/capacity/refuse/{R}` → servers of known capacity R per second
//! - `GET /stall/{every_ms}/{for_ms}` → held until the end of the stall window when it arrives
//!   while `ms_since_start % every_ms < for_ms`, answered at once otherwise.
//! - `GET /schedule/{base_ms}/{high_ms}/{from_ms}/{to_ms}` → answered after `high_ms` while the
//!   server's clock (ms since it started) is in `[from_ms, to_ms)`, after `base_ms` otherwise:
//!   latency that rises and falls on a known schedule.

mod api;
mod counters;
mod h1;
mod h2;
#[cfg(test)]
mod h2_tests;
mod known;
mod route;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use compio::driver::ProactorBuilder;
use compio::net::TcpListener;
use compio::runtime::{Runtime, RuntimeBuilder};

pub use counters::Counters;

/// Largest request head the target accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the target accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Listen backlog: enough for thousands of users connecting at once.
const BACKLOG: i32 = 4096;

/// State shared by the server threads.
struct Shared {
    counters: Arc<Counters>,
    api: api::Api,
    /// Start of the `/stall` clock.
    started: Instant,
    /// Rotation of `X-Cache` on `/api/{name}`.
    cache_seq: AtomicU64,
    /// The known-capacity servers of `/capacity/...`.
    limits: known::Limits,
}

/// A running target: its address, its counters, and a way to stop it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    /// The server threads' state (the tests read its `/stall` clock).
    #[cfg_attr(not(test), allow(dead_code))]
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// A runtime with the ring flags the engine uses; the default ring if the kernel refuses them.
fn runtime() -> io::Result<Runtime> {
    let mut proactor = ProactorBuilder::new();
    proactor.single_issuer(true).defer_taskrun(true).coop_taskrun(true).capacity(4096).cqsize(8192);
    RuntimeBuilder::new().with_proactor(proactor).build().or_else(|_| Runtime::new())
}

impl TestServer {
    /// Start serving on `listen` with `workers` threads (each its own io_uring runtime).
    pub fn start(listen: SocketAddr, workers: usize) -> io::Result<TestServer> {
        let workers = workers.max(1);
        let std_listener = StdListener::bind(listen)?;
        // std listens with a backlog of 128; raise it (Linux updates it on a second listen).
        // SAFETY: a plain syscall on a socket this function owns.
        unsafe { libc::listen(std_listener.as_raw_fd(), BACKLOG) };
        let addr = std_listener.local_addr()?;
        let counters = Arc::new(Counters::with_shards(workers));
        let shared = Arc::new(Shared {
            counters: counters.clone(),
            api: api::Api::new(),
            started: Instant::now(),
            cache_seq: AtomicU64::new(0),
            limits: known::Limits::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 0..workers {
            let listener = std_listener.try_clone()?;
            let (thread_shared, thread_stop) = (shared.clone(), stop.clone());
            let spawned = std::thread::Builder::new().name(format!("target-{w}")).spawn(move || {
                let rt = match runtime() {
                    Ok(rt) => rt,
                    Err(e) => return eprintln!("target: cannot start runtime: {e}"),
                };
                rt.block_on(accept_loop(listener, thread_shared, thread_stop, w));
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    TestServer { addr, counters, shared, stop, threads }.stop();
                    return Err(e);
                }
            }
        }
        Ok(TestServer { addr, counters, shared, stop, threads })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting and wait for the server threads (open connections are dropped).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for _ in &self.threads {
            // Wake each accept loop so it sees the flag.
            let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: StdListener, shared: Arc<Shared>, stop: Arc<AtomicBool>, worker: usize) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => return eprintln!("target: {e}"),
    };
    let live = std::rc::Rc::new(h2::Live::default());
    while !stop.load(Ordering::Relaxed) {
        match listener.accept().await {
            Ok((stream, _)) => {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = stream.set_nodelay(true);
                compio::runtime::spawn(h1::serve(stream, shared.clone(), worker, live.clone())).detach();
            }
            Err(_) => compio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    live.goaway().await;
}
