//! Integration tests of the commands on saved results: `stampede merge` of two shards run side
//! by side, `compare` verdicts on real runs whose latency differs, `report` writing CSV and
//! JUnit files, and input that is not a result refused. Runs use the built-in target.

use std::path::Path;

use serde_json::Value;
use stampede::report::result::decode_histogram;

use crate::util::{self, Outcome, TempDir, TestTarget};

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or_else(|| panic!("`{pointer}` missing"))
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    at(v, pointer).as_u64().unwrap_or_else(|| panic!("`{pointer}` is not a u64"))
}

/// `stampede bench URL ARGS... -q --json PATH`, keeping the file.
fn bench_to(url: &str, json: &Path, args: &[&str]) -> Outcome {
    let mut all = vec!["bench", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-q", "--json", path_str(json)]);
    util::stampede(&all)
}

/// `stampede run FILE --target URL -t 1 -q --json PATH`, keeping the file.
fn run_to(file: &Path, target: &TestTarget, json: &Path) -> Outcome {
    let url = target.url();
    util::stampede(&["run", path_str(file), "--target", &url, "-t", "1", "-q", "--json", path_str(json)])
}

// ---------------------------------------------------------------------------------------------
// merge
// ---------------------------------------------------------------------------------------------

#[test]
fn two_shards_side_by_side_merge_exactly() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("merge-shards");
    let url = format!("{}/delay/1", target.url());
    let (a, b, m) = (dir.path().join("a.json"), dir.path().join("b.json"), dir.path().join("m.json"));
    let args = |shard| ["-c", "4", "-d", "2s", "-t", "1", "--shard", shard];
    let (out_a, out_b) = std::thread::scope(|s| {
        let ha = s.spawn(|| bench_to(&url, &a, &args("1/2")));
        let hb = s.spawn(|| bench_to(&url, &b, &args("2/2")));
        (ha.join().expect("shard 1/2"), hb.join().expect("shard 2/2"))
    });
    out_a.assert_code(0);
    out_b.assert_code(0);
    let merged = util::stampede(&["merge", path_str(&a), path_str(&b), "-o", path_str(&m)]);
    merged.assert_code(0);
    assert!(merged.stdout.contains("requests"), "merge prints the merged summary\n{}", merged.stdout);
    let (ja, jb, jm) = (read_json(&a), read_json(&b), read_json(&m));
    assert_eq!(at(&ja, "/load/shard"), "1/2");
    // Each shard says which run it is part of, and which part.
    assert_eq!(at(&ja, "/run/fingerprint"), at(&jb, "/run/fingerprint"));
    assert_eq!((u64_at(&ja, "/run/shard"), u64_at(&jb, "/run/shard"), u64_at(&jb, "/run/shards")), (1, 2, 2));
    assert_eq!((u64_at(&jm, "/run/shard"), u64_at(&jm, "/run/shards")), (1, 1), "the merged run is whole");
    assert!(jm.pointer("/load/shard").is_none());
    assert_eq!(u64_at(&jm, "/load/users"), 4);

    // Counters are the sums of the shards'.
    for p in ["/totals/requests", "/totals/errors", "/totals/bytes_in", "/totals/bytes_out", "/totals/status/200"] {
        assert_eq!(u64_at(&jm, p), u64_at(&ja, p) + u64_at(&jb, p), "{p}");
    }
    assert!(u64_at(&ja, "/totals/requests") > 100 && u64_at(&jb, "/totals/requests") > 100);
    assert!(target.requests() >= u64_at(&jm, "/totals/status/200"));

    // The merged histogram is the sum of the shards'.
    let h = |v: &Value, p: &str| decode_histogram(at(v, p).as_str().expect("base64 text")).expect("decodes");
    let (ha, hb, hm) = (h(&ja, "/histogram"), h(&jb, "/histogram"), h(&jm, "/histogram"));
    assert_eq!(hm.len(), ha.len() + hb.len());
    let mut sum = stampede::stats::histogram();
    sum.add(&ha).unwrap();
    sum.add(&hb).unwrap();
    for q in [0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
        assert_eq!(hm.value_at_quantile(q), sum.value_at_quantile(q), "quantile {q}");
    }
    let step_h = h(&jm, "/steps/0/histogram");
    assert_eq!(step_h.len(), hm.len());

    // Each merged percentile lies between the shards'.
    for p in ["min", "p50", "p75", "p90", "p95", "p99", "p999", "max"] {
        let ptr = format!("/totals/latency_us/{p}");
        let (va, vb, vm) = (u64_at(&ja, &ptr), u64_at(&jb, &ptr), u64_at(&jm, &ptr));
        assert!(va.min(vb) <= vm && vm <= va.max(vb), "{p}: merged {vm} not between {va} and {vb}");
    }

    // The run spans both shards; the timeline keeps every request.
    let dur = |v: &Value| at(v, "/duration_s").as_f64().unwrap();
    assert!(dur(&jm) >= dur(&ja).max(dur(&jb)) - 1e-9);
    assert!(dur(&jm) < dur(&ja).max(dur(&jb)) + 2.0, "the shards ran side by side");
    let timeline_requests =
        |v: &Value| at(v, "/timeline").as_array().unwrap().iter().map(|r| r["requests"].as_u64().unwrap()).sum::<u64>();
    assert_eq!(timeline_requests(&jm), timeline_requests(&ja) + timeline_requests(&jb));
    let rows = at(&jm, "/timeline").as_array().unwrap().len();
    let most = at(&ja, "/timeline").as_array().unwrap().len().max(at(&jb, "/timeline").as_array().unwrap().len());
    assert!(rows == most || rows == most + 1, "{rows} merged seconds from shards of {most}");
}

