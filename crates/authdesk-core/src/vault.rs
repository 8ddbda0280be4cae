//! The vault: seals secrets before they reach the store (SQLite or PostgreSQL).
//!
//! A random 256-bit data key lives in the OS keychain (one item per data directory or team
//! database, named by its vault id). Every secret is sealed with XChaCha20-Poly1305 under
//! that key, with associated data naming the vault, table, row and field it belongs to, so
//! a sealed value copied to another row or data directory does not open. Whoever writes the
//! sealed bytes writes them in the same transaction as their metadata.
//!
//! The keychain is the root of trust. When it is unavailable we say so; we never fall back
//! to a memory or plaintext store. The only alternatives, for headless servers, are an
//! explicit key file (`AUTHDESK_VAULT_KEY_FILE`) and a systemd credential
//! (`authdesk-vault-key`, read only), each refused unless its owner alone may read it.
//!
//! Must not: touch the store (it seals and opens; others write), or put a key or a
//! plaintext in an error or a log.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

const KEYCHAIN_SERVICE: &str = "authdesk";
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
/// Sealed with the data key when the vault is created; opening it proves a key is the
/// right one for this data directory before anything else is decrypted.
pub(crate) const KEY_CHECK_PLAINTEXT: &str = "authdesk key check";

/// Where the data key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The OS keychain through the `keyring` crate (Secret Service on Linux).
    Keychain,
    /// An explicit key file (headless servers only; weaker than the keychain).
    File(PathBuf),
    /// A systemd credential (`LoadCredentialEncrypted=authdesk-vault-key:...`): the key
    /// file systemd decrypts into the service's private credentials directory. Read only:
    /// Authdesk never writes it.
    Credential(PathBuf),
}

/// The name of the systemd credential holding the data key.
pub const CREDENTIAL_NAME: &str = "authdesk-vault-key";

impl KeySource {
    /// `AUTHDESK_VAULT_KEY_FILE` if set; else the systemd credential
    /// `$CREDENTIALS_DIRECTORY/authdesk-vault-key` if systemd passed one; else the keychain.
    pub fn from_env() -> KeySource {
        if let Some(p) = std::env::var_os("AUTHDESK_VAULT_KEY_FILE").filter(|p| !p.is_empty()) {
            return KeySource::File(PathBuf::from(p));
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
            let path = PathBuf::from(dir).join(CREDENTIAL_NAME);
            if path.exists() {
                return KeySource::Credential(path);
            }
        }
        KeySource::Keychain
    }

    pub fn describe(&self) -> String {
        match self {
            KeySource::Keychain => "the OS keychain".to_string(),
            KeySource::File(p) => format!("the key file {}", p.display()),
            KeySource::Credential(p) => format!("the systemd credential {}", p.display()),
        }
    }

    /// Loads the data key of `vault_id`.
    pub(crate) fn load(&self, vault_id: &str) -> Result<DataKey> {
        match self {
            KeySource::Keychain => {
                match crate::keychain::one_at_a_time(|| keychain_entry(vault_id)?.get_password()) {
                    Ok(text) => DataKey::from_base64(&Zeroizing::new(text)).ok_or_else(|| {
                        Error::VaultKeyMismatch {
                            source_name: self.describe(),
                            vault_id: vault_id.to_string(),
                        }
                    }),
                    Err(keyring::Error::NoEntry) => Err(Error::VaultKeyMissing {
                        vault_id: vault_id.to_string(),
                    }),
                    Err(e) => Err(keychain_error(e)),
                }
            }
            KeySource::File(path) | KeySource::Credential(path) => {
                read_key_file(path).map_err(|e| match e {
                    Error::VaultKeyFile { path, message } if message == NO_FILE => {
                        Error::VaultKeyFile {
                            path,
                            message: "does not exist, but the secrets here are already sealed \
                                      with a data key: copy that key file here (from another \
                                      replica, or from where `authdesk migrate --to-key-file` \
                                      wrote it) rather than starting a new one"
                                .into(),
                        }
                    }
                    other => other,
                })
            }
        }
    }

    /// Writes `key` as `vault_id`'s item in the keychain (replacing what is there).
    fn store_in_keychain(vault_id: &str, key: &DataKey) -> Result<()> {
        let text = key.to_base64();
        crate::keychain::one_at_a_time(|| keychain_entry(vault_id)?.set_password(&text))
            .map_err(keychain_error)
    }

