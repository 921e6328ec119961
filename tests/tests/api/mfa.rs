//! Multi-factor authentication over HTTP, as API-MFA.md specifies it: TOTP
//! with no replay, backup codes used once even when raced, email and SMS
//! codes, the login's second step bound to its device, the per-user lock,
//! step-up, re-authentication and removal.

use std::time::Duration;

use auth_tests::{PASSWORD, Reply, TestApp, TestEnv, email, eventually};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const STEP_UP_CHALLENGE: &str = r#"Bearer realm="auth-service", error="insufficient_user_authentication", error_description="A recent second factor is required", acr_values="aal2", max_age=600"#;

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWS payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn access_claims(reply: &Reply) -> Value {
    claims(&reply.str("access_token"))
}

/// RFC 4648 base32 without padding, as authenticator apps read it.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("base32 character");
        bits = (bits << 5) | value as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

fn now_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        / 30
}

/// An authenticator app: the secret, and the last time step it showed, so
/// that every code it gives is for a step the server has not seen.
struct Authenticator {
    secret: Vec<u8>,
    last_step: Option<u64>,
}

impl Authenticator {
    fn new(base32: &str) -> Self {
        Self {
            secret: base32_decode(base32),
            last_step: None,
        }
    }

    fn code_at(&self, step: u64) -> String {
        totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_secret(self.secret.clone())
            .build_noncompliant()
            .generate(step * 30)
            .to_string()
    }

    /// The code of the earliest unused step the server accepts (skew 1:
    /// `now - 1 ..= now + 1`), so three codes fit in one 30 s window.
    async fn next_code(&mut self) -> String {
        let step = self
            .last_step
            .map_or(now_step() - 1, |last| (last + 1).max(now_step() - 1));
        // Only when four codes were asked within one step: wait for the
        // window to reach `step`.
        eventually(Duration::from_secs(35), || async {
            (now_step() + 1 >= step).then_some(())
        })
        .await
        .expect("the time step comes");
        self.last_step = Some(step);
        self.code_at(step)
    }
}

/// A verified user who set up TOTP: the session's aal2 tokens, the app and
/// the backup codes.
struct TotpUser {
    address: String,
    method_id: String,
    app: Authenticator,
    backup_codes: Vec<String>,
    tokens: Value,
}

async fn setup(app: &TestApp, token: &str, body: &Value) -> Reply {
    app.post_authed("/api/v1/mfa/setup", token, body).await
}

async fn verify(app: &TestApp, token: Option<&str>, body: &Value) -> Reply {
    match token {
        Some(token) => app.post_authed("/api/v1/mfa/verify", token, body).await,
        None => app.post("/api/v1/mfa/verify", body).await,
    }
}

