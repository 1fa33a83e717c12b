//! The ways a response can fail to be valid HTTP/1.x, shared by the head parser and the chunked decoder.

/// A response that is not valid HTTP/1.x. Counted as a `parse` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid response head: {0}")]
    Head(&'static str),
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("invalid Content-Length")]
    BadContentLength,
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    #[error("invalid chunked body: {0}")]
    Chunk(&'static str),
    #[error("status {0} asks for a protocol switch, which a load test does not follow")]
    Upgrade(u16),
}
