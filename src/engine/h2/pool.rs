//! Connections shared by users as multiplexed streams (`bench --streams N`, `connections = N`):
//! a worker's links to one host, opened as requests need them up to the pool's size; a request
//! takes a free stream on its home link or the next one with room, and waits (counted in its
//! latency and its timeout) while every stream is busy. A host that answers in HTTP/1.1 turns
//! the pool off: each user then keeps its own connection, as without one.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use super::{Link, Waiters};
use crate::engine::conn::{Net, Opened, open_tcp};
use crate::engine::timeouts::Slot;
use crate::error::{ErrorKind, Failure};
use crate::http::version::Proto;

/// What a request gets from the pool.
pub(crate) enum Acquired {
    /// A link with a free stream now (open it before the next await).
    H2(Rc<Link>),
    /// The host speaks HTTP/1.1: use the user's own connection.
    H1,
    Failed(Failure),
}

/// A worker's shared connections to one host.
pub(crate) struct Pool {
    links: RefCell<Vec<Rc<Link>>>,
    size: usize,
    connecting: Cell<usize>,
    h1: Cell<bool>,
    waiters: Rc<Waiters>,
}

impl Pool {
    /// A pool of up to `size` connections.
    pub fn new(size: usize) -> Pool {
        Pool {
            links: RefCell::new(Vec::new()),
            size: size.max(1),
            connecting: Cell::new(0),
            h1: Cell::new(false),
            waiters: Rc::new(Waiters::default()),
        }
    }

    /// The host answered in HTTP/1.1: users keep their own connections.
    pub fn speaks_h1(&self) -> bool {
        self.h1.get()
    }

    /// A link with a free stream, starting the search at link `home` (users spread over the
    /// links); opens a new link while the pool has fewer than its size; else waits for a
    /// stream to free up, until the slot's deadline.
    pub async fn acquire(&self, net: &Net, home: usize, slot: &Slot) -> Acquired {
        loop {
            self.links.borrow_mut().retain(|l| l.usable() || l.active() > 0);
            if let Some(l) = self.with_room(home) {
                return Acquired::H2(l);
            }
            if self.h1.get() {
                return Acquired::H1;
            }
            let usable = self.links.borrow().iter().filter(|l| l.usable()).count();
            if usable + self.connecting.get() < self.size {
                self.connecting.set(self.connecting.get() + 1);
                // Shared connections spread over the sources and addresses by their number.
                let key = (usable + self.connecting.get()) as u64;
                let opened = Box::pin(open_tcp(net, key)).await;
                self.connecting.set(self.connecting.get() - 1);
                match opened {
                    Ok(Opened { stream, tls, inbox, proto: Proto::H2 }) => {
                        let link = Link::start(stream, tls, inbox, net.h2_limits, self.waiters.clone());
                        self.links.borrow_mut().push(link);
                        self.waiters.wake(usize::MAX);
                    }
                    Ok(Opened { proto: Proto::H1, .. }) => {
                        self.h1.set(true);
                        self.waiters.wake(usize::MAX);
                        return Acquired::H1;
                    }
                    Err(f) => {
                        self.waiters.wake(1);
                        return Acquired::Failed(f);
                    }
                }
                continue;
            }
            if slot.fired() {
                let why = format!("every stream of the {} shared connections stayed busy", self.size);
                return Acquired::Failed(Failure::new(ErrorKind::Timeout, why));
            }
            poll_fn(|cx| {
                if slot.fired() || self.with_room(home).is_some() || self.h1.get() || self.may_grow() {
                    return Poll::Ready(());
                }
                self.waiters.push(cx.waker());
                slot.set_waker(cx.waker());
                Poll::Pending
            })
            .await;
        }
    }

    /// The first link from `home` on with a free stream.
    fn with_room(&self, home: usize) -> Option<Rc<Link>> {
        let links = self.links.borrow();
        let n = links.len();
        (0..n).map(|k| &links[(home + k) % n]).find(|l| l.free() > 0).cloned()
    }

    /// Fewer usable links than the pool's size (one failed or is going away).
    fn may_grow(&self) -> bool {
        let usable = self.links.borrow().iter().filter(|l| l.usable()).count();
        usable + self.connecting.get() < self.size
    }
}
