//! The command line: clap definitions, validation of raw arguments into a plan, and dispatch to
//! the subcommands. Exit codes: 0 ok, 1 thresholds failed, 2 bad usage or input, 3 target
//! unreachable (or the run could not happen).

pub(crate) mod bench;
mod ctl;
mod demo;
mod doctor;
pub(crate) mod execute;
pub(crate) mod progress;
mod results;
mod run;
pub(crate) mod signals;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::PlanError;

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok = 0,
    ThresholdsFailed = 1,
    BadInput = 2,
    Unreachable = 3,
    /// Ctrl-C before anything was sent (while waiting for `--start-at`).
    Interrupted = 130,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        ExitCode::from(o as u8)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "stampede",
    version,
    about = "Load generator: thread-per-core io_uring HTTP/1.1 client",
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Benchmark one URL, wrk-style: maximum throughput, or a fixed --rate
    Bench(BenchArgs),
    /// Run a scenario file: user journeys, load stages, thresholds
    Run(RunArgs),
    /// Find the highest rate a service sustains while its SLOs hold
    Capacity(CapacityArgs),
    /// Show a saved result again, and write it as HTML, CSV or JUnit
    Report(ReportArgs),
    /// Combine the results of several shards (boxes) exactly into one
    Merge(MergeArgs),
    /// Compare a result with a baseline; exit 1 on a regression beyond the bound
    Compare(CompareArgs),
    /// Run the built-in HTTP test server
    Target(TargetArgs),
    /// Start the built-in target on loopback, load it, and print the report
    Demo(DemoArgs),
    /// Check this machine against what a load box needs, and say what to change
    Doctor(DoctorArgs),
    /// Steer a run started with --control: users, rate, pause, resume, stop, status
    Ctl(CtlArgs),
}

/// `stampede ctl URL ACTION [VALUE]`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The run's dashboard, e.g. http://127.0.0.1:5665
    pub url: String,
    /// users N | rate N | pause | resume | stop | status
    #[arg(value_name = "ACTION")]
    pub action: String,
    /// The users or the rate (starts per second) to set
    #[arg(value_name = "VALUE", allow_negative_numbers = true)]
    pub value: Option<String>,
    /// Which scenario (needed when the run has several)
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Ramp to the new value over this long [default: 1s]
    #[arg(long, value_name = "DURATION")]
    pub over: Option<String>,
    /// The run's control token [default: $STAMPEDE_CONTROL_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
