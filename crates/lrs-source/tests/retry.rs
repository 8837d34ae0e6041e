//! Error classification and retries of an Azure source against a scripted loopback HTTP
//! server: 5xx and dropped connections are retried with backoff and end as Transient, 403 is
//! AccessDenied at once, 404 NotFound.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lrs_source::{RetrySettings, SourceAuth, SourceError, SourceSettings, SourceSpec, open_source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const EMPTY_LIST: &str = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/devstoreaccount1" ContainerName="c01"><Prefix>db1/</Prefix><Delimiter>/</Delimiter><Blobs /><NextMarker /></EnumerationResults>"#;

/// Answers each request with the next scripted response (the last one repeats) and records
/// the request lines.
struct Scripted {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

/// A scripted answer: an HTTP status and body, or a connection closed without an answer.
#[derive(Clone)]
enum Answer {
    Status(u16, &'static str),
    Hangup,
}

async fn serve(script: Vec<Answer>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            seen.lock().expect("lock").push(line);
            let answer = {
                let mut script = script.lock().expect("lock");
                if script.len() > 1 {
                    script.pop_front()
                } else {
                    script.front().cloned()
                }
            };
            match answer {
                Some(Answer::Status(status, body)) => {
                    let response = format!(
                        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                }
                Some(Answer::Hangup) | None => {}
            }
            let _ = socket.shutdown().await;
        }
    });
    Scripted { address, requests }
}

fn settings(max_attempts: u32) -> SourceSettings {
    SourceSettings {
        retry: RetrySettings {
            max_attempts,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            multiplier: 2,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
        },
        ..SourceSettings::default()
    }
}

fn spec(address: SocketAddr) -> SourceSpec {
    SourceSpec {
        uri: format!("http://{address}/devstoreaccount1/c01/db1"),
        auth: SourceAuth::Sas("sp=rl&se=2099-01-01&sr=c&sig=SCRIPTEDSECRET".into()),
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_transient() {
    let server = serve(vec![Answer::Status(
        503,
        "<Error><Code>ServerBusy</Code><Message>busy</Message></Error>",
    )])
    .await;
    let source = open_source(&spec(server.address), &settings(3)).expect("open");
    let err = source.list().await.expect_err("always 503");
    let SourceError::Transient { message, .. } = &err else {
        panic!("expected Transient, got {err:?}");
    };
    assert!(message.contains("503"), "{message}");
    assert!(message.ends_with("(gave up after 3 attempts)"), "{message}");
    assert!(!err.to_string().contains("SCRIPTEDSECRET"), "{err}");
    let requests = server.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /devstoreaccount1/c01?"),
        "{requests:?}"
    );
    assert!(requests[0].contains("prefix=db1%2F"), "{requests:?}");
}

#[tokio::test]
async fn recovery_after_transient_failures() {
    let server = serve(vec![
        Answer::Status(500, ""),
        Answer::Hangup,
        Answer::Status(200, EMPTY_LIST),
    ])
    .await;
    let source = open_source(&spec(server.address), &settings(4)).expect("open");
    assert_eq!(source.list().await, Ok(vec![]));
    assert_eq!(server.requests.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn forbidden_is_access_denied_without_retry() {
    let server = serve(vec![Answer::Status(
        403,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Signed expiry time [Mon, 01 Jun 2026] must be after signed start time\nRequestId:abc\nTime:2026</Message></Error>",
    )])
    .await;
    let source = open_source(&spec(server.address), &settings(5)).expect("open");
    let err = source.list().await.expect_err("403");
    assert_eq!(
        err,
        SourceError::AccessDenied {
            location: format!("http://{}/devstoreaccount1/c01/db1", server.address),
            // The storage's own message is not reflected, only its error code.
            message: "Unable to read blobs in storage container, exception: The remote server returned an error: (403) Forbidden. Storage error code: AuthenticationFailed.".into()
        }
    );
    assert_eq!(server.requests.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let server = serve(vec![Answer::Status(
        404,
        "<Error><Code>ContainerNotFound</Code><Message>The specified container does not exist.</Message></Error>",
    )])
    .await;
    let source = open_source(&spec(server.address), &settings(5)).expect("open");
    let err = source.list().await.expect_err("404");
    assert!(
        matches!(&err, SourceError::NotFound { message, .. } if message == "Storage error code: ContainerNotFound."),
        "{err:?}"
    );
    assert_eq!(server.requests.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn refused_connections_are_transient() {
    // Bind then drop: nothing listens on the port any more.
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let source = open_source(&spec(address), &settings(2)).expect("open");
    let err = source.list().await.expect_err("refused");
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains("(gave up after 2 attempts)"),
        "{err}"
    );
}
