//! An in-memory [`Backend`] for the HTTP tests: just enough engine behaviour (instances created on
//! first use, LRS databases restoring until completed, operations finishing on demand) to
//! drive every handler, plus hooks for failures (a database named `panic` panics, one named
//! `broken` fails internally).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use lrs_engine::{EngineError, Refusal, RestoreDetails, StartRestore, UnrestorableFile};
use lrs_store::{
    Database, DatabaseStatus, ErrorRecord, Instance, InstanceKey, Operation, OperationKind,
    OperationStatus,
};
use uuid::Uuid;

use crate::backend::{Backend, BoxFuture};

#[derive(Debug, Default)]
pub(crate) struct FakeBackend {
    /// Unknown instances are a 404 instead of being created.
    pub(crate) strict: bool,
    state: Mutex<FakeState>,
    /// The engine's own fault registry: the admin handlers see the same types and checks.
    faults: lrs_engine::faults::Faults,
}

#[derive(Debug, Default)]
struct FakeState {
    instances: Vec<Instance>,
    databases: Vec<Database>,
    operations: HashMap<Uuid, Operation>,
    /// Operation ids in creation order (ties of `started_at` list the latest first).
    created: Vec<Uuid>,
    starts: Vec<StartRestore>,
    completes: Vec<Option<String>>,
}

fn same(a: &InstanceKey, b: &InstanceKey) -> bool {
    a.subscription.eq_ignore_ascii_case(&b.subscription)
        && a.resource_group.eq_ignore_ascii_case(&b.resource_group)
        && a.instance.eq_ignore_ascii_case(&b.instance)
}

