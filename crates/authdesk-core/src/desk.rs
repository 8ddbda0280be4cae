//! The desk: one data directory (or team database) opened, its store (SQLite, or a pool
//! of PostgreSQL connections), its clock, and its vault, opened lazily so metadata stays
//! readable when the keychain is not; and the row-level helpers every part writes with
//! (timestamps as sortable text, a property written plain or sealed). The layer below the
//! service and the token persistence, which both add their methods to [`Authdesk`].
//!
//! Must not: check user input or apply business rules (that is the service), or name a
//! higher layer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::store::{self, args, Db, Store};
use crate::vault::{KeySource, SealedAt, Vault, KEY_CHECK_PLAINTEXT};

/// The time source; injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct OpenOptions {
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (the team server's store); `None`: SQLite in `data_dir`.
    pub database: Option<String>,
    pub key_source: KeySource,
    pub clock: Clock,
}

impl OpenOptions {
    /// The given data directory, the key source from the environment, the system clock.
    pub fn new(data_dir: impl Into<PathBuf>) -> OpenOptions {
        OpenOptions {
            data_dir: data_dir.into(),
            database: std::env::var("AUTHDESK_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
            key_source: KeySource::from_env(),
            clock: Arc::new(Utc::now),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VaultStatus {
    pub data_dir: String,
    /// The store: `SQLite <file>` or `PostgreSQL <URL without its password>`.
    pub database: String,
    pub key_source: String,
    pub vault_id: Option<String>,
    /// `service/user` of the keychain item holding the data key.
    pub keychain_item: Option<String>,
    /// Whether secrets open in this process now.
    pub available: bool,
    /// What is wrong with where the key is kept, and what to do (also when secrets still
    /// open here because the key was read before the problem began).
    pub problem: Option<String>,
    /// The keychain item is missing or holds another key, but this process still holds the
    /// right key: [`Authdesk::restore_keychain_key`] puts it back.
    pub restorable: bool,
}

/// Where connections to the store come from.
enum Stores {
    /// SQLite: one connection per process (writers queue on the database's lock anyway),
    /// the connection that tells whether anything was committed, and the writes waiting to
    /// be committed together.
    Single(
        Mutex<Store>,
        crate::store::MarkerConn,
        crate::store::GroupQueue,
    ),
    /// PostgreSQL: a pool, so one replica's reads do not wait for each other, and the
    /// change marker kept by listening (started on its first read).
    Pool(
        r2d2::Pool<crate::store::PgManager>,
        Box<crate::store::PoolMarker>,
    ),
}

/// How many connections one process keeps to PostgreSQL at most (`AUTHDESK_DATABASE_POOL`).
const DEFAULT_POOL: u32 = 8;

impl Stores {
    fn new(first: Store, database: Option<&str>) -> Result<Stores> {
        let Some(url) = database else {
            let path = first.path().map(Path::to_path_buf).unwrap_or_default();
            let marker = crate::store::MarkerConn::open(&path)?;
            return Ok(Stores::Single(
                Mutex::new(first),
                marker,
                Default::default(),
            ));
        };
        let size = std::env::var("AUTHDESK_DATABASE_POOL")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_POOL);
        let marker = crate::store::PoolMarker::new(url);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            // A request waits this long for a connection when the database is down, then
            // is answered (503) rather than held for r2d2's default 30 s.
            .connection_timeout(std::time::Duration::from_secs(5))
            // No `SELECT 1` before each use (a round trip per checkout, half of a cached
            // method call's): a connection's thread finds a dead connection by itself and
            // sends a read or a BEGIN again on a new one (`store/postgres.rs`).
            .test_on_check_out(false)
            .min_idle(Some(1))
            .build_unchecked(marker.manager());
        // The connection that migrated the schema is the pool's first.
        drop(first);
        Ok(Stores::Pool(pool, Box::new(marker)))
    }
}

pub(crate) enum StoreGuard<'a> {
    Single(MutexGuard<'a, Store>),
    Pooled(Box<r2d2::PooledConnection<crate::store::PgManager>>),
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        match self {
            StoreGuard::Single(g) => g,
            StoreGuard::Pooled(c) => c,
        }
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        match self {
            StoreGuard::Single(g) => g,
            StoreGuard::Pooled(c) => c,
        }
    }
}

pub struct Authdesk {
    store: Stores,
    /// Which database, as it may be shown.
    database: String,
    data_dir: PathBuf,
    key_source: KeySource,
    vault: Mutex<Option<Arc<Vault>>>,
    /// The local API key as of a database state (checked on every API request).
    pub(crate) api_key_cache: Mutex<Option<(crate::store::ChangeMarker, Secret)>>,
    clock: Clock,
}

pub(crate) const META_VAULT_ID: &str = "vault_id";
pub(crate) const META_KEY_CHECK: &str = "vault_key_check";
pub(crate) const META_CATALOG: &str = "builtin_catalog_sha256";

pub(crate) const T_CONNECTORS: &str = "connectors";
pub(crate) const T_PROPERTIES: &str = "account_connector_properties";
pub(crate) const T_SECRETS: &str = "account_connector_secrets";
pub(crate) const T_KEYS: &str = "account_connector_keys";

/// Names of credential secrets in `account_connector_secrets`.
pub mod fields {
    pub const ACCESS_TOKEN: &str = "AccessToken";
    pub const REFRESH_TOKEN: &str = "RefreshToken";
    pub const ID_TOKEN: &str = "IdToken";
    /// OAuth 1.0a: the token credentials' shared secret.
    pub const TOKEN_SECRET: &str = "TokenSecret";
    pub const API_KEY: &str = "ApiKey";
    pub const BASIC: &str = "BasicCredentials";

    /// An AuthFields value, under its field's name.
    pub fn auth_field(name: &str) -> String {
        format!("AuthField:{name}")
    }
}

impl Authdesk {
    /// Opens the store (migrating it), lets `prepare` bring it up to date before anyone
    /// reads it (the service syncs the built-in catalog), and the desk around it.
    pub(crate) fn open_with(
        options: OpenOptions,
        prepare: impl FnOnce(&mut Store, &DateTime<Utc>) -> Result<()>,
    ) -> Result<Authdesk> {
        crate::vault::use_platform_keychain();
        let mut store = match &options.database {
            Some(url) => Store::open_postgres(url)?,
            None => Store::open(&options.data_dir)?,
        };
        prepare(&mut store, &(options.clock)())?;
        Ok(Authdesk {
            database: store.describe(),
            store: Stores::new(store, options.database.as_deref())?,
            data_dir: options.data_dir,
            key_source: options.key_source,
            vault: Mutex::new(None),
            api_key_cache: Mutex::new(None),
            clock: options.clock,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// A connection to the store: SQLite's one connection, or one of the PostgreSQL pool's.
    pub(crate) fn store(&self) -> Result<StoreGuard<'_>> {
        match &self.store {
            // A panic while holding the lock cannot leave SQLite half-written (the
            // transaction rolls back on drop), so a poisoned lock is safe to reuse.
            Stores::Single(m, _, _) => Ok(StoreGuard::Single(
                m.lock().unwrap_or_else(|p| p.into_inner()),
            )),
            Stores::Pool(pool, _) => {
                pool.get()
                    .map(|c| StoreGuard::Pooled(Box::new(c)))
                    .map_err(|e| {
                        Error::DatabaseUnavailable(crate::store::redacted_url(&e.to_string()))
                    })
            }
        }
    }

    /// Whether the store is PostgreSQL (a team server), for the few statements written
    /// apart for it.
    pub(crate) fn on_postgres(&self) -> bool {
        matches!(self.store, Stores::Pool(..))
    }

    /// A write on a hot path (sign-in tokens, sign-in starts) that is safe on its own rows
    /// and that no cache reads ([`crate::store::Store::write_rows`]): on SQLite it is
    /// committed together with the others that wait at the same moment, one `fsync` for the
    /// group (`store/group.rs`); on PostgreSQL it is a transaction of its own beside the
    /// others, outside the writers' lock. Answers once committed.
    pub(crate) fn write_grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::store::sql::Db<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        match &self.store {
            Stores::Single(m, _, queue) => queue.write(m, f),
            Stores::Pool(..) => self.store()?.write_rows(f),
        }
    }

    /// Changes when anything is committed to this data directory, by any process.
    pub fn change_marker(&self) -> Result<crate::store::ChangeMarker> {
        match &self.store {
            Stores::Single(_, marker, _) => marker.marker(),
            Stores::Pool(_, marker) => match marker.marker_waiting() {
                Some(m) => Ok(m),
                None => self.store()?.change_marker(),
            },
        }
    }

    /// [`Authdesk::change_marker`] where reading it never waits (SQLite: a connection of its
    /// own that holds no transaction; PostgreSQL: the listener's counters), so an async
    /// worker may ask; `None` where it is a trip to a server (PostgreSQL while the listener
    /// is not listening), which belongs on a blocking thread.
    pub fn change_marker_now(&self) -> Option<Result<crate::store::ChangeMarker>> {
        match &self.store {
            Stores::Single(_, marker, _) => Some(marker.marker()),
            Stores::Pool(_, marker) => marker.marker().map(Ok),
        }
    }

    /// The vault, opening it (and creating the data key on first use) if needed.
    pub fn vault(&self) -> Result<Arc<Vault>> {
        let mut slot = self.vault.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = slot.as_ref() {
            return Ok(v.clone());
        }
        let vault = Arc::new(self.open_vault()?);
        *slot = Some(vault.clone());
        Ok(vault)
    }

    fn open_vault(&self) -> Result<Vault> {
        let mut store = self.store()?;
        let existing = store.meta(META_VAULT_ID)?;
        let (vault_id, key_check) = match existing {
            Some(id) => (id, store.meta(META_KEY_CHECK)?),
            None => {
                // First secret in this data directory. Under the write lock, so two
                // processes never both create a key; the loser sees the winner's id.
                let source = &self.key_source;
                return store.write(|tx| {
                    if let Some(id) = store::meta_in(tx, META_VAULT_ID)? {
                        let check = store::meta_in(tx, META_KEY_CHECK)?;
                        return verified_vault(source, id, check);
                    }
                    let id = uuid::Uuid::new_v4().to_string();
                    let key = source.create(&id)?;
                    let vault = Vault::new(id.clone(), &key);
                    let check = vault.seal(key_check_location(), &Secret::new(KEY_CHECK_PLAINTEXT));
                    store::set_meta_in(tx, META_VAULT_ID, &id)?;
                    store::set_meta_in(tx, META_KEY_CHECK, &hex(&check))?;
                    tracing::info!(vault_id = %id, source = %source.describe(), "created the vault's data key");
                    Ok(vault)
                });
            }
        };
        verified_vault(&self.key_source, vault_id, key_check)
    }

    /// Where the data key lives and whether it opens this data directory's secrets: the
    /// key is read from its source (the keychain) each time, so an item removed or replaced
    /// while the process runs shows here at once. Never creates a key.
    pub fn vault_status(&self) -> Result<VaultStatus> {
        let (vault_id, check) = {
            let store = self.store()?;
            (store.meta(META_VAULT_ID)?, store.meta(META_KEY_CHECK)?)
        };
        let held = self
            .vault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let (available, problem, restorable) = match &vault_id {
            None => (
                false,
                Some(
                    "no secret has been stored yet; the data key is created with the first one"
                        .to_string(),
                ),
                false,
            ),
            Some(id) => match verified_vault(&self.key_source, id.clone(), check) {
                Ok(vault) => {
                    let mut slot = self.vault.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert_with(|| Arc::new(vault));
                    (true, None, false)
                }
                Err(e) if held => {
                    let restorable = self.key_source == KeySource::Keychain
                        && matches!(
                            e,
                            Error::VaultKeyMissing { .. } | Error::VaultKeyMismatch { .. }
                        );
                    let fix = if restorable {
                        "put the key back in the keychain now (Settings: Restore the keychain \
                         item), or they cannot be opened after a restart"
                    } else {
                        "fix it before Authdesk stops, or they cannot be opened after a restart"
                    };
                    (
                        true,
                        Some(format!(
                            "{e} This process read the data key before, so secrets still open \
                             until it stops: {fix}."
                        )),
                        restorable,
                    )
                }
                Err(e) => (false, Some(e.to_string()), false),
            },
        };
        Ok(VaultStatus {
            data_dir: self.data_dir.display().to_string(),
            database: self.database.clone(),
            key_source: self.key_source.describe(),
            keychain_item: match (&self.key_source, &vault_id) {
                (KeySource::Keychain, Some(id)) => Some(crate::vault::keychain_item_name(id)),
                _ => None,
            },
            vault_id,
            available,
            problem,
            restorable,
        })
    }

    /// Writes the data key this process holds back to the keychain, after the item was
    /// removed or replaced while it ran (see [`VaultStatus::restorable`]). Checks the key
    /// it holds against the data directory first.
    pub fn restore_keychain_key(&self) -> Result<VaultStatus> {
        if self.key_source != KeySource::Keychain {
            return Err(Error::InvalidInput(format!(
                "the data key is kept in {}, not in the keychain: nothing to restore there",
                self.key_source.describe()
            )));
        }
        let held = self
            .vault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                Error::InvalidInput(
                    "this process does not hold the data key (it never read it), so it cannot \
                     put it back: restore the keychain item from a backup, or see \
                     docs/security.md"
                        .into(),
                )
            })?;
        if !opens_key_check(&held, self.store()?.meta(META_KEY_CHECK)?) {
            return Err(Error::VaultKeyMismatch {
                source_name: "this process's memory".into(),
                vault_id: held.vault_id().to_string(),
            });
        }
        held.store_key_in(&self.key_source)?;
        tracing::info!(vault_id = %held.vault_id(), "put the data key back in the keychain");
        self.vault_status()
    }

    /// Opens a sealed column value read from `at`, if there is one.
    pub(crate) fn open_sealed(
        &self,
        sealed: Option<Vec<u8>>,
        at: SealedAt<'_>,
    ) -> Result<Option<Secret>> {
        sealed.map(|s| self.vault()?.open(at, &s)).transpose()
    }
}

pub(crate) fn verified_vault(
    source: &KeySource,
    vault_id: String,
    key_check: Option<String>,
) -> Result<Vault> {
    let key = source.load(&vault_id)?;
    let vault = Vault::new(vault_id.clone(), &key);
    if !opens_key_check(&vault, key_check) {
        return Err(Error::VaultKeyMismatch {
            source_name: source.describe(),
            vault_id,
        });
    }
    Ok(vault)
}

/// Whether `vault`'s key opens the data directory's key check (hex, from `meta`).
fn opens_key_check(vault: &Vault, key_check: Option<String>) -> bool {
    key_check
        .and_then(|h| unhex(&h))
        .is_some_and(|c| vault.open(key_check_location(), &c).is_ok())
}

pub(crate) fn key_check_location() -> SealedAt<'static> {
    SealedAt {
        table: "meta",
        row: META_KEY_CHECK,
        field: "value",
    }
}

/// Timestamps are stored as RFC 3339 UTC with a fixed width, so they sort as text.
pub(crate) fn ts(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub(crate) fn parse_ts(s: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes a property of account connector `id`, plain or (when `secret`) sealed.
pub(crate) fn write_property(
    tx: &Db<'_>,
    vault: Option<&Vault>,
    id: i64,
    name: &str,
    value: &Secret,
    secret: bool,
) -> Result<()> {
    let (plain, sealed) = if secret {
        let vault = vault.expect("caller opens the vault for secret properties");
        let row = id.to_string();
        (
            None,
            Some(vault.seal(
                SealedAt {
                    table: T_PROPERTIES,
                    row: &row,
                    field: name,
                },
                value,
            )),
        )
    } else {
        (Some(value.expose().to_string()), None)
    };
    tx.execute(
        "INSERT INTO account_connector_properties(account_connector_id, name, value, sealed_value)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(account_connector_id, name) DO UPDATE SET value = excluded.value,
             sealed_value = excluded.sealed_value",
        args![id, name, plain, sealed],
    )?;
    Ok(())
}
