//! The HTTP clients of the engine: rustls, connect and total timeouts, capped response
//! sizes, and no redirect following on token and revocation endpoints (a redirect there
//! would send credentials somewhere the definition never named); and the choice of client
//! (`for_url`, `for_host`): a guarded one for a host a property chooses.
//!
//! Must not: judge which addresses are public (`public_hosts` does), or put a URL in an
//! error (its query may carry a secret).

use std::sync::Mutex;
use std::time::Duration;

use super::public_hosts;
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
    /// How names are looked up for property-chosen hosts and their check (`None`: the
    /// system's resolver). Tests give a fake here for hostile DNS answers.
    pub dns: Option<std::sync::Arc<dyn super::public_hosts::DnsLookup>>,
}

impl HttpConfig {
    /// How the guarded clients and the property-host check look names up.
    pub fn lookup(&self) -> public_hosts::Lookup {
        public_hosts::Lookup {
            pinned: self.resolve.clone(),
            dns: self.dns.clone(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            resolve: vec![],
            dns: None,
        }
    }
}

/// The engine's clients: one that never follows redirects (token endpoints, revocation,
/// discovery) and one for method calls that follows a few same-origin redirects only; each
/// twice, the second for hosts a property chooses, whose every connection resolves through
/// [`public_hosts::PublicOnly`].
#[derive(Debug, Clone)]
pub struct HttpClients {
    pub strict: reqwest::Client,
    pub methods: reqwest::Client,
    guarded_strict: reqwest::Client,
    guarded_methods: reqwest::Client,
}

/// Which of the engine's clients a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Token, revocation and discovery endpoints: no redirect is followed.
    Never,
    /// Method calls: up to five redirects on the same origin.
    SameOrigin,
}

impl HttpClients {
    pub fn new(config: &HttpConfig) -> Result<HttpClients> {
        let base = |guarded: bool| {
            let mut builder = reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .timeout(config.total_timeout)
                .user_agent(concat!("Authdesk/", env!("CARGO_PKG_VERSION")))
                .https_only(false);
            if guarded {
                // Pinned names too go through the resolver (reqwest's own overrides would
                // bypass it).
                builder = builder.dns_resolver(public_hosts::public_only(config.lookup()));
            } else {
                for (name, addr) in &config.resolve {
                    builder = builder.resolve(name, *addr);
                }
            }
            builder
        };
        let build = |guarded: bool, follow: Follow| {
            let policy = match follow {
                Follow::Never => reqwest::redirect::Policy::none(),
                Follow::SameOrigin => reqwest::redirect::Policy::custom(|attempt| {
                    let same_origin = attempt
                        .previous()
                        .first()
                        .is_some_and(|first| first.origin() == attempt.url().origin());
                    if attempt.previous().len() >= 5 || !same_origin {
                        attempt.stop()
                    } else {
                        attempt.follow()
                    }
                }),
            };
            base(guarded)
                .redirect(policy)
                .build()
                .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))
        };
        Ok(HttpClients {
            strict: build(false, Follow::Never)?,
            methods: build(false, Follow::SameOrigin)?,
            guarded_strict: build(true, Follow::Never)?,
            guarded_methods: build(true, Follow::SameOrigin)?,
        })
    }

    /// The client for a request to `url`: a guarded one when a property chose its host.
    pub fn for_url(
        &self,
        url: &str,
        property_hosts: &std::collections::BTreeSet<String>,
        follow: Follow,
    ) -> &reqwest::Client {
        let parsed = url::Url::parse(url).ok();
        self.for_host(
            parsed.as_ref().and_then(url::Url::host_str),
            property_hosts,
            follow,
        )
    }

    /// [`HttpClients::for_url`] for a URL already parsed (the `url` crate writes a DNS host
    /// in lower case, as `property_hosts` holds them): nothing is parsed or allocated.
    pub fn for_host(
        &self,
        host: Option<&str>,
        property_hosts: &std::collections::BTreeSet<String>,
        follow: Follow,
    ) -> &reqwest::Client {
        let guarded = host.is_some_and(|h| property_hosts.contains(h));
        match (guarded, follow) {
            (false, Follow::Never) => &self.strict,
            (false, Follow::SameOrigin) => &self.methods,
            (true, Follow::Never) => &self.guarded_strict,
            (true, Follow::SameOrigin) => &self.guarded_methods,
        }
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
    /// The exchange, redacted, for the history of a failure (a 2xx body is not kept).
    pub exchange: Option<Box<crate::diagnostics::Exchange>>,
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
    /// DPoP (RFC 9449): a proof on each request, one more try with a nonce asked for.
    dpop: Option<super::dpop::DpopUse<'a>>,
}

