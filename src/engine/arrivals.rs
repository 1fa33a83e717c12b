//! Open-model arrivals within one worker: one timer walks the worker's schedule and wakes a parked
//! user for each due start; a user that finishes while starts are overdue takes the next one at
//! once (its wait counts in its latency). One timer per worker instead of one per request.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::pacer::Pacer;

/// Above this many starts per second in one worker, starts are released on a grid of `TICK`
/// (never early, at most `TICK` late) so the timer does not wake for every single request.
pub const PRECISE_UP_TO: f64 = 20_000.0;
pub const TICK: Duration = Duration::from_micros(50);

/// A start handed to a user.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// When it was due: its latency runs from here.
    pub at: Instant,
    /// The generator's own lag in sending it: how long after both the start was due and the
    /// user was free it got going.
    pub lag: Duration,
    /// Its number over the whole run (all workers and shards).
    pub index: u64,
}

pub struct Arrivals {
    start: Instant,
    pacer: RefCell<Pacer>,
    /// The next start (ns after `start`) not yet taken; `None` once the schedule has ended.
    next: Cell<Option<u64>>,
    /// Users waiting for a start, first come first served.
    parked: RefCell<VecDeque<Waker>>,
    /// The timer, when it waits for a user to become free.
    timer: RefCell<Option<Waker>>,
    tick: Cell<Duration>,
    /// Paused since this instant (`--control`): starts due from then on are held.
    hold: Cell<Option<Instant>>,
    /// The schedule can be changed while it runs (`--control`): running out of starts before
    /// its end is not the end.
    steerable: bool,
    /// Most starts that may wait for a free user; beyond, starts are dropped (`None`: no limit).
    backlog: Option<u64>,
    /// Starts dropped since last asked.
    dropped: Cell<u64>,
}

impl Arrivals {
    #[cfg(test)]
    pub fn new(start: Instant, pacer: Pacer, backlog: Option<u64>) -> Arrivals {
        Arrivals::steered(start, pacer, backlog, false)
    }

    /// Arrivals whose schedule a controller may change while they run.
    pub fn steered(start: Instant, mut pacer: Pacer, backlog: Option<u64>, steerable: bool) -> Arrivals {
        let worker_rate = pacer.peak_rate();
        let next = pacer.next_due();
        Arrivals {
            start,
            pacer: RefCell::new(pacer),
            next: Cell::new(next),
            parked: RefCell::new(VecDeque::new()),
            timer: RefCell::new(None),
            tick: Cell::new(if worker_rate > PRECISE_UP_TO { TICK } else { Duration::ZERO }),
            hold: Cell::new(None),
            steerable,
            backlog,
            dropped: Cell::new(0),
        }
    }

    fn at(&self, t: u64) -> Instant {
        self.start + Duration::from_nanos(t)
    }

    /// The latest instant whose starts may go now: `now`, or just before a pause began.
    fn horizon(&self, now: Instant) -> Instant {
        match self.hold.get() {
            Some(h) if h <= now => h.checked_sub(Duration::from_nanos(1)).unwrap_or(h),
            _ => now,
        }
    }

    /// The schedule is over for good (not merely out of starts while it can still change).
    fn ended(&self, now: Instant) -> bool {
        !self.steerable || now >= self.at(self.pacer.borrow().end_ns())
    }

    /// Follow `curve` from now on (a change by hand): the starts taken so far stay taken, the
    /// next ones are due on the new schedule (overdue ones go at once, their latency from when
    /// they were due).
    pub fn reschedule(&self, curve: std::sync::Arc<crate::plan::curve::Curve>) {
        let mut pacer = self.pacer.borrow_mut();
        let taken = pacer.taken() - u64::from(self.next.get().is_some());
        let mut p = pacer.with_curve(curve, taken);
        self.next.set(p.next_due());
        if p.peak_rate() > PRECISE_UP_TO {
            self.tick.set(TICK);
        }
        *pacer = p;
        drop(pacer);
        if let Some(timer) = self.timer.borrow_mut().take() {
            timer.wake();
        }
    }

