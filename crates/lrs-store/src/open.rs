//! Choosing a backend from a URL, and keeping passwords out of what is printed about it.

use std::path::Path;
use std::sync::Arc;

use crate::{PgStore, SqliteStore, Store, StoreError};

/// Open the store a URL names:
///
/// - `postgres://…` or `postgresql://…`: a [`PgStore`];
/// - `sqlite::memory:`: a fresh in-memory [`SqliteStore`];
/// - `sqlite://PATH` (`sqlite:///abs/path` for an absolute one), `sqlite:PATH`, or a plain
///   path: a [`SqliteStore`] file, created when missing.
///
/// Errors show the URL with its password redacted ([`redact_url`]).
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(StoreError::Backend(
            "empty store URL: expected sqlite://PATH, a path, or postgres://…".into(),
        ));
    }
    let scheme = trimmed
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => {
            let store = PgStore::connect(trimmed).await?;
            Ok(Arc::new(store))
        }
        Some("sqlite") => {
            let rest = &trimmed["sqlite:".len()..];
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path == ":memory:" {
                return Ok(Arc::new(SqliteStore::in_memory().await?));
            }
            if path.is_empty() {
                return Err(StoreError::Backend(format!(
                    "store URL {trimmed} names no file (expected sqlite://PATH)"
                )));
            }
            if path.contains('?') {
                return Err(StoreError::Backend(format!(
                    "store URL {} has options after '?', which are not supported for SQLite \
                     (the store sets its own)",
                    redact_url(trimmed)
                )));
            }
            Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
        }
        Some(other) if trimmed.contains("://") => Err(StoreError::Backend(format!(
            "unsupported store URL scheme '{other}' in {} (expected sqlite:// or postgres://)",
            redact_url(trimmed)
        ))),
        // A plain path (possibly with a ':' in a file name).
        _ => Ok(Arc::new(SqliteStore::open(Path::new(trimmed)).await?)),
    }
}

/// `url` with its password (`user:password@`, and `password=` / `sslpassword=` query values)
/// replaced by `***`, for messages and logs. Text that is not a URL comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if is_secret_param(key) => format!("{key}=***"),
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
        }
        None => out.push_str(tail),
    }
    out
}

fn is_secret_param(key: &str) -> bool {
    ["password", "sslpassword", "sig"]
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

/// Removes a URL's password from driver messages, which may quote the connection settings.
#[derive(Debug, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// Nothing to remove.
    pub(crate) fn none() -> Self {
        Scrubber::default()
    }

    /// The passwords in `url`, as written and percent-decoded.
    pub(crate) fn for_url(url: &str) -> Self {
        let mut secrets = Vec::new();
        if let Some(scheme_end) = url.find("://") {
            let rest = &url[scheme_end + 3..];
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            if let Some(at) = authority.rfind('@')
                && let Some((_, password)) = authority[..at].split_once(':')
            {
                secrets.push(password.to_owned());
            }
            if let Some((_, query)) = rest[authority_end..].split_once('?') {
                for param in query.split(['&', '#']) {
                    if let Some((key, value)) = param.split_once('=')
                        && is_secret_param(key)
                    {
                        secrets.push(value.to_owned());
                    }
                }
            }
        }
        let decoded: Vec<String> = secrets.iter().map(|s| percent_decode(s)).collect();
        secrets.extend(decoded);
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a secret containing another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Scrubber { secrets }
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }
}

/// `%XX` escapes decoded (invalid escapes and non-UTF-8 results are kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(value) = u8::from_str_radix(hex, 16)
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_of_a_postgres_url() {
        assert_eq!(
            redact_url("postgres://lrs:s3cr%40t@db.local:5433/lrs?sslmode=require"),
            "postgres://lrs:***@db.local:5433/lrs?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://u:p@h/d?password=x&application_name=a#frag"),
            "postgresql://u:***@h/d?password=***&application_name=a#frag"
        );
    }

    #[test]
    fn keeps_urls_without_password() {
        assert_eq!(
            redact_url("postgres://lrs@127.0.0.1:5432/lrs"),
            "postgres://lrs@127.0.0.1:5432/lrs"
        );
        assert_eq!(redact_url("sqlite://state/lrs.db"), "sqlite://state/lrs.db");
        assert_eq!(redact_url("/var/lib/lrs/state.db"), "/var/lib/lrs/state.db");
    }

    #[test]
    fn scrubber_removes_raw_and_decoded_passwords() {
        let scrub = Scrubber::for_url("postgres://u:p%40ss@h/d?password=other");
        assert_eq!(
            scrub.clean("failed with p%40ss, p@ss and other"),
            "failed with ***, *** and ***"
        );
        assert_eq!(Scrubber::none().clean("p@ss"), "p@ss");
    }

    #[tokio::test]
    async fn unsupported_scheme_is_refused_without_the_password() {
        let err = open_store("mysql://root:hunter2@localhost/db")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "store backend error: unsupported store URL scheme 'mysql' in \
             mysql://root:***@localhost/db (expected sqlite:// or postgres://)"
        );
    }

    #[tokio::test]
    async fn postgres_connect_failure_hides_the_password() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let err = open_store("postgres://lrs:hunter2@127.0.0.1:1/lrs?connect_timeout=2")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with(
                "store backend error: connecting to PostgreSQL at \
                 postgres://lrs:***@127.0.0.1:1/lrs?connect_timeout=2: "
            ),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn sqlite_urls_and_paths_open_file_stores() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("nested/a.db");
        let url = format!("sqlite://{}", file.display());
        let store = open_store(&url).await;
        assert!(store.is_ok(), "{:?}", store.err());
        assert!(file.exists());
        let plain = dir.path().join("b.db");
        let store = open_store(&plain.display().to_string()).await;
        assert!(store.is_ok(), "{:?}", store.err());
        assert!(plain.exists());
        let memory = open_store("sqlite::memory:").await;
        assert_eq!(
            format!("{:?}", memory.ok()),
            "Some(SqliteStore { path: \":memory:\" })"
        );
        let err = open_store("sqlite://x.db?mode=ro").await.err();
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            "store backend error: store URL sqlite://x.db?mode=ro has options after '?', \
             which are not supported for SQLite (the store sets its own)"
        );
    }
}
