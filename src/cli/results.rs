//! `stampede report`, `merge` and `compare`: work on saved result documents.

use std::path::Path;

use anyhow::Context;

use crate::cli::{CompareArgs, MergeArgs, Outcome, ReportArgs};
use crate::error::PlanError;
use crate::report::{self, RunResult};

/// Read a result document, refusing files that are not one (exit 2).
pub fn read(path: &Path) -> Result<RunResult, PlanError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| PlanError::File { path: path.display().to_string(), source })?;
    let r: RunResult = serde_json::from_str(&text)
        .map_err(|e| PlanError::Invalid(format!("{}: not a stampede result document: {e}", path.display())))?;
    if r.schema != report::result::SCHEMA {
        return Err(PlanError::Invalid(format!(
            "{}: schema `{}`, this stampede reads `{}`",
            path.display(),
            r.schema,
            report::result::SCHEMA
        )));
    }
    Ok(r)
}

pub fn report(args: ReportArgs) -> anyhow::Result<Outcome> {
    args.out.refuse_hdr_log("report")?;
    let r = read(&args.file)?;
    print!("{}", report::text::summary(&r));
    report::write_files(&r, &args.out.files())?;
    Ok(crate::cli::execute::outcome(&r))
}

pub fn merge(args: MergeArgs) -> anyhow::Result<Outcome> {
    args.out.refuse_hdr_log("merge")?;
    let results = args.files.iter().map(|f| read(f)).collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let docs: Vec<(&str, &RunResult)> = names.iter().map(String::as_str).zip(&results).collect();
    // What cannot merge at all first (another schema, other steps, the same document twice).
    let mut merged = report::merge::merge(&results).map_err(PlanError::Invalid)?;
    let problems = report::identity::not_one_run(&docs);
    if !problems.is_empty() && !args.force {
        return Err(PlanError::Invalid(format!(
            "these are not the shards of one run (--force merges them anyway):\n  {}",
            problems.join("\n  ")
        ))
        .into());
    }
    if !problems.is_empty() {
        // Not one run: the merged document identifies none.
        merged.run = None;
        merged.generator.warnings.extend(problems.into_iter().map(|p| format!("merged with --force: {p}")));
    }
    print!("{}", report::text::summary(&merged));
    let mut files = args.out.files();
    files.json = Some(args.output.clone());
    report::write_files(&merged, &files).context("cannot write the merged result")?;
    Ok(crate::cli::execute::outcome(&merged))
}

pub fn compare(args: CompareArgs) -> anyhow::Result<Outcome> {
    let base = read(&args.baseline)?;
    let cur = read(&args.current)?;
    let bound = parse_percent(&args.max_regression)?;
    let mut rules = report::compare::Rules::new(bound);
    for (flag, value, into) in [("--p95", &args.p95, &mut rules.p95), ("--p99", &args.p99, &mut rules.p99)] {
        if let Some(v) = value {
            *into = parse_percent(v).map_err(|e| PlanError::Invalid(format!("{flag} {e}")))?;
        }
    }
    rules.min_requests = args.min_requests;
    let confidence = parse_percent(&args.confidence)?;
    if report::compare::z_of(confidence).is_none() {
        return Err(PlanError::Invalid(format!(
            "--confidence {}: use 80%, 90%, 95%, 98%, 99% or 99.9%",
            args.confidence
        ))
        .into());
    }
    rules.confidence = confidence;
    let c = report::compare::compare(&base, &cur, &rules);
    print!("{}", c.table);
    if c.regressions.is_empty() {
        println!("\nno regression beyond {}", args.max_regression);
        Ok(Outcome::Ok)
    } else {
        println!("\nREGRESSION beyond {}:", args.max_regression);
        for r in &c.regressions {
            println!("  {r}");
        }
        Ok(Outcome::ThresholdsFailed)
    }
}

/// `10%` or `0.1` → 0.1.
pub fn parse_percent(text: &str) -> Result<f64, PlanError> {
    let t = text.trim();
    let v: f64 = t
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| PlanError::Invalid(format!("`{text}` is not a percentage such as 10%")))?;
    let frac = if t.ends_with('%') { v / 100.0 } else { v };
    if !(frac >= 0.0 && frac.is_finite()) {
        return Err(PlanError::Invalid(format!("`{text}` must be 0% or more")));
    }
    Ok(frac)
}
