//! Running the real `stampede` binary: arguments in; exit code, output, the parsed result
//! document and the wall time out. A run that does not end in time is killed and fails the test.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest any single run may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The `--json` document, when the run wrote one.
    pub json: Option<Value>,
    /// From spawning the process to its exit.
    pub wall: Duration,
}

impl Outcome {
    /// The result document; panics (with the run's output) if there is none.
    pub fn doc(&self) -> &Value {
        self.json.as_ref().unwrap_or_else(|| panic!("no JSON result written\n{}", self.describe()))
    }

    /// The value at a JSON pointer (`/totals/requests`); panics if absent.
    pub fn at(&self, pointer: &str) -> &Value {
        self.doc()
            .pointer(pointer)
            .unwrap_or_else(|| panic!("`{pointer}` missing from the result\n{}", self.describe()))
    }

    /// The unsigned integer at a JSON pointer; panics if absent or not one.
    pub fn u64(&self, pointer: &str) -> u64 {
        self.at(pointer)
            .as_u64()
            .unwrap_or_else(|| panic!("`{pointer}` is not an unsigned integer: {}", self.at(pointer)))
    }

    /// The number at a JSON pointer; panics if absent or not one.
    pub fn f64(&self, pointer: &str) -> f64 {
        self.at(pointer).as_f64().unwrap_or_else(|| panic!("`{pointer}` is not a number: {}", self.at(pointer)))
    }

    /// Responses with this status code (0 when the code does not appear).
    pub fn status(&self, code: u16) -> u64 {
        self.at("/totals/status").get(code.to_string()).map_or(0, |v| v.as_u64().expect("status count is a u64"))
    }

    /// Responses of any status: every request the target actually answered.
    pub fn answered(&self) -> u64 {
        let status = self.at("/totals/status").as_object().expect("totals.status is an object");
        status.values().map(|v| v.as_u64().expect("status count is a u64")).sum()
    }

    /// Errors of this kind (0 when the kind does not appear).
    pub fn errors_of(&self, kind: &str) -> u64 {
        self.at("/totals/errors_by_kind").get(kind).map_or(0, |v| v.as_u64().expect("error count is a u64"))
    }

    pub fn requests(&self) -> u64 {
        self.u64("/totals/requests")
    }

    pub fn errors(&self) -> u64 {
        self.u64("/totals/errors")
    }

    pub fn unfinished(&self) -> u64 {
        self.u64("/totals/unfinished")
    }

    /// Exit code, stderr, a short summary of the result: for assertion messages.
    pub fn describe(&self) -> String {
        let totals = self.json.as_ref().and_then(|j| j.get("totals")).map(|t| {
            let mut t = t.clone();
            if let Some(o) = t.as_object_mut() {
                o.remove("latency_us");
            }
            t.to_string()
        });
        // A capacity search: its answers, without the steps' detail.
        let capacity = self.json.as_ref().and_then(|j| j.get("capacity")).map(|c| {
            let mut c = c.clone();
            if let Some(o) = c.as_object_mut() {
                o.remove("steps");
            }
            format!("\ncapacity: {c}")
        });
        format!(
            "exit code {:?} after {:?}\nstderr: {}\ntotals: {}{}",
            self.code,
            self.wall,
            self.stderr.trim(),
            totals.unwrap_or_else(|| "(no result document)".into()),
            capacity.unwrap_or_default()
        )
    }

    /// Assert the exit code, showing the run on failure.
    pub fn assert_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{}", self.describe());
    }
}

/// Run `stampede` with exactly these arguments.
pub fn stampede(args: &[&str]) -> Outcome {
    run(args, None, None)
}

/// `stampede bench URL ARGS... -q --json <temp file>`.
pub fn bench(url: &str, args: &[&str]) -> Outcome {
    bench_signalled(url, args, None)
}

