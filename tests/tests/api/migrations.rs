//! Migrations keep the rows of a database that ran an older version.

use auth_tests::TestEnv;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, Database};

/// Users of the comma-separated `users.roles` column keep their roles, now
/// as `user_roles` rows, and the column is gone; down restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_move_from_the_column_into_tables_and_back() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    Migrator::up(&db, Some(1)).await.unwrap();
    let now = chrono::Utc::now();
    for (email, roles) in [
        ("plain@example.com", "user"),
        ("boss@example.com", "user, admin"),
    ] {
        let insert = Query::insert()
            .into_table(Alias::new("users"))
            .columns(
                [
                    "id",
                    "email",
                    "email_verified",
                    "password_hash",
                    "status",
                    "roles",
                    "created_at",
                    "updated_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                uuid::Uuid::now_v7().into(),
                email.into(),
                true.into(),
                "$pbkdf2-sha256$x".into(),
                "active".into(),
                roles.into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        db.execute(&insert).await.unwrap();
    }

    Migrator::up(&db, None).await.unwrap();
    let granted = |email: &str| {
        format!(
            "SELECT COUNT(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id WHERE u.email = '{email}'"
        )
    };
    assert_eq!(env.query_i64(&granted("plain@example.com")).await, 1);
    assert_eq!(env.query_i64(&granted("boss@example.com")).await, 2);
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name = 'admin'"
        )
        .await,
        1
    );
    assert!(
        db.execute_unprepared("SELECT roles FROM users")
            .await
            .is_err(),
        "the column is gone"
    );

    // Back to just before the roles migration (the second).
    Migrator::down(&db, Some(steps_after(2))).await.unwrap();
    assert_eq!(
        env.query_string("SELECT roles FROM users WHERE email = 'boss@example.com'")
            .await
            .split(',')
            .count(),
        2
    );
}

/// A refresh looks its session up by id with `revoked_at IS NULL`: the
/// revoked-at index covers revoked sessions only, so no plan can read every
/// live session through it; `down` restores the full index.
#[tokio::test]
async fn the_revoked_at_index_covers_revoked_sessions_only() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    let definition = if env.backend.postgres.is_some() {
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_sessions_revoked_at'"
    } else {
        "SELECT sql FROM sqlite_master WHERE name = 'idx_sessions_revoked_at'"
    };
    Migrator::up(&db, None).await.unwrap();
    let partial = env.query_string(definition).await;
    assert!(
        partial.to_lowercase().contains("where") && partial.to_lowercase().contains("is not null"),
        "{partial}"
    );
    Migrator::down(&db, Some(steps_after(3))).await.unwrap();
    let full = env.query_string(definition).await;
    assert!(!full.to_lowercase().contains("where"), "{full}");
}

/// The `down` steps that undo every migration from the `n`th (1-based) on.
fn steps_after(n: usize) -> u32 {
    u32::try_from(Migrator::migrations().len() + 1 - n).unwrap()
}

/// Second factors: the tables and session columns come and go with the
/// migration, and the sessions keep their rows.
#[tokio::test]
async fn the_mfa_migration_goes_up_and_down() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    for table in [
        "mfa_methods",
        "mfa_challenges",
        "mfa_backup_codes",
        "mfa_pending_logins",
    ] {
        assert_eq!(
            env.query_i64(&format!("SELECT COUNT(*) FROM {table}"))
                .await,
            0
        );
    }
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM sessions WHERE aal = 'aal1'")
            .await,
        0
    );
    Migrator::down(&db, Some(steps_after(4))).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT aal FROM sessions")
            .await
            .is_err()
    );
    assert!(
        db.execute_unprepared("SELECT 1 FROM mfa_methods")
            .await
            .is_err()
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM mfa_methods").await, 0);
}

/// Service keys: the table comes and goes with the migration; a key hash is
/// unique.
#[tokio::test]
async fn the_service_keys_migration_goes_up_and_down() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM service_keys").await, 0);
    let key = |hash: &str| {
        Query::insert()
            .into_table(Alias::new("service_keys"))
            .columns(
                [
                    "id",
                    "name",
                    "key_hash",
                    "permissions",
                    "created_at",
                    "revoked_at",
                ]
                .map(Alias::new),
            )
            .values_panic([
                uuid::Uuid::now_v7().into(),
                "billing".into(),
                hash.into(),
                "authz:check users:*".into(),
                chrono::Utc::now().into(),
                Option::<chrono::DateTime<chrono::Utc>>::None.into(),
            ])
            .to_owned()
    };
    let hash = "a".repeat(64);
    db.execute(&key(&hash)).await.unwrap();
    assert!(
        db.execute(&key(&hash)).await.is_err(),
        "a key hash is unique"
    );
    Migrator::down(&db, Some(steps_after(5))).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT 1 FROM service_keys")
            .await
            .is_err()
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM mfa_methods").await,
        0,
        "the migrations before it stay"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM service_keys").await, 0);
}

