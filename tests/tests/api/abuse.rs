//! Abuse protection over HTTP: the IP lockout, the rate limits, the hashing
//! pool's per-client share, the trusted-proxy rules, and Redis outages.

use std::time::Duration;

use auth_tests::redis_server::RedisServer;
use auth_tests::{PASSWORD, TestApp, TestEnv, email, eventually};
use serde_json::{Value, json};

fn login_body(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

fn retry_after(reply: &auth_tests::Reply) -> u64 {
    reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After in {:?}", reply.headers))
}

/// Behind 127.0.0.1 as a trusted proxy, so each test client has its own IP.
async fn behind_proxy(
    env: &std::sync::Arc<TestEnv>,
    adjust: impl FnOnce(&mut auth_infrastructure::Settings),
) -> TestApp {
    env.spawn_with(|s| {
        s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        adjust(s);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failed_logins_block_the_ip_even_for_the_right_password() {
    let env = TestEnv::new().await;
    let app = behind_proxy(&env, |s| s.limits.login_block = Duration::from_secs(3)).await;
    let address = email("lockout");
    app.verified_login(&address).await;
    let attacker = "203.0.113.50";
    // Across emails, unknown ones included.
    for who in [
        address.as_str(),
        "nobody@example.com",
        &address,
        "x@example.com",
        &address,
    ] {
        let reply = app
            .post_from(
                attacker,
                "/api/v1/auth/login",
                &login_body(who, "Wrong-Horse-99"),
            )
            .await;
        reply.assert_problem(401, "invalid_credentials");
    }
    let blocked = app
        .post_from(
            attacker,
            "/api/v1/auth/login",
            &login_body(&address, PASSWORD),
        )
        .await;
    blocked.assert_problem(429, "too_many_attempts");
    assert_eq!(
        blocked.body["detail"],
        "Too many attempts. Please try again later"
    );
    assert_eq!(retry_after(&blocked), 3);
    // Another client is not concerned.
    let elsewhere = app
        .post_from(
            "198.51.100.8",
            "/api/v1/auth/login",
            &login_body(&address, PASSWORD),
        )
        .await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text);
    // Retry-After counts down, and the block ends on time.
    let shorter = eventually(Duration::from_secs(5), || async {
        let reply = app
            .post_from(
                attacker,
                "/api/v1/auth/login",
                &login_body(&address, PASSWORD),
            )
            .await;
        (reply.status == 429 && retry_after(&reply) < 3).then_some(())
    })
    .await;
    assert!(shorter.is_some(), "Retry-After shrinks");
    let lifted = eventually(Duration::from_secs(10), || async {
        let reply = app
            .post_from(
                attacker,
                "/api/v1/auth/login",
                &login_body(&address, PASSWORD),
            )
            .await;
        (reply.status == 200).then_some(())
    })
    .await;
    assert!(lifted.is_some(), "the block ends");
    assert!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'ip.blocked'")
            .await
            >= 1
    );
}

/// From an untrusted peer, `X-Forwarded-For` changes nothing: the attacker
/// cannot pick a fresh address per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarded_for_does_not_escape_the_lockout() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("spoof");
    app.verified_login(&address).await;
    for i in 0..5 {
        let reply = app
            .post_from(
                &format!("203.0.113.{i}"),
                "/api/v1/auth/login",
                &login_body(&address, "Wrong-Horse-99"),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    app.post_from(
        "203.0.113.99",
        "/api/v1/auth/login",
        &login_body(&address, PASSWORD),
    )
    .await
    .assert_problem(429, "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_registration_from_one_ip_within_the_hour_is_refused() {
    let env = TestEnv::new().await;
    let app = behind_proxy(&env, |_| {}).await;
    for i in 0..5 {
        let reply = app
            .post_from(
                "203.0.113.60",
                "/api/v1/auth/register",
                &json!({ "email": email(&format!("reg{i}")), "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let sixth = app
        .post_from(
            "203.0.113.60",
            "/api/v1/auth/register",
            &json!({ "email": email("reg5"), "password": PASSWORD }),
        )
        .await;
    sixth.assert_problem(429, "rate_limited");
    let wait = retry_after(&sixth);
    assert!((3590..=3600).contains(&wait), "{wait}");
    assert_eq!(
        app.post_from(
            "203.0.113.61",
            "/api/v1/auth/register",
            &json!({ "email": email("reg6"), "password": PASSWORD }),
        )
        .await
        .status,
        201,
        "another IP registers"
    );
    // IPv6 clients are counted by their /64.
    for i in 0..5 {
        let ip = format!("2001:db8:0:1::{i:x}");
        let reply = app
            .post_from(
                &ip,
                "/api/v1/auth/register",
                &json!({ "email": email(&format!("v6-{i}")), "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    app.post_from(
        "2001:db8:0:1:ffff::1",
        "/api/v1/auth/register",
        &json!({ "email": email("v6-6"), "password": PASSWORD }),
    )
    .await
    .assert_problem(429, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_are_limited_per_session() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| {
            s.limits.refresh_per_session = 3;
            s.limits.refresh_window = Duration::from_secs(60);
        })
        .await;
    let login = app.verified_login(&email("refresh-limit")).await;
    let mut token = login.str("refresh_token");
    for _ in 0..3 {
        let reply = app.refresh(&token).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        token = reply.str("refresh_token");
    }
    let limited = app.refresh(&token).await;
    limited.assert_problem(429, "rate_limited");
    assert!((1..=60).contains(&retry_after(&limited)));
    // Another session of the same user is not concerned.
    let other = app
        .login(login.body["user"]["email"].as_str().unwrap(), PASSWORD)
        .await;
    assert_eq!(app.refresh(&other.str("refresh_token")).await.status, 200);
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'rate_limited'")
            .await,
        1
    );
}

/// A stolen access token must not become a password-guessing oracle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_revoke_the_session() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let login = app.verified_login(&email("guessing")).await;
    let token = login.str("access_token");
    for attempt in 1..=5 {
        let reply = app
            .post_authed(
                "/api/v1/auth/change-password",
                &token,
                &json!({ "current_password": format!("Guess-{attempt}-Horse"), "new_password": "Another-Horse-77" }),
            )
            .await;
        reply.assert_problem(401, "invalid_credentials");
    }
    app.get_authed("/api/v1/auth/me", &token)
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM sessions WHERE revoked_reason = 'password_guessing'")
            .await,
        1
    );
    assert_eq!(
        app.login(login.body["user"]["email"].as_str().unwrap(), PASSWORD)
            .await
            .status,
        200,
        "the password did not change"
    );
}

/// One client flooding logins holds at most its share of the hashing pool:
/// another client's login still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_client_flooding_logins_cannot_starve_another() {
    let env = TestEnv::new().await;
    let app = behind_proxy(&env, |s| {
        s.password.iterations = 300_000;
        s.password.hash_concurrency = 1;
        s.password.hash_queue = 4;
        s.password.hash_queue_per_client = 2;
    })
    .await;
    let flooder = email("flooder");
    let victim = email("victim");
    app.verified_login(&flooder).await;
    app.verified_login(&victim).await;
    let flood: Vec<_> = (0..24)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/login");
            let body = login_body(&flooder, PASSWORD);
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("x-forwarded-for", "203.0.113.66")
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let victim_login = app
        .post_from(
            "198.51.100.77",
            "/api/v1/auth/login",
            &login_body(&victim, PASSWORD),
        )
        .await;
    let mut statuses = Vec::new();
    for task in flood {
        statuses.push(task.await.unwrap().unwrap());
    }
    assert_eq!(victim_login.status, 200, "{}", victim_login.text);
    assert!(
        statuses.contains(&429),
        "the flooder is refused past its share: {statuses:?}"
    );
    assert!(
        !statuses.contains(&503),
        "the pool never filled: {statuses:?}"
    );
}

/// With two instances on PostgreSQL + Redis, failures on both add up to one
/// block.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_on_two_instances_add_up_to_one_block() {
    let env = TestEnv::new().await;
    if env.backend.redis.is_none() || env.backend.postgres.is_none() {
        eprintln!("shared limits need AUTH_TEST_DATABASE_URL and AUTH_TEST_REDIS_URL");
        return;
    }
    let (a, b) = (
        behind_proxy(&env, |_| {}).await,
        behind_proxy(&env, |_| {}).await,
    );
    let address = email("two-instances");
    a.verified_login(&address).await;
    for app in [&a, &b, &a, &b, &a] {
        app.post_from(
            "203.0.113.70",
            "/api/v1/auth/login",
            &login_body(&address, "Wrong-Horse-99"),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    for app in [&a, &b] {
        app.post_from(
            "203.0.113.70",
            "/api/v1/auth/login",
            &login_body(&address, PASSWORD),
        )
        .await
        .assert_problem(429, "too_many_attempts");
    }
}

/// Redis stops mid-test: limits fall back to counting in-process, nothing
/// answers 500, `/health` says so; once Redis is back, limits are shared
/// again across instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_fall_back_while_redis_is_down_and_are_shared_again_after() {
    let env = TestEnv::new().await;
    if env.backend.postgres.is_none() || env.backend.redis.is_none() {
        eprintln!("this outage test needs AUTH_TEST_DATABASE_URL and AUTH_TEST_REDIS_URL");
        return;
    }
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    let spawn = || {
        let url = url.clone();
        behind_proxy(&env, move |s| s.redis.url = Some(url))
    };
    let (a, b) = (spawn().await, spawn().await);
    let address = email("fallback");
    a.verified_login(&address).await;
    assert_eq!(
        a.get("/health").await.body["details"]["rate_limiter"]["mode"],
        "shared"
    );

    redis.stop();
    for i in 0..6 {
        let reply = a
            .post_from(
                "203.0.113.80",
                "/api/v1/auth/login",
                &login_body(&address, "Wrong-Horse-99"),
            )
            .await;
        assert!(reply.status < 500, "attempt {i}: {}", reply.text);
    }
    // Counted in this instance: blocked here.
    a.post_from(
        "203.0.113.80",
        "/api/v1/auth/login",
        &login_body(&address, PASSWORD),
    )
    .await
    .assert_problem(429, "too_many_attempts");
    let health = a.get("/health").await;
    assert_eq!(
        health.status, 200,
        "degraded, still serving: {}",
        health.text
    );
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["details"]["rate_limiter"]["mode"], "fallback");
    // The gauge is process-wide, and other tests' instances share this
    // process: its presence is what can be asserted here.
    let metrics = a.get("/metrics").await.text;
    assert!(metrics.contains("auth_rate_limiter_fallback"), "{metrics}");

    redis.resume().await;
    let shared = eventually(Duration::from_secs(20), || async {
        // A limiter call against Redis turns the mode back; both instances
        // must have reconnected before the counts below can be shared.
        let mut both = true;
        for app in [&a, &b] {
            app.post_from(
                "198.51.100.80",
                "/api/v1/auth/register",
                &json!({ "email": email("probe"), "password": PASSWORD }),
            )
            .await;
            both &= app.get("/health").await.body["details"]["rate_limiter"]["mode"] == "shared";
        }
        both.then_some(())
    })
    .await;
    assert!(shared.is_some(), "limits are shared again");
    for app in [&a, &b, &a, &b, &b] {
        app.post_from(
            "203.0.113.81",
            "/api/v1/auth/login",
            &login_body(&address, "Wrong-Horse-99"),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    a.post_from(
        "203.0.113.81",
        "/api/v1/auth/login",
        &login_body(&address, PASSWORD),
    )
    .await
    .assert_problem(429, "too_many_attempts");
}
