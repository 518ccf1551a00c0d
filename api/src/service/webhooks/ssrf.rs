//! Keeping webhooks from reaching what they must not: the server's own network.
//!
//! A URL is checked when it is registered (scheme, credentials, the addresses its host
//! resolves to) and again when it is delivered to — on the address actually connected
//! to: the HTTP client resolves names through [`GuardedResolver`], which drops every
//! forbidden address, so a name that changes its answer after registration (DNS
//! rebinding) gets nowhere. Literal IP addresses never reach a resolver and are checked
//! before sending.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether a webhook may connect to `ip` (always, when local targets are allowed).
pub fn allowed(ip: IpAddr, allow_local: bool) -> bool {
    allow_local || public(ip)
}

/// Not loopback, private, link-local (cloud metadata), unique-local, multicast,
/// unspecified, broadcast, documentation or shared-address space.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        // 0.0.0.0/8, 100.64.0.0/10 (carrier-grade NAT), 192.0.0.0/24, 198.18.0.0/15,
        // 240.0.0.0/4.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link local, 2001:db8::/32 documentation.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Resolves names and keeps only the addresses webhooks may reach; a name left with
/// none fails to resolve (a failed attempt with that reason).
pub struct GuardedResolver {
    pub allow_local: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_local = self.allow_local;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allowed(a.ip(), allow_local))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "{host} resolves only to addresses webhooks may not reach ({})",
                    found
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver as reqwest takes it.
pub fn resolver(allow_local: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow_local })
}

/// Why a URL may not receive webhooks, checked when it is registered; `None` when it
/// may. Resolves its host (a refused resolution is a refusal too).
pub async fn refusal(url: &str, allow_http: bool, allow_local: bool) -> Option<String> {
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(_) => return Some("must be an absolute http(s) URL".to_owned()),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Some("must use https".to_owned()),
        _ => return Some("must be an https URL".to_owned()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("must not carry credentials; authenticate with the signature".to_owned());
    }
    if parsed.fragment().is_some() {
        return Some("must not have a fragment".to_owned());
    }
    let Some(host) = parsed.host() else {
        return Some("must name a host".to_owned());
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host {
        url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        url::Host::Domain(name) => match tokio::net::lookup_host((name, port)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(_) => return Some(format!("{name} does not resolve")),
        },
    };
    if addresses.is_empty() {
        return Some("its host does not resolve".to_owned());
    }
    addresses
        .iter()
        .find(|ip| !allowed(**ip, allow_local))
        .map(|ip| format!("resolves to {ip}, which webhooks may not reach (loopback, private, link-local or metadata addresses)"))
}

/// Before sending to a URL whose host is a literal address (no resolver sees it).
pub fn literal_refusal(url: &reqwest::Url, allow_local: bool) -> Option<String> {
    let ip: IpAddr = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    (!allowed(ip, allow_local)).then(|| format!("{ip} is an address webhooks may not reach"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "ff02::1",
        ] {
            assert!(!public(ip.parse().unwrap()), "{ip}");
            assert!(
                allowed(ip.parse().unwrap(), true),
                "{ip} when local is allowed"
            );
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_refused_for_scheme_credentials_and_addresses() {
        let refused = |url: &'static str| async move { refusal(url, false, false).await };
        assert!(refused("ftp://example.com/hook").await.is_some());
        assert!(
            refused("http://93.184.216.34/hook").await.is_some(),
            "http in production"
        );
        assert!(
            refused("https://user:pw@93.184.216.34/hook")
                .await
                .is_some()
        );
        assert!(refused("https://127.0.0.1/hook").await.is_some());
        assert!(refused("https://[::1]/hook").await.is_some());
        assert!(
            refused("https://169.254.169.254/latest/meta-data")
                .await
                .is_some()
        );
        assert!(
            refused("https://localhost/hook").await.is_some(),
            "resolves to loopback"
        );
        assert!(refused("not a url").await.is_some());
        assert_eq!(refused("https://93.184.216.34/hook").await, None);
        assert_eq!(refusal("http://127.0.0.1:9/hook", true, true).await, None);
    }
}
