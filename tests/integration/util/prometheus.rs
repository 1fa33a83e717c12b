//! A real Prometheus (the Debian package's binary) for the tests: started on a free loopback port
//! with its remote-write receiver on and a temporary storage folder, queried over its HTTP API,
//! stopped when dropped. Also a small blocking HTTP GET for loopback servers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TempDir;

/// GET `path` from `addr` (HTTP/1.1, connection closed after); the status and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    Ok((status, body))
}

/// The body of a chunked message.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A free loopback port (bound and released; another process could take it in between).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("address").port()
}

/// The path of a program on PATH, or a panic saying how to install it.
pub fn program(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed, and this test needs a real one: install it \
             (Debian: `apt-get install -y --no-install-recommends {package}`; .ci/run does this)"
        )
    })
}

/// A running Prometheus.
pub struct Prometheus {
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Prometheus {
    /// Start one that receives remote writes (and scrapes nothing).
    pub fn start() -> Prometheus {
        Prometheus::start_scraping(&[])
    }

    /// Start one that also scrapes these targets (`host:port`, path `/metrics`) every second.
    pub fn start_scraping(targets: &[SocketAddr]) -> Prometheus {
        let binary = program("prometheus", "prometheus");
        let dir = TempDir::new("prometheus");
        let config = dir.path().join("prometheus.yml");
        let mut yml = String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
        if !targets.is_empty() {
            let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
            yml.push_str(&format!(
                "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{}]\n",
                list.join(", ")
            ));
        }
        std::fs::write(&config, yml).expect("write the config");
        let log = dir.path().join("prometheus.log");
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
            let mut child = Command::new(&binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--web.enable-remote-write-receiver")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("create the Prometheus log"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            if wait_ready(addr, &mut child, Duration::from_secs(30)) {
                return Prometheus { addr, child, log, _dir: dir };
            }
            // Another process took the port, most likely: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("Prometheus did not become ready:\n{}", tail(&log));
    }

    /// The remote-write URL.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// An instant query: the API's answer, which must be a success.
    pub fn query_raw(&self, expr: &str) -> Value {
        let q: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("query", expr).finish();
        let (status, body) =
            http_get(self.addr, &format!("/api/v1/query?{q}")).unwrap_or_else(|e| panic!("query `{expr}`: {e}"));
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("query `{expr}`: {e}: {body}"));
        assert!(status == 200 && v["status"] == "success", "query `{expr}` failed ({status}): {body}");
        v
    }

    /// An instant query's vector: each sample's labels and value.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let v = self.query_raw(expr);
        v["data"]["result"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        let labels = r["metric"].as_object().cloned().unwrap_or_default();
                        let value = r["value"][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
                        (labels, value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of a query that gives one sample, waiting (up to 10 s) for it to appear.
    pub fn value(&self, expr: &str) -> f64 {
        let start = Instant::now();
        loop {
            let r = self.query(expr);
            if r.len() == 1 {
                return r[0].1;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "`{expr}` gave {} samples: {r:?}", r.len());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until the server at `addr` says it is ready (false if `child` exits or time runs out).
pub fn wait_ready(addr: SocketAddr, child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if matches!(http_get(addr, "/-/ready"), Ok((200, _))) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A real node_exporter (Debian's `prometheus-node-exporter`) on a free loopback port, with the
/// CPU, memory, load and network-device collectors only; stopped when dropped.
pub struct NodeExporter {
    pub addr: SocketAddr,
    child: Child,
}

impl NodeExporter {
    pub fn start() -> NodeExporter {
        let binary = program("prometheus-node-exporter", "prometheus-node-exporter");
        for _ in 0..5 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
            let mut child = Command::new(&binary)
                .arg(format!("--web.listen-address={addr}"))
                .args(["--collector.disable-defaults", "--collector.cpu", "--collector.meminfo", "--collector.loadavg"])
                // Debian's default leaves loopback out (`^lo$`); the tests' load is on loopback.
                .args(["--collector.netdev", "--collector.netdev.device-exclude=^$"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if matches!(http_get(addr, "/metrics"), Ok((200, _))) {
                    return NodeExporter { addr, child };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("node_exporter did not start");
    }

    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
