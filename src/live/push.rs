//! Prometheus remote write: a thread per endpoint that POSTs the latest snapshot once a second
//! (remote-write 1.0: protobuf, snappy), and once more at the end. A failed push is dropped and
//! counted, the next one waits (1 s, doubling to 30 s), and the first failure is warned about once;
//! seconds that arrive while a push is slow or waiting replace each other and count as dropped.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http::client::Endpoint;
use crate::prom::{self, Labels, Snapshot};
use crate::report::result::PushReport;

/// Time to connect, and to send a push and read its answer, during the run.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The same for the final push (the run is over; do not hold the exit up for long).
const FINAL_TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

enum Cmd {
    Snapshot(Arc<Snapshot>),
    End,
}

/// One remote-write endpoint's thread.
pub struct Pusher {
    tx: Sender<Cmd>,
    handle: JoinHandle<PushReport>,
}

impl Pusher {
    pub fn start(url: url::Url, labels: Labels) -> Pusher {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("stampede-push".into())
            .spawn(move || run(Endpoint::new(url), labels, rx))
            .expect("spawn the remote-write thread");
        Pusher { tx, handle }
    }

    /// Hand over this second (never blocks).
    pub fn send(&self, s: Arc<Snapshot>) {
        let _ = self.tx.send(Cmd::Snapshot(s));
    }

    /// Push the final counts and report.
    pub fn finish(self) -> PushReport {
        let _ = self.tx.send(Cmd::End);
        let url = String::new();
        self.handle.join().unwrap_or(PushReport {
            kind: "prometheus".into(),
            url,
            last_error: Some("the push thread panicked".into()),
            ..PushReport::default()
        })
    }
}

fn run(endpoint: Endpoint, labels: Labels, rx: Receiver<Cmd>) -> PushReport {
    let mut report = PushReport { kind: "prometheus".into(), url: endpoint.shown.clone(), ..PushReport::default() };
    let mut latest: Option<Arc<Snapshot>> = None;
    let mut pending = false;
    let mut backoff = Duration::ZERO;
    let mut next_try = Instant::now();
    let mut failing = false;
    let take = |cmd: Cmd, latest: &mut Option<Arc<Snapshot>>, pending: &mut bool, report: &mut PushReport| match cmd {
        Cmd::Snapshot(s) => {
            if *pending {
                report.dropped += 1;
            }
            *latest = Some(s);
            *pending = true;
            false
        }
        Cmd::End => true,
    };
    loop {
        let first = if pending {
            match rx.recv_timeout(next_try.saturating_duration_since(Instant::now())) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Cmd::End),
            }
        } else {
            Some(rx.recv().unwrap_or(Cmd::End))
        };
        let mut ended = first.is_some_and(|c| take(c, &mut latest, &mut pending, &mut report));
        while !ended && let Ok(c) = rx.try_recv() {
            ended = take(c, &mut latest, &mut pending, &mut report);
        }
        if ended {
            // Once more at the end, stamped now: the final counts, whatever was sent before.
            if let Some(s) = &latest {
                let mut last = (**s).clone();
                last.timestamp_ms = s.timestamp_ms.max(super::frame::now_ms());
                match push(&endpoint, &last, &labels, FINAL_TIMEOUT) {
                    Ok(()) => report.pushed += 1,
                    Err(e) => {
                        report.dropped += 1;
                        if !failing {
                            eprintln!("warning: the final push to {} failed: {e}", endpoint.shown);
                        }
                        report.last_error = Some(e);
                    }
                }
            }
            return report;
        }
        if !pending || Instant::now() < next_try {
            continue;
        }
        let Some(s) = &latest else { continue };
        pending = false;
        match push(&endpoint, s, &labels, TIMEOUT) {
            Ok(()) => {
                report.pushed += 1;
                backoff = Duration::ZERO;
                if failing {
                    eprintln!("remote write to {} works again", endpoint.shown);
                    failing = false;
                }
            }
            Err(e) => {
                report.dropped += 1;
                backoff = (backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                next_try = Instant::now() + backoff;
                if !failing && report.last_error.is_none() {
                    eprintln!(
                        "warning: remote write to {} failed: {e}; the run goes on, pushes are retried with backoff and dropped ones counted",
                        endpoint.shown
                    );
                }
                failing = true;
                report.last_error = Some(e);
            }
        }
    }
}

/// POST one snapshot; Ok on a 2xx answer.
fn push(endpoint: &Endpoint, s: &Snapshot, labels: &Labels, timeout: Duration) -> Result<(), String> {
    let body = prom::encode(&prom::series(s, labels)).map_err(|e| e.to_string())?;
    endpoint.request("POST", None, &prom::headers(), &body, timeout)?.ok().map(|_| ())
}
