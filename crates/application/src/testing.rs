//! In-memory ports and a controllable clock for the unit tests of the flows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_domain::ports::{
    AccessTokenIssuer, AccessTokenVerifier, AuditLog, Clock, CreateUserError, HashError,
    HealthProbe, MailError, Mailer, OneTimeTokenRepository, OutboxRepository, PasswordCheck,
    PasswordHasher, RandomError, Registration, RepoError, RevocationList, SecureRandom,
    SessionRepository, SigningError, TokenRejection, UserRepository,
};
use auth_domain::ports::{
    GraceEntry, RefreshGrace, RefreshTokenRecord, RevokeReason, RevokeScope, Rotation,
};
use auth_domain::{
    AccessClaims, AuditEvent, Email, EmailMessage, MessageId, NewSession, OneTimeToken,
    OpaqueToken, OutboxMessage, OutboxStatus, Password, PasswordHash, RequestContext, Session,
    SessionId, Timestamp, TokenHash, TokenId, TokenPurpose, User, UserId,
};
use chrono::TimeZone;

use crate::{AuthService, AuthSettings, Ports, RegisterRequest};

/// Everything the fakes share, open to assertions.
pub struct State {
    pub now: Timestamp,
    pub down: bool,
    pub users: Vec<User>,
    pub tokens: Vec<OneTimeToken>,
    pub sessions: Vec<(Session, TokenHash)>,
    pub events: Vec<AuditEvent>,
    pub outbox: Vec<OutboxMessage>,
    pub outbox_state: HashMap<MessageId, (OutboxStatus, Option<Timestamp>)>,
    pub revoked: Vec<SessionId>,
    pub refresh_tokens: Vec<(TokenHash, SessionId, Option<Timestamp>)>,
    pub grace: HashMap<String, GraceEntry>,
    pub verifications: u32,
    pub issued: HashMap<String, AccessClaims>,
    counter: u64,
}

impl State {
    pub fn advance(&mut self, by: Duration) {
        self.now += chrono::TimeDelta::from_std(by).expect("small duration");
    }

    pub fn set_hash(&mut self, id: UserId, hash: &str) {
        let user = self
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .expect("user exists");
        user.password_hash = PasswordHash::new(hash.to_owned());
    }

    fn check(&self) -> Result<(), RepoError> {
        if self.down {
            Err(RepoError::Unavailable("store is down".into()))
        } else {
            Ok(())
        }
    }
}

pub type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.lock().expect("test state lock")
}

#[derive(Clone)]
pub struct MemoryStore(pub Shared);

impl UserRepository for MemoryStore {
    async fn create_user(&self, registration: Registration) -> Result<(), CreateUserError> {
        let mut state = lock(&self.0);
        state.check()?;
        if state
            .users
            .iter()
            .any(|u| u.email == registration.user.email)
        {
            return Err(CreateUserError::EmailTaken);
        }
        state.users.push(registration.user);
        state.tokens.push(registration.verification);
        state
            .outbox_state
            .insert(registration.mail.id, (OutboxStatus::Pending, None));
        state.outbox.push(registration.mail);
        state.events.extend(registration.events);
        Ok(())
    }

    async fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let state = lock(&self.0);
        state.check()?;
        Ok(state.users.iter().find(|u| &u.email == email).cloned())
    }

    async fn find_user_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let state = lock(&self.0);
        state.check()?;
        Ok(state.users.iter().find(|u| u.id == id).cloned())
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        keep: Option<SessionId>,
        _reason: RevokeReason,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Vec<SessionId>, RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        if let Some(user) = state.users.iter_mut().find(|u| u.id == id) {
            user.password_hash = hash.clone();
        }
        let mut revoked = Vec::new();
        for (s, _) in &mut state.sessions {
            if s.user_id == id && Some(s.id) != keep && s.is_active(now) {
                s.revoked_at = Some(now);
                revoked.push(s.id);
            }
        }
        state.events.push(event);
        Ok(revoked)
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        if let Some(user) = state.users.iter_mut().find(|u| u.id == id) {
            user.password_hash = hash.clone();
            user.updated_at = now;
        }
        Ok(())
    }
}

