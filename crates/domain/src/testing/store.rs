//! In-memory repositories, hot state and audit log.

use std::time::Duration;

use super::World;
use crate::accounts::{
    AccountDeletion, AccountStatus, CreateUserError, NewAccount, OneTimeToken,
    OneTimeTokenRepository, Profile, Suspension, UserFilter, UserRepository,
};
use crate::activity::{AuditFilter, AuditLog, OutboxBacklog, OutboxRepository};
use crate::limits::{Admission, LimiterMode, RateLimiter, Window};
use crate::sessions::{
    GraceEntry, RefreshGrace, RefreshTokenRecord, RevocationList, RevokeReason, RevokeScope,
    Rotation, SessionRepository,
};
use crate::system::HealthProbe;
use crate::{
    AuditEvent, Effects, Email, EventId, MessageId, NewSession, OrganizationId, OutboxMessage,
    OutboxPayload, OutboxStatus, PasswordHash, RepoError, Session, SessionId, Timestamp, TokenHash,
    TokenId, TokenPurpose, User, UserId,
};

/// A stored refresh token.
#[derive(Clone, Debug)]
pub struct RefreshRow {
    pub hash: TokenHash,
    pub session: SessionId,
    pub used_at: Option<Timestamp>,
}

/// A stored outbox message and its delivery state.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub message: OutboxMessage,
    pub status: OutboxStatus,
    pub lease: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
}

/// The account as a read gives it: `mfa_enabled` from its active methods.
fn with_mfa(state: &super::State, user: &User) -> User {
    let mut user = user.clone();
    user.mfa_enabled = state
        .mfa_methods
        .iter()
        .any(|m| m.user_id == user.id && m.is_active());
    user
}

pub(super) fn store_effects(state: &mut super::State, effects: Effects) {
    state.events.extend(effects.events);
    state
        .outbox
        .extend(effects.messages.into_iter().map(|message| OutboxRow {
            message,
            status: OutboxStatus::Pending,
            lease: None,
            sent_at: None,
        }));
}

pub(super) fn revoke_in(
    state: &mut super::State,
    user: UserId,
    scope: RevokeScope,
    now: Timestamp,
) -> Vec<SessionId> {
    let mut revoked = Vec::new();
    for session in &mut state.sessions {
        if session.user_id == user && session.revoked_at.is_none() && scope.covers(session.id) {
            session.revoked_at = Some(now);
            revoked.push(session.id);
        }
    }
    revoked
}

/// Sets a live session's assurance and makes `next` its only current
/// refresh token; `false` when the session has ended.
pub(super) fn elevate_in(
    state: &mut super::State,
    session: SessionId,
    assurance: &crate::Assurance,
    next: &TokenHash,
    now: Timestamp,
) -> bool {
    let Some(s) = state
        .sessions
        .iter_mut()
        .find(|s| s.id == session && s.is_active(now))
    else {
        return false;
    };
    s.assurance = assurance.clone();
    s.last_used_at = now;
    replace_refresh_tokens(state, session, next, now);
    true
}

/// Names `organization` in a live session's tokens and makes `next` its
/// only current refresh token; `false` when the session has ended.
fn switch_in(
    state: &mut super::State,
    session: SessionId,
    organization: Option<OrganizationId>,
    next: &TokenHash,
    now: Timestamp,
) -> bool {
    let Some(s) = state
        .sessions
        .iter_mut()
        .find(|s| s.id == session && s.is_active(now))
    else {
        return false;
    };
    s.organization_id = organization;
    s.last_used_at = now;
    replace_refresh_tokens(state, session, next, now);
    true
}

/// Rotates every unused refresh token of `session` out in favour of `next`.
fn replace_refresh_tokens(
    state: &mut super::State,
    session: SessionId,
    next: &TokenHash,
    now: Timestamp,
) {
    for row in &mut state.refresh_tokens {
        if row.session == session && row.used_at.is_none() {
            row.used_at = Some(now);
        }
    }
    state.refresh_tokens.push(RefreshRow {
        hash: next.clone(),
        session,
        used_at: None,
    });
}

