//! Users over HTTP, as API-USERS.md specifies them: the user object,
//! reading and changing a profile (one's own, or anyone's with the
//! permission), and the administration of accounts — search, suspension
//! (at once, on every instance, lifted by itself), sessions, MFA reset and
//! lockout, IP blocks and the whole audit trail.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use auth_tests::{PASSWORD, Reply, TestApp, TestEnv, email, eventually};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn shared_backend(env: &TestEnv) -> bool {
    let shared = env.backend.postgres.is_some() && env.backend.redis.is_some();
    if !shared {
        eprintln!(
            "multi-instance tests need AUTH_TEST_DATABASE_URL and AUTH_TEST_REDIS_URL; embedded mode runs one instance"
        );
    }
    shared
}

/// An instance whose `admin.bootstrap_emails` names `boss`.
async fn spawn_with_admin(env: &std::sync::Arc<TestEnv>, boss: &str) -> TestApp {
    let boss = boss.to_owned();
    env.spawn_with(move |s| s.admin.bootstrap_emails = vec![boss])
        .await
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWS payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// A verified, logged-in bootstrap admin.
async fn admin_login(app: &TestApp, boss: &str) -> Reply {
    let login = app.verified_login(boss).await;
    let roles = claims(&login.str("access_token"))["roles"].clone();
    assert!(
        roles.as_array().unwrap().contains(&json!("admin")),
        "a bootstrap email gets admin at verification: {}",
        login.text
    );
    login
}

fn user_id(login: &Reply) -> String {
    login.body["user"]["id"]
        .as_str()
        .expect("the user's id")
        .to_owned()
}

fn unknown_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> Reply {
    app.send(
        app.client
            .patch(app.url(path))
            .bearer_auth(token)
            .json(body),
    )
    .await
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

/// Ages the proofs, checks that `attempt` with the stale token is refused
/// with 401 `step_up_required`, and returns a token with a fresh proof.
async fn stale_then_fresh(app: &TestApp, admin: &Reply) -> (String, String) {
    age_proofs(&app.env).await;
    let stale = app.refresh(&admin.str("refresh_token")).await;
    assert_eq!(stale.status, 200, "{}", stale.text);
    let stale_token = stale.str("access_token");
    let renewed = app
        .post_authed(
            "/api/v1/auth/reauthenticate",
            &stale_token,
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    (stale_token, renewed.str("access_token"))
}

/// Checks the fields the user object gained.
#[track_caller]
fn assert_user_object(user: &Value) {
    for field in ["name", "bio", "avatar_url"] {
        let value = user
            .get(field)
            .unwrap_or_else(|| panic!("{field} in {user}"));
        assert!(
            value.is_null() || value.is_string(),
            "{field} is a string or null: {user}"
        );
    }
    assert!(
        matches!(user["status"].as_str(), Some("active" | "suspended")),
        "status: {user}"
    );
    let updated = user["updated_at"].as_str().expect("updated_at");
    chrono::DateTime::parse_from_rfc3339(updated).expect("updated_at is RFC 3339");
    if let Some(mfa) = user.get("mfa_enabled") {
        assert!(mfa.is_boolean(), "mfa_enabled: {user}");
    }
}

async fn suspend(app: &TestApp, token: &str, user: &str, body: &Value) -> Reply {
    app.post_authed(&format!("/api/v1/admin/users/{user}/suspend"), token, body)
        .await
}

async fn reactivate(app: &TestApp, token: &str, user: &str) -> Reply {
    app.post_authed(
        &format!("/api/v1/admin/users/{user}/reactivate"),
        token,
        &json!(null),
    )
    .await
}

async fn assign(app: &TestApp, admin: &str, user: &str, role: &str) {
    let assigned = app
        .post_authed(
            &format!("/api/v1/users/{user}/roles"),
            admin,
            &json!({ "role": role }),
        )
        .await;
    assert_eq!(assigned.status, 204, "assign {role}: {}", assigned.text);
}

/// Creates a service key; returns the key.
async fn create_key(app: &TestApp, admin: &str, name: &str, permissions: &[&str]) -> String {
    let created = app
        .post_authed(
            "/api/v1/admin/service-keys",
            admin,
            &json!({ "name": name, "permissions": permissions }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.str("key")
}

/// Whether `user` may `permission`, as the key sees it.
async fn ask_about(app: &TestApp, key: &str, user: &str, permission: &str) -> (bool, String) {
    let reply = app
        .post_authed(
            "/api/v1/auth/authorize",
            key,
            &json!({ "subject": { "user_id": user }, "permission": permission }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (
        reply.body["allowed"].as_bool().expect("allowed"),
        reply.str("reason"),
    )
}

fn emails_of(page: &Reply) -> BTreeSet<String> {
    page.body["users"]
        .as_array()
        .unwrap_or_else(|| panic!("users: {}", page.text))
        .iter()
        .map(|u| {
            assert_user_object(u);
            u["email"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|i| (*i).to_owned()).collect()
}

// --- TOTP, as in mfa.rs ----------------------------------------------------

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

/// An authenticator app that never repeats a time step.
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

    async fn next_code(&mut self) -> String {
        let step = self
            .last_step
            .map_or(now_step() - 1, |last| (last + 1).max(now_step() - 1));
        eventually(Duration::from_secs(35), || async {
            (now_step() + 1 >= step).then_some(())
        })
        .await
        .expect("the time step comes");
        self.last_step = Some(step);
        self.code_at(step)
    }
}

struct TotpUser {
    id: String,
    method_id: String,
    app: Authenticator,
    tokens: Value,
}

async fn enable_totp(app: &TestApp, address: &str) -> TotpUser {
    let login = app.verified_login(address).await;
    let token = login.str("access_token");
    let started = app
        .post_authed(
            "/api/v1/mfa/setup",
            &token,
            &json!({ "type": "totp", "name": "Phone" }),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let method_id = started.body["method"]["id"].as_str().unwrap().to_owned();
    let mut authenticator = Authenticator::new(started.body["totp"]["secret"].as_str().unwrap());
    let code = authenticator.next_code().await;
    let confirmed = app
        .post_authed(
            "/api/v1/mfa/verify",
            &token,
            &json!({ "type": "totp", "method_id": method_id, "code": code }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    TotpUser {
        id: user_id(&login),
        method_id,
        app: authenticator,
        tokens: confirmed.body["tokens"].clone(),
    }
}

// --- Tests -----------------------------------------------------------------

/// One's own profile via `me` and the id; `null` clears; the limits; other
/// users' profiles are not found unless one holds the permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_reads_and_changes_their_profile_and_only_an_admin_touches_others() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let alice_address = email("alice");
    let alice = app.verified_login(&alice_address).await;
    let (alice_token, alice_id) = (alice.str("access_token"), user_id(&alice));
    let bob = app.verified_login(&email("bob")).await;
    let (bob_token, bob_id) = (bob.str("access_token"), user_id(&bob));

    // The login's user object already carries the new fields.
    assert_user_object(&alice.body["user"]);
    assert_eq!(alice.body["user"]["name"], Value::Null);
    assert_eq!(alice.body["user"]["bio"], Value::Null);
    assert_eq!(alice.body["user"]["avatar_url"], Value::Null);
    assert_eq!(alice.body["user"]["status"], "active");
    if let Some(mfa) = alice.body["user"].get("mfa_enabled") {
        assert_eq!(mfa, &json!(false));
    }

    let mine = app.get_authed("/api/v1/users/me", &alice_token).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_user_object(&mine.body["user"]);
    assert_eq!(mine.body["user"]["id"], alice_id.as_str());
    assert_eq!(mine.body["user"]["email"], alice_address.as_str());
    let by_id = app
        .get_authed(&format!("/api/v1/users/{alice_id}"), &alice_token)
        .await;
    assert_eq!(by_id.status, 200, "{}", by_id.text);
    assert_eq!(by_id.body["user"], mine.body["user"]);

    let before = audit_count(&env, "profile.updated").await;
    let changed = patch(
        &app,
        "/api/v1/users/me",
        &alice_token,
        &json!({ "name": "  Alice Anders  ", "bio": "\tLikes rust. ", "avatar_url": "https://cdn.example.com/a.png" }),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let user = &changed.body["user"];
    assert_user_object(user);
    assert_eq!(user["name"], "Alice Anders", "trimmed");
    assert_eq!(user["bio"], "Likes rust.", "trimmed");
    assert_eq!(user["avatar_url"], "https://cdn.example.com/a.png");
    assert_eq!(audit_count(&env, "profile.updated").await, before + 1);
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(
        at(&user["updated_at"]) >= at(&mine.body["user"]["updated_at"]),
        "updated_at moves forward: {user}"
    );

    // /auth/me and GET by id show it.
    let me = app.get_authed("/api/v1/auth/me", &alice_token).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_user_object(&me.body["user"]);
    assert_eq!(me.body["user"]["name"], "Alice Anders");
    assert_eq!(me.body["user"]["bio"], "Likes rust.");
    assert_eq!(
        me.body["user"]["avatar_url"],
        "https://cdn.example.com/a.png"
    );
    let read = app
        .get_authed(&format!("/api/v1/users/{alice_id}"), &alice_token)
        .await;
    assert_eq!(read.body["user"]["name"], "Alice Anders", "{}", read.text);

    // Absent stays, null clears, by id this time.
    let cleared = patch(
        &app,
        &format!("/api/v1/users/{alice_id}"),
        &alice_token,
        &json!({ "bio": null }),
    )
    .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.body["user"]["bio"], Value::Null);
    assert_eq!(cleared.body["user"]["name"], "Alice Anders");
    assert_eq!(
        cleared.body["user"]["avatar_url"],
        "https://cdn.example.com/a.png"
    );
    // Only blanks: unset.
    let blank = patch(
        &app,
        "/api/v1/users/me",
        &alice_token,
        &json!({ "bio": "   " }),
    )
    .await;
    assert_eq!(blank.status, 200, "{}", blank.text);
    assert_eq!(blank.body["user"]["bio"], Value::Null, "{}", blank.text);

    // The limits, in characters.
    let longest = patch(
        &app,
        "/api/v1/users/me",
        &alice_token,
        &json!({ "name": "é".repeat(100), "bio": "ü".repeat(500),
                 "avatar_url": format!("https://example.com/{}", "a".repeat(2048 - 20)) }),
    )
    .await;
    assert_eq!(longest.status, 200, "at the limits: {}", longest.text);
    assert_eq!(longest.body["user"]["name"], "é".repeat(100));
    let updated_before = audit_count(&env, "profile.updated").await;
    for (body, why) in [
        (json!({ "name": "x".repeat(101) }), "name over 100"),
        (json!({ "bio": "x".repeat(501) }), "bio over 500"),
        (
            json!({ "avatar_url": format!("https://example.com/{}", "a".repeat(2049 - 20)) }),
            "avatar over 2048",
        ),
        (
            json!({ "avatar_url": "http://example.com/a.png" }),
            "plain http",
        ),
        (
            json!({ "avatar_url": "data:image/png;base64,iVBORw0KGgo=" }),
            "data URL",
        ),
        (json!({ "avatar_url": "javascript:alert(1)" }), "javascript"),
        (json!({ "avatar_url": "https://" }), "no host"),
        (json!({ "name": "Alice\u{7}" }), "control character in name"),
        (json!({ "bio": "a\u{0}b" }), "NUL in bio"),
        (json!({ "name": "\u{1b}[31mred" }), "escape in name"),
    ] {
        let refused = patch(&app, "/api/v1/users/me", &alice_token, &body).await;
        assert_eq!(refused.status, 422, "{why}: {}", refused.text);
        refused.assert_problem(422, "validation_failed");
    }
    assert_eq!(
        audit_count(&env, "profile.updated").await,
        updated_before,
        "refused changes leave no event"
    );
    let unchanged = app.get_authed("/api/v1/users/me", &alice_token).await;
    assert_eq!(unchanged.body["user"]["name"], "é".repeat(100));

    // Someone else's id: not found, both ways; an unknown id too.
    for path in [
        format!("/api/v1/users/{bob_id}"),
        format!("/api/v1/users/{}", unknown_id()),
        "/api/v1/users/not-a-uuid".to_owned(),
    ] {
        app.get_authed(&path, &alice_token)
            .await
            .assert_problem(404, "not_found");
        patch(&app, &path, &alice_token, &json!({ "name": "Hijacked" }))
            .await
            .assert_problem(404, "not_found");
    }
    let bobs = app.get_authed("/api/v1/users/me", &bob_token).await;
    assert_eq!(bobs.body["user"]["name"], Value::Null, "{}", bobs.text);
    // Without a token.
    app.get("/api/v1/users/me")
        .await
        .assert_problem(401, "unauthorized");

    // An admin reads and changes anyone's.
    let seen = app
        .get_authed(&format!("/api/v1/users/{alice_id}"), &admin_token)
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.body["user"]["id"], alice_id.as_str());
    let renamed = patch(
        &app,
        &format!("/api/v1/users/{alice_id}"),
        &admin_token,
        &json!({ "name": "Alice A.", "avatar_url": null }),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["user"]["id"], alice_id.as_str());
    assert_eq!(renamed.body["user"]["name"], "Alice A.");
    assert_eq!(renamed.body["user"]["avatar_url"], Value::Null);
    // Alice sees the change at once.
    let me = app.get_authed("/api/v1/auth/me", &alice_token).await;
    assert_eq!(me.body["user"]["name"], "Alice A.", "{}", me.text);
    assert_eq!(me.body["user"]["avatar_url"], Value::Null, "{}", me.text);
    // The admin's change is audited under Alice, with the admin as actor.
    let events = app
        .get_authed(
            &format!("/api/v1/admin/audit?user_id={alice_id}&type=profile.updated"),
            &admin_token,
        )
        .await;
    assert_eq!(events.status, 200, "{}", events.text);
    let newest = &events.body["events"][0];
    assert_eq!(newest["type"], "profile.updated", "{}", events.text);
    assert_eq!(
        newest["details"]["actor_id"],
        user_id(&admin).as_str(),
        "{}",
        events.text
    );
}

/// Finding users by email prefix, name, status and role, page by page;
/// one user whole; plain users see none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_finds_users_and_reads_one_whole() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let (alice_address, bob_address, carol_address) =
        (email("alice"), email("bob"), email("carol"));
    let alice = app.verified_login(&alice_address).await;
    let alice_id = user_id(&alice);
    let bob = app.verified_login(&bob_address).await;
    let bob_id = user_id(&bob);
    let carol = app.verified_login(&carol_address).await;
    let carol_id = user_id(&carol);
    for (token, name) in [
        (alice.str("access_token"), "Alice Anders"),
        (bob.str("access_token"), "Bob the Builder"),
    ] {
        let named = patch(&app, "/api/v1/users/me", &token, &json!({ "name": name })).await;
        assert_eq!(named.status, 200, "{}", named.text);
    }
    assign(&app, &admin_token, &bob_id, "manager").await;
    let suspended = suspend(&app, &admin_token, &carol_id, &json!({ "reason": "spam" })).await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);

    let search = |query: String| {
        let app = &app;
        let token = admin_token.clone();
        async move {
            let reply = app
                .get_authed(&format!("/api/v1/admin/users?{query}"), &token)
                .await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.text);
            reply
        }
    };
    let everyone = search(String::new()).await;
    assert_eq!(
        emails_of(&everyone),
        set(&[&boss, &alice_address, &bob_address, &carol_address])
    );
    assert_eq!(everyone.body["next_cursor"], Value::Null);

    // Email prefix (case does not matter), and only a prefix.
    let prefix = &alice_address[..8];
    assert_eq!(
        emails_of(&search(format!("query={prefix}")).await),
        set(&[&alice_address])
    );
    assert_eq!(
        emails_of(&search(format!("query={}", prefix.to_uppercase())).await),
        set(&[&alice_address])
    );
    assert!(
        emails_of(&search("query=example.com".into()).await).is_empty(),
        "the domain is not a prefix"
    );
    // Part of the name.
    assert_eq!(
        emails_of(&search("query=builder".into()).await),
        set(&[&bob_address])
    );
    assert_eq!(
        emails_of(&search("query=ANDERS".into()).await),
        set(&[&alice_address])
    );
    // LIKE wildcards are literal.
    assert!(
        emails_of(&search("query=%25".into()).await).is_empty(),
        "% is not a wildcard"
    );
    assert!(emails_of(&search("query=_".into()).await).is_empty());
    // Status.
    let by_status = search("status=suspended".into()).await;
    assert_eq!(emails_of(&by_status), set(&[&carol_address]));
    assert_eq!(by_status.body["users"][0]["status"], "suspended");
    assert_eq!(
        emails_of(&search("status=active".into()).await),
        set(&[&boss, &alice_address, &bob_address])
    );
    app.get_authed("/api/v1/admin/users?status=deleted", &admin_token)
        .await
        .assert_problem(422, "validation_failed");
    // Role.
    assert_eq!(
        emails_of(&search("role=manager".into()).await),
        set(&[&bob_address])
    );
    assert_eq!(emails_of(&search("role=admin".into()).await), set(&[&boss]));
    assert_eq!(
        emails_of(&search("role=user&status=active&query=bob".into()).await),
        set(&[&bob_address]),
        "filters combine"
    );
    // An organization nobody is in.
    assert!(emails_of(&search(format!("organization_id={}", unknown_id())).await).is_empty());

    // One at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let query = match &cursor {
            Some(c) => format!("limit=1&cursor={c}"),
            None => "limit=1".to_owned(),
        };
        let page = search(query).await;
        let users = page.body["users"].as_array().unwrap();
        assert!(users.len() <= 1, "{}", page.text);
        seen.extend(
            users
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                cursor = None;
                break;
            }
        }
    }
    assert!(cursor.is_none(), "paging ends");
    assert_eq!(seen.len(), 4, "each user once: {seen:?}");
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        set(&[&boss, &alice_address, &bob_address, &carol_address])
    );
    let two = search("limit=2".into()).await;
    assert_eq!(two.body["users"].as_array().unwrap().len(), 2);
    assert!(two.body["next_cursor"].is_string(), "{}", two.text);

    // One user, whole.
    let again = app.login_as_device(&alice_address, "second-device").await;
    assert_eq!(again.status, 200, "{}", again.text);
    let one = app
        .get_authed(&format!("/api/v1/admin/users/{alice_id}"), &admin_token)
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_user_object(&one.body["user"]);
    assert_eq!(one.body["user"]["id"], alice_id.as_str());
    assert_eq!(one.body["user"]["email"], alice_address.as_str());
    assert_eq!(one.body["user"]["name"], "Alice Anders");
    assert_eq!(one.body["roles"], json!(["user"]));
    assert_eq!(one.body["organizations"], json!([]));
    assert_eq!(one.body["mfa"]["enabled"], false);
    assert_eq!(one.body["mfa"]["methods"], json!([]));
    assert_eq!(one.body["sessions"]["active"], 2, "{}", one.text);
    assert_eq!(one.body["locks"], json!([]));
    let managed = app
        .get_authed(&format!("/api/v1/admin/users/{bob_id}"), &admin_token)
        .await;
    let roles: BTreeSet<String> = managed.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, set(&["manager", "user"]), "{}", managed.text);
    let locked = app
        .get_authed(&format!("/api/v1/admin/users/{carol_id}"), &admin_token)
        .await;
    assert_eq!(locked.status, 200, "{}", locked.text);
    assert_eq!(locked.body["user"]["status"], "suspended");
    assert_eq!(
        locked.body["locks"],
        json!([{ "kind": "suspended", "until": null }])
    );
    assert_eq!(locked.body["sessions"]["active"], 0, "{}", locked.text);
    app.get_authed(
        &format!("/api/v1/admin/users/{}", unknown_id()),
        &admin_token,
    )
    .await
    .assert_problem(404, "not_found");

    // A manager reads (users:read) too.
    let manager = app.refresh(&bob.str("refresh_token")).await;
    assert_eq!(manager.status, 200, "{}", manager.text);
    let listed = app
        .get_authed("/api/v1/admin/users", &manager.str("access_token"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);

    // A plain user reads nothing.
    let plain = alice.str("access_token");
    app.get_authed("/api/v1/admin/users", &plain)
        .await
        .assert_problem(403, "forbidden");
    app.get_authed(&format!("/api/v1/admin/users/{bob_id}"), &plain)
        .await
        .assert_problem(403, "forbidden");
    app.get_authed(&format!("/api/v1/admin/users/{alice_id}"), &plain)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/admin/users")
        .await
        .assert_problem(401, "unauthorized");
}

/// The story: an admin suspends an account; its open session dies
/// at once, it cannot sign in or refresh, the gateway hears
/// `account_suspended`; reactivation lets it back in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_ends_every_session_at_once_until_the_account_is_reactivated() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_id = user_id(&admin);
    let gateway = create_key(
        &app,
        &admin.str("access_token"),
        "gateway",
        &["authz:check"],
    )
    .await;
    let alice_address = email("alice");
    let alice = app.verified_login(&alice_address).await;
    let alice_id = user_id(&alice);
    let other_device = app.login_as_device(&alice_address, "tablet").await;
    assert_eq!(other_device.status, 200, "{}", other_device.text);
    let plain = app.verified_login(&email("plain")).await;
    assert_eq!(
        ask_about(&app, &gateway, &alice_id, "profile:read").await,
        (true, "granted:user".into())
    );

    // A plain user may not.
    suspend(
        &app,
        &plain.str("access_token"),
        &alice_id,
        &json!({ "reason": "nope" }),
    )
    .await
    .assert_problem(403, "forbidden");

    // An old proof needs step-up first.
    let (stale, admin_token) = stale_then_fresh(&app, &admin).await;
    suspend(
        &app,
        &stale,
        &alice_id,
        &json!({ "reason": "Chargeback fraud" }),
    )
    .await
    .assert_problem(401, "step_up_required");
    reactivate(&app, &stale, &alice_id)
        .await
        .assert_problem(401, "step_up_required");
    assert_eq!(audit_count(&env, "account.suspended").await, 0);
    // Alice's own sessions were aged too: still usable.
    let me = app
        .get_authed("/api/v1/auth/me", &alice.str("access_token"))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);

    // Bad requests.
    for body in [
        json!({ "reason": "" }),
        json!({ "reason": "   " }),
        json!({ "reason": "x".repeat(501) }),
        json!({ "reason": "fraud", "until": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339() }),
    ] {
        suspend(&app, &admin_token, &alice_id, &body)
            .await
            .assert_problem(422, "validation_failed");
    }
    suspend(&app, &admin_token, &admin_id, &json!({ "reason": "oops" }))
        .await
        .assert_problem(422, "validation_failed");
    suspend(
        &app,
        &admin_token,
        &unknown_id(),
        &json!({ "reason": "ghost" }),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(audit_count(&env, "account.suspended").await, 0);

    let suspended = suspend(
        &app,
        &admin_token,
        &alice_id,
        &json!({ "reason": "Chargeback fraud" }),
    )
    .await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_user_object(&suspended.body["user"]);
    assert_eq!(suspended.body["user"]["id"], alice_id.as_str());
    assert_eq!(suspended.body["user"]["status"], "suspended");
    assert_eq!(audit_count(&env, "account.suspended").await, 1);

    // At once: both open sessions are dead.
    for session in [&alice, &other_device] {
        let me = app
            .get_authed("/api/v1/auth/me", &session.str("access_token"))
            .await;
        assert_eq!(me.status, 401, "the open access token fails: {}", me.text);
        // API-USERS.md: refresh answers 403 `account_suspended`.
        app.refresh(&session.str("refresh_token"))
            .await
            .assert_problem(403, "account_suspended");
    }
    app.login(&alice_address, PASSWORD)
        .await
        .assert_problem(403, "account_suspended");
    // The wrong password tells nothing about the account.
    app.login(&alice_address, "Wrong-Horse-99")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        ask_about(&app, &gateway, &alice_id, "profile:read").await,
        (false, "account_suspended".into())
    );
    let seen = app
        .get_authed(&format!("/api/v1/users/{alice_id}"), &admin_token)
        .await;
    assert_eq!(seen.body["user"]["status"], "suspended", "{}", seen.text);
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{alice_id}"), &admin_token)
        .await;
    assert_eq!(whole.body["sessions"]["active"], 0, "{}", whole.text);
    assert_eq!(
        whole.body["locks"],
        json!([{ "kind": "suspended", "until": null }])
    );
    // The admin's own session is untouched.
    let mine = app.get_authed("/api/v1/auth/me", &admin_token).await;
    assert_eq!(mine.status, 200, "{}", mine.text);

    // Reactivation.
    reactivate(&app, &plain.str("access_token"), &alice_id)
        .await
        .assert_problem(403, "forbidden");
    let back = reactivate(&app, &admin_token, &alice_id).await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["user"]["status"], "active");
    assert_eq!(audit_count(&env, "account.reactivated").await, 1);
    let login = app.login(&alice_address, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["user"]["status"], "active");
    assert_eq!(
        ask_about(&app, &gateway, &alice_id, "profile:read").await,
        (true, "granted:user".into())
    );
    // The old sessions stay dead.
    let old = app.refresh(&alice.str("refresh_token")).await;
    assert_eq!(old.status, 401, "{}", old.text);
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{alice_id}"), &admin_token)
        .await;
    assert_eq!(whole.body["locks"], json!([]), "{}", whole.text);
}

