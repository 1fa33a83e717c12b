//! A real nginx (the Debian package's binary) for the tests: one worker in the foreground on a
//! free loopback port, configured and logging in a temp dir, whose `/queue` serves a small static
//! file behind `limit_req` (a known rate and burst: the excess waits, then gets a 503); stopped
//! when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::prometheus::{free_port, program, wait_ready};

/// A running nginx.
pub struct Nginx {
    /// Its first listening address (plain HTTP/1.1, serving `/-/ready`).
    pub addr: SocketAddr,
    /// Every listening address, in the order its configuration was given them.
    pub addrs: Vec<SocketAddr>,
    child: Child,
    pub dir: TempDir,
}

impl Nginx {
    /// `/queue` admits `rate` requests a second; up to `burst` more wait their turn (nginx
    /// delays them to the rate), and beyond that it answers 503 at once. `/-/ready` answers 200,
    /// unlimited.
    pub fn rate_limited(rate: u32, burst: u32) -> Nginx {
        let dir = TempDir::new("nginx");
        std::fs::create_dir_all(dir.path().join("www")).expect("create the www folder");
        dir.write("www/queue", "queued and served\n");
        Nginx::spawn(dir, 1, |dir, addrs| config(dir, addrs[0], rate, burst))
    }

    /// Start nginx in `dir` with the configuration `conf` writes for `ports` free loopback
    /// addresses (the first must serve `/-/ready` over plain HTTP/1.1).
    pub fn spawn(dir: TempDir, ports: usize, conf: impl Fn(&Path, &[SocketAddr]) -> String) -> Nginx {
        let binary = program("nginx", "nginx");
        let error_log = dir.path().join("error.log");
        for _ in 0..5 {
            let addrs: Vec<SocketAddr> =
                (0..ports).map(|_| format!("127.0.0.1:{}", free_port()).parse().expect("address")).collect();
            let conf = dir.write("nginx.conf", &conf(dir.path(), &addrs));
            let mut child = Command::new(&binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(&error_log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            if wait_ready(addrs[0], &mut child, Duration::from_secs(5)) {
                return Nginx { addr: addrs[0], addrs, child, dir };
            }
            // Another process took a port, most likely: try others.
            stop(&mut child);
        }
        panic!("nginx did not come up; its error.log ends:\n{}", tail(&error_log));
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stop the master and wait for it. SIGTERM first: the master then stops its worker, which a
/// SIGKILLed master would leave running (and listening). SIGKILL if it takes over 5 s.
fn stop(child: &mut Child) {
    // SAFETY: a signal to our own child, which is not yet reaped (so its pid is still ours).
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Everything nginx writes (pid, error log, temp files) stays in `dir`. The limiter's key is
/// `$server_addr`, the same for every request (`$server_name` would be empty: no limit).
/// `/queue` is a real file under `root`: `return` would answer in the rewrite phase, before
/// `limit_req` (preaccess) ever ran.
fn config(dir: &Path, addr: SocketAddr, rate: u32, burst: u32) -> String {
    let (main, temp) = (main_block(dir), temp_paths(dir));
    let dir = dir.display();
    format!(
        r#"{main}
http {{
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    {temp}

    limit_req_zone $server_addr zone=lim:1m rate={rate}r/s;
    limit_req_status 503;
    # Below the log's level: a line per delayed or refused request would be thousands a second.
    limit_req_log_level info;

    server {{
        listen {addr};
        root {dir}/www;

        location = /-/ready {{
            return 200 "ready\n";
        }}

        location /queue {{
            limit_req zone=lim burst={burst};
        }}
    }}
}}
"#
    )
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The configuration before `http`: one worker in the foreground, its pid and error log in `dir`.
pub fn main_block(dir: &Path) -> String {
    // As root the worker would switch to `nobody`, who may not read the temp dir.
    // SAFETY: geteuid has no preconditions and cannot fail.
    let user = if unsafe { libc::geteuid() } == 0 { "user root root;" } else { "" };
    let dir = dir.display();
    format!(
        "{user}\ndaemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n"
    )
}

/// The `http` block's temporary folders, in `dir`.
pub fn temp_paths(dir: &Path) -> String {
    ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("{t}_temp_path {}/{t}_temp;", dir.display()))
        .collect::<Vec<_>>()
        .join("\n    ")
}
