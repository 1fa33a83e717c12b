//! JUnit XML of the thresholds (`--junit FILE`), for CI systems: one test case per threshold,
//! a `<failure>` with the measured value when it did not hold.
//!
//! Shape: `<testsuites>` holding one `<testsuite>` named after the run (with `tests`, `failures`,
//! `time` = the run's duration and `timestamp` = its start, UTC), whose test cases are named by
//! the threshold's expression (followed by ` during FROM..TO` for a threshold on a window of the
//! run), with classname `<run name>.<step>` (`total` for the whole run), or `<run name>.<scenario>`
//! for a scenario's own threshold (`<run name>.<scenario>.<step>` should one name both).
//! The threshold that aborted the run (`abort_on_fail`) fails even when its final value holds,
//! as the run's exit code does. A warning (`level = "warn"`) that did not hold is not a
//! `<failure>`, as it does not fail the run: its test case carries `WARN` and the measured value in
//! its own `<system-out>`. A threshold of the file that this run did not judge (a smoke,
//! `--scenario`: `thresholds_not_run`) is a `<skipped>` test case whose message is the reason,
//! so CI shows it as skipped rather than not at all. The suite's `<system-out>` says when the run
//! was aborted or interrupted and carries the text summary.

use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

use super::RunResult;
use super::result::ThresholdResult;

