//! One worker: a pinned thread running its own compio io_uring runtime, its share of the users
//! (connections) and of the arrival rate, and a housekeeping loop that sweeps timeouts and sends
//! a stats snapshot every second.

use std::cell::{Cell, RefCell};
use std::num::NonZero;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use compio::driver::ProactorBuilder;
use compio::runtime::{Runtime, RuntimeBuilder};

use super::arrivals::Arrivals;
use super::conn::{Conn, Net, Reply};
use super::limit::Limiter;
use super::pacer::Pacer;
use super::timeouts::{Timeouts, sweep_interval};
use super::{Msg, Shared};
use crate::error::{ErrorKind, Failure};
use crate::plan::Plan;
use crate::stats::{Gauges, Stats};

/// Connects one worker may have in flight at once.
const CONNECTS_IN_FLIGHT: usize = 256;
/// Size of each provided receive buffer.
const RECV_BUFFER: usize = 16 * 1024;

/// State shared by the tasks of one worker (single-threaded: Cells, no locks).
pub(crate) struct Ctx {
    pub plan: &'static Plan,
    pub net: Net,
    pub timeouts: Timeouts,
    /// Measurements of the current one-second interval.
    pub stats: RefCell<Stats>,
    pub start: Instant,
    /// Open model: the worker's schedule of starts.
    pub arrivals: Option<Arrivals>,
    pub active: Cell<u64>,
    pub in_flight: Cell<u64>,
}

/// Build the runtime: io_uring with SINGLE_ISSUER, DEFER_TASKRUN and COOP_TASKRUN, a ring big
/// enough for every connection's receive and send, and a provided-buffer pool for receives.
fn build_runtime(users: usize) -> std::io::Result<Runtime> {
    let entries = (users * 2).next_power_of_two().clamp(256, 16384) as u32;
    let bufs = users.next_power_of_two().clamp(64, 4096) as u16;
    let mut proactor = ProactorBuilder::new();
    proactor
        .single_issuer(true)
        .defer_taskrun(true)
        .coop_taskrun(true)
        .capacity(entries)
        .cqsize(entries * 2)
        .buffer_pool_size(NonZero::new(bufs).expect("non-zero"))
        .buffer_pool_buffer_len(RECV_BUFFER);
    RuntimeBuilder::new().with_proactor(proactor).build()
}

/// Entry point of a worker thread. Reports through `tx`; never panics on bad responses.
pub(crate) fn run(plan: &'static Plan, worker: usize, shared: Arc<Shared>, tx: Sender<Msg>) {
    if let Some(&core) = plan.cores.get(worker) {
        crate::sys::pin_to(core);
    }
    let users = plan.worker_users(worker);
    let rt = match build_runtime(users) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tx.send(Msg::Failed {
                worker,
                error: crate::error::EngineError::Runtime { worker, source: e }.to_string(),
            });
            return;
        }
    };
    let start = shared.start;
    let end = start + plan.duration;
    rt.block_on(async {
        if let Some(wait) = start.checked_duration_since(Instant::now()) {
            compio::time::sleep(wait).await;
        }
        let arrivals = plan.load.rate().map(|rate| {
            let curve = std::sync::Arc::new(super::pacer::Curve::constant(rate, plan.duration));
            Arrivals::new(start, Pacer::new(curve, worker, plan.workers, plan.shard.index, plan.shard.count))
        });
        let ctx = Rc::new(Ctx {
            plan,
            net: Net {
                addrs: plan.target.addrs.clone(),
                preferred: Cell::new(0),
                connect_timeout: plan.connect_timeout,
                limiter: Limiter::new(CONNECTS_IN_FLIGHT),
            },
            timeouts: Timeouts::default(),
            stats: RefCell::new(Stats::new(plan.steps.len())),
            start,
            arrivals,
            active: Cell::new(0),
            in_flight: Cell::new(0),
        });
        if std::env::var("STAMPEDE_SIZES").is_ok() {
            eprintln!("user future: {} bytes", std::mem::size_of_val(&user(ctx.clone())));
        }
        let users: Vec<_> = (0..users).map(|_| compio::runtime::spawn(user(ctx.clone()))).collect();
        let timer = ctx.arrivals.is_some().then(|| {
            let ctx = ctx.clone();
            compio::runtime::spawn(async move { ctx.arrivals.as_ref().expect("open model").run().await })
        });
        housekeeping(&ctx, worker, end, &shared, &tx).await;
        drop(users);
        drop(timer);
    });
    drop(rt);
    let _ = tx.send(Msg::Done { worker, cpu: crate::sys::thread_cpu() });
}

