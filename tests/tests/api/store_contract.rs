//! The repository contract of `auth_domain::testing::contract`, run on
//! whichever database this run uses (SQLite by default, PostgreSQL with
//! AUTH_TEST_DATABASE_URL) — the same cases the in-memory fakes pass — plus
//! what only the database can show.

use std::sync::Arc;

use auth_domain::activity::OutboxRepository;
use auth_domain::testing::contract;
use auth_infrastructure::Database;
use auth_infrastructure::settings::DatabaseSettings;
use auth_tests::TestEnv;
use chrono::{TimeDelta, Utc};
use sea_orm::ConnectionTrait;
use tokio::sync::Notify;

async fn database(env: &TestEnv) -> Database {
    let settings = DatabaseSettings {
        url: env.database_url.clone(),
        ..DatabaseSettings::default()
    };
    let conn = auth_infrastructure::db::connect(&settings)
        .await
        .expect("connect + migrate");
    Database::new(conn, Arc::new(Notify::new()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_unique_by_normalized_email() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::users_are_unique_by_normalized_email(
        &db.users(),
        &db.roles(),
        &db.outbox(),
        Utc::now(),
    )
    .await;
    // The refused registration left nothing behind: one token, one message.
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM one_time_tokens").await,
        1
    );
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM user_roles").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_verification_is_a_compare_and_set() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::email_verification_is_a_compare_and_set(
        &db.users(),
        &db.one_time_tokens(),
        Utc::now(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_claims_are_exclusive_and_retries_wait() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::outbox_claims_are_exclusive_and_retries_wait(&db.users(), &db.outbox(), Utc::now())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_rotate_and_revoke() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::sessions_rotate_and_revoke(&db.users(), &db.sessions(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_revokes_in_scope() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::password_change_revokes_in_scope(&db.users(), &db.sessions(), Utc::now()).await;
}

/// The rotation compare-and-set also requires an active account, in the
/// same transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_requires_an_active_account() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    let conn = db.connection().clone();
    contract::rotation_requires_an_active_account(
        &db.users(),
        &db.sessions(),
        |_user| async move {
            conn.execute_unprepared("UPDATE users SET status = 'suspended'")
                .await
                .expect("suspend");
        },
        Utc::now(),
    )
    .await;
}

/// A sent message keeps its metadata, not its body (which held the token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_message_keeps_no_body() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    let now = Utc::now();
    auth_domain::accounts::UserRepository::create(
        &db.users(),
        contract::registration("body@example.com", "s", now),
    )
    .await
    .expect("created");
    let outbox = db.outbox();
    let claimed = outbox
        .claim_due(now, now + TimeDelta::seconds(60), 10)
        .await
        .expect("claim");
    outbox.mark_sent(&claimed[0], now).await.expect("sent");
    let payload = env
        .query_string("SELECT payload FROM outbox WHERE status = 'sent'")
        .await;
    assert!(
        payload.contains("\"subject\"") && !payload.contains("\"text\":\"t\""),
        "a sent message keeps its metadata, not its body: {payload}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_confirm_once_and_steps_are_single_use() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::methods_confirm_once_and_steps_are_single_use(
        &db.users(),
        &db.sessions(),
        &db.mfa_methods(),
        &db.backup_codes(),
        Utc::now(),
    )
    .await;
    // The activation's audit event was written in its transaction, once.
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'mfa.method_added'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_are_consumed_once() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::challenges_are_consumed_once(&db.users(), &db.mfa_methods(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_codes_are_used_once() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::backup_codes_are_used_once(&db.users(), &db.backup_codes(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_logins_finish_once() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::pending_logins_finish_once(&db.users(), &db.pending_logins(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_last_method_turns_mfa_off() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::removing_the_last_method_turns_mfa_off(
        &db.users(),
        &db.sessions(),
        &db.mfa_methods(),
        &db.backup_codes(),
        Utc::now(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_created_updated_and_deleted() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::roles_are_created_updated_and_deleted(&db.users(), &db.roles(), Utc::now()).await;
    // Grants are stored as their texts, wildcards included; the deleted
    // role took its grants and assignments with it.
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM role_permissions rp JOIN roles r ON r.id = rp.role_id \
             WHERE r.name = 'admin' AND rp.permission = '*'"
        )
        .await,
        1
    );
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM role_permissions WHERE role_id NOT IN (SELECT id FROM roles)"
        )
        .await,
        0
    );
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM user_roles WHERE role_id NOT IN (SELECT id FROM roles)"
        )
        .await,
        0
    );
    // Each change recorded its event in its transaction; the refused
    // creation none.
    for (kind, count) in [
        ("role.created", 1),
        ("role.updated", 4),
        ("role.deleted", 1),
    ] {
        assert_eq!(
            env.query_i64(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE event_type = '{kind}'"
            ))
            .await,
            count,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_keeps_the_role() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::the_last_admin_keeps_the_role(&db.users(), &db.roles(), &db.audit(), Utc::now())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_keys_are_found_until_revoked() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::service_keys_are_found_until_revoked(&db.service_keys(), Utc::now()).await;
    // Only hashes are stored, and grants as sorted, space-separated texts.
    assert_eq!(
        env.query_string("SELECT permissions FROM service_keys WHERE name = 'billing'")
            .await,
        "authz:check events:* users:read"
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM service_keys WHERE key_hash LIKE 'sk_%'")
            .await,
        0
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'service_key.revoked'")
            .await,
        1,
        "the losing revocation recorded nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_are_created_listed_and_soft_deleted() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::organizations_are_created_listed_and_soft_deleted(
        &db.users(),
        &db.organizations(),
        &db.audit(),
        Utc::now(),
    )
    .await;
    // Deleted, not gone: the row keeps its slug and its members.
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM organizations WHERE deleted_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM organization_members m JOIN organizations o \
             ON o.id = m.organization_id WHERE o.slug = 'acme'"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_take_seats_and_the_last_owner_stays() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::members_take_seats_and_the_last_owner_stays(
        &db.users(),
        &db.organizations(),
        Utc::now(),
    )
    .await;
    // Only the additions that changed something were recorded.
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM audit_events WHERE event_type = 'org.member_added' \
             AND organization_id IS NOT NULL"
        )
        .await,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_answered_once() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::invitations_are_answered_once(
        &db.users(),
        &db.organizations(),
        &db.invitations(),
        &db.audit(),
        Utc::now(),
    )
    .await;
    // Only hashes are stored; statuses by their names.
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM organization_invitations WHERE length(token_hash) <> 64"
        )
        .await,
        0
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM organization_invitations WHERE status = 'accepted'")
            .await,
        2,
        "an invitation to someone already in stays pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_switch_organization() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::sessions_switch_organization(&db.users(), &db.sessions(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_an_organizations_events() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::audit_lists_an_organizations_events(&db.users(), &db.audit(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_replaced_and_cleared() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::profiles_are_replaced_and_cleared(&db.users(), &db.audit(), Utc::now()).await;
}

/// Suspending revokes the user's sessions in the same transaction, with
/// the reason stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_revokes_sessions_until_reactivated() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::suspension_revokes_sessions_until_reactivated(
        &db.users(),
        &db.sessions(),
        &db.audit(),
        Utc::now(),
    )
    .await;
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM sessions WHERE revoked_reason = 'suspended'")
            .await,
        2
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE suspended_at IS NOT NULL")
            .await,
        0,
        "reactivation clears the columns"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_due_suspensions_lift() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::only_due_suspensions_lift(&db.users(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_searched_and_paged() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::users_are_searched_and_paged(&db.users(), &db.organizations(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_by_user_and_type() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::audit_lists_by_user_and_type(&db.users(), &db.audit(), Utc::now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_are_replaced_as_a_whole() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    contract::preferences_are_replaced_as_a_whole(&db.users(), &db.audit(), Utc::now()).await;
    // Stored as the text written, in the user's row.
    assert_eq!(
        env.query_string("SELECT preferences FROM users WHERE email = 'prefs@example.com'")
            .await,
        r#"{"theme":"dark"}"#
    );
}

/// Deleting accounts leaves no row that points at them but their audit
/// rows (with addresses, user agents and details cleared), and their email
/// address nowhere in the database: not in queued or sent messages, not in
/// invitations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_deletion_leaves_nothing_personal() {
    let env = TestEnv::new().await;
    let db = database(&env).await;
    let now = Utc::now();
    contract::account_deletion_erases_the_person(
        &db.users(),
        &db.sessions(),
        &db.mfa_methods(),
        &db.backup_codes(),
        &db.pending_logins(),
        &db.audit(),
        now,
    )
    .await;
    contract::account_deletion_spares_the_last_owner(
        &db.users(),
        &db.sessions(),
        &db.organizations(),
        &db.invitations(),
        &db.audit(),
        now,
    )
    .await;

    for table in [
        "sessions",
        "one_time_tokens",
        "mfa_methods",
        "mfa_challenges",
        "mfa_backup_codes",
        "mfa_pending_logins",
        "organization_members",
        "user_roles",
    ] {
        assert_eq!(
            env.query_i64(&format!(
                "SELECT COUNT(*) FROM {table} WHERE user_id NOT IN (SELECT id FROM users)"
            ))
            .await,
            0,
            "{table} keeps nothing of a deleted account"
        );
    }
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions)"
        )
        .await,
        0
    );
    let orphaned = "FROM audit_events WHERE user_id NOT IN (SELECT id FROM users)";
    assert!(
        env.query_i64(&format!("SELECT COUNT(*) {orphaned}")).await >= 6,
        "the audit rows of the deleted accounts stay"
    );
    assert_eq!(
        env.query_i64(&format!(
            "SELECT COUNT(*) {orphaned} AND (ip IS NOT NULL OR user_agent IS NOT NULL \
             OR details <> '{{}}')"
        ))
        .await,
        0,
        "cleared"
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE preferences IS NOT NULL")
            .await,
        0,
        "the preferences went with the rows"
    );

    let dump = env.dump().await;
    for address in [contract::ERASED_ADDRESS, contract::DEPARTED_ADDRESS] {
        let left: Vec<&str> = dump.lines().filter(|row| row.contains(address)).collect();
        assert!(left.is_empty(), "{address} is still stored: {left:#?}");
    }
    assert!(
        dump.contains("kept@example.com") && dump.contains("partner@example.com"),
        "the other accounts stay"
    );
}