#[derive(Clone, Debug)]
pub struct MemoryUsers(pub(super) World);

impl UserRepository for MemoryUsers {
    async fn create(&self, account: NewAccount) -> Result<(), CreateUserError> {
        let mut state = self.0.lock();
        state.check()?;
        if state.users.iter().any(|u| u.email == account.user.email) {
            return Err(CreateUserError::EmailTaken);
        }
        let id = account.user.id;
        state.users.push(account.user);
        state
            .user_roles
            .extend(account.roles.into_iter().map(|role| (id, role)));
        state.one_time_tokens.push(account.verification);
        store_effects(&mut state, account.effects);
        Ok(())
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .users
            .iter()
            .find(|u| &u.email == email)
            .map(|u| with_mfa(&state, u)))
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| with_mfa(&state, u)))
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        revoke: RevokeScope,
        _reason: RevokeReason,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Vec<SessionId>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(user) = state.users.iter_mut().find(|u| u.id == id) {
            user.password_hash = hash.clone();
            user.updated_at = now;
        }
        let revoked = revoke_in(&mut state, id, revoke, now);
        store_effects(&mut state, effects);
        Ok(revoked)
    }

    async fn delete_unverified(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let gone: Vec<UserId> = state
            .users
            .iter()
            .filter(|u| !u.email_verified && u.created_at < before)
            .map(|u| u.id)
            .collect();
        state.users.retain(|u| !gone.contains(&u.id));
        state.user_roles.retain(|(u, _)| !gone.contains(u));
        state.memberships.retain(|m| !gone.contains(&m.user_id));
        state.preferences.retain(|u, _| !gone.contains(u));
        state.one_time_tokens.retain(|t| !gone.contains(&t.user_id));
        let sessions: Vec<SessionId> = state
            .sessions
            .iter()
            .filter(|s| gone.contains(&s.user_id))
            .map(|s| s.id)
            .collect();
        state.sessions.retain(|s| !sessions.contains(&s.id));
        state
            .refresh_tokens
            .retain(|r| !sessions.contains(&r.session));
        Ok(gone.len() as u64)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(user) = state.users.iter_mut().find(|u| u.id == id) {
            user.password_hash = hash.clone();
            user.updated_at = now;
        }
        Ok(())
    }

    async fn update_profile(
        &self,
        id: UserId,
        profile: &Profile,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<User>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(user) = state.users.iter_mut().find(|u| u.id == id) else {
            return Ok(None);
        };
        user.profile = profile.clone();
        user.updated_at = now;
        let updated = user.clone();
        store_effects(&mut state, effects);
        Ok(Some(with_mfa(&state, &updated)))
    }

    async fn suspend(
        &self,
        id: UserId,
        suspension: &Suspension,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Vec<SessionId>>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(user) = state.users.iter_mut().find(|u| u.id == id) else {
            return Ok(None);
        };
        user.status = AccountStatus::Suspended;
        user.suspension = Some(suspension.clone());
        user.updated_at = now;
        let revoked = revoke_in(&mut state, id, RevokeScope::All, now);
        store_effects(&mut state, effects);
        Ok(Some(revoked))
    }

    async fn reactivate(
        &self,
        id: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(user) = state.users.iter_mut().find(|u| u.id == id) else {
            return Ok(false);
        };
        user.status = AccountStatus::Active;
        user.suspension = None;
        user.updated_at = now;
        store_effects(&mut state, effects);
        Ok(true)
    }

    async fn lift_suspensions(&self, now: Timestamp) -> Result<Vec<UserId>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let mut lifted = Vec::new();
        for user in &mut state.users {
            let due = user.status == AccountStatus::Suspended
                && user
                    .suspension
                    .as_ref()
                    .and_then(|s| s.until)
                    .is_some_and(|until| until <= now);
            if due {
                user.status = AccountStatus::Active;
                user.suspension = None;
                user.updated_at = now;
                lifted.push(user.id);
            }
        }
        lifted.sort();
        Ok(lifted)
    }

    async fn preferences(&self, id: UserId) -> Result<Option<String>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state.preferences.get(&id).cloned())
    }

    async fn set_preferences(
        &self,
        id: UserId,
        preferences: &str,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(user) = state.users.iter_mut().find(|u| u.id == id) else {
            return Ok(false);
        };
        user.updated_at = now;
        state.preferences.insert(id, preferences.to_owned());
        store_effects(&mut state, effects);
        Ok(true)
    }

    async fn delete_account(
        &self,
        id: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<AccountDeletion, RepoError> {
        use crate::access::OrgRole;
        let mut state = self.0.lock();
        state.check()?;
        let Some(email) = state
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.email.clone())
        else {
            return Ok(AccountDeletion::NotFound);
        };
        let live_org = |org: OrganizationId| {
            state
                .organizations
                .iter()
                .any(|(o, deleted)| o.id == org && deleted.is_none())
        };
        let last_owner = state.memberships.iter().any(|m| {
            m.user_id == id
                && m.role == OrgRole::Owner
                && live_org(m.organization_id)
                && !state.memberships.iter().any(|other| {
                    other.organization_id == m.organization_id
                        && other.user_id != id
                        && other.role == OrgRole::Owner
                })
        });
        if last_owner {
            return Ok(AccountDeletion::LastOwner);
        }
        let admins = |u: Option<UserId>| {
            state
                .user_roles
                .iter()
                .filter(|(holder, r)| {
                    r.as_str() == crate::Role::ADMIN && u.is_none_or(|u| *holder == u)
                })
                .count()
        };
        if admins(Some(id)) > 0 && admins(None) <= 1 {
            return Ok(AccountDeletion::LastAdmin);
        }
        let mut live: Vec<SessionId> = state
            .sessions
            .iter()
            .filter(|s| s.user_id == id && s.revoked_at.is_none() && s.expires_at > now)
            .map(|s| s.id)
            .collect();
        live.sort();
        let sessions: Vec<SessionId> = state
            .sessions
            .iter()
            .filter(|s| s.user_id == id)
            .map(|s| s.id)
            .collect();
        state
            .refresh_tokens
            .retain(|r| !sessions.contains(&r.session));
        state.sessions.retain(|s| s.user_id != id);
        state.one_time_tokens.retain(|t| t.user_id != id);
        state.mfa_challenges.retain(|c| c.user_id != id);
        state.backup_codes.retain(|c| c.user_id != id);
        state.pending_logins.retain(|p| p.user_id != id);
        state.mfa_methods.retain(|m| m.user_id != id);
        state.memberships.retain(|m| m.user_id != id);
        state.user_roles.retain(|(u, _)| *u != id);
        state.preferences.remove(&id);
        // Invitations to the address go, whatever their state.
        state.invitations.retain(|i| i.email != email);
        let to = format!("{:?}", email.as_str());
        state
            .outbox
            .retain(|row| !format!("{:?}", row.message.payload).contains(&to));
        for event in &mut state.events {
            if event.user_id == Some(id) {
                event.ip = None;
                event.user_agent = None;
                event.details.clear();
            }
        }
        state.users.retain(|u| u.id != id);
        store_effects(&mut state, effects);
        Ok(AccountDeletion::Deleted(live))
    }

    async fn search(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<(Vec<User>, Option<UserId>), RepoError> {
        let state = self.0.lock();
        state.check()?;
        let query = filter.query.as_deref().map(str::to_lowercase);
        let mut found: Vec<User> = state
            .users
            .iter()
            .filter(|u| after.is_none_or(|after| u.id > after))
            .filter(|u| {
                query.as_deref().is_none_or(|q| {
                    u.email.as_str().starts_with(q)
                        || u.profile
                            .name
                            .as_deref()
                            .is_some_and(|name| name.to_lowercase().contains(q))
                })
            })
            .filter(|u| filter.status.is_none_or(|status| u.status == status))
            .filter(|u| {
                filter.role.as_deref().is_none_or(|role| {
                    state
                        .user_roles
                        .iter()
                        .any(|(user, r)| *user == u.id && r.as_str() == role)
                })
            })
            .filter(|u| {
                filter.organization.is_none_or(|org| {
                    state
                        .organizations
                        .iter()
                        .any(|(o, deleted)| o.id == org && deleted.is_none())
                        && state
                            .memberships
                            .iter()
                            .any(|m| m.organization_id == org && m.user_id == u.id)
                })
            })
            .map(|u| with_mfa(&state, u))
            .collect();
        found.sort_by_key(|u| u.id);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = found.len() > limit;
        found.truncate(limit);
        let next = if more {
            found.last().map(|u| u.id)
        } else {
            None
        };
        Ok((found, next))
    }
}

