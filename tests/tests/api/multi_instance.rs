//! Two instances of the real service on one PostgreSQL + Redis. On the
//! embedded backend (one instance by design) there is nothing to share, and
//! these tests say so and return.

use std::time::{Duration, Instant};

use auth_tests::{TestEnv, email};
use serde_json::json;

fn shared_backend(env: &TestEnv) -> bool {
    let shared = env.backend.postgres.is_some() && env.backend.redis.is_some();
    if !shared {
        eprintln!(
            "multi-instance tests need AUTH_TEST_DATABASE_URL and AUTH_TEST_REDIS_URL; embedded mode runs one instance"
        );
    }
    shared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_race_across_instances_has_one_winner() {
    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let (a, b) = (env.spawn().await, env.spawn().await);
    let login = a.verified_login(&email("multi-race")).await;
    let statuses = crate::sessions::refresh_race(&[&a, &b], &login.str("refresh_token"), 12).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_on_one_instance_revokes_on_the_other_within_a_second() {
    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let (a, b) = (env.spawn().await, env.spawn().await);
    let login = a.verified_login(&email("multi-logout")).await;
    let token = login.str("access_token");
    assert_eq!(
        b.get_authed("/api/v1/auth/me", &token).await.status,
        200,
        "valid on the other instance"
    );

    let logged_out = a
        .post_authed("/api/v1/auth/logout", &token, &json!(null))
        .await;
    assert_eq!(logged_out.status, 204);
    let started = Instant::now();
    let rejected = auth_tests::eventually(Duration::from_secs(1), || async {
        (b.get_authed("/api/v1/auth/me", &token).await.status == 401).then_some(started.elapsed())
    })
    .await;
    let delay = rejected.expect("revoked on the other instance within 1 s");
    eprintln!("multi-instance revocation delay: {delay:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_keep_working_on_the_other_instance_when_nothing_was_revoked() {
    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let (a, b) = (env.spawn().await, env.spawn().await);
    let one = a.verified_login(&email("multi-keep")).await;
    let other = a.verified_login(&email("multi-other")).await;
    a.post_authed(
        "/api/v1/auth/logout",
        &other.str("access_token"),
        &json!(null),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(
            b.get_authed("/api/v1/auth/me", &one.str("access_token"))
                .await
                .status,
            200
        );
    }
    let rotated = b.refresh(&one.str("refresh_token")).await;
    assert_eq!(rotated.status, 200, "refresh works across instances");
    assert_eq!(
        a.get_authed("/api/v1/auth/me", &rotated.str("access_token"))
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_instance_learns_earlier_revocations_from_the_database() {
    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let a = env.spawn().await;
    let login = a.verified_login(&email("multi-late")).await;
    let token = login.str("access_token");
    a.post_authed("/api/v1/auth/logout", &token, &json!(null))
        .await;
    let late = env.spawn().await;
    late.get_authed("/api/v1/auth/me", &token)
        .await
        .assert_problem(401, "unauthorized");
}
