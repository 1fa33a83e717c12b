//! The README's samples stay honest: every fenced block right after HTML comments
//! `<!-- sample: ARGS -->` shows the output of `stampede ARGS`, and each of its lines must appear
//! in the real output with the same shape — numbers, durations, sizes and fingerprints aside.
//!
//! - Several comments before one block: the block shows the outputs of them all (two refused
//!   files, one error line each).
//! - Words before the colon change how a command runs:
//!   - `exit N`: its exit code must be N (not checked without it);
//!   - `setup`: run first and must exit 0, its output not compared (the result files a `compare`
//!     reads);
//!   - `tty`: in a pseudo-terminal through `script`, as a user at a terminal sees it (the live
//!     view);
//!   - `seccomp`: under a seccomp filter that refuses io_uring, as Docker's default profile does;
//!   - `netns`: in a network namespace of its own, loopback up and
//!     `net.ipv4.ip_local_port_range` 60000 60499 (500 ports);
//!   - `indir`: in `$DIR` rather than the repository's root (result files by their short names);
//!   - `background`: started, then the block's next commands run while it goes (`stampede ctl`
//!     steering it), and its output is read when it ends; a `setup` command that fails meanwhile
//!     (the run not listening or not started yet) is tried again for up to 20 s;
//!   - `alone`: a run whose output depends on timing, such as a capacity search: these go in a
//!     test of their own, with the machine alone;
//!   - `json FILE`, on a block fenced ```json: the block is the JSON document the command wrote
//!     to FILE, shortened; every key it has must be in the real document, with a value of the
//!     same kind (number, string, bool, null, object, array; array items by position).
//! - In ARGS: `$TARGET` is the in-process built-in target's URL, `$ADDR` a free loopback address
//!   (`127.0.0.1:PORT`, for a dashboard), `$DIR` a directory of the test's own (for files one
//!   command writes and the next reads), `$PROMETHEUS` a real Prometheus (the Debian package,
//!   started when a sample names it), `$SCRAPE` a Prometheus text page served by the test
//!   (`node_load1`, `node_memory_MemAvailable_bytes`), `$SELF_SIGNED` an https server whose
//!   certificate is a self-signed CA certificate. Arguments are split as a shell would, with
//!   single and double quotes. Commands run in the repository's root, so files of the repository
//!   (`scenarios/`, `tests/readme/`) are found by their relative paths.
//! - The same command twice runs once: several blocks may show parts of one output.
//! - In a block, a line `...` stands for lines left out; a line starting with `$ ` is the command
//!   as typed (with its `\` continuation lines); the `generator` line and `WARNING` lines depend
//!   on what else the machine runs: none of these are compared.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::prometheus::Prometheus;
use crate::util::tls_server::{Identity, TlsServer, TlsSettings};
use crate::util::{self, TempDir, TestTarget};

