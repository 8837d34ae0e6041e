//! SAS tokens: the rules LRS applies before a job may start, and redaction of signatures.
//!
//! The real service documents its SAS rules as troubleshooting advice rather than as an API
//! contract: the token must be a container SAS with exactly Read and List, pasted without the
//! leading `?`, valid for the whole migration, and not built from a stored access policy. When a
//! rule is broken the real service fails the start (or the job) with `BlobStorageFailure`;
//! [`SasError`] names the broken rule precisely so that the emulator can say *why*.
//!
//! [`redact`] is the one function every log line, error message and API answer that might
//! carry a SAS URL goes through. [`sign_container_sas`] builds real service SAS tokens (used by
//! tests, benchmarks and the CLI's demos against Azurite).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

/// The permissions LRS requires: Read and List, nothing else.
pub const REQUIRED_PERMISSIONS: &str = "rl";

/// Storage service version [`sign_container_sas`] signs for (its string-to-sign layout; Azurite
/// 3.35, the pinned one, and 3.37 accept it).
pub const SIGNED_VERSION: &str = "2020-12-06";

/// The format SAS times are written in (ISO 8601, UTC, whole seconds).
const SAS_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Why a SAS token (or the container URI it goes with) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// No token at all. The real service answers `MissingStorageContainerSasToken`
    /// ("Missing storage container SAS token").
    #[error(
        "the SAS token is empty: give the part of the SAS URI after the '?' (it starts with 'sv=' or 'sp=')"
    )]
    Empty,
    /// The token was pasted with the `?` that separates it from the URI. The LRS docs list this
    /// as a start failure to check ("Was the SAS token copied starting after the `?`"); the real
    /// service cannot read the container and fails with `BlobStorageFailure`.
    #[error(
        "the SAS token starts with '?': copy only the part of the SAS URI after the '?' (it starts with 'sv=' or 'sp=')"
    )]
    LeadingQuestionMark,
    /// The token is not a SAS query string (a parameter without `=`, a bad time, a missing
    /// signature or expiry, a repeated parameter). The storage service rejects such tokens with
    /// 403 AuthenticationFailed, which LRS reports as `BlobStorageFailure`.
    #[error("the SAS token is malformed: {0}")]
    Malformed(String),
    /// The token grants something other than exactly Read and List. LRS refuses to start "by
    /// design": "if you grant Read, List and Write permissions, LRS won't be able to start
    /// because of the extra Write permission"; a token without Read or List fails with
    /// `BlobStorageFailure` (403 from storage).
    #[error(
        "the SAS token grants '{granted}' ({granted_names}) but LRS requires exactly Read and List ('{REQUIRED_PERMISSIONS}'): {fix}"
    )]
    Permissions {
        /// The `sp` value as given.
        granted: String,
        /// The granted permissions spelled out.
        granted_names: String,
        /// What to add or remove.
        fix: String,
    },
    /// The token is scoped to a blob or a directory, not to the container. The LRS docs: "The
    /// SAS token must be for the whole container"; storage answers 403 to the listing, and LRS
    /// fails with `BlobStorageFailure`.
    #[error("the SAS token is for {scope} (sr={resource}); LRS needs a container SAS (sr=c)")]
    NotContainerScoped {
        /// The `sr` value.
        resource: String,
        /// What it means.
        scope: String,
    },
    /// The token's start time is still in the future (a time-zone mistake the docs warn
    /// about); storage answers 403 AuthenticationFailed and LRS fails with `BlobStorageFailure`.
    #[error(
        "the SAS token is not valid yet: it starts at {start} UTC (st) and it is now {now} UTC; SAS times are UTC, mind the time zone it was generated in"
    )]
    NotYetValid {
        /// `st`, formatted.
        start: String,
        /// The check's time, formatted.
        now: String,
    },
    /// The token has expired (also what happens to a job whose token expires mid-migration):
    /// storage answers 403 AuthenticationFailed and LRS fails with `BlobStorageFailure`
    /// ("Unable to read blobs in storage container, exception: The remote server returned an
    /// error: (403) Forbidden.").
    #[error(
        "the SAS token expired at {expiry} UTC (se) and it is now {now} UTC: generate a token valid for the whole migration"
    )]
    Expired {
        /// `se`, formatted.
        expiry: String,
        /// The check's time, formatted.
        now: String,
    },
    /// The token refers to a stored access policy (`si`). The LRS docs: SAS tokens generated
    /// from stored access policies are not supported.
    #[error(
        "the SAS token refers to the stored access policy '{identifier}' (si): LRS does not support SAS tokens from stored access policies; generate an ad hoc container SAS with Read and List"
    )]
    StoredAccessPolicy {
        /// The policy name.
        identifier: String,
    },
    /// The container URI carries a query string: a SAS token pasted into
    /// `storageContainerUri`. The docs split the SAS URI at the `?`: the URI must not contain
    /// it. The real service cannot list the folder and fails with `BlobStorageFailure`.
    #[error(
        "the storage container URI carries a query string ('?…'): put the URI without the '?' in storageContainerUri and the part after the '?' in storageContainerSasToken"
    )]
    UriHasQuery,
    /// The account key given for signing is not base64.
    #[error("the storage account key is not valid base64")]
    InvalidAccountKey,
}

