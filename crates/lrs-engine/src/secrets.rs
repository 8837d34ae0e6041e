//! Secrets at rest: SAS tokens are sealed (ChaCha20-Poly1305, a random nonce per token) before
//! the store sees them, with a key kept in the data folder readable by its owner only, so
//! neither the store's files nor a copy of the database reveal a token. Nodes that share a
//! store must share the key (`lrs serve --secrets-key-file`).

use std::fmt;
use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Prefix of a sealed value in the store (values without it are legacy plaintext).
const SEALED: &str = "sealed1:";

/// The key that seals stored secrets.
pub struct SecretKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A stored secret that cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a stored SAS token cannot be decrypted with this node's secrets key (was it sealed by a node \
     with another --secrets-key-file?)"
)]
pub struct SecretError;

impl SecretKey {
    /// A fresh random key (secrets die with the process: for tests).
    pub fn generate() -> io::Result<Self> {
        let rng = SystemRandom::new();
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)
            .map_err(|_| io::Error::other("the system random generator failed"))?;
        Self::from_bytes(&bytes)
    }

    /// The key stored at `path` (32 bytes, hex), created with owner-only permissions when
    /// missing.
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = parse_hex(text.trim()).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} does not hold a 64-digit hex key", path.display()),
                    )
                })?;
                Self::from_bytes(&bytes)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let mut bytes = [0u8; 32];
                rng.fill(&mut bytes)
                    .map_err(|_| io::Error::other("the system random generator failed"))?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                write_private(path, hex.as_bytes())?;
                Self::from_bytes(&bytes)
            }
            Err(e) => Err(e),
        }
    }

    fn from_bytes(bytes: &[u8; 32]) -> io::Result<Self> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| io::Error::other("invalid key length"))?;
        Ok(SecretKey {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// Seal `secret` for the store.
    pub fn seal(&self, secret: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SecretError)?;
        let mut data = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                &mut data,
            )
            .map_err(|_| SecretError)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{SEALED}{}", STANDARD.encode(out)))
    }

    /// Open a value sealed by [`SecretKey::seal`]; a value without the seal prefix (stored by
    /// an older version) is returned as it is.
    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_string());
        };
        let mut data = STANDARD.decode(encoded).map_err(|_| SecretError)?;
        if data.len() < NONCE_LEN {
            return Err(SecretError);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&data[..NONCE_LEN]);
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                &mut data[NONCE_LEN..],
            )
            .map_err(|_| SecretError)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError)
    }
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// Write a file readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=SECRET%3D";

    #[test]
    fn sealed_tokens_open_only_with_their_key_and_hide_the_signature() {
        let key = SecretKey::generate().expect("key");
        let sealed = key.seal(TOKEN).expect("seal");
        assert!(sealed.starts_with(SEALED));
        assert!(!sealed.contains("SECRET"), "{sealed}");
        assert_ne!(
            key.seal(TOKEN).expect("seal"),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed).expect("open"), TOKEN);
        let other = SecretKey::generate().expect("key");
        assert_eq!(other.open(&sealed), Err(SecretError));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert_eq!(key.open(&tampered), Err(SecretError));
        // Rows written before sealing existed are plaintext and still usable.
        assert_eq!(key.open(TOKEN).expect("legacy"), TOKEN);
    }

    #[test]
    fn the_key_file_is_created_owner_only_and_reloaded() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secrets.key");
        let first = SecretKey::load_or_create(&path).expect("create");
        let sealed = first.seal(TOKEN).expect("seal");
        let second = SecretKey::load_or_create(&path).expect("load");
        assert_eq!(second.open(&sealed).expect("open"), TOKEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").expect("corrupt");
        assert!(
            SecretKey::load_or_create(&path).is_err(),
            "a bad key is not replaced"
        );
    }
}