/// The JUnit document of `r`'s thresholds (a suite of 0 tests when it has none).
pub fn thresholds(r: &RunResult) -> String {
    // A failed warning is reported as passing: it does not fail the run (its verdict is in system-out).
    let failed = |th: &ThresholdResult| th.fails_run() || r.aborted_by.as_deref() == Some(th.expr.as_str());
    let skipped = r.thresholds_not_run.len();
    let tests = r.thresholds.len() + skipped;
    let failures = r.thresholds.iter().filter(|th| failed(th)).count();
    let time = format!("{:.3}", r.duration_s);
    let timestamp = UNIX_EPOCH + Duration::from_millis(r.started_at_unix_ms);
    // The JUnit schema's timestamp has no zone: the time is UTC.
    let timestamp = humantime::format_rfc3339_seconds(timestamp).to_string().trim_end_matches('Z').to_string();
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"stampede\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\">"
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{timestamp}\">",
        esc(&r.name)
    );
    o.push_str("    <properties>\n");
    let props = [
        ("command", r.command.clone()),
        ("target", r.target.clone()),
        ("started_at", r.started_at.clone()),
        ("requests", r.totals.summary.requests.to_string()),
        ("errors", r.totals.summary.errors.to_string()),
        ("interrupted", r.interrupted.to_string()),
    ];
    let shard = r.load.shard.iter().map(|s| ("shard", s.clone()));
    for (name, value) in props.into_iter().chain(shard) {
        let _ = writeln!(o, "      <property name=\"{name}\" value=\"{}\"/>", esc(&value));
    }
    o.push_str("    </properties>\n");
    for th in &r.thresholds {
        let class = classname(r, th.scenario.as_deref(), th.step.as_deref());
        let name = match th.window() {
            Some(w) => format!("{} during {w}", th.expr),
            None => th.expr.clone(),
        };
        let _ = write!(o, "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"", esc(&name), esc(&class));
        let measured = match th.value {
            Some(_) => format!("measured {}{}", value(th), th.beside(|v| v.to_string())),
            None => value(th),
        };
        if !failed(th) {
            if th.verdict() == "WARN" {
                let warn = format!(
                    "WARN: `{}` does not hold for {}: {measured} (a warning: the run does not fail).",
                    th.expr,
                    scope(th)
                );
                let _ = writeln!(o, ">\n      <system-out>{}</system-out>\n    </testcase>", esc(&warn));
            } else {
                o.push_str("/>\n");
            }
            continue;
        }
        let (message, detail) = if th.ok {
            (
                format!("failed during the run and aborted it (abort_on_fail); {measured} at the end"),
                format!("`{}` failed during the run; abort_on_fail stopped the run early.", th.expr),
            )
        } else {
            (measured.clone(), format!("`{}` does not hold for {}: {measured}.", th.expr, scope(th)))
        };
        let _ = writeln!(
            o,
            ">\n      <failure message=\"{}\" type=\"threshold\">{}</failure>\n    </testcase>",
            esc(&message),
            esc(&detail)
        );
    }
    for n in &r.thresholds_not_run {
        let class = classname(r, n.scenario.as_deref(), n.step.as_deref());
        let _ = writeln!(
            o,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"0\">\n      <skipped message=\"{}\"/>\n    </testcase>",
            esc(&n.expr),
            esc(&class),
            esc(&n.reason)
        );
    }
    let mut out = String::new();
    if let Some(expr) = &r.aborted_by {
        let _ =
            writeln!(out, "ABORTED: threshold `{expr}` failed during the run (abort_on_fail); the run stopped early.");
    }
    if r.interrupted {
        out.push_str("INTERRUPTED: the run was stopped before its end; thresholds were measured on what ran.\n");
    }
    out.push_str(&super::text::summary(r));
    let _ = writeln!(o, "    <system-out>{}</system-out>", esc(&out));
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

/// A test case's classname: `<run name>.<step>` (`total` for the whole run), `<run name>.<scenario>`
/// for a scenario's own threshold, `<run name>.<scenario>.<step>` should one name both.
fn classname(r: &RunResult, scenario: Option<&str>, step: Option<&str>) -> String {
    match (scenario, step) {
        (Some(sc), Some(step)) => format!("{}.{sc}.{step}", r.name),
        (Some(sc), None) => format!("{}.{sc}", r.name),
        (None, step) => format!("{}.{}", r.name, step.unwrap_or("total")),
    }
}

/// What a threshold is measured on, in words: "the whole run", "step `x`", "scenario `y`", with
/// its window when it has one.
fn scope(th: &ThresholdResult) -> String {
    let mut s = match (&th.scenario, &th.step) {
        (None, None) => "the whole run".to_string(),
        (None, Some(step)) => format!("step `{step}`"),
        (Some(sc), None) => format!("scenario `{sc}`"),
        (Some(sc), Some(step)) => format!("step `{step}` of scenario `{sc}`"),
    };
    if let Some(w) = th.window() {
        s += &format!(" during {w}");
    }
    s
}

/// `312.5 ms`, `2.5%`, `120 req/s`, `1000`.
fn value(th: &ThresholdResult) -> String {
    let Some(value) = th.value else { return th.measured(|v| v.to_string()) };
    let v = if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value}") };
    match th.unit.as_str() {
        "" => v,
        "%" => format!("{v}%"),
        unit => format!("{v} {unit}"),
    }
}

