//! Secrets never reach a log line: passwords, tokens, hashes.

use auth_tests::{TestEnv, email};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_ever_logged() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("secrets");
    let password = format!(
        "Unique-Secret-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let registered = app
        .post(
            "/api/v1/auth/register",
            &json!({ "email": address, "password": password }),
        )
        .await;
    assert_eq!(registered.status, 201);
    let verification = app.verification_token(&address).await;
    assert_eq!(
        app.post(
            &format!("/api/v1/auth/verify-email/{verification}"),
            &json!(null)
        )
        .await
        .status,
        200
    );
    let wrong = app
        .post(
            "/api/v1/auth/login",
            &json!({ "email": address, "password": format!("{password}-wrong") }),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let login = app
        .post(
            "/api/v1/auth/login",
            &json!({ "email": address, "password": password }),
        )
        .await;
    assert_eq!(login.status, 200);
    let refreshed = app.refresh(&login.str("refresh_token")).await;
    app.refresh(&login.str("refresh_token")).await; // reuse: logged as a warning
    let hash = env
        .query_string(&format!(
            "SELECT password_hash FROM users WHERE email = '{address}'"
        ))
        .await;

    let logs = auth_tests::logs::all();
    assert!(
        logs.contains("/api/v1/auth/verify-email/{token}"),
        "the capture works and logs the route pattern"
    );
    for (what, secret) in [
        ("password", password.as_str()),
        ("verification token", verification.as_str()),
        ("access token", &login.str("access_token")),
        ("refresh token", &login.str("refresh_token")),
        ("rotated refresh token", &refreshed.str("refresh_token")),
        ("password hash", hash.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} was logged");
    }
}
