//! Handler tests through the whole middleware stack (`tower::ServiceExt::oneshot`) against the
//! in-memory fake engine.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use lrs_store::{ErrorRecord, OperationStatus};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::app::{AppState, Settings, router};
use crate::auth::TokenIssuer;
use crate::config::{AuthMode, DEFAULT_SUBSCRIPTION_ID, ServeConfig};
use crate::fake::FakeBackend;

const SUB: &str = "11111111-2222-3333-4444-555555555555";
const HOST: &str = "localhost:8443";

struct Harness {
    fake: Arc<FakeBackend>,
    app: Router,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Path and query of an absolute URL header on this server.
    fn local_url(&self, name: &str) -> String {
        let url = self.header(name).unwrap_or_default();
        let prefix = format!("http://{HOST}");
        assert!(url.starts_with(&prefix), "{name}: {url}");
        url[prefix.len()..].to_string()
    }
}

fn settings() -> Settings {
    let mut config = ServeConfig::new("/unused");
    config.retry_after_secs = 7;
    config.body_limit = 4096;
    Settings::from_config(&config)
}

fn harness_with(fake: FakeBackend, settings: Settings) -> Harness {
    let fake = Arc::new(fake);
    let tokens = TokenIssuer::ephemeral().expect("key");
    let state = AppState::new(Arc::clone(&fake) as _, settings, tokens);
    Harness {
        fake,
        app: router(state),
    }
}

fn harness() -> Harness {
    harness_with(FakeBackend::default(), settings())
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, HOST);
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("request")).await
    }
}

fn mi_path(rg: &str, mi: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Sql/managedInstances/{mi}"
    )
}

fn db_path(db: &str) -> String {
    format!("{}/databases/{db}", mi_path("rg1", "mi1"))
}

const API: &str = "api-version=2024-11-01-preview";

fn az_start_body() -> Value {
    json!({"location":"westeurope","properties":{"createMode":"RestoreExternalBackup",
        "storageContainerUri":"https://acct.blob.core.windows.net/c/db1",
        "storageContainerSasToken":"sv=2019-02-02&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=abc%3D",
        "autoCompleteRestore":false}})
}

fn is_guid(s: Option<&str>) -> bool {
    s.is_some_and(|s| Uuid::parse_str(s).is_ok())
}

/// The value of the `lrs_http_requests_total` sample with these labels in a scrape, if any.
fn http_requests(scrape: &prometheus_parse::Scrape, route: &str, status: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "lrs_http_requests_total"
                && s.labels.get("route") == Some(route)
                && s.labels.get("status") == Some(status)
        })
        .and_then(|s| match s.value {
            prometheus_parse::Value::Counter(v) => Some(v),
            _ => None,
        })
}

#[tokio::test]
async fn metrics_count_requests_by_route_name_and_status() {
    let h = harness();
    for _ in 0..3 {
        assert_eq!(
            h.call(Method::GET, "/healthz", None).await.status,
            StatusCode::OK
        );
    }
    // Unknown paths are one series, whatever the path: no path ever becomes a label.
    for path in ["/nope/1", "/nope/2"] {
        assert_eq!(
            h.call(Method::GET, path, None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        h.call(Method::DELETE, "/healthz", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let r = h.call(Method::GET, "/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.body.as_str().expect("text body").to_string();
    assert!(!text.contains("/nope"), "{text}");
    let lines: Vec<_> = text.lines().map(|l| Ok(l.to_string())).collect();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).expect("parse");
    assert_eq!(http_requests(&scrape, "Health", "200"), Some(3.0));
    assert_eq!(http_requests(&scrape, "Unmatched", "404"), Some(2.0));
    assert_eq!(http_requests(&scrape, "Unmatched", "405"), Some(1.0));
    // The scrape itself is counted once its answer is out, so not in its own answer.
    assert_eq!(http_requests(&scrape, "Metrics", "200"), None);
    // The backend's metrics come first.
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "lrs_fake_backend")
    );
    // Three Health requests in the latency histogram: its +Inf bucket counts them all.
    let latency = scrape.samples.iter().find(|s| {
        s.metric == "lrs_http_request_duration_seconds" && s.labels.get("route") == Some("Health")
    });
    assert!(
        matches!(latency.map(|s| &s.value), Some(prometheus_parse::Value::Histogram(b))
            if b.last().is_some_and(|b| b.less_than.is_infinite() && b.count == 3.0)),
        "{latency:?}"
    );
    let r = h.call(Method::GET, "/metrics", None).await;
    let lines: Vec<_> = r
        .body
        .as_str()
        .expect("text body")
        .lines()
        .map(|l| Ok(l.to_string()))
        .collect();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).expect("parse");
    assert_eq!(http_requests(&scrape, "Metrics", "200"), Some(1.0));
}

#[tokio::test]
async fn health_and_request_ids() {
    let h = harness();
    let r = h.call(Method::GET, "/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status":"ok"}));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(is_guid(r.header("x-ms-request-id")));
    assert!(is_guid(r.header("x-ms-correlation-request-id")));
    assert_ne!(
        r.header("x-ms-request-id"),
        r.header("x-ms-correlation-request-id")
    );

    let request = Request::builder()
        .uri("/subscriptions?api-version=2022-12-01")
        .header("x-ms-client-request-id", "client-id-1")
        .header("x-ms-correlation-request-id", "corr-1")
        .body(Body::empty())
        .expect("request");
    let r = h.send(request).await;
    assert_eq!(r.header("x-ms-request-id"), Some("client-id-1"));
    assert_eq!(r.header("x-ms-client-request-id"), Some("client-id-1"));
    assert_eq!(r.header("x-ms-correlation-request-id"), Some("corr-1"));
}