/// Like [`bench`], and send `signal` to the process `after` its start (if given).
pub fn bench_signalled(url: &str, args: &[&str], signal: Option<(Duration, libc::c_int)>) -> Outcome {
    let json = temp_path("result.json");
    let json_arg = json.to_str().expect("temp path is UTF-8").to_string();
    let mut all = vec!["bench", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-q", "--json", &json_arg]);
    run(&all, Some(json), signal)
}

fn run(args: &[&str], json: Option<PathBuf>, signal: Option<(Duration, libc::c_int)>) -> Outcome {
    run_within(args, json, signal, RUN_LIMIT)
}

fn run_within(
    args: &[&str],
    json: Option<PathBuf>,
    signal: Option<(Duration, libc::c_int)>,
    limit: Duration,
) -> Outcome {
    run_signalled(env!("CARGO_BIN_EXE_stampede"), args, json, signal, limit)
}

fn run_program(program: &str, args: &[&str], json: Option<PathBuf>, limit: Duration) -> Outcome {
    run_signalled(program, args, json, None, limit)
}

fn run_signalled(
    program: &str,
    args: &[&str],
    json: Option<PathBuf>,
    mut signal: Option<(Duration, libc::c_int)>,
    limit: Duration,
) -> Outcome {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the stampede binary");
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for stampede") {
            break status;
        }
        if let Some((after, sig)) = signal {
            if started.elapsed() >= after {
                // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
                unsafe { libc::kill(child.id() as libc::pid_t, sig) };
                signal = None;
            }
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`stampede {}` still running after {limit:?}; killed", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let stdout = out.map(|t| t.join().expect("stdout reader")).unwrap_or_default();
    let stderr = err.map(|t| t.join().expect("stderr reader")).unwrap_or_default();
    let json = json.and_then(|path| {
        let text = std::fs::read_to_string(&path).ok();
        let _ = std::fs::remove_file(&path);
        text.map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("result is not JSON: {e}\n{t}")))
    });
    Outcome { code: status.code(), stdout, stderr, json, wall }
}

fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// A fresh path in Cargo's temporary directory for integration tests.
pub fn temp_path(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stampede-{}-{n}-{name}", std::process::id()))
}

/// `stampede run FILE ARGS... -q --json <temp file>`.
pub fn scenario(file: &std::path::Path, args: &[&str]) -> Outcome {
    let json = temp_path("result.json");
    let json_arg = json.to_str().expect("temp path is UTF-8").to_string();
    let file = file.to_str().expect("scenario path is UTF-8");
    let mut all = vec!["run", file];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-q", "--json", &json_arg]);
    run(&all, Some(json), None)
}

/// Run `stampede` with these arguments followed by `--json <temp file>`, and read the document
/// if one was written (for commands such as `demo`, or runs expected to refuse their input).
pub fn stampede_json(args: &[&str]) -> Outcome {
    stampede_json_within(args, RUN_LIMIT)
}

/// Like [`stampede_json`], for commands allowed longer than the usual limit (capacity searches).
pub fn stampede_json_within(args: &[&str], limit: Duration) -> Outcome {
    let json = temp_path("result.json");
    let json_arg = json.to_str().expect("temp path is UTF-8").to_string();
    let mut all = args.to_vec();
    all.extend_from_slice(&["--json", &json_arg]);
    run_within(&all, Some(json), None, limit)
}

/// Run `stampede ARGS... --json <temp file>` inside a network namespace of its own (`unshare
/// -n`; with `own_mounts` a mount namespace too, for a private /etc/hosts): loopback is up, and
/// `setup` (shell, `$S` is the stampede binary) runs first, e.g. to add addresses, narrow
/// `net.ipv4.ip_local_port_range` and start `$S target` in the background. The run is the first
/// process of a PID namespace of its own: when it ends (or `unshare --kill-child` kills it on
/// timeout), the kernel kills whatever `setup` started.
pub fn in_netns(setup: &str, own_mounts: bool, args: &[&str]) -> Outcome {
    let json = temp_path("result.json");
    let json_arg = json.to_str().expect("temp path is UTF-8").to_string();
    let script = format!("S=\"$0\"; ip link set lo up || exit 97; {setup}\nexec \"$S\" \"$@\"");
    let spaces = if own_mounts { "-mn" } else { "-n" };
    let mut all = vec![spaces, "--pid", "--fork", "--kill-child", "sh", "-c", &script, env!("CARGO_BIN_EXE_stampede")];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", &json_arg]);
    run_program("unshare", &all, Some(json), RUN_LIMIT)
}
