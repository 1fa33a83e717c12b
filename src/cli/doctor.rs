//! `stampede doctor`: check the running box against tuning/ and say what to change.
//!
//! Facts are read from /proc, /sys and a few syscalls (anything unreadable is "unknown", never a
//! panic); each check is a small pure function from facts to a [`Check`], so the verdicts are
//! unit-tested without touching the box. Exit code: 0 when no check FAILs, 1 when one does.

use std::collections::BTreeMap;
use std::fs;

use crate::cli::{DoctorArgs, Outcome};
use crate::plan::sources::{Ceiling, Dns};

/// The widest ephemeral port range Linux allows ("1024 65535").
const MAX_PORTS: u64 = 64_512;
/// The value tuning/ uses for fs.nr_open and nofile.
const NOFILE_TUNED: u64 = 1_048_576;
const PAGE: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report: what was looked at, the verdict, what was found, and the fix.
#[derive(Debug)]
struct Check {
    name: &'static str,
    status: Status,
    found: String,
    /// What to do (a command where there is one); empty when nothing needs doing.
    advice: String,
}

impl Check {
    fn ok(name: &'static str, found: impl Into<String>) -> Check {
        Check { name, status: Status::Ok, found: found.into(), advice: String::new() }
    }
    fn warn(name: &'static str, found: impl Into<String>, advice: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, found: found.into(), advice: advice.into() }
    }
    fn fail(name: &'static str, found: impl Into<String>, advice: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, found: found.into(), advice: advice.into() }
    }
    fn unknown(name: &'static str, what: &str) -> Check {
        Check::warn(name, "unknown", format!("could not read {what}; is /proc (or /sys) mounted?"))
    }
}

pub fn run(args: DoctorArgs) -> anyhow::Result<Outcome> {
    let n = args.connections.max(1);
    let facts = Facts::gather(n);
    let mut checks = checks(&facts);
    if let Some(url) = &args.url {
        checks.push(http_versions(url));
        let route = args.route.finish()?;
        let sources = route.sources.unwrap_or_default();
        checks.push(ceiling(url, &sources, route.dns.unwrap_or_default(), facts.port_range, n as u64));
    }
    println!(
        "stampede doctor: this box for {n} connections to one target address \
         (kernel {}, {} CPUs usable)\n",
        facts.kernel_release.as_deref().unwrap_or("unknown"),
        facts.affinity.len()
    );
    for c in &checks {
        println!("{:<5} {:<16} {}", c.status.label(), c.name, c.found);
        if c.status != Status::Ok && !c.advice.is_empty() {
            println!("{:<22} fix: {}", "", c.advice);
        }
    }
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    let fails = count(Status::Fail);
    println!(
        "\n{} OK, {} WARN, {fails} FAIL. Exit code {} (1 when a check FAILs). \
         Lasting settings: tuning/ (see tuning/README.md).",
        count(Status::Ok),
        count(Status::Warn),
        u8::from(fails > 0)
    );
    Ok(if fails > 0 { Outcome::ThresholdsFailed } else { Outcome::Ok })
}

/// What the server at `url` speaks: the protocol it picks in ALPN over TLS (offered h2 and
/// http/1.1, its certificate not judged here), or whether it answers h2 with prior knowledge.
/// How many connections this box can open to `url`'s address and port: its source addresses ×
/// the ephemeral port range, and whether `connections` fit (`--dns` says how many of the name's
/// addresses share them).
fn ceiling(url: &str, sources: &[std::net::IpAddr], dns: Dns, range: Option<(u32, u32)>, connections: u64) -> Check {
    const NAME: &str = "ceiling";
    let Some(range) = range else { return Check::unknown(NAME, "/proc/sys/net/ipv4/ip_local_port_range") };
    let mut target = match crate::plan::Target::parse(url).and_then(|mut t| t.resolve().map(|()| t)) {
        Ok(t) => t,
        Err(e) => return Check::fail(NAME, e.to_string(), "give an http:// or https:// URL whose host resolves"),
    };
    for a in sources {
        if let Err(e) = crate::sys::check_source(*a) {
            return Check::fail(NAME, format!("source address {a}: {e}"), format!("ip addr add {a}/32 dev DEV"));
        }
    }
    if !sources.is_empty() {
        target.addrs.retain(|t| sources.iter().any(|s| s.is_ipv4() == t.is_ipv4()));
    }
    let to: Vec<String> = target.addrs.iter().map(|a| a.to_string()).collect();
    let c = Ceiling { sources: sources.len().max(1), range };
    let found = format!("{url} ({}, --dns {}): {}", to.join(", "), dns.name(), c.describe());
    match c.check(connections, &target.addrs, dns) {
        Ok(()) => Check::ok(NAME, format!("{found}; room for {connections}")),
        Err(e) => Check::fail(NAME, found, e),
    }
}

