//! Integration tests of the HTML report (`--html FILE`): a short real run against the built-in
//! target writes the page; it has its charts and references nothing outside itself; `stampede
//! report` rebuilds the same page from the saved JSON; headless Chromium renders it to a
//! screenshot of the expected size that is not a blank page.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::{self, TempDir, TestTarget};

/// A few seconds of a small journey and a task mix; one threshold fails on purpose, and the
/// name needs escaping.
const SCENARIO: &str = r#"name = "html <report> & 'friends'"
thresholds = ["p(95) < 500ms", "errors < 1%", "rps > 1000000"]

[load]
executor = "ramping-vus"
stages = [{ duration = "1s", target = 10 }, { duration = "1.5s", target = 10 }, { duration = "0.5s", target = 0 }]
graceful_stop = "5s"

[[users]]
name = "agent"
weight = 60
think = "10ms"

  [[users.steps]]
  name = "login"
  request = "POST /auth/login"
  headers = { "Content-Type" = "application/json" }
  body = '{"email":"agent{{vu}}@html.test","password":"pw-{{vu}}"}'
  expect = { status = 200 }
  extract = { token = "json $.token" }

  [[users.steps]]
  name = "create escrow"
  request = "POST /escrows"
  headers = { Authorization = "Bearer {{token}}", "Content-Type" = "application/json" }
  body = '{"property_address":"{{vu}}-{{iter}} Test St","purchase_price":500000}'
  expect = { status = 201 }

[[users]]
name = "browser"
weight = 40
pick = "weighted"
think = "10ms"

  [[users.steps]]
  name = "pricing <list>"
  request = "GET /api/pricing"
  weight = 3

  [[users.steps]]
  name = "reports"
  request = "GET /api/reports?delay=3"
  weight = 1
"#;

/// The report of one real run, shared by the tests of this file.
struct Report {
    /// Never removed: a static is never dropped (it is small, under Cargo's temp dir).
    dir: TempDir,
    html_path: PathBuf,
    html: String,
    json_path: PathBuf,
}

fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let _m = util::shared_machine();
        let target = TestTarget::start();
        let dir = TempDir::new("html");
        let file = dir.write("scenario.toml", SCENARIO);
        let html_path = dir.path().join("report.html");
        let html_arg = html_path.to_str().expect("temp path is UTF-8");
        let out = util::scenario(&file, &["--target", &target.url(), "-t", "1", "--html", html_arg]);
        // `rps > 1000000` fails: exit 1, and the report is written all the same.
        out.assert_code(1);
        assert!(out.requests() > 100, "too few requests for a report\n{}", out.describe());
        let html = std::fs::read_to_string(&html_path)
            .unwrap_or_else(|e| panic!("no HTML report at {}: {e}\n{}", html_path.display(), out.describe()));
        let json_path = dir.write("result.json", &serde_json::to_string_pretty(out.doc()).expect("JSON"));
        Report { dir, html_path, html, json_path }
    })
}

/// Every real tag of the page (text is escaped, so each `<` opens one).
fn tags(html: &str) -> impl Iterator<Item = &str> {
    html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or(t))
}

#[test]
fn html_report_of_a_real_run_has_its_charts() {
    let r = report();
    let html = &r.html;
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..html.len().min(200)]);
    assert!(html.trim_end().ends_with("</html>"));
    for title in [
        "Throughput (requests per second)",
        "Active users",
        "Latency percentiles",
        "Errors (per second)",
        "Latency by percentile",
    ] {
        assert!(html.contains(&format!("<h3>{title}</h3>")), "no chart titled {title}");
    }
    let charts = html.matches("<svg class=\"chart\"").count();
    assert!(charts >= 6, "{charts} charts");
    // A sparkline per step: the timeline carries every step's seconds.
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 4);
    // plotters drew real data: polylines and tick labels.
    assert!(html.contains("<polyline") || html.contains("<path"), "no line drawn");
    assert!(html.contains("\n99%\n</text>"), "the spectrum has no 99% tick");
    assert!(!html.contains("no data"), "a chart without data");
    // Strings from the run are escaped.
    assert!(html.contains("html &lt;report&gt; &amp; &#39;friends&#39;"));
    assert!(html.contains("pricing &lt;list&gt;"));
    assert!(!html.contains("<report>") && !html.contains("<list>"));
    // The failed threshold is shown as failed, the others as passed.
    assert!(html.contains("<tr class=\"fail\"><td class=\"t v\">FAIL</td><td class=\"wrap\"><code>rps &gt; 1000000"));
    assert_eq!(html.matches("<tr class=\"pass\">").count(), 2);
}

