//! stampede: a thread-per-core io_uring HTTP/1.1 load generator — library root wiring the modules.
//!
//! Data flows one way: CLI or scenario → [`plan::Plan`] → [`engine`] (one pinned worker per core)
//! → per-core [`stats`] → merge → [`report`].

pub(crate) mod capacity;
pub mod cli;
pub(crate) mod cookie;
pub(crate) mod engine;
pub mod error;
pub(crate) mod feeder;
pub mod http;
pub(crate) mod live;
pub(crate) mod monitor;
pub mod plan;
pub(crate) mod prom;
pub mod report;
pub mod rules;
pub mod scenario;
pub mod stats;
pub mod sys;
pub mod testserver;
pub(crate) mod tls;
pub(crate) mod units;
