//! The HTTP client of the engine: rustls, connect and total timeouts, capped response
//! sizes, and no redirect following on token and revocation endpoints (a redirect there
//! would send credentials somewhere the definition never named).

use std::sync::Mutex;
use std::time::Duration;

use crate::error::{Error, Result};

/// Largest response read from a token, revocation or discovery endpoint.
pub const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;
/// Largest response body a method call returns.
pub const MAX_METHOD_RESPONSE: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Host names pinned to addresses, as `curl --resolve` does (both for the requests and
    /// for the check that a property-chosen host is public): e.g. a provider reached
    /// through a tunnel.
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            resolve: vec![],
        }
    }
}

/// The addresses `host` resolves to: the pinned ones, else the system's resolver (within
/// five seconds; nothing when it cannot say).
pub async fn addresses_of(config: &HttpConfig, host: &str) -> Vec<std::net::IpAddr> {
    let pinned: Vec<std::net::IpAddr> = config
        .resolve
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(host))
        .map(|(_, addr)| addr.ip())
        .collect();
    if !pinned.is_empty() {
        return pinned;
    }
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, 443))).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => vec![],
    }
}

/// Whether an address is on the public internet: not this machine, a private network,
/// link-local (cloud metadata at 169.254.169.254), shared (100.64/10), unspecified or
/// multicast; IPv4-mapped IPv6 addresses are judged as IPv4.
pub fn is_public_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Two clients: one that never follows redirects (token endpoints, revocation, discovery)
/// and one for method calls that follows a few same-origin redirects only.
#[derive(Debug, Clone)]
pub struct HttpClients {
    pub strict: reqwest::Client,
    pub methods: reqwest::Client,
}

impl HttpClients {
    pub fn new(config: &HttpConfig) -> Result<HttpClients> {
        let base = || {
            let mut builder = reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .timeout(config.total_timeout)
                .user_agent(concat!("Authdesk/", env!("CARGO_PKG_VERSION")))
                .https_only(false);
            for (name, addr) in &config.resolve {
                builder = builder.resolve(name, *addr);
            }
            builder
        };
        let strict = base()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        let methods = base()
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if attempt.previous().len() >= 5 || !same_origin {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClients { strict, methods })
    }
}

/// Why an HTTP exchange failed before a response could be judged.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    #[error("timed out")]
    Timeout,
    #[error("could not connect ({0})")]
    Connect(String),
    #[error("the response was larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Other(String),
}

impl HttpFailure {
    pub fn from_reqwest(e: &reqwest::Error) -> HttpFailure {
        if e.is_timeout() {
            HttpFailure::Timeout
        } else if e.is_connect() {
            // reqwest's message names the URL and the OS error; no credentials are in it.
            HttpFailure::Connect(without_url(e))
        } else {
            HttpFailure::Other(without_url(e))
        }
    }
}

/// reqwest's message without the URL (its query may carry a secret; the caller names the
/// endpoint), followed by its causes, which say what actually went wrong ("Connection
/// refused", a certificate error...).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s
            .replace(&format!(" for url ({})", url.as_str()), "")
            .replace(url.as_str(), "the endpoint");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

/// Reads at most `limit` bytes of a body.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> std::result::Result<Vec<u8>, HttpFailure> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > limit)
    {
        return Err(HttpFailure::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpFailure::from_reqwest(&e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(HttpFailure::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What the last exchange through [`oauth_http`] saw, for classifying failures: oauth2's
/// errors do not carry the HTTP status.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub location_host: Option<String>,
    /// `Retry-After` in seconds or as an HTTP date, as a duration from now.
    pub retry_after: Option<chrono::Duration>,
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date.
pub fn parse_retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(chrono::Duration::seconds(seconds.into()));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).max(chrono::Duration::zero()))
}

/// The oauth2 HTTP client: sends through the strict client, caps the body, and records
/// what it saw for classifying failures. A struct (like oauth2's own reqwest client) rather
/// than a closure, whose higher-ranked lifetimes would make callers' futures not `Send`.
pub struct OAuthHttp<'a> {
    client: &'a reqwest::Client,
    observed: Mutex<Observed>,
}

impl<'a> OAuthHttp<'a> {
    pub fn new(client: &'a reqwest::Client) -> OAuthHttp<'a> {
        OAuthHttp {
            client,
            observed: Mutex::new(Observed::default()),
        }
    }

    pub fn observed(&self) -> Observed {
        self.observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = std::result::Result<oauth2::HttpResponse, HttpFailure>>
                + Send
                + Sync
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let mut builder = self.client.request(parts.method, &url).body(body);
            for (name, value) in parts.headers.iter() {
                builder = builder.header(name, value);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| HttpFailure::from_reqwest(&e))?;
            let status = response.status();
            let headers = response.headers().clone();
            {
                let mut o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
                o.status = Some(status.as_u16());
                o.content_type = headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                o.retry_after = headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                o.location_host = headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url::Url::parse(&url).ok()?.join(l).ok())
                    .and_then(|u| u.host_str().map(str::to_string));
            }
            let body = read_capped(response, MAX_TOKEN_RESPONSE).await?;
            let mut out = http::Response::builder().status(status);
            for (name, value) in headers.iter() {
                out = out.header(name, value);
            }
            out.body(body)
                .map_err(|e| HttpFailure::Other(e.to_string()))
        })
    }
}

#[cfg(test)]
mod address_tests {
    use super::is_public_address;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }
}
