//! The plan of a run: target, prebuilt requests, load model, limits. Everything the engine needs
//! is decided here, before the first byte is sent; once finished ([`Plan::finish`]) it is shared
//! read-only with the workers. (A capacity search finishes its plan once, then gives each step a
//! copy with that step's load.)

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::rules::check::Expect;
pub mod curve;
mod finish;
pub mod io;
mod protocols;
mod select;
pub mod sources;

use crate::error::PlanError;
use crate::feeder::Order;
use crate::http::response::DEFAULT_MAX_HEAD;
use crate::rules::extract::Extractor;
use crate::rules::template::Template;
use crate::rules::threshold::Threshold;
pub use curve::{Curve, Stage};
pub use finish::Finish;

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
    /// Resolved addresses, tried in order; empty until the plan is finished ([`Target::resolve`]).
    pub addrs: Vec<SocketAddr>,
}

impl Target {
    /// Parse an `http://` or `https://` URL. Names are not looked up here (a dry run needs no
    /// DNS); see [`Target::resolve`].
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
        Ok(Target { url: url.to_string(), tls, host, port, authority, path, addrs: Vec::new() })
    }

    /// The host without IPv6 brackets, as cookies and name lookups want it.
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// Look the host up (an address literal needs no DNS).
    pub fn resolve(&mut self) -> Result<(), PlanError> {
        let bare = self.bare_host();
        let addrs: Vec<SocketAddr> = (bare, self.port)
            .to_socket_addrs()
            .map_err(|e| PlanError::Resolve { host: bare.to_string(), reason: e.to_string() })?
            .collect();
        if addrs.is_empty() {
            return Err(PlanError::Resolve { host: bare.to_string(), reason: "no addresses".into() });
        }
        self.addrs = addrs;
        Ok(())
    }
}

/// A request as the engine sends it.
#[derive(Debug, Clone)]
pub enum Request {
    /// Bytes fixed before the run. `head_len`: where the blank line ending the head starts (more
    /// header lines, such as `Cookie`, go there).
    Static { bytes: Vec<u8>, head_len: usize },
    /// Request line and headers (without the final CRLF) and body with holes, filled per request;
    /// Content-Length is written from the rendered body.
    Template { head: Template, body: Option<Template> },
}

/// Pause after a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Think {
    None,
    Fixed(Duration),
    /// Uniform between the two.
    Range(Duration, Duration),
}

impl Think {
    /// The pause on average.
    pub fn mean(self) -> Duration {
        match self {
            Think::None => Duration::ZERO,
            Think::Fixed(d) => d,
            Think::Range(a, b) => (a + b) / 2,
        }
    }
}

/// One step of a journey (one request), with what to check and keep from its response.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// Index into `Plan::rows`: steps of the same name (in several user types) share one row of
    /// stats and thresholds.
    pub row: usize,
    /// Run only when this holds on the user's earlier results (`if`); else counted as skipped.
    pub condition: Option<crate::rules::condition::Condition>,
    /// Redirects followed at most (0: the redirect is the answer).
    pub redirects: u32,
    /// Metrics of the user's own measured on this step's responses (indices into `Plan::metrics`).
    pub metrics: Vec<usize>,
    /// Cookies set (name, value) and cleared (names) in the user's jar before the request.
    pub set_cookies: Vec<(String, String)>,
    pub clear_cookies: Vec<String>,
    /// Index into `Plan::targets`.
    pub target: usize,
    pub request: Request,
    /// HEAD request: the response has no body.
    pub head: bool,
    pub expect: Option<Expect>,
    /// Variable slot and rule, for each `extract`.
    pub extract: Vec<(usize, Extractor)>,
    /// Overrides the user type's think time after this step.
    pub think: Option<Think>,
    /// Share of iterations with `pick = "weighted"`.
    pub weight: u32,
    /// Chance the step runs in an iteration.
    pub probability: f64,
    pub timeout: Duration,
    /// Keep the response head and body (for checks and extraction).
    pub capture: bool,
    /// What a failure of this step does to the iteration (`on_fail`).
    pub on_fail: OnFail,
}

