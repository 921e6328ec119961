//! Account recovery over HTTP: forgot / reset password, resend
//! verification, the sweep of unverified accounts, and mail that is never
//! lost.

use std::time::Duration;

use auth_tests::cut::TcpCut;
use auth_tests::{PASSWORD, TestApp, TestEnv, email, eventually};
use serde_json::json;

const NEW_PASSWORD: &str = "Fresh-Lantern-88";

async fn forgot(app: &TestApp, address: &str) -> auth_tests::Reply {
    app.post("/api/v1/auth/forgot-password", &json!({ "email": address }))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> auth_tests::Reply {
    app.post(
        "/api/v1/auth/reset-password",
        &json!({ "token": token, "new_password": password }),
    )
    .await
}

async fn reset_token(app: &TestApp, address: &str) -> String {
    app.env
        .mail
        .wait_for_subject(address, "Reset your", Duration::from_secs(20))
        .await
        .link_token()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mail_leads_to_a_new_password_and_ends_every_session() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("reset");
    let old = app.verified_login(&address).await;

    let accepted = forgot(&app, &address).await;
    assert_eq!(accepted.status, 202);
    assert_eq!(accepted.body, json!({}));
    let mail = env
        .mail
        .wait_for_subject(&address, "Reset your", Duration::from_secs(20))
        .await;
    let token = mail.link_token();
    assert!(
        mail.link()
            .starts_with("http://localhost:8001/reset-password?token=")
    );
    assert!(
        mail.text.contains(&token) && mail.html.contains(&token),
        "text and HTML parts"
    );

    let done = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(done.status, 204, "{}", done.text);
    app.get_authed("/api/v1/auth/me", &old.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    app.refresh(&old.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_invalid");
    app.login(&address, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.login(&address, NEW_PASSWORD).await.status, 200);
    reset(&app, &token, "Other-Lantern-88")
        .await
        .assert_problem(400, "token_invalid");
    env.mail
        .wait_for_subject(&address, "was changed", Duration::from_secs(20))
        .await;
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'password.reset'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_errors_change_nothing_and_a_weak_password_keeps_the_token() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| s.tokens.reset_ttl = Duration::from_secs(3))
        .await;
    let address = email("reset-errors");
    app.verified_login(&address).await;
    reset(&app, "never-issued", NEW_PASSWORD)
        .await
        .assert_problem(400, "token_invalid");

    assert_eq!(forgot(&app, &address).await.status, 202);
    let first = reset_token(&app, &address).await;
    let weak = reset(&app, &first, "password").await;
    weak.assert_problem(422, "weak_password");
    assert_eq!(weak.body["errors"][0]["field"], "new_password");

    // A second request supersedes the first link.
    assert_eq!(forgot(&app, &address).await.status, 202);
    let second = eventually(Duration::from_secs(20), || async {
        let token = reset_token(&app, &address).await;
        (token != first).then_some(token)
    })
    .await
    .expect("a second link");
    reset(&app, &first, NEW_PASSWORD)
        .await
        .assert_problem(400, "token_invalid");

    // Past reset_ttl the link has expired (polled with a weak password,
    // which leaves a live token unused).
    let expired = eventually(Duration::from_secs(10), || async {
        let reply = reset(&app, &second, "password").await;
        (reply.code() == "token_expired").then_some(reply)
    })
    .await
    .expect("the link expires");
    expired.assert_problem(400, "token_expired");
    assert_eq!(
        expired.body["detail"],
        "This link has expired. Please request a new one"
    );
    assert_eq!(
        app.login(&address, PASSWORD).await.status,
        200,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_addresses_get_the_same_answer_and_no_mail() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let known = email("known");
    app.verified_login(&known).await;
    let unverified = email("unverified");
    assert_eq!(app.register(&unverified).await.status, 201);
    let unknown = email("unknown");
    for path in [
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/resend-verification",
    ] {
        let mut replies = Vec::new();
        for address in [&known, &unverified, &unknown] {
            replies.push(app.post(path, &json!({ "email": address })).await);
        }
        for reply in &replies {
            assert_eq!(
                (reply.status, &reply.text),
                (202, &replies[0].text),
                "{path}"
            );
        }
    }
    // Requests are handled after the response: wait for the outbox to drain.
    eventually(Duration::from_secs(20), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND kind <> 'event'")
            .await
            == 0)
            .then_some(())
    })
    .await
    .expect("the outbox drains");
    assert_eq!(env.mail.count_for(&unknown).await, 0);
    assert_eq!(
        env.mail.count_for(&known).await,
        2,
        "verification, then the reset link"
    );
    assert_eq!(
        env.mail.count_for(&unverified).await,
        3,
        "registration, reset link, new verification"
    );
    assert_eq!(
        env.query_i64(
            "SELECT COUNT(*) FROM audit_events WHERE event_type = 'password.reset_requested' AND user_id IS NULL"
        )
        .await,
        1,
        "the unknown address's request is recorded without a user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_requests_per_address_per_hour_unknown_addresses_included() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let unknown = email("limit-unknown");
    for _ in 0..3 {
        assert_eq!(forgot(&app, &unknown).await.status, 202);
    }
    let limited = forgot(&app, &unknown).await;
    limited.assert_problem(429, "rate_limited");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&wait), "{wait}");
    for _ in 0..3 {
        assert_eq!(
            app.post(
                "/api/v1/auth/resend-verification",
                &json!({ "email": unknown })
            )
            .await
            .status,
            202
        );
    }
    app.post(
        "/api/v1/auth/resend-verification",
        &json!({ "email": unknown }),
    )
    .await
    .assert_problem(429, "rate_limited");
    // Normalization: the same address in other case is the same budget.
    forgot(&app, &unknown.to_uppercase())
        .await
        .assert_problem(429, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_gives_a_new_link_and_the_old_one_stops_working() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("resend");
    assert_eq!(app.register(&address).await.status, 201);
    let first = app.verification_token(&address).await;
    assert_eq!(
        app.post(
            "/api/v1/auth/resend-verification",
            &json!({ "email": address })
        )
        .await
        .status,
        202
    );
    let second = eventually(Duration::from_secs(20), || async {
        (env.mail.count_for(&address).await == 2).then_some(())
    })
    .await;
    assert!(second.is_some(), "a second verification mail");
    let newest = env
        .mail
        .all()
        .await
        .into_iter()
        .rev()
        .find(|m| m.envelope_to.iter().any(|r| r == &address))
        .unwrap()
        .link_token();
    assert_ne!(newest, first);
    app.post("/api/v1/auth/verify-email", &json!({ "token": first }))
        .await
        .assert_problem(400, "token_invalid");
    assert_eq!(
        app.post("/api/v1/auth/verify-email", &json!({ "token": newest }))
            .await
            .status,
        200
    );
}

/// Someone registered the owner's address with their own password and never
/// verified it: the owner resets the password and has the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_of_an_address_reclaims_a_squatted_account_by_reset() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("squatted");
    app.post(
        "/api/v1/auth/register",
        &json!({ "email": address, "password": "Squatter-Password-1" }),
    )
    .await;
    assert_eq!(forgot(&app, &address).await.status, 202);
    let token = reset_token(&app, &address).await;
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status, 204);
    let login = app.login(&address, NEW_PASSWORD).await;
    assert_eq!(login.status, 200, "verified by the reset: {}", login.text);
    assert_eq!(login.body["user"]["email_verified"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_accounts_are_swept_and_the_address_frees_itself() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| {
            s.accounts.unverified_ttl = Duration::from_secs(1);
            s.accounts.sweep_interval = Duration::from_millis(200);
        })
        .await;
    let squatted = email("sweep");
    let kept = email("sweep-kept");
    assert_eq!(app.register(&squatted).await.status, 201);
    app.verified_login(&kept).await;
    let gone = eventually(Duration::from_secs(15), || async {
        (env.query_i64(&format!(
            "SELECT COUNT(*) FROM users WHERE email = '{squatted}'"
        ))
        .await
            == 0)
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "the unverified account was deleted");
    assert_eq!(
        env.query_i64(&format!(
            "SELECT COUNT(*) FROM users WHERE email = '{kept}'"
        ))
        .await,
        1,
        "verified accounts stay"
    );
    assert!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'user.registered'")
            .await
            >= 2,
        "audit rows stay"
    );
    assert_eq!(
        app.register(&squatted).await.status,
        201,
        "the address is free"
    );
}

