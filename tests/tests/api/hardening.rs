//! Defects found by a security and interoperability review, each held by a
//! test over HTTP.

use std::time::Duration;

use auth_tests::browser::Browser;
use auth_tests::{TestEnv, email};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWS payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// Consumers that read claims as integers reject `1795618872.0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_date_claims_are_json_integers() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("numeric-date")).await;
    let claims = payload(&login.str("access_token"));
    for claim in ["iat", "nbf", "exp"] {
        assert!(
            claims[claim].is_u64(),
            "{claim} must be a JSON integer: {claims}"
        );
    }
    let refreshed = app.refresh(&login.str("refresh_token")).await;
    let claims = payload(&refreshed.str("access_token"));
    assert!(claims["iat"].is_u64() && claims["exp"].is_u64(), "{claims}");
}

/// RFC 9110 §15.5.6: a 405 carries `Allow`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_not_allowed_names_the_allowed_methods() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let reply = app.get("/api/v1/auth/login").await;
    reply.assert_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = app
        .send(app.client.put(app.url("/api/v1/auth/sessions")))
        .await;
    reply.assert_problem(405, "method_not_allowed");
    let mut allowed: Vec<&str> = reply.header("allow").unwrap().split(", ").collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["DELETE", "GET"]);
}

/// The reference page and everything it loads come from the service itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_loads_nothing_from_another_host() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let page = app.get("/docs").await;
    assert_eq!(page.status, 200);
    let csp = page
        .header("content-security-policy")
        .expect("a Content-Security-Policy");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("http") && !csp.contains('*'), "{csp}");
    for needle in ["http://", "https://", "src=\"//", "href=\"//"] {
        assert!(!page.text.contains(needle), "{needle} in {}", page.text);
    }
    for asset in [
        "/docs/assets/redoc-2.5.4.standalone.js",
        "/docs/assets/init.js",
    ] {
        assert!(page.text.contains(asset), "{asset}");
        let script = app.get(asset).await;
        assert_eq!(script.status, 200, "{asset}");
        assert!(
            script
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/javascript")),
            "{asset}"
        );
    }
}

/// A real browser renders the reference offline: Redoc lists the
/// operations, and every URL the page loaded is on this origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_renders_in_a_headless_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    browser.goto(&app.url("/docs")).await;
    let text = browser
        .wait_for_text("Log in", Duration::from_secs(30))
        .await;
    assert!(
        text.is_some(),
        "the reference rendered no operation; page text: {:?}",
        browser.wait_for_text("", Duration::ZERO).await
    );
    assert!(
        browser
            .wait_for("[data-section-id^='operation/']", Duration::from_secs(5))
            .await
            .is_some(),
        "operations are listed"
    );
    let loaded = browser.loaded_urls().await;
    assert!(
        loaded.len() >= 3,
        "page, bundle, init, document: {loaded:?}"
    );
    for url in &loaded {
        assert!(
            url.starts_with(&app.base) || url.starts_with("blob:") || url.starts_with("data:"),
            "loaded from another host: {url}"
        );
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_logout_refuse_a_body_that_is_not_json() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("csrf")).await;
    let cookie = format!("refresh_token={}", login.str("refresh_token"));
    for path in ["/api/v1/auth/refresh", "/api/v1/auth/logout"] {
        for (content_type, body) in [
            ("text/plain", "x"),
            ("application/x-www-form-urlencoded", "a=b"),
            ("multipart/form-data; boundary=x", "--x--"),
        ] {
            let reply = app
                .send(
                    app.client
                        .post(app.url(path))
                        .header("cookie", &cookie)
                        .header("content-type", content_type)
                        .body(body),
                )
                .await;
            reply.assert_problem(415, "unsupported_media_type");
        }
    }
    // Nothing happened: the cookie's token still rotates, once.
    let cookie_only = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .header("cookie", &cookie),
        )
        .await;
    assert_eq!(cookie_only.status, 200, "{}", cookie_only.text);
    let json_body = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/logout"))
                .header("content-type", "application/json")
                .body(json!({ "refresh_token": cookie_only.str("refresh_token") }).to_string()),
        )
        .await;
    assert_eq!(json_body.status, 204, "{}", json_body.text);
}

/// A sent message keeps its metadata but not its body (which held the raw
/// email token), and finished messages are deleted after `mail.retention`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_mail_keeps_no_token_and_is_deleted_after_the_retention() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("outbox-body");
    assert_eq!(app.register(&address).await.status, 201);
    let token = app.verification_token(&address).await;
    let payload = auth_tests::eventually(Duration::from_secs(10), || async {
        let sent = env
            .query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
            .await;
        if sent == 1 {
            Some(
                env.query_string("SELECT payload FROM outbox WHERE status = 'sent'")
                    .await,
            )
        } else {
            None
        }
    })
    .await
    .expect("the message is marked sent");
    assert!(
        !payload.contains(&token),
        "the raw token is gone: {payload}"
    );
    assert!(payload.contains(&address), "the metadata stays: {payload}");
    drop(app);

    let short = env
        .spawn_with(|s| s.mail.retention = Duration::from_secs(1))
        .await;
    let other = email("outbox-retention");
    assert_eq!(short.register(&other).await.status, 201);
    short.verification_token(&other).await;
    let purged = auth_tests::eventually(Duration::from_secs(15), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox").await == 0).then_some(())
    })
    .await;
    assert!(
        purged.is_some(),
        "finished messages are deleted after the retention"
    );
}

/// Behind a trusted proxy, every `X-Forwarded-For` line counts: a client's
/// forged first line is not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_lines_are_read_together_behind_a_trusted_proxy() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
        .await;
    let login = app.verified_login(&email("xff")).await;
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", "6.6.6.6")
                .header("x-forwarded-for", "198.51.100.7:4711")
                .json(&json!({ "email": login.body["user"]["email"], "password": auth_tests::PASSWORD })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let sessions = app
        .get_authed("/api/v1/auth/sessions", &reply.str("access_token"))
        .await;
    let current = sessions.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["ip"], "198.51.100.7", "{current}");
}