async fn enable_totp(app: &TestApp, address: &str) -> TotpUser {
    let login = app.verified_login(address).await;
    let started = setup(
        app,
        &login.str("access_token"),
        &json!({ "type": "totp", "name": "Phone" }),
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let method_id = started.body["method"]["id"].as_str().unwrap().to_owned();
    let mut authenticator = Authenticator::new(started.body["totp"]["secret"].as_str().unwrap());
    let code = authenticator.next_code().await;
    let confirmed = verify(
        app,
        Some(&login.str("access_token")),
        &json!({ "type": "totp", "method_id": method_id, "code": code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let backup_codes = confirmed.body["backup_codes"]
        .as_array()
        .expect("backup codes with the first method")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    TotpUser {
        address: address.to_owned(),
        method_id,
        app: authenticator,
        backup_codes,
        tokens: confirmed.body["tokens"].clone(),
    }
}

async fn login_from(app: &TestApp, address: &str, device: &str) -> Reply {
    let reply = app.login_as_device(address, device).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
}

async fn verify_from(app: &TestApp, device: &str, body: &Value) -> Reply {
    app.send(
        app.client
            .post(app.url("/api/v1/mfa/verify"))
            .header("user-agent", device)
            .json(body),
    )
    .await
}

/// The six-digit codes mailed to `address`, oldest first.
async fn mailed_codes(env: &TestEnv, address: &str) -> Vec<String> {
    env.mail
        .all()
        .await
        .into_iter()
        .filter(|m| m.envelope_to.iter().any(|to| to == address))
        .filter(|m| m.subject.contains("sign-in code"))
        .filter_map(|m| {
            m.text
                .lines()
                .map(str::trim)
                .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_owned)
        })
        .collect()
}

async fn wait_for_mailed_code(env: &TestEnv, address: &str, nth: usize) -> String {
    eventually(Duration::from_secs(20), || async {
        mailed_codes(env, address).await.get(nth).cloned()
    })
    .await
    .unwrap_or_else(|| panic!("code #{nth} mailed to {address}"))
}

async fn wait_for_sms_code(env: &TestEnv, number: &str, nth: usize) -> String {
    eventually(Duration::from_secs(20), || async {
        env.sms_to(number).get(nth).map(|text| {
            text.split_whitespace()
                .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
                .expect("a code in the message")
                .to_owned()
        })
    })
    .await
    .unwrap_or_else(|| panic!("text #{nth} to {number}"))
}

async fn audit_count(env: &TestEnv, event_type: &str) -> i64 {
    env.query_i64(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE event_type = '{event_type}'"
    ))
    .await
}

/// Makes every session's last proof eleven minutes old: past
/// `security.step_up_max_age`.
async fn age_proofs(env: &TestEnv) {
    env.set_timestamp(
        "UPDATE sessions SET auth_time = $1",
        chrono::Utc::now() - chrono::Duration::minutes(11),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_turns_login_into_two_steps_and_every_code_is_single_use() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("totp");
    let login = app.verified_login(&address).await;
    let first = access_claims(&login);
    assert_eq!(first["acr"], "aal1");
    assert_eq!(first["amr"], json!(["pwd"]));
    assert!(first["auth_time"].is_u64(), "auth_time is an integer");
    let other_device = app.login_as_device(&address, "other-device").await;

    let token = login.str("access_token");
    let started = setup(&app, &token, &json!({ "type": "totp", "name": "Phone" })).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let method = &started.body["method"];
    assert_eq!(method["status"], "pending");
    assert_eq!(method["type"], "totp");
    assert_eq!(method["name"], "Phone");
    let secret = started.body["totp"]["secret"].as_str().unwrap();
    assert_eq!(base32_decode(secret).len(), 20, "160-bit secret");
    let uri = started.body["totp"]["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    for part in [
        format!("secret={secret}"),
        "algorithm=SHA1".into(),
        "digits=6".into(),
        "period=30".into(),
        "issuer=".into(),
    ] {
        assert!(uri.contains(&part), "{uri} has {part}");
    }
    assert!(
        started.body["totp"]["qr_svg"]
            .as_str()
            .unwrap()
            .contains("<svg")
    );
    let method_id = method["id"].as_str().unwrap().to_owned();

    let listed = app.get_authed("/api/v1/mfa/methods", &token).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["mfa_enabled"], false, "pending is not enabled");
    assert_eq!(listed.body["methods"][0]["status"], "pending");
    assert!(!listed.text.contains(secret), "never a secret");
    setup(&app, &token, &json!({ "type": "totp", "name": "Phone" }))
        .await
        .assert_problem(409, "mfa_method_exists");

    verify(
        &app,
        Some(&token),
        &json!({ "type": "totp", "method_id": method_id, "code": "000000" }),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");
    let mut authenticator = Authenticator::new(secret);
    let setup_code = authenticator.next_code().await;
    let confirmed = verify(
        &app,
        Some(&token),
        &json!({ "type": "totp", "method_id": method_id, "code": setup_code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.body["method"]["status"], "active");
    let codes = confirmed.body["backup_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert_eq!(code.len(), 11, "{code}");
        assert_eq!(&code[5..6], "-", "{code}");
    }
    let elevated = claims(confirmed.body["tokens"]["access_token"].as_str().unwrap());
    assert_eq!(elevated["acr"], "aal2");
    assert_eq!(elevated["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(elevated["sid"], first["sid"], "the same session");
    app.refresh(&other_device.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_invalid");

    // The setup code consumed its step: replayed as a step-up it fails.
    let aal2 = confirmed.body["tokens"]["access_token"].as_str().unwrap();
    verify(
        &app,
        Some(aal2),
        &json!({ "type": "totp", "method_id": method_id, "code": setup_code }),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");

    let half = app.login(&address, PASSWORD).await;
    assert_eq!(half.status, 200, "{}", half.text);
    assert_eq!(half.body["mfa_required"], true);
    assert!(half.body.get("access_token").is_none(), "no token yet");
    assert!(half.body.get("refresh_token").is_none(), "no session yet");
    assert_eq!(half.body["expires_in"], 300);
    assert_eq!(half.body["default_method_id"], method_id.as_str());
    let methods = half.body["methods"].as_array().unwrap();
    assert!(methods.contains(&json!({ "id": method_id, "type": "totp", "name": "Phone" })));
    assert!(methods.contains(&json!({ "type": "backup_code", "remaining": 10 })));
    let mfa_token = half.str("mfa_token");
    assert!(mfa_token.len() >= 43, "at least 256 bits");

    app.post(
        "/api/v1/mfa/challenge",
        &json!({ "mfa_token": mfa_token, "method_id": method_id }),
    )
    .await
    .assert_problem(422, "validation_failed");
    let code = authenticator.next_code().await;
    let done = verify(
        &app,
        None,
        &json!({ "mfa_token": mfa_token, "type": "totp", "method_id": method_id, "code": code }),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let second = access_claims(&done);
    assert_eq!(second["acr"], "aal2");
    assert_eq!(second["amr"], json!(["pwd", "otp", "mfa"]));
    assert!(done.header("set-cookie").is_some(), "the refresh cookie");
    let next = authenticator.next_code().await;
    verify(
        &app,
        None,
        &json!({ "mfa_token": mfa_token, "type": "totp", "method_id": method_id, "code": next }),
    )
    .await
    .assert_problem(401, "mfa_token_invalid");

    let refreshed = app.refresh(&done.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200);
    let copied = access_claims(&refreshed);
    assert_eq!(copied["acr"], "aal2");
    assert_eq!(copied["amr"], second["amr"]);
    assert_eq!(copied["auth_time"], second["auth_time"], "never renewed");
    let introspected = app
        .get_authed("/api/v1/auth/verify-token", &refreshed.str("access_token"))
        .await;
    assert_eq!(introspected.status, 200, "{}", introspected.text);
    assert_eq!(introspected.body["acr"], "aal2");
    assert_eq!(introspected.body["auth_time"], second["auth_time"]);

    assert_eq!(audit_count(&env, "mfa.setup_started").await, 1);
    assert_eq!(audit_count(&env, "mfa.method_added").await, 1);
    assert!(audit_count(&env, "mfa.verified").await >= 1);
    assert!(audit_count(&env, "mfa.failed").await >= 1);
    let stored = env.dump().await;
    assert!(!stored.contains(secret), "the secret is stored encrypted");
    assert!(
        !stored.contains(&mfa_token),
        "the mfa_token is stored hashed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mfa_token_is_bound_to_its_device_and_dies_after_five_wrong_codes() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()])
        .await;
    let mut user = enable_totp(&app, &email("bound")).await;

    let half = login_from(&app, &user.address, "laptop").await;
    let body = |code: String| {
        json!({ "mfa_token": half.str("mfa_token"), "type": "totp",
                "method_id": user.method_id, "code": code })
    };
    let code = user.app.next_code().await;
    verify_from(&app, "thief", &body(code.clone()))
        .await
        .assert_problem(401, "mfa_token_invalid");
    let from_elsewhere = app
        .send(
            app.client
                .post(app.url("/api/v1/mfa/verify"))
                .header("user-agent", "laptop")
                .header("x-forwarded-for", "203.0.113.9")
                .json(&body(code.clone())),
        )
        .await;
    from_elsewhere.assert_problem(401, "mfa_token_invalid");
    let done = verify_from(&app, "laptop", &body(code)).await;
    assert_eq!(
        done.status, 200,
        "the right device still finishes: {}",
        done.text
    );

    let half = login_from(&app, &user.address, "laptop").await;
    let body = |code: &str| {
        json!({ "mfa_token": half.str("mfa_token"), "type": "totp",
                "method_id": user.method_id, "code": code })
    };
    for _ in 0..5 {
        verify_from(&app, "laptop", &body("000000"))
            .await
            .assert_problem(401, "mfa_code_invalid");
    }
    let code = user.app.next_code().await;
    verify_from(&app, "laptop", &body(&code))
        .await
        .assert_problem(401, "mfa_token_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_code_works_once_even_when_two_logins_race_for_it() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let user = enable_totp(&app, &email("backup")).await;
    assert_eq!(user.backup_codes.len(), 10);
    let stored = env.dump().await;
    for code in &user.backup_codes {
        assert!(
            !stored.contains(code.as_str()),
            "backup codes stored hashed"
        );
        assert!(!stored.contains(&code.replace('-', "")));
    }

    let a = login_from(&app, &user.address, "a").await;
    let b = login_from(&app, &user.address, "b").await;
    let code = &user.backup_codes[0];
    let body = |half: &Reply| json!({ "mfa_token": half.str("mfa_token"), "type": "backup_code", "code": code });
    let (body_a, body_b) = (body(&a), body(&b));
    let (first, second) = tokio::join!(
        verify_from(&app, "a", &body_a),
        verify_from(&app, "b", &body_b)
    );
    let mut statuses = [first.status, second.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", first.text, second.text);
    let (won, lost) = if first.status == 200 {
        (first, second)
    } else {
        (second, first)
    };
    lost.assert_problem(401, "mfa_code_invalid");
    assert_eq!(won.body["backup_codes_remaining"], 9);
    let amr = access_claims(&won)["amr"].clone();
    assert_eq!(amr, json!(["pwd", "otp", "mfa"]));
    env.mail
        .wait_for_subject(
            &user.address,
            "backup code was used",
            Duration::from_secs(20),
        )
        .await;

    // Normalised input: lower case, spaces, no dash, O for 0 and I for 1.
    let sloppy = user.backup_codes[1]
        .to_lowercase()
        .replace('-', " ")
        .replace('0', "o")
        .replace('1', "i");
    let c = login_from(&app, &user.address, "c").await;
    let normalised = verify_from(
        &app,
        "c",
        &json!({ "mfa_token": c.str("mfa_token"), "type": "backup_code", "code": format!(" {sloppy} ") }),
    )
    .await;
    assert_eq!(normalised.status, 200, "{}", normalised.text);
    assert_eq!(normalised.body["backup_codes_remaining"], 8);

    // A fresh aal2 session regenerates the whole set; old codes die.
    let regenerated = app
        .post_authed(
            "/api/v1/mfa/backup-codes/regenerate",
            &normalised.str("access_token"),
            &json!(null),
        )
        .await;
    assert_eq!(regenerated.status, 200, "{}", regenerated.text);
    assert_eq!(
        regenerated.body["backup_codes"].as_array().unwrap().len(),
        10
    );
    let d = login_from(&app, &user.address, "d").await;
    assert!(
        d.body["methods"]
            .as_array()
            .unwrap()
            .contains(&json!({ "type": "backup_code", "remaining": 10 }))
    );
    verify_from(
        &app,
        "d",
        &json!({ "mfa_token": d.str("mfa_token"), "type": "backup_code", "code": user.backup_codes[2] }),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");
    assert_eq!(audit_count(&env, "mfa.backup_code_used").await, 2);
    assert_eq!(audit_count(&env, "mfa.backup_codes_regenerated").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_failures_across_logins_lock_the_second_step_and_mail_the_user() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let mut user = enable_totp(&app, &email("locked")).await;

    for _ in 0..2 {
        let half = login_from(&app, &user.address, "d").await;
        for _ in 0..5 {
            verify_from(
                &app,
                "d",
                &json!({ "mfa_token": half.str("mfa_token"), "type": "backup_code", "code": "AAAAA-AAAAA" }),
            )
            .await
            .assert_problem(401, "mfa_code_invalid");
        }
    }
    let half = login_from(&app, &user.address, "d").await;
    let code = user.app.next_code().await;
    let locked = verify_from(
        &app,
        "d",
        &json!({ "mfa_token": half.str("mfa_token"), "type": "totp",
                 "method_id": user.method_id, "code": code }),
    )
    .await;
    locked.assert_problem(429, "too_many_attempts");
    let retry: u64 = locked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    env.mail
        .wait_for_subject(&user.address, "codes locked", Duration::from_secs(20))
        .await;
    assert_eq!(audit_count(&env, "mfa.locked").await, 1);
    assert_eq!(audit_count(&env, "mfa.failed").await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_and_sms_codes_are_sent_verified_and_expire() {
    let env = TestEnv::new().await;
    let app = env
        .spawn_with(|s| s.mfa.resend_interval = Duration::from_millis(1))
        .await;
    let address = email("codes");
    let login = app.verified_login(&address).await;
    let token = login.str("access_token");

    let started = setup(&app, &token, &json!({ "type": "email", "name": "Inbox" })).await;
    assert_eq!(started.status, 201, "{}", started.text);
    assert!(started.body.get("totp").is_none());
    let email_method = started.body["method"]["id"].as_str().unwrap().to_owned();
    let challenge = started.body["challenge"]["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = wait_for_mailed_code(&env, &address, 0).await;
    let confirmed = verify(
        &app,
        Some(&token),
        &json!({ "type": "email", "method_id": email_method, "challenge_id": challenge, "code": code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.body["backup_codes"].as_array().unwrap().len(), 10);
    let aal2 = confirmed.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let number = "+15550001234";
    setup(
        &app,
        &aal2,
        &json!({ "type": "sms", "name": "Work", "phone": "5550001234" }),
    )
    .await
    .assert_problem(422, "validation_failed");
    let started = setup(
        &app,
        &aal2,
        &json!({ "type": "sms", "name": "Work", "phone": number }),
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let sms_method = started.body["method"]["id"].as_str().unwrap().to_owned();
    let code = wait_for_sms_code(&env, number, 0).await;
    let confirmed = verify(
        &app,
        Some(&aal2),
        &json!({ "type": "sms", "method_id": sms_method, "code": code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert!(
        confirmed.body.get("backup_codes").is_none(),
        "codes come with the first method only"
    );

    let half = app.login(&address, PASSWORD).await;
    assert_eq!(half.body["mfa_required"], true, "{}", half.text);
    assert!(!half.text.contains(number), "the number is masked");
    assert!(!half.text.contains(&address), "the address is masked");
    let sms = half.body["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "sms")
        .unwrap()
        .clone();
    assert!(sms["hint"].as_str().unwrap().ends_with("34"), "{sms}");
    let mfa_token = half.str("mfa_token");
    let challenge_body = json!({ "mfa_token": mfa_token, "method_id": sms_method });

    let sent = app.post("/api/v1/mfa/challenge", &challenge_body).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(sent.body["type"], "sms");
    assert_eq!(sent.body["expires_in"], 300);

    let code = wait_for_sms_code(&env, number, 1).await;
    let challenge_id = sent.str("challenge_id");
    let done = verify(
        &app,
        None,
        &json!({ "mfa_token": mfa_token, "type": "sms", "method_id": sms_method,
                 "challenge_id": challenge_id, "code": code }),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(access_claims(&done)["amr"], json!(["pwd", "sms", "mfa"]));

    // An email code past its TTL answers `mfa_code_expired`.
    let half = app.login(&address, PASSWORD).await;
    let challenge_body = json!({ "mfa_token": half.str("mfa_token"), "method_id": email_method });
    let sent = app.post("/api/v1/mfa/challenge", &challenge_body).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let code = wait_for_mailed_code(&env, &address, 1).await;
    env.set_timestamp(
        "UPDATE mfa_challenges SET expires_at = $1",
        chrono::Utc::now() - chrono::Duration::seconds(1),
    )
    .await;
    verify(
        &app,
        None,
        &json!({ "mfa_token": half.str("mfa_token"), "type": "email", "method_id": email_method,
                 "challenge_id": sent.str("challenge_id"), "code": code }),
    )
    .await
    .assert_problem(401, "mfa_code_expired");
    assert!(audit_count(&env, "mfa.challenge_sent").await >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_sent_at_most_once_a_minute_per_method() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("resend");
    let login = app.verified_login(&address).await;
    let token = login.str("access_token");
    let started = setup(&app, &token, &json!({ "type": "email", "name": "Inbox" })).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let method_id = started.body["method"]["id"].as_str().unwrap().to_owned();
    let code = wait_for_mailed_code(&env, &address, 0).await;
    let confirmed = verify(
        &app,
        Some(&token),
        &json!({ "type": "email", "method_id": method_id, "code": code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);

    let half = app.login(&address, PASSWORD).await;
    let again = app
        .post(
            "/api/v1/mfa/challenge",
            &json!({ "mfa_token": half.str("mfa_token"), "method_id": method_id }),
        )
        .await;
    again.assert_problem(429, "rate_limited");
    let retry: u64 = again
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        mailed_codes(&env, &address).await.len(),
        1,
        "no second code"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_needs_step_up_and_removing_the_last_method_turns_mfa_off() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let mut user = enable_totp(&app, &email("remove")).await;
    let path = format!("/api/v1/mfa/methods/{}", user.method_id);

    // Another user cannot see the method.
    let stranger = app.verified_login(&email("stranger")).await;
    app.delete_authed(&path, &stranger.str("access_token"))
        .await
        .assert_problem(404, "not_found");
    app.post_authed(
        "/api/v1/mfa/backup-codes/regenerate",
        &stranger.str("access_token"),
        &json!(null),
    )
    .await
    .assert_problem(409, "mfa_not_enabled");

    // A second session, finished with a backup code.
    let half = login_from(&app, &user.address, "tablet").await;
    let tablet = verify_from(
        &app,
        "tablet",
        &json!({ "mfa_token": half.str("mfa_token"), "type": "backup_code", "code": user.backup_codes[0] }),
    )
    .await;
    assert_eq!(tablet.status, 200, "{}", tablet.text);

    // An old proof: the refreshed token keeps the old auth_time.
    age_proofs(&env).await;
    let stale = app
        .refresh(user.tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(stale.status, 200, "{}", stale.text);
    let refused = app.delete_authed(&path, &stale.str("access_token")).await;
    refused.assert_problem(401, "step_up_required");
    assert_eq!(refused.header("www-authenticate"), Some(STEP_UP_CHALLENGE));
    assert_eq!(refused.body["acr_values"], "aal2");
    assert_eq!(refused.body["max_age"], 600);
    setup(
        &app,
        &stale.str("access_token"),
        &json!({ "type": "totp", "name": "Second" }),
    )
    .await
    .assert_problem(401, "step_up_required");

    // Re-authenticating with the password alone gives aal1: not enough.
    let reauth = app
        .post_authed(
            "/api/v1/auth/reauthenticate",
            &stale.str("access_token"),
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(reauth.status, 200, "{}", reauth.text);
    app.delete_authed(&path, &reauth.str("access_token"))
        .await
        .assert_problem(401, "step_up_required");

    // Step-up with the authenticator: same session, fresh auth_time.
    let code = user.app.next_code().await;
    let stepped = verify(
        &app,
        Some(&reauth.str("access_token")),
        &json!({ "type": "totp", "method_id": user.method_id, "code": code }),
    )
    .await;
    assert_eq!(stepped.status, 200, "{}", stepped.text);
    let before = access_claims(&stale);
    let after = access_claims(&stepped);
    assert_eq!(after["sid"], before["sid"]);
    assert_eq!(after["acr"], "aal2");
    assert!(after["auth_time"].as_u64() > before["auth_time"].as_u64());
    assert_eq!(audit_count(&env, "step_up.succeeded").await, 1);

    let removed = app.delete_authed(&path, &stepped.str("access_token")).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    app.refresh(&tablet.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_invalid");
    let listed = app
        .get_authed("/api/v1/mfa/methods", &stepped.str("access_token"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["mfa_enabled"], false);
    assert_eq!(listed.body["methods"], json!([]));
    assert_eq!(listed.body["backup_codes"]["remaining"], 0);
    let plain = app.login(&user.address, PASSWORD).await;
    assert_eq!(plain.status, 200);
    assert!(plain.body.get("mfa_required").is_none_or(|v| v == false));
    assert!(!plain.str("access_token").is_empty(), "no second step left");
    assert_eq!(
        env.query_i64("SELECT COUNT(*) FROM mfa_backup_codes").await,
        0,
        "backup codes die with the last method"
    );
    assert_eq!(audit_count(&env, "mfa.method_removed").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthenticate_renews_the_proof_of_a_user_without_mfa() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("reauth");
    let login = app.verified_login(&address).await;
    age_proofs(&env).await;
    let stale = app.refresh(&login.str("refresh_token")).await;
    let token = stale.str("access_token");

    app.post_authed(
        "/api/v1/auth/reauthenticate",
        &token,
        &json!({ "password": "Wrong-Horse-42" }),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    assert_eq!(
        audit_count(&env, "login.failed").await,
        1,
        "counted as a failed login"
    );
    let renewed = app
        .post_authed(
            "/api/v1/auth/reauthenticate",
            &token,
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let before = access_claims(&stale);
    let after = access_claims(&renewed);
    assert_eq!(after["sid"], before["sid"], "the same session");
    assert_eq!(after["acr"], "aal1");
    assert!(
        after["auth_time"].as_u64().unwrap() >= before["auth_time"].as_u64().unwrap() + 600,
        "a fresh proof"
    );
    assert_eq!(audit_count(&env, "reauth.succeeded").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_begun_on_one_instance_finishes_on_another() {
    let env = TestEnv::new().await;
    let first = env.spawn().await;
    let second = env.spawn().await;
    let mut user = enable_totp(&first, &email("instances")).await;

    let half = first.login(&user.address, PASSWORD).await;
    assert_eq!(half.body["mfa_required"], true);
    let code = user.app.next_code().await;
    let done = verify(
        &second,
        None,
        &json!({ "mfa_token": half.str("mfa_token"), "type": "totp",
                 "method_id": user.method_id, "code": code }),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    // The same code again, on the first instance, as a step-up.
    verify(
        &first,
        Some(&done.str("access_token")),
        &json!({ "type": "totp", "method_id": user.method_id, "code": code }),
    )
    .await
    .assert_problem(401, "mfa_code_invalid");
}
