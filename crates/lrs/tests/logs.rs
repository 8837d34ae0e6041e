//! `lrs serve`'s log when standard error is a file: no ANSI colour codes, and access-log
//! latencies in milliseconds with at most one decimal (0.1 ms).

mod support;

use std::time::Duration;

use support::lrs_serve;

#[tokio::test]
async fn log_to_a_file_has_no_colours_and_short_latencies() {
    let root = tempfile::tempdir().expect("temp dir");
    let log = root.path().join("lrs.log");
    let server = lrs_serve(&root.path().join("data"))
        .rust_log("info")
        .stderr_to(&log)
        .start()
        .await;
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let r = client
            .get(server.url("/databases/Nope/restoreDetails/Default"))
            .send()
            .await
            .expect("GET");
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    // The access log line is written after the response is sent.
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log).expect("read the log");
        if text.matches("latency_ms=").count() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    assert!(!text.contains("\x1b["), "colour codes in the log:\n{text}");
    let latencies: Vec<&str> = text
        .split("latency_ms=")
        .skip(1)
        .map(|rest| rest.split_whitespace().next().unwrap_or(""))
        .collect();
    assert!(latencies.len() >= 5, "no access log lines:\n{text}");
    for latency in latencies {
        let (whole, decimals) = latency.split_once('.').unwrap_or((latency, ""));
        assert!(
            !whole.is_empty()
                && whole.chars().all(|c| c.is_ascii_digit())
                && decimals.len() <= 1
                && decimals.chars().all(|c| c.is_ascii_digit()),
            "latency_ms={latency} is not in 0.1 ms steps:\n{text}"
        );
    }
}
