//! The one way to assemble a restore stack: a state store, the storage sources' settings, a
//! restore target and the [`Engine`] over them, from [`StackOptions`].
//!
//! `lrs serve` builds its engine with it (from its flags), and so do the engine's and the ARM
//! front end's tests and the benchmarks, so that what they exercise is what the server runs.
//! [`StackOptions::build`] opens and starts everything; [`StackOptions::open`] stops after
//! opening the store and the target ([`StackParts`]), for callers that wrap either (counting or
//! gating hooks) before [`StackParts::start`].
//!
//! ```no_run
//! # async fn example() -> Result<(), lrs_engine::stack::StackError> {
//! use lrs_engine::stack::{StackOptions, StoreChoice};
//! let mut options = StackOptions::new("lrs-data");
//! options.store = StoreChoice::Url("sqlite://lrs-data/lrs.db".into());
//! options.time_scale = 3600.0;
//! let stack = options.build().await?;
//! // … serve requests with stack.engine …
//! stack.engine.stop().await;
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lrs_source::SourceSettings;
use lrs_store::{Store, StoreError, open_store, redact_url};
use lrs_target::{EmulatedOptions, EmulatedTarget, FilesTarget, Target, TargetError};

use crate::journal::StoreJournal;
use crate::secrets::SecretKey;
use crate::{Engine, EngineConfig, Profile, ScaledClock};

/// Where the state store comes from.
#[derive(Debug, Clone)]
pub enum StoreChoice {
    /// SQLite in the data folder (`DATA_DIR/lrs.db`): `lrs serve`'s default.
    InDataDir,
    /// A store URL for [`open_store`]: `sqlite://PATH`, `sqlite::memory:` or `postgres://…`.
    Url(String),
    /// A store opened by the caller (a test's PostgreSQL database, a wrapped store). A target
    /// journal in the store ([`JournalChoice::Store`]) needs a URL instead.
    Given(Arc<dyn Store>),
}

/// Which restore target applies the backup sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The emulated SQL Server: applies sets with SQL Server's checks and keeps only its log
    /// (`DATA_DIR/target`).
    Emulated,
    /// The emulated SQL Server that also writes the databases' data and log files
    /// (`DATA_DIR/target-files`).
    Files,
}

/// Where the emulated target records what it applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalChoice {
    /// In the state store when it is PostgreSQL (nodes sharing the store share the target),
    /// in the target's folder otherwise.
    Auto,
    /// In the target's folder (this node only).
    File,
    /// In the state store (only for the emulated target and a store given by URL).
    Store,
}

/// Everything needed to assemble a stack. Start from [`StackOptions::new`] (the defaults of
/// `lrs serve` and of [`EngineConfig::new`]) and set what differs.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Folder of the target (`target/` or `target-files/`) and of the default SQLite store.
    pub data_dir: PathBuf,
    /// The state store.
    pub store: StoreChoice,
    /// The restore target.
    pub target: TargetKind,
    /// Where the emulated target keeps its journal.
    pub journal: JournalChoice,
    /// Options of the target (throughput limit, chunk size, checksums).
    pub target_options: EmulatedOptions,
    /// How storage URIs are reached (emulator hosts, local roots, account keys, S3).
    pub sources: SourceSettings,
    /// Behaviour profile for new jobs.
    pub profile: Profile,
    /// Emulated time runs this many times faster than real time (positive, finite).
    pub time_scale: f64,
    /// How often an idle job lists its folder (real time, not zero).
    pub poll_interval: Duration,
    /// How long a job lease lasts without renewal (real time, at least 1 second).
    pub lease: Duration,
    /// Refuse unknown managed instances (404) instead of creating them on first use.
    pub strict_instances: bool,
    /// Seals SAS tokens before the store sees them (`None`: stored as given). The default is a
    /// key that dies with the process.
    pub secrets: Option<Arc<SecretKey>>,
    /// How long (emulated time) a job keeps retrying storage it cannot reach (not zero).
    pub storage_outage_limit: Duration,
    /// How long (emulated time) a cutover's complete operation stays `InProgress` after the
    /// cutover ([`crate::EngineConfig::cutover_lag`]).
    pub cutover_lag: Duration,
    /// This node's name in job leases (`None`: a fresh random one).
    pub node: Option<String>,
}

