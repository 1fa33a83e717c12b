//! One user: its journey (steps in order, or one weighted pick per iteration), its variables
//! (CSV row, extracted values), its connections, think time, and the recording of each step's
//! outcome — checks, extraction and errors as counted data.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::conn::{Conn, Reply};
use super::ctx::{Ctx, UserFlags};
use crate::error::{ErrorKind, Failure};
use crate::extract::extract_all;
use crate::plan::{Pick, Request, Step, Think, UserType};
use crate::template::{RenderCx, Rng, Template};

/// Pause after a failed connect, doubling from 10 ms to 1 s, so a down target is probed, not
/// hammered, and load resumes within a second of it coming back.
struct Backoff(Duration);

impl Backoff {
    const MIN: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        d
    }
}

/// What one user carries from step to step.
struct User {
    /// Run-wide user number, 0-based (`{{vu}}` shows it 1-based).
    id: u64,
    iter: u64,
    vars: Vec<Option<Vec<u8>>>,
    /// One connection slot per target.
    conns: Vec<Option<Conn>>,
    rng: Rng,
    /// Rendered request, reused.
    buf: Vec<u8>,
    /// Rendered body, reused.
    body: Vec<u8>,
    backoff: Backoff,
}

impl User {
    fn new(ctx: &Ctx, id: u64, ty: &UserType) -> User {
        let plan = &*ctx.plan;
        let mut u = User {
            id,
            iter: 0,
            vars: vec![None; plan.vars.len()],
            conns: (0..plan.targets.len()).map(|_| None).collect(),
            rng: Rng::new(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ctx.start.elapsed().as_nanos() as u64),
            buf: Vec::new(),
            body: Vec::new(),
            backoff: Backoff(Backoff::MIN),
        };
        u.load_data(ty);
        u
    }

    /// Take this user's row of the type's CSV data (row `id mod rows`) into its variables.
    fn load_data(&mut self, ty: &UserType) {
        if let Some(data) = &ty.data {
            if !data.rows.is_empty() {
                let row = &data.rows[(self.id % data.rows.len() as u64) as usize];
                for (&slot, value) in data.vars.iter().zip(row) {
                    self.vars[slot] = Some(value.clone());
                }
            }
        }
    }
}

/// The user task: iterations until the run stops or the user is asked to.
pub(crate) async fn user(ctx: Rc<Ctx>, local: usize, flags: Rc<UserFlags>) {
    let plan = &*ctx.plan;
    let id = ctx.global_id(local);
    let mut ty = plan.user_type(id);
    let mut u = User::new(&ctx, id, &plan.users[ty]);
    loop {
        if flags.stop.get() || ctx.stopping.get() {
            break;
        }
        let intended = match &ctx.arrivals {
            Some(arrivals) => match arrivals.take().await {
                Some(start) => {
                    crate::stats::record(&mut ctx.stats.borrow_mut().lag, start.lag.as_micros() as u64);
                    // In the open model the mix follows the starts, not the users: whichever user
                    // is free runs the journey of the start's type.
                    let t = plan.user_type(start.index);
                    if t != ty {
                        ty = t;
                        u.load_data(&plan.users[ty]);
                    }
                    Some(start.at)
                }
                None => break,
            },
            None => None,
        };
        iteration(&ctx, &plan.users[ty], &mut u, intended, &flags).await;
        u.iter += 1;
    }
}

/// One pass over the journey. The first request's latency runs from `intended` (open model).
async fn iteration(ctx: &Ctx, ty: &UserType, u: &mut User, mut intended: Option<Instant>, flags: &UserFlags) {
    let plan = &*ctx.plan;
    match ty.pick {
        Pick::Sequence => {
            for &s in &ty.steps {
                if flags.stop.get() || ctx.stopping.get() {
                    return;
                }
                let step = &plan.steps[s];
                if step.probability < 1.0 && u.rng.unit_f64() >= step.probability {
                    continue;
                }
                let go_on = run_step(ctx, u, s, intended.take()).await;
                think(u, step.think.unwrap_or(ty.think), flags).await;
                if !go_on {
                    return;
                }
            }
        }
        Pick::Weighted => {
            let total: u64 = ty.steps.iter().map(|&s| plan.steps[s].weight as u64).sum();
            let mut x = u.rng.below(total.max(1));
            let s = *ty
                .steps
                .iter()
                .find(|&&s| {
                    let w = plan.steps[s].weight as u64;
                    if x < w {
                        true
                    } else {
                        x -= w;
                        false
                    }
                })
                .unwrap_or(&ty.steps[0]);
            let step = &plan.steps[s];
            if step.probability >= 1.0 || u.rng.unit_f64() < step.probability {
                run_step(ctx, u, s, intended).await;
            }
            think(u, step.think.unwrap_or(ty.think), flags).await;
        }
    }
}