/// Instance B has served the user; instance A suspends them; B refuses
/// their token within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_reaches_another_instance_within_a_second() {
    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let boss = email("boss");
    let a = spawn_with_admin(&env, &boss).await;
    let b = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&a, &boss).await;
    let alice_address = email("alice");
    let alice = a.verified_login(&alice_address).await;
    let alice_token = alice.str("access_token");
    for _ in 0..2 {
        let me = b.get_authed("/api/v1/auth/me", &alice_token).await;
        assert_eq!(me.status, 200, "{}", me.text);
    }

    let suspended = suspend(
        &a,
        &admin.str("access_token"),
        &user_id(&alice),
        &json!({ "reason": "Compromised" }),
    )
    .await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    let started = Instant::now();
    let delay = eventually(Duration::from_secs(1), || async {
        (b.get_authed("/api/v1/auth/me", &alice_token).await.status == 401)
            .then_some(started.elapsed())
    })
    .await
    .expect("the suspended user's token is refused on the other instance within 1 s");
    eprintln!("suspension delay across instances: {delay:?}");
    b.refresh(&alice.str("refresh_token"))
        .await
        .assert_problem(403, "account_suspended");
    b.login(&alice_address, PASSWORD)
        .await
        .assert_problem(403, "account_suspended");
}

