//! `stampede doctor`: check the running box against tuning/ and say what to change.

use crate::cli::{DoctorArgs, Outcome};

pub fn run(_args: DoctorArgs) -> anyhow::Result<Outcome> {
    println!("doctor: not written yet");
    Ok(Outcome::Ok)
}