#[test]
fn merge_refuses_files_that_are_not_results() {
    let dir = TempDir::new("merge-bad");
    let text = dir.write("notes.txt", "hello, not JSON");
    let other = dir.write("other.json", r#"{"hello": 1}"#);
    let m = dir.path().join("m.json");
    for (first, second) in [(&text, &other), (&other, &text)] {
        let out = util::stampede(&["merge", path_str(first), path_str(second), "-o", path_str(&m)]);
        out.assert_code(2);
        assert!(out.stderr.contains(path_str(first)), "the file is named\n{}", out.stderr);
        assert!(out.stderr.contains("not a stampede result"), "{}", out.stderr);
        assert!(!m.exists(), "nothing written");
    }
    let missing = dir.path().join("missing.json");
    let out = util::stampede(&["merge", path_str(&missing), path_str(&other), "-o", path_str(&m)]);
    out.assert_code(2);
    assert!(out.stderr.contains("missing.json"), "{}", out.stderr);
    let out = util::stampede(&["compare", path_str(&other), path_str(&other)]);
    out.assert_code(2);
    assert!(out.stderr.contains("other.json"), "{}", out.stderr);
}

#[test]
fn merge_refuses_the_same_result_twice() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("merge-twice");
    let a = dir.path().join("a.json");
    bench_to(&target.url(), &a, &["-c", "1", "-d", "300ms", "-t", "1"]).assert_code(0);
    let m = dir.path().join("m.json");
    let out = util::stampede(&["merge", path_str(&a), path_str(&a), "-o", path_str(&m)]);
    out.assert_code(2);
    assert!(out.stderr.contains("same document given twice"), "{}", out.stderr);
    assert!(!m.exists());
}

