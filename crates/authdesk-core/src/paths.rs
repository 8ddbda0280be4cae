//! Where data lives: the OS's per-user data directory unless `--data-dir` or
//! `AUTHDESK_DATA_DIR` says otherwise (the CLI and the app resolve those flags).
//!
//! Must not: create the directory (the store does, mode 0700), or read `--data-dir` or
//! `AUTHDESK_DATA_DIR` (the shells do).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The default data directory: `$XDG_DATA_HOME/authdesk` (usually
/// `~/.local/share/authdesk`) on Linux, the platform equivalent elsewhere.
pub fn default_data_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "authdesk")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            Error::InvalidInput(
                "cannot find your home directory to place the data directory; \
                 pass --data-dir or set AUTHDESK_DATA_DIR"
                    .to_string(),
            )
        })
}
