//! The built-in target (`stampede::testserver::TestServer`) started in the test process on an ephemeral
//! loopback port and stopped when dropped, and per-test directories for scenario and CSV files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stampede::testserver::{Counters, TestServer};

/// A running built-in target; stops (joining its threads) when dropped.
pub struct TestTarget {
    inner: Option<TestServer>,
    /// Taken right after the target started: its `/stall` clock, to within the thread spawns.
    pub started: Instant,
}

impl TestTarget {
    /// One server thread on 127.0.0.1, an ephemeral port.
    pub fn start() -> TestTarget {
        let target = TestServer::start("127.0.0.1:0".parse().expect("literal address"), 1).expect("start the target");
        TestTarget { inner: Some(target), started: Instant::now() }
    }

    pub fn url(&self) -> String {
        self.target().url()
    }

    pub fn counters(&self) -> &Counters {
        &self.target().counters
    }

    /// Every request the target answered (except `GET /stats`).
    pub fn requests(&self) -> u64 {
        self.counters().requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests to one route, `"POST /auth/login"`, `"GET /escrows/:id"`...
    pub fn route(&self, key: &str) -> u64 {
        self.counters().route(key)
    }

    /// Sleep until the target's clock is `phase` into a period of `every` (for `/stall`).
    pub fn wait_for_phase(&self, every: Duration, phase: Duration) {
        let every_ns = every.as_nanos();
        let now_ns = self.started.elapsed().as_nanos() % every_ns;
        let want_ns = phase.as_nanos() % every_ns;
        let wait_ns = (want_ns + every_ns - now_ns) % every_ns;
        std::thread::sleep(Duration::from_nanos(wait_ns as u64));
    }

    fn target(&self) -> &TestServer {
        self.inner.as_ref().expect("running until dropped")
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        if let Some(t) = self.inner.take() {
            t.stop();
        }
    }
}

/// A fresh directory for one test's files; removed when dropped, kept (and named on stderr) when
/// the test fails, for a look at the files.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = super::run::temp_path(name);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write `text` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write a test file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