async fn think(u: &mut User, think: Think, flags: &UserFlags) {
    let d = match think {
        Think::None => return,
        Think::Fixed(d) => d,
        Think::Range(lo, hi) => lo + (hi - lo).mul_f64(u.rng.unit_f64()),
    };
    if d.is_zero() {
        return;
    }
    flags.thinking.set(true);
    compio::time::sleep(d).await;
    flags.thinking.set(false);
}

/// Render a templated request into `u.buf`; `Err(slot)` when a variable has no value.
fn render(u: &mut User, head: &Template, body: Option<&Template>) -> Result<(), usize> {
    let User { id, iter, vars, rng, buf, body: body_buf, .. } = u;
    let mut cx = RenderCx { vu: *id + 1, iter: *iter, vars, rng };
    buf.clear();
    head.render(buf, &mut cx)?;
    match body {
        Some(b) => {
            body_buf.clear();
            b.render(body_buf, &mut cx)?;
            crate::http::request::finish(buf, Some(body_buf));
        }
        None => crate::http::request::finish(buf, None),
    }
    Ok(())
}

/// Send one step's request and count its outcome. Returns whether the iteration goes on:
/// not after a failed request or a failed extraction (later steps would act on bad state).
async fn run_step(ctx: &Ctx, u: &mut User, s: usize, intended: Option<Instant>) -> bool {
    let plan = &*ctx.plan;
    let step: &Step = &plan.steps[s];
    let net = &ctx.nets[step.target];
    let conn = u.conns[step.target].get_or_insert_with(|| Conn::new(ctx.timeouts.slot(), plan.max_head));
    conn.set_capture(step.capture.then_some(plan.max_body));
    ctx.in_flight.set(ctx.in_flight.get() + 1);
    let (result, bytes_out) = match &step.request {
        Request::Static(_) => {
            let bytes = ctx.fixed[s].clone().expect("a prebuilt request has its bytes");
            let len = bytes.len();
            (conn.request(net, bytes, step.head, step.timeout).await.0, len)
        }
        Request::Template { head, body } => {
            if let Err(slot) = render(u, head, body.as_ref()) {
                ctx.in_flight.set(ctx.in_flight.get() - 1);
                let why =
                    format!("`{{{{{}}}}}` has no value yet (its extraction failed or has not run)", plan.vars[slot]);
                ctx.stats.borrow_mut().steps[s].failure(&Failure::new(ErrorKind::Extract, why), 0);
                return false;
            }
            let conn = u.conns[step.target].as_mut().expect("created above");
            let len = u.buf.len();
            let (r, back) = conn.request(net, std::mem::take(&mut u.buf), step.head, step.timeout).await;
            u.buf = back;
            (r, len)
        }
    };
    ctx.in_flight.set(ctx.in_flight.get() - 1);
    match result {
        Ok(reply) => {
            u.backoff = Backoff(Backoff::MIN);
            record_reply(ctx, s, &reply, intended, u)
        }
        Err(f) => {
            let sent = u.conns[step.target].as_ref().is_some_and(|c| c.sent);
            ctx.stats.borrow_mut().steps[s].failure(&f, if sent { bytes_out as u64 } else { 0 });
            if !sent {
                // Could not connect (or shake hands): probe the target, do not hammer it.
                compio::time::sleep(u.backoff.next()).await;
            }
            false
        }
    }
}

/// Count a complete response: latency, status, checks; then extract into the user's variables.
fn record_reply(ctx: &Ctx, s: usize, r: &Reply, intended: Option<Instant>, u: &mut User) -> bool {
    let step = &ctx.plan.steps[s];
    let service = r.done_at.saturating_duration_since(r.sent_at).as_micros() as u64;
    let (latency, service) = match intended {
        Some(t) => (r.done_at.saturating_duration_since(t).as_micros() as u64, Some(service)),
        None => (service, None),
    };
    let mut stats = ctx.stats.borrow_mut();
    let st = &mut stats.steps[s];
    st.response(r.status, latency, service, r.bytes_in, r.bytes_out);
    let conn = u.conns[step.target].as_ref().expect("the request used it");
    let mut view = conn.parser().view();
    view.status = r.status;
    // One error at most per request: a bad status first, then a failed check, then a failed
    // extraction. Checks are all counted either way.
    let status_checked = step.expect.as_ref().is_some_and(|e| e.has_status());
    let mut failed = !status_checked && r.status >= 400;
    if failed {
        st.status_error();
    }
    if let Some(expect) = &step.expect {
        let c = expect.check(&view);
        st.checks += (c.passed + c.failed) as u64;
        st.checks_failed += c.failed as u64;
        if let Some(why) = c.first_failure.filter(|_| !failed) {
            st.error(&Failure::new(ErrorKind::Check, why));
            failed = true;
        }
    }
    if step.extract.is_empty() {
        return true;
    }
    if let Err(why) = extract_all(&step.extract, &view, &mut u.vars) {
        if !failed {
            st.error(&Failure::new(ErrorKind::Extract, why));
        }
        return false;
    }
    true
}
