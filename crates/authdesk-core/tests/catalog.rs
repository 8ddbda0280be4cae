//! The built-in catalog (`connectors/*.toml`) as a whole: every file loads; every URL it
//! can make builds with its sample properties (each property that stands in a host has an
//! `example`); every source is an https URL; no two connectors share an id or a display
//! name; each says its `category` and when its sources were last read (`verified_on`, at
//! most 12 months ago: the test lists the files that are older); and every OAuth 2 way to
//! authenticate states PKCE, client authentication and the sign-in mode explicitly. Each
//! file has two to five methods; every property that stands in a host is constrained
//! (`pattern` or `suffix`, and an `example`); each category users look for holds at least
//! eight connectors, and the catalog at least 120.
//! `docs/catalog.md` is generated from the files and must match them.

use std::collections::BTreeMap;

use authdesk_core::definition::template::{SlotKind, SlotValues};
use authdesk_core::definition::{catalog, ConnectorDefinition, Endpoint, CATEGORIES};

/// Sample values: a property's `example`, or `sample` for a path segment; a host slot with
/// no example stays empty (and the build fails, naming it).
struct Samples<'a>(&'a ConnectorDefinition);

impl SlotValues for Samples<'_> {
    fn value(&self, name: &str, kind: SlotKind) -> Option<String> {
        let example = self
            .0
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.example.clone());
        match (example, kind.is_host()) {
            (Some(e), _) => Some(e),
            (None, true) => None,
            (None, false) => Some("sample".into()),
        }
    }

    fn check(&self, name: &str, value: &str) -> Result<(), String> {
        self.0.check_property_value(name, value).map(|_| ())
    }
}

fn files() -> Vec<(&'static str, &'static str, ConnectorDefinition)> {
    catalog::builtin_sources()
        .iter()
        .map(|(file, text)| {
            let def = ConnectorDefinition::from_toml(file, text)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            (*file, *text, def)
        })
        .collect()
}

