//! Retrying transient storage failures with exponential backoff. The storage clients' own
//! retries are switched off so that this is the one policy, the same for every backend.

use std::future::Future;

use tracing::debug;

use crate::SourceError;
use crate::settings::RetrySettings;

/// Run `op` until it succeeds, fails for a reason retrying cannot fix, or has been attempted
/// `settings.max_attempts` times. A transient failure that outlives the attempts comes back as
/// [`SourceError::Transient`] saying how many attempts were made.
pub(crate) async fn with_retry<T, F, Fut>(
    settings: &RetrySettings,
    what: &str,
    mut op: F,
) -> Result<T, SourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SourceError>>,
{
    let max_attempts = settings.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_transient() && attempt < max_attempts => {
                let wait = settings.backoff(attempt);
                debug!(attempt, ?wait, "{what} failed, retrying: {e}");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(SourceError::Transient { location, message }) => {
                return Err(SourceError::Transient {
                    location,
                    message: format!("{message} (gave up after {attempt} attempts)"),
                });
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    fn fast(max_attempts: u32) -> RetrySettings {
        RetrySettings {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            ..RetrySettings::default()
        }
    }

    fn transient() -> SourceError {
        SourceError::Transient {
            location: "loc".into(),
            message: "503".into(),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let out = with_retry(&fast(4), "list", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 { Err(transient()) } else { Ok(n) }
        })
        .await;
        assert_eq!(out, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = with_retry(&fast(3), "list", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(transient())
        })
        .await;
        assert_eq!(
            out,
            Err(SourceError::Transient {
                location: "loc".into(),
                message: "503 (gave up after 3 attempts)".into()
            })
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn fatal_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let denied = SourceError::AccessDenied {
            location: "loc".into(),
            message: "403".into(),
        };
        let out: Result<(), _> = with_retry(&fast(5), "list", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(denied.clone())
        })
        .await;
        assert_eq!(out, Err(denied.clone()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
