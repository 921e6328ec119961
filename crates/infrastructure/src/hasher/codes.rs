//! Backup codes on the hashing pool: each code its own salted PBKDF2 hash.

use auth_domain::mfa::BackupCodeHasher;
use auth_domain::password::HashError;
use pbkdf2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use pbkdf2::{Algorithm, Params, Pbkdf2, phc};

use super::Pbkdf2Hasher;

/// PBKDF2-SHA256 rounds of a backup-code hash. The codes carry 50 random
/// bits each, 10 per user, and a check tries all 10 at once: 5,000 rounds
/// keep that check near 10 ms, while an offline search of a stolen hash
/// (2^50 candidates x 5,000 rounds) stays out of reach. Verification reads
/// the rounds from each stored hash, so changing this only affects new sets.
pub(crate) const BACKUP_CODE_ITERATIONS: u32 = 5_000;

/// The pool's client key for backup-code work. The port names no client,
/// so all backup-code jobs share one client's share of the pool: however
/// many arrive, they never hold more of it than one client may, and
/// password hashing keeps the rest. (Callers limit attempts per login, per
/// user and per IP before they get here.)
const POOL_CLIENT: &str = "backup-codes";

fn backup_hasher() -> Result<Pbkdf2, HashError> {
    let params = Params::new(BACKUP_CODE_ITERATIONS)
        .map_err(|e| HashError::Failed(format!("backup-code parameters: {e}")))?;
    Ok(Pbkdf2::new(Algorithm::Pbkdf2Sha256, params))
}

impl BackupCodeHasher for Pbkdf2Hasher {
    /// All codes in one job: a new set costs one slot, not ten.
    async fn hash_codes(&self, codes: Vec<String>) -> Result<Vec<String>, HashError> {
        self.run(POOL_CLIENT, move |_| {
            let hasher = backup_hasher()?;
            codes
                .iter()
                .map(|code| {
                    // A fresh random salt per code (the `getrandom` feature).
                    hasher
                        .hash_password(code.as_bytes())
                        .map(|hash| hash.to_string())
                        .map_err(|e| HashError::Failed(e.to_string()))
                })
                .collect()
        })
        .await?
    }

    /// Checks `code` against every hash in one job, always all of them, so
    /// the time taken does not tell which (or whether one) matched.
    async fn find_match(
        &self,
        code: String,
        hashes: Vec<String>,
    ) -> Result<Option<usize>, HashError> {
        self.run(POOL_CLIENT, move |_| {
            // Parse all first: an unreadable stored hash is an error, found
            // before any work whose duration could depend on the code.
            let parsed = hashes
                .iter()
                .map(|hash| {
                    phc::PasswordHash::new(hash)
                        .map_err(|e| HashError::Failed(format!("unreadable backup-code hash: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let hasher = backup_hasher()?;
            let mut found = None;
            for (index, hash) in parsed.iter().enumerate() {
                match hasher.verify_password(code.as_bytes(), hash) {
                    Ok(()) => {
                        found = found.or(Some(index));
                    }
                    Err(pbkdf2::password_hash::Error::PasswordInvalid) => {}
                    Err(e) => return Err(HashError::Failed(e.to_string())),
                }
            }
            Ok(found)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Pbkdf2Hasher {
        Pbkdf2Hasher::new(1000, 2, 8, 4).expect("hasher")
    }

    fn codes() -> Vec<String> {
        (0..10).map(|i| format!("ABCDE-{i:05}")).collect()
    }

    #[tokio::test]
    async fn finds_the_index_of_the_matching_code() {
        let hasher = hasher();
        let hashes = hasher.hash_codes(codes()).await.expect("hash");
        assert_eq!(hashes.len(), 10);
        for hash in &hashes {
            assert!(
                hash.starts_with("$pbkdf2-sha256$i=5000,"),
                "{hash}: fixed rounds, not the password's"
            );
        }
        for (index, code) in codes().into_iter().enumerate() {
            assert_eq!(
                hasher
                    .find_match(code, hashes.clone())
                    .await
                    .expect("check"),
                Some(index)
            );
        }
    }

    #[tokio::test]
    async fn a_wrong_code_matches_nothing() {
        let hasher = hasher();
        let hashes = hasher.hash_codes(codes()).await.expect("hash");
        assert_eq!(
            hasher
                .find_match("ZZZZZ-ZZZZZ".into(), hashes)
                .await
                .expect("check"),
            None
        );
        assert_eq!(
            hasher
                .find_match("ABCDE-00001".into(), Vec::new())
                .await
                .expect("check"),
            None
        );
    }

    #[tokio::test]
    async fn equal_codes_get_distinct_salted_hashes() {
        let hasher = hasher();
        let hashes = hasher
            .hash_codes(vec!["ABCDE-12345".into(), "ABCDE-12345".into()])
            .await
            .expect("hash");
        assert_ne!(hashes[0], hashes[1]);
        // Both match; the first index is reported.
        assert_eq!(
            hasher
                .find_match("ABCDE-12345".into(), hashes)
                .await
                .expect("check"),
            Some(0)
        );
    }

    #[tokio::test]
    async fn an_unreadable_hash_is_an_error() {
        let hasher = hasher();
        let mut hashes = hasher
            .hash_codes(vec!["ABCDE-12345".into()])
            .await
            .expect("hash");
        hashes.push("not a hash".into());
        assert!(matches!(
            hasher.find_match("ABCDE-12345".into(), hashes).await,
            Err(HashError::Failed(_))
        ));
    }
}
