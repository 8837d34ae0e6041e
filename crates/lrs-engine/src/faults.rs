//! Fault injection: make a named migration (or the next one started) fail, stall or slow down
//! with any code of the [catalogue](crate::catalogue), so tooling can rehearse the errors that
//! local inputs cannot cause (a full instance, an upgrade, a missing TDE certificate).
//!
//! A fault shows where the real error would: a start-request code refuses the start request,
//! a complete-request code refuses the cutover, a restore-details code refuses `GET
//! restoreDetails`, and a job code fails the migration at its next step (the start operation
//! ends `Failed`, restore details show it). Faults live in the memory of the node that was
//! asked (they are test fixtures, not state to survive a restart): with several nodes, inject
//! on the node that runs the job.

use std::sync::Mutex;
use std::time::Duration;

use lrs_store::{ErrorRecord, InstanceKey};
use serde::Serialize;
use uuid::Uuid;

use crate::api::EngineError;
use crate::catalogue::{self, Entry, Surface};

/// The longest delay a slow fault may add to each restore (one hour): longer is a stall.
const MAX_DELAY_MS: u64 = 3_600_000;

/// How often a slowed restore or drop looks whether its fault was cleared.
const SLOW_RECHECK: Duration = Duration::from_millis(50);

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FaultEffect {
    /// Refuse the request or fail the job with the fault's code.
    Fail,
    /// The job restores nothing until the fault is cleared. It keeps listing its folder, so
    /// restore details count the files it finds (a held job of the real service does too);
    /// they show the code's message as `blockReason` when the fault has one.
    Stall,
    /// Each restore of the job, and the drop of its database, takes this much longer (or
    /// lasts until the fault is cleared, whichever comes first). Meanwhile restore details
    /// show the set as restoring, and a drop's operation stays `InProgress`: the states the
    /// real service shows for minutes.
    Slow {
        /// Delay per backup set, in milliseconds.
        #[serde(rename = "delayMs")]
        delay_ms: u64,
    },
}

/// Which migration a fault hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultTarget {
    /// The database of this name on this instance (its current job or a later start).
    Database {
        /// Its instance.
        instance: InstanceKey,
        /// Database name.
        name: String,
    },
    /// The next migration started (job faults are bound to it at its start), or the next
    /// request of the code's kind.
    Next,
}

/// A fault request, as the admin API parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectFault {
    /// A catalogue code; required to fail, optional to stall (then shown), unused to slow.
    pub code: Option<String>,
    /// What it does.
    pub effect: FaultEffect,
    /// Whom it hits.
    pub target: FaultTarget,
    /// Fire once (then it is removed) or until cleared.
    pub once: bool,
    /// The message to show instead of the catalogue's (placeholders filled).
    pub message: Option<String>,
}

/// An injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Id (to clear it alone).
    pub id: Uuid,
    /// Its code, when it has one.
    pub code: Option<&'static str>,
    /// What it does.
    pub effect: FaultEffect,
    /// Whom it hits.
    pub target: FaultTarget,
    /// Whether it is removed after it fires once.
    pub once: bool,
    /// The message it shows.
    pub message: Option<String>,
    /// How often it fired.
    pub fired: u64,
    #[serde(skip)]
    surface: Option<Surface>,
    /// Whether the message is the caller's (else the catalogue's, filled for the target).
    #[serde(skip)]
    custom_message: bool,
    #[serde(skip)]
    status: u16,
}

/// What a job meets at its next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobFault {
    /// Fail with this error.
    Fail(ErrorRecord),
    /// Make no progress; show this, if anything.
    Stall(Option<ErrorRecord>),
}

/// The faults of one node.
#[derive(Debug, Default)]
pub struct Faults {
    faults: Mutex<Vec<Fault>>,
}

fn invalid(detail: impl std::fmt::Display) -> EngineError {
    crate::api::Refusal::InvalidFault {
        detail: detail.to_string(),
    }
    .into()
}

