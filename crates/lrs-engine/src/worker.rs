//! One restore job's worker: scan the folder, advance the plan, restore the next set, complete.
//!
//! Every step is persisted before it is acted on, so a crash at any point resumes correctly:
//! - a set's restore is recorded as started before the target is called, and as finished after;
//!   on resume an unfinished record is settled by asking the target which set it applied last
//!   (the target's log is the truth), so no set is applied twice or skipped;
//! - `Completing` is persisted before the target recovers the database; on resume the recovery
//!   is repeated only if the database is not online yet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lrs_backup::{BackupMedia, BackupType, ErrorKind, Guid, RangeRead};
use lrs_plan::{Options, Plan, Planner, SetKind, SetStatus, SourceFile};
use lrs_source::{BlobEntry, Scanner, Source, SourceAuth, SourceError, SourceSpec};
use lrs_store::{
    ErrorRecord, FileRecord, Job, JobMode, JobState, RestoreRecord, StorageAuth, StoreError,
};
use lrs_target::{DatabaseState, StripeInput, TargetError};
use tokio::sync::{Notify, RwLock};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::clock::truncate_to_micros;
use crate::codes;
use crate::context::Context;
use crate::faults::JobFault;
use crate::metrics::StorageErrorKind;

/// Headers of new files are read this many at a time (the first scan of a big folder).
const HEADER_READ_CONCURRENCY: usize = 32;

/// Restore history by BackupSetGUID: (started, finished).
pub(crate) type History = HashMap<Guid, (DateTime<Utc>, Option<DateTime<Utc>>)>;

/// What the API can see of a running job, refreshed by its worker after every step.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// The current plan.
    pub(crate) plan: Option<Arc<Plan>>,
    /// The folder's blobs at the last scan, as (name, upload time, size).
    pub(crate) listing: Arc<Vec<(String, DateTime<Utc>, u64)>>,
    /// Restore history by BackupSetGUID: (started, finished).
    pub(crate) history: Arc<History>,
    /// The storage is unreachable right now (code and message restore details show).
    pub(crate) storage_issue: Option<ErrorRecord>,
    /// What a stalling injected fault shows, if anything.
    pub(crate) fault: Option<ErrorRecord>,
}

/// Handle to a running worker.
#[derive(Debug)]
pub(crate) struct JobRuntime {
    pub(crate) cancel: CancellationToken,
    pub(crate) wake: Notify,
    pub(crate) snapshot: RwLock<Snapshot>,
    /// Turns true when the worker task has returned (a replacement waits for it, so two
    /// workers never drive one job).
    pub(crate) finished: tokio::sync::watch::Sender<bool>,
}

