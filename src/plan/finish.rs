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
}

impl Plan {
    /// Decide TLS and workers, check the process may open every connection, and freeze the plan.
    pub fn finish(mut self, how: &Finish) -> Result<Arc<Plan>, PlanError> {
        for t in &mut self.targets {
            t.resolve()?;
        }
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
}