/// Organizations: the tables and the session and audit columns come and go
/// with the migration; a slug is unique; the sessions and the trail keep
/// their rows.
#[tokio::test]
async fn the_organizations_migration_goes_up_and_down() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    for table in [
        "organizations",
        "organization_members",
        "organization_invitations",
    ] {
        assert_eq!(
            env.query_i64(&format!("SELECT COUNT(*) FROM {table}"))
                .await,
            0
        );
    }
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM sessions WHERE organization_id IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE organization_id IS NOT NULL")
            .await,
        0
    );
    let organization = |slug: &str| {
        let now = chrono::Utc::now();
        Query::insert()
            .into_table(Alias::new("organizations"))
            .columns(["id", "name", "slug", "settings", "created_at", "updated_at"].map(Alias::new))
            .values_panic([
                uuid::Uuid::now_v7().into(),
                "Acme".into(),
                slug.into(),
                "{}".into(),
                now.into(),
                now.into(),
            ])
            .to_owned()
    };
    db.execute(&organization("acme")).await.unwrap();
    assert!(
        db.execute(&organization("acme")).await.is_err(),
        "a slug is unique"
    );
    assert_eq!(
        env.query_string("SELECT tier FROM organizations WHERE slug = 'acme'")
            .await,
        "basic",
        "the default tier"
    );
    Migrator::down(&db, Some(steps_after(6))).await.unwrap();
    for table in [
        "organizations",
        "organization_members",
        "organization_invitations",
    ] {
        assert!(
            db.execute_unprepared(&format!("SELECT 1 FROM {table}"))
                .await
                .is_err(),
            "{table} is gone"
        );
    }
    for column in ["sessions", "audit_events"] {
        assert!(
            db.execute_unprepared(&format!("SELECT organization_id FROM {column}"))
                .await
                .is_err(),
            "{column}.organization_id is gone"
        );
    }
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM service_keys").await,
        0,
        "the migrations before it stay"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM organizations").await, 0);
}

/// Profiles and suspensions: the user columns come and go with the
/// migration (existing accounts read them as unset), and the users keep
/// their rows.
#[tokio::test]
async fn the_profiles_migration_goes_up_and_down() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    // Every migration before this one (the seventh).
    Migrator::up(&db, Some(6)).await.unwrap();
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table(Alias::new("users"))
        .columns(
            [
                "id",
                "email",
                "email_verified",
                "password_hash",
                "status",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            uuid::Uuid::now_v7().into(),
            "old@example.com".into(),
            true.into(),
            "$pbkdf2-sha256$x".into(),
            "active".into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM users WHERE name IS NULL AND bio IS NULL \
             AND avatar_url IS NULL AND suspended_reason IS NULL \
             AND suspended_at IS NULL AND suspended_until IS NULL"
        )
        .await,
        1,
        "existing accounts have no profile and no suspension"
    );
    let name = "\u{1F642}".repeat(100);
    db.execute_unprepared(&format!(
        "UPDATE users SET name = '{name}', bio = 'b', suspended_reason = 'r' \
         WHERE email = 'old@example.com'"
    ))
    .await
    .unwrap();
    assert_eq!(
        env.query_string("SELECT name FROM users WHERE email = 'old@example.com'")
            .await,
        name,
        "a name of 100 four-byte characters fits"
    );
    Migrator::down(&db, Some(steps_after(7))).await.unwrap();
    for column in [
        "name",
        "bio",
        "avatar_url",
        "suspended_reason",
        "suspended_at",
        "suspended_until",
    ] {
        assert!(
            db.execute_unprepared(&format!("SELECT {column} FROM users"))
                .await
                .is_err(),
            "users.{column} is gone"
        );
    }
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE email = 'old@example.com'")
            .await,
        1,
        "the users keep their rows"
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM organizations").await,
        0,
        "the migrations before it stay"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE name IS NULL")
            .await,
        1
    );
}

/// Preferences: the user column comes and goes with the migration
/// (existing accounts read it as unset), and the users keep their rows.
#[tokio::test]
async fn the_preferences_migration_goes_up_and_down() {
    let env = TestEnv::new().await;
    let db = Database::connect(env.database_url.as_str()).await.unwrap();
    // Every migration before this one (the eighth).
    Migrator::up(&db, Some(7)).await.unwrap();
    let now = chrono::Utc::now();
    let insert = Query::insert()
        .into_table(Alias::new("users"))
        .columns(
            [
                "id",
                "email",
                "email_verified",
                "password_hash",
                "status",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            uuid::Uuid::now_v7().into(),
            "old@example.com".into(),
            true.into(),
            "$pbkdf2-sha256$x".into(),
            "active".into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.execute(&insert).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT preferences FROM users")
            .await
            .is_err(),
        "not there before"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE preferences IS NULL")
            .await,
        1,
        "existing accounts have no preferences"
    );
    let stored = r#"{"locale":"de-CH-1996","timezone":"Europe/Zurich"}"#;
    db.execute_unprepared(&format!(
        "UPDATE users SET preferences = '{stored}' WHERE email = 'old@example.com'"
    ))
    .await
    .unwrap();
    assert_eq!(
        env.query_string("SELECT preferences FROM users WHERE email = 'old@example.com'")
            .await,
        stored
    );
    Migrator::down(&db, Some(steps_after(8))).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT preferences FROM users")
            .await
            .is_err(),
        "users.preferences is gone"
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE email = 'old@example.com'")
            .await,
        1,
        "the users keep their rows"
    );
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE name IS NULL")
            .await,
        1,
        "the migrations before it stay"
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users WHERE preferences IS NULL")
            .await,
        1
    );
}
