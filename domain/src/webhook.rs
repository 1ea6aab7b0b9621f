//! INT-1 webhooks, the pure parts: the Standard Webhooks 1.0 signature, the `whsec_` secret,
//! the retry schedule, which target addresses are refused, and what an attempt's answer decides
//! (delivered, retry later, or give up and disable the subscription).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret.
pub const SECRET_BYTES: usize = 24;

/// A signing secret: `whsec_` + base64 of the key bytes. Valid by construction.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_` followed by base64")]
    Malformed,
    #[error("a webhook secret has at least 24 bytes of key")]
    TooShort,
}

impl Secret {
    /// A secret from random key bytes (at least [`SECRET_BYTES`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        if bytes.len() < SECRET_BYTES {
            return Err(SecretError::TooShort);
        }
        Ok(Secret(bytes))
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let b64 = s
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Malformed)?;
        let bytes = B64.decode(b64).map_err(|_| SecretError::Malformed)?;
        Self::from_bytes(bytes)
    }

    /// The secret as it is shown (once) and stored.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.0))
    }

    /// `v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the key bytes.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &str) -> String {
        // HMAC takes a key of any length.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable_key(),
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one `v1,` signature per key, space-separated, the current
/// key first (during a rotation's grace period the previous key signs too, so a receiver that
/// still holds the old secret verifies).
pub fn signature_header(keys: &[&Secret], msg_id: &str, timestamp: i64, body: &str) -> String {
    keys.iter()
        .map(|k| k.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The longest grace period a rotation may give the previous secret: a week.
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 86_400);
/// The grace period when none is asked for: a day.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(86_400);

#[cold]
fn unreachable_key() -> ! {
    // `Hmac::new_from_slice` refuses no key length; this is never reached.
    panic!("HMAC refused a key")
}

/// The Standard Webhooks example schedule: the delays after attempt 1, 2, … (≈ 27.6 h in all).
pub fn default_schedule() -> Vec<Duration> {
    [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// Reads a schedule written as comma-separated milliseconds (`5000,300000`).
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    let out = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("`{p}` is not a number of milliseconds"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err("the schedule needs at least one delay".into());
    }
    Ok(out)
}

/// What one attempt's outcome decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A 2xx: done.
    Delivered,
    /// Try again after this delay.
    Retry(Duration),
    /// Give up on this delivery and disable the subscription, for this reason.
    Disable(String),
}

/// What an attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// An HTTP answer, with its `Retry-After` in seconds if it had one.
    Status { code: u16, retry_after: Option<u64> },
    /// No answer (connection refused, timeout, refused target).
    Failed,
}

