//! URL templates: the one way a URL is built from a connector definition.
//!
//! Every templated URL of a definition (API base URL + method paths, authorize, token,
//! revocation, issuer) is parsed once into a [`UrlTemplate`] when the definition loads. A
//! `{Slot}` has a *kind* fixed by where it stands, and the value that fills it must fit:
//!
//! - [`SlotKind::Host`] — the slot is the whole host (`https://{ShopDomain}/admin`): a DNS
//!   host name (ASCII letters, digits and `-` in dot-separated labels, ending in a label
//!   that starts with a letter, so no IP address), no port, no userinfo, nothing else;
//! - [`SlotKind::HostLabel`] — the slot is part of the host (`https://{Subdomain}.zendesk.com`):
//!   one DNS label, no dots;
//! - [`SlotKind::PathSegment`] — inside one path segment: percent-encoded (`/` becomes
//!   `%2F`, `%` becomes `%25`), and a slot that is a whole segment may not be empty, `.`
//!   or `..`;
//! - [`SlotKind::Query`] — inside a query parameter: form-encoded.
//!
//! Scheme, port, userinfo and fragment are never templated. A property's own constraints
//! (`pattern`, `suffix`) are checked on top. Values are checked when a property is written
//! and again when a URL is built, and the built URL is parsed once more to confirm that
//! its scheme, host and port are the ones the template promised.
//!
//! Must not: look a name up or connect (`engine::public_hosts` does), or template a scheme,
//! port, userinfo or fragment.

use std::fmt;

use url::Url;

/// Where a slot stands in a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotKind {
    Host,
    HostLabel,
    PathSegment,
    Query,
}

impl SlotKind {
    /// What a value of this kind looks like, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SlotKind::Host => "a host name (letters, digits, '-' and dots; no port, path or '@')",
            SlotKind::HostLabel => "one DNS label (letters, digits and '-', no dots)",
            SlotKind::PathSegment => "a path segment (any text; it is percent-encoded)",
            SlotKind::Query => "a query value (any text; it is encoded)",
        }
    }

    pub fn is_host(self) -> bool {
        matches!(self, SlotKind::Host | SlotKind::HostLabel)
    }
}

/// A piece of a template: literal text or a `{Slot}`.
mod values;

pub use values::{check_host_name, check_kind, check_public_host_name};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Slot(String),
}

/// One templated URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    text: String,
    scheme: String,
    host: Vec<Piece>,
    port: Option<u16>,
    /// Path segments after the authority (`/a/{b}/c` → three segments).
    path: Vec<Vec<Piece>>,
    /// The path ends with `/`.
    trailing_slash: bool,
    query: Vec<(String, Vec<Piece>)>,
}

/// Why a template or a value does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template itself is malformed (a definition error).
    Template(String),
    /// A slot has no value.
    Missing { slot: String },
    /// A slot's value does not fit where it stands. The message never quotes the value.
    BadValue { slot: String, problem: String },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Template(m) => f.write_str(m),
            TemplateError::Missing { slot } => write!(f, "`{slot}` is not set"),
            TemplateError::BadValue { slot, problem } => write!(f, "`{slot}` {problem}"),
        }
    }
}

/// Where a slot's value comes from when a URL is built.
pub trait SlotValues {
    /// The value of slot `name`, if any. `kind` says where it will stand: sources decide
    /// whether they may fill it (method parameters never fill a host).
    fn value(&self, name: &str, kind: SlotKind) -> Option<String>;
    /// Extra checks of the definition for `name` (pattern, suffix), given a value.
    fn check(&self, _name: &str, _value: &str) -> std::result::Result<(), String> {
        Ok(())
    }
}

fn is_slot_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits text into literals and `{Slot}`s.
fn pieces(text: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        if rest[..start].contains('}') {
            return Err("has a '}' without an opening '{'".into());
        }
        if start > 0 {
            out.push(Piece::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| "has a '{' without a closing '}'".to_string())?;
        let name = &after[..end];
        if !is_slot_name(name) {
            return Err(format!("placeholder {{{name}}} is not a simple name"));
        }
        out.push(Piece::Slot(name.to_string()));
        rest = &after[end + 1..];
    }
    if rest.contains('}') {
        return Err("has a '}' without an opening '{'".into());
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest.to_string()));
    }
    Ok(out)
}

