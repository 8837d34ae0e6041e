//! `GET /metrics`: the engine's metrics, then the HTTP layer's, in the Prometheus text format.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;

/// The content type of the Prometheus text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Both expositions, one after the other: their metric names differ (`lrs_http_…` is the HTTP
/// layer's alone), so the concatenation is one valid exposition.
pub(super) async fn metrics(state: &AppState) -> Result<Response, ApiError> {
    let mut body = state.backend().render_metrics().await?;
    let http = state.http_metrics().render().map_err(|e| {
        ApiError::from(lrs_engine::EngineError::Internal(format!(
            "HTTP metrics could not be encoded: {e}"
        )))
    })?;
    body.push_str(&http);
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}