#[command(mut_arg("shard", |a| a.help(SHARD_BENCH)))]
pub struct BenchArgs {
    /// URL to load, e.g. http://127.0.0.1:8080/path
    pub url: String,
    /// Connections to keep open (each carries one request at a time)
    #[arg(short = 'c', long = "connections", default_value_t = 50)]
    pub connections: usize,
    /// How long to run (10s, 1m30s, 500ms)
    #[arg(short = 'd', long, default_value = "10s", value_parser = duration_arg)]
    pub duration: Duration,
    /// Worker threads, one per core [default: every core the process may use]
    #[arg(short = 't', long = "threads")]
    pub workers: Option<usize>,
    /// Open model: start this many requests per second on a fixed schedule; latency is measured
    /// from each request's intended start
    #[arg(short = 'R', long)]
    pub rate: Option<f64>,
    /// HTTP/2: up to N requests in flight on each connection (like h2load's -m); needs h2
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub streams: usize,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub monitor: MonitorArgs,
    #[command(flatten)]
    pub boxes: BoxesArgs,
    /// No live view
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// A URL (each start is one request), or a scenario file (each start is one iteration of
    /// its journeys; its load settings are replaced by the search)
    pub target: String,
    /// Service level objective, as a threshold: "p(99) < 100ms", "errors < 1%" (repeatable)
    #[arg(long = "slo", value_name = "EXPR", required = true)]
    pub slos: Vec<String>,
    /// First rate tried, per second
    #[arg(long, default_value_t = 100.0)]
    pub start: f64,
    /// Highest rate tried, per second
    #[arg(long, default_value_t = 1_000_000.0)]
    pub max: f64,
    /// How long each rate is held (a step may stop early once clearly lost)
    #[arg(long, default_value = "5s", value_parser = duration_arg)]
    pub step_duration: Duration,
    /// Start of each step left out of its verdict (connections, caches warming up)
    #[arg(long, default_value = "1s", value_parser = duration_arg)]
    pub warmup: Duration,
    /// Stop narrowing when the passing and failing rates are this close
    #[arg(long, default_value = "5%")]
    pub precision: String,
    /// Users (each with its connection) carrying the load, the same for every step [default: sized
    /// for each step from its rate and the measured iteration time, think time included: twice
    /// what it needs, at least 1000, at most what the file limit allows]
    #[arg(short = 'c', long = "connections")]
    pub connections: Option<usize>,
    /// Run the whole search N times and report each answer and their spread; exit 1 when
    /// they differ by more than --precision
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    /// A CI gate: exit 1 when the capacity found is below RATE (requests, or iterations of a
    /// scenario file, per second)
    #[arg(long, value_name = "RATE")]
    pub expect_min: Option<f64>,
    /// Worker threads, one per core [default: every core the process may use]
    #[arg(short = 't', long = "threads")]
    pub workers: Option<usize>,
    /// With a scenario file: base URL replacing its `target`
    #[arg(long = "base-url", value_name = "URL")]
    pub base_url: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub monitor: MonitorArgs,
    /// No live view
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Which HTTP to speak: `bench`, `run`, `capacity`, `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct HttpArgs {
    /// HTTP version: over TLS offer h2 and http/1.1 and speak what the server picks, plain
    /// http:// stays HTTP/1.1 (auto); HTTP/1.1 only (1.1); h2 only, with prior knowledge (h2c)
    /// over plain http:// (2) [default: auto, or the scenario's `http`]
    #[arg(long, value_name = "auto|1.1|2", value_parser = http_arg)]
    pub http: Option<crate::http::version::Http>,
}

fn http_arg(s: &str) -> Result<crate::http::version::Http, String> {
    crate::http::version::Http::parse(s)
}

/// The I/O path: `bench`, `run`, `capacity`, `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct IoArgs {
    /// I/O path: io_uring where this box allows it, else epoll with a warning (auto); io_uring
    /// or nothing (uring); epoll without trying io_uring (epoll)
    #[arg(long, value_name = "auto|uring|epoll", default_value = "auto", value_parser = io_arg)]
    pub io: crate::plan::io::IoChoice,
    #[command(flatten)]
    pub route: RouteArgs,
}

/// Where connections come from and which addresses of a name they go to: `bench`, `run`,
/// `capacity`, `demo` (in `IoArgs`) and `doctor URL`.
#[derive(Debug, Args, Clone, Default)]
pub struct RouteArgs {
    /// Source addresses to connect from, users spread evenly over them: a comma list of
    /// addresses, ranges and CIDR blocks (10.0.0.2-10.0.0.40,10.0.1.0/28,fd00::2); each one must
    /// be an address of this box [default: the file's `sources`, else the kernel picks]
    #[arg(long = "source", value_name = "ADDRS")]
    pub source: Option<String>,
    /// Which addresses of a host name users connect to: the first that answers (first), every
    /// one in turn (round-robin), or one per user at random (random) [default: the file's
    /// `dns`, else first]
    #[arg(long, value_name = "first|round-robin|random", value_parser = dns_arg)]
    pub dns: Option<crate::plan::sources::Dns>,
}

impl RouteArgs {
    /// What `--source` and `--dns` decide when the plan is finished (the rest left default).
    pub fn finish(&self) -> Result<crate::plan::Finish, PlanError> {
        let sources = match &self.source {
            Some(text) => {
                Some(crate::plan::sources::parse(text).map_err(|e| PlanError::Invalid(format!("--source {e}")))?)
            }
            None => None,
        };
        Ok(crate::plan::Finish { sources, dns: self.dns, ..crate::plan::Finish::default() })
    }
}

fn dns_arg(s: &str) -> Result<crate::plan::sources::Dns, String> {
    crate::plan::sources::Dns::parse(s)
}

fn io_arg(s: &str) -> Result<crate::plan::io::IoChoice, String> {
    crate::plan::io::IoChoice::parse(s)
}

/// Live outputs while the run goes: `bench`, `run`, `capacity`, `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct LiveArgs {
    /// Send live metrics while the run goes: prometheus=URL pushes Prometheus remote write (1.0)
    /// once a second, e.g. prometheus=http://127.0.0.1:9090/api/v1/write (repeatable)
    #[arg(short = 'o', long = "out", value_name = "KIND=URL")]
    pub outs: Vec<String>,
    /// This run's id: the `run` label of its live metrics, and `run_id` in the result
    /// [default: 8 random hex digits]
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Serve a live dashboard (and Prometheus text at /metrics) on this address, e.g.
    /// 127.0.0.1:5665
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<String>,
    /// Keep the dashboard up this long after the run ends (Ctrl-C closes it)
    #[arg(long, value_name = "DURATION", value_parser = duration_arg, requires = "dashboard")]
    pub dashboard_linger: Option<Duration>,
    /// Let the dashboard steer the run (users, rate, pause, resume, stop), through its page and
    /// POST /api/control; every change needs the token (run, bench, demo)
    #[arg(long, requires = "dashboard")]
    pub control: bool,
    /// The token control requests must carry [default: $STAMPEDE_CONTROL_TOKEN, else made at
    /// random and printed once]
    #[arg(long, value_name = "TOKEN", requires = "control")]
    pub control_token: Option<String>,
}

