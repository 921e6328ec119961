//! Backup codes: ten single-use codes of ten Crockford base32 characters,
//! shown as `XXXXX-XXXXX`, each stored as its own salted hash.

use crate::{Timestamp, UserId};

/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// One stored backup code.
#[derive(Clone, Debug)]
pub struct BackupCode {
    /// Its row id.
    pub id: uuid::Uuid,
    /// Its owner.
    pub user_id: UserId,
    /// Its salted hash (PHC string).
    pub hash: String,
    /// When the set it belongs to was generated.
    pub created_at: Timestamp,
    /// When it was used.
    pub used_at: Option<Timestamp>,
}

/// What `GET /mfa/methods` shows of the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupCodeSummary {
    /// Unused codes.
    pub remaining: u32,
    /// When the set was generated.
    pub generated_at: Timestamp,
}

/// A code from 7 random bytes (50 of their bits): `XXXXX-XXXXX`.
#[must_use]
pub fn backup_code_from_bytes(bytes: &[u8; 7]) -> String {
    let mut bits: u64 = 0;
    for byte in bytes {
        bits = (bits << 8) | u64::from(*byte);
    }
    let mut chars = Vec::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            chars.push(b'-');
        }
        let index = (bits >> (5 * (9 - i))) & 0x1f;
        chars.push(ALPHABET[usize::try_from(index).unwrap_or(0)]);
    }
    String::from_utf8(chars).unwrap_or_default()
}

/// The canonical `XXXXX-XXXXX` form of what a user typed: case, dashes and
/// spaces ignored, O read as 0 and I/L as 1. `None` when it cannot be a code.
#[must_use]
pub fn normalize_backup_code(input: &str) -> Option<String> {
    let mut chars = Vec::with_capacity(10);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        chars.push(c);
    }
    if chars.len() != 10 {
        return None;
    }
    let (head, tail) = chars.split_at(5);
    Some(format!(
        "{}-{}",
        head.iter().collect::<String>(),
        tail.iter().collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_crockford_characters_in_two_groups() {
        let code = backup_code_from_bytes(&[0xff, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a]);
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(
            code.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert_ne!(code, backup_code_from_bytes(&[0; 7]));
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(
            normalize_backup_code("abcde fghjk").as_deref(),
            Some("ABCDE-FGHJK")
        );
        assert_eq!(
            normalize_backup_code(" o1il0-OOOOO ").as_deref(),
            Some("01110-00000")
        );
        assert_eq!(normalize_backup_code("ABCDE-FGHJ"), None, "too short");
        assert_eq!(
            normalize_backup_code("ABCDE-FGHJU"),
            None,
            "U is not in the alphabet"
        );
        assert_eq!(normalize_backup_code("ABCDÉ-FGHJK"), None);
    }
}
