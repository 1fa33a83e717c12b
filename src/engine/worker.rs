//! One worker: a pinned thread running its own compio runtime (io_uring or epoll), its share of the users and
//! of the arrival rate, and a housekeeping loop that sweeps timeouts, follows the users curve, and
//! sends a stats snapshot every second.

use std::cell::{Cell, RefCell};
use std::num::NonZero;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use compio::driver::{DriverType, ProactorBuilder};

use crate::plan::io::IoPath;
use compio::runtime::{Runtime, RuntimeBuilder};

use super::arrivals::Arrivals;
use super::conn::Net;
use super::ctx::{Ctx, Lane, Numbering, UserFlags, UserHandle};
use super::pacer::Pacer;
use super::timeouts::{Timeouts, sweep_interval};
use super::user::user;
use super::{Interval, Msg, Shared};
use crate::feeder::Feeder;
use crate::plan::{Load, Overflow, Plan};
use crate::stats::{Gauges, Stats};

/// Size of each provided receive buffer: one page, so the pool's resident memory is at most
/// `MAX_RECV_BUFFERS` pages whatever the response sizes.
const RECV_BUFFER: usize = 4 * 1024;
/// Most receive buffers per worker. Buffers are taken only while a response is being read, so
/// this bounds memory independently of the number of connections; when the pool runs dry a
/// connection reads into a small buffer of its own and re-arms.
const MAX_RECV_BUFFERS: usize = 2048;
/// How often the users curve is followed (closed model).
const RAMP_EVERY: Duration = Duration::from_millis(100);

impl Ctx {
    /// Start user `local` of scenario `lane`, or let it go on if it was asked to stop and has
    /// not yet.
    fn start_user(self: &Rc<Self>, lane: usize, local: usize) {
        let mut users = self.lanes[lane].users.borrow_mut();
        if users.len() <= local {
            users.resize_with(local + 1, || None);
        }
        if let Some(h) = &users[local] {
            if !h.task.is_finished() {
                h.flags.stop.set(false);
                return;
            }
            if h.flags.retired.get() {
                return; // done for the run (its data ran out, or its iterations are done)
            }
        }
        let flags = Rc::new(UserFlags::default());
        let task = compio::runtime::spawn(user(self.clone(), lane, local, flags.clone()));
        users[local] = Some(UserHandle { task, flags });
    }

    /// Ask user `local` of scenario `lane` to stop: at once if it is thinking, else after its
    /// current request.
    fn stop_user(&self, lane: usize, local: usize) {
        let mut users = self.lanes[lane].users.borrow_mut();
        let Some(slot) = users.get_mut(local) else { return };
        if let Some(h) = slot {
            if h.flags.retired.get() {
                return;
            }
            if h.flags.thinking.get() || h.task.is_finished() {
                *slot = None; // dropping the handle cancels the task between requests
            } else {
                h.flags.stop.set(true);
            }
        }
    }

    /// Open model: start one more user of scenario `lane` if the worker may; false at its limit.
    fn grow(self: &Rc<Self>, lane: usize) -> bool {
        let n = self.lanes[lane].users.borrow().len();
        if n >= self.lanes[lane].max_users.get() {
            return false;
        }
        self.start_user(lane, n);
        true
    }

    /// Follow each scenario's schedule: closed-model users as its curve asks for now, the users
    /// of a fixed-iteration scenario once it starts, and every user of an ended scenario stopped.
    fn follow_curves(self: &Rc<Self>, now: Instant) {
        for (i, lane) in self.lanes.iter().enumerate() {
            if lane.stopping.get() {
                continue;
            }
            let scenario = &self.plan.scenarios[lane.scenario];
            if now >= lane.end {
                lane.stopping.set(true);
                let have = lane.users.borrow().len();
                (0..have).rev().for_each(|l| self.stop_user(i, l));
                continue;
            }
            if now < lane.start {
                continue;
            }
            match &scenario.load {
                Load::Closed { users } => {
                    let by_hand = lane.curve.borrow().clone();
                    let users = by_hand.as_deref().unwrap_or(users);
                    let t = now.saturating_duration_since(lane.start).as_secs_f64();
                    let want = self.local_share((users.at(t) + 1e-9).floor() as u64).min(lane.max_users.get());
                    let have = lane.users.borrow().len();
                    for l in 0..want {
                        let running =
                            lane.users.borrow().get(l).is_some_and(|h| {
                                h.as_ref().is_some_and(|h| !h.flags.stop.get() && !h.task.is_finished())
                            });
                        if !running {
                            self.start_user(i, l);
                        }
                    }
                    for l in (want..have).rev() {
                        self.stop_user(i, l);
                    }
                }
                Load::Iterations { .. } if !lane.started.get() => {
                    lane.started.set(true);
                    (0..lane.max_users.get()).for_each(|l| self.start_user(i, l));
                }
                Load::Iterations { .. } | Load::Open { .. } => {}
            }
        }
    }
}

