//! A single-threaded counting semaphore: bounds how many connects a worker has in flight, so
//! opening 10k connections does not overflow the server's SYN and accept queues.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

#[derive(Debug)]
struct Inner {
    free: Cell<usize>,
    waiters: RefCell<VecDeque<Waker>>,
}

#[derive(Debug, Clone)]
pub struct Limiter(Rc<Inner>);

/// Held while a connect is in flight; frees its place when dropped.
#[derive(Debug)]
pub struct Permit(Rc<Inner>);

impl Limiter {
    pub fn new(permits: usize) -> Limiter {
        Limiter(Rc::new(Inner { free: Cell::new(permits.max(1)), waiters: RefCell::new(VecDeque::new()) }))
    }

    pub async fn acquire(&self) -> Permit {
        poll_fn(|cx| {
            let free = self.0.free.get();
            if free > 0 {
                self.0.free.set(free - 1);
                if free > 1 {
                    // A waiter woken earlier may have been cancelled: pass the wake on.
                    if let Some(w) = self.0.waiters.borrow_mut().pop_front() {
                        w.wake();
                    }
                }
                Poll::Ready(Permit(self.0.clone()))
            } else {
                self.0.waiters.borrow_mut().push_back(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.0.free.get()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.free.set(self.0.free.get() + 1);
        if let Some(w) = self.0.waiters.borrow_mut().pop_front() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_returned() {
        compio::runtime::Runtime::new().unwrap().block_on(async {
            let l = Limiter::new(2);
            let a = l.acquire().await;
            let _b = l.acquire().await;
            assert_eq!(l.available(), 0);
            let l2 = l.clone();
            let waiter = compio::runtime::spawn(async move { l2.acquire().await });
            compio::runtime::spawn(async move { drop(a) }).await.unwrap();
            let _c = waiter.await.unwrap();
            assert_eq!(l.available(), 0);
        });
    }
}