/// The catalogue message with its placeholders filled for `database` on `instance`.
fn fill(entry: &Entry, target: &FaultTarget) -> String {
    let (instance, database) = match target {
        FaultTarget::Database { instance, name } => (instance.instance.as_str(), name.as_str()),
        FaultTarget::Next => ("", ""),
    };
    if entry.code == "SqlRestoreError" {
        // Without a SQL Server error to quote: the newest spec's text, which has no placeholders.
        return "Non retriable error occurred while restoring backup.".to_string();
    }
    // What `{0}` stands for in each message that has one: a server, a database, or the
    // profile's limits (the defaults of the 2021 and GA profiles).
    let first = match entry.code {
        c if c.starts_with("TargetServer") => instance,
        c if c.starts_with("BackupsFromMultipleDatabases") => "",
        "TooManyConcurrentRestores" => "100",
        "LogReplayStoppedBySystemUpdate" => "47",
        "LogReplayJobExpired" => "30",
        _ => database,
    };
    entry
        .message
        .replace("{0}", first)
        .replace(": {1}.", ".")
        .replace("(%d)", "32768")
}

fn same_database(target: &FaultTarget, instance: &InstanceKey, name: &str) -> bool {
    match target {
        FaultTarget::Database {
            instance: i,
            name: n,
        } => {
            n.eq_ignore_ascii_case(name)
                && i.subscription.eq_ignore_ascii_case(&instance.subscription)
                && i.resource_group
                    .eq_ignore_ascii_case(&instance.resource_group)
                && i.instance.eq_ignore_ascii_case(&instance.instance)
        }
        FaultTarget::Next => false,
    }
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        // A panic while holding the lock leaves a consistent Vec: keep using it.
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Add a fault after checking it makes sense.
    pub fn inject(&self, request: InjectFault) -> Result<Fault, EngineError> {
        let entry = match request.code.as_deref() {
            Some(code) => Some(catalogue::entry(code.trim()).ok_or_else(|| {
                invalid(format!(
                    "'{code}' is not a code of the catalogue (docs/errors.md)."
                ))
            })?),
            None => None,
        };
        let surface = entry.map(|e| e.surface);
        match (request.effect, surface) {
            (FaultEffect::Fail, None) => {
                return Err(invalid("A fault that fails needs a code."));
            }
            (FaultEffect::Stall | FaultEffect::Slow { .. }, Some(s)) if s != Surface::Job => {
                return Err(invalid(format!(
                    "'{}' refuses a request; only a code of a running migration can go with \
                     stall or slow.",
                    entry.map_or("", |e| e.code)
                )));
            }
            (FaultEffect::Slow { delay_ms }, _) if delay_ms == 0 || delay_ms > MAX_DELAY_MS => {
                return Err(invalid(format!(
                    "A slow fault needs a delay from 1 to {MAX_DELAY_MS} ms, not {delay_ms}."
                )));
            }
            _ => {}
        }
        let custom_message = request.message.is_some();
        let message = match (request.message, entry) {
            (Some(m), _) if m.trim().is_empty() => return Err(invalid("The message is empty.")),
            (Some(m), _) => Some(m),
            (None, Some(e)) => Some(fill(e, &request.target)),
            (None, None) => None,
        };
        let fault = Fault {
            id: Uuid::new_v4(),
            code: entry.map(|e| e.code),
            effect: request.effect,
            target: request.target,
            once: request.once,
            message,
            fired: 0,
            surface,
            custom_message,
            status: entry.map_or(400, |e| e.status),
        };
        self.lock().push(fault.clone());
        Ok(fault)
    }

    /// Every fault.
    pub fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// Remove one fault (by id) or all; returns how many went.
    pub fn clear(&self, id: Option<Uuid>) -> usize {
        let mut faults = self.lock();
        let before = faults.len();
        faults.retain(|f| id.is_some_and(|id| f.id != id));
        before - faults.len()
    }

    /// A refusal of a synchronous request (`surface`) on this database, if a fault asks for
    /// one. Consumes a `once` fault.
    pub(crate) fn refusal(
        &self,
        surface: Surface,
        instance: &InstanceKey,
        name: &str,
    ) -> Option<EngineError> {
        let mut faults = self.lock();
        let at = faults.iter().position(|f| {
            f.effect == FaultEffect::Fail
                && f.surface == Some(surface)
                && (f.target == FaultTarget::Next || same_database(&f.target, instance, name))
        })?;
        let fault = &mut faults[at];
        fault.fired += 1;
        if !fault.custom_message
            && let Some(entry) = fault.code.and_then(catalogue::entry)
        {
            let target = FaultTarget::Database {
                instance: instance.clone(),
                name: name.to_string(),
            };
            fault.message = Some(fill(entry, &target));
        }
        let error = EngineError::Injected {
            status: fault.status,
            code: fault.code.unwrap_or_default(),
            message: fault.message.clone().unwrap_or_default(),
        };
        if fault.once {
            faults.remove(at);
        }
        Some(error)
    }

    /// A migration of this database started: faults aimed at the next migration are bound to
    /// it.
    pub(crate) fn bind_next(&self, instance: &InstanceKey, name: &str) {
        let mut faults = self.lock();
        for fault in faults.iter_mut() {
            let job_fault = match fault.effect {
                FaultEffect::Fail => fault.surface == Some(Surface::Job),
                FaultEffect::Stall | FaultEffect::Slow { .. } => true,
            };
            if job_fault && fault.target == FaultTarget::Next {
                fault.target = FaultTarget::Database {
                    instance: instance.clone(),
                    name: name.to_string(),
                };
                if !fault.custom_message
                    && let Some(entry) = fault.code.and_then(catalogue::entry)
                {
                    fault.message = Some(fill(entry, &fault.target));
                }
            }
        }
    }

    /// What the job of this database meets at its next step: a failure wins over a stall.
    pub(crate) fn job_fault(&self, instance: &InstanceKey, name: &str) -> Option<JobFault> {
        let mut faults = self.lock();
        let record = |f: &Fault| {
            f.code.map(|code| ErrorRecord {
                code: code.to_string(),
                message: f.message.clone().unwrap_or_default(),
            })
        };
        if let Some(at) = faults.iter().position(|f| {
            f.effect == FaultEffect::Fail
                && f.surface == Some(Surface::Job)
                && same_database(&f.target, instance, name)
        }) {
            let fault = &mut faults[at];
            fault.fired += 1;
            let error = record(fault)?;
            if fault.once {
                faults.remove(at);
            }
            return Some(JobFault::Fail(error));
        }
        let fault = faults
            .iter_mut()
            .find(|f| f.effect == FaultEffect::Stall && same_database(&f.target, instance, name))?;
        fault.fired += 1;
        Some(JobFault::Stall(record(fault)))
    }

    /// The delay a slow fault adds to this database's restores and drop (counts a firing).
    fn restore_delay(&self, instance: &InstanceKey, name: &str) -> Option<Duration> {
        let mut faults = self.lock();
        let fault = faults.iter_mut().find(|f| {
            matches!(f.effect, FaultEffect::Slow { .. }) && same_database(&f.target, instance, name)
        })?;
        fault.fired += 1;
        match fault.effect {
            FaultEffect::Slow { delay_ms } => Some(Duration::from_millis(delay_ms)),
            _ => None,
        }
    }

    /// Whether a slow fault aims at this database (without counting a firing).
    fn is_slow(&self, instance: &InstanceKey, name: &str) -> bool {
        self.lock().iter().any(|f| {
            matches!(f.effect, FaultEffect::Slow { .. }) && same_database(&f.target, instance, name)
        })
    }

    /// Wait out a slow fault aimed at this database: its delay, or until it is cleared,
    /// whichever comes first; at once when there is none. Returns whether there was one.
    /// Callers race it against their own cancellation.
    pub(crate) async fn wait_if_slow(&self, instance: &InstanceKey, name: &str) -> bool {
        let Some(delay) = self.restore_delay(instance, name) else {
            return false;
        };
        let until = tokio::time::Instant::now() + delay;
        loop {
            let now = tokio::time::Instant::now();
            if now >= until || !self.is_slow(instance, name) {
                return true;
            }
            tokio::time::sleep((until - now).min(SLOW_RECHECK)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> InstanceKey {
        InstanceKey {
            subscription: "sub".into(),
            resource_group: "rg".into(),
            instance: "mi".into(),
        }
    }

    fn fail(code: &str, target: FaultTarget, once: bool) -> InjectFault {
        InjectFault {
            code: Some(code.into()),
            effect: FaultEffect::Fail,
            target,
            once,
            message: None,
        }
    }

    #[test]
    fn unknown_codes_and_fails_without_a_code_are_refused() {
        let faults = Faults::default();
        let err = faults
            .inject(fail("NoSuchCode", FaultTarget::Next, true))
            .expect_err("unknown");
        assert!(
            matches!(&err, EngineError::Refused(crate::api::Refusal::InvalidFault { detail }) if detail.contains("'NoSuchCode' is not a code")),
            "{err:?}"
        );
        let mut no_code = fail("x", FaultTarget::Next, true);
        no_code.code = None;
        assert!(faults.inject(no_code).is_err());
        let mut stall_start = fail("DatabaseNumberLimitReached", FaultTarget::Next, true);
        stall_start.effect = FaultEffect::Stall;
        assert!(faults.inject(stall_start).is_err());
        for delay_ms in [0, MAX_DELAY_MS + 1] {
            let slow = InjectFault {
                code: None,
                effect: FaultEffect::Slow { delay_ms },
                target: FaultTarget::Next,
                once: true,
                message: None,
            };
            let err = faults.inject(slow).expect_err("delay out of range");
            assert!(
                matches!(&err, EngineError::Refused(crate::api::Refusal::InvalidFault { detail })
                    if detail == &format!("A slow fault needs a delay from 1 to 3600000 ms, not {delay_ms}.")),
                "{err:?}"
            );
        }
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_once_start_refusal_fires_for_the_next_start_only() {
        let faults = Faults::default();
        faults
            .inject(fail("TargetServerDoesNotExist", FaultTarget::Next, true))
            .expect("inject");
        let err = faults
            .refusal(Surface::Start, &key(), "db1")
            .expect("refused");
        assert_eq!(
            err,
            EngineError::Injected {
                status: 400,
                code: "TargetServerDoesNotExist",
                message: "The target server mi does not exist or is not ready yet. Please check \
                          that it exists and retry the restore request."
                    .into()
            }
        );
        assert!(faults.refusal(Surface::Start, &key(), "db2").is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_job_fault_for_the_next_start_binds_to_it_and_fails_it_until_cleared() {
        let faults = Faults::default();
        let fault = faults
            .inject(fail(
                "ManagedInstanceStorageLimitHit",
                FaultTarget::Next,
                false,
            ))
            .expect("inject");
        assert!(faults.job_fault(&key(), "db1").is_none(), "not bound yet");
        faults.bind_next(&key(), "Db1");
        let hit = faults.job_fault(&key(), "db1").expect("bound");
        assert_eq!(
            hit,
            JobFault::Fail(ErrorRecord {
                code: "ManagedInstanceStorageLimitHit".into(),
                message: "The managed instance has reached its storage limit.".into(),
            })
        );
        assert!(faults.job_fault(&key(), "db1").is_some(), "until cleared");
        assert!(faults.job_fault(&key(), "db2").is_none(), "other database");
        assert_eq!(faults.clear(Some(fault.id)), 1);
        assert!(faults.job_fault(&key(), "db1").is_none());
    }

    #[test]
    fn stall_and_slow_hit_their_database_only() {
        let faults = Faults::default();
        let target = FaultTarget::Database {
            instance: key(),
            name: "db1".into(),
        };
        faults
            .inject(InjectFault {
                code: Some("StorageBrokenIssueDetectedWhileInProgress".into()),
                effect: FaultEffect::Stall,
                target: target.clone(),
                once: false,
                message: None,
            })
            .expect("stall");
        faults
            .inject(InjectFault {
                code: None,
                effect: FaultEffect::Slow { delay_ms: 250 },
                target,
                once: false,
                message: None,
            })
            .expect("slow");
        assert_eq!(
            faults.job_fault(&key(), "db1"),
            Some(JobFault::Stall(Some(ErrorRecord {
                code: "StorageBrokenIssueDetectedWhileInProgress".into(),
                message: "Storage connection is broken. Retrying automatically...".into(),
            })))
        );
        assert_eq!(
            faults.restore_delay(&key(), "db1"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(faults.restore_delay(&key(), "db2"), None);
        assert_eq!(faults.clear(None), 2);
        assert_eq!(faults.job_fault(&key(), "db1"), None);
    }
}
