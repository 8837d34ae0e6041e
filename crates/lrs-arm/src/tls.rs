//! TLS for the HTTPS listener: the configured certificate, or one generated on first start.
//!
//! The generated material is a small private CA plus a server certificate it signs (SAN
//! `localhost`, `127.0.0.1`, `::1`). `tls/cert.pem` holds the server certificate followed by
//! the CA certificate: the listener serves it as its chain, and clients use the same file as a
//! CA bundle (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `connection_verify`); `tls/ca.pem` holds the
//! CA alone. A separate CA is needed because verifiers such as webpki refuse a server
//! certificate that is itself a CA. The CA's private key is never written anywhere, and the CA
//! is name-constrained to the loopback names, so trusting it cannot vouch for any other host.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::write_private;
use crate::server::ServeError;

/// The names the generated certificate is valid for.
pub const GENERATED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Years the generated certificates are valid.
const VALIDITY_YEARS: i32 = 10;

/// Install ring as rustls' process-wide crypto provider; harmless when one is installed.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS setup of the HTTPS listener.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    /// rustls configuration (h2 and http/1.1).
    pub(crate) config: Arc<ServerConfig>,
    /// The PEM file clients should trust (the served chain; for generated material, it ends
    /// with the CA).
    pub(crate) cert_path: PathBuf,
}

/// Load `cert`/`key` when given, else the generated pair under `data_dir/tls` (generated on
/// first use).
pub(crate) fn setup(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<TlsSetup, ServeError> {
    let (cert_path, key_path) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf()),
        (None, None) => ensure_generated(&data_dir.join("tls"))?,
        _ => {
            return Err(ServeError::Config(
                "tls_cert and tls_key must be given together (or neither, to use the \
                 generated certificate)"
                    .into(),
            ));
        }
    };
    let chain = load_chain(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| ServeError::Tls {
        path: key_path.clone(),
        reason: format!("no usable PEM private key: {e}"),
    })?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ServeError::Tls {
                path: cert_path.clone(),
                reason: format!("TLS protocol setup failed: {e}"),
            })?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| ServeError::Tls {
                path: cert_path.clone(),
                reason: format!("certificate and key do not form a usable pair: {e}"),
            })?;
    let mut config = config;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsSetup {
        config: Arc::new(config),
        cert_path,
    })
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServeError::Tls {
            path: path.to_path_buf(),
            reason: format!("cannot read PEM certificates: {e}"),
        })?;
    if chain.is_empty() {
        return Err(ServeError::Tls {
            path: path.to_path_buf(),
            reason: "the file holds no PEM certificate".into(),
        });
    }
    Ok(chain)
}

/// `dir/cert.pem` and `dir/key.pem`, generated unless both exist.
fn ensure_generated(dir: &Path) -> Result<(PathBuf, PathBuf), ServeError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: io::Error| ServeError::Io { path, source: e }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let generated = generate().map_err(|e| ServeError::Tls {
        path: cert_path.clone(),
        reason: format!("generating the certificate failed: {e}"),
    })?;
    // Key first: a crash between the two writes leaves no cert.pem, so the next start
    // generates again instead of pairing a certificate with the wrong key.
    write_private(&key_path, generated.key_pem.as_bytes()).map_err(io_err(&key_path))?;
    let ca_path = dir.join("ca.pem");
    fs::write(&ca_path, generated.ca_pem.as_bytes()).map_err(io_err(&ca_path))?;
    let bundle = format!("{}{}", generated.cert_pem, generated.ca_pem);
    fs::write(&cert_path, bundle.as_bytes()).map_err(io_err(&cert_path))?;
    tracing::info!(path = %cert_path.display(), "generated a TLS certificate for localhost, 127.0.0.1 and ::1");
    Ok((cert_path, key_path))
}

/// Freshly generated PEM material.
struct Generated {
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
}

/// Year, month, day of `t` (for `rcgen::date_time_ymd`).
fn ymd(t: chrono::DateTime<Utc>) -> (i32, u8, u8) {
    (
        t.year(),
        u8::try_from(t.month()).unwrap_or(1),
        u8::try_from(t.day()).unwrap_or(1),
    )
}

fn generate() -> Result<Generated, rcgen::Error> {
    let now = Utc::now();
    let (y, m, d) = ymd(now - Duration::days(1));
    let not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(now + Duration::days(365 * i64::from(VALIDITY_YEARS)));
    let not_after = rcgen::date_time_ymd(y, m, d);

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "LRS emulator local CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "LRS emulator");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                32,
            )),
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                128,
            )),
        ],
        excluded_subtrees: vec![],
    });
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = GENERATED_NAMES.iter().map(|s| s.to_string()).collect();
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "LRS emulator");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    Ok(Generated {
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
        ca_pem: ca_cert.pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_material_is_reused_and_loads() {
        install_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let first = setup(dir.path(), None, None).expect("generate");
        let cert_pem = fs::read_to_string(&first.cert_path).expect("cert.pem");
        assert_eq!(cert_pem.matches("BEGIN CERTIFICATE").count(), 2);
        let ca_pem = fs::read_to_string(dir.path().join("tls/ca.pem")).expect("ca.pem");
        assert!(cert_pem.ends_with(&ca_pem), "cert.pem ends with the CA");
        let key_pem = fs::read_to_string(dir.path().join("tls/key.pem")).expect("key.pem");
        assert!(key_pem.contains("PRIVATE KEY"));
        // No CA private key is written anywhere.
        let files: Vec<_> = fs::read_dir(dir.path().join("tls"))
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(files.len(), 3, "{files:?}");

        let second = setup(dir.path(), None, None).expect("reuse");
        assert_eq!(
            fs::read_to_string(&second.cert_path).expect("cert.pem"),
            cert_pem
        );
        assert_eq!(
            second.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn given_files_are_used_and_bad_ones_are_named() {
        install_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let generated = setup(dir.path(), None, None).expect("generate");
        let key = dir.path().join("tls/key.pem");
        let used = setup(
            Path::new("/nonexistent"),
            Some(&generated.cert_path),
            Some(&key),
        )
        .expect("given pair");
        assert_eq!(used.cert_path, generated.cert_path);

        let bogus = dir.path().join("bogus.pem");
        fs::write(&bogus, "not a certificate").expect("write");
        match setup(dir.path(), Some(&bogus), Some(&key)) {
            Err(ServeError::Tls { path, reason }) => {
                assert_eq!(path, bogus);
                assert!(reason.contains("no PEM certificate"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        match setup(dir.path(), Some(&generated.cert_path), None) {
            Err(ServeError::Config(msg)) => assert!(msg.contains("together")),
            other => panic!("{other:?}"),
        }
    }
}