impl LiveArgs {
    /// The checked settings (exit 2 on a bad `--out`, `--run-id` or `--dashboard`).
    pub fn settings(&self) -> Result<crate::live::Settings, PlanError> {
        crate::live::Settings::parse(
            &self.outs,
            self.run_id.as_deref(),
            self.dashboard.as_deref(),
            self.dashboard_linger,
        )?
        .with_control(self.control, self.control_token.as_deref())
    }
}

/// The service's own series, watched during the run: `bench` and `capacity` (a scenario file
/// says it in `[monitor]`).
#[derive(Debug, Args, Clone, Default)]
pub struct MonitorArgs {
    /// Watch the service: a Prometheus server, where each --monitor is a PromQL expression
    #[arg(long, value_name = "URL")]
    pub monitor_prometheus: Option<String>,
    /// Watch the service: a Prometheus text endpoint to scrape, where each --monitor is a metric
    /// selector such as node_load1 (repeatable)
    #[arg(long, value_name = "URL")]
    pub monitor_scrape: Vec<String>,
    /// A series to watch, NAME=EXPR: its values go in the timeline and the summary, and
    /// thresholds or --slo may name it: max(NAME) < 0.8 (repeatable)
    #[arg(long = "monitor", value_name = "NAME=EXPR")]
    pub series: Vec<String>,
    /// Time between two samples of the watched series
    #[arg(long, value_name = "DURATION", value_parser = duration_arg, default_value = "1s")]
    pub monitor_interval: Duration,
}