/// `{name}` placeholders in any text (header values, templates), in order.
pub fn placeholders(text: &str) -> std::result::Result<Vec<String>, String> {
    Ok(pieces(text)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Slot(s) => Some(s),
            Piece::Literal(_) => None,
        })
        .collect())
}

/// Fills `{name}` placeholders of text that is not a URL (header values). Values with
/// control characters are refused: a header cannot be split.
pub fn fill_text(
    text: &str,
    value: impl Fn(&str) -> Option<String>,
) -> std::result::Result<String, TemplateError> {
    let mut out = String::new();
    for piece in pieces(text).map_err(TemplateError::Template)? {
        match piece {
            Piece::Literal(l) => out.push_str(&l),
            Piece::Slot(s) => {
                let v = value(&s).ok_or_else(|| TemplateError::Missing { slot: s.clone() })?;
                if v.chars().any(char::is_control) {
                    return Err(TemplateError::BadValue {
                        slot: s,
                        problem: "contains control characters".into(),
                    });
                }
                out.push_str(&v);
            }
        }
    }
    Ok(out)
}

impl UrlTemplate {
    /// Parses an absolute `https://` (or loopback `http://`) URL template.
    pub fn parse(text: &str) -> std::result::Result<UrlTemplate, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| "is not an absolute URL (it needs https://)".to_string())?;
        if !matches!(scheme, "https" | "http") {
            return Err(format!(
                "uses scheme `{scheme}`; use https (http only for loopback test servers)"
            ));
        }
        if rest.contains('#') {
            return Err("must not have a #fragment".into());
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err("must not contain userinfo ('@')".into());
        }
        let (host_text, port_text) = if authority.starts_with('[') {
            let close = authority
                .find(']')
                .ok_or_else(|| "has an unclosed '[' in its host".to_string())?;
            let (h, rest) = authority.split_at(close + 1);
            (h, rest.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port_text {
            Some(p) if p.contains('{') => return Err("the port cannot be a placeholder".into()),
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| format!("has a bad port `{p}`"))?,
            ),
            None => None,
        };
        if host_text.is_empty() {
            return Err("has no host".into());
        }
        let host = pieces(host_text)?;
        let (path_text, query_text) = match after.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (after, None),
        };
        let trailing_slash = path_text.ends_with('/');
        let mut path = Vec::new();
        for segment in path_text
            .strip_suffix('/')
            .unwrap_or(path_text)
            .split('/')
            .skip(1)
        {
            let segment = pieces(segment)?;
            if segment.is_empty() {
                return Err("has an empty path segment ('//')".into());
            }
            path.push(segment);
        }
        let mut query = Vec::new();
        if let Some(q) = query_text {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if k.contains('{') {
                    return Err("a query parameter name cannot be a placeholder".into());
                }
                query.push((k.to_string(), pieces(v)?));
            }
        }
        let template = UrlTemplate {
            text: text.to_string(),
            scheme: scheme.to_string(),
            host,
            port,
            path,
            trailing_slash,
            query,
        };
        template.check_shape()?;
        Ok(template)
    }

    /// The template text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// This template followed by a relative path template (`/users/{id}`), for method URLs.
    pub fn join_path(&self, path: &str) -> std::result::Result<UrlTemplate, String> {
        if !self.query.is_empty() {
            return Err("api_base_url must not have a query when methods add paths".into());
        }
        let base = self.text.trim_end_matches('/');
        UrlTemplate::parse(&format!("{base}{path}"))
    }

    /// Every slot with the kind of its position.
    pub fn slots(&self) -> Vec<(String, SlotKind)> {
        let mut out = Vec::new();
        let whole_host = self.host.len() == 1;
        for p in &self.host {
            if let Piece::Slot(s) = p {
                let kind = if whole_host {
                    SlotKind::Host
                } else {
                    SlotKind::HostLabel
                };
                out.push((s.clone(), kind));
            }
        }
        for segment in &self.path {
            for p in segment {
                if let Piece::Slot(s) = p {
                    out.push((s.clone(), SlotKind::PathSegment));
                }
            }
        }
        for (_, value) in &self.query {
            for p in value {
                if let Piece::Slot(s) = p {
                    out.push((s.clone(), SlotKind::Query));
                }
            }
        }
        out
    }

    /// Definition-time checks: the URL parses with sample values, http only for loopback,
    /// host slots stand where a label can.
    fn check_shape(&self) -> std::result::Result<(), String> {
        // A slot inside a host label must not be glued to a dot-less literal on a side that
        // would let a value reach into another label: `{Sub}.example.com` and
        // `api-{Region}.example.com` are fine, both keep the literal domain fixed.
        if self.host.len() > 1 {
            let last_literal_has_domain = matches!(
                self.host.last(),
                Some(Piece::Literal(l)) if l.contains('.') && !l.ends_with('.')
            );
            if !last_literal_has_domain {
                return Err(
                    "a placeholder that is part of the host must be followed by a fixed domain, \
                     e.g. https://{Subdomain}.example.com"
                        .into(),
                );
            }
        }
        let sample = self
            .build(&SampleValues)
            .map_err(|e| format!("does not make a URL with sample values ({e})"))?;
        let loopback = matches!(sample.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
            && !self.host.iter().any(|p| matches!(p, Piece::Slot(_)));
        if self.scheme == "http" && !loopback {
            return Err("uses http; use https (http only for loopback test servers)".into());
        }
        Ok(())
    }

    /// Builds the URL as text (as written: no normalisation, so an issuer compares
    /// exactly), checking every value, and confirms it parses to the promised shape.
    pub fn render(&self, values: &dyn SlotValues) -> std::result::Result<String, TemplateError> {
        let (text, host) = self.assemble(values)?;
        self.verified(&text, &host)?;
        Ok(text)
    }

    /// Builds the URL, parsed.
    pub fn build(&self, values: &dyn SlotValues) -> std::result::Result<Url, TemplateError> {
        let (text, host) = self.assemble(values)?;
        self.verified(&text, &host)
    }

    /// Defence in depth: the built URL must parse to exactly the scheme, host and port the
    /// template promised, so a value that slipped past the checks still cannot move it.
    fn verified(&self, text: &str, host: &str) -> std::result::Result<Url, TemplateError> {
        let broken = |why: &str| {
            TemplateError::Template(format!("{} does not make a valid URL ({why})", self.text))
        };
        let url = Url::parse(text).map_err(|e| broken(&e.to_string()))?;
        let expected_host = url::Host::parse(host).map_err(|e| broken(&e.to_string()))?;
        let same = url.scheme() == self.scheme
            && url.host().map(|h| h.to_owned()) == Some(expected_host)
            && url.port() == self.port.filter(|p| Some(*p) != default_port(&self.scheme))
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none();
        if !same {
            return Err(broken("its scheme, host or port changed once filled in"));
        }
        Ok(url)
    }

    fn host_text(&self, values: &dyn SlotValues) -> std::result::Result<String, TemplateError> {
        let whole = self.host.len() == 1;
        let mut host = String::new();
        for p in &self.host {
            match p {
                Piece::Literal(l) => host.push_str(l),
                Piece::Slot(s) => {
                    let kind = if whole {
                        SlotKind::Host
                    } else {
                        SlotKind::HostLabel
                    };
                    host.push_str(&slot_value(values, s, kind)?);
                }
            }
        }
        if self.host.iter().any(|p| matches!(p, Piece::Slot(_))) {
            check_public_host_name(&host).map_err(|problem| TemplateError::BadValue {
                slot: self.host_slots().join(", "),
                problem: format!("makes the host name invalid: {problem}"),
            })?;
        }
        Ok(host)
    }

    /// The host this template makes with `values` when a value chooses (part of) it;
    /// `None` when the definition fixes the host.
    pub fn property_host(
        &self,
        values: &dyn SlotValues,
    ) -> Option<std::result::Result<String, TemplateError>> {
        self.host
            .iter()
            .any(|p| matches!(p, Piece::Slot(_)))
            .then(|| self.host_text(values))
    }

    /// `scheme://host[:port]` of the URL this template makes with `values` (the path's
    /// slots are not needed).
    pub fn origin(&self, values: &dyn SlotValues) -> std::result::Result<String, TemplateError> {
        let host = self.host_text(values)?;
        Ok(match self.port {
            Some(port) => format!("{}://{host}:{port}", self.scheme),
            None => format!("{}://{host}", self.scheme),
        })
    }

    fn host_slots(&self) -> Vec<String> {
        self.host
            .iter()
            .filter_map(|p| match p {
                Piece::Slot(s) => Some(s.clone()),
                Piece::Literal(_) => None,
            })
            .collect()
    }

    /// The URL text and its host.
    fn assemble(
        &self,
        values: &dyn SlotValues,
    ) -> std::result::Result<(String, String), TemplateError> {
        let host = self.host_text(values)?;
        let mut out = format!("{}://{host}", self.scheme);
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        for segment in &self.path {
            out.push('/');
            let whole = segment.len() == 1;
            for p in segment {
                match p {
                    Piece::Literal(l) => out.push_str(l),
                    Piece::Slot(s) => {
                        let v = slot_value(values, s, SlotKind::PathSegment)?;
                        if whole && matches!(v.as_str(), "" | "." | "..") {
                            return Err(TemplateError::BadValue {
                                slot: s.clone(),
                                problem: "is a whole path segment and cannot be empty, '.' or '..'"
                                    .into(),
                            });
                        }
                        out.push_str(&encode_segment(&v));
                    }
                }
            }
        }
        if self.trailing_slash {
            out.push('/');
        }
        if !self.query.is_empty() {
            out.push('?');
            for (i, (k, v)) in self.query.iter().enumerate() {
                if i > 0 {
                    out.push('&');
                }
                out.push_str(k);
                out.push('=');
                for p in v {
                    match p {
                        Piece::Literal(l) => out.push_str(l),
                        Piece::Slot(s) => {
                            let value = slot_value(values, s, SlotKind::Query)?;
                            out.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
                        }
                    }
                }
            }
        }
        Ok((out, host))
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// A slot's value, checked for its kind and the definition's constraints.
fn slot_value(
    values: &dyn SlotValues,
    name: &str,
    kind: SlotKind,
) -> std::result::Result<String, TemplateError> {
    let v = values
        .value(name, kind)
        .ok_or_else(|| TemplateError::Missing {
            slot: name.to_string(),
        })?;
    check_kind(kind, &v).map_err(|problem| TemplateError::BadValue {
        slot: name.to_string(),
        problem,
    })?;
    values
        .check(name, &v)
        .map_err(|problem| TemplateError::BadValue {
            slot: name.to_string(),
            problem,
        })?;
    Ok(v)
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters and
/// the sub-delimiters that are safe in a segment.
pub fn encode_segment(value: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'!')
        .remove(b'$')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')')
        .remove(b'*')
        .remove(b'+')
        .remove(b',')
        .remove(b';')
        .remove(b'=')
        .remove(b':')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// Sample values for checking a template's shape at load time.
struct SampleValues;

impl SlotValues for SampleValues {
    fn value(&self, _name: &str, kind: SlotKind) -> Option<String> {
        Some(match kind {
            SlotKind::Host => "host.example".into(),
            _ => "x".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Map(BTreeMap<&'static str, &'static str>);

    impl SlotValues for Map {
        fn value(&self, name: &str, _kind: SlotKind) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn with(pairs: &[(&'static str, &'static str)]) -> Map {
        Map(pairs.iter().copied().collect())
    }

    #[test]
    fn fills_hosts_labels_segments_and_queries() {
        let t = UrlTemplate::parse("https://{Sub}.zendesk.com/api/v2/{Item}?q={Q}").unwrap();
        let v = with(&[("Sub", "acme"), ("Item", "a b/c"), ("Q", "x&y=z")]);
        assert_eq!(
            t.render(&v).unwrap(),
            "https://acme.zendesk.com/api/v2/a%20b%2Fc?q=x%26y%3Dz"
        );
        let t = UrlTemplate::parse("https://{Shop}/admin/api").unwrap();
        assert_eq!(
            t.render(&with(&[("Shop", "acme.myshopify.com")])).unwrap(),
            "https://acme.myshopify.com/admin/api"
        );
    }

    #[test]
    fn issuers_keep_their_exact_text() {
        let t = UrlTemplate::parse("http://127.0.0.1:4000").unwrap();
        assert_eq!(t.render(&with(&[])).unwrap(), "http://127.0.0.1:4000");
        let t = UrlTemplate::parse("https://{Host}/").unwrap();
        assert_eq!(
            t.render(&with(&[("Host", "login.example.com")])).unwrap(),
            "https://login.example.com/"
        );
    }

    #[test]
    fn a_whole_host_must_be_a_public_name() {
        for bad in [
            "localhost",
            "LOCALHOST",
            "api.localhost",
            "printer.local",
            "db.internal",
            "router.home.arpa",
            "box.localdomain",
            "intranet",
        ] {
            assert!(check_public_host_name(bad).is_err(), "{bad}");
            let t = UrlTemplate::parse("https://{Host}/v1").unwrap();
            let bad: &'static str = bad;
            assert!(t.render(&with(&[("Host", bad)])).is_err(), "{bad}");
        }
        for good in [
            "api.example.com",
            "acme.my.salesforce.com",
            "localhost.example.com",
        ] {
            assert!(check_public_host_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn hostile_values_cannot_move_the_host() {
        let shop = UrlTemplate::parse("https://{Shop}/admin/oauth/access_token").unwrap();
        let sub = UrlTemplate::parse("https://{Sub}.zendesk.com/oauth/tokens").unwrap();
        for bad in [
            "evil.example/steal#",
            "a@evil.example",
            "evil.example#",
            "127.0.0.1:1",
            "127.0.0.1",
            "0x7f.1",
            "x/../y",
            "%2F",
            "evil.example:443",
            "evil .example",
            "evil.example\n",
            "еvil.com",
            "evil.example.",
            "",
            "[::1]",
            "evil.example?x=",
            "evil.example\\x",
        ] {
            let r = shop.render(&with(&[("Shop", bad)]));
            assert!(
                matches!(
                    r,
                    Err(TemplateError::BadValue { .. } | TemplateError::Missing { .. })
                ),
                "{bad:?} -> {r:?}"
            );
            let r = sub.render(&with(&[("Sub", bad)]));
            assert!(
                matches!(r, Err(TemplateError::BadValue { .. })),
                "{bad:?} -> {r:?}"
            );
        }
        // A label slot takes one label only.
        assert!(sub.render(&with(&[("Sub", "evil.example.com")])).is_err());
    }

    #[test]
    fn whole_segments_cannot_climb() {
        let t = UrlTemplate::parse("https://api.example.com/v1/{Id}/x").unwrap();
        for bad in ["..", ".", ""] {
            assert!(t.render(&with(&[("Id", bad)])).is_err(), "{bad:?}");
        }
        assert_eq!(
            t.render(&with(&[("Id", "x/../y")])).unwrap(),
            "https://api.example.com/v1/x%2F..%2Fy/x"
        );
        assert_eq!(
            t.render(&with(&[("Id", "%2F")])).unwrap(),
            "https://api.example.com/v1/%252F/x"
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in [
            "ftp://x.example",
            "http://api.example.com",
            "http://{Host}",
            "https://x.example:{Port}/",
            "https://{User}@x.example",
            "https://x.example/#frag",
            "https://{Sub}/x{",
            "https://{Sub}-x/",
            "https://x.example//y",
            "api.example.com/x",
        ] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad}");
        }
        assert!(UrlTemplate::parse("http://localhost:8080/x").is_ok());
        assert!(UrlTemplate::parse("https://api-{Region}.example.com/").is_ok());
    }

    #[test]
    fn slots_know_their_kind() {
        let t = UrlTemplate::parse("https://{A}.x.com/{B}/c?d={C}").unwrap();
        assert_eq!(
            t.slots(),
            vec![
                ("A".into(), SlotKind::HostLabel),
                ("B".into(), SlotKind::PathSegment),
                ("C".into(), SlotKind::Query)
            ]
        );
        let t = UrlTemplate::parse("https://{A}/").unwrap();
        assert_eq!(t.slots(), vec![("A".into(), SlotKind::Host)]);
    }

    #[test]
    fn joins_method_paths() {
        let base = UrlTemplate::parse("https://{Shop}/admin/api/2026-07/").unwrap();
        let t = base.join_path("/products/{id}.json").unwrap();
        assert_eq!(
            t.render(&with(&[("Shop", "a.myshopify.com"), ("id", "7")]))
                .unwrap(),
            "https://a.myshopify.com/admin/api/2026-07/products/7.json"
        );
    }
}