/// A parsed SAS token: the fields LRS's rules look at (the signature is not kept, so it cannot
/// leak through `Debug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SasToken {
    version: Option<String>,
    resource: Option<String>,
    permissions: Option<String>,
    start: Option<DateTime<Utc>>,
    expiry: Option<DateTime<Utc>>,
    identifier: Option<String>,
}

impl SasToken {
    /// Parse a token as given in `storageContainerSasToken` (the part of the SAS URI after
    /// the `?`). Checks the syntax: a leading `?`, `name=value` pairs, the times, that `sig`
    /// and (unless a stored access policy holds it) `se` are present.
    pub fn parse(token: &str) -> Result<SasToken, SasError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(SasError::Empty);
        }
        if token.starts_with('?') {
            return Err(SasError::LeadingQuestionMark);
        }
        let pairs = split_pairs(token)?;
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        let identifier = get("si");
        if get("sig").is_none_or(|s| s.is_empty()) {
            return Err(SasError::Malformed(
                "it has no signature (sig): copy the whole token".into(),
            ));
        }
        let start = get("st").map(|v| parse_time("st", &v)).transpose()?;
        let expiry = get("se").map(|v| parse_time("se", &v)).transpose()?;
        if expiry.is_none() && identifier.is_none() {
            return Err(SasError::Malformed(
                "it has no expiry time (se): copy the whole token".into(),
            ));
        }
        Ok(SasToken {
            version: get("sv"),
            resource: get("sr"),
            permissions: get("sp"),
            start,
            expiry,
            identifier,
        })
    }

    /// Apply LRS's rules at time `now`, tolerating `skew` of clock difference on both ends of
    /// the validity window. The first broken rule is reported.
    pub fn check(&self, now: DateTime<Utc>, skew: chrono::Duration) -> Result<(), SasError> {
        if let Some(identifier) = &self.identifier {
            return Err(SasError::StoredAccessPolicy {
                identifier: identifier.clone(),
            });
        }
        if let Some(resource) = &self.resource
            && resource != "c"
        {
            let scope = match resource.as_str() {
                "b" => "a single blob",
                "bs" => "a blob snapshot",
                "bv" => "a blob version",
                "d" => "a directory",
                _ => "an unknown resource type",
            };
            return Err(SasError::NotContainerScoped {
                resource: resource.clone(),
                scope: scope.into(),
            });
        }
        check_permissions(self.permissions.as_deref().unwrap_or(""))?;
        if let Some(start) = self.start
            && start > now + skew
        {
            return Err(SasError::NotYetValid {
                start: format_time(start),
                now: format_time(now),
            });
        }
        if let Some(expiry) = self.expiry
            && expiry < now - skew
        {
            return Err(SasError::Expired {
                expiry: format_time(expiry),
                now: format_time(now),
            });
        }
        Ok(())
    }

    /// Signed permissions (`sp`) as given.
    pub fn permissions(&self) -> Option<&str> {
        self.permissions.as_deref()
    }

    /// Start of validity (`st`).
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.start
    }

    /// End of validity (`se`).
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        self.expiry
    }

    /// Signed storage version (`sv`).
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Signed resource (`sr`: `c` container, `b` blob, ...).
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// Stored access policy (`si`).
    pub fn identifier(&self) -> Option<&str> {
        self.identifier.as_deref()
    }
}

