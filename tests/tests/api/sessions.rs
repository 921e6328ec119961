//! Refresh rotation, reuse detection, logout, sessions, change password,
//! validation.

use std::time::Duration;

use auth_tests::{PASSWORD, TestEnv, email};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("rotate")).await;
    let first = login.str("refresh_token");

    let second = app.refresh(&first).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(second.str("refresh_token"), first, "rotated");
    assert_ne!(second.str("access_token"), login.str("access_token"));
    assert_eq!(
        second.body["session_id"], login.body["session_id"],
        "same session"
    );
    assert!(
        second
            .header("set-cookie")
            .is_some_and(|c| c.contains(&second.str("refresh_token")))
    );
    let access = second.str("access_token");
    assert_eq!(app.get_authed("/api/v1/auth/me", &access).await.status, 200);

    // The rotated-out token again: reuse, and the whole session dies.
    app.refresh(&first)
        .await
        .assert_problem(401, "refresh_token_reused");
    app.refresh(&second.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_invalid");
    app.get_authed("/api/v1/auth/me", &access)
        .await
        .assert_problem(401, "unauthorized");
    app.get_authed("/api/v1/auth/me", &login.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM audit_events WHERE event_type = 'token.reuse_detected'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_reads_the_cookie_when_the_body_has_no_token() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("cookie-refresh")).await;
    let cookie = format!("refresh_token={}", login.str("refresh_token"));
    let url = app.url("/api/v1/auth/refresh");
    let no_body = app
        .send(app.client.post(&url).header("cookie", &cookie))
        .await;
    assert_eq!(no_body.status, 200, "{}", no_body.text);
    let cookie = format!("refresh_token={}", no_body.str("refresh_token"));
    let empty_json = app
        .send(
            app.client
                .post(&url)
                .header("cookie", &cookie)
                .json(&json!({})),
        )
        .await;
    assert_eq!(empty_json.status, 200, "{}", empty_json.text);
    app.send(app.client.post(&url))
        .await
        .assert_problem(401, "refresh_token_invalid");
    app.refresh("garbage")
        .await
        .assert_problem(401, "refresh_token_invalid");
    let unknown = app
        .send(
            app.client
                .post(&url)
                .json(&json!({ "refresh_token": "x", "extra": 1 })),
        )
        .await;
    unknown.assert_problem(422, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_with_one_token_have_exactly_one_winner() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("race")).await;
    let statuses = refresh_race(&[&app], &login.str("refresh_token"), 12).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

/// Sends `n` overlapping refreshes with one token, spread over `apps`.
pub(crate) async fn refresh_race(apps: &[&auth_tests::TestApp], token: &str, n: usize) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    for i in 0..n {
        let app = apps[i % apps.len()];
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/refresh"));
        let body = json!({ "refresh_token": token });
        let start = start.clone();
        set.spawn(async move {
            start.wait().await;
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_within_the_grace_window_gets_the_same_successor() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| s.sessions.refresh_reuse_grace = Duration::from_secs(60))
        .await;
    let login = app.verified_login(&email("grace")).await;
    let first = login.str("refresh_token");
    let a = app.refresh(&first).await;
    let b = app.refresh(&first).await;
    assert_eq!(a.status, 200);
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(
        a.str("refresh_token"),
        b.str("refresh_token"),
        "the same successor"
    );
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &b.str("access_token"))
            .await
            .status,
        200,
        "session alive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_by_access_token_or_by_refresh_token() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("logout");
    let one = app.verified_login(&address).await;
    let two = app.login(&address, PASSWORD).await;

    let bye = app
        .post_authed(
            "/api/v1/auth/logout",
            &one.str("access_token"),
            &json!(null),
        )
        .await;
    assert_eq!(bye.status, 204, "{}", bye.text);
    let cleared = bye.header("set-cookie").expect("cookie cleared");
    assert!(
        cleared.contains("refresh_token=") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    app.get_authed("/api/v1/auth/me", &one.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    app.refresh(&one.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_invalid");
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &two.str("access_token"))
            .await
            .status,
        200,
        "other device stays"
    );

    // Without a Bearer token: the refresh token's session (an expired access token is no obstacle).
    let by_refresh = app
        .post(
            "/api/v1/auth/logout",
            &json!({ "refresh_token": two.str("refresh_token") }),
        )
        .await;
    assert_eq!(by_refresh.status, 204, "{}", by_refresh.text);
    app.get_authed("/api/v1/auth/me", &two.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");

    let neither = app.post("/api/v1/auth/logout", &json!(null)).await;
    neither.assert_problem(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked_per_device() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("devices");
    app.verified_login(&address).await;
    let laptop = app.login_as_device(&address, "Laptop/1.0").await;
    let phone = app.login_as_device(&address, "Phone/2.0").await;
    let listed = app
        .get_authed("/api/v1/auth/sessions", &phone.str("access_token"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let sessions = listed.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0]["id"], phone.body["session_id"], "newest first");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["user_agent"], "Phone/2.0");
    assert_eq!(sessions[1]["current"], false);
    for field in [
        "created_at",
        "last_used_at",
        "expires_at",
        "ip",
        "remember_me",
    ] {
        assert!(sessions[0].get(field).is_some(), "{field}");
    }

    // Another user cannot touch them.
    let stranger = app.verified_login(&email("stranger")).await;
    let laptop_id = laptop.str("session_id");
    app.delete_authed(
        &format!("/api/v1/auth/sessions/{laptop_id}"),
        &stranger.str("access_token"),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &laptop.str("access_token"))
            .await
            .status,
        200
    );

    // The phone revokes the laptop.
    let revoked = app
        .delete_authed(
            &format!("/api/v1/auth/sessions/{laptop_id}"),
            &phone.str("access_token"),
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    app.get_authed("/api/v1/auth/me", &laptop.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    let listed = app
        .get_authed("/api/v1/auth/sessions", &phone.str("access_token"))
        .await;
    assert_eq!(listed.body["sessions"].as_array().unwrap().len(), 2);

    // Everywhere, the current one included; both forms.
    let all = app
        .delete_authed("/api/v1/auth/sessions/all", &phone.str("access_token"))
        .await;
    assert_eq!(all.status, 204);
    app.get_authed("/api/v1/auth/me", &phone.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    let again = app.login(&address, PASSWORD).await;
    let collection = app
        .delete_authed("/api/v1/auth/sessions", &again.str("access_token"))
        .await;
    assert_eq!(collection.status, 204);
    app.refresh(&again.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_keeps_this_session_and_ends_the_others() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("change");
    let here = app.verified_login(&address).await;
    let there = app.login(&address, PASSWORD).await;
    let token = here.str("access_token");
    let path = "/api/v1/auth/change-password";

    let wrong = app
        .post_authed(
            path,
            &token,
            &json!({ "current_password": "Nope-Nope-42", "new_password": "Brand-New-Horse-77" }),
        )
        .await;
    wrong.assert_problem(401, "invalid_credentials");
    let weak = app
        .post_authed(
            path,
            &token,
            &json!({ "current_password": PASSWORD, "new_password": "password" }),
        )
        .await;
    weak.assert_problem(422, "weak_password");
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &there.str("access_token"))
            .await
            .status,
        200,
        "nothing changed"
    );
    assert_eq!(
        app.login(&address, PASSWORD).await.status,
        200,
        "old password still works"
    );

    let done = app
        .post_authed(
            path,
            &token,
            &json!({ "current_password": PASSWORD, "new_password": "Brand-New-Horse-77" }),
        )
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &token).await.status,
        200,
        "this session stays"
    );
    app.get_authed("/api/v1/auth/me", &there.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    app.login(&address, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.login(&address, "Brand-New-Horse-77").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_verify_token() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("validate")).await;
    let token = login.str("access_token");

    let good = app
        .post("/api/v1/auth/validate", &json!({ "token": token }))
        .await;
    assert_eq!(good.status, 200);
    assert_eq!(good.body["active"], true);
    assert_eq!(good.body["sid"], login.body["session_id"]);
    assert_eq!(good.body["sub"], login.body["user"]["id"]);
    assert!(good.body["exp"].is_i64() && good.body["iat"].is_i64());

    let bad = app
        .post(
            "/api/v1/auth/validate",
            &json!({ "token": "forged.token.here" }),
        )
        .await;
    assert_eq!(bad.status, 200);
    assert_eq!(bad.body, json!({ "active": false }));

    let verified = app.get_authed("/api/v1/auth/verify-token", &token).await;
    assert_eq!(verified.status, 200);
    assert_eq!(verified.body["active"], true);
    assert_eq!(verified.body["email"], login.body["user"]["email"]);
    app.get("/api/v1/auth/verify-token")
        .await
        .assert_problem(401, "unauthorized");

    app.post_authed("/api/v1/auth/logout", &token, &json!(null))
        .await;
    let revoked = app
        .post("/api/v1/auth/validate", &json!({ "token": token }))
        .await;
    assert_eq!(revoked.body, json!({ "active": false }));
    app.get_authed("/api/v1/auth/verify-token", &token)
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_with_a_live_refresh_token_gets_a_new_pair() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| {
            s.tokens.access_ttl = Duration::from_secs(1);
            s.tokens.leeway = Duration::ZERO;
        })
        .await;
    let login = app.verified_login(&email("expired-access")).await;
    let token = login.str("access_token");
    let expired = auth_tests::eventually(Duration::from_secs(10), || async {
        (app.get_authed("/api/v1/auth/me", &token).await.status == 401).then_some(())
    })
    .await;
    assert!(expired.is_some(), "the access token expires");
    let fresh = app.refresh(&login.str("refresh_token")).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
}
