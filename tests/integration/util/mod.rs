//! Helpers for the integration tests: a scripted raw HTTP server on loopback ([`server`]), the
//! built-in target in the test process and temp dirs ([`target`]), a runner for the real binary
//! ([`run`]), a real rate-limited nginx ([`nginx`]), and the checks many tests share.

#![allow(dead_code)]

pub mod app;
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

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub use run::{Outcome, bench, bench_signalled, scenario, stampede, stampede_json, stampede_json_within};
pub use server::{Action, Response, Server};
pub use target::{TempDir, TestTarget};

/// Load runs share the machine's two cores. Most take a shared slot; the few whose assertions
/// depend on timing (rate accuracy, latency) take the machine alone.
static MACHINE: RwLock<()> = RwLock::new(());

/// A slot for a run whose assertions do not depend on timing.
pub fn shared_machine() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|e| e.into_inner())
}

/// The machine alone, for runs whose assertions depend on timing.
pub fn exclusive_machine() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|e| e.into_inner())
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