#[test]
fn html_report_fetches_nothing() {
    let html = &report().html;
    for tag in tags(html) {
        let lower = tag.to_ascii_lowercase();
        for bad in ["src=", "href=", "url(", "@import"] {
            assert!(!lower.contains(bad), "a tag references something: <{tag}>");
        }
    }
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script") && !lower.contains("<link") && !lower.contains("@import"));
    assert!(!lower.contains("url("), "a stylesheet url()");
    // The only address in the page is the target's, shown as text.
    let target =
        html.split("target <b>").nth(1).and_then(|s| s.split("</b>").next()).expect("the target in the header");
    assert!(target.starts_with("http://127.0.0.1:"), "{target}");
    let rest = html.replace(target, "");
    assert!(!rest.contains("http://") && !rest.contains("https://"), "an address in the page besides the target");
}

#[test]
fn report_subcommand_rebuilds_the_same_page_from_the_json() {
    let r = report();
    let again = r.dir.path().join("again.html");
    let out =
        util::stampede(&["report", r.json_path.to_str().expect("UTF-8"), "--html", again.to_str().expect("UTF-8")]);
    out.assert_code(1);
    let html = std::fs::read_to_string(&again).expect("stampede report wrote the HTML");
    assert!(html == r.html, "the page from the saved JSON differs from the one written by the run");
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium
// ---------------------------------------------------------------------------------------------

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 2400;

/// Chromium on PATH, under any of its usual names.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-headless-shell", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Render `page` with headless Chromium to `png`, window `WIDTH` × `HEIGHT`.
fn screenshot(chromium: &Path, page: &Path, png: &Path, scratch: &Path) {
    let log = scratch.join(format!("{}.chromium.log", png.file_name().unwrap().to_string_lossy()));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", scratch.join("chromium-profile").display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("create the chromium log"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium still running after 90 s; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let tail = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    assert!(status.success(), "chromium failed ({status}):\n{}", tail());
    assert!(png.is_file(), "chromium wrote no screenshot at {}:\n{}", png.display(), tail());
}

/// Width and height from a PNG's IHDR chunk; panics if `bytes` is not a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "{} bytes: too short for a PNG", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is not IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        panic!(
            "chromium is not installed, and this test needs it to render the HTML report: install it \
             (Debian: `apt-get install -y --no-install-recommends chromium`; .ci/run does this)"
        );
    };
    let r = report();
    let _m = util::shared_machine();
    // Screenshots and Chromium's profile: removed when the test passes, kept when it fails.
    let dir = TempDir::new("chromium");
    let scratch = dir.path();
    let shot = scratch.join("report.png");
    screenshot(&chromium, &r.html_path, &shot, scratch);
    // The same window on an empty page: what "nothing drawn" weighs.
    let blank_page = scratch.join("blank.html");
    std::fs::write(&blank_page, "<!doctype html><title>blank</title>").expect("write the blank page");
    let blank = scratch.join("blank.png");
    screenshot(&chromium, &blank_page, &blank, scratch);

    let png = std::fs::read(&shot).expect("read the screenshot");
    let blank_png = std::fs::read(&blank).expect("read the blank screenshot");
    assert_eq!(png_size(&png), (WIDTH, HEIGHT), "screenshot size");
    assert_eq!(png_size(&blank_png), (WIDTH, HEIGHT), "blank screenshot size");
    println!("screenshot {} bytes, blank page {} bytes", png.len(), blank_png.len());
    // Charts, text and tables compress far worse than a white page.
    assert!(
        png.len() > 5 * blank_png.len() && png.len() > 100_000,
        "the screenshot looks blank: {} bytes against {} for an empty page ({})",
        png.len(),
        blank_png.len(),
        shot.display()
    );
}
