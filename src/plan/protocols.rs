//! What `--http 2` and `bench --streams N` ask of the servers, checked before any load: over
//! TLS the server must pick `h2` in ALPN, over plain TCP it must answer h2 spoken with prior
//! knowledge; a server that cannot be reached now is left to the run (which counts it).

use std::time::Duration;

use super::Plan;
use crate::error::PlanError;
use crate::http::h2::probe;
use crate::http::version::Http;

/// Longest wait for a server's answer to a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

impl Plan {
    /// Refuse a run whose servers do not speak what it asks for (exit 2, nothing sent).
    pub(super) fn check_protocols(&self) -> Result<(), PlanError> {
        let bad = |m: String| Err(PlanError::Invalid(m));
        let streams = self.streams > 1;
        if streams && self.http == Http::H1 {
            return bad(format!("--streams {} needs HTTP/2, and --http 1.1 never speaks it", self.streams));
        }
        if streams && self.no_keepalive {
            return bad(format!(
                "--streams {} shares connections; --no-keepalive closes each after one request",
                self.streams
            ));
        }
        if self.http != Http::H2 && !streams {
            return Ok(());
        }
        for t in &self.targets {
            let timeout = self.connect_timeout.min(PROBE_TIMEOUT);
            let wanted = if streams { format!("--streams {}", self.streams) } else { "--http 2".to_string() };
            if !t.tls {
                if self.http != Http::H2 {
                    return bad(format!(
                        "{wanted} needs HTTP/2, which plain http:// ({}) speaks only with --http 2 (h2c, prior knowledge)",
                        t.url
                    ));
                }
                if let Ok(false) = probe::h2c(&t.addrs, timeout) {
                    return bad(format!(
                        "{}: {wanted} asks for HTTP/2 with prior knowledge (h2c), but the server does not answer it (it may speak HTTP/1.1 only)",
                        t.url
                    ));
                }
                continue;
            }
            let (Some(config), Ok(name)) = (&self.tls, crate::tls::server_name(&t.host)) else { continue };
            match probe::alpn(&t.addrs, name, config.clone(), timeout) {
                Ok(Some(p)) if p == "h2" => {}
                Ok(picked) => {
                    let picked = picked.map_or("no protocol".to_string(), |p| format!("`{p}`"));
                    return bad(format!("{}: {wanted} needs h2, but the server picked {picked} in ALPN", t.url));
                }
                // Unreachable now, or the handshake failed: the run says so per request.
                Err(_) => {}
            }
        }
        Ok(())
    }
}
