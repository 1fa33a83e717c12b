//! Where io_uring is refused: stampede run under a seccomp filter that answers `io_uring_setup`
//! with EPERM (what Docker's, Podman's and containerd's default profiles do) takes the epoll path,
//! says so once, and gives a complete, correct result; `--io uring` there stops with the reason;
//! `--io epoll` anywhere works the same way.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{self, Response, Server};

/// `io_uring_setup`'s syscall number (the same on x86_64 and aarch64).
const NR_IO_URING_SETUP: u32 = 425;

/// The audit architecture of this build, which the filter checks first.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// Install, in the calling process, a seccomp filter that fails `io_uring_setup` with EPERM and
/// allows everything else. Async-signal-safe (two prctl calls): fit for `pre_exec`.
pub fn refuse_io_uring() -> std::io::Result<()> {
    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let ld = |k: u32| libc::sock_filter { code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, jt: 0, jf: 0, k };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let ret = |k: u32| libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k };
    let filter = [
        ld(ARCH),
        jeq(AUDIT_ARCH, 1, 0),
        ret(libc::SECCOMP_RET_ALLOW), // another architecture: not ours to judge
        ld(NR),
        jeq(NR_IO_URING_SETUP, 0, 1),
        ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        ret(libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
    // SAFETY: prctl with valid arguments; `prog` and `filter` outlive the calls (the kernel copies
    // the program).
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const libc::sock_fprog) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    json: Option<Value>,
}

/// Run `stampede ARGS --json FILE`, under the filter when `refused`.
fn stampede(args: &[&str], refused: bool) -> Ran {
    let json = util::run::temp_path("io.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.args(args).stdin(Stdio::null());
    if args[0] != "doctor" {
        cmd.arg("--json").arg(&json);
    }
    if refused {
        // SAFETY: the closure only calls prctl (async-signal-safe) between fork and exec.
        unsafe {
            cmd.pre_exec(refuse_io_uring);
        }
    }
    let out = cmd.output().expect("run stampede");
    let doc = std::fs::read_to_string(&json).ok().map(|t| serde_json::from_str(&t).expect("result is JSON"));
    let _ = std::fs::remove_file(&json);
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: doc,
    }
}

#[test]
fn io_uring_refused_by_seccomp_falls_back_to_epoll_with_one_warning() {
    // The filter works: an io_uring ring cannot be had under it.
    let probe = stampede(&["bench", "http://127.0.0.1:1/", "--io", "uring", "-d", "1s", "-q"], true);
    assert_eq!(probe.code, Some(3), "--io uring under the filter must stop:\n{}", probe.stderr);
    assert!(probe.stderr.contains("--io uring: io_uring is refused here"), "{}", probe.stderr);
    assert!(probe.stderr.contains("seccomp"), "the reason names seccomp: {}", probe.stderr);

    let server = Server::start(|_| Response::with_length(200, "hello").into());
    let out = {
        let _m = util::shared_machine();
        stampede(&["bench", &server.url("/"), "-c", "4", "-d", "2s", "-q"], true)
    };
    assert_eq!(out.code, Some(0), "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.matches("warning:").count(), 1, "one warning:\n{}", out.stderr);
    assert!(out.stderr.contains("io_uring is refused here") && out.stderr.contains("epoll path"), "{}", out.stderr);
    assert!(out.stderr.contains("seccomp=unconfined"), "the fix is named: {}", out.stderr);
    let doc = out.json.expect("a result");
    assert_eq!(doc["generator"]["io"], "epoll");
    let requests = doc["totals"]["requests"].as_u64().unwrap();
    let ok = doc["totals"]["status"]["200"].as_u64().unwrap_or(0);
    assert!(requests > 1000, "{requests} requests in 2 s on 4 connections");
    assert_eq!(ok, requests, "every request answered 200");
    assert_eq!(doc["totals"]["errors"], 0);
    // The server's own count: every answer the client counted was a request it read.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let unfinished = doc["totals"]["unfinished"].as_u64().unwrap_or(0);
    assert!(
        server.requests() >= ok && server.requests() <= ok + unfinished + 4,
        "server {} vs client {ok}",
        server.requests()
    );
    assert!(out.stdout.contains("epoll I/O path"), "the summary says which path: {}", out.stdout);
}

#[test]
fn io_epoll_holds_an_open_model_rate_without_a_warning() {
    let target = util::TestTarget::start();
    let out = {
        let _m = util::shared_machine();
        stampede(&["bench", &target.url(), "-c", "8", "-d", "2s", "-q", "--io", "epoll", "-R", "2000"], false)
    };
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "asked for epoll: no warning\n{}", out.stderr);
    let doc = out.json.expect("a result");
    assert_eq!(doc["generator"]["io"], "epoll");
    let rps = doc["totals"]["rps"].as_f64().unwrap();
    assert!((rps - 2000.0).abs() < 100.0, "the open model holds its rate on epoll: {rps}");
    assert_eq!(doc["totals"]["errors"], 0);
}

#[test]
fn doctor_says_which_path_a_run_would_take() {
    let refused = stampede(&["doctor", "-c", "100"], true);
    assert!(refused.stdout.contains("runs take the epoll path"), "{}", refused.stdout);
    let here = stampede(&["doctor", "-c", "100"], false);
    assert!(here.stdout.contains("runs take the io_uring path"), "{}", here.stdout);
}