/// Which option of [`StackOptions`] is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOption {
    /// [`StackOptions::time_scale`] is not a positive finite number.
    #[error("the time scale must be a positive number")]
    TimeScale,
    /// [`StackOptions::poll_interval`] is zero.
    #[error("the poll interval must be positive")]
    PollInterval,
    /// [`StackOptions::lease`] is under a second.
    #[error("the lease must be at least 1 second")]
    Lease,
    /// [`StackOptions::storage_outage_limit`] is zero.
    #[error("the storage outage limit must be positive")]
    StorageOutageLimit,
}

/// Why a stack could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// An option is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidOption),
    /// A journal in the state store was asked for the files target, which keeps its databases'
    /// files in its own folder.
    #[error(
        "a target journal in the state store is for the emulated target: the files target keeps \
         its databases' files in its own folder (see docs/engine.md, Targets)"
    )]
    JournalForFilesTarget,
    /// A journal in the state store was asked for a store given without a URL.
    #[error("a target journal in the state store needs the store's URL, not an opened store")]
    JournalWithoutUrl,
    /// The state store could not be opened (its URL is shown with the password redacted).
    #[error("opening the state store {url}")]
    Store {
        /// The store's URL, redacted.
        url: String,
        /// What the store said.
        #[source]
        source: StoreError,
    },
    /// The target's journal could not be opened in the state store.
    #[error("opening the target journal in the state store")]
    Journal(#[source] TargetError),
    /// The emulated target could not be opened.
    #[error("opening the emulated target")]
    EmulatedTarget(#[source] TargetError),
    /// The files target could not be opened.
    #[error("opening the files target")]
    FilesTarget(#[source] TargetError),
}

impl StackOptions {
    /// `lrs serve`'s defaults over `data_dir`: SQLite in it, the emulated target with its
    /// journal chosen automatically, the `lrs-2021` profile, real time, 2-second polls,
    /// 30-second leases, instances created on first use, a process-lifetime secrets key.
    pub fn new(data_dir: impl Into<PathBuf>) -> StackOptions {
        let defaults = EngineConfig::new(SourceSettings::default());
        StackOptions {
            data_dir: data_dir.into(),
            store: StoreChoice::InDataDir,
            target: TargetKind::Emulated,
            journal: JournalChoice::Auto,
            target_options: EmulatedOptions::default(),
            sources: defaults.source_settings,
            profile: defaults.profile,
            time_scale: 1.0,
            poll_interval: defaults.poll_interval,
            lease: defaults.lease,
            strict_instances: defaults.strict_instances,
            secrets: defaults.secrets,
            storage_outage_limit: defaults.storage_outage_limit,
            cutover_lag: defaults.cutover_lag,
            node: None,
        }
    }

    /// Check the options that need no I/O: numbers in range, and a journal choice that fits
    /// the target and the store. [`StackOptions::open`] checks this first.
    pub fn validate(&self) -> Result<(), StackError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(StackError::Invalid(InvalidOption::TimeScale));
        }
        if self.poll_interval.is_zero() {
            return Err(StackError::Invalid(InvalidOption::PollInterval));
        }
        if self.lease < Duration::from_secs(1) {
            return Err(StackError::Invalid(InvalidOption::Lease));
        }
        if self.storage_outage_limit.is_zero() {
            return Err(StackError::Invalid(InvalidOption::StorageOutageLimit));
        }
        match (self.journal, self.target, &self.store) {
            (JournalChoice::Store, TargetKind::Files, _) => Err(StackError::JournalForFilesTarget),
            (JournalChoice::Store, TargetKind::Emulated, StoreChoice::Given(_)) => {
                Err(StackError::JournalWithoutUrl)
            }
            _ => Ok(()),
        }
    }

    /// The store's URL, if it is opened from one (`InDataDir`: `sqlite://DATA_DIR/lrs.db`).
    pub fn store_url(&self) -> Option<String> {
        match &self.store {
            StoreChoice::InDataDir => Some(format!(
                "sqlite://{}",
                self.data_dir.join("lrs.db").display()
            )),
            StoreChoice::Url(url) => Some(url.clone()),
            StoreChoice::Given(_) => None,
        }
    }

    /// Where the target keeps its files: `DATA_DIR/target` or `DATA_DIR/target-files`.
    pub fn target_dir(&self) -> PathBuf {
        target_dir(&self.data_dir, self.target)
    }

    /// The engine's settings these options give.
    pub fn engine_config(&self) -> EngineConfig {
        let mut config = EngineConfig::new(self.sources.clone());
        config.profile = self.profile.clone();
        config.clock = Arc::new(ScaledClock::new(self.time_scale));
        config.poll_interval = self.poll_interval;
        config.lease = self.lease;
        config.strict_instances = self.strict_instances;
        config.secrets.clone_from(&self.secrets);
        config.storage_outage_limit = self.storage_outage_limit;
        config.cutover_lag = self.cutover_lag;
        if let Some(node) = &self.node {
            config.node.clone_from(node);
        }
        config
    }

    /// Validate, then open the store and the target without starting the engine.
    pub async fn open(self) -> Result<StackParts, StackError> {
        self.validate()?;
        let config = self.engine_config();
        let store_url = self.store_url();
        let store = if let StoreChoice::Given(store) = &self.store {
            Arc::clone(store)
        } else {
            // Every other choice has a URL.
            let url = store_url.as_deref().unwrap_or_default();
            open_store(url).await.map_err(|source| StackError::Store {
                url: redact_url(url),
                source,
            })?
        };
        let in_store = match self.journal {
            JournalChoice::Store => true,
            JournalChoice::File => false,
            JournalChoice::Auto => {
                self.target == TargetKind::Emulated
                    && store_url
                        .as_deref()
                        .is_some_and(|url| url.starts_with("postgres"))
            }
        };
        let dir = self.target_dir();
        let target: Arc<dyn Target> = match self.target {
            TargetKind::Emulated if in_store => {
                let url = store_url.as_deref().ok_or(StackError::JournalWithoutUrl)?;
                let journal = StoreJournal::open(url).map_err(StackError::Journal)?;
                Arc::new(
                    EmulatedTarget::open_with_journal(&dir, self.target_options, Box::new(journal))
                        .map_err(StackError::EmulatedTarget)?,
                )
            }
            TargetKind::Emulated => Arc::new(
                EmulatedTarget::open(&dir, self.target_options)
                    .map_err(StackError::EmulatedTarget)?,
            ),
            TargetKind::Files => Arc::new(
                FilesTarget::open(&dir, self.target_options).map_err(StackError::FilesTarget)?,
            ),
        };
        Ok(StackParts {
            store,
            target,
            target_dir: dir,
            config,
        })
    }

    /// Validate, open the store and the target, and start the engine over them. Must be called
    /// inside a tokio runtime.
    pub async fn build(self) -> Result<Stack, StackError> {
        Ok(self.open().await?.start())
    }
}