/// What a failed step (no answer, a bad status, a failed check or extraction, a broken redirect,
/// or a variable it needs without value) does to the user's iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFail {
    /// Counted, and the journey goes on (k6, Locust); what failed to extract is unset.
    #[default]
    Continue,
    /// Counted, and the iteration ends here (`on_fail = "end-iteration"`, Gatling's
    /// `exitHereIfFailed`).
    EndIteration,
}

impl Step {
    /// A step with nothing but a fixed request (what `bench` runs).
    pub fn fixed(name: String, bytes: Vec<u8>, head: bool, timeout: Duration) -> Step {
        let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(bytes.len(), |p| p + 2);
        Step {
            name,
            row: 0,
            condition: None,
            redirects: 0,
            metrics: Vec::new(),
            set_cookies: Vec::new(),
            clear_cookies: Vec::new(),
            target: 0,
            request: Request::Static { bytes, head_len },
            head,
            expect: None,
            extract: Vec::new(),
            think: None,
            weight: 1,
            probability: 1.0,
            timeout,
            capture: false,
            on_fail: OnFail::Continue,
        }
    }
}

/// How a user type chooses steps in an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Every step, in order.
    Sequence,
    /// One step, chosen by step weight.
    Weighted,
}

/// Rows of a CSV file or JSON array, fed to the users in `order` (see [`crate::feeder`]).
#[derive(Debug, Clone)]
pub struct DataSet {
    /// Variable slot of each column.
    pub vars: Vec<usize>,
    pub rows: Vec<Vec<Vec<u8>>>,
    pub order: Order,
}

/// A kind of user: its share of all users, its journey and its pauses.
#[derive(Debug, Clone)]
pub struct UserType {
    pub name: String,
    pub weight: u32,
    pub think: Think,
    pub pick: Pick,
    /// Indices into `Plan::steps`.
    pub steps: Vec<usize>,
    pub data: Option<DataSet>,
    /// Each user keeps a cookie jar (`cookies = false` turns it off).
    pub cookies: bool,
}

/// A threshold of the plan, on the whole run or on one step.
#[derive(Debug, Clone)]
pub struct ThresholdRule {
    pub threshold: Threshold,
    pub step: Option<usize>,
    /// With `abort_on_fail`: not checked before this much of the run.
    pub delay: Duration,
    /// Measured on this scenario's requests only (index into `Plan::scenarios`).
    pub scenario: Option<usize>,
    /// Measured on the requests of this window of the run only (`during = "2m..12m"`; a drift's
    /// left side), in seconds of the run.
    pub during: Option<(Duration, Duration)>,
    /// A drift's right side: the window it is compared with, in seconds of the run.
    pub base_during: Option<(Duration, Duration)>,
    /// A `recovery(...)` threshold: from when it is watched, and how long it must hold.
    pub recovery: Option<RecoveryRule>,
    /// `warn`: reported, never fails the run.
    pub warn: bool,
}

/// When a recovery is watched from, and how long each second must hold for it to count.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryRule {
    pub after: After,
    /// `after` as the file writes it (`"spike"`, `"2m"`).
    pub after_text: String,
    /// Seconds in a row the bound must hold (`hold`, default 5 s).
    pub hold: Duration,
}

/// The moment a recovery is watched from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    /// A time of the run.
    At(Duration),
    /// The end of a scenario (index into `Plan::scenarios`).
    End(usize),
}

impl ThresholdRule {
    /// Its windows and `after` time, moved by `f` (a scenario's `start_time`, `--scenario`'s shift).
    pub fn map_times(&mut self, f: impl Fn(Duration) -> Duration) {
        self.during = self.during.map(|(a, b)| (f(a), f(b)));
        self.base_during = self.base_during.map(|(a, b)| (f(a), f(b)));
        if let Some(RecoveryRule { after: After::At(at), .. }) = &mut self.recovery {
            *at = f(*at);
        }
    }

