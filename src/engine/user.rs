//! One user: its journey (steps in order, or one weighted pick per iteration, each step run
//! when its condition holds), its variables (data rows, extracted values), its cookie jar and
//! connections, think time, and the recording of each step's outcome — checks, extraction and
//! errors as counted data.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::conn::Hop;
use super::conn::{Conn, Reply};
use super::ctx::{Ctx, UserFlags};
use super::follow;
use crate::cookie::Jar;
use crate::error::{ErrorKind, Failure};
use crate::plan::{Load, OnFail, Pick, Request, Step, Think, UserType};
use crate::rules::extract::{JsonBody, extract_all_with};
use crate::rules::template::{RenderCx, Rng, Template};

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
    /// The user's cookies (`None` when its type has `cookies = false`).
    jar: Option<Jar>,
    /// A `Cookie` header being written, reused.
    scratch: Vec<u8>,
    /// The last status of each stats row, for conditions (empty when no condition reads one).
    statuses: Vec<u16>,
    /// Its scenario (index into `Ctx::lanes`), and where that scenario's stats start.
    lane: usize,
    base: usize,
    /// Its number on this worker: the shared connection it tries first.
    local: usize,
}

impl User {
    fn new(ctx: &Ctx, lane: usize, (id, local): (u64, usize), t: usize) -> User {
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
            jar: None,
            scratch: Vec::new(),
            statuses: vec![0; ctx.statuses],
            lane,
            base: ctx.lanes[lane].scenario * plan.steps.len(),
            local,
        };
        let ty = &plan.users[t];
        u.jar = ty.cookies.then(Jar::new);
        u.load_data(ctx, t, ty);
        u
    }

    /// Take this user's own row of the type's data (`per-user` order: row `id mod rows`).
    fn load_data(&mut self, ctx: &Ctx, t: usize, ty: &UserType) {
        if let (Some(data), Some(feeder)) = (&ty.data, &ctx.feeders[t]) {
            if let Some(row) = feeder.for_user(self.id) {
                self.take_row(data, row);
            }
        }
    }

    /// Before an iteration: the next row of a `sequential`, `random` or `unique` feeder. False
    /// when a `unique` feeder has no row left (the user stops).
    fn feed(&mut self, ctx: &Ctx, t: usize, ty: &UserType) -> bool {
        let (Some(data), Some(feeder)) = (&ty.data, &ctx.feeders[t]) else { return true };
        if !feeder.per_iteration() {
            return true;
        }
        match feeder.next(self.rng.next_u64()) {
            Some(row) => {
                self.take_row(data, row);
                true
            }
            None => false,
        }
    }

    fn take_row(&mut self, data: &crate::plan::DataSet, row: usize) {
        if let Some(row) = data.rows.get(row) {
            for (&slot, value) in data.vars.iter().zip(row) {
                self.vars[slot] = Some(value.clone());
            }
        }
    }
}

/// Whether the user should stop before its next request: asked to, or its scenario or the run
/// is over.
fn over(ctx: &Ctx, u: &User, flags: &UserFlags) -> bool {
    flags.stop.get() || ctx.stopping.get() || ctx.lanes[u.lane].stopping.get()
}

/// The user task: iterations until the run (or its scenario) stops or the user is asked to.
pub(crate) async fn user(ctx: Rc<Ctx>, lane: usize, local: usize, flags: Rc<UserFlags>) {
    let plan = &*ctx.plan;
    let l = &ctx.lanes[lane];
    let scenario = &plan.scenarios[l.scenario];
    let n = ctx.scenario_id(local);
    let mut ty = plan.user_type_in(&scenario.users, n);
    let mut u = User::new(&ctx, lane, (l.numbering.number(n), local), ty);
    let mut done = 0u64;
    loop {
        if over(&ctx, &u, &flags) {
            break;
        }
        match &scenario.load {
            Load::Iterations { iterations, shared: false, .. } if done >= *iterations => {
                flags.retired.set(true);
                break;
            }
            Load::Iterations { shared: true, .. } if !l.take_iteration() => {
                flags.retired.set(true);
                break;
            }
            _ => {}
        }
        let intended = match &l.arrivals {
            Some(arrivals) => match arrivals.take().await {
                Some(start) => {
                    crate::stats::record(&mut ctx.stats.borrow_mut().lag, start.lag.as_micros() as u64);
                    // In the open model the mix follows the starts, not the users: whichever user
                    // is free runs the journey of the start's type.
                    let t = plan.user_type_in(&scenario.users, start.index);
                    if t != ty {
                        ty = t;
                        u.load_data(&ctx, ty, &plan.users[ty]);
                    }
                    Some(start.at)
                }
                None => break,
            },
            None => None,
        };
        if intended.is_none() && l.paused.get() {
            Box::pin(unpaused(&ctx, lane)).await;
        }
        if !u.feed(&ctx, ty, &plan.users[ty]) {
            ctx.stats.borrow_mut().exhausted(l.scenario);
            flags.retired.set(true);
            break;
        }
        let began = Instant::now();
        iteration(&ctx, &plan.users[ty], &mut u, intended, &flags).await;
        u.iter += 1;
        done += 1;
        let mut stats = ctx.stats.borrow_mut();
        stats.iteration(l.scenario);
        if let Some((all, per_type)) = &plan.iteration_metrics {
            let ms = began.elapsed().as_secs_f64() * 1000.0;
            stats.metrics[*all].record(ms);
            if let Some(i) = per_type[ty] {
                stats.metrics[i].record(ms);
            }
        }
    }
}

