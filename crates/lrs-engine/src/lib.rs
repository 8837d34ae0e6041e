//! The restore engine: one job per LRS database that watches its backup folder, reads the
//! headers of new files, advances the plan, applies backup sets WITH NORECOVERY into a target,
//! and ends on autocomplete, cutover, stop, failure or timeout, surviving restarts.
//!
//! [`Engine`] is the facade the API layer calls; [`api`] holds its request, view and error
//! types. Jobs run as tokio tasks ([`worker`]); their durable state lives in an
//! [`lrs_store::Store`], and a lease per job lets several nodes share one PostgreSQL store.

pub mod api;
pub mod catalogue;
pub mod clock;
mod codes;
mod context;
mod details;
pub mod faults;
pub mod journal;
mod layout;
pub mod metrics;
pub mod profile;
pub mod secrets;
pub mod stack;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use lrs_source::SourceSettings;
use lrs_source::sas::{self, SasToken};
use lrs_store::{
    Database, DatabaseStatus, Instance, InstanceKey, Job, JobMode, JobState, Operation,
    OperationKind, OperationStatus, StorageAuth, Store, StoreError,
};
use lrs_target::Target;
use tracing::{info, warn};
use uuid::Uuid;

pub use api::{
    BackupSetDetails, EngineError, Refusal, RestoreDetails, StartRestore, UnrestorableFile,
};
pub use clock::{Clock, ScaledClock};
pub use profile::{Expiry, Profile};

use context::Context;
use worker::{JobFiles, JobRuntime, Snapshot};

/// Collation of databases when the request names none (SQL Server's default on MI).
pub const DEFAULT_COLLATION: &str = "SQL_Latin1_General_CP1_CI_AS";

/// How far a SAS token's `st`/`se` may be off our clock.
const SAS_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Behaviour profile for new jobs.
    pub profile: Profile,
    /// Emulated time (scaled for tests and demos).
    pub clock: Arc<dyn Clock>,
    /// How storage URIs are reached (emulator endpoints, managed-identity keys, S3).
    pub source_settings: SourceSettings,
    /// This node's name (job leases in a shared store).
    pub node: String,
    /// How long a job lease lasts without renewal (real time).
    pub lease: Duration,
    /// How often an idle job lists its folder (real time).
    pub poll_interval: Duration,
    /// Refuse unknown managed instances (404) instead of creating them on first use.
    pub strict_instances: bool,
    /// Location given to instances created on first use.
    pub default_location: String,
    /// Seals SAS tokens before the store sees them (`None`: stored as given). The default is a
    /// key that dies with the process; `lrs serve` loads one kept in its data folder.
    pub secrets: Option<Arc<secrets::SecretKey>>,
    /// How long (emulated time) a job under way keeps retrying storage it cannot reach before
    /// it fails with `StorageBrokenIssueDetectedTerminateRetries` (ours: 1 hour; the real
    /// limit is not documented).
    pub storage_outage_limit: Duration,
    /// How long (emulated time) a cutover's complete operation stays `InProgress` after the
    /// database came online and the start operation ended. The real service's ended 0–37 s
    /// later in five recordings (docs/fidelity.md); the default is none (ours: test speed).
    pub cutover_lag: Duration,
}

impl EngineConfig {
    /// Defaults: `lrs-2021`, wall-clock time, 2-second polls, lenient instances in `westeurope`.
    pub fn new(source_settings: SourceSettings) -> Self {
        EngineConfig {
            profile: Profile::default(),
            clock: Arc::new(ScaledClock::new(1.0)),
            source_settings,
            node: format!("node-{}", Uuid::new_v4().simple()),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            strict_instances: false,
            default_location: "westeurope".into(),
            secrets: secrets::SecretKey::generate().ok().map(Arc::new),
            storage_outage_limit: Duration::from_secs(3600),
            cutover_lag: Duration::ZERO,
        }
    }
}

