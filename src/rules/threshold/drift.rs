//! Drift: one window of the run against another (`p(95) during 25m..30m < 1.5 * p(95) during
//! 0m..5m`). Each side is measured as any threshold is (the right side as [`Threshold::base`]);
//! here the two values are compared and their ratio taken.

use super::verdict::outcome;
use super::{Ask, Extra, Form, Measure, Measured, Scope, Source, Threshold, Verdict};

/// Both sides of a drift as measured (in the same unit), and the verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sides {
    /// The left side, in its window.
    pub value: Measured,
    /// The right side, in its window (before the factor).
    pub base: Measured,
}

impl Sides {
    /// left / right, when both were measured and the right is not 0.
    pub fn ratio(&self) -> Option<f64> {
        match (self.value, self.base) {
            (Ok(v), Ok(b)) if b != 0.0 => Some(v / b),
            _ => None,
        }
    }
}

impl Threshold {
    /// A drift's right side as a threshold of its own (the same bound and operator), to be
    /// measured on its window as any threshold is. `None` when it is not a drift.
    pub fn base(&self) -> Option<Threshold> {
        let Form::Drift { base, .. } = &self.form else { return None };
        Some(Threshold { metric: base.clone(), form: Form::Bound, ..self.clone() })
    }

    /// A drift on `src`: the left side on `scope.window`, `base` on `scope.base`. The verdict's
    /// value is the left side's; `baseline` (the right side's, in the same unit) and `ratio`
    /// (left / right) are among its extras; its bound is the factor times the baseline.
    pub(super) fn judge_drift(&self, src: &dyn Source, scope: &Scope, base: &Measure) -> Verdict {
        let left = src.measure(&Ask { measure: &self.metric, on: scope.on, window: scope.window });
        let right = src.measure(&Ask { measure: base, on: scope.on, window: scope.base });
        let sides = Sides { value: left.value, base: right.value };
        let ratio = sides.ratio().ok_or(super::NoData::NOT_HERE);
        Verdict {
            measured: left.value,
            bound: right.value.map_or(self.bound, |b| self.bound * b),
            outcome: outcome(self.drift_holds(&sides), scope),
            window: left.window,
            extra: vec![Extra { name: "baseline", value: right.value }, Extra { name: "ratio", value: ratio }],
        }
    }

