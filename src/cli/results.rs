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
    let merged = report::merge::merge(&results).map_err(PlanError::Invalid)?;
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
    let c = report::compare::compare(&base, &cur, bound);
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
