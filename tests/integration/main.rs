//! The integration tests: one test binary (so the real `stampede` binary is built and the
//! helpers compiled once), a module per command under test.
//!
//! - [`bench`]: `stampede bench` against scripted raw HTTP servers.
//! - [`scenario`]: `stampede run`, `demo` and `--dry-run` against the built-in target.
//! - [`report_html`]: the `--html` report of a real run, and its rendering in headless Chromium.

mod bench;
mod hostile;
mod report_html;
mod scenario;
mod tls;
mod util;
