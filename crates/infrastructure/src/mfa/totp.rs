//! RFC 6238 codes through totp-rs.

use auth_domain::mfa::TotpCodes;
use totp_rs::{Algorithm, Builder};

/// RFC 6238 / RFC 4226 codes: HMAC-SHA1, 6 digits.
///
/// The domain picks the time steps (30 s each, with its skew and replay
/// rules); this only computes the code of one step.
#[derive(Clone, Copy, Debug, Default)]
pub struct RfcTotp;

impl RfcTotp {
    /// Digits of a code.
    pub const DIGITS: u8 = 6;
}

impl TotpCodes for RfcTotp {
    fn code(&self, secret: &[u8], step: u64) -> String {
        // totp-rs counts steps from a time in seconds; with a one-second
        // step the time *is* the counter, exact for every u64 (no `* 30`
        // to overflow). `build_noncompliant` skips the checks of `build`
        // that cannot fail here (SHA-1, 6 digits, a non-zero step) and the
        // 128-bit minimum, which secrets we generate (160 bits) always meet.
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(Self::DIGITS)
            .with_step_duration(1)
            .with_secret(secret)
            .build_noncompliant()
            .generate(step)
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the 6-digit code is the last six
    /// digits of the 8-digit value.
    #[test]
    fn matches_the_rfc_6238_sha1_vectors() {
        let secret = b"12345678901234567890";
        let vectors: [(u64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, eight) in vectors {
            assert_eq!(RfcTotp.code(secret, time / 30), eight[2..], "time {time}");
        }
    }

    #[test]
    fn codes_keep_their_leading_zeros() {
        // Step 37037036 (time 1111111109) gives 081804.
        let code = RfcTotp.code(b"12345678901234567890", 37_037_036);
        assert_eq!(code, "081804");
        assert_eq!(code.len(), 6);
    }

    #[test]
    fn the_largest_step_does_not_overflow() {
        let code = RfcTotp.code(b"12345678901234567890", u64::MAX);
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
    }
}