/// A suspension with `until` lifts by itself: the housekeeping sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_with_until_lifts_by_itself() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let boss_for_spawn = boss.clone();
    let app = env
        .spawn_with(move |s| {
            s.admin.bootstrap_emails = vec![boss_for_spawn];
            s.accounts.sweep_interval = Duration::from_millis(200);
        })
        .await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let alice_address = email("alice");
    let alice = app.verified_login(&alice_address).await;
    let alice_id = user_id(&alice);

    let gateway = create_key(&app, &admin_token, "gateway", &["authz:check"]).await;

    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let suspended = suspend(
        &app,
        &admin_token,
        &alice_id,
        &json!({ "reason": "Cooling off", "until": until.to_rfc3339() }),
    )
    .await;
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_eq!(suspended.body["user"]["status"], "suspended");
    let started = Instant::now();
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{alice_id}"), &admin_token)
        .await;
    let locks = whole.body["locks"].as_array().expect("locks");
    assert_eq!(locks.len(), 1, "{}", whole.text);
    assert_eq!(locks[0]["kind"], "suspended");
    let shown = chrono::DateTime::parse_from_rfc3339(locks[0]["until"].as_str().expect("until"))
        .expect("RFC 3339");
    assert!(
        (shown.timestamp_millis() - until.timestamp_millis()).abs() < 1000,
        "until as given: {}",
        whole.text
    );
    app.login(&alice_address, PASSWORD)
        .await
        .assert_problem(403, "account_suspended");
    // The gateway hears it (and the answer is cached).
    assert_eq!(
        ask_about(&app, &gateway, &alice_id, "profile:read").await,
        (false, "account_suspended".into())
    );

    let last = std::sync::Mutex::new(String::new());
    let login = eventually(Duration::from_secs(10), || async {
        let reply = app.login(&alice_address, PASSWORD).await;
        let ok = reply.status == 200;
        *last.lock().unwrap() = reply.text.clone();
        ok.then_some(reply)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the suspension lifts within 10 s; last: {}",
            last.lock().unwrap()
        )
    });
    let elapsed = started.elapsed();
    eprintln!("suspension lifted after {elapsed:?}");
    assert!(
        chrono::Utc::now() >= until,
        "not before until (lifted after {elapsed:?})"
    );
    assert_eq!(login.body["user"]["status"], "active");
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{alice_id}"), &admin_token)
        .await;
    assert_eq!(whole.body["user"]["status"], "active", "{}", whole.text);
    assert_eq!(whole.body["locks"], json!([]), "{}", whole.text);
    let active = app
        .get_authed("/api/v1/admin/users?status=suspended", &admin_token)
        .await;
    assert_eq!(active.body["users"], json!([]), "{}", active.text);
    // The gateway's answer follows the lifted suspension, not a stale cache.
    let lifted = Instant::now();
    let answer = std::sync::Mutex::new(None);
    let seen = eventually(Duration::from_secs(5), || async {
        let now = ask_about(&app, &gateway, &alice_id, "profile:read").await;
        let ok = now == (true, "granted:user".to_owned());
        *answer.lock().unwrap() = Some(now);
        ok.then_some(lifted.elapsed())
    })
    .await;
    assert!(
        seen.is_some(),
        "authorize grants again within 5 s of the lift; last answer {:?}",
        answer.lock().unwrap()
    );
}

