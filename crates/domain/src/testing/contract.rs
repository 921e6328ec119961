//! The repository contract: what every adapter of the storage ports must do,
//! as functions over the ports. The in-memory fakes run it in this crate's
//! tests; `tests/tests/api/store_contract.rs` runs it on SQLite and
//! PostgreSQL. A case that passes on one and fails on another is a bug in
//! the one that fails.

use chrono::{SubsecRound as _, TimeDelta};

use super::both;
use crate::access::RoleRepository;
use crate::accounts::{
    CreateUserError, NewAccount, OneTimeToken, OneTimeTokenRepository, UserRepository,
};
use crate::activity::{AuditFilter, AuditLog, OutboxRepository};
use crate::sessions::{RevokeReason, RevokeScope, Rotation, SessionRepository};
use crate::{
    AuditEvent, AuditEventType, Effects, Email, EmailMessage, NewSession, OutboxMessage,
    PasswordHash, RequestContext, Role, Session, SessionId, Timestamp, TokenHash, TokenId,
    TokenPurpose, User, UserId,
};

/// A registration of `address` whose verification token is `secret`, with
/// one queued email, at `now`.
#[must_use]
pub fn registration(address: &str, secret: &str, now: Timestamp) -> NewAccount {
    let user = User::register(
        Email::parse(address).expect("a valid address"),
        PasswordHash::new("$pbkdf2-sha256$x".into()),
        now,
    );
    let verification = OneTimeToken {
        id: TokenId::generate(),
        user_id: user.id,
        purpose: TokenPurpose::VerifyEmail,
        token_hash: TokenHash::of(secret.as_bytes()),
        created_at: now,
        expires_at: now + TimeDelta::hours(1),
        consumed_at: None,
    };
    let mail = OutboxMessage::email(
        EmailMessage {
            to: user.email.clone(),
            subject: "s".into(),
            text_body: "t".into(),
            html_body: "h".into(),
        },
        now,
    );
    let effects =
        Effects::event(event(AuditEventType::UserRegistered, user.id, now)).and_message(mail);
    NewAccount {
        user,
        roles: vec![Role::user()],
        verification,
        effects,
    }
}

fn event(kind: AuditEventType, user: UserId, now: Timestamp) -> AuditEvent {
    AuditEvent::new(kind, Some(user), &RequestContext::default(), now)
}

fn session_of(user: UserId, now: Timestamp) -> Session {
    Session {
        id: SessionId::generate(),
        user_id: user,
        created_at: now,
        last_used_at: now,
        expires_at: now + TimeDelta::hours(1),
        remember_me: true,
        ip: Some("203.0.113.7".parse().expect("an address")),
        user_agent: Some("curl/8".into()),
        revoked_at: None,
        assurance: crate::Assurance::password(now),
        organization_id: None,
    }
}

/// Emails are unique once normalized; a refused registration leaves nothing
/// behind; new accounts carry their roles.
pub async fn users_are_unique_by_normalized_email(
    users: &impl UserRepository,
    roles: &impl RoleRepository,
    outbox: &impl OutboxRepository,
    now: Timestamp,
) {
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    users
        .create(registration("a@example.com", "s1", now))
        .await
        .expect("created");
    let duplicate = users.create(registration("A@Example.com", "s2", now)).await;
    assert!(matches!(duplicate, Err(CreateUserError::EmailTaken)));
    let found = users
        .find_by_email(&Email::parse("a@example.com").expect("valid"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        users
            .find_by_id(found.id)
            .await
            .expect("read")
            .expect("found")
            .email,
        found.email
    );
    assert_eq!(
        outbox.backlog().await.expect("count").pending,
        1,
        "the refused registration queued nothing"
    );
    assert_eq!(
        roles.roles_of(found.id).await.expect("roles"),
        [Role::user()]
    );
    assert!(
        roles
            .roles_of(UserId::generate())
            .await
            .expect("roles")
            .is_empty()
    );
}

/// Using an email token is a compare-and-set: of two uses, exactly one wins.
pub async fn email_verification_is_a_compare_and_set(
    users: &impl UserRepository,
    tokens: &impl OneTimeTokenRepository,
    now: Timestamp,
) {
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    let account = registration("b@example.com", "s", now);
    let (user, token) = (account.user.id, account.verification.clone());
    users.create(account).await.expect("created");
    let found = tokens
        .find(&TokenHash::of(b"s"), TokenPurpose::VerifyEmail)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.id, token.id);
    assert!(
        tokens
            .find(&TokenHash::of(b"s"), TokenPurpose::ResetPassword)
            .await
            .expect("read")
            .is_none(),
        "a token serves one purpose"
    );
    let verified = || Effects::event(event(AuditEventType::EmailVerified, user, now));
    let (a, b) = both(
        tokens.complete_email_verification(token.id, user, now, verified()),
        tokens.complete_email_verification(token.id, user, now, verified()),
    )
    .await;
    assert_eq!(
        [a.expect("first"), b.expect("second")]
            .iter()
            .filter(|won| **won)
            .count(),
        1,
        "exactly one use wins"
    );
    let user = users.find_by_id(user).await.expect("read").expect("found");
    assert!(user.email_verified);
}