impl HealthProbe for MemoryUsers {
    async fn ping(&self) -> Result<(), RepoError> {
        self.0.lock().check()
    }
}

#[derive(Clone, Debug)]
pub struct MemoryOneTimeTokens(pub(super) World);

impl OneTimeTokenRepository for MemoryOneTimeTokens {
    async fn issue(&self, token: OneTimeToken, effects: Effects) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        for older in &mut state.one_time_tokens {
            if older.user_id == token.user_id
                && older.purpose == token.purpose
                && older.consumed_at.is_none()
            {
                older.consumed_at = Some(token.created_at);
            }
        }
        state.one_time_tokens.push(token);
        store_effects(&mut state, effects);
        Ok(())
    }

    async fn complete_password_reset(
        &self,
        token: TokenId,
        user: UserId,
        hash: &PasswordHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Vec<SessionId>>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(found) = state
            .one_time_tokens
            .iter_mut()
            .find(|t| t.id == token && t.consumed_at.is_none())
        else {
            return Ok(None);
        };
        found.consumed_at = Some(now);
        if let Some(u) = state.users.iter_mut().find(|u| u.id == user) {
            u.password_hash = hash.clone();
            u.email_verified = true;
            u.updated_at = now;
        }
        let revoked = revoke_in(&mut state, user, RevokeScope::All, now);
        store_effects(&mut state, effects);
        Ok(Some(revoked))
    }

    async fn purge_spent(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let count = state.one_time_tokens.len();
        state
            .one_time_tokens
            .retain(|t| t.consumed_at.is_none_or(|at| at >= before) && t.expires_at >= before);
        Ok((count - state.one_time_tokens.len()) as u64)
    }

    async fn find(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeToken>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .one_time_tokens
            .iter()
            .find(|t| &t.token_hash == hash && t.purpose == purpose)
            .cloned())
    }

    async fn complete_email_verification(
        &self,
        token: TokenId,
        user: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(found) = state
            .one_time_tokens
            .iter_mut()
            .find(|t| t.id == token && t.consumed_at.is_none())
        else {
            return Ok(false);
        };
        found.consumed_at = Some(now);
        if let Some(u) = state.users.iter_mut().find(|u| u.id == user) {
            u.email_verified = true;
            u.updated_at = now;
        }
        store_effects(&mut state, effects);
        Ok(true)
    }
}

