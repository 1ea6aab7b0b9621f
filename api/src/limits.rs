//! API-8 request limits: who a request comes from (the socket peer, or the client a trusted
//! proxy names), and per-caller GCRA rate limiting with bounded memory.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};
use uuid::Uuid;

/// Addresses (or CIDR ranges) of the reverse proxies whose `X-Forwarded-For` / `Forwarded`
/// headers are believed (`SDELKA_TRUSTED_PROXIES`). From anyone else those headers are
/// ignored: they are trivially forged.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{entry}` is not an IP address or CIDR range"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("`{entry}` has an invalid prefix length"))?,
                None => max,
            };
            nets.push((ip, bits));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| in_net(ip, canonical(*net), *bits))
    }
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The client's address: the socket peer, unless the peer is a trusted proxy; then the
/// forwarded chain is walked from the right (the hop the trusted proxy saw) past every
/// trusted proxy, and the first address that is not one is the client.
pub fn client_address(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_chain(req.headers()).into_iter().rev() {
        let Some(hop) = hop else {
            // An entry that is not an address (`unknown`, garbage): nothing left of it can be
            // believed; the last trusted hop is the best we know.
            break;
        };
        client = canonical(hop);
        if !trusted.contains(client) {
            break;
        }
    }
    Some(client)
}

/// The addresses of `X-Forwarded-For` (all its lines, in order) or else of the `for=`
/// parameters of `Forwarded` (RFC 7239); `None` for an entry that is not an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    if !xff.is_empty() {
        return xff.into_iter().map(parse_hop).collect();
    }
    headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(v.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]`, `[::1]:5678`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':')
        .and_then(|(ip, port)| port.parse::<u16>().ok().and(ip.parse().ok()))
}

/// Whom a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A user through an access token.
    User(Uuid),
    /// A personal API token (each token has its own budget).
    ApiToken(Uuid),
    /// An anonymous (or unauthenticated) client: its address; IPv6 by /64, the block one
    /// subscriber usually holds.
    Address(IpAddr),
    /// Anonymous clients while the table is full (see [`MAX_KEYS`]).
    Overflow,
}

impl RateKey {
    pub fn address(ip: IpAddr) -> RateKey {
        match canonical(ip) {
            IpAddr::V6(v6) => RateKey::Address(IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & (u128::MAX << 64),
            ))),
            v4 => RateKey::Address(v4),
        }
    }
}

/// The most keys the limiter holds. A key is dropped as soon as its bucket is full again (it
/// then behaves exactly like a new one), so only callers active within the last refill window
/// occupy memory; if more anonymous addresses than this are active at once, the new ones
/// share one bucket until the table shrinks.
pub const MAX_KEYS: usize = 100_000;

/// How many decisions pass between two sweeps of full buckets.
const SWEEP_EVERY: u64 = 512;

type KeyedGcra =
    Gcra<RateKey, DefaultKeyedStateStore<RateKey>, DefaultClock, StateInformationMiddleware>;

/// Per-caller token buckets (GCRA): at most `burst` requests at once, refilled at
/// `per_second`.
pub struct RateLimiter {
    gcra: KeyedGcra,
    burst: u32,
    interval: Duration,
    decisions: AtomicU64,
}

/// A decision with what the `RateLimit-*` fields report.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    pub allowed: bool,
    /// The bucket's size (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`RateLimit-Reset`).
    pub reset_seconds: u64,
    /// For a refusal: seconds until the next request is allowed (`Retry-After`).
    pub retry_after_seconds: u64,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            0.001
        };
        let interval = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(burst.clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        RateLimiter {
            gcra: Gcra::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            burst: burst.get(),
            interval,
            decisions: AtomicU64::new(0),
        }
    }

    pub fn admit(&self, key: RateKey) -> Admission {
        if self
            .decisions
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            self.sweep();
        }
        let key = match key {
            RateKey::Address(_) if self.gcra.len() >= MAX_KEYS => {
                self.sweep();
                if self.gcra.len() >= MAX_KEYS {
                    RateKey::Overflow
                } else {
                    key
                }
            }
            k => k,
        };
        match self.gcra.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity().min(self.burst);
                Admission {
                    allowed: true,
                    limit: self.burst,
                    remaining,
                    reset_seconds: self.seconds(self.interval * (self.burst - remaining)),
                    retry_after_seconds: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.gcra.clock().now());
                Admission {
                    allowed: false,
                    limit: self.burst,
                    remaining: 0,
                    reset_seconds: self.seconds(wait + self.interval * (self.burst - 1)),
                    retry_after_seconds: self.seconds(wait).max(1),
                }
            }
        }
    }

    /// Seconds, rounded up.
    fn seconds(&self, d: Duration) -> u64 {
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }

    /// The window of the quota policy: the time an empty bucket takes to fill.
    pub fn window_seconds(&self) -> u64 {
        self.seconds(self.interval * self.burst).max(1)
    }

    /// Drops the buckets that are full again.
    pub fn sweep(&self) {
        self.gcra.retain_recent();
        self.gcra.shrink_to_fit();
    }

    /// How many keys the limiter holds (after dropping full buckets).
    pub fn key_count(&self) -> usize {
        self.sweep();
        self.gcra.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_parse_addresses_and_ranges() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(!t.contains("11.1.2.3".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(t.contains("::ffff:10.0.0.7".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/40".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
    }

    #[test]
    fn hops_parse_with_ports_and_brackets() {
        assert_eq!(parse_hop("1.2.3.4:80"), "1.2.3.4".parse().ok());
        assert_eq!(parse_hop("[2001:db8::1]:443"), "2001:db8::1".parse().ok());
        assert_eq!(parse_hop(" 2001:db8::1 "), "2001:db8::1".parse().ok());
        assert_eq!(parse_hop("unknown"), None);
    }

    #[test]
    fn the_headers_count_down_and_reset_when_full() {
        let l = RateLimiter::new(1.0, 3.0);
        let k = RateKey::address("192.0.2.1".parse().unwrap());
        let a = l.admit(k);
        assert!(a.allowed);
        assert_eq!((a.limit, a.remaining, a.reset_seconds), (3, 2, 1));
        let b = l.admit(k);
        assert_eq!((b.remaining, b.reset_seconds), (1, 2));
        let c = l.admit(k);
        assert_eq!((c.remaining, c.reset_seconds), (0, 3));
        let d = l.admit(k);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_seconds, 1);
        assert_eq!(d.reset_seconds, 3);
        assert_eq!(l.window_seconds(), 3);
    }
}