    /// Hold the starts due from `since` on (a pause), or release them (`None`).
    pub fn hold(&self, since: Option<Instant>) {
        self.hold.set(since);
    }

    /// The next start if it is due, else wait for the timer to release one. `None` once the
    /// schedule has ended.
    pub async fn take(&self) -> Option<Start> {
        let free_at = Instant::now();
        poll_fn(|cx| {
            let now = Instant::now();
            let Some(t) = self.next.get() else {
                if self.ended(now) {
                    return Poll::Ready(None);
                }
                self.parked.borrow_mut().push_back(cx.waker().clone());
                return Poll::Pending;
            };
            let at = self.at(t);
            if at <= self.horizon(now) {
                let mut pacer = self.pacer.borrow_mut();
                let index = pacer.last_index();
                self.next.set(pacer.next_due());
                let lag = now.saturating_duration_since(at.max(free_at));
                return Poll::Ready(Some(Start { at, lag, index }));
            }
            self.parked.borrow_mut().push_back(cx.waker().clone());
            if let Some(timer) = self.timer.borrow_mut().take() {
                timer.wake();
            }
            Poll::Pending
        })
        .await
    }

    /// The timer task: until the schedule ends, sleep to the next start (rounded up to the
    /// grid), then wake one parked user per due start. When starts are due and no user is
    /// free, `grow` may start another user (false: at the limit); then the starts wait, or
    /// beyond the backlog limit are dropped.
    pub async fn run(&self, grow: &dyn Fn() -> bool) {
        loop {
            let now = Instant::now();
            let Some(t) = self.next.get().filter(|&t| self.hold.get().is_none_or(|h| self.at(t) < h)) else {
                if self.next.get().is_none() && self.ended(now) {
                    break;
                }
                // Paused, or out of starts while the schedule may still change.
                compio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let wake_at = self.grid(t);
            if wake_at > Instant::now() {
                compio::time::sleep_until(wake_at).await;
            }
            let now = self.horizon(Instant::now());
            let woken = self.release(now);
            if woken > 0 {
                // Let the woken users take their starts before counting again.
                yield_once().await;
                continue;
            }
            if self.next.get().is_none_or(|t| self.at(t) > now) {
                continue;
            }
            // Starts are due and every user is busy.
            if grow() {
                yield_once().await;
                continue;
            }
            if let Some(limit) = self.backlog {
                let waiting = self.unstarted(now);
                if waiting > limit {
                    self.skip(waiting - limit);
                }
            }
            // Wait until some user is free (it takes a start itself), looking again within
            // 10 ms to keep the backlog count current.
            let parked = poll_fn(|cx| {
                if self.parked.borrow().is_empty() {
                    *self.timer.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            });
            let _ = compio::time::timeout(Duration::from_millis(10), parked).await;
        }
        self.parked.borrow_mut().drain(..).for_each(Waker::wake);
    }

    /// Drop the `n` oldest waiting starts.
    fn skip(&self, n: u64) {
        let mut pacer = self.pacer.borrow_mut();
        let mut next = self.next.get();
        for _ in 0..n {
            if next.is_none() {
                break;
            }
            next = pacer.next_due();
            self.dropped.set(self.dropped.get() + 1);
        }
        self.next.set(next);
    }

    /// Users parked waiting for a start (free, between iterations).
    pub fn idle(&self) -> usize {
        self.parked.borrow().len()
    }

    /// Starts dropped since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.replace(0)
    }

    /// Starts due before `now` that no user has taken: at the end of a run, the ones the
    /// schedule asked for and the generator never sent (counted, never silently skipped).
    pub fn unstarted(&self, now: Instant) -> u64 {
        let pacer = self.pacer.borrow();
        let taken = pacer.taken() - u64::from(self.next.get().is_some());
        let now = self.horizon(now);
        pacer.due_before(now.saturating_duration_since(self.start).as_nanos() as u64).saturating_sub(taken)
    }

    /// Wake as many parked users as there are starts due at `now`; returns how many.
    fn release(&self, now: Instant) -> usize {
        let mut parked = self.parked.borrow_mut();
        if parked.is_empty() {
            return 0;
        }
        let due = self.due(now, parked.len());
        // Most recently parked first: a few warm connections carry a low rate, and the others
        // are used (and connected) only when the rate needs them.
        let n = parked.len();
        for w in parked.drain(n - due..).rev() {
            w.wake();
        }
        due
    }

    /// Starts due at `now` not yet taken, counting at most `limit`.
    fn due(&self, now: Instant, limit: usize) -> usize {
        let Some(first) = self.next.get() else { return 0 };
        if self.at(first) > now {
            return 0;
        }
        let mut p = self.pacer.borrow().clone();
        let mut n = 1;
        while n < limit {
            match p.next_due() {
                Some(t) if self.at(t) <= now => n += 1,
                _ => break,
            }
        }
        n
    }

    /// When the timer should wake for a start at `t`: exactly then, or at the next grid point.
    fn grid(&self, t: u64) -> Instant {
        let tick = self.tick.get();
        if tick.is_zero() {
            return self.at(t);
        }
        let tick = tick.as_nanos() as u64;
        self.at(t.div_ceil(tick) * tick)
    }
}

/// Yield to the executor once, so tasks woken just now run before this one continues.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::curve::Curve;
    use std::rc::Rc;
    use std::sync::Arc;