/// Wait while the run is paused by hand (`--control`), or until it stops. An open-model start
/// taken before the pause still goes (it was due); later steps wait.
async fn unpaused(ctx: &Ctx, lane: usize) {
    while ctx.lanes[lane].paused.get() && !ctx.stopping.get() && !ctx.lanes[lane].stopping.get() {
        compio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One pass over the journey. The first request's latency runs from `intended` (open model).
async fn iteration(ctx: &Ctx, ty: &UserType, u: &mut User, mut intended: Option<Instant>, flags: &UserFlags) {
    let plan = &*ctx.plan;
    match ty.pick {
        Pick::Sequence => {
            for &s in &ty.steps {
                if over(ctx, u, flags) {
                    return;
                }
                let step = &plan.steps[s];
                if step.probability < 1.0 && u.rng.unit_f64() >= step.probability {
                    continue;
                }
                if intended.is_none() && ctx.lanes[u.lane].paused.get() {
                    // Boxed too: a paused wait costs a user's task nothing when not paused.
                    Box::pin(unpaused(ctx, u.lane)).await;
                }
                // Boxed: the exchange's state lives on the heap only while it runs, so a thinking
                // user's task is small (memory per idle user).
                let outcome = Box::pin(run_step(ctx, u, s, intended)).await;
                // Only this one bool lives across the think time (the user's task stays its size).
                let end = step.on_fail == OnFail::EndIteration && outcome != Outcome::Next;
                match outcome {
                    Outcome::NotRun => continue,
                    Outcome::Missing if !end => continue,
                    _ => {}
                }
                intended = None;
                think(u, step.think.unwrap_or(ty.think), flags).await;
                if end {
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
            if (step.probability >= 1.0 || u.rng.unit_f64() < step.probability)
                && matches!(Box::pin(run_step(ctx, u, s, intended)).await, Outcome::NotRun | Outcome::Missing)
            {
                return;
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
    // An idle user holds no buffers: they are made again at its next request.
    u.buf = Vec::new();
    u.body = Vec::new();
    u.scratch = Vec::new();
    for c in u.conns.iter_mut().flatten() {
        c.shed();
    }
    flags.thinking.set(true);
    compio::time::sleep(d).await;
    flags.thinking.set(false);
}

/// How a step went, for the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Sent and answered well: the journey goes on.
    Next,
    /// Failed (no answer, a bad status, a failed check or extraction, a broken redirect): counted,
    /// what it should have extracted is unset; the journey goes on unless the step says
    /// `on_fail = "end-iteration"`.
    Failed,
    /// Not sent: its condition did not hold (counted as skipped; the journey goes on, without
    /// the step's think time).
    NotRun,
    /// Not sent: a variable it needs has no value (counted as skipped; the journey goes on, as
    /// after [`Outcome::NotRun`], unless the step says `on_fail = "end-iteration"`).
    Missing,
}

/// Render a templated request into `u.buf`, with the user's cookies for `hop`; `Err(slot)` when
/// a variable has no value.
fn render(u: &mut User, head: &Template, body: Option<&Template>, hop: &Hop) -> Result<(), usize> {
    let User { id, iter, vars, rng, buf, body: body_buf, jar, scratch, .. } = u;
    let mut cx = RenderCx { vu: *id + 1, iter: *iter, vars, rng };
    buf.clear();
    head.render(buf, &mut cx)?;
    if let Some(jar) = jar {
        follow::insert_cookies(jar, hop, buf, scratch);
    }
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

/// A prebuilt request with the user's cookies for `hop` written into `u.buf`; false when the jar
/// has none for it (the prebuilt bytes go as they are).
fn with_cookies(u: &mut User, bytes: &[u8], head_len: usize, hop: &Hop) -> bool {
    let Some(jar) = u.jar.as_mut().filter(|j| !j.is_empty()) else { return false };
    u.buf.clear();
    u.buf.extend_from_slice(&bytes[..head_len]);
    let before = u.buf.len();
    follow::write_cookies(jar, hop, follow::request_target(bytes), &mut u.buf);
    if u.buf.len() == before {
        return false;
    }
    u.buf.extend_from_slice(&bytes[head_len..]);
    true
}

/// The connection slot `slot` of a user (its `conns`, its scenario's lane and its local number),
/// opened on first use (on its scenario's shared connections when it has them).
fn conn<'u>(
    ctx: &Ctx,
    (conns, lane, local, id): (&'u mut Vec<Option<Conn>>, usize, usize, u64),
    slot: usize,
) -> &'u mut Conn {
    if conns.len() <= slot {
        conns.resize_with(slot + 1, || None);
    }
    conns[slot].get_or_insert_with(|| {
        let c = Conn::new(ctx.timeouts.slot(), ctx.plan.max_head, id);
        match ctx.pool(lane, slot) {
            Some(pool) => c.pooled(pool, local),
            None => c,
        }
    })
}

/// Send one step's request (following its redirects) and count its outcome.
async fn run_step(ctx: &Ctx, u: &mut User, s: usize, intended: Option<Instant>) -> Outcome {
    let step: &Step = &ctx.plan.steps[s];
    if let Some(c) = &step.condition {
        if !c.eval(&u.vars, &u.statuses) {
            ctx.stats.borrow_mut().steps[u.base + s].skipped += 1;
            return Outcome::NotRun;
        }
    }
    let hop = ctx.hops[step.target].clone();
    if let Some(jar) = &mut u.jar {
        for name in &step.clear_cookies {
            jar.remove(name);
        }
        for (name, value) in &step.set_cookies {
            // Checked when the plan was compiled.
            let _ = jar.set(name, value, &hop.host, "/");
        }
    }
    let Ok(mut prebuilt) = first_request(ctx, u, s, &hop) else {
        // Not sent, so not a request: counted apart.
        ctx.stats.borrow_mut().steps[u.base + s].skipped += 1;
        return Outcome::Missing;
    };
    // The exchange: the request (`prebuilt`, or `u.buf`) sent to `hop` and its answer read; with
    // a jar, its cookies stored; its redirects followed, each hop on the user's connection to
    // that host. One loop in this one future (a nested async fn would make every user's task
    // larger).
    let mut x = Exchange::new(hop, step.head, u.jar.is_some() || step.redirects > 0);
    ctx.in_flight.set(ctx.in_flight.get() + 1);
    let h2 = prebuilt.as_ref().and_then(|_| ctx.plan.h2_heads.get(s)?.as_ref());
    let result = loop {
        let net = follow::net(ctx, x.hop.slot);
        let c = conn(ctx, (&mut u.conns, u.lane, u.local, u.id), x.hop.slot);
        c.set_capture(step.capture.then_some(ctx.plan.max_body));
        c.set_watch(x.watch);
        let mut sent_prebuilt = None;
        let (result, len) = match prebuilt.take() {
            Some(bytes) => {
                let len = bytes.len();
                let (r, back) = c.request(&net, bytes, h2, x.method_head, step.timeout).await;
                sent_prebuilt = Some(back);
                (r, len)
            }
            None => {
                let len = u.buf.len();
                let (r, back) = c.request(&net, std::mem::take(&mut u.buf), None, x.method_head, step.timeout).await;
                u.buf = back;
                (r, len)
            }
        };
        drop(net);
        match result {
            Ok(reply) => {
                if let Some(reply) = x.answered(ctx, u, step, reply, sent_prebuilt.as_deref()) {
                    break Ok(reply);
                }
            }
            Err(f) => {
                let c = u.conns[x.hop.slot].as_ref();
                break Err((f, c.is_some_and(|c| c.sent), len, c.and_then(|c| c.proto)));
            }
        }
    };
    ctx.in_flight.set(ctx.in_flight.get() - 1);
    ctx.stats.borrow_mut().steps[u.base + s].redirects += x.hops as u64;
    match result {
        Ok(reply) => {
            u.backoff = Backoff(Backoff::MIN);
            let reply = Reply { sent_at: x.first_sent.unwrap_or(reply.sent_at), ..reply };
            record_reply(ctx, s, &reply, intended, u, x.hop.slot, [x.redirect_error, x.cookie_error])
        }
        Err((f, sent, len, proto)) => {
            if let Some(slot) = u.statuses.get_mut(step.row) {
                *slot = 0;
            }
            unset_extracted(&mut u.vars, step);
            {
                // Bytes of the hops answered before, and of this request if it went out.
                let mut stats = ctx.stats.borrow_mut();
                let st = &mut stats.steps[u.base + s];
                st.failure(&f, x.bytes_out + if sent { len as u64 } else { 0 });
                if let Some(p) = proto {
                    st.protocols[p as usize] += 1;
                }
            }
            if !sent {
                // Could not connect (or shake hands): probe the target, do not hammer it.
                compio::time::sleep(u.backoff.next()).await;
            }
            Outcome::Failed
        }
    }
}

/// The step's first request: the worker's prebuilt bytes (`Some`), or composed in `u.buf`
/// (`None`: with the jar's cookies, or rendered from templates). `Err`: a variable it needs has
/// no value, so it cannot be sent.
fn first_request(ctx: &Ctx, u: &mut User, s: usize, hop: &Hop) -> Result<Option<Rc<[u8]>>, ()> {
    match &ctx.plan.steps[s].request {
        Request::Static { bytes, head_len } => {
            Ok(if with_cookies(u, bytes, *head_len, hop) { None } else { ctx.fixed[s].clone() })
        }
        Request::Template { head, body } => render(u, head, body.as_ref(), hop).map(|_| None).map_err(|_| ()),
    }
}

/// Where a step's exchange stands, over every hop of its redirects.
struct Exchange {
    /// The hop being asked (the last one, once over).
    hop: Hop,
    /// The request being sent is a HEAD (its answer has no body).
    method_head: bool,
    /// Answers are read for cookies and redirects (their heads are kept).
    watch: bool,
    /// Redirects followed.
    hops: u32,
    bytes_in: u64,
    bytes_out: u64,
    /// When the first hop's request went out.
    first_sent: Option<Instant>,
    cookie_error: Option<String>,
    redirect_error: Option<String>,
}

impl Exchange {
    fn new(hop: Hop, method_head: bool, watch: bool) -> Exchange {
        Exchange {
            hop,
            method_head,
            watch,
            hops: 0,
            bytes_in: 0,
            bytes_out: 0,
            first_sent: None,
            cookie_error: None,
            redirect_error: None,
        }
    }

    /// A hop answered (`sent_prebuilt`: its request, when it was the worker's prebuilt bytes, else
    /// it is in `u.buf`): its bytes counted, its cookies stored; `Some`: the exchange is over with
    /// this answer (every hop's bytes in it); `None`: a redirect to follow, its request composed in
    /// `u.buf`.
    fn answered(
        &mut self,
        ctx: &Ctx,
        u: &mut User,
        step: &Step,
        reply: Reply,
        sent_prebuilt: Option<&[u8]>,
    ) -> Option<Reply> {
        self.first_sent.get_or_insert(reply.sent_at);
        self.bytes_in += reply.bytes_in;
        self.bytes_out += reply.bytes_out;
        let reply = Reply { bytes_in: self.bytes_in, bytes_out: self.bytes_out, ..reply };
        if !self.watch {
            return Some(reply);
        }
        // The request just answered: its path for the cookies it set, and the base of a redirect.
        let sent_bytes: &[u8] = sent_prebuilt.unwrap_or(&u.buf);
        let view = u.conns[self.hop.slot].as_ref().expect("the request used it").view();
        if let Some(jar) = &mut u.jar {
            if let Some(why) = follow::store_cookies(jar, &view, &self.hop, sent_bytes) {
                self.cookie_error.get_or_insert(why);
            }
        }
        if step.redirects == 0 || !crate::http::redirect::is_redirect(reply.status) {
            return Some(reply);
        }
        if self.hops >= step.redirects {
            let to = String::from_utf8_lossy(view.header("location").unwrap_or_default()).into_owned();
            self.redirect_error = Some(format!("more than {} redirects (the last to {to})", step.redirects));
            return Some(reply);
        }
        let url = follow::location(&view, &self.hop, sent_bytes);
        let (next, url) = match url.and_then(|url| Ok((follow::hop_to(ctx, &url)?, url))) {
            Ok(next) => next,
            Err(why) => {
                self.redirect_error = Some(why);
                return Some(reply);
            }
        };
        let (method, keep_body) = crate::http::redirect::next_method(reply.status, follow::method_of(sent_bytes));
        let method = method.to_string();
        let mut out = Vec::with_capacity(sent_bytes.len() + 64);
        follow::redirected(sent_bytes, (&method, keep_body), &self.hop, &next, &url, u.jar.as_mut(), &mut out);
        u.buf = out;
        self.method_head = method == "HEAD";
        self.hop = next;
        self.hops += 1;
        None
    }
}

/// Count a complete response: latency, status, checks; then extract into the user's variables.
fn record_reply(
    ctx: &Ctx,
    s: usize,
    r: &Reply,
    intended: Option<Instant>,
    u: &mut User,
    slot: usize,
    [redirect_error, cookie_error]: [Option<String>; 2],
) -> Outcome {
    let step = &ctx.plan.steps[s];
    let service = r.done_at.saturating_duration_since(r.sent_at).as_micros() as u64;
    let (latency, service) = match intended {
        Some(t) => (r.done_at.saturating_duration_since(t).as_micros() as u64, Some(service)),
        None => (service, None),
    };
    if let Some(st) = u.statuses.get_mut(step.row) {
        *st = r.status;
    }
    let mut stats = ctx.stats.borrow_mut();
    let crate::stats::Stats { steps, metrics, .. } = &mut *stats;
    let st = &mut steps[u.base + s];
    st.response(r.status, latency, service, r.bytes_in, r.bytes_out);
    st.protocols[r.proto as usize] += 1;
    let conn = u.conns[slot].as_ref().expect("the request used it");
    let mut view = conn.view();
    view.status = r.status;
    // One error at most per request: a bad status first, then a redirect that could not be
    // followed, a refused cookie, a failed check, a failed extraction. Checks are all counted
    // either way.
    let status_checked = step.expect.as_ref().is_some_and(|e| e.has_status());
    let mut failed = !status_checked && r.status >= 400;
    if failed {
        st.status_error();
    }
    let chain_broken = redirect_error.is_some();
    if let Some(why) = redirect_error.filter(|_| !failed) {
        st.error(&Failure::new(ErrorKind::Redirect, why));
        failed = true;
    }
    if let Some(why) = cookie_error.filter(|_| !failed) {
        st.error(&Failure::new(ErrorKind::Cookie, why));
        failed = true;
    }
    let mut json = JsonBody::new(&view);
    if let Some(expect) = &step.expect {
        let c = expect.check_with(&view, &mut json);
        st.checks += (c.passed + c.failed) as u64;
        st.checks_failed += c.failed as u64;
        if let Some(why) = c.first_failure.filter(|_| !failed) {
            st.error(&Failure::new(ErrorKind::Check, why));
            failed = true;
        }
    }
    for &m in &step.metrics {
        let metric = &ctx.plan.metrics[m];
        metrics[m].observe(metric, step.row, &view, &mut json);
    }
    if chain_broken {
        // The journey did not get where this step leads: nothing to extract from.
        unset_extracted(&mut u.vars, step);
        return Outcome::Failed;
    }
    if !step.extract.is_empty() {
        // What fails to extract is unset (`None`) for the steps after.
        if let Err(why) = extract_all_with(&step.extract, &view, &mut json, &mut u.vars) {
            if !failed {
                st.error(&Failure::new(ErrorKind::Extract, why));
            }
            failed = true;
        }
    }
    if failed { Outcome::Failed } else { Outcome::Next }
}

/// A step that got no usable answer extracted nothing: its variables have no value for the steps
/// after (a value from an earlier iteration would be stale).
fn unset_extracted(vars: &mut [Option<Vec<u8>>], step: &Step) {
    for (slot, _) in &step.extract {
        if let Some(v) = vars.get_mut(*slot) {
            *v = None;
        }
    }
}
