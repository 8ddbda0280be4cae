//! Hand-over bundles: `identity show`, `export --to RECIPIENT -o FILE`, `import FILE`.
//!
//! Must not: write a bundle anywhere but the file asked for (readable by its owner only),
//! or print a secret (the identity is never printed; only its recipient).

use std::path::Path;

use anyhow::Result;
use authdesk_core::handover::{read_bundle_file, write_bundle_file};

use super::Ctx;

pub fn identity(ctx: &Ctx) -> Result<()> {
    ctx.out.recipient(&ctx.desk.handover_recipient()?)
}

pub fn export(ctx: &Ctx, to: &str, accounts: &[String], output: &Path) -> Result<()> {
    let (bundle, report) = ctx.desk.export_bundle(to, accounts)?;
    write_bundle_file(output, &bundle)?;
    ctx.out.exported(&report, output)
}

pub fn import(ctx: &Ctx, file: &Path) -> Result<()> {
    let bytes = read_bundle_file(file)?;
    ctx.out.imported(&ctx.desk.import_bundle(&bytes)?)
}