impl OneTimeTokenRepository for MemoryStore {
    async fn find_one_time_token(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeToken>, RepoError> {
        let state = lock(&self.0);
        state.check()?;
        Ok(state
            .tokens
            .iter()
            .find(|t| &t.token_hash == hash && t.purpose == purpose)
            .cloned())
    }

    async fn complete_email_verification(
        &self,
        token: TokenId,
        user: UserId,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        let Some(record) = state
            .tokens
            .iter_mut()
            .find(|t| t.id == token && t.consumed_at.is_none())
        else {
            return Ok(false);
        };
        record.consumed_at = Some(now);
        if let Some(u) = state.users.iter_mut().find(|u| u.id == user) {
            u.email_verified = true;
        }
        state.events.push(event);
        Ok(true)
    }
}

impl SessionRepository for MemoryStore {
    async fn create_session(&self, new: NewSession, event: AuditEvent) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        state
            .refresh_tokens
            .push((new.refresh_token_hash.clone(), new.session.id, None));
        state.sessions.push((new.session, new.refresh_token_hash));
        state.events.push(event);
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepoError> {
        let state = lock(&self.0);
        state.check()?;
        let Some((_, sid, used_at)) = state.refresh_tokens.iter().find(|(h, _, _)| h == hash)
        else {
            return Ok(None);
        };
        let session = state
            .sessions
            .iter()
            .find(|(s, _)| s.id == *sid)
            .map(|(s, _)| s.clone());
        Ok(session.map(|session| RefreshTokenRecord {
            session,
            used_at: *used_at,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Rotation, RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        let live = state.sessions.iter().any(|(s, _)| {
            s.id == session
                && s.is_active(now)
                && state
                    .users
                    .iter()
                    .any(|u| u.id == s.user_id && u.status == auth_domain::AccountStatus::Active)
        });
        if !live {
            return Ok(Rotation::SessionEnded);
        }
        let Some(entry) = state
            .refresh_tokens
            .iter_mut()
            .find(|(h, s, used)| h == presented && *s == session && used.is_none())
        else {
            return Ok(Rotation::NotCurrent);
        };
        entry.2 = Some(now);
        state.refresh_tokens.push((next.clone(), session, None));
        if let Some((s, _)) = state.sessions.iter_mut().find(|(s, _)| s.id == session) {
            s.last_used_at = now;
        }
        state.events.push(event);
        Ok(Rotation::Rotated)
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        scope: RevokeScope,
        _reason: RevokeReason,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Vec<SessionId>, RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        let mut revoked = Vec::new();
        for (s, _) in &mut state.sessions {
            let in_scope = match scope {
                RevokeScope::One(id) => s.id == id,
                RevokeScope::All => true,
                RevokeScope::AllExcept(id) => s.id != id,
            };
            if s.user_id == user && in_scope && s.is_active(now) {
                s.revoked_at = Some(now);
                revoked.push(s.id);
            }
        }
        state.events.push(event);
        Ok(revoked)
    }

    async fn list_active_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, RepoError> {
        let state = lock(&self.0);
        state.check()?;
        let mut sessions: Vec<Session> = state
            .sessions
            .iter()
            .map(|(s, _)| s.clone())
            .filter(|s| s.user_id == user && s.is_active(now))
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    async fn revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>, RepoError> {
        let state = lock(&self.0);
        Ok(state
            .sessions
            .iter()
            .filter(|(s, _)| s.revoked_at.is_some_and(|at| at >= since))
            .map(|(s, _)| s.id)
            .collect())
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        let state = lock(&self.0);
        state.check()?;
        Ok(state
            .sessions
            .iter()
            .find(|(s, _)| s.id == id)
            .map(|(s, _)| s.clone()))
    }
}

impl AuditLog for MemoryStore {
    async fn record(&self, event: AuditEvent) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        state.events.push(event);
        Ok(())
    }
}

impl OutboxRepository for MemoryStore {
    async fn claim_due_messages(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, RepoError> {
        let mut state = lock(&self.0);
        state.check()?;
        let due: Vec<OutboxMessage> = state
            .outbox
            .iter()
            .filter(|m| {
                let (status, lease) = state.outbox_state[&m.id];
                status == OutboxStatus::Pending
                    && m.next_attempt_at <= now
                    && lease.is_none_or(|l| l < now)
            })
            .take(limit as usize)
            .cloned()
            .collect();
        for m in &due {
            state
                .outbox_state
                .insert(m.id, (OutboxStatus::Pending, Some(lease_until)));
        }
        Ok(due)
    }

    async fn mark_sent(&self, message: &OutboxMessage, _now: Timestamp) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        state
            .outbox_state
            .insert(message.id, (OutboxStatus::Sent, None));
        if let Some(m) = state.outbox.iter_mut().find(|m| m.id == message.id) {
            m.email.text_body.clear();
            m.email.html_body.clear();
        }
        Ok(())
    }

    async fn release(&self, ids: &[MessageId]) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        for id in ids {
            if let Some(entry) = state.outbox_state.get_mut(id)
                && entry.0 == OutboxStatus::Pending
            {
                entry.1 = None;
            }
        }
        Ok(())
    }

    async fn purge_finished(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = lock(&self.0);
        let finished: Vec<MessageId> = state
            .outbox
            .iter()
            .filter(|m| {
                m.created_at < before && state.outbox_state[&m.id].0 != OutboxStatus::Pending
            })
            .map(|m| m.id)
            .collect();
        state.outbox.retain(|m| !finished.contains(&m.id));
        for id in &finished {
            state.outbox_state.remove(id);
        }
        Ok(finished.len() as u64)
    }

    async fn schedule_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: Timestamp,
        _error: &str,
    ) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        state.outbox_state.insert(id, (OutboxStatus::Pending, None));
        if let Some(m) = state.outbox.iter_mut().find(|m| m.id == id) {
            m.attempts = attempts;
            m.next_attempt_at = next_attempt_at;
        }
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        _now: Timestamp,
        _error: &str,
    ) -> Result<(), RepoError> {
        let mut state = lock(&self.0);
        state.outbox_state.insert(id, (OutboxStatus::Failed, None));
        if let Some(m) = state.outbox.iter_mut().find(|m| m.id == id) {
            m.attempts = attempts;
        }
        Ok(())
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, RepoError> {
        let state = lock(&self.0);
        Ok(state
            .outbox
            .iter()
            .filter(|m| state.outbox_state[&m.id].0 == OutboxStatus::Pending)
            .map(|m| m.next_attempt_at)
            .min())
    }

    async fn pending_count(&self) -> Result<u64, RepoError> {
        let state = lock(&self.0);
        Ok(state
            .outbox_state
            .values()
            .filter(|(s, _)| *s == OutboxStatus::Pending)
            .count() as u64)
    }
}

impl HealthProbe for MemoryStore {
    async fn ping(&self) -> Result<(), RepoError> {
        lock(&self.0).check()
    }
}

/// "Hashes" are the password with a version prefix: `v2:` is current, `old:`
/// needs a rehash.
pub struct FakeHasher(Shared);

impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: Password) -> Result<PasswordHash, HashError> {
        Ok(PasswordHash::new(format!("v2:{}", password.expose())))
    }

