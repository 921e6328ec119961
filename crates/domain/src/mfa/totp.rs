//! RFC 6238 time steps, the no-replay rule, and the `otpauth://` URI. The
//! HMAC itself is the [`super::TotpCodes`] port's.

use subtle::ConstantTimeEq as _;

use super::TotpCodes;
use crate::Timestamp;

/// Seconds per step.
pub const PERIOD: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Secret length: 160 bits, RFC 4226's recommendation.
pub const SECRET_BYTES: usize = 20;

/// The time step `now` falls in.
#[must_use]
pub fn step_at(now: Timestamp) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0) / PERIOD
}

/// The step whose code `code` is, among the steps within `skew` of `now`
/// and after `last_used` (a step once used never matches again), or `None`.
/// Every candidate is compared, in constant time, so the answer's timing does
/// not tell which step matched.
#[must_use]
pub fn matching_step(
    codes: &impl TotpCodes,
    secret: &[u8],
    code: &str,
    now: Timestamp,
    skew: u64,
    last_used: Option<u64>,
) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    let mut found = None;
    for step in current.saturating_sub(skew)..=current + skew {
        let expected = codes.code(secret, step);
        let equal = bool::from(expected.as_bytes().ct_eq(code.as_bytes()));
        let fresh = last_used.is_none_or(|used| step > used);
        if equal && fresh && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
#[must_use]
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let index = (bits >> (35 - 5 * i)) & 0x1f;
            out.push(char::from(ALPHABET[usize::try_from(index).unwrap_or(0)]));
        }
    }
    out
}

/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
#[must_use]
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{}:{}", encode(issuer), encode(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        base32(secret),
        encode(issuer)
    )
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test key of RFC 6238 for SHA-1, and a fake code function that
    /// shows which step was asked for.
    struct StepEcho;
    impl TotpCodes for StepEcho {
        fn code(&self, _secret: &[u8], step: u64) -> String {
            format!("{:06}", step % 1_000_000)
        }
    }

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(seconds, 0).expect("time")
    }

    #[test]
    fn a_code_matches_its_step_within_the_skew_and_never_again() {
        let now = at(59 * 30 + 10); // step 59
        let code = |step: u64| format!("{:06}", step);
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(59), now, 1, None),
            Some(59)
        );
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(58), now, 1, None),
            Some(58)
        );
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(60), now, 1, None),
            Some(60)
        );
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(57), now, 1, None),
            None,
            "outside the skew"
        );
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(59), now, 1, Some(59)),
            None,
            "replay"
        );
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(58), now, 1, Some(59)),
            None,
            "older than the last used"
        );
        assert_eq!(
            matching_step(&StepEcho, b"k", &code(60), now, 1, Some(59)),
            Some(60)
        );
        assert_eq!(matching_step(&StepEcho, b"k", "12345", now, 1, None), None);
        assert_eq!(matching_step(&StepEcho, b"k", "abcdef", now, 1, None), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn the_uri_names_issuer_and_account_encoded() {
        let uri = otpauth_uri("Acme Inc", "a+b@example.com", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Inc:a%2Bb%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Inc&algorithm=SHA1&digits=6&period=30"
        );
    }
}
