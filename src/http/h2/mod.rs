//! HTTP/2 on the wire (RFC 9113, RFC 7541): frames ([`frame`]), requests as header blocks
//! ([`request`]), the client side of a connection as a state machine without I/O ([`session`],
//! which the engine drives on its rings and the fuzz target drives with arbitrary bytes), and
//! blocking probes of what a server speaks ([`probe`], for `--http 2` and `doctor`).

pub mod frame;
pub(crate) mod hpack;
pub mod probe;
pub mod request;
pub mod session;

pub use request::H2Head;
pub use session::{Busy, End, Keep, Limits, Response, Session};
