//! In-memory fakes of the `mfa` ports, with the adapters' compare-and-set
//! semantics.

use super::World;
use crate::mfa::{
    Activation, BackupCode, BackupCodeHasher, BackupCodeRepository, BackupCodeSummary,
    CodeChallenge, CryptoError, MethodRepository, MethodStatus, MfaMethod, PendingLogin,
    PendingLoginRepository, Removal, SealedSecret, SecretBox, TotpCodes,
};
use crate::password::HashError;
use crate::sessions::RevokeScope;
use crate::{ChallengeId, Effects, MethodId, RepoError, SessionId, Timestamp, TokenHash, UserId};

#[derive(Clone, Debug)]
pub struct MemoryMethods(pub(super) World);

#[derive(Clone, Debug)]
pub struct MemoryBackupCodes(pub(super) World);

#[derive(Clone, Debug)]
pub struct MemoryPendingLogins(pub(super) World);

/// "Codes" any test can compute: the first six digits of the decimal
/// SHA-256 of secret and step ([`FakeTotp::code_for`]).
#[derive(Clone, Debug, Default)]
pub struct FakeTotp;

impl FakeTotp {
    /// The code of `secret` at `step`.
    #[must_use]
    pub fn code_for(secret: &[u8], step: u64) -> String {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        digest.update(secret);
        digest.update(step.to_be_bytes());
        let bytes = digest.finalize();
        let number = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % 1_000_000;
        format!("{number:06}")
    }
}

impl TotpCodes for FakeTotp {
    fn code(&self, secret: &[u8], step: u64) -> String {
        Self::code_for(secret, step)
    }
}

/// "Encrypts" by hex-encoding behind a marker.
#[derive(Clone, Debug, Default)]
pub struct FakeBox;

impl SecretBox for FakeBox {
    fn seal(&self, plain: &[u8]) -> Result<SealedSecret, CryptoError> {
        Ok(SealedSecret(format!(
            "sealed:{}",
            plain.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )))
    }

    fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, CryptoError> {
        let hex = sealed
            .0
            .strip_prefix("sealed:")
            .ok_or_else(|| CryptoError("not sealed here".into()))?;
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| CryptoError(e.to_string())))
            .collect()
    }
}

/// Backup-code "hashes" are the code behind a marker; counts checks.
#[derive(Clone, Debug)]
pub struct FakeCodeHasher(pub(super) World);

impl BackupCodeHasher for FakeCodeHasher {
    async fn hash_codes(&self, codes: Vec<String>) -> Result<Vec<String>, HashError> {
        Ok(codes.into_iter().map(|c| format!("bc:{c}")).collect())
    }

    async fn find_match(
        &self,
        code: String,
        hashes: Vec<String>,
    ) -> Result<Option<usize>, HashError> {
        self.0.lock().verifications += 1;
        Ok(hashes.iter().position(|h| *h == format!("bc:{code}")))
    }
}

