//! Turns storage client errors into [`SourceError`]s: what the job should do (retry, fail as
//! access denied, fail as not found) and a message in the words the real service uses.
//!
//! object_store keeps the HTTP status of a failed request inside a private error type, so the
//! status is recovered from the error chain: typed variants first (`NotFound`,
//! `PermissionDenied`, `Unauthenticated`), then transport errors (`HttpError`, `io::Error`),
//! then the status the message states.

use std::error::Error as StdError;
use std::io;

use crate::SourceError;
use crate::sas::redact;

/// The text the real service shows for a 403 (docs/references.md#errors), before the store's
/// reason.
pub(crate) const FORBIDDEN_TEXT: &str = "Unable to read blobs in storage container, exception: The remote server returned an error: (403) Forbidden.";

/// What kind of failure an error chain describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Transient,
    Denied(u16),
    NotFound,
    Other,
}

/// Classify an object_store error met while working on `location` (already redacted).
pub(crate) fn from_object_store(err: &object_store::Error, location: &str) -> SourceError {
    let kind = match err {
        object_store::Error::NotFound { .. } => Kind::NotFound,
        object_store::Error::PermissionDenied { .. } => Kind::Denied(403),
        object_store::Error::Unauthenticated { .. } => Kind::Denied(401),
        _ => kind_of_chain(err),
    };
    build(kind, err, location)
}

/// Classify an I/O error from a reader (which wraps the store's error).
pub(crate) fn from_io(err: &io::Error, location: &str) -> SourceError {
    if let Some(inner) = err.get_ref() {
        if let Some(source) = inner.downcast_ref::<SourceError>() {
            return source.clone();
        }
        if let Some(store) = inner.downcast_ref::<object_store::Error>() {
            return from_object_store(store, location);
        }
    }
    let kind = io_kind(err).unwrap_or(Kind::Other);
    build(kind, err, location)
}