impl Ctx {
    /// Apply what the controller changed (`--control`): each scenario's curve from now on, and
    /// the pause.
    fn steer(&self, steer: &super::control::Steer) {
        for lane in &self.lanes {
            lane.paused.set(steer.paused.is_some());
            if let Some(a) = &lane.arrivals {
                a.hold(steer.paused);
            }
            let Some(curve) = steer.curves.get(lane.scenario).cloned().flatten() else { continue };
            match &lane.arrivals {
                Some(a) => a.reschedule(curve),
                None => {
                    let most = self.local_share(curve.max().ceil() as u64);
                    lane.max_users.set(lane.max_users.get().max(most));
                    *lane.curve.borrow_mut() = Some(curve);
                }
            }
        }
    }
}

/// Entries a worker's stats have: one per scenario and step (`scenario * steps + step`).
pub(super) fn stat_slots(plan: &Plan) -> usize {
    plan.scenarios.len() * plan.steps.len()
}

/// Empty stats for one interval of a worker: an entry per scenario and step, and the plan's
/// metrics.
fn fresh_stats(plan: &Plan) -> Stats {
    let mut s = Stats::new(stat_slots(plan));
    s.metrics = plan.metrics.iter().map(crate::stats::metric::MetricStats::for_metric).collect();
    s
}

/// Ring size (SQ entries) and provided receive buffers for a worker of `users` users.
pub fn ring_sizes(users: usize) -> (u32, u16) {
    let entries = (users * 2).next_power_of_two().clamp(256, 16384) as u32;
    let bufs = users.next_power_of_two().clamp(64, MAX_RECV_BUFFERS) as u16;
    (entries, bufs)
}

/// Build a worker's runtime on `path`. io_uring: SINGLE_ISSUER, DEFER_TASKRUN and COOP_TASKRUN,
/// a ring big enough for every connection's receive and send, and a provided-buffer pool for
/// receives. epoll: compio's polling driver (the same operations, each a readiness wait and a
/// plain syscall). `stampede doctor` builds the same to check the box.
pub fn build_runtime(users: usize, path: IoPath) -> std::io::Result<Runtime> {
    let (entries, bufs) = ring_sizes(users);
    let mut proactor = ProactorBuilder::new();
    proactor.driver_type(match path {
        IoPath::Uring => DriverType::IoUring,
        IoPath::Epoll => DriverType::Poll,
    });
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
pub(crate) fn run(plan: Arc<Plan>, worker: usize, shared: Arc<Shared>, tx: Sender<Msg>) {
    if let Some(&core) = plan.cores.get(worker) {
        crate::sys::pin_to(core);
    }
    let max_users = plan.worker_users(worker);
    let rt = match build_runtime(max_users, plan.io.path) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tx.send(Msg::Failed {
                worker,
                error: crate::error::EngineError::Runtime { worker, path: plan.io.path.name(), source: e }.to_string(),
            });
            return;
        }
    };
    let start = shared.start;
    rt.block_on(async {
        if let Some(wait) = start.checked_duration_since(Instant::now()) {
            compio::time::sleep(wait).await;
        }
        let ctx = Rc::new(context(&plan, worker, start, shared.control.is_some()));
        let timers = start_arrivals(&ctx, worker);
        ctx.follow_curves(Instant::now());
        housekeeping(&ctx, worker, &shared, &tx).await;
        drop(timers);
        for lane in &ctx.lanes {
            lane.users.borrow_mut().clear();
        }
        ctx.pools.borrow_mut().clear();
    });
    drop(rt);
    let _ = tx.send(Msg::Done { worker, cpu: crate::sys::thread_cpu(), wait: crate::sys::thread_run_delay() });
}