    /// Stores a new data key for `vault_id`; for a key file, uses the file's key (creating
    /// the file if it does not exist yet).
    pub(crate) fn create(&self, vault_id: &str) -> Result<DataKey> {
        match self {
            KeySource::Keychain => {
                let key = DataKey::generate();
                KeySource::store_in_keychain(vault_id, &key)?;
                Ok(key)
            }
            KeySource::File(path) => match read_key_file(path) {
                Err(Error::VaultKeyFile { message, .. }) if message == NO_FILE => {
                    create_key_file(path)
                }
                other => other,
            },
            // systemd's copy is read-only: the key is the one the administrator put in it.
            KeySource::Credential(path) => read_key_file(path),
        }
    }
}

fn keychain_user(vault_id: &str) -> String {
    format!("data-key/{vault_id}")
}

/// How the data key's item is named in the keychain (`service` / `user`).
pub fn keychain_item_name(vault_id: &str) -> String {
    format!(
        "service={KEYCHAIN_SERVICE} username={}",
        keychain_user(vault_id)
    )
}

/// Call only inside [`crate::keychain::one_at_a_time`].
fn keychain_entry(vault_id: &str) -> std::result::Result<keyring::Entry, keyring::Error> {
    keyring::Entry::new(KEYCHAIN_SERVICE, &keychain_user(vault_id))
}

fn keychain_error(e: keyring::Error) -> Error {
    // keyring's errors describe the platform failure (no D-Bus, locked collection); they
    // never contain the stored value.
    match e {
        // The Secret Service answered but would not open the collection (locked, and the
        // unlock prompt was dismissed or could not be shown).
        keyring::Error::NoStorageAccess(_) => Error::KeychainLocked {
            detail: e.to_string(),
        },
        _ => Error::KeychainUnavailable {
            detail: e.to_string(),
        },
    }
}

/// Makes `keyring` use the Secret Service explicitly, so a build that lost the platform
/// feature fails to compile instead of silently using keyring's mock store.
pub fn use_platform_keychain() {
    #[cfg(target_os = "linux")]
    keyring::set_default_credential_builder(keyring::secret_service::default_credential_builder());
}

const NO_FILE: &str = "does not exist";

fn read_key_file(path: &Path) -> Result<DataKey> {
    let err = |message: String| Error::VaultKeyFile {
        path: path.to_path_buf(),
        message,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(err(NO_FILE.into())),
        Err(e) => return Err(err(format!("cannot be read ({e})"))),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "has mode {mode:04o}; it must be readable by its owner only: chmod 600 {}",
                path.display()
            )));
        }
    }
    if !meta.is_file() {
        return Err(err("is not a regular file".into()));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| err(format!("cannot be read ({e})")))?,
    );
    DataKey::from_base64(text.trim())
        .ok_or_else(|| err("does not hold a base64-encoded 32-byte key".into()))
}

fn create_key_file(path: &Path) -> Result<DataKey> {
    use std::io::Write;
    let key = DataKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(f) => f,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read_key_file(path),
        Err(e) => {
            return Err(Error::VaultKeyFile {
                path: path.to_path_buf(),
                message: format!("cannot be created ({e})"),
            })
        }
    };
    file.write_all(key.to_base64().as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::VaultKeyFile {
            path: path.to_path_buf(),
            message: format!("cannot be written ({e})"),
        })?;
    Ok(key)
}

/// The 256-bit data key. Zeroized on drop; never printed.
pub(crate) struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    fn generate() -> DataKey {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        DataKey(bytes)
    }

    fn from_base64(text: &str) -> Option<DataKey> {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?,
        );
        let mut bytes = Zeroizing::new([0u8; 32]);
        if decoded.len() != 32 {
            return None;
        }
        bytes.copy_from_slice(&decoded);
        Some(DataKey(bytes))
    }

    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*self.0))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// Where a sealed value belongs; becomes the AEAD's associated data.
#[derive(Debug, Clone, Copy)]
pub struct SealedAt<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub field: &'a str,
}

impl SealedAt<'_> {
    fn describe(&self) -> String {
        format!("{} row {} field {}", self.table, self.row, self.field)
    }
}

/// An opened vault: the data key of one data directory.
pub struct Vault {
    vault_id: String,
    cipher: XChaCha20Poly1305,
    /// Kept so the key can be written back to a keychain that lost it (the cipher holds
    /// the same bytes in memory anyway).
    key: DataKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({}, key [redacted])", self.vault_id)
    }
}

