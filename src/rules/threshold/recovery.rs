//! Recovery time (`recovery(p(95) < 200ms) < 5s`): from a moment of the run (`after`: a
//! scenario's end or a run time) until each second's value holds the inner bound for `hold`
//! seconds in a row. The time counts to the first second of that streak.

use super::seconds::{IsRate, value};
use super::verdict::outcome;
use super::{Extra, Form, NoData, Scope, Source, Span, Threshold, Verdict};
use crate::stats::TimelineRow;

/// When to start watching and for how long it must hold, in seconds of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Watch {
    pub after_s: f64,
    pub hold_s: f64,
}

/// What watching the seconds after `after` found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recovered {
    /// It held from this many seconds after `after` on, for `hold` seconds.
    After(f64),
    /// It never held for `hold` seconds; the run was watched this long after `after`.
    Never { watched_s: f64 },
}

impl Recovered {
    /// The recovery time, if it recovered.
    pub fn time(self) -> Option<f64> {
        match self {
            Recovered::After(s) => Some(s),
            Recovered::Never { .. } => None,
        }
    }
}

/// Watch the seconds of `rows` (in order) that start at or after `w.after_s`, each judged by
/// `holds`: the first streak of `w.hold_s` seconds that hold gives the recovery time; a second
/// that does not (or has no data) breaks the streak.
pub fn watch(rows: &[TimelineRow], w: Watch, holds: impl Fn(&TimelineRow) -> bool) -> Recovered {
    const EDGE: f64 = 1e-3;
    let (mut streak_from, mut streak) = (None, 0.0);
    let mut end = w.after_s;
    for row in rows {
        let start = (row.t - row.interval_s).max(0.0);
        if start + EDGE < w.after_s {
            continue;
        }
        end = end.max(row.t);
        if !holds(row) {
            (streak_from, streak) = (None, 0.0);
            continue;
        }
        let from = *streak_from.get_or_insert(start);
        streak += row.interval_s;
        if streak + EDGE >= w.hold_s {
            return Recovered::After(crate::units::round3((from - w.after_s).max(0.0)));
        }
    }
    Recovered::Never { watched_s: crate::units::round3(end - w.after_s) }
}