/// Sweep timeouts, send a snapshot each second, stop at the end or when asked.
async fn housekeeping(ctx: &Ctx, worker: usize, end: Instant, shared: &Shared, tx: &Sender<Msg>) {
    let every = sweep_interval(ctx.plan.timeout);
    let mut seq = 0u64;
    let mut next_tick = ctx.start + Duration::from_secs(1);
    loop {
        let now = Instant::now();
        if now >= end || shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if now >= next_tick {
            send_snapshot(ctx, worker, seq, next_tick.min(now), false, tx);
            seq += 1;
            next_tick += Duration::from_secs(1);
            continue;
        }
        ctx.timeouts.sweep(now);
        compio::time::sleep_until(next_tick.min(end).min(now + every)).await;
    }
    let stop_at = Instant::now().min(end);
    if let Some(arrivals) = &ctx.arrivals {
        ctx.stats.borrow_mut().dropped += arrivals.unstarted(stop_at);
    }
    send_snapshot(ctx, worker, seq, stop_at, true, tx);
}

fn send_snapshot(ctx: &Ctx, worker: usize, seq: u64, at: Instant, last: bool, tx: &Sender<Msg>) {
    let mut stats = ctx.stats.replace(Stats::new(ctx.plan.steps.len()));
    stats.gauges = Gauges { active_users: ctx.active.get(), in_flight: ctx.in_flight.get() };
    let elapsed = at.saturating_duration_since(ctx.start);
    let _ = tx.send(Msg::Interval { worker, seq, elapsed, stats, last });
}

/// Pause after a failed connect, doubling from 10 ms to 1 s, so a down target is probed, not
/// hammered, and load resumes within a second of it coming back.
struct Backoff(Duration);

impl Backoff {
    const MIN: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        d
    }
    fn reset(&mut self) {
        self.0 = Self::MIN;
    }
}

/// One user: a connection sending the plan's request, back to back (closed model) or on the
/// worker's schedule (open model), until the worker stops.
async fn user(ctx: Rc<Ctx>) {
    let plan = ctx.plan;
    let step = &plan.steps[0];
    let req: &'static [u8] = &step.bytes;
    let mut conn = Conn::new(ctx.timeouts.slot(), plan.max_head);
    let mut backoff = Backoff(Backoff::MIN);
    ctx.active.set(ctx.active.get() + 1);
    loop {
        let intended = match &ctx.arrivals {
            Some(arrivals) => match arrivals.take().await {
                Some(at) => Some(at),
                None => break,
            },
            None => None,
        };
        ctx.in_flight.set(ctx.in_flight.get() + 1);
        let (result, _) = conn.request(&ctx.net, req, step.head, plan.timeout).await;
        ctx.in_flight.set(ctx.in_flight.get() - 1);
        let connect_failed = matches!(&result, Err(f) if f.kind == ErrorKind::Connect);
        record(&ctx, 0, intended, &result, req.len() as u64);
        if connect_failed {
            compio::time::sleep(backoff.next()).await;
        } else {
            backoff.reset();
        }
    }
    ctx.active.set(ctx.active.get() - 1);
}

/// Count one request's outcome in the current interval.
fn record(ctx: &Ctx, step: usize, intended: Option<Instant>, result: &Result<Reply, Failure>, bytes_out: u64) {
    let mut stats = ctx.stats.borrow_mut();
    let s = &mut stats.steps[step];
    match result {
        Ok(r) => {
            let service = r.done_at.saturating_duration_since(r.sent_at).as_micros() as u64;
            let (latency, service) = match intended {
                Some(t) => (r.done_at.saturating_duration_since(t).as_micros() as u64, Some(service)),
                None => (service, None),
            };
            s.response(r.status, latency, service, r.bytes_in, r.bytes_out);
            if r.status >= 400 {
                s.status_error();
            }
        }
        Err(f) => {
            let sent = if f.kind == ErrorKind::Connect { 0 } else { bytes_out };
            s.failure(f, sent);
        }
    }
}
