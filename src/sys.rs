//! The OS facts and knobs the tool needs, in one place: resource limits, CPU time, RSS, cores,
//! ttys, the kernel release, group membership, huge pages and how rings are charged.

use std::time::Duration;

/// Raise RLIMIT_NOFILE's soft limit to its hard limit. Returns the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills a zeroed local struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (user + system) used by the whole process so far.
pub fn process_cpu() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

/// Time the calling thread has spent runnable but waiting for a CPU (its run-queue delay, from
/// /proc/thread-self/schedstat); zero where the kernel does not report it.
pub fn thread_run_delay() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// CPU time (user + system) used by the calling thread so far.
pub fn thread_cpu() -> Duration {
    rusage(libc::RUSAGE_THREAD)
}

/// (current RSS, peak RSS) of this process in bytes, from /proc/self/status.
pub fn rss_bytes() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU ids this process may run on, in order.
pub fn usable_cores() -> Vec<usize> {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => ids.into_iter().map(|c| c.id).collect(),
        _ => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

/// Pin the calling thread to one CPU. Returns whether it worked.
pub fn pin_to(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

/// Whether file descriptor `fd` is a terminal.
pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// The local port range for outgoing connections, if readable.
pub fn local_port_range() -> Option<(u32, u32)> {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<u32>().ok());
    Some((it.next()??, it.next()??))
}

/// Let the kernel pick a socket's port at connect time, per destination, after it is bound to
/// a source address (`IP_BIND_ADDRESS_NO_PORT`): without it, `bind` takes a port for every
/// destination at once and one source holds ~28k connections in all, not per destination.
pub fn bind_address_no_port(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a local int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Whether connections may be bound to `addr`: bind a throwaway socket to it the way a
/// connection is (no port taken).
pub fn check_source(addr: std::net::IpAddr) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let domain = if addr.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    bind_address_no_port(s.as_raw_fd())?;
    s.bind(&std::net::SocketAddr::new(addr, 0).into())
}

/// Give the calling thread's freed heap pages back to the OS (mimalloc's `mi_collect`). A worker
/// calls it once a second: after a burst (every user connecting and sending at once) the memory
/// of what has been freed again stops counting, so resident memory follows what idle users hold.
pub fn return_free_memory() {
    // SAFETY: mi_collect takes no pointers; it only walks the calling thread's own heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Turn transparent huge pages off for this process. mimalloc asks for them on its arenas, and
/// then each touched 2 MiB of heap becomes resident at once, so memory no longer follows what
/// the connections use (10k connections cost ~10 KiB each instead of ~5 KiB).
pub fn disable_huge_pages() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// File descriptors a run needs beyond one per connection (stdio, rings, eventfds, files).
pub const FD_HEADROOM: u64 = 64;

/// A resource limit: (soft, hard).
pub fn rlimit(resource: libc::__rlimit_resource_t) -> Option<(u64, u64)> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit with a valid pointer to a local struct.
    (unsafe { libc::getrlimit(resource, &mut lim) } == 0).then_some((lim.rlim_cur, lim.rlim_max))
}

/// The running kernel's release (`uname -r`).
pub fn kernel_release() -> Option<String> {
    // SAFETY: uname fills a zeroed local struct; release is NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_string());
    }
    let bytes: Vec<u8> = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether this process belongs to group `gid` (kernel.io_uring_group; -1 means none).
pub fn in_group(gid: i64) -> bool {
    if gid < 0 {
        return false;
    }
    // SAFETY: getegid has no arguments; getgroups fills a buffer of the size it is given.
    if i64::from(unsafe { libc::getegid() }) == gid {
        return true;
    }
    let mut groups = vec![0 as libc::gid_t; 1024];
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    n > 0 && groups[..n as usize].iter().any(|&g| i64::from(g) == gid)
}

/// Whether creating an io_uring ring is charged to RLIMIT_MEMLOCK: drop the soft limit to 0, set
/// up a 4-entry ring, put the limit back. ENOMEM means charged. None when it cannot be told.
pub fn rings_charged_to_memlock() -> Option<bool> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: get/setrlimit on local structs; io_uring_setup writes into a zeroed buffer at least
    // as large as struct io_uring_params (120 bytes); the returned fd is closed at once.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) != 0 {
            return None;
        }
        let zero = libc::rlimit { rlim_cur: 0, rlim_max: lim.rlim_max };
        if libc::setrlimit(libc::RLIMIT_MEMLOCK, &zero) != 0 {
            return None;
        }
        let mut params = [0u64; 32];
        let fd = libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr());
        let errno = std::io::Error::last_os_error().raw_os_error();
        libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim);
        if fd >= 0 {
            libc::close(fd as i32);
            Some(false)
        } else if errno == Some(libc::ENOMEM) {
            Some(true)
        } else {
            None
        }
    }
}

/// Whether transparent huge pages are off for this process ([`disable_huge_pages`]).
pub fn huge_pages_disabled() -> bool {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 }
}
