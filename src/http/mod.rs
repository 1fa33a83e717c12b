//! HTTP/1.1 on the wire: request bytes built once ([`request`]) and a streaming response parser
//! that handles every framing a server may use ([`response`], [`chunked`]); where a redirect
//! leads ([`redirect`]); and a small blocking [`client`] for side work off the workers' threads.

pub mod chunked;
pub(crate) mod client;
pub mod error;
pub(crate) mod redirect;
pub mod request;
pub mod response;

pub use request::{RequestSpec, build_request};
pub use response::{ParseError, Progress, Response, ResponseParser};