/// This worker's lane of each scenario: when it runs, its users, and (open model) its share of
/// the schedule; numbered users of the scenarios follow one another.
fn lanes(plan: &Plan, worker: usize, start: Instant, steerable: bool) -> Vec<Lane> {
    let (shards, shard) = (plan.shard.count, plan.shard.index);
    let (slot, slots) = (worker * shards + shard, plan.workers * shards);
    let mut first_user = 0u64;
    let all = plan.scenarios.iter().map(|sc| sc.load.users() as u64).sum();
    let scenarios = plan.scenarios.len() as u64;
    plan.scenarios
        .iter()
        .enumerate()
        .map(|(i, sc)| {
            let lane_start = start + sc.start;
            let arrivals = match &sc.load {
                Load::Open { rate, max_users, overflow, .. } => {
                    let pacer = Pacer::new(Arc::new(rate.clone()), worker, plan.workers, shard, shards);
                    let backlog = match overflow {
                        Overflow::Queue => None,
                        Overflow::Drop => {
                            Some(crate::plan::split_even(plan.shard.share(*max_users), plan.workers, worker) as u64)
                        }
                    };
                    Some(Arrivals::steered(lane_start, pacer, backlog, steerable))
                }
                Load::Closed { .. } | Load::Iterations { .. } => None,
            };
            let lane = Lane {
                scenario: i,
                start: lane_start,
                end: lane_start + sc.load.duration(),
                arrivals,
                users: RefCell::new(Vec::new()),
                max_users: Cell::new(plan.lane_users(i, worker)),
                curve: RefCell::new(None),
                paused: Cell::new(false),
                iterations_left: Cell::new(match &sc.load {
                    Load::Iterations { iterations, shared: true, .. } => {
                        crate::plan::split_even(*iterations as usize, slots, slot) as u64
                    }
                    _ => u64::MAX,
                }),
                numbering: Numbering {
                    first: first_user,
                    count: sc.load.users() as u64,
                    all,
                    scenario: i as u64,
                    scenarios,
                },
                started: Cell::new(false),
                stopping: Cell::new(false),
            };
            first_user += sc.load.users() as u64;
            lane
        })
        .collect()
}

/// What this worker's tasks share: the plan, its own copies of the prebuilt requests, a net per
/// target, its lanes, its feeders' share of the rows, and the interval's stats.
fn context(plan: &Arc<Plan>, worker: usize, start: Instant, steerable: bool) -> Ctx {
    let (shards, shard) = (plan.shard.count, plan.shard.index);
    let (slot, slots) = (worker * shards + shard, plan.workers * shards);
    Ctx {
        feeders: plan
            .users
            .iter()
            .map(|u| u.data.as_ref().map(|d| Feeder::new(d.order, d.rows.len(), slot, slots)))
            .collect(),
        extra_nets: RefCell::new(Vec::new()),
        hops: plan.targets.iter().enumerate().map(|(i, t)| super::conn::Hop::to_target(i, t)).collect(),
        fixed: plan
            .steps
            .iter()
            .map(|s| match &s.request {
                crate::plan::Request::Static { bytes, .. } => Some(Rc::from(&bytes[..])),
                crate::plan::Request::Template { .. } => None,
            })
            .collect(),
        plan: plan.clone(),
        nets: plan.targets.iter().map(|t| Net::new(plan, t)).collect(),
        timeouts: Timeouts::default(),
        stats: RefCell::new(fresh_stats(plan)),
        statuses: plan.status_slots,
        start,
        lanes: lanes(plan, worker, start, steerable),
        in_flight: Cell::new(0),
        stopping: Cell::new(false),
        offset: slot as u64,
        stride: slots as u64,
        cpu_mark: Cell::new(crate::sys::thread_cpu()),
        wait_mark: Cell::new(crate::sys::thread_run_delay()),
        pools: RefCell::new(std::collections::HashMap::new()),
    }
}

/// Each open-model lane's users made ready (its share of `pre_allocated_vus`) and its arrivals
/// timer started; the timers stop when dropped.
fn start_arrivals(ctx: &Rc<Ctx>, worker: usize) -> Vec<compio::runtime::JoinHandle<()>> {
    let plan = &ctx.plan;
    let mut timers = Vec::new();
    for (i, lane) in ctx.lanes.iter().enumerate() {
        if let Load::Open { pre_allocated, .. } = &plan.scenarios[lane.scenario].load {
            let pre = crate::plan::split_even(plan.shard.share(*pre_allocated), plan.workers, worker)
                .min(lane.max_users.get());
            (0..pre).for_each(|l| ctx.start_user(i, l));
            let c = ctx.clone();
            timers.push(compio::runtime::spawn(async move {
                let grow = || c.grow(i);
                c.lanes[i].arrivals.as_ref().expect("open model").run(&grow).await
            }));
        }
    }
    timers
}

