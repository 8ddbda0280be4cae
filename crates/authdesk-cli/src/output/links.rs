//! Printing setup links: one just made (its URL, the only time its token is shown), and the
//! list (never a token).
//!
//! Must not: print a token but in the URL of the link just made.

use anyhow::Result;

use super::Out;

impl Out {
    /// A link just made: `{"Id","Url","ExpiresAtUtc"}`.
    pub fn new_setup_link(
        &self,
        id: &str,
        url: &str,
        expires: &chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.emit(
            &serde_json::json!({ "Id": id, "Url": url, "ExpiresAtUtc": expires }),
            || format!("{url}\n(works once, until {})\n", super::date(expires)),
        )
    }

    pub fn setup_links(&self, list: &[authdesk_core::setup_links::SetupLink]) -> Result<()> {
        self.emit(list, || {
            super::table(
                &["ID", "ACCOUNT CONNECTOR", "STATUS", "EXPIRES", "USED"],
                list.iter().map(|l| {
                    vec![
                        l.id.clone(),
                        l.account_connector_id.to_string(),
                        l.status.to_string(),
                        super::date(&l.expires_at_utc),
                        l.used_at
                            .as_ref()
                            .map(super::date)
                            .unwrap_or_else(|| "-".into()),
                    ]
                }),
            )
        })
    }
}