#[derive(Clone, Debug)]
pub struct MemorySessions(pub(super) World);

impl SessionRepository for MemorySessions {
    async fn create(&self, new: NewSession, effects: Effects) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        state.refresh_tokens.push(RefreshRow {
            hash: new.refresh_token_hash,
            session: new.session.id,
            used_at: None,
        });
        state.sessions.push(new.session);
        store_effects(&mut state, effects);
        Ok(())
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state.sessions.iter().find(|s| s.id == id).cloned())
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let Some(row) = state.refresh_tokens.iter().find(|r| &r.hash == hash) else {
            return Ok(None);
        };
        Ok(state
            .sessions
            .iter()
            .find(|s| s.id == row.session)
            .map(|session| RefreshTokenRecord {
                session: session.clone(),
                used_at: row.used_at,
            }))
    }

    async fn rotate_refresh_token(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Rotation, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let live = state.sessions.iter().any(|s| {
            s.id == session
                && s.is_active(now)
                && state
                    .users
                    .iter()
                    .any(|u| u.id == s.user_id && u.status.allows_access())
        });
        if !live {
            return Ok(Rotation::SessionEnded);
        }
        let Some(row) = state
            .refresh_tokens
            .iter_mut()
            .find(|r| &r.hash == presented && r.session == session && r.used_at.is_none())
        else {
            return Ok(Rotation::NotCurrent);
        };
        row.used_at = Some(now);
        state.refresh_tokens.push(RefreshRow {
            hash: next.clone(),
            session,
            used_at: None,
        });
        if let Some(s) = state.sessions.iter_mut().find(|s| s.id == session) {
            s.last_used_at = now;
        }
        store_effects(&mut state, effects);
        Ok(Rotation::Rotated)
    }

    async fn elevate(
        &self,
        session: SessionId,
        assurance: &crate::Assurance,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let live = elevate_in(&mut state, session, assurance, next, now);
        if live {
            store_effects(&mut state, effects);
        }
        Ok(live)
    }

    async fn switch_organization(
        &self,
        session: SessionId,
        organization: Option<OrganizationId>,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let live = switch_in(&mut state, session, organization, next, now);
        if live {
            store_effects(&mut state, effects);
        }
        Ok(live)
    }

    async fn revoke(
        &self,
        user: UserId,
        scope: RevokeScope,
        _reason: RevokeReason,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Vec<SessionId>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let revoked = revoke_in(&mut state, user, scope, now);
        if !revoked.is_empty() {
            store_effects(&mut state, effects);
        }
        Ok(revoked)
    }

    async fn list_active(&self, user: UserId, now: Timestamp) -> Result<Vec<Session>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut sessions: Vec<Session> = state
            .sessions
            .iter()
            .filter(|s| s.user_id == user && s.is_active(now))
            .cloned()
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    async fn purge_ended(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let ended: Vec<SessionId> = state
            .sessions
            .iter()
            .filter(|s| s.expires_at < before || s.revoked_at.is_some_and(|at| at < before))
            .map(|s| s.id)
            .collect();
        state.sessions.retain(|s| !ended.contains(&s.id));
        state.refresh_tokens.retain(|r| !ended.contains(&r.session));
        Ok(ended.len() as u64)
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state.sessions.iter().filter(|s| s.is_active(now)).count() as u64)
    }

    async fn revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .sessions
            .iter()
            .filter(|s| s.revoked_at.is_some_and(|at| at >= since))
            .map(|s| s.id)
            .collect())
    }
}

