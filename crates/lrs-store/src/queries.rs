//! The SQL both backends run, written once.
//!
//! SQLite and PostgreSQL accept the same statements here: `$N` placeholders (sqlx's SQLite
//! driver binds `$N` by number), `ON CONFLICT … DO UPDATE`, `RETURNING`, `CAST(… AS TEXT)`.
//! The backends differ only in how a value is bound, which each supplies as associated
//! functions used by [`impl_store!`]:
//!
//! - `Self::ts(DateTime<Utc>)`: a timestamp (microseconds as INTEGER in SQLite, TIMESTAMPTZ in
//!   PostgreSQL), and `Self::ts_opt` for an optional one;
//! - `Self::id(Uuid)`: a UUID (TEXT in SQLite, UUID in PostgreSQL);
//! - `self.write()`: a write transaction (`BEGIN IMMEDIATE` in SQLite);
//!
//! and by implementing [`crate::codec::Columns`] for its row type, so rows decode the same way.
//! Every method below is one statement or one transaction.

pub(crate) const INSTANCE_COLUMNS: &str =
    "subscription, resource_group, name, location, resource_json, created_at";

pub(crate) const JOB_SELECT: &str = "SELECT id, database_id, state, mode, last_backup_name, \
     storage_uri, auth, sas_token, profile, started_at, deadline_at, complete_requested, \
     error_code, error_message, finished_at, version, owner, lease_until FROM jobs";

pub(crate) const FILE_SELECT: &str = "SELECT name, size, etag, last_modified, discovered_at, \
     header_json, error FROM files";

pub(crate) const OPERATION_SELECT: &str = "SELECT id, kind, database_id, subscription, \
     resource_group, instance_name, database_name, status, error_code, error_message, \
     started_at, finished_at FROM operations";

pub(crate) const DATABASE_SELECT: &str = "SELECT id, subscription, resource_group, \
     instance_name, name, location, collation_name, status, created_by_lrs, created_at \
     FROM databases";

/// `sql` built from the constant fragments above (never from caller input).
pub(crate) fn sql(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}