/// An SMTP server that is down for a while means late mail, never lost
/// mail, and never a mail twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_while_smtp_is_down_arrives_exactly_once() {
    let env = TestEnv::new().await;
    let smtp = TcpCut::start(&format!("127.0.0.1:{}", env.mail.port())).await;
    let port = smtp.port;
    let app = env
        .spawn_with(move |s| {
            s.smtp.port = port;
            s.mail.retry_base = Duration::from_millis(200);
            s.mail.retry_max = Duration::from_millis(400);
        })
        .await;
    smtp.cut();
    let addresses: Vec<String> = (0..3).map(|i| email(&format!("queued{i}"))).collect();
    for address in &addresses {
        assert_eq!(app.register(address).await.status, 201);
    }
    let tried = eventually(Duration::from_secs(20), || async {
        (env.query_i64("SELECT CAST(COALESCE(MIN(attempts), 0) AS BIGINT) FROM outbox WHERE status = 'pending' AND kind <> 'event'").await >= 1)
            .then_some(())
    })
    .await;
    assert!(
        tried.is_some(),
        "every message was tried while SMTP was down"
    );
    assert_eq!(env.mail.all().await.len(), 0);
    smtp.restore();
    for address in &addresses {
        env.mail.wait_for(address, Duration::from_secs(30)).await;
    }
    eventually(Duration::from_secs(20), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND kind <> 'event'")
            .await
            == 0)
            .then_some(())
    })
    .await
    .expect("the outbox drains");
    for address in &addresses {
        assert_eq!(
            env.mail.count_for(address).await,
            1,
            "{address} exactly once"
        );
    }
}

