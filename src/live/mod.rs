//! Live outputs while a run goes: Prometheus remote write (`--out prometheus=URL`) and the web
//! dashboard (`--dashboard ADDR`, with `/metrics`), fed each second from the collector.
//!
//! Nothing here runs on a worker thread. Each second the collector hands [`Live::second`] the
//! run so far; it builds one [`prom::Snapshot`] (and, with a dashboard, one JSON frame) and
//! passes them on: to each pusher's thread by channel, to the dashboard's state under a lock. A
//! slow or dead endpoint delays neither the collector nor the workers: its pusher drops the
//! seconds it could not send and counts them ([`PushReport`]).

pub mod control;
mod dashboard;
mod frame;
mod push;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::engine::Tick;
use crate::error::PlanError;
use crate::plan::Plan;
use crate::prom;
pub use crate::report::result::PushReport;
use crate::stats::Stats;

/// What the command line asked for, checked (nothing bound or started yet).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The `run` label and the result's `run_id`.
    pub run_id: String,
    /// Remote-write endpoints.
    pub prometheus: Vec<url::Url>,
    /// Where to serve the dashboard.
    pub dashboard: Option<SocketAddr>,
    /// How long the dashboard stays up after the run.
    pub linger: Duration,
    /// `--control`: the token control requests must carry.
    pub control: Option<String>,
    /// The token was made at random: print it once at the start.
    pub show_token: bool,
}

impl Settings {
    /// Check `--out KIND=URL` (repeatable), `--run-id`, `--dashboard ADDR`, `--dashboard-linger`.
    pub fn parse(
        outs: &[String],
        run_id: Option<&str>,
        dashboard: Option<&str>,
        linger: Option<Duration>,
    ) -> Result<Settings, PlanError> {
        let bad = |m: String| PlanError::Invalid(m);
        let mut prometheus = Vec::new();
        for out in outs {
            let Some((kind, value)) = out.split_once('=') else {
                return Err(bad(format!(
                    "--out `{out}`: use KIND=URL, e.g. prometheus=http://127.0.0.1:9090/api/v1/write"
                )));
            };
            match kind.trim() {
                "prometheus" => {
                    prometheus.push(endpoint(value.trim()).map_err(|e| bad(format!("--out `{out}`: {e}")))?)
                }
                other => {
                    return Err(bad(format!("--out `{out}`: unknown output kind `{other}` (known: prometheus)")));
                }
            }
        }
        let run_id = match run_id {
            Some(id) => {
                check_run_id(id).map_err(|e| bad(format!("--run-id `{id}`: {e}")))?;
                id.to_string()
            }
            None => random_run_id(),
        };
        let dashboard =
            match dashboard {
                Some(a) => Some(a.to_socket_addrs().ok().and_then(|mut it| it.next()).ok_or_else(|| {
                    bad(format!("--dashboard `{a}`: not an address to listen on, e.g. 127.0.0.1:5665"))
                })?),
                None => None,
            };
        Ok(Settings { run_id, prometheus, dashboard, linger: linger.unwrap_or_default(), ..Settings::default() })
    }

    /// `--control` with its token (`--control-token`, else `STAMPEDE_CONTROL_TOKEN`, else made
    /// at random). A dashboard on a non-loopback address takes only a token the user gave.
    pub fn with_control(mut self, control: bool, token: Option<&str>) -> Result<Settings, PlanError> {
        if !control {
            return Ok(self);
        }
        let bad = |m: String| PlanError::Invalid(m);
        let Some(addr) = self.dashboard else {
            return Err(bad("--control needs --dashboard ADDR (the control panel and API are served there)".into()));
        };
        let env = std::env::var("STAMPEDE_CONTROL_TOKEN").ok().filter(|t| !t.is_empty());
        let given = token.map(str::to_string).or(env);
        match given {
            Some(t) => {
                control::check_token(&t).map_err(|e| bad(format!("--control-token: {e}")))?;
                self.control = Some(t);
            }
            None if !addr.ip().is_loopback() => {
                return Err(bad(format!(
                    "--control on {addr}, not a loopback address, needs a token you choose: --control-token or STAMPEDE_CONTROL_TOKEN"
                )));
            }
            None => {
                self.control = Some(control::random_token());
                self.show_token = true;
            }
        }
        Ok(self)
    }

    /// Nothing to do each second.
    pub fn is_idle(&self) -> bool {
        self.prometheus.is_empty() && self.dashboard.is_none()
    }
}