    async fn verify(
        &self,
        password: Password,
        hash: PasswordHash,
    ) -> Result<PasswordCheck, HashError> {
        lock(&self.0).verifications += 1;
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

/// Tokens are opaque handles to claims kept in the shared state.
pub struct FakeTokens(Shared);

impl AccessTokenIssuer for FakeTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, SigningError> {
        let mut state = lock(&self.0);
        state.counter += 1;
        let token = format!("at-{}", state.counter);
        state.issued.insert(token.clone(), claims.clone());
        Ok(token)
    }
}

impl AccessTokenVerifier for FakeTokens {
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenRejection> {
        let state = lock(&self.0);
        let claims = state.issued.get(token).ok_or(TokenRejection::Malformed)?;
        if claims.expires_at <= now {
            return Err(TokenRejection::Expired);
        }
        Ok(claims.clone())
    }
}

pub struct MemoryRevocations(Shared);

impl RevocationList for MemoryRevocations {
    fn is_revoked(&self, session: SessionId) -> bool {
        lock(&self.0).revoked.contains(&session)
    }

    async fn revoke(&self, sessions: &[SessionId], _until: Timestamp) -> Result<(), RepoError> {
        lock(&self.0).revoked.extend_from_slice(sessions);
        Ok(())
    }
}

impl RefreshGrace for MemoryRevocations {
    async fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        _ttl: Duration,
    ) -> Result<(), RepoError> {
        lock(&self.0)
            .grace
            .insert(presented.as_str().to_owned(), entry.clone());
        Ok(())
    }

