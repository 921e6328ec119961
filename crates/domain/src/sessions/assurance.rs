//! How strongly a session's user proved who they are: the `acr`, `amr` and
//! `auth_time` claims (RFC 8176 method names; NIST assurance levels).

use crate::Timestamp;

/// Authentication assurance level (`acr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aal {
    /// One factor (a password).
    Aal1,
    /// A second factor in this session.
    Aal2,
}

impl Aal {
    /// `"aal1"` or `"aal2"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
        }
    }

    /// Parses a stored or claimed value.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "aal1" => Some(Self::Aal1),
            "aal2" => Some(Self::Aal2),
            _ => None,
        }
    }
}

/// One authentication method reference (`amr`, RFC 8176).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time password: TOTP, an email code or a backup code.
    Otp,
    /// A code sent by SMS.
    Sms,
    /// More than one factor.
    Mfa,
    /// A hardware-bound key (passkey).
    Hwk,
    /// A software-bound key (synced passkey).
    Swk,
    /// User presence and verification on the authenticator.
    User,
}

impl Amr {
    /// The RFC 8176 string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pwd => "pwd",
            Self::Otp => "otp",
            Self::Sms => "sms",
            Self::Mfa => "mfa",
            Self::Hwk => "hwk",
            Self::Swk => "swk",
            Self::User => "user",
        }
    }

    /// Parses one value.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Pwd,
            Self::Otp,
            Self::Sms,
            Self::Mfa,
            Self::Hwk,
            Self::Swk,
            Self::User,
        ]
        .into_iter()
        .find(|amr| amr.as_str() == raw)
    }
}

/// What a session's user proved, and when they last proved it interactively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assurance {
    /// `acr`.
    pub aal: Aal,
    /// `amr`, in the order the proofs were made.
    pub amr: Vec<Amr>,
    /// `auth_time`: the last interactive proof (password, factor, re-auth).
    /// Refresh copies it; only those proofs renew it.
    pub auth_time: Timestamp,
}

impl Assurance {
    /// A password alone, at `at`.
    #[must_use]
    pub fn password(at: Timestamp) -> Self {
        Self {
            aal: Aal::Aal1,
            amr: vec![Amr::Pwd],
            auth_time: at,
        }
    }

    /// A first factor (`first`) completed by a second one (`second`) at `at`.
    #[must_use]
    pub fn two_factors(first: &[Amr], second: Amr, at: Timestamp) -> Self {
        let mut amr: Vec<Amr> = first.iter().copied().filter(|m| *m != Amr::Mfa).collect();
        if !amr.contains(&second) {
            amr.push(second);
        }
        amr.push(Amr::Mfa);
        Self {
            aal: Aal::Aal2,
            amr,
            auth_time: at,
        }
    }

    /// The `amr` values as stored (space separated).
    #[must_use]
    pub fn amr_stored(&self) -> String {
        self.amr
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads stored values; unknown entries are dropped, a missing level is
    /// `aal1`.
    #[must_use]
    pub fn from_stored(aal: &str, amr: &str, auth_time: Timestamp) -> Self {
        Self {
            aal: Aal::parse(aal).unwrap_or(Aal::Aal1),
            amr: amr.split_whitespace().filter_map(Amr::parse).collect(),
            auth_time,
        }
    }

    /// Whether this satisfies a step-up demand for `required` within
    /// `max_age` of `now`.
    #[must_use]
    pub fn satisfies(&self, required: Aal, max_age: std::time::Duration, now: Timestamp) -> bool {
        self.aal >= required && crate::after(self.auth_time, max_age) >= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_ends_the_list_with_mfa() {
        let now = chrono::Utc::now();
        let aal2 = Assurance::two_factors(&[Amr::Pwd], Amr::Otp, now);
        assert_eq!(aal2.amr_stored(), "pwd otp mfa");
        assert_eq!(aal2.aal, Aal::Aal2);
        // Stepping up again does not repeat entries.
        let again = Assurance::two_factors(&aal2.amr, Amr::Sms, now);
        assert_eq!(again.amr_stored(), "pwd otp sms mfa");
        assert_eq!(
            Assurance::from_stored("aal2", "pwd otp mfa", now),
            Assurance::two_factors(&[Amr::Pwd], Amr::Otp, now)
        );
    }

    #[test]
    fn step_up_needs_the_level_and_a_recent_proof() {
        let now = chrono::Utc::now();
        let ten_minutes = std::time::Duration::from_secs(600);
        let fresh = Assurance::password(now);
        assert!(fresh.satisfies(Aal::Aal1, ten_minutes, now));
        assert!(!fresh.satisfies(Aal::Aal2, ten_minutes, now));
        let old = Assurance::password(now - chrono::TimeDelta::minutes(11));
        assert!(!old.satisfies(Aal::Aal1, ten_minutes, now));
    }
}
