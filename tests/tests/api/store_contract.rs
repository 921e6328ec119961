//! Contract of the sea-orm store, run against whichever database this run
//! uses (SQLite by default, PostgreSQL with AUTH_TEST_DATABASE_URL).

use std::sync::Arc;

use auth_domain::ports::{
    CreateUserError, OneTimeTokenRepository, OutboxRepository, Registration, SessionRepository,
    UserRepository,
};
use auth_domain::{
    AuditEvent, AuditEventType, Email, EmailMessage, NewSession, OneTimeToken, OutboxMessage,
    PasswordHash, RequestContext, Session, SessionId, TokenHash, TokenId, TokenPurpose, User,
};
use auth_infrastructure::SeaStore;
use auth_infrastructure::settings::DatabaseSettings;
use auth_tests::TestEnv;
use chrono::{TimeDelta, Utc};
use sea_orm::ConnectionTrait;
use tokio::sync::Notify;

async fn store(env: &TestEnv) -> SeaStore {
    let settings = DatabaseSettings {
        url: env.database_url.clone(),
        ..DatabaseSettings::default()
    };
    let db = auth_infrastructure::db::connect(&settings)
        .await
        .expect("connect + migrate");
    SeaStore::new(db, Arc::new(Notify::new()))
}

fn registration(address: &str, secret: &str) -> Registration {
    let now = Utc::now();
    let user = User::register(
        Email::parse(address).unwrap(),
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
    let events = vec![AuditEvent::new(
        AuditEventType::UserRegistered,
        Some(user.id),
        &RequestContext::default(),
        now,
    )];
    Registration {
        user,
        verification,
        mail,
        events,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_unique_by_normalized_email() {
    let env = TestEnv::new().await;
    let store = store(&env).await;
    store
        .create_user(registration("a@example.com", "s1"))
        .await
        .unwrap();
    let duplicate = store.create_user(registration("A@Example.com", "s2")).await;
    assert!(matches!(duplicate, Err(CreateUserError::EmailTaken)));
    let found = store
        .find_user_by_email(&Email::parse("a@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .find_user_by_id(found.id)
            .await
            .unwrap()
            .unwrap()
            .email,
        found.email
    );
    // The failed registration left nothing behind: one token, one message.
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM one_time_tokens").await,
        1
    );
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM outbox").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_verification_is_a_compare_and_set() {
    let env = TestEnv::new().await;
    let store = store(&env).await;
    let reg = registration("b@example.com", "s");
    let (user, token) = (reg.user.id, reg.verification.clone());
    store.create_user(reg).await.unwrap();
    let found = store
        .find_one_time_token(&TokenHash::of(b"s"), TokenPurpose::VerifyEmail)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, token.id);
    assert!(
        store
            .find_one_time_token(&TokenHash::of(b"s"), TokenPurpose::ResetPassword)
            .await
            .unwrap()
            .is_none()
    );

    let event = || {
        AuditEvent::new(
            AuditEventType::EmailVerified,
            Some(user),
            &RequestContext::default(),
            Utc::now(),
        )
    };
    let (a, b) = tokio::join!(
        store.complete_email_verification(token.id, user, Utc::now(), event()),
        store.complete_email_verification(token.id, user, Utc::now(), event()),
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|won| **won).count(),
        1,
        "exactly one use wins"
    );
    assert!(
        store
            .find_user_by_id(user)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_claims_are_exclusive_and_retries_wait() {
    let env = TestEnv::new().await;
    let store = store(&env).await;
    for i in 0..3 {
        store
            .create_user(registration(&format!("c{i}@example.com"), &format!("s{i}")))
            .await
            .unwrap();
    }
    let now = Utc::now();
    let lease = now + TimeDelta::seconds(60);
    let (first, second) = tokio::join!(
        store.claim_due_messages(now, lease, 10),
        store.claim_due_messages(now, lease, 10)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.len() + second.len(), 3, "each message claimed once");
    assert!(
        store
            .claim_due_messages(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased messages are not claimed again"
    );

    let message = first.first().or(second.first()).unwrap().clone();
    let later = now + TimeDelta::seconds(30);
    store
        .schedule_retry(message.id, 1, later, "smtp down")
        .await
        .unwrap();
    assert!(
        store
            .claim_due_messages(now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .claim_due_messages(later, later + TimeDelta::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1);
    store.mark_sent(&due[0], later).await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 2);
    let payload = env
        .query_string("SELECT payload FROM outbox WHERE status = 'sent'")
        .await;
    assert!(
        payload.contains("\"subject\"") && !payload.contains("\"text\":\"t\""),
        "a sent message keeps its metadata, not its body: {payload}"
    );

    // A stopping worker gives its unattempted leases back at once.
    let others: Vec<_> = first
        .iter()
        .chain(second.iter())
        .map(|m| m.id)
        .filter(|id| *id != message.id)
        .collect();
    store.release(&others).await.unwrap();
    assert_eq!(
        store
            .claim_due_messages(now, lease, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // Finished messages go after the retention; pending ones stay.
    assert_eq!(store.purge_finished(later).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_finished(later + TimeDelta::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.pending_count().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_round_trip() {
    let env = TestEnv::new().await;
    let store = store(&env).await;
    let reg = registration("d@example.com", "s");
    let user = reg.user.id;
    store.create_user(reg).await.unwrap();
    let now = Utc::now();
    let session = Session {
        id: SessionId::generate(),
        user_id: user,
        created_at: now,
        last_used_at: now,
        expires_at: now + TimeDelta::hours(24),
        remember_me: true,
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("curl/8".into()),
        revoked_at: None,
    };
    let event = AuditEvent::new(
        AuditEventType::LoginSucceeded,
        Some(user),
        &RequestContext::default(),
        now,
    );
    store
        .create_session(
            NewSession {
                session: session.clone(),
                refresh_token_hash: TokenHash::of(b"r"),
            },
            event,
        )
        .await
        .unwrap();
    let found = store.find_session(session.id).await.unwrap().unwrap();
    assert_eq!(found.user_id, user);
    assert_eq!(found.ip, session.ip);
    assert!(found.remember_me && found.is_active(now));
}

/// The rotation compare-and-set also requires a live session and an active
/// account, in the same transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_requires_a_live_session_and_an_active_account() {
    use auth_domain::ports::{RevokeReason, RevokeScope, Rotation};

    let env = TestEnv::new().await;
    let store = store(&env).await;
    let reg = registration("rot@example.com", "s");
    let user = reg.user.id;
    store.create_user(reg).await.unwrap();
    let now = Utc::now();
    let open = |token: &'static [u8]| {
        let session = Session {
            id: SessionId::generate(),
            user_id: user,
            created_at: now,
            last_used_at: now,
            expires_at: now + TimeDelta::hours(1),
            remember_me: false,
            ip: None,
            user_agent: None,
            revoked_at: None,
        };
        (
            NewSession {
                session: session.clone(),
                refresh_token_hash: TokenHash::of(token),
            },
            session.id,
        )
    };
    let event = || {
        AuditEvent::new(
            AuditEventType::TokenRefreshed,
            Some(user),
            &RequestContext::default(),
            now,
        )
    };

    let (first, revoked) = open(b"r1");
    store.create_session(first, event()).await.unwrap();
    store
        .revoke_sessions(
            user,
            RevokeScope::One(revoked),
            RevokeReason::Logout,
            now,
            event(),
        )
        .await
        .unwrap();
    let rotation = store
        .rotate_refresh_token(
            revoked,
            &TokenHash::of(b"r1"),
            &TokenHash::of(b"r1-next"),
            now,
            event(),
        )
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::SessionEnded, "revoked session");

    let (second, live) = open(b"r2");
    store.create_session(second, event()).await.unwrap();
    env.db()
        .await
        .execute_unprepared("UPDATE users SET status = 'suspended'")
        .await
        .unwrap();
    let rotation = store
        .rotate_refresh_token(
            live,
            &TokenHash::of(b"r2"),
            &TokenHash::of(b"r2-next"),
            now,
            event(),
        )
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::SessionEnded, "suspended account");
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL")
            .await,
        0,
        "nothing rotated"
    );

    env.db()
        .await
        .execute_unprepared("UPDATE users SET status = 'active'")
        .await
        .unwrap();
    let rotation = store
        .rotate_refresh_token(
            live,
            &TokenHash::of(b"r2"),
            &TokenHash::of(b"r2-next"),
            now,
            event(),
        )
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Rotated);
}
