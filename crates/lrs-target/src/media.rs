//! The stripes of one RESTORE: checked the way SQL Server checks its backup devices before it
//! reads any data, and reduced to the header facts the restore rules need.

use lrs_backup::{BackupType, ConfigSource, Guid, Lsn};

use crate::emulated::BackupKind;
use crate::{StripeInput, TargetError, sql};

/// What the restore rules need to know about the set being restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetFacts {
    pub(crate) kind: BackupKind,
    pub(crate) guid: Guid,
    pub(crate) first_lsn: Lsn,
    pub(crate) last_lsn: Lsn,
    pub(crate) checkpoint_lsn: Lsn,
    pub(crate) family_guid: Guid,
    pub(crate) recovery_fork_id: Guid,
    pub(crate) first_recovery_fork_id: Guid,
    pub(crate) fork_point_lsn: Option<Lsn>,
    pub(crate) differential_base_guid: Option<Guid>,
    pub(crate) source_database: Option<String>,
    pub(crate) family_count: u16,
}

/// A set whose stripes passed the device checks, stripes in family order.
#[derive(Debug)]
pub(crate) struct CheckedSet {
    pub(crate) facts: SetFacts,
    pub(crate) stripes: Vec<StripeInput>,
}

/// Check that `stripes` are exactly the media families of one backup set, in the order SQL
/// Server reports problems with its devices:
///
/// * no stripe: 3207;
/// * a member of another media set: 3258;
/// * more members than the media set has families: 3231;
/// * a family number outside 1..=FamilyCount: 3241;
/// * a family given twice: 3227;
/// * a member holding another backup set (another BackupSetGUID at that position): 3232
///   (disk media have one volume per family, so the volume sequence named is 1);
/// * fewer members than families: 3132.
///
/// Then the set must be complete (its closing filemark found: an upload still in progress is a
/// retryable [`TargetError::Read`]) and of a kind a restore sequence uses (full, differential,
/// log: file and partial backups are refused with [`TargetError::Read`]; the planner already
/// excludes them).
pub(crate) fn check_stripes(mut stripes: Vec<StripeInput>) -> Result<CheckedSet, TargetError> {
    let Some(first) = stripes.first() else {
        return Err(sql::no_backup_device());
    };
    let media_set = first.set.media.media_set_id;
    let family_count = first.set.media.family_count;
    let guid = first.set.header.backup_set_guid;
    let first_device = first.reader.name().to_string();
    if let Some(other) = stripes
        .iter()
        .find(|s| s.set.media.media_set_id != media_set)
    {
        return Err(sql::not_in_media_set(other.reader.name()));
    }
    if stripes.len() > usize::from(family_count) {
        return Err(sql::too_many_families(
            &first_device,
            family_count,
            stripes.len(),
        ));
    }
    let mut seen: Vec<(u16, &str)> = Vec::with_capacity(stripes.len());
    for s in &stripes {
        let family = s.set.media.family_sequence_number;
        if family == 0 || family > family_count || s.set.media.family_count != family_count {
            return Err(sql::malformed_family(s.reader.name()));
        }
        if let Some((_, earlier)) = seen.iter().find(|(f, _)| *f == family) {
            return Err(sql::family_already_processed(
                s.reader.name(),
                family,
                earlier,
            ));
        }
        seen.push((family, s.reader.name()));
    }
    if let Some(other) = stripes
        .iter()
        .find(|s| s.set.header.backup_set_guid != guid)
    {
        return Err(sql::wrong_backup_set(
            other.reader.name(),
            1,
            other.set.media.family_sequence_number,
        ));
    }
    if stripes.len() < usize::from(family_count) {
        return Err(sql::media_families_missing(family_count, stripes.len()));
    }
    stripes.sort_by_key(|s| s.set.media.family_sequence_number);
    for s in &stripes {
        if s.set.config_source != ConfigSource::Final || s.set.data_end_offset <= s.set.start_offset
        {
            return Err(TargetError::Read(format!(
                "{}: backup set {} at position {} is incomplete (the file ends before the set's \
                 closing filemark; is the upload still in progress?)",
                s.reader.name(),
                guid,
                s.set.header.position
            )));
        }
    }
    // Headers come from family 1 (the planner does the same), so stripe order cannot change them.
    let Some(lead) = stripes.first() else {
        return Err(sql::no_backup_device());
    };
    let h = &lead.set.header;
    let kind = match h.backup_type {
        BackupType::Database => BackupKind::Full,
        BackupType::DifferentialDatabase => BackupKind::Differential,
        BackupType::TransactionLog => BackupKind::Log,
        other => {
            return Err(TargetError::Read(format!(
                "{}: backup set {guid} is a {} backup; the target restores full, differential \
                 and log backups only",
                lead.reader.name(),
                other.description()
            )));
        }
    };
    let facts = SetFacts {
        kind,
        guid,
        first_lsn: h.first_lsn,
        last_lsn: h.last_lsn,
        checkpoint_lsn: h.checkpoint_lsn,
        family_guid: h.family_guid,
        recovery_fork_id: h.recovery_fork_id,
        first_recovery_fork_id: h.first_recovery_fork_id,
        fork_point_lsn: h.fork_point_lsn,
        differential_base_guid: h.differential_base_guid,
        source_database: h.database_name.clone(),
        family_count,
    };
    Ok(CheckedSet { facts, stripes })
}