    /// When its recovery is watched from, in seconds of the run.
    pub fn after_s(&self, plan: &Plan) -> Option<f64> {
        Some(match self.recovery.as_ref()?.after {
            After::At(at) => at.as_secs_f64(),
            After::End(i) => plan.scenarios.get(i)?.end().as_secs_f64(),
        })
    }

    /// Its `during` window as the file wrote it (`0s..30s`): a scenario's own window counts from
    /// that scenario's `start_time`, while the rule holds it from the run's start.
    pub fn during_as_written(&self, scenarios: &[Scenario]) -> Option<String> {
        self.during.map(|w| self.as_written(w, scenarios))
    }

    /// One of its windows (`during`, a drift's baseline) as the file wrote it.
    pub fn as_written(&self, (from, to): (Duration, Duration), scenarios: &[Scenario]) -> String {
        let shift = self.scenario.map_or(Duration::ZERO, |i| scenarios[i].start);
        crate::rules::threshold::window_text((from.saturating_sub(shift), to.saturating_sub(shift)))
    }
}

/// A threshold of the file that this run does not judge (a `--vus/--duration` smoke, or
/// `--scenario`), and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NotRun {
    pub expr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub reason: String,
}

/// How load is offered.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Users loop over their journey, as many at each moment as the curve says. Latency is
    /// service time.
    Closed { users: Curve },
    /// Iterations start on the curve's schedule (per second); latency of an iteration's first
    /// request is measured from its intended start (coordinated-omission correct). Users start on
    /// demand, from `pre_allocated` up to `max_users`.
    Open { rate: Curve, pre_allocated: usize, max_users: usize, overflow: Overflow },
    /// A fixed number of iterations by `users` users, then the run ends (or at `max_duration`):
    /// `iterations` each (`per-vu-iterations`), or `iterations` in all, taken by whichever user
    /// is free (`shared-iterations`).
    Iterations { users: u64, iterations: u64, shared: bool, max_duration: Duration },
}

/// What an open-model start does when every user is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for a user; the wait is part of its latency (`bench --rate`).
    Queue,
    /// Wait while fewer than `max_users` starts are waiting; beyond that the start is dropped
    /// and counted in `dropped_iterations` (arrival-rate executors).
    Drop,
}

impl Load {
    /// Most users the run holds at once (before sharding).
    pub fn users(&self) -> usize {
        match self {
            Load::Closed { users } => users.max().ceil() as usize,
            Load::Open { max_users, .. } => *max_users,
            Load::Iterations { users, .. } => *users as usize,
        }
    }

    /// Starts per second of an open model (its peak on a ramp).
    pub fn rate(&self) -> Option<f64> {
        match self {
            Load::Open { rate, .. } => Some(rate.max()),
            Load::Closed { .. } | Load::Iterations { .. } => None,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Load::Open { .. })
    }

    pub fn duration(&self) -> Duration {
        match self {
            Load::Closed { users } => users.duration(),
            Load::Open { rate, .. } => rate.duration(),
            Load::Iterations { max_duration, .. } => *max_duration,
        }
    }
}

/// One load shape of the run: its executor and schedule, when it starts, which user types it
/// runs. Scenarios run side by side on every worker, each with its own users.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// The executor's name, as the file wrote it.
    pub executor: String,
    pub load: Load,
    /// From the start of the run (`start_time`).
    pub start: Duration,
    /// After its end, how long its requests in flight may take to finish.
    pub graceful_stop: Duration,
    /// The user types it runs (indices into `Plan::users`), mixed by their weights.
    pub users: Vec<usize>,
    /// Its users share this many connections per worker and host, as HTTP/2 streams
    /// (`connections = N`); `None`: each user keeps its own.
    pub connections: Option<usize>,
}