/// A line's shape: numbers become `N`, durations `T`, sizes `S`, hex digests (8 or more hex
/// digits, with digits and letters: a fingerprint) `H`, runs of spaces one space.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.trim().chars().peekable();
    let mut after_word = false;
    while let Some(c) = chars.next() {
        let word: String = std::iter::once(c).chain(chars.clone()).take_while(char::is_ascii_alphanumeric).collect();
        let digest = word.len() >= 8
            && word.chars().all(|x| x.is_ascii_hexdigit())
            && word.chars().any(|x| x.is_ascii_digit())
            && word.chars().any(|x| x.is_ascii_alphabetic());
        if !after_word && digest {
            (0..word.len() - 1).for_each(|_| _ = chars.next());
            out.push('H');
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(|d| d.is_ascii_digit() || *d == '.' || *d == ',') {
                chars.next();
            }
            let rest: String = chars.clone().take(4).collect();
            let (kind, skip) = match () {
                _ if rest.starts_with("µs") || rest.starts_with("ms") => ('T', 2),
                _ if [" KiB", " MiB", " GiB"].iter().any(|u| rest.starts_with(u)) => ('S', 4),
                _ if rest.starts_with(" B") && !rest[2..].starts_with(|x: char| x.is_alphabetic()) => ('S', 2),
                _ if rest.starts_with('s') && !rest[1..].starts_with(|x: char| x.is_alphabetic()) => ('T', 1),
                _ => ('N', 0),
            };
            for _ in 0..skip {
                chars.next();
            }
            out.push(kind);
        } else if c.is_whitespace() {
            while chars.peek().is_some_and(|d| d.is_whitespace()) {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
        after_word = c.is_alphanumeric();
    }
    out
}

/// One `<!-- sample ...: ARGS -->` comment.
#[derive(Debug, Clone, PartialEq, Default)]
struct Run {
    args: String,
    exit: Option<i32>,
    setup: bool,
    tty: bool,
    seccomp: bool,
    netns: bool,
    indir: bool,
    background: bool,
    alone: bool,
    json: Option<String>,
}

/// A sample: the commands before a block, the block's lines, and the README line it starts on.
#[derive(Debug)]
struct Sample {
    runs: Vec<Run>,
    block: Vec<String>,
    line: usize,
    /// Fenced as ```json.
    json: bool,
}

/// The run a comment line asks for, if it is a sample comment.
fn parse_comment(line: &str) -> Option<Run> {
    let inner = line.trim().strip_prefix("<!-- sample")?.strip_suffix("-->")?;
    let (words, args) = inner.split_once(':')?;
    let mut run = Run { args: args.trim().to_string(), ..Run::default() };
    let mut words = words.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "setup" => run.setup = true,
            "tty" => run.tty = true,
            "seccomp" => run.seccomp = true,
            "netns" => run.netns = true,
            "indir" => run.indir = true,
            "background" => run.background = true,
            "json" => run.json = Some(words.next().expect("`json FILE` takes a file").to_string()),
            "alone" => run.alone = true,
            "exit" => run.exit = Some(words.next().and_then(|n| n.parse().ok()).expect("`exit N` takes a number")),
            other => panic!("unknown word `{other}` in a sample comment: {line}"),
        }
    }
    Some(run)
}

/// Every sample of the README.
fn samples(readme: &str) -> Vec<Sample> {
    let mut found = Vec::new();
    let mut runs = Vec::new();
    let mut lines = readme.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if let Some(run) = parse_comment(line) {
            runs.push(run);
            continue;
        }
        if runs.is_empty() {
            continue;
        }
        let fence = line.trim();
        assert!(
            fence == "```" || fence == "```json",
            "README line {}: sample comments are followed by their block",
            n + 1
        );
        let mut closed = false;
        let block: Vec<String> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| {
                closed = l.trim() == "```";
                !closed
            })
            .map(String::from)
            .collect();
        let fenced = closed && !block.iter().any(|l| l.contains("```"));
        assert!(fenced, "README line {}: a sample's block is not closed by a line ``` alone", n + 1);
        found.push(Sample { runs: std::mem::take(&mut runs), block, line: n + 1, json: fence == "```json" });
    }
    found
}

/// The lines of a block that must be in the real output.
fn compared(block: &[String]) -> Vec<&String> {
    let mut continued = false;
    block
        .iter()
        .filter(|l| {
            let t = l.trim();
            let command = continued || t.starts_with("$ ");
            continued = command && t.ends_with('\\');
            !command && !t.is_empty() && t != "..." && !t.starts_with("generator") && !t.starts_with("WARNING")
        })
        .collect()
}

/// ARGS split as a shell splits them: on spaces, with '...' and "..." quoting.
fn split(args: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    for c in args.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => (quote, started) = (Some(c), true),
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            (None, c) => word.push(c),
        }
    }
    assert!(quote.is_none(), "unbalanced quote in `{args}`");
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