#[derive(Clone, Debug)]
pub struct MemoryAudit(pub(super) World);

impl AuditLog for MemoryAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        state.events.push(event);
        Ok(())
    }

    async fn list_for_user(
        &self,
        user: UserId,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut events: Vec<AuditEvent> = state
            .events
            .iter()
            .filter(|e| e.user_id == Some(user) && before.is_none_or(|b| e.id < b))
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.id));
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(events)
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut events: Vec<AuditEvent> = state
            .events
            .iter()
            .filter(|e| filter.user.is_none_or(|user| e.user_id == Some(user)))
            .filter(|e| filter.kind.is_none_or(|kind| e.kind == kind))
            .filter(|e| before.is_none_or(|b| e.id < b))
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.id));
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(events)
    }

    async fn list_for_organization(
        &self,
        org: OrganizationId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut events: Vec<AuditEvent> = state
            .events
            .iter()
            .filter(|e| e.organization_id == Some(org))
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.id));
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(events)
    }
}

#[derive(Clone, Debug)]
pub struct MemoryOutbox(pub(super) World);

impl crate::activity::EventFeed for MemoryOutbox {
    async fn pending_events(&self) -> Result<u64, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .outbox
            .iter()
            .filter(|row| {
                row.status == OutboxStatus::Pending
                    && matches!(row.message.payload, OutboxPayload::Event(_))
            })
            .count() as u64)
    }

    async fn claim_events(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let mut rows: Vec<&mut OutboxRow> = state
            .outbox
            .iter_mut()
            .filter(|row| {
                row.status == OutboxStatus::Pending
                    && matches!(row.message.payload, OutboxPayload::Event(_))
            })
            .collect();
        rows.sort_by_key(|row| row.message.id);
        let mut claimed = Vec::new();
        for row in rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            if row.message.next_attempt_at > now || row.lease.is_some_and(|lease| lease >= now) {
                break;
            }
            row.lease = Some(lease_until);
            claimed.push(row.message.clone());
        }
        Ok(claimed)
    }

    async fn events_after(
        &self,
        after: Option<crate::MessageId>,
        limit: u32,
    ) -> Result<Vec<(crate::MessageId, Timestamp, crate::DomainEvent)>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut events: Vec<_> = state
            .outbox
            .iter()
            .filter(|row| after.is_none_or(|after| row.message.id > after))
            .filter_map(|row| match &row.message.payload {
                crate::OutboxPayload::Event(event) => {
                    Some((row.message.id, row.message.created_at, event.clone()))
                }
                _ => None,
            })
            .collect();
        events.sort_by_key(|(id, _, _)| *id);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(events)
    }
}