/// Longest `Retry-After` honoured: a day.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Reads a `Retry-After` value (RFC 9110 §10.2.3) as seconds from `now`: either delay-seconds
/// or an HTTP-date in any of the three formats a recipient must accept (IMF-fixdate, the
/// obsolete RFC 850 and asctime forms). A date in the past is 0; an unreadable value is
/// `None` (ignored). [`decide`] caps what it honours at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
    use chrono::{NaiveDateTime, TimeZone, Utc};
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(v)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`; asctime: `Sun Nov  6 08:49:37 1994`.
            let rfc850 = v
                .strip_suffix(" GMT")
                .and_then(|d| NaiveDateTime::parse_from_str(d, "%A, %d-%b-%y %H:%M:%S").ok());
            let asctime = || {
                let squeezed = v.split_whitespace().collect::<Vec<_>>().join(" ");
                NaiveDateTime::parse_from_str(&squeezed, "%a %b %e %H:%M:%S %Y").ok()
            };
            rfc850.or_else(asctime).map(|n| Utc.from_utc_datetime(&n))
        })?;
    Some((at - now).num_seconds().max(0) as u64)
}

/// Decides after attempt number `attempt` (1 = the first). `jitter` in `[-1, 1]` spreads the
/// delay by up to ±10 % so deliveries that failed together are not retried together. A 410
/// disables at once; the schedule exhausted disables too. `Retry-After` moves the next attempt
/// later, never earlier, up to [`MAX_RETRY_AFTER`].
pub fn decide(
    result: &AttemptResult,
    attempt: u32,
    schedule: &[Duration],
    jitter: f64,
) -> Decision {
    let retry_after = match result {
        AttemptResult::Status { code, .. } if (200..300).contains(code) => {
            return Decision::Delivered;
        }
        AttemptResult::Status { code: 410, .. } => {
            return Decision::Disable("the endpoint answered 410 Gone".into());
        }
        AttemptResult::Status { retry_after, .. } => *retry_after,
        AttemptResult::Failed => None,
    };
    let Some(base) = schedule.get(attempt.saturating_sub(1) as usize) else {
        return Decision::Disable(format!(
            "{attempt} attempts failed: the retry schedule is exhausted"
        ));
    };
    let spread = base.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0));
    let delay = match retry_after {
        Some(s) => spread.max(Duration::from_secs(s).min(MAX_RETRY_AFTER)),
        None => spread,
    };
    Decision::Retry(delay)
}

/// Whether an address is one a webhook may not reach by default: loopback, private,
/// link-local, unspecified, shared (CGNAT), multicast, broadcast or unique-local.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link-local
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
}

/// One entry of the allow-list: a network in CIDR notation, a single address, or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    Net { addr: IpAddr, prefix: u8 },
    Host(String),
}

impl AllowEntry {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some((a, p)) = s.split_once('/') {
            let addr: IpAddr = a.parse().map_err(|_| format!("`{s}`: not an address"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = p
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: bad prefix length"))?;
            return Ok(AllowEntry::Net { addr, prefix });
        }
        if let Ok(addr) = s.parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(AllowEntry::Net { addr, prefix });
        }
        if s.is_empty() {
            return Err("an empty allow-list entry".into());
        }
        Ok(AllowEntry::Host(s.to_ascii_lowercase()))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let AllowEntry::Net { addr, prefix } = self else {
            return false;
        };
        match (addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(*n).into(), u32::from(a).into(), *prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => masked(u128::from(*n), u128::from(a), *prefix, 128),
            _ => false,
        }
    }
}

fn masked(net: u128, addr: u128, prefix: u8, bits: u32) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = bits - u32::from(prefix);
    (net >> shift) == (addr >> shift)
}

/// Reads a comma-separated allow-list.
pub fn parse_allow_list(s: &str) -> Result<Vec<AllowEntry>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(AllowEntry::parse)
        .collect()
}

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefusal {
    #[error("the URL must be http:// or https:// with a host")]
    BadUrl,
    #[error("{0} is a loopback, private or link-local address; an administrator may allow it")]
    Internal(IpAddr),
    #[error("the host resolves to no address")]
    Unresolved,
}

/// Whether `host`, resolved to `addrs`, may be called. An allow-listed host name, or every
/// address either public or allow-listed, passes.
pub fn check_target(
    host: &str,
    addrs: &[IpAddr],
    allow: &[AllowEntry],
) -> Result<(), TargetRefusal> {
    let host = host
        .trim_matches(|c| c == '[' || c == ']')
        .to_ascii_lowercase();
    if allow
        .iter()
        .any(|e| matches!(e, AllowEntry::Host(h) if *h == host))
    {
        return Ok(());
    }
    if addrs.is_empty() {
        return Err(TargetRefusal::Unresolved);
    }
    for ip in addrs {
        if is_internal(*ip) && !allow.iter().any(|e| e.contains(*ip)) {
            return Err(TargetRefusal::Internal(*ip));
        }
    }
    Ok(())
}

/// Splits an `http(s)://host[:port]/…` URL into its host and port (the scheme's default
/// port when none is given).
pub fn url_host_port(url: &str) -> Result<(String, u16), TargetRefusal> {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = url.strip_prefix("http://") {
        (r, 80)
    } else {
        return Err(TargetRefusal::BadUrl);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || authority.is_empty() {
        return Err(TargetRefusal::BadUrl);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or(TargetRefusal::BadUrl)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| TargetRefusal::BadUrl)?,
            None if after.is_empty() => default_port,
            None => return Err(TargetRefusal::BadUrl),
        };
        (h.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| TargetRefusal::BadUrl)?),
            None => (authority.to_owned(), default_port),
        }
    };
    if host.is_empty() {
        return Err(TargetRefusal::BadUrl);
    }
    Ok((host, port))
}

