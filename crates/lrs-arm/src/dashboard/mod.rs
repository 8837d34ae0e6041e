//! The live dashboard at `GET /`: one HTML page, one stylesheet and one script, embedded in the
//! binary so it works offline and needs no build step. The page is a plain client of the ARM
//! API this server already serves (same origin): it polls the instance and database lists and
//! the selected migration's restore details, and calls completeRestore, DELETE database and the
//! admin endpoints for its buttons. It holds no state of its own on the server.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::route::DashboardFile;

const PAGE: &str = include_str!("index.html");
const STYLE: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");

/// Only this origin's own files and API: no inline script, no third-party anything.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The file's body with its content type; not cached, so a new binary's page shows at once.
pub(crate) fn response(file: DashboardFile) -> Response {
    let (body, content_type) = match file {
        DashboardFile::Page => (PAGE, "text/html; charset=utf-8"),
        DashboardFile::Style => (STYLE, "text/css; charset=utf-8"),
        DashboardFile::Script => (SCRIPT, "text/javascript; charset=utf-8"),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets() {
        assert!(PAGE.contains(r#"<link rel="stylesheet" href="/ui/dashboard.css">"#));
        assert!(PAGE.contains(r#"<script src="/ui/dashboard.js" defer></script>"#));
        // Offline: nothing from another origin.
        for text in [PAGE, STYLE, SCRIPT] {
            assert!(!text.contains("http://") && !text.contains("https://"));
        }
    }

    #[test]
    fn each_file_has_its_content_type_and_policy() {
        for (file, kind) in [
            (DashboardFile::Page, "text/html"),
            (DashboardFile::Style, "text/css"),
            (DashboardFile::Script, "text/javascript"),
        ] {
            let r = response(file);
            assert_eq!(r.status(), StatusCode::OK);
            let ct = r.headers().get(header::CONTENT_TYPE);
            assert!(
                ct.and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with(kind))
            );
            assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        }
    }
}
