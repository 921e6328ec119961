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

/// The Redis fan-out of a revocation fails (Redis is cut), yet every
/// instance refuses the session's token within `redis.resync_interval`: each
/// re-reads recent revocations from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_whose_fan_out_failed_reaches_every_instance_within_the_resync_interval() {
    use auth_tests::cut::{TcpCut, target_of, through};

    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let redis_url = env.backend.redis.clone().unwrap();
    let redis = TcpCut::start(&target_of(&redis_url, 6379)).await;
    let resync = Duration::from_millis(500);
    let spawn = || {
        let proxied = through(&redis_url, redis.port);
        env.spawn_with(move |s| {
            s.redis.url = Some(proxied);
            s.redis.resync_interval = resync;
        })
    };
    let (a, b) = (spawn().await, spawn().await);
    let here = a.verified_login(&email("fanout")).await;
    let there = b
        .login(
            here.body["user"]["email"].as_str().unwrap(),
            auth_tests::PASSWORD,
        )
        .await;
    assert_eq!(there.status, 200);
    let (token, other) = (here.str("access_token"), there.str("access_token"));
    assert_eq!(b.get_authed("/api/v1/auth/me", &token).await.status, 200);

    redis.cut();
    let started = Instant::now();
    let logged_out = a
        .post_authed("/api/v1/auth/logout", &token, &json!(null))
        .await;
    assert_eq!(logged_out.status, 204, "{}", logged_out.text);
    eprintln!("logout with Redis cut answered in {:?}", started.elapsed());
    let delay = auth_tests::eventually(resync * 4 + Duration::from_secs(1), || async {
        (b.get_authed("/api/v1/auth/me", &token).await.status == 401).then_some(started.elapsed())
    })
    .await
    .expect("the other instance learned the revocation from the database");
    eprintln!("revocation delay with Redis cut (resync every {resync:?}): {delay:?}");

    // A password change with Redis cut commits, answers 204, and ends the
    // other device's session on every instance the same way.
    let changed = b
        .post_authed(
            "/api/v1/auth/change-password",
            &b.login(here.body["user"]["email"].as_str().unwrap(), auth_tests::PASSWORD)
                .await
                .str("access_token"),
            &json!({ "current_password": auth_tests::PASSWORD, "new_password": "Another-Horse-77" }),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let ended = auth_tests::eventually(resync * 4 + Duration::from_secs(1), || async {
        (a.get_authed("/api/v1/auth/me", &other).await.status == 401).then_some(())
    })
    .await;
    assert!(
        ended.is_some(),
        "the other session ended on the first instance too"
    );
    redis.restore();
}
