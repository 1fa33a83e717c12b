//! `stampede bench` interrupted by several signals at chosen times (the single-signal runner
//! is [`super::bench_signalled`]).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::run::{Outcome, temp_path};

/// Longest a run may take before it is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// `stampede bench URL ARGS... -q --json <temp file>`, with `signal` sent at each of `at`
/// (from the start of the process). Returns the outcome and when each signal went out.
pub fn bench_interrupted(url: &str, args: &[&str], signal: libc::c_int, at: &[Duration]) -> (Outcome, Vec<Duration>) {
    let mut all = vec!["bench", url];
    all.extend_from_slice(args);
    all.push("-q");
    stampede_interrupted(&all, signal, at)
}

/// `stampede ARGS... --json <temp file>` (any subcommand), with `signal` sent at each of `at`.
pub fn stampede_interrupted(args: &[&str], signal: libc::c_int, at: &[Duration]) -> (Outcome, Vec<Duration>) {
    let json = temp_path("result.json");
    let mut all = args.to_vec();
    all.extend_from_slice(&["--json", json.to_str().expect("temp path is UTF-8")]);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the stampede binary");
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let mut pending: Vec<Duration> = at.to_vec();
    let mut sent = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for stampede") {
            break status;
        }
        if pending.first().is_some_and(|&t| started.elapsed() >= t) {
            pending.remove(0);
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            sent.push(started.elapsed());
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`stampede {}` still running after {RUN_LIMIT:?}; killed", all.join(" "));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    let stdout = out.map(|t| t.join().expect("stdout reader")).unwrap_or_default();
    let stderr = err.map(|t| t.join().expect("stderr reader")).unwrap_or_default();
    let text = std::fs::read_to_string(&json).ok();
    let _ = std::fs::remove_file(&json);
    let json = text.map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("result is not JSON: {e}\n{t}")));
    (Outcome { code: status.code(), stdout, stderr, json, wall }, sent)
}

fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}