impl OutboxRepository for MemoryOutbox {
    async fn queue(&self, message: OutboxMessage) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        store_effects(&mut state, Effects::default().and_message(message));
        Ok(())
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let mut due: Vec<&mut OutboxRow> = state
            .outbox
            .iter_mut()
            .filter(|row| {
                row.status == OutboxStatus::Pending
                    && !matches!(row.message.payload, crate::OutboxPayload::Event(_))
                    && row.message.next_attempt_at <= now
                    && row.lease.is_none_or(|lease| lease < now)
            })
            .collect();
        due.sort_by_key(|row| row.message.next_attempt_at);
        Ok(due
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|row| {
                row.lease = Some(lease_until);
                row.message.clone()
            })
            .collect())
    }

    async fn mark_sent(&self, message: &OutboxMessage, now: Timestamp) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(row) = state.outbox.iter_mut().find(|r| r.message.id == message.id) {
            row.status = OutboxStatus::Sent;
            row.sent_at = Some(now);
            row.lease = None;
            row.message.attempts += 1;
            match &mut row.message.payload {
                OutboxPayload::Email(email) => {
                    email.text_body.clear();
                    email.html_body.clear();
                }
                OutboxPayload::AccountRequest(request) => {
                    request.ip = None;
                    request.user_agent = None;
                }
                OutboxPayload::Sms(sms) => sms.body.clear(),
                OutboxPayload::Event(_) => {}
            }
        }
        Ok(())
    }

    async fn schedule_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: Timestamp,
        _error: &str,
    ) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(row) = state.outbox.iter_mut().find(|r| r.message.id == id) {
            row.status = OutboxStatus::Pending;
            row.lease = None;
            row.message.attempts = attempts;
            row.message.next_attempt_at = next_attempt_at;
        }
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        _error: &str,
    ) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if let Some(row) = state.outbox.iter_mut().find(|r| r.message.id == id) {
            row.status = OutboxStatus::Failed;
            row.lease = None;
            row.message.attempts = attempts;
        }
        Ok(())
    }

    async fn release(&self, ids: &[MessageId]) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        for row in &mut state.outbox {
            if row.status == OutboxStatus::Pending && ids.contains(&row.message.id) {
                row.lease = None;
            }
        }
        Ok(())
    }

    async fn purge_finished(&self, before: Timestamp) -> Result<u64, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let count = state.outbox.len();
        state.outbox.retain(|row| match row.status {
            _ if matches!(row.message.payload, OutboxPayload::Event(_)) => {
                row.message.created_at >= before
            }
            OutboxStatus::Pending => true,
            OutboxStatus::Sent => row.sent_at.is_none_or(|at| at >= before),
            OutboxStatus::Failed => row.message.created_at >= before,
        });
        Ok((count - state.outbox.len()) as u64)
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .outbox
            .iter()
            .filter(|row| row.status == OutboxStatus::Pending)
            .filter(|row| !matches!(row.message.payload, OutboxPayload::Event(_)))
            .min_by_key(|row| row.message.next_attempt_at)
            .map(|row| {
                row.lease.map_or(row.message.next_attempt_at, |lease| {
                    lease.max(row.message.next_attempt_at)
                })
            }))
    }

    async fn backlog(&self) -> Result<OutboxBacklog, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let count = |status| {
            state
                .outbox
                .iter()
                .filter(|row| row.status == status)
                .filter(|row| !matches!(row.message.payload, OutboxPayload::Event(_)))
                .count() as u64
        };
        Ok(OutboxBacklog {
            pending: count(OutboxStatus::Pending),
            failed: count(OutboxStatus::Failed),
        })
    }
}

