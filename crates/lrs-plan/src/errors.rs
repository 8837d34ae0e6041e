//! SQL Server's restore error numbers and messages, as the engine's message catalog words them
//! (`%ls` arguments filled with decimal LSNs).

use lrs_backup::Lsn;
use serde::Serialize;

/// A SQL Server error: number and message text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlError {
    /// Error number (e.g. 4305).
    pub number: u32,
    /// Message text.
    pub message: String,
}

/// 4305: a log backup starts after the redo point (a gap in the chain).
pub fn too_recent(first_lsn: Lsn, needed: Lsn) -> SqlError {
    SqlError {
        number: 4305,
        message: format!(
            "The log in this backup set begins at LSN {first_lsn}, which is too recent to apply \
             to the database. An earlier log backup that includes LSN {needed} can be restored."
        ),
    }
}

/// 4326: a log backup ends before the redo point.
pub fn too_early(last_lsn: Lsn, needed: Lsn) -> SqlError {
    SqlError {
        number: 4326,
        message: format!(
            "The log in this backup set terminates at LSN {last_lsn}, which is too early to apply \
             to the database. A more recent log backup that includes LSN {needed} can be restored."
        ),
    }
}

/// 3136: a differential backup whose base is not the restored full.
pub fn wrong_differential_base() -> SqlError {
    SqlError {
        number: 3136,
        message: "This differential backup cannot be restored because the database has not been \
                  restored to the correct earlier state."
            .to_string(),
    }
}
