//! Restore details (`GET …/restoreDetails/Default`) computed from a job and its plan.

use std::collections::HashMap;

use lrs_plan::{Plan, SetKind, SetStatus};
use lrs_store::{Job, JobState};

use crate::api::{BackupSetDetails, RestoreDetails, UnrestorableFile};
use crate::worker::{Snapshot, kind_name};

const MB: u64 = 1024 * 1024;

/// What a file counts as in the `numberOfFiles*` fields (most advanced use of the file wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FileUse {
    Skipped,
    Restored,
    Queued,
    Restoring,
}

fn file_use(status: SetStatus) -> FileUse {
    match status {
        SetStatus::Skipped => FileUse::Skipped,
        SetStatus::Restored => FileUse::Restored,
        SetStatus::Queued => FileUse::Queued,
        SetStatus::Restoring => FileUse::Restoring,
    }
}

/// The details of `job` as its latest snapshot shows them.
pub(crate) fn restore_details(job: &Job, snapshot: &Snapshot) -> RestoreDetails {
    let empty = Plan {
        database: None,
        sets: Vec::new(),
        order: Vec::new(),
        unrestorable: Vec::new(),
        redo_lsn: None,
        blocked: None,
    };
    let plan = snapshot.plan.as_deref().unwrap_or(&empty);

    let mut uses: HashMap<&str, FileUse> = HashMap::new();
    for set in &plan.sets {
        let status = if job.state == JobState::Stopped && set.status == SetStatus::Restoring {
            SetStatus::Queued
        } else {
            set.status
        };
        for stripe in set.stripes.iter() {
            let entry = uses.entry(&stripe.file).or_insert(file_use(status));
            *entry = (*entry).max(file_use(status));
        }
    }
    let count = |u: FileUse| uses.values().filter(|&&v| v == u).count() as u64;

    let planned: u64 = plan.sequence().map(|s| s.backup_size).sum();
    let restored: u64 = plan
        .sequence()
        .filter(|s| s.status == SetStatus::Restored)
        .map(|s| s.backup_size)
        .sum();
    let percent = if planned == 0 {
        0.0
    } else {
        (restored as f64 * 100.0 / planned as f64).clamp(0.0, 100.0)
    };

    let restoring = plan.sequence().find(|s| s.status == SetStatus::Restoring);
    let last_restored = plan
        .sequence()
        .filter(|s| s.status == SetStatus::Restored)
        .filter_map(|s| {
            let finished = snapshot.history.get(&s.backup_set_guid)?.1?;
            Some((finished, s))
        })
        .max_by_key(|(finished, _)| *finished);
    let last_uploaded = snapshot
        .listing
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));

    let sets_of = |kind: SetKind| -> Vec<BackupSetDetails> {
        plan.of_kind(kind)
            .map(|s| {
                let times = snapshot.history.get(&s.backup_set_guid);
                BackupSetDetails {
                    status: format!("{:?}", s.status),
                    first_stripe_name: s.first_stripe_name.to_string(),
                    number_of_stripes: u32::from(s.number_of_stripes),
                    backup_size_mb: s.backup_size / MB,
                    restore_started: times.map(|t| t.0),
                    restore_finished: times.and_then(|t| t.1),
                }
            })
            .collect()
    };

    // An injected stall or an outage under way outranks a block: it is why nothing moves.
    let blocked = match snapshot.fault.as_ref().or(snapshot.storage_issue.as_ref()) {
        Some(issue) => Some(format!("{}: {}", issue.code, issue.message)),
        None => plan.blocked.as_ref().map(|b| b.reason.clone()),
    };
    let (status, block_reason) = match job.state {
        JobState::Failed => (
            "Failed".to_string(),
            job.error.as_ref().map(|e| e.message.clone()),
        ),
        // Blocked only once everything before the block is restored: the job is waiting.
        JobState::Restoring
            if blocked.is_some() && plan.sequence().all(|s| s.status == SetStatus::Restored) =>
        {
            ("Blocked".to_string(), blocked)
        }
        state => (
            format!("{state:?}"),
            if state.is_terminal() { None } else { blocked },
        ),
    };

    RestoreDetails {
        status,
        block_reason,
        last_uploaded_file_name: last_uploaded.map(|f| f.0.clone()),
        last_uploaded_file_time: last_uploaded.map(|f| f.1),
        last_restored_file_name: last_restored.map(|(_, s)| s.first_stripe_name.to_string()),
        last_restored_file_time: last_restored.map(|(t, _)| t),
        percent_completed: percent,
        current_restored_size_mb: restored / MB,
        current_restore_plan_size_mb: planned / MB,
        current_backup_type: restoring
            .or(last_restored.map(|(_, s)| s))
            .map(|s| kind_name(s.kind).to_string()),
        current_restoring_file_name: restoring
            .or(last_restored.map(|(_, s)| s))
            .map(|s| s.first_stripe_name.to_string()),
        number_of_files_detected: snapshot.listing.len() as u64,
        number_of_files_queued: count(FileUse::Queued),
        number_of_files_skipped: count(FileUse::Skipped),
        number_of_files_restoring: count(FileUse::Restoring),
        number_of_files_restored: count(FileUse::Restored),
        number_of_files_unrestorable: plan.unrestorable.len() as u64,
        full_backup_sets: sets_of(SetKind::Full),
        diff_backup_sets: sets_of(SetKind::Diff),
        log_backup_sets: sets_of(SetKind::Log),
        unrestorable_files: plan
            .unrestorable
            .iter()
            .map(|u| UnrestorableFile {
                name: u.name.clone(),
                reason: u.reason.clone(),
            })
            .collect(),
    }
}
