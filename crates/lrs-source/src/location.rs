//! Where a source folder is, parsed from the URI a user gives as `storageContainerUri`.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::SourceError;
use crate::sas::{SasError, check_uri, redact};
use crate::settings::SourceSettings;

/// A parsed source location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local folder.
    Local {
        /// Absolute path of the folder.
        dir: PathBuf,
    },
    /// A folder in an Azure Blob Storage (or Azurite) container.
    Azure {
        /// The account's blob endpoint: `https://acct.blob.core.windows.net`, or for
        /// path-style emulator URLs `http://host:port/acct`.
        service: Url,
        /// Storage account name.
        account: String,
        /// Container name.
        container: String,
        /// Folder inside the container (`a/b`, empty for the container root).
        folder: String,
    },
    /// A prefix in an S3 bucket.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Folder inside the bucket (`a/b`, empty for the bucket root).
        folder: String,
    },
}

impl Location {
    /// The folder as shown in messages (never carries credentials: URIs with a query are
    /// refused when parsing).
    pub(crate) fn describe(&self) -> String {
        match self {
            Location::Local { dir } => format!("file://{}", dir.display()),
            Location::Azure {
                service,
                container,
                folder,
                ..
            } => join(
                &format!("{}/{container}", service.as_str().trim_end_matches('/')),
                folder,
            ),
            Location::S3 { bucket, folder } => join(&format!("s3://{bucket}"), folder),
        }
    }
}

fn join(base: &str, folder: &str) -> String {
    if folder.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{folder}")
    }
}

fn invalid(uri: &str, why: impl std::fmt::Display) -> SourceError {
    SourceError::Invalid(redact(&format!("storage URI '{uri}': {why}")))
}

/// Parse `uri`: `https://{account}.blob.core.windows.net/{container}[/{folder…}]`, path-style
/// emulator URLs `http(s)://{host}:{port}/{account}/{container}[/{folder…}]`, `file:///…` or a
/// plain path, and `s3://{bucket}[/{folder…}]`.
pub(crate) fn parse(uri: &str, settings: &SourceSettings) -> Result<Location, SourceError> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Err(SourceError::Invalid(
            "the storage container URI is empty".into(),
        ));
    }
    if let Err(e @ SasError::UriHasQuery) = check_uri(uri) {
        // The query may hold a signature: show only the part before it.
        let shown = uri.split('?').next().unwrap_or_default();
        return Err(invalid(shown, e));
    }
    if !uri.contains("://") && !uri.starts_with("file:") {
        return local_path(uri, settings);
    }
    let url = Url::parse(uri).map_err(|e| invalid(uri, format!("not a valid URL ({e})")))?;
    if url.fragment().is_some() {
        return Err(invalid(uri, "a storage URI has no '#' fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            &url_without_credentials(&url),
            "credentials in the URI are not supported: give a SAS token or use a managed identity",
        ));
    }
    match url.scheme() {
        "file" => {
            let dir = url.to_file_path().map_err(|()| {
                invalid(
                    uri,
                    "not an absolute local path (use file:///absolute/path)",
                )
            })?;
            local(dir, uri, settings)
        }
        "s3" => {
            let bucket = url
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| invalid(uri, "no bucket (use s3://bucket/folder)"))?
                .to_string();
            Ok(Location::S3 {
                bucket,
                folder: segments(&url, 0, uri)?,
            })
        }
        "http" | "https" => azure(&url, uri, settings),
        other => Err(invalid(
            uri,
            format!(
                "unsupported scheme '{other}': use https://{{account}}.blob.core.windows.net/{{container}}/{{folder}}, \
                 http://{{emulator host}}:{{port}}/{{account}}/{{container}}/{{folder}}, file:///{{path}} or s3://{{bucket}}/{{folder}}"
            ),
        )),
    }
}

fn url_without_credentials(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

fn local_path(uri: &str, settings: &SourceSettings) -> Result<Location, SourceError> {
    let dir = std::path::absolute(uri)
        .map_err(|e| invalid(uri, format!("not a usable local path ({e})")))?;
    local(dir, uri, settings)
}

/// A local folder, if it lies under one of the configured roots: the path is resolved first
/// (symlinks and `..` of the part that exists, `..` lexically beyond), so neither can step out.
fn local(dir: PathBuf, uri: &str, settings: &SourceSettings) -> Result<Location, SourceError> {
    let Some(roots) = &settings.local_roots else {
        return Ok(Location::Local { dir });
    };
    let resolved = resolve(&dir);
    let inside = roots.iter().any(|root| resolved.starts_with(resolve(root)));
    if !inside {
        return Err(SourceError::Invalid(format!(
            "storage URI '{uri}': local folders are served only under the roots this server was \
             started with (lrs serve --local-root DIR); this one is outside them"
        )));
    }
    Ok(Location::Local { dir: resolved })
}

/// `path` with symlinks resolved as far as it exists and `.`/`..` removed.
fn resolve(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(std::ffi::OsStr::to_os_string),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    let mut normal = PathBuf::new();
    for component in out.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other.as_os_str()),
        }
    }
    normal
}

