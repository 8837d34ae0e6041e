//! The embedded backend: one SQLite file (or an in-memory database for tests).
//!
//! Timestamps are INTEGER microseconds since the Unix epoch and UUIDs are TEXT (see
//! `migrations/sqlite`). Writes that read first run in `BEGIN IMMEDIATE` transactions: they take
//! the write lock up front, so two connections never deadlock upgrading a read to a write (in
//! WAL mode that upgrade fails at once instead of waiting for `busy_timeout`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::codec::{self, Columns, FoldedKey, backend, fold};
use crate::queries::{
    DATABASE_SELECT, FILE_SELECT, INSTANCE_COLUMNS, JOB_SELECT, OPERATION_SELECT,
    active_states_sql, impl_store, sql,
};
use crate::{
    Database, DatabaseStatus, ErrorRecord, FileRecord, Instance, InstanceKey, Job, Operation,
    OperationStatus, RestoreRecord, Store, StoreError, StoreResult,
};

/// How long a connection waits for another one's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections of a file store: readers run beside the single writer in WAL mode.
const FILE_POOL_SIZE: u32 = 4;

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    /// The file, or None in memory (for Debug and messages).
    path: Option<PathBuf>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => f.debug_struct("SqliteStore").field("path", path).finish(),
            None => f
                .debug_struct("SqliteStore")
                .field("path", &":memory:")
                .finish(),
        }
    }
}

impl SqliteStore {
    /// Open (creating the file and its parent folder when missing) the store at `path` and bring
    /// its schema up to date.
    ///
    /// The journal is WAL with `synchronous=NORMAL`: a committed call survives the process being
    /// killed at any point (an operating-system crash may lose the last commits, never corrupt
    /// the file).
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StoreError::Backend(format!(
                    "creating the folder {} for the SQLite store: {e}",
                    parent.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|e| backend(&format!("opening SQLite store {}", path.display()), e))?;
        let store = SqliteStore {
            pool,
            path: Some(path.to_path_buf()),
        };
        store.migrate().await?;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(store)
    }

    /// A fresh, empty store in memory (for tests): one connection that lives as long as the
    /// store, so every call sees the same database.
    pub async fn in_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| backend("configuring an in-memory SQLite store", e))?
            .shared_cache(false)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| backend("opening an in-memory SQLite store", e))?;
        let store = SqliteStore { pool, path: None };
        store.migrate().await?;
        Ok(store)
    }

    /// Close every connection (waits for calls in flight). Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../../migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the SQLite schema: {e}")))
    }

    /// A write transaction holding the write lock from its first statement.
    async fn write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| backend("starting a write transaction", e))
    }

    /// A timestamp as stored: microseconds since the Unix epoch.
    fn ts(t: DateTime<Utc>) -> i64 {
        codec::to_micros(t)
    }

    fn ts_opt(t: Option<DateTime<Utc>>) -> Option<i64> {
        t.map(codec::to_micros)
    }

    /// A UUID as stored: hyphenated lower-case text.
    fn id(id: Uuid) -> String {
        id.to_string()
    }
}

impl_store!(SqliteStore, Sqlite);

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> StoreResult<String> {
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }

    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }

    fn int(&self, column: &str) -> StoreResult<i64> {
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }

    fn flag(&self, column: &str) -> StoreResult<bool> {
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }

    fn uuid(&self, column: &str) -> StoreResult<Uuid> {
        codec::parse_uuid(column, &self.text(column)?)
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        codec::from_micros(column, self.int(column)?)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let micros: Option<i64> = self
            .try_get(column)
            .map_err(|e| codec::decode_error(column, &e))?;
        micros.map(|m| codec::from_micros(column, m)).transpose()
    }
}
