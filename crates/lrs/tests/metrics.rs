//! `GET /metrics` of the real `lrs serve`: a forged migration runs to completion, and the
//! scraped counters (read with a Prometheus text-format parser, as a scraper would) match what
//! the API reported for the same migration.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Scrape, Value as Prom};
use serde_json::{Value, json};
use support::{TestServer, forge_chain, lrs_serve};

/// One scrape of `/metrics`, parsed.
async fn scrape(client: &reqwest::Client, server: &TestServer) -> Scrape {
    let response = client
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = response.text().await.expect("metrics text");
    let lines: Vec<_> = text.lines().map(|l| Ok(l.to_string())).collect();
    Scrape::parse(lines.into_iter()).expect("a valid Prometheus exposition")
}

/// The samples of `metric` whose labels include every pair of `labels`.
fn samples<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The sum of the counter or gauge values of `metric` with those labels.
fn sum(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, metric, labels)
        .iter()
        .map(|s| match s.value {
            Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v) => v,
            _ => panic!("{metric} is not a counter or gauge"),
        })
        .sum()
}

/// The number of observations of histogram `metric` with those labels (its +Inf buckets).
fn observations(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, metric, labels)
        .iter()
        .map(|s| match &s.value {
            Prom::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            _ => panic!("{metric} is not a histogram"),
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_match_what_the_api_reports_for_a_migration() {
    let root = tempfile::tempdir().expect("temp dir");
    let folder = root.path().join("blobs").join("metrics");
    let names = forge_chain(
        &folder,
        "Metered",
        &[
            "--checksum",
            "--diffs",
            "1",
            "--logs",
            "4",
            "--data-size",
            "1MiB",
            "--log-size",
            "256KiB",
        ],
    );
    let last_log = names
        .iter()
        .filter(|n| n.contains("_LOG_"))
        .max()
        .expect("a log")
        .clone();
    let local_root = folder.display().to_string();
    let server = lrs_serve(&root.path().join("data"))
        .args(["--poll-interval", "0.05", "--local-root", &local_root])
        .start()
        .await;
    let client = reqwest::Client::new();

    let before = scrape(&client, &server).await;
    assert_eq!(sum(&before, "lrs_backup_sets_restored_total", &[]), 0.0);
    assert_eq!(sum(&before, "lrs_jobs", &[]), 0.0);

    support::start_continuous(&client, &server, "Metered", &folder).await;

    // Poll restore details until the last log is restored, counting the calls.
    let mut details_calls = 0u32;
    let deadline = Instant::now() + Duration::from_secs(120);
    let details = loop {
        let response = client
            .get(server.url("/databases/Metered/restoreDetails/Default"))
            .send()
            .await
            .expect("GET restoreDetails");
        details_calls += 1;
        assert_eq!(response.status(), 200);
        let d: Value = response.json().await.expect("restore details JSON");
        if d["properties"]["lastRestoredFileName"] == json!(last_log) {
            break d;
        }
        assert!(Instant::now() < deadline, "migration stalled: {d:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let during = scrape(&client, &server).await;
    let files_restored = details["properties"]["numberOfFilesRestored"]
        .as_u64()
        .expect("numberOfFilesRestored") as f64;
    assert!(files_restored >= 3.0, "{details:#}");
    assert_eq!(
        sum(&during, "lrs_backup_sets_restored_total", &[]),
        files_restored
    );
    // By kind, and bytes: the restored sets of restore details, one file each here.
    let mut bytes_by_kind: HashMap<&str, (f64, f64)> = HashMap::new();
    for (key, kind) in [
        ("fullBackupSets", "Full"),
        ("diffBackupSets", "Diff"),
        ("logBackupSets", "Log"),
    ] {
        for set in details["properties"][key].as_array().expect("sets") {
            if set["status"] == json!("Restored") {
                let name = set["firstStripeName"].as_str().expect("stripe name");
                let size = std::fs::metadata(folder.join(name)).expect("file").len() as f64;
                let entry = bytes_by_kind.entry(kind).or_default();
                entry.0 += 1.0;
                entry.1 += size;
            }
        }
    }
    for kind in ["Full", "Diff", "Log"] {
        let (sets, bytes) = bytes_by_kind.get(kind).copied().unwrap_or_default();
        assert!(sets >= 1.0, "no {kind} set restored: {details:#}");
        assert_eq!(
            sum(&during, "lrs_backup_sets_restored_total", &[("kind", kind)]),
            sets,
            "{kind}"
        );
        assert_eq!(
            sum(&during, "lrs_restored_bytes_total", &[("kind", kind)]),
            bytes,
            "{kind}"
        );
        assert_eq!(
            observations(&during, "lrs_restore_duration_seconds", &[("kind", kind)]),
            sets,
            "{kind}"
        );
    }
    // One job, restoring (continuous mode waits for the cutover).
    assert_eq!(sum(&during, "lrs_jobs", &[("state", "Restoring")]), 1.0);
    assert_eq!(sum(&during, "lrs_jobs", &[]), 1.0);
    assert_eq!(
        sum(
            &during,
            "lrs_jobs",
            &[("state", "Restoring"), ("profile", "lrs-2021")]
        ),
        1.0
    );
    assert!(observations(&during, "lrs_folder_scan_duration_seconds", &[]) >= 1.0);
    assert_eq!(sum(&during, "lrs_jobs_blocked", &[]), 0.0);
    // HTTP: every restore details call, counted under its route name, never its path.
    assert_eq!(
        sum(
            &during,
            "lrs_http_requests_total",
            &[("route", "GetRestoreDetails"), ("status", "200")]
        ),
        f64::from(details_calls)
    );
    assert_eq!(
        sum(
            &during,
            "lrs_http_requests_total",
            &[("route", "PutDatabase"), ("status", "202")]
        ),
        1.0
    );
    assert_eq!(
        observations(
            &during,
            "lrs_http_request_duration_seconds",
            &[("route", "GetRestoreDetails")]
        ),
        f64::from(details_calls)
    );
    // The one scrape before this one.
    assert_eq!(
        sum(&during, "lrs_http_requests_total", &[("route", "Metrics")]),
        1.0
    );
    assert!(
        samples(&during, "lrs_http_requests_total", &[])
            .iter()
            .all(|s| !s.labels.get("route").unwrap_or_default().contains('/'))
    );
    // Store calls on the request path are timed.
    assert!(
        observations(
            &during,
            "lrs_store_call_duration_seconds",
            &[("call", "get_database")]
        ) >= 1.0
    );
    assert!(
        observations(
            &during,
            "lrs_store_call_duration_seconds",
            &[("call", "restore_finished")]
        ) >= files_restored
    );

    // Cutover: the job ends, and the gauge and the ended counter say so.
    let complete = client
        .post(server.url("/databases/Metered/completeRestore"))
        .json(&json!({ "lastBackupName": last_log }))
        .send()
        .await
        .expect("POST completeRestore");
    assert_eq!(complete.status(), 202);
    support::wait_online(&client, &server, "Metered").await;
    let after = scrape(&client, &server).await;
    assert_eq!(sum(&after, "lrs_jobs", &[]), 0.0);
    assert_eq!(
        sum(
            &after,
            "lrs_jobs_ended_total",
            &[("state", "Completed"), ("profile", "lrs-2021")]
        ),
        1.0
    );
    assert_eq!(sum(&after, "lrs_jobs_ended_total", &[]), 1.0);
    assert_eq!(
        sum(&after, "lrs_backup_sets_restored_total", &[]),
        files_restored
    );
    assert_eq!(
        sum(
            &after,
            "lrs_http_requests_total",
            &[("route", "CompleteRestore"), ("status", "202")]
        ),
        1.0
    );
}