fn http_versions(url: &str) -> Check {
    use crate::http::h2::probe;
    const NAME: &str = "http versions";
    let timeout = std::time::Duration::from_secs(3);
    let mut target = match crate::plan::Target::parse(url) {
        Ok(t) => t,
        Err(e) => return Check::fail(NAME, e.to_string(), "give an http:// or https:// URL"),
    };
    if let Err(e) = target.resolve() {
        return Check::fail(NAME, e.to_string(), "check the host name");
    }
    if !target.tls {
        return match probe::h2c(&target.addrs, timeout) {
            Ok(true) => Check::ok(NAME, format!("{url}: answers HTTP/2 with prior knowledge (h2c): --http 2 works")),
            Ok(false) => Check::warn(
                NAME,
                format!("{url}: HTTP/1.1 only (no answer to h2 with prior knowledge)"),
                "plain http:// speaks HTTP/1.1 unless --http 2; this server would refuse it",
            ),
            Err(e) => Check::fail(NAME, format!("{url}: cannot connect: {e}"), "is the server up?"),
        };
    }
    let options = crate::tls::TlsOptions { insecure: true, ..Default::default() };
    let config = match crate::tls::client_config(&options) {
        Ok(c) => c,
        Err(e) => return Check::fail(NAME, e.to_string(), ""),
    };
    let mut config = (*config).clone();
    config.alpn_protocols = crate::http::version::Http::Auto.alpn();
    let name = match crate::tls::server_name(&target.host) {
        Ok(n) => n,
        Err(e) => return Check::fail(NAME, e.to_string(), ""),
    };
    match probe::alpn(&target.addrs, name, std::sync::Arc::new(config), timeout) {
        Ok(Some(p)) if p == "h2" => {
            Check::ok(NAME, format!("{url}: ALPN picks h2 of h2, http/1.1: --http auto speaks h2"))
        }
        Ok(picked) => Check::warn(
            NAME,
            format!("{url}: ALPN picks {} of h2, http/1.1", picked.as_deref().unwrap_or("nothing")),
            "--http auto speaks HTTP/1.1 here, and --http 2 (or --streams) is refused before any load",
        ),
        Err(e) => Check::fail(NAME, format!("{url}: {e}"), "is the server up, and does it speak TLS?"),
    }
}

/// Everything the checks look at, read once.
struct Facts {
    connections: u64,
    kernel_release: Option<String>,
    kernel: Option<Kernel>,
    uring_disabled: Option<u32>,
    uring_may_use: bool,
    ring: Result<String, String>,
    ring_users: usize,
    nofile: Option<(u64, u64)>,
    nr_open: Option<u64>,
    file_max: Option<u64>,
    files_in_use: Option<u64>,
    port_range: Option<(u32, u32)>,
    tw_reuse: Option<u32>,
    somaxconn: Option<u64>,
    memlock: Option<u64>,
    cap_ipc_lock: Option<bool>,
    /// Whether io_uring rings are charged to RLIMIT_MEMLOCK here, measured (None: not measured).
    rings_charged: Option<bool>,
    online: Option<Vec<usize>>,
    isolated: Option<Vec<usize>>,
    affinity: Vec<usize>,
    governors: BTreeMap<String, Vec<usize>>,
    thp: Option<String>,
    thp_off_for_self: bool,
    conntrack: Option<(u64, u64)>,
}

