//! The engine's metrics over a real job: a gap in the log chain blocks the plan (counted once,
//! shown by the blocked gauge), the missing log arrives, the job completes; the restored sets
//! match restore details and the target's log.

mod support;

use lrs_engine::Profile;
use lrs_store::OperationStatus;
use prometheus_parse::{Scrape, Value};
use support::{Harness, upload};

async fn scrape(h: &Harness) -> Scrape {
    let text = h.engine.render_metrics().await.expect("metrics");
    let lines: Vec<_> = text.lines().map(|l| Ok(l.to_string())).collect();
    Scrape::parse(lines.into_iter()).expect("a valid exposition")
}

/// The sum of counter and gauge samples of `metric` with those labels.
fn sum(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{metric} is not a counter or gauge"),
        })
        .sum()
}

#[tokio::test]
async fn a_gap_is_one_planner_block_and_every_restored_set_is_counted() {
    let h = Harness::new(Profile::lrs_2021(), 1.0).await;
    // Full, log 1, log 3: log 2 is missing.
    let (files, folder, op, blocked) = support::start_with_a_gap(&h, "Gap").await;
    assert_eq!(blocked.number_of_files_restored, 2);
    // Let a few more polls see the same block: it is still one block.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let during = scrape(&h).await;
    assert_eq!(sum(&during, "lrs_planner_blocks_total", &[]), 1.0);
    assert_eq!(sum(&during, "lrs_jobs_blocked", &[]), 1.0);
    assert_eq!(
        sum(&during, "lrs_backup_sets_restored_total", &[]),
        blocked.number_of_files_restored as f64
    );
    assert_eq!(
        sum(
            &during,
            "lrs_backup_sets_restored_total",
            &[("kind", "Full")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &during,
            "lrs_backup_sets_restored_total",
            &[("kind", "Log")]
        ),
        1.0
    );
    let full_size = std::fs::metadata(&files[0].1).expect("full").len() as f64;
    assert_eq!(
        sum(&during, "lrs_restored_bytes_total", &[("kind", "Full")]),
        full_size
    );
    assert_eq!(sum(&during, "lrs_jobs", &[("state", "Restoring")]), 1.0);
    assert_eq!(sum(&during, "lrs_storage_errors_total", &[]), 0.0);

    upload(&files[2..3], &folder);
    let done = h.wait_operation(&op).await;
    assert_eq!(done.status, OperationStatus::Succeeded, "{:?}", done.error);
    h.assert_applied_once(4);
    let after = scrape(&h).await;
    assert_eq!(sum(&after, "lrs_backup_sets_restored_total", &[]), 4.0);
    assert_eq!(sum(&after, "lrs_planner_blocks_total", &[]), 1.0);
    assert_eq!(sum(&after, "lrs_jobs_blocked", &[]), 0.0);
    assert_eq!(sum(&after, "lrs_jobs", &[]), 0.0);
    assert_eq!(
        sum(
            &after,
            "lrs_jobs_ended_total",
            &[("state", "Completed"), ("profile", "lrs-2021")]
        ),
        1.0
    );
}