    async fn recall(&self, presented: &TokenHash) -> Result<Option<GraceEntry>, RepoError> {
        Ok(lock(&self.0).grace.get(presented.as_str()).cloned())
    }
}

impl HealthProbe for MemoryRevocations {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}

#[derive(Clone)]
pub struct TestClock(pub Shared);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        lock(&self.0).now
    }
}

pub struct SequentialRandom(Shared);

impl SecureRandom for SequentialRandom {
    fn token(&self) -> Result<OpaqueToken, RandomError> {
        let mut state = lock(&self.0);
        state.counter += 1;
        Ok(OpaqueToken::new(format!("rnd{:040}", state.counter)))
    }
}

#[derive(Clone, Default)]
pub struct TestMailer(Arc<Mutex<(bool, Vec<EmailMessage>)>>);

impl TestMailer {
    pub fn set_down(&self, down: bool) {
        self.0.lock().expect("lock").0 = down;
    }

    pub fn sent(&self) -> Vec<EmailMessage> {
        self.0.lock().expect("lock").1.clone()
    }
}

impl Mailer for TestMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let mut inner = self.0.lock().expect("lock");
        if inner.0 {
            return Err(MailError("smtp is down".into()));
        }
        inner.1.push(message.clone());
        Ok(())
    }
}

pub struct TestPorts;

impl Ports for TestPorts {
    type Store = MemoryStore;
    type Hasher = FakeHasher;
    type Tokens = FakeTokens;
    type Hot = MemoryRevocations;
    type Clock = TestClock;
    type Random = SequentialRandom;
}

pub fn service() -> (AuthService<TestPorts>, Shared) {
    let state = Arc::new(Mutex::new(State {
        now: chrono::Utc
            .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
            .single()
            .expect("valid date"),
        down: false,
        users: Vec::new(),
        tokens: Vec::new(),
        sessions: Vec::new(),
        events: Vec::new(),
        outbox: Vec::new(),
        outbox_state: HashMap::new(),
        revoked: Vec::new(),
        refresh_tokens: Vec::new(),
        grace: HashMap::new(),
        verifications: 0,
        issued: HashMap::new(),
        counter: 0,
    }));
    let svc = AuthService::new(
        MemoryStore(state.clone()),
        FakeHasher(state.clone()),
        FakeTokens(state.clone()),
        MemoryRevocations(state.clone()),
        TestClock(state.clone()),
        SequentialRandom(state.clone()),
        AuthSettings::default(),
    );
    (svc, state)
}

pub const fn strong_password() -> &'static str {
    "Quiet-Harbor-42-Lantern"
}

/// Registers `email` and returns the user and the raw token of its mail.
pub async fn register_user(
    svc: &AuthService<TestPorts>,
    state: &Shared,
    email: &str,
) -> (User, String) {
    let request = RegisterRequest {
        email: Email::parse(email).expect("valid"),
        password: Password::new(strong_password().into()),
    };
    let user = svc
        .register(request, &RequestContext::default())
        .await
        .expect("registered");
    let state = lock(state);
    let mail = &state.outbox.last().expect("mail queued").email;
    let token = mail
        .text_body
        .split("token=")
        .nth(1)
        .expect("link")
        .split_whitespace()
        .next()
        .expect("token");
    (user, token.to_owned())
}
