//! Finishing a plan, in one place, before it is shared: its hosts looked up, its TLS client settings and worker
//! placement are decided here, what `--http 2` and `--streams` ask of the servers is checked, static requests get
//! their HTTP/2 form, then the plan is frozen behind an `Arc` and never changed again.

use std::sync::Arc;

use super::Plan;
use crate::error::PlanError;
use crate::tls::TlsOptions;

/// What the command line decides about a compiled plan.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// `--threads`: worker threads (default: every core the process may use).
    pub workers: Option<usize>,
    /// TLS settings for https targets.
    pub tls: TlsOptions,
    /// The I/O path the workers take (see `engine::io::decide`).
    pub io: super::io::IoDecision,
    /// `--source`: replaces the file's `sources`.
    pub sources: Option<Vec<std::net::IpAddr>>,
    /// `--dns`: replaces the file's `dns`.
    pub dns: Option<super::sources::Dns>,
}

impl Plan {
    /// Decide TLS and workers, check the process may open every connection, and freeze the plan.
    pub fn finish(mut self, how: &Finish) -> Result<Arc<Plan>, PlanError> {
        if let Some(sources) = &how.sources {
            self.sources = sources.clone();
        }
        if let Some(dns) = how.dns {
            self.dns = dns;
        }
        for t in &mut self.targets {
            t.resolve()?;
        }
        self.check_sources()?;
        self.set_tls(&how.tls)?;
        self.check_protocols()?;
        self.h2_heads = match self.http {
            crate::http::version::Http::H1 => Vec::new(),
            _ => self
                .steps
                .iter()
                .map(|s| match &s.request {
                    super::Request::Static { bytes, .. } => {
                        crate::http::h2::H2Head::of(bytes, self.targets[s.target].tls).ok()
                    }
                    super::Request::Template { .. } => None,
                })
                .collect(),
        };
        self.place_workers(how.workers)?;
        self.check_ceiling(crate::sys::local_port_range())?;
        self.io = how.io.clone();
        Ok(Arc::new(self))
    }

    /// Build the TLS client settings when any target is https (certificates are read now).
    fn set_tls(&mut self, options: &TlsOptions) -> Result<(), PlanError> {
        // A redirect may lead to an https host no target names: settings ready for it too.
        if !self.targets.iter().any(|t| t.tls) && !self.steps.iter().any(|s| s.redirects > 0) {
            return Ok(());
        }
        for t in self.targets.iter().filter(|t| t.tls) {
            crate::tls::server_name(&t.host)?;
        }
        let mut config = (*crate::tls::client_config(options)?).clone();
        config.alpn_protocols = self.http.alpn();
        self.tls = Some(Arc::new(config));
        Ok(())
    }

    /// Decide the worker count and cores, and make sure the process may open every connection.
    fn place_workers(&mut self, workers: Option<usize>) -> Result<(), PlanError> {
        let cores = crate::sys::usable_cores();
        let workers = workers.unwrap_or(cores.len());
        if workers == 0 || workers > 1024 {
            return Err(PlanError::Invalid(format!("--threads must be between 1 and 1024, not {workers}")));
        }
        self.workers = workers.min(self.local_users()).max(1);
        self.cores = (0..self.workers).map(|w| cores[w % cores.len()]).collect();
        let limit = crate::sys::raise_nofile_limit();
        let need = self.local_users() as u64 + crate::sys::FD_HEADROOM;
        if need > limit {
            return Err(PlanError::Invalid(format!(
                "{} connections need about {need} file descriptors but this process may open {limit}; raise the limit (ulimit -n, or LimitNOFILE=) — see tuning/",
                self.local_users()
            )));
        }
        Ok(())
    }

    /// Every source address must be one this box has, and every target reachable from one of
    /// them (a target's addresses of another family than every source are dropped).
    fn check_sources(&mut self) -> Result<(), PlanError> {
        for a in &self.sources {
            crate::sys::check_source(*a).map_err(|e| {
                PlanError::Invalid(format!("source address {a} cannot be used: {e} (is it an address of this box? `ip addr add {a}/32 dev DEV`)"))
            })?;
        }
        if self.sources.is_empty() {
            return Ok(());
        }
        let (v4, v6) = (self.sources.iter().any(|a| a.is_ipv4()), self.sources.iter().any(|a| a.is_ipv6()));
        for t in &mut self.targets {
            t.addrs.retain(|a| if a.is_ipv4() { v4 } else { v6 });
            if t.addrs.is_empty() {
                let family = if v4 { "IPv4" } else { "IPv6" };
                return Err(PlanError::Invalid(format!(
                    "{} has no {family} address, and every source address (--source) is {family}",
                    t.url
                )));
            }
        }
        Ok(())
    }

    /// Refuse a run that needs more connections to one destination than its sources × the
    /// ephemeral port range allow (`range`: `net.ipv4.ip_local_port_range`, unknown: no check).
    fn check_ceiling(&self, range: Option<(u32, u32)>) -> Result<(), PlanError> {
        let Some(range) = range else { return Ok(()) };
        let ceiling = super::sources::Ceiling { sources: self.sources.len().max(1), range };
        // Users that share connections (HTTP/2 `connections = N`) open that many per worker.
        let users = match self.scenarios.iter().filter_map(|s| s.connections).sum::<usize>() {
            0 => self.local_users(),
            shared => shared * self.workers,
        } as u64;
        for t in &self.targets {
            ceiling.check(users, &t.addrs, self.dns).map_err(PlanError::Invalid)?;
        }
        Ok(())
    }
}
