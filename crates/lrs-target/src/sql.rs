//! SQL Server's RESTORE error numbers and message texts, as a target raises them.
//!
//! One constructor per error, so every target (and the conformance suite) words them the same
//! way. `%ls` / `%d` arguments are filled as SQL Server fills them: names verbatim, LSNs in
//! their decimal `numeric(25,0)` form.
//!
//! Provenance of the texts:
//! * 4305, 4326 and 3136 come from `lrs_plan` (the planner words them; both crates must agree).
//! * Verified against SQL Server's published error catalogue (sql-docs, "Database engine events
//!   and errors", the 3000–3999 and 4000–4999 tables): 3101, 3117, 3118, 3120, 3123, 3132,
//!   3153, 3154, 3159, 3183, 3189, 3207, 3227, 3231, 3232, 3241, 3258, 3279, 3702, 4330. 3117 and 3159 are also
//!   quoted verbatim in public restore transcripts.
//! * Which error SQL Server raises in a given situation is verified for 4305/4326 (dbatools
//!   issues, the StopAt fixture), 3117 (a log restored after recovery), 3154 (a full of another
//!   database over an existing one) and 3159 (a full over an online database); for the other
//!   situations the choice is our best reconstruction and is documented where it is made
//!   ([`crate::emulated`]).

use lrs_backup::Lsn;
use lrs_plan::SqlError;

use crate::TargetError;

fn sql(number: u32, message: impl Into<String>) -> TargetError {
    TargetError::Sql {
        number,
        message: message.into(),
    }
}

/// A planner error as a target error (same number, same text).
pub fn from_plan(error: SqlError) -> TargetError {
    sql(error.number, error.message)
}

/// 4305: the log starts after the database's redo point (a log backup is missing).
pub fn too_recent(first_lsn: Lsn, redo: Lsn) -> TargetError {
    from_plan(lrs_plan::too_recent(first_lsn, redo))
}

/// 4326: the log ends before the database's redo point (already applied, or older).
pub fn too_early(last_lsn: Lsn, redo: Lsn) -> TargetError {
    from_plan(lrs_plan::too_early(last_lsn, redo))
}

/// 3136: a differential whose base is not the full the database was restored from.
pub fn wrong_differential_base() -> TargetError {
    from_plan(lrs_plan::wrong_differential_base())
}

/// 3101: another RESTORE is using the database right now.
pub fn database_in_use() -> TargetError {
    sql(
        3101,
        "Exclusive access could not be obtained because the database is in use.",
    )
}

/// 3117: a log or differential restore into a database that is not restoring (it was
/// recovered: nothing can roll forward any more).
pub fn no_files_ready_to_rollforward() -> TargetError {
    sql(
        3117,
        "The log or differential backup cannot be restored because no files are ready to \
         rollforward.",
    )
}

/// 3118: a log or differential restore (or a recovery) of a database that does not exist.
pub fn database_does_not_exist(database: &str) -> TargetError {
    sql(
        3118,
        format!(
            "The database \"{database}\" does not exist. RESTORE can only create a database when \
             restoring either a full backup or a file backup of the primary file."
        ),
    )
}

/// 3120: a differential that ends before the point the database has already reached.
pub fn already_restored_beyond() -> TargetError {
    sql(
        3120,
        "This backup set will not be restored because all data has already been restored to a \
         point beyond the time covered by this backup set.",
    )
}

/// 3123: a database name SQL Server would not accept (empty, or longer than 128 characters).
pub fn invalid_database_name(database: &str) -> TargetError {
    sql(
        3123,
        format!("Invalid database name '{database}' specified for backup or restore operation."),
    )
}

/// 3132: a striped set restored without all of its media families.
pub fn media_families_missing(family_count: u16, provided: usize) -> TargetError {
    sql(
        3132,
        format!(
            "The media set has {family_count} media families but only {provided} are provided. \
             All members must be provided."
        ),
    )
}

/// 3153: `RESTORE … WITH RECOVERY` of a database that is already online.
pub fn already_fully_recovered() -> TargetError {
    sql(3153, "The database is already fully recovered.")
}

/// 3154: a full backup of another database (another FamilyGUID) over an existing database.
pub fn backup_of_other_database(existing: &str) -> TargetError {
    sql(
        3154,
        format!(
            "The backup set holds a backup of a database other than the existing '{existing}' \
             database."
        ),
    )
}

/// 3159: a full backup over an online database without `REPLACE`: its log tail was never
/// backed up.
pub fn tail_of_log_not_backed_up(database: &str) -> TargetError {
    sql(
        3159,
        format!(
            "The tail of the log for the database \"{database}\" has not been backed up. Use \
             BACKUP LOG WITH NORECOVERY to backup the log if it contains work you do not want to \
             lose. Use the WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just \
             overwrite the contents of the log."
        ),
    )
}

/// 3207: a restore with no backup device (no stripes).
pub fn no_backup_device() -> TargetError {
    sql(
        3207,
        "Backup or restore requires at least one backup device. Rerun your statement specifying \
         a backup device.",
    )
}