    /// Whether a drift holds: `value op factor * base`; either side without data never does.
    pub fn drift_holds(&self, s: &Sides) -> bool {
        match (s.value, s.base) {
            (Ok(v), Ok(b)) => self.op.holds(v, self.bound * b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::metric::Kind;
    use crate::rules::threshold::{Measure, NoData, Op, Stat, parse, parse_checked};
    use std::time::Duration;

    fn secs(a: u64, b: u64) -> (Duration, Duration) {
        (Duration::from_secs(a), Duration::from_secs(b))
    }

    #[test]
    fn drifts_parse_with_or_without_a_factor() {
        let t = parse(" p(95) during 25m..30m < 1.5 * p(95) during 0m..5m ").unwrap();
        assert_eq!((t.metric.clone(), t.op, t.bound), (Measure::Percentile(95.0), Op::Lt, 1.5));
        assert_eq!(
            t.form,
            Form::Drift { window: secs(1500, 1800), base: Measure::Percentile(95.0), base_window: secs(0, 300) }
        );
        assert_eq!(t.expr, "p(95) during 25m..30m < 1.5 * p(95) during 0m..5m");
        let t = parse("errors DURING 1m..2m <= errors during 0s..1m").unwrap();
        assert_eq!((t.bound, t.unit()), (1.0, "%"));
        assert!(matches!(t.form, Form::Drift { base: Measure::Errors, .. }));
        let t = parse("p(99) during 1m..2m<2*med during 0s..1m").unwrap();
        assert!(matches!(t.form, Form::Drift { base: Measure::Med, .. }), "any two latency measures: {t:?}");
        let mine = &[("server_ms", Kind::Trend), ("hits", Kind::Rate)];
        let t = parse_checked("p(95)(server_ms) during 1m..2m < 1.2 * p(95)(server_ms) during 0s..1m", mine, &[]);
        assert!(matches!(t.unwrap().form, Form::Drift { base: Measure::Custom { stat: Stat::Percentile(_), .. }, .. }));
        assert!(parse_checked("hits during 1m..2m > 0.9 * hits during 0s..1m", mine, &[]).is_ok());
        assert!(parse_checked("max(cpu) during 1m..2m < 1.2 * avg(cpu) during 0s..1m", &[], &["cpu"]).is_ok());
    }

    #[test]
    fn drift_errors_say_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("p(95) during 1m..2m < 200ms", 22, "is compared with another window"),
            (
                "p(95) during 1m..2m < 1.5 * errors during 0s..1m",
                28,
                "`p(95)` is in milliseconds and `errors` in percent",
            ),
            ("rps during 1m..2m < requests during 0s..1m", 20, "in requests per second and `requests` in requests"),
            ("p(95) during 1m..2m < 1.5 * p(95)", 33, "expected `during FROM..TO` after `p(95)`"),
            ("p(95) < 1.5 * p(95) during 0s..1m", 0, "the left side needs one too"),
            ("p(95) < p(95) during 0s..1m", 0, "the left side needs one too"),
            ("p(95) during 2m..1m < p(95) during 0s..1m", 13, "`during 2m..1m`: the window ends before it starts"),
            ("p(95) during 1m..2m < p(95) during 0.5s..1s", 35, "whole seconds"),
            ("p(95) during 1m < p(95) during 0s..1s", 13, "write a window of the run as FROM..TO"),
            ("p(95) during 1m..2m < 0 * p(95) during 0s..1s", 22, "the factor must be above 0"),
            ("p(95) during 1m..2m < ", 22, "expected the window to compare with"),
        ];
        for &(s, offset, msg) in cases {
            let got = parse(s).expect_err(s);
            assert!(got.message.contains(msg), "{s:?}: message {:?} lacks {msg:?}", got.message);
            assert_eq!(got.offset, offset, "{s:?}: {}", got.message);
        }
        let mine = &[("a_ms", Kind::Trend), ("b_ms", Kind::Trend)];
        let got = parse_checked("p(95)(a_ms) during 1m..2m < p(95)(b_ms) during 0s..1m", mine, &[]).unwrap_err();
        assert!(got.message.contains("`p(95)(a_ms)` is in a_ms's unit and `p(95)(b_ms)` in b_ms's unit"), "{got}");
        let got = parse_checked("p(95)(a_ms) during 1m..2m < p(95)(c) during 0s..1m", &[("a_ms", Kind::Trend)], &[]);
        assert!(got.unwrap_err().message.contains("in c's unit"));
        let got = parse_checked("p(95)(c) during 1m..2m < p(95)(c) during 0s..1m", mine, &[]).unwrap_err();
        assert_eq!((got.offset, got.message.contains("unknown metric `c`")), (6, true), "{got}");
        let got = parse_checked("p(95) during 1m..2m < p(95)(c) during 0s..1m", mine, &[]).unwrap_err();
        assert_eq!(got.offset, 22, "the right side's metric is checked too: {got}");
    }

    #[test]
    fn a_drift_compares_its_windows_and_gives_their_ratio() {
        let t = parse("p(95) during 25m..30m < 1.5 * p(95) during 0m..5m").unwrap();
        assert_eq!(t.base().unwrap().metric, Measure::Percentile(95.0));
        let held = Sides { value: Ok(140.0), base: Ok(100.0) };
        assert!(t.drift_holds(&held));
        assert_eq!(held.ratio(), Some(1.4));
        let drifted = Sides { value: Ok(160.0), base: Ok(100.0) };
        assert!(!t.drift_holds(&drifted));
        let empty = Sides { value: Ok(160.0), base: Err(NoData::LATENCY) };
        assert!(!t.drift_holds(&empty));
        assert_eq!(empty.ratio(), None);
        let rps = parse("rps during 1m..2m >= 0.9 * rps during 0s..1m").unwrap();
        assert!(rps.drift_holds(&Sides { value: Ok(90.0), base: Ok(100.0) }));
        assert!(!rps.drift_holds(&Sides { value: Ok(89.0), base: Ok(100.0) }));
        assert_eq!(parse("p(95) < 1").unwrap().base(), None);
    }
}
