//! What identifies a run in its result (`run`: a fingerprint of the plan, the shard index and
//! count, the planned start), and the check that documents given to `merge` are the shards of
//! one run, each once.

use serde::{Deserialize, Serialize};

use super::RunResult;
use crate::plan::Plan;

/// `run` in a result document: which run this is, and which part of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// A fingerprint of the plan (16 hex digits): its command, name, targets, steps' requests and
    /// load shapes, before the run is split in shards. Every shard of a run has the same one.
    pub fingerprint: String,
    /// This document's shard, 1-based (1 of 1 when the run was not split).
    pub shard: u64,
    pub shards: u64,
    /// The planned start (`--start-at`), Unix ms; absent when the run started when launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_start_unix_ms: Option<u64>,
}

impl RunIdentity {
    /// The identity of a run of `plan` (its planned start is set by the caller, who knows it).
    pub fn of(plan: &Plan) -> RunIdentity {
        RunIdentity {
            fingerprint: fingerprint(plan),
            shard: plan.shard.index as u64 + 1,
            shards: plan.shard.count as u64,
            planned_start_unix_ms: None,
        }
    }
}

/// FNV-1a (64 bits) of what defines the load of `plan`, written out: stable across processes and
/// boxes (no random hash keys, no addresses, nothing per box such as workers or data rows).
fn fingerprint(plan: &Plan) -> String {
    use std::fmt::Write;
    let mut text = format!("{}\n{}\n{:?}\n{}\n", plan.command, plan.name, plan.http, plan.streams);
    for t in &plan.targets {
        let _ = writeln!(text, "target {}", t.url);
    }
    for s in &plan.steps {
        let _ = writeln!(text, "step {} {:?} {:?} {:?}", s.name, s.request, s.timeout, s.on_fail);
    }
    for u in &plan.users {
        let _ = writeln!(text, "users {} {} {:?} {:?}", u.name, u.weight, u.steps, u.pick);
    }
    for s in &plan.scenarios {
        let _ = writeln!(text, "scenario {} {} {:?} {:?} {:?}", s.name, s.executor, s.load, s.start, s.users);
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// Why `docs` (each with the name it is known by, its file) are not the shards of one run, each
/// once: one sentence per problem, naming the documents; empty when they are.
pub fn not_one_run(docs: &[(&str, &RunResult)]) -> Vec<String> {
    let mut why = Vec::new();
    let Some(&(first_name, first)) = docs.first() else { return why };
    let Some(first_id) = &first.run else {
        why.push(format!("{first_name} carries no run identity (`run`: written by an older stampede)"));
        return why;
    };
    for (i, &(name, r)) in docs.iter().enumerate().skip(1) {
        let Some(id) = &r.run else {
            why.push(format!("{name} carries no run identity (`run`: written by an older stampede)"));
            continue;
        };
        if id.fingerprint != first_id.fingerprint {
            why.push(format!(
                "{name} ran another plan than {first_name} (fingerprint {} against {}: another file, target or load)",
                id.fingerprint, first_id.fingerprint
            ));
        }
        if id.shards != first_id.shards {
            why.push(format!(
                "{first_name} is a shard of a run split in {}, {name} of one split in {}",
                first_id.shards, id.shards
            ));
        }
        if let Some(&(other, _)) = docs[..i].iter().find(|(_, o)| {
            o.run
                .as_ref()
                .is_some_and(|o| o.fingerprint == id.fingerprint && o.shard == id.shard && o.shards == id.shards)
        }) {
            why.push(format!(
                "{other} and {name} are both shard {}/{}: each shard of a run appears once",
                id.shard, id.shards
            ));
        }
        if id.planned_start_unix_ms != first_id.planned_start_unix_ms {
            let at = |ms: Option<u64>| {
                ms.map_or("when launched (no --start-at)".to_string(), |ms| format!("at {ms} ms (--start-at)"))
            };
            why.push(format!(
                "{first_name} was planned to start {}, {name} {}",
                at(first_id.planned_start_unix_ms),
                at(id.planned_start_unix_ms)
            ));
        }
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{STARTED_AT_UNIX_MS, sample};

    fn doc(fingerprint: &str, shard: u64, shards: u64, started_ms: u64) -> RunResult {
        let mut r = sample(&[("s", &[1000])], 2);
        r.started_at_unix_ms = started_ms;
        r.run = Some(RunIdentity { fingerprint: fingerprint.into(), shard, shards, planned_start_unix_ms: None });
        r
    }

    fn problems(docs: &[RunResult]) -> Vec<String> {
        let names = ["a.json", "b.json", "c.json"];
        let named: Vec<(&str, &RunResult)> = names.iter().copied().zip(docs).collect();
        not_one_run(&named)
    }

    #[test]
    fn shards_of_one_run_pass() {
        let t = STARTED_AT_UNIX_MS;
        assert!(problems(&[doc("f1", 1, 3, t), doc("f1", 2, 3, t + 400), doc("f1", 3, 3, t - 300)]).is_empty());
    }

    #[test]
    fn what_is_not_one_run_is_named() {
        let t = STARTED_AT_UNIX_MS;
        let one = |docs: &[RunResult], want: &str| {
            let p = problems(docs);
            assert!(p.len() == 1 && p[0].contains(want), "{p:?} lacks {want:?}");
        };
        one(&[doc("f1", 1, 1, t), doc("f2", 1, 1, t)], "b.json ran another plan than a.json");
        one(&[doc("f1", 1, 2, t), doc("f1", 1, 2, t + 5)], "a.json and b.json are both shard 1/2");
        one(&[doc("f1", 1, 1, t), doc("f1", 1, 1, t)], "both shard 1/1");
        one(&[doc("f1", 1, 2, t), doc("f1", 2, 3, t)], "split in 2, b.json of one split in 3");
        let mut planned = doc("f1", 2, 2, t);
        planned.run.as_mut().unwrap().planned_start_unix_ms = Some(t);
        one(&[doc("f1", 1, 2, t), planned], "b.json at");
        let mut old = doc("f1", 2, 2, t);
        old.run = None;
        one(&[doc("f1", 1, 2, t), old], "b.json carries no run identity");
    }

    #[test]
    fn the_fingerprint_is_of_the_load_not_of_the_box() {
        use crate::plan::{Load, Plan, Step, Target};
        let target = Target::parse("http://127.0.0.1:8080/").unwrap();
        let step = || {
            Step::fixed("GET /".into(), b"GET / HTTP/1.1\r\n\r\n".to_vec(), false, std::time::Duration::from_secs(1))
        };
        let load =
            |users: f64| Load::Closed { users: crate::plan::Curve::constant(users, std::time::Duration::from_secs(5)) };
        let mut a = Plan::single("bench", target.clone(), step(), load(10.0));
        let b = Plan::single("bench", target.clone(), step(), load(10.0));
        a.workers = 7;
        a.shard = crate::plan::Shard { index: 1, count: 2 };
        assert_eq!(fingerprint(&a), fingerprint(&b), "workers and shard are not the plan");
        assert_eq!(fingerprint(&a).len(), 16);
        assert_ne!(fingerprint(&a), fingerprint(&Plan::single("bench", target, step(), load(11.0))));
        let id = RunIdentity::of(&a);
        assert_eq!((id.shard, id.shards), (2, 2));
    }
}
