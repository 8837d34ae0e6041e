//! Test support shared by every crate that tests against PostgreSQL: a throwaway database on
//! the server `LRS_TEST_POSTGRES_URL` names (`scripts/test` starts one).

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

use crate::{PgStore, Store};

/// The server `LRS_TEST_POSTGRES_URL` names, or `None` after printing that the calling test is
/// skipped. Under `CI=true` a missing server fails the test instead: `scripts/test` starts one.
pub fn postgres_server_url() -> Option<String> {
    match std::env::var("LRS_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            lrs_testkit::skip(
                "LRS_TEST_POSTGRES_URL is not set (scripts/test starts PostgreSQL: \
                 scripts/services/postgres.sh)",
            );
            None
        }
    }
}

/// A fresh database `lrs_test_<uuid>` on the server, dropped by [`FreshDatabase::drop_now`].
#[derive(Debug)]
pub struct FreshDatabase {
    server: PgConnectOptions,
    name: String,
}

impl FreshDatabase {
    /// Create it on the server at `server_url` (a user that may create databases).
    pub async fn create(server_url: &str) -> FreshDatabase {
        let server = PgConnectOptions::from_str(server_url).expect("LRS_TEST_POSTGRES_URL parses");
        let name = format!("lrs_test_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server)
            .await
            .expect("connect to the PostgreSQL server");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.expect("close");
        FreshDatabase { server, name }
    }

    /// Connection options for the database.
    pub fn options(&self) -> PgConnectOptions {
        self.server.clone().database(&self.name)
    }

    /// Its URL: `server_url` with the database in place of its path.
    pub fn url(&self, server_url: &str) -> String {
        // The server URL with its path replaced by the test database.
        let (base, query) = match server_url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (server_url, None),
        };
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        let path_start = base[authority_start..]
            .find('/')
            .map_or(base.len(), |i| authority_start + i);
        let mut url = format!("{}/{}", &base[..path_start], self.name);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// A store on it (migrated).
    pub async fn store(&self) -> Arc<dyn Store> {
        Arc::new(
            PgStore::connect_with(self.options())
                .await
                .expect("PgStore on the test database"),
        )
    }

    /// Drop the database (connections closed by force).
    pub async fn drop_now(self) {
        let mut admin = PgConnection::connect_with(&self.server)
            .await
            .expect("connect to the PostgreSQL server");
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop the test database");
        admin.close().await.expect("close");
    }
}
