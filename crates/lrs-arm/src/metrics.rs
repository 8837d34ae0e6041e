//! The HTTP layer's Prometheus metrics: requests by route and status, and their latency. The
//! names are defined here once; docs/metrics.md lists them. (Why the `prometheus` crate: see
//! `lrs_engine::metrics`.)
//!
//! Labels never carry the raw path: a request is labelled with the name of the [`Route`] it
//! was parsed into, or [`UNMATCHED`] when it matched none, so the number of series is bounded
//! by the route table whatever clients send.

use std::time::Duration;

use axum::http::StatusCode;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

use crate::route::Route;

/// Requests answered, by route and status (counter).
pub(crate) const HTTP_REQUESTS: &str = "lrs_http_requests_total";
/// Time to answer a request, by route (histogram, seconds).
pub(crate) const HTTP_DURATION: &str = "lrs_http_request_duration_seconds";
/// The `route` label of requests that matched no route (unknown path, wrong method, or a
/// request line that could not be parsed).
pub(crate) const UNMATCHED: &str = "Unmatched";

/// The `route` label of a request: its route's name, or [`UNMATCHED`].
pub(crate) fn route_label(route: Option<Route>) -> &'static str {
    route.map_or(UNMATCHED, Route::name)
}

/// The `status` label of a response: the three-digit code.
pub(crate) fn status_label(status: &StatusCode) -> &str {
    status.as_str()
}

/// The HTTP metrics and the registry that exports them.
#[derive(Debug, Clone)]
pub(crate) struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    /// Fresh metrics in a fresh registry (one per server, so in-process servers do not mix).
    pub(crate) fn new() -> Self {
        // Constant definitions: building them fails only on a malformed name, which the unit
        // tests would catch; no input reaches this.
        #[allow(clippy::expect_used)]
        Self::build().expect("the HTTP metric definitions are valid")
    }

    fn build() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                HTTP_REQUESTS,
                "HTTP requests answered, by route name and status code.",
            ),
            &["route", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                HTTP_DURATION,
                "Time from receiving a request to its response head, by route name.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        Ok(HttpMetrics {
            registry,
            requests,
            duration,
        })
    }

    /// One request of `route` answered with `status` after `took`.
    pub(crate) fn observe(&self, route: Option<Route>, status: StatusCode, took: Duration) {
        let route = route_label(route);
        self.requests
            .with_label_values(&[route, status_label(&status)])
            .inc();
        self.duration
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }

    /// The HTTP metrics in the Prometheus text format.
    pub(crate) fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = String::new();
        TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_route_names() {
        assert_eq!(
            route_label(Some(Route::GetRestoreDetails)),
            "GetRestoreDetails"
        );
        assert_eq!(route_label(Some(Route::Metrics)), "Metrics");
        assert_eq!(route_label(None), "Unmatched");
        // Every route has its own label, none of them the unmatched one.
        let mut labels: Vec<&str> = Route::ALL.iter().map(|r| route_label(Some(*r))).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Route::ALL.len());
        assert!(!labels.contains(&UNMATCHED));
    }

    #[test]
    fn status_labels_are_codes() {
        assert_eq!(status_label(&StatusCode::OK), "200");
        assert_eq!(status_label(&StatusCode::ACCEPTED), "202");
        assert_eq!(status_label(&StatusCode::NOT_FOUND), "404");
        assert_eq!(
            status_label(&StatusCode::from_u16(599).expect("valid code")),
            "599"
        );
    }

    #[test]
    fn observations_are_rendered_by_label() {
        let m = HttpMetrics::new();
        m.observe(
            Some(Route::Health),
            StatusCode::OK,
            Duration::from_millis(1),
        );
        m.observe(
            Some(Route::Health),
            StatusCode::OK,
            Duration::from_millis(2),
        );
        m.observe(None, StatusCode::NOT_FOUND, Duration::from_millis(1));
        let text = m.render().expect("render");
        let lines: Vec<_> = text.lines().map(|l| Ok(l.to_string())).collect();
        let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).expect("parse");
        let count = |route: &str, status: &str| {
            scrape
                .samples
                .iter()
                .find(|s| {
                    s.metric == HTTP_REQUESTS
                        && s.labels.get("route") == Some(route)
                        && s.labels.get("status") == Some(status)
                })
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v) => v,
                    _ => f64::NAN,
                })
        };
        assert_eq!(count("Health", "200"), Some(2.0));
        assert_eq!(count("Unmatched", "404"), Some(1.0));
        assert_eq!(count("Health", "404"), None);
    }
}
