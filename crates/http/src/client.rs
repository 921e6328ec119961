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
    fn trusts(&self, ip: IpAddr) -> bool {
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
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
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

/// The caller, as recorded in audit events.
#[derive(Clone, Debug)]
pub struct Client(pub RequestContext);

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        // Borrowed, not cloned: this runs on every request.
        let ip = match req.app_data::<web::Data<TrustedProxies>>() {
            Some(proxies) => proxies.client_ip(peer, forwarded),
            None => peer,
        };
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
    use super::*;

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
