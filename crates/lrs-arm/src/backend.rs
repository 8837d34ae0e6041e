//! The seam between the HTTP layer and the restore engine.
//!
//! Handlers talk to a [`Backend`] rather than to [`Engine`] directly, so that the whole HTTP
//! surface (envelopes, LRO headers, status codes) can be tested against a small in-memory fake
//! while the engine evolves. [`Engine`] is the one production implementation; each method
//! forwards to the engine method of the same name.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use lrs_engine::faults::{Fault, InjectFault};
use lrs_engine::{Engine, EngineError, RestoreDetails, StartRestore};
use lrs_store::{Database, Instance, InstanceKey, Operation};
use uuid::Uuid;

/// A boxed, sendable future (what the object-safe [`Backend`] methods return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the ARM front end needs from the restore engine: the methods of [`Engine`] it calls.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// A managed instance (created on first use unless the engine is strict).
    fn instance<'a>(&'a self, key: &'a InstanceKey)
    -> BoxFuture<'a, Result<Instance, EngineError>>;
    /// Create or replace a managed instance.
    fn put_instance<'a>(
        &'a self,
        key: &'a InstanceKey,
        location: &'a str,
        resource_json: &'a str,
    ) -> BoxFuture<'a, Result<Instance, EngineError>>;
    /// Instances of a subscription, optionally of one resource group.
    fn list_instances<'a>(
        &'a self,
        subscription: &'a str,
        resource_group: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Instance>, EngineError>>;
    /// Start an LRS migration.
    fn start_restore(&self, request: StartRestore)
    -> BoxFuture<'_, Result<Operation, EngineError>>;
    /// Create a plain database.
    fn create_database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
        location: &'a str,
        collation: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Operation, EngineError>>;
    /// A database.
    fn database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Database, EngineError>>;
    /// Databases of an instance.
    fn list_databases<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Vec<Database>, EngineError>>;
    /// Restore details of an LRS database.
    fn restore_details<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RestoreDetails, EngineError>>;
    /// Cutover.
    fn complete_restore<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
        last_backup_name: Option<String>,
    ) -> BoxFuture<'a, Result<Operation, EngineError>>;
    /// Drop (stop) a database.
    fn drop_database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Operation, EngineError>>;
    /// A long-running operation.
    fn operation(&self, id: Uuid) -> BoxFuture<'_, Result<Operation, EngineError>>;
    /// The long-running operations of an instance, newest first.
    fn instance_operations<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Vec<Operation>, EngineError>>;
    /// One operation of an instance (`InstanceOperationNotFound` when it is not one of its).
    fn instance_operation<'a>(
        &'a self,
        instance: &'a InstanceKey,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Operation, EngineError>>;
    /// Emulate a system-managed software update.
    fn system_patch(&self) -> BoxFuture<'_, Result<u64, EngineError>>;
    /// Emulate a failover of one instance.
    fn failover<'a>(&'a self, instance: &'a InstanceKey)
    -> BoxFuture<'a, Result<u64, EngineError>>;
    /// Inject a fault.
    fn inject_fault(&self, request: InjectFault) -> Result<Fault, EngineError>;
    /// The injected faults.
    fn faults(&self) -> Vec<Fault>;
    /// Clear one fault or all; how many went.
    fn clear_faults(&self, id: Option<Uuid>) -> usize;
    /// The engine's metrics in the Prometheus text format (`GET /metrics` appends the HTTP
    /// layer's own).
    fn render_metrics(&self) -> BoxFuture<'_, Result<String, EngineError>>;
}

impl Backend for Engine {
    fn instance<'a>(
        &'a self,
        key: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Instance, EngineError>> {
        Box::pin(Engine::instance(self, key))
    }

    fn put_instance<'a>(
        &'a self,
        key: &'a InstanceKey,
        location: &'a str,
        resource_json: &'a str,
    ) -> BoxFuture<'a, Result<Instance, EngineError>> {
        Box::pin(Engine::put_instance(self, key, location, resource_json))
    }

    fn list_instances<'a>(
        &'a self,
        subscription: &'a str,
        resource_group: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Instance>, EngineError>> {
        Box::pin(Engine::list_instances(self, subscription, resource_group))
    }

    fn start_restore(
        &self,
        request: StartRestore,
    ) -> BoxFuture<'_, Result<Operation, EngineError>> {
        Box::pin(Engine::start_restore(self, request))
    }

    fn create_database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
        location: &'a str,
        collation: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(Engine::create_database(
            self, instance, name, location, collation,
        ))
    }

    fn database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Database, EngineError>> {
        Box::pin(Engine::database(self, instance, name))
    }

    fn list_databases<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Vec<Database>, EngineError>> {
        Box::pin(Engine::list_databases(self, instance))
    }

    fn restore_details<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RestoreDetails, EngineError>> {
        Box::pin(Engine::restore_details(self, instance, name))
    }

    fn complete_restore<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
        last_backup_name: Option<String>,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(Engine::complete_restore(
            self,
            instance,
            name,
            last_backup_name,
        ))
    }

    fn drop_database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(Engine::drop_database(self, instance, name))
    }

    fn operation(&self, id: Uuid) -> BoxFuture<'_, Result<Operation, EngineError>> {
        Box::pin(Engine::operation(self, id))
    }

    fn instance_operations<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Vec<Operation>, EngineError>> {
        Box::pin(Engine::instance_operations(self, instance))
    }

    fn instance_operation<'a>(
        &'a self,
        instance: &'a InstanceKey,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(Engine::instance_operation(self, instance, id))
    }

    fn system_patch(&self) -> BoxFuture<'_, Result<u64, EngineError>> {
        Box::pin(Engine::system_patch(self))
    }

    fn failover<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<u64, EngineError>> {
        Box::pin(Engine::failover(self, instance))
    }

    fn inject_fault(&self, request: InjectFault) -> Result<Fault, EngineError> {
        Engine::inject_fault(self, request)
    }

    fn faults(&self) -> Vec<Fault> {
        Engine::faults(self)
    }

    fn clear_faults(&self, id: Option<Uuid>) -> usize {
        Engine::clear_faults(self, id)
    }

    fn render_metrics(&self) -> BoxFuture<'_, Result<String, EngineError>> {
        Box::pin(Engine::render_metrics(self))
    }
}