/// The peers samples name, started when first named and stopped at the end of the test.
struct Peers {
    target: TestTarget,
    addr: String,
    dir: TempDir,
    prometheus: Option<Prometheus>,
    scrape: Option<util::exporter::Exporter>,
    self_signed: Option<TlsServer>,
}

impl Peers {
    fn new(name: &str) -> Peers {
        Peers {
            target: TestTarget::start(),
            addr: format!("127.0.0.1:{}", util::prometheus::free_port()),
            dir: TempDir::new(name),
            prometheus: None,
            scrape: None,
            self_signed: None,
        }
    }

    /// `args` with its `$NAME`s replaced, starting what they name.
    fn expand(&mut self, args: &str) -> String {
        let mut args = args
            .replace("$TARGET", &self.target.url())
            .replace("$ADDR", &self.addr)
            .replace("$DIR", self.dir.path().to_str().unwrap());
        if args.contains("$PROMETHEUS") {
            let p = self.prometheus.get_or_insert_with(Prometheus::start);
            args = args.replace("$PROMETHEUS", &format!("http://{}", p.addr));
        }
        if args.contains("$SCRAPE") {
            let page = || {
                "# TYPE node_load1 gauge\nnode_load1 0.31\n# TYPE node_memory_MemAvailable_bytes gauge\nnode_memory_MemAvailable_bytes 2.1942099968e+10\n".to_string()
            };
            args = args
                .replace("$SCRAPE", &self.scrape.get_or_insert_with(|| util::exporter::Exporter::start(page)).url());
        }
        if args.contains("$SELF_SIGNED") {
            args = args.replace("$SELF_SIGNED", &self.self_signed.get_or_insert_with(self_signed_server).url("/"));
        }
        args
    }
}

/// An https server whose certificate is self-signed and marked as a CA (what `openssl req -x509`
/// makes), for 127.0.0.1.
fn self_signed_server() -> TlsServer {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let identity = Identity::from_parts(cert.pem(), key.serialize_pem(), cert.der().clone(), key.serialize_der());
    TlsServer::start(TlsSettings::new(identity))
}

/// Text as a terminal shows it: escape sequences dropped, carriage returns as line ends.
fn as_on_a_terminal(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.next_if_eq(&'[').is_some() {
                    while chars.next().is_some_and(|d| !('@'..='~').contains(&d)) {}
                }
            }
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// The command of one sample, to run in `cwd` (the repository's root, or `$DIR`).
fn command(cwd: &Path, args: &[String], run: &Run) -> Command {
    let bin = env!("CARGO_BIN_EXE_stampede");
    let mut cmd = if run.netns {
        // As `util::run::in_netns`: the run is the first process of a PID namespace of its own.
        let script = "ip link set lo up || exit 97; sysctl -qw net.ipv4.ip_local_port_range='60000 60499' || exit 97; exec \"$0\" \"$@\"";
        let mut cmd = Command::new("unshare");
        cmd.args(["-n", "--pid", "--fork", "--kill-child", "sh", "-c", script, bin]).args(args);
        cmd
    } else if run.tty {
        // `script` (util-linux, in every Debian) gives the command a pseudo-terminal.
        let quoted: Vec<String> = std::iter::once(bin.to_string())
            .chain(args.iter().cloned())
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &quoted.join(" "), "/dev/null"]).env("TERM", "xterm");
        cmd
    } else {
        let mut cmd = Command::new(bin);
        cmd.args(args);
        cmd
    };
    if run.seccomp {
        // SAFETY: the closure only calls prctl (async-signal-safe) between fork and exec.
        unsafe {
            cmd.pre_exec(crate::io::refuse_io_uring);
        }
    }
    cmd.current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// A finished command's stdout and stderr, as one text (as a terminal shows it, for `tty`).
fn text_of(out: &Output, run: &Run) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if run.tty { as_on_a_terminal(&text) } else { text }
}