/// Text safe in XML content and attribute values: markup characters as entities, characters
/// XML 1.0 cannot carry at all (most control characters) as U+FFFD.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample;

    /// An element: name, attributes (unescaped), child elements, text (unescaped).
    #[derive(Debug, Default)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
        pub text: String,
    }

    impl Element {
        pub fn attr(&self, name: &str) -> &str {
            self.attrs.iter().find(|(k, _)| k == name).map_or_else(|| panic!("no {name} on <{}>", self.name), |a| &a.1)
        }
        pub fn all(&self, name: &str) -> Vec<&Element> {
            self.children.iter().filter(|c| c.name == name).collect()
        }
    }

    /// A small strict reader for the XML this module writes: declaration, elements, attributes
    /// in double quotes, the five predefined entities and numeric references, text. Panics on
    /// anything not well-formed (unbalanced tags, raw `<` or `&`, duplicate attributes,
    /// characters XML cannot carry, content after the root).
    pub fn parse_xml(text: &str) -> Element {
        let cs: Vec<char> = text.chars().collect();
        let mut i = 0;
        for &c in &cs {
            let ok = matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
            assert!(ok, "character {c:?} is not allowed in XML");
        }
        let starts = |i: usize, s: &str| cs[i..].iter().take(s.chars().count()).copied().eq(s.chars());
        if starts(0, "<?xml") {
            while !starts(i, "?>") {
                i += 1;
            }
            i += 2;
        }
        let skip_ws = |i: &mut usize| {
            while *i < cs.len() && cs[*i].is_whitespace() {
                *i += 1;
            }
        };
        fn unescape(cs: &[char], i: &mut usize, until: &[char]) -> String {
            let mut o = String::new();
            while *i < cs.len() && !until.contains(&cs[*i]) {
                match cs[*i] {
                    '&' => {
                        let end = (*i..cs.len()).find(|&j| cs[j] == ';').expect("unterminated entity");
                        let name: String = cs[*i + 1..end].iter().collect();
                        let c = match name.as_str() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            n if n.starts_with("#x") => {
                                char::from_u32(u32::from_str_radix(&n[2..], 16).unwrap()).unwrap()
                            }
                            n if n.starts_with('#') => char::from_u32(n[1..].parse().unwrap()).unwrap(),
                            n => panic!("unknown entity &{n};"),
                        };
                        o.push(c);
                        *i = end + 1;
                    }
                    '<' => panic!("raw < in text or attribute"),
                    c => {
                        o.push(c);
                        *i += 1;
                    }
                }
            }
            o
        }
        fn element(cs: &[char], i: &mut usize) -> Element {
            assert_eq!(cs[*i], '<', "expected an element at {i}");
            *i += 1;
            let name_end = (*i..cs.len()).find(|&j| cs[j].is_whitespace() || cs[j] == '>' || cs[j] == '/').unwrap();
            let mut e = Element { name: cs[*i..name_end].iter().collect(), ..Element::default() };
            assert!(!e.name.is_empty() && e.name.chars().all(|c| c.is_alphanumeric() || "-_:.".contains(c)));
            *i = name_end;
            loop {
                while cs[*i].is_whitespace() {
                    *i += 1;
                }
                if cs[*i] == '/' {
                    assert_eq!(cs[*i + 1], '>');
                    *i += 2;
                    return e;
                }
                if cs[*i] == '>' {
                    *i += 1;
                    break;
                }
                let eq = (*i..cs.len()).find(|&j| cs[j] == '=').unwrap();
                let key: String = cs[*i..eq].iter().collect();
                assert!(key.chars().all(|c| c.is_alphanumeric() || "-_:".contains(c)), "attribute name {key:?}");
                assert_eq!(cs[eq + 1], '"', "attribute {key} not in double quotes");
                *i = eq + 2;
                let value = unescape(cs, i, &['"']);
                *i += 1;
                assert!(e.attrs.iter().all(|(k, _)| *k != key), "duplicate attribute {key}");
                e.attrs.push((key, value));
            }
            loop {
                e.text.push_str(&unescape(cs, i, &['<']));
                assert!(*i < cs.len(), "<{}> not closed", e.name);
                if cs[*i + 1] == '/' {
                    let end = (*i..cs.len()).find(|&j| cs[j] == '>').unwrap();
                    let closing: String = cs[*i + 2..end].iter().collect();
                    assert_eq!(closing.trim(), e.name, "mismatched closing tag");
                    *i = end + 1;
                    return e;
                }
                let child = element(cs, i);
                e.children.push(child);
            }
        }
        skip_ws(&mut i);
        let root = element(&cs, &mut i);
        skip_ws(&mut i);
        assert_eq!(i, cs.len(), "content after the root element");
        root
    }

    fn threshold(expr: &str, ok: bool, value: f64, unit: &str, step: Option<&str>) -> ThresholdResult {
        ThresholdResult { ok, step: step.map(String::from), ..ThresholdResult::bare(expr, value, unit) }
    }

    #[test]
    fn one_test_case_per_threshold_failures_carry_the_value() {
        let mut r = sample(&[("log <in> & \"go\"", &[1000, 2000])], 2);
        r.name = "shop's <test>".into();
        r.thresholds = vec![
            threshold("p(95) < 200ms", true, 2.0, "ms", None),
            threshold("errors < 1%", false, 2.5, "%", None),
            threshold("p(99) < 1ms", false, 312.5, "ms", Some("log <in> & \"go\"")),
        ];
        let xml = thresholds(&r);
        let root = parse_xml(&xml);
        assert_eq!(root.name, "testsuites");
        let suite = &root.all("testsuite")[0];
        assert_eq!((suite.attr("name"), suite.attr("tests"), suite.attr("failures")), ("shop's <test>", "3", "2"));
        assert_eq!((suite.attr("time"), suite.attr("timestamp")), ("2.000", "2023-11-14T22:13:20"));
        let cases = suite.all("testcase");
        assert_eq!(cases.len(), 3);
        assert_eq!((cases[0].attr("name"), cases[0].attr("classname")), ("p(95) < 200ms", "shop's <test>.total"));
        assert!(cases[0].children.is_empty());
        let f = &cases[1].all("failure")[0];
        assert_eq!(f.attr("message"), "measured 2.5%");
        assert_eq!(cases[2].attr("classname"), "shop's <test>.log <in> & \"go\"");
        assert_eq!(cases[2].all("failure")[0].attr("message"), "measured 312.5 ms");
        assert!(cases[2].all("failure")[0].text.contains("step `log <in> & \"go\"`"));
        assert!(!suite.all("system-out")[0].text.contains("ABORTED"));
    }

    #[test]
    fn thresholds_a_smoke_left_out_are_skipped_test_cases_with_the_reason() {
        use crate::plan::NotRun;
        let mut r = sample(&[("s", &[1000])], 1);
        r.name = "shop".into();
        r.thresholds = vec![threshold("p(95) < 200ms", true, 2.0, "ms", None)];
        let not_run = |expr: &str, scenario: Option<&str>, step: Option<&str>, reason: &str| NotRun {
            expr: expr.into(),
            scenario: scenario.map(String::from),
            step: step.map(String::from),
            reason: reason.into(),
        };
        r.thresholds_not_run = vec![
            not_run("errors < 1%", Some("spike"), None, "its scenario does not run in a smoke (--vus 2 --duration 2s)"),
            not_run("rps > 350", None, None, "a smoke does not judge throughput <rps>"),
            not_run("p(99) < 1ms", None, Some("login"), "its window starts after the smoke ends"),
        ];
        let root = parse_xml(&thresholds(&r));
        assert_eq!((root.attr("tests"), root.attr("failures"), root.attr("skipped")), ("4", "0", "3"));
        let suite = &root.all("testsuite")[0];
        assert_eq!((suite.attr("tests"), suite.attr("failures"), suite.attr("skipped")), ("4", "0", "3"));
        let cases = suite.all("testcase");
        assert!(cases[0].all("skipped").is_empty(), "a judged threshold is not skipped");
        let skipped: Vec<(&str, &str, &str)> = cases[1..]
            .iter()
            .map(|c| (c.attr("name"), c.attr("classname"), c.all("skipped")[0].attr("message")))
            .collect();
        assert_eq!(
            skipped,
            [
                ("errors < 1%", "shop.spike", "its scenario does not run in a smoke (--vus 2 --duration 2s)"),
                ("rps > 350", "shop.total", "a smoke does not judge throughput <rps>"),
                ("p(99) < 1ms", "shop.login", "its window starts after the smoke ends"),
            ]
        );
    }

    #[test]
    fn scenario_thresholds_windows_and_warnings() {
        let mut r = sample(&[("s", &[1000])], 1);
        r.name = "shop".into();
        let on = |mut th: ThresholdResult, scenario: Option<&str>, during: Option<&str>, warn: bool| {
            th.scenario = scenario.map(String::from);
            th.during = during.map(String::from);
            th.level = warn.then(|| "warn".to_string());
            th
        };
        r.thresholds = vec![
            on(threshold("p(95) < 200ms", true, 2.0, "ms", None), Some("browse & <buy>"), None, false),
            on(threshold("errors < 1%", false, 2.5, "%", None), Some("spike"), Some("2m..4m"), false),
            on(threshold("p(99) < 1ms", false, 3.5, "ms", None), Some("spike"), None, true),
            on(threshold("p(50) < 1ms", false, 1.5, "ms", None), None, Some("0s..30s"), true),
            on(threshold("rps > 1", true, 9.0, "req/s", None), None, None, true),
        ];
        let root = parse_xml(&thresholds(&r));
        let suite = &root.all("testsuite")[0];
        // Warnings that did not hold do not fail the run, nor the suite.
        assert_eq!((suite.attr("tests"), suite.attr("failures")), ("5", "1"));
        let cases = suite.all("testcase");
        let names: Vec<(&str, &str)> = cases.iter().map(|c| (c.attr("name"), c.attr("classname"))).collect();
        assert_eq!(
            names,
            [
                ("p(95) < 200ms", "shop.browse & <buy>"),
                ("errors < 1% during 2m..4m", "shop.spike"),
                ("p(99) < 1ms", "shop.spike"),
                ("p(50) < 1ms during 0s..30s", "shop.total"),
                ("rps > 1", "shop.total"),
            ]
        );
        assert!(cases[0].children.is_empty());
        let failure = &cases[1].all("failure")[0];
        assert_eq!(failure.attr("message"), "measured 2.5%");
        assert_eq!(failure.text, "`errors < 1%` does not hold for scenario `spike` during 2m..4m: measured 2.5%.");
        for (case, scope) in [(cases[2], "scenario `spike`"), (cases[3], "the whole run during 0s..30s")] {
            assert!(case.all("failure").is_empty(), "a warning is not a failure");
            let out = &case.all("system-out")[0].text;
            assert!(out.starts_with("WARN: ") && out.contains(scope) && out.contains("the run does not fail"), "{out}");
        }
        assert!(cases[2].all("system-out")[0].text.contains("measured 3.5 ms"));
        // A warning that held is a plain passing case.
        assert!(cases[4].children.is_empty());
        // The suite's summary says WARN too.
        assert!(suite.all("system-out")[0].text.contains("WARN"));
    }

    #[test]
    fn no_thresholds_is_a_valid_empty_suite() {
        let r = sample(&[("s", &[1000])], 1);
        let root = parse_xml(&thresholds(&r));
        let suite = &root.all("testsuite")[0];
        assert_eq!((suite.attr("tests"), suite.attr("failures")), ("0", "0"));
        assert!(suite.all("testcase").is_empty());
    }

    #[test]
    fn aborted_and_interrupted_runs_say_so() {
        let mut r = sample(&[("s", &[1000])], 1);
        r.thresholds = vec![threshold("p(99) < 10ms", true, 1.0, "ms", None)];
        r.aborted_by = Some("p(99) < 10ms".into());
        r.interrupted = true;
        let root = parse_xml(&thresholds(&r));
        let suite = &root.all("testsuite")[0];
        assert_eq!(suite.attr("failures"), "1", "the aborting threshold fails, as the exit code does");
        let failure = &suite.all("testcase")[0].all("failure")[0];
        assert!(failure.attr("message").contains("aborted"), "{}", failure.attr("message"));
        let out = &suite.all("system-out")[0].text;
        assert!(out.contains("ABORTED: threshold `p(99) < 10ms`") && out.contains("INTERRUPTED"), "{out}");
    }

    #[test]
    fn escaping_covers_markup_and_control_characters() {
        assert_eq!(esc("a<b>&\"c'\u{1}\td"), "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}\td");
        let mut r = sample(&[("bell\u{7}", &[1000])], 1);
        r.thresholds = vec![threshold("p(95) < 1ms", false, 1.5, "ms", Some("bell\u{7}"))];
        parse_xml(&thresholds(&r));
    }

    #[test]
    #[should_panic(expected = "mismatched closing tag")]
    fn the_reader_refuses_unbalanced_tags() {
        parse_xml("<a><b></a></b>");
    }
}
