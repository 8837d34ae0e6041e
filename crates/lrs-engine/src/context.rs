//! What every job and API call shares: the store, the target, the clock and the settings, plus
//! the job transitions that several places make (fail, complete, settle operations).

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use lrs_source::SourceSettings;
use lrs_store::{
    DatabaseStatus, ErrorRecord, Job, JobState, OperationKind, OperationStatus, Store, StoreError,
};
use lrs_target::Target;
use uuid::Uuid;

use crate::clock::Clock;
use crate::codes;
use crate::profile::{Expiry, Profile};

/// Shared engine state.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) store: Arc<dyn Store>,
    /// The engine's metrics.
    pub(crate) metrics: Arc<crate::metrics::EngineMetrics>,
    pub(crate) target: Arc<dyn Target>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Profile for new jobs.
    pub(crate) profile: Profile,
    pub(crate) source_settings: SourceSettings,
    /// This node's name (job leases).
    pub(crate) node: String,
    /// How long a lease lasts without renewal (real time).
    pub(crate) lease: TimeDelta,
    /// How often an idle job lists its folder (real time).
    pub(crate) poll_interval: Duration,
    /// Refuse unknown instances instead of creating them.
    pub(crate) strict_instances: bool,
    /// Location of instances created on first use.
    pub(crate) default_location: String,
    /// Seals SAS tokens at rest.
    pub(crate) secrets: Option<Arc<crate::secrets::SecretKey>>,
    /// How long (emulated time) a job under way keeps retrying unreachable storage.
    pub(crate) storage_outage_limit: TimeDelta,
    /// How long a cutover's complete operation outlives the cutover.
    pub(crate) cutover_lag: TimeDelta,
    /// Injected faults (this node's).
    pub(crate) faults: crate::faults::Faults,
}

/// A job that ended keeps no credential: its SAS token is removed from the store.
pub(crate) fn forget_secret(job: &mut Job) {
    if let lrs_store::StorageAuth::Sas(token) = &mut job.auth {
        token.clear();
    }
}

impl Context {
    /// `token` as the store keeps it (sealed when a key is configured).
    pub(crate) fn seal(&self, token: &str) -> Result<String, crate::api::EngineError> {
        match &self.secrets {
            Some(key) => key
                .seal(token)
                .map_err(|e| crate::api::EngineError::Internal(e.to_string())),
            None => Ok(token.to_string()),
        }
    }

    /// A stored token as the source needs it.
    pub(crate) fn unseal(&self, stored: &str) -> Result<String, crate::secrets::SecretError> {
        match &self.secrets {
            Some(key) => key.open(stored),
            None => Ok(stored.to_string()),
        }
    }

    /// The profile a job was started under (jobs keep theirs across restarts).
    pub(crate) fn profile_of(&self, job: &Job) -> Profile {
        Profile::by_name(&job.profile).unwrap_or_else(|| self.profile.clone())
    }

    /// The error that ends a job whose time ran out.
    pub(crate) fn expiry_error(&self, profile: &Profile) -> ErrorRecord {
        match profile.expiry {
            Expiry::PatchWindow => codes::patch_window_expired(profile.job_lifetime.num_hours()),
            Expiry::Lifetime => codes::lifetime_expired(profile.job_lifetime.num_days()),
        }
    }

    /// Apply `change` to a job with optimistic concurrency, retrying on a concurrent update.
    /// Returns the job as stored, or None when it does not exist.
    pub(crate) async fn modify_job(
        &self,
        id: Uuid,
        mut change: impl FnMut(&mut Job) -> bool,
    ) -> Result<Option<Job>, StoreError> {
        for _ in 0..32 {
            let Some(mut job) = self.store.get_job(id).await? else {
                return Ok(None);
            };
            if !change(&mut job) {
                return Ok(Some(job));
            }
            match self.store.update_job(&job).await {
                Ok(version) => {
                    job.version = version;
                    return Ok(Some(job));
                }
                Err(StoreError::Stale(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Stale(format!("job {id}")))
    }

    /// Fail a job (unless it already ended) and settle its operations.
    pub(crate) async fn fail_job(&self, id: Uuid, error: ErrorRecord) -> Result<(), StoreError> {
        let now = self.clock.now();
        // Whether this call ended the job (the closure's last run is the one that was stored).
        let mut ended = false;
        let job = self
            .modify_job(id, |job| {
                ended = false;
                if job.state.is_terminal() {
                    return false;
                }
                ended = true;
                job.state = JobState::Failed;
                job.error = Some(error.clone());
                job.finished_at = Some(now);
                forget_secret(job);
                true
            })
            .await?;
        if let Some(job) = job {
            if ended {
                self.metrics.job_ended(&job);
            }
            if job.state == JobState::Failed {
                self.store
                    .set_database_status(job.database_id, DatabaseStatus::Inaccessible)
                    .await
                    .or_else(ignore_missing)?;
            }
            self.settle_operations(&job).await?;
        }
        Ok(())
    }

    /// Mark a job completed, its database online, and settle its operations.
    pub(crate) async fn complete_job(&self, id: Uuid) -> Result<(), StoreError> {
        let now = self.clock.now();
        // Whether this call ended the job (the closure's last run is the one that was stored).
        let mut ended = false;
        let job = self
            .modify_job(id, |job| {
                ended = false;
                if job.state.is_terminal() {
                    return false;
                }
                ended = true;
                job.state = JobState::Completed;
                job.finished_at = Some(now);
                forget_secret(job);
                true
            })
            .await?;
        if let Some(job) = job {
            if ended {
                self.metrics.job_ended(&job);
            }
            if job.state == JobState::Completed {
                self.store
                    .set_database_status(job.database_id, DatabaseStatus::Online)
                    .await
                    .or_else(ignore_missing)?;
            }
            self.settle_operations(&job).await?;
        }
        Ok(())
    }

    /// Finish the open operations of a job's database that its terminal state decides: the
    /// start operation ends when the migration ends (Succeeded after cutover or a stop, Failed
    /// with the job's error), and a pending complete with it.
    pub(crate) async fn settle_operations(&self, job: &Job) -> Result<(), StoreError> {
        if !job.state.is_terminal() {
            return Ok(());
        }
        let now = self.clock.now();
        for op in self.store.list_open_operations(job.database_id).await? {
            let (status, error) = match (op.kind, job.state) {
                (
                    OperationKind::StartRestore | OperationKind::CompleteRestore,
                    JobState::Failed,
                ) => (OperationStatus::Failed, job.error.clone()),
                (OperationKind::StartRestore | OperationKind::CompleteRestore, _) => {
                    (OperationStatus::Succeeded, None)
                }
                // Drops and creates are settled by their own code paths.
                _ => continue,
            };
            // A cutover's complete operation ends the lag after the cutover: its end is
            // stored now, at a time ahead (crash-safe: nothing is left to do later), and
            // readers show it running until then (`Engine::operation`).
            let end =
                if op.kind == OperationKind::CompleteRestore && job.state == JobState::Completed {
                    now + self.cutover_lag
                } else {
                    now
                };
            self.store
                .finish_operation(op.id, status, error, end)
                .await?;
        }
        Ok(())
    }
}

/// A row that is already gone is not an error when settling.
pub(crate) fn ignore_missing(e: StoreError) -> Result<(), StoreError> {
    match e {
        StoreError::NotFound(_) => Ok(()),
        e => Err(e),
    }
}