impl JobRuntime {
    pub(crate) fn new() -> Self {
        JobRuntime {
            cancel: CancellationToken::new(),
            wake: Notify::new(),
            snapshot: RwLock::new(Snapshot::default()),
            finished: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Wait until this runtime's worker has returned.
    pub(crate) async fn wait_finished(&self) {
        let mut finished = self.finished.subscribe();
        let _ = finished.wait_for(|done| *done).await;
    }
}

/// Why a step could not go on.
#[derive(Debug)]
enum Halt {
    /// The job must fail with this error.
    Fail(ErrorRecord),
    /// An internal problem (store down, ...): retry the loop later.
    Retry(String),
    /// The job was stopped, dropped or taken over: leave quietly.
    Gone,
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Retry(e.to_string())
    }
}

/// The planner and the files behind it, rebuilt from the store on resume.
pub(crate) struct JobFiles {
    pub(crate) planner: Planner,
    /// Parsed media of each readable file, by name.
    pub(crate) media: HashMap<String, Arc<BackupMedia>>,
    /// Listing entries by name (for readers).
    pub(crate) entries: HashMap<String, BlobEntry>,
    pub(crate) history: History,
}

impl JobFiles {
    /// Rebuild from the store: every discovered file and the finished restores.
    pub(crate) async fn load(ctx: &Context, job: &Job) -> Result<JobFiles, StoreError> {
        let profile = ctx.profile_of(job);
        let mut planner = Planner::new(Options {
            require_checksum: profile.require_checksum,
            database: None,
        });
        let mut media = HashMap::new();
        let mut entries = HashMap::new();
        for file in ctx.store.list_files(job.id).await? {
            let content = match (&file.header_json, &file.error) {
                (Some(json), _) => match serde_json::from_str::<BackupMedia>(json) {
                    Ok(m) => Ok(m),
                    Err(e) => Err(format!("stored headers are unreadable: {e}")),
                },
                (None, Some(error)) => Err(error.clone()),
                (None, None) => Err("headers were never read".to_string()),
            };
            if let Ok(m) = &content {
                media.insert(file.name.clone(), Arc::new(m.clone()));
            }
            entries.insert(
                file.name.clone(),
                BlobEntry {
                    name: file.name.clone(),
                    size: file.size,
                    etag: file.etag.clone(),
                    last_modified: file.last_modified,
                },
            );
            planner.add_file(SourceFile {
                name: file.name,
                size: file.size,
                content,
            });
        }
        let mut history = HashMap::new();
        for record in ctx.store.list_restores(job.id).await? {
            let Ok(guid) = record.backup_set_guid.parse::<Guid>() else {
                continue;
            };
            if record.finished_at.is_some() {
                planner.mark_restored(guid);
            }
            history.insert(guid, (record.started_at, record.finished_at));
        }
        Ok(JobFiles {
            planner,
            media,
            entries,
            history,
        })
    }
}

/// Run a job until it ends, is stopped, or its lease is lost. Never panics; internal errors
/// are retried with backoff.
pub(crate) async fn run(ctx: Arc<Context>, job_id: Uuid, runtime: Arc<JobRuntime>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match drive(&ctx, job_id, &runtime).await {
            Ok(()) => return,
            Err(message) => {
                // Internal messages may quote storage errors: never let a SAS signature through.
                let message = lrs_source::sas::redact(&message);
                warn!(job = %job_id, error = %message, "restore job hit an internal error; retrying");
                tokio::select! {
                    () = runtime.cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

struct Worker<'a> {
    ctx: &'a Context,
    runtime: &'a JobRuntime,
    job: Job,
    database: String,
    /// The database's instance (fault injection aims at instance and name).
    instance: lrs_store::InstanceKey,
    source: Arc<dyn Source>,
    scanner: Scanner,
    files: JobFiles,
    listing: Arc<Vec<(String, DateTime<Utc>, u64)>>,
    /// The plan as of the last change; an idle poll (nothing new, nothing restored) reuses it.
    plan: Option<Arc<Plan>>,
    /// Since when (emulated time) the storage has been unreachable, if it is.
    outage: Option<DateTime<Utc>>,
    /// Whether this worker has listed the folder successfully at least once.
    listed: bool,
    /// Whether the last plan was blocked (a block is counted when it begins, not per poll).
    blocked: bool,
    /// Whether an injected stall held the last step (its display is cleared when it lifts).
    stalled: bool,
}

async fn drive(ctx: &Context, job_id: Uuid, runtime: &JobRuntime) -> Result<(), String> {
    let Some(job) = ctx.store.get_job(job_id).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if job.state.is_terminal() {
        ctx.settle_operations(&job)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let Some(database) = ctx
        .store
        .get_database_by_id(job.database_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let spec = match source_spec(ctx, &job) {
        Ok(spec) => spec,
        Err(e) => {
            ctx.fail_job(job_id, codes::storage_denied(&e.to_string()))
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
    };
    let source = match lrs_source::open_source(&spec, &ctx.source_settings) {
        Ok(source) => source,
        Err(e) => {
            let error = source_error_record(&e);
            ctx.fail_job(job_id, error)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
    };
    let files = JobFiles::load(ctx, &job).await.map_err(|e| e.to_string())?;
    let mut worker = Worker {
        ctx,
        runtime,
        job,
        database: database.name,
        instance: database.instance,
        source,
        scanner: Scanner::new(),
        files,
        listing: Arc::new(Vec::new()),
        plan: None,
        outage: None,
        listed: false,
        blocked: false,
        stalled: false,
    };
    // The store's files are known already: a restart re-reads only what changed since.
    for entry in worker.files.entries.values() {
        worker.scanner.remember(entry);
    }
    match worker.resume_in_flight().await {
        Ok(()) => {}
        Err(halt) => return worker.halt(halt).await,
    }
    // Publish what the store knows before the first scan (which may take a while on a big
    // folder), so restore details never have to rebuild the plan from the store meanwhile.
    worker.listing = Arc::new(
        worker
            .files
            .entries
            .values()
            .map(|e| (e.name.clone(), e.last_modified, e.size))
            .collect(),
    );
    let plan = Arc::new(worker.files.planner.plan());
    worker.publish(&plan).await;
    loop {
        if runtime.cancel.is_cancelled() {
            return Ok(());
        }
        match worker.step().await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(halt) => {
                worker.halt(halt).await?;
                if worker.ended().await {
                    return Ok(());
                }
            }
        }
        if worker.ended().await {
            return Ok(());
        }
        tokio::select! {
            () = runtime.cancel.cancelled() => return Ok(()),
            () = runtime.wake.notified() => {}
            () = tokio::time::sleep(ctx.poll_interval) => {}
        }
    }
}

/// Where and how a job reads its folder (its stored SAS token unsealed).
fn source_spec(ctx: &Context, job: &Job) -> Result<SourceSpec, crate::secrets::SecretError> {
    Ok(SourceSpec {
        uri: job.storage_uri.clone(),
        auth: match &job.auth {
            StorageAuth::Sas(token) => SourceAuth::Sas(ctx.unseal(token)?),
            StorageAuth::ManagedIdentity => SourceAuth::ManagedIdentity,
            StorageAuth::None => SourceAuth::None,
        },
    })
}

fn source_error_record(e: &SourceError) -> ErrorRecord {
    match e {
        SourceError::AccessDenied { message, .. } => codes::storage_denied(message),
        SourceError::ManagedIdentityNotConfigured { .. } => {
            codes::managed_identity_issue(&e.to_string())
        }
        SourceError::NotFound { location, message } => {
            codes::storage_not_found(&format!("{location}: {message}"))
        }
        other => codes::storage_not_found(&other.to_string()),
    }
}

impl Worker<'_> {
    /// Whether the job reached a terminal state (reloads it).
    async fn ended(&mut self) -> bool {
        match self.ctx.store.get_job(self.job.id).await {
            Ok(Some(job)) => {
                let ended = job.state.is_terminal();
                self.job = job;
                ended
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    async fn halt(&mut self, halt: Halt) -> Result<(), String> {
        match halt {
            Halt::Fail(error) => {
                warn!(job = %self.job.id, code = %error.code, "restore job failed: {}", error.message);
                self.ctx
                    .fail_job(self.job.id, error)
                    .await
                    .map_err(|e| e.to_string())
            }
            Halt::Retry(message) => Err(message),
            Halt::Gone => {
                self.runtime.cancel.cancel();
                Ok(())
            }
        }
    }

    /// Settle a restore or recovery a crash interrupted.
    async fn resume_in_flight(&mut self) -> Result<(), Halt> {
        let target_db = self
            .ctx
            .target
            .database(&self.database)
            .await
            .map_err(|e| Halt::Retry(e.to_string()))?;
        let unfinished: Vec<Guid> = self
            .files
            .history
            .iter()
            .filter(|(_, (_, finished))| finished.is_none())
            .map(|(guid, _)| *guid)
            .collect();
        for guid in unfinished {
            let landed = target_db
                .as_ref()
                .is_some_and(|db| db.last_applied_set == Some(guid));
            if landed {
                let now = self.ctx.clock.now();
                self.ctx
                    .store
                    .restore_finished(self.job.id, &guid.to_string(), now)
                    .await?;
                self.files.planner.mark_restored(guid);
                if let Some(entry) = self.files.history.get_mut(&guid) {
                    entry.1 = Some(now);
                }
                info!(job = %self.job.id, set = %guid, "restore interrupted by a restart had landed");
            } else {
                info!(job = %self.job.id, set = %guid, "restore interrupted by a restart had not landed; it will be repeated");
            }
        }
        if self.job.state == JobState::Completing {
            self.finish_completion().await?;
        }
        Ok(())
    }

    /// One pass: renew the lease, check the clock, scan, then restore one set or complete.
    /// Returns whether there is more to do right away.
    async fn step(&mut self) -> Result<bool, Halt> {
        let ctx = self.ctx;
        let now = ctx.clock.now();
        let lease_until = Utc::now() + ctx.lease;
        if !ctx
            .store
            .claim_job(self.job.id, &ctx.node, Utc::now(), lease_until)
            .await?
        {
            return Err(Halt::Gone);
        }
        self.job = ctx.store.get_job(self.job.id).await?.ok_or(Halt::Gone)?;
        if self.job.state.is_terminal() {
            return Err(Halt::Gone);
        }
        if now >= self.job.deadline_at {
            let profile = ctx.profile_of(&self.job);
            return Err(Halt::Fail(ctx.expiry_error(&profile)));
        }
        if self.job.state == JobState::Completing {
            self.finish_completion().await?;
            return Ok(false);
        }
        // A stalled job keeps listing its folder (the files it finds show) but restores
        // nothing.
        let stalled = match ctx.faults.job_fault(&self.instance, &self.database) {
            Some(JobFault::Fail(error)) => return Err(Halt::Fail(error)),
            Some(JobFault::Stall(shown)) => {
                self.stalled = true;
                self.runtime.snapshot.write().await.fault = shown;
                true
            }
            // Only a stall just lifted touches the snapshot: no write lock on every poll.
            None if self.stalled => {
                self.stalled = false;
                self.runtime.snapshot.write().await.fault = None;
                false
            }
            None => false,
        };
        let scan_started = Instant::now();
        let changed = self.scan().await?;
        ctx.metrics.scanned(scan_started.elapsed());
        let plan = match (&self.plan, changed) {
            (Some(plan), false) => Arc::clone(plan),
            _ => {
                let plan = Arc::new(self.files.planner.plan());
                self.track_block(&plan);
                self.plan = Some(Arc::clone(&plan));
                self.publish(&plan).await;
                // The checks read the plan and the folder's headers only: an unchanged plan
                // passed them already.
                self.check_plan(&plan)?;
                plan
            }
        };

        if stalled {
            return Ok(false);
        }
        if let Some(next) = plan
            .sequence()
            .find(|s| s.status == SetStatus::Queued)
            .cloned()
            && self.may_restore(&plan, &next)
        {
            self.restore(&plan, &next).await?;
            return Ok(true);
        }
        if self.ready_to_complete(&plan) {
            self.begin_completion().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Nothing is restored beyond the last file (autocomplete's `lastBackupName`, or the one a
    /// cutover named) unless the profile restores past it (2021: the whole chain found).
    fn may_restore(&self, plan: &Plan, next: &lrs_plan::PlannedSet) -> bool {
        if self.ctx.profile_of(&self.job).restores_past_last_backup {
            return true;
        }
        let last = match (&self.job.complete_requested, &self.job.mode) {
            (Some(name), _) => name,
            (None, JobMode::Autocomplete { last_backup_name }) => last_backup_name,
            (None, JobMode::Continuous) => return true,
        };
        match plan.position_of(last) {
            Some(last) => plan
                .sequence()
                .position(|s| s.backup_set_guid == next.backup_set_guid)
                .is_some_and(|at| at <= last),
            // The named file has not arrived (or is not in the chain) yet: keep going up to
            // what is there; LRS restores as files arrive.
            None => true,
        }
    }

    /// The named file is restored (and, where the profile restores past it, every set of
    /// the chain found so far).
    fn ready_to_complete(&self, plan: &Plan) -> bool {
        let restored = |name: &str| {
            plan.sequence().any(|s| {
                s.status == SetStatus::Restored && s.stripes.iter().any(|st| &*st.file == name)
            })
        };
        let named = match (&self.job.mode, &self.job.complete_requested) {
            (_, Some(name)) => restored(name),
            (JobMode::Autocomplete { last_backup_name }, None) => restored(last_backup_name),
            (JobMode::Continuous, None) => false,
        };
        named
            && (!self.ctx.profile_of(&self.job).restores_past_last_backup
                || plan.sequence().all(|s| s.status == SetStatus::Restored))
    }

    /// Failures the plan reveals: backups of several databases in the folder, missing
    /// CHECKSUM under the 2021 profile, autocomplete files beyond the last one.
    fn check_plan(&self, plan: &Plan) -> Result<(), Halt> {
        let databases = self.databases_in_folder();
        if databases.len() > 1 {
            let restoring = plan.sequence().any(|s| s.status == SetStatus::Restored);
            return Err(Halt::Fail(codes::multiple_databases(&databases, restoring)));
        }
        if let Some(full) = plan.sequence().find(|s| s.kind == SetKind::Full)
            && let Some(problem) = self
                .backup_set(full)
                .and_then(crate::layout::layout_problem)
        {
            return Err(Halt::Fail(codes::incompatible_layout(
                problem,
                &full.first_stripe_name,
            )));
        }
        let profile = self.ctx.profile_of(&self.job);
        let has_full = plan.sequence().any(|s| s.kind == SetKind::Full);
        if profile.require_checksum && !has_full {
            let database = plan.database.as_deref();
            for (name, media) in &self.files.media {
                let unchecked_full = media.sets.iter().any(|set| {
                    set.header.backup_type == BackupType::Database
                        && !set.header.has_backup_checksums
                        && (database.is_none()
                            || set.header.database_name.as_deref().map(str::to_lowercase)
                                == database.map(str::to_lowercase))
                });
                if unchecked_full {
                    return Err(Halt::Fail(codes::full_missing_checksum(name)));
                }
            }
        }
        if let JobMode::Autocomplete { last_backup_name } = &self.job.mode
            && !profile.restores_past_last_backup
        {
            let after = plan.files_after(last_backup_name);
            if !after.is_empty() {
                return Err(Halt::Fail(codes::files_after_last(
                    last_backup_name,
                    &after,
                )));
            }
        }
        Ok(())
    }

    /// The headers of a planned set, from the file holding its first stripe.
    fn backup_set(&self, set: &lrs_plan::PlannedSet) -> Option<&lrs_backup::BackupSet> {
        self.files
            .media
            .get(&*set.first_stripe_name)?
            .sets
            .iter()
            .find(|s| s.header.backup_set_guid == set.backup_set_guid)
    }

    /// The databases whose backups the folder holds, one name per database family (a database
    /// is its FamilyGUID: two databases may share a name), sorted by name.
    fn databases_in_folder(&self) -> Vec<String> {
        let mut families: HashMap<Guid, String> = HashMap::new();
        for media in self.files.media.values() {
            for set in &media.sets {
                families
                    .entry(set.header.family_guid)
                    .or_insert_with(|| set.header.database_name.clone().unwrap_or_default());
            }
        }
        let mut names: Vec<String> = families.into_values().collect();
        names.sort();
        names
    }

    /// List the folder; read headers of new or changed files; forget removed ones. Returns
    /// whether the folder changed.
    async fn scan(&mut self) -> Result<bool, Halt> {
        let delta = match self.scanner.scan(self.source.as_ref()).await {
            Ok(delta) => delta,
            Err(e) if e.is_transient() => {
                self.ctx
                    .metrics
                    .storage_error(StorageErrorKind::ListTransient, true);
                self.storage_broken(&e).await?;
                return Ok(false);
            }
            Err(e) => {
                self.ctx
                    .metrics
                    .storage_error(StorageErrorKind::ListFatal, false);
                return Err(Halt::Fail(source_error_record(&e)));
            }
        };
        self.storage_reachable().await;
        if delta.is_unchanged() {
            return Ok(false);
        }
        self.listing = Arc::new(
            delta
                .listing
                .iter()
                .map(|e| (e.name.clone(), truncate_to_micros(e.last_modified), e.size))
                .collect(),
        );
        for name in &delta.removed {
            self.ctx.store.delete_file(self.job.id, name).await?;
            self.files.planner.remove_file(name);
            self.files.media.remove(name);
            self.files.entries.remove(name);
        }
        let fresh: Vec<BlobEntry> = delta
            .added
            .iter()
            .chain(delta.changed.iter())
            .cloned()
            .collect();
        if fresh.is_empty() {
            return Ok(true);
        }
        let source = Arc::clone(&self.source);
        let mut reads = futures::stream::iter(fresh.into_iter().map(|entry| {
            let reader = source.open(&entry);
            async move {
                let result = lrs_backup::read_backup(reader.as_ref()).await;
                (entry, result)
            }
        }))
        .buffer_unordered(HEADER_READ_CONCURRENCY);
        let now = self.ctx.clock.now();
        while let Some((entry, result)) = reads.next().await {
            let (header_json, error, media) = match result {
                Ok(media) => match serde_json::to_string(&media) {
                    Ok(json) => (Some(json), None, Some(media)),
                    Err(e) => (
                        None,
                        Some(format!("headers could not be stored: {e}")),
                        None,
                    ),
                },
                Err(e) if matches!(e.kind, ErrorKind::Io(_)) => {
                    // A storage hiccup, not a verdict on the file: read it again next time.
                    debug!(job = %self.job.id, file = %entry.name, "header read failed, will retry: {e}");
                    self.ctx
                        .metrics
                        .storage_error(StorageErrorKind::HeaderRead, true);
                    self.scanner.forget(&entry.name);
                    continue;
                }
                Err(e) => (None, Some(e.to_string()), None),
            };
            let record = FileRecord {
                name: entry.name.clone(),
                size: entry.size,
                etag: entry.etag.clone(),
                last_modified: truncate_to_micros(entry.last_modified),
                discovered_at: now,
                header_json,
                error: error.clone(),
            };
            self.ctx.store.put_file(self.job.id, &record).await?;
            let content = match media {
                Some(media) => {
                    self.files
                        .media
                        .insert(entry.name.clone(), Arc::new(media.clone()));
                    Ok(media)
                }
                None => {
                    self.files.media.remove(&entry.name);
                    Err(error.unwrap_or_default())
                }
            };
            self.files.planner.remove_file(&entry.name);
            self.files.planner.add_file(SourceFile {
                name: entry.name.clone(),
                size: entry.size,
                content,
            });
            self.files.entries.insert(entry.name.clone(), entry);
        }
        Ok(true)
    }

    /// Restore one set: persist, apply, persist.
    async fn restore(&mut self, plan: &Plan, set: &lrs_plan::PlannedSet) -> Result<(), Halt> {
        let ctx = self.ctx;
        let mut stripes = Vec::with_capacity(set.stripes.len());
        // Bytes restored: the sizes of the files holding the set's stripes.
        let mut bytes = 0u64;
        for stripe in set.stripes.iter() {
            let (Some(entry), Some(media)) = (
                self.files.entries.get(&*stripe.file),
                self.files.media.get(&*stripe.file),
            ) else {
                return Err(Halt::Retry(format!(
                    "file {} of the plan is not known",
                    stripe.file
                )));
            };
            let Some(backup_set) = media
                .sets
                .iter()
                .find(|s| s.header.position == stripe.position)
            else {
                return Err(Halt::Retry(format!(
                    "file {} has no set at position {}",
                    stripe.file, stripe.position
                )));
            };
            bytes = bytes.saturating_add(entry.size);
            let reader: Arc<dyn RangeRead> = self.source.open(entry);
            stripes.push(StripeInput {
                reader,
                set: backup_set.clone(),
            });
        }
        if self.job.state == JobState::Initializing {
            self.set_state(JobState::Restoring).await?;
        }
        let guid = set.backup_set_guid;
        let started = ctx.clock.now();
        ctx.store
            .restore_started(
                self.job.id,
                &RestoreRecord {
                    backup_set_guid: guid.to_string(),
                    kind: kind_name(set.kind).to_string(),
                    first_stripe_name: set.first_stripe_name.to_string(),
                    started_at: started,
                    finished_at: None,
                },
            )
            .await?;
        self.files.history.insert(guid, (started, None));
        self.files.planner.mark_restoring(guid);
        self.plan = None;
        let restoring = Arc::new(self.files.planner.plan());
        self.publish(&restoring).await;
        info!(job = %self.job.id, file = %set.first_stripe_name, kind = kind_name(set.kind), "restoring backup set");
        // Keep the lease while the restore runs (a big set, or an injected slow fault, may
        // outlast it). If the lease is lost, another node owns the job now; if the database
        // was dropped, nobody does: drop the restore (a dropped restore writes nothing) and
        // leave.
        let restore_started = Instant::now();
        let restored = {
            let (instance, database) = (&self.instance, &self.database);
            let restore = async move {
                // An injected slow fault: the set shows as restoring while it lasts.
                if ctx.faults.wait_if_slow(instance, database).await {
                    debug!(%database, "injected fault: slow restore over");
                }
                ctx.target.restore(database, stripes).await
            };
            tokio::pin!(restore);
            let period = (ctx.lease / 3)
                .to_std()
                .unwrap_or(Duration::from_secs(10))
                .max(Duration::from_millis(50));
            loop {
                tokio::select! {
                    result = &mut restore => break result,
                    () = self.runtime.cancel.cancelled() => return Err(Halt::Gone),
                    () = tokio::time::sleep(period) => {
                        let now = Utc::now();
                        if !ctx.store.claim_job(self.job.id, &ctx.node, now, now + ctx.lease).await? {
                            return Err(Halt::Gone);
                        }
                    }
                }
            }
        };
        match restored {
            Ok(_) => {
                ctx.metrics
                    .set_restored(kind_name(set.kind), bytes, restore_started.elapsed());
                let finished = ctx.clock.now();
                ctx.store
                    .restore_finished(self.job.id, &guid.to_string(), finished)
                    .await?;
                self.files.history.insert(guid, (started, Some(finished)));
                self.files.planner.mark_restored(guid);
                let after = Arc::new(self.files.planner.plan());
                self.track_block(&after);
                self.publish(&after).await;
                self.plan = Some(after);
                Ok(())
            }
            // 3101: the database is held by another restore (a worker being replaced): retry.
            Err(TargetError::Sql {
                number: 3101,
                message,
            }) => Err(Halt::Retry(message)),
            Err(TargetError::Sql { number, message }) => {
                let index = plan
                    .sequence()
                    .position(|s| s.backup_set_guid == guid)
                    .map_or(0, |i| i + 1);
                Err(Halt::Fail(codes::sql_restore_error(
                    index, number, &message,
                )))
            }
            // The backup itself is damaged: the service's own codes, never a retry.
            Err(TargetError::Damaged {
                damage,
                number,
                message,
            }) => {
                warn!(job = %self.job.id, file = %set.first_stripe_name, number, %message, "restore found the backup damaged");
                Err(Halt::Fail(codes::damaged_backup(
                    damage,
                    set.kind == SetKind::Full,
                    &set.first_stripe_name,
                    number,
                    &message,
                )))
            }
            Err(e) => Err(Halt::Retry(e.to_string())),
        }
    }

    async fn begin_completion(&mut self) -> Result<(), Halt> {
        self.set_state(JobState::Completing).await?;
        self.finish_completion().await
    }

    /// Recover the database (unless a crash left it online already), then complete the job.
    async fn finish_completion(&mut self) -> Result<(), Halt> {
        let ctx = self.ctx;
        let online = ctx
            .target
            .database(&self.database)
            .await
            .map_err(|e| Halt::Retry(e.to_string()))?
            .is_some_and(|db| db.state == DatabaseState::Online);
        if !online {
            match ctx.target.recover(&self.database).await {
                Ok(()) => {}
                Err(TargetError::Sql { number, message }) => {
                    return Err(Halt::Fail(codes::sql_restore_error(0, number, &message)));
                }
                Err(e) => return Err(Halt::Retry(e.to_string())),
            }
        }
        ctx.complete_job(self.job.id)
            .await
            .map_err(|e| Halt::Retry(e.to_string()))?;
        info!(job = %self.job.id, database = %self.database, "migration completed; database online");
        Ok(())
    }

    async fn set_state(&mut self, state: JobState) -> Result<(), Halt> {
        let mut job = self.job.clone();
        job.state = state;
        match self.ctx.store.update_job(&job).await {
            Ok(version) => {
                job.version = version;
                self.job = job;
                Ok(())
            }
            Err(StoreError::Stale(_)) => {
                // Someone (complete, stop) changed the job: reload and let the loop decide.
                self.job = self
                    .ctx
                    .store
                    .get_job(self.job.id)
                    .await?
                    .ok_or(Halt::Gone)?;
                if self.job.state.is_terminal() {
                    return Err(Halt::Gone);
                }
                let mut job = self.job.clone();
                job.state = state;
                let version = self.ctx.store.update_job(&job).await?;
                job.version = version;
                self.job = job;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The storage did not answer (after the source's own retries). A job that never listed its
    /// folder fails at once (`…AtTheStart`); one under way shows `…WhileInProgress` and keeps
    /// polling until the outage has lasted the configured limit (`…TerminateRetries`).
    async fn storage_broken(&mut self, error: &SourceError) -> Result<(), Halt> {
        let now = self.ctx.clock.now();
        if !self.listed && self.files.entries.is_empty() {
            warn!(job = %self.job.id, "storage unreachable at the start: {error}");
            return Err(Halt::Fail(codes::storage_broken_at_start()));
        }
        let since = *self.outage.get_or_insert_with(|| {
            warn!(job = %self.job.id, "storage unreachable, retrying: {error}");
            now
        });
        if now - since >= self.ctx.storage_outage_limit {
            warn!(job = %self.job.id, since = %since, "storage still unreachable: giving up");
            return Err(Halt::Fail(codes::storage_broken_terminate()));
        }
        debug!(job = %self.job.id, "listing failed, will retry: {error}");
        self.runtime.snapshot.write().await.storage_issue =
            Some(codes::storage_broken_in_progress());
        Ok(())
    }

    /// The folder was listed: an outage, if there was one, is over.
    async fn storage_reachable(&mut self) {
        self.listed = true;
        if let Some(since) = self.outage.take() {
            info!(job = %self.job.id, since = %since, "storage reachable again");
            self.runtime.snapshot.write().await.storage_issue = None;
        }
    }

    /// Count a block in the metrics when `plan` (the job's new current plan) begins one.
    fn track_block(&mut self, plan: &Plan) {
        let blocked = plan.blocked.is_some();
        if blocked && !self.blocked {
            self.ctx.metrics.planner_blocked();
        }
        self.blocked = blocked;
    }

    async fn publish(&self, plan: &Arc<Plan>) {
        let mut snapshot = self.runtime.snapshot.write().await;
        snapshot.plan = Some(Arc::clone(plan));
        snapshot.listing = Arc::clone(&self.listing);
        snapshot.history = Arc::new(self.files.history.clone());
    }
}

/// `Full`, `Diff` or `Log` as restore details name them.
pub(crate) fn kind_name(kind: SetKind) -> &'static str {
    match kind {
        SetKind::Full => "Full",
        SetKind::Diff => "Diff",
        SetKind::Log => "Log",
    }
}