/// 3227: the same media family given twice.
pub fn family_already_processed(device: &str, family: u16, first_device: &str) -> TargetError {
    sql(
        3227,
        format!(
            "The backup media on \"{device}\" is part of media family {family} which has already \
             been processed on \"{first_device}\". Ensure that backup devices are correctly \
             specified. For tape devices, ensure that the correct volumes are loaded."
        ),
    )
}

/// 3231: more devices than the media set has families.
pub fn too_many_families(device: &str, family_count: u16, provided: usize) -> TargetError {
    sql(
        3231,
        format!(
            "The media loaded on \"{device}\" is formatted to support {family_count} media \
             families, but {provided} media families are expected according to the backup \
             device specification."
        ),
    )
}

/// 3232: a member of the right media set that holds another backup set at this position.
pub fn wrong_backup_set(device: &str, sequence: u16, family: u16) -> TargetError {
    sql(
        3232,
        format!(
            "The volume mounted on \"{device}\" does not have the expected backup set identity. \
             The volume may be obsolete due to a more recent overwrite of this media family. In \
             that case, locate the correct volume with sequence number {sequence} of media family \
             {family}."
        ),
    )
}

/// 3241: a member whose family number is outside its media set's family count.
pub fn malformed_family(device: &str) -> TargetError {
    sql(
        3241,
        format!(
            "The media family on device '{device}' is incorrectly formed. SQL Server cannot \
             process this media family."
        ),
    )
}

/// 3183: a page of a backup taken WITH CHECKSUM failed validation while restoring.
pub fn corrupt_page(file: u16, page: u32, database: &str, detail: &str) -> TargetError {
    TargetError::Damaged {
        damage: crate::Damage::CorruptPage,
        number: 3183,
        message: format!(
            "RESTORE detected an error on page ({file}:{page}) in database \"{database}\" as read \
             from the backup set. {detail}"
        ),
    }
}

/// 3189: the backup checksum of a set taken WITH CHECKSUM does not match its data.
pub fn backup_set_damage(detail: &str) -> TargetError {
    TargetError::Damaged {
        damage: crate::Damage::DamagedSet,
        number: 3189,
        message: format!("Damage to the backup set was detected. {detail}"),
    }
}

/// 3241 as a damaged set: an MTF block or stream inside the set's data is malformed.
pub fn malformed_set(device: &str, detail: &str) -> TargetError {
    TargetError::Damaged {
        damage: crate::Damage::DamagedSet,
        number: 3241,
        message: format!(
            "The media family on device '{device}' is incorrectly formed. SQL Server cannot \
             process this media family. {detail}"
        ),
    }
}

/// 3279: the media was written WITH MEDIAPASSWORD, and RESTORE was given no password (LRS has
/// no way to pass one).
pub fn media_password() -> TargetError {
    sql(3279, "Access is denied due to a password failure")
}

/// 3258: a member of another media set given with the set's stripes.
pub fn not_in_media_set(device: &str) -> TargetError {
    sql(
        3258,
        format!(
            "The volume on the device \"{device}\" is not part of the media set that is currently \
             being processed. Ensure that the backup devices are loaded with the correct media."
        ),
    )
}

/// 3702: `DROP DATABASE` while a restore is using the database.
pub fn cannot_drop_in_use(database: &str) -> TargetError {
    sql(
        3702,
        format!("Cannot drop database \"{database}\" because it is currently in use."),
    )
}

/// 4330: a log of another database, or of a recovery fork the database is not on.
pub fn inconsistent_recovery_path() -> TargetError {
    sql(
        4330,
        "This backup set cannot be applied because it is on a recovery path that is inconsistent \
         with the database. The recovery path is the sequence of data and log backups that have \
         brought the database to a particular recovery point. Find a compatible backup to \
         restore, or restore the rest of the database to match a recovery point within this \
         backup set, which will restore the database to a different point in time. For more \
         information about recovery paths, see SQL Server Books Online.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(e: &TargetError) -> u32 {
        match e {
            TargetError::Sql { number, .. } => *number,
            _ => 0,
        }
    }

    #[test]
    fn planner_errors_keep_their_number_and_text() {
        let lsn = |n: u32| Lsn {
            vlf: n,
            block: 1,
            slot: 1,
        };
        let e = too_early(lsn(20), lsn(21));
        assert_eq!(
            e.to_string(),
            "Msg 4326: The log in this backup set terminates at LSN 20000000000100001, which is \
             too early to apply to the database. A more recent log backup that includes LSN \
             21000000000100001 can be restored."
        );
        assert_eq!(number(&too_recent(lsn(22), lsn(21))), 4305);
        assert_eq!(number(&wrong_differential_base()), 3136);
    }

    #[test]
    fn arguments_are_filled_in() {
        assert_eq!(
            media_families_missing(3, 2).to_string(),
            "Msg 3132: The media set has 3 media families but only 2 are provided. All members \
             must be provided."
        );
        assert_eq!(
            backup_of_other_database("Sales").to_string(),
            "Msg 3154: The backup set holds a backup of a database other than the existing \
             'Sales' database."
        );
        assert!(
            tail_of_log_not_backed_up("Sales")
                .to_string()
                .starts_with("Msg 3159: The tail of the log for the database \"Sales\" has not")
        );
        assert!(
            database_does_not_exist("Sales")
                .to_string()
                .starts_with("Msg 3118: The database \"Sales\" does not exist.")
        );
    }
}
