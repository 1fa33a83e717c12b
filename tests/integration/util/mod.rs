//! Helpers for the integration tests: a scripted raw HTTP server on loopback ([`server`]), the
//! built-in target in the test process and temp dirs ([`target`]), a runner for the real binary
//! ([`run`]), a real rate-limited nginx ([`nginx`]), and the checks many tests share.

#![allow(dead_code)]

pub mod app;
pub mod counting;
pub mod exporter;
pub mod h2_server;
pub mod nginx;
pub mod nginx_h2;
pub mod prometheus;
pub mod raw;
pub mod run;
pub mod server;
pub mod signals;
pub mod target;
pub mod tls_server;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub use run::{Outcome, bench, bench_signalled, scenario, stampede, stampede_json, stampede_json_within};
pub use server::{Action, Response, Server};
pub use target::{TempDir, TestTarget};

/// Load runs share the machine's two cores. Most take a shared slot; the few whose assertions
/// depend on timing (rate accuracy, latency, capacity answers) take the machine alone. The lock
/// holds across processes too (two `cargo test` runs side by side, or nextest's process per
/// test): a lock file in the temp dir, taken after the in-process lock.
static MACHINE: RwLock<()> = RwLock::new(());

/// Held while a test runs load; dropping it lets others run.
pub enum MachineGuard {
    Shared(RwLockReadGuard<'static, ()>, File),
    Exclusive(RwLockWriteGuard<'static, ()>, File, File),
}

/// `flock` on a lock file in the temp dir (created if missing), waiting for it.
fn file_lock(name: &str, op: libc::c_int) -> File {
    let path = std::env::temp_dir().join(format!("stampede-tests-machine.{name}"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open the machine lock {}: {e}", path.display()));
    loop {
        // SAFETY: flock on a descriptor this function owns for as long as the lock is held.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return file;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "flock {}: {e}", path.display());
    }
}

/// A slot for a run whose assertions do not depend on timing. A test that wants the machine
/// alone goes first (the gate): waiting shared slots never starve it.
pub fn shared_machine() -> MachineGuard {
    let local = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let gate = file_lock("gate", libc::LOCK_SH);
    let slot = file_lock("lock", libc::LOCK_SH);
    drop(gate);
    MachineGuard::Shared(local, slot)
}

/// The machine alone, for runs whose assertions depend on timing.
pub fn exclusive_machine() -> MachineGuard {
    let local = MACHINE.write().unwrap_or_else(|e| e.into_inner());
    let gate = file_lock("gate", libc::LOCK_EX);
    let all = file_lock("lock", libc::LOCK_EX);
    MachineGuard::Exclusive(local, gate, all)
}

/// The client's accounting agrees with the server's: every response the client counted answers
/// a request the server read, and every request the server read was either completed by the
/// client (answered or failed) or still in flight at the end. In flight is at most one request
/// per connection.
///
/// Valid for scripts that never close a connection after reading a request without answering
/// it (that makes the client retry, and the server reads the request twice).
pub fn assert_server_agrees(server: &Server, out: &Outcome, connections: u64) {
    // Requests written just before the end may still be on their way into the server.
    std::thread::sleep(Duration::from_millis(50));
    let received = server.requests();
    let answered = out.answered();
    assert!(
        received >= answered,
        "client counted {answered} responses but the server read only {received} requests\n{}",
        out.describe()
    );
    assert!(
        received <= out.requests() + out.unfinished(),
        "server read {received} requests but the client completed {} with {} unfinished\n{}",
        out.requests(),
        out.unfinished(),
        out.describe()
    );
    let (bytes_in, bytes_sent) = (out.u64("/totals/bytes_in"), server.bytes_sent());
    assert!(bytes_in <= bytes_sent, "client counted {bytes_in} bytes in, the server sent {bytes_sent}");
    assert!(
        out.unfinished() <= connections,
        "{} unfinished requests on {connections} connections\n{}",
        out.unfinished(),
        out.describe()
    );
}

/// Bad input: exit code 2, a message on stderr, no result document, and not one connection.
pub fn assert_refused_before_sending(server: &Server, out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(2), "{what}: expected exit code 2\n{}", out.describe());
    assert!(!out.stderr.trim().is_empty(), "{what}: no explanation on stderr");
    assert!(out.json.is_none(), "{what}: a result document was written");
    // A connection attempt would already sit in the listen backlog; give the acceptor a moment.
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(server.connections(), 0, "{what}: the server saw a connection");
    assert_eq!(server.requests(), 0, "{what}: the server saw a request");
}
