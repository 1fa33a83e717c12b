//! Self-contained HTML report (being written).

use super::RunResult;

pub fn render(r: &RunResult) -> String {
    format!("<!doctype html><title>{}</title><pre>{}</pre>", r.name, super::text::summary(r))
}