impl Scenario {
    /// A scenario of every one of `types` user types, from the start of the run. Its executor
    /// is named as for a constant load (what `bench`, `capacity` and `--vus` make); a file's
    /// compiler sets the name the file wrote.
    pub fn of_all(load: Load, types: usize) -> Scenario {
        let executor = match &load {
            Load::Closed { .. } => "constant-vus",
            Load::Open { .. } => "constant-arrival-rate",
            Load::Iterations { shared: false, .. } => "per-vu-iterations",
            Load::Iterations { shared: true, .. } => "shared-iterations",
        };
        Scenario {
            name: "default".into(),
            executor: executor.into(),
            load,
            start: Duration::ZERO,
            graceful_stop: Duration::ZERO,
            users: (0..types).collect(),
            connections: None,
        }
    }

    /// When it ends, from the start of the run.
    pub fn end(&self) -> Duration {
        self.start + self.load.duration()
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
    /// Every host the steps talk to; the first is the main target (reports name it).
    pub targets: Vec<Target>,
    pub steps: Vec<Step>,
    /// Names of the stats rows, by index: one per distinct step name, in file order.
    pub rows: Vec<String>,
    /// Status slots each user keeps for conditions (`status(step) == ...`).
    pub status_slots: usize,
    /// Metrics of the user's own (`[metrics]`), in file order, then the built-in
    /// `iteration_duration` trends.
    pub metrics: Vec<crate::rules::metric::Metric>,
    /// Where iterations' durations go: the index of `iteration_duration` in `metrics`, and of
    /// each user type's own (when there are several types).
    pub iteration_metrics: Option<(usize, Vec<Option<usize>>)>,
    pub users: Vec<UserType>,
    /// Names of the variable slots (CSV columns, extracted values), by index.
    pub vars: Vec<String>,
    /// The load shapes that run side by side: one for a `[load]` file or `bench`.
    pub scenarios: Vec<Scenario>,
    /// The file named its scenarios (`[scenarios.NAME]`): reports show each one.
    pub named_scenarios: bool,
    pub thresholds: Vec<ThresholdRule>,
    /// The file's thresholds this run does not judge, and why (reports list them).
    pub thresholds_not_run: Vec<NotRun>,
    /// What the command line changed in the file's load (`--vus/--duration`, `--scenario`), in
    /// words, for the reports.
    pub overrides: Vec<String>,
    /// The scenario files read: the file run, then those it includes (empty without a file).
    pub files: Vec<String>,
    pub workers: usize,
    /// When the run is stopped early (Ctrl-C, abort_on_fail), how long requests in flight may
    /// still complete.
    pub stop_grace: Duration,
    pub connect_timeout: Duration,
    pub max_head: usize,
    /// Most body bytes kept per response for checks and extraction.
    pub max_body: usize,
    pub shard: Shard,
    /// CPU ids the workers are pinned to, in worker order (empty: do not pin).
    pub cores: Vec<usize>,
    /// TLS client settings, for https targets.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// A new connection for every request (`--no-keepalive`).
    pub no_keepalive: bool,
    /// The service's own series to watch during the run (`[monitor]`, `--monitor`).
    pub monitor: Option<std::sync::Arc<crate::monitor::MonitorPlan>>,
    /// The I/O path the workers take (decided by [`Plan::finish`] from `--io`).
    pub io: io::IoDecision,
    /// Which HTTP to speak (`--http`, `http = "..."`).
    pub http: crate::http::version::Http,
    /// `bench --streams N`: requests in flight on each connection at most (1: a connection per
    /// user, as HTTP/1.1 has it).
    pub streams: usize,
    /// Each step's prebuilt request in its HTTP/2 form (static requests, when h2 may be spoken;
    /// made by [`Plan::finish`]).
    pub h2_heads: Vec<Option<crate::http::h2::H2Head>>,
    /// Source addresses connections are bound to, users spread evenly over them (`--source`,
    /// `sources = [...]`); empty: the kernel picks.
    pub sources: Vec<std::net::IpAddr>,
    /// Which of a name's addresses users connect to (`--dns`, `dns = "..."`).
    pub dns: sources::Dns,
}

impl Plan {
    /// A plan where every user sends the same request (what `bench` builds).
    pub fn single(command: &str, target: Target, step: Step, load: Load) -> Plan {
        Plan {
            command: command.to_string(),
            name: target.url.clone(),
            targets: vec![target],
            users: vec![UserType {
                name: "default".into(),
                weight: 1,
                think: Think::None,
                pick: Pick::Sequence,
                steps: vec![0],
                data: None,
                cookies: false,
            }],
            rows: vec![step.name.clone()],
            status_slots: 0,
            metrics: Vec::new(),
            iteration_metrics: None,
            steps: vec![step],
            vars: Vec::new(),
            scenarios: vec![Scenario::of_all(load, 1)],
            named_scenarios: false,
            thresholds: Vec::new(),
            thresholds_not_run: Vec::new(),
            overrides: Vec::new(),
            files: Vec::new(),
            workers: 1,
            stop_grace: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            max_head: DEFAULT_MAX_HEAD,
            max_body: DEFAULT_MAX_BODY,
            shard: Shard::default(),
            cores: Vec::new(),
            tls: None,
            no_keepalive: false,
            monitor: None,
            io: io::IoDecision::default(),
            http: crate::http::version::Http::default(),
            streams: 1,
            h2_heads: Vec::new(),
            sources: Vec::new(),
            dns: sources::Dns::First,
        }
    }