impl MonitorArgs {
    /// The series to watch, checked (not contacted yet); `None` without --monitor.
    pub fn plan(&self) -> Result<Option<crate::monitor::MonitorPlan>, PlanError> {
        if self.series.is_empty() {
            if self.monitor_prometheus.is_some() || !self.monitor_scrape.is_empty() {
                return Err(PlanError::Invalid(
                    "--monitor-prometheus/--monitor-scrape need at least one --monitor NAME=EXPR".into(),
                ));
            }
            return Ok(None);
        }
        let series = self
            .series
            .iter()
            .map(|s| match s.split_once('=') {
                Some((n, e)) if !n.trim().is_empty() => {
                    Ok((n.trim().to_string(), crate::monitor::Written::Plain(e.to_string())))
                }
                _ => Err(PlanError::Invalid(format!("--monitor `{s}`: write NAME=EXPR"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        crate::monitor::MonitorPlan::build(
            self.monitor_interval,
            self.monitor_prometheus.as_deref(),
            &self.monitor_scrape,
            series,
        )
        .map(Some)
        .map_err(|e| PlanError::Invalid(format!("--monitor: {e}")))
    }
}

/// `--shard` on `run`: what this instance's share is of.
const SHARD_RUN: &str = "Run shard i of N (1-based): this instance takes its share of the users and of the rate";
/// `--shard` on `bench`: what this instance's share is of.
const SHARD_BENCH: &str =
    "Run shard i of N (1-based): this instance takes its share of the connections and of the rate";

/// One run split across several boxes: `bench` and `run`. The help of `--shard` is set by each
/// command (`SHARD_RUN`, `SHARD_BENCH`): what is shared differs.
#[derive(Debug, Args, Clone, Default)]
pub struct BoxesArgs {
    /// Run shard i of N (1-based): this instance takes its share of the load
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
    /// Wait until this wall-clock time before starting (RFC 3339 such as 2026-11-24T18:00:00Z,
    /// or @UNIX_SECONDS): aligns the shards of one run across boxes
    #[arg(long, value_name = "TIME", value_parser = start_at_arg)]
    pub start_at: Option<std::time::SystemTime>,
}

/// The request `bench` and `capacity` send, and how.
#[derive(Debug, Args, Clone)]
pub struct RequestArgs {
    /// HTTP method
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Extra header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Request body: a string, or @FILE to read it from a file
    #[arg(long)]
    pub body: Option<String>,
    /// Per-request timeout, from sending to the complete response
    #[arg(long, default_value = "10s", value_parser = duration_arg)]
    pub timeout: Duration,
    /// Time allowed to establish a connection
    #[arg(long, default_value = "5s", value_parser = duration_arg)]
    pub connect_timeout: Duration,
    /// Largest response head (status line and headers) accepted, in bytes
    #[arg(long, default_value_t = crate::http::response::DEFAULT_MAX_HEAD)]
    pub max_header_bytes: usize,
    /// A new connection for every request (measures connection and TLS handshake capacity)
    #[arg(long)]
    pub no_keepalive: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Where results go besides the text summary.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Write the result document (JSON) to FILE, atomically
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (charts and tables, opens offline) to FILE
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the per-second timeline as CSV (one row per second and step) to FILE
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the thresholds as JUnit XML (one test case each) to FILE
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write an HdrHistogram interval log (one latency histogram per second) to FILE
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
}

impl OutputArgs {
    /// `--hdr-log` needs each second's histogram, which only a live run has: refused (exit 2,
    /// before anything is written) by commands that work on saved results or many runs.
    pub fn refuse_hdr_log(&self, command: &str) -> Result<(), PlanError> {
        match &self.hdr_log {
            Some(path) => Err(PlanError::Invalid(format!(
                "--hdr-log {}: `{command}` cannot write an HdrHistogram interval log: it needs each second's histogram, which a result document does not keep; use --hdr-log with `bench` or `run`",
                path.display()
            ))),
            None => Ok(()),
        }
    }

    pub fn files(&self) -> crate::report::Files {
        crate::report::Files {
            json: self.json.clone(),
            html: self.html.clone(),
            csv: self.csv.clone(),
            junit: self.junit.clone(),
        }
    }
}

/// TLS settings for https:// targets.
#[derive(Debug, Args, Default, Clone)]
pub struct TlsArgs {
    /// Trust only the CA certificates in this PEM file (default: the system's roots, or the
    /// Mozilla roots built in when the system has none)
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM), for servers that require one
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Do not verify the server certificate (traffic is still encrypted)
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Key-exchange groups: browser (post-quantum hybrid first, as browsers send), x25519, or a
    /// list of x25519mlkem768, x25519, p256, p384
    #[arg(long, value_name = "GROUPS")]
    pub tls_groups: Option<String>,
    /// Allow only this TLS version: 1.2 or 1.3 [default: both]
    #[arg(long, value_name = "VERSION")]
    pub tls_version: Option<String>,
}

impl TlsArgs {
    pub fn options(&self) -> crate::tls::TlsOptions {
        crate::tls::TlsOptions {
            cacert: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
            groups: self.tls_groups.clone(),
            version: self.tls_version.clone(),
        }
    }
}

#[derive(Debug, Args)]
#[command(mut_arg("shard", |a| a.help(SHARD_RUN)))]
pub struct RunArgs {
    /// Scenario file (TOML); see scenarios/ for ready-made ones
    pub file: PathBuf,
    /// Base URL for the scenario's relative requests, replacing its `target`
    #[arg(long)]
    pub target: Option<String>,
    /// Worker threads, one per core [default: every core the process may use]
    #[arg(short = 't', long = "threads")]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Users of every scenario share N connections per worker and host, as HTTP/2 streams
    /// (replaces each scenario's `connections`)
    #[arg(long, value_name = "N")]
    pub connections: Option<usize>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub boxes: BoxesArgs,
    /// No live view
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Check the file and print what would run, without sending anything
    #[arg(long)]
    pub dry_run: bool,
    /// Set `{{env.NAME}}` for the scenario (repeatable; wins over the process environment)
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Replace the file's [load] with this many constant users (needs --duration)
    #[arg(long, requires = "duration")]
    pub vus: Option<u64>,
    /// With --vus: how long the constant users run
    #[arg(long, value_parser = duration_arg, requires = "vus")]
    pub duration: Option<Duration>,
    /// Run only this scenario of the file, from the start (repeatable)
    #[arg(long = "scenario", value_name = "NAME", conflicts_with = "vus")]
    pub scenarios: Vec<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Address to listen on
    #[arg(short = 'l', long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Server threads
    #[arg(short = 't', long = "threads", default_value_t = 1)]
    pub workers: usize,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Worker threads for the load (the built-in target takes one more)
    #[arg(short = 't', long = "threads", default_value_t = 1)]
    pub workers: usize,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub io: IoArgs,
    /// No live view
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A result document written with --json
    pub file: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Result documents of the shards of one run
    #[arg(required = true, num_args = 2..)]
    pub files: Vec<PathBuf>,
    /// Where to write the merged result document
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Merge even documents that are not the shards of one run (or repeat a shard), with a
    /// warning in the result
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The result to compare against
    pub baseline: PathBuf,
    /// The result to judge
    pub current: PathBuf,
    /// Largest change for the worse allowed in throughput or p50/p95/p99, total and per step
    #[arg(long, default_value = "10%")]
    pub max_regression: String,
    /// Largest rise allowed in p95 [default: --max-regression]
    #[arg(long, value_name = "PCT")]
    pub p95: Option<String>,
    /// Largest rise allowed in p99 [default: --max-regression]
    #[arg(long, value_name = "PCT")]
    pub p99: Option<String>,
    /// Rows (total, steps, scenarios, metrics) with fewer requests than this on either side are
    /// too few to judge, never a regression
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub min_requests: u64,
    /// A percentile's rise is a regression only beyond what sampling explains at this
    /// confidence: 80%, 90%, 95%, 98%, 99% or 99.9%
    #[arg(long, default_value = "95%", value_name = "PCT")]
    pub confidence: String,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A URL to ask which HTTP versions it speaks (ALPN over TLS, h2 with prior knowledge over
    /// plain http://)
    pub url: Option<String>,
    /// Connections you intend to open (checked against file descriptors and local ports)
    #[arg(short = 'c', long = "connections", default_value_t = 10_000)]
    pub connections: usize,
    /// With a URL: `--source` and `--dns` as a run would have them, for the connection ceiling
    #[command(flatten)]
    pub route: RouteArgs,
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s)
}

fn start_at_arg(s: &str) -> Result<std::time::SystemTime, String> {
    crate::units::parse_start_at(s, std::time::SystemTime::now())
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Run(args) => run::run(args),
        Command::Capacity(args) => crate::capacity::command::run(args),
        Command::Report(args) => results::report(args),
        Command::Merge(args) => results::merge(args),
        Command::Compare(args) => results::compare(args),
        Command::Target(args) => target::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Ctl(args) => ctl::run(args),
    }
}

/// The exit code for an error that escaped a command: bad input is 2, anything else 3.
pub fn error_outcome(e: &anyhow::Error) -> Outcome {
    if e.downcast_ref::<PlanError>().is_some() { Outcome::BadInput } else { Outcome::Unreachable }
}