/// Whether an event type matches a subscription's filters (none: every event; `deal.*`: every
/// event of deals).
pub fn type_matches(filters: &[String], event_type: &str) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.strip_suffix(".*") {
            Some(prefix) => event_type
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => f == event_type || f == "*",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_standard_webhooks_test_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn during_a_rotation_both_keys_sign_the_current_first() {
        let new = Secret::from_bytes(vec![1; 24]).unwrap();
        let old = Secret::from_bytes(vec![2; 24]).unwrap();
        let h = signature_header(&[&new, &old], "msg_1", 10, "{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(
            parts,
            [new.sign("msg_1", 10, "{}"), old.sign("msg_1", 10, "{}")]
        );
        assert_eq!(signature_header(&[&new], "msg_1", 10, "{}"), parts[0]);
    }

    #[test]
    fn short_or_malformed_secrets_are_refused() {
        assert_eq!(Secret::parse("abc"), Err(SecretError::Malformed));
        assert_eq!(Secret::parse("whsec_!!"), Err(SecretError::Malformed));
        assert_eq!(Secret::parse("whsec_YWJj"), Err(SecretError::TooShort));
    }

    #[test]
    fn the_default_schedule_spans_more_than_a_day() {
        let total: Duration = default_schedule().iter().sum();
        assert!(total >= Duration::from_secs(24 * 3600));
        assert_eq!(default_schedule()[0], Duration::from_secs(5));
    }

    #[test]
    fn a_410_disables_and_a_2xx_delivers() {
        let s = default_schedule();
        let gone = AttemptResult::Status {
            code: 410,
            retry_after: None,
        };
        assert!(matches!(decide(&gone, 1, &s, 0.0), Decision::Disable(_)));
        let ok = AttemptResult::Status {
            code: 204,
            retry_after: None,
        };
        assert_eq!(decide(&ok, 8, &s, 0.0), Decision::Delivered);
    }

    #[test]
    fn retry_after_moves_the_attempt_later_only() {
        let s = default_schedule();
        let busy = AttemptResult::Status {
            code: 429,
            retry_after: Some(60),
        };
        assert_eq!(
            decide(&busy, 1, &s, 0.0),
            Decision::Retry(Duration::from_secs(60))
        );
        let soon = AttemptResult::Status {
            code: 503,
            retry_after: Some(1),
        };
        assert_eq!(
            decide(&soon, 2, &s, 0.0),
            Decision::Retry(Duration::from_secs(300))
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_any_http_date() {
        use chrono::TimeZone;
        let now = chrono::Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 0).unwrap();
        assert_eq!(parse_retry_after("120", now), Some(120));
        assert_eq!(parse_retry_after(" 7 ", now), Some(7));
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(date, now), Some(37), "{date}");
        }
        // A date already past asks for no wait; nonsense is ignored.
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        // A date far ahead is honoured only up to the cap.
        let far = parse_retry_after("Sat, 06 Nov 2094 08:49:37 GMT", now);
        let busy = AttemptResult::Status {
            code: 503,
            retry_after: far,
        };
        assert_eq!(
            decide(&busy, 1, &default_schedule(), 0.0),
            Decision::Retry(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            check_target("x", &[lo], &[]),
            Err(TargetRefusal::Internal(lo))
        );
        for a in [
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "2a00:1450::1", "172.32.0.1"] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
        let allow = parse_allow_list("127.0.0.0/8, erp.local").unwrap();
        assert_eq!(check_target("127.0.0.1", &[lo], &allow), Ok(()));
        assert_eq!(
            check_target("erp.local", &["10.0.0.5".parse().unwrap()], &allow),
            Ok(())
        );
        assert!(check_target("other", &["10.0.0.5".parse().unwrap()], &allow).is_err());
    }

    #[test]
    fn urls_split_into_host_and_port() {
        assert_eq!(
            url_host_port("https://a.example/x").unwrap(),
            ("a.example".into(), 443)
        );
        assert_eq!(
            url_host_port("http://127.0.0.1:8080/h").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(
            url_host_port("http://[::1]:81/").unwrap(),
            ("::1".into(), 81)
        );
        assert!(url_host_port("ftp://a").is_err());
        assert!(url_host_port("http://user@a/").is_err());
    }

    #[test]
    fn type_filters() {
        let f = vec!["deal.*".to_owned(), "invoice.created".to_owned()];
        assert!(type_matches(&f, "deal.updated"));
        assert!(type_matches(&f, "invoice.created"));
        assert!(!type_matches(&f, "invoice.updated"));
        assert!(!type_matches(&f, "dealer.created"));
        assert!(type_matches(&[], "anything.at_all"));
    }

    proptest! {
        #[test]
        fn retries_follow_the_schedule_within_the_jitter(attempt in 1u32..12, jitter in -1.0f64..1.0, code in 300u16..600) {
            let s = default_schedule();
            let r = AttemptResult::Status { code, retry_after: None };
            match decide(&r, attempt, &s, jitter) {
                Decision::Retry(d) => {
                    let base = s[attempt as usize - 1].as_secs_f64();
                    prop_assert!(d.as_secs_f64() >= base * 0.9 - 1e-6 && d.as_secs_f64() <= base * 1.1 + 1e-6);
                }
                Decision::Disable(_) => prop_assert!(code == 410 || attempt as usize > s.len()),
                Decision::Delivered => prop_assert!(false),
            }
        }

        #[test]
        fn a_signature_changes_with_every_input(body in ".{0,64}", ts in 0i64..4_000_000_000) {
            let secret = Secret::from_bytes(vec![7; 24]).unwrap();
            let a = secret.sign("msg_1", ts, &body);
            prop_assert_ne!(&a, &secret.sign("msg_2", ts, &body));
            prop_assert_ne!(&a, &secret.sign("msg_1", ts + 1, &body));
            prop_assert!(a.starts_with("v1,"));
            prop_assert_eq!(Secret::parse(&secret.expose()).unwrap(), secret);
        }
    }
}
