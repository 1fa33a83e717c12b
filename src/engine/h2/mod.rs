//! HTTP/2 connections on the worker's ring: a [`Link`] drives one connection's
//! [`Session`](crate::http::h2::Session) with two tasks — a reader on the connection's multishot
//! receive (through TLS when it has it) and a writer that sends whatever frames are queued, so
//! many streams share one connection and their HEADERS go out together. A request opens a
//! stream, waits for its end (or its timeout) and takes its response; the [`pool`] shares links
//! among users.

pub(crate) mod pool;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::Write;
use std::rc::Rc;
use std::task::{Poll, Waker};

use compio::buf::BufResult;
use compio::io::AsyncWriteExt;
use compio::net::TcpStream;
use compio::runtime::JoinHandle;
use rustls::ClientConnection;

use super::conn::{Inbox, Recv, decrypt};
use super::timeouts::Slot;
use crate::error::{ErrorKind, Failure};
use crate::http::h2::{Busy, End, Keep, Limits, Response, Session};

/// Tasks waiting for a free stream (of one link, or of a pool's links).
#[derive(Debug, Default)]
pub(crate) struct Waiters(RefCell<VecDeque<Waker>>);

impl Waiters {
    fn push(&self, w: &Waker) {
        let mut q = self.0.borrow_mut();
        if !q.iter().any(|o| o.will_wake(w)) {
            q.push_back(w.clone());
        }
    }

    /// Wake up to `n` waiters.
    pub fn wake(&self, n: usize) {
        for _ in 0..n {
            let Some(w) = self.0.borrow_mut().pop_front() else { return };
            w.wake();
        }
    }
}

/// What the two tasks of a connection and its requests share.
pub(crate) struct Wire {
    stream: TcpStream,
    tls: RefCell<Option<Box<ClientConnection>>>,
    pub session: RefCell<Session>,
    /// The writer's waker while it has nothing to send.
    writer: Cell<Option<Waker>>,
    waiters: Rc<Waiters>,
}

impl Wire {
    /// After the session changed: wake the writer if there is something to send, and waiters
    /// if streams were freed.
    pub fn kick(&self) {
        let mut s = self.session.borrow_mut();
        let wants_tls = self.tls.borrow().as_ref().is_some_and(|t| t.wants_write());
        if !s.out.is_empty() || wants_tls || s.dead().is_some() {
            if let Some(w) = self.writer.take() {
                w.wake();
            }
        }
        if s.capacity_changed {
            s.capacity_changed = false;
            let n = if s.usable() { s.free() } else { usize::MAX };
            drop(s);
            self.waiters.wake(n);
        }
    }

    /// Hand received bytes to the session (decrypted first over TLS); false once it is dead.
    fn absorb(&self, data: &[u8], plain: &mut Vec<u8>) -> bool {
        let mut tls = self.tls.borrow_mut();
        let mut session = self.session.borrow_mut();
        match tls.as_mut() {
            None => session.feed(data),
            Some(tls) => {
                plain.clear();
                let r = decrypt(tls, data, |p| {
                    plain.extend_from_slice(p);
                    Ok::<(), ()>(())
                });
                session.feed(plain);
                if let Err(e) = r {
                    session.closed(Some(Failure::new(ErrorKind::Tls, e.tls().unwrap_or_default())));
                }
            }
        }
        session.dead().is_none()
    }
}

/// One HTTP/2 connection and its two tasks, which end when it is dropped.
pub(crate) struct Link {
    pub wire: Rc<Wire>,
    _tasks: [JoinHandle<()>; 2],
}

impl Link {
    /// Start HTTP/2 on a connected (and, over TLS, handshaken) socket whose multishot receive
    /// is `inbox`. Requests wait in `waiters` for a free stream.
    pub fn start(
        stream: TcpStream,
        tls: Option<Box<ClientConnection>>,
        inbox: Inbox,
        limits: Limits,
        waiters: Rc<Waiters>,
    ) -> Rc<Link> {
        let wire = Rc::new(Wire {
            stream,
            tls: RefCell::new(tls),
            session: RefCell::new(Session::new(limits)),
            writer: Cell::new(None),
            waiters,
        });
        let reader = compio::runtime::spawn(read_loop(wire.clone(), inbox));
        let writer = compio::runtime::spawn(write_loop(wire.clone()));
        Rc::new(Link { wire, _tasks: [reader, writer] })
    }

    /// New streams may go on this connection.
    pub fn usable(&self) -> bool {
        self.wire.session.borrow().usable()
    }

    pub fn free(&self) -> usize {
        self.wire.session.borrow().free()
    }

    pub fn active(&self) -> usize {
        self.wire.session.borrow().active()
    }
}

async fn read_loop(wire: Rc<Wire>, mut inbox: Inbox) {
    let mut plain = Vec::new();
    // Frames that came with the end of the TLS handshake are already decrypted.
    if wire.tls.borrow().is_some() && !wire.absorb(&[], &mut plain) {
        wire.kick();
        return;
    }
    wire.kick();
    loop {
        let alive = match inbox.recv(&wire.stream).await {
            Recv::Data(chunk) => wire.absorb(chunk.bytes(), &mut plain),
            Recv::Eof => {
                wire.session.borrow_mut().closed(None);
                false
            }
            Recv::Error(e) => {
                wire.session.borrow_mut().closed(Some(Failure::io(&e)));
                false
            }
        };
        wire.kick();
        if !alive {
            return;
        }
    }
}