/// The rest of the admin desk: a user's sessions, the MFA lockout and
/// reset, a blocked IP, and the whole audit trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_sessions_mfa_ip_blocks_and_reads_the_audit_trail() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let boss_for_spawn = boss.clone();
    let app = env
        .spawn_with(move |s| {
            s.admin.bootstrap_emails = vec![boss_for_spawn];
            s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let alice_address = email("alice");
    let alice = app.verified_login(&alice_address).await;
    let alice_id = user_id(&alice);
    let tablet = app.login_as_device(&alice_address, "tablet").await;
    assert_eq!(tablet.status, 200, "{}", tablet.text);
    let plain = app.verified_login(&email("plain")).await;
    let plain_token = plain.str("access_token");
    let sessions_path = format!("/api/v1/admin/users/{alice_id}/sessions");

    // --- Sessions.
    let listed = app.get_authed(&sessions_path, &admin_token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let sessions = listed.body["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{}", listed.text);
    for session in sessions {
        assert!(session["id"].is_string(), "{session}");
        assert_eq!(session["current"], false, "not the admin's: {session}");
    }
    assert!(
        sessions.iter().any(|s| s["user_agent"] == "tablet"),
        "{}",
        listed.text
    );
    app.get_authed(&sessions_path, &plain_token)
        .await
        .assert_problem(403, "forbidden");
    app.delete_authed(&sessions_path, &plain_token)
        .await
        .assert_problem(403, "forbidden");
    app.get_authed(
        &format!("/api/v1/admin/users/{}/sessions", unknown_id()),
        &admin_token,
    )
    .await
    .assert_problem(404, "not_found");
    let revoked = app.delete_authed(&sessions_path, &admin_token).await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    for session in [&alice, &tablet] {
        let me = app
            .get_authed("/api/v1/auth/me", &session.str("access_token"))
            .await;
        assert_eq!(me.status, 401, "{}", me.text);
        app.refresh(&session.str("refresh_token"))
            .await
            .assert_problem(401, "refresh_token_invalid");
    }
    let listed = app.get_authed(&sessions_path, &admin_token).await;
    assert_eq!(listed.body["sessions"], json!([]), "{}", listed.text);
    // Not suspended: Alice signs in again.
    let alice = app.login(&alice_address, PASSWORD).await;
    assert_eq!(alice.status, 200, "{}", alice.text);

    // --- An IP block, lifted.
    let attacker = "203.0.113.7";
    for _ in 0..5 {
        app.post_from(
            attacker,
            "/api/v1/auth/login",
            &json!({ "email": alice_address, "password": "Wrong-Horse-99" }),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    let right = json!({ "email": alice_address, "password": PASSWORD });
    app.post_from(attacker, "/api/v1/auth/login", &right)
        .await
        .assert_problem(429, "too_many_attempts");
    let block_path = format!("/api/v1/admin/ip-blocks/{attacker}");
    app.delete_authed(&block_path, &plain_token)
        .await
        .assert_problem(403, "forbidden");
    app.delete_authed("/api/v1/admin/ip-blocks/not-an-ip", &admin_token)
        .await
        .assert_problem(422, "validation_failed");
    let unblocked = app.delete_authed(&block_path, &admin_token).await;
    assert_eq!(unblocked.status, 204, "{}", unblocked.text);
    let from_there = app.post_from(attacker, "/api/v1/auth/login", &right).await;
    assert_eq!(from_there.status, 200, "{}", from_there.text);
    assert_eq!(audit_count(&env, "ip.unblocked").await, 1);
    // An address that was never blocked: still 204.
    let never = app
        .delete_authed("/api/v1/admin/ip-blocks/2001:db8::1", &admin_token)
        .await;
    assert_eq!(never.status, 204, "{}", never.text);

    // --- MFA: the lockout, lifted; then a reset.
    let mut bob = enable_totp(&app, &email("bob")).await;
    let bob_address = {
        let whole = app
            .get_authed(&format!("/api/v1/admin/users/{}", bob.id), &admin_token)
            .await;
        assert_eq!(whole.status, 200, "{}", whole.text);
        assert_eq!(whole.body["mfa"]["enabled"], true, "{}", whole.text);
        let methods = whole.body["mfa"]["methods"].as_array().expect("methods");
        assert_eq!(methods.len(), 1, "{}", whole.text);
        assert_eq!(methods[0]["id"], bob.method_id.as_str());
        assert_eq!(methods[0]["type"], "totp");
        assert_eq!(methods[0]["status"], "active");
        assert!(
            !whole.text.contains("secret"),
            "never a secret: {}",
            whole.text
        );
        if let Some(v) = whole.body["user"].get("mfa_enabled") {
            assert_eq!(v, &json!(true), "{}", whole.text);
        }
        whole.body["user"]["email"].as_str().unwrap().to_owned()
    };
    let second_step = |mfa_token: String, body: Value| {
        let app = &app;
        async move {
            let mut body = body;
            body["mfa_token"] = json!(mfa_token);
            app.send(
                app.client
                    .post(app.url("/api/v1/mfa/verify"))
                    .header("user-agent", "bob-phone")
                    .json(&body),
            )
            .await
        }
    };
    let half_login = || {
        let app = &app;
        let bob_address = bob_address.clone();
        async move {
            let half = app.login_as_device(&bob_address, "bob-phone").await;
            assert_eq!(half.status, 200, "{}", half.text);
            assert_eq!(half.body["mfa_required"], true, "{}", half.text);
            half.str("mfa_token")
        }
    };
    for _ in 0..2 {
        let token = half_login().await;
        for _ in 0..5 {
            second_step(
                token.clone(),
                json!({ "type": "backup_code", "code": "AAAAA-AAAAA" }),
            )
            .await
            .assert_problem(401, "mfa_code_invalid");
        }
    }
    let token = half_login().await;
    let code = bob.app.next_code().await;
    second_step(
        token.clone(),
        json!({ "type": "totp", "method_id": bob.method_id, "code": code }),
    )
    .await
    .assert_problem(429, "too_many_attempts");
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{}", bob.id), &admin_token)
        .await;
    let locks = whole.body["locks"].as_array().expect("locks");
    assert!(
        locks
            .iter()
            .any(|l| l["kind"] == "mfa" && l["until"].is_string()),
        "the MFA lock shows: {}",
        whole.text
    );
    let unlock_path = format!("/api/v1/admin/users/{}/unlock", bob.id);
    app.post_authed(&unlock_path, &plain_token, &json!(null))
        .await
        .assert_problem(403, "forbidden");
    let unlocked = app
        .post_authed(&unlock_path, &admin_token, &json!(null))
        .await;
    assert_eq!(unlocked.status, 200, "{}", unlocked.text);
    assert_eq!(unlocked.body["user"]["id"], bob.id.as_str());
    assert_eq!(audit_count(&env, "account.unlocked").await, 1);
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{}", bob.id), &admin_token)
        .await;
    assert_eq!(whole.body["locks"], json!([]), "{}", whole.text);
    let token = half_login().await;
    let code = bob.app.next_code().await;
    let through = second_step(
        token,
        json!({ "type": "totp", "method_id": bob.method_id, "code": code }),
    )
    .await;
    assert_eq!(through.status, 200, "after unlock: {}", through.text);
    let bob_session = through.body["tokens"]["access_token"]
        .as_str()
        .or_else(|| through.body["access_token"].as_str())
        .expect("an access token")
        .to_owned();

    // The reset: step-up first.
    let reset_path = format!("/api/v1/admin/users/{}/mfa", bob.id);
    app.delete_authed(&reset_path, &plain_token)
        .await
        .assert_problem(403, "forbidden");
    let (stale, admin_token) = stale_then_fresh(&app, &admin).await;
    app.delete_authed(&reset_path, &stale)
        .await
        .assert_problem(401, "step_up_required");
    let reset = app.delete_authed(&reset_path, &admin_token).await;
    assert_eq!(reset.status, 204, "{}", reset.text);
    env.mail
        .wait_for_subject(
            &bob_address,
            "sign-in methods were reset",
            Duration::from_secs(20),
        )
        .await;
    for token in [
        bob_session.as_str(),
        bob.tokens["access_token"].as_str().unwrap(),
    ] {
        let me = app.get_authed("/api/v1/auth/me", token).await;
        assert_eq!(me.status, 401, "the sessions end: {}", me.text);
    }
    let whole = app
        .get_authed(&format!("/api/v1/admin/users/{}", bob.id), &admin_token)
        .await;
    assert_eq!(whole.body["mfa"]["enabled"], false, "{}", whole.text);
    assert_eq!(whole.body["mfa"]["methods"], json!([]), "{}", whole.text);
    assert_eq!(whole.body["sessions"]["active"], 0, "{}", whole.text);
    let direct = app.login(&bob_address, PASSWORD).await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert!(
        direct.body["access_token"].is_string(),
        "tokens at once: {}",
        direct.text
    );
    assert_ne!(direct.body["mfa_required"], true, "{}", direct.text);
    if let Some(v) = direct.body["user"].get("mfa_enabled") {
        assert_eq!(v, &json!(false), "{}", direct.text);
    }
    let methods = app
        .get_authed("/api/v1/mfa/methods", &direct.str("access_token"))
        .await;
    if methods.status == 200 {
        assert!(
            !methods.text.contains(&bob.method_id),
            "the method is gone: {}",
            methods.text
        );
    }

    // --- The audit trail, events without a user included.
    let nobody = email("nobody");
    app.post_from(
        "198.51.100.20",
        "/api/v1/auth/login",
        &json!({ "email": nobody, "password": "Wrong-Horse-99" }),
    )
    .await
    .assert_problem(401, "invalid_credentials");
    assert!(
        env.query_i64(
            "SELECT COUNT(*) FROM audit_events WHERE event_type = 'login.failed' AND user_id IS NULL"
        )
        .await
            >= 1,
        "the unknown email's failure has no user"
    );
    let audit = |query: String| {
        let app = &app;
        let token = admin_token.clone();
        async move {
            let reply = app
                .get_authed(&format!("/api/v1/admin/audit?{query}"), &token)
                .await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.text);
            reply
        }
    };
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["events"]
            .as_array()
            .unwrap_or_else(|| panic!("events: {}", reply.text))
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let failed = audit("type=login.failed&limit=100".into()).await;
    let failures = failed.body["events"].as_array().unwrap();
    assert!(
        failures.iter().all(|e| e["type"] == "login.failed"),
        "{}",
        failed.text
    );
    assert!(
        failures.iter().any(|e| e["ip"] == "198.51.100.20"),
        "the failure of an unknown email is listed: {}",
        failed.text
    );
    let alices_failures = audit(format!("type=login.failed&user_id={alice_id}&limit=100")).await;
    assert_eq!(
        alices_failures.body["events"].as_array().unwrap().len(),
        5,
        "{}",
        alices_failures.text
    );
    assert!(
        !alices_failures.text.contains("198.51.100.20"),
        "the user filter leaves out events without the user"
    );
    let unblocks = audit("type=ip.unblocked".into()).await;
    let unblock_events = unblocks.body["events"].as_array().unwrap();
    assert_eq!(unblock_events.len(), 2, "{}", unblocks.text);
    assert!(
        unblock_events
            .iter()
            .any(|e| e["details"]["blocked_ip"] == attacker),
        "{}",
        unblocks.text
    );
    let resets = audit(format!("user_id={}&type=mfa.reset_by_admin", bob.id)).await;
    assert!(
        resets.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["method_id"] == bob.method_id.as_str()),
        "{}",
        resets.text
    );

    // Newest first, page by page, without overlap.
    let everything = audit("limit=100".into()).await;
    let all_ids = ids(&everything);
    assert!(all_ids.len() > 4, "{}", everything.text);
    let times: Vec<String> = everything.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap().to_owned())
        .collect();
    let parsed: Vec<_> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let first = audit("limit=2".into()).await;
    assert_eq!(ids(&first), all_ids[..2].to_vec());
    let next = first.body["next_before"].as_str().expect("next_before");
    let second = audit(format!("limit=2&before={next}")).await;
    assert_eq!(ids(&second), all_ids[2..4].to_vec());

    // Refusals.
    app.get_authed("/api/v1/admin/audit?type=widgets.flown", &admin_token)
        .await
        .assert_problem(422, "validation_failed");
    app.get_authed("/api/v1/admin/audit", &plain_token)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/admin/audit")
        .await
        .assert_problem(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_with_a_profile_and_preferences_by_merge_patch() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("profiled");
    let created = app
        .post(
            "/api/v1/users/profile",
            &json!({
                "email": address, "password": PASSWORD,
                "profile": {"name": "  Ada Lovelace ", "avatar_url": "https://example.com/ada.png"},
                "preferences": {"locale": "en-GB", "timezone": "Europe/London"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["user"]["name"], "Ada Lovelace");
    assert_eq!(created.body["user"]["email_verified"], false);
    let token = app.verification_token(&address).await;
    assert_eq!(
        app.post(&format!("/api/v1/auth/verify-email/{token}"), &json!(null))
            .await
            .status,
        200
    );
    let login = app.login(&address, PASSWORD).await;
    let access = login.str("access_token");
    let prefs = app
        .get_authed("/api/v1/users/me/preferences", &access)
        .await;
    assert_eq!(prefs.status, 200, "{}", prefs.text);
    assert_eq!(prefs.body["preferences"]["locale"], "en-GB");
    assert_eq!(prefs.body["preferences"]["theme"], "system");
    assert_eq!(
        prefs.body["preferences"]["notifications"]["security_email"],
        true
    );

    let merge = |body: Value| {
        app.send(
            app.client
                .patch(app.url("/api/v1/users/me/preferences"))
                .bearer_auth(&access)
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string()),
        )
    };
    let dark = merge(json!({"theme": "dark", "locale": null})).await;
    assert_eq!(dark.status, 200, "{}", dark.text);
    assert_eq!(dark.body["preferences"]["theme"], "dark");
    assert_eq!(dark.body["preferences"]["locale"], Value::Null);
    assert_eq!(dark.body["preferences"]["timezone"], "Europe/London");
    for bad in [
        json!({"colour": "red"}),
        json!({"locale": "english"}),
        json!({"timezone": "Mars/Olympus"}),
        json!({"theme": "neon"}),
        json!({"notifications": {"security_email": false}}),
    ] {
        merge(bad.clone())
            .await
            .assert_problem(422, "validation_failed");
    }
    assert_eq!(audit_count(&env, "preferences.updated").await, 1);

    let stranger = app.verified_login(&email("stranger")).await;
    app.get_authed(
        &format!("/api/v1/users/{}/preferences", user_id(&login)),
        &stranger.str("access_token"),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/api/v1/users/profile",
        &json!({"email": email("bad"), "password": PASSWORD, "profile": {"avatar_url": "http://x.example"}}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_removes_personal_data_and_keeps_the_audit_ids() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("leaving");
    let login = app.verified_login(&address).await;
    let id = user_id(&login);
    let access = login.str("access_token");
    assert_eq!(
        patch(
            &app,
            "/api/v1/users/me",
            &access,
            &json!({"name": "Zed Leaving"})
        )
        .await
        .status,
        200
    );

    // The last owner of an organization cannot leave it ownerless.
    let org = app
        .post_authed("/api/v1/organizations", &access, &json!({"name": "Solo"}))
        .await;
    assert_eq!(org.status, 201, "{}", org.text);
    let delete = |password: Option<&str>| {
        let request = app
            .client
            .delete(app.url("/api/v1/users/me"))
            .bearer_auth(&access);
        let request = match password {
            Some(p) => request.json(&json!({ "password": p })),
            None => request,
        };
        app.send(request)
    };
    delete(Some(PASSWORD))
        .await
        .assert_problem(409, "last_owner");
    let org_id = org.body["organization"]["id"].as_str().unwrap().to_owned();
    // A fresh login: deleting an organization needs a recent proof too.
    assert_eq!(
        app.delete_authed(&format!("/api/v1/organizations/{org_id}"), &access)
            .await
            .status,
        204
    );

    delete(None).await.assert_problem(422, "validation_failed");
    delete(Some("Wrong-Horse-99"))
        .await
        .assert_problem(401, "invalid_credentials");
    let deleted = delete(Some(PASSWORD)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    app.get_authed("/api/v1/auth/me", &access)
        .await
        .assert_problem(401, "unauthorized");
    app.login(&address, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let stored = env.dump().await;
    let left: Vec<&str> = stored.lines().filter(|l| l.contains(&address)).collect();
    assert!(left.is_empty(), "the address is gone everywhere: {left:#?}");
    assert!(!stored.contains("Zed Leaving"), "the name is gone");
    assert!(
        env.query_i64("SELECT COUNT(*) FROM audit_events WHERE event_type = 'account.deleted'")
            .await
            == 1
    );
    assert!(stored.contains(&id), "audit rows keep the user id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_everything_about_the_user_and_no_secret() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let address = email("exporter");
    let login = app.verified_login(&address).await;
    let access = login.str("access_token");
    let refresh = login.str("refresh_token");
    let second = app.login_as_device(&address, "laptop").await;
    let export = app.get_authed("/api/v1/users/me/export", &access).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.body["user"]["email"], address.as_str());
    assert_eq!(export.body["sessions"].as_array().map(Vec::len), Some(2));
    assert!(
        export.body["audit_events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["type"] == "login.succeeded"))
    );
    let hash = env
        .query_string(&format!(
            "SELECT password_hash FROM users WHERE email = '{address}'"
        ))
        .await;
    for secret in [
        PASSWORD,
        access.as_str(),
        refresh.as_str(),
        second.str("refresh_token").as_str(),
        hash.as_str(),
    ] {
        assert!(!export.text.contains(secret), "the export holds no secret");
    }
    assert_eq!(audit_count(&env, "account.exported").await, 1);

    // Someone else's export: 404; one's own after an old proof: step-up.
    let stranger = app.verified_login(&email("nosy")).await;
    app.get_authed(
        &format!("/api/v1/users/{}/export", user_id(&login)),
        &stranger.str("access_token"),
    )
    .await
    .assert_problem(404, "not_found");
    age_proofs(&env).await;
    let stale = app.refresh(&refresh).await;
    app.get_authed("/api/v1/users/me/export", &stale.str("access_token"))
        .await
        .assert_problem(401, "step_up_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_cannot_delete_their_account() {
    let env = TestEnv::new().await;
    let boss = email("only-admin");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let deleted = app
        .send(
            app.client
                .delete(app.url("/api/v1/users/me"))
                .bearer_auth(admin.str("access_token"))
                .json(&json!({ "password": PASSWORD })),
        )
        .await;
    deleted.assert_problem(409, "last_admin");
    assert_eq!(
        app.get_authed("/api/v1/auth/me", &admin.str("access_token"))
            .await
            .status,
        200,
        "nothing changed"
    );
}