impl Facts {
    fn gather(connections: usize) -> Facts {
        let affinity = crate::sys::usable_cores();
        let ring_users = connections.div_ceil(affinity.len().max(1));
        let kernel_release = crate::sys::kernel_release();
        let caps = read("/proc/self/status").and_then(|s| cap_eff(&s));
        let uring_group = read_num::<i64>("/proc/sys/kernel/io_uring_group");
        Facts {
            connections: connections as u64,
            kernel: kernel_release.as_deref().and_then(parse_kernel),
            kernel_release,
            uring_disabled: read_num("/proc/sys/kernel/io_uring_disabled"),
            uring_may_use: caps.is_some_and(|c| c & (1 << CAP_SYS_ADMIN) != 0)
                || uring_group.is_some_and(crate::sys::in_group),
            ring: crate::engine::io::probe(ring_users),
            ring_users,
            nofile: crate::sys::rlimit(libc::RLIMIT_NOFILE),
            nr_open: read_num("/proc/sys/fs/nr_open"),
            file_max: read_num("/proc/sys/fs/file-max"),
            files_in_use: read("/proc/sys/fs/file-nr").and_then(|s| s.split_whitespace().next()?.parse().ok()),
            port_range: crate::sys::local_port_range(),
            tw_reuse: read_num("/proc/sys/net/ipv4/tcp_tw_reuse"),
            somaxconn: read_num("/proc/sys/net/core/somaxconn"),
            memlock: crate::sys::rlimit(libc::RLIMIT_MEMLOCK).map(|(soft, _)| soft),
            cap_ipc_lock: caps.map(|c| c & (1 << CAP_IPC_LOCK) != 0),
            rings_charged: if caps.is_some_and(|c| c & (1 << CAP_IPC_LOCK) != 0) {
                None
            } else {
                crate::sys::rings_charged_to_memlock()
            },
            online: read("/sys/devices/system/cpu/online").and_then(|s| parse_cpu_list(&s)),
            isolated: read("/sys/devices/system/cpu/isolated").and_then(|s| parse_cpu_list(&s)),
            governors: governors(&affinity),
            affinity,
            thp: read("/sys/kernel/mm/transparent_hugepage/enabled").and_then(|s| bracketed(&s)),
            thp_off_for_self: crate::sys::huge_pages_disabled(),
            conntrack: read_num("/proc/sys/net/netfilter/nf_conntrack_max")
                .map(|max| (max, read_num("/proc/sys/net/netfilter/nf_conntrack_count").unwrap_or(0))),
        }
    }
}

/// The report, in order.
fn checks(f: &Facts) -> Vec<Check> {
    let need_fds = f.connections + crate::sys::FD_HEADROOM;
    let workers = f.affinity.len().max(1);
    vec![
        uring_switch(f.uring_disabled, f.kernel, f.uring_may_use),
        ring(&f.ring, f.ring_users),
        kernel(f.kernel, f.kernel_release.as_deref()),
        nofile(f.nofile, need_fds, f.nr_open),
        file_max(f.file_max, f.files_in_use, need_fds),
        ports(f.port_range, f.connections),
        tw_reuse(f.tw_reuse),
        somaxconn(f.somaxconn, (workers * crate::engine::CONNECTS_IN_FLIGHT) as u64),
        memlock(f.memlock, f.rings_charged, f.kernel, f.cap_ipc_lock, workers as u64 * ring_bytes(f.ring_users)),
        cpus(f.online.as_deref(), f.isolated.as_deref(), &f.affinity),
        governor(&f.governors),
        thp(f.thp.as_deref(), f.thp_off_for_self),
        conntrack(f.conntrack, f.connections),
    ]
}

// ---------------------------------------------------------------------------------------------
// Verdicts: pure functions of the facts.

/// Linux version as (major, minor, patch).
type Kernel = (u32, u32, u32);

fn uring_switch(disabled: Option<u32>, kernel: Option<Kernel>, may_use: bool) -> Check {
    const NAME: &str = "io_uring switch";
    const FIX: &str = "sudo sysctl -w kernel.io_uring_disabled=0";
    match disabled {
        None if kernel.is_some_and(|k| k < (6, 6, 0)) => {
            Check::ok(NAME, "no kernel.io_uring_disabled before 6.6: always enabled")
        }
        None => Check::unknown(NAME, "/proc/sys/kernel/io_uring_disabled"),
        Some(0) => Check::ok(NAME, "kernel.io_uring_disabled = 0 (enabled for everyone)"),
        Some(1) if may_use => {
            Check::ok(NAME, "kernel.io_uring_disabled = 1 (only root and kernel.io_uring_group; this user may)")
        }
        Some(1) => Check::warn(
            NAME,
            "kernel.io_uring_disabled = 1 (only root and kernel.io_uring_group): runs take the epoll path",
            format!("{FIX}, or add this user to the group in kernel.io_uring_group"),
        ),
        Some(v) => Check::warn(
            NAME,
            format!("kernel.io_uring_disabled = {v} (off for everyone): runs take the epoll path"),
            FIX,
        ),
    }
}

