//! `stampede capacity`: the highest arrival rate a service sustains while its SLOs hold. The
//! search ([`search`]) walks rates as a pure function of the verdicts so far; each step runs the
//! engine at one rate and is judged on its window after the warm-up ([`judge`]); the steps, the
//! answer and its spread are reported ([`report`]); the command ([`command`]) runs the steps,
//! watches them second by second, and prints the curve.

pub mod command;
pub mod judge;
pub mod report;
pub mod search;

pub use judge::{Verdict, Window, clearly_lost, judge};
pub use report::{CapacityResult, SearchAnswer, Spread, StepReport, Unit};
pub use search::{MIN_USERS, Next, Phase, Search, SearchConfig, users_for};