/// Run one sample command and check its exit code: its output. A `setup` command beside a
/// `background` one is tried again while it fails (the run not listening or not started yet:
/// exit 3, or 1 "has not started yet"), for up to 20 s; if the background run has ended, it
/// says so with what it printed.
fn execute(cwd: &Path, args: &[String], run: &Run, line: usize, mut beside: Option<&mut Child>) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = command(cwd, args, run).output().expect("run stampede");
        let (code, text) = (out.status.code(), text_of(&out, run));
        if let Some(child) = beside.as_deref_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let mut said = String::new();
            child.stderr.take().map(|mut e| std::io::Read::read_to_string(&mut e, &mut said));
            panic!(
                "README line {line}: the background command ended ({status}) before `stampede {}`:\n{said}",
                run.args
            );
        }
        if beside.is_some() && run.setup && code != Some(0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let wanted = if run.setup { Some(0) } else { run.exit };
        assert!(
            wanted.is_none() || code == wanted,
            "README line {line}: `stampede {}` exited {code:?}, not {wanted:?}:\n{text}",
            run.args
        );
        return text;
    }
}

/// The real output of a sample's commands (each run once: `outputs` keeps them).
fn real_output(root: &Path, s: &Sample, peers: &mut Peers, outputs: &mut HashMap<String, String>) -> String {
    let mut real = String::new();
    let mut background: Option<(String, &Run, Child)> = None;
    for run in &s.runs {
        // A command shown both as text and as the JSON it wrote runs once.
        let key = format!("{:?}", Run { json: None, ..run.clone() });
        if !outputs.contains_key(&key) {
            let args = split(&peers.expand(&run.args));
            let cwd = if run.indir { peers.dir.path() } else { root };
            if run.background {
                background = Some((key, run, command(cwd, &args, run).spawn().expect("start stampede")));
                continue;
            }
            let text = execute(cwd, &args, run, s.line, background.as_mut().map(|b| &mut b.2));
            outputs.insert(key.clone(), text);
        }
        if !run.setup {
            real.push_str(&outputs[&key]);
        }
    }
    if let Some((key, run, child)) = background {
        // Bounded: the command's own duration ends it, if no `stop` did.
        let out = child.wait_with_output().expect("wait for stampede");
        let (code, text) = (out.status.code(), text_of(&out, run));
        let line = s.line;
        assert!(
            run.exit.is_none() || code == run.exit,
            "README line {line}: `stampede {}` exited {code:?}:\n{text}",
            run.args
        );
        real.push_str(&text);
        outputs.insert(key, text);
    }
    real
}