/// The `IN (...)` list of active states, spelled inline (constants, not caller input).
pub(crate) fn active_states_sql() -> String {
    let names: Vec<String> = crate::codec::ACTIVE_STATES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

/// The [`crate::Store`] implementation of a backend type, from the SQL above. The caller's module
/// must import what the body names (see `sqlite.rs`).
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn put_instance_impl(&self, instance: Instance) -> StoreResult<Instance> {
                let key = FoldedKey::of(&instance.key);
                let row = sqlx::query(sql(format!(
                    "INSERT INTO instances (subscription_key, resource_group_key, name_key, \
                     subscription, resource_group, name, location, resource_json, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (subscription_key, resource_group_key, name_key) DO UPDATE SET \
                     location = excluded.location, resource_json = excluded.resource_json \
                     RETURNING {INSTANCE_COLUMNS}"
                )))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .bind(&instance.key.subscription)
                .bind(&instance.key.resource_group)
                .bind(&instance.key.instance)
                .bind(&instance.location)
                .bind(&instance.resource_json)
                .bind(Self::ts(instance.created_at))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| backend("storing a managed instance", e))?;
                codec::instance(&row)
            }

            async fn get_instance_impl(&self, key: InstanceKey) -> StoreResult<Option<Instance>> {
                let key = FoldedKey::of(&key);
                let row = sqlx::query(sql(format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE subscription_key = $1 \
                     AND resource_group_key = $2 AND name_key = $3"
                )))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| backend("reading a managed instance", e))?;
                row.as_ref().map(codec::instance).transpose()
            }

            async fn list_instances_impl(
                &self,
                subscription: String,
                resource_group: Option<String>,
            ) -> StoreResult<Vec<Instance>> {
                let rows = sqlx::query(sql(format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE subscription_key = $1 \
                     AND (CAST($2 AS TEXT) IS NULL OR resource_group_key = $2) \
                     ORDER BY name_key, name, resource_group_key"
                )))
                .bind(fold(&subscription))
                .bind(resource_group.as_deref().map(fold))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing managed instances", e))?;
                rows.iter().map(codec::instance).collect()
            }

            async fn create_database_impl(&self, database: Database) -> StoreResult<()> {
                let mut tx = self.write().await?;
                Self::insert_database(&mut tx, &database).await?;
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a new database", e))
            }

            async fn insert_database(
                tx: &mut Transaction<'static, $db>,
                database: &Database,
            ) -> StoreResult<()> {
                let key = FoldedKey::of(&database.instance);
                let result = sqlx::query(
                    "INSERT INTO databases (id, subscription_key, resource_group_key, \
                     instance_key, name_key, subscription, resource_group, instance_name, name, \
                     location, collation_name, status, created_by_lrs, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(Self::id(database.id))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .bind(fold(&database.name))
                .bind(&database.instance.subscription)
                .bind(&database.instance.resource_group)
                .bind(&database.instance.instance)
                .bind(&database.name)
                .bind(&database.location)
                .bind(&database.collation)
                .bind(database.status.as_str())
                .bind(database.created_by_lrs)
                .bind(Self::ts(database.created_at))
                .execute(&mut **tx)
                .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if codec::is_unique_violation(&e) => Err(StoreError::Conflict(
                        codec::database_label(&database.instance, &database.name),
                    )),
                    Err(e) => Err(backend("creating a database", e)),
                }
            }

            /// A database, its job and its start operation, all or nothing: a concurrent drop
            /// sees either none of them or all three.
            async fn start_migration_impl(
                &self,
                database: Database,
                job: Job,
                operation: Operation,
            ) -> StoreResult<()> {
                let mut tx = self.write().await?;
                Self::insert_database(&mut tx, &database).await?;
                let key = FoldedKey::of(&database.instance);
                Self::insert_job(&mut tx, &job, (&key.subscription, &key.resource_group, &key.instance))
                    .await?;
                Self::insert_operation(&mut tx, &operation).await?;
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a new migration", e))
            }

            async fn get_database_impl(
                &self,
                instance: InstanceKey,
                name: String,
            ) -> StoreResult<Option<Database>> {
                let key = FoldedKey::of(&instance);
                let row = sqlx::query(sql(format!(
                    "{DATABASE_SELECT} WHERE subscription_key = $1 AND resource_group_key = $2 \
                     AND instance_key = $3 AND name_key = $4"
                )))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .bind(fold(&name))
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| backend("reading a database", e))?;
                row.as_ref().map(codec::database).transpose()
            }

            async fn get_database_by_id_impl(&self, id: Uuid) -> StoreResult<Option<Database>> {
                let row = sqlx::query(sql(format!("{DATABASE_SELECT} WHERE id = $1")))
                    .bind(Self::id(id))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| backend("reading a database", e))?;
                row.as_ref().map(codec::database).transpose()
            }

            async fn list_databases_impl(
                &self,
                instance: InstanceKey,
            ) -> StoreResult<Vec<Database>> {
                let key = FoldedKey::of(&instance);
                let rows = sqlx::query(sql(format!(
                    "{DATABASE_SELECT} WHERE subscription_key = $1 AND resource_group_key = $2 \
                     AND instance_key = $3 ORDER BY name_key, name"
                )))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing databases", e))?;
                rows.iter().map(codec::database).collect()
            }

            async fn set_database_status_impl(
                &self,
                id: Uuid,
                status: DatabaseStatus,
            ) -> StoreResult<()> {
                let result = sqlx::query("UPDATE databases SET status = $1 WHERE id = $2")
                    .bind(status.as_str())
                    .bind(Self::id(id))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| backend("setting a database's status", e))?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("database {id}")));
                }
                Ok(())
            }

            async fn delete_database_impl(&self, id: Uuid) -> StoreResult<()> {
                sqlx::query("DELETE FROM databases WHERE id = $1")
                    .bind(Self::id(id))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| backend("deleting a database", e))?;
                Ok(())
            }

            async fn create_job_impl(&self, job: Job) -> StoreResult<()> {
                let mut tx = self.write().await?;
                let keys = sqlx::query(
                    "SELECT subscription_key, resource_group_key, instance_key FROM databases \
                     WHERE id = $1",
                )
                .bind(Self::id(job.database_id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| backend("reading the database of a new job", e))?
                .ok_or_else(|| StoreError::NotFound(format!("database {}", job.database_id)))?;
                let existing = sqlx::query("SELECT id FROM jobs WHERE database_id = $1")
                    .bind(Self::id(job.database_id))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| backend("looking for the job of a database", e))?;
                if existing.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "a restore job for database {}",
                        job.database_id
                    )));
                }
                let keys = (
                    keys.text("subscription_key")?,
                    keys.text("resource_group_key")?,
                    keys.text("instance_key")?,
                );
                Self::insert_job(&mut tx, &job, (&keys.0, &keys.1, &keys.2)).await?;
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a new job", e))
            }

            /// Insert a job row; `keys` are its database's folded instance key.
            async fn insert_job(
                tx: &mut Transaction<'static, $db>,
                job: &Job,
                keys: (&str, &str, &str),
            ) -> StoreResult<()> {
                let (mode, last_backup_name) = codec::mode_columns(&job.mode);
                let (auth, sas_token) = codec::auth_columns(&job.auth);
                let (error_code, error_message) = codec::error_columns(job.error.as_ref());
                let result = sqlx::query(
                    "INSERT INTO jobs (id, database_id, subscription_key, resource_group_key, \
                     instance_key, state, mode, last_backup_name, storage_uri, auth, sas_token, \
                     profile, started_at, deadline_at, complete_requested, error_code, \
                     error_message, finished_at, version, owner, lease_until) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17, $18, 0, $19, $20)",
                )
                .bind(Self::id(job.id))
                .bind(Self::id(job.database_id))
                .bind(keys.0)
                .bind(keys.1)
                .bind(keys.2)
                .bind(job.state.as_str())
                .bind(mode)
                .bind(last_backup_name)
                .bind(&job.storage_uri)
                .bind(auth)
                .bind(sas_token)
                .bind(&job.profile)
                .bind(Self::ts(job.started_at))
                .bind(Self::ts(job.deadline_at))
                .bind(&job.complete_requested)
                .bind(error_code)
                .bind(error_message)
                .bind(Self::ts_opt(job.finished_at))
                .bind(&job.owner)
                .bind(Self::ts_opt(job.lease_until))
                .execute(&mut **tx)
                .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if codec::is_unique_violation(&e) => {
                        Err(StoreError::Conflict(format!("job {}", job.id)))
                    }
                    Err(e) => Err(backend("creating a job", e)),
                }
            }

            async fn append_target_line_impl(&self, seq: u64, line: String) -> StoreResult<()> {
                let seq = i64::try_from(seq)
                    .map_err(|_| StoreError::Backend(format!("target journal line {seq}")))?;
                let result = sqlx::query("INSERT INTO target_log (seq, line) VALUES ($1, $2)")
                    .bind(seq)
                    .bind(&line)
                    .execute(&self.pool)
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if codec::is_unique_violation(&e) => {
                        Err(StoreError::Conflict(format!("target journal line {seq}")))
                    }
                    Err(e) => Err(backend("appending to the target journal", e)),
                }
            }

            async fn target_lines_after_impl(&self, seq: u64) -> StoreResult<Vec<(u64, String)>> {
                let seq = i64::try_from(seq).unwrap_or(i64::MAX);
                let rows = sqlx::query("SELECT seq, line FROM target_log WHERE seq > $1 ORDER BY seq")
                    .bind(seq)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| backend("reading the target journal", e))?;
                rows.iter()
                    .map(|row| {
                        let seq: i64 = row
                            .try_get("seq")
                            .map_err(|e| backend("reading a target journal line", e))?;
                        let line: String = row
                            .try_get("line")
                            .map_err(|e| backend("reading a target journal line", e))?;
                        Ok((u64::try_from(seq).unwrap_or(0), line))
                    })
                    .collect()
            }

            async fn get_job_impl(&self, id: Uuid) -> StoreResult<Option<Job>> {
                let row = sqlx::query(sql(format!("{JOB_SELECT} WHERE id = $1")))
                    .bind(Self::id(id))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| backend("reading a job", e))?;
                row.as_ref().map(codec::job).transpose()
            }

            async fn job_for_database_impl(&self, database_id: Uuid) -> StoreResult<Option<Job>> {
                let row = sqlx::query(sql(format!("{JOB_SELECT} WHERE database_id = $1")))
                    .bind(Self::id(database_id))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| backend("reading the job of a database", e))?;
                row.as_ref().map(codec::job).transpose()
            }

            async fn list_active_jobs_impl(&self) -> StoreResult<Vec<Job>> {
                let rows = sqlx::query(sql(format!(
                    "{JOB_SELECT} WHERE state IN {} ORDER BY started_at, seq",
                    active_states_sql()
                )))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing active jobs", e))?;
                rows.iter().map(codec::job).collect()
            }

            async fn count_active_jobs_on_instance_impl(
                &self,
                instance: InstanceKey,
            ) -> StoreResult<u64> {
                let key = FoldedKey::of(&instance);
                let count: i64 = sqlx::query_scalar(sql(format!(
                    "SELECT COUNT(*) FROM jobs WHERE subscription_key = $1 \
                     AND resource_group_key = $2 AND instance_key = $3 AND state IN {}",
                    active_states_sql()
                )))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| backend("counting active jobs on an instance", e))?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn count_active_jobs_in_subscription_impl(
                &self,
                subscription: String,
            ) -> StoreResult<u64> {
                let count: i64 = sqlx::query_scalar(sql(format!(
                    "SELECT COUNT(*) FROM jobs WHERE subscription_key = $1 AND state IN {}",
                    active_states_sql()
                )))
                .bind(fold(&subscription))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| backend("counting active jobs in a subscription", e))?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn update_job_impl(&self, job: Job) -> StoreResult<i64> {
                let next = job.version.checked_add(1).ok_or_else(|| {
                    StoreError::Backend(format!(
                        "job {} version {} cannot grow",
                        job.id, job.version
                    ))
                })?;
                let (mode, last_backup_name) = codec::mode_columns(&job.mode);
                let (auth, sas_token) = codec::auth_columns(&job.auth);
                let (error_code, error_message) = codec::error_columns(job.error.as_ref());
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE jobs SET state = $1, mode = $2, last_backup_name = $3, \
                     storage_uri = $4, auth = $5, sas_token = $6, profile = $7, started_at = $8, \
                     deadline_at = $9, \
                     complete_requested = $10, error_code = $11, error_message = $12, \
                     finished_at = $13, version = $14 WHERE id = $15 AND version = $16",
                )
                .bind(job.state.as_str())
                .bind(mode)
                .bind(last_backup_name)
                .bind(&job.storage_uri)
                .bind(auth)
                .bind(sas_token)
                .bind(&job.profile)
                .bind(Self::ts(job.started_at))
                .bind(Self::ts(job.deadline_at))
                .bind(&job.complete_requested)
                .bind(error_code)
                .bind(error_message)
                .bind(Self::ts_opt(job.finished_at))
                .bind(next)
                .bind(Self::id(job.id))
                .bind(job.version)
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("updating a job", e))?;
                if result.rows_affected() == 0 {
                    let stored: Option<i64> =
                        sqlx::query_scalar("SELECT version FROM jobs WHERE id = $1")
                            .bind(Self::id(job.id))
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(|e| backend("reading a job's version", e))?;
                    return Err(match stored {
                        Some(stored) => StoreError::Stale(format!(
                            "job {} (version {} given, {stored} stored)",
                            job.id, job.version
                        )),
                        None => StoreError::NotFound(format!("job {}", job.id)),
                    });
                }
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a job update", e))?;
                Ok(next)
            }

            async fn claim_job_impl(
                &self,
                id: Uuid,
                node: String,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE jobs SET owner = $1, lease_until = $2 WHERE id = $3 AND (owner IS NULL \
                     OR owner = $1 OR lease_until IS NULL OR lease_until < $4)",
                )
                .bind(&node)
                .bind(Self::ts(lease_until))
                .bind(Self::id(id))
                .bind(Self::ts(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("claiming a job", e))?;
                let claimed = result.rows_affected() > 0;
                if !claimed {
                    let exists = sqlx::query("SELECT 1 FROM jobs WHERE id = $1")
                        .bind(Self::id(id))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| backend("reading a job", e))?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("job {id}")));
                    }
                }
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a job claim", e))?;
                Ok(claimed)
            }

            async fn put_file_impl(&self, job_id: Uuid, file: FileRecord) -> StoreResult<()> {
                let result = sqlx::query(
                    "INSERT INTO files (job_id, name, size, etag, last_modified, discovered_at, \
                     header_json, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (job_id, name) DO UPDATE SET size = excluded.size, \
                     etag = excluded.etag, last_modified = excluded.last_modified, \
                     discovered_at = excluded.discovered_at, header_json = excluded.header_json, \
                     error = excluded.error",
                )
                .bind(Self::id(job_id))
                .bind(&file.name)
                .bind(codec::size_to_i64(file.size)?)
                .bind(&file.etag)
                .bind(Self::ts(file.last_modified))
                .bind(Self::ts(file.discovered_at))
                .bind(&file.header_json)
                .bind(&file.error)
                .execute(&self.pool)
                .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if codec::is_foreign_key_violation(&e) => {
                        Err(StoreError::NotFound(format!("job {job_id}")))
                    }
                    Err(e) => Err(backend("storing a discovered file", e)),
                }
            }

            async fn delete_file_impl(&self, job_id: Uuid, name: String) -> StoreResult<()> {
                sqlx::query("DELETE FROM files WHERE job_id = $1 AND name = $2")
                    .bind(Self::id(job_id))
                    .bind(&name)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| backend("deleting a discovered file", e))?;
                Ok(())
            }

            async fn list_files_impl(&self, job_id: Uuid) -> StoreResult<Vec<FileRecord>> {
                let rows = sqlx::query(sql(format!(
                    "{FILE_SELECT} WHERE job_id = $1 ORDER BY name"
                )))
                .bind(Self::id(job_id))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing discovered files", e))?;
                rows.iter().map(codec::file).collect()
            }

            async fn restore_started_impl(
                &self,
                job_id: Uuid,
                record: RestoreRecord,
            ) -> StoreResult<()> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "DELETE FROM restores WHERE job_id = $1 AND backup_set_guid = $2 \
                     AND finished_at IS NULL",
                )
                .bind(Self::id(job_id))
                .bind(&record.backup_set_guid)
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("replacing an unfinished restore", e))?;
                let result = sqlx::query(
                    "INSERT INTO restores (job_id, backup_set_guid, kind, first_stripe_name, \
                     started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(Self::id(job_id))
                .bind(&record.backup_set_guid)
                .bind(&record.kind)
                .bind(&record.first_stripe_name)
                .bind(Self::ts(record.started_at))
                .bind(Self::ts_opt(record.finished_at))
                .execute(&mut *tx)
                .await;
                match result {
                    Ok(_) => {}
                    Err(e) if codec::is_foreign_key_violation(&e) => {
                        return Err(StoreError::NotFound(format!("job {job_id}")));
                    }
                    Err(e) => return Err(backend("recording a restore start", e)),
                }
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a restore start", e))
            }

            async fn restore_finished_impl(
                &self,
                job_id: Uuid,
                guid: String,
                finished_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE restores SET finished_at = $1 WHERE job_id = $2 \
                     AND backup_set_guid = $3 AND finished_at IS NULL",
                )
                .bind(Self::ts(finished_at))
                .bind(Self::id(job_id))
                .bind(&guid)
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("recording a restore end", e))?;
                if result.rows_affected() == 0 {
                    let exists = sqlx::query(
                        "SELECT 1 FROM restores WHERE job_id = $1 AND backup_set_guid = $2",
                    )
                    .bind(Self::id(job_id))
                    .bind(&guid)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| backend("reading the restore history", e))?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!(
                            "restore of backup set {guid} in job {job_id}"
                        )));
                    }
                }
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a restore end", e))
            }

            async fn list_restores_impl(&self, job_id: Uuid) -> StoreResult<Vec<RestoreRecord>> {
                let rows = sqlx::query(
                    "SELECT backup_set_guid, kind, first_stripe_name, started_at, finished_at \
                     FROM restores WHERE job_id = $1 ORDER BY started_at, seq",
                )
                .bind(Self::id(job_id))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing the restore history", e))?;
                rows.iter().map(codec::restore).collect()
            }

            async fn create_operation_impl(&self, operation: Operation) -> StoreResult<()> {
                let mut tx = self.write().await?;
                Self::insert_operation(&mut tx, &operation).await?;
                tx.commit()
                    .await
                    .map_err(|e| backend("committing a new operation", e))
            }

            async fn insert_operation(
                tx: &mut Transaction<'static, $db>,
                operation: &Operation,
            ) -> StoreResult<()> {
                let (error_code, error_message) = codec::error_columns(operation.error.as_ref());
                let key = FoldedKey::of(&operation.instance);
                let result = sqlx::query(
                    "INSERT INTO operations (id, kind, database_id, subscription, resource_group, \
                     instance_name, database_name, status, error_code, error_message, started_at, \
                     finished_at, subscription_key, resource_group_key, instance_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .bind(Self::id(operation.id))
                .bind(operation.kind.as_str())
                .bind(Self::id(operation.database_id))
                .bind(&operation.instance.subscription)
                .bind(&operation.instance.resource_group)
                .bind(&operation.instance.instance)
                .bind(&operation.database_name)
                .bind(operation.status.as_str())
                .bind(error_code)
                .bind(error_message)
                .bind(Self::ts(operation.started_at))
                .bind(Self::ts_opt(operation.finished_at))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .execute(&mut **tx)
                .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if codec::is_unique_violation(&e) => {
                        Err(StoreError::Conflict(format!("operation {}", operation.id)))
                    }
                    Err(e) => Err(backend("creating an operation", e)),
                }
            }

            async fn get_operation_impl(&self, id: Uuid) -> StoreResult<Option<Operation>> {
                let row = sqlx::query(sql(format!("{OPERATION_SELECT} WHERE id = $1")))
                    .bind(Self::id(id))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| backend("reading an operation", e))?;
                row.as_ref().map(codec::operation).transpose()
            }

            async fn list_open_operations_impl(
                &self,
                database_id: Uuid,
            ) -> StoreResult<Vec<Operation>> {
                let rows = sqlx::query(sql(format!(
                    "{OPERATION_SELECT} WHERE database_id = $1 AND status = $2 \
                     ORDER BY started_at, seq"
                )))
                .bind(Self::id(database_id))
                .bind(OperationStatus::InProgress.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing open operations", e))?;
                rows.iter().map(codec::operation).collect()
            }

            async fn list_instance_operations_impl(
                &self,
                instance: InstanceKey,
            ) -> StoreResult<Vec<Operation>> {
                let key = FoldedKey::of(&instance);
                let rows = sqlx::query(sql(format!(
                    "{OPERATION_SELECT} WHERE subscription_key = $1 AND resource_group_key = $2 \
                     AND instance_key = $3 ORDER BY started_at DESC, seq DESC"
                )))
                .bind(&key.subscription)
                .bind(&key.resource_group)
                .bind(&key.instance)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing the operations of an instance", e))?;
                rows.iter().map(codec::operation).collect()
            }

            async fn finish_operation_impl(
                &self,
                id: Uuid,
                status: OperationStatus,
                error: Option<ErrorRecord>,
                finished_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                if status == OperationStatus::InProgress {
                    return Err(codec::not_final(id));
                }
                let (error_code, error_message) = codec::error_columns(error.as_ref());
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE operations SET status = $1, error_code = $2, error_message = $3, \
                     finished_at = $4 WHERE id = $5 AND status = $6",
                )
                .bind(status.as_str())
                .bind(error_code)
                .bind(error_message)
                .bind(Self::ts(finished_at))
                .bind(Self::id(id))
                .bind(OperationStatus::InProgress.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("finishing an operation", e))?;
                if result.rows_affected() == 0 {
                    let exists = sqlx::query("SELECT 1 FROM operations WHERE id = $1")
                        .bind(Self::id(id))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| backend("reading an operation", e))?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("operation {id}")));
                    }
                }
                tx.commit()
                    .await
                    .map_err(|e| backend("committing an operation's end", e))
            }
        }

        impl Store for $store {
            fn put_instance(&self, instance: &Instance) -> BoxFuture<'_, StoreResult<Instance>> {
                Box::pin(self.put_instance_impl(instance.clone()))
            }

            fn get_instance(
                &self,
                key: &InstanceKey,
            ) -> BoxFuture<'_, StoreResult<Option<Instance>>> {
                Box::pin(self.get_instance_impl(key.clone()))
            }

            fn list_instances(
                &self,
                subscription: &str,
                resource_group: Option<&str>,
            ) -> BoxFuture<'_, StoreResult<Vec<Instance>>> {
                Box::pin(self.list_instances_impl(
                    subscription.to_owned(),
                    resource_group.map(str::to_owned),
                ))
            }

            fn create_database(&self, database: &Database) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.create_database_impl(database.clone()))
            }

            fn get_database(
                &self,
                instance: &InstanceKey,
                name: &str,
            ) -> BoxFuture<'_, StoreResult<Option<Database>>> {
                Box::pin(self.get_database_impl(instance.clone(), name.to_owned()))
            }

            fn get_database_by_id(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Database>>> {
                Box::pin(self.get_database_by_id_impl(id))
            }

            fn list_databases(
                &self,
                instance: &InstanceKey,
            ) -> BoxFuture<'_, StoreResult<Vec<Database>>> {
                Box::pin(self.list_databases_impl(instance.clone()))
            }

            fn set_database_status(
                &self,
                id: Uuid,
                status: DatabaseStatus,
            ) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.set_database_status_impl(id, status))
            }

            fn delete_database(&self, id: Uuid) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.delete_database_impl(id))
            }

            fn create_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.create_job_impl(job.clone()))
            }

            fn get_job(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Job>>> {
                Box::pin(self.get_job_impl(id))
            }

            fn job_for_database(
                &self,
                database_id: Uuid,
            ) -> BoxFuture<'_, StoreResult<Option<Job>>> {
                Box::pin(self.job_for_database_impl(database_id))
            }

            fn list_active_jobs(&self) -> BoxFuture<'_, StoreResult<Vec<Job>>> {
                Box::pin(self.list_active_jobs_impl())
            }

            fn count_active_jobs_on_instance(
                &self,
                instance: &InstanceKey,
            ) -> BoxFuture<'_, StoreResult<u64>> {
                Box::pin(self.count_active_jobs_on_instance_impl(instance.clone()))
            }

            fn count_active_jobs_in_subscription(
                &self,
                subscription: &str,
            ) -> BoxFuture<'_, StoreResult<u64>> {
                Box::pin(self.count_active_jobs_in_subscription_impl(subscription.to_owned()))
            }

            fn start_migration(
                &self,
                database: &Database,
                job: &Job,
                operation: &Operation,
            ) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.start_migration_impl(database.clone(), job.clone(), operation.clone()))
            }

            fn append_target_line(&self, seq: u64, line: &str) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.append_target_line_impl(seq, line.to_owned()))
            }

            fn target_lines_after(
                &self,
                seq: u64,
            ) -> BoxFuture<'_, StoreResult<Vec<(u64, String)>>> {
                Box::pin(self.target_lines_after_impl(seq))
            }

            fn update_job(&self, job: &Job) -> BoxFuture<'_, StoreResult<i64>> {
                Box::pin(self.update_job_impl(job.clone()))
            }

            fn claim_job(
                &self,
                id: Uuid,
                node: &str,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
            ) -> BoxFuture<'_, StoreResult<bool>> {
                Box::pin(self.claim_job_impl(id, node.to_owned(), now, lease_until))
            }

            fn put_file(&self, job_id: Uuid, file: &FileRecord) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.put_file_impl(job_id, file.clone()))
            }

            fn delete_file(&self, job_id: Uuid, name: &str) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.delete_file_impl(job_id, name.to_owned()))
            }

            fn list_files(&self, job_id: Uuid) -> BoxFuture<'_, StoreResult<Vec<FileRecord>>> {
                Box::pin(self.list_files_impl(job_id))
            }

            fn restore_started(
                &self,
                job_id: Uuid,
                record: &RestoreRecord,
            ) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.restore_started_impl(job_id, record.clone()))
            }

            fn restore_finished(
                &self,
                job_id: Uuid,
                backup_set_guid: &str,
                finished_at: DateTime<Utc>,
            ) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.restore_finished_impl(
                    job_id,
                    backup_set_guid.to_owned(),
                    finished_at,
                ))
            }

            fn list_restores(
                &self,
                job_id: Uuid,
            ) -> BoxFuture<'_, StoreResult<Vec<RestoreRecord>>> {
                Box::pin(self.list_restores_impl(job_id))
            }

            fn create_operation(&self, operation: &Operation) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.create_operation_impl(operation.clone()))
            }

            fn get_operation(&self, id: Uuid) -> BoxFuture<'_, StoreResult<Option<Operation>>> {
                Box::pin(self.get_operation_impl(id))
            }

            fn list_open_operations(
                &self,
                database_id: Uuid,
            ) -> BoxFuture<'_, StoreResult<Vec<Operation>>> {
                Box::pin(self.list_open_operations_impl(database_id))
            }

            fn list_instance_operations(
                &self,
                instance: &InstanceKey,
            ) -> BoxFuture<'_, StoreResult<Vec<Operation>>> {
                Box::pin(self.list_instance_operations_impl(instance.clone()))
            }

            fn finish_operation(
                &self,
                id: Uuid,
                status: OperationStatus,
                error: Option<ErrorRecord>,
                finished_at: DateTime<Utc>,
            ) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.finish_operation_impl(id, status, error, finished_at))
            }
        }
    };
}

pub(crate) use impl_store;