fn ring(result: &Result<String, String>, users: usize) -> Check {
    match result {
        Ok(found) => Check::ok("io_uring ring", format!("{found}: runs take the io_uring path")),
        Err(why) => Check::warn(
            "io_uring ring",
            format!(
                "a worker's ring for {users} users could not be set up: runs take the epoll path (--io auto; --io uring would stop)"
            ),
            why.clone(),
        ),
    }
}

fn kernel(k: Option<Kernel>, release: Option<&str>) -> Check {
    const NAME: &str = "kernel";
    let Some(k) = k else { return Check::unknown(NAME, "the kernel release (uname)") };
    let shown = release.unwrap_or("?");
    if k >= (6, 1, 0) {
        Check::ok(NAME, format!("{shown} (DEFER_TASKRUN needs 6.1, multishot receive 6.0)"))
    } else {
        Check::warn(
            NAME,
            format!(
                "{shown}: the io_uring path needs DEFER_TASKRUN (6.1+) and multishot receive (6.0+): runs take the epoll path"
            ),
            "boot a 6.1+ kernel (Debian 12, Ubuntu 22.04 HWE or 24.04, RHEL 10, or a backports kernel)",
        )
    }
}

fn nofile(limits: Option<(u64, u64)>, need: u64, nr_open: Option<u64>) -> Check {
    const NAME: &str = "open files";
    let Some((soft, hard)) = limits else { return Check::unknown(NAME, "RLIMIT_NOFILE") };
    let found = format!("soft {} / hard {} (need {need})", lim(soft), lim(hard));
    if hard >= need {
        return Check::ok(NAME, found);
    }
    let to = need.max(NOFILE_TUNED);
    let raise_nr_open =
        if nr_open.is_some_and(|n| n < to) { format!("sudo sysctl -w fs.nr_open={to} && ") } else { String::new() };
    Check::fail(
        NAME,
        found,
        format!(
            "{raise_nr_open}sudo prlimit --pid $$ --nofile={to}:{to} (this shell); lasting: \
             tuning/limits.conf, or LimitNOFILE={to} in a systemd unit"
        ),
    )
}

fn file_max(max: Option<u64>, in_use: Option<u64>, need: u64) -> Check {
    const NAME: &str = "fs.file-max";
    let Some(max) = max else { return Check::unknown(NAME, "/proc/sys/fs/file-max") };
    let in_use = in_use.unwrap_or(0);
    let found = format!("{} system-wide, {in_use} in use", lim(max));
    if max.saturating_sub(in_use) >= need {
        Check::ok(NAME, found)
    } else {
        let to = (in_use + need).max(2 * NOFILE_TUNED);
        Check::fail(NAME, found, format!("sudo sysctl -w fs.file-max={to}"))
    }
}

fn ports(range: Option<(u32, u32)>, connections: u64) -> Check {
    const NAME: &str = "local ports";
    let Some((lo, hi)) = range else {
        return Check::unknown(NAME, "/proc/sys/net/ipv4/ip_local_port_range");
    };
    let size = u64::from(hi.saturating_sub(lo)) + 1;
    let found = format!("ip_local_port_range {lo}-{hi}: {size} ports per target address:port, need {connections}");
    let widen = "sudo sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"";
    if connections > MAX_PORTS && size < connections {
        Check::fail(
            NAME,
            found,
            format!(
                "one source address reaches one address:port with at most {MAX_PORTS} ports \
                 ({widen}); beyond that split the run over boxes (--shard i/N) or target addresses"
            ),
        )
    } else if size < connections {
        Check::fail(NAME, found, widen)
    } else if size < connections + connections / 4 {
        Check::warn(NAME, found, format!("little room for ports still in TIME_WAIT after reconnects: {widen}"))
    } else {
        Check::ok(NAME, found)
    }
}

