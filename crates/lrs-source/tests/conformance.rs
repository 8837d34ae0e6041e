//! The conformance suite against every backend: a local folder, object_store's in-memory
//! store, and Azurite (with a Read+List SAS, and with the managed-identity stand-in). The
//! Azurite runs are skipped when Azurite is not installed, except under CI=true.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::future::BoxFuture;
use lrs_source::conformance::{Folder, FolderFactory, LocalFolder, StoreFolder, run_all};
use lrs_source::testing::Azurite;
use lrs_source::{
    ObjectStoreSource, RetrySettings, SourceAuth, SourceSettings, SourceSpec, open_source,
};
use object_store::ObjectStore;
use object_store::memory::InMemory;

struct LocalFactory {
    root: PathBuf,
}

impl FolderFactory for LocalFactory {
    fn fresh<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<Folder, String>> {
        Box::pin(async move {
            let dir = self.root.join(label);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let spec = SourceSpec {
                uri: format!("file://{}", dir.display()),
                auth: SourceAuth::None,
            };
            let source =
                open_source(&spec, &SourceSettings::default()).map_err(|e| e.to_string())?;
            Ok((source, Box::new(LocalFolder::new(dir)) as _))
        })
    }
}

#[tokio::test]
async fn local_folder_conforms() {
    let root = tempfile::tempdir().expect("tempdir");
    let factory = LocalFactory {
        root: root.path().to_path_buf(),
    };
    if let Err(e) = run_all(&factory).await {
        panic!("local folder: {e}");
    }
}

struct MemoryFactory {
    store: Arc<dyn ObjectStore>,
}

impl FolderFactory for MemoryFactory {
    fn fresh<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<Folder, String>> {
        Box::pin(async move {
            // Folders of one store side by side: a check must not see its neighbours.
            let folder = format!("backups/{label}");
            let source = ObjectStoreSource::new(
                Arc::clone(&self.store),
                &folder,
                format!("memory:///{folder}"),
                RetrySettings::default(),
            )
            .map_err(|e| e.to_string())?;
            Ok((
                Arc::new(source) as _,
                Box::new(StoreFolder::new(Arc::clone(&self.store), &folder)) as _,
            ))
        })
    }
}

#[tokio::test]
async fn in_memory_store_conforms() {
    let factory = MemoryFactory {
        store: Arc::new(InMemory::new()),
    };
    if let Err(e) = run_all(&factory).await {
        panic!("in-memory store: {e}");
    }
}

struct AzuriteFactory {
    azurite: Azurite,
    container: String,
    managed_identity: bool,
}

impl FolderFactory for AzuriteFactory {
    fn fresh<'a>(&'a self, label: &'a str) -> BoxFuture<'a, Result<Folder, String>> {
        Box::pin(async move {
            let folder = format!("db-{}", label.replace('_', "-"));
            let auth = if self.managed_identity {
                SourceAuth::ManagedIdentity
            } else {
                let now = Utc::now();
                SourceAuth::Sas(self.azurite.container_sas(
                    &self.container,
                    "rl",
                    now - Duration::minutes(5),
                    now + Duration::hours(1),
                ))
            };
            let spec = SourceSpec {
                uri: self.azurite.container_url(&self.container, &folder),
                auth,
            };
            let source =
                open_source(&spec, &SourceSettings::default()).map_err(|e| e.to_string())?;
            Ok((
                source,
                Box::new(self.azurite.folder(&self.container, &folder)) as _,
            ))
        })
    }
}

async fn azurite_factory(container: &str, managed_identity: bool) -> Option<AzuriteFactory> {
    let azurite = match Azurite::start() {
        Ok(Some(azurite)) => azurite,
        Ok(None) => return None,
        Err(e) => panic!("{e}"),
    };
    // Unique per run, in case LRS_AZURITE_BLOB_URL points at a shared Azurite.
    let container = format!("{container}-{}", Utc::now().timestamp_micros());
    azurite
        .create_container(&container)
        .await
        .expect("create container");
    Some(AzuriteFactory {
        azurite,
        container,
        managed_identity,
    })
}

#[tokio::test]
async fn azurite_with_read_list_sas_conforms() {
    let Some(factory) = azurite_factory("conformance-sas", false).await else {
        return;
    };
    if let Err(e) = run_all(&factory).await {
        panic!("Azurite with a SAS: {e}");
    }
}

#[tokio::test]
async fn azurite_with_managed_identity_conforms() {
    let Some(factory) = azurite_factory("conformance-mi", true).await else {
        return;
    };
    if let Err(e) = run_all(&factory).await {
        panic!("Azurite with managed identity: {e}");
    }
}