/// Two instances relay one outbox: each message is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_each_mail_once() {
    let env = TestEnv::new().await;
    if env.backend.postgres.is_none() {
        eprintln!("two instances share a database on PostgreSQL; the embedded mode runs one");
        return;
    }
    // Both instances count registrations from 127.0.0.1 together.
    let spawn = || env.spawn_with(|s| s.limits.register_per_ip = 100);
    let (a, b) = (spawn().await, spawn().await);
    let addresses: Vec<String> = (0..8).map(|i| email(&format!("two{i}"))).collect();
    for (i, address) in addresses.iter().enumerate() {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(app.register(address).await.status, 201);
        assert_eq!(forgot(app, address).await.status, 202);
    }
    eventually(Duration::from_secs(30), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND kind <> 'event'")
            .await
            == 0)
            .then_some(())
    })
    .await
    .expect("the outbox drains");
    for address in &addresses {
        assert_eq!(
            env.mail.count_for(address).await,
            2,
            "{address}: verification and reset, once each"
        );
    }
}

/// The GET of a page never consumes a token (mail scanners follow links).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_link_consumes_nothing() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("scanner");
    assert_eq!(app.register(&address).await.status, 201);
    let token = app.verification_token(&address).await;
    for _ in 0..3 {
        let page = app.get(&format!("/verify-email?token={token}")).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("Verify my email"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    assert_eq!(
        app.post("/api/v1/auth/verify-email", &json!({ "token": token }))
            .await
            .status,
        200,
        "the token is still unused"
    );
    let forgot_page = app
        .send(
            app.client
                .post(app.url("/forgot-password"))
                .form(&[("email", email("nobody-page").as_str())]),
        )
        .await;
    assert!(
        forgot_page
            .text
            .contains("If an account exists, a link is on its way")
    );
}
