//! Deciding the I/O path before a run: try an io_uring ring the way a worker builds one
//! (SINGLE_ISSUER, DEFER_TASKRUN, provided buffers); where it is refused — the default seccomp
//! profiles of Docker, Podman and containerd, gVisor, `kernel.io_uring_disabled=2`, kernels too
//! old for the ring's flags — `--io auto` takes epoll (compio's polling driver) and says why.

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
}
