//! Compiling the file's `[metrics]` table: each `NAME = { rate | counter | trend = "...", steps }`
//! checked (a valid name no built-in metric takes, exactly one rule, known steps) and compiled
//! into a [`Metric`], with errors that say which field to point at.

use crate::rules::ParseError;
use crate::rules::check;
use crate::rules::metric::{BUILT_IN, Kind, Metric, Rule, parse_trend};
use crate::scenario::raw::MetricSpec;

/// Which part of a metric's table an error is about, so the caller can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The metric's name (its key in `[metrics]`).
    Name,
    /// The table as a whole: none, or more than one, of `rate`, `trend`, `counter`.
    Table,
    /// The `rate`, `trend` or `counter` string, at this byte offset into it (as written).
    Source { offset: usize },
    /// The `steps` array as a whole.
    Steps,
    /// The `steps` entry at this index.
    Step(usize),
}

/// A metric that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetricError {
    pub message: String,
    pub which: Field,
}

fn error<T>(which: Field, message: impl Into<String>) -> Result<T, MetricError> {
    Err(MetricError { message: message.into(), which })
}

/// Why `name` cannot name a metric, if it cannot.
fn bad_name(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!(
            "metric name `{name}`: use ASCII letters, digits and `_`, starting with a letter (e.g. cache_hit)"
        ));
    }
    if crate::rules::threshold::words::is_reserved(name) || BUILT_IN.iter().any(|b| b.eq_ignore_ascii_case(name)) {
        return Some(format!("metric name `{name}` is taken by a built-in metric; choose another"));
    }
    None
}

/// Validate `[metrics].NAME`. `known_steps` gives a step name's row (the index `observe` is
/// called with), or `None` for a name the scenario does not have.
pub fn compile(
    name: &str,
    spec: &MetricSpec,
    known_steps: &dyn Fn(&str) -> Option<usize>,
) -> Result<Metric, MetricError> {
    if name.is_empty() {
        return error(Field::Name, "empty metric name: use letters, digits and `_` (e.g. cache_hit)");
    }
    if let Some(why) = bad_name(name) {
        return error(Field::Name, why);
    }
    let given: Vec<(Kind, &String)> =
        [(Kind::Rate, &spec.rate), (Kind::Trend, &spec.trend), (Kind::Counter, &spec.counter)]
            .into_iter()
            .filter_map(|(k, s)| s.as_ref().map(|s| (k, s)))
            .collect();
    let (kind, src) = match given.as_slice() {
        [one] => *one,
        [] => {
            return error(
                Field::Table,
                format!(
                    "metric `{name}`: give one of rate, trend or counter, as in {{ rate = \"header X-Cache == HIT\" }}"
                ),
            );
        }
        [a, b, ..] => {
            return error(
                Field::Table,
                format!(
                    "metric `{name}`: give one of rate, trend or counter, not both {} and {}",
                    a.0.name(),
                    b.0.name()
                ),
            );
        }
    };
    let located = |e: ParseError| MetricError {
        message: format!("metric `{name}`: {} `{}`: {}", kind.name(), src.trim(), e.message),
        which: Field::Source { offset: e.offset },
    };
    let rule = match kind {
        Kind::Rate => Rule::Rate(check::parse_cond(src).map_err(located)?),
        Kind::Counter => Rule::Counter(check::parse_cond(src).map_err(located)?),
        Kind::Trend => Rule::Trend(parse_trend(src).map_err(located)?),
    };
    let steps = match &spec.steps {
        None => None,
        Some(list) if list.is_empty() => {
            return error(Field::Steps, format!("metric `{name}`: steps is empty; leave it out to observe every step"));
        }
        Some(list) => {
            let mut rows = Vec::with_capacity(list.len());
            for (i, step) in list.iter().enumerate() {
                match known_steps(step) {
                    Some(row) => rows.push(row),
                    None => return error(Field::Step(i), format!("metric `{name}`: unknown step `{step}`")),
                }
            }
            rows.sort_unstable();
            rows.dedup();
            Some(rows)
        }
    };
    Ok(Metric::new(name.to_string(), rule, src.trim().to_string(), steps))
}

