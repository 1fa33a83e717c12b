//! What the tasks of one worker share (single-threaded: `Cell`s, no locks): the plan, the
//! connections' settings per target, the interval's stats, the schedule of starts, and the users.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compio::runtime::JoinHandle;

use super::arrivals::Arrivals;
use super::conn::Net;
use super::h2::pool::Pool;
use super::timeouts::Timeouts;
use crate::feeder::Feeder;
use crate::plan::Plan;
use crate::stats::Stats;

/// How the worker steers a user.
#[derive(Debug, Default)]
pub(super) struct UserFlags {
    /// Stop before the next request (ramp-down).
    pub stop: Cell<bool>,
    /// In think time: safe to cancel at once.
    pub thinking: Cell<bool>,
    /// Done for the run: not restarted (its data ran out, or its fixed iterations are done).
    pub retired: Cell<bool>,
}

/// A running user and how to stop it.
pub(super) struct UserHandle {
    pub task: JoinHandle<()>,
    pub flags: Rc<UserFlags>,
}

/// One scenario on one worker: its users, its schedule of starts, its window of the run.
pub(super) struct Lane {
    /// Index into `Plan::scenarios`.
    pub scenario: usize,
    /// When it starts and ends on this run's clock.
    pub start: Instant,
    pub end: Instant,
    /// Open model: this worker's schedule of its starts.
    pub arrivals: Option<Arrivals>,
    /// Its users on this worker, by local index.
    pub users: RefCell<Vec<Option<UserHandle>>>,
    /// Most users it may run on this worker (raised when users are raised by hand).
    pub max_users: Cell<usize>,
    /// Closed model: the users curve as changed by hand (`--control`), else the plan's.
    pub curve: RefCell<Option<Arc<crate::plan::curve::Curve>>>,
    /// Paused by hand: no new requests until the resume.
    pub paused: Cell<bool>,
    /// `shared-iterations`: iterations this worker may still start (else unlimited).
    pub iterations_left: Cell<u64>,
    /// How its users are numbered run-wide: scenarios number their users apart.
    pub numbering: Numbering,
    /// Fixed-iteration scenario whose users have been started.
    pub started: Cell<bool>,
    /// Over: no new requests.
    pub stopping: Cell<bool>,
}

/// How a scenario numbers its users run-wide (`{{vu}}`): the file's users after the earlier
/// scenarios' file users; users raised beyond the file's count by hand (`--control`) after every
/// scenario's file users, the scenarios taking turns, so that no two users share a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbering {
    /// Number of its first user, and how many users the file gives it.
    pub first: u64,
    pub count: u64,
    /// Users the file gives all scenarios; the scenario's index, and how many there are.
    pub all: u64,
    pub scenario: u64,
    pub scenarios: u64,
}

impl Numbering {
    /// The run-wide number (0-based) of the scenario's user `n`.
    pub fn number(&self, n: u64) -> u64 {
        if n < self.count { self.first + n } else { self.all + (n - self.count) * self.scenarios + self.scenario }
    }
}

impl Lane {
    /// Take one iteration of a `shared-iterations` budget; false when none is left.
    pub fn take_iteration(&self) -> bool {
        let left = self.iterations_left.get();
        if left == 0 {
            return false;
        }
        if left != u64::MAX {
            self.iterations_left.set(left - 1);
        }
        true
    }

    pub fn running_users(&self) -> usize {
        self.users.borrow().iter().filter(|h| h.as_ref().is_some_and(|h| !h.task.is_finished())).count()
    }

    /// Nothing more to do: past its end, or (fixed iterations) every user done.
    pub fn done(&self, now: Instant, iterations: bool) -> bool {
        now >= self.end
            || (iterations
                && self.started.get()
                && self.users.borrow().iter().all(|h| h.as_ref().is_none_or(|h| h.task.is_finished())))
    }
}

/// A host reached by a redirect: its authority (`host[:port]`) and whether it is https.
pub(super) type HostKey = (String, bool);

