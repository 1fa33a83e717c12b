//! Helpers shared by the fuzz targets: fuzzer-chosen splits of a byte stream, an allocator that
//! counts the bytes allocated inside a marked region, and a fake resolver so that no input can
//! make a target look a host name up on the network.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// Cut `stream` into pieces whose lengths cycle through `lens` (a 0 gives an empty piece).
/// No lengths, or only zeros, cut it into single bytes.
pub fn split<'a>(lens: &[u8], stream: &'a [u8]) -> Vec<&'a [u8]> {
    let lens: &[u8] = if lens.iter().all(|&l| l == 0) { &[1] } else { lens };
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let n = (lens[i % lens.len()] as usize).min(stream.len() - pos);
        out.push(&stream[pos..pos + n]);
        pos += n;
        i += 1;
    }
    out
}

/// The global allocator of the targets that measure memory: `System`, plus a count of the bytes
/// live from allocations made while [`tracked`] runs.
pub struct Counting;

static TRACK: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() && TRACK.load(Relaxed) {
            LIVE.fetch_add(l.size() as isize, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() && TRACK.load(Relaxed) {
            LIVE.fetch_add(l.size() as isize, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if TRACK.load(Relaxed) {
            LIVE.fetch_sub(l.size() as isize, Relaxed);
        }
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new_size) };
        if !q.is_null() && TRACK.load(Relaxed) {
            LIVE.fetch_add(new_size as isize - l.size() as isize, Relaxed);
        }
        q
    }
}

/// Run `f` with allocation counting on. Only what the code under test allocates and frees inside
/// such calls is counted, so the harness's own bookkeeping never disturbs the number.
pub fn tracked<R>(f: impl FnOnce() -> R) -> R {
    TRACK.store(true, Relaxed);
    let r = f();
    TRACK.store(false, Relaxed);
    r
}

/// Bytes live from tracked allocations since the last [`reset_live`].
pub fn live() -> isize {
    LIVE.load(Relaxed)
}

pub fn reset_live() {
    LIVE.store(0, Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Fake resolver. `Target::parse` resolves host names through getaddrinfo(3). A fuzzer would make
// up millions of names and ask the system resolver for each (slow, and traffic this machine must
// not send). This binary defines getaddrinfo/freeaddrinfo itself, which takes precedence over
// libc's: every name resolves to 127.0.0.1, at once, without any I/O. The scenario target checks
// at start-up that the override is in effect.

#[repr(C)]
struct Block {
    ai: libc::addrinfo,
    sa: libc::sockaddr_in,
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const libc::c_char,
    _service: *const libc::c_char,
    _hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> libc::c_int {
    if node.is_null() || res.is_null() {
        return libc::EAI_NONAME;
    }
    unsafe {
        let b = libc::calloc(1, std::mem::size_of::<Block>()) as *mut Block;
        if b.is_null() {
            return libc::EAI_MEMORY;
        }
        (*b).sa.sin_family = libc::AF_INET as libc::sa_family_t;
        (*b).sa.sin_port = 0;
        (*b).sa.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        (*b).ai.ai_family = libc::AF_INET;
        (*b).ai.ai_socktype = libc::SOCK_STREAM;
        (*b).ai.ai_protocol = libc::IPPROTO_TCP;
        (*b).ai.ai_addrlen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        (*b).ai.ai_addr = &raw mut (*b).sa as *mut libc::sockaddr;
        (*b).ai.ai_next = std::ptr::null_mut();
        *res = b as *mut libc::addrinfo;
    }
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeaddrinfo(res: *mut libc::addrinfo) {
    if !res.is_null() {
        unsafe { libc::free(res as *mut libc::c_void) };
    }
}

/// Panics unless the fake resolver above is the one std uses.
pub fn assert_fake_resolver() {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = ("no-such-host.invalid", 8080).to_socket_addrs().expect("fake resolver answers").collect();
    assert_eq!(addrs, vec![std::net::SocketAddr::from(([127, 0, 0, 1], 8080))], "fake resolver not in effect");
}