#[tokio::test]
async fn errors_are_envelopes_with_request_ids() {
    let h = harness();
    let r = h.call(Method::GET, "/subscriptions", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"error":{"code":"MissingApiVersionParameter","message":"The api-version query parameter (?api-version=) is required for all requests."}})
    );
    assert!(is_guid(r.header("x-ms-request-id")));

    let r = h.call(Method::GET, "/no/such/route", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "NotFound");
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(is_guid(r.header("x-ms-correlation-request-id")));
}

#[tokio::test]
async fn instance_get_put_list() {
    let h = harness();
    let r = h
        .call(
            Method::GET,
            &format!("{}?{API}", mi_path("Rg1", "Mi1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["location"], "westeurope");
    assert_eq!(r.body["name"], "Mi1");
    assert_eq!(r.body["id"], mi_path("Rg1", "Mi1"));
    assert_eq!(r.body["properties"]["state"], "Ready");

    let put = json!({"location":"northeurope","sku":{"name":"GP_Gen5"},
        "properties":{"administratorLogin":"a","administratorLoginPassword":"hunter2","vCores":8}});
    let uri = format!("{}?{API}", mi_path("rg2", "mi2"));
    let r = h.call(Method::PUT, &uri, Some(put.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["location"], "northeurope");
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(r.body["properties"]["state"], "Ready");
    assert_eq!(r.body["properties"]["vCores"], 8);
    assert!(!r.body.to_string().contains("hunter2"));
    let r = h.call(Method::PUT, &uri, Some(put)).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = h
        .call(Method::PUT, &uri, Some(json!({"properties":{}})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "LocationRequired");

    let r = h
        .call(
            Method::GET,
            &format!("/subscriptions/{SUB}/resourceGroups/RG2/providers/Microsoft.Sql/managedInstances?{API}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, vec!["mi2"]);
    let r = h
        .call(
            Method::GET,
            &format!("/subscriptions/{SUB}/providers/Microsoft.Sql/managedInstances?{API}"),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn strict_engine_missing_instance_is_the_gateway_404() {
    let h = harness_with(FakeBackend::strict(), settings());
    let r = h
        .call(
            Method::GET,
            &format!("{}?{API}", mi_path("ps7911", "ps9666")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-ms-failure-cause"), Some("gateway"));
    assert_eq!(
        r.body,
        json!({"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Sql/managedInstances/ps9666' under resource group 'ps7911' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"}})
    );
}

#[tokio::test]
async fn lrs_start_show_complete_flow() {
    let h = harness();
    // START: PUT → 202 with both polling URLs on this server.
    let r = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("db1")),
            Some(az_start_body()),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        r.body["operation"],
        "CreateExternalManagedBackupRestoreV2Request"
    );
    assert!(r.body["startTime"].is_string());
    assert_eq!(r.header("retry-after"), Some("7"));
    let start_async = r.local_url("azure-asyncoperation");
    let start_result = r.local_url("location");
    assert!(start_async.starts_with(&format!(
        "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Sql/locations/westeurope/managedDatabaseRestoreAzureAsyncOperation/"
    )));
    assert!(start_async.ends_with("?api-version=2024-11-01-preview"));
    assert!(start_result.contains("/managedDatabaseRestoreOperationResults/"));
    let start = &h.fake.starts()[0];
    assert_eq!(start.database, "db1");
    assert_eq!(
        start.sas_token.as_deref(),
        Some("sv=2019-02-02&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=abc%3D")
    );
    assert!(!start.auto_complete);

    // Polling: InProgress; the result URL says 202 + Location while running.
    let r = h.call(Method::GET, &start_async, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "InProgress");
    assert_eq!(r.header("retry-after"), Some("7"));
    assert!(is_guid(r.body["name"].as_str()));
    assert!(r.body.get("endTime").is_none());
    let r = h.call(Method::GET, &start_result, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.local_url("location"), start_result);

    // The database is Restoring.
    let r = h
        .call(Method::GET, &format!("{}?{API}", db_path("DB1")), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["properties"]["status"], "Restoring");
    assert_eq!(r.body["name"], "DB1");
    assert_eq!(r.body["id"], db_path("DB1"));
    assert_eq!(r.body["type"], "Microsoft.Sql/managedInstances/databases");

    // SHOW, both shapes.
    let details = format!("{}/restoreDetails/Default", db_path("db1"));
    let r = h.call(Method::GET, &format!("{details}?{API}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["properties"]["type"], "LRSRestore");
    assert_eq!(r.body["properties"]["percentCompleted"], 50);
    assert_eq!(
        r.body["properties"]["unrestorableFiles"],
        json!([{"name":"notes.txt"}])
    );
    assert_eq!(r.body["name"], "Default");
    assert_eq!(r.body["id"], details);
    let r = h
        .call(
            Method::GET,
            &format!("{details}?api-version=2020-11-01-preview"),
            None,
        )
        .await;
    assert!(r.body["properties"].get("type").is_none());
    assert_eq!(
        r.body["properties"]["unrestorableFiles"],
        json!(["notes.txt"])
    );
    assert!(r.body["properties"]["percentCompleted"].is_f64());
    // 2020-02-02-preview answers as the real service did: no percentCompleted.
    let r = h
        .call(
            Method::GET,
            &format!("{details}?api-version=2020-02-02-preview"),
            None,
        )
        .await;
    assert_eq!(
        r.body["properties"]["unrestorableFiles"],
        json!(["notes.txt"])
    );
    assert!(r.body["properties"].get("percentCompleted").is_none());

    // COMPLETE: 202 on the complete family, then Succeeded, then 201 with the database.
    let r = h
        .call(
            Method::POST,
            &format!("{}/completeRestore?{API}", db_path("db1")),
            Some(json!({"lastBackupName":"log2.trn"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        r.body["operation"],
        "ManagedDatabaseCompleteExternalRestore"
    );
    let complete_async = r.local_url("azure-asyncoperation");
    let complete_result = r.local_url("location");
    assert!(complete_async.contains("/managedDatabaseCompleteRestoreAzureAsyncOperation/"));
    assert!(complete_result.contains("/managedDatabaseCompleteRestoreOperationResults/"));
    assert_eq!(h.fake.completes(), vec![Some("log2.trn".to_string())]);

    let complete_id = Uuid::parse_str(
        h.call(Method::GET, &complete_async, None).await.body["name"]
            .as_str()
            .unwrap_or_default(),
    )
    .expect("operation id");
    h.fake.finish(complete_id, OperationStatus::Succeeded, None);
    let r = h.call(Method::GET, &complete_async, None).await;
    assert_eq!(r.body["status"], "Succeeded");
    assert!(r.body.get("endTime").is_none());
    let r = h.call(Method::GET, &complete_result, None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["properties"]["status"], "Online");
    // The start operation ended with the cutover, and its result is the database.
    let r = h.call(Method::GET, &start_async, None).await;
    assert_eq!(r.body["status"], "Succeeded");
    let r = h.call(Method::GET, &start_result, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["properties"]["status"], "Online");
}

#[tokio::test]
async fn failed_operation_reports_its_error() {
    let h = harness();
    let r = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("db1")),
            Some(az_start_body()),
        )
        .await;
    let async_url = r.local_url("azure-asyncoperation");
    let result_url = r.local_url("location");
    let id = Uuid::parse_str(
        h.call(Method::GET, &async_url, None).await.body["name"]
            .as_str()
            .unwrap_or_default(),
    )
    .expect("id");
    h.fake.finish(
        id,
        OperationStatus::Failed,
        Some(ErrorRecord {
            code: "BrokenRestorePlanNoFullBackup".into(),
            message: "The restore plan is broken because there is no full backup.".into(),
        }),
    );
    let r = h.call(Method::GET, &async_url, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "Failed");
    assert_eq!(
        r.body["error"],
        json!({"code":"BrokenRestorePlanNoFullBackup","message":"The restore plan is broken because there is no full backup."})
    );
    let r = h.call(Method::GET, &result_url, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "BrokenRestorePlanNoFullBackup");
}

#[tokio::test]
async fn start_validation_errors() {
    let h = harness();
    let uri = format!("{}?{API}", db_path("db1"));
    // The engine's refusal passes through with its code.
    let r = h
        .call(
            Method::PUT,
            &uri,
            Some(json!({"location":"l","properties":{"createMode":"RestoreExternalBackup"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "MissingStorageContainerUri");
    // Body-shape errors are the front end's.
    let r = h
        .call(
            Method::PUT,
            &uri,
            Some(json!({"location":"l","properties":{"createMode":"RestoreExternalBackup","autoCompleteRestore":"true"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["error"]["code"],
        "InvalidDatabaseCreateOrUpdateRequest"
    );
    // Name in use.
    h.call(Method::PUT, &uri, Some(az_start_body())).await;
    let r = h.call(Method::PUT, &uri, Some(az_start_body())).await;
    assert_eq!(r.body["error"]["code"], "ManagedDatabaseNameInUse");
}

#[tokio::test]
async fn complete_without_last_backup_name_passes_none() {
    let h = harness();
    h.call(
        Method::PUT,
        &format!("{}?{API}", db_path("db1")),
        Some(az_start_body()),
    )
    .await;
    let r = h
        .call(
            Method::POST,
            &format!("{}/completeRestore?{API}", db_path("db1")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["error"],
        json!({"code": "InvalidDatabaseCompleteRestoreRequest", "message": "The complete database restore request is invalid"})
    );
    assert_eq!(h.fake.completes(), vec![None]);
}

#[tokio::test]
async fn complete_refuses_names_no_file_has_and_unknown_databases() {
    let h = harness();
    h.call(
        Method::PUT,
        &format!("{}?{API}", db_path("db1")),
        Some(az_start_body()),
    )
    .await;
    for name in ["log\n1.trn", "lög1.trn"] {
        let r = h
            .call(
                Method::POST,
                &format!("{}/completeRestore?{API}", db_path("db1")),
                Some(json!({ "lastBackupName": name })),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(
            r.body["error"],
            json!({"code": "InvalidDatabaseCompleteRestoreRequestLastBackupName", "message": "The last backup name is invalid"}),
            "{name}"
        );
    }
    assert!(h.fake.completes().is_empty(), "refused before the backend");

    let r = h
        .call(
            Method::POST,
            &format!("{}/completeRestore?{API}", db_path("nosuch")),
            Some(json!({ "lastBackupName": "log1.trn" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"],
        json!({"code": "ResourceDoesNotExist", "message": "Resource with the name 'nosuch' does not exist. To continue, specify a valid resource name."})
    );
    assert_eq!(
        r.header("x-ms-failure-cause"),
        None,
        "the resource provider answers"
    );
}

#[tokio::test]
async fn delete_is_an_lro_then_404_then_204() {
    let h = harness();
    let uri = format!("{}?{API}", db_path("db1"));
    let r = h.call(Method::PUT, &uri, Some(az_start_body())).await;
    let start_async = r.local_url("azure-asyncoperation");
    let r = h.call(Method::DELETE, &uri, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["operation"], "DropManagedDatabase");
    let drop_async = r.local_url("azure-asyncoperation");
    let drop_result = r.local_url("location");
    assert!(drop_async.contains("/managedDatabaseAzureAsyncOperation/"));
    let r = h.call(Method::GET, &drop_async, None).await;
    assert_eq!(r.body["status"], "Succeeded");
    let r = h.call(Method::GET, &drop_result, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The start operation of a stopped migration succeeded, and has no database to show.
    let r = h.call(Method::GET, &start_async, None).await;
    assert_eq!(r.body["status"], "Succeeded");
    // The database is gone: gateway 404, and a second DELETE is a 204.
    let r = h.call(Method::GET, &uri, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-ms-failure-cause"), Some("gateway"));
    assert_eq!(
        r.body["error"]["message"],
        format!(
            "The Resource 'Microsoft.Sql/managedInstances/mi1/databases/db1' under resource group 'rg1' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        )
    );
    let r = h.call(Method::DELETE, &uri, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn plain_database_create_list_and_no_restore_details() {
    let h = harness();
    let r = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("plain")),
            Some(json!({"location":"westeurope","properties":{"collation":"Latin1_General_100_CI_AS"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["operation"], "CreateManagedDatabase");
    let result = r.local_url("location");
    assert!(result.contains("/managedDatabaseOperationResults/"));
    let r = h.call(Method::GET, &result, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["properties"]["collation"],
        "Latin1_General_100_CI_AS"
    );

    let r = h
        .call(
            Method::GET,
            &format!(
                "{}/restoreDetails/Default?api-version=2022-02-01-preview",
                db_path("plain")
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"error":{"code":"RestoreDetailsNotAvailableOrExpired","message":"Requested restore details are not available, or have expired."}})
    );

    let r = h
        .call(
            Method::GET,
            &format!("{}/databases?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["value"][0]["name"], "plain");
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn operation_urls_check_family_and_existence() {
    let h = harness();
    let r = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("db1")),
            Some(az_start_body()),
        )
        .await;
    let start_async = r.local_url("azure-asyncoperation");
    // The same id under the drop family does not name the start operation.
    let wrong = start_async.replace(
        "managedDatabaseRestoreAzureAsyncOperation",
        "managedDatabaseAzureAsyncOperation",
    );
    let r = h.call(Method::GET, &wrong, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The form without the resource group works too (2020 recordings), in any case.
    let without_rg = start_async.replace("/resourceGroups/rg1", "").replace(
        "managedDatabaseRestoreAzureAsyncOperation",
        "MANAGEDDATABASERESTOREAZUREASYNCOPERATION",
    );
    let r = h.call(Method::GET, &without_rg, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "InProgress");
    // Unknown id.
    let unknown = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Sql/locations/westeurope/managedDatabaseAzureAsyncOperation/{}?{API}",
        Uuid::new_v4()
    );
    let r = h.call(Method::GET, &unknown, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn subscriptions_tenants_and_metadata() {
    let h = harness();
    let r = h
        .call(Method::GET, "/subscriptions?api-version=2022-12-01", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        r.body["value"][0]["subscriptionId"],
        DEFAULT_SUBSCRIPTION_ID
    );
    assert_eq!(r.body["value"][0]["state"], "Enabled");
    assert_eq!(r.body["value"][0]["tenantId"], crate::DEFAULT_TENANT_ID);

    // A subscription used in an ARM call is listed from then on.
    h.call(
        Method::GET,
        &format!("{}?{API}", mi_path("rg1", "mi1")),
        None,
    )
    .await;
    let r = h
        .call(Method::GET, "/subscriptions?api-version=2022-12-01", None)
        .await;
    let ids: Vec<&str> = r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|s| s["subscriptionId"].as_str())
        .collect();
    assert_eq!(ids, vec![DEFAULT_SUBSCRIPTION_ID, SUB]);

    let r = h
        .call(
            Method::GET,
            &format!("/subscriptions/{SUB}?api-version=2022-12-01"),
            None,
        )
        .await;
    assert_eq!(r.body["id"], format!("/subscriptions/{SUB}"));

    let r = h
        .call(Method::GET, "/tenants?api-version=2022-12-01", None)
        .await;
    assert_eq!(r.body["value"][0]["tenantId"], crate::DEFAULT_TENANT_ID);

    // What az cloud register reads (`_arm_to_cli_mapper`), pointing at this server.
    let r = h
        .call(
            Method::GET,
            "//metadata/endpoints?api-version=2022-09-01",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "LrsEmulator");
    assert_eq!(r.body["resourceManager"], format!("http://{HOST}/"));
    assert_eq!(
        r.body["authentication"]["loginEndpoint"],
        format!("http://{HOST}/")
    );
    assert_eq!(
        r.body["authentication"]["audiences"][0],
        "https://management.core.windows.net/"
    );
    assert!(r.body["suffixes"]["storage"].is_string());
    assert!(r.body["suffixes"]["sqlServerHostname"].is_string());
}

async fn client_credentials_token(h: &Harness, tenant: &str) -> Reply {
    let form = "client_id=22222222-2222-2222-2222-222222222222&grant_type=client_credentials&client_info=1&client_secret=anything&scope=https%3A%2F%2Fmanagement.core.windows.net%2F%2F.default";
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/{tenant}/oauth2/v2.0/token"))
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    h.send(request).await
}

#[tokio::test]
async fn aad_service_principal_login() {
    let h = harness();
    let tenant = "72f988bf-0000-0000-0000-000000000001";
    let r = h
        .call(
            Method::GET,
            &format!("/{tenant}/v2.0/.well-known/openid-configuration"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["token_endpoint"],
        format!("http://{HOST}/{tenant}/oauth2/v2.0/token")
    );
    assert_eq!(r.body["issuer"], format!("http://{HOST}/{tenant}/v2.0"));
    assert!(r.body["authorization_endpoint"].is_string());

    let r = client_credentials_token(&h, tenant).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3599);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let token = r.body["access_token"].as_str().unwrap_or_default();
    let payload = token.split('.').nth(1).unwrap_or_default();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["tid"], tenant);
    assert_eq!(claims["aud"], "https://management.core.windows.net/");
    assert_eq!(claims["appid"], "22222222-2222-2222-2222-222222222222");

    let r = h
        .call(
            Method::GET,
            "/common/discovery/instance?api-version=1.1&authorization_endpoint=https://localhost:8443/t9/oauth2/v2.0/authorize",
            None,
        )
        .await;
    assert_eq!(
        r.body["tenant_discovery_endpoint"],
        format!("http://{HOST}/t9/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(r.body["metadata"][0]["aliases"][0], HOST);

    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/{tenant}/oauth2/v2.0/token"))
        .body(Body::from(
            "grant_type=password&client_id=x&username=u&password=p",
        ))
        .expect("request");
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn managed_identity_endpoint() {
    let mut s = settings();
    s.identity_header = Some("secret-header".into());
    let h = harness_with(FakeBackend::default(), s);
    let uri = "/msi/token?api-version=2019-08-01&resource=https://management.core.windows.net/";
    let r = h.call(Method::GET, uri, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "MissingIdentityHeader");

    let with_header = |value: &'static str| {
        Request::builder()
            .uri(uri)
            .header("X-IDENTITY-HEADER", value)
            .body(Body::empty())
            .expect("request")
    };
    let r = h.send(with_header("wrong")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = h.send(with_header("secret-header")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["resource"], "https://management.core.windows.net/");
    assert_eq!(r.body["token_type"], "Bearer");
    let expires: i64 = r.body["expires_on"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("expires_on is an epoch string");
    assert!(expires > chrono::Utc::now().timestamp());
    assert!(
        r.body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
}

#[tokio::test]
async fn strict_auth_requires_our_tokens_on_arm_calls_only() {
    let mut s = settings();
    s.auth = AuthMode::Strict;
    let h = harness_with(FakeBackend::default(), s);
    let arm = "/subscriptions?api-version=2022-12-01".to_string();

    let r = h.call(Method::GET, &arm, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "AuthenticationFailed");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer authorization_uri=\"http://localhost:8443/"))
    );

    let with_token = |token: &str| {
        Request::builder()
            .uri(&arm)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    let r = h.send(with_token("fake-token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "InvalidAuthenticationToken");

    // Plumbing needs no token; its token is then accepted.
    let r = client_credentials_token(&h, "common").await;
    assert_eq!(r.status, StatusCode::OK);
    let token = r.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = h.send(with_token(&token)).await;
    assert_eq!(r.status, StatusCode::OK);
    for path in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/metadata/endpoints",
        "/common/v2.0/.well-known/openid-configuration",
    ] {
        assert_eq!(
            h.call(Method::GET, path, None).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // Admin calls are guarded too.
    let r = h.call(Method::POST, "/admin/system-patch", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_dashboard_is_served_without_a_token_even_in_strict_mode() {
    let mut s = settings();
    s.auth = AuthMode::Strict;
    let h = harness_with(FakeBackend::default(), s);
    for (path, kind, marker) in [
        ("/", "text/html", "/ui/dashboard.js"),
        ("/ui/dashboard.css", "text/css", "font-size"),
        ("/ui/dashboard.js", "text/javascript", "completeRestore"),
    ] {
        let r = h.call(Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|v| v.starts_with(kind)),
            "{path}"
        );
        assert!(
            r.body.as_str().is_some_and(|b| b.contains(marker)),
            "{path}"
        );
        assert!(is_guid(r.header("x-ms-request-id")), "{path}");
    }
    // What the page calls still needs a token.
    let r = h
        .call(Method::GET, "/subscriptions?api-version=2022-12-01", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn body_limit_gives_the_arm_413() {
    let h = harness();
    let big = json!({"location":"l","properties":{"collation": "x".repeat(5000)}});
    let r = h
        .call(Method::PUT, &format!("{}?{API}", db_path("db1")), Some(big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "RequestEntityTooLarge");
    assert!(is_guid(r.header("x-ms-request-id")));

    // A streamed body without Content-Length is cut off the same way.
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("{}?{API}", db_path("db1")))
        .body(Body::new(Chunks(10)))
        .expect("request");
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "RequestEntityTooLarge");
}

/// A body of `n` 1000-byte frames with no declared length.
struct Chunks(usize);

impl hyper::body::Body for Chunks {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.0 -= 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(axum::body::Bytes::from(
            vec![b' '; 1000],
        )))))
    }
}

#[tokio::test]
async fn panics_and_internal_errors_are_500_envelopes() {
    let h = harness();
    let r = h
        .call(Method::GET, &format!("{}?{API}", db_path("panic")), None)
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body["error"]["code"], "InternalServerError");
    assert!(is_guid(r.header("x-ms-request-id")));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    // The server keeps serving.
    assert_eq!(
        h.call(Method::GET, "/healthz", None).await.status,
        StatusCode::OK
    );

    let r = h
        .call(Method::GET, &format!("{}?{API}", db_path("broken")), None)
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.body.to_string().contains("secret"));
}

#[tokio::test]
async fn admin_calls() {
    let h = harness();
    let r = h.call(Method::POST, "/admin/system-patch", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"affectedJobs":3}));
    let failover = format!("/admin/failover?subscription={SUB}&resourceGroup=rg1&instance=mi1");
    let r = h.call(Method::POST, &failover, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no such instance yet");
    h.call(
        Method::GET,
        &format!("{}?{API}", mi_path("rg1", "mi1")),
        None,
    )
    .await;
    let r = h.call(Method::POST, &failover, None).await;
    assert_eq!(r.body, json!({"affectedJobs":1}));
}

#[tokio::test]
async fn admin_faults_inject_list_and_clear() {
    let h = harness();
    let r = h
        .call(
            Method::POST,
            "/admin/faults",
            Some(json!({"code": "NoSuchCode"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "InvalidFaultRequest");
    assert_eq!(
        r.body["error"]["message"],
        "The fault request is invalid. 'NoSuchCode' is not a code of the catalogue (docs/errors.md)."
    );
    let r = h
        .call(
            Method::POST,
            "/admin/faults",
            Some(json!({"code": "ManagedInstanceStorageLimitHit", "database": "db1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["error"]["message"],
        "The fault request is invalid. A fault aimed at a database needs 'subscription'."
    );
    let r = h
        .call(
            Method::POST,
            "/admin/faults",
            Some(json!({"code": "ManagedInstanceStorageLimitHit", "effect": "fail", "once": false,
                        "subscription": SUB, "resourceGroup": "rg1", "instance": "mi1", "database": "db1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    assert!(is_guid(Some(&id)));
    assert_eq!(r.body["code"], "ManagedInstanceStorageLimitHit");
    assert_eq!(r.body["effect"], json!({"kind": "fail"}));
    assert_eq!(
        r.body["target"],
        json!({"database": {"instance": {"subscription": SUB, "resource_group": "rg1", "instance": "mi1"}, "name": "db1"}})
    );
    assert_eq!(
        r.body["message"],
        "The managed instance has reached its storage limit."
    );
    let r = h
        .call(
            Method::POST,
            "/admin/faults",
            Some(json!({"effect": "slow", "delayMs": 500})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["effect"], json!({"kind": "slow", "delayMs": 500}));
    assert_eq!(r.body["target"], "next");

    let r = h.call(Method::GET, "/admin/faults", None).await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(2));
    let r = h
        .call(Method::DELETE, &format!("/admin/faults/{id}"), None)
        .await;
    assert_eq!(r.body, json!({"cleared": 1}));
    let r = h.call(Method::DELETE, "/admin/faults", None).await;
    assert_eq!(r.body, json!({"cleared": 1}));
    let r = h.call(Method::GET, "/admin/faults", None).await;
    assert_eq!(r.body, json!({"value": []}));
    let r = h.call(Method::PUT, "/admin/faults", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn openapi_is_served() {
    let h = harness();
    let r = h.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.0.3");
    assert!(r.body["paths"]["/healthz"]["get"].is_object());
}

/// A `Write` into a shared buffer, for capturing log output.
#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_show_sas_signatures_tokens_or_bodies() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Capture(Arc::clone(&buffer));
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Tests running in parallel without a subscriber may register the logging callsites first
    // and cache "not interested" for them. Hit every callsite once here, then recompute the
    // cache with this test's subscriber in place, and only then capture.
    let warm_up = harness();
    warm_up
        .call(Method::GET, &format!("{}?{API}", db_path("broken")), None)
        .await;
    tracing::callsite::rebuild_interest_cache();
    if let Ok(mut captured) = buffer.lock() {
        captured.clear();
    }

    let h = harness();
    let mut body = az_start_body();
    body["properties"]["storageContainerSasToken"] = "sv=2019&sp=rl&sig=BODYSECRETSIG".into();
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("{}?{API}&sig=QUERYSECRETSIG", db_path("db1")))
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, "Bearer BEARERSECRETTOKEN")
        .body(Body::from(body.to_string()))
        .expect("request");
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // An internal failure is logged with details, still without secrets.
    h.call(Method::GET, &format!("{}?{API}", db_path("broken")), None)
        .await;

    let logs = String::from_utf8(buffer.lock().map(|b| b.clone()).unwrap_or_default())
        .expect("utf-8 logs");
    assert!(logs.contains("PUT"), "{logs}");
    assert!(logs.contains(&db_path("db1")), "{logs}");
    assert!(logs.contains("sig=REDACTED"), "{logs}");
    assert!(
        logs.contains("operation=\"PutDatabase\"") || logs.contains("operation=PutDatabase"),
        "{logs}"
    );
    assert!(logs.contains("status=202"), "{logs}");
    for secret in [
        "QUERYSECRETSIG",
        "BODYSECRETSIG",
        "BEARERSECRETTOKEN",
        "sv=2019&sp=rl",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into logs:\n{logs}");
    }
}

#[tokio::test]
async fn bad_names_control_characters_and_api_versions_are_400s_that_start_nothing() {
    let h = harness();
    let cases: [(String, &str, Value); 9] = [
        (
            format!("{}?{API}", db_path("a%00b")),
            "InvalidResourceName",
            az_start_body(),
        ),
        (
            format!("{}?{API}", db_path("a%2Fb")),
            "InvalidResourceName",
            az_start_body(),
        ),
        (
            format!("{}?{API}", db_path(&"x".repeat(129))),
            "InvalidResourceName",
            az_start_body(),
        ),
        (
            format!("{}?{API}", db_path("Sales%20")),
            "CannotUseTrailingWhitespacesInDatabaseName",
            az_start_body(),
        ),
        (
            format!("{}?{API}", db_path("MSDB")),
            "CannotUseReservedDatabaseName",
            az_start_body(),
        ),
        (
            format!("{}?api-version=1999-01-01", db_path("db1")),
            "NoRegisteredProviderFound",
            az_start_body(),
        ),
        (
            format!("{}?api-version=latest", db_path("db1")),
            "InvalidApiVersionParameter",
            az_start_body(),
        ),
        (
            format!("{}?{API}", db_path("db1")),
            "LastBackupNameHasNewline",
            json!({"location":"westeurope","properties":{"createMode":"RestoreExternalBackup",
                "storageContainerUri":"https://acct.blob.core.windows.net/c/db1",
                "storageContainerSasToken":"sv=2019-02-02&sp=rl&se=2030-01-01T00:00:00Z&sig=abc%3D",
                "autoCompleteRestore":true,"lastBackupName":"log1.trn\n"}}),
        ),
        (
            format!("{}?{API}", db_path("db1")),
            "InvalidDatabaseCreateOrUpdateRequest",
            json!({"location":"westeurope","properties":{"createMode":"RestoreExternalBackup",
                "storageContainerUri":"https://acct.blob.core.windows.net/c/db1\u{0}",
                "storageContainerSasToken":"sv=2019-02-02&sp=rl&se=2030-01-01T00:00:00Z&sig=abc%3D"}}),
        ),
    ];
    for (path, code, body) in cases {
        let r = h.call(Method::PUT, &path, Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{path}");
    }
    // Nothing was started: the database list is empty.
    let r = h
        .call(
            Method::GET,
            &format!("{}/databases?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.body["value"], json!([]), "{:?}", r.body);
    // A 405 names the methods the route serves.
    let r = h
        .call(Method::PATCH, &format!("{}?{API}", db_path("db1")), None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET, PUT, DELETE"));
}

/// The operation id of the 202 that `reply` is, read from its status URL.
async fn operation_id(h: &Harness, reply: &Reply) -> Uuid {
    let async_url = reply.local_url("azure-asyncoperation");
    let status = h.call(Method::GET, &async_url, None).await;
    Uuid::parse_str(status.body["name"].as_str().unwrap_or_default()).expect("operation id")
}

#[tokio::test]
async fn instance_operations_list_and_show_the_migration_steps() {
    let h = harness();
    let ops_url = format!("{}/operations?{API}", mi_path("rg1", "mi1"));
    // A new instance has no operations.
    let r = h.call(Method::GET, &ops_url, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"value": []}));

    let start = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("db1")),
            Some(az_start_body()),
        )
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    let start_id = operation_id(&h, &start).await;
    let failed = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("db2")),
            Some(az_start_body()),
        )
        .await;
    let failed_id = operation_id(&h, &failed).await;
    h.fake.finish(
        failed_id,
        OperationStatus::Failed,
        Some(ErrorRecord {
            code: "FullBackupMissingChecksum".into(),
            message: "Provided full backup is missing checksum. File: 'full.bak'.".into(),
        }),
    );

    // In the caller's spelling of the instance (MI1), newest first.
    let r = h
        .call(
            Method::GET,
            &format!("{}/operations?{API}", mi_path("RG1", "MI1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let value = r.body["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(value.len(), 2);
    let failed_body = &value[0];
    assert_eq!(failed_body["name"], failed_id.to_string());
    assert_eq!(
        failed_body["id"],
        format!("{}/operations/{failed_id}", mi_path("RG1", "MI1"))
    );
    assert_eq!(
        failed_body["type"],
        "Microsoft.Sql/managedInstances/operations"
    );
    assert_eq!(
        failed_body["properties"],
        json!({
            "managedInstanceName": "MI1",
            "operation": "CreateExternalManagedBackupRestoreV2Request",
            "operationFriendlyName": "START LOG REPLAY MIGRATION",
            "percentComplete": 100,
            "startTime": failed_body["properties"]["startTime"],
            "state": "Failed",
            "errorCode": 50000,
            "errorDescription": "FullBackupMissingChecksum: Provided full backup is missing checksum. File: 'full.bak'.",
            "errorSeverity": 16,
            "isUserError": true,
            "description": "Log replay migration of database 'db2' (createMode RestoreExternalBackup).",
            "isCancellable": false
        })
    );
    assert!(
        failed_body["properties"]["startTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(value[1]["name"], start_id.to_string());
    assert_eq!(value[1]["properties"]["state"], "InProgress");
    assert_eq!(value[1]["properties"]["percentComplete"], 0);
    assert!(value[1]["properties"].get("errorCode").is_none());

    // Cutover and stop appear too; show gives one by id.
    let complete = h
        .call(
            Method::POST,
            &format!("{}/completeRestore?{API}", db_path("db1")),
            Some(json!({"lastBackupName": "log2.trn"})),
        )
        .await;
    assert_eq!(complete.status, StatusCode::ACCEPTED);
    let complete_id = operation_id(&h, &complete).await;
    h.fake.finish(complete_id, OperationStatus::Succeeded, None);
    let drop = h
        .call(Method::DELETE, &format!("{}?{API}", db_path("db2")), None)
        .await;
    assert_eq!(drop.status, StatusCode::ACCEPTED);
    let r = h.call(Method::GET, &ops_url, None).await;
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|o| o["properties"]["operation"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        names,
        [
            "DropManagedDatabase",
            "ManagedDatabaseCompleteExternalRestore",
            "CreateExternalManagedBackupRestoreV2Request",
            "CreateExternalManagedBackupRestoreV2Request"
        ]
    );

    let r = h
        .call(
            Method::GET,
            &format!("{}/operations/{complete_id}?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], complete_id.to_string());
    assert_eq!(r.body["properties"]["state"], "Succeeded");
    assert_eq!(r.body["properties"]["percentComplete"], 100);
    assert_eq!(
        r.body["properties"]["operationFriendlyName"],
        "COMPLETE LOG REPLAY MIGRATION"
    );
    // The cutover also ended the start.
    let r = h
        .call(
            Method::GET,
            &format!("{}/operations/{start_id}?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.body["properties"]["state"], "Succeeded");
}

#[tokio::test]
async fn instance_operation_of_another_instance_or_unknown_is_a_404() {
    let h = harness();
    let start = h
        .call(
            Method::PUT,
            &format!("{}?{API}", db_path("db1")),
            Some(az_start_body()),
        )
        .await;
    let id = operation_id(&h, &start).await;
    let other = format!("{}/operations/{id}?{API}", mi_path("rg1", "mi2"));
    let r = h.call(Method::GET, &other, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-ms-failure-cause"), None);
    assert_eq!(
        r.body["error"],
        json!({"code":"ResourceNotFound","message":format!("The requested resource of type 'Microsoft.Sql/managedInstances/operations' with name '{id}' was not found on managed instance 'mi2' under resource group 'rg1'.")})
    );
    let r = h
        .call(
            Method::GET,
            &format!("{}/operations?{API}", mi_path("rg1", "mi2")),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"value": []}));

    let unknown = Uuid::new_v4();
    let r = h
        .call(
            Method::GET,
            &format!("{}/operations/{unknown}?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&unknown.to_string()) && m.contains("'mi1'"))
    );
    let r = h
        .call(
            Method::GET,
            &format!("{}/operations/not-a-guid?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "ResourceNotFound");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'not-a-guid'"))
    );
    let r = h
        .call(
            Method::DELETE,
            &format!("{}/operations/{id}?{API}", mi_path("rg1", "mi1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn instance_operations_of_a_missing_instance_are_the_gateway_404() {
    let h = harness_with(FakeBackend::strict(), settings());
    for path in [
        format!("{}/operations?{API}", mi_path("ps7911", "ps9666")),
        format!(
            "{}/operations/{}?{API}",
            mi_path("ps7911", "ps9666"),
            Uuid::new_v4()
        ),
    ] {
        let r = h.call(Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.header("x-ms-failure-cause"), Some("gateway"));
        assert_eq!(
            r.body,
            json!({"error":{"code":"ResourceNotFound","message":"The Resource 'Microsoft.Sql/managedInstances/ps9666' under resource group 'ps7911' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"}})
        );
    }
}
