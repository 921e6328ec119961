//! The audit trail, access logs, metrics and health, over HTTP.

use auth_tests::{PASSWORD, TestEnv, email};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_lists_the_callers_events_newest_first_in_pages() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("audit");
    let first = app.verified_login(&address).await;
    assert_eq!(app.login(&address, "Wrong-Horse-99").await.status, 401);
    let second = app.login(&address, PASSWORD).await;
    app.post_authed(
        "/api/v1/auth/logout",
        &first.str("access_token"),
        &json!(null),
    )
    .await;
    // Someone else's events, and one without a user, exist too.
    app.verified_login(&email("stranger")).await;
    app.login(&email("unknown"), PASSWORD).await;

    let token = second.str("access_token");
    let page = app.get_authed("/api/v1/auth/audit", &token).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let types: Vec<&str> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "logout",
            "login.succeeded",
            "login.failed",
            "login.succeeded",
            "email.verified",
            "email.verification_sent",
            "user.registered"
        ],
        "newest first, the caller's only"
    );
    assert_eq!(page.body["next_before"], serde_json::Value::Null);
    let event = &page.body["events"][0];
    for field in ["id", "at", "type", "ip", "user_agent", "details"] {
        assert!(event.get(field).is_some(), "{field} in {event}");
    }
    assert_eq!(event["ip"], "127.0.0.1");

    // Paging follows next_before to the end.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(cursor) => format!("/api/v1/auth/audit?limit=3&before={cursor}"),
            None => "/api/v1/auth/audit?limit=3".to_owned(),
        };
        let page = app.get_authed(&path, &token).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for e in page.body["events"].as_array().unwrap() {
            seen.push(e["type"].as_str().unwrap().to_owned());
        }
        match page.body["next_before"].as_str() {
            Some(cursor) => before = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, types);

    app.get_authed("/api/v1/auth/audit?limit=abc", &token)
        .await
        .assert_problem(422, "validation_failed");
    app.get_authed("/api/v1/auth/audit?before=nope", &token)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/auth/audit")
        .await
        .assert_problem(401, "unauthorized");
}

/// No event, row or log line holds a password, token or hash: the whole
/// database and the whole log are searched for every secret the test used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_stored_in_clear_or_logged() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("at-rest");
    let password = format!(
        "At-Rest-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    assert_eq!(
        app.post(
            "/api/v1/auth/register",
            &json!({ "email": address, "password": password })
        )
        .await
        .status,
        201
    );
    let verification = app.verification_token(&address).await;
    app.post(
        &format!("/api/v1/auth/verify-email/{verification}"),
        &json!(null),
    )
    .await;
    let wrong = format!("{password}-wrong");
    app.login(&address, &wrong).await;
    let login = app.login(&address, &password).await;
    let refreshed = app.refresh(&login.str("refresh_token")).await;
    let new_password = format!("{password}-New9");
    app.post_authed(
        "/api/v1/auth/change-password",
        &refreshed.str("access_token"),
        &json!({ "current_password": password, "new_password": new_password }),
    )
    .await;
    // Let the outbox deliver, so its rows are in their final state.
    auth_tests::eventually(std::time::Duration::from_secs(10), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND kind <> 'event'")
            .await
            == 0)
            .then_some(())
    })
    .await
    .expect("the mail is delivered");

    let dump = env.dump().await;
    assert!(
        dump.contains(&address),
        "the dump works: {} bytes",
        dump.len()
    );
    let logs = auth_tests::logs::all();
    for (what, secret) in [
        ("password", password.as_str()),
        ("wrong password", &wrong),
        ("new password", &new_password),
        ("verification token", &verification),
        ("access token", &login.str("access_token")),
        ("refresh token", &login.str("refresh_token")),
        ("rotated refresh token", &refreshed.str("refresh_token")),
    ] {
        assert!(!dump.contains(secret), "the {what} is in the database");
        assert!(!logs.contains(secret), "the {what} was logged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_lines_carry_route_status_client_ip_and_request_id() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let reply = app
        .send(
            app.client
                .get(app.url("/health"))
                .header("x-request-id", "client-chosen-id"),
        )
        .await;
    let id = reply.header("x-request-id").unwrap().to_owned();
    assert_ne!(
        id, "client-chosen-id",
        "an untrusted peer cannot pick the id"
    );
    let logs = auth_tests::logs::all();
    let line = logs
        .lines()
        .find(|l| l.contains(&id) && l.contains("route"))
        .unwrap_or_else(|| panic!("an access line for {id}"));
    for part in [
        "route=\"/health\"",
        "status=200",
        "client_ip=Some(127.0.0.1)",
        "elapsed_ms",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }

    // Behind a trusted proxy the gateway's id is kept.
    let proxied = env
        .spawn_with(|s| s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
        .await;
    let reply = proxied
        .send(
            proxied
                .client
                .get(proxied.url("/health"))
                .header("x-request-id", "gateway-id-42"),
        )
        .await;
    assert_eq!(reply.header("x-request-id"), Some("gateway-id-42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_is_exposed_and_moves() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let before = app.get("/metrics").await.text;
    let address = email("metrics");
    let login = app.verified_login(&address).await;
    app.login(&address, "Wrong-Horse-99").await;
    app.refresh(&login.str("refresh_token")).await;
    app.get_authed("/api/v1/auth/verify-token", &login.str("access_token"))
        .await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let after = metrics.text;
    for name in [
        "auth_login_success_total",
        "auth_login_failure_total{reason=\"invalid_credentials\"}",
        "auth_token_refresh_total{outcome=\"rotated\"}",
        "auth_registrations_total",
        "auth_operation_duration_seconds_count{operation=\"login\"}",
        "auth_operation_duration_seconds_count{operation=\"register\"}",
        "auth_operation_duration_seconds_count{operation=\"refresh\"}",
        "auth_operation_duration_seconds_count{operation=\"verify_token\"}",
        "auth_operation_duration_seconds_count{operation=\"hash_password\"}",
        "auth_email_delivery_total{outcome=\"sent\"}",
        "http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"200\"}",
        "http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/auth/login\",status=\"200\"}",
    ] {
        assert!(
            value(&after, name) > value(&before, name),
            "{name} moved:\n{after}"
        );
    }
    for name in [
        "auth_operation_duration_seconds_bucket",
        "auth_hash_in_flight",
        "auth_active_sessions",
        "auth_email_outbox_pending",
    ] {
        assert!(after.contains(name), "{name} is exposed:\n{after}");
    }
    // A rate limit refusal is counted by limit.
    let blocked = env
        .spawn_with(|s| {
            s.limits.register_per_ip = 1;
        })
        .await;
    blocked.register(&email("m1")).await;
    blocked.register(&email("m2")).await;
    let text = blocked.get("/metrics").await.text;
    assert!(
        value(&text, "auth_rate_limited_total{limit=\"register\"}") >= 1.0,
        "{text}"
    );
    // Route patterns, never raw paths, label the HTTP metrics.
    assert!(
        !text.contains("verify-email/ey") && !after.contains("route=\"/api/v1/auth/verify-email/r")
    );
}
