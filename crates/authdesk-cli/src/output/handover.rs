//! Printing hand-over bundles: the recipient, what an export wrote, what an import did.
//!
//! Must not: print a secret (a report names items, never values).

use std::path::Path;

use anyhow::Result;
use authdesk_core::handover::{ExportReport, ImportReport};

use super::Out;

impl Out {
    /// `{"Recipient": "age1..."}`, or the recipient on its own line.
    pub fn recipient(&self, recipient: &str) -> Result<()> {
        self.emit(&serde_json::json!({ "Recipient": recipient }), || {
            format!("{recipient}\n")
        })
    }

    pub fn exported(&self, r: &ExportReport, file: &Path) -> Result<()> {
        let mut value = serde_json::to_value(r)?;
        value["File"] = file.display().to_string().into();
        self.emit(&value, || {
            let mut s = format!(
                "Wrote {}: {} accounts, {} account connectors, {} user connectors, {} OAuth \
                 apps, encrypted to {}.\n",
                file.display(),
                r.accounts,
                r.account_connectors,
                r.connectors,
                r.oauth_apps,
                r.recipient
            );
            for note in &r.notes {
                s.push_str(&format!("note: {note}\n"));
            }
            s
        })
    }

    pub fn imported(&self, r: &ImportReport) -> Result<()> {
        self.emit(r, || {
            let mut s = String::new();
            for (what, list) in [
                ("account", &r.accounts),
                ("connector", &r.connectors),
                ("OAuth app", &r.oauth_apps),
                ("account connector", &r.account_connectors),
            ] {
                for i in list {
                    let id = if i.id.is_empty() || i.id == i.name {
                        String::new()
                    } else {
                        format!(" ({})", i.id)
                    };
                    s.push_str(&format!("{what} {}{id}: {}\n", i.name, i.outcome));
                }
            }
            s.push_str(&format!("{} added.\n", r.added()));
            s
        })
    }
}