/// A remote-write URL: http or https, with a host.
fn endpoint(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}`: use http:// or https://", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(url)
}

/// A run id is a label value people type into queries: 1 to 64 of `A-Z a-z 0-9 _ . : -`.
fn check_run_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 {
        return Err("use 1 to 64 characters".into());
    }
    match id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))) {
        Some(c) => Err(format!("`{c}` is not allowed; use letters, digits, `_`, `.`, `:` and `-`")),
        None => Ok(()),
    }
}

/// Eight hex digits, different for every run (the standard library's random hash keys, mixed
/// with the time and the process id).
pub fn random_run_id() -> String {
    use std::hash::BuildHasher;
    let seed = (std::time::SystemTime::now(), std::process::id());
    let h = std::collections::hash_map::RandomState::new().hash_one(seed);
    format!("{:08x}", h as u32)
}

/// What every frame of a run says about it.
#[derive(Debug, Clone, Default)]
struct RunInfo {
    command: String,
    name: String,
    target: String,
    /// Planned length; `None` for a capacity search.
    duration_s: Option<f64>,
}

/// The live outputs of one command, started before the load and finished after it.
pub struct Live {
    settings: Settings,
    pushers: Vec<push::Pusher>,
    dashboard: Option<dashboard::Dashboard>,
    info: RunInfo,
    /// Start of the first run, and of the current one, on the dashboard's time axis.
    started: Option<Instant>,
    offset_s: f64,
    /// Earlier runs of a capacity search: their totals, so counters keep rising across steps.
    base: Option<Stats>,
    /// `--control`: the run's steering, for its counters.
    control: Option<Arc<crate::engine::control::Control>>,
    finished: bool,
}

impl Live {
    /// Bind the dashboard and start the pushers. A dashboard address that cannot be bound is bad
    /// input (exit 2, before any load); a non-loopback one is served with a warning.
    /// User metrics whose names would give the same series are refused here too.
    pub fn start(
        settings: &Settings,
        plan: &Plan,
        control: Option<Arc<crate::engine::control::Control>>,
    ) -> Result<Live, PlanError> {
        if !settings.is_idle() {
            prom::check_metric_names(plan.metrics.iter().map(|m| (m.name.as_str(), m.kind())))
                .map_err(|e| PlanError::Invalid(e.to_string()))?;
        }
        let shard = (plan.shard.count > 1).then(|| format!("{}/{}", plan.shard.index + 1, plan.shard.count));
        let labels = prom::Labels { run: settings.run_id.clone(), shard };
        let control_ref = control.clone();
        let dashboard = match settings.dashboard {
            Some(addr) => {
                let steering = match (control, &settings.control) {
                    (Some(control), Some(token)) => Some(control::Steering { control, token: token.clone() }),
                    _ => None,
                };
                if !addr.ip().is_loopback() {
                    let what = if steering.is_some() {
                        "sees the run, and with the token can change it"
                    } else {
                        "sees the run (the page is read-only)"
                    };
                    eprintln!("warning: --dashboard {addr} is not a loopback address: anyone who can reach it {what}");
                }
                let steered = steering.is_some();
                let d = dashboard::Dashboard::bind(addr, labels.clone(), steering)
                    .map_err(|e| PlanError::Invalid(format!("--dashboard {addr}: cannot listen there: {e}")))?;
                eprintln!("dashboard: http://{}/  (Prometheus text at /metrics)", d.addr());
                if steered {
                    eprintln!("control: POST http://{}/api/control (Authorization: Bearer TOKEN)", d.addr());
                    if settings.show_token {
                        eprintln!("control token: {}", settings.control.as_deref().unwrap_or_default());
                    }
                }
                Some(d)
            }
            None => None,
        };
        let pushers = settings.prometheus.iter().map(|url| push::Pusher::start(url.clone(), labels.clone())).collect();
        drop(labels);
        Ok(Live {
            settings: settings.clone(),
            pushers,
            dashboard,
            info: RunInfo::default(),
            started: None,
            offset_s: 0.0,
            base: None,
            control: control_ref,
            finished: false,
        })
    }

    /// A run of `plan` begins (a capacity search begins one per step).
    pub fn begin(&mut self, plan: &Plan, capacity: bool) {
        self.info = RunInfo {
            command: plan.command.clone(),
            name: plan.name.clone(),
            target: plan.target().url.clone(),
            duration_s: (!capacity).then(|| plan.duration().as_secs_f64()),
        };
        match self.started {
            None => self.started = Some(Instant::now()),
            Some(s) => self.offset_s = s.elapsed().as_secs_f64(),
        }
    }

    /// A second of the current run is complete.
    /// `monitor`: what the service's series gave so far and its summary, if they are watched.
    pub fn second(
        &mut self,
        plan: &Plan,
        tick: &Tick,
        monitor: Option<(&crate::monitor::Samples, &crate::monitor::MonitorResult)>,
    ) {
        if self.settings.is_idle() {
            return;
        }
        let merged;
        let total = match &self.base {
            Some(base) => {
                let mut t = base.clone();
                t.merge(tick.total);
                merged = t;
                &merged
            }
            None => tick.total,
        };
        let mut snapshot = frame::snapshot(plan, tick, total);
        snapshot.control = self.control.as_ref().map(|c| (c.accepted(), c.refused()));
        let snapshot = Arc::new(snapshot);
        for p in &self.pushers {
            p.send(snapshot.clone());
        }
        if let Some(d) = &self.dashboard {
            let t = self.offset_s + tick.row.t;
            let mut f = frame::dashboard(plan, tick, total, &self.info, &self.settings.run_id, t, monitor);
            if let Some(c) = &self.control {
                f.json["control"] = frame::control(&c.events_after(0), self.offset_s, plan.scenarios.len() > 1);
            }
            d.publish(f, snapshot);
        }
    }

    /// A run of a capacity search is over: later snapshots count its `total` too.
    pub fn end_run(&mut self, total: &Stats) {
        match &mut self.base {
            Some(b) => b.merge(total),
            None => self.base = Some(total.clone()),
        }
    }

    /// The run is over: push once more (the final counts), tell the dashboard, and report what
    /// each endpoint received.
    pub fn finish(&mut self) -> Vec<PushReport> {
        self.finished = true;
        if let Some(d) = &self.dashboard {
            d.done();
        }
        std::mem::take(&mut self.pushers).into_iter().map(push::Pusher::finish).collect()
    }

    /// Keep the dashboard up for `--dashboard-linger` (or until `stop`), then close it.
    pub fn linger(mut self, stop: &AtomicBool) {
        if !self.finished {
            self.finish();
        }
        let Some(d) = self.dashboard.take() else { return };
        if !self.settings.linger.is_zero() {
            eprintln!(
                "dashboard stays up at http://{}/ for {} (Ctrl-C to close it)",
                d.addr(),
                crate::units::duration(self.settings.linger)
            );
            let until = Instant::now() + self.settings.linger;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
            }
        }
        d.close();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(d) = self.dashboard.take() {
            d.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_needs_a_known_kind_and_a_url() {
        let p = |o: &str| Settings::parse(&[o.to_string()], None, None, None).map(|s| s.prometheus);
        assert_eq!(p("prometheus=http://127.0.0.1:9090/api/v1/write").unwrap()[0].path(), "/api/v1/write");
        let e = p("influxdb=http://x").unwrap_err().to_string();
        assert!(e.contains("unknown output kind `influxdb`"), "{e}");
        let e = p("prometheus").unwrap_err().to_string();
        assert!(e.contains("use KIND=URL"), "{e}");
        let e = p("prometheus=not a url").unwrap_err().to_string();
        assert!(e.contains("not a URL"), "{e}");
        let e = p("prometheus=ftp://h/x").unwrap_err().to_string();
        assert!(e.contains("scheme `ftp`"), "{e}");
    }

    #[test]
    fn run_ids_are_checked_or_made_up() {
        let s = Settings::parse(&[], Some("nightly-42"), None, None).unwrap();
        assert_eq!(s.run_id, "nightly-42");
        let e = Settings::parse(&[], Some("a b"), None, None).unwrap_err().to_string();
        assert!(e.contains("` ` is not allowed"), "{e}");
        assert!(Settings::parse(&[], Some(""), None, None).is_err());
        let (a, b) = (random_run_id(), random_run_id());
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b, "two runs got the same id");
    }

    #[test]
    fn dashboard_address_must_be_an_address() {
        let e = Settings::parse(&[], None, Some("nowhere"), None).unwrap_err().to_string();
        assert!(e.contains("--dashboard `nowhere`"), "{e}");
        let s = Settings::parse(&[], None, Some("127.0.0.1:0"), None).unwrap();
        assert_eq!(s.dashboard.unwrap().ip().to_string(), "127.0.0.1");
    }
}
