//! In-memory implementations of every port, for the unit tests of every
//! crate (feature `testing`). They keep the semantics of the real adapters —
//! unique emails, compare-and-set rotations, leases — and [`contract`] holds
//! the suite that runs against them and against SQLite and PostgreSQL alike,
//! so a fake cannot drift from the adapter it stands for.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod access;
pub mod contract;
mod mfa;
mod organizations;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::TimeZone as _;

pub use access::{
    MemoryRoles, MemoryServiceKeys, RecordedChanges, default_permissions, system_roles,
};
pub use mfa::{
    FakeBox, FakeCodeHasher, FakeTotp, MemoryBackupCodes, MemoryMethods, MemoryPendingLogins,
};
pub use organizations::{MemoryInvitations, MemoryOrganizations};
pub use store::{
    MemoryAudit, MemoryHot, MemoryLimiter, MemoryOneTimeTokens, MemoryOutbox, MemorySessions,
    MemoryUsers, OutboxRow, RefreshRow,
};

use crate::accounts::OneTimeToken;
use crate::activity::{MailError, Mailer};
use crate::password::{HashError, PasswordCheck, PasswordHasher};
use crate::sessions::{
    AccessTokenIssuer, AccessTokenVerifier, GraceEntry, SigningError, TokenRejection,
};
use crate::system::{Clock, RandomError, SecureRandom};
use crate::{
    AccessClaims, AuditEvent, EmailMessage, OpaqueToken, Password, PasswordHash, RepoError, Role,
    Session, SessionId, Timestamp, User, UserId,
};

/// Everything the fakes hold, open to assertions.
#[derive(Debug)]
pub struct State {
    /// The test clock.
    pub now: Timestamp,
    /// When set, every repository call fails as `Unavailable`.
    pub down: bool,
    pub users: Vec<User>,
    pub user_roles: Vec<(UserId, Role)>,
    pub one_time_tokens: Vec<OneTimeToken>,
    pub sessions: Vec<Session>,
    pub refresh_tokens: Vec<RefreshRow>,
    pub events: Vec<AuditEvent>,
    pub outbox: Vec<OutboxRow>,
    /// The revocation list.
    pub revoked: Vec<SessionId>,
    pub grace: HashMap<String, GraceEntry>,
    /// Password verifications done by [`FakeHasher`].
    pub verifications: u32,
    /// Tokens issued by [`FakeTokens`].
    pub issued: HashMap<String, AccessClaims>,
    /// Client keys [`FakeHasher`] hashed for, in order.
    pub hashed_for: Vec<String>,
    pub limiter_hits: HashMap<String, Vec<Timestamp>>,
    pub limiter_blocks: HashMap<String, Timestamp>,
    pub mfa_methods: Vec<crate::mfa::MfaMethod>,
    pub mfa_challenges: Vec<crate::mfa::CodeChallenge>,
    pub backup_codes: Vec<crate::mfa::BackupCode>,
    pub pending_logins: Vec<crate::mfa::PendingLogin>,
    pub roles: Vec<crate::access::RoleRecord>,
    pub permissions: Vec<crate::access::PermissionInfo>,
    /// Service keys and when each was revoked.
    pub service_keys: Vec<(crate::access::ServiceKey, Option<Timestamp>)>,
    /// Access changes announced, in order.
    pub access_changes: Vec<crate::access::AccessChange>,
    /// Organizations and when each was deleted.
    pub organizations: Vec<(crate::organizations::Organization, Option<Timestamp>)>,
    pub memberships: Vec<crate::organizations::Membership>,
    pub invitations: Vec<crate::organizations::Invitation>,
    /// Each user's preferences as stored (a JSON object).
    pub preferences: HashMap<UserId, String>,
    counter: u64,
}

