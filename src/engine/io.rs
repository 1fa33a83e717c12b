//! Deciding the I/O path before a run: try an io_uring ring the way a worker builds one
//! (SINGLE_ISSUER, DEFER_TASKRUN, provided buffers); where it is refused — the default seccomp
//! profiles of Docker, Podman and containerd, gVisor, `kernel.io_uring_disabled=2`, kernels too
//! old for the ring's flags — `--io auto` takes epoll (compio's polling driver) and says why.
//! `doctor` probes the same ring ([`probe`]) and explains what refused it.

use std::io;

pub use crate::plan::io::{IoChoice, IoDecision, IoPath};

/// What to do to get the io_uring path back.
pub const FIX: &str = "to use io_uring, allow it: `docker run --security-opt seccomp=unconfined` (or a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register), `sysctl kernel.io_uring_disabled=0` on the host; `--io epoll` takes the epoll path without this warning";

/// Why building an io_uring ring failed, in words.
pub fn explain(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "io_uring is refused here ({e}): a seccomp profile (Docker, Podman and containerd refuse io_uring by default; gVisor has none) or kernel.io_uring_disabled"
        ),
        Some(libc::ENOSYS) => format!("this kernel has no io_uring ({e})"),
        Some(libc::ENOMEM) => format!("the ring could not be allocated ({e}): raise RLIMIT_MEMLOCK (ulimit -l)"),
        Some(libc::EINVAL) => {
            format!("this kernel lacks what the io_uring path needs ({e}): DEFER_TASKRUN needs Linux 6.1+")
        }
        _ => format!("io_uring could not be set up ({e})"),
    }
}

/// Decide the path for `choice`, trying an io_uring ring the way a worker builds one. `Err`: io_uring
/// was required (`--io uring`) and cannot be had.
pub fn decide(choice: IoChoice) -> Result<IoDecision, String> {
    match choice {
        IoChoice::Epoll => Ok(IoDecision { path: IoPath::Epoll, fallback: None }),
        IoChoice::Uring => match super::build_runtime(64, IoPath::Uring) {
            Ok(_) => Ok(IoDecision { path: IoPath::Uring, fallback: None }),
            Err(e) => Err(format!("--io uring: {}; {FIX}", explain(&e))),
        },
        IoChoice::Auto => match super::build_runtime(64, IoPath::Uring) {
            Ok(_) => Ok(IoDecision { path: IoPath::Uring, fallback: None }),
            Err(e) => Ok(IoDecision { path: IoPath::Epoll, fallback: Some(explain(&e)) }),
        },
    }
}

/// Build a ring the way a worker does (same flags, sizes and provided-buffer ring) for `users`
/// users, and wait on it once. Ok: what was built; Err: what went wrong and what to do.
pub fn probe(users: usize) -> Result<String, String> {
    let (entries, bufs) = super::ring_sizes(users);
    // The ring is SINGLE_ISSUER: build, use and drop it on one thread. A panic inside compio
    // (it panics on an unexpected wait error) must not end the doctor, nor print a backtrace.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::thread::spawn(move || -> Result<(), (&'static str, std::io::Error)> {
        let rt = super::build_runtime(users, IoPath::Uring).map_err(|e| ("ring", e))?;
        rt.buffer_pool().map(drop).map_err(|e| ("buffers", e))?;
        rt.block_on(compio::time::sleep(std::time::Duration::from_millis(1)));
        Ok(())
    })
    .join();
    std::panic::set_hook(hook);
    match outcome {
        Ok(Ok(())) => Ok(format!(
            "SINGLE_ISSUER+DEFER_TASKRUN+COOP_TASKRUN, {entries} SQ / {} CQ entries, \
             {bufs} provided buffers ({users} users/worker)",
            entries * 2
        )),
        Ok(Err((stage, e))) => Err(ring_error(stage, e.raw_os_error(), &e.to_string())),
        Err(_) => Err("the ring was created but waiting on it failed; run \
                       `stampede bench` with RUST_BACKTRACE=1 and report it"
            .into()),
    }
}

/// What a failure to set up the ring means, by errno.
fn ring_error(stage: &str, errno: Option<i32>, text: &str) -> String {
    let why = match (stage, errno) {
        ("buffers", Some(libc::EINVAL)) => "provided-buffer rings need Linux 5.19+ (multishot receive 6.0+)",
        (_, Some(libc::EPERM)) => {
            "io_uring is disabled (kernel.io_uring_disabled) or blocked by seccomp: Docker's \
             default profile blocks it; run with --security-opt seccomp=unconfined or a profile \
             allowing io_uring_setup/io_uring_enter/io_uring_register"
        }
        (_, Some(libc::ENOSYS)) => {
            "no io_uring in this kernel (CONFIG_IO_URING=n) or the syscall is filtered \
             (seccomp, gVisor): use a kernel/sandbox that has it"
        }
        (_, Some(libc::EINVAL)) => "the kernel refused SINGLE_ISSUER/DEFER_TASKRUN: boot Linux 6.1+",
        (_, Some(libc::ENOMEM)) => {
            "not enough locked memory for the ring: sudo prlimit --pid $$ \
             --memlock=unlimited:unlimited (lasting: tuning/limits.conf)"
        }
        (_, Some(libc::EMFILE | libc::ENFILE)) => "no file descriptors left: raise nofile",
        _ => "the kernel lacks something compio's io_uring driver needs",
    };
    format!("{why} ({stage}: {text})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_where_they_come_from() {
        assert!(explain(&io::Error::from_raw_os_error(libc::EPERM)).contains("seccomp"));
        assert!(explain(&io::Error::from_raw_os_error(libc::ENOSYS)).contains("no io_uring"));
        assert!(explain(&io::Error::from_raw_os_error(libc::EINVAL)).contains("6.1"));
    }

    #[test]
    fn epoll_is_taken_when_asked_and_builds_a_runtime() {
        let d = decide(IoChoice::Epoll).unwrap();
        assert_eq!(d, IoDecision { path: IoPath::Epoll, fallback: None });
        let rt = super::super::build_runtime(16, IoPath::Epoll).expect("an epoll runtime");
        assert!(rt.driver_type().is_polling());
    }

    #[test]
    fn ring_errors_explain_themselves() {
        assert!(ring_error("ring", Some(libc::EPERM), "x").contains("seccomp"));
        assert!(ring_error("ring", Some(libc::EINVAL), "x").contains("6.1"));
        assert!(ring_error("buffers", Some(libc::EINVAL), "x").contains("5.19"));
        assert!(ring_error("ring", Some(libc::ENOMEM), "x").contains("memlock"));
    }
}
