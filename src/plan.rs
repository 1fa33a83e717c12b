//! The immutable plan of a run: target, prebuilt requests, load model, limits. Everything the
//! engine needs is decided here, before the first byte is sent.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::error::PlanError;
use crate::http::response::DEFAULT_MAX_HEAD;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as the user gave it (normalized).
    pub url: String,
    pub tls: bool,
    /// Host as written in the URL (brackets kept for IPv6 literals), for the Host header and SNI.
    pub host: String,
    pub port: u16,
    /// `host[:port]`, the port omitted when it is the scheme's default.
    pub authority: String,
    /// Origin-form path and query of the URL (`/` when empty).
    pub path: String,
    /// Resolved addresses, tried in order.
    pub addrs: Vec<SocketAddr>,
}

impl Target {
    /// Parse and resolve an `http://` or `https://` URL.
    pub fn parse(text: &str) -> Result<Target, PlanError> {
        if !text.contains("://") {
            return Err(PlanError::Invalid(format!("`{text}` has no scheme: did you mean http://{text} ?")));
        }
        let url = url::Url::parse(text).map_err(|e| PlanError::Invalid(format!("`{text}` is not a URL: {e}")))?;
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(PlanError::Invalid(format!(
                    "`{text}`: scheme `{other}` is not supported (use http:// or https://)"
                )));
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => format!("[{a}]"),
            Some(h) => h.to_string(),
            None => return Err(PlanError::Invalid(format!("`{text}` has no host"))),
        };
        let port = url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut path = url.path().to_string();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (bare, port)
            .to_socket_addrs()
            .map_err(|e| PlanError::Resolve { host: bare.to_string(), reason: e.to_string() })?
            .collect();
        if addrs.is_empty() {
            return Err(PlanError::Resolve { host: bare.to_string(), reason: "no addresses".into() });
        }
        Ok(Target { url: url.to_string(), tls, host, port, authority, path, addrs })
    }
}

/// One request of the plan, as bytes ready for the wire.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub bytes: Vec<u8>,
    /// HEAD request: the response has no body.
    pub head: bool,
}

/// How load is offered.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// `users` users (connections) each send the next request as soon as the previous answer
    /// arrives. Latency is service time.
    Closed { users: usize },
    /// Requests start at `rate` per second on a fixed schedule, served by up to `users`
    /// connections; latency is measured from the intended start (coordinated-omission correct).
    Open { rate: f64, users: usize },
}

impl Load {
    pub fn users(&self) -> usize {
        match self {
            Load::Closed { users } | Load::Open { users, .. } => *users,
        }
    }
    pub fn rate(&self) -> Option<f64> {
        match self {
            Load::Closed { .. } => None,
            Load::Open { rate, .. } => Some(*rate),
        }
    }
}

/// This instance's part of a run split across several machines (`--shard i/N`, 1-based `i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parse `i/N` with 1 <= i <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text.split_once('/').ok_or_else(|| format!("`{text}`: expected i/N, such as 1/4"))?;
        let i: usize = i.trim().parse().map_err(|_| format!("`{text}`: `{i}` is not a whole number"))?;
        let n: usize = n.trim().parse().map_err(|_| format!("`{text}`: `{n}` is not a whole number"))?;
        if n == 0 || i == 0 || i > n {
            return Err(format!("`{text}`: need 1 <= i <= N"));
        }
        Ok(Shard { index: i - 1, count: n })
    }

    /// This shard's share of `total` items split as evenly as possible.
    pub fn share(&self, total: usize) -> usize {
        split_even(total, self.count, self.index)
    }
}

/// Part `index` of `total` split into `parts` as evenly as possible (earlier parts get the rest).
pub fn split_even(total: usize, parts: usize, index: usize) -> usize {
    total / parts + usize::from(index < total % parts)
}

/// Everything a run needs, decided before it starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `bench`, `run`, ...: what produced this plan, for the report.
    pub command: String,
    pub name: String,
    pub target: Target,
    pub steps: Vec<Step>,
    pub load: Load,
    pub workers: usize,
    pub duration: Duration,
    /// Per-request timeout: from sending to a complete response.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_head: usize,
    pub shard: Shard,
    /// CPU ids the workers are pinned to, in worker order (empty: do not pin).
    pub cores: Vec<usize>,
}

impl Plan {
    /// A plan with defaults for everything but target, steps and load.
    pub fn new(command: &str, target: Target, steps: Vec<Step>, load: Load) -> Plan {
        Plan {
            command: command.to_string(),
            name: target.url.clone(),
            target,
            steps,
            load,
            workers: 1,
            duration: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_head: DEFAULT_MAX_HEAD,
            shard: Shard::default(),
            cores: Vec::new(),
        }
    }

    /// Users (connections) this instance runs in total, after sharding.
    pub fn local_users(&self) -> usize {
        self.shard.share(self.load.users())
    }

    /// Users run by one worker.
    pub fn worker_users(&self, worker: usize) -> usize {
        split_even(self.local_users(), self.workers, worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = Target::parse("http://127.0.0.1:8080/a/b?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.authority.as_str()),
            ("127.0.0.1", 8080, "/a/b?x=1", "127.0.0.1:8080")
        );
        assert!(!t.tls);
        let t = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str(), t.authority.as_str()), ("[::1]", "/", "[::1]:9000"));
        assert!(t.addrs[0].is_ipv6());
        let t = Target::parse("https://localhost/").unwrap();
        assert_eq!((t.port, t.authority.as_str(), t.tls), (443, "localhost", true));
        assert!(!t.addrs.is_empty());
    }

    #[test]
    fn bad_targets_are_refused() {
        assert!(Target::parse("127.0.0.1:80").unwrap_err().to_string().contains("did you mean http://127.0.0.1:80"));
        assert!(Target::parse("ftp://x/").unwrap_err().to_string().contains("scheme `ftp`"));
        assert!(Target::parse("http://").unwrap_err().to_string().contains("is not a URL"));
        assert!(matches!(Target::parse("http://nonexistent.invalid/"), Err(PlanError::Resolve { .. })));
    }

    #[test]
    fn shards_split_evenly() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 1, count: 3 });
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert!(Shard::parse("x").is_err());
        let total: usize = (0..3).map(|i| Shard { index: i, count: 3 }.share(10)).sum();
        assert_eq!(total, 10);
        assert_eq!((0..3).map(|i| split_even(10, 3, i)).collect::<Vec<_>>(), vec![4, 3, 3]);
    }
}
