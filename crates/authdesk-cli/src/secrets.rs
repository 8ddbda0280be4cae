//! Secrets come from standard input or a file, never from the command line (shell history,
//! the process list).
//!
//! Must not: take a secret from argv, or quote what it read in an error (a bad properties
//! file is reported by position only).

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use authdesk_core::{PropertyInput, Secret};

/// Reads a secret from stdin, dropping one trailing newline. At a terminal it asks for it
/// (on stderr) and takes one line, so nobody waits on an invisible "until end of input".
pub fn read_stdin(what: &str) -> Result<Secret> {
    use std::io::IsTerminal;
    let mut s = String::new();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what} (then Enter): ");
        stdin
            .read_line(&mut s)
            .with_context(|| format!("cannot read {what} from the terminal"))?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut s)
            .with_context(|| format!("cannot read {what} from standard input"))?;
    }
    finish(what, s)
}

pub fn read_file(what: &str, path: &Path) -> Result<Secret> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))?;
    finish(what, s)
}

fn finish(what: &str, mut s: String) -> Result<Secret> {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    let secret = Secret::new(s);
    if secret.is_empty() {
        bail!("{what} is empty: nothing was read (pipe the value in, or name a file)");
    }
    Ok(secret)
}

pub fn read_properties_file(path: &Path) -> Result<Vec<PropertyInput>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Prop {
        name: String,
        value: String,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // serde_json's type errors can quote values; report only the position.
    let props: Vec<Prop> = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: expected [{{\"Name\": \"...\", \"Value\": \"...\"}}] (problem at line {} column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok(props
        .into_iter()
        .map(|p| PropertyInput {
            name: p.name,
            value: Secret::new(p.value),
        })
        .collect())
}