impl Vault {
    pub(crate) fn new(vault_id: String, key: &DataKey) -> Vault {
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key.0[..]));
        Vault {
            vault_id,
            cipher,
            key: DataKey(Zeroizing::new(*key.0)),
        }
    }

    /// Writes this vault's key to `source` (the keychain only: a key file or a systemd
    /// credential is the administrator's to restore).
    pub(crate) fn store_key_in(&self, source: &KeySource) -> Result<()> {
        match source {
            KeySource::Keychain => KeySource::store_in_keychain(&self.vault_id, &self.key),
            other => Err(Error::InvalidInput(format!(
                "the data key is kept in {}: Authdesk does not rewrite it",
                other.describe()
            ))),
        }
    }

    pub fn vault_id(&self) -> &str {
        &self.vault_id
    }

    fn aad(&self, at: &SealedAt<'_>) -> Vec<u8> {
        // Length-prefixed so no two locations share associated data.
        let mut aad = b"authdesk/v1".to_vec();
        for part in [self.vault_id.as_str(), at.table, at.row, at.field] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }

    /// Seals `plaintext` for the given location: `version || nonce || ciphertext+tag`.
    pub fn seal(&self, at: SealedAt<'_>, plaintext: &Secret) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = self.aad(&at);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed for exactly this location.
    pub fn open(&self, at: SealedAt<'_>, sealed: &[u8]) -> Result<Secret> {
        let tampered = || Error::SecretTampered {
            location: at.describe(),
        };
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(tampered());
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        let aad = self.aad(&at);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    nonce.into(),
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| tampered())?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| tampered())?;
        Ok(Secret::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(id: &str) -> Vault {
        Vault::new(id.to_string(), &DataKey::generate())
    }

    const AT: SealedAt<'static> = SealedAt {
        table: "account_connector_secrets",
        row: "7",
        field: "AccessToken",
    };

    #[test]
    fn seal_and_open_round_trip() {
        let v = vault("v1");
        let sealed = v.seal(AT, &Secret::new("token-123"));
        assert!(!sealed.windows(9).any(|w| w == b"token-123"));
        assert_eq!(v.open(AT, &sealed).unwrap().expose(), "token-123");
        // Fresh nonce each time.
        assert_ne!(sealed, v.seal(AT, &Secret::new("token-123")));
    }

    #[test]
    fn tampered_or_moved_ciphertext_fails() {
        let v = vault("v1");
        let mut sealed = v.seal(AT, &Secret::new("token-123"));
        for other in [
            SealedAt { row: "8", ..AT },
            SealedAt {
                field: "RefreshToken",
                ..AT
            },
            SealedAt {
                table: "connectors",
                ..AT
            },
        ] {
            let e = v.open(other, &sealed).unwrap_err();
            assert!(matches!(e, Error::SecretTampered { .. }), "{e}");
        }
        // Same key, other data directory (vault id).
        let key = DataKey::from_base64(&DataKey::generate().to_base64()).unwrap();
        let (a, b) = (Vault::new("a".into(), &key), Vault::new("b".into(), &key));
        assert!(b.open(AT, &a.seal(AT, &Secret::new("x"))).is_err());

        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            v.open(AT, &sealed),
            Err(Error::SecretTampered { .. })
        ));
        assert!(v.open(AT, &[1, 2, 3]).is_err());
        // Another key.
        let good = v.seal(AT, &Secret::new("x"));
        assert!(vault("v1").open(AT, &good).is_err());
    }

    #[test]
    fn a_systemd_credential_is_read_and_never_written() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CREDENTIAL_NAME);
        let source = KeySource::Credential(path.clone());
        // Missing: an error that names the file, and nothing is created.
        assert!(source.create("v").is_err());
        assert!(!path.exists());
        let key: String = DataKey::generate().to_base64().as_str().to_owned();
        std::fs::write(&path, format!("{key}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(source.create("v").unwrap().to_base64().as_str(), key);
        assert_eq!(source.load("v").unwrap().to_base64().as_str(), key);
        assert!(source.describe().contains("systemd credential"));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.key");
        let source = KeySource::File(path.clone());
        let created = source.create("v").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = source.load("v").unwrap();
        assert_eq!(*created.0, *loaded.0);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = source.load("v").unwrap_err().to_string();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        let e = source.load("v").unwrap_err().to_string();
        assert!(e.contains("32-byte key"), "{e}");
    }
}
