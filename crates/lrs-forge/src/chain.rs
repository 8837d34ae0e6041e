//! One database's backup history, issued backup by backup with the LSN, GUID and date links
//! real chains have: log N begins where log N−1 ended, a differential names its base full by
//! GUID and first LSN, every backup names the last full's checkpoint, a copy-only full changes
//! nothing for later backups, and a restore starts a new recovery fork.

use lrs_backup::{BackupDateTime, BackupType, FileSpec, Guid, Layout, Lsn, RecoveryModel, SetSpec};

use crate::clock::{LogClock, add_seconds};
use crate::rng::Rng;

/// Who and what the chain belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    /// Database name.
    pub database: String,
    /// Server (`MACHINE` or `MACHINE\INSTANCE`).
    pub server: String,
    /// Layout / version to mimic.
    pub layout: Layout,
    /// Size of the data in bytes (pages of a full backup).
    pub data_size: u64,
    /// Bytes of log per log backup.
    pub log_size: u64,
    /// Backups carry checksums (`WITH CHECKSUM`).
    pub checksum: bool,
    /// Recovery model.
    pub recovery_model: RecoveryModel,
    /// When the first backup starts (server local time).
    pub start: BackupDateTime,
    /// Time between consecutive backups.
    pub interval_seconds: u64,
    /// Seed: the same seed gives the same chain, byte for byte.
    pub seed: u64,
    /// Log files of the database (SQL Server allows several; MI refuses more than one).
    pub log_files: u32,
}

impl DatabaseSpec {
    /// Database `database` on server `SQL01`, 2016 layout, 16 MiB of data, 1 MiB of log per
    /// log backup, WITH CHECKSUM, FULL recovery, first backup at 2026-11-26 22:00:00, backups
    /// 5 minutes apart, seed 1. Change fields as needed.
    pub fn new(database: impl Into<String>) -> Self {
        DatabaseSpec {
            database: database.into(),
            server: "SQL01".into(),
            layout: Layout::Sql2016,
            data_size: 16 << 20,
            log_size: 1 << 20,
            checksum: true,
            recovery_model: RecoveryModel::Full,
            start: BackupDateTime {
                year: 2026,
                month: 11,
                day: 26,
                hour: 22,
                minute: 0,
                second: 0,
            },
            interval_seconds: 300,
            seed: 1,
            log_files: 1,
        }
    }
}

/// The base a differential or a log chain refers to.
#[derive(Debug, Clone, Copy)]
struct FullBase {
    guid: Guid,
    first_lsn: Lsn,
    checkpoint_lsn: Lsn,
}

/// Issues the backup sets of one database in time order.
#[derive(Debug, Clone)]
pub struct Chain {
    db: DatabaseSpec,
    rng: Rng,
    clock: LogClock,
    time: BackupDateTime,
    created: BackupDateTime,
    binding_id: Guid,
    family_guid: Guid,
    fork: Guid,
    parent_fork: Guid,
    fork_point: Lsn,
    base: Option<FullBase>,
    last_checkpoint: Lsn,
    /// Where the next log backup begins.
    log_chain: Option<Lsn>,
    last_log: Lsn,
    data_file: Guid,
    log_file: Guid,
}

impl Chain {
    /// A database created one hour before `db.start`.
    pub fn new(db: DatabaseSpec) -> Self {
        let mut rng = Rng::new(db.seed);
        let vlf = 20 + u32::try_from(rng.below(40)).unwrap_or(0);
        let family_guid = rng.guid();
        Chain {
            clock: LogClock::new(vlf, 100 + u32::try_from(rng.below(5000)).unwrap_or(0)),
            time: db.start,
            created: add_seconds(db.start, 0),
            binding_id: rng.guid(),
            family_guid,
            fork: family_guid,
            parent_fork: Guid::NIL,
            fork_point: Lsn::ZERO,
            base: None,
            last_checkpoint: Lsn::ZERO,
            log_chain: None,
            last_log: Lsn::ZERO,
            data_file: rng.guid(),
            log_file: rng.guid(),
            rng,
            db,
        }
    }

