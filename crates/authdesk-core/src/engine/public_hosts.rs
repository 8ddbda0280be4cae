//! The rule that a host a property chooses is on the public internet, where it resolves as
//! well as in its spelling, and at the moment of connecting, not only when it was checked.
//!
//! A name is looked up again for every connection (a DNS answer with TTL 0 can change
//! between a check and the request: DNS rebinding), so requests to a property-chosen host
//! go through clients whose resolver ([`PublicOnly`]) refuses any answer that holds a
//! non-public address, and treats a lookup that fails or takes too long as a refusal. The
//! redirect policies of those clients never leave the origin, so every connection of such
//! a request, redirects included, goes through that resolver.
//!
//! Must not: cache an answer (every connection looks the name up again), or decide which
//! hosts a property chooses (`context` does).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long a lookup may take before it counts as a refusal.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Looks a host name up. The system's resolver in use; a test may give another one (a
/// fake, named as such, for answers a real DNS server only gives when it is hostile).
pub trait DnsLookup: std::fmt::Debug + Send + Sync + 'static {
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// The system's resolver (getaddrinfo, through tokio).
#[derive(Debug)]
pub struct SystemDns;

impl DnsLookup for SystemDns {
    fn lookup(
        &self,
        host: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
    {
        let host = host.to_string();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 443))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// How names are looked up: names pinned to addresses (as `curl --resolve` pins them), then
/// `dns` (`None`: the system's resolver).
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub pinned: Vec<(String, SocketAddr)>,
    pub dns: Option<Arc<dyn DnsLookup>>,
}

/// The addresses `host` resolves to: the pinned ones, else the lookup's resolver, within
/// [`LOOKUP_TIMEOUT`].
pub async fn addresses_of(config: &Lookup, host: &str) -> std::io::Result<Vec<IpAddr>> {
    let pinned: Vec<IpAddr> = config
        .pinned
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(host))
        .map(|(_, addr)| addr.ip())
        .collect();
    if !pinned.is_empty() {
        return Ok(pinned);
    }
    let lookup = config
        .dns
        .as_ref()
        .map_or_else(|| SystemDns.lookup(host), |dns| dns.lookup(host));
    match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "looking up {host} took longer than {} s",
                LOOKUP_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Whether an address is on the public internet. Not: this machine, unspecified or "this
/// network" (0/8), private networks, shared (100.64/10), link-local (cloud metadata at
/// 169.254.169.254), IETF protocol assignments (192.0.0/24), benchmarking (198.18/15),
/// documentation ranges, reserved (240/4) and broadcast, multicast; for IPv6 also
/// unique-local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10), documentation,
/// and every form that carries an IPv4 address or reaches one through a translator
/// (`::ffff:0:0/96`, `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4
/// `2002::/16`, Teredo `2001::/32`), which are refused whole rather than judged by the
/// address they carry.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let v4_carrier = s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff);
    !(v6.is_unspecified()
        || v6.is_loopback()
        || v4_carrier
        || (s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1))
        || s[0] == 0x2002
        || (s[0] == 0x2001 && s[1] == 0)
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] & 0xff00) == 0xff00)
}

/// The resolver of the clients that reach property-chosen hosts: an answer with any
/// non-public address is refused whole, and so is a lookup that fails or times out.
#[derive(Debug)]
pub struct PublicOnly {
    pub lookup: Lookup,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let config = self.lookup.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let refused = |why: String| -> Box<dyn std::error::Error + Send + Sync> {
                format!(
                    "the host {host} is chosen by a property, and Authdesk sends a connector's \
                     credentials only to public addresses: {why}"
                )
                .into()
            };
            let addresses = addresses_of(&config, &host)
                .await
                .map_err(|e| refused(format!("its lookup failed ({e})")))?;
            if addresses.is_empty() {
                return Err(refused("it resolves to no address".into()));
            }
            if let Some(ip) = addresses.iter().find(|ip| !is_public_address(**ip)) {
                return Err(refused(format!(
                    "it resolves to {ip}, an address on this machine or a private network"
                )));
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A resolver handle for [`reqwest::ClientBuilder::dns_resolver`].
pub fn public_only(lookup: Lookup) -> Arc<PublicOnly> {
    Arc::new(PublicOnly { lookup })
}

#[cfg(test)]
mod tests {
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
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.1",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "239.1.1.1",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "2001:4860::8888",
        ] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }
}