fn build(kind: Kind, err: &(dyn StdError + 'static), location: &str) -> SourceError {
    let location = location.to_string();
    let detail = redact(&chain_text(err));
    match kind {
        Kind::Transient => SourceError::Transient {
            location,
            message: detail,
        },
        Kind::NotFound => SourceError::NotFound {
            location,
            message: reason(err).unwrap_or(detail),
        },
        Kind::Denied(status) => {
            let head = if status == 401 {
                "Unable to read blobs in storage container, exception: The remote server returned an error: (401) Unauthorized."
            } else {
                FORBIDDEN_TEXT
            };
            let why = reason(err).unwrap_or(detail);
            SourceError::AccessDenied {
                location,
                message: format!("{head} {why}"),
            }
        }
        Kind::Other => SourceError::Other {
            location,
            message: detail,
        },
    }
}

fn kind_of_chain(err: &(dyn StdError + 'static)) -> Kind {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut transport = false;
    while let Some(e) = current {
        if let Some(store) = e.downcast_ref::<object_store::Error>() {
            match store {
                object_store::Error::NotFound { .. } => return Kind::NotFound,
                object_store::Error::PermissionDenied { .. } => return Kind::Denied(403),
                object_store::Error::Unauthenticated { .. } => return Kind::Denied(401),
                _ => {}
            }
        }
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind as H;
            // Connection failures, timeouts, dropped connections and bodies cut short are
            // worth another attempt; a request that could not even be built is not.
            transport |= matches!(
                http.kind(),
                H::Connect | H::Request | H::Timeout | H::Interrupted | H::Decode
            );
        }
        // A request reqwest could not send or finish (a pooled connection closed under it,
        // a cancelled connect): object_store may leave these unclassified.
        if let Some(client) = e.downcast_ref::<reqwest::Error>() {
            transport |= client.is_request() || client.is_connect() || client.is_timeout();
        }
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(kind) = io_kind(io)
        {
            return kind;
        }
        current = e.source();
    }
    if let Some(status) = stated_status(&chain_text(err)) {
        return match status {
            401 | 403 => Kind::Denied(status),
            404 => Kind::NotFound,
            408 | 429 | 500..=599 => Kind::Transient,
            _ => Kind::Other,
        };
    }
    if transport || dropped_connection(&chain_text(err)) {
        Kind::Transient
    } else {
        Kind::Other
    }
}

/// The same dropped connection when only its text survives (an error flattened to a message
/// on its way up): hyper's cancellation wording.
fn dropped_connection(text: &str) -> bool {
    [
        "connection was not ready",
        "connection closed before message completed",
        "operation was canceled",
    ]
    .iter()
    .any(|sign| text.contains(sign))
}

fn io_kind(err: &io::Error) -> Option<Kind> {
    use io::ErrorKind as K;
    match err.kind() {
        K::NotFound => Some(Kind::NotFound),
        K::PermissionDenied => Some(Kind::Denied(403)),
        K::TimedOut
        | K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::Interrupted
        | K::WouldBlock => Some(Kind::Transient),
        _ => None,
    }
}

/// The whole error chain as one line (each cause once: object_store messages often repeat
/// their source's text).
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

/// The HTTP status a message states ("… status code: 403 Forbidden …").
fn stated_status(text: &str) -> Option<u16> {
    const MARKER: &str = "status code: ";
    let at = text.find(MARKER)? + MARKER.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.len() == 3 {
        digits.parse().ok()
    } else {
        None
    }
}

/// The storage service's own reason: `Code: message` from an Azure or S3 XML error body, the
/// message's first line only (Azure appends request ids and times).
/// The storage service's error code from its answer, and nothing else of what it said: a
/// remote server's text is not ours to reflect to API clients.
fn reason(err: &(dyn StdError + 'static)) -> Option<String> {
    let text = chain_text(err);
    let code = xml_element(&text, "Code")?;
    // An error code is a short identifier; anything else is not echoed.
    let code: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    (!code.is_empty()).then(|| format!("Storage error code: {code}."))
}

fn xml_element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&close)?;
    Some(text[start..start + len].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("Server returned non-2xx status code: {0}: {1}")]
    struct FakeStatus(&'static str, &'static str);

    fn generic(source: impl StdError + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "MicrosoftAzure",
            source: Box::new(source),
        }
    }

    #[tokio::test]
    async fn a_request_the_client_could_not_finish_is_transient_by_its_type() {
        // A loopback listener that accepts and never answers: reqwest's own timeout error,
        // with no io::Error or status in its chain, so only its type says it is transient.
        crate::open::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/container?comp=list",
            listener.local_addr().expect("addr")
        );
        let _held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            drop(socket);
        });
        let timed_out = reqwest::Client::new()
            .get(url)
            .timeout(std::time::Duration::from_millis(100))
            .send()
            .await
            .expect_err("the listener never answers");
        assert!(timed_out.is_timeout(), "{timed_out:?}");
        assert!(from_object_store(&generic(timed_out), "loc").is_transient());
    }

    #[test]
    fn a_connection_dropped_under_a_request_is_transient() {
        #[derive(Debug, thiserror::Error)]
        #[error(
            "Error performing list request: Error performing GET http://127.0.0.1:1/a in 838µs - HTTP error: error sending request: client error (Canceled): operation was canceled: connection was not ready"
        )]
        struct Dropped;
        assert!(from_object_store(&generic(Dropped), "loc").is_transient());
    }

    #[test]
    fn statuses_in_messages_are_classified() {
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.\nRequestId:1\nTime:2026</Message></Error>";
        let err = from_object_store(&generic(FakeStatus("403 Forbidden", body)), "loc");
        assert_eq!(
            err,
            SourceError::AccessDenied {
                location: "loc".into(),
                message: format!("{FORBIDDEN_TEXT} Storage error code: AuthenticationFailed.")
            }
        );
        let err = from_object_store(&generic(FakeStatus("503 Service Unavailable", "")), "loc");
        assert!(err.is_transient(), "{err:?}");
        let err = from_object_store(
            &generic(FakeStatus(
                "404 Not Found",
                "<Code>ContainerNotFound</Code><Message>The specified container does not exist.\nRequestId:2</Message>",
            )),
            "loc",
        );
        assert_eq!(
            err,
            SourceError::NotFound {
                location: "loc".into(),
                message: "Storage error code: ContainerNotFound.".into()
            }
        );
        let err = from_object_store(&generic(FakeStatus("400 Bad Request", "")), "loc");
        assert!(matches!(err, SourceError::Other { .. }), "{err:?}");
    }

    #[test]
    fn transport_and_io_failures_are_transient() {
        let http = object_store::client::HttpError::new(
            object_store::client::HttpErrorKind::Connect,
            io::Error::other("connection refused"),
        );
        assert!(from_object_store(&generic(http), "loc").is_transient());
        let timeout = io::Error::new(io::ErrorKind::TimedOut, "slow");
        assert!(from_object_store(&generic(timeout), "loc").is_transient());
        let builder = object_store::client::HttpError::new(
            object_store::client::HttpErrorKind::Unknown,
            io::Error::other("builder error: URL scheme is not allowed"),
        );
        assert!(matches!(
            from_object_store(&generic(builder), "loc"),
            SourceError::Other { .. }
        ));
        let eof = io::Error::new(io::ErrorKind::InvalidData, "garbage");
        assert!(matches!(
            from_object_store(&generic(eof), "loc"),
            SourceError::Other { .. }
        ));
    }

    #[test]
    fn messages_never_carry_signatures() {
        let err = from_object_store(
            &generic(FakeStatus(
                "500 Internal Server Error",
                "GET http://h/c?sp=rl&sig=SECRETSIG&restype=container",
            )),
            "loc",
        );
        let text = err.to_string();
        assert!(!text.contains("SECRETSIG"), "{text}");
        assert!(text.contains("sig=REDACTED"), "{text}");
    }
}
