//! `lrs demo` as a user runs it: it becomes ready, its migration restores the log backups it
//! keeps writing, and Ctrl-C (SIGINT) cuts over, leaving the database Online, and exits 0.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::lrs_serve;

/// The demo's database under its instance (subscription, resource group, instance).
const DATABASE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Sql/managedInstances/mi1/databases/demo";
const API: &str = "api-version=2024-11-01-preview";

/// Lines of the child's stdout, as they come.
fn lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn demo_restores_new_logs_and_cuts_over_on_ctrl_c() {
    lrs_source::install_crypto_provider();
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lrs"))
        .arg("demo")
        .arg("--data-dir")
        .arg(&data)
        .args(["--port", "0", "--interval", "0.5", "--time-scale", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn lrs demo");
    let rx = lines(child.stdout.take().expect("stdout"));
    let mut output = Vec::new();
    let next = |output: &mut Vec<String>| {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("lrs demo went quiet ({e}); so far:\n{output:#?}"));
        output.push(line.clone());
        line
    };

    let first = next(&mut output);
    let ready: Value = serde_json::from_str(&first).expect("the serve ready line first");
    let port = ready["https"]
        .as_str()
        .and_then(|a| a.rsplit(':').next())
        .expect("https address")
        .to_string();
    let cert = std::fs::read(ready["cert"].as_str().expect("cert")).expect("read the cert");
    while !next(&mut output).starts_with("lrs demo: ready") {}
    let text = output.join("\n");
    assert!(
        text.contains(&format!("https://localhost:{port}/")),
        "{text}"
    );
    assert!(text.contains("az cloud register"), "{text}");
    assert!(text.contains("az sql midb log-replay show"), "{text}");

    // Over HTTPS, trusting the generated certificate as clients must.
    let mut builder = reqwest::Client::builder();
    for c in reqwest::Certificate::from_pem_bundle(&cert).expect("PEM") {
        builder = builder.add_root_certificate(c);
    }
    let client = builder.build().expect("client");
    let details = format!("https://localhost:{port}{DATABASE}/restoreDetails/Default?{API}");

    // New logs land every half second; the migration restores them as they come.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 3 {
        let d = get(&client, &details).await;
        assert_eq!(d["properties"]["status"], "Restoring", "{d:#}");
        if let Some(last) = d["properties"]["lastRestoredFileName"].as_str()
            && seen.last().is_none_or(|l: &String| l != last)
        {
            seen.push(last.to_string());
        }
        assert!(Instant::now() < deadline, "restored only {seen:?}: {d:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen.iter().skip(1).all(|name| name.contains("_LOG_")),
        "{seen:?}"
    );

    // Ctrl-C: cut over, stop, exit 0. The client goes first: the server drains open
    // keep-alive connections (up to 10 s) before it stops.
    drop(client);
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid fits an i32"))
        .expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "lrs demo did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        output.push(line);
    }
    let text = output.join("\n");
    assert!(status.success(), "lrs demo exited with {status}:\n{text}");
    assert!(text.contains("lrs demo: database demo is Online"), "{text}");
    assert!(text.ends_with("lrs demo: stopped"), "{text}");

    // The state it left behind says the same to a new server on the same folder.
    let backups = data.join("backups").display().to_string();
    let server = lrs_serve(&data)
        .args(["--local-root", &backups])
        .start()
        .await;
    let db = get(
        &reqwest::Client::new(),
        &format!("{}{DATABASE}?{API}", server.http),
    )
    .await;
    assert_eq!(db["properties"]["status"], "Online", "{db:#}");
}