async fn write_loop(wire: Rc<Wire>) {
    // Empty until the first swap with the session's queue: an idle connection keeps no 4 KiB here.
    let mut buf: Vec<u8> = Vec::new();
    let mut cipher: Vec<u8> = Vec::new();
    loop {
        let more = poll_fn(|cx| {
            let s = wire.session.borrow();
            let wants_tls = wire.tls.borrow().as_ref().is_some_and(|t| t.wants_write());
            if !s.out.is_empty() || wants_tls {
                Poll::Ready(true)
            } else if s.dead().is_some() {
                Poll::Ready(false)
            } else {
                wire.writer.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await;
        if !more {
            return;
        }
        std::mem::swap(&mut buf, &mut wire.session.borrow_mut().out);
        let sent = wire.tls.borrow_mut().as_mut().map(|tls| encrypt(tls, &buf, &mut cipher));
        let result = match sent {
            None => {
                let mut w = &wire.stream;
                let BufResult(r, back) = w.write_all(std::mem::take(&mut buf)).await;
                buf = back;
                r.map_err(|e| Failure::io(&e))
            }
            Some(Err(f)) => Err(f),
            Some(Ok(())) => {
                let mut w = &wire.stream;
                let BufResult(r, back) = w.write_all(std::mem::take(&mut cipher)).await;
                cipher = back;
                cipher.clear();
                r.map_err(|e| Failure::io(&e))
            }
        };
        buf.clear();
        if buf.capacity() > 1 << 20 {
            buf = Vec::new();
        }
        let mut s = wire.session.borrow_mut();
        if let Err(f) = result {
            s.closed(Some(f));
            drop(s);
            wire.kick();
            return;
        }
        // The queue drained: more of the request bodies may go now.
        s.pump();
    }
}

/// Encrypt `plain` into `cipher` (whatever the session holds back is written too).
fn encrypt(tls: &mut ClientConnection, plain: &[u8], cipher: &mut Vec<u8>) -> Result<(), Failure> {
    let mut off = 0;
    loop {
        if off < plain.len() {
            match tls.writer().write(&plain[off..]) {
                Ok(0) | Err(_) => return Err(Failure::new(ErrorKind::Tls, "the TLS session refused to encrypt")),
                Ok(n) => off += n,
            }
        }
        while tls.wants_write() {
            // Writing into a Vec cannot fail.
            let _ = tls.write_tls(cipher);
        }
        if off >= plain.len() {
            return Ok(());
        }
    }
}

/// Open a stream on `link` for a request, waiting (up to the slot's deadline) while every
/// stream the server allows is busy.
pub(crate) async fn open(link: &Link, block: &[u8], body: &[u8], keep: Keep, slot: &Slot) -> Result<u32, End> {
    loop {
        let r = link.wire.session.borrow_mut().open(block, body, keep);
        match r {
            Ok(id) => {
                link.wire.kick();
                return Ok(id);
            }
            Err(Busy::Dead(f)) => return Err(End::Failed(f)),
            Err(Busy::Draining) => return Err(End::Retry("the connection is going away".into())),
            Err(Busy::Full) => {
                if slot.fired() {
                    let max = link.wire.session.borrow().peer_max_streams();
                    let why = format!(
                        "no stream became free in time (the server allows {max} concurrent streams, SETTINGS_MAX_CONCURRENT_STREAMS)"
                    );
                    return Err(End::Failed(Failure::new(ErrorKind::Timeout, why)));
                }
                poll_fn(|cx| {
                    if slot.fired() || link.free() > 0 || !link.usable() {
                        return Poll::Ready(());
                    }
                    link.wire.waiters.push(cx.waker());
                    slot.set_waker(cx.waker());
                    Poll::Pending
                })
                .await;
            }
        }
    }
}

/// Wait for stream `id` to end (or the slot's deadline), and take its response into `into`.
pub(crate) async fn wait(link: &Link, id: u32, slot: &Slot, into: &mut Response) -> End {
    let wire = &link.wire;
    // A request dropped while it waits (its user stopped) gives its stream back.
    let guard = Abandon { wire, id };
    poll_fn(|cx| {
        if slot.fired() || wire.session.borrow_mut().poll_end(id, cx.waker()) {
            return Poll::Ready(());
        }
        slot.set_waker(cx.waker());
        Poll::Pending
    })
    .await;
    std::mem::forget(guard);
    let upload = wire.session.borrow().upload(id);
    let end = wire.session.borrow_mut().finish(id, into);
    wire.kick();
    end.unwrap_or_else(|| {
        let why = match upload {
            Some((sent, total)) => format!(
                "the server gave no flow-control window for the rest of the request body ({sent} of {total} bytes sent)"
            ),
            None => String::new(),
        };
        End::Failed(Failure::new(ErrorKind::Timeout, why))
    })
}

/// Cancels a stream whose request stopped waiting for it.
struct Abandon<'a> {
    wire: &'a Wire,
    id: u32,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        let done = self.wire.session.try_borrow_mut().map(|mut s| s.finish(self.id, &mut Response::default()));
        if done.is_ok() {
            self.wire.kick();
        }
    }
}