/// The keys of `sample` that `real` lacks, or holds a value of another kind under, as paths.
fn json_missing(sample: &Value, real: &Value, at: &str, missing: &mut Vec<String>) {
    match (sample, real) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(r) => json_missing(v, r, &format!("{at}.{k}"), missing),
                    None => missing.push(format!("{at}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, v) in a.iter().enumerate() {
                match b.get(i) {
                    Some(r) => json_missing(v, r, &format!("{at}[{i}]"), missing),
                    None => missing.push(format!("{at}[{i}]")),
                }
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        (a, b) => missing.push(format!("{at}: {a} in the sample, {b} in the real document")),
    }
}

/// Check every sample whose commands are `alone` (or not): run each command once, then every
/// block's lines against its commands' outputs. Returns how many samples were checked.
fn check(alone: bool) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let samples: Vec<Sample> =
        samples(&readme).into_iter().filter(|s| s.runs.iter().any(|r| r.alone) == alone).collect();
    let mut peers = Peers::new(if alone { "readme-alone" } else { "readme" });
    let mut outputs: HashMap<String, String> = HashMap::new();
    let mut failures = Vec::new();
    for s in &samples {
        let real = real_output(root, s, &mut peers, &mut outputs);
        if s.json {
            let file = s.runs.iter().find_map(|r| r.json.as_ref()).expect("a ```json sample says `json FILE`");
            let sample: Value = serde_json::from_str(&s.block.join("\n")).expect("the sample block is JSON");
            let written = std::fs::read_to_string(peers.expand(file)).expect("the sample's command wrote its JSON");
            let mut missing = Vec::new();
            json_missing(&sample, &serde_json::from_str(&written).unwrap(), "", &mut missing);
            if !missing.is_empty() {
                failures
                    .push(format!("README line {}: the JSON written does not have: {missing:#?}\n{written}", s.line));
            }
            continue;
        }
        let shapes: Vec<String> = real.lines().map(shape).collect();
        let missing: Vec<&String> = compared(&s.block).into_iter().filter(|l| !shapes.contains(&shape(l))).collect();
        if !missing.is_empty() {
            let args: Vec<&str> = s.runs.iter().filter(|r| !r.setup).map(|r| r.args.as_str()).collect();
            failures.push(format!(
                "README line {}, `stampede {}`: lines the real output does not have: {missing:#?}\nreal output:\n{real}",
                s.line,
                args.join("` + `stampede ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    samples.len()
}

#[test]
fn the_readmes_samples_have_the_lines_of_the_real_output() {
    let _m = util::shared_machine();
    let checked = check(false);
    assert!(checked >= 10, "the README marks its samples with <!-- sample: ARGS --> ({checked} found)");
}

/// The samples of capacity searches: their answers and verdicts depend on timing.
#[test]
#[ignore = "pre-release set (half a minute alone): bash .ci/run --full"]
fn the_readmes_capacity_samples_have_the_lines_of_the_real_output() {
    let _m = util::exclusive_machine();
    assert!(check(true) >= 1, "the README marks its capacity samples with <!-- sample alone: ARGS -->");
}

#[test]
fn a_lines_shape_keeps_words_and_drops_numbers() {
    assert_eq!(shape("  requests    9,220 in 8.0s, 1,153 req/s"), "requests N in T, N req/s");
    assert_eq!(shape("latency min 27µs  mean 1.02ms"), "latency min T mean T");
    assert_eq!(shape("transfer    in 1.19 MiB (152.91 KiB/s)"), "transfer in S (S/s)");
    assert_ne!(shape("errors      none"), shape("errors      1"));
    assert_eq!(
        shape("b.json ran another plan than a.json (fingerprint 0c02772e58a3ce3d against b89ffc347007170c: another"),
        "b.json ran another plan than a.json (fingerprint H against H: another"
    );
    assert_eq!(shape("deadbeef 2026 ab12 21942099968"), "deadbeef N abN N");
}

#[test]
fn sample_comments_blocks_and_arguments_are_read_as_documented() {
    let readme = "text\n<!-- sample setup: bench $TARGET -d 1s --json $DIR/a.json -->\n<!-- sample exit 1: compare $DIR/a.json $DIR/a.json --slo \"p(99) < 1ms\" -->\n```\n$ stampede compare \\\n    a.json\n...\n  total\n```\n";
    let found = samples(readme);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].runs.len(), 2);
    assert!(found[0].runs[0].setup && found[0].runs[1].exit == Some(1) && !found[0].runs[1].tty);
    assert_eq!(compared(&found[0].block), [&"  total".to_string()]);
    assert_eq!(split("compare a 'b c' --slo \"p(99) < 1ms\" ''"), ["compare", "a", "b c", "--slo", "p(99) < 1ms", ""]);
    assert_eq!(as_on_a_terminal("\u{1b}[2Kone\r\n\u{1b}[1Atwo"), "one\n\ntwo");
    let mut missing = Vec::new();
    let real = serde_json::json!({"a": 1.5, "b": [{"c": "x"}], "d": null, "e": true});
    json_missing(
        &serde_json::json!({"a": 2, "b": [{"c": "y", "z": 1}, {}], "d": null, "e": 1}),
        &real,
        "",
        &mut missing,
    );
    assert_eq!(missing, [".b[0].z", ".b[1]", ".e: 1 in the sample, true in the real document"]);
}