/// Sweep timeouts, follow the users curve, send a snapshot each second; at the end (or when
/// asked) stop new requests and give those in flight the grace period.
async fn housekeeping(ctx: &Rc<Ctx>, worker: usize, shared: &Shared, tx: &Sender<Msg>) {
    let plan = &*ctx.plan;
    let end = ctx.start + plan.duration();
    let every = sweep_interval(plan.max_timeout()).min(RAMP_EVERY);
    let mut seq = 0u64;
    let mut next_tick = ctx.start + Duration::from_secs(1);
    let mut steered = 0u64;
    let tick = |seq: &mut u64, next_tick: &mut Instant| {
        send_snapshot(ctx, worker, *seq, *next_tick, false, tx);
        *seq += 1;
        *next_tick += Duration::from_secs(1);
    };
    loop {
        let now = Instant::now();
        if now >= end || shared.stop.load(Ordering::Relaxed) || ctx.all_done(now) {
            break;
        }
        if now >= next_tick {
            tick(&mut seq, &mut next_tick);
            continue;
        }
        ctx.timeouts.sweep(now);
        if let Some(steer) = shared.control.as_ref().and_then(|c| c.steer(&mut steered)) {
            ctx.steer(&steer);
        }
        ctx.follow_curves(now);
        compio::time::sleep_until(next_tick.min(end).min(now + every)).await;
    }
    let stop_at = Instant::now();
    ctx.stopping.set(true);
    for lane in &ctx.lanes {
        if let Some(arrivals) = &lane.arrivals {
            let unstarted = arrivals.unstarted(stop_at.min(lane.end));
            ctx.stats.borrow_mut().drop_starts(lane.scenario, unstarted);
        }
    }
    let interrupted = shared.stop.load(Ordering::Relaxed);
    // Stopped by Ctrl-C: requests in flight get a short grace, whatever the plan says, so what
    // they measured is kept and the process still exits within a second or two.
    let grace = if interrupted { plan.stop_grace } else { plan.graceful_stop() };
    let grace_end = stop_at + grace;
    loop {
        let now = Instant::now();
        if ctx.in_flight.get() == 0 || now >= grace_end {
            break;
        }
        // No per-second snapshots in the grace: the run ended at `stop_at`, and what finishes
        // now belongs to its last interval.
        ctx.timeouts.sweep(now);
        compio::time::sleep_until(grace_end.min(now + Duration::from_millis(10))).await;
    }
    // The run's length is the load's: requests that finish in the grace were sent within it and
    // count in its last interval.
    send_snapshot(ctx, worker, seq, stop_at.min(end), true, tx);
}

fn send_snapshot(ctx: &Ctx, worker: usize, seq: u64, at: Instant, last: bool, tx: &Sender<Msg>) {
    let cpu_now = crate::sys::thread_cpu();
    let cpu = cpu_now.saturating_sub(ctx.cpu_mark.replace(cpu_now));
    let wait_now = crate::sys::thread_run_delay();
    let wait = wait_now.saturating_sub(ctx.wait_mark.replace(wait_now));
    let mut stats = ctx.stats.replace(fresh_stats(&ctx.plan));
    for (t, net) in ctx.nets.iter().enumerate() {
        let (from, to) = net.take_opened();
        stats.opened(Some(t), &from, &to);
    }
    for (_, net) in ctx.extra_nets.borrow().iter() {
        stats.opened(None, &net.take_opened().0, &[]);
    }
    let mut idle = 0;
    for lane in &ctx.lanes {
        if let Some(a) = &lane.arrivals {
            stats.drop_starts(lane.scenario, a.take_dropped());
            idle += a.idle() as u64;
        }
        stats.lane(lane.scenario).active_users = lane.running_users() as u64;
    }
    stats.gauges =
        Gauges { active_users: ctx.running_users() as u64, idle_users: idle, in_flight: ctx.in_flight.get() };
    let elapsed = at.saturating_duration_since(ctx.start);
    let _ = tx.send(Msg::Interval(Box::new(Interval { worker, seq, elapsed, stats, last, cpu, wait })));
    crate::sys::return_free_memory();
}