/// Bug: `merge` of two unrelated runs (the same step at another load, a moment apart) gave one
/// result with exit 0. They are refused, naming both files and why, as is a shard given twice; `--force`
/// merges anyway and says so in the result.
#[test]
fn merge_refuses_unrelated_runs_and_repeated_shards() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("merge-unrelated");
    let path = |name: &str| dir.path().join(name);
    let root = target.url();
    bench_to(&root, &path("root.json"), &["-c", "1", "-d", "300ms", "-t", "1"]).assert_code(0);
    bench_to(&root, &path("other.json"), &["-c", "2", "-d", "400ms", "-t", "1"]).assert_code(0);
    for shard in ["1", "2"] {
        let json = path(&format!("again-{shard}.json"));
        bench_to(&root, &json, &["-c", "2", "-d", "300ms", "-t", "1", "--shard", "1/2"]).assert_code(0);
    }
    let m = path("m.json");
    let merge = |a: &str, b: &str, extra: &[&str]| {
        let (a, b) = (path(a), path(b));
        let mut args = vec!["merge", path_str(&a), path_str(&b), "-o", path_str(&m)];
        args.extend_from_slice(extra);
        util::stampede(&args)
    };

    let out = merge("root.json", "other.json", &[]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("other.json ran another plan than") && out.stderr.contains("root.json"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert!(!m.exists(), "a refused merge wrote its output");

    let out = merge("again-1.json", "again-2.json", &[]);
    out.assert_code(2);
    assert!(out.stderr.contains("again-1.json and") && out.stderr.contains("are both shard 1/2"), "{}", out.stderr);

    let out = merge("root.json", "other.json", &["--force"]);
    out.assert_code(0);
    let jm = read_json(&m);
    let warnings = at(&jm, "/generator/warnings").as_array().expect("warnings");
    assert!(warnings.iter().any(|w| w.as_str().unwrap().starts_with("merged with --force: ")), "{warnings:?}");
    assert!(jm.pointer("/run").is_none(), "a forced merge is no one run");
    let requests = |name: &str| u64_at(&read_json(&path(name)), "/totals/requests");
    assert_eq!(u64_at(&jm, "/totals/requests"), requests("root.json") + requests("other.json"));
}

// ---------------------------------------------------------------------------------------------
// compare
// ---------------------------------------------------------------------------------------------

/// Two users on `/delay/{ms}` for 2 s, the step always named `api`.
fn delay_scenario(ms: u64) -> String {
    format!(
        r#"name = "compare"

[load]
executor = "constant-vus"
vus = 2
duration = "2s"
graceful_stop = "1s"

[[users]]
name = "u"
  [[users.steps]]
  name = "api"
  request = "GET /delay/{ms}"
"#
    )
}

#[test]
fn compare_flags_a_run_ten_ms_slower() {
    let _m = util::exclusive_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("compare");
    let (fast, slow) = (dir.write("fast.toml", &delay_scenario(5)), dir.write("slow.toml", &delay_scenario(15)));
    let (base, cur, again) = (dir.path().join("base.json"), dir.path().join("cur.json"), dir.path().join("again.json"));
    run_to(&fast, &target, &base).assert_code(0);
    run_to(&slow, &target, &cur).assert_code(0);
    run_to(&fast, &target, &again).assert_code(0);
    let p50 = |p: &Path| u64_at(&read_json(p), "/totals/latency_us/p50") as f64 / 1000.0;
    println!("p50: baseline {:.2} ms, slower {:.2} ms, again {:.2} ms", p50(&base), p50(&cur), p50(&again));

    let compare = |b: &Path, c: &Path, extra: &[&str]| {
        let mut args = vec!["compare", path_str(b), path_str(c)];
        args.extend_from_slice(extra);
        util::stampede(&args)
    };
    let out = compare(&base, &cur, &[]);
    out.assert_code(1);
    assert!(out.stdout.contains("REGRESSION beyond 10%"), "{}", out.stdout);
    assert!(out.stdout.contains("total: p50"), "{}", out.stdout);
    assert!(out.stdout.contains("▲"), "{}", out.stdout);

    // Faster than the baseline, or the same run: no regression.
    compare(&cur, &base, &[]).assert_code(0);
    let same = compare(&base, &base, &[]);
    same.assert_code(0);
    assert!(same.stdout.contains("no regression beyond 10%"), "{}", same.stdout);

    // A second run of the same scenario is no regression, while the slower one still is, at a
    // bound wide enough for the noise of a shared machine.
    compare(&base, &again, &["--max-regression", "50%"]).assert_code(0);
    compare(&base, &cur, &["--max-regression", "50%"]).assert_code(1);
}

/// Bulk load on `/delay/1` beside 10 iterations of `few` (on `/delay/{few_ms}`) and, when
/// `rare`, one request of step `rare` (its user logs in once: `if = "!seen"`).
fn sparse_scenario(few_ms: u64, rare: bool) -> String {
    let probability = if rare { 1.0 } else { 0.0 };
    format!(
        r#"name = "sparse"

[scenarios.bulk]
executor = "constant-vus"
vus = 2
duration = "2s"
users = ["bulk"]

[scenarios.sparse]
executor = "per-vu-iterations"
vus = 1
iterations = 10
users = ["sparse"]

[[users]]
name = "bulk"
  [[users.steps]]
  name = "api"
  request = "GET /delay/1"

[[users]]
name = "sparse"
think = "50ms"
  [[users.steps]]
  name = "rare"
  request = "GET /"
  if = "!seen"
  probability = {probability:.1}
  extract = {{ seen = "header Content-Length" }}

  [[users.steps]]
  name = "few"
  request = "GET /delay/{few_ms}"
"#
    )
}

/// Bug: `compare` flagged a step that went from 1 request to 0 as "-100% REGRESSION", and a p95
/// that moved on 10 samples. Both are "too few to judge" now (`--min-requests`, default 100);
/// with `--min-requests` low enough both are judged again, so the gate is real.
#[test]
fn compare_does_not_judge_rows_with_too_few_requests() {
    let _m = util::exclusive_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("compare-sparse");
    let (base_file, cur_file) =
        (dir.write("base.toml", &sparse_scenario(1, true)), dir.write("cur.toml", &sparse_scenario(40, false)));
    let (base, cur) = (dir.path().join("base.json"), dir.path().join("cur.json"));
    run_to(&base_file, &target, &base).assert_code(0);
    run_to(&cur_file, &target, &cur).assert_code(0);
    let step = |p: &Path, name: &str| {
        let v = read_json(p);
        let steps = at(&v, "/steps").as_array().unwrap().clone();
        steps.into_iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}"))["requests"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((step(&base, "rare"), step(&cur, "rare")), (1, 0));
    assert_eq!((step(&base, "few"), step(&cur, "few")), (10, 10));
    assert!(step(&base, "api") > 200 && step(&cur, "api") > 200);

    let compare = |extra: &[&str]| {
        let mut args = vec!["compare", path_str(&base), path_str(&cur)];
        args.extend_from_slice(extra);
        util::stampede(&args)
    };
    // Judged only on `api` and the totals, which the sparse steps barely touch: `rare` and `few`
    // are never among the regressions, whatever the machine's noise does to the rest.
    let out = compare(&["--max-regression", "50%"]);
    let verdicts = out.stdout.split("\n\n").last().unwrap_or_default().to_string();
    assert!(!verdicts.contains("`rare`") && !verdicts.contains("`few`"), "{}", out.stdout);
    assert!(
        out.stdout.contains("step `rare`  too few to judge (1 → 0 requests; fewer than --min-requests 100)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("step `few`  too few to judge (10 → 10 requests"), "{}", out.stdout);

    // Judged, the 1 → 0 step and the 1 ms → 40 ms median are regressions (the median's intervals
    // of 10 samples each do not overlap; a p95's of 10 samples are open above, so it is not),
    // each printed with its 95% intervals.
    let out = compare(&["--max-regression", "50%", "--min-requests", "1"]);
    out.assert_code(1);
    assert!(out.stdout.contains("step `few`: p50"), "{}", out.stdout);
    assert!(!out.stdout.contains("step `few`: p95"), "{}", out.stdout);
    assert!(out.stdout.contains("beyond what sampling explains (95% intervals"), "{}", out.stdout);
    let out = compare(&["--max-regression", "50%", "--min-requests", "0"]);
    assert!(out.stdout.contains("step `rare`: throughput"), "{}", out.stdout);
    let out = compare(&["--confidence", "97%"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--confidence 97%"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// report
// ---------------------------------------------------------------------------------------------

const TWO_STEPS: &str = r#"name = "report me"
thresholds = ["errors < 1%", "p(99) < 1ms"]

[load]
executor = "constant-vus"
vus = 2
duration = "2s"
graceful_stop = "1s"

[[users]]
name = "u"
  [[users.steps]]
  name = 'fetch "a", then b'
  request = "GET /"

  [[users.steps]]
  name = "slow <one> & more"
  request = "GET /delay/3"
  thresholds = ["p(95) < 100ms"]
"#;

#[test]
fn report_writes_csv_and_junit() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("report");
    let file = dir.write("two.toml", TWO_STEPS);
    let json = dir.path().join("r.json");
    // `p(99) < 1ms` fails: every second request waits 3 ms.
    run_to(&file, &target, &json).assert_code(1);
    let (csv, xml) = (dir.path().join("x.csv"), dir.path().join("y.xml"));
    let out = util::stampede(&["report", path_str(&json), "--csv", path_str(&csv), "--junit", path_str(&xml)]);
    out.assert_code(1);
    assert!(out.stdout.contains("FAIL p(99) < 1ms"), "{}", out.stdout);
    let r = read_json(&json);

    // CSV: a header, then per second a total row and a row per step, fields quoted as needed.
    let seconds = at(&r, "/timeline").as_array().unwrap().len();
    assert!(seconds >= 2, "{seconds} seconds");
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(&csv).expect("CSV opens");
    let header: Vec<String> = reader.headers().expect("a header").iter().map(String::from).collect();
    assert_eq!(&header[..3], ["t", "wall_time", "step"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed record")).collect();
    assert_eq!(rows.len(), seconds * 3);
    let names: Vec<&str> = rows[..3].iter().map(|r| &r[col("step")]).collect();
    assert_eq!(names, ["total", "fetch \"a\", then b", "slow <one> & more"]);
    let n =
        |r: &csv::StringRecord, c: &str| r[col(c)].parse::<u64>().unwrap_or_else(|_| panic!("{c}: {:?}", &r[col(c)]));
    for second in rows.chunks(3) {
        assert_eq!(n(&second[0], "requests"), n(&second[1], "requests") + n(&second[2], "requests"));
        assert!(second.iter().all(|r| r.len() == header.len()));
    }
    let total: u64 = rows.iter().step_by(3).map(|r| n(r, "requests")).sum();
    let timeline: u64 = at(&r, "/timeline").as_array().unwrap().iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(total, timeline);
    assert!(rows[0][col("wall_time")].ends_with('Z'), "{:?}", &rows[0][col("wall_time")]);

    // JUnit: well-formed; a test case per threshold; the failing one has a <failure>.
    let text = std::fs::read_to_string(&xml).unwrap();
    assert_well_formed(&text);
    assert_eq!(text.matches("<testcase ").count(), 3, "{text}");
    assert_eq!(text.matches("<failure ").count(), 1, "{text}");
    assert!(text.contains(r#"<testsuite name="report me" tests="3" failures="1""#), "{text}");
    let failing = text.split("<testcase ").find(|c| c.contains("p(99) &lt; 1ms")).expect("the failing case");
    assert!(failing.contains("<failure message=\"measured "), "{failing}");
    assert!(text.contains(r#"classname="report me.slow &lt;one&gt; &amp; more""#), "{text}");
}

/// A small well-formedness check: tags balance, attribute values are quoted, `&` only starts a
/// known entity, no raw `<` in text, one root element.
fn assert_well_formed(xml: &str) {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").expect("the XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt]);
        let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
        let tag = &rest[lt + 1..gt];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().expect("a tag name");
            let mut attrs = &tag[name.len()..];
            while !attrs.trim().is_empty() {
                let eq = attrs.find("=\"").unwrap_or_else(|| panic!("unquoted attribute in <{tag}>"));
                let end = attrs[eq + 2..].find('"').expect("unterminated attribute") + eq + 2;
                check_text(&attrs[eq + 2..end]);
                attrs = &attrs[end + 1..];
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        rest = &rest[gt + 1..];
    }
    check_text(rest);
    assert!(rest.trim().is_empty() && stack.is_empty() && roots == 1, "unbalanced: {stack:?}, {roots} roots");
}

fn check_text(t: &str) {
    assert!(!t.contains('<'), "raw < in {t:?}");
    for (i, _) in t.match_indices('&') {
        let entity = &t[i..t[i..].find(';').map_or(t.len(), |e| i + e + 1)];
        assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity), "bad entity {entity:?}");
    }
    assert!(t.chars().all(|c| c >= ' ' || "\t\n\r".contains(c)), "control character in {t:?}");
}

/// `--hdr-log` of a real run reads back with the HdrHistogram interval-log reader: one interval
/// a second, each decoding to a histogram, together holding every latency of the run.
#[test]
fn hdr_log_of_a_run_reads_back_with_hdrhistogram() {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("hdr-log");
    let (json, log) = (dir.path().join("r.json"), dir.path().join("r.hlog"));
    let out = bench_to(
        &format!("{}/", target.url()),
        &json,
        &["-c", "4", "-d", "2s", "-t", "1", "--hdr-log", path_str(&log)],
    );
    out.assert_code(0);
    let doc = read_json(&json);
    let total = decode_histogram(at(&doc, "/histogram").as_str().unwrap()).unwrap();
    let text = std::fs::read(&log).expect("the log was written");
    let mut counts = Vec::new();
    for entry in IntervalLogIterator::new(&text) {
        if let LogEntry::Interval(i) = entry.expect("a valid log entry") {
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram())
                .expect("base64 histogram");
            let h: hdrhistogram::Histogram<u64> =
                Deserializer::new().deserialize(&mut &bytes[..]).expect("a V2-deflate histogram");
            counts.push(h.len());
        }
    }
    assert!(counts.len() >= 2, "one interval a second: {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), total.len(), "the intervals hold every latency of the run");
}

/// Run `file` as shards 1/2 and 2/2 side by side (each at `--json`), then merge them: the shards'
/// documents and the merged one.
fn shards_merged(dir: &TempDir, file: &Path, target: &TestTarget) -> (Value, Value, Outcome, Value) {
    let json = |name: &str| dir.path().join(name);
    let (a, b, m) = (json("a.json"), json("b.json"), json("m.json"));
    let run = |shard: &str, out: &Path| {
        let args = ["run", path_str(file), "--target", &target.url(), "-t", "1", "-q", "--shard", shard];
        util::stampede(&[&args[..], &["--json", path_str(out)]].concat())
    };
    let (out_a, out_b) = std::thread::scope(|s| {
        let ha = s.spawn(|| run("1/2", &a));
        let hb = s.spawn(|| run("2/2", &b));
        (ha.join().expect("shard 1/2"), hb.join().expect("shard 2/2"))
    });
    for out in [&out_a, &out_b] {
        assert!(matches!(out.code, Some(0 | 1)), "{}", out.describe());
    }
    let merged = util::stampede(&["merge", path_str(&a), path_str(&b), "-o", path_str(&m)]);
    assert!(matches!(merged.code, Some(0 | 1)), "{}", merged.describe());
    (read_json(&a), read_json(&b), merged, read_json(&m))
}

/// The threshold `expr` of a result document.
fn threshold_in<'a>(doc: &'a Value, expr: &str) -> &'a Value {
    let all = at(doc, "/thresholds").as_array().expect("thresholds is an array");
    all.iter().find(|t| t["expr"] == expr).unwrap_or_else(|| panic!("no threshold `{expr}` in {all:?}"))
}

/// `merge` of shards that watch a series and have a threshold on it stopped with exit 2 ("names
/// metric `g`, which the result does not have"): the shards' samples are pooled and judged.
#[test]
fn regression_merge_of_shards_with_a_threshold_on_a_watched_series_exited_2() {
    let _m = util::shared_machine();
    let start = std::time::Instant::now();
    // One gauge both shards watch: 10 for the first second, 40 after.
    let exporter = crate::util::exporter::Exporter::start(move || {
        let v = if start.elapsed().as_secs_f64() < 1.0 { 10 } else { 40 };
        format!("# TYPE test_gauge gauge\ntest_gauge {v}\n")
    });
    let target = TestTarget::start();
    let dir = TempDir::new("merge-series");
    let file = dir.write(
        "watch.toml",
        &format!(
            r#"thresholds = ["avg(g) < 1000", "max(g) < 20"]

[load]
executor = "constant-vus"
vus = 2
duration = "3s"

[monitor]
scrape = ["{}"]

[monitor.series]
g = "test_gauge"

[[users]]
name = "u"
think = "50ms"
  [[users.steps]]
  request = "GET /"
"#,
            exporter.url()
        ),
    );
    let (a, b, merged, m) = shards_merged(&dir, &file, &target);
    assert_eq!(
        merged.code,
        Some(1),
        "max(g) < 20 fails on the merged samples, as on each shard's\n{}",
        merged.describe()
    );
    let series = |d: &Value| d["monitor"]["series"]["g"].clone();
    let (sa, sb) = (series(&a), series(&b));
    let n = |s: &Value| s["samples"].as_f64().unwrap();
    assert!(n(&sa) >= 2.0 && n(&sb) >= 2.0, "each shard sampled the gauge: {sa} {sb}");
    let pooled = (sa["avg"].as_f64().unwrap() * n(&sa) + sb["avg"].as_f64().unwrap() * n(&sb)) / (n(&sa) + n(&sb));
    let avg = threshold_in(&m, "avg(g) < 1000");
    assert_eq!(avg["ok"], true, "{avg}");
    assert!(
        (avg["value"].as_f64().unwrap() - pooled).abs() < 1e-3,
        "the mean of both shards' samples, {pooled}: {avg}"
    );
    let max = threshold_in(&m, "max(g) < 20");
    assert_eq!((&max["ok"], max["value"].as_f64()), (&false.into(), Some(40.0)), "{max}");
    assert!(target.route("GET /") > 0);
}

/// `merge` measured a step's `rps` threshold over the whole run (3 s) where a single run divides
/// by the time that step's scenario ran (1.5 s): half the rate it ran at.
#[test]
fn regression_merge_judged_a_step_rps_over_the_whole_run() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("merge-step-rps");
    let file = dir.write(
        "spike.toml",
        r#"[scenarios.base]
executor = "constant-vus"
vus = 2
duration = "3s"
users = ["fast"]

[scenarios.spike]
executor = "constant-vus"
vus = 2
duration = "1500ms"
start_time = "1500ms"
users = ["slow"]

[[users]]
name = "fast"
think = "20ms"
  [[users.steps]]
  request = "GET /"

[[users]]
name = "slow"
  [[users.steps]]
  request = "GET /delay/40"
  thresholds = ["rps > 0"]
"#,
    );
    let (a, b, _, m) = shards_merged(&dir, &file, &target);
    let sent = target.route("GET /delay");
    let rps = |d: &Value| threshold_in(d, "rps > 0")["value"].as_f64().unwrap();
    // Two users on /delay/40 for 1.5 s (one per shard): about 50 req/s together.
    let want = sent as f64 / 1.5;
    assert!((rps(&m) - want).abs() <= want * 0.1, "{} req/s merged; the server saw {sent} in 1.5 s", rps(&m));
    assert!(
        (rps(&m) - (rps(&a) + rps(&b))).abs() <= want * 0.05,
        "the shards' rates add up: {} + {}",
        rps(&a),
        rps(&b)
    );
}

/// `merge` combined a `during` window's threshold from the shards' verdicts (the highest value,
/// ok only if each was): 20 requests a shard in a window that needs 30 failed merged, where the
/// run of both sent 40 in it. The shards' windows are added and measured again.
#[test]
fn regression_merge_combined_window_thresholds_from_the_shards_verdicts() {
    let _m = util::shared_machine();
    let target = TestTarget::start();
    let dir = TempDir::new("merge-window");
    let file = dir.write(
        "rate.toml",
        r#"thresholds = [{ expr = "requests > 30", during = "1s..2s" }, { expr = "p(95) < 5s", during = "1s..2s" }]

[load]
executor = "constant-arrival-rate"
rate = 40
duration = "3s"

[[users]]
name = "u"
  [[users.steps]]
  request = "GET /"
"#,
    );
    let (a, b, merged, m) = shards_merged(&dir, &file, &target);
    let count = |d: &Value| threshold_in(d, "requests > 30")["value"].as_f64().unwrap();
    let (ca, cb) = (count(&a), count(&b));
    assert!(ca <= 30.0 && cb <= 30.0, "each shard sent half the rate in the window: {ca}, {cb}");
    let w = threshold_in(&m, "requests > 30");
    assert_eq!((&w["ok"], w["value"].as_f64()), (&true.into(), Some(ca + cb)), "{w}");
    assert_eq!((&w["during"], &w["window"]["from_s"]), (&"1s..2s".into(), &1.0.into()), "{w}");
    merged.assert_code(0);
    // The window's latency: the p95 of both shards' window histograms added.
    let h =
        |d: &Value| decode_histogram(threshold_in(d, "p(95) < 5s")["window"]["histogram"].as_str().unwrap()).unwrap();
    let mut sum = stampede::stats::histogram();
    sum.add(h(&a)).unwrap();
    sum.add(h(&b)).unwrap();
    let p95 = threshold_in(&m, "p(95) < 5s")["value"].as_f64().unwrap();
    assert_eq!(p95, (sum.value_at_quantile(0.95) as f64 / 1000.0 * 1000.0).round() / 1000.0, "{}", m["thresholds"]);
}
