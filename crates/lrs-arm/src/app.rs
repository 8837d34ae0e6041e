//! The axum application: shared state, the middleware stack, and the single dispatch entry
//! that parses every request into an [`ArmOperation`] before a handler runs.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{TokenIssuer, check_bearer};
use crate::backend::Backend;
use crate::config::{AuthMode, ServeConfig, SubscriptionInfo};
use crate::error::ApiError;
use crate::handlers;
use crate::metrics::HttpMetrics;
use crate::middleware::{ErrorCode, panic_response, request_ids_and_log};
use crate::route::{ArmOperation, parse};

/// At most this many subscriptions seen in requests are remembered for `GET /subscriptions`.
const MAX_REMEMBERED_SUBSCRIPTIONS: usize = 1000;

/// The parts of [`ServeConfig`] the handlers use.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) retry_after_secs: u64,
    pub(crate) auth: AuthMode,
    pub(crate) body_limit: usize,
    pub(crate) tenant_id: String,
    pub(crate) subscription: SubscriptionInfo,
    pub(crate) identity_header: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("retry_after_secs", &self.retry_after_secs)
            .field("auth", &self.auth)
            .field("body_limit", &self.body_limit)
            .field("tenant_id", &self.tenant_id)
            .field("subscription", &self.subscription)
            .field(
                "identity_header",
                &self.identity_header.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Settings {
    pub(crate) fn from_config(config: &ServeConfig) -> Self {
        Settings {
            retry_after_secs: config.retry_after_secs,
            auth: config.auth,
            body_limit: config.body_limit,
            tenant_id: config.tenant_id.clone(),
            subscription: config.subscription.clone(),
            identity_header: config.identity_header.clone(),
        }
    }
}

/// State shared by all requests.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    inner: Arc<StateInner>,
}

#[derive(Debug)]
struct StateInner {
    backend: Arc<dyn Backend>,
    settings: Settings,
    tokens: TokenIssuer,
    /// Request counts and latencies, served by `GET /metrics`.
    http_metrics: HttpMetrics,
    /// Subscriptions seen in successful ARM calls. The store cannot list subscriptions, so
    /// `GET /subscriptions` reports these plus the configured one.
    subscriptions: Mutex<BTreeSet<String>>,
}

impl AppState {
    pub(crate) fn new(backend: Arc<dyn Backend>, settings: Settings, tokens: TokenIssuer) -> Self {
        AppState {
            inner: Arc::new(StateInner {
                backend,
                settings,
                tokens,
                http_metrics: HttpMetrics::new(),
                subscriptions: Mutex::new(BTreeSet::new()),
            }),
        }
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        self.inner.backend.as_ref()
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn tokens(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    pub(crate) fn http_metrics(&self) -> &HttpMetrics {
        &self.inner.http_metrics
    }

    fn remember_subscription(&self, id: &str) {
        if let Ok(mut set) = self.inner.subscriptions.lock()
            && set.len() < MAX_REMEMBERED_SUBSCRIPTIONS
            && !set.iter().any(|s| s.eq_ignore_ascii_case(id))
        {
            set.insert(id.to_string());
        }
    }

    /// The configured subscription first, then the ones seen, without case-insensitive
    /// duplicates.
    pub(crate) fn known_subscriptions(&self) -> Vec<String> {
        let configured = self.settings().subscription.id.clone();
        let mut all = vec![configured.clone()];
        if let Ok(set) = self.inner.subscriptions.lock() {
            all.extend(
                set.iter()
                    .filter(|s| !s.eq_ignore_ascii_case(&configured))
                    .cloned(),
            );
        }
        all
    }
}

/// Which listener a request came in on (set per connection by the server; absent in
/// in-process tests, where plain http is assumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListenerInfo {
    /// Whether the listener speaks TLS.
    pub(crate) https: bool,
    /// The listener's bound address, the fallback host for URLs.
    pub(crate) local_addr: SocketAddr,
}

/// The application with all middleware.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(state.clone())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state,
            request_ids_and_log,
        ))
}

/// What a handler gets besides the operation.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// `scheme://host[:port]` of this server as the client reached it.
    pub(crate) base: String,
    /// `api-version`, when given (ARM routes always have one).
    pub(crate) api_version: Option<String>,
    /// Request path as sent, without query and trailing slash.
    pub(crate) path: String,
    /// Raw query string.
    pub(crate) query: Option<String>,
    /// Request headers.
    pub(crate) headers: HeaderMap,
    /// Request body (empty for GET/DELETE).
    pub(crate) body: Bytes,
}

