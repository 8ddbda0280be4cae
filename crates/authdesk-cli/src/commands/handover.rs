//! Hand-over bundles: `identity show`, `export --to RECIPIENT -o FILE`, `import FILE`.
//!
//! Must not: write a bundle anywhere but the file asked for (readable by its owner only),
//! or print a secret (the identity is never printed; only its recipient).

use std::path::Path;

use anyhow::{Context as _, Result};

use super::Ctx;

pub fn identity(ctx: &Ctx) -> Result<()> {
    ctx.out.recipient(&ctx.desk.handover_recipient()?)
}

pub fn export(ctx: &Ctx, to: &str, accounts: &[String], output: &Path) -> Result<()> {
    let (bundle, report) = ctx.desk.export_bundle(to, accounts)?;
    write_private(output, &bundle)
        .with_context(|| format!("cannot write the bundle to {}", output.display()))?;
    ctx.out.exported(&report, output)
}

pub fn import(ctx: &Ctx, file: &Path) -> Result<()> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > authdesk_core::handover::MAX_BUNDLE_BYTES as u64 {
        anyhow::bail!(
            "{} is {size} bytes; a bundle is at most {} bytes",
            file.display(),
            authdesk_core::handover::MAX_BUNDLE_BYTES
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    ctx.out.imported(&ctx.desk.import_bundle(&bytes)?)
}

/// Writes `bytes` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