impl Threshold {
    /// A recovery on the seconds of `src`: watched from `scope.watch`'s `after`, on `scope.on`.
    /// The verdict's value is the recovery time in seconds; one that never came is no data, with
    /// `watched_s` (how long it was watched) among its extras, beside `after_s` and `hold_s`.
    pub(super) fn judge_recovery(&self, src: &dyn Source, scope: &Scope) -> Verdict {
        let Form::Recovery { op, within } = self.form else { unreachable!("judge_recovery on a recovery") };
        let w = scope.watch.unwrap_or(Watch { after_s: 0.0, hold_s: 5.0 });
        let rate = IsRate(self.metric_name().is_some_and(|n| src.is_rate(n)));
        let Some(rows) = src.timeline() else {
            // The run goes on: judged at the end, on its seconds.
            let (measured, window) = (Err(NoData::LATER), Some(Span { from: w.after_s, to: w.after_s }));
            let bound = within.as_secs_f64();
            return Verdict { measured, bound, outcome: outcome(false, scope), window, extra: Vec::new() };
        };
        let found = watch(rows, w, |row| value(&self.metric, row, scope.on, rate).is_ok_and(|v| self.holds(v)));
        let mut extra =
            vec![Extra { name: "after_s", value: Ok(w.after_s) }, Extra { name: "hold_s", value: Ok(w.hold_s) }];
        let measured = match found {
            Recovered::After(s) => Ok(s),
            Recovered::Never { watched_s } => {
                extra.push(Extra { name: "watched_s", value: Ok(watched_s) });
                Err(NoData::NEVER_RECOVERED)
            }
        };
        let holds = measured.is_ok_and(|s| op.holds(s, within.as_secs_f64()));
        let window = Some(Span { from: w.after_s, to: w.after_s + found.time().unwrap_or(0.0) });
        Verdict { measured, bound: within.as_secs_f64(), outcome: outcome(holds, scope), window, extra }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::metric::Kind;
    use crate::rules::threshold::{Measure, Op, Stat, parse, parse_checked};
    use std::time::Duration;

    #[test]
    fn recoveries_parse_with_what_each_second_must_hold() {
        let t = parse("recovery(p(95) < 200ms) < 5s").unwrap();
        assert_eq!((t.metric.clone(), t.op, t.bound), (Measure::Percentile(95.0), Op::Lt, 200.0));
        assert_eq!(t.form, Form::Recovery { op: Op::Lt, within: Duration::from_secs(5) });
        assert_eq!((t.unit(), t.measure_unit()), ("s", "ms"));
        let t = parse("  RECOVERY ( errors < 1% ) <= 1m30s").unwrap();
        assert_eq!((t.metric.clone(), t.bound), (Measure::Errors, 1.0));
        assert_eq!(t.form, Form::Recovery { op: Op::Le, within: Duration::from_secs(90) });
        let mine = &[("server_ms", Kind::Trend), ("hits", Kind::Rate), ("made", Kind::Counter)];
        for ok in ["recovery(p(95)(server_ms) < 50) < 5s", "recovery(hits > 95%) < 5s", "recovery(made > 1) < 5s"] {
            assert!(parse_checked(ok, mine, &[]).is_ok(), "{ok}");
        }
        let t = parse_checked("recovery(max(cpu) < 0.8) < 10s", &[], &["cpu"]).unwrap();
        assert_eq!(t.metric, Measure::Custom { name: "cpu".into(), stat: Stat::Max });
        assert!(parse("recovery < 5").is_ok(), "a metric of your own named `recovery`, not the function");
    }

    #[test]
    fn recovery_errors_say_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("recovery(p(90) < 200ms) < 5s", 9, "`p(90)`: recovery watches each second of the timeline"),
            ("recovery(avg < 200ms) < 5s", 9, "keeps p(50), p(95), p(99), max, errors"),
            ("recovery(checks > 99%) < 5s", 9, "recovery watches each second"),
            ("recovery(p(95) < 200ms) > 5s", 24, "a recovery time is a limit"),
            ("recovery(p(95) < 200ms) < 0s", 26, "can never hold"),
            ("recovery(p(95) < 200ms) < ", 26, "expected a time after the operator"),
            ("recovery(p(95) < 200ms) < 5x", 26, "recovery time `5x`: unknown unit `x`"),
            ("recovery(p(95) < 200ms < 5s", 23, "expected `)` to close `recovery(p(95) < …`"),
            ("recovery(p(95) during 0s..1s < 200ms) < 5s", 9, "a window does not apply inside recovery"),
            ("recovery(p(95) < 2%) < 5s", 18, "unknown unit `%`"),
            ("recovery() < 5s", 9, "expected a metric"),
        ];
        for &(s, offset, msg) in cases {
            let got = parse(s).expect_err(s);
            assert!(got.message.contains(msg), "{s:?}: message {:?} lacks {msg:?}", got.message);
            assert_eq!(got.offset, offset, "{s:?}: {}", got.message);
        }
        let mine = &[("server_ms", Kind::Trend)];
        let got = parse_checked("recovery(avg(server_ms) < 5) < 5s", mine, &[]).unwrap_err();
        assert_eq!((got.offset, got.message.contains("each second's p95 of a trend")), (9, true), "{got}");
        let got = parse_checked("recovery(growth(cpu) < 5%) < 5s", &[], &["cpu"]).unwrap_err();
        assert!(got.message.contains("write max(cpu) or last(cpu)"), "{got}");
    }

    /// Seconds 1..=n, each with `p95_ms[i]` and 10 requests.
    fn rows(p95_ms: &[u64]) -> Vec<TimelineRow> {
        let mut base: TimelineRow = serde_json::from_value(serde_json::json!({
            "t": 0.0, "interval_s": 1.0, "requests": 10, "rps": 10.0, "errors": 0, "bytes_in": 0,
            "p50_us": 0, "p95_us": 0, "p99_us": 0, "max_us": 0, "active_users": 1, "in_flight": 0
        }))
        .unwrap();
        p95_ms
            .iter()
            .enumerate()
            .map(|(i, &ms)| {
                base.t = i as f64 + 1.0;
                (base.p50_us, base.p95_us, base.p99_us, base.max_us) = (ms * 500, ms * 1000, ms * 1000, ms * 1000);
                base.clone()
            })
            .collect()
    }

    /// A run known only by its seconds.
    struct Seconds(Vec<TimelineRow>);

    impl Source for Seconds {
        fn measure(&self, ask: &crate::rules::threshold::Ask) -> crate::rules::threshold::Reading {
            crate::rules::threshold::Reading { value: Err(NoData::NOT_HERE), window: ask.window }
        }
        fn timeline(&self) -> Option<&[TimelineRow]> {
            Some(&self.0)
        }
    }

    fn judged(expr: &str, rows: &[TimelineRow], after_s: f64, hold_s: f64) -> Verdict {
        let scope = Scope { watch: Some(Watch { after_s, hold_s }), ..Scope::RUN };
        parse(expr).unwrap().judge(&Seconds(rows.to_vec()), &scope)
    }

    #[test]
    fn recovery_counts_to_the_first_second_of_a_streak_that_holds() {
        // A spike in seconds 2..5, back under 200 ms from second 6 (starting at 6 s) on.
        let timeline = rows(&[50, 50, 900, 900, 900, 300, 150, 150, 150, 150, 150, 150]);
        let v = judged("recovery(p(95) < 200ms) < 5s", &timeline, 3.0, 3.0);
        assert_eq!((v.measured, v.held(), v.bound), (Ok(3.0), true, 5.0));
        let v = judged("recovery(p(95) < 200ms) < 2s", &timeline, 3.0, 3.0);
        assert_eq!((v.measured, v.held()), (Ok(3.0), false));
        let warn = Scope { warn: true, watch: Some(Watch { after_s: 3.0, hold_s: 3.0 }), ..Scope::RUN };
        let v = parse("recovery(p(95) < 200ms) < 2s").unwrap().judge(&Seconds(timeline.clone()), &warn);
        assert_eq!(v.outcome, crate::rules::threshold::Outcome::Warn);
        // A second that breaks the streak starts it again.
        let broken = rows(&[900, 150, 150, 900, 150, 150, 150]);
        let w = Watch { after_s: 0.0, hold_s: 3.0 };
        assert_eq!(watch(&broken, w, |r| r.p95_us < 200_000), Recovered::After(4.0));
        let errors = rows(&[10, 10, 10]);
        assert_eq!(judged("recovery(errors < 1%) < 5s", &errors, 0.0, 3.0).measured, Ok(0.0));
    }

    #[test]
    fn a_recovery_that_never_happens_says_how_long_it_was_watched() {
        let timeline = rows(&[50, 900, 900, 150, 150, 900, 900, 900]);
        let v = judged("recovery(p(95) < 200ms) < 5s", &timeline, 2.0, 5.0);
        assert_eq!((v.measured, v.held()), (Err(NoData::NEVER_RECOVERED), false));
        let watched = v.extra.iter().find(|x| x.name == "watched_s").map(|x| x.value);
        assert_eq!(watched, Some(Ok(6.0)));
        let mut silent = rows(&[50, 50, 50]);
        silent.iter_mut().for_each(|r| r.requests = 0);
        let w = Watch { after_s: 0.0, hold_s: 1.0 };
        assert_eq!(watch(&silent, w, |_| false), Recovered::Never { watched_s: 3.0 });
        let v = judged("recovery(p(95) < 200ms) < 5s", &silent, 0.0, 1.0);
        assert_eq!(v.measured, Err(NoData::NEVER_RECOVERED), "seconds without responses do not hold");
        // While the run goes on (no timeline yet) it is judged at the end, as a window is.
        let running = crate::rules::threshold::Fixed(crate::rules::threshold::Data::Nothing(NoData::NOT_HERE));
        let v = parse("recovery(p(95) < 200ms) < 5s").unwrap().judge(&running, &Scope::RUN);
        assert_eq!(v.measured, Err(NoData::LATER));
    }
}
