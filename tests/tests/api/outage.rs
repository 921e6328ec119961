//! A failing dependency gets 503 with `Retry-After` and loses nothing. The
//! service reaches PostgreSQL and Redis through forwarders the test cuts;
//! SQLite has no connection to cut, so on the embedded backend these tests
//! say so and return.

use std::time::Duration;

use auth_tests::cut::{TcpCut, target_of, through};
use auth_tests::{PASSWORD, TestEnv, email, eventually};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_loses_nothing() {
    let env = TestEnv::new().await;
    let (Some(_), Some(redis)) = (env.backend.postgres.clone(), env.backend.redis.clone()) else {
        eprintln!("outage tests need AUTH_TEST_DATABASE_URL and AUTH_TEST_REDIS_URL");
        return;
    };
    let db = TcpCut::start(&target_of(&env.database_url, 5432)).await;
    let database_url = through(&env.database_url, db.port);
    let app = env
        .spawn_with(|s| {
            s.database.url = database_url;
            s.database.acquire_timeout = Duration::from_secs(2);
            s.redis.url = Some(redis);
        })
        .await;
    let login = app.verified_login(&email("db-outage")).await;
    assert_eq!(app.get("/health").await.status, 200);

    db.cut();
    let health = eventually(Duration::from_secs(20), || async {
        let reply = app.get("/health").await;
        (reply.status == 503).then_some(reply)
    })
    .await
    .expect("health reports the outage");
    assert_eq!(health.body["checks"]["database"], "unavailable");
    assert_eq!(health.body["checks"]["redis"], "ok");
    assert!(health.header("retry-after").is_some());

    let address = email("during-outage");
    let refused = app.register(&address).await;
    refused.assert_problem(503, "service_unavailable");
    assert!(refused.header("retry-after").is_some());
    assert!(
        !refused.text.to_lowercase().contains("connection"),
        "no driver detail: {}",
        refused.text
    );
    // Token checks need no database: the access token still works offline.
    assert_eq!(
        app.post(
            "/api/v1/auth/validate",
            &json!({ "token": login.str("access_token") })
        )
        .await
        .body["active"],
        true
    );

    db.restore();
    let back = eventually(Duration::from_secs(30), || async {
        let reply = app.register(&address).await;
        (reply.status != 503).then_some(reply)
    })
    .await
    .expect("the service recovers");
    assert_eq!(
        back.status, 201,
        "the refused registration left nothing behind: {}",
        back.text
    );
    assert_eq!(
        app.login(&email("nobody"), PASSWORD).await.code(),
        "invalid_credentials"
    );
}

/// Redis is hot state only: with it cut, tokens still validate from the
/// local mirror, and a revocation that committed in the database answers
/// success (its fan-out is repaired by the database resync).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_validation_and_revocation_working_and_recovers() {
    let env = TestEnv::new().await;
    let Some(redis_url) = env
        .backend
        .redis
        .clone()
        .filter(|_| env.backend.postgres.is_some())
    else {
        eprintln!("outage tests need AUTH_TEST_DATABASE_URL and AUTH_TEST_REDIS_URL");
        return;
    };
    let redis = TcpCut::start(&target_of(&redis_url, 6379)).await;
    let proxied = through(&redis_url, redis.port);
    let app = env.spawn_with(|s| s.redis.url = Some(proxied)).await;
    let login = app.verified_login(&email("redis-outage")).await;
    let token = login.str("access_token");

    redis.cut();
    let health = eventually(Duration::from_secs(20), || async {
        let reply = app.get("/health").await;
        (reply.body["checks"]["redis"] == "unavailable").then_some(reply)
    })
    .await
    .expect("health reports the outage");
    assert_eq!(
        health.status, 200,
        "still serving, degraded: {}",
        health.text
    );
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["checks"]["database"], "ok");
    // Validation reads the local mirror: no Redis round trip.
    assert_eq!(app.get_authed("/api/v1/auth/me", &token).await.status, 200);
    let logout = app
        .post_authed("/api/v1/auth/logout", &token, &json!(null))
        .await;
    assert_eq!(
        logout.status, 204,
        "the revocation committed: {}",
        logout.text
    );
    app.get_authed("/api/v1/auth/me", &token)
        .await
        .assert_problem(401, "unauthorized");

    redis.restore();
    let healthy = eventually(Duration::from_secs(30), || async {
        (app.get("/health").await.body["status"] == "ok").then_some(())
    })
    .await;
    assert!(healthy.is_some(), "health recovers with Redis");
    app.get_authed("/api/v1/auth/me", &token)
        .await
        .assert_problem(401, "unauthorized");
}
