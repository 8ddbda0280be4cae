//! Secret values. They cannot be printed by accident: `Debug` shows `[redacted]`, there is
//! no `Display` or `Serialize`, and the memory is zeroized on drop. Getting the raw value
//! is an explicit call to [`Secret::expose`].
//!
//! Must not: gain a `Display`, a `Serialize` or any other way to the raw value but
//! [`Secret::expose`], or compare in a time that depends on where two values differ.

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The raw value. Call it only where the value must leave the process: an HTTP request
    /// to the provider, the vault's sealing, or a reveal the user asked for.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// Only the length: for passwords (and `user:password`), where any part of the value
    /// gives part of it away.
    pub fn masked_fully(&self) -> String {
        format!("•••• ({} chars)", self.expose().chars().count())
    }

    /// A hint that identifies the value without giving it away: its length, and its last
    /// four characters when it is long enough that they say little (tokens, API keys; never
    /// a password: see [`Secret::masked_fully`]).
    pub fn masked(&self) -> String {
        let v = self.expose();
        let n = v.chars().count();
        if n >= 20 {
            let tail: String = v.chars().skip(n - 4).collect();
            format!("••••{tail} ({n} chars)")
        } else {
            format!("•••• ({n} chars)")
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl PartialEq for Secret {
    /// Constant-time comparison (`subtle`): the time taken does not depend on where the
    /// values differ, only on their lengths.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-canary");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
    }

    #[test]
    fn equality_compares_whole_values() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert_ne!(Secret::new(""), Secret::new("a"));
    }

    #[test]
    fn masking_never_shows_short_values() {
        assert_eq!(Secret::new("abc").masked(), "•••• (3 chars)");
        let long = Secret::new("0123456789abcdefWXYZ");
        assert_eq!(long.masked(), "••••WXYZ (20 chars)");
        assert_eq!(long.masked_fully(), "•••• (20 chars)");
    }
}
