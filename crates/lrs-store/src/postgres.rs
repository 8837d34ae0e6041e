//! The shared backend: PostgreSQL, for several emulator nodes working on one state.
//!
//! Timestamps are TIMESTAMPTZ and UUIDs are UUID (see `migrations/postgres`). Optimistic job
//! versions and job leases (`claim_job`) are single conditional UPDATEs, which PostgreSQL
//! re-checks against the latest row version under concurrent writers, so two nodes never both
//! win.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::codec::{self, Columns, FoldedKey, backend, fold};
use crate::open::{Scrubber, redact_url};
use crate::queries::{
    DATABASE_SELECT, FILE_SELECT, INSTANCE_COLUMNS, JOB_SELECT, OPERATION_SELECT,
    active_states_sql, impl_store, sql,
};
use crate::{
    Database, DatabaseStatus, ErrorRecord, FileRecord, Instance, InstanceKey, Job, Operation,
    OperationStatus, RestoreRecord, Store, StoreError, StoreResult,
};

/// Connections per node.
const POOL_SIZE: u32 = 8;

/// How long a call waits for a free connection (or for the server to answer a connect).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    /// Where it is connected, without any password (for Debug and messages).
    target: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish()
    }
}

impl PgStore {
    /// Connect to the database at `url` (`postgres://user:password@host:port/database?…`) and
    /// bring its schema up to date. Errors show the URL with its password redacted.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let target = redact_url(url);
        let scrub = Scrubber::for_url(url);
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Backend(format!(
                "invalid PostgreSQL URL {target}: {}",
                scrub.clean(&e.to_string())
            ))
        })?;
        Self::connect_options(options, target, &scrub).await
    }

    /// Connect with options built in code (tests pick a fresh database this way), and bring
    /// the schema up to date.
    pub async fn connect_with(options: PgConnectOptions) -> StoreResult<Self> {
        let target = format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        Self::connect_options(options, target, &Scrubber::none()).await
    }

    async fn connect_options(
        options: PgConnectOptions,
        target: String,
        scrub: &Scrubber,
    ) -> StoreResult<Self> {
        // One plain connection first: the pool retries refused connections until its acquire
        // timeout, while a wrong URL or a server that is down should be reported at once.
        let probe = PgConnection::connect_with(&options).await.map_err(|e| {
            StoreError::Backend(format!(
                "connecting to PostgreSQL at {target}: {}",
                scrub.clean(&e.to_string())
            ))
        })?;
        // Closing the probe is courtesy; a failure here changes nothing for the pool.
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Backend(format!(
                    "connecting to PostgreSQL at {target}: {}",
                    scrub.clean(&e.to_string())
                ))
            })?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| {
                StoreError::Backend(format!(
                    "migrating the PostgreSQL schema at {target}: {}",
                    scrub.clean(&e.to_string())
                ))
            })?;
        tracing::debug!(%target, "connected to PostgreSQL store");
        Ok(PgStore { pool, target })
    }

    /// Close every connection (waits for calls in flight). Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A read-committed transaction: every conditional write re-checks its condition.
    async fn write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool
            .begin()
            .await
            .map_err(|e| backend("starting a transaction", e))
    }

    fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }

    fn ts_opt(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        t
    }

    fn id(id: Uuid) -> Uuid {
        id
    }
}

impl Columns for PgRow {
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
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(column)
            .map_err(|e| codec::decode_error(column, &e))
    }
}

impl_store!(PgStore, Postgres);