/// The engine: jobs, limits and timers over a store, sources and a target.
#[derive(Debug, Clone)]
pub struct Engine {
    ctx: Arc<Context>,
    jobs: Arc<Mutex<HashMap<Uuid, Arc<JobRuntime>>>>,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Engine {
    /// Start the engine: resumes the jobs the store holds (those no other node has a live
    /// lease on) and keeps adopting orphaned jobs. Must be called inside a tokio runtime.
    pub fn start(config: EngineConfig, store: Arc<dyn Store>, target: Arc<dyn Target>) -> Self {
        let lease = TimeDelta::from_std(config.lease).unwrap_or(TimeDelta::seconds(30));
        let metrics = Arc::new(metrics::EngineMetrics::new());
        // Every store call of the engine (API requests and workers alike) is timed.
        let store: Arc<dyn Store> =
            Arc::new(metrics::MeteredStore::new(store, Arc::clone(&metrics)));
        let ctx = Arc::new(Context {
            store,
            metrics,
            target,
            clock: config.clock,
            profile: config.profile,
            source_settings: config.source_settings,
            node: config.node,
            lease,
            poll_interval: config.poll_interval,
            strict_instances: config.strict_instances,
            default_location: config.default_location,
            secrets: config.secrets,
            storage_outage_limit: TimeDelta::from_std(config.storage_outage_limit)
                .unwrap_or(TimeDelta::MAX),
            cutover_lag: TimeDelta::from_std(config.cutover_lag).unwrap_or(TimeDelta::zero()),
            faults: faults::Faults::default(),
        });
        let engine = Engine {
            ctx,
            jobs: Arc::new(Mutex::new(HashMap::new())),
            shutdown: tokio_util::sync::CancellationToken::new(),
        };
        let adopter = engine.clone();
        tokio::spawn(async move { adopter.adopt_loop().await });
        engine
    }

    /// Stop every worker of this node (their jobs stay in the store; another start resumes
    /// them).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
        for runtime in self.runtimes() {
            runtime.cancel.cancel();
        }
    }

    /// [`Engine::shutdown`], then wait until every worker has returned (a restore in flight
    /// finishes first), so that another engine may take the jobs over safely.
    pub async fn stop(&self) {
        self.shutdown();
        for runtime in self.runtimes() {
            runtime.wait_finished().await;
        }
    }

    /// The engine's metrics (recorded by its workers and store calls).
    pub fn metrics(&self) -> &metrics::EngineMetrics {
        &self.ctx.metrics
    }

    /// Every engine metric in the Prometheus text format; the job gauges are read from the
    /// store now (the active jobs of every node sharing it) and from this node's workers.
    pub async fn render_metrics(&self) -> Result<String, EngineError> {
        let active = self.ctx.store.list_active_jobs().await?;
        let mut blocked = 0;
        for runtime in self.runtimes() {
            // A worker that has returned keeps its last snapshot: its job is not blocked now.
            if *runtime.finished.borrow() {
                continue;
            }
            let snapshot = runtime.snapshot.read().await;
            if snapshot.plan.as_ref().is_some_and(|p| p.blocked.is_some()) {
                blocked += 1;
            }
        }
        self.ctx
            .metrics
            .render(&active, blocked)
            .map_err(|e| EngineError::Internal(format!("metrics could not be encoded: {e}")))
    }

