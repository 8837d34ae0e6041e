//! JSON responses the way ARM writes them: `Content-Type: application/json; charset=utf-8` and
//! ISO-8601 UTC timestamps.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};

/// The content type of every JSON body ARM returns.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON response with ARM's content type.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

/// A timestamp as ARM prints them: UTC, `Z`, fractional seconds only when there are any
/// (`2020-08-26T12:06:53.27Z` style, trailing zeros trimmed to millis/micros/nanos).
pub(crate) fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_utc_with_z() {
        let t = Utc.with_ymd_and_hms(2020, 8, 26, 12, 6, 53).single();
        assert_eq!(
            t.map(|t| timestamp(&t)).as_deref(),
            Some("2020-08-26T12:06:53Z")
        );
        let t = t.map(|t| t + chrono::Duration::milliseconds(270));
        assert_eq!(
            t.map(|t| timestamp(&t)).as_deref(),
            Some("2020-08-26T12:06:53.270Z")
        );
    }
}