impl<'a> OAuthHttp<'a> {
    pub fn new(client: &'a reqwest::Client) -> OAuthHttp<'a> {
        OAuthHttp::with_dpop(client, None)
    }

    pub fn with_dpop(
        client: &'a reqwest::Client,
        dpop: Option<super::dpop::DpopUse<'a>>,
    ) -> OAuthHttp<'a> {
        OAuthHttp {
            client,
            observed: Mutex::new(Observed::default()),
            dpop,
        }
    }

    /// Records what an answer said, for classifying failures.
    fn note(&self, url: &str, status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) {
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
            .and_then(|l| url::Url::parse(url).ok()?.join(l).ok())
            .and_then(|u| u.host_str().map(str::to_string));
    }

    /// Keeps the redacted exchange, for the history of a failure.
    fn keep(&self, exchange: crate::diagnostics::Exchange) {
        let mut o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        o.exchange = Some(Box::new(exchange));
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
            let target = url::Url::parse(&url).ok();
            let mut asked = crate::diagnostics::Request::new(
                parts.method.as_str(),
                &url,
                parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_bytes())),
                &body,
            );
            asked.exchange.dpop = self.dpop.is_some();
            let failed = |f: HttpFailure| {
                self.keep(asked.failed(&f.to_string()));
                f
            };
            let send = |dpop_proof: Option<String>| {
                let mut builder = self
                    .client
                    .request(parts.method.clone(), &url)
                    .body(body.clone());
                for (name, value) in parts.headers.iter() {
                    builder = builder.header(name, value);
                }
                if let Some(p) = dpop_proof {
                    builder = builder.header(super::dpop::DPOP, p);
                }
                builder.send()
            };
            let proof = || {
                self.dpop
                    .as_ref()
                    .zip(target.as_ref())
                    .map(|(d, u)| d.proof(parts.method.as_str(), u, None))
            };
            let mut response = send(proof())
                .await
                .map_err(|e| failed(HttpFailure::from_reqwest(&e)))?;
            if let (Some(d), Some(u)) = (&self.dpop, &target) {
                // RFC 9449 §8: a server that wants a nonce answers `use_dpop_nonce` with
                // one; the request is made once more with it.
                if d.take_nonce(u, response.headers()) && response.status().is_client_error() {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let bytes = read_capped(response, MAX_TOKEN_RESPONSE)
                        .await
                        .map_err(failed)?;
                    let asks = serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .is_some_and(|v| v["error"] == "use_dpop_nonce");
                    if !asks {
                        self.note(&url, status, &headers);
                        self.keep(asked.answered(status.as_u16(), header_pairs(&headers), &bytes));
                        return answer(status, &headers, bytes);
                    }
                    response = send(proof())
                        .await
                        .map_err(|e| failed(HttpFailure::from_reqwest(&e)))?;
                    d.take_nonce(u, response.headers());
                }
            }
            let status = response.status();
            let headers = response.headers().clone();
            self.note(&url, status, &headers);
            let body = read_capped(response, MAX_TOKEN_RESPONSE)
                .await
                .map_err(failed)?;
            self.keep(asked.answered(status.as_u16(), header_pairs(&headers), &body));
            answer(status, &headers, body)
        })
    }
}

fn header_pairs(headers: &reqwest::header::HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))
}

/// An answer for the `oauth2` crate.
fn answer(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: Vec<u8>,
) -> std::result::Result<oauth2::HttpResponse, HttpFailure> {
    let mut out = http::Response::builder().status(status);
    for (name, value) in headers.iter() {
        out = out.header(name, value);
    }
    out.body(body)
        .map_err(|e| HttpFailure::Other(e.to_string()))
}
