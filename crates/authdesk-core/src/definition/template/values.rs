//! What a value may be in each kind of slot: a whole host (a public DNS name), one label of
//! a host, or anything for a path segment or a query value (which are encoded instead).
//!
//! Must not: build a URL (that is [`super::UrlTemplate`]), or look a name up.

use super::SlotKind;

/// Whether `value` may stand in a slot of `kind`. The message describes the problem and
/// never quotes the value.
pub fn check_kind(kind: SlotKind, value: &str) -> std::result::Result<(), String> {
    match kind {
        SlotKind::Host => check_public_host_name(value),
        SlotKind::HostLabel => check_label(value),
        SlotKind::PathSegment | SlotKind::Query => {
            if value.chars().any(char::is_control) {
                Err("contains control characters".into())
            } else {
                Ok(())
            }
        }
    }
}

/// A DNS host name in ASCII: dot-separated labels, the last starting with a letter (so no
/// IPv4 address in any of its spellings), at most 253 characters, no trailing dot.
pub fn check_host_name(value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("is empty; it must be a host name such as api.example.com".into());
    }
    if value.len() > 253 {
        return Err("is longer than a host name may be (253 characters)".into());
    }
    if value.contains("://") {
        return Err(
            "is a URL; give only its host name (e.g. api.example.com for \
                    https://api.example.com/v1)"
                .into(),
        );
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(match c {
            ':' => "contains ':'; give the host name only, without a port".to_string(),
            '/' | '\\' | '?' | '#' => {
                format!("contains {c:?}; give the host name only, without a path or URL")
            }
            '@' => "contains '@'; give the host name only".to_string(),
            c if c.is_whitespace() => "contains spaces".to_string(),
            c if !c.is_ascii() => {
                "contains non-ASCII characters; write an international domain name in its \
                 ASCII (xn--) form"
                    .to_string()
            }
            c => format!("contains {c:?}, which a host name cannot"),
        });
    }
    let labels: Vec<&str> = value.split('.').collect();
    for label in &labels {
        check_label(label)?;
    }
    let last = labels.last().copied().unwrap_or_default();
    if !last.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("is not a host name (an IP address, or it ends in a number)".into());
    }
    Ok(())
}

/// A host a connector may be sent to when a property chooses the whole host: a DNS host
/// name ([`check_host_name`]) with a domain (at least one dot), and not a name that means
/// this machine or a private network (`localhost`, `.localhost`, `.local`, `.internal`,
/// `.home.arpa`, `.localdomain`): a property must not turn a connector's token towards
/// services on the user's own machine or network.
pub fn check_public_host_name(value: &str) -> std::result::Result<(), String> {
    check_host_name(value)?;
    let lower = value.to_ascii_lowercase();
    if !lower.contains('.') {
        return Err(
            "is a single name without a domain; give the full host name, such as \
                    api.example.com"
                .into(),
        );
    }
    const PRIVATE: &[&str] = &["localhost", "local", "internal", "home.arpa", "localdomain"];
    if let Some(suffix) = PRIVATE
        .iter()
        .find(|s| lower == **s || lower.ends_with(&format!(".{s}")))
    {
        return Err(format!(
            "names this machine or a private network (.{suffix}); a connector's host must be \
             a public name"
        ));
    }
    Ok(())
}

/// One DNS label: 1-63 letters, digits and '-', not starting or ending with '-'.
fn check_label(label: &str) -> std::result::Result<(), String> {
    if label.is_empty() {
        return Err("has an empty label (two dots in a row, or a dot at either end)".into());
    }
    if label.len() > 63 {
        return Err("has a label longer than 63 characters".into());
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(
            "must be one DNS label: letters, digits and '-' only (no dots, spaces or other characters)"
                .into(),
        );
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("has a label that starts or ends with '-'".into());
    }
    Ok(())
}