    /// The engine's clock (emulated time).
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.ctx.clock.now()
    }

    fn runtimes(&self) -> Vec<Arc<JobRuntime>> {
        match self.jobs.lock() {
            Ok(jobs) => jobs.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        }
    }

    fn runtime(&self, job: Uuid) -> Option<Arc<JobRuntime>> {
        let jobs = match self.jobs.lock() {
            Ok(jobs) => jobs,
            Err(poisoned) => poisoned.into_inner(),
        };
        jobs.get(&job).cloned()
    }

    /// Run `job` on this node unless a live worker already does.
    fn spawn_worker(&self, job: Uuid) {
        let (runtime, previous) = {
            let mut jobs = match self.jobs.lock() {
                Ok(jobs) => jobs,
                Err(poisoned) => poisoned.into_inner(),
            };
            if jobs.get(&job).is_some_and(|r| !r.cancel.is_cancelled()) {
                return;
            }
            let runtime = Arc::new(JobRuntime::new());
            let previous = jobs.insert(job, Arc::clone(&runtime));
            (runtime, previous)
        };
        let ctx = Arc::clone(&self.ctx);
        tokio::spawn(async move {
            // A stopped worker may still be finishing a restore: never run two at once.
            if let Some(previous) = previous {
                previous.wait_finished().await;
            }
            worker::run(ctx, job, Arc::clone(&runtime)).await;
            // Leave the runtime (and its last snapshot) for restore details; mark it ended.
            runtime.cancel.cancel();
            runtime.finished.send_replace(true);
        });
    }

    /// Resume jobs at start-up and adopt jobs whose owner's lease ran out.
    async fn adopt_loop(&self) {
        let period = (self.ctx.lease / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(10))
            .max(Duration::from_millis(100));
        loop {
            match self.ctx.store.list_active_jobs().await {
                Ok(jobs) => {
                    for job in jobs {
                        if self
                            .runtime(job.id)
                            .is_some_and(|r| !r.cancel.is_cancelled())
                        {
                            continue;
                        }
                        let now = Utc::now();
                        match self
                            .ctx
                            .store
                            .claim_job(job.id, &self.ctx.node, now, now + self.ctx.lease)
                            .await
                        {
                            Ok(true) => {
                                info!(job = %job.id, node = %self.ctx.node, "resuming restore job");
                                self.spawn_worker(job.id);
                            }
                            Ok(false) => {}
                            Err(e) => warn!(job = %job.id, "could not claim job: {e}"),
                        }
                    }
                }
                Err(e) => warn!("could not list active jobs: {e}"),
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
        }
    }

    /// A managed instance; unknown instances are created on first use unless strict.
    pub async fn instance(&self, key: &InstanceKey) -> Result<Instance, EngineError> {
        if let Some(instance) = self.ctx.store.get_instance(key).await? {
            return Ok(instance);
        }
        if self.ctx.strict_instances {
            return Err(EngineError::InstanceNotFound(key.clone()));
        }
        let location = self.ctx.default_location.clone();
        self.put_instance(key, &location, "{}").await
    }

    /// Create or replace a managed instance (`PUT`; provisioning is instant).
    pub async fn put_instance(
        &self,
        key: &InstanceKey,
        location: &str,
        resource_json: &str,
    ) -> Result<Instance, EngineError> {
        let instance = Instance {
            key: key.clone(),
            location: location.to_string(),
            resource_json: resource_json.to_string(),
            created_at: self.ctx.clock.now(),
        };
        Ok(self.ctx.store.put_instance(&instance).await?)
    }

    /// Instances of a subscription, optionally one resource group.
    pub async fn list_instances(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> Result<Vec<Instance>, EngineError> {
        Ok(self
            .ctx
            .store
            .list_instances(subscription, resource_group)
            .await?)
    }

    /// Validate a start request the way the real service does before accepting it.
    fn validate_start(
        &self,
        request: &StartRestore,
    ) -> Result<(JobMode, StorageAuth), EngineError> {
        let uri = request
            .storage_uri
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(codes::missing_uri)?;
        let mode = if request.auto_complete {
            let name = request
                .last_backup_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(codes::autocomplete_missing_name)?;
            JobMode::Autocomplete {
                last_backup_name: name.to_string(),
            }
        } else {
            JobMode::Continuous
        };
        let identity = request.identity.as_deref().map(str::trim).unwrap_or("");
        let auth = if identity.eq_ignore_ascii_case("ManagedIdentity") {
            if !self.ctx.profile.managed_identity {
                return Err(codes::invalid_create(&format!(
                    "storageContainerIdentity 'ManagedIdentity' is not available in the '{}' \
                     profile (the 2021 preview authenticates with a SAS token only); start the \
                     emulator with --profile ga.",
                    self.ctx.profile.name
                )));
            }
            StorageAuth::ManagedIdentity
        } else if identity.is_empty() || identity.eq_ignore_ascii_case("SharedAccessSignature") {
            if uri.starts_with("file:") || uri.starts_with('/') {
                // Local folders have no credentials; a token, if given, is not needed.
                StorageAuth::None
            } else {
                let token = request
                    .sas_token
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(codes::missing_sas)?;
                sas::check_uri(uri).map_err(|e| codes::sas_refused(&e.to_string()))?;
                SasToken::parse(token)
                    .and_then(|t| t.check(Utc::now(), SAS_CLOCK_SKEW))
                    .map_err(|e| codes::sas_refused(&e.to_string()))?;
                StorageAuth::Sas(self.ctx.seal(token)?)
            }
        } else {
            return Err(codes::invalid_create(&format!(
                "storageContainerIdentity must be 'SharedAccessSignature' or 'ManagedIdentity', \
                 not '{identity}'."
            )));
        };
        // Only storage this server may read: Azure's endpoints, loopback or configured
        // emulators, local folders under the configured roots (after the request's own checks,
        // which the real service makes first).
        lrs_source::check_location(uri, &self.ctx.source_settings)
            .map_err(|e| codes::sas_refused(&e.to_string()))?;
        Ok((mode, auth))
    }

    /// `DatabaseNumberLimitReached` when the instance holds the profile's maximum of databases
    /// (LRS or not, whatever their state).
    async fn check_database_limit(&self, instance: &InstanceKey) -> Result<(), EngineError> {
        if let Some(limit) = self.ctx.profile.max_databases_per_instance {
            let held = self.ctx.store.list_databases(instance).await?.len();
            if u64::try_from(held).unwrap_or(u64::MAX) >= limit {
                return Err(codes::database_limit());
            }
        }
        Ok(())
    }

    /// Start an LRS migration; returns the start operation (it stays InProgress until the
    /// migration ends).
    pub async fn start_restore(&self, request: StartRestore) -> Result<Operation, EngineError> {
        let (mode, auth) = self.validate_start(&request)?;
        let instance = self.instance(&request.instance).await?;
        if let Some(refusal) =
            self.ctx
                .faults
                .refusal(catalogue::Surface::Start, &instance.key, &request.database)
        {
            return Err(refusal);
        }
        let store = &self.ctx.store;
        if store
            .get_database(&instance.key, &request.database)
            .await?
            .is_some()
        {
            return Err(codes::name_in_use(&request.database));
        }
        self.check_database_limit(&instance.key).await?;
        let profile = &self.ctx.profile;
        let active = store.count_active_jobs_on_instance(&instance.key).await?;
        if active >= profile.max_restores_per_instance {
            return Err(codes::too_many_on_instance(
                &instance.key.instance,
                profile.max_restores_per_instance,
            ));
        }
        if let Some(limit) = profile.max_restores_per_subscription {
            let active = store
                .count_active_jobs_in_subscription(&instance.key.subscription)
                .await?;
            if active >= limit {
                return Err(codes::too_many_in_subscription(
                    &instance.key.subscription,
                    limit,
                ));
            }
        }
        let now = self.ctx.clock.now();
        let database = Database {
            id: Uuid::new_v4(),
            instance: instance.key.clone(),
            name: request.database.clone(),
            location: request.location.clone(),
            collation: request
                .collation
                .clone()
                .unwrap_or_else(|| DEFAULT_COLLATION.to_string()),
            status: DatabaseStatus::Restoring,
            created_by_lrs: true,
            created_at: now,
        };
        let job = Job {
            id: Uuid::new_v4(),
            database_id: database.id,
            state: JobState::Initializing,
            mode,
            storage_uri: request.storage_uri.clone().unwrap_or_default(),
            auth,
            profile: profile.name.to_string(),
            started_at: now,
            deadline_at: now + profile.job_lifetime,
            complete_requested: None,
            error: None,
            finished_at: None,
            version: 0,
            owner: Some(self.ctx.node.clone()),
            lease_until: Some(Utc::now() + self.ctx.lease),
        };
        let operation =
            self.fresh_operation(OperationKind::StartRestore, &database, &request.database);
        // All three or nothing: a concurrent DELETE of the name finds either no database or a
        // database with its job (never an orphan, never a half-made start).
        match store.start_migration(&database, &job, &operation).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(codes::name_in_use(&request.database)),
            Err(e) => return Err(e.into()),
        }
        info!(database = %request.database, instance = %instance.key.instance, job = %job.id, "LRS migration started");
        self.ctx.faults.bind_next(&instance.key, &request.database);
        self.spawn_worker(job.id);
        Ok(operation)
    }

    async fn new_operation(
        &self,
        kind: OperationKind,
        database: &Database,
        name: &str,
    ) -> Result<Operation, EngineError> {
        let operation = self.fresh_operation(kind, database, name);
        self.ctx.store.create_operation(&operation).await?;
        Ok(operation)
    }

    /// A new operation on `database`, in progress from now.
    fn fresh_operation(&self, kind: OperationKind, database: &Database, name: &str) -> Operation {
        Operation {
            id: Uuid::new_v4(),
            kind,
            database_id: database.id,
            instance: database.instance.clone(),
            database_name: name.to_string(),
            status: OperationStatus::InProgress,
            error: None,
            started_at: self.ctx.clock.now(),
            finished_at: None,
        }
    }

    /// Create a plain (non-LRS) database, online at once.
    pub async fn create_database(
        &self,
        instance: &InstanceKey,
        name: &str,
        location: &str,
        collation: Option<&str>,
    ) -> Result<Operation, EngineError> {
        let instance = self.instance(instance).await?;
        if self
            .ctx
            .store
            .get_database(&instance.key, name)
            .await?
            .is_some()
        {
            return Err(codes::name_in_use(name));
        }
        self.check_database_limit(&instance.key).await?;
        let database = Database {
            id: Uuid::new_v4(),
            instance: instance.key.clone(),
            name: name.to_string(),
            location: location.to_string(),
            collation: collation.unwrap_or(DEFAULT_COLLATION).to_string(),
            status: DatabaseStatus::Online,
            created_by_lrs: false,
            created_at: self.ctx.clock.now(),
        };
        match self.ctx.store.create_database(&database).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(codes::name_in_use(name)),
            Err(e) => return Err(e.into()),
        }
        let operation = self
            .new_operation(OperationKind::CreateDatabase, &database, name)
            .await?;
        let now = self.ctx.clock.now();
        self.ctx
            .store
            .finish_operation(operation.id, OperationStatus::Succeeded, None, now)
            .await?;
        Ok(Operation {
            status: OperationStatus::Succeeded,
            finished_at: Some(now),
            ..operation
        })
    }

    /// A database.
    pub async fn database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> Result<Database, EngineError> {
        let instance = self.instance(instance).await?;
        if let Some(database) = self.ctx.store.get_database(&instance.key, name).await? {
            return Ok(database);
        }
        // Operations outlive their database: one naming it says it existed.
        let dropped = self
            .ctx
            .store
            .list_instance_operations(&instance.key)
            .await?
            .iter()
            .any(|op| op.database_name.eq_ignore_ascii_case(name));
        Err(EngineError::DatabaseNotFound {
            instance: instance.key.clone(),
            name: name.to_string(),
            dropped,
        })
    }

    /// Databases of an instance.
    pub async fn list_databases(
        &self,
        instance: &InstanceKey,
    ) -> Result<Vec<Database>, EngineError> {
        let instance = self.instance(instance).await?;
        Ok(self.ctx.store.list_databases(&instance.key).await?)
    }

    /// Restore details of an LRS database (`RestoreDetailsNotAvailableOrExpired` otherwise).
    pub async fn restore_details(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> Result<RestoreDetails, EngineError> {
        let database = self.database(instance, name).await?;
        if !database.created_by_lrs {
            return Err(codes::details_not_available());
        }
        if let Some(refusal) =
            self.ctx
                .faults
                .refusal(catalogue::Surface::Details, &database.instance, name)
        {
            return Err(refusal);
        }
        let job = self
            .ctx
            .store
            .job_for_database(database.id)
            .await?
            .ok_or_else(codes::details_not_available)?;
        let snapshot = self.snapshot(&job).await?;
        Ok(details::restore_details(&job, &snapshot))
    }

    /// The job's latest snapshot: from its worker on this node, else rebuilt from the store.
    async fn snapshot(&self, job: &Job) -> Result<Snapshot, EngineError> {
        if let Some(runtime) = self.runtime(job.id) {
            let snapshot = runtime.snapshot.read().await.clone();
            if snapshot.plan.is_some() {
                return Ok(snapshot);
            }
        }
        let mut files = JobFiles::load(&self.ctx, job).await?;
        let listing = self
            .ctx
            .store
            .list_files(job.id)
            .await?
            .into_iter()
            .map(|f| (f.name, f.last_modified, f.size))
            .collect();
        Ok(Snapshot {
            plan: Some(Arc::new(files.planner.plan())),
            listing: Arc::new(listing),
            history: Arc::new(files.history),
            // No worker on this node: nothing known about the storage right now.
            storage_issue: None,
            fault: None,
        })
    }

    /// Cutover (`completeRestore`); `last_backup_name` None when the body lacked it.
    pub async fn complete_restore(
        &self,
        instance: &InstanceKey,
        name: &str,
        last_backup_name: Option<String>,
    ) -> Result<Operation, EngineError> {
        let database = self.database(instance, name).await?;
        if let Some(refusal) =
            self.ctx
                .faults
                .refusal(catalogue::Surface::Complete, &database.instance, name)
        {
            return Err(refusal);
        }
        let last = last_backup_name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .ok_or_else(codes::complete_missing_name)?;
        let job = self
            .ctx
            .store
            .job_for_database(database.id)
            .await?
            .ok_or_else(codes::not_restoring)?;
        if job.state.is_terminal() || job.state == JobState::Completing {
            return Err(codes::not_restoring());
        }
        if job.complete_requested.is_some() {
            return Err(codes::already_signaled());
        }
        // The cutover may be asked for while restores still run: the real service accepted
        // it 11 s after the start and while the full backup was restoring, and cut over once
        // the restores had caught up (docs/fidelity.md, "completeRestore"). The job restores
        // up to the named file (past it too under the 2021 profile), then cuts over. Refused
        // when restores are under way and the name is no set of the job's chain (2021) or no
        // set still to restore (GA: it would never be the last restored file).
        let mut restored: Vec<_> = self
            .ctx
            .store
            .list_restores(job.id)
            .await?
            .into_iter()
            .filter_map(|r| Some((r.finished_at?, r.first_stripe_name)))
            .collect();
        restored.sort_by_key(|(finished, _)| *finished);
        if let Some((_, last_restored)) = restored.last()
            && last_restored != &last
        {
            let past_last = self.ctx.profile_of(&job).restores_past_last_backup;
            let snapshot = self.snapshot(&job).await?;
            let acceptable = snapshot.plan.as_ref().is_some_and(|plan| {
                plan.sequence().any(|set| {
                    (past_last || set.status != lrs_plan::SetStatus::Restored)
                        && set.stripes.iter().any(|stripe| *stripe.file == *last)
                })
            });
            if !acceptable {
                return Err(codes::not_last_restored(&last, last_restored));
            }
        }
        let mut signaled_twice = false;
        self.ctx
            .modify_job(job.id, |job| {
                if job.complete_requested.is_some() {
                    signaled_twice = true;
                    return false;
                }
                job.complete_requested = Some(last.clone());
                true
            })
            .await?;
        if signaled_twice {
            return Err(codes::already_signaled());
        }
        let operation = self
            .new_operation(OperationKind::CompleteRestore, &database, name)
            .await?;
        if let Some(runtime) = self.runtime(job.id) {
            runtime.wake.notify_one();
        }
        Ok(operation)
    }

    /// Drop a database (stop for an LRS one: the job ends and cannot resume). The database is
    /// gone from the API at once; the target drops it once the job's worker has let go of it,
    /// and the drop operation then turns `Succeeded`.
    pub async fn drop_database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> Result<Operation, EngineError> {
        let database = self.database(instance, name).await?;
        let store = &self.ctx.store;
        let operation = self
            .new_operation(OperationKind::DropDatabase, &database, name)
            .await?;
        let mut worker = None;
        if let Some(job) = store.job_for_database(database.id).await? {
            let now = self.ctx.clock.now();
            // Whether this call stopped the job (the closure's last run is the one stored).
            let mut ended = false;
            let stopped = self
                .ctx
                .modify_job(job.id, |job| {
                    ended = false;
                    if job.state.is_terminal() {
                        return false;
                    }
                    ended = true;
                    job.state = JobState::Stopped;
                    job.finished_at = Some(now);
                    context::forget_secret(job);
                    true
                })
                .await?;
            if let Some(job) = &stopped
                && ended
            {
                self.ctx.metrics.job_ended(job);
            }
            worker = self.runtime(job.id);
            if let Some(runtime) = &worker {
                runtime.cancel.cancel();
            }
            if let Some(job) = stopped {
                self.ctx.settle_operations(&job).await?;
            }
        }
        store.delete_database(database.id).await?;
        let ctx = Arc::clone(&self.ctx);
        let op_id = operation.id;
        tokio::spawn(async move {
            if let Some(runtime) = worker {
                runtime.wait_finished().await;
            }
            // An injected slow fault holds the drop (its operation stays `InProgress`): the
            // real service's drop of a restoring database took 25 minutes in a recording.
            ctx.faults
                .wait_if_slow(&database.instance, &database.name)
                .await;
            let (status, error) = match ctx.target.drop_database(&database.name).await {
                Ok(()) => (OperationStatus::Succeeded, None),
                Err(e) => {
                    warn!(database = %database.name, "target could not drop the database: {e}");
                    (
                        OperationStatus::Failed,
                        Some(lrs_store::ErrorRecord {
                            code: "InternalServerError".into(),
                            message: format!("The database could not be dropped: {e}"),
                        }),
                    )
                }
            };
            let now = ctx.clock.now();
            if let Err(e) = ctx.store.finish_operation(op_id, status, error, now).await {
                warn!(operation = %op_id, "could not record the end of a drop: {e}");
            }
        });
        Ok(operation)
    }

    /// A long-running operation's current state.
    pub async fn operation(&self, id: Uuid) -> Result<Operation, EngineError> {
        let op = self
            .ctx
            .store
            .get_operation(id)
            .await?
            .ok_or(EngineError::OperationNotFound(id))?;
        Ok(self.as_seen_now(op))
    }

    /// An operation as clients see it now: a complete operation whose end lies ahead (the
    /// cutover lag) is still `InProgress`.
    fn as_seen_now(&self, mut op: Operation) -> Operation {
        if op.finished_at.is_some_and(|end| end > self.ctx.clock.now()) {
            op.status = OperationStatus::InProgress;
            op.finished_at = None;
            op.error = None;
        }
        op
    }

    /// Inject a fault (see [`faults`]).
    pub fn inject_fault(&self, request: faults::InjectFault) -> Result<faults::Fault, EngineError> {
        let fault = self.ctx.faults.inject(request)?;
        info!(code = ?fault.code, effect = ?fault.effect, target = ?fault.target, "fault injected");
        // Jobs idle between polls: let them meet the fault now.
        for runtime in self.runtimes() {
            runtime.wake.notify_one();
        }
        Ok(fault)
    }

    /// The faults injected on this node.
    pub fn faults(&self) -> Vec<faults::Fault> {
        self.ctx.faults.list()
    }

    /// Clear one fault, or all; returns how many were cleared.
    pub fn clear_faults(&self, id: Option<Uuid>) -> usize {
        let cleared = self.ctx.faults.clear(id);
        for runtime in self.runtimes() {
            runtime.wake.notify_one();
        }
        cleared
    }

    /// The long-running operations of a managed instance (start, cutover, drop and create of its
    /// databases, dropped ones included), newest first. An unknown instance is created on first
    /// use unless the engine is strict (then `InstanceNotFound`).
    pub async fn instance_operations(
        &self,
        instance: &InstanceKey,
    ) -> Result<Vec<Operation>, EngineError> {
        let instance = self.instance(instance).await?;
        Ok(self
            .ctx
            .store
            .list_instance_operations(&instance.key)
            .await?
            .into_iter()
            .map(|op| self.as_seen_now(op))
            .collect())
    }

    /// One operation of a managed instance; `InstanceOperationNotFound` when there is no such
    /// operation or it acted on another instance.
    pub async fn instance_operation(
        &self,
        instance: &InstanceKey,
        id: Uuid,
    ) -> Result<Operation, EngineError> {
        let instance = self.instance(instance).await?;
        match self.ctx.store.get_operation(id).await? {
            Some(op) if same_instance(&op.instance, &instance.key) => Ok(self.as_seen_now(op)),
            _ => Err(EngineError::InstanceOperationNotFound {
                instance: instance.key,
                id,
            }),
        }
    }

    /// Emulate a system-managed software update now. Under `lrs-2021` the update is held off
    /// for each job's 47-hour window and stops jobs past it; under `ga` running jobs are
    /// suspended and resumed ("resumable restore"). Returns the number of jobs affected.
    pub async fn system_patch(&self) -> Result<u64, EngineError> {
        let now = self.ctx.clock.now();
        let mut affected = 0;
        for job in self.ctx.store.list_active_jobs().await? {
            let profile = self.ctx.profile_of(&job);
            match profile.expiry {
                Expiry::PatchWindow => {
                    if now >= job.deadline_at {
                        self.ctx
                            .fail_job(job.id, self.ctx.expiry_error(&profile))
                            .await?;
                        if let Some(runtime) = self.runtime(job.id) {
                            runtime.cancel.cancel();
                        }
                        affected += 1;
                    }
                }
                Expiry::Lifetime => {
                    if let Some(runtime) = self.runtime(job.id) {
                        runtime.cancel.cancel();
                    }
                    self.spawn_worker(job.id);
                    affected += 1;
                }
            }
        }
        Ok(affected)
    }

    /// Emulate a failover of one instance now: a job still restoring its first full backup
    /// fails and its database is dropped (as the real service documents); other jobs are
    /// interrupted and resume. Returns the number of jobs affected.
    pub async fn failover(&self, instance: &InstanceKey) -> Result<u64, EngineError> {
        let instance = self.instance(instance).await?;
        let mut affected = 0;
        for job in self.ctx.store.list_active_jobs().await? {
            let Some(database) = self.ctx.store.get_database_by_id(job.database_id).await? else {
                continue;
            };
            if !same_instance(&database.instance, &instance.key) {
                continue;
            }
            affected += 1;
            let worker = self.runtime(job.id);
            if let Some(runtime) = &worker {
                runtime.cancel.cancel();
                // The interrupted restore ends before the database is touched again.
                runtime.wait_finished().await;
            }
            let restored_any = self
                .ctx
                .store
                .list_restores(job.id)
                .await?
                .iter()
                .any(|r| r.finished_at.is_some());
            if restored_any {
                self.spawn_worker(job.id);
            } else {
                self.ctx
                    .fail_job(job.id, codes::failover_during_full())
                    .await?;
                if let Err(e) = self.ctx.target.drop_database(&database.name).await {
                    warn!(database = %database.name, "target could not drop the database: {e}");
                }
                self.ctx.store.delete_database(database.id).await?;
            }
        }
        Ok(affected)
    }
}

/// Whether two keys name the same instance (names compare case-insensitively, as in ARM).
fn same_instance(a: &InstanceKey, b: &InstanceKey) -> bool {
    a.subscription.to_lowercase() == b.subscription.to_lowercase()
        && a.resource_group.to_lowercase() == b.resource_group.to_lowercase()
        && a.instance.to_lowercase() == b.instance.to_lowercase()
}
