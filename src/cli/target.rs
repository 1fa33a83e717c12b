//! `stampede target`: run the built-in test server (HTTP/1.1 and h2c) until Ctrl-C.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{Outcome, TargetArgs, signals};
use crate::error::PlanError;
use crate::testserver::TestServer;

pub fn run(args: TargetArgs) -> anyhow::Result<Outcome> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        PlanError::Invalid(format!("--listen `{}` is not an address such as 127.0.0.1:8080 or [::1]:8080", args.listen))
    })?;
    if args.workers == 0 {
        return Err(PlanError::Invalid("--threads must be at least 1".into()).into());
    }
    let stop = signals::stop_flag();
    let target = TestServer::start(listen, args.workers).with_context(|| format!("cannot listen on {listen}"))?;
    let threads = if args.workers == 1 { "1 thread".to_string() } else { format!("{} threads", args.workers) };
    println!("stampede target listening on {} ({threads}); Ctrl-C to stop", target.url());
    println!("  GET  /  /status/CODE  /delay/MS  /bytes/N  /chunked/N  /close  /stall/EVERY_MS/FOR_MS");
    println!("  GET  /api/NAME[?delay=MS]   (X-Cache: HIT 4 times in 5)");
    println!("  POST /echo  /auth/login {{email,password}} → token;  POST /escrows, GET /escrows/ID with Bearer token");
    println!("  GET  /stats   (the server's own counts per route, misuse, logins, records)");
    println!(
        "  HTTP/1.1, and HTTP/2 with prior knowledge (h2c) on the same port (--http 2, h2load, curl --http2-prior-knowledge)"
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = target.counters.requests.load(Ordering::Relaxed);
    target.stop();
    println!("stopped after {served} requests");
    Ok(Outcome::Ok)
}
