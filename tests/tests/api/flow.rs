//! register → verify email → login → me, and each step's refusals.

use std::time::Duration;

use auth_tests::{PASSWORD, TestEnv, email, eventually};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_verify_login_me() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("Walk.Through");

    let registered = app.register(&address.to_uppercase()).await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    let user = &registered.body["user"];
    assert_eq!(
        user["email"],
        address.to_lowercase(),
        "stored trimmed and lower-cased"
    );
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["roles"], json!(["user"]));
    assert!(
        user["id"]
            .as_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .unwrap()
            .get_version_num()
            == 7
    );

    // The mail carries a link built from http.public_url, in both parts.
    let mail = env.mail.wait_for(&address, Duration::from_secs(20)).await;
    assert!(
        mail.link()
            .starts_with("http://localhost:8001/verify-email?token="),
        "{}",
        mail.link()
    );
    let token = mail.link_token();
    assert!(token.len() >= 43);
    assert!(
        mail.html.contains(&mail.link()),
        "the HTML part has the same link"
    );

    // Before verification the password is right but login is refused.
    app.login(&address, PASSWORD)
        .await
        .assert_problem(403, "email_not_verified");
    assert_eq!(
        app.login(&address, PASSWORD).await.body["detail"],
        "Please verify your email"
    );

    let verified = app
        .post("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.body["user"]["email_verified"], true);

    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({ "email": address, "password": PASSWORD, "remember_me": true }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    assert_eq!(login.body["refresh_expires_in"], 30 * 86_400);
    assert!(login.body["refresh_token"].as_str().unwrap().len() >= 43);
    assert!(login.body["session_id"].is_string());
    let cookie = login.header("set-cookie").expect("refresh cookie");
    for part in [
        "refresh_token=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Max-Age=",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }

    let access = login.body["access_token"].as_str().unwrap();
    let me = app.get_authed("/api/v1/auth/me", access).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["user"]["email"], address.to_lowercase());
    assert_eq!(me.body["user"]["email_verified"], true);

    // Stored: only hashes of tokens, never the raw values.
    let refresh = login.body["refresh_token"].as_str().unwrap();
    let leaked = env
        .query_i64(&format!(
            "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = '{refresh}' OR token_hash = '{token}'"
        ))
        .await;
    assert_eq!(leaked, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_without_remember_me_has_no_max_age() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("cookie")).await;
    let cookie = login.header("set-cookie").expect("cookie");
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    assert_eq!(login.body["refresh_expires_in"], 86_400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_token_is_single_use_and_path_form_works() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("single-use");
    app.register(&address).await;
    let token = app.verification_token(&address).await;
    let first = app
        .post(&format!("/api/v1/auth/verify-email/{token}"), &json!(null))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    app.post("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await
        .assert_problem(400, "token_invalid");
    app.post(
        "/api/v1/auth/verify-email",
        &json!({ "token": "not-a-token" }),
    )
    .await
    .assert_problem(400, "token_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_verification_token_says_so() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("expired");
    app.register(&address).await;
    let token = app.verification_token(&address).await;
    // Age the token instead of waiting out tokens.verify_email_ttl.
    env.set_timestamp(
        "UPDATE one_time_tokens SET expires_at = $1",
        chrono::Utc::now() - chrono::TimeDelta::seconds(1),
    )
    .await;
    let reply = app
        .post("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    reply.assert_problem(400, "token_expired");
    assert_eq!(
        reply.body["detail"],
        "This link has expired. Please request a new one"
    );
    let verified = env
        .query_i64("SELECT COUNT(*) FROM users WHERE email_verified = true")
        .await;
    assert_eq!(verified, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_and_wrong_password_answer_identically() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("enum");
    app.verified_login(&address).await;
    let wrong = app.login(&address, "Wrong-Horse-42").await;
    let unknown = app.login(&email("nobody"), PASSWORD).await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    assert_eq!(strip(wrong.body.clone()), strip(unknown.body.clone()));
    assert_eq!(wrong.body["detail"], "Invalid email or password");
    // Failed logins are audited; the unknown email without a user id.
    assert_eq!(env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'login.failed' AND user_id IS NULL").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refusals_write_nothing() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("taken");
    assert_eq!(app.register(&address).await.status, 201);
    app.register(&format!("  {}  ", address.to_uppercase()))
        .await
        .assert_problem(409, "email_taken");

    let weak = app
        .post(
            "/api/v1/auth/register",
            &json!({ "email": email("weak"), "password": "password" }),
        )
        .await;
    weak.assert_problem(422, "weak_password");
    let codes: Vec<&str> = weak.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"missing_uppercase")
            && codes.contains(&"missing_digit")
            && codes.contains(&"too_common"),
        "{codes:?}"
    );

    let long = app
        .post(
            "/api/v1/auth/register",
            &json!({ "email": email("long"), "password": "Aa1".repeat(50) }),
        )
        .await;
    long.assert_problem(422, "weak_password");
    assert_eq!(long.body["errors"][0]["code"], "too_long");

    let bad_email = app
        .post(
            "/api/v1/auth/register",
            &json!({ "email": "not-an-email", "password": PASSWORD }),
        )
        .await;
    bad_email.assert_problem(422, "validation_failed");
    assert_eq!(bad_email.body["errors"][0]["field"], "email");

    assert_eq!(env.query_i64("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM outbox WHERE kind <> 'event'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outdated_password_hash_is_upgraded_on_login() {
    let env = TestEnv::new().await;
    let address = email("rehash");
    {
        let old = env.spawn().await;
        old.verified_login(&address).await;
    }
    let hash_sql = format!("SELECT password_hash FROM users WHERE email = '{address}'");
    assert!(env.query_string(&hash_sql).await.contains("i=1000,"));
    let new = env.spawn_with(|s| s.password.iterations = 1500).await;
    assert_eq!(new.login(&address, PASSWORD).await.status, 200);
    let upgraded = eventually(Duration::from_secs(10), || async {
        let hash = env.query_string(&hash_sql).await;
        hash.contains("i=1500,").then_some(hash)
    })
    .await;
    assert!(
        upgraded.is_some(),
        "hash upgraded to the configured iterations"
    );
    assert_eq!(
        new.login(&address, PASSWORD).await.status,
        200,
        "the new hash verifies"
    );
}
