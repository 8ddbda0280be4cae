//! Helpers shared by the integration tests (each test file includes them with `mod support;`).

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