fn target_dir(data_dir: &Path, kind: TargetKind) -> PathBuf {
    data_dir.join(match kind {
        TargetKind::Emulated => "target",
        TargetKind::Files => "target-files",
    })
}

/// An opened store and target, not started yet: replace either (with a wrapper around it)
/// before [`StackParts::start`].
#[derive(Debug)]
pub struct StackParts {
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The restore target.
    pub target: Arc<dyn Target>,
    /// Where the target keeps its files.
    pub target_dir: PathBuf,
    /// The engine's settings.
    pub config: EngineConfig,
}

impl StackParts {
    /// Start the engine over the store and the target. Must be called inside a tokio runtime.
    pub fn start(self) -> Stack {
        let engine = Engine::start(
            self.config.clone(),
            Arc::clone(&self.store),
            Arc::clone(&self.target),
        );
        Stack {
            engine,
            store: self.store,
            target: self.target,
            target_dir: self.target_dir,
            config: self.config,
        }
    }
}

/// A running engine with the store and the target it runs over.
#[derive(Debug)]
pub struct Stack {
    /// The restore engine (cheap to clone; the ARM front end takes a clone).
    pub engine: Engine,
    /// The state store the engine uses.
    pub store: Arc<dyn Store>,
    /// The restore target the engine applies sets into.
    pub target: Arc<dyn Target>,
    /// Where the target keeps its files.
    pub target_dir: PathBuf,
    /// The engine's settings ([`Stack::restart`] starts the next engine with these).
    pub config: EngineConfig,
}

impl Stack {
    /// Stop the engine and start a new one with [`Stack::config`] on the same store and target,
    /// as a restarted process would.
    pub async fn restart(&mut self) {
        self.engine.stop().await;
        self.engine = Engine::start(
            self.config.clone(),
            Arc::clone(&self.store),
            Arc::clone(&self.target),
        );
    }
}