    fn data_pages(&self) -> u32 {
        u32::try_from(self.db.data_size.div_ceil(8192))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    fn files(&self, pages_in_backup: u32) -> Vec<FileSpec> {
        let data_size = (u64::from(self.data_pages()) * 8192)
            .div_ceil(1 << 20)
            .max(8)
            << 20;
        let dir = "C:\\Program Files\\Microsoft SQL Server\\MSSQL13.MSSQLSERVER\\MSSQL\\DATA";
        let mut files = vec![FileSpec {
            file_id: 1,
            logical_name: self.db.database.clone(),
            physical_name: format!("{dir}\\{}.mdf", self.db.database),
            is_log: false,
            filegroup_id: 1,
            size: data_size,
            pages_in_backup,
            unique_id: self.data_file,
        }];
        // Further log files (`_log2`, ...) take the next file ids, with GUIDs derived from the
        // first log file's so the chain stays a function of the seed.
        for n in 0..self.db.log_files.max(1) {
            let suffix = if n == 0 {
                String::new()
            } else {
                (n + 1).to_string()
            };
            let mut unique_id = self.log_file;
            unique_id.0[15] ^= u8::try_from(n & 0xFF).unwrap_or(0);
            files.push(FileSpec {
                file_id: 2 + n,
                logical_name: format!("{}_log{suffix}", self.db.database),
                physical_name: format!("{dir}\\{}_log{suffix}.ldf", self.db.database),
                is_log: true,
                filegroup_id: 0,
                size: 8 << 20,
                pages_in_backup: 0,
                unique_id,
            });
        }
        files
    }

    fn set(
        &mut self,
        backup_type: BackupType,
        first: Lsn,
        last: Lsn,
        checkpoint: Lsn,
        pages: u32,
    ) -> SetSpec {
        let start = self.time;
        let finish = add_seconds(start, 1 + u64::from(pages) / 4096);
        self.time = add_seconds(start, self.db.interval_seconds.max(1));
        let (major, minor, build) = match self.db.layout {
            Layout::Sql2005 => (9, 0, 5000),
            Layout::Sql2008R2 => (10, 50, 4000),
            Layout::Sql2012 => (11, 0, 2218),
            Layout::Sql2016 => (13, 0, 5026),
        };
        let machine = self
            .db
            .server
            .split('\\')
            .next()
            .unwrap_or_default()
            .to_string();
        let kind = match backup_type {
            BackupType::Database => "Full Database Backup",
            BackupType::DifferentialDatabase => "Differential Database Backup",
            _ => "Transaction Log  Backup",
        };
        SetSpec {
            backup_type,
            position: 1,
            backup_name: Some(format!("{}-{kind}", self.db.database)),
            backup_description: None,
            user_name: format!("{machine}\\lrs-forge"),
            server_name: self.db.server.clone(),
            machine_name: machine,
            database_name: self.db.database.clone(),
            compatibility_level: match self.db.layout {
                Layout::Sql2005 => 90,
                Layout::Sql2008R2 => 100,
                Layout::Sql2012 => 110,
                Layout::Sql2016 => 130,
            },
            software_version: (major, minor, build),
            first_lsn: first,
            last_lsn: last,
            checkpoint_lsn: checkpoint,
            database_backup_lsn: self.base.map_or(Lsn::ZERO, |b| b.checkpoint_lsn),
            differential_base_lsn: Lsn::ZERO,
            differential_base_guid: Guid::NIL,
            last_log_backup_lsn: Lsn::ZERO,
            last_full_backup_guid: self.base.map_or(Guid::NIL, |b| b.guid),
            backup_set_guid: self.rng.guid(),
            binding_id: self.binding_id,
            family_guid: self.family_guid,
            recovery_fork_id: self.fork,
            parent_recovery_fork_id: self.parent_fork,
            fork_point_lsn: self.fork_point,
            database_creation_date: self.created,
            backup_start_date: start,
            backup_finish_date: finish,
            utc_offset_minutes: 60,
            has_backup_checksums: self.db.checksum,
            is_copy_only: false,
            recovery_model: self.db.recovery_model,
            files: self.files(if backup_type == BackupType::TransactionLog {
                0
            } else {
                pages
            }),
            log_bytes: if backup_type == BackupType::TransactionLog {
                self.db.log_size
            } else {
                65_536
            },
        }
    }

    /// A full database backup; unless `copy_only`, it becomes the base of later backups.
    pub fn full(&mut self, copy_only: bool) -> SetSpec {
        let checkpoint = self.clock.advance(4096);
        let last = self.clock.advance(8192);
        let pages = self.data_pages();
        let mut set = self.set(BackupType::Database, checkpoint, last, checkpoint, pages);
        set.is_copy_only = copy_only;
        if !copy_only {
            // A database's log chain starts with its first full backup.
            if self.log_chain.is_none() && self.db.recovery_model != RecoveryModel::Simple {
                self.log_chain = Some(checkpoint);
            }
            self.base = Some(FullBase {
                guid: set.backup_set_guid,
                first_lsn: checkpoint,
                checkpoint_lsn: checkpoint,
            });
            self.last_checkpoint = checkpoint;
        }
        set
    }

    /// A differential backup on the current base full (which must exist).
    pub fn differential(&mut self) -> Option<SetSpec> {
        let base = self.base?;
        let checkpoint = self.clock.advance(4096);
        let last = self.clock.advance(8192);
        let pages = (self.data_pages() / 8).max(1);
        let mut set = self.set(
            BackupType::DifferentialDatabase,
            checkpoint,
            last,
            checkpoint,
            pages,
        );
        set.differential_base_lsn = base.first_lsn;
        set.differential_base_guid = base.guid;
        self.last_checkpoint = checkpoint;
        Some(set)
    }

    /// A log backup continuing the chain (which a full must have started).
    pub fn log(&mut self) -> Option<SetSpec> {
        let first = self.log_chain?;
        let last = self.clock.advance(self.db.log_size);
        let checkpoint = self.last_checkpoint;
        let mut set = self.set(BackupType::TransactionLog, first, last, checkpoint, 0);
        set.last_log_backup_lsn = self.last_log;
        self.last_log = last;
        self.log_chain = Some(last);
        Some(set)
    }

    /// Restore the database to a point inside the next log backup and recover it: a new
    /// recovery fork begins there, and the next log backup spans the fork.
    pub fn fork(&mut self) {
        let point = self.clock.advance(2048);
        self.parent_fork = self.fork;
        self.fork = self.rng.guid();
        self.fork_point = point;
    }
}