impl MethodRepository for MemoryMethods {
    async fn add(&self, method: MfaMethod, effects: Effects) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let now = state.now;
        if state
            .mfa_methods
            .iter()
            .any(|m| m.user_id == method.user_id && m.name == method.name && m.is_live(now))
        {
            return Ok(false);
        }
        state
            .mfa_methods
            .retain(|m| !(m.user_id == method.user_id && m.name == method.name));
        state.mfa_methods.push(method);
        super::store::store_effects(&mut state, effects);
        Ok(true)
    }

    async fn find(&self, id: MethodId) -> Result<Option<MfaMethod>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state.mfa_methods.iter().find(|m| m.id == id).cloned())
    }

    async fn list(&self, user: UserId) -> Result<Vec<MfaMethod>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .mfa_methods
            .iter()
            .filter(|m| m.user_id == user)
            .cloned()
            .collect())
    }

    async fn activate(&self, activation: Activation) -> Result<Option<Vec<SessionId>>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let now = activation.at;
        let pending = state.mfa_methods.iter().any(|m| {
            m.id == activation.method
                && m.user_id == activation.user
                && m.status == MethodStatus::Pending
        });
        let session_live = state
            .sessions
            .iter()
            .any(|s| s.id == activation.session && s.is_active(now));
        let challenge_open = activation.challenge.is_none_or(|id| {
            state
                .mfa_challenges
                .iter()
                .any(|c| c.id == id && c.consumed_at.is_none())
        });
        if !pending || !session_live || !challenge_open {
            return Ok(None);
        }
        if let Some(id) = activation.challenge
            && let Some(c) = state.mfa_challenges.iter_mut().find(|c| c.id == id)
        {
            c.consumed_at = Some(now);
        }
        if let Some(m) = state
            .mfa_methods
            .iter_mut()
            .find(|m| m.id == activation.method)
        {
            m.status = MethodStatus::Active;
            m.last_used_step = activation.step;
            m.last_used_at = Some(now);
        }
        let mut revoked = Vec::new();
        if let Some(hashes) = activation.first {
            replace_codes(&mut state, activation.user, hashes, now);
            revoked = super::store::revoke_in(
                &mut state,
                activation.user,
                RevokeScope::AllExcept(activation.session),
                now,
            );
        }
        super::store::elevate_in(
            &mut state,
            activation.session,
            &activation.assurance,
            &activation.next,
            now,
        );
        super::store::store_effects(&mut state, activation.effects);
        Ok(Some(revoked))
    }

    async fn use_step(
        &self,
        method: MethodId,
        step: u64,
        now: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(m) = state.mfa_methods.iter_mut().find(|m| {
            m.id == method
                && m.status == MethodStatus::Active
                && m.last_used_step.is_none_or(|used| used < step)
        }) else {
            return Ok(false);
        };
        m.last_used_step = Some(step);
        m.last_used_at = Some(now);
        Ok(true)
    }

    async fn remove(
        &self,
        method: MethodId,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Removal>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let before = state.mfa_methods.len();
        state
            .mfa_methods
            .retain(|m| !(m.id == method && m.user_id == user));
        if state.mfa_methods.len() == before {
            return Ok(None);
        }
        let revoked = super::store::revoke_in(&mut state, user, RevokeScope::AllExcept(keep), now);
        let mfa_off = !state
            .mfa_methods
            .iter()
            .any(|m| m.user_id == user && m.is_active());
        if mfa_off {
            state.backup_codes.retain(|c| c.user_id != user);
            state.mfa_methods.retain(|m| m.user_id != user);
        }
        super::store::store_effects(&mut state, effects);
        Ok(Some(Removal { revoked, mfa_off }))
    }

    async fn add_challenge(
        &self,
        challenge: CodeChallenge,
        effects: Effects,
    ) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        state.mfa_challenges.push(challenge);
        super::store::store_effects(&mut state, effects);
        Ok(())
    }

    async fn find_challenge(&self, id: ChallengeId) -> Result<Option<CodeChallenge>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state.mfa_challenges.iter().find(|c| c.id == id).cloned())
    }

    async fn latest_challenge(&self, method: MethodId) -> Result<Option<CodeChallenge>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .mfa_challenges
            .iter()
            .filter(|c| c.method_id == method)
            .max_by_key(|c| (c.created_at, c.id))
            .cloned())
    }

    async fn fail_challenge(&self, id: ChallengeId) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(c) = state.mfa_challenges.iter_mut().find(|c| c.id == id) {
            c.attempts += 1;
        }
        Ok(())
    }

    async fn consume_challenge(
        &self,
        id: ChallengeId,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(c) = state.mfa_challenges.iter_mut().find(|c| {
            c.id == id && c.consumed_at.is_none() && c.expires_at > now && c.attempts < max_attempts
        }) else {
            return Ok(false);
        };
        c.consumed_at = Some(now);
        Ok(true)
    }

    async fn touch(&self, method: MethodId, now: Timestamp) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(m) = state.mfa_methods.iter_mut().find(|m| m.id == method) {
            m.last_used_at = Some(now);
        }
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let count = state.mfa_methods.len() + state.mfa_challenges.len();
        state
            .mfa_methods
            .retain(|m| m.is_active() || m.created_at >= before);
        state.mfa_challenges.retain(|c| c.expires_at >= before);
        Ok((count - state.mfa_methods.len() - state.mfa_challenges.len()) as u64)
    }
}

fn replace_codes(state: &mut super::State, user: UserId, hashes: Vec<String>, at: Timestamp) {
    state.backup_codes.retain(|c| c.user_id != user);
    for hash in hashes {
        state.backup_codes.push(BackupCode {
            id: uuid::Uuid::now_v7(),
            user_id: user,
            hash,
            created_at: at,
            used_at: None,
        });
    }
}

impl BackupCodeRepository for MemoryBackupCodes {
    async fn replace(
        &self,
        user: UserId,
        hashes: Vec<String>,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        replace_codes(&mut state, user, hashes, at);
        super::store::store_effects(&mut state, effects);
        Ok(())
    }

    async fn unused(&self, user: UserId) -> Result<Vec<BackupCode>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .backup_codes
            .iter()
            .filter(|c| c.user_id == user && c.used_at.is_none())
            .cloned()
            .collect())
    }

    async fn summary(&self, user: UserId) -> Result<Option<BackupCodeSummary>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let codes: Vec<&BackupCode> = state
            .backup_codes
            .iter()
            .filter(|c| c.user_id == user)
            .collect();
        Ok(codes.first().map(|first| BackupCodeSummary {
            remaining: codes.iter().filter(|c| c.used_at.is_none()).count() as u32,
            generated_at: first.created_at,
        }))
    }

    async fn use_code(
        &self,
        id: uuid::Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(code) = state
            .backup_codes
            .iter_mut()
            .find(|c| c.id == id && c.used_at.is_none())
        else {
            return Ok(false);
        };
        code.used_at = Some(now);
        super::store::store_effects(&mut state, effects);
        Ok(true)
    }
}

impl PendingLoginRepository for MemoryPendingLogins {
    async fn create(&self, login: PendingLogin) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        state.pending_logins.push(login);
        Ok(())
    }

    async fn find(&self, token: &TokenHash) -> Result<Option<PendingLogin>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .pending_logins
            .iter()
            .find(|p| &p.token_hash == token)
            .cloned())
    }

    async fn fail(&self, id: uuid::Uuid) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(p) = state.pending_logins.iter_mut().find(|p| p.id == id) {
            p.attempts += 1;
        }
        Ok(())
    }

    async fn consume(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(p) = state.pending_logins.iter_mut().find(|p| {
            p.id == id && p.consumed_at.is_none() && p.expires_at > now && p.attempts < max_attempts
        }) else {
            return Ok(false);
        };
        p.consumed_at = Some(now);
        Ok(true)
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let count = state.pending_logins.len();
        state.pending_logins.retain(|p| p.expires_at >= before);
        Ok((count - state.pending_logins.len()) as u64)
    }
}
