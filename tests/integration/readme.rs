//! The README's samples stay honest: every fenced block right after an HTML comment
//! `<!-- sample: ARGS -->` is the output of `stampede ARGS` (`$TARGET` is the in-process built-in
//! target's URL), and each of its lines must appear in the real output with the same shape —
//! numbers, durations and sizes aside (a line `...` stands for lines left out; the `generator`
//! line and its warnings depend on what else the machine runs, and are not compared).

use std::path::Path;
use std::process::Command;

use crate::util::{self, TestTarget};

/// A line's shape: numbers become `N`, durations `T`, sizes `S`, runs of spaces one space.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
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
    }
    out
}

/// Each `(args, sample lines)` of the README.
fn samples(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(args) = line.trim().strip_prefix("<!-- sample:").and_then(|a| a.strip_suffix("-->")) else { continue };
        assert_eq!(lines.next().map(str::trim), Some("```"), "a sample comment is followed by its block: {line}");
        let block: Vec<String> = lines.by_ref().take_while(|l| l.trim() != "```").map(str::to_string).collect();
        found.push((args.trim().to_string(), block));
    }
    found
}

#[test]
fn the_readmes_samples_have_the_lines_of_the_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let samples = samples(&readme);
    assert!(samples.len() >= 2, "the README marks its samples with <!-- sample: ARGS -->");
    let target = TestTarget::start();
    let _m = util::shared_machine();
    for (args, block) in samples {
        let args = args.replace("$TARGET", &target.url());
        let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(args.split_whitespace())
            .current_dir(root)
            .output()
            .expect("run stampede");
        let real = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let shapes: Vec<String> = real.lines().map(shape).collect();
        let missing: Vec<&String> = block
            .iter()
            .filter(|l| !l.trim().is_empty() && l.trim() != "...")
            .filter(|l| !l.trim_start().starts_with("generator") && !l.trim_start().starts_with("WARNING"))
            .filter(|l| !shapes.contains(&shape(l)))
            .collect();
        assert!(
            missing.is_empty(),
            "`stampede {args}`: README lines the real output does not have: {missing:#?}\nreal output:\n{real}"
        );
    }
}

#[test]
fn a_lines_shape_keeps_words_and_drops_numbers() {
    assert_eq!(shape("  requests    9,220 in 8.0s, 1,153 req/s"), "requests N in T, N req/s");
    assert_eq!(shape("latency min 27µs  mean 1.02ms"), "latency min T mean T");
    assert_eq!(shape("transfer    in 1.19 MiB (152.91 KiB/s)"), "transfer in S (S/s)");
    assert_ne!(shape("errors      none"), shape("errors      1"));
}