/// Refuse a container URI that carries a query string (a SAS token pasted into the URI).
pub fn check_uri(uri: &str) -> Result<(), SasError> {
    if uri.contains('?') {
        Err(SasError::UriHasQuery)
    } else {
        Ok(())
    }
}

/// The decoded `name=value` pairs of a token, leniently: a leading `?` is dropped (as the
/// storage clients do). Used to authorize requests whether or not the rules were applied.
pub(crate) fn query_pairs(token: &str) -> Result<Vec<(String, String)>, SasError> {
    let token = token.trim();
    let token = token.strip_prefix('?').unwrap_or(token);
    if token.is_empty() {
        return Err(SasError::Empty);
    }
    split_pairs(token)
}

fn split_pairs(token: &str) -> Result<Vec<(String, String)>, SasError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (index, part) in token.split('&').enumerate() {
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            // Never echo the part: it could be a signature.
            return Err(SasError::Malformed(format!(
                "parameter {} has no '=' (expected name=value pairs separated by '&')",
                index + 1
            )));
        };
        let key = decode(key).to_ascii_lowercase();
        if key.is_empty() {
            return Err(SasError::Malformed(format!(
                "parameter {} has an empty name",
                index + 1
            )));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(SasError::Malformed(format!(
                "parameter '{key}' is given twice"
            )));
        }
        pairs.push((key, decode(value)));
    }
    if pairs.is_empty() {
        return Err(SasError::Empty);
    }
    Ok(pairs)
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// SAS times: `YYYY-MM-DD`, `YYYY-MM-DDThh:mmZ`, `YYYY-MM-DDThh:mm:ssZ`, with optional
/// fractional seconds or an offset.
fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, SasError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%MZ") {
        return Ok(t.and_utc());
    }
    if let Some(t) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    Err(SasError::Malformed(format!(
        "{field} '{value}' is not an ISO 8601 UTC time such as 2026-01-31T23:59:59Z"
    )))
}

fn format_time(t: DateTime<Utc>) -> String {
    t.format(SAS_TIME_FORMAT).to_string()
}

fn permission_name(letter: char) -> String {
    match letter {
        'r' => "read".into(),
        'a' => "add".into(),
        'c' => "create".into(),
        'w' => "write".into(),
        'd' => "delete".into(),
        'x' => "delete version".into(),
        'y' => "permanent delete".into(),
        'l' => "list".into(),
        't' => "tags".into(),
        'f' => "filter by tags".into(),
        'm' => "move".into(),
        'e' => "execute".into(),
        'o' => "ownership".into(),
        'p' => "permissions".into(),
        'i' => "set immutability policy".into(),
        other => format!("unknown '{other}'"),
    }
}