#[test]
fn every_url_builds_with_the_sample_properties_and_every_source_is_https() {
    let mut problems = vec![];
    for (file, _, def) in files() {
        let samples = Samples(&def);
        for m in &def.methods {
            if let Some(t) = def.method_url(m) {
                if let Err(e) = t.build(&samples) {
                    problems.push(format!("{file}: method {}: {e}", m.id));
                }
            }
        }
        for (i, _) in def.auth_methods().iter().enumerate() {
            for which in [
                Endpoint::Authorize,
                Endpoint::Token,
                Endpoint::Revoke,
                Endpoint::Par,
                Endpoint::Device,
                Endpoint::Jwks,
                Endpoint::RequestToken,
                Endpoint::Issuer,
            ] {
                if let Some(t) = def.method_endpoint(i, which) {
                    if let Err(e) = t.build(&samples) {
                        problems.push(format!("{file}: {}: {e}", which.field()));
                    }
                }
            }
        }
        if def.sources.is_empty() {
            problems.push(format!("{file}: names no sources"));
        }
        for s in &def.sources {
            if !s.starts_with("https://") || url::Url::parse(s).is_err() {
                problems.push(format!("{file}: source {s:?} is not an https URL"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn ids_and_display_names_are_unique_and_each_file_has_a_category_and_a_recent_reading() {
    let today = chrono::Utc::now().date_naive();
    let mut ids = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut problems = vec![];
    let mut stale = vec![];
    for (file, _, def) in files() {
        if let Some(other) = ids.insert(def.id.clone(), file) {
            problems.push(format!("{file} and {other} share the id {}", def.id));
        }
        if let Some(other) = names.insert(def.name.to_lowercase(), file) {
            problems.push(format!("{file} and {other} share the name {}", def.name));
        }
        match &def.category {
            Some(c) if CATEGORIES.contains(&c.as_str()) => {}
            _ => problems.push(format!("{file}: no category")),
        }
        match def
            .verified_on
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            None => problems.push(format!("{file}: no verified_on")),
            Some(d) if d > today => {
                problems.push(format!("{file}: verified_on {d} is in the future"))
            }
            Some(d) if (today - d).num_days() > 365 => stale.push(format!("{file} (read {d})")),
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        stale.is_empty(),
        "sources not read for more than 12 months: re-read them and update verified_on:\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_oauth2_way_to_authenticate_states_pkce_client_authentication_and_the_sign_in_mode() {
    let mut problems = vec![];
    for (file, text, _) in files() {
        let doc: toml::Value = toml::from_str(text).unwrap();
        let mut auths = vec![("auth".to_string(), doc.get("auth").cloned())];
        if let Some(list) = doc.get("auth_methods").and_then(|m| m.as_array()) {
            for (i, m) in list.iter().enumerate() {
                auths.push((format!("auth_methods[{i}].auth"), m.get("auth").cloned()));
            }
        }
        for (at, auth) in auths {
            let Some(auth) = auth else { continue };
            if auth.get("type").and_then(|t| t.as_str()) != Some("oauth2") {
                continue;
            }
            let grant = auth.get("grant").and_then(|g| g.as_str()).unwrap_or("");
            let mut keys = vec!["client_auth"];
            if grant == "authorization_code" {
                keys.extend(["pkce", "sign_in"]);
            }
            for key in keys {
                if auth.get(key).is_none() {
                    problems.push(format!("{file}: {at} does not state `{key}`"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_catalog_page_is_generated_from_the_files() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/catalog.md");
    let generated = authdesk_core::definition::catalog::markdown().unwrap();
    if std::env::var_os("AUTHDESK_UPDATE_CATALOG").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/catalog.md is stale: regenerate it with `scripts/catalog.sh` \
         (AUTHDESK_UPDATE_CATALOG=1 cargo test -p authdesk-core --test catalog)"
    );
}

#[test]
fn each_category_has_eight_each_file_two_to_five_methods_and_host_properties_are_constrained() {
    use authdesk_core::definition::template::SlotKind as K;
    let all = files();
    assert!(
        all.len() >= 120,
        "the catalog has {} connectors; it must have at least 120",
        all.len()
    );
    let mut problems = vec![];
    let mut per_category: BTreeMap<String, usize> = BTreeMap::new();
    for (file, _, def) in &all {
        *per_category
            .entry(def.category.clone().unwrap_or_default())
            .or_default() += 1;
        if !(2..=5).contains(&def.methods.len()) {
            problems.push(format!(
                "{file}: {} methods (two to five)",
                def.methods.len()
            ));
        }
        // Every property a URL uses as (part of) a host.
        let mut templates = vec![];
        for m in &def.methods {
            templates.extend(def.method_url(m));
        }
        for (i, _) in def.auth_methods().iter().enumerate() {
            for which in [
                Endpoint::Authorize,
                Endpoint::Token,
                Endpoint::Revoke,
                Endpoint::Par,
                Endpoint::Device,
                Endpoint::Jwks,
                Endpoint::RequestToken,
                Endpoint::Issuer,
            ] {
                templates.extend(def.method_endpoint(i, which));
            }
        }
        for t in templates {
            for (name, kind) in t.slots() {
                if !matches!(kind, K::Host | K::HostLabel) {
                    continue;
                }
                // The generic connectors exist to take any host (a property-chosen host is
                // still held to public addresses by the engine); every other one names its.
                let generic = def.id.starts_with("generic-");
                match def.properties.iter().find(|p| p.name == name) {
                    Some(p)
                        if (generic || p.pattern.is_some() || p.suffix.is_some())
                            && p.example.is_some() => {}
                    _ => problems.push(format!(
                        "{file}: {name} stands in a host without pattern/suffix and example"
                    )),
                }
            }
        }
    }
    for c in [
        "crm",
        "accounting",
        "support",
        "ecommerce",
        "marketing",
        "hr",
        "payments",
        "storage",
        "communication",
        "developer",
    ] {
        let n = per_category.get(c).copied().unwrap_or(0);
        if n < 8 {
            problems.push(format!("category {c} has {n} connectors; at least 8"));
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
