//! Who is calling: the client IP (behind trusted proxies only) and user agent.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use auth_domain::RequestContext;
use ipnet::IpNet;

/// Proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// Whether `ip` is one of the trusted proxies.
    #[must_use]
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address: the socket peer, unless the peer is a trusted
    /// proxy; then the right-most `X-Forwarded-For` hop that is not one.
    #[must_use]
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_for.unwrap_or_default().rsplit(',') {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` hop: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
}

/// Every `X-Forwarded-For` line, in order, as one list: proxies that append
/// a line of their own (HAProxy, some CDNs) leave a forged first line.
fn forwarded_for(req: &HttpRequest) -> Option<String> {
    let lines: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!lines.is_empty()).then(|| lines.join(","))
}

/// The caller, as recorded in audit events.
#[derive(Clone, Debug)]
pub struct Client(pub RequestContext);

/// Whether the request came straight from a trusted proxy.
#[must_use]
pub fn from_trusted_proxy(req: &HttpRequest) -> bool {
    let peer = req.peer_addr().map(|a| a.ip());
    req.app_data::<web::Data<TrustedProxies>>()
        .is_some_and(|proxies| peer.is_some_and(|p| proxies.trusts(p)))
}

/// The client address of a request, as API.md defines it.
#[must_use]
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    // Borrowed, not cloned: this runs on every request.
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) if peer.is_some_and(|p| proxies.trusts(p)) => {
            proxies.client_ip(peer, forwarded_for(req).as_deref())
        }
        _ => peer,
    }
}

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = client_ip(req);
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        ready(Ok(Self(RequestContext { ip, user_agent })))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies(vec![
            "10.0.0.0/8".parse().expect("net"),
            "fd00::/8".parse().expect("net"),
        ])
    }

    #[test]
    fn ports_and_brackets_are_understood() {
        let proxies = proxies();
        let peer = Some(ip("10.0.0.2"));
        for (header, expected) in [
            ("198.51.100.7:4711", "198.51.100.7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
            ("6.6.6.6, [fd00::1]:80, 10.0.0.9:1234", "6.6.6.6"),
        ] {
            assert_eq!(
                proxies.client_ip(peer, Some(header)),
                Some(ip(expected)),
                "{header}"
            );
        }
        // Garbage stops the walk at the last address believed.
        assert_eq!(
            proxies.client_ip(peer, Some("6.6.6.6, unknown, 10.0.0.3")),
            Some(ip("10.0.0.3"))
        );
    }

    #[test]
    fn every_header_line_counts_in_order() {
        let proxies = proxies();
        // The client forged the first line; the trusted proxy appended its own.
        let req = TestRequest::default()
            .peer_addr("10.0.0.2:5000".parse().expect("addr"))
            .append_header(("x-forwarded-for", "6.6.6.6"))
            .append_header(("x-forwarded-for", "198.51.100.7"))
            .to_http_request();
        let joined = forwarded_for(&req);
        assert_eq!(joined.as_deref(), Some("6.6.6.6,198.51.100.7"));
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.2")), joined.as_deref()),
            Some(ip("198.51.100.7"))
        );
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn untrusted_peer_cannot_spoof_its_address() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().expect("net")]);
        assert_eq!(
            proxies.client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn trusted_proxy_yields_rightmost_untrusted_hop() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().expect("net")]);
        let got = proxies.client_ip(
            Some(ip("10.0.0.2")),
            Some("6.6.6.6, 198.51.100.7, 10.0.0.3"),
        );
        assert_eq!(got, Some(ip("198.51.100.7")));
        assert_eq!(
            proxies.client_ip(Some(ip("10.0.0.2")), None),
            Some(ip("10.0.0.2"))
        );
    }
}