fn azure(url: &Url, uri: &str, settings: &SourceSettings) -> Result<Location, SourceError> {
    let host = url
        .host()
        .ok_or_else(|| invalid(uri, "no host in the URL"))?;
    let host_name = url.host_str().unwrap_or_default();
    let host_port = match url.port() {
        Some(port) => format!("{host_name}:{port}"),
        None => host_name.to_string(),
    };
    // Storage is read only from Azure's own blob endpoints, loopback emulators and the emulator
    // hosts the operator named: an API client must not make this server fetch from any host.
    let configured = settings
        .emulator_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host_name) || h.eq_ignore_ascii_case(&host_port));
    let path_style = match host {
        Host::Ipv4(ip) => {
            if !(ip.is_loopback() || configured) {
                return Err(foreign_host(uri, host_name));
            }
            true
        }
        Host::Ipv6(ip) => {
            if !(ip.is_loopback() || configured) {
                return Err(foreign_host(uri, host_name));
            }
            true
        }
        Host::Domain(d) => {
            let path_style = d.eq_ignore_ascii_case("localhost") || configured;
            if !path_style && !is_azure_blob_host(d) {
                return Err(foreign_host(uri, host_name));
            }
            path_style
        }
    };
    let mut service = url.clone();
    service.set_query(None);
    service.set_fragment(None);
    let (account, first_segment) = if path_style {
        let account = nth_segment(url, 0)
            .ok_or_else(|| invalid(uri, "no storage account in the path (emulator URLs are http://host:port/{account}/{container}/{folder})"))?;
        service.set_path(&format!("/{account}"));
        (account, 1)
    } else {
        let account = host_name
            .split_once(".blob.")
            .map(|(account, _)| account.to_string())
            .filter(|a| !a.is_empty() && !a.contains('.'))
            .ok_or_else(|| {
                invalid(
                    uri,
                    format!(
                        "host '{host_name}' is neither an Azure Blob Storage endpoint ({{account}}.blob.core.windows.net) \
                         nor a path-style emulator endpoint (an IP address, localhost, or a host listed in the emulator hosts setting)"
                    ),
                )
            })?;
        service.set_path("");
        (account, 0)
    };
    let container =
        nth_segment(url, first_segment).ok_or_else(|| invalid(uri, "no container in the path"))?;
    check_container_name(&container).map_err(|why| invalid(uri, why))?;
    Ok(Location::Azure {
        service,
        account,
        container,
        folder: segments(url, first_segment + 1, uri)?,
    })
}

/// Blob endpoints of Azure's clouds: `{account}.blob.{suffix}`.
const AZURE_BLOB_SUFFIXES: &[&str] = &[
    ".blob.core.windows.net",
    ".blob.core.chinacloudapi.cn",
    ".blob.core.usgovcloudapi.net",
    ".blob.core.cloudapi.de",
];

fn is_azure_blob_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    AZURE_BLOB_SUFFIXES.iter().any(|suffix| {
        host.strip_suffix(suffix)
            .is_some_and(|account| !account.is_empty() && !account.contains('.'))
    })
}

fn foreign_host(uri: &str, host: &str) -> SourceError {
    invalid(
        uri,
        format!(
            "host '{host}' is not an Azure Blob Storage endpoint ({{account}}.blob.core.windows.net), \
             a loopback emulator, or an emulator host this server was configured with \
             (--emulator-host)"
        ),
    )
}

