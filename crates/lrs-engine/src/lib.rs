//! The restore engine: one job per LRS database that watches its backup folder, reads the
//! headers of new files, advances the plan, applies backup sets WITH NORECOVERY into a target,
//! and ends on autocomplete, cutover, stop, failure or timeout, surviving restarts.
//!
//! [`Engine`] is the facade the API layer calls; [`api`] holds its request, view and error
//! types.

pub mod api;

use std::sync::Arc;

use lrs_store::{Database, Instance, InstanceKey, Operation, Store};
use lrs_target::Target;
use uuid::Uuid;

pub use api::{BackupSetDetails, EngineError, RestoreDetails, StartRestore, UnrestorableFile};

/// The engine: jobs, limits and timers over a store, sources and a target.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    target: Arc<dyn Target>,
}

impl Engine {
    /// An engine over `store` and `target` (jobs are resumed by [`Engine::resume`]).
    pub fn new(store: Arc<dyn Store>, target: Arc<dyn Target>) -> Self {
        Engine {
            inner: Arc::new(Inner { store, target }),
        }
    }

    /// A managed instance; unknown instances are created on first use unless strict.
    pub async fn instance(&self, key: &InstanceKey) -> Result<Instance, EngineError> {
        let _ = (&self.inner.store, &self.inner.target, key);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Create or replace a managed instance (`PUT`; provisioning is instant).
    pub async fn put_instance(
        &self,
        key: &InstanceKey,
        location: &str,
        resource_json: &str,
    ) -> Result<Instance, EngineError> {
        let _ = (key, location, resource_json);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Instances of a subscription, optionally one resource group.
    pub async fn list_instances(
        &self,
        subscription: &str,
        resource_group: Option<&str>,
    ) -> Result<Vec<Instance>, EngineError> {
        let _ = (subscription, resource_group);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Start an LRS migration; returns the start operation (it stays InProgress until the
    /// migration ends).
    pub async fn start_restore(&self, request: StartRestore) -> Result<Operation, EngineError> {
        let _ = request;
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Create a plain (non-LRS) database, online at once.
    pub async fn create_database(
        &self,
        instance: &InstanceKey,
        name: &str,
        location: &str,
        collation: Option<&str>,
    ) -> Result<Operation, EngineError> {
        let _ = (instance, name, location, collation);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// A database.
    pub async fn database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> Result<Database, EngineError> {
        let _ = (instance, name);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Databases of an instance.
    pub async fn list_databases(
        &self,
        instance: &InstanceKey,
    ) -> Result<Vec<Database>, EngineError> {
        let _ = instance;
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Restore details of an LRS database (`RestoreDetailsNotAvailableOrExpired` otherwise).
    pub async fn restore_details(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> Result<RestoreDetails, EngineError> {
        let _ = (instance, name);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Cutover (`completeRestore`); `last_backup_name` None when the body lacked it.
    pub async fn complete_restore(
        &self,
        instance: &InstanceKey,
        name: &str,
        last_backup_name: Option<String>,
    ) -> Result<Operation, EngineError> {
        let _ = (instance, name, last_backup_name);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// Drop a database (stop for an LRS one: the job ends and cannot resume).
    pub async fn drop_database(
        &self,
        instance: &InstanceKey,
        name: &str,
    ) -> Result<Operation, EngineError> {
        let _ = (instance, name);
        Err(EngineError::Internal("not built yet".into()))
    }

    /// A long-running operation's current state.
    pub async fn operation(&self, id: Uuid) -> Result<Operation, EngineError> {
        let _ = id;
        Err(EngineError::Internal("not built yet".into()))
    }
}
