//! Error types: what can go wrong in planning and in the engine, and the per-request error kinds.

use std::fmt;

/// Why a single request failed. Counted per kind as data; never unwinds a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ErrorKind {
    /// The TCP connection could not be established (refused, unreachable, connect timeout).
    Connect = 0,
    /// No complete response within `--timeout`.
    Timeout,
    /// TLS handshake or record error.
    Tls,
    /// The peer reset the connection (ECONNRESET, EPIPE).
    Reset,
    /// The peer closed the connection before the response was complete.
    Closed,
    /// Any other I/O error while reading or writing.
    Io,
    /// The response was not valid HTTP/1.x (bad status line, headers, framing, too large), or
    /// the server broke HTTP/2 (a frame too large, a bad HPACK block, a protocol error).
    Parse,
    /// A complete response whose status is 4xx or 5xx, where the step does not `expect` a
    /// status (a status that fails an `expect` is a `check` error).
    Status,
    /// A scenario `expect` check failed.
    Check,
    /// A scenario `extract` found nothing to extract.
    Extract,
    /// The server set a cookie that could not be stored (malformed, or for another domain).
    Cookie,
    /// A redirect could not be followed: more hops than allowed, or a bad `Location`.
    Redirect,
    /// The server reset the HTTP/2 stream (RST_STREAM), or refused it twice; the error code is
    /// in the reason.
    H2Reset,
    /// A connect found no local port free for its destination (EADDRNOTAVAIL): this box's
    /// source addresses × ephemeral ports are used up.
    Ports,
}

impl ErrorKind {
    pub const COUNT: usize = 14;
    pub const ALL: [ErrorKind; Self::COUNT] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Io,
        ErrorKind::Parse,
        ErrorKind::Status,
        ErrorKind::Check,
        ErrorKind::Extract,
        ErrorKind::Cookie,
        ErrorKind::Redirect,
        ErrorKind::H2Reset,
        ErrorKind::Ports,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Io => "io",
            ErrorKind::Parse => "parse",
            ErrorKind::Status => "status",
            ErrorKind::Check => "check",
            ErrorKind::Extract => "extract",
            ErrorKind::Cookie => "cookie",
            ErrorKind::Redirect => "redirect",
            ErrorKind::H2Reset => "h2_reset",
            ErrorKind::Ports => "ports",
        }
    }

    /// Classify an I/O error seen on an established connection.
    pub fn from_io(e: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => ErrorKind::Reset,
            K::TimedOut => ErrorKind::Timeout,
            K::UnexpectedEof => ErrorKind::Closed,
            _ => ErrorKind::Io,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed request: its kind and a short human reason (kept for the first few of each kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub reason: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Failure { kind, reason: reason.into() }
    }
    pub fn io(e: &std::io::Error) -> Self {
        Failure::new(ErrorKind::from_io(e), e.to_string())
    }
}

/// Errors that stop a run before or while it starts (as opposed to per-request failures).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("could not build the {path} runtime for worker {worker}: {source}{}", if *path == "io_uring" { " (is io_uring disabled? see `sysctl kernel.io_uring_disabled`)" } else { "" })]
    Runtime { worker: usize, path: &'static str, source: std::io::Error },
    #[error("worker {worker} stopped unexpectedly: {reason}")]
    WorkerDied { worker: usize, reason: String },
    #[error("could not spawn worker thread: {0}")]
    Spawn(std::io::Error),
}

/// Bad input found while turning flags or files into a plan. Nothing has been sent yet.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(String),
    /// A problem at a place in a file.
    #[error("{path}:{line}:{col}: {message}")]
    At { path: String, line: usize, col: usize, message: String },
    #[error("cannot read {path}")]
    File { path: String, source: std::io::Error },
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}
