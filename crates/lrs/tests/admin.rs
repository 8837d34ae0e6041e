//! `lrs admin` against a running `lrs serve` over HTTPS (trusting only the generated
//! certificate), and `lrs az-setup`'s commands.

mod support;

use std::process::Command;

use support::lrs_serve;

#[tokio::test(flavor = "multi_thread")]
async fn admin_commands_reach_the_server_over_verified_https() {
    let root = tempfile::tempdir().expect("temp dir");
    let server = lrs_serve(&root.path().join("data")).start().await;
    let endpoint = format!(
        "https://localhost:{}",
        server.https.rsplit(':').next().expect("port")
    );
    let patch = Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args(["admin", "system-patch", "--endpoint", &endpoint, "--cacert"])
        .arg(&server.cert)
        .output()
        .expect("lrs admin");
    assert!(
        patch.status.success(),
        "{}",
        String::from_utf8_lossy(&patch.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&patch.stdout).expect("JSON answer");
    assert_eq!(body, serde_json::json!({ "affectedJobs": 0 }));

    // Without the generated certificate the TLS verification fails (it is really on).
    let other = root.path().join("other.pem");
    std::fs::write(&other, include_str!("support/other-ca.pem")).expect("write");
    let refused = Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args(["admin", "failover", "--endpoint", &endpoint, "--cacert"])
        .arg(&other)
        .args([
            "--subscription",
            "s",
            "--resource-group",
            "g",
            "--instance",
            "i",
        ])
        .output()
        .expect("lrs admin");
    assert!(!refused.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_inject_lists_and_clears_faults() {
    let root = tempfile::tempdir().expect("temp dir");
    let server = lrs_serve(&root.path().join("data")).start().await;
    let endpoint = format!(
        "https://localhost:{}",
        server.https.rsplit(':').next().expect("port")
    );
    let lrs = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lrs"))
            .arg("admin")
            .args(args)
            .args(["--endpoint", &endpoint, "--cacert"])
            .arg(&server.cert)
            .output()
            .expect("lrs admin");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = lrs(&[
        "inject",
        "--code",
        "ManagedInstanceStorageLimitHit",
        "--until-cleared",
        "--database",
        "db1",
        "--subscription",
        "s",
        "--resource-group",
        "g",
        "--instance",
        "i",
    ]);
    assert!(ok, "{stderr}");
    let fault: serde_json::Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert_eq!(fault["code"], "ManagedInstanceStorageLimitHit");
    assert_eq!(fault["once"], false);
    assert_eq!(fault["target"]["database"]["name"], "db1");
    let id = fault["id"].as_str().expect("id").to_string();

    let (ok, stdout, stderr) = lrs(&["inject", "--effect", "slow", "--delay-ms", "200"]);
    assert!(ok, "{stderr}");
    let slow: serde_json::Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert_eq!(
        slow["effect"],
        serde_json::json!({"kind": "slow", "delayMs": 200})
    );

    let (ok, _, stderr) = lrs(&["inject", "--code", "NotACode"]);
    assert!(!ok);
    assert!(
        stderr.contains("'NotACode' is not a code of the catalogue"),
        "{stderr}"
    );

    let (_, stdout, _) = lrs(&["faults"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(2));
    let (_, stdout, _) = lrs(&["clear-faults", "--id", &id]);
    assert_eq!(stdout.trim(), r#"{"cleared":1}"#);
    let (_, stdout, _) = lrs(&["clear-faults"]);
    assert_eq!(stdout.trim(), r#"{"cleared":1}"#);
}

#[test]
fn az_setup_prints_the_cloud_registration_for_the_endpoint() {
    let out = Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args([
            "az-setup",
            "--endpoint",
            "https://localhost:9443",
            "--cacert",
            "/x/cert.pem",
        ])
        .output()
        .expect("lrs az-setup");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("export REQUESTS_CA_BUNDLE=/x/cert.pem"),
        "{text}"
    );
    assert!(
        text.contains(
            "az cloud register -n LrsEmu --endpoint-resource-manager https://localhost:9443/"
        ),
        "{text}"
    );
    assert!(
        text.contains("--endpoint-active-directory https://localhost:9443 "),
        "{text}"
    );
    assert!(text.contains("az login --service-principal"), "{text}");
    let http = Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args(["az-setup", "--endpoint", "http://localhost:8080"])
        .output()
        .expect("lrs az-setup");
    assert!(!http.status.success(), "az needs https");
}