    /// The main target: where `/path` steps go, and what reports name.
    pub fn target(&self) -> &Target {
        &self.targets[0]
    }

    /// Length of the load schedule: until the last scenario ends.
    pub fn duration(&self) -> Duration {
        self.scenarios.iter().map(Scenario::end).max().unwrap_or_default()
    }

    /// After the end, how long requests in flight may still complete (the longest of the
    /// scenarios' `graceful_stop`).
    pub fn graceful_stop(&self) -> Duration {
        self.scenarios.iter().map(|s| s.graceful_stop).max().unwrap_or_default()
    }

    /// Replace every scenario with one that runs `load` on all user types (what `capacity`
    /// searches with).
    pub fn set_load(&mut self, load: Load) {
        let graceful_stop = self.graceful_stop();
        let connections = self.scenarios.first().and_then(|s| s.connections);
        self.scenarios = vec![Scenario { graceful_stop, connections, ..Scenario::of_all(load, self.users.len()) }];
        self.named_scenarios = false;
    }

    /// Whether every scenario is of the open model (`Some(true)`), every one closed
    /// (`Some(false)`), or they are mixed (`None`).
    pub fn open_model(&self) -> Option<bool> {
        let open = self.scenarios.iter().filter(|s| s.load.is_open()).count();
        match open {
            0 => Some(false),
            n if n == self.scenarios.len() => Some(true),
            _ => None,
        }
    }

    /// Open-model starts per second of all scenarios together, at their peaks.
    pub fn rate(&self) -> Option<f64> {
        let rates: Vec<f64> = self.scenarios.iter().filter_map(|s| s.load.rate()).collect();
        (!rates.is_empty()).then(|| rates.iter().sum())
    }

    /// Whether several steps share a stats row (the same name in several user types).
    pub fn shares_rows(&self) -> bool {
        self.rows.len() < self.steps.len()
    }

