//! stampede: a thread-per-core io_uring HTTP/1.1 load generator — library root wiring the modules.
//!
//! Data flows one way: CLI or scenario → [`plan::Plan`] → [`engine`] (one pinned worker per core)
//! → per-core [`stats`] → merge → [`report`].

pub mod capacity;
pub mod cli;
pub mod cookie;
pub mod engine;
pub mod error;
pub mod feeder;
pub mod http;
pub mod live;
pub mod monitor;
pub mod plan;
pub mod prom;
pub mod report;
pub mod rules;
pub mod scenario;
pub mod stats;
pub mod sys;
pub mod testserver;
pub mod tls;
pub mod units;