fn tw_reuse(v: Option<u32>) -> Check {
    const NAME: &str = "tcp_tw_reuse";
    const FIX: &str = "sudo sysctl -w net.ipv4.tcp_tw_reuse=1 (matters when connections are \
                       reopened: --no-keepalive, servers closing, reconnects after errors)";
    match v {
        None => Check::unknown(NAME, "/proc/sys/net/ipv4/tcp_tw_reuse"),
        Some(1) => Check::ok(NAME, "1 (ports in TIME_WAIT are reused for new connections)"),
        Some(2) => Check::warn(NAME, "2 (TIME_WAIT ports reused for loopback only)", FIX),
        Some(v) => Check::warn(NAME, format!("{v} (TIME_WAIT ports are not reused)"), FIX),
    }
}

/// `burst`: SYNs the generator may have in flight at once, which a target on this box must queue.
fn somaxconn(v: Option<u64>, burst: u64) -> Check {
    const NAME: &str = "somaxconn";
    let Some(v) = v else { return Check::unknown(NAME, "/proc/sys/net/core/somaxconn") };
    let found = format!("{v} (caps a listen backlog; matters when the target runs on this box)");
    if v >= 4096 && v >= burst {
        Check::ok(NAME, found)
    } else {
        Check::warn(NAME, found, "sudo sysctl -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535")
    }
}

/// io_uring memory is charged to the user's RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK:
/// on kernels before 5.12 always; on recent ones again (measured on 6.18). `charged` is what
/// [`rings_charged`] measured on this box; without it, go by the kernel (before 5.12: charged).
/// All processes of one user share the charge, and a closed ring is uncharged a little later.
fn memlock(
    limit: Option<u64>,
    charged: Option<bool>,
    k: Option<Kernel>,
    cap_ipc_lock: Option<bool>,
    need: u64,
) -> Check {
    const NAME: &str = "locked memory";
    const FIX: &str = "sudo prlimit --pid $$ --memlock=unlimited:unlimited (this shell); lasting: \
                       tuning/limits.conf (memlock), or LimitMEMLOCK=infinity in a systemd unit";
    let Some(limit) = limit else { return Check::unknown(NAME, "RLIMIT_MEMLOCK") };
    let shown = format!("{} (rings of all workers: ~{})", bytes(limit), bytes(need));
    if cap_ipc_lock == Some(true) {
        return Check::ok(NAME, format!("{shown}; not charged to root (CAP_IPC_LOCK): run doctor as the load user"));
    }
    let (charged, how) = match (charged, k) {
        (Some(c), _) => (c, "measured"),
        (None, Some(k)) => (k < (5, 12, 0), "by kernel version"),
        (None, None) => (true, "assumed"),
    };
    if !charged {
        Check::ok(NAME, format!("{shown}; rings not charged to it on this kernel ({how})"))
    } else if limit < need {
        Check::fail(NAME, format!("{shown}; rings charged to it here ({how}): too little"), FIX)
    } else if limit / 2 < need {
        Check::warn(
            NAME,
            format!("{shown}; rings charged to it here ({how}): tight, as the user's other rings count too"),
            FIX,
        )
    } else {
        Check::ok(NAME, format!("{shown}; rings charged to it here ({how}): enough"))
    }
}

fn cpus(online: Option<&[usize]>, isolated: Option<&[usize]>, affinity: &[usize]) -> Check {
    const NAME: &str = "CPUs";
    let mine = cpu_list(affinity);
    let of = online.map_or(String::new(), |o| format!(" of {} online", o.len()));
    let iso = isolated.unwrap_or(&[]);
    if !iso.is_empty() {
        let on_iso = affinity.iter().filter(|c| iso.contains(c)).count();
        let run =
            format!("taskset -c {} stampede bench URL -t {} (one worker per isolated CPU)", cpu_list(iso), iso.len());
        return if on_iso == affinity.len() {
            Check::ok(NAME, format!("runs on isolated CPUs {mine} (use -t {}){of}", affinity.len()))
        } else {
            Check::warn(NAME, format!("CPUs {} are isolated but this process runs on {mine}{of}", cpu_list(iso)), run)
        };
    }
    let found = format!(
        "{} usable ({mine}){of}{}",
        affinity.len(),
        if isolated.is_none() { ", isolation unknown" } else { ", none isolated" }
    );
    if affinity.len() <= 1 {
        Check::warn(
            NAME,
            found,
            "one CPU runs the generator and everything else: give it more (taskset -c 0-N) or \
             watch generator cpu_percent in the result",
        )
    } else {
        Check::ok(NAME, found)
    }
}