impl FakeBackend {
    pub(crate) fn strict() -> Self {
        FakeBackend {
            strict: true,
            ..Default::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The start requests received.
    pub(crate) fn starts(&self) -> Vec<StartRestore> {
        self.lock().starts.clone()
    }

    /// The `last_backup_name`s completeRestore received.
    pub(crate) fn completes(&self) -> Vec<Option<String>> {
        self.lock().completes.clone()
    }

    /// Finish an operation as the engine would: a cutover brings the database online and ends
    /// the start operation too.
    pub(crate) fn finish(&self, id: Uuid, status: OperationStatus, error: Option<ErrorRecord>) {
        let mut s = self.lock();
        let Some(op) = s.operations.get(&id).cloned() else {
            return;
        };
        let now = Utc::now();
        let finished = |o: &mut Operation| {
            o.status = status;
            o.error = error.clone();
            o.finished_at = Some(now);
        };
        if let Some(o) = s.operations.get_mut(&id) {
            finished(o);
        }
        if op.kind == OperationKind::CompleteRestore && status == OperationStatus::Succeeded {
            for db in s.databases.iter_mut().filter(|d| d.id == op.database_id) {
                db.status = DatabaseStatus::Online;
            }
            for o in s.operations.values_mut().filter(|o| {
                o.database_id == op.database_id && o.kind == OperationKind::StartRestore
            }) {
                finished(o);
            }
        }
    }

    fn ensure_instance(
        &self,
        s: &mut FakeState,
        key: &InstanceKey,
    ) -> Result<Instance, EngineError> {
        if let Some(i) = s.instances.iter().find(|i| same(&i.key, key)) {
            return Ok(i.clone());
        }
        if self.strict {
            return Err(EngineError::InstanceNotFound(key.clone()));
        }
        let instance = Instance {
            key: key.clone(),
            location: "westeurope".into(),
            resource_json: "{}".into(),
            created_at: Utc::now(),
        };
        s.instances.push(instance.clone());
        Ok(instance)
    }

    fn new_op(
        s: &mut FakeState,
        kind: OperationKind,
        db: &Database,
        status: OperationStatus,
    ) -> Operation {
        let op = Operation {
            id: Uuid::new_v4(),
            kind,
            database_id: db.id,
            instance: db.instance.clone(),
            database_name: db.name.clone(),
            status,
            error: None,
            started_at: Utc::now(),
            finished_at: (status != OperationStatus::InProgress).then(Utc::now),
        };
        s.operations.insert(op.id, op.clone());
        s.created.push(op.id);
        op
    }

    fn find_db(s: &FakeState, key: &InstanceKey, name: &str) -> Result<Database, EngineError> {
        if name == "panic" {
            panic!("fake backend asked to panic");
        }
        if name == "broken" {
            return Err(EngineError::Internal(
                "sqlite: disk I/O error at /secret/path/lrs.db".into(),
            ));
        }
        s.databases
            .iter()
            .find(|d| same(&d.instance, key) && d.name.eq_ignore_ascii_case(name))
            .cloned()
            .ok_or_else(|| EngineError::DatabaseNotFound {
                instance: key.clone(),
                name: name.to_string(),
                dropped: false,
            })
    }

    fn new_db(
        &self,
        s: &mut FakeState,
        key: &InstanceKey,
        name: &str,
        location: &str,
        collation: Option<&str>,
        lrs: bool,
    ) -> Result<Database, EngineError> {
        self.ensure_instance(s, key)?;
        if Self::find_db(s, key, name).is_ok() {
            return Err(Refusal::NameInUse {
                database: name.to_string(),
            }
            .into());
        }
        let db = Database {
            id: Uuid::new_v4(),
            instance: key.clone(),
            name: name.to_string(),
            location: location.to_string(),
            collation: collation
                .unwrap_or("SQL_Latin1_General_CP1_CI_AS")
                .to_string(),
            status: if lrs {
                DatabaseStatus::Restoring
            } else {
                DatabaseStatus::Online
            },
            created_by_lrs: lrs,
            created_at: Utc::now(),
        };
        s.databases.push(db.clone());
        Ok(db)
    }
}

/// Restore details of a database that is half-way through its logs.
pub(crate) fn sample_details() -> RestoreDetails {
    RestoreDetails {
        status: "Restoring".into(),
        block_reason: None,
        last_uploaded_file_name: Some("log2.trn".into()),
        last_uploaded_file_time: None,
        last_restored_file_name: Some("log1.trn".into()),
        last_restored_file_time: None,
        percent_completed: 50.0,
        current_restored_size_mb: 10,
        current_restore_plan_size_mb: 20,
        current_backup_type: Some("Log".into()),
        current_restoring_file_name: Some("log2.trn".into()),
        number_of_files_detected: 3,
        number_of_files_queued: 0,
        number_of_files_skipped: 0,
        number_of_files_restoring: 1,
        number_of_files_restored: 2,
        number_of_files_unrestorable: 1,
        full_backup_sets: vec![],
        diff_backup_sets: vec![],
        log_backup_sets: vec![],
        unrestorable_files: vec![UnrestorableFile {
            name: "notes.txt".into(),
            reason: "not a backup".into(),
        }],
    }
}

impl Backend for FakeBackend {
    fn instance<'a>(
        &'a self,
        key: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Instance, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            self.ensure_instance(&mut s, key)
        })
    }

    fn put_instance<'a>(
        &'a self,
        key: &'a InstanceKey,
        location: &'a str,
        resource_json: &'a str,
    ) -> BoxFuture<'a, Result<Instance, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            if let Some(i) = s.instances.iter_mut().find(|i| same(&i.key, key)) {
                i.location = location.to_string();
                i.resource_json = resource_json.to_string();
                return Ok(i.clone());
            }
            let instance = Instance {
                key: key.clone(),
                location: location.to_string(),
                resource_json: resource_json.to_string(),
                created_at: Utc::now(),
            };
            s.instances.push(instance.clone());
            Ok(instance)
        })
    }

    fn list_instances<'a>(
        &'a self,
        subscription: &'a str,
        resource_group: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<Instance>, EngineError>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .instances
                .iter()
                .filter(|i| i.key.subscription.eq_ignore_ascii_case(subscription))
                .filter(|i| {
                    resource_group.is_none_or(|rg| i.key.resource_group.eq_ignore_ascii_case(rg))
                })
                .cloned()
                .collect())
        })
    }

    fn start_restore(
        &self,
        request: StartRestore,
    ) -> BoxFuture<'_, Result<Operation, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            s.starts.push(request.clone());
            if request.storage_uri.is_none() {
                return Err(Refusal::MissingUri.into());
            }
            let db = self.new_db(
                &mut s,
                &request.instance,
                &request.database,
                &request.location,
                request.collation.as_deref(),
                true,
            )?;
            Ok(Self::new_op(
                &mut s,
                OperationKind::StartRestore,
                &db,
                OperationStatus::InProgress,
            ))
        })
    }

    fn create_database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
        location: &'a str,
        collation: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            let db = self.new_db(&mut s, instance, name, location, collation, false)?;
            Ok(Self::new_op(
                &mut s,
                OperationKind::CreateDatabase,
                &db,
                OperationStatus::Succeeded,
            ))
        })
    }

    fn database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Database, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            self.ensure_instance(&mut s, instance)?;
            Self::find_db(&s, instance, name)
        })
    }

    fn list_databases<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Vec<Database>, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            self.ensure_instance(&mut s, instance)?;
            Ok(s.databases
                .iter()
                .filter(|d| same(&d.instance, instance))
                .cloned()
                .collect())
        })
    }

    fn restore_details<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RestoreDetails, EngineError>> {
        Box::pin(async move {
            let s = self.lock();
            let db = Self::find_db(&s, instance, name)?;
            if !db.created_by_lrs {
                return Err(Refusal::DetailsNotAvailable.into());
            }
            Ok(sample_details())
        })
    }

    fn complete_restore<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
        last_backup_name: Option<String>,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            s.completes.push(last_backup_name.clone());
            let db = Self::find_db(&s, instance, name)?;
            if last_backup_name.is_none() {
                // What the engine answers: the same domain refusal, worded by the ARM layer.
                return Err(Refusal::CompleteMissingName.into());
            }
            Ok(Self::new_op(
                &mut s,
                OperationKind::CompleteRestore,
                &db,
                OperationStatus::InProgress,
            ))
        })
    }

    fn drop_database<'a>(
        &'a self,
        instance: &'a InstanceKey,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            let db = Self::find_db(&s, instance, name)?;
            s.databases.retain(|d| d.id != db.id);
            let now = Utc::now();
            for o in s
                .operations
                .values_mut()
                .filter(|o| o.database_id == db.id && o.status == OperationStatus::InProgress)
            {
                o.status = OperationStatus::Succeeded;
                o.finished_at = Some(now);
            }
            Ok(Self::new_op(
                &mut s,
                OperationKind::DropDatabase,
                &db,
                OperationStatus::Succeeded,
            ))
        })
    }

    fn operation(&self, id: Uuid) -> BoxFuture<'_, Result<Operation, EngineError>> {
        Box::pin(async move {
            self.lock()
                .operations
                .get(&id)
                .cloned()
                .ok_or(EngineError::OperationNotFound(id))
        })
    }

    fn instance_operations<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<Vec<Operation>, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            self.ensure_instance(&mut s, instance)?;
            let mut ops: Vec<Operation> = s
                .created
                .iter()
                .rev()
                .filter_map(|id| s.operations.get(id))
                .filter(|o| same(&o.instance, instance))
                .cloned()
                .collect();
            ops.sort_by_key(|o| std::cmp::Reverse(o.started_at));
            Ok(ops)
        })
    }

    fn instance_operation<'a>(
        &'a self,
        instance: &'a InstanceKey,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Operation, EngineError>> {
        Box::pin(async move {
            let mut s = self.lock();
            let found = self.ensure_instance(&mut s, instance)?;
            s.operations
                .get(&id)
                .filter(|o| same(&o.instance, &found.key))
                .cloned()
                .ok_or(EngineError::InstanceOperationNotFound {
                    instance: found.key,
                    id,
                })
        })
    }

    fn system_patch(&self) -> BoxFuture<'_, Result<u64, EngineError>> {
        Box::pin(async move { Ok(3) })
    }

    fn failover<'a>(
        &'a self,
        instance: &'a InstanceKey,
    ) -> BoxFuture<'a, Result<u64, EngineError>> {
        Box::pin(async move {
            let s = self.lock();
            if s.instances.iter().any(|i| same(&i.key, instance)) {
                Ok(1)
            } else {
                Err(EngineError::InstanceNotFound(instance.clone()))
            }
        })
    }

    fn inject_fault(
        &self,
        request: lrs_engine::faults::InjectFault,
    ) -> Result<lrs_engine::faults::Fault, EngineError> {
        self.faults.inject(request)
    }

    fn faults(&self) -> Vec<lrs_engine::faults::Fault> {
        self.faults.list()
    }

    fn clear_faults(&self, id: Option<Uuid>) -> usize {
        self.faults.clear(id)
    }

    fn render_metrics(&self) -> BoxFuture<'_, Result<String, EngineError>> {
        // The fake has no engine metrics; one sample shows where they go in the answer.
        Box::pin(async {
            Ok("# HELP lrs_fake_backend A fake backend.\n# TYPE lrs_fake_backend gauge\nlrs_fake_backend 1\n".to_string())
        })
    }
}