/// Azure's container naming rules: 3–63 lowercase letters, digits and single dashes, starting
/// and ending with a letter or digit (`$root` aside).
fn check_container_name(name: &str) -> Result<(), String> {
    if name == "$root" {
        return Ok(());
    }
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(3..=63).contains(&name.len())
        || !valid_chars
        || name.starts_with('-')
        || name.ends_with('-')
        || name.contains("--")
    {
        return Err(format!(
            "'{name}' is not a valid container name (3 to 63 lowercase letters, digits and single dashes, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

fn decoded_segments(url: &Url) -> Vec<String> {
    url.path_segments()
        .map(|s| {
            s.filter(|seg| !seg.is_empty())
                .map(|seg| percent_decode_str(seg).decode_utf8_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn nth_segment(url: &Url, n: usize) -> Option<String> {
    decoded_segments(url).into_iter().nth(n)
}

/// The path segments from `from` on, decoded and joined with `/`: the folder.
fn segments(url: &Url, from: usize, uri: &str) -> Result<String, SourceError> {
    let parts: Vec<String> = decoded_segments(url).into_iter().skip(from).collect();
    if let Some(bad) = parts
        .iter()
        .find(|p| *p == "." || *p == ".." || p.contains('/'))
    {
        return Err(invalid(
            uri,
            format!("folder segment '{bad}' is not allowed"),
        ));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(uri: &str) -> Location {
        parse(uri, &SourceSettings::default()).expect("parses")
    }

    fn azure(service: &str, account: &str, container: &str, folder: &str) -> Location {
        Location::Azure {
            service: Url::parse(service).expect("url"),
            account: account.into(),
            container: container.into(),
            folder: folder.into(),
        }
    }

    #[test]
    fn azure_public_endpoint() {
        assert_eq!(
            parse_ok("https://myacct.blob.core.windows.net/backups/db1"),
            azure(
                "https://myacct.blob.core.windows.net",
                "myacct",
                "backups",
                "db1"
            )
        );
        assert_eq!(
            parse_ok("https://myacct.blob.core.windows.net/backups/"),
            azure(
                "https://myacct.blob.core.windows.net",
                "myacct",
                "backups",
                ""
            )
        );
        assert_eq!(
            parse_ok("https://myacct.blob.core.windows.net/backups/a%20b/c"),
            azure(
                "https://myacct.blob.core.windows.net",
                "myacct",
                "backups",
                "a b/c"
            )
        );
        // Sovereign clouds share the shape.
        assert_eq!(
            parse_ok("https://acct2.blob.core.chinacloudapi.cn/c01/x"),
            azure(
                "https://acct2.blob.core.chinacloudapi.cn",
                "acct2",
                "c01",
                "x"
            )
        );
        assert_eq!(
            parse_ok("https://myacct.blob.core.windows.net/backups/db1").describe(),
            "https://myacct.blob.core.windows.net/backups/db1"
        );
    }

    #[test]
    fn path_style_emulator_urls() {
        assert_eq!(
            parse_ok("http://127.0.0.1:10000/devstoreaccount1/backups/db1/"),
            azure(
                "http://127.0.0.1:10000/devstoreaccount1",
                "devstoreaccount1",
                "backups",
                "db1"
            )
        );
        assert_eq!(
            parse_ok("http://localhost:10000/devstoreaccount1/backups").describe(),
            "http://localhost:10000/devstoreaccount1/backups"
        );
        assert_eq!(
            parse_ok("http://[::1]:10000/acct/backups/a/b"),
            azure("http://[::1]:10000/acct", "acct", "backups", "a/b")
        );
        // A named host is path-style only when configured.
        let settings = SourceSettings {
            emulator_hosts: vec!["azurite:10000".into()],
            ..SourceSettings::default()
        };
        assert_eq!(
            parse("http://azurite:10000/devstoreaccount1/c01/f", &settings).expect("parses"),
            azure(
                "http://azurite:10000/devstoreaccount1",
                "devstoreaccount1",
                "c01",
                "f"
            )
        );
        let err = parse(
            "http://azurite:10000/devstoreaccount1/c01/f",
            &SourceSettings::default(),
        );
        assert!(
            matches!(&err, Err(SourceError::Invalid(m)) if m.contains("is not an Azure Blob Storage endpoint")),
            "{err:?}"
        );
    }

    #[test]
    fn only_azure_loopback_and_configured_hosts_are_read() {
        let refused = |uri: &str, settings: &SourceSettings| matches!(parse(uri, settings), Err(SourceError::Invalid(m)) if m.contains("is not an Azure Blob Storage endpoint"));
        let default = SourceSettings::default();
        for uri in [
            "http://10.0.0.5:10000/devstoreaccount1/c01/f",
            "http://192.168.1.1/devstoreaccount1/c01",
            "http://[fe80::1]:10000/devstoreaccount1/c01",
            "https://evil.blob.attacker.example/c01",
            "https://a.b.blob.core.windows.net/c01",
            "https://example.com/c01",
        ] {
            assert!(refused(uri, &default), "{uri}");
        }
        for uri in [
            "http://127.0.0.1:10000/devstoreaccount1/c01/f",
            "http://127.1.2.3:10000/devstoreaccount1/c01",
            "http://[::1]:10000/devstoreaccount1/c01",
            "http://localhost:10000/devstoreaccount1/c01",
            "https://acct.blob.core.windows.net/c01/f",
            "https://acct.blob.core.chinacloudapi.cn/c01",
        ] {
            assert!(parse(uri, &default).is_ok(), "{uri}");
        }
        let configured = SourceSettings {
            emulator_hosts: vec!["10.0.0.5:10000".into()],
            ..SourceSettings::default()
        };
        assert!(!refused(
            "http://10.0.0.5:10000/devstoreaccount1/c01/f",
            &configured
        ));
    }

    #[test]
    fn local_folders_only_under_the_roots_and_not_through_symlinks() {
        let root = tempfile::tempdir().expect("dir");
        let backups = root.path().join("backups");
        std::fs::create_dir_all(backups.join("db1")).expect("mkdir");
        let outside = tempfile::tempdir().expect("dir");
        std::os::unix::fs::symlink(outside.path(), backups.join("escape")).expect("symlink");
        let settings = SourceSettings {
            local_roots: Some(vec![backups.clone()]),
            ..SourceSettings::default()
        };
        let uri = |p: &std::path::Path| format!("file://{}", p.display());
        assert!(parse(&uri(&backups.join("db1")), &settings).is_ok());
        assert!(
            parse(&uri(&backups.join("later")), &settings).is_ok(),
            "not there yet"
        );
        for escaping in [
            outside.path().to_path_buf(),
            backups.join("escape"),
            backups.join("db1/../../etc"),
            PathBuf::from("/etc"),
        ] {
            assert!(
                matches!(parse(&uri(&escaping), &settings), Err(SourceError::Invalid(m)) if m.contains("--local-root")),
                "{}",
                escaping.display()
            );
        }
        let none = SourceSettings {
            local_roots: Some(Vec::new()),
            ..SourceSettings::default()
        };
        assert!(parse(&uri(&backups.join("db1")), &none).is_err());
    }

    #[test]
    fn local_and_s3() {
        assert_eq!(
            parse_ok("file:///var/backups/db1"),
            Location::Local {
                dir: PathBuf::from("/var/backups/db1")
            }
        );
        assert_eq!(
            parse_ok("/var/backups/db1"),
            Location::Local {
                dir: PathBuf::from("/var/backups/db1")
            }
        );
        let relative = parse_ok("backups/db1");
        let Location::Local { dir } = relative else {
            panic!("{relative:?}")
        };
        assert!(dir.is_absolute() && dir.ends_with("backups/db1"), "{dir:?}");
        assert_eq!(
            parse_ok("s3://bucket/prefix/db1"),
            Location::S3 {
                bucket: "bucket".into(),
                folder: "prefix/db1".into()
            }
        );
        assert_eq!(parse_ok("s3://bucket").describe(), "s3://bucket");
    }

    #[test]
    fn bad_uris_get_specific_errors() {
        let msg = |uri: &str| match parse(uri, &SourceSettings::default()) {
            Err(SourceError::Invalid(m)) => m,
            other => panic!("{uri}: {other:?}"),
        };
        let m = msg("https://a.blob.core.windows.net/c01/db?sp=rl&sig=SECRET");
        assert!(m.contains("carries a query string"), "{m}");
        assert!(!m.contains("SECRET"), "{m}");
        assert!(msg("ftp://host/x").contains("unsupported scheme 'ftp'"));
        assert!(msg("https://a.blob.core.windows.net").contains("no container"));
        assert!(
            msg("https://a.blob.core.windows.net/Backups").contains("not a valid container name")
        );
        assert!(msg("http://127.0.0.1:10000/").contains("no storage account"));
        assert!(msg("https://example.com/c01").contains("is not an Azure Blob Storage endpoint"));
        let m = msg("https://user:pw@a.blob.core.windows.net/c01");
        assert!(
            m.contains("credentials in the URI") && !m.contains("pw"),
            "{m}"
        );
        assert!(msg("  ").contains("empty"));
        let m = msg("https://a.blob.core.windows.net/c01/db#sp=rl&sig=SECRET");
        assert!(m.contains("fragment") && !m.contains("SECRET"), "{m}");
        assert!(msg("s3:///x").contains("no bucket"));
    }
}