/// The metric `name = toml_table` over the steps `login`, `authorize` and `search` (rows 0, 1, 2):
/// test help for the tests of the modules that count and report metrics.
#[cfg(test)]
pub(crate) fn from_toml(name: &str, toml_table: &str) -> Metric {
    let table: std::collections::BTreeMap<String, MetricSpec> =
        toml::from_str(&format!("{name:?} = {toml_table}")).unwrap_or_else(|e| panic!("{toml_table}: {e}"));
    let steps = |s: &str| ["login", "authorize", "search"].iter().position(|n| *n == s);
    compile(name, &table[name], &steps).unwrap_or_else(|e| panic!("{name} = {toml_table}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::metric::TrendSource;
    use serde::Deserialize;

    fn steps(name: &str) -> Option<usize> {
        ["login", "authorize", "search"].iter().position(|s| *s == name)
    }

    fn spec(toml_src: &str) -> Result<MetricSpec, String> {
        #[derive(Deserialize)]
        struct File {
            metrics: std::collections::BTreeMap<String, MetricSpec>,
        }
        let f: File = toml::from_str(toml_src).map_err(|e| e.to_string())?;
        f.metrics.into_values().next().ok_or_else(|| "no metric".to_string())
    }

    fn metric(name: &str, toml_table: &str) -> Result<Metric, MetricError> {
        let s = spec(&format!("[metrics]\n{name:?} = {toml_table}")).unwrap();
        compile(name, &s, &steps)
    }

    fn ok(name: &str, toml_table: &str) -> Metric {
        metric(name, toml_table).unwrap_or_else(|e| panic!("{name} = {toml_table}: {e} ({:?})", e.which))
    }

    #[test]
    fn specs_compile() {
        let m = ok("cache_hit", r#"{ rate = "header X-Cache == HIT", steps = ["authorize"] }"#);
        assert_eq!(m.rule, Rule::Rate(check::parse_cond("header X-Cache == HIT").unwrap()));
        assert_eq!(
            (m.kind(), m.steps(), m.source.as_str()),
            (Kind::Rate, Some(&[1usize][..]), "header X-Cache == HIT")
        );
        assert!(m.applies_to(1) && !m.applies_to(0) && !m.applies_to(99));
        assert!(m.needs_head() && !m.needs_body());

        let m = ok("server_ms", r#"{ trend = "header Server-Timing dur", steps = ["search", "login", "search"] }"#);
        assert_eq!(m.rule, Rule::Trend(TrendSource::ServerTiming("Server-Timing".into())));
        assert_eq!(m.steps(), Some(&[0usize, 2][..]), "sorted, without repeats");

        let m = ok("created", r#"{ counter = " status == 201 " }"#);
        assert_eq!((m.kind(), m.steps(), m.source.as_str()), (Kind::Counter, None, "status == 201"));
        assert!((0..10).all(|row| m.applies_to(row)));
        assert!(!m.needs_head() && !m.needs_body());

        let m = ok("n_items", r#"{ trend = "json $.items[0].n" }"#);
        assert!(m.needs_body() && !m.needs_head());
        assert!(ok("X9_", r#"{ rate = "body contains ok" }"#).needs_body());
        assert_eq!(ok("t", r#"{ trend = "HEADER X-Time" }"#).rule, Rule::Trend(TrendSource::Header("X-Time".into())));
        assert_eq!(ok("t", r#"{ trend = "header X-Time DUR" }"#).kind(), Kind::Trend);
    }

    #[test]
    fn spec_errors_say_which_field() {
        let cases: &[(&str, &str, Field, &str)] = &[
            ("", r#"{ rate = "status == 200" }"#, Field::Name, "empty metric name"),
            ("cache-hit", r#"{ rate = "status == 200" }"#, Field::Name, "metric name `cache-hit`: use ASCII letters"),
            ("9lives", r#"{ rate = "status == 200" }"#, Field::Name, "starting with a letter"),
            ("_x", r#"{ rate = "status == 200" }"#, Field::Name, "starting with a letter"),
            ("été", r#"{ rate = "status == 200" }"#, Field::Name, "use ASCII letters"),
            ("errors", r#"{ rate = "status == 200" }"#, Field::Name, "taken by a built-in metric"),
            ("Errors", r#"{ rate = "status == 200" }"#, Field::Name, "taken by a built-in metric"),
            ("p95", r#"{ rate = "status == 200" }"#, Field::Name, "taken by a built-in metric"),
            ("avg", r#"{ trend = "header X" }"#, Field::Name, "taken by a built-in metric"),
            ("iteration_duration", r#"{ trend = "header X" }"#, Field::Name, "taken by a built-in metric"),
            ("m", r#"{ steps = ["login"] }"#, Field::Table, "metric `m`: give one of rate, trend or counter, as in"),
            (
                "m",
                r#"{ rate = "status == 200", counter = "status == 201" }"#,
                Field::Table,
                "not both rate and counter",
            ),
            ("m", r#"{ rate = "status = 200" }"#, Field::Source { offset: 7 }, "metric `m`: rate `status = 200`: `=`"),
            ("m", r#"{ counter = "  header" }"#, Field::Source { offset: 8 }, "expected a header name"),
            ("m", r#"{ trend = "header" }"#, Field::Source { offset: 6 }, "expected a header name after `header`"),
            ("m", r#"{ trend = "header X-T: dur" }"#, Field::Source { offset: 10 }, "bad header name `X-T:`"),
            ("m", r#"{ trend = "header X-T  dura" }"#, Field::Source { offset: 12 }, "unexpected `dura`"),
            ("m", r#"{ trend = "header X-T dur x" }"#, Field::Source { offset: 11 }, "unexpected `dur x`"),
            ("m", r#"{ trend = "json" }"#, Field::Source { offset: 4 }, "expected a JSON path after `json`"),
            ("m", r#"{ trend = " json  $.a[" }"#, Field::Source { offset: 10 }, "bad JSON path `$.a[`"),
            ("m", r#"{ trend = "status" }"#, Field::Source { offset: 0 }, "unknown trend source `status`"),
            ("m", r#"{ trend = "  " }"#, Field::Source { offset: 2 }, "empty trend source"),
            ("m", r#"{ rate = "status == 200", steps = [] }"#, Field::Steps, "steps is empty"),
            ("m", r#"{ rate = "status == 200", steps = ["login", "nope"] }"#, Field::Step(1), "unknown step `nope`"),
        ];
        for &(name, table, which, msg) in cases {
            let e = metric(name, table).expect_err(table);
            assert!(e.message.contains(msg), "{name} = {table}: {:?} lacks {msg:?}", e.message);
            assert_eq!(e.which, which, "{name} = {table}: {}", e.message);
        }
        assert!(
            spec("[metrics]\nm = { rate = \"status == 200\", step = [\"a\"] }").unwrap_err().contains("unknown field")
        );
        assert!(spec("[metrics]\nm = { rate = 200 }").is_err());
    }
}
