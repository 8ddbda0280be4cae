//! Helpers shared by the integration tests (each test file includes them with `mod support;`;
//! not every file uses every helper).
#![allow(dead_code)]

pub mod dot;
pub mod oidc;

use std::path::Path;
use std::sync::Arc;

use authdesk_core::{Authdesk, Clock, KeySource, OpenOptions};

/// A desk in `dir/data` whose vault key is a key file in `dir` (no keychain needed).
pub fn desk_with_key_file(dir: &Path, clock: Clock) -> Arc<Authdesk> {
    Arc::new(
        Authdesk::open(OpenOptions {
            data_dir: dir.join("data"),
            key_source: KeySource::File(dir.join("vault.key")),
            clock,
        })
        .unwrap(),
    )
}

/// A key-file desk, an engine with `config`, and one account: the set-up of the engine
/// tests that need no authorization server.
pub struct EngineSetup {
    _dir: tempfile::TempDir,
    pub desk: Arc<Authdesk>,
    pub engine: authdesk_core::Engine,
    pub account: String,
}

pub fn engine_setup(config: authdesk_core::EngineConfig, account_name: &str) -> EngineSetup {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_with_key_file(dir.path(), Arc::new(chrono::Utc::now));
    let engine = authdesk_core::Engine::new(desk.clone(), config).unwrap();
    let account = desk
        .create_account(authdesk_core::NewAccount {
            name: account_name.into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    EngineSetup {
        _dir: dir,
        desk,
        engine,
        account,
    }
}
