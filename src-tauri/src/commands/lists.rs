//! What the window lists: the overview it starts from, pages of accounts, account
//! connectors (of an account, or found across all of them) and the dashboard. Nothing here
//! reads every account or account connector: counts are aggregates, lists are pages of at
//! most [`MAX_PAGE`] (the library, small, comes whole).
//!
//! Must not: return more than [`MAX_PAGE`] rows a call, count by reading rows, or write.

use authdesk_core::{
    Account, AccountConnector, AccountConnectorFilter, AuthStatus, Authdesk, Counts,
    LibraryConnector, Page, VaultStatus,
};
use serde::Serialize;

use super::{R, S};

/// Most rows one list command returns: the window shows pages, never every row.
const MAX_PAGE: u64 = 1000;

/// What the window shows first, whatever the number of account connectors: counts from
/// aggregate queries, the library, the first page of accounts, the account connectors that
/// need the user (the first 50) and whether the secrets can be opened.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Overview {
    data_dir: String,
    counts: Counts,
    connectors: Vec<LibraryConnector>,
    accounts: Page<AccountRow>,
    needing_reauthentication: Vec<AccountConnector>,
    vault: VaultStatus,
}

/// An account in the list, with how many of its account connectors need attention.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRow {
    #[serde(flatten)]
    pub(crate) account: Account,
    /// Needing re-authentication or failed: the same rule as the header's count.
    pub(crate) needing_attention: u64,
}

impl AccountRow {
    pub(crate) fn of(desk: &Authdesk, account: Account) -> authdesk_core::Result<AccountRow> {
        let needing = desk.needing_attention_by_account(std::slice::from_ref(&account.id))?;
        Ok(AccountRow {
            needing_attention: needing.get(&account.id).copied().unwrap_or(0),
            account,
        })
    }
}

fn accounts_rows(
    desk: &Authdesk,
    search: Option<&str>,
    offset: u64,
    limit: u64,
) -> authdesk_core::Result<Page<AccountRow>> {
    let page = desk.accounts_page(search, offset, Some(limit.min(MAX_PAGE)))?;
    let ids: Vec<String> = page.items.iter().map(|a| a.id.clone()).collect();
    let needing = desk.needing_attention_by_account(&ids)?;
    Ok(Page {
        total: page.total,
        items: page
            .items
            .into_iter()
            .map(|account| AccountRow {
                needing_attention: needing.get(&account.id).copied().unwrap_or(0),
                account,
            })
            .collect(),
    })
}

/// `account_search` and `account_limit`: the account list as the window shows it now (a
/// search, how many rows are loaded), so a reload keeps it.
#[tauri::command]
pub async fn overview(
    shell: S<'_>,
    account_search: Option<String>,
    account_limit: Option<u64>,
) -> R<Overview> {
    let overview = shell
        .db(move |desk| {
            Ok(Overview {
                data_dir: desk.data_dir().display().to_string(),
                counts: desk.counts()?,
                connectors: desk.list_connectors()?,
                accounts: accounts_rows(
                    desk,
                    account_search.as_deref(),
                    0,
                    account_limit.unwrap_or(100),
                )?,
                needing_reauthentication: page(desk, status(AuthStatus::NeedsReauth), 50)?,
                vault: desk.vault_status()?,
            })
        })
        .await?;
    tracing::info!(
        accounts = overview.counts.accounts,
        account_connectors = overview.counts.account_connectors,
        "served overview"
    );
    Ok(overview)
}

fn status(s: AuthStatus) -> AccountConnectorFilter {
    AccountConnectorFilter {
        status: Some(s),
        ..Default::default()
    }
}

fn page(
    desk: &Authdesk,
    filter: AccountConnectorFilter,
    limit: u64,
) -> authdesk_core::Result<Vec<AccountConnector>> {
    desk.account_connectors_first(&filter, limit)
}

#[tauri::command]
pub async fn accounts_page(
    shell: S<'_>,
    search: Option<String>,
    offset: u64,
    limit: u64,
) -> R<Page<AccountRow>> {
    shell
        .db(move |desk| accounts_rows(desk, search.as_deref(), offset, limit))
        .await
}

/// An account connector in a list, with its account's name.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountConnectorRow {
    #[serde(flatten)]
    account_connector: AccountConnector,
    account_name: String,
}

/// Adds each account connector's account name (each account read once).
fn with_account_names(
    desk: &Authdesk,
    list: Vec<AccountConnector>,
) -> authdesk_core::Result<Vec<AccountConnectorRow>> {
    let mut names = std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(list.len());
    for ac in list {
        if !names.contains_key(&ac.account_id) {
            let name = desk.get_account(&ac.account_id)?.name;
            names.insert(ac.account_id.clone(), name);
        }
        rows.push(AccountConnectorRow {
            account_name: names[&ac.account_id].clone(),
            account_connector: ac,
        });
    }
    Ok(rows)
}

/// Account connectors across accounts or of one, by status (or `NeedsAttention`: the one
/// rule of the header's count), connector and a search; a page at a time; with
/// `expiring`, only those with an expiry, the soonest first.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn account_connectors_page(
    shell: S<'_>,
    account_id: Option<String>,
    status: Option<String>,
    connector: Option<String>,
    search: Option<String>,
    expiring: Option<bool>,
    offset: u64,
    limit: u64,
) -> R<Page<AccountConnectorRow>> {
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let status = nonempty(status);
    let needs_attention = status.as_deref() == Some("NeedsAttention");
    let status = match status.filter(|_| !needs_attention) {
        Some(s) => Some(AuthStatus::parse(&s).ok_or_else(|| {
            format!(
                "Unknown status {s:?}: use Authenticated, NotAuthenticated, \
                 NeedsReauthentication, Error, Expired or NeedsAttention."
            )
        })?),
        None => None,
    };
    let filter = AccountConnectorFilter {
        account_id: nonempty(account_id),
        status,
        connector: nonempty(connector),
        search: nonempty(search),
        expiring_first: expiring.unwrap_or(false),
        needs_attention,
    };
    shell
        .db(move |desk| {
            let page = desk.account_connectors_page(&filter, offset, Some(limit.min(MAX_PAGE)))?;
            Ok(Page {
                items: with_account_names(desk, page.items)?,
                total: page.total,
            })
        })
        .await
}

/// Across every account, what needs the user (the one rule of the header's count: needs
/// re-authentication, error, expired, refused), then what expires next (each a page read
/// from its indexes).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dashboard {
    needs_attention: Vec<AccountConnectorRow>,
    needs_attention_total: u64,
    expiring_next: Vec<AccountConnectorRow>,
}

#[tauri::command]
pub async fn dashboard(shell: S<'_>) -> R<Dashboard> {
    shell
        .db(|desk| {
            let attention = desk.account_connectors_page(
                &AccountConnectorFilter {
                    needs_attention: true,
                    ..Default::default()
                },
                0,
                Some(50),
            )?;
            let expiring = page(
                desk,
                AccountConnectorFilter {
                    expiring_first: true,
                    ..status(AuthStatus::Authenticated)
                },
                50,
            )?;
            Ok(Dashboard {
                needs_attention: with_account_names(desk, attention.items)?,
                needs_attention_total: attention.total,
                expiring_next: with_account_names(desk, expiring)?,
            })
        })
        .await
}
