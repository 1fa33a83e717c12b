//! HTTP on the wire: HTTP/1.1 request bytes built once ([`request`]) and a streaming response
//! parser that handles every framing a server may use ([`response`], [`chunked`]); HTTP/2 frames,
//! header blocks and sessions ([`h2`]); which version a run speaks ([`version`]); where a
//! redirect leads ([`redirect`]); and a small blocking [`client`] for side work off the workers'
//! threads.

pub mod chunked;
pub(crate) mod client;
pub mod error;
pub mod h2;
pub(crate) mod redirect;
pub mod request;
pub mod response;
pub mod version;

pub use request::{RequestSpec, build_request};
pub use response::{ParseError, Progress, Response, ResponseParser};
