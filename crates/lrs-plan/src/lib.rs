//! The restore planner: given every backup set found in a folder (any upload order, names
//! meaningless), decide what to restore, in which order, what to skip and why, and what is
//! missing — with the outcome and the SQL Server error numbers a real restore would give.
//!
//! Pure: no I/O, no async. [`Planner`] takes files as they are discovered (and restore progress
//! as sets are restored) and produces a [`Plan`]. Rules (see `docs/planner.md`):
//!
//! * sets are grouped by BackupSetGUID; a striped set needs all its media families;
//! * the base is the latest non-copy-only full (a copy-only full only when there is no other);
//! * the differential is the latest one whose DifferentialBaseGUID is the base (others on the
//!   same base are superseded; on another base they fail with 3136);
//! * from the redo point R, a log applies when FirstLSN ≤ R ≤ LastLSN and it starts on the
//!   database's current recovery fork; logs without records are skipped; LastLSN < R is too
//!   early (4326); FirstLSN > R is a gap (4305): the plan blocks, waiting for LSN R.

mod chain;
mod chunked;
mod errors;
mod plan;
mod planner;
mod report;
mod sets;

pub use errors::{SqlError, too_early, too_recent, wrong_differential_base};
pub use plan::{Blocked, Plan, PlannedSet, SetStatus, Unrestorable};
pub use planner::Planner;
pub use sets::{Options, SetKind, SourceFile, StripeRef};