/// The revocation list and refresh grace of one process.
#[derive(Clone, Debug)]
pub struct MemoryHot(pub(super) World);

impl RevocationList for MemoryHot {
    fn is_revoked(&self, session: SessionId) -> bool {
        self.0.lock().revoked.contains(&session)
    }

    async fn revoke(&self, sessions: &[SessionId], _until: Timestamp) -> Result<(), RepoError> {
        self.0.lock().revoked.extend_from_slice(sessions);
        Ok(())
    }
}

impl RefreshGrace for MemoryHot {
    async fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        _ttl: Duration,
    ) -> Result<(), RepoError> {
        self.0
            .lock()
            .grace
            .insert(presented.as_str().to_owned(), entry.clone());
        Ok(())
    }

    async fn recall(&self, presented: &TokenHash) -> Result<Option<GraceEntry>, RepoError> {
        Ok(self.0.lock().grace.get(presented.as_str()).cloned())
    }
}

impl HealthProbe for MemoryHot {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}

/// A rate limiter on the world's clock.
#[derive(Clone, Debug)]
pub struct MemoryLimiter(pub(super) World);

impl RateLimiter for MemoryLimiter {
    async fn admit(&self, key: &str, window: Window) -> Result<Admission, RepoError> {
        let mut state = self.0.lock();
        let now = state.now;
        let since = crate::before(now, window.period);
        let hits = state.limiter_hits.entry(key.to_owned()).or_default();
        hits.retain(|at| *at > since);
        if hits.len() >= usize::try_from(window.max).unwrap_or(usize::MAX) {
            let oldest = hits.iter().min().copied().unwrap_or(now);
            let frees = crate::after(oldest, window.period);
            return Ok(Admission::Refused {
                retry_after: (frees - now).to_std().unwrap_or(Duration::ZERO),
            });
        }
        hits.push(now);
        Ok(Admission::Allowed)
    }

    async fn fail(&self, key: &str, window: Window, block: Duration) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        let now = state.now;
        let since = crate::before(now, window.period);
        let hits = state.limiter_hits.entry(key.to_owned()).or_default();
        hits.retain(|at| *at > since);
        hits.push(now);
        if hits.len() >= usize::try_from(window.max).unwrap_or(usize::MAX) {
            hits.clear();
            state
                .limiter_blocks
                .insert(key.to_owned(), crate::after(now, block));
            return Ok(true);
        }
        Ok(false)
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, RepoError> {
        let state = self.0.lock();
        Ok(state
            .limiter_blocks
            .get(key)
            .filter(|until| **until > state.now)
            .and_then(|until| (*until - state.now).to_std().ok()))
    }

    fn mode(&self) -> LimiterMode {
        LimiterMode::Local
    }

    async fn reset(&self, key: &str) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.limiter_hits.remove(key);
        state.limiter_blocks.remove(key);
        Ok(())
    }
}
