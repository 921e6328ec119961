//! Bad input gets a clear problem+json error and changes nothing.

use auth_tests::{PASSWORD, TestEnv, email};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_write_nothing() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let register = app.url("/api/v1/auth/register");
    let address = email("malformed");

    let unknown_field = app
        .post(
            "/api/v1/auth/register",
            &json!({ "email": address, "password": PASSWORD, "admin": true }),
        )
        .await;
    unknown_field.assert_problem(422, "validation_failed");
    assert_eq!(unknown_field.body["errors"][0]["field"], "admin");
    assert_eq!(unknown_field.body["errors"][0]["code"], "unknown_field");

    let missing = app
        .post("/api/v1/auth/register", &json!({ "email": address }))
        .await;
    missing.assert_problem(422, "validation_failed");
    assert_eq!(missing.body["errors"][0]["field"], "password");

    let bad_json = app
        .send(
            app.client
                .post(&register)
                .header("content-type", "application/json")
                .body("{\"email\":"),
        )
        .await;
    bad_json.assert_problem(422, "validation_failed");

    let wrong_type = app
        .send(
            app.client
                .post(&register)
                .header("content-type", "application/json")
                .body("[1,2]"),
        )
        .await;
    wrong_type.assert_problem(422, "validation_failed");

    let huge = format!(
        "{{\"email\":\"{address}\",\"password\":\"{}\"}}",
        "A1a".repeat(30_000)
    );
    let too_large = app
        .send(
            app.client
                .post(&register)
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    too_large.assert_problem(413, "payload_too_large");

    let not_json = app
        .send(
            app.client
                .post(&register)
                .header("content-type", "text/plain")
                .body("hello"),
        )
        .await;
    not_json.assert_problem(415, "unsupported_media_type");

    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM users").await,
        0,
        "nothing was written"
    );
    assert_eq!(
        app.register(&address).await.status,
        201,
        "the email is still free"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_and_wrong_method_are_problems() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    app.get("/api/v1/nope")
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/auth/register")
        .await
        .assert_problem(405, "method_not_allowed");
    let delete_me = app
        .send(app.client.delete(app.url("/api/v1/auth/me")))
        .await;
    delete_me.assert_problem(405, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_requires_a_valid_token_with_the_right_challenge() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let none = app.get("/api/v1/auth/me").await;
    none.assert_problem(401, "unauthorized");
    assert_eq!(
        none.header("www-authenticate"),
        Some(r#"Bearer realm="auth-service""#)
    );

    let garbage = app.get_authed("/api/v1/auth/me", "not.a.jwt").await;
    garbage.assert_problem(401, "unauthorized");
    assert_eq!(
        garbage.header("www-authenticate"),
        Some(r#"Bearer realm="auth-service", error="invalid_token""#)
    );

    let login = app.verified_login(&email("tamper")).await;
    let token = login.body["access_token"].as_str().unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    app.get_authed("/api/v1/auth/me", &parts.join("."))
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_a_request_id() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    for path in [
        "/health",
        "/openapi.json",
        "/nope",
        "/.well-known/jwks.json",
    ] {
        let reply = app.get(path).await;
        assert!(
            reply
                .header("x-request-id")
                .is_some_and(|id| !id.is_empty()),
            "{path}"
        );
    }
}
