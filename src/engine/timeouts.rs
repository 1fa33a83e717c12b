//! Request timeouts without a timer per request: each connection stamps a deadline in its slot,
//! and the worker's housekeeping sweep shuts down the sockets of overdue ones (or, for a stream
//! of a shared HTTP/2 connection, wakes the request waiting for it).

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

/// A connection's timeout state, shared between the connection and the sweeper.
#[derive(Debug)]
pub struct Slot {
    deadline: Cell<Option<Instant>>,
    fd: Cell<RawFd>,
    fired: Cell<bool>,
    /// A request waiting without a socket of its own to shut down (an HTTP/2 stream).
    waker: RefCell<Option<Waker>>,
}

impl Slot {
    /// Start the clock for a request: it must finish before `deadline`.
    #[inline]
    pub fn arm(&self, deadline: Instant) {
        self.fired.set(false);
        self.deadline.set(Some(deadline));
    }

    #[inline]
    pub fn disarm(&self) {
        self.deadline.set(None);
        if self.waker.borrow().is_some() {
            self.waker.borrow_mut().take();
        }
    }

    /// Wake `waker` when the deadline passes.
    pub fn set_waker(&self, waker: &Waker) {
        let mut w = self.waker.borrow_mut();
        if !w.as_ref().is_some_and(|o| o.will_wake(waker)) {
            *w = Some(waker.clone());
        }
    }

    /// Whether the sweeper cut the current request short.
    #[inline]
    pub fn fired(&self) -> bool {
        self.fired.get()
    }

    /// The socket the sweeper shuts down on expiry (-1: none).
    pub fn set_fd(&self, fd: RawFd) {
        self.fd.set(fd);
    }
}

/// All slots of one worker.
#[derive(Debug, Default)]
pub struct Timeouts {
    slots: RefCell<Vec<Rc<Slot>>>,
}

impl Timeouts {
    pub fn slot(&self) -> Rc<Slot> {
        let slot = Rc::new(Slot {
            deadline: Cell::new(None),
            fd: Cell::new(-1),
            fired: Cell::new(false),
            waker: RefCell::new(None),
        });
        self.slots.borrow_mut().push(slot.clone());
        slot
    }

    /// Shut down the socket of every connection past its deadline; returns how many.
    /// Slots no longer held by any connection are dropped.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut fired = 0;
        let mut slots = self.slots.borrow_mut();
        slots.retain(|s| Rc::strong_count(s) > 1);
        for s in slots.iter() {
            if s.deadline.get().is_some_and(|d| d <= now) {
                s.deadline.set(None);
                s.fired.set(true);
                let fd = s.fd.get();
                if fd >= 0 {
                    // SAFETY: plain syscall on a descriptor the connection still owns (it clears
                    // the slot's fd before closing). Wakes its pending receive with EOF.
                    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
                }
                if let Some(w) = s.waker.borrow_mut().take() {
                    w.wake();
                }
                fired += 1;
            }
        }
        fired
    }
}

/// How often to sweep for a given timeout: fine enough to be within 5% of it, never busier
/// than every millisecond nor lazier than every 100 ms.
pub fn sweep_interval(timeout: Duration) -> Duration {
    (timeout / 20).clamp(Duration::from_millis(1), Duration::from_millis(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_slots_fire_once() {
        let t = Timeouts::default();
        let a = t.slot();
        let b = t.slot();
        let now = Instant::now();
        a.arm(now);
        b.arm(now + Duration::from_secs(60));
        assert_eq!(t.sweep(now), 1);
        assert!(a.fired());
        assert!(!b.fired());
        assert_eq!(t.sweep(now), 0, "a fired slot is disarmed");
        b.disarm();
        assert_eq!(t.sweep(now + Duration::from_secs(120)), 0);
    }

    #[test]
    fn dropped_slots_are_forgotten() {
        let t = Timeouts::default();
        let a = t.slot();
        drop(t.slot());
        t.sweep(Instant::now());
        assert_eq!(t.slots.borrow().len(), 1);
        drop(a);
    }

    #[test]
    fn interval_bounds() {
        assert_eq!(sweep_interval(Duration::from_secs(10)), Duration::from_millis(100));
        assert_eq!(sweep_interval(Duration::from_millis(100)), Duration::from_millis(5));
        assert_eq!(sweep_interval(Duration::from_millis(1)), Duration::from_millis(1));
    }
}