impl State {
    pub(crate) fn check(&self) -> Result<(), RepoError> {
        if self.down {
            Err(RepoError::Unavailable("store is down".into()))
        } else {
            Ok(())
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }
}

/// One shared in-memory world; every fake built from it sees the same state.
#[derive(Clone, Debug)]
pub struct World(Arc<Mutex<State>>);

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// An empty world at 2026-01-01T12:00:00Z.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(State {
            now: chrono::Utc
                .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
                .single()
                .expect("a valid date"),
            down: false,
            users: Vec::new(),
            user_roles: Vec::new(),
            one_time_tokens: Vec::new(),
            sessions: Vec::new(),
            refresh_tokens: Vec::new(),
            events: Vec::new(),
            outbox: Vec::new(),
            revoked: Vec::new(),
            grace: HashMap::new(),
            verifications: 0,
            issued: HashMap::new(),
            hashed_for: Vec::new(),
            limiter_hits: HashMap::new(),
            limiter_blocks: HashMap::new(),
            mfa_methods: Vec::new(),
            mfa_challenges: Vec::new(),
            backup_codes: Vec::new(),
            pending_logins: Vec::new(),
            roles: access::system_roles(),
            permissions: access::default_permissions(),
            service_keys: Vec::new(),
            access_changes: Vec::new(),
            organizations: Vec::new(),
            memberships: Vec::new(),
            invitations: Vec::new(),
            preferences: HashMap::new(),
            counter: 0,
        })))
    }

    /// The state, for assertions and adjustments.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the test clock forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.now = crate::after(state.now, by);
    }

    /// Makes every repository call fail (or work again).
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// The current test time.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.lock().now
    }

    pub fn users(&self) -> MemoryUsers {
        MemoryUsers(self.clone())
    }
    pub fn one_time_tokens(&self) -> MemoryOneTimeTokens {
        MemoryOneTimeTokens(self.clone())
    }
    pub fn sessions(&self) -> MemorySessions {
        MemorySessions(self.clone())
    }
    pub fn roles(&self) -> MemoryRoles {
        MemoryRoles(self.clone())
    }
    pub fn service_keys(&self) -> MemoryServiceKeys {
        MemoryServiceKeys(self.clone())
    }
    pub fn organizations(&self) -> MemoryOrganizations {
        MemoryOrganizations(self.clone())
    }
    pub fn invitations(&self) -> MemoryInvitations {
        MemoryInvitations(self.clone())
    }
    pub fn access_changes(&self) -> RecordedChanges {
        RecordedChanges(self.clone())
    }
    pub fn audit(&self) -> MemoryAudit {
        MemoryAudit(self.clone())
    }
    pub fn outbox(&self) -> MemoryOutbox {
        MemoryOutbox(self.clone())
    }
    pub fn hot(&self) -> MemoryHot {
        MemoryHot(self.clone())
    }
    pub fn limiter(&self) -> MemoryLimiter {
        MemoryLimiter(self.clone())
    }
    pub fn hasher(&self) -> FakeHasher {
        FakeHasher(self.clone())
    }
    pub fn tokens(&self) -> FakeTokens {
        FakeTokens(self.clone())
    }
    pub fn clock(&self) -> TestClock {
        TestClock(self.clone())
    }
    pub fn random(&self) -> SequentialRandom {
        SequentialRandom(self.clone())
    }
    pub fn mfa_methods(&self) -> MemoryMethods {
        MemoryMethods(self.clone())
    }
    pub fn backup_codes(&self) -> MemoryBackupCodes {
        MemoryBackupCodes(self.clone())
    }
    pub fn pending_logins(&self) -> MemoryPendingLogins {
        MemoryPendingLogins(self.clone())
    }
    pub fn code_hasher(&self) -> FakeCodeHasher {
        FakeCodeHasher(self.clone())
    }
}

/// "Hashes" are the password with a version prefix: `v2:` is current, `old:`
/// needs a rehash. Counts verifications.
#[derive(Clone, Debug)]
pub struct FakeHasher(World);

impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: Password, client: &str) -> Result<PasswordHash, HashError> {
        self.0.lock().hashed_for.push(client.to_owned());
        Ok(PasswordHash::new(format!("v2:{}", password.expose())))
    }

    async fn verify(
        &self,
        password: Password,
        hash: PasswordHash,
        client: &str,
    ) -> Result<PasswordCheck, HashError> {
        let mut state = self.0.lock();
        state.verifications += 1;
        state.hashed_for.push(client.to_owned());
        drop(state);
        Ok(match hash.as_str().split_once(':') {
            Some(("v2", pw)) if pw == password.expose() => PasswordCheck::Match {
                needs_rehash: false,
            },
            Some(("old", pw)) if pw == password.expose() => {
                PasswordCheck::Match { needs_rehash: true }
            }
            _ => PasswordCheck::Mismatch,
        })
    }

    fn dummy_hash(&self) -> PasswordHash {
        PasswordHash::new("v2:\u{0}".to_owned())
    }
}

/// Access tokens are opaque handles to claims kept in the world.
#[derive(Clone, Debug)]
pub struct FakeTokens(World);

impl AccessTokenIssuer for FakeTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, SigningError> {
        let mut state = self.0.lock();
        let token = format!("at-{}", state.next());
        state.issued.insert(token.clone(), claims.clone());
        Ok(token)
    }
}

impl AccessTokenVerifier for FakeTokens {
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenRejection> {
        let state = self.0.lock();
        let claims = state.issued.get(token).ok_or(TokenRejection::Malformed)?;
        if claims.expires_at <= now {
            return Err(TokenRejection::Expired);
        }
        Ok(claims.clone())
    }
}

/// The world's clock; move it with [`World::advance`].
#[derive(Clone, Debug)]
pub struct TestClock(World);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

/// Predictable "random" tokens.
#[derive(Clone, Debug)]
pub struct SequentialRandom(World);

impl SecureRandom for SequentialRandom {
    fn token(&self) -> Result<OpaqueToken, RandomError> {
        Ok(OpaqueToken::new(format!("rnd{:040}", self.0.lock().next())))
    }

    /// Bytes from a counter: distinct on every call, predictable in tests.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        let seed = self.0.lock().next();
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = (seed.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8;
        }
        Ok(())
    }
}

/// A mailer that keeps what it sends, and can be made to fail.
#[derive(Clone, Debug, Default)]
pub struct TestMailer(Arc<Mutex<(bool, Vec<EmailMessage>)>>);

impl TestMailer {
    /// Makes sending fail (or work again).
    pub fn set_down(&self, down: bool) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).0 = down;
    }

    /// What was sent.
    #[must_use]
    pub fn sent(&self) -> Vec<EmailMessage> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }
}

impl Mailer for TestMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.0 {
            return Err(MailError("smtp is down".into()));
        }
        inner.1.push(message.clone());
        Ok(())
    }
}

/// An SMS sender that keeps what it sends.
#[derive(Clone, Debug, Default)]
pub struct TestSms(Arc<Mutex<Vec<crate::activity::SmsMessage>>>);

impl TestSms {
    /// What was sent.
    #[must_use]
    pub fn sent(&self) -> Vec<crate::activity::SmsMessage> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl crate::activity::SmsSender for TestSms {
    async fn send(&self, message: &crate::activity::SmsMessage) -> Result<(), MailError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}

/// Polls two futures together until both are done: enough to race two
/// repository calls in the contract suite without an async runtime here.
pub async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::pin::pin;
    use std::task::Poll;
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut left, mut right) = (None, None);
    std::future::poll_fn(|cx| {
        if left.is_none()
            && let Poll::Ready(value) = a.as_mut().poll(cx)
        {
            left = Some(value);
        }
        if right.is_none()
            && let Poll::Ready(value) = b.as_mut().poll(cx)
        {
            right = Some(value);
        }
        if left.is_some() && right.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (
        left.expect("polled to completion"),
        right.expect("polled to completion"),
    )
}
