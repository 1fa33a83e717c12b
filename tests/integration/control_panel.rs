//! The dashboard's control panel (`--control`) in headless Chromium, driven through the DevTools
//! protocol: a token typed in (a wrong one first), a new rate typed and applied, pause, resume and
//! stop clicked — each checked in the counting server's own per-second counts, in `control[]`,
//! as markers on the live charts and in the HTML report.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use headless_chrome::{Browser, LaunchOptions, Tab};

use crate::control::{Steered, TOKEN, mean};
use crate::util::counting::CountingServer;
use crate::util::prometheus::{http_get, program};
use crate::util::{self, TempDir};

/// A headless Chromium that talks to nothing but the loopback page it is sent to.
fn browser(scratch: &TempDir) -> Browser {
    let chromium = program("chromium", "chromium");
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .sandbox(false)
        .headless(true)
        .window_size(Some((1280, 1600)))
        .user_data_dir(Some(scratch.path().join("profile")))
        .idle_browser_timeout(Duration::from_secs(60))
        .args(
            [
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ]
            .iter()
            .map(OsStr::new)
            .collect(),
        )
        .build()
        .expect("launch options");
    Browser::new(options).expect("start headless chromium")
}

/// The value of a JavaScript expression on the page, as a string (`""` for null).
fn js(tab: &Tab, expr: &str) -> String {
    let v = tab.evaluate(expr, false).unwrap_or_else(|e| panic!("evaluate `{expr}`: {e}")).value;
    match v {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Until `expr` holds on the page (at most 5 s); what it last was, for the message.
fn wait_js(tab: &Tab, expr: &str, run: &Steered) {
    let start = Instant::now();
    while js(tab, &format!("String(!!({expr}))")) != "true" {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the page never got to `{expr}`; it says: {}\n{}",
            js(tab, "document.getElementById('control-msg').textContent"),
            run.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn click(tab: &Tab, selector: &str) {
    tab.wait_for_element(selector).unwrap_or_else(|e| panic!("no {selector}: {e}")).click().expect("click");
}

fn type_into(tab: &Tab, selector: &str, text: &str) {
    tab.wait_for_element(selector).unwrap_or_else(|e| panic!("no {selector}: {e}")).type_into(text).expect("type");
}

/// The text of every `<text>` of the page's SVG charts, trimmed.
fn svg_texts(page: &str) -> Vec<&str> {
    page.split("<text").skip(1).filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim())).collect()
}

fn message(tab: &Tab) -> String {
    js(tab, "document.getElementById('control-msg').textContent")
}

#[test]
fn the_control_panel_works_in_headless_chromium() {
    let server = CountingServer::start();
    let scratch = TempDir::new("control-panel-chromium");
    let html = scratch.path().join("report.html");
    let _m = util::exclusive_machine();
    let args = ["bench", &server.url(), "-c", "40", "-R", "100", "-d", "40s", "--html", html.to_str().unwrap()];
    let mut run = Steered::start("control-panel", &args);
    let browser = browser(&scratch);
    let tab = browser.new_tab().expect("a tab");
    tab.set_default_timeout(Duration::from_secs(5));
    tab.navigate_to(&format!("http://{}/", run.addr)).and_then(|t| t.wait_until_navigated()).expect("open the page");

    // The panel: the scenario's rate now and an input for a new one.
    wait_js(&tab, "!document.getElementById('control').hidden", &run);
    wait_js(&tab, "document.getElementById('ctl-now-0').dataset.value === '100'", &run);
    type_into(&tab, "#ctl-value-0", "300");
    click(&tab, "#ctl-apply-0");
    // No token yet: the page asks for it. A wrong one is refused (401) and asked for again.
    wait_js(&tab, "!document.getElementById('token-form').hidden", &run);
    assert!(message(&tab).contains("Enter the control token"), "{}", message(&tab));
    type_into(&tab, "#token-input", "wrong-token-1");
    click(&tab, "#token-save");
    wait_js(&tab, "document.getElementById('control-msg').textContent.indexOf('refused') >= 0", &run);
    wait_js(&tab, "!document.getElementById('token-form').hidden", &run);
    let status = run.status();
    assert_eq!((status["events"].as_u64(), status["refused"].as_u64()), (Some(0), Some(1)), "{status}");
    assert_eq!(status["scenarios"][0]["rate"], 100.0, "a refused change changed the run: {status}");

    // The right token: the change asked for is sent, and the server's own counts follow.
    // (once the server has had two whole seconds of the run's 100/s)
    let steady = |now: f64| now >= 3.0 && mean(&server, now as usize - 2, now as usize) >= 90.0;
    let waited = Instant::now();
    while !steady(server.now()) {
        assert!(waited.elapsed() < Duration::from_secs(15), "the load never got to 100/s: {:?}", server.seconds());
        std::thread::sleep(Duration::from_millis(20));
    }
    type_into(&tab, "#token-input", TOKEN);
    // The change reaches the run between the click and the page saying it is done.
    let clicked_at = server.now();
    click(&tab, "#token-save");
    wait_js(
        &tab,
        "document.getElementById('control-msg').dataset.kind === 'ok' && /^Done/.test(document.getElementById('control-msg').textContent)",
        &run,
    );
    let changed_at = server.now();
    assert!(message(&tab).contains("set the rate of"), "{}", message(&tab));
    wait_js(&tab, "document.getElementById('ctl-now-0').dataset.value === '300'", &run);
    let token_kept = js(&tab, "sessionStorage.getItem('stampede.control.token')");
    assert_eq!(token_kept, TOKEN, "the token is kept in the tab");

    // Pause for 3 s, then resume.
    while server.now() < changed_at.ceil() + 3.2 {
        std::thread::sleep(Duration::from_millis(20));
    }
    click(&tab, "#ctl-pause");
    wait_js(&tab, "document.getElementById('control-state').dataset.value === 'paused'", &run);
    let paused_at = server.now();
    std::thread::sleep(Duration::from_secs(3));
    let resumed_at = server.now();
    click(&tab, "#ctl-resume");
    wait_js(&tab, "document.getElementById('control-state').dataset.value === 'running'", &run);
    let running_at = server.now();

    // The live charts mark the three changes; the frame carries them with their labels.
    std::thread::sleep(Duration::from_millis(3200));
    wait_js(&tab, "+document.getElementById('chart-rps').dataset.markers >= 3", &run);
    wait_js(&tab, "+document.getElementById('chart-lat').dataset.markers >= 3", &run);
    let log = js(&tab, "document.getElementById('control-log').textContent");
    for label in ["rate 100→300/s over 1s", "paused", "resumed"] {
        assert!(log.contains(label), "the live list of changes lacks `{label}`: {log}");
    }
    let (_, frame) = http_get(run.addr, "/api/frame").expect("GET /api/frame");
    let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
    let labels: Vec<&str> = frame["control"].as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["rate 100→300/s over 1s", "paused", "resumed"], "{frame}");

    // Stop takes two clicks.
    click(&tab, "#ctl-stop");
    assert_eq!(js(&tab, "document.getElementById('ctl-stop').textContent"), "Click again to stop");
    click(&tab, "#ctl-stop");
    let (exit, result) = run.finish(Duration::from_secs(20));
    assert_eq!(exit, Some(0), "{}", run.output());

    let actions: Vec<&str> =
        result["control"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["rate", "pause", "resume", "stop"], "{}", result["control"]);
    assert_eq!(
        (result["control"][0]["from"].as_f64(), result["control"][0]["to"].as_f64()),
        (Some(100.0), Some(300.0))
    );

    // The server's own counts: 100/s before the click, 300/s from 2 s after it, nothing while
    // paused, 300/s again after the resume.
    let counts = server.seconds();
    let (c0, c) = (clicked_at.floor() as usize, changed_at.ceil() as usize);
    let before = mean(&server, c0 - 2, c0);
    let after = mean(&server, c + 1, c + 3);
    assert!((80.0..=120.0).contains(&before), "before the click {before}/s: {counts:?}");
    assert!((250.0..=350.0).contains(&after), "2 s after the change {after}/s: {counts:?}");
    let quiet = (paused_at + 0.2).ceil() as usize..resumed_at.floor() as usize;
    assert!(quiet.len() >= 2, "pause {paused_at:.2}..{resumed_at:.2} too short to judge");
    for s in quiet.clone() {
        assert_eq!(counts[s], 0, "second {s} (paused {paused_at:.2}..{resumed_at:.2}) had requests: {counts:?}");
    }
    let back = mean(&server, running_at.ceil() as usize + 1, running_at.ceil() as usize + 3);
    assert!((250.0..=350.0).contains(&back), "after the resume {back}/s: {counts:?}");

    // The HTML report marks the changes on its time charts and shades the pause.
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    let texts = svg_texts(&page);
    for label in ["rate 100→300/s over 1s", "paused", "resumed", "stopped"] {
        // On each of the run's five time charts (throughput, users, latency, errors, CPU).
        let n = texts.iter().filter(|t| **t == label).count();
        assert!(n >= 5, "the HTML report's charts mark `{label}` {n} times: {texts:?}");
    }
    assert!(page.contains(">changed by hand</span>"), "the HTML report's legends lack the changes");
}
