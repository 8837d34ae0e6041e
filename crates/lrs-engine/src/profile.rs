//! Behaviour profiles: which generation of the real service the emulator imitates.

use chrono::TimeDelta;

/// Limits and rules of one generation of LRS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Name used on the command line and stored with each job.
    pub name: &'static str,
    /// How long a job may run: the 2021 preview's 47-hour patch window (after which the next
    /// system update stops the job) or GA's 30-day lifetime (after which the job is canceled).
    pub job_lifetime: TimeDelta,
    /// What ends a job at the end of its lifetime.
    pub expiry: Expiry,
    /// Backups without CHECKSUM are refused (2021 preview) or accepted (GA).
    pub require_checksum: bool,
    /// Concurrent restores per managed instance.
    pub max_restores_per_instance: u64,
    /// Databases per managed instance, LRS or not, when the profile enforces the instance's
    /// limit (GA: 100 on General Purpose, `DatabaseNumberLimitReached`). The 2021 profile
    /// documents only the limit on concurrent restores.
    pub max_databases_per_instance: Option<u64>,
    /// Concurrent restores per subscription, when limited.
    pub max_restores_per_subscription: Option<u64>,
    /// Whether `storageContainerIdentity: ManagedIdentity` is available (GA only).
    pub managed_identity: bool,
    /// What a `lastBackupName` (autocomplete's, or a cutover's) bounds. `true` (2020–2021):
    /// the job restores every set of the chain it has found, the named one included, then
    /// cuts over; two recordings show `log1.bak` restored after `full.bak` was named, with
    /// autocomplete and with a cutover. `false` (GA): nothing past the named file is
    /// restored, and files beyond it fail an autocomplete migration (the docs: "the
    /// migration will fail"; `BackupFilesBeyondLastBackupName`).
    pub restores_past_last_backup: bool,
}

/// How a job's lifetime ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// System updates are held off for the window; the next one after it stops the job
    /// (2021 preview). The emulator applies that update as soon as the window closes, or
    /// earlier on `system_patch`.
    PatchWindow,
    /// The job is canceled automatically when its lifetime ends (GA).
    Lifetime,
}

impl Profile {
    /// The 2021 public preview that the seed document describes (default).
    pub fn lrs_2021() -> Self {
        Profile {
            name: "lrs-2021",
            job_lifetime: TimeDelta::hours(47),
            expiry: Expiry::PatchWindow,
            require_checksum: true,
            max_restores_per_instance: 100,
            max_databases_per_instance: None,
            max_restores_per_subscription: None,
            managed_identity: false,
            restores_past_last_backup: true,
        }
    }

    /// General availability (Nov 2022 onward).
    pub fn ga() -> Self {
        Profile {
            name: "ga",
            job_lifetime: TimeDelta::days(30),
            expiry: Expiry::Lifetime,
            require_checksum: false,
            max_restores_per_instance: 100,
            max_databases_per_instance: Some(100),
            max_restores_per_subscription: Some(150),
            managed_identity: true,
            restores_past_last_backup: false,
        }
    }

    /// A profile by name (`lrs-2021`, `ga`).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "lrs-2021" => Some(Self::lrs_2021()),
            "ga" => Some(Self::ga()),
            _ => None,
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::lrs_2021()
    }
}
