//! CSV of the per-second timeline (being written).

use super::RunResult;

pub fn timeline(_r: &RunResult) -> String {
    String::new()
}