    #[test]
    fn every_start_is_taken_once_and_never_early() {
        compio::runtime::Runtime::new().unwrap().block_on(async {
            let start = Instant::now();
            let rate = 2000.0;
            let end = Duration::from_millis(200).as_nanos() as u64;
            let curve = Arc::new(Curve::constant(rate, Duration::from_nanos(end)));
            let arrivals = Rc::new(Arrivals::new(start, Pacer::new(curve, 0, 1, 0, 1), None));
            let taken = Rc::new(RefCell::new(Vec::new()));
            let timer = compio::runtime::spawn({
                let a = arrivals.clone();
                async move { a.run(&|| false).await }
            });
            let users: Vec<_> = (0..3)
                .map(|_| {
                    let (a, taken) = (arrivals.clone(), taken.clone());
                    compio::runtime::spawn(async move {
                        while let Some(Start { at, lag, .. }) = a.take().await {
                            assert!(Instant::now() >= at, "released early");
                            assert!(lag < Duration::from_millis(50), "lag {lag:?}");
                            taken.borrow_mut().push(at);
                            compio::time::sleep(Duration::from_micros(300)).await;
                        }
                    })
                })
                .collect();
            for u in users {
                u.await.unwrap();
            }
            timer.await.unwrap();
            let taken = taken.borrow();
            assert_eq!(taken.len(), 400, "200 ms at 2000/s");
            let mut sorted = taken.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 400, "no start taken twice");
        });
    }

    #[test]
    fn grid_rounds_up() {
        let start = Instant::now();
        let fast = Arc::new(Curve::constant(100_000.0, Duration::from_millis(1)));
        let a = Arrivals::new(start, Pacer::new(fast, 0, 1, 0, 1), None);
        assert_eq!(a.grid(1), start + TICK);
        assert_eq!(a.grid(50_000), start + TICK);
        assert_eq!(a.grid(50_001), start + TICK * 2);
        let slow = Arc::new(Curve::constant(100.0, Duration::from_millis(1)));
        let precise = Arrivals::new(start, Pacer::new(slow, 0, 1, 0, 1), None);
        assert_eq!(precise.grid(12_345), start + Duration::from_nanos(12_345));
    }
}