    /// Users (connections) this instance runs at most at once, after sharding: scenarios that
    /// follow one another (phases) do not add up, scenarios that overlap do.
    pub fn local_users(&self) -> usize {
        let users = |s: &Scenario| self.shard.share(s.load.users());
        self.scenarios
            .iter()
            .map(|at| {
                let t = at.start;
                self.scenarios
                    .iter()
                    .filter(|s| s.start <= t && t < s.end().max(s.start + Duration::from_nanos(1)))
                    .map(users)
                    .sum()
            })
            .max()
            .unwrap_or(0)
    }

    /// Users of scenario `s` run by one worker at most.
    pub fn lane_users(&self, s: usize, worker: usize) -> usize {
        split_even(self.shard.share(self.scenarios[s].load.users()), self.workers, worker)
    }

    /// Users run by one worker at most.
    pub fn worker_users(&self, worker: usize) -> usize {
        (0..self.scenarios.len()).map(|s| self.lane_users(s, worker)).sum()
    }

    /// The longest per-request timeout of any step.
    pub fn max_timeout(&self) -> Duration {
        self.steps.iter().map(|s| s.timeout).max().unwrap_or(Duration::from_secs(10))
    }

    /// Which of `types` user number `u` (0-based, within its scenario) is. Any first `n` users
    /// follow the weights closely (a golden-ratio sequence), so a ramp is mixed from the start.
    pub fn user_type_in(&self, types: &[usize], u: u64) -> usize {
        if types.len() <= 1 {
            return types.first().copied().unwrap_or(0);
        }
        let total: u64 = types.iter().map(|&t| self.users[t].weight as u64).sum();
        let x = ((u as f64 + 0.5) * 0.618_033_988_749_894_9).fract() * total as f64;
        let mut acc = 0.0;
        for &t in types {
            acc += self.users[t].weight as f64;
            if x < acc {
                return t;
            }
        }
        *types.last().expect("not empty")
    }
}

/// Default for `Plan::max_body`.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

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
        let mut t = Target::parse("http://[::1]:9000").unwrap();
        t.resolve().unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str(), t.authority.as_str()), ("[::1]", "/", "[::1]:9000"));
        assert!(t.addrs[0].is_ipv6());
        let mut t = Target::parse("https://localhost/").unwrap();
        assert_eq!((t.port, t.authority.as_str(), t.tls), (443, "localhost", true));
        t.resolve().unwrap();
        assert!(!t.addrs.is_empty());
    }

    #[test]
    fn bad_targets_are_refused() {
        assert!(Target::parse("127.0.0.1:80").unwrap_err().to_string().contains("did you mean http://127.0.0.1:80"));
        assert!(Target::parse("ftp://x/").unwrap_err().to_string().contains("scheme `ftp`"));
        assert!(Target::parse("http://").unwrap_err().to_string().contains("is not a URL"));
        let mut t = Target::parse("http://nonexistent.invalid/").expect("parsing needs no DNS");
        assert!(matches!(t.resolve(), Err(PlanError::Resolve { .. })));
    }

    #[test]
    fn user_types_follow_weights_from_the_first_users() {
        let t = Target::parse("http://127.0.0.1:1/").unwrap();
        let mut plan = Plan::single(
            "test",
            t,
            Step::fixed("s".into(), Vec::new(), false, Duration::from_secs(1)),
            Load::Closed { users: Curve::constant(1.0, Duration::from_secs(1)) },
        );
        let ut = plan.users[0].clone();
        plan.users = vec![
            UserType { weight: 70, ..ut.clone() },
            UserType { weight: 20, ..ut.clone() },
            UserType { weight: 10, ..ut },
        ];
        for n in [10u64, 100, 1000] {
            let mut counts = [0u64; 3];
            (0..n).for_each(|u| counts[plan.user_type_in(&[0, 1, 2], u)] += 1);
            for (i, w) in [70.0, 20.0, 10.0].iter().enumerate() {
                let share = counts[i] as f64 / n as f64 * 100.0;
                assert!((share - w).abs() <= 100.0 / n as f64 + 1.0, "n {n}: type {i} has {share}%");
            }
        }
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
