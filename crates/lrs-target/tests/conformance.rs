//! The conformance suite on every target: one test per check and target, each on a fresh
//! target in its own directory.

use std::path::Path;
use std::sync::Arc;

use lrs_target::conformance;
use lrs_target::files::STAGING_DIR;
use lrs_target::{EmulatedOptions, EmulatedTarget, FilesTarget, Target};

/// A fresh emulated target (and the directory that holds it, kept alive by the caller).
fn fresh_emulated() -> (tempfile::TempDir, Arc<dyn Target>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let target = EmulatedTarget::open(dir.path(), EmulatedOptions::default()).expect("open");
    (dir, Arc::new(target))
}

/// A fresh files target (and the directory that holds it, kept alive by the caller).
fn fresh_files() -> (tempfile::TempDir, Arc<dyn Target>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let target = FilesTarget::open(dir.path(), EmulatedOptions::default()).expect("open");
    (dir, Arc::new(target))
}

/// After a check (its target dropped): the emulated target has nothing more to check.
fn after_emulated(_dir: &Path) {}

/// After a check (its target dropped): nothing is left half-done in the staging folder (every
/// failed restore cleaned up after itself), and the target reopens on its folder.
fn after_files(dir: &Path) {
    let staging: Vec<_> = std::fs::read_dir(dir.join(STAGING_DIR))
        .expect("staging folder")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(staging.is_empty(), "left in staging: {staging:?}");
    FilesTarget::open(dir, EmulatedOptions::default()).expect("reopen");
}

/// One module of tests for one target: `fresh` makes the target, `after` checks its folder
/// once the check has dropped it.
macro_rules! suite {
    ($module:ident, $fresh:path, $after:path, [$($name:ident),*]) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (dir, target) = $fresh();
                    conformance::$name(target).await;
                    $after(dir.path());
                }
            )*

            /// The whole suite through `all()`, as another crate would run it, on one target
            /// per check.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_suite_runs_through_all() {
                for (name, check) in conformance::all() {
                    let (dir, target) = $fresh();
                    eprintln!("conformance ({}): {name}", stringify!($module));
                    check(target).await;
                    $after(dir.path());
                }
            }
        }
    };
}

/// Every check, on every target.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        suite!(emulated, fresh_emulated, after_emulated, [$($name),*]);
        suite!(files, fresh_files, after_files, [$($name),*]);

        /// Every check of the suite has a test here, on each target (both modules are made
        /// from this one list).
        #[test]
        fn every_check_is_run() {
            let mut ours = vec![$(stringify!($name)),*];
            let mut suite: Vec<&str> = conformance::all().into_iter().map(|(n, _)| n).collect();
            ours.sort_unstable();
            suite.sort_unstable();
            assert_eq!(ours, suite);
        }
    };
}

conformance!(
    full_diff_and_logs_apply_in_order,
    a_log_restored_again_after_a_later_one_is_too_early,
    the_log_just_restored_restores_again_without_change,
    a_skipped_log_is_too_recent,
    a_differential_of_another_full_is_refused,
    restores_after_recovery_are_refused,
    a_dropped_database_is_gone,
    a_full_of_another_database_is_refused,
    a_striped_set_needs_every_family,
    compressed_sets_restore_and_report_their_bytes,
    logs_follow_the_database_across_a_recovery_fork,
    every_byte_of_every_stripe_is_read,
    a_corrupt_page_fails_the_restore_with_3183,
    a_damaged_block_fails_the_restore_with_3241,
    a_broken_backup_checksum_fails_the_restore_with_3189,
    real_media_password_backup_is_refused_with_3279,
    real_restoretimeclean_restores_in_order,
    real_stopat_restores_and_a_missing_log_is_too_recent,
    real_striped_sets_restore,
    real_double_differential_restores,
    real_log_ending_at_the_redo_point_restores,
    real_compressed_full_restores,
    real_checksummed_full_with_a_corrupt_page_is_3183,
);