fn governor(governors: &BTreeMap<String, Vec<usize>>) -> Check {
    const NAME: &str = "CPU governor";
    if governors.is_empty() {
        return Check::ok(NAME, "no cpufreq control here (VM or firmware-managed clock)");
    }
    let found = governors.iter().map(|(g, cpus)| format!("{g} on {}", cpu_list(cpus))).collect::<Vec<_>>().join(", ");
    if governors.keys().all(|g| g == "performance") {
        Check::ok(NAME, found)
    } else {
        Check::warn(
            NAME,
            found,
            "sudo cpupower frequency-set -g performance (or: echo performance | sudo tee \
             /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)",
        )
    }
}

fn thp(mode: Option<&str>, off_for_self: bool) -> Check {
    const NAME: &str = "huge pages";
    let Some(mode) = mode else {
        return Check::ok(NAME, "transparent huge pages not available");
    };
    if off_for_self {
        Check::ok(NAME, format!("THP {mode} system-wide; off for stampede (PR_SET_THP_DISABLE)"))
    } else if mode == "always" {
        Check::warn(
            NAME,
            "THP always, and not turned off for this process: memory grows in 2 MiB steps",
            "echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled",
        )
    } else {
        Check::ok(NAME, format!("THP {mode}"))
    }
}

fn conntrack(table: Option<(u64, u64)>, connections: u64) -> Check {
    const NAME: &str = "conntrack";
    let Some((max, count)) = table else {
        return Check::ok(NAME, "no connection tracking loaded");
    };
    let found = format!("nf_conntrack_max {max}, {count} tracked, need {connections} more");
    if max.saturating_sub(count) >= connections {
        Check::ok(NAME, found)
    } else {
        let to = (count + 2 * connections).next_power_of_two();
        Check::fail(
            NAME,
            found,
            format!("sudo sysctl -w net.netfilter.nf_conntrack_max={to} (a full table drops SYNs)"),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the box.

const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_ADMIN: u32 = 21;

fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn read_num<T: std::str::FromStr>(path: &str) -> Option<T> {
    read(path)?.trim().parse().ok()
}

/// Per-CPU scaling governors of `cpus`, grouped by governor; empty without cpufreq.
fn governors(cpus: &[usize]) -> BTreeMap<String, Vec<usize>> {
    let mut by = BTreeMap::<String, Vec<usize>>::new();
    for &cpu in cpus {
        let path = format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor");
        if let Some(g) = read(&path) {
            by.entry(g.trim().to_string()).or_default().push(cpu);
        }
    }
    by
}

// ---------------------------------------------------------------------------------------------
// Parsing and formatting (pure).

/// "6.18.44-fc-v595" → (6, 18, 44); "5.4" → (5, 4, 0).
fn parse_kernel(release: &str) -> Option<Kernel> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// A kernel CPU list ("0-3,8,10-11\n", or "" for none) → [0, 1, 2, 3, 8, 10, 11].
fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// [0, 1, 2, 3, 8] → "0-3,8".
fn cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        out.push(if sorted[i] == start { start.to_string() } else { format!("{start}-{}", sorted[i]) });
        i += 1;
    }
    if out.is_empty() { "none".into() } else { out.join(",") }
}

/// The selected word of a sysfs choice: "always [madvise] never" → "madvise".
fn bracketed(s: &str) -> Option<String> {
    let start = s.find('[')? + 1;
    let end = start + s[start..].find(']')?;
    Some(s[start..end].to_string())
}

/// The effective capability mask from /proc/self/status.
fn cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Bytes of ring memory one worker's io_uring pins for `users` users: SQEs, the SQ/CQ rings, and
/// the provided-buffer ring (its buffers are ordinary memory).
fn ring_bytes(users: usize) -> u64 {
    let (entries, bufs) = crate::engine::ring_sizes(users);
    let (entries, bufs) = (entries as u64, bufs as u64);
    let pages = |b: u64| b.div_ceil(PAGE) * PAGE;
    // Two pages more than the sum of the parts: what a non-root ring took on 6.18 (measured).
    pages(entries * 64) + pages(256 + 2 * entries * 16 + entries * 4) + pages(bufs * 16) + 2 * PAGE
}

fn lim(v: u64) -> String {
    if v == libc::RLIM_INFINITY || v >= i64::MAX as u64 { "unlimited".into() } else { v.to_string() }
}

fn bytes(v: u64) -> String {
    match v {
        v if v == libc::RLIM_INFINITY => "unlimited".into(),
        v if v >= 1 << 30 => format!("{:.1} GiB", v as f64 / (1u64 << 30) as f64),
        v if v >= 1 << 20 => format!("{:.1} MiB", v as f64 / (1u64 << 20) as f64),
        v => format!("{} KiB", v.div_ceil(1024)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_releases() {
        assert_eq!(parse_kernel("6.18.44-fc-v595"), Some((6, 18, 44)));
        assert_eq!(parse_kernel("5.15.0-105-generic"), Some((5, 15, 0)));
        assert_eq!(parse_kernel("6.1"), Some((6, 1, 0)));
        assert_eq!(parse_kernel("6.8.0+"), Some((6, 8, 0)));
        assert_eq!(parse_kernel("garbage"), None);
    }

    #[test]
    fn parses_and_prints_cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("\n"), Some(vec![]));
        assert_eq!(parse_cpu_list("0-x"), None);
        assert_eq!(cpu_list(&[8, 0, 1, 2, 3, 10, 11]), "0-3,8,10-11");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[]), "none");
    }

    #[test]
    fn parses_sysfs_choice_and_caps() {
        assert_eq!(bracketed("always [madvise] never\n").as_deref(), Some("madvise"));
        assert_eq!(bracketed("madvise"), None);
        let status = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        assert_eq!(cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn port_range_against_connections() {
        let default = Some((32768, 60999));
        assert_eq!(ports(default, 10_000).status, Status::Ok);
        let short = ports(default, 40_000);
        assert_eq!(short.status, Status::Fail);
        assert!(short.advice.contains("ip_local_port_range"), "{}", short.advice);
        assert_eq!(ports(default, 25_000).status, Status::Warn);
        let huge = ports(Some((1024, 65535)), 100_000);
        assert_eq!(huge.status, Status::Fail);
        assert!(huge.advice.contains("--shard"));
        assert_eq!(ports(None, 10).found, "unknown");
    }

    #[test]
    fn nofile_fails_only_when_hard_limit_is_short() {
        // Soft below need is fine: stampede raises soft to hard itself.
        assert_eq!(nofile(Some((1024, 524_288)), 10_064, Some(1_048_576)).status, Status::Ok);
        let short = nofile(Some((1024, 4096)), 10_064, Some(1_048_576));
        assert_eq!(short.status, Status::Fail);
        assert!(short.advice.contains("--nofile=1048576:1048576"));
        assert!(!short.advice.contains("nr_open"));
        let past_nr_open = nofile(Some((1024, 4096)), 2_000_064, Some(1_048_576));
        assert!(past_nr_open.advice.starts_with("sudo sysctl -w fs.nr_open=2000064"));
        assert_eq!(nofile(None, 10, None).status, Status::Warn);
    }

    #[test]
    fn io_uring_switch() {
        assert_eq!(uring_switch(Some(0), Some((6, 8, 0)), false).status, Status::Ok);
        assert_eq!(uring_switch(Some(1), Some((6, 8, 0)), true).status, Status::Ok);
        // Refused io_uring is a warning: runs take the epoll path.
        assert_eq!(uring_switch(Some(1), Some((6, 8, 0)), false).status, Status::Warn);
        let off = uring_switch(Some(2), Some((6, 8, 0)), true);
        assert_eq!(off.status, Status::Warn);
        assert!(off.found.contains("epoll"));
        assert!(off.advice.contains("kernel.io_uring_disabled=0"));
        assert_eq!(uring_switch(None, Some((6, 1, 0)), false).status, Status::Ok);
        assert_eq!(uring_switch(None, Some((6, 8, 0)), false).found, "unknown");
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel(Some((6, 1, 0)), Some("6.1.0")).status, Status::Ok);
        assert_eq!(kernel(Some((5, 15, 0)), Some("5.15.0")).status, Status::Warn);
        assert_eq!(kernel(None, None).status, Status::Warn);
    }

    #[test]
    fn memlock_matters_only_where_charged() {
        let need = 2 * ring_bytes(5000);
        let k = Some((6, 18, 0));
        // Measured: not charged (5.12 to some 6.x) → any limit will do.
        assert_eq!(memlock(Some(64 << 10), Some(false), k, Some(false), need).status, Status::Ok);
        // Measured: charged (recent kernels, non-root).
        let short = memlock(Some(64 << 10), Some(true), k, Some(false), need);
        assert_eq!(short.status, Status::Fail);
        assert!(short.advice.contains("--memlock=unlimited"));
        assert_eq!(memlock(Some(need + need / 2), Some(true), k, Some(false), need).status, Status::Warn);
        assert_eq!(memlock(Some(8 << 20), Some(true), k, Some(false), need).status, Status::Ok);
        // Not measured: go by the kernel; before 5.12 rings are charged.
        assert_eq!(memlock(Some(64 << 10), None, Some((5, 10, 0)), Some(false), need).status, Status::Fail);
        assert_eq!(memlock(Some(64 << 10), None, Some((6, 1, 0)), Some(false), need).status, Status::Ok);
        // Root does not pay.
        assert_eq!(memlock(Some(0), None, k, Some(true), need).status, Status::Ok);
    }

    #[test]
    fn ring_sizes() {
        // 16384 SQEs (1 MiB) + rings (32768 CQEs, 64 KiB array) + 2048-entry buffer ring + slack:
        // a non-root ring of this size needed 1,683,456 bytes of RLIMIT_MEMLOCK on 6.18.
        assert_eq!(ring_bytes(100_000), (1 << 20) + 593_920 + 32_768 + 8192);
        assert_eq!(ring_bytes(1), 16_384 + 12_288 + 4096 + 8192);
    }

    #[test]
    fn other_verdicts() {
        assert_eq!(tw_reuse(Some(1)).status, Status::Ok);
        assert_eq!(tw_reuse(Some(2)).status, Status::Warn);
        assert!(tw_reuse(Some(0)).advice.contains("tcp_tw_reuse=1"));
        assert_eq!(somaxconn(Some(4096), 512).status, Status::Ok);
        assert_eq!(somaxconn(Some(128), 512).status, Status::Warn);
        assert_eq!(somaxconn(Some(4096), 16 * 256).status, Status::Ok);
        assert_eq!(somaxconn(Some(4096), 32 * 256).status, Status::Warn);
        assert_eq!(file_max(Some(100_000), Some(95_000), 10_064).status, Status::Fail);
        assert_eq!(file_max(Some(u64::MAX >> 1), Some(2000), 10_064).status, Status::Ok);
        assert_eq!(conntrack(None, 10_000).status, Status::Ok);
        assert_eq!(conntrack(Some((65_536, 60_000)), 10_000).status, Status::Fail);
        assert_eq!(conntrack(Some((262_144, 10)), 10_000).status, Status::Ok);
    }

    #[test]
    fn cpu_verdicts() {
        assert_eq!(cpus(Some(&[0, 1]), Some(&[]), &[0, 1]).status, Status::Ok);
        assert_eq!(cpus(Some(&[0]), Some(&[]), &[0]).status, Status::Warn);
        let away = cpus(Some(&[0, 1, 2, 3]), Some(&[2, 3]), &[0, 1]);
        assert_eq!(away.status, Status::Warn);
        assert!(away.advice.contains("taskset -c 2-3") && away.advice.contains("-t 2"));
        assert_eq!(cpus(Some(&[0, 1, 2, 3]), Some(&[2, 3]), &[2, 3]).status, Status::Ok);
        let mut g = BTreeMap::new();
        assert_eq!(governor(&g).status, Status::Ok);
        g.insert("powersave".to_string(), vec![0, 1]);
        assert_eq!(governor(&g).status, Status::Warn);
        g.clear();
        g.insert("performance".to_string(), vec![0, 1]);
        assert_eq!(governor(&g).status, Status::Ok);
        assert_eq!(thp(Some("always"), true).status, Status::Ok);
        assert_eq!(thp(Some("always"), false).status, Status::Warn);
        assert_eq!(thp(None, false).status, Status::Ok);
    }
}