impl Ctx {
    /// `api-version` (present on every ARM route: the parser refuses requests without it).
    pub(crate) fn api_version(&self) -> &str {
        self.api_version.as_deref().unwrap_or_default()
    }

    /// The full URL of this request on this server.
    pub(crate) fn url(&self) -> String {
        match &self.query {
            Some(q) => format!("{}{}?{q}", self.base, self.path),
            None => format!("{}{}", self.base, self.path),
        }
    }
}

/// Parse, authorize, read the body, run the handler; every failure becomes its ARM error.
async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let parsed = match parse(&parts.method, parts.uri.path(), parts.uri.query()) {
        Ok(p) => p,
        Err(e) => return error_response(e),
    };
    let route = parsed.operation.route();
    let base = base_url(&parts);

    let mut response = match run(&state, parsed, &parts, body, base).await {
        Ok(response) => response,
        Err(e) => error_response(e),
    };
    response.extensions_mut().insert(route);
    response
}

async fn run(
    state: &AppState,
    parsed: crate::route::ParsedRequest,
    parts: &axum::http::request::Parts,
    body: Body,
    base: String,
) -> Result<Response, ApiError> {
    let route = parsed.operation.route();
    if state.settings().auth == AuthMode::Strict && route.requires_token() {
        let authority = format!("{base}/{}", state.settings().tenant_id);
        check_bearer(
            &parts.headers,
            state.tokens(),
            &authority,
            &state.settings().tenant_id,
            Utc::now(),
        )?;
    }
    let body = if parts.method == Method::PUT || parts.method == Method::POST {
        read_body(body, &parts.headers, state.settings().body_limit).await?
    } else {
        Bytes::new()
    };
    let ctx = Ctx {
        base,
        api_version: parsed.api_version,
        path: parsed.path,
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body,
    };
    let operation: ArmOperation = parsed.operation;
    let subscription = operation.subscription().map(str::to_string);
    let response = handlers::handle(state, &ctx, operation).await?;
    if let Some(sub) = subscription
        && route.is_arm()
        && response.status().is_success()
    {
        state.remember_subscription(&sub);
    }
    Ok(response)
}

fn error_response(e: ApiError) -> Response {
    let code = ErrorCode(e.code().to_string());
    let mut response = e.into_response();
    response.extensions_mut().insert(code);
    response
}

/// Read the whole body, refusing more than `limit` bytes with ARM's 413.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::payload_too_large(limit))
        }
        Err(e) => Err(ApiError::bad_request(
            "InvalidRequestContent",
            format!("The request body could not be read: {e}"),
        )),
    }
}

/// `scheme://host[:port]` as the client reached this server: the listener's scheme and the
/// request's `Host` (or URI authority), falling back to the listener address.
fn base_url(parts: &axum::http::request::Parts) -> String {
    let listener = parts.extensions.get::<ListenerInfo>().copied();
    let scheme = if listener.is_some_and(|l| l.https) {
        "https"
    } else {
        "http"
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .filter(|h| is_valid_host(h))
        .or_else(|| listener.map(|l| l.local_addr.to_string()))
        .unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{host}")
}

/// A `Host` value safe to build URLs from: a host name, IPv4 or bracketed IPv6, optional port.
fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: Option<&str>, listener: Option<ListenerInfo>) -> axum::http::request::Parts {
        let mut builder = Request::builder().uri("/x");
        if let Some(h) = host {
            builder = builder.header(header::HOST, h);
        }
        let (mut parts, _) = builder.body(()).expect("request").into_parts();
        if let Some(l) = listener {
            parts.extensions.insert(l);
        }
        parts
    }

    #[test]
    fn base_url_uses_listener_scheme_and_host_header() {
        let https = ListenerInfo {
            https: true,
            local_addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
        };
        assert_eq!(
            base_url(&parts(Some("localhost:9999"), Some(https))),
            "https://localhost:9999"
        );
        assert_eq!(
            base_url(&parts(Some("[::1]:8443"), Some(https))),
            "https://[::1]:8443"
        );
        assert_eq!(
            base_url(&parts(None, Some(https))),
            "https://127.0.0.1:8443"
        );
        assert_eq!(
            base_url(&parts(Some("evil.com/path?x"), Some(https))),
            "https://127.0.0.1:8443"
        );
        assert_eq!(base_url(&parts(Some("h:1"), None)), "http://h:1");
    }
}
