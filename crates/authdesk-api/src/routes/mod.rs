//! The `/v1.0` endpoints, in Cyclr's shapes (PascalCase JSON, the request bodies and answer
//! fields Cyclr's documentation shows; see `docs/cyclr-compatibility.md`). Each handler
//! parses, calls the core or the engine, and returns a view; no view carries a stored secret
//! (the one credential answered is a sign-in token, to the caller who asked for it). One
//! module per resource; here what they share: Cyclr's property list, the owner check, paging.
//!
//! Must not: hold business rules (they are the core's; a handler parses, calls the core,
//! shapes the answer), or hint that an account connector exists in another account
//! (`check_owner` answers as for no such Id).

pub mod account_connectors;
pub mod accounts;
pub mod connectors;
pub mod links;
pub mod mcp;
pub mod settings;
pub mod webhooks;

use authdesk_core::{ConnectorDefinition, PropertyInput, Secret};
use axum::http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// A property as Cyclr's install and update bodies carry it: `Name` (the parameter's
/// `TargetName`) and/or `Id` (the parameter's `Id`), and `Value`. Secret properties
/// (ClientSecret, Password, ...) are sealed and never returned. What a GET answered can be
/// sent back as it is: `Id` 0 (a property the definition does not declare, such as
/// ClientId) means no Id, a null `Value` (how secrets come back) leaves the stored value
/// alone, and `AccountConnectorId` and `IsSecret` are read-only and ignored.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Property {
    pub name: Option<String>,
    /// Cyclr's `Parameters[].Id` of the property.
    pub id: Option<i64>,
    /// A string (Cyclr's table also allows a list with one value of `Parameters[].Values`);
    /// null: unchanged.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub value: Option<PropertyValue>,
    /// Read-only (Cyclr's install page shows it in the body): ignored.
    #[schema(value_type = Option<i64>)]
    #[serde(default)]
    #[allow(dead_code)]
    pub account_connector_id: Option<serde_json::Value>,
    /// Read-only (Authdesk's answers carry it): ignored.
    #[serde(default)]
    #[allow(dead_code)]
    pub is_secret: Option<bool>,
}

/// A list that may be sent as null (typed clients serialise an empty list so): empty.
pub fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    One(String),
    List(Vec<String>),
}

/// Property inputs with `Id`s resolved to names against `def`; an unknown Id, a Name and
/// an Id that disagree, or a list of several values is a 400 naming the property.
pub fn properties(def: &ConnectorDefinition, list: Vec<Property>) -> ApiResult<Vec<PropertyInput>> {
    let parameters = authdesk_core::domain::parameter_views(def);
    list.into_iter()
        .enumerate()
        // A null Value changes nothing (a secret comes back from a GET as null).
        .filter(|(_, p)| p.value.is_some())
        .map(|(i, p)| {
            let by_id = match p.id {
                None | Some(0) => None,
                Some(id) => Some(
                    parameters
                        .iter()
                        .find(|v| v.id == id)
                        .map(|v| v.target_name.clone())
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "Properties[{i}].Id {id} is not a parameter of connector `{}` (see its Parameters)",
                                def.id
                            ))
                        })?,
                ),
            };
            let name = match (p.name, by_id) {
                (Some(n), Some(m)) if n != m => {
                    return Err(ApiError::bad_request(format!(
                        "Properties[{i}]: Name `{n}` and Id name different parameters"
                    )))
                }
                (Some(n), _) => n,
                (None, Some(m)) => m,
                (None, None) => {
                    return Err(ApiError::bad_request(format!(
                        "Properties[{i}] needs a Name (or the parameter's Id)"
                    )))
                }
            };
            let value = match p.value {
                Some(PropertyValue::One(v)) => v,
                Some(PropertyValue::List(mut l)) if l.len() == 1 => l.remove(0),
                None | Some(PropertyValue::List(_)) => {
                    return Err(ApiError::bad_request(format!(
                        "Properties[{i}].Value (`{name}`): give one value"
                    )))
                }
            };
            Ok(PropertyInput {
                name,
                value: Secret::new(value),
            })
        })
        .collect()
}

/// Checks that the account connector belongs to the calling account (else 404: no hint
/// that it exists elsewhere).
pub async fn check_owner(state: &AppState, account: &str, id: i64) -> ApiResult<()> {
    let account = account.to_string();
    state
        .db(move |desk| match desk.account_connector_account(id) {
            Ok(owner) if owner == account => Ok(()),
            Ok(_) | Err(authdesk_core::Error::NotFound { .. }) => {
                // An unknown account says so; a known one gives no hint that the account
                // connector exists elsewhere.
                desk.get_account(&account)?;
                Err(authdesk_core::Error::NotFound {
                    what: "account connector",
                    id: id.to_string(),
                    hint: " in this account".into(),
                })
            }
            Err(e) => Err(e),
        })
        .await
}

/// `page` and `per_page` of a list, as Cyclr's API reference names them. Without
/// `per_page` the whole list comes back (as one page).
#[derive(Deserialize, IntoParams)]
pub struct Paging {
    /// 1-based page number (default 1).
    pub page: Option<u64>,
    /// Items per page (1-1000; default: all).
    pub per_page: Option<u64>,
}

/// The largest page.
const MAX_PER_PAGE: u64 = 1000;

impl Paging {
    /// The window to read: offset and limit (`None`: everything).
    pub fn window(&self) -> ApiResult<(u64, Option<u64>)> {
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::bad_request("page counts from 1"));
        }
        match self.per_page {
            None if page == 1 => Ok((0, None)),
            None => Ok((u64::MAX, Some(0))), // only page 1 exists without per_page
            Some(n) if (1..=MAX_PER_PAGE).contains(&n) => {
                Ok(((page - 1).saturating_mul(n), Some(n)))
            }
            Some(_) => Err(ApiError::bad_request(format!(
                "per_page must be 1-{MAX_PER_PAGE}"
            ))),
        }
    }

    /// `Total-Pages` and `Total-Records` for a list of `total` items.
    pub fn headers(&self, total: u64) -> HeaderMap {
        let per_page = self.per_page.unwrap_or(total.max(1)).max(1);
        let mut headers = HeaderMap::new();
        headers.insert(
            "Total-Pages",
            HeaderValue::from(total.div_ceil(per_page).max(1)),
        );
        headers.insert("Total-Records", HeaderValue::from(total));
        headers
    }

    /// One page of `items` held in memory (the connector library), with its headers.
    pub fn apply<T>(&self, items: Vec<T>) -> ApiResult<(HeaderMap, Vec<T>)> {
        let (offset, limit) = self.window()?;
        let headers = self.headers(items.len() as u64);
        let page = items
            .into_iter()
            .skip(offset.min(usize::MAX as u64) as usize)
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        Ok((headers, page))
    }
}