/// State shared by the tasks of one worker (single-threaded: Cells, no locks).
pub(super) struct Ctx {
    pub plan: Arc<Plan>,
    /// Each step's prebuilt request bytes (`None` for templated steps): this worker's own
    /// reference-counted copy, so sending one costs no atomic operation.
    pub fixed: Vec<Option<Rc<[u8]>>>,
    /// One per target of the plan.
    pub nets: Vec<Net>,
    /// The plan's targets as first hops of a step's exchange.
    pub hops: Vec<super::conn::Hop>,
    /// Hosts reached by redirects that are not targets of the plan, by `(authority, tls)`;
    /// index `nets.len() + i` for users' connection slots.
    pub extra_nets: RefCell<Vec<(HostKey, Rc<Net>)>>,
    /// Each user type's data feeder (`None` without data), for this worker's share of the rows.
    pub feeders: Vec<Option<Feeder>>,
    /// Status slots each user keeps for conditions.
    pub statuses: usize,
    pub timeouts: Timeouts,
    /// Measurements of the current one-second interval: one entry per scenario and step
    /// (`scenario * steps + step`).
    pub stats: RefCell<Stats>,
    pub start: Instant,
    /// One per scenario of the plan.
    pub lanes: Vec<Lane>,
    pub in_flight: Cell<u64>,
    /// The run is over: no new requests.
    pub stopping: Cell<bool>,
    /// This worker's place among all workers of all shards: user `l` of a scenario on this
    /// worker is its user `l * stride + offset`.
    pub offset: u64,
    pub stride: u64,
    /// This thread's CPU time at the last snapshot.
    pub cpu_mark: Cell<Duration>,
    /// This thread's run-queue wait at the last snapshot.
    pub wait_mark: Cell<Duration>,
    /// Connections shared by a scenario's users, by (scenario lane, connection slot).
    pub pools: RefCell<std::collections::HashMap<(usize, usize), Rc<Pool>>>,
}

impl Ctx {
    /// The scenario-wide number of this worker's `local`-th user of a scenario.
    pub fn scenario_id(&self, local: usize) -> u64 {
        local as u64 * self.stride + self.offset
    }

    /// How many of a scenario's first `total` users belong to this worker.
    pub fn local_share(&self, total: u64) -> usize {
        total.saturating_sub(self.offset).div_ceil(self.stride) as usize
    }

    /// Every scenario is done on this worker.
    pub fn all_done(&self, now: Instant) -> bool {
        self.lanes.iter().all(|l| {
            let iterations = matches!(self.plan.scenarios[l.scenario].load, crate::plan::Load::Iterations { .. });
            l.done(now, iterations)
        })
    }

    pub fn running_users(&self) -> usize {
        self.lanes.iter().map(Lane::running_users).sum()
    }

    /// The connections scenario `lane`'s users share to connection slot `slot`, when they share
    /// them (`connections = N`: N per worker; `bench --streams N`: one per N users); made on
    /// first use.
    pub fn pool(&self, lane: usize, slot: usize) -> Option<Rc<Pool>> {
        let l = &self.lanes[lane];
        let size = match self.plan.scenarios[l.scenario].connections {
            Some(n) => n,
            None if self.plan.streams > 1 => l.max_users.get().div_ceil(self.plan.streams),
            None => return None,
        };
        if self.plan.http == crate::http::version::Http::H1 {
            return None;
        }
        let mut pools = self.pools.borrow_mut();
        Some(pools.entry((lane, slot)).or_insert_with(|| Rc::new(Pool::new(size))).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::Numbering;

    /// Users raised by hand beyond a scenario's file count took `{{vu}}` numbers of the next
    /// scenario's users.
    #[test]
    fn users_raised_by_hand_take_numbers_no_other_user_has() {
        let counts = [3u64, 2, 4];
        let all: u64 = counts.iter().sum();
        let mut seen = std::collections::HashSet::new();
        let mut first = 0;
        for (i, count) in counts.iter().enumerate() {
            let n = Numbering { first, count: *count, all, scenario: i as u64, scenarios: counts.len() as u64 };
            for user in 0..count * 5 {
                assert!(seen.insert(n.number(user)), "scenario {i} user {user} took a number already taken");
            }
            assert_eq!(n.number(0), first, "the file's users keep their numbers");
            first += count;
        }
    }
}