/// Claims are exclusive, retries wait for their time, finished messages are
/// purged after the retention, released leases are claimable at once.
pub async fn outbox_claims_are_exclusive_and_retries_wait(
    users: &impl UserRepository,
    outbox: &impl OutboxRepository,
    now: Timestamp,
) {
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    for i in 0..3 {
        users
            .create(registration(
                &format!("c{i}@example.com"),
                &format!("s{i}"),
                now,
            ))
            .await
            .expect("created");
    }
    let lease = now + TimeDelta::seconds(60);
    let (first, second) = both(
        outbox.claim_due(now, lease, 10),
        outbox.claim_due(now, lease, 10),
    )
    .await;
    let (first, second) = (first.expect("claim"), second.expect("claim"));
    assert_eq!(first.len() + second.len(), 3, "each message claimed once");
    assert!(
        outbox
            .claim_due(now, lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased messages are not claimed again"
    );

    let message = first.first().or(second.first()).expect("one").clone();
    let later = now + TimeDelta::seconds(30);
    outbox
        .schedule_retry(message.id, 1, later, "smtp down")
        .await
        .expect("retry");
    assert!(
        outbox
            .claim_due(now, lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        outbox.next_due_at().await.expect("due"),
        Some(lease),
        "the leased ones come first"
    );
    let due = outbox
        .claim_due(later, later + TimeDelta::seconds(60), 10)
        .await
        .expect("claim");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1);
    outbox.mark_sent(&due[0], later).await.expect("sent");
    assert_eq!(outbox.backlog().await.expect("count").pending, 2);

    let others: Vec<_> = first
        .iter()
        .chain(second.iter())
        .map(|m| m.id)
        .filter(|id| *id != message.id)
        .collect();
    outbox.release(&others).await.expect("release");
    assert_eq!(
        outbox.claim_due(now, lease, 10).await.expect("claim").len(),
        2
    );
    outbox
        .mark_failed(others[0], 20, "gave up")
        .await
        .expect("failed");
    assert_eq!(outbox.backlog().await.expect("count").pending, 1);
    assert_eq!(outbox.backlog().await.expect("count").failed, 1);

    assert_eq!(outbox.purge_finished(now).await.expect("purge"), 0);
    assert_eq!(
        outbox
            .purge_finished(later + TimeDelta::seconds(1))
            .await
            .expect("purge"),
        2,
        "the sent and the failed message"
    );
    assert_eq!(outbox.backlog().await.expect("count").pending, 1);
}

/// Sessions round-trip; rotation is a compare-and-set on a live session of
/// an active account; revocation reports each session once.
pub async fn sessions_rotate_and_revoke(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    now: Timestamp,
) {
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    let account = registration("d@example.com", "s", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let opened = |token: &[u8]| {
        let session = session_of(user, now);
        (
            NewSession {
                session: session.clone(),
                refresh_token_hash: TokenHash::of(token),
            },
            session,
        )
    };
    let login = || Effects::event(event(AuditEventType::LoginSucceeded, user, now));
    let (new, session) = opened(b"r1");
    sessions.create(new, login()).await.expect("created");
    let found = sessions
        .find(session.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.user_id, user);
    assert_eq!(found.ip, session.ip);
    assert!(found.remember_me && found.is_active(now));

    let refreshed = || Effects::event(event(AuditEventType::TokenRefreshed, user, now));
    let later = now + TimeDelta::seconds(5);
    let (a, b) = both(
        sessions.rotate_refresh_token(
            session.id,
            &TokenHash::of(b"r1"),
            &TokenHash::of(b"r2"),
            later,
            refreshed(),
        ),
        sessions.rotate_refresh_token(
            session.id,
            &TokenHash::of(b"r1"),
            &TokenHash::of(b"r2b"),
            later,
            refreshed(),
        ),
    )
    .await;
    let outcomes = [a.expect("rotate"), b.expect("rotate")];
    assert_eq!(
        outcomes.iter().filter(|r| **r == Rotation::Rotated).count(),
        1,
        "exactly one rotation wins: {outcomes:?}"
    );
    let old = sessions
        .find_refresh_token(&TokenHash::of(b"r1"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(old.used_at, Some(later), "the rotated-out token is marked");
    assert_eq!(old.session.last_used_at, later, "the session is touched");
    assert!(
        sessions
            .find_refresh_token(&TokenHash::of(b"nope"))
            .await
            .expect("read")
            .is_none()
    );

    let (second, other) = opened(b"o1");
    sessions.create(second, login()).await.expect("created");
    let listed = sessions.list_active(user, now).await.expect("list");
    assert_eq!(listed.len(), 2);

    let logout = || Effects::event(event(AuditEventType::Logout, user, now));
    let revoked = sessions
        .revoke(
            user,
            RevokeScope::One(session.id),
            RevokeReason::Logout,
            later,
            logout(),
        )
        .await
        .expect("revoke");
    assert_eq!(revoked, [session.id]);
    let again = sessions
        .revoke(
            user,
            RevokeScope::One(session.id),
            RevokeReason::Logout,
            later,
            logout(),
        )
        .await
        .expect("revoke");
    assert!(again.is_empty(), "each session is reported once");
    let stranger = sessions
        .revoke(
            UserId::generate(),
            RevokeScope::All,
            RevokeReason::LogoutAll,
            later,
            logout(),
        )
        .await
        .expect("revoke");
    assert!(stranger.is_empty(), "only the owner's sessions");
    assert_eq!(
        sessions
            .list_active(user, now)
            .await
            .expect("list")
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [other.id]
    );
    assert_eq!(
        sessions.revoked_since(later).await.expect("read"),
        [session.id]
    );
    assert!(
        sessions
            .revoked_since(later + TimeDelta::seconds(1))
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        sessions
            .rotate_refresh_token(
                session.id,
                &TokenHash::of(b"r2"),
                &TokenHash::of(b"r3"),
                later,
                refreshed()
            )
            .await
            .expect("rotate"),
        Rotation::SessionEnded,
        "a revoked session does not rotate"
    );
    let expired = now + TimeDelta::hours(2);
    assert_eq!(
        sessions
            .rotate_refresh_token(
                other.id,
                &TokenHash::of(b"o1"),
                &TokenHash::of(b"o2"),
                expired,
                refreshed()
            )
            .await
            .expect("rotate"),
        Rotation::SessionEnded,
        "an expired session does not rotate"
    );
}

/// Changing a password revokes the sessions in scope in the same
/// transaction.
pub async fn password_change_revokes_in_scope(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    now: Timestamp,
) {
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    let account = registration("e@example.com", "s", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let mut ids = Vec::new();
    for token in [b"k1", b"k2", b"k3"] {
        let session = session_of(user, now);
        ids.push(session.id);
        sessions
            .create(
                NewSession {
                    session,
                    refresh_token_hash: TokenHash::of(token),
                },
                Effects::default(),
            )
            .await
            .expect("created");
    }
    let hash = PasswordHash::new("$pbkdf2-sha256$new".into());
    let changed = Effects::event(event(AuditEventType::PasswordChanged, user, now));
    let mut revoked = users
        .change_password(
            user,
            &hash,
            RevokeScope::AllExcept(ids[0]),
            RevokeReason::PasswordChanged,
            now,
            changed,
        )
        .await
        .expect("changed");
    revoked.sort();
    let mut expected = vec![ids[1], ids[2]];
    expected.sort();
    assert_eq!(revoked, expected);
    let user = users.find_by_id(user).await.expect("read").expect("found");
    assert_eq!(user.password_hash, hash);
    assert_eq!(
        sessions
            .list_active(user.id, now)
            .await
            .expect("list")
            .len(),
        1
    );
}

/// The rotation's liveness check includes the account: `suspend` makes the
/// user inactive by whatever means the backend has.
pub async fn rotation_requires_an_active_account<F, Fut>(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    suspend: F,
    now: Timestamp,
) where
    F: FnOnce(UserId) -> Fut,
    Fut: Future<Output = ()>,
{
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    let account = registration("f@example.com", "s", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let session = session_of(user, now);
    sessions
        .create(
            NewSession {
                session: session.clone(),
                refresh_token_hash: TokenHash::of(b"a1"),
            },
            Effects::default(),
        )
        .await
        .expect("created");
    suspend(user).await;
    assert_eq!(
        sessions
            .rotate_refresh_token(
                session.id,
                &TokenHash::of(b"a1"),
                &TokenHash::of(b"a2"),
                now,
                Effects::default()
            )
            .await
            .expect("rotate"),
        Rotation::SessionEnded
    );
    let token = sessions
        .find_refresh_token(&TokenHash::of(b"a1"))
        .await
        .expect("read")
        .expect("found");
    assert!(token.used_at.is_none(), "nothing rotated");
}

/// A user's audit trail pages newest first by event id; other users'
/// events and events without a user never show.
pub async fn audit_trail_pages_newest_first(
    users: &impl UserRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    // Databases keep microseconds.
    let now = now.trunc_subsecs(6);
    let account = registration("g@example.com", "s", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    for i in 0..5 {
        audit
            .record(
                event(
                    AuditEventType::LoginSucceeded,
                    user,
                    now + TimeDelta::seconds(i),
                )
                .with("n", i.to_string()),
            )
            .await
            .expect("recorded");
    }
    audit
        .record(AuditEvent::new(
            AuditEventType::LoginFailed,
            None,
            &RequestContext::default(),
            now,
        ))
        .await
        .expect("recorded");
    audit
        .record(event(
            AuditEventType::LoginSucceeded,
            UserId::generate(),
            now,
        ))
        .await
        .expect("recorded");
    let first = audit.list_for_user(user, None, 3).await.expect("page");
    assert_eq!(first.len(), 3);
    assert_eq!(
        first[0].details,
        [("n".to_owned(), "4".to_owned())],
        "newest first, details kept"
    );
    let rest = audit
        .list_for_user(user, Some(first[2].id), 10)
        .await
        .expect("page");
    // The registration's own event, then the two oldest logins.
    assert_eq!(rest.len(), 3);
    assert!(rest.iter().all(|e| e.user_id == Some(user)));
    assert!(rest.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(
        rest.last().map(|e| e.kind),
        Some(AuditEventType::UserRegistered)
    );
}

/// Active sessions are counted for the gauge.
pub async fn active_sessions_are_counted(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let account = registration("h@example.com", "s", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    for token in [b"c1", b"c2"] {
        sessions
            .create(
                NewSession {
                    session: session_of(user, now),
                    refresh_token_hash: TokenHash::of(token),
                },
                Effects::default(),
            )
            .await
            .expect("created");
    }
    assert_eq!(sessions.count_active(now).await.expect("count"), 2);
    sessions
        .revoke(
            user,
            RevokeScope::All,
            RevokeReason::LogoutAll,
            now,
            Effects::default(),
        )
        .await
        .expect("revoked");
    assert_eq!(sessions.count_active(now).await.expect("count"), 0);
}

fn reset_token(user: UserId, secret: &str, now: Timestamp) -> OneTimeToken {
    OneTimeToken {
        id: TokenId::generate(),
        user_id: user,
        purpose: TokenPurpose::ResetPassword,
        token_hash: TokenHash::of(secret.as_bytes()),
        created_at: now,
        expires_at: now + TimeDelta::hours(1),
        consumed_at: None,
    }
}

/// A new token supersedes the user's unused ones of its purpose; a reset
/// is a compare-and-set that sets the password, verifies the address and
/// ends every session.
pub async fn reset_tokens_supersede_and_reset_once(
    users: &impl UserRepository,
    tokens: &impl OneTimeTokenRepository,
    sessions: &impl SessionRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let account = registration("i@example.com", "verify", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let first = reset_token(user, "reset-1", now);
    tokens
        .issue(first.clone(), Effects::default())
        .await
        .expect("issued");
    let second = reset_token(user, "reset-2", now + TimeDelta::seconds(1));
    tokens
        .issue(second.clone(), Effects::default())
        .await
        .expect("issued");
    let (one, two) = (TokenHash::of(b"reset-1"), TokenHash::of(b"reset-2"));
    let consumed = |found: Option<OneTimeToken>| found.expect("kept").consumed_at.is_some();
    assert!(
        consumed(
            tokens
                .find(&one, TokenPurpose::ResetPassword)
                .await
                .expect("read")
        ),
        "superseded"
    );
    assert!(!consumed(
        tokens
            .find(&two, TokenPurpose::ResetPassword)
            .await
            .expect("read")
    ));
    assert!(
        tokens
            .find(&TokenHash::of(b"verify"), TokenPurpose::VerifyEmail)
            .await
            .expect("read")
            .expect("kept")
            .consumed_at
            .is_none(),
        "another purpose is not superseded"
    );
    for token in [b"s1", b"s2"] {
        sessions
            .create(
                NewSession {
                    session: session_of(user, now),
                    refresh_token_hash: TokenHash::of(token),
                },
                Effects::default(),
            )
            .await
            .expect("created");
    }
    let hash = PasswordHash::new("$pbkdf2-sha256$reset".into());
    let reset = || Effects::event(event(AuditEventType::PasswordReset, user, now));
    let (a, b) = both(
        tokens.complete_password_reset(second.id, user, &hash, now, reset()),
        tokens.complete_password_reset(second.id, user, &hash, now, reset()),
    )
    .await;
    let outcomes = [a.expect("reset"), b.expect("reset")];
    let won: Vec<_> = outcomes.iter().flatten().collect();
    assert_eq!(won.len(), 1, "exactly one reset wins: {outcomes:?}");
    assert_eq!(won[0].len(), 2, "every session revoked");
    let user = users.find_by_id(user).await.expect("read").expect("found");
    assert_eq!(user.password_hash, hash);
    assert!(user.email_verified, "the reset proved the address");
    assert!(
        sessions
            .list_active(user.id, now)
            .await
            .expect("list")
            .is_empty()
    );
}

/// The sweep deletes unverified accounts past their time, ended sessions
/// and spent tokens past the retention, and nothing else.
pub async fn the_sweep_deletes_only_what_ended(
    users: &impl UserRepository,
    tokens: &impl OneTimeTokenRepository,
    sessions: &impl SessionRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let old = now - TimeDelta::days(10);
    let squatted = registration("squat@example.com", "v-squat", old);
    users.create(squatted).await.expect("created");
    let fresh = registration("fresh@example.com", "v-fresh", now);
    users.create(fresh).await.expect("created");
    let mut verified = registration("kept@example.com", "v-kept", old);
    verified.user.email_verified = true;
    let kept = verified.user.id;
    users.create(verified).await.expect("created");
    assert_eq!(
        users
            .delete_unverified(now - TimeDelta::days(7))
            .await
            .expect("swept"),
        1
    );
    assert!(
        users
            .find_by_email(&Email::parse("squat@example.com").expect("valid"))
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        users
            .find_by_email(&Email::parse("fresh@example.com").expect("valid"))
            .await
            .expect("read")
            .is_some()
    );

    let mut ended = session_of(kept, old);
    ended.expires_at = old + TimeDelta::hours(1);
    let live = session_of(kept, now);
    for (session, token) in [(ended, b"e1"), (live.clone(), b"l1")] {
        sessions
            .create(
                NewSession {
                    session,
                    refresh_token_hash: TokenHash::of(token),
                },
                Effects::default(),
            )
            .await
            .expect("created");
    }
    assert_eq!(
        sessions
            .purge_ended(now - TimeDelta::days(1))
            .await
            .expect("swept"),
        1
    );
    assert!(sessions.find(live.id).await.expect("read").is_some());
    assert!(
        sessions
            .find_refresh_token(&TokenHash::of(b"e1"))
            .await
            .expect("read")
            .is_none()
    );

    let mut spent = reset_token(kept, "spent", old);
    spent.expires_at = old + TimeDelta::hours(1);
    tokens
        .issue(spent, Effects::default())
        .await
        .expect("issued");
    tokens
        .issue(reset_token(kept, "live", now), Effects::default())
        .await
        .expect("issued");
    // The verification token of `kept` expired long ago too.
    assert_eq!(
        tokens
            .purge_spent(now - TimeDelta::days(1))
            .await
            .expect("swept"),
        2
    );
    assert!(
        tokens
            .find(&TokenHash::of(b"live"), TokenPurpose::ResetPassword)
            .await
            .expect("read")
            .is_some()
    );
}

/// A user with two open sessions: (user, first session, second session).
async fn user_with_two_sessions(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    address: &str,
    now: Timestamp,
) -> (UserId, Session, Session) {
    let account = registration(address, address, now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let mut opened = Vec::new();
    for token in [b"first".as_slice(), b"second".as_slice()] {
        let session = session_of(user, now);
        let hash = TokenHash::of(&[address.as_bytes(), token].concat());
        sessions
            .create(
                NewSession {
                    session: session.clone(),
                    refresh_token_hash: hash,
                },
                Effects::default(),
            )
            .await
            .expect("created");
        opened.push(session);
    }
    let second = opened.pop().expect("two");
    let first = opened.pop().expect("two");
    (user, first, second)
}

fn pending_totp(user: UserId, name: &str, now: Timestamp) -> crate::mfa::MfaMethod {
    crate::mfa::MfaMethod {
        id: crate::MethodId::generate(),
        user_id: user,
        kind: crate::mfa::MethodKind::Totp,
        name: name.to_owned(),
        status: crate::mfa::MethodStatus::Pending,
        secret: Some(crate::mfa::SealedSecret("sealed".into())),
        phone: None,
        last_used_step: None,
        created_at: now,
        last_used_at: None,
    }
}

fn activation(
    method: crate::MethodId,
    user: UserId,
    session: SessionId,
    first: bool,
    next: &[u8],
    now: Timestamp,
) -> crate::mfa::Activation {
    crate::mfa::Activation {
        method,
        user,
        step: Some(100),
        challenge: None,
        first: first.then(|| vec!["h1".to_owned(), "h2".to_owned()]),
        session,
        assurance: crate::Assurance::two_factors(&[crate::Amr::Pwd], crate::Amr::Otp, now),
        next: TokenHash::of(next),
        at: now,
        effects: Effects::event(event(AuditEventType::MfaMethodAdded, user, now)),
    }
}

/// A method name is unique per user; of two confirmations one wins and
/// brings the backup codes, the session's new assurance and refresh token,
/// and the other sessions' revocation; a TOTP step is used once, in order.
pub async fn methods_confirm_once_and_steps_are_single_use(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    methods: &impl crate::mfa::MethodRepository,
    backup: &impl crate::mfa::BackupCodeRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let (user, keep, other) = user_with_two_sessions(users, sessions, "m@example.com", now).await;
    let method = pending_totp(user, "Phone", now);
    assert!(
        methods
            .add(method.clone(), Effects::default())
            .await
            .expect("added")
    );
    assert!(
        !methods
            .add(pending_totp(user, "Phone", now), Effects::default())
            .await
            .expect("refused"),
        "the name is taken"
    );
    let (a, b) = both(
        methods.activate(activation(method.id, user, keep.id, true, b"n1", now)),
        methods.activate(activation(method.id, user, keep.id, true, b"n2", now)),
    )
    .await;
    let outcomes = [a.expect("ran"), b.expect("ran")];
    let won: Vec<_> = outcomes.iter().flatten().collect();
    assert_eq!(won.len(), 1, "one confirmation wins");
    assert_eq!(won[0], &vec![other.id], "the other session is revoked");
    let stored = methods.find(method.id).await.expect("read").expect("found");
    assert!(stored.is_active());
    assert_eq!(
        stored.last_used_step,
        Some(100),
        "the confirming step is used"
    );
    let session = sessions.find(keep.id).await.expect("read").expect("found");
    assert_eq!(session.assurance.aal, crate::Aal::Aal2);
    assert_eq!(session.assurance.amr_stored(), "pwd otp mfa");
    let old = TokenHash::of(&[b"m@example.com".as_slice(), b"first"].concat());
    let old = sessions
        .find_refresh_token(&old)
        .await
        .expect("read")
        .expect("kept");
    assert!(
        old.used_at.is_some(),
        "the old refresh token is rotated out"
    );
    let summary = backup.summary(user).await.expect("read").expect("a set");
    assert_eq!(summary.remaining, 2);

    assert!(
        !methods.use_step(method.id, 100, now).await.expect("cas"),
        "replay"
    );
    assert!(
        !methods.use_step(method.id, 99, now).await.expect("cas"),
        "older"
    );
    let (a, b) = both(
        methods.use_step(method.id, 101, now),
        methods.use_step(method.id, 101, now),
    )
    .await;
    assert!(a.expect("cas") ^ b.expect("cas"), "one use of a step");
}

/// A sent code is used once, only while unexpired and with tries left.
pub async fn challenges_are_consumed_once(
    users: &impl UserRepository,
    methods: &impl crate::mfa::MethodRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let account = registration("c@example.com", "c", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let method = pending_totp(user, "Mail", now);
    methods
        .add(method.clone(), Effects::default())
        .await
        .expect("added");
    let challenge = |minutes: i64| crate::mfa::CodeChallenge {
        id: crate::ChallengeId::generate(),
        method_id: method.id,
        user_id: user,
        code_hash: TokenHash::of(b"code"),
        created_at: now,
        expires_at: now + TimeDelta::minutes(minutes),
        attempts: 0,
        consumed_at: None,
    };
    let live = challenge(5);
    methods
        .add_challenge(live.clone(), Effects::default())
        .await
        .expect("added");
    let expired = challenge(-1);
    methods
        .add_challenge(expired.clone(), Effects::default())
        .await
        .expect("added");
    methods.fail_challenge(live.id).await.expect("counted");
    methods.fail_challenge(live.id).await.expect("counted");
    let read = methods
        .find_challenge(live.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.attempts, 2);
    assert!(
        !methods
            .consume_challenge(live.id, 2, now)
            .await
            .expect("cas"),
        "out of tries"
    );
    let (a, b) = both(
        methods.consume_challenge(live.id, 5, now),
        methods.consume_challenge(live.id, 5, now),
    )
    .await;
    assert!(a.expect("cas") ^ b.expect("cas"), "one use");
    assert!(
        !methods
            .consume_challenge(expired.id, 5, now)
            .await
            .expect("cas"),
        "expired"
    );
    assert_eq!(
        methods.purge_expired(now).await.expect("swept"),
        1,
        "the expired challenge goes; the pending method is not old enough"
    );
}

/// Backup codes: a whole set replaced at once, each code used once.
pub async fn backup_codes_are_used_once(
    users: &impl UserRepository,
    backup: &impl crate::mfa::BackupCodeRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let account = registration("b@example.com", "b", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    assert!(backup.summary(user).await.expect("read").is_none());
    backup
        .replace(
            user,
            vec!["a".into(), "b".into(), "c".into()],
            now,
            Effects::default(),
        )
        .await
        .expect("stored");
    let unused = backup.unused(user).await.expect("read");
    assert_eq!(unused.len(), 3);
    let id = unused[1].id;
    let used = || Effects::event(event(AuditEventType::MfaBackupCodeUsed, user, now));
    let (a, b) = both(
        backup.use_code(id, now, used()),
        backup.use_code(id, now, used()),
    )
    .await;
    assert!(a.expect("cas") ^ b.expect("cas"), "one use of a code");
    assert_eq!(
        backup
            .summary(user)
            .await
            .expect("read")
            .map(|s| s.remaining),
        Some(2)
    );
    let later = now + TimeDelta::minutes(1);
    backup
        .replace(user, vec!["d".into()], later, Effects::default())
        .await
        .expect("replaced");
    let summary = backup.summary(user).await.expect("read").expect("a set");
    assert_eq!((summary.remaining, summary.generated_at), (1, later));
}

/// A login waiting for its second factor finishes once, within its tries.
pub async fn pending_logins_finish_once(
    users: &impl UserRepository,
    pending: &impl crate::mfa::PendingLoginRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let account = registration("p@example.com", "p", now);
    let user = account.user.id;
    users.create(account).await.expect("created");
    let login = crate::mfa::PendingLogin {
        id: uuid::Uuid::now_v7(),
        token_hash: TokenHash::of(b"mfa-token"),
        user_id: user,
        remember_me: true,
        ip: Some("203.0.113.9".parse().expect("ip")),
        user_agent: Some("ua".into()),
        created_at: now,
        expires_at: now + TimeDelta::minutes(5),
        attempts: 0,
        consumed_at: None,
        organization_id: None,
    };
    pending.create(login.clone()).await.expect("stored");
    let found = pending
        .find(&TokenHash::of(b"mfa-token"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.ip, login.ip);
    assert!(found.remember_me);
    pending.fail(login.id).await.expect("counted");
    pending.fail(login.id).await.expect("counted");
    assert!(
        !pending.consume(login.id, 2, now).await.expect("cas"),
        "out of tries"
    );
    let (a, b) = both(
        pending.consume(login.id, 5, now),
        pending.consume(login.id, 5, now),
    )
    .await;
    assert!(a.expect("cas") ^ b.expect("cas"), "one finish");
    assert_eq!(
        pending
            .purge_expired(now + TimeDelta::minutes(6))
            .await
            .expect("swept"),
        1
    );
}

/// Removing a method revokes the other sessions; the last one takes the
/// backup codes with it.
pub async fn removing_the_last_method_turns_mfa_off(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    methods: &impl crate::mfa::MethodRepository,
    backup: &impl crate::mfa::BackupCodeRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let (user, keep, other) = user_with_two_sessions(users, sessions, "r@example.com", now).await;
    let first = pending_totp(user, "One", now);
    let second = pending_totp(user, "Two", now);
    for (method, is_first, next) in [(&first, true, b"x1"), (&second, false, b"x2")] {
        methods
            .add(method.clone(), Effects::default())
            .await
            .expect("added");
        methods
            .activate(activation(method.id, user, keep.id, is_first, next, now))
            .await
            .expect("ran")
            .expect("activated");
    }
    let stranger = UserId::generate();
    assert!(
        methods
            .remove(first.id, stranger, keep.id, now, Effects::default())
            .await
            .expect("ran")
            .is_none(),
        "not the stranger's"
    );
    let removal = methods
        .remove(first.id, user, keep.id, now, Effects::default())
        .await
        .expect("ran")
        .expect("removed");
    assert!(!removal.mfa_off);
    assert!(
        removal.revoked.is_empty(),
        "the other session ended at the first activation"
    );
    assert!(backup.summary(user).await.expect("read").is_some());
    let last = methods
        .remove(second.id, user, keep.id, now, Effects::default())
        .await
        .expect("ran")
        .expect("removed");
    assert!(last.mfa_off);
    assert!(
        backup.summary(user).await.expect("read").is_none(),
        "codes go too"
    );
    assert!(methods.list(user).await.expect("read").is_empty());
    let _ = other;
}

fn custom_role(name: &str, grants: &[&str]) -> crate::access::RoleRecord {
    crate::access::RoleRecord {
        id: crate::RoleId::generate(),
        name: Role::new(name),
        description: format!("the {name} role"),
        grants: crate::access::parse_grants(grants).expect("valid grants"),
        system: false,
    }
}

fn grants(texts: &[&str]) -> Vec<crate::access::Grant> {
    crate::access::parse_grants(texts).expect("valid grants")
}

fn texts(grants: &[crate::access::Grant]) -> Vec<String> {
    grants.iter().map(crate::access::Grant::to_text).collect()
}

fn admin_event(kind: AuditEventType, now: Timestamp) -> Effects {
    Effects::event(AuditEvent::new(kind, None, &RequestContext::default(), now))
}

fn names(roles: &[crate::access::RoleRecord]) -> Vec<&str> {
    roles.iter().map(|r| r.name.as_str()).collect()
}

/// Roles: the system ones are listed by name with their grants; a custom
/// role is created once per name, its grants are replaced as a whole, and
/// deleting it takes its assignments and names who held it; a system role
/// is never deleted.
pub async fn roles_are_created_updated_and_deleted(
    users: &impl UserRepository,
    roles: &impl RoleRepository,
    now: Timestamp,
) {
    use crate::access::{Grant, RoleWriteError};
    let now = now.trunc_subsecs(6);
    let listed = roles.list_roles().await.expect("read");
    assert_eq!(names(&listed), ["admin", "manager", "user"]);
    assert!(listed.iter().all(|r| r.system));
    let admin = listed[0].clone();
    assert_eq!(admin.grants, [Grant::All]);
    assert_eq!(
        texts(&listed[2].grants),
        ["orgs:create", "profile:read", "profile:write"],
        "sorted by text"
    );
    let mut known: Vec<String> = super::default_permissions()
        .into_iter()
        .map(|p| p.name)
        .collect();
    known.sort();
    let permissions: Vec<String> = roles
        .list_permissions()
        .await
        .expect("read")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(permissions, known);

    let created = || admin_event(AuditEventType::RoleCreated, now);
    let support = custom_role("support", &["users:read", "users:*", "audit:read"]);
    roles
        .create_role(&support, now, created())
        .await
        .expect("created");
    assert!(
        matches!(
            roles
                .create_role(&custom_role("support", &["*"]), now, created())
                .await,
            Err(RoleWriteError::NameTaken)
        ),
        "the name is taken"
    );
    let listed = roles.list_roles().await.expect("read");
    assert_eq!(names(&listed), ["admin", "manager", "support", "user"]);
    assert_eq!(listed[2], support, "stored as created");
    assert_eq!(
        texts(&listed[2].grants),
        ["audit:read", "users:*", "users:read"]
    );

    let later = now + TimeDelta::seconds(1);
    let updated = || admin_event(AuditEventType::RoleUpdated, later);
    let changed = roles
        .update_role(
            support.id,
            Some("Support desk".into()),
            Some(grants(&["users:read", "orgs:read"])),
            later,
            updated(),
        )
        .await
        .expect("ran")
        .expect("found");
    assert_eq!(changed.id, support.id);
    assert_eq!(changed.name, support.name);
    assert_eq!(changed.description, "Support desk");
    assert_eq!(texts(&changed.grants), ["orgs:read", "users:read"]);
    assert!(!changed.system);
    let kept = roles
        .update_role(support.id, Some("Help".into()), None, later, updated())
        .await
        .expect("ran")
        .expect("found");
    assert_eq!(kept.grants, changed.grants, "no grants given, none changed");
    assert_eq!(kept.description, "Help");
    let emptied = roles
        .update_role(support.id, None, Some(Vec::new()), later, updated())
        .await
        .expect("ran")
        .expect("found");
    assert!(emptied.grants.is_empty());
    assert_eq!(emptied.description, "Help");
    assert!(
        roles
            .update_role(crate::RoleId::generate(), None, None, later, updated())
            .await
            .expect("ran")
            .is_none(),
        "no such role"
    );
    let restored = roles
        .update_role(
            support.id,
            None,
            Some(grants(&["users:read"])),
            later,
            updated(),
        )
        .await
        .expect("ran")
        .expect("found");
    let listed = roles.list_roles().await.expect("read");
    assert_eq!(listed[2], restored, "the list shows the update");

    let mut holders = Vec::new();
    for (address, secret) in [("ra@example.com", "ra"), ("rb@example.com", "rb")] {
        let account = registration(address, secret, now);
        let id = account.user.id;
        holders.push(id);
        users.create(account).await.expect("created");
        assert!(
            roles
                .assign(id, &support.name, now, Effects::default())
                .await
                .expect("assigned")
        );
    }
    let bystander = registration("rc@example.com", "rc", now);
    let bystander_id = bystander.user.id;
    users.create(bystander).await.expect("created");
    let deleted = || admin_event(AuditEventType::RoleDeleted, later);
    let mut gone = roles
        .delete_role(support.id, deleted())
        .await
        .expect("ran")
        .expect("deleted");
    gone.sort();
    holders.sort();
    assert_eq!(gone, holders, "the users who held it");
    for user in &holders {
        assert_eq!(
            roles.roles_of(*user).await.expect("read"),
            [Role::user()],
            "the assignment went with the role"
        );
    }
    assert_eq!(
        roles.roles_of(bystander_id).await.expect("read"),
        [Role::user()]
    );
    assert_eq!(
        names(&roles.list_roles().await.expect("read")),
        ["admin", "manager", "user"]
    );
    assert!(
        roles
            .delete_role(support.id, deleted())
            .await
            .expect("ran")
            .is_none(),
        "already gone"
    );
    assert!(
        roles
            .assign(holders[0], &support.name, later, Effects::default())
            .await
            .is_err(),
        "a deleted role cannot be assigned"
    );
    assert!(
        roles
            .delete_role(admin.id, deleted())
            .await
            .expect("ran")
            .is_none(),
        "a system role is never deleted"
    );
    assert_eq!(
        names(&roles.list_roles().await.expect("read")),
        ["admin", "manager", "user"]
    );
}

/// Assignments: a role is given by name, once; taking `admin` from the last
/// user who has it is refused, also when two admins are taken away at once;
/// nothing is recorded when nothing changed.
pub async fn the_last_admin_keeps_the_role(
    users: &impl UserRepository,
    roles: &impl RoleRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    use crate::RepoError;
    use crate::access::Unassigned;
    let now = now.trunc_subsecs(6);
    let mut ids = Vec::new();
    for (address, secret) in [("aa@example.com", "aa"), ("ab@example.com", "ab")] {
        let account = registration(address, secret, now);
        ids.push(account.user.id);
        users.create(account).await.expect("created");
    }
    let (a, b) = (ids[0], ids[1]);
    let admin = Role::new(Role::ADMIN);
    let assigned = |user| Effects::event(event(AuditEventType::RoleAssigned, user, now));
    let revoked = |user| Effects::event(event(AuditEventType::RoleRevoked, user, now));
    assert!(
        roles
            .assign(a, &admin, now, assigned(a))
            .await
            .expect("ran")
    );
    assert!(
        !roles
            .assign(a, &admin, now, assigned(a))
            .await
            .expect("ran"),
        "already assigned"
    );
    assert!(
        roles
            .assign(b, &admin, now, assigned(b))
            .await
            .expect("ran")
    );
    assert!(matches!(
        roles.assign(a, &Role::new("nope"), now, assigned(a)).await,
        Err(RepoError::Other(_))
    ));
    assert_eq!(
        roles.roles_of(a).await.expect("read"),
        [admin.clone(), Role::user()]
    );
    let recorded = |user, kind: AuditEventType| async move {
        audit
            .list_for_user(user, None, 100)
            .await
            .expect("read")
            .iter()
            .filter(|e| e.kind == kind)
            .count()
    };
    assert_eq!(
        recorded(a, AuditEventType::RoleAssigned).await,
        1,
        "only the assignment that changed something is recorded"
    );

    assert_eq!(
        roles
            .unassign(a, &admin, now, revoked(a))
            .await
            .expect("ran"),
        Unassigned::Removed
    );
    assert_eq!(roles.roles_of(a).await.expect("read"), [Role::user()]);
    assert_eq!(
        roles
            .unassign(a, &admin, now, revoked(a))
            .await
            .expect("ran"),
        Unassigned::NotAssigned
    );
    assert_eq!(
        roles
            .unassign(b, &admin, now, revoked(b))
            .await
            .expect("ran"),
        Unassigned::LastAdmin
    );
    assert_eq!(
        roles.roles_of(b).await.expect("read"),
        [admin.clone(), Role::user()],
        "the last admin keeps the role"
    );
    assert_eq!(recorded(a, AuditEventType::RoleRevoked).await, 1);
    assert_eq!(
        recorded(b, AuditEventType::RoleRevoked).await,
        0,
        "a refusal records nothing"
    );
    for other in [Role::new(Role::MANAGER), Role::new("nope")] {
        assert_eq!(
            roles
                .unassign(b, &other, now, revoked(b))
                .await
                .expect("ran"),
            Unassigned::NotAssigned
        );
    }

    // Two admins taken away at once: one goes, the other is the last.
    assert!(
        roles
            .assign(a, &admin, now, assigned(a))
            .await
            .expect("ran")
    );
    let (x, y) = both(
        roles.unassign(a, &admin, now, revoked(a)),
        roles.unassign(b, &admin, now, revoked(b)),
    )
    .await;
    let mut outcomes = [x.expect("ran"), y.expect("ran")];
    outcomes.sort_by_key(|o| *o == Unassigned::LastAdmin);
    assert_eq!(outcomes, [Unassigned::Removed, Unassigned::LastAdmin]);
    let mut admins = 0;
    for user in [a, b] {
        if roles.roles_of(user).await.expect("read").contains(&admin) {
            admins += 1;
        }
    }
    assert_eq!(admins, 1, "one admin is left");
}

fn service_key(
    name: &str,
    secret: &str,
    grants: &[&str],
    at: Timestamp,
) -> crate::access::ServiceKey {
    crate::access::ServiceKey {
        id: crate::ServiceKeyId::generate(),
        name: name.to_owned(),
        key_hash: TokenHash::of(secret.as_bytes()),
        grants: self::grants(grants),
        created_at: at,
    }
}

/// Service keys are found by hash until revoked, listed newest first, and
/// revoked once.
pub async fn service_keys_are_found_until_revoked(
    keys: &impl crate::access::ServiceKeyRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let created = || admin_event(AuditEventType::ServiceKeyCreated, now);
    let older = service_key(
        "billing",
        "sk_one",
        &["users:read", "authz:check", "events:*"],
        now,
    );
    let newer = service_key("search", "sk_two", &["*"], now + TimeDelta::seconds(1));
    let bare = service_key("bare", "sk_three", &[], now + TimeDelta::seconds(2));
    for key in [&older, &newer, &bare] {
        keys.create(key, created()).await.expect("created");
    }
    let found = keys
        .find_active(&TokenHash::of(b"sk_one"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found, older);
    assert_eq!(
        texts(&found.grants),
        ["authz:check", "events:*", "users:read"]
    );
    assert_eq!(
        keys.find_active(&TokenHash::of(b"sk_three"))
            .await
            .expect("read")
            .expect("found"),
        bare,
        "a key may grant nothing"
    );
    assert!(
        keys.find_active(&TokenHash::of(b"sk_nope"))
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        keys.list_active().await.expect("read"),
        [bare.clone(), newer.clone(), older.clone()],
        "newest first"
    );

    let later = now + TimeDelta::seconds(5);
    let revoked = || admin_event(AuditEventType::ServiceKeyRevoked, later);
    let (x, y) = both(
        keys.revoke(older.id, later, revoked()),
        keys.revoke(older.id, later, revoked()),
    )
    .await;
    assert!(x.expect("ran") ^ y.expect("ran"), "revoked once");
    assert!(
        keys.find_active(&TokenHash::of(b"sk_one"))
            .await
            .expect("read")
            .is_none(),
        "a revoked key is not found"
    );
    assert_eq!(
        keys.list_active().await.expect("read"),
        [bare.clone(), newer.clone()]
    );
    assert!(
        !keys.revoke(older.id, later, revoked()).await.expect("ran"),
        "revoked twice"
    );
    assert!(
        !keys
            .revoke(crate::ServiceKeyId::generate(), later, revoked())
            .await
            .expect("ran"),
        "no such key"
    );
}

fn organization(name: &str, slug: &str, at: Timestamp) -> crate::organizations::Organization {
    crate::organizations::Organization {
        id: crate::OrganizationId::generate(),
        name: name.to_owned(),
        slug: slug.to_owned(),
        tier: crate::organizations::BASIC_TIER.to_owned(),
        settings: "{}".to_owned(),
        created_at: at,
        updated_at: at,
    }
}

fn new_organization(
    organization: &crate::organizations::Organization,
    owner: UserId,
    max_owned: u32,
) -> crate::organizations::NewOrganization {
    crate::organizations::NewOrganization {
        organization: organization.clone(),
        owner,
        max_owned,
    }
}

fn membership(
    org: crate::OrganizationId,
    user: UserId,
    role: crate::access::OrgRole,
    at: Timestamp,
) -> crate::organizations::Membership {
    crate::organizations::Membership {
        organization_id: org,
        user_id: user,
        role,
        joined_at: at,
    }
}

fn org_event(
    kind: AuditEventType,
    user: UserId,
    org: crate::OrganizationId,
    now: Timestamp,
) -> Effects {
    Effects::event(event(kind, user, now).in_organization(org))
}

/// Registers `address` (its verification secret is the address itself).
async fn registered(users: &impl UserRepository, address: &str, now: Timestamp) -> UserId {
    let account = registration(address, address, now);
    let id = account.user.id;
    users.create(account).await.expect("created");
    id
}

/// Organizations: a slug is unique among every organization, deleted ones
/// too; a user owns at most `max_owned` live ones; a user's organizations
/// are listed by name with their role; a deleted organization is invisible
/// to every read and refuses every change.
pub async fn organizations_are_created_listed_and_soft_deleted(
    users: &impl UserRepository,
    orgs: &impl crate::organizations::OrganizationRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    use crate::access::OrgRole;
    use crate::organizations::{AddMember, MemberChange, OrgWriteError};
    let now = now.trunc_subsecs(6);
    let owner = registered(users, "oa@example.com", now).await;
    let member = registered(users, "ob@example.com", now).await;
    let created = |org| org_event(AuditEventType::OrgCreated, owner, org, now);
    let acme = organization("Acme", "acme", now);
    orgs.create(&new_organization(&acme, owner, 2), created(acme.id))
        .await
        .expect("created");
    let copy = organization("Acme again", "acme", now);
    assert!(
        matches!(
            orgs.create(&new_organization(&copy, member, 2), created(copy.id))
                .await,
            Err(OrgWriteError::SlugTaken)
        ),
        "the slug is taken"
    );
    let beta = organization("Beta", "beta", now);
    orgs.create(&new_organization(&beta, owner, 2), created(beta.id))
        .await
        .expect("created");
    let gamma = organization("Gamma", "gamma", now);
    assert!(
        matches!(
            orgs.create(&new_organization(&gamma, owner, 2), created(gamma.id))
                .await,
            Err(OrgWriteError::TooMany)
        ),
        "owns two already"
    );
    assert!(
        orgs.find(gamma.id).await.expect("read").is_none(),
        "a refused creation writes nothing"
    );
    assert!(
        audit
            .list_for_organization(gamma.id, 10)
            .await
            .expect("read")
            .is_empty(),
        "nor records anything"
    );
    assert_eq!(
        orgs.find(acme.id).await.expect("read"),
        Some(acme.clone()),
        "stored as created"
    );
    assert_eq!(
        orgs.list_for_user(owner).await.expect("read"),
        [
            (acme.clone(), OrgRole::Owner),
            (beta.clone(), OrgRole::Owner)
        ],
        "by name, with the role"
    );
    assert_eq!(
        orgs.add_member(
            &membership(acme.id, member, OrgRole::Member, now),
            10,
            Effects::default()
        )
        .await
        .expect("ran"),
        AddMember::Added
    );
    assert_eq!(
        orgs.list_for_user(member).await.expect("read"),
        [(acme.clone(), OrgRole::Member)]
    );
    assert_eq!(
        orgs.membership(acme.id, member).await.expect("read"),
        Some(membership(acme.id, member, OrgRole::Member, now))
    );
    assert_eq!(orgs.count_by_role(acme.id).await.expect("read"), [1, 0, 1]);

    let later = now + TimeDelta::seconds(1);
    let updated = || org_event(AuditEventType::OrgUpdated, owner, acme.id, later);
    let changed = orgs
        .update(
            acme.id,
            Some("Acme Corp".into()),
            Some(r#"{"theme":"dark"}"#.into()),
            later,
            updated(),
        )
        .await
        .expect("ran")
        .expect("found");
    assert_eq!(
        (changed.name.as_str(), changed.settings.as_str()),
        ("Acme Corp", r#"{"theme":"dark"}"#)
    );
    assert_eq!((changed.slug.as_str(), changed.updated_at), ("acme", later));
    assert_eq!(changed.created_at, now);
    let renamed = orgs
        .update(acme.id, Some("Acme Inc".into()), None, later, updated())
        .await
        .expect("ran")
        .expect("found");
    assert_eq!(renamed.settings, r#"{"theme":"dark"}"#, "settings kept");
    assert_eq!(orgs.find(acme.id).await.expect("read"), Some(renamed));
    assert!(
        orgs.update(
            crate::OrganizationId::generate(),
            Some("x".into()),
            None,
            later,
            updated()
        )
        .await
        .expect("ran")
        .is_none()
    );

    let deleted = || org_event(AuditEventType::OrgDeleted, owner, acme.id, later);
    assert!(orgs.delete(acme.id, later, deleted()).await.expect("ran"));
    assert!(
        !orgs.delete(acme.id, later, deleted()).await.expect("ran"),
        "already deleted"
    );
    assert!(orgs.find(acme.id).await.expect("read").is_none());
    assert_eq!(
        orgs.list_for_user(owner).await.expect("read"),
        [(beta.clone(), OrgRole::Owner)]
    );
    assert!(orgs.list_for_user(member).await.expect("read").is_empty());
    assert!(
        orgs.membership(acme.id, owner)
            .await
            .expect("read")
            .is_none()
    );
    let page = orgs.members(acme.id, None, None, 10).await.expect("read");
    assert!(page.members.is_empty() && page.next_after.is_none());
    assert_eq!(orgs.count_by_role(acme.id).await.expect("read"), [0, 0, 0]);
    assert!(
        orgs.update(acme.id, Some("Back".into()), None, later, updated())
            .await
            .expect("ran")
            .is_none()
    );
    let third = registered(users, "oc@example.com", now).await;
    assert_eq!(
        orgs.add_member(
            &membership(acme.id, third, OrgRole::Member, now),
            10,
            Effects::default()
        )
        .await
        .expect("ran"),
        AddMember::SeatLimit,
        "no seat in a deleted organization"
    );
    assert_eq!(
        orgs.set_role(
            acme.id,
            member,
            OrgRole::Member,
            OrgRole::Admin,
            Effects::default()
        )
        .await
        .expect("ran"),
        MemberChange::NotMember
    );
    assert_eq!(
        orgs.remove_member(acme.id, member, OrgRole::Member, Effects::default())
            .await
            .expect("ran"),
        MemberChange::NotMember
    );
    let reused = organization("Acme II", "acme", later);
    assert!(
        matches!(
            orgs.create(&new_organization(&reused, owner, 2), created(reused.id))
                .await,
            Err(OrgWriteError::SlugTaken)
        ),
        "a deleted organization keeps its slug"
    );
    orgs.create(&new_organization(&gamma, owner, 2), created(gamma.id))
        .await
        .expect("a deleted organization is not counted");
    assert_eq!(
        audit
            .list_for_organization(acme.id, 10)
            .await
            .expect("read")
            .iter()
            .map(|e| e.kind)
            .collect::<Vec<_>>(),
        [
            AuditEventType::OrgDeleted,
            AuditEventType::OrgUpdated,
            AuditEventType::OrgUpdated,
            AuditEventType::OrgCreated,
        ],
        "each change recorded once, refusals never"
    );
}

/// Members: a seat for every member whatever the role, decided with the
/// addition (also when two race for the last seat); pages in user id
/// order; an organization always keeps an owner, also when two owners are
/// demoted or removed at once.
pub async fn members_take_seats_and_the_last_owner_stays(
    users: &impl UserRepository,
    orgs: &impl crate::organizations::OrganizationRepository,
    now: Timestamp,
) {
    use crate::access::OrgRole;
    use crate::organizations::{AddMember, MemberChange};
    let now = now.trunc_subsecs(6);
    let owner = registered(users, "ma@example.com", now).await;
    let mut others = Vec::new();
    for address in [
        "mb@example.com",
        "mc@example.com",
        "md@example.com",
        "me@example.com",
        "mf@example.com",
    ] {
        others.push(registered(users, address, now).await);
    }
    let org = organization("Members", "members", now);
    orgs.create(&new_organization(&org, owner, 1), Effects::default())
        .await
        .expect("created");
    let org_id = org.id;
    let add = |user, role| async move {
        orgs.add_member(
            &membership(org_id, user, role, now),
            5,
            org_event(AuditEventType::OrgMemberAdded, user, org_id, now),
        )
        .await
    };
    assert_eq!(
        add(others[0], OrgRole::Admin).await.expect("ran"),
        AddMember::Added
    );
    assert_eq!(
        add(others[1], OrgRole::Member).await.expect("ran"),
        AddMember::Added
    );
    assert_eq!(
        add(others[1], OrgRole::Admin).await.expect("ran"),
        AddMember::AlreadyMember
    );
    assert_eq!(
        orgs.membership(org.id, others[1])
            .await
            .expect("read")
            .map(|m| m.role),
        Some(OrgRole::Member),
        "already a member: unchanged"
    );
    assert_eq!(
        add(others[2], OrgRole::Member).await.expect("ran"),
        AddMember::Added
    );
    // One seat left (of 5), two racing for it.
    let (x, y) = both(
        add(others[3], OrgRole::Member),
        add(others[4], OrgRole::Member),
    )
    .await;
    let mut outcomes = [x.expect("ran"), y.expect("ran")];
    outcomes.sort_by_key(|o| *o != AddMember::Added);
    assert_eq!(outcomes, [AddMember::Added, AddMember::SeatLimit]);
    assert_eq!(
        add(others[0], OrgRole::Member).await.expect("ran"),
        AddMember::AlreadyMember,
        "a member, even when every seat is taken"
    );
    assert_eq!(orgs.count_by_role(org.id).await.expect("read"), [1, 1, 3]);

    let expected: Vec<(UserId, String)> = orgs
        .members(org.id, None, None, 100)
        .await
        .expect("read")
        .members
        .iter()
        .map(|m| (m.membership.user_id, m.email.as_str().to_owned()))
        .collect();
    assert_eq!(expected.len(), 5);
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(expected, sorted, "in user id order");
    assert!(
        expected
            .iter()
            .any(|(id, email)| *id == owner && email == "ma@example.com")
    );
    let first = orgs.members(org.id, None, None, 2).await.expect("read");
    assert_eq!(first.members.len(), 2);
    assert_eq!(first.next_after, Some(expected[1].0));
    let second = orgs
        .members(org.id, None, first.next_after, 2)
        .await
        .expect("read");
    assert_eq!(second.next_after, Some(expected[3].0));
    let last = orgs
        .members(org.id, None, second.next_after, 2)
        .await
        .expect("read");
    assert_eq!(last.members.len(), 1);
    assert_eq!(last.next_after, None, "the last page");
    let exact = orgs.members(org.id, None, None, 5).await.expect("read");
    assert_eq!(
        (exact.members.len(), exact.next_after),
        (5, None),
        "exactly one page"
    );
    let paged: Vec<UserId> = first
        .members
        .iter()
        .chain(&second.members)
        .chain(&last.members)
        .map(|m| m.membership.user_id)
        .collect();
    assert_eq!(
        paged,
        expected.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    let owners = orgs
        .members(org.id, Some(OrgRole::Owner), None, 10)
        .await
        .expect("read");
    assert_eq!(
        owners
            .members
            .iter()
            .map(|m| (m.membership.user_id, m.membership.role))
            .collect::<Vec<_>>(),
        [(owner, OrgRole::Owner)]
    );

    let changed = |user| org_event(AuditEventType::OrgMemberRoleChanged, user, org.id, now);
    let removed = |user| org_event(AuditEventType::OrgMemberRemoved, user, org.id, now);
    assert_eq!(
        orgs.set_role(
            org.id,
            owner,
            OrgRole::Owner,
            OrgRole::Admin,
            changed(owner)
        )
        .await
        .expect("ran"),
        MemberChange::LastOwner
    );
    assert_eq!(
        orgs.remove_member(org.id, owner, OrgRole::Owner, removed(owner))
            .await
            .expect("ran"),
        MemberChange::LastOwner
    );
    assert_eq!(
        orgs.set_role(
            org.id,
            owner,
            OrgRole::Owner,
            OrgRole::Owner,
            changed(owner)
        )
        .await
        .expect("ran"),
        MemberChange::Done,
        "an owner stays an owner"
    );
    let stranger = UserId::generate();
    assert_eq!(
        orgs.set_role(
            org.id,
            stranger,
            OrgRole::Member,
            OrgRole::Admin,
            changed(stranger)
        )
        .await
        .expect("ran"),
        MemberChange::NotMember
    );
    assert_eq!(
        orgs.remove_member(org.id, stranger, OrgRole::Member, removed(stranger))
            .await
            .expect("ran"),
        MemberChange::NotMember
    );
    let second_owner = others[0];
    assert_eq!(
        orgs.set_role(
            org.id,
            second_owner,
            OrgRole::Admin,
            OrgRole::Owner,
            changed(second_owner)
        )
        .await
        .expect("ran"),
        MemberChange::Done
    );
    // Two owners demoted and removed at once: one goes, the other is last.
    let (x, y) = both(
        orgs.set_role(
            org.id,
            owner,
            OrgRole::Owner,
            OrgRole::Member,
            changed(owner),
        ),
        orgs.remove_member(org.id, second_owner, OrgRole::Owner, removed(second_owner)),
    )
    .await;
    let mut outcomes = [x.expect("ran"), y.expect("ran")];
    outcomes.sort_by_key(|o| *o == MemberChange::LastOwner);
    assert_eq!(outcomes, [MemberChange::Done, MemberChange::LastOwner]);
    assert_eq!(
        orgs.count_by_role(org.id).await.expect("read")[0],
        1,
        "one owner is left"
    );
    assert_eq!(
        orgs.set_role(
            org.id,
            others[1],
            OrgRole::Admin,
            OrgRole::Owner,
            changed(others[1])
        )
        .await
        .expect("ran"),
        MemberChange::Stale,
        "decided on a role the member no longer has: nothing changes"
    );
    assert_eq!(
        orgs.remove_member(org.id, others[1], OrgRole::Member, removed(others[1]))
            .await
            .expect("ran"),
        MemberChange::Done
    );
    assert!(
        orgs.membership(org.id, others[1])
            .await
            .expect("read")
            .is_none()
    );
}

fn invitation(
    org: crate::OrganizationId,
    address: &str,
    role: crate::access::OrgRole,
    inviter: UserId,
    secret: &str,
    at: Timestamp,
) -> crate::organizations::Invitation {
    crate::organizations::Invitation {
        id: crate::InvitationId::generate(),
        organization_id: org,
        email: Email::parse(address).expect("a valid address"),
        role,
        status: crate::organizations::InvitationStatus::Pending,
        inviter_id: inviter,
        token_hash: TokenHash::of(secret.as_bytes()),
        expires_at: at + TimeDelta::days(7),
        created_at: at,
    }
}

/// Invitations: a new one replaces the pending one of its address; an
/// organization sends at most `max_per_day`; every answer is a
/// compare-and-set on a pending invitation of that organization; accepting
/// joins under the seat limit, in the same transaction.
pub async fn invitations_are_answered_once(
    users: &impl UserRepository,
    orgs: &impl crate::organizations::OrganizationRepository,
    invitations: &impl crate::organizations::InvitationRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    use crate::access::OrgRole;
    use crate::organizations::{AddMember, InvitationStatus, InviteOutcome};
    let now = now.trunc_subsecs(6);
    let owner = registered(users, "ia@example.com", now).await;
    let invitee = registered(users, "ib@example.com", now).await;
    let third = registered(users, "ic@example.com", now).await;
    let org = organization("Invites", "invites", now);
    let other = organization("Elsewhere", "elsewhere", now);
    for o in [&org, &other] {
        orgs.create(&new_organization(o, owner, 5), Effects::default())
            .await
            .expect("created");
    }
    let since = now - TimeDelta::days(1);
    let sent = |id| org_event(AuditEventType::OrgInvitationSent, owner, id, now);
    let first = invitation(org.id, "ib@example.com", OrgRole::Admin, owner, "i1", now);
    assert_eq!(
        invitations
            .create(&first, since, 3, sent(org.id))
            .await
            .expect("ran"),
        InviteOutcome::Created
    );
    let at = |s: i64| now + TimeDelta::seconds(s);
    let second = invitation(org.id, "ib@example.com", OrgRole::Admin, owner, "i2", at(1));
    assert_eq!(
        invitations
            .create(&second, since, 3, sent(org.id))
            .await
            .expect("ran"),
        InviteOutcome::Created
    );
    let status = |id| async move {
        invitations
            .find(org.id, id)
            .await
            .expect("read")
            .expect("found")
            .status
    };
    assert_eq!(
        status(first.id).await,
        InvitationStatus::Revoked,
        "replaced"
    );
    assert_eq!(
        invitations.find(org.id, second.id).await.expect("read"),
        Some(second.clone()),
        "stored as sent"
    );
    let third_one = invitation(
        org.id,
        "ic@example.com",
        OrgRole::Member,
        owner,
        "i3",
        at(2),
    );
    assert_eq!(
        invitations
            .create(&third_one, since, 3, sent(org.id))
            .await
            .expect("ran"),
        InviteOutcome::Created
    );
    let refused = invitation(
        org.id,
        "id@example.com",
        OrgRole::Member,
        owner,
        "i4",
        at(3),
    );
    assert_eq!(
        invitations
            .create(&refused, since, 3, sent(org.id))
            .await
            .expect("ran"),
        InviteOutcome::DailyLimit
    );
    assert!(
        invitations
            .find(org.id, refused.id)
            .await
            .expect("read")
            .is_none(),
        "nothing written"
    );
    assert_eq!(
        invitations
            .list(org.id)
            .await
            .expect("read")
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [third_one.id, second.id, first.id],
        "newest first"
    );
    assert!(invitations.list(other.id).await.expect("read").is_empty());
    assert_eq!(
        audit
            .list_for_organization(org.id, 10)
            .await
            .expect("read")
            .len(),
        3,
        "the refusal recorded nothing"
    );

    // Scoped by organization: another's id is unknown here.
    assert!(
        invitations
            .find(other.id, second.id)
            .await
            .expect("read")
            .is_none()
    );
    let revoked = |id| org_event(AuditEventType::OrgInvitationRevoked, owner, id, now);
    assert!(
        !invitations
            .close(
                other.id,
                second.id,
                InvitationStatus::Revoked,
                revoked(other.id)
            )
            .await
            .expect("ran")
    );
    assert!(
        !invitations
            .reissue(
                other.id,
                second.id,
                &TokenHash::of(b"stolen"),
                at(100),
                Effects::default()
            )
            .await
            .expect("ran")
    );
    assert_eq!(status(second.id).await, InvitationStatus::Pending);

    assert_eq!(
        invitations
            .find_by_token(&TokenHash::of(b"i2"))
            .await
            .expect("read"),
        Some(second.clone())
    );
    let expires = now + TimeDelta::days(14);
    assert!(
        invitations
            .reissue(
                org.id,
                second.id,
                &TokenHash::of(b"i2b"),
                expires,
                Effects::default()
            )
            .await
            .expect("ran")
    );
    assert!(
        invitations
            .find_by_token(&TokenHash::of(b"i2"))
            .await
            .expect("read")
            .is_none(),
        "the old token stops working"
    );
    let reissued = invitations
        .find_by_token(&TokenHash::of(b"i2b"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (reissued.id, reissued.expires_at, reissued.status),
        (second.id, expires, InvitationStatus::Pending)
    );
    assert!(
        !invitations
            .reissue(
                org.id,
                first.id,
                &TokenHash::of(b"i1b"),
                expires,
                Effects::default()
            )
            .await
            .expect("ran"),
        "a revoked one is not reissued"
    );

    let declined = || org_event(AuditEventType::OrgInvitationRevoked, third, org.id, now);
    let (x, y) = both(
        invitations.close(org.id, third_one.id, InvitationStatus::Declined, declined()),
        invitations.close(org.id, third_one.id, InvitationStatus::Revoked, declined()),
    )
    .await;
    assert!(x.expect("ran") ^ y.expect("ran"), "closed once");
    assert!(matches!(
        status(third_one.id).await,
        InvitationStatus::Declined | InvitationStatus::Revoked
    ));

    let joins = membership(org.id, invitee, OrgRole::Admin, now);
    let accepted = || org_event(AuditEventType::OrgInvitationAccepted, invitee, org.id, now);
    let (x, y) = both(
        invitations.accept(second.id, &joins, 10, accepted()),
        invitations.accept(second.id, &joins, 10, accepted()),
    )
    .await;
    let mut outcomes = [x.expect("ran"), y.expect("ran")];
    outcomes.sort_by_key(Option::is_none);
    assert_eq!(outcomes, [Some(AddMember::Added), None], "accepted once");
    assert_eq!(status(second.id).await, InvitationStatus::Accepted);
    assert_eq!(
        orgs.membership(org.id, invitee).await.expect("read"),
        Some(joins.clone())
    );
    assert_eq!(
        invitations
            .accept(first.id, &joins, 10, accepted())
            .await
            .expect("ran"),
        None,
        "a revoked invitation is not accepted"
    );

    // Already a member: accepted, the membership left as it was.
    let later = now + TimeDelta::days(2);
    let again = invitation(
        org.id,
        "ib@example.com",
        OrgRole::Member,
        owner,
        "i5",
        later,
    );
    assert_eq!(
        invitations
            .create(&again, later, 3, sent(org.id))
            .await
            .expect("ran"),
        InviteOutcome::Created,
        "a new day"
    );
    assert_eq!(
        invitations
            .accept(
                again.id,
                &membership(org.id, invitee, OrgRole::Member, later),
                10,
                accepted()
            )
            .await
            .expect("ran"),
        Some(AddMember::AlreadyMember)
    );
    assert_eq!(
        status(again.id).await,
        InvitationStatus::Pending,
        "nothing changed for someone already in"
    );
    assert_eq!(
        orgs.membership(org.id, invitee).await.expect("read"),
        Some(joins)
    );

    // Every seat taken (the owner and the invitee): nothing changes.
    let last = invitation(
        org.id,
        "ic@example.com",
        OrgRole::Member,
        owner,
        "i6",
        later,
    );
    invitations
        .create(&last, later, 3, sent(org.id))
        .await
        .expect("ran");
    let recorded = audit
        .list_for_organization(org.id, 100)
        .await
        .expect("read")
        .len();
    let third_joins = membership(org.id, third, OrgRole::Member, later);
    assert_eq!(
        invitations
            .accept(last.id, &third_joins, 2, accepted())
            .await
            .expect("ran"),
        Some(AddMember::SeatLimit)
    );
    assert_eq!(
        status(last.id).await,
        InvitationStatus::Pending,
        "still pending"
    );
    assert!(
        orgs.membership(org.id, third)
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        audit
            .list_for_organization(org.id, 100)
            .await
            .expect("read")
            .len(),
        recorded,
        "nothing recorded"
    );
    assert_eq!(
        invitations
            .accept(last.id, &third_joins, 3, accepted())
            .await
            .expect("ran"),
        Some(AddMember::Added)
    );
    assert_eq!(
        invitations
            .accept(
                last.id,
                &membership(other.id, third, OrgRole::Member, later),
                3,
                accepted()
            )
            .await
            .expect("ran"),
        None,
        "accepted already"
    );
}

/// Switching a session's organization names it in the session and rotates
/// every unused refresh token out for the new one; an ended session does
/// not switch.
pub async fn sessions_switch_organization(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let user = registered(users, "so@example.com", now).await;
    let org = crate::OrganizationId::generate();
    let mut session = session_of(user, now);
    session.organization_id = Some(org);
    sessions
        .create(
            NewSession {
                session: session.clone(),
                refresh_token_hash: TokenHash::of(b"w1"),
            },
            Effects::default(),
        )
        .await
        .expect("created");
    let found = sessions
        .find(session.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.organization_id, Some(org), "created with it");
    let later = now + TimeDelta::seconds(5);
    let other = crate::OrganizationId::generate();
    let switched = || org_event(AuditEventType::OrgSwitched, user, other, later);
    assert!(
        sessions
            .switch_organization(
                session.id,
                Some(other),
                &TokenHash::of(b"w2"),
                later,
                switched()
            )
            .await
            .expect("ran")
    );
    let found = sessions
        .find(session.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (found.organization_id, found.last_used_at),
        (Some(other), later)
    );
    let old = sessions
        .find_refresh_token(&TokenHash::of(b"w1"))
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(old.used_at, Some(later), "rotated out");
    let new = sessions
        .find_refresh_token(&TokenHash::of(b"w2"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(new.used_at, None);
    assert_eq!(new.session.organization_id, Some(other));
    assert!(
        sessions
            .switch_organization(session.id, None, &TokenHash::of(b"w3"), later, switched())
            .await
            .expect("ran")
    );
    let found = sessions
        .find(session.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.organization_id, None, "cleared");
    sessions
        .revoke(
            user,
            RevokeScope::All,
            RevokeReason::LogoutAll,
            later,
            Effects::default(),
        )
        .await
        .expect("revoked");
    assert!(
        !sessions
            .switch_organization(
                session.id,
                Some(org),
                &TokenHash::of(b"w4"),
                later,
                switched()
            )
            .await
            .expect("ran"),
        "an ended session"
    );
    assert!(
        sessions
            .find_refresh_token(&TokenHash::of(b"w4"))
            .await
            .expect("read")
            .is_none(),
        "nothing written"
    );
    assert_eq!(
        sessions
            .find(session.id)
            .await
            .expect("read")
            .expect("found")
            .organization_id,
        None
    );
}

/// An organization's events: filed under it, newest first, at most
/// `limit`; the user's own trail shows where each was filed.
pub async fn audit_lists_an_organizations_events(
    users: &impl UserRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let user = registered(users, "ao@example.com", now).await;
    let (org, other) = (
        crate::OrganizationId::generate(),
        crate::OrganizationId::generate(),
    );
    for i in 0..3 {
        audit
            .record(
                event(
                    AuditEventType::OrgMemberAdded,
                    user,
                    now + TimeDelta::seconds(i),
                )
                .in_organization(org)
                .with("n", i.to_string()),
            )
            .await
            .expect("recorded");
    }
    audit
        .record(event(AuditEventType::OrgCreated, user, now).in_organization(other))
        .await
        .expect("recorded");
    let newest = audit.list_for_organization(org, 2).await.expect("read");
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0].details, [("n".to_owned(), "2".to_owned())]);
    assert!(newest[0].id > newest[1].id, "newest first");
    assert!(newest.iter().all(|e| e.organization_id == Some(org)));
    assert_eq!(
        audit
            .list_for_organization(org, 10)
            .await
            .expect("read")
            .len(),
        3
    );
    let elsewhere = audit.list_for_organization(other, 10).await.expect("read");
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0].kind, AuditEventType::OrgCreated);
    assert!(
        audit
            .list_for_organization(crate::OrganizationId::generate(), 10)
            .await
            .expect("read")
            .is_empty()
    );
    let mine = audit.list_for_user(user, None, 10).await.expect("read");
    assert_eq!(mine.len(), 5, "four filed, the registration not");
    assert_eq!(
        mine.iter().filter(|e| e.organization_id.is_none()).count(),
        1
    );
}

fn profile(
    name: Option<&str>,
    bio: Option<&str>,
    avatar: Option<&str>,
) -> crate::accounts::Profile {
    crate::accounts::Profile {
        name: name.map(str::to_owned),
        bio: bio.map(str::to_owned),
        avatar_url: avatar.map(str::to_owned),
    }
}

fn audit_filter(user: Option<UserId>, kind: Option<AuditEventType>) -> AuditFilter {
    AuditFilter { user, kind }
}

/// A profile is replaced as a whole (`None` clears a field), read back as
/// written (a name of 100 four-byte characters too), and written with its
/// effects; an unknown account changes nothing.
pub async fn profiles_are_replaced_and_cleared(
    users: &impl UserRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let user = registered(users, "pa@example.com", now).await;
    let fresh = users.find_by_id(user).await.expect("read").expect("found");
    assert_eq!(
        fresh.profile,
        crate::accounts::Profile::default(),
        "empty at first"
    );
    assert_eq!(fresh.suspension, None);
    let later = now + TimeDelta::seconds(1);
    let full = profile(
        Some("Ada Lovelace"),
        Some("Analyst.\nEngine fan."),
        Some("https://example.com/ada.png"),
    );
    let updated = users
        .update_profile(
            user,
            &full,
            later,
            Effects::event(event(AuditEventType::ProfileUpdated, user, later)),
        )
        .await
        .expect("updated")
        .expect("the account");
    assert_eq!(updated.profile, full, "the updated account is returned");
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.email, fresh.email, "nothing else changes");
    let read = users.find_by_id(user).await.expect("read").expect("found");
    assert_eq!(read.profile, full, "read back as written");
    assert_eq!(read.updated_at, later);
    let short = profile(Some("Ada"), None, None);
    let cleared = users
        .update_profile(
            user,
            &short,
            later,
            Effects::event(event(AuditEventType::ProfileUpdated, user, later)),
        )
        .await
        .expect("updated")
        .expect("the account");
    assert_eq!(cleared.profile, short, "None clears");
    assert_eq!(
        users
            .find_by_id(user)
            .await
            .expect("read")
            .expect("found")
            .profile,
        short
    );
    let wide = profile(Some(&"\u{1F642}".repeat(100)), None, None);
    users
        .update_profile(user, &wide, later, Effects::default())
        .await
        .expect("updated")
        .expect("the account");
    assert_eq!(
        users
            .find_by_id(user)
            .await
            .expect("read")
            .expect("found")
            .profile,
        wide,
        "100 characters of 4 bytes fit"
    );
    let nobody = UserId::generate();
    assert!(
        users
            .update_profile(
                nobody,
                &full,
                later,
                Effects::event(event(AuditEventType::ProfileUpdated, nobody, later)),
            )
            .await
            .expect("ran")
            .is_none(),
        "no such account"
    );
    assert!(
        audit
            .list(&audit_filter(Some(nobody), None), None, 10)
            .await
            .expect("read")
            .is_empty(),
        "and no effects"
    );
    assert_eq!(
        audit
            .list(
                &audit_filter(Some(user), Some(AuditEventType::ProfileUpdated)),
                None,
                10
            )
            .await
            .expect("read")
            .len(),
        2,
        "written with the changes"
    );
}

/// Suspending marks the account with its suspension and revokes every
/// active session of the user (not others'), returning them; reactivating
/// clears the suspension and leaves the sessions revoked. Unknown accounts
/// change nothing.
pub async fn suspension_revokes_sessions_until_reactivated(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let user = registered(users, "sa@example.com", now).await;
    let other = registered(users, "sb@example.com", now).await;
    let mut live = Vec::new();
    let mut ended = None;
    for (i, owner) in [user, user, user, other].into_iter().enumerate() {
        let session = session_of(owner, now);
        sessions
            .create(
                NewSession {
                    session: session.clone(),
                    refresh_token_hash: TokenHash::of(format!("susp-{i}").as_bytes()),
                },
                Effects::default(),
            )
            .await
            .expect("created");
        match i {
            0 => ended = Some(session.id),
            1 | 2 => live.push(session.id),
            _ => {}
        }
    }
    let ended = ended.expect("a session");
    sessions
        .revoke(
            user,
            RevokeScope::One(ended),
            RevokeReason::Logout,
            now,
            Effects::default(),
        )
        .await
        .expect("revoked");
    let suspension = crate::accounts::Suspension {
        reason: "spam, again".into(),
        since: now,
        until: Some(now + TimeDelta::days(7)),
    };
    let later = now + TimeDelta::seconds(1);
    let mut revoked = users
        .suspend(
            user,
            &suspension,
            later,
            Effects::event(event(AuditEventType::AccountSuspended, user, later)),
        )
        .await
        .expect("ran")
        .expect("the account");
    revoked.sort();
    live.sort();
    assert_eq!(revoked, live, "the live sessions, not the ended one");
    assert!(
        sessions
            .list_active(user, later)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        sessions
            .list_active(other, later)
            .await
            .expect("list")
            .len(),
        1,
        "other users keep theirs"
    );
    let found = users.find_by_id(user).await.expect("read").expect("found");
    assert_eq!(found.status, crate::AccountStatus::Suspended);
    assert_eq!(found.suspension, Some(suspension.clone()));
    assert_eq!(found.updated_at, later);
    assert_eq!(
        users
            .suspend(user, &suspension, later, Effects::default())
            .await
            .expect("ran"),
        Some(Vec::new()),
        "nothing left to revoke"
    );
    let nobody = UserId::generate();
    assert_eq!(
        users
            .suspend(
                nobody,
                &suspension,
                later,
                Effects::event(event(AuditEventType::AccountSuspended, nobody, later)),
            )
            .await
            .expect("ran"),
        None
    );
    assert!(
        !users
            .reactivate(
                nobody,
                later,
                Effects::event(event(AuditEventType::AccountReactivated, nobody, later)),
            )
            .await
            .expect("ran")
    );
    assert!(
        audit
            .list(&audit_filter(Some(nobody), None), None, 10)
            .await
            .expect("read")
            .is_empty(),
        "no effects for unknown accounts"
    );
    let after = later + TimeDelta::seconds(1);
    assert!(
        users
            .reactivate(
                user,
                after,
                Effects::event(event(AuditEventType::AccountReactivated, user, after)),
            )
            .await
            .expect("ran")
    );
    let found = users.find_by_id(user).await.expect("read").expect("found");
    assert_eq!(found.status, crate::AccountStatus::Active);
    assert_eq!(found.suspension, None);
    assert_eq!(found.updated_at, after);
    assert!(
        sessions
            .list_active(user, after)
            .await
            .expect("list")
            .is_empty(),
        "the sessions stay revoked"
    );
    for kind in [
        AuditEventType::AccountSuspended,
        AuditEventType::AccountReactivated,
    ] {
        assert_eq!(
            audit
                .list(&audit_filter(Some(user), Some(kind)), None, 10)
                .await
                .expect("read")
                .len(),
            1,
            "{kind:?} written with the change"
        );
    }
}

/// Suspensions with an `until` at or before `now` lift; later ones and
/// those without an `until` stay.
pub async fn only_due_suspensions_lift(users: &impl UserRepository, now: Timestamp) {
    let now = now.trunc_subsecs(6);
    let mut due = Vec::new();
    let mut kept = Vec::new();
    for (address, until, lifts) in [
        ("la@example.com", Some(now - TimeDelta::hours(1)), true),
        ("lb@example.com", Some(now), true),
        ("lc@example.com", Some(now + TimeDelta::seconds(1)), false),
        ("ld@example.com", None, false),
    ] {
        let user = registered(users, address, now).await;
        let suspension = crate::accounts::Suspension {
            reason: "r".into(),
            since: now - TimeDelta::days(1),
            until,
        };
        users
            .suspend(user, &suspension, now, Effects::default())
            .await
            .expect("ran")
            .expect("the account");
        if lifts {
            due.push(user);
        } else {
            kept.push(user);
        }
    }
    let active = registered(users, "le@example.com", now).await;
    let mut lifted = users.lift_suspensions(now).await.expect("lifted");
    lifted.sort();
    due.sort();
    assert_eq!(lifted, due);
    for user in &due {
        let found = users.find_by_id(*user).await.expect("read").expect("found");
        assert_eq!(found.status, crate::AccountStatus::Active);
        assert_eq!(found.suspension, None);
    }
    for user in &kept {
        let found = users.find_by_id(*user).await.expect("read").expect("found");
        assert_eq!(found.status, crate::AccountStatus::Suspended);
        assert!(found.suspension.is_some());
    }
    assert_eq!(
        users
            .find_by_id(active)
            .await
            .expect("read")
            .expect("found")
            .status,
        crate::AccountStatus::Active
    );
    assert!(
        users
            .lift_suspensions(now)
            .await
            .expect("lifted")
            .is_empty(),
        "each lifts once"
    );
}

/// Every page of `filter`, `limit` at a time: the ids in order, and the
/// number of pages.
async fn all_pages(
    users: &impl UserRepository,
    filter: &crate::accounts::UserFilter,
    limit: u32,
) -> (Vec<UserId>, usize) {
    let mut ids = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let (page, next) = users.search(filter, after, limit).await.expect("search");
        pages += 1;
        assert!(page.len() <= usize::try_from(limit).expect("small"));
        ids.extend(page.iter().map(|u| u.id));
        match next {
            Some(next) => {
                assert_eq!(page.last().map(|u| u.id), Some(next), "next = last id");
                after = Some(next);
            }
            None => return (ids, pages),
        }
        assert!(pages < 100, "paging ends");
    }
}

/// The administrators' search: an email prefix or a part of the name
/// (case-insensitive, wildcards literal), a status, a global role, a live
/// organization; in id order, paged after an id.
pub async fn users_are_searched_and_paged(
    users: &impl UserRepository,
    orgs: &impl crate::organizations::OrganizationRepository,
    now: Timestamp,
) {
    use crate::accounts::UserFilter;
    let now = now.trunc_subsecs(6);
    let named = |address: &'static str, name: Option<&'static str>| async move {
        let user = registered(users, address, now).await;
        if name.is_some() {
            users
                .update_profile(user, &profile(name, None, None), now, Effects::default())
                .await
                .expect("updated")
                .expect("the account");
        }
        user
    };
    let alice = named("alice@example.com", Some("Alice Liddell")).await;
    let carol = named("carol@example.com", Some("Carol ALIBI")).await;
    let bob = named("bob@ali.example.com", Some("Bob")).await;
    let under = named("x_y@example.com", None).await;
    let xay = named("xay@example.com", Some("100% Xay")).await;
    let admin = {
        let mut account = registration("root@example.com", "root", now);
        account.roles.push(Role::new("admin"));
        let id = account.user.id;
        users.create(account).await.expect("created");
        id
    };
    let mut everyone = vec![alice, carol, bob, under, xay, admin];
    everyone.sort();
    let find = |filter: UserFilter| async move {
        let (found, _) = users.search(&filter, None, 100).await.expect("search");
        found.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    let query = |q: &str| UserFilter {
        query: Some(q.to_owned()),
        ..UserFilter::default()
    };
    let sorted = |mut ids: Vec<UserId>| {
        ids.sort();
        ids
    };
    assert_eq!(find(UserFilter::default()).await, everyone);
    assert_eq!(
        find(query("ALI")).await,
        sorted(vec![alice, carol]),
        "an email prefix or a name part, any case; not the middle of an email"
    );
    assert_eq!(find(query("alice@")).await, [alice]);
    assert_eq!(find(query("liddell")).await, [alice]);
    assert_eq!(find(query("example")).await, Vec::<UserId>::new());
    assert_eq!(find(query("x_")).await, [under], "_ is literal");
    assert_eq!(find(query("0% x")).await, [xay], "% is literal");
    assert_eq!(find(query("%")).await, [xay]);
    // Status.
    let suspension = crate::accounts::Suspension {
        reason: "r".into(),
        since: now,
        until: None,
    };
    users
        .suspend(carol, &suspension, now, Effects::default())
        .await
        .expect("ran")
        .expect("the account");
    assert_eq!(
        find(UserFilter {
            status: Some(crate::AccountStatus::Suspended),
            ..UserFilter::default()
        })
        .await,
        [carol]
    );
    assert_eq!(
        find(UserFilter {
            status: Some(crate::AccountStatus::Active),
            ..query("ali")
        })
        .await,
        [alice],
        "filters combine"
    );
    // Role.
    assert_eq!(
        find(UserFilter {
            role: Some("admin".into()),
            ..UserFilter::default()
        })
        .await,
        [admin]
    );
    assert_eq!(
        find(UserFilter {
            role: Some("user".into()),
            ..UserFilter::default()
        })
        .await,
        everyone,
        "every account holds `user`"
    );
    assert!(
        find(UserFilter {
            role: Some("nobody".into()),
            ..UserFilter::default()
        })
        .await
        .is_empty()
    );
    // Organization.
    let org = organization("Search", "search", now);
    orgs.create(&new_organization(&org, alice, 5), Effects::default())
        .await
        .expect("created");
    orgs.add_member(
        &membership(org.id, bob, crate::access::OrgRole::Member, now),
        10,
        Effects::default(),
    )
    .await
    .expect("added");
    let in_org = UserFilter {
        organization: Some(org.id),
        ..UserFilter::default()
    };
    assert_eq!(find(in_org.clone()).await, sorted(vec![alice, bob]));
    assert!(
        find(UserFilter {
            organization: Some(crate::OrganizationId::generate()),
            ..UserFilter::default()
        })
        .await
        .is_empty()
    );
    // Paging: the next page starts after the last id; an exact fit ends
    // without an empty page.
    assert_eq!(
        all_pages(users, &UserFilter::default(), 2).await,
        (everyone.clone(), 3)
    );
    assert_eq!(
        all_pages(users, &UserFilter::default(), 4).await,
        (everyone.clone(), 2)
    );
    assert_eq!(
        all_pages(users, &UserFilter::default(), 6).await,
        (everyone.clone(), 1)
    );
    let (page, next) = users
        .search(&UserFilter::default(), Some(everyone[3]), 100)
        .await
        .expect("search");
    assert_eq!(
        page.iter().map(|u| u.id).collect::<Vec<_>>(),
        everyone[4..],
        "after is exclusive"
    );
    assert_eq!(next, None);
    let (page, _) = users
        .search(&query("ali"), None, 100)
        .await
        .expect("search");
    assert_eq!(
        page.iter()
            .find(|u| u.id == alice)
            .map(|u| u.profile.clone()),
        Some(profile(Some("Alice Liddell"), None, None)),
        "found accounts are whole"
    );
    assert!(
        orgs.delete(org.id, now, Effects::default())
            .await
            .expect("deleted")
    );
    assert!(
        find(in_org).await.is_empty(),
        "a deleted organization has no members to find"
    );
}

/// The administrators' trail: every event, or one user's, or one type's,
/// older than `before`, newest first, at most `limit`.
pub async fn audit_lists_by_user_and_type(
    users: &impl UserRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let user = registered(users, "la1@example.com", now).await;
    let other = registered(users, "la2@example.com", now).await;
    for i in 0..3 {
        audit
            .record(
                event(
                    AuditEventType::LoginSucceeded,
                    user,
                    now + TimeDelta::seconds(i),
                )
                .with("n", i.to_string()),
            )
            .await
            .expect("recorded");
    }
    audit
        .record(event(AuditEventType::LoginFailed, user, now))
        .await
        .expect("recorded");
    audit
        .record(event(AuditEventType::LoginSucceeded, other, now))
        .await
        .expect("recorded");
    audit
        .record(AuditEvent::new(
            AuditEventType::LoginFailed,
            None,
            &RequestContext::default(),
            now,
        ))
        .await
        .expect("recorded");
    let all = audit
        .list(&AuditFilter::default(), None, 100)
        .await
        .expect("read");
    assert_eq!(all.len(), 8, "two registrations and six events");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].user_id, None, "events without a user too");
    let mine = audit
        .list(&audit_filter(Some(user), None), None, 100)
        .await
        .expect("read");
    assert_eq!(mine.len(), 5);
    assert!(mine.iter().all(|e| e.user_id == Some(user)));
    let failed = audit
        .list(
            &audit_filter(None, Some(AuditEventType::LoginFailed)),
            None,
            100,
        )
        .await
        .expect("read");
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|e| e.kind == AuditEventType::LoginFailed));
    let both_filters = audit_filter(Some(user), Some(AuditEventType::LoginSucceeded));
    let first = audit.list(&both_filters, None, 2).await.expect("read");
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].details, [("n".to_owned(), "2".to_owned())]);
    let rest = audit
        .list(&both_filters, Some(first[1].id), 10)
        .await
        .expect("read");
    assert_eq!(rest.len(), 1, "before is exclusive");
    assert_eq!(rest[0].details, [("n".to_owned(), "0".to_owned())]);
    assert!(
        audit
            .list(&audit_filter(Some(UserId::generate()), None), None, 10)
            .await
            .expect("read")
            .is_empty()
    );
}

/// Preferences are `None` until set, then read back as last written (a
/// whole replacement), written with their effects; an unknown account
/// changes nothing.
pub async fn preferences_are_replaced_as_a_whole(
    users: &impl UserRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let user = registered(users, "prefs@example.com", now).await;
    assert_eq!(users.preferences(user).await.expect("read"), None, "unset");
    let nobody = UserId::generate();
    assert_eq!(users.preferences(nobody).await.expect("read"), None);
    let later = now + TimeDelta::seconds(1);
    let updated = |who| Effects::event(event(AuditEventType::PreferencesUpdated, who, later));
    let first = r#"{"locale":"en-GB","timezone":"Europe/London"}"#;
    assert!(
        users
            .set_preferences(user, first, later, updated(user))
            .await
            .expect("set")
    );
    assert_eq!(
        users.preferences(user).await.expect("read").as_deref(),
        Some(first),
        "read back as written"
    );
    assert_eq!(
        users
            .find_by_id(user)
            .await
            .expect("read")
            .expect("found")
            .updated_at,
        later
    );
    let second = r#"{"theme":"dark"}"#;
    assert!(
        users
            .set_preferences(user, second, later, updated(user))
            .await
            .expect("set")
    );
    assert_eq!(
        users.preferences(user).await.expect("read").as_deref(),
        Some(second),
        "replaced as a whole"
    );
    assert!(
        !users
            .set_preferences(nobody, first, later, updated(nobody))
            .await
            .expect("ran"),
        "no such account"
    );
    assert_eq!(users.preferences(nobody).await.expect("read"), None);
    assert!(
        audit
            .list(&audit_filter(Some(nobody), None), None, 10)
            .await
            .expect("read")
            .is_empty(),
        "and no effects"
    );
    assert_eq!(
        audit
            .list(
                &audit_filter(Some(user), Some(AuditEventType::PreferencesUpdated)),
                None,
                10
            )
            .await
            .expect("read")
            .len(),
        2,
        "written with the changes"
    );
}

/// The address [`account_deletion_erases_the_person`] deletes.
pub const ERASED_ADDRESS: &str = "erased@example.com";

/// The address [`account_deletion_spares_the_last_owner`] deletes.
pub const DEPARTED_ADDRESS: &str = "departed@example.com";

/// A client with an address and a user agent, for audit rows to clear.
fn identified_client() -> RequestContext {
    RequestContext {
        ip: Some("198.51.100.23".parse().expect("an address")),
        user_agent: Some("Erasable/1.0".into()),
    }
}

/// Deleting an account deletes its sessions (returning the live ones: not
/// the revoked, not the expired), refresh and one-time tokens, second
/// factors, codes, pending logins and preferences; its audit rows stay,
/// with addresses, user agents and details cleared; the deletion's effects
/// are written. Others' rows are untouched. An unknown (or already deleted)
/// account is `NotFound`, changing nothing.
pub async fn account_deletion_erases_the_person(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    methods: &impl crate::mfa::MethodRepository,
    backup: &impl crate::mfa::BackupCodeRepository,
    pending: &impl crate::mfa::PendingLoginRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    let now = now.trunc_subsecs(6);
    let (user, live, other) = user_with_two_sessions(users, sessions, ERASED_ADDRESS, now).await;
    let (keeper, kept, _) = user_with_two_sessions(users, sessions, "kept@example.com", now).await;
    let expired = Session {
        expires_at: now - TimeDelta::seconds(1),
        ..session_of(user, now - TimeDelta::hours(2))
    };
    sessions
        .create(
            NewSession {
                session: expired.clone(),
                refresh_token_hash: TokenHash::of(b"erased-expired"),
            },
            Effects::default(),
        )
        .await
        .expect("created");
    assert_eq!(
        sessions
            .revoke(
                user,
                RevokeScope::One(other.id),
                RevokeReason::Logout,
                now,
                Effects::default()
            )
            .await
            .expect("revoked"),
        vec![other.id]
    );
    let method = pending_totp(user, "Phone", now);
    assert!(
        methods
            .add(method.clone(), Effects::default())
            .await
            .expect("added")
    );
    let challenge = crate::mfa::CodeChallenge {
        id: crate::ChallengeId::generate(),
        method_id: method.id,
        user_id: user,
        code_hash: TokenHash::of(b"erased-code"),
        created_at: now,
        expires_at: now + TimeDelta::minutes(5),
        attempts: 0,
        consumed_at: None,
    };
    methods
        .add_challenge(challenge.clone(), Effects::default())
        .await
        .expect("added");
    backup
        .replace(user, vec!["x".into(), "y".into()], now, Effects::default())
        .await
        .expect("stored");
    let login = crate::mfa::PendingLogin {
        id: uuid::Uuid::now_v7(),
        token_hash: TokenHash::of(b"erased-mfa-token"),
        user_id: user,
        remember_me: false,
        ip: identified_client().ip,
        user_agent: identified_client().user_agent,
        created_at: now,
        expires_at: now + TimeDelta::minutes(5),
        attempts: 0,
        consumed_at: None,
        organization_id: None,
    };
    pending.create(login).await.expect("stored");
    users
        .set_preferences(user, r#"{"locale":"fr"}"#, now, Effects::default())
        .await
        .expect("set");
    for (who, address) in [(user, ERASED_ADDRESS), (keeper, "kept@example.com")] {
        audit
            .record(
                AuditEvent::new(
                    AuditEventType::ProfileUpdated,
                    Some(who),
                    &identified_client(),
                    now,
                )
                .with("email", address),
            )
            .await
            .expect("recorded");
    }

    let later = now + TimeDelta::seconds(1);
    let deleted = users
        .delete_account(
            user,
            later,
            Effects::event(event(AuditEventType::AccountDeleted, user, later)),
        )
        .await
        .expect("ran");
    assert_eq!(
        deleted,
        crate::accounts::AccountDeletion::Deleted(vec![live.id]),
        "the live sessions, not the revoked or expired ones"
    );
    assert!(users.find_by_id(user).await.expect("read").is_none());
    let address = Email::parse(ERASED_ADDRESS).expect("a valid address");
    assert!(users.find_by_email(&address).await.expect("read").is_none());
    assert_eq!(users.preferences(user).await.expect("read"), None);
    for session in [live.id, other.id, expired.id] {
        assert!(
            sessions.find(session).await.expect("read").is_none(),
            "sessions are deleted"
        );
    }
    let refresh = TokenHash::of(&[ERASED_ADDRESS.as_bytes(), b"first"].concat());
    assert!(
        sessions
            .find_refresh_token(&refresh)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        sessions
            .list_active(user, later)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(methods.find(method.id).await.expect("read").is_none());
    assert!(methods.list(user).await.expect("read").is_empty());
    assert!(
        methods
            .find_challenge(challenge.id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(backup.summary(user).await.expect("read").is_none());
    assert!(
        pending
            .find(&TokenHash::of(b"erased-mfa-token"))
            .await
            .expect("read")
            .is_none()
    );

    let trail = audit
        .list(&audit_filter(Some(user), None), None, 50)
        .await
        .expect("read");
    assert!(
        trail
            .iter()
            .any(|e| e.kind == AuditEventType::UserRegistered),
        "the audit rows stay: {trail:?}"
    );
    assert!(
        trail
            .iter()
            .any(|e| e.kind == AuditEventType::ProfileUpdated)
    );
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.kind == AuditEventType::AccountDeleted)
            .count(),
        1,
        "the deletion's effects are written"
    );
    for e in &trail {
        assert_eq!(e.user_id, Some(user), "with the user id");
        assert_eq!((e.ip, e.user_agent.as_deref()), (None, None), "{e:?}");
        assert!(e.details.is_empty(), "details cleared: {e:?}");
    }
    let others = audit
        .list(&audit_filter(Some(keeper), None), None, 50)
        .await
        .expect("read");
    assert!(
        others.iter().any(|e| e.ip.is_some()
            && e.user_agent.is_some()
            && e.details == vec![("email".to_owned(), "kept@example.com".to_owned())]),
        "others' rows are untouched: {others:?}"
    );
    assert!(users.find_by_id(keeper).await.expect("read").is_some());
    assert!(
        sessions
            .find(kept.id)
            .await
            .expect("read")
            .is_some_and(|s| s.revoked_at.is_none())
    );

    for unknown in [user, UserId::generate()] {
        assert_eq!(
            users
                .delete_account(
                    unknown,
                    later,
                    Effects::event(event(AuditEventType::AccountDeleted, unknown, later)),
                )
                .await
                .expect("ran"),
            crate::accounts::AccountDeletion::NotFound
        );
    }
    assert_eq!(
        audit
            .list(
                &audit_filter(None, Some(AuditEventType::AccountDeleted)),
                None,
                10
            )
            .await
            .expect("read")
            .len(),
        1,
        "NotFound writes no effects"
    );
}

/// The sole owner of a live organization cannot delete the account: nothing
/// changes. A deleted organization does not count, nor one with another
/// owner; once each has one, the deletion removes the memberships and
/// revokes the pending invitations to the address (others stay).
pub async fn account_deletion_spares_the_last_owner(
    users: &impl UserRepository,
    sessions: &impl SessionRepository,
    orgs: &impl crate::organizations::OrganizationRepository,
    invitations: &impl crate::organizations::InvitationRepository,
    audit: &impl AuditLog,
    now: Timestamp,
) {
    use crate::access::OrgRole;
    use crate::accounts::AccountDeletion;
    use crate::organizations::{AddMember, InvitationStatus, InviteOutcome};
    let now = now.trunc_subsecs(6);
    let (user, live, also) = user_with_two_sessions(users, sessions, DEPARTED_ADDRESS, now).await;
    let mut both_live = vec![live.id, also.id];
    both_live.sort();
    let partner = registered(users, "partner@example.com", now).await;
    let solo = organization("Solo", "solo", now);
    let duo = organization("Duo", "duo", now);
    let closed = organization("Closed", "closed", now);
    let shared = organization("Shared", "shared", now);
    for (org, owner) in [
        (&solo, user),
        (&duo, user),
        (&closed, user),
        (&shared, partner),
    ] {
        orgs.create(&new_organization(org, owner, 10), Effects::default())
            .await
            .expect("created");
    }
    assert!(
        orgs.delete(closed.id, now, Effects::default())
            .await
            .expect("deleted")
    );
    for (org, who, role) in [
        (duo.id, partner, OrgRole::Owner),
        (shared.id, user, OrgRole::Member),
    ] {
        assert_eq!(
            orgs.add_member(&membership(org, who, role, now), 10, Effects::default())
                .await
                .expect("ran"),
            AddMember::Added
        );
    }
    let since = now - TimeDelta::days(1);
    let to_user = invitation(
        duo.id,
        DEPARTED_ADDRESS,
        OrgRole::Admin,
        partner,
        "departed-1",
        now,
    );
    let to_other = invitation(
        duo.id,
        "someone@example.com",
        OrgRole::Member,
        partner,
        "departed-2",
        now,
    );
    for sent in [&to_user, &to_other] {
        assert_eq!(
            invitations
                .create(sent, since, 10, Effects::default())
                .await
                .expect("ran"),
            InviteOutcome::Created
        );
    }
    users
        .set_preferences(user, r#"{"theme":"light"}"#, now, Effects::default())
        .await
        .expect("set");
    audit
        .record(AuditEvent::new(
            AuditEventType::ProfileUpdated,
            Some(user),
            &identified_client(),
            now,
        ))
        .await
        .expect("recorded");

    let later = now + TimeDelta::seconds(1);
    let deletion = || Effects::event(event(AuditEventType::AccountDeleted, user, later));
    assert_eq!(
        users
            .delete_account(user, later, deletion())
            .await
            .expect("ran"),
        AccountDeletion::LastOwner,
        "the sole owner of Solo"
    );
    let kept = users.find_by_id(user).await.expect("read").expect("kept");
    assert_eq!(kept.updated_at, now, "nothing changed");
    assert_eq!(
        users.preferences(user).await.expect("read").as_deref(),
        Some(r#"{"theme":"light"}"#)
    );
    assert!(
        sessions
            .find(live.id)
            .await
            .expect("read")
            .is_some_and(|s| s.revoked_at.is_none())
    );
    for org in [solo.id, duo.id, shared.id] {
        assert!(
            orgs.membership(org, user).await.expect("read").is_some(),
            "memberships stay"
        );
    }
    assert_eq!(
        invitations
            .find(duo.id, to_user.id)
            .await
            .expect("read")
            .expect("found")
            .status,
        InvitationStatus::Pending
    );
    let trail = audit
        .list(&audit_filter(Some(user), None), None, 50)
        .await
        .expect("read");
    assert!(
        !trail
            .iter()
            .any(|e| e.kind == AuditEventType::AccountDeleted),
        "no effects"
    );
    assert!(
        trail.iter().any(|e| e.ip.is_some()),
        "the trail is untouched"
    );

    assert_eq!(
        orgs.add_member(
            &membership(solo.id, partner, OrgRole::Owner, now),
            10,
            Effects::default()
        )
        .await
        .expect("ran"),
        AddMember::Added
    );
    assert_eq!(
        users
            .delete_account(user, later, deletion())
            .await
            .expect("ran"),
        AccountDeletion::Deleted(both_live),
        "every live organization has another owner"
    );
    assert!(users.find_by_id(user).await.expect("read").is_none());
    for org in [solo.id, duo.id, shared.id] {
        assert!(
            orgs.membership(org, user).await.expect("read").is_none(),
            "memberships are gone"
        );
        assert!(orgs.membership(org, partner).await.expect("read").is_some());
    }
    assert_eq!(orgs.count_by_role(duo.id).await.expect("read"), [1, 0, 0]);
    assert!(
        orgs.list_for_user(user).await.expect("read").is_empty(),
        "in no organization"
    );
    assert!(
        invitations
            .find(duo.id, to_user.id)
            .await
            .expect("read")
            .is_none(),
        "invitations to the address are gone"
    );
    assert_eq!(
        invitations
            .find(duo.id, to_other.id)
            .await
            .expect("read")
            .expect("found")
            .status,
        InvitationStatus::Pending,
        "others stay"
    );
    let trail = audit
        .list(&audit_filter(Some(user), None), None, 50)
        .await
        .expect("read");
    assert!(
        trail
            .iter()
            .all(|e| e.ip.is_none() && e.user_agent.is_none())
    );
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.kind == AuditEventType::AccountDeleted)
            .count(),
        1
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::World;

    #[tokio::test]
    async fn the_fakes_keep_the_contract() {
        let w = World::new();
        users_are_unique_by_normalized_email(&w.users(), &w.roles(), &w.outbox(), w.now()).await;
        let w = World::new();
        email_verification_is_a_compare_and_set(&w.users(), &w.one_time_tokens(), w.now()).await;
        let w = World::new();
        outbox_claims_are_exclusive_and_retries_wait(&w.users(), &w.outbox(), w.now()).await;
        let w = World::new();
        sessions_rotate_and_revoke(&w.users(), &w.sessions(), w.now()).await;
        let w = World::new();
        password_change_revokes_in_scope(&w.users(), &w.sessions(), w.now()).await;
        let w = World::new();
        audit_trail_pages_newest_first(&w.users(), &w.audit(), w.now()).await;
        let w = World::new();
        active_sessions_are_counted(&w.users(), &w.sessions(), w.now()).await;
        let w = World::new();
        reset_tokens_supersede_and_reset_once(
            &w.users(),
            &w.one_time_tokens(),
            &w.sessions(),
            w.now(),
        )
        .await;
        let w = World::new();
        the_sweep_deletes_only_what_ended(&w.users(), &w.one_time_tokens(), &w.sessions(), w.now())
            .await;
        let w = World::new();
        methods_confirm_once_and_steps_are_single_use(
            &w.users(),
            &w.sessions(),
            &w.mfa_methods(),
            &w.backup_codes(),
            w.now(),
        )
        .await;
        let w = World::new();
        challenges_are_consumed_once(&w.users(), &w.mfa_methods(), w.now()).await;
        let w = World::new();
        backup_codes_are_used_once(&w.users(), &w.backup_codes(), w.now()).await;
        let w = World::new();
        pending_logins_finish_once(&w.users(), &w.pending_logins(), w.now()).await;
        let w = World::new();
        removing_the_last_method_turns_mfa_off(
            &w.users(),
            &w.sessions(),
            &w.mfa_methods(),
            &w.backup_codes(),
            w.now(),
        )
        .await;
        let w = World::new();
        roles_are_created_updated_and_deleted(&w.users(), &w.roles(), w.now()).await;
        let w = World::new();
        the_last_admin_keeps_the_role(&w.users(), &w.roles(), &w.audit(), w.now()).await;
        let w = World::new();
        service_keys_are_found_until_revoked(&w.service_keys(), w.now()).await;
        let w = World::new();
        organizations_are_created_listed_and_soft_deleted(
            &w.users(),
            &w.organizations(),
            &w.audit(),
            w.now(),
        )
        .await;
        let w = World::new();
        members_take_seats_and_the_last_owner_stays(&w.users(), &w.organizations(), w.now()).await;
        let w = World::new();
        invitations_are_answered_once(
            &w.users(),
            &w.organizations(),
            &w.invitations(),
            &w.audit(),
            w.now(),
        )
        .await;
        let w = World::new();
        sessions_switch_organization(&w.users(), &w.sessions(), w.now()).await;
        let w = World::new();
        audit_lists_an_organizations_events(&w.users(), &w.audit(), w.now()).await;
        let w = World::new();
        profiles_are_replaced_and_cleared(&w.users(), &w.audit(), w.now()).await;
        let w = World::new();
        suspension_revokes_sessions_until_reactivated(
            &w.users(),
            &w.sessions(),
            &w.audit(),
            w.now(),
        )
        .await;
        let w = World::new();
        only_due_suspensions_lift(&w.users(), w.now()).await;
        let w = World::new();
        users_are_searched_and_paged(&w.users(), &w.organizations(), w.now()).await;
        let w = World::new();
        audit_lists_by_user_and_type(&w.users(), &w.audit(), w.now()).await;
        let w = World::new();
        preferences_are_replaced_as_a_whole(&w.users(), &w.audit(), w.now()).await;
        let w = World::new();
        account_deletion_erases_the_person(
            &w.users(),
            &w.sessions(),
            &w.mfa_methods(),
            &w.backup_codes(),
            &w.pending_logins(),
            &w.audit(),
            w.now(),
        )
        .await;
        let w = World::new();
        account_deletion_spares_the_last_owner(
            &w.users(),
            &w.sessions(),
            &w.organizations(),
            &w.invitations(),
            &w.audit(),
            w.now(),
        )
        .await;
        let w = World::new();
        let world = w.clone();
        rotation_requires_an_active_account(
            &w.users(),
            &w.sessions(),
            |user| async move {
                let mut state = world.lock();
                if let Some(u) = state.users.iter_mut().find(|u| u.id == user) {
                    u.status = crate::AccountStatus::Suspended;
                }
            },
            w.now(),
        )
        .await;
    }
}