fn check_permissions(granted: &str) -> Result<(), SasError> {
    let has = |c: char| granted.contains(c);
    let extra: Vec<char> = {
        let mut extra: Vec<char> = granted.chars().filter(|c| *c != 'r' && *c != 'l').collect();
        extra.dedup();
        extra.sort_unstable();
        extra.dedup();
        extra
    };
    let missing: Vec<char> = ['r', 'l'].into_iter().filter(|c| !has(*c)).collect();
    if extra.is_empty() && missing.is_empty() {
        return Ok(());
    }
    let names = |letters: &[char]| {
        letters
            .iter()
            .map(|c| permission_name(*c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let granted_letters: Vec<char> = granted.chars().collect();
    let granted_names = if granted.is_empty() {
        "no permissions".to_string()
    } else {
        names(&granted_letters)
    };
    let mut fix = Vec::new();
    if !extra.is_empty() {
        fix.push(format!("remove {}", names(&extra)));
    }
    if !missing.is_empty() {
        fix.push(format!("add {}", names(&missing)));
    }
    Err(SasError::Permissions {
        granted: granted.to_string(),
        granted_names,
        fix: fix.join(" and "),
    })
}

/// Replace the value of every `sig=` parameter in `text` with `REDACTED`: in URLs, query
/// strings, JSON strings and log lines, matched without regard to case, also when the query is
/// itself percent-encoded (`sig%3D…%26`).
pub fn redact(text: &str) -> String {
    const PLAIN: &str = "sig=";
    const ENCODED: &str = "sig%3d";
    // ASCII lowercasing keeps every byte offset, so offsets found in `lower` index `text`.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at < lower.len() {
        let rest = &lower[at..];
        let key_len = if rest.starts_with(PLAIN) {
            PLAIN.len()
        } else if rest.starts_with(ENCODED) {
            ENCODED.len()
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let value_start = at + key_len;
        let value_end = value_start + value_len(&lower[value_start..]);
        out.push_str(&text[copied..value_start]);
        if value_end > value_start {
            out.push_str("REDACTED");
        }
        copied = value_end;
        at = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Length of a parameter value: up to the next separator, quote, whitespace or encoded `&`.
fn value_len(rest: &str) -> usize {
    let mut len = 0;
    for (i, c) in rest.char_indices() {
        if matches!(
            c,
            '&' | '"' | '\'' | '<' | '>' | '\\' | ',' | ';' | ')' | ']' | '}' | '#' | '`'
        ) || c.is_whitespace()
            || rest[i..].starts_with("%26")
        {
            return i;
        }
        len = i + c.len_utf8();
    }
    len
}

/// Build a service SAS for a whole container (`sr=c`), signed with the account key as the
/// storage service does for version [`SIGNED_VERSION`]. Returns the token without `?`
/// (`sp=…&st=…&se=…&sv=…&sr=c&sig=…`).
pub fn sign_container_sas(
    account: &str,
    key_base64: &str,
    container: &str,
    permissions: &str,
    start: DateTime<Utc>,
    expiry: DateTime<Utc>,
) -> Result<String, SasError> {
    let key = BASE64
        .decode(key_base64.trim())
        .map_err(|_| SasError::InvalidAccountKey)?;
    let st = format_time(start);
    let se = format_time(expiry);
    let canonical = format!("/blob/{account}/{container}");
    // The 2020-12-06 service SAS string-to-sign: permissions, start, expiry, resource,
    // identifier, IP range, protocol, version, resource type, snapshot time, encryption scope,
    // then the five response-header overrides (rscc, rscd, rsce, rscl, rsct).
    let fields = [
        permissions,
        st.as_str(),
        se.as_str(),
        canonical.as_str(),
        "",
        "",
        "",
        SIGNED_VERSION,
        "c",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ];
    let string_to_sign = fields.join("\n");
    let signature = hmac_sha256_base64(&key, &string_to_sign)?;
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    Ok(format!(
        "sp={}&st={}&se={}&sv={}&sr=c&sig={}",
        encode(permissions),
        encode(&st),
        encode(&se),
        SIGNED_VERSION,
        encode(&signature)
    ))
}

/// Base64 of HMAC-SHA256(`key`, `message`): the signature of SAS tokens and SharedKey requests.
pub(crate) fn hmac_sha256_base64(key: &[u8], message: &str) -> Result<String, SasError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| SasError::InvalidAccountKey)?;
    mac.update(message.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    const NOW: (i32, u32, u32, u32) = (2026, 6, 1, 12);

    fn now() -> DateTime<Utc> {
        at(NOW.0, NOW.1, NOW.2, NOW.3)
    }

    fn token(sp: &str) -> String {
        format!(
            "sp={sp}&st=2026-05-01T00:00:00Z&se=2026-07-01T00:00:00Z&spr=https&sv=2022-11-02&sr=c&sig=AbC%2Bd%2Fe%3D"
        )
    }

    fn check(t: &str) -> Result<(), SasError> {
        SasToken::parse(t)?.check(now(), chrono::Duration::minutes(5))
    }

    #[test]
    fn read_list_in_either_order_is_accepted() {
        assert_eq!(check(&token("rl")), Ok(()));
        assert_eq!(check(&token("lr")), Ok(()));
        let parsed = SasToken::parse(&token("rl")).map_err(|e| e.to_string());
        let parsed = parsed.as_ref().ok();
        assert_eq!(parsed.and_then(|t| t.permissions()), Some("rl"));
        assert_eq!(parsed.and_then(|t| t.version()), Some("2022-11-02"));
        assert_eq!(parsed.and_then(|t| t.resource()), Some("c"));
        assert_eq!(parsed.and_then(|t| t.expiry()), Some(at(2026, 7, 1, 0)));
        assert_eq!(parsed.and_then(|t| t.start()), Some(at(2026, 5, 1, 0)));
    }

    #[test]
    fn extra_permissions_are_refused_naming_granted_and_required() {
        for (sp, extra) in [
            ("rwl", "write"),
            ("rld", "delete"),
            ("racl", "add, create"),
            ("rlc", "create"),
        ] {
            let err = check(&token(sp));
            let Err(SasError::Permissions { granted, fix, .. }) = &err else {
                panic!("{sp}: {err:?}");
            };
            assert_eq!(granted, sp);
            assert_eq!(fix, &format!("remove {extra}"));
            let message = err.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(&format!("grants '{sp}'")), "{message}");
            assert!(
                message.contains("exactly Read and List ('rl')"),
                "{message}"
            );
        }
        let err = check(&token("rwl")).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "the SAS token grants 'rwl' (read, write, list) but LRS requires exactly Read and List ('rl'): remove write"
            )
        );
    }

    #[test]
    fn missing_read_or_list_is_refused() {
        let message = |sp: &str| check(&token(sp)).err().map(|e| e.to_string());
        assert_eq!(
            message("r").as_deref(),
            Some(
                "the SAS token grants 'r' (read) but LRS requires exactly Read and List ('rl'): add list"
            )
        );
        assert!(message("l").is_some_and(|m| m.ends_with("add read")));
        assert!(message("w").is_some_and(|m| m.ends_with("remove write and add read, list")));
        let no_sp = "st=2026-05-01T00:00:00Z&se=2026-07-01T00:00:00Z&sr=c&sig=abc";
        assert!(
            check(no_sp)
                .err()
                .is_some_and(|e| e.to_string().contains("grants '' (no permissions)"))
        );
    }

    #[test]
    fn leading_question_mark_is_refused_specifically() {
        let err = SasToken::parse(&format!("?{}", token("rl")));
        assert_eq!(err, Err(SasError::LeadingQuestionMark));
        assert!(
            SasError::LeadingQuestionMark
                .to_string()
                .contains("after the '?'")
        );
    }

    #[test]
    fn validity_window_with_skew() {
        let skew = chrono::Duration::minutes(5);
        let future = "sp=rl&st=2026-06-01T12:10:00Z&se=2026-07-01T00:00:00Z&sr=c&sig=abc";
        let parsed = SasToken::parse(future).map_err(|e| e.to_string());
        assert_eq!(
            parsed.as_ref().map(|t| t.check(now(), skew)),
            Ok(Err(SasError::NotYetValid {
                start: "2026-06-01T12:10:00Z".into(),
                now: "2026-06-01T12:00:00Z".into()
            }))
        );
        // Within the skew: accepted.
        let soon = "sp=rl&st=2026-06-01T12:04:00Z&se=2026-07-01T00:00:00Z&sr=c&sig=abc";
        assert_eq!(check(soon), Ok(()));

        let expired = "sp=rl&st=2026-05-01&se=2026-06-01T11:50:00Z&sr=c&sig=abc";
        let err = check(expired);
        assert_eq!(
            err,
            Err(SasError::Expired {
                expiry: "2026-06-01T11:50:00Z".into(),
                now: "2026-06-01T12:00:00Z".into()
            })
        );
        assert!(err.err().is_some_and(|e| e.to_string().contains(
            "expired at 2026-06-01T11:50:00Z UTC (se) and it is now 2026-06-01T12:00:00Z UTC"
        )));
        let just_expired = "sp=rl&se=2026-06-01T11:56:00Z&sr=c&sig=abc";
        assert_eq!(check(just_expired), Ok(()));
    }

    #[test]
    fn time_formats() {
        let parse = |v: &str| parse_time("se", v);
        assert_eq!(parse("2026-06-01"), Ok(at(2026, 6, 1, 0)));
        assert_eq!(parse("2026-06-01T12:00Z"), Ok(at(2026, 6, 1, 12)));
        assert_eq!(parse("2026-06-01T12:00:00Z"), Ok(at(2026, 6, 1, 12)));
        assert_eq!(
            parse("2026-06-01T12:00:00.0000000Z"),
            Ok(at(2026, 6, 1, 12))
        );
        assert_eq!(parse("2026-06-01T14:00:00+02:00"), Ok(at(2026, 6, 1, 12)));
        // Percent-encoded colons, as tokens carry them, are decoded before.
        let t = SasToken::parse("sp=rl&se=2026-06-01T12%3A00%3A00Z&sig=x");
        assert_eq!(t.map(|t| t.expiry()), Ok(Some(at(2026, 6, 1, 12))));
        assert_eq!(
            parse("June 1st"),
            Err(SasError::Malformed(
                "se 'June 1st' is not an ISO 8601 UTC time such as 2026-01-31T23:59:59Z".into()
            ))
        );
    }

    #[test]
    fn malformed_tokens() {
        assert_eq!(SasToken::parse("   "), Err(SasError::Empty));
        assert_eq!(
            SasToken::parse("sp=rl&se=2026-07-01"),
            Err(SasError::Malformed(
                "it has no signature (sig): copy the whole token".into()
            ))
        );
        assert_eq!(
            SasToken::parse("sp=rl&sig=abc"),
            Err(SasError::Malformed(
                "it has no expiry time (se): copy the whole token".into()
            ))
        );
        let err = SasToken::parse("sp=rl&se=2026-07-01&secretvalue");
        assert_eq!(
            err,
            Err(SasError::Malformed(
                "parameter 3 has no '=' (expected name=value pairs separated by '&')".into()
            ))
        );
        assert!(!format!("{err:?}").contains("secretvalue"));
        assert_eq!(
            SasToken::parse("sp=rl&sp=r&se=2026-07-01&sig=a"),
            Err(SasError::Malformed("parameter 'sp' is given twice".into()))
        );
    }

    #[test]
    fn stored_access_policy_is_unsupported() {
        // A policy token has no se of its own: parsing succeeds, the rule refuses it.
        let t = SasToken::parse("si=migration-policy&sv=2022-11-02&sr=c&sig=abc");
        let t = t.map_err(|e| e.to_string());
        assert_eq!(
            t.as_ref().map(|t| t.check(now(), chrono::Duration::zero())),
            Ok(Err(SasError::StoredAccessPolicy {
                identifier: "migration-policy".into()
            }))
        );
        assert!(
            SasError::StoredAccessPolicy {
                identifier: "p".into()
            }
            .to_string()
            .contains("does not support SAS tokens from stored access policies")
        );
    }

    #[test]
    fn blob_scoped_tokens_are_refused() {
        let t = "sp=rl&se=2026-07-01&sr=b&sig=abc";
        assert_eq!(
            check(t),
            Err(SasError::NotContainerScoped {
                resource: "b".into(),
                scope: "a single blob".into()
            })
        );
        // An account SAS has no sr: only the permission rule applies.
        let account = "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-07-01&sig=abc";
        assert_eq!(check(account), Ok(()));
    }

    #[test]
    fn uri_with_query_is_refused() {
        assert_eq!(
            check_uri("https://acct.blob.core.windows.net/backups/db1"),
            Ok(())
        );
        let err = check_uri("https://acct.blob.core.windows.net/backups/db1?sp=rl&sig=secret");
        assert_eq!(err, Err(SasError::UriHasQuery));
        assert!(
            !err.err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("secret")
        );
    }

    #[test]
    fn debug_hides_the_signature() {
        let t = SasToken::parse("sp=rl&se=2026-07-01&sig=TopSecretSig%3D");
        let debug = format!("{t:?}");
        assert!(!debug.contains("TopSecret"), "{debug}");
        assert!(debug.contains("\"rl\""), "{debug}");
    }

    #[test]
    fn redact_every_signature() {
        assert_eq!(
            redact("https://a.blob.core.windows.net/c?sp=rl&sig=abc%2Bdef%3D&se=2026"),
            "https://a.blob.core.windows.net/c?sp=rl&sig=REDACTED&se=2026"
        );
        assert_eq!(redact("SIG=abc+/="), "SIG=REDACTED");
        assert_eq!(
            redact(r#"{"storageContainerSasToken":"sv=2020&Sig=x/y+z=","a":1}"#),
            r#"{"storageContainerSasToken":"sv=2020&Sig=REDACTED","a":1}"#
        );
        assert_eq!(
            redact("two: ?sig=one&x=1 and 'sig=two' done"),
            "two: ?sig=REDACTED&x=1 and 'sig=REDACTED' done"
        );
        // A SAS URL nested, percent-encoded, in another URL.
        assert_eq!(
            redact("redirect=https%3A%2F%2Fa%2Fc%3Fsp%3Drl%26sig%3Dq%2Bw%3D%26se%3Dx"),
            "redirect=https%3A%2F%2Fa%2Fc%3Fsp%3Drl%26sig%3DREDACTED%26se%3Dx"
        );
        assert_eq!(redact("sig= nothing"), "sig= nothing");
        assert_eq!(redact("no secrets here: ß"), "no secrets here: ß");
        assert_eq!(redact("ends with sig="), "ends with sig=");
        assert_eq!(redact("é sig=ünïcode"), "é sig=REDACTED");
    }

    #[test]
    fn signing_is_deterministic_and_shaped_like_a_portal_token() {
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        let token = sign_container_sas(
            "devstoreaccount1",
            key,
            "backups",
            "rl",
            at(2026, 1, 1, 0),
            at(2026, 1, 2, 0),
        );
        let token = token.map_err(|e| e.to_string());
        let Ok(token) = token else {
            panic!("{token:?}");
        };
        assert!(
            token.starts_with(
                "sp=rl&st=2026-01-01T00%3A00%3A00Z&se=2026-01-02T00%3A00%3A00Z&sv=2020-12-06&sr=c&sig="
            ),
            "{token}"
        );
        // The signature is HMAC-SHA256 over the documented string-to-sign.
        let expected_string = "rl\n2026-01-01T00:00:00Z\n2026-01-02T00:00:00Z\n/blob/devstoreaccount1/backups\n\n\n\n2020-12-06\nc\n\n\n\n\n\n\n";
        let key_bytes = BASE64.decode(key).unwrap_or_default();
        let expected_sig = hmac_sha256_base64(&key_bytes, expected_string).unwrap_or_default();
        let sig = query_pairs(&token)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "sig")
            .map(|(_, v)| v);
        assert_eq!(sig.as_deref(), Some(expected_sig.as_str()));
        // The token passes LRS's rules inside its window.
        let t = SasToken::parse(&token).map_err(|e| e.to_string());
        assert_eq!(
            t.map(|t| t.check(at(2026, 1, 1, 12), chrono::Duration::zero())),
            Ok(Ok(()))
        );
        assert_eq!(
            sign_container_sas("a", "not base64!", "c", "rl", now(), now()),
            Err(SasError::InvalidAccountKey)
        );
    }
}
