//! The integration tests: one test binary (so the real `stampede` binary is built and the
//! helpers compiled once), a module per command under test.
//!
//! - [`bench`]: `stampede bench` against scripted raw HTTP servers.
//! - [`scenario`]: `stampede run`, `demo` and `--dry-run` against the built-in target.
//! - [`scenarios`]: several scenarios in one file, their windows, thresholds and merging.
//! - [`include`]: suites of several files (`include = [...]`): merged tables, refusals that name
//!   both places.
//! - [`journeys`]: journeys that go on after a failed step, `on_fail`, `if` on a step's own value.
//! - [`suite`]: what real suites need: HTTPS, cookies, redirects, conditions, feeders, executors.
//! - [`thresholds`]: thresholds with nothing to measure ("no data") and their windows.
//! - [`results`]: `stampede merge`, `compare` and `report` on saved results.
//! - [`report_html`]: the `--html` report of a real run, and its rendering in headless Chromium.
//! - [`capacity`]: `stampede capacity` against servers of known capacity.
//! - [`io`]: the epoll path, under a seccomp filter that refuses io_uring as containers do.
//! - [`control`]: steering a run while it goes (`--control`, `stampede ctl`), against a server that
//!   counts requests per second.
//! - [`control_panel`]: the dashboard's control panel clicked in headless Chromium (DevTools
//!   protocol), its changes in the server's counts, on the live charts and in the HTML report.
//! - [`live`]: live outputs: remote write into a real Prometheus, the dashboard in headless Chromium.
//! - [`monitor`]: the service's own series (node_exporter, Prometheus, an in-process exporter).
//! - [`readme`]: the README's output samples against the real output.
//! - [`paths`]: request-targets on the wire, for every way a step writes its path, and redirects.
//! - [`hostile`]: broken and hostile servers: every failure a named error kind, the run goes on.
//! - [`sources`]: source addresses, the connection ceiling and `--dns`, in network namespaces.
//! - [`tls`]: HTTPS against an in-process rustls server: trust, SNI, ALPN, versions, client certs.

mod bench;
mod capacity;
mod control;
mod control_panel;
mod h2;
mod hostile;
mod include;
mod io;
mod journeys;
mod live;
mod monitor;
mod paths;
mod readme;
mod report_html;
mod results;
mod scenario;
mod scenarios;
mod sources;
mod suite;
mod thresholds;
mod tls;
mod util;
