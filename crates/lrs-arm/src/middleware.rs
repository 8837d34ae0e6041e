//! What every request goes through: ARM request ids, the access log, and the panic catcher.
//!
//! The access log never records bodies (SAS tokens arrive in JSON bodies) or headers (bearer
//! tokens), and redacts secret-looking query parameters (`sig=`, `client_secret=`…).

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::ApiError;
use crate::route::Route;

/// ARM's request id header (one per request, on every response).
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
/// ARM's correlation id header.
pub(crate) const CORRELATION_ID: HeaderName =
    HeaderName::from_static("x-ms-correlation-request-id");
/// The id a client stamps on its request.
pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");

/// Query parameters whose values are secrets.
const SECRET_PARAMS: [&str; 7] = [
    "sig",
    "client_secret",
    "client_assertion",
    "access_token",
    "refresh_token",
    "password",
    "code",
];

/// A header value that is a usable id (printable ASCII, at most 200 characters), else None.
fn usable_id(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    headers
        .get(name)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 200 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
}

fn new_id() -> HeaderValue {
    // A hyphenated UUID is always a valid header value.
    HeaderValue::from_str(&Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("0"))
}

/// Stamp `x-ms-request-id` / `x-ms-correlation-request-id` on the response (echoing the
/// client's ids when it sent them), write one access-log line per request, and count it in
/// the HTTP metrics (by route name, never by path).
pub(crate) async fn request_ids_and_log(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let headers = request.headers();
    let client_request_id = usable_id(headers, &CLIENT_REQUEST_ID);
    let request_id = client_request_id.clone().unwrap_or_else(new_id);
    let correlation_id = usable_id(headers, &CORRELATION_ID).unwrap_or_else(new_id);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(redact_query);

    let mut response = next.run(request).await;

    let route = response.extensions().get::<Route>().copied();
    let error_code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|c| c.0.clone());
    let out = response.headers_mut();
    out.insert(REQUEST_ID, request_id.clone());
    out.insert(CORRELATION_ID, correlation_id);
    if let Some(id) = client_request_id {
        out.insert(CLIENT_REQUEST_ID, id);
    }
    let elapsed = started.elapsed();
    state
        .http_metrics()
        .observe(route, response.status(), elapsed);
    let status = response.status().as_u16();
    let latency_ms = round_to_tenth_ms(elapsed);
    tracing::info!(
        target: "lrs_arm::access",
        %method,
        path,
        query = query.as_deref().unwrap_or(""),
        status,
        latency_ms,
        request_id = request_id.to_str().unwrap_or(""),
        operation = route.map_or("-", Route::name),
        error = error_code.as_deref().unwrap_or(""),
        "request"
    );
    response
}

/// The ARM error code of a response, left in its extensions for the access log.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCode(pub(crate) String);

/// A query string with the values of secret parameters — and of any parameter whose decoded
/// value itself carries a `sig=` — replaced by `REDACTED`.
pub(crate) fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
            let decoded_value = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            let secret = SECRET_PARAMS
                .iter()
                .any(|s| decoded_key.eq_ignore_ascii_case(s))
                || decoded_value.contains("sig=");
            if secret {
                format!("{key}=REDACTED")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The 500 answered when a handler panics: the ARM envelope with a tracking id, and a log line
/// with the same id (the panic payload is not logged: it could hold request data).
pub(crate) fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let tracking_id = Uuid::new_v4();
    tracing::error!(%tracking_id, "request handler panicked");
    ApiError::internal(tracking_id).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_queries_are_redacted() {
        assert_eq!(
            redact_query("api-version=2024-11-01-preview&sig=abc%3D&sv=2019-02-02"),
            "api-version=2024-11-01-preview&sig=REDACTED&sv=2019-02-02"
        );
        assert_eq!(
            redact_query("SIG=abc&client_secret=s3cr3t&x=1"),
            "SIG=REDACTED&client_secret=REDACTED&x=1"
        );
        assert_eq!(
            redact_query("sas=sv%3D2019%26sig%3Dabc&api-version=1"),
            "sas=REDACTED&api-version=1"
        );
        assert_eq!(redact_query("api-version=1"), "api-version=1");
    }

    #[test]
    fn ids_must_be_printable_and_short() {
        let mut h = HeaderMap::new();
        h.insert(CLIENT_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(
            usable_id(&h, &CLIENT_REQUEST_ID),
            Some(HeaderValue::from_static("abc-123"))
        );
        h.insert(CLIENT_REQUEST_ID, HeaderValue::from_static("has space"));
        assert_eq!(usable_id(&h, &CLIENT_REQUEST_ID), None);
        let long = "a".repeat(201);
        h.insert(
            CLIENT_REQUEST_ID,
            HeaderValue::from_str(&long).expect("ascii"),
        );
        assert_eq!(usable_id(&h, &CLIENT_REQUEST_ID), None);
    }
}

/// A latency in milliseconds rounded to 0.1 ms: finer digits are timer noise, and
/// `latency_ms=1.778247` made the access log hard to read. Stays a number, so JSON logs keep
/// a numeric field.
fn round_to_tenth_ms(elapsed: std::time::Duration) -> f64 {
    // Whole tenths of a millisecond (100 µs); a u64 of them outlasts any request.
    let tenths = u64::try_from(elapsed.as_micros().div_ceil(100)).unwrap_or(u64::MAX);
    tenths as f64 / 10.0
}

#[cfg(test)]
mod latency_tests {
    use std::time::Duration;

    use super::round_to_tenth_ms;

    #[test]
    fn latencies_have_one_decimal() {
        assert_eq!(round_to_tenth_ms(Duration::from_micros(1_778)), 1.8);
        assert_eq!(round_to_tenth_ms(Duration::from_micros(1_700)), 1.7);
        assert_eq!(round_to_tenth_ms(Duration::from_micros(3)), 0.1);
        assert_eq!(round_to_tenth_ms(Duration::ZERO), 0.0);
        assert_eq!(
            format!("{}", round_to_tenth_ms(Duration::from_micros(12_345))),
            "12.4"
        );
    }
}
