//! Roles, permissions and service keys over HTTP, as API-ACCESS.md specifies
//! them: the authorization endpoints other services call, the views of a
//! user's access, role administration behind step-up, service keys shown
//! once and dead at once, activity reports, and role changes reaching every
//! instance.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use auth_tests::{PASSWORD, Reply, TestApp, TestEnv, email, eventually};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

const STEP_UP_CHALLENGE_AAL1: &str = r#"Bearer realm="auth-service", error="insufficient_user_authentication", error_description="A recent second factor is required", acr_values="aal1", max_age=600"#;

/// The default global permissions (API-ACCESS.md, Model).
const DEFAULT_PERMISSIONS: [&str; 17] = [
    "users:read",
    "users:write",
    "users:suspend",
    "users:unlock",
    "users:mfa_reset",
    "roles:read",
    "roles:write",
    "orgs:read",
    "orgs:write",
    "orgs:create",
    "audit:read",
    "events:read",
    "authz:check",
    "activity:write",
    "service_keys:write",
    "profile:read",
    "profile:write",
];

/// What the `user` role grants, sorted.
const USER_PERMISSIONS: [&str; 3] = ["orgs:create", "profile:read", "profile:write"];

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

/// A verified, logged-in bootstrap admin.
async fn admin_login(app: &TestApp, boss: &str) -> Reply {
    let login = app.verified_login(boss).await;
    assert!(
        roles_claim(&login).contains("admin"),
        "a bootstrap email gets admin at verification: {}",
        login.text
    );
    login
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWS payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// The `roles` claim of the reply's access token.
fn roles_claim(reply: &Reply) -> BTreeSet<String> {
    claims(&reply.str("access_token"))["roles"]
        .as_array()
        .expect("a roles claim")
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn user_id(login: &Reply) -> String {
    login.body["user"]["id"]
        .as_str()
        .expect("the user's id")
        .to_owned()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The names of `{roles: [{name, scope}]}`, each checked to be global.
fn global_role_names(roles: &Value) -> BTreeSet<String> {
    roles
        .as_array()
        .unwrap_or_else(|| panic!("roles: {roles}"))
        .iter()
        .map(|r| {
            assert_eq!(r["scope"], "global", "{r}");
            r["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn unknown_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn authorize(app: &TestApp, token: &str, body: &Value) -> Reply {
    app.post_authed("/api/v1/auth/authorize", token, body).await
}

/// One decision: asserts 200 and returns `(allowed, reason)`.
async fn decide(app: &TestApp, token: &str, body: &Value) -> (bool, String) {
    let reply = authorize(app, token, body).await;
    assert_eq!(reply.status, 200, "{body} → {}", reply.text);
    (
        reply.body["allowed"].as_bool().expect("allowed"),
        reply.str("reason"),
    )
}

/// Whether `user` may `permission`, as the key sees it.
async fn ask_about(app: &TestApp, key: &str, user: &str, permission: &str) -> (bool, String) {
    decide(
        app,
        key,
        &json!({ "subject": { "user_id": user }, "permission": permission }),
    )
    .await
}

/// Creates a service key; returns `(id, key)`.
async fn create_key(
    app: &TestApp,
    admin: &str,
    name: &str,
    permissions: &[&str],
) -> (String, String) {
    let created = app
        .post_authed(
            "/api/v1/admin/service-keys",
            admin,
            &json!({ "name": name, "permissions": permissions }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    (created.str("id"), created.str("key"))
}

async fn create_role(app: &TestApp, admin: &str, name: &str, permissions: &[&str]) -> Value {
    let created = app
        .post_authed(
            "/api/v1/roles",
            admin,
            &json!({ "name": name, "permissions": permissions }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["role"].clone()
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

async fn unassign(app: &TestApp, admin: &str, user: &str, role: &str) -> Reply {
    app.delete_authed(&format!("/api/v1/users/{user}/roles/{role}"), admin)
        .await
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

/// The role of that name from `GET /roles`.
async fn role_named(app: &TestApp, token: &str, name: &str) -> Value {
    let listed = app.get_authed("/api/v1/roles", token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.body["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("role {name} in {}", listed.text))
        .clone()
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

async fn audit_count(env: &TestEnv, event_type: &str) -> i64 {
    env.query_i64(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE event_type = '{event_type}'"
    ))
    .await
}

/// The issue's story: support staff get a role that reads users, the change
/// shows at once in their permissions and in their next access token, and
/// the gateway's batch question is answered per subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_gives_a_colleague_a_support_role_and_the_gateway_sees_it_at_once() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let admin_id = user_id(&admin);
    let colleague = app.verified_login(&email("colleague")).await;
    let colleague_id = user_id(&colleague);
    assert_eq!(roles_claim(&colleague), set(&["user"]));

    let created = app
        .post_authed(
            "/api/v1/roles",
            &admin_token,
            &json!({ "name": "support", "description": "Support desk", "permissions": ["users:read"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let role = &created.body["role"];
    assert!(
        role["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{role}"
    );
    assert_eq!(role["name"], "support");
    assert_eq!(role["description"], "Support desk");
    assert_eq!(role["permissions"], json!(["users:read"]));
    assert_eq!(role["system"], false);
    assert_eq!(audit_count(&env, "role.created").await, 1);

    let assigned_before = audit_count(&env, "role.assigned").await;
    assign(&app, &admin_token, &colleague_id, "support").await;
    assert_eq!(
        audit_count(&env, "role.assigned").await,
        assigned_before + 1
    );

    // At once: the colleague's own view, with the token issued before.
    let permissions = app
        .get_authed(
            &format!("/api/v1/auth/permissions/{colleague_id}"),
            &colleague.str("access_token"),
        )
        .await;
    assert_eq!(permissions.status, 200, "{}", permissions.text);
    assert_eq!(permissions.body["user_id"], colleague_id.as_str());
    assert_eq!(permissions.body["organization_id"], Value::Null);
    assert_eq!(
        strings(&permissions.body["permissions"]),
        ["orgs:create", "profile:read", "profile:write", "users:read"],
        "sorted grants of user + support"
    );

    // The next refresh carries the role in the token.
    let refreshed = app.refresh(&colleague.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(roles_claim(&refreshed), set(&["support", "user"]));
    // Support staff now read other users' access.
    let staff_view = app
        .get_authed(
            &format!("/api/v1/auth/permissions/{admin_id}"),
            &refreshed.str("access_token"),
        )
        .await;
    assert_eq!(staff_view.status, 200, "{}", staff_view.text);

    // The gateway asks about both in one batch.
    let (_, gateway) = create_key(&app, &admin_token, "gateway", &["authz:check"]).await;
    assert!(gateway.starts_with("sk_"), "{gateway}");
    let batch = authorize(
        &app,
        &gateway,
        &json!({ "checks": [
            { "subject": { "user_id": admin_id }, "permission": "users:read" },
            { "subject": { "user_id": colleague_id }, "permission": "users:read" },
            { "subject": { "user_id": colleague_id }, "permission": "users:write" },
        ] }),
    )
    .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    let results = batch.body["results"].as_array().expect("results");
    let answers: Vec<(bool, &str)> = results
        .iter()
        .map(|r| {
            (
                r["allowed"].as_bool().unwrap(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            (true, "granted:admin"),
            (true, "granted:support"),
            (false, "no_permission"),
        ],
        "{}",
        batch.text
    );
}

/// Who may ask `authorize` what, and every reason a deny gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_answers_users_about_themselves_and_keys_about_anyone_with_a_reason() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let admin_id = user_id(&admin);
    let alice = app.verified_login(&email("alice")).await;
    let (alice_token, alice_id) = (alice.str("access_token"), user_id(&alice));
    let bob = app.verified_login(&email("bob")).await;
    let bob_id = user_id(&bob);

    // A user about itself: subject omitted, or its own id.
    let own = authorize(&app, &alice_token, &json!({ "permission": "profile:read" })).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(
        own.body,
        json!({ "allowed": true, "reason": "granted:user", "cache_ttl": 30 })
    );
    assert_eq!(
        decide(
            &app,
            &alice_token,
            &json!({ "subject": { "user_id": alice_id }, "permission": "users:read" }),
        )
        .await,
        (false, "no_permission".into()),
        "a deny is 200 allowed: false"
    );
    // …never about another user.
    authorize(
        &app,
        &alice_token,
        &json!({ "subject": { "user_id": bob_id }, "permission": "profile:read" }),
    )
    .await
    .assert_problem(403, "forbidden");
    // No credentials at all.
    app.post(
        "/api/v1/auth/authorize",
        &json!({ "permission": "profile:read" }),
    )
    .await
    .assert_problem(401, "unauthorized");

    // A key without authz:check may not ask.
    let (_, reporter) = create_key(&app, &admin_token, "reporter", &["activity:write"]).await;
    authorize(
        &app,
        &reporter,
        &json!({ "subject": { "user_id": alice_id }, "permission": "profile:read" }),
    )
    .await
    .assert_problem(403, "forbidden");

    let (_, gateway) = create_key(&app, &admin_token, "gateway", &["authz:check"]).await;
    assert_eq!(
        ask_about(&app, &gateway, &alice_id, "profile:read").await,
        (true, "granted:user".into())
    );
    assert_eq!(
        ask_about(&app, &gateway, &unknown_id(), "profile:read").await,
        (false, "unknown_subject".into())
    );
    // A token as the subject: live, garbage, logged out.
    assert_eq!(
        decide(
            &app,
            &gateway,
            &json!({ "subject": { "token": alice_token }, "permission": "profile:read" }),
        )
        .await,
        (true, "granted:user".into())
    );
    assert_eq!(
        decide(
            &app,
            &gateway,
            &json!({ "subject": { "token": "garbage.not.ajwt" }, "permission": "profile:read" }),
        )
        .await,
        (false, "token_inactive".into())
    );
    let bob_token = bob.str("access_token");
    let logged_out = app
        .post_authed("/api/v1/auth/logout", &bob_token, &json!(null))
        .await;
    assert_eq!(logged_out.status, 204, "{}", logged_out.text);
    assert_eq!(
        decide(
            &app,
            &gateway,
            &json!({ "subject": { "token": bob_token }, "permission": "profile:read" }),
        )
        .await,
        (false, "token_inactive".into())
    );
    // Well-formed but unknown: denied even for `*`.
    assert_eq!(
        ask_about(&app, &gateway, &admin_id, "widgets:fly").await,
        (false, "unknown_permission".into())
    );
    // An organization: only a global role reaches it (there are no
    // memberships yet).
    let organization = unknown_id();
    let in_org = |user: &str, permission: &str| json!({ "subject": { "user_id": user }, "permission": permission, "organization_id": organization });
    assert_eq!(
        decide(&app, &gateway, &in_org(&alice_id, "users:read")).await,
        (false, "not_member".into())
    );
    assert_eq!(
        decide(&app, &gateway, &in_org(&alice_id, "org:read")).await,
        (false, "not_member".into())
    );
    assert_eq!(
        decide(&app, &gateway, &in_org(&admin_id, "users:read")).await,
        (true, "granted:admin".into())
    );

    // Batches: up to 50, answered in order; 51 are refused.
    let checks: Vec<Value> = (0..50)
        .map(|i| {
            let permission = if i % 2 == 0 {
                "profile:read"
            } else {
                "users:read"
            };
            json!({ "subject": { "user_id": alice_id }, "permission": permission })
        })
        .collect();
    let fifty = authorize(&app, &gateway, &json!({ "checks": checks })).await;
    assert_eq!(fifty.status, 200, "{}", fifty.text);
    let results = fifty.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 50);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["allowed"], i % 2 == 0, "result {i}: {result}");
    }
    let mut checks = checks;
    checks.push(json!({ "subject": { "user_id": alice_id }, "permission": "profile:read" }));
    authorize(&app, &gateway, &json!({ "checks": checks }))
        .await
        .assert_problem(422, "validation_failed");

    // Malformed permissions.
    for bad in ["Bad", "users", "users:Read", ":read"] {
        authorize(
            &app,
            &gateway,
            &json!({ "subject": { "user_id": alice_id }, "permission": bad }),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    authorize(&app, &alice_token, &json!({ "permission": "Bad" }))
        .await
        .assert_problem(422, "validation_failed");
}

/// A suspended subject is denied. There is no HTTP suspension yet, so the
/// account is suspended in the database, on an instance that caches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_subject_is_denied() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let boss_for_settings = boss.clone();
    let app = env
        .spawn_with(move |s| {
            s.admin.bootstrap_emails = vec![boss_for_settings];
            s.authz.cache_ttl = Duration::ZERO;
        })
        .await;
    let admin = admin_login(&app, &boss).await;
    let carol_address = email("carol");
    let carol = app.verified_login(&carol_address).await;
    let carol_id = user_id(&carol);
    let (_, gateway) = create_key(
        &app,
        &admin.str("access_token"),
        "gateway",
        &["authz:check"],
    )
    .await;

    let before = authorize(
        &app,
        &gateway,
        &json!({ "subject": { "user_id": carol_id }, "permission": "profile:read" }),
    )
    .await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(before.body["allowed"], true);
    assert_eq!(
        before.body["cache_ttl"], 0,
        "the configured authz.cache_ttl"
    );

    env.db()
        .await
        .execute_unprepared(&format!(
            "UPDATE users SET status = 'suspended' WHERE email = '{carol_address}'"
        ))
        .await
        .expect("suspend");
    assert_eq!(
        ask_about(&app, &gateway, &carol_id, "profile:read").await,
        (false, "account_suspended".into())
    );
}

/// permissions, roles and context: for the user, holders of users:read and
/// keys with authz:check; 404 for everyone else and for unknown ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_access_is_visible_to_itself_support_staff_and_gateways_only() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let alice_address = email("alice");
    let alice = app.verified_login(&alice_address).await;
    let alice_id = user_id(&alice);
    let staff = app.verified_login(&email("staff")).await;
    let staff_id = user_id(&staff);
    assign(&app, &admin_token, &staff_id, "manager").await;
    let staff = app.refresh(&staff.str("refresh_token")).await;
    assert_eq!(staff.status, 200, "{}", staff.text);
    let stranger = app.verified_login(&email("stranger")).await;
    let (_, gateway) = create_key(&app, &admin_token, "gateway", &["authz:check"]).await;
    let (_, reporter) = create_key(&app, &admin_token, "reporter", &["activity:write"]).await;

    let views = |user: &str| {
        [
            format!("/api/v1/auth/permissions/{user}"),
            format!("/api/v1/auth/roles/{user}"),
            format!("/api/v1/auth/users/{user}/context"),
        ]
    };
    for (who, token) in [
        ("itself", alice.str("access_token")),
        ("a users:read holder", staff.str("access_token")),
        ("a key with authz:check", gateway.clone()),
    ] {
        let [permissions, roles, context] = views(&alice_id);
        let permissions = app.get_authed(&permissions, &token).await;
        assert_eq!(permissions.status, 200, "{who}: {}", permissions.text);
        assert_eq!(permissions.body["user_id"], alice_id.as_str());
        assert_eq!(permissions.body["organization_id"], Value::Null);
        assert_eq!(strings(&permissions.body["permissions"]), USER_PERMISSIONS);

        let roles = app.get_authed(&roles, &token).await;
        assert_eq!(roles.status, 200, "{who}: {}", roles.text);
        assert_eq!(global_role_names(&roles.body["roles"]), set(&["user"]));

        let context = app.get_authed(&context, &token).await;
        assert_eq!(context.status, 200, "{who}: {}", context.text);
        assert_eq!(context.body["user"]["id"], alice_id.as_str(), "{who}");
        assert_eq!(context.body["user"]["email"], alice_address.as_str());
        assert_eq!(context.body["organization"], Value::Null);
        assert_eq!(global_role_names(&context.body["roles"]), set(&["user"]));
        assert_eq!(strings(&context.body["permissions"]), USER_PERMISSIONS);
    }

    // The manager's own view shows the system role's grants too.
    let staff_roles = app
        .get_authed(
            &format!("/api/v1/auth/roles/{staff_id}"),
            &staff.str("access_token"),
        )
        .await;
    assert_eq!(staff_roles.status, 200, "{}", staff_roles.text);
    assert_eq!(
        global_role_names(&staff_roles.body["roles"]),
        set(&["manager", "user"])
    );

    for (who, token) in [
        ("an unrelated user", stranger.str("access_token")),
        ("a key without authz:check", reporter.clone()),
    ] {
        for path in views(&alice_id) {
            let hidden = app.get_authed(&path, &token).await;
            assert_eq!(hidden.status, 404, "{who} on {path}: {}", hidden.text);
            hidden.assert_problem(404, "not_found");
        }
    }
    for token in [gateway.clone(), staff.str("access_token"), admin_token] {
        for path in views(&unknown_id()) {
            app.get_authed(&path, &token)
                .await
                .assert_problem(404, "not_found");
        }
    }
}

/// Role administration: the catalogue, system roles that cannot be deleted
/// or (admin, user) changed, unique names, known permissions only, the last
/// admin kept, writes behind step-up and for users only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_administration_protects_system_roles_the_last_admin_and_needs_step_up() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let admin_id = user_id(&admin);

    let catalogue = app.get_authed("/api/v1/permissions", &admin_token).await;
    assert_eq!(catalogue.status, 200, "{}", catalogue.text);
    let names: BTreeSet<String> = catalogue.body["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| {
            assert!(
                p["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{p}"
            );
            p["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names, set(&DEFAULT_PERMISSIONS));

    let system_admin = role_named(&app, &admin_token, "admin").await;
    let system_manager = role_named(&app, &admin_token, "manager").await;
    let system_user = role_named(&app, &admin_token, "user").await;
    assert_eq!(system_admin["permissions"], json!(["*"]));
    assert_eq!(
        system_manager["permissions"],
        json!([
            "audit:read",
            "orgs:read",
            "users:read",
            "users:suspend",
            "users:unlock"
        ])
    );
    assert_eq!(system_user["permissions"], json!(USER_PERMISSIONS));
    let role_path = |role: &Value| format!("/api/v1/roles/{}", role["id"].as_str().unwrap());
    for role in [&system_admin, &system_manager, &system_user] {
        assert_eq!(role["system"], true, "{role}");
        let fetched = app.get_authed(&role_path(role), &admin_token).await;
        assert_eq!(fetched.status, 200, "{}", fetched.text);
        assert_eq!(&fetched.body["role"], role);
        app.delete_authed(&role_path(role), &admin_token)
            .await
            .assert_problem(409, "role_protected");
    }
    for role in [&system_admin, &system_user] {
        patch(
            &app,
            &role_path(role),
            &admin_token,
            &json!({ "permissions": ["users:read"] }),
        )
        .await
        .assert_problem(409, "role_protected");
    }
    // The manager's grants may change.
    let widened = patch(
        &app,
        &role_path(&system_manager),
        &admin_token,
        &json!({ "permissions": ["users:unlock", "events:read", "users:read"] }),
    )
    .await;
    assert_eq!(widened.status, 200, "{}", widened.text);
    assert_eq!(
        widened.body["role"]["permissions"],
        json!(["events:read", "users:read", "users:unlock"]),
        "sorted"
    );
    assert_eq!(widened.body["role"]["system"], true);

    // Custom roles: unique names, known permissions only.
    let support = create_role(&app, &admin_token, "support", &["users:read"]).await;
    for name in ["support", "admin"] {
        app.post_authed(
            "/api/v1/roles",
            &admin_token,
            &json!({ "name": name, "permissions": ["users:read"] }),
        )
        .await
        .assert_problem(409, "role_exists");
    }
    for permissions in [
        json!(["widgets:fly"]),
        json!(["Bad"]),
        json!(["users:read", "widgets:*"]),
    ] {
        app.post_authed(
            "/api/v1/roles",
            &admin_token,
            &json!({ "name": "helpdesk", "permissions": permissions }),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    patch(
        &app,
        &role_path(&support),
        &admin_token,
        &json!({ "permissions": ["widgets:fly"] }),
    )
    .await
    .assert_problem(422, "validation_failed");
    let described = patch(
        &app,
        &role_path(&support),
        &admin_token,
        &json!({ "description": "Support desk" }),
    )
    .await;
    assert_eq!(described.status, 200, "{}", described.text);
    assert_eq!(described.body["role"]["description"], "Support desk");
    assert_eq!(described.body["role"]["permissions"], json!(["users:read"]));
    let deleted = app.delete_authed(&role_path(&support), &admin_token).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    app.get_authed(&role_path(&support), &admin_token)
        .await
        .assert_problem(404, "not_found");

    // The last admin keeps the role.
    unassign(&app, &admin_token, &admin_id, "admin")
        .await
        .assert_problem(409, "last_admin");
    let deputy = app.verified_login(&email("deputy")).await;
    let deputy_id = user_id(&deputy);
    assign(&app, &admin_token, &deputy_id, "admin").await;
    let deputy_token = deputy.str("access_token");
    let removed = unassign(&app, &deputy_token, &admin_id, "admin").await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(audit_count(&env, "role.revoked").await, 1);
    unassign(&app, &deputy_token, &deputy_id, "admin")
        .await
        .assert_problem(409, "last_admin");
    // The former admin lost the power at once.
    app.post_authed(
        "/api/v1/roles",
        &admin_token,
        &json!({ "name": "helpdesk", "permissions": [] }),
    )
    .await
    .assert_problem(403, "forbidden");
    // …and the next refreshed token says so.
    let demoted = app.refresh(&admin.str("refresh_token")).await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);
    assert_eq!(roles_claim(&demoted), set(&["user"]));

    // Service keys never write roles, even with `*`.
    let (_, root_key) = create_key(&app, &deputy_token, "root", &["*"]).await;
    let key_reads = app.get_authed("/api/v1/roles", &root_key).await;
    assert_eq!(
        key_reads.status, 200,
        "a key with * reads: {}",
        key_reads.text
    );
    app.post_authed(
        "/api/v1/roles",
        &root_key,
        &json!({ "name": "helpdesk", "permissions": ["users:read"] }),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post_authed(
        &format!("/api/v1/users/{admin_id}/roles"),
        &root_key,
        &json!({ "role": "admin" }),
    )
    .await
    .assert_problem(403, "forbidden");

    // A plain user reads nothing of this.
    let plain = app.verified_login(&email("plain")).await;
    let plain_token = plain.str("access_token");
    for path in ["/api/v1/roles", "/api/v1/permissions"] {
        app.get_authed(path, &plain_token)
            .await
            .assert_problem(403, "forbidden");
    }
    app.post_authed(
        "/api/v1/roles",
        &plain_token,
        &json!({ "name": "helpdesk", "permissions": [] }),
    )
    .await
    .assert_problem(403, "forbidden");

    // An old proof: reads work, writes need step-up.
    age_proofs(&env).await;
    let stale = app.refresh(&deputy.str("refresh_token")).await;
    assert_eq!(stale.status, 200, "{}", stale.text);
    let stale_token = stale.str("access_token");
    let listed = app.get_authed("/api/v1/roles", &stale_token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let refused = app
        .post_authed(
            "/api/v1/roles",
            &stale_token,
            &json!({ "name": "helpdesk", "permissions": ["users:read"] }),
        )
        .await;
    refused.assert_problem(401, "step_up_required");
    // The deputy has no second factor: a recent password proof suffices.
    assert_eq!(
        refused.header("www-authenticate"),
        Some(STEP_UP_CHALLENGE_AAL1)
    );
    assert_eq!(refused.body["acr_values"], "aal1");
    assert_eq!(refused.body["max_age"], 600);
    app.post_authed(
        &format!("/api/v1/users/{}/roles", user_id(&plain)),
        &stale_token,
        &json!({ "role": "manager" }),
    )
    .await
    .assert_problem(401, "step_up_required");
    unassign(&app, &stale_token, &deputy_id, "user")
        .await
        .assert_problem(401, "step_up_required");
    patch(
        &app,
        &role_path(&system_manager),
        &stale_token,
        &json!({ "description": "Staff" }),
    )
    .await
    .assert_problem(401, "step_up_required");
    app.post_authed(
        "/api/v1/admin/service-keys",
        &stale_token,
        &json!({ "name": "late", "permissions": ["authz:check"] }),
    )
    .await
    .assert_problem(401, "step_up_required");

    let renewed = app
        .post_authed(
            "/api/v1/auth/reauthenticate",
            &stale_token,
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let helpdesk = app
        .post_authed(
            "/api/v1/roles",
            &renewed.str("access_token"),
            &json!({ "name": "helpdesk", "permissions": ["users:read"] }),
        )
        .await;
    assert_eq!(helpdesk.status, 201, "{}", helpdesk.text);
}

/// A service key is shown once, listed without its secret, answers
/// authorize, and stops working at once when deleted — on every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_key_is_shown_once_and_dies_at_once_on_every_instance() {
    let env = TestEnv::new().await;
    let shared = env.backend.postgres.is_some() && env.backend.redis.is_some();
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let other = if shared {
        Some(spawn_with_admin(&env, &boss).await)
    } else {
        eprintln!("the second instance needs PostgreSQL + Redis; checking one instance");
        None
    };
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let alice = app.verified_login(&email("alice")).await;
    let alice_id = user_id(&alice);

    // Only users with service_keys:write create keys.
    app.post_authed(
        "/api/v1/admin/service-keys",
        &alice.str("access_token"),
        &json!({ "name": "mine", "permissions": ["authz:check"] }),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get_authed("/api/v1/admin/service-keys", &alice.str("access_token"))
        .await
        .assert_problem(403, "forbidden");
    app.post_authed(
        "/api/v1/admin/service-keys",
        &admin_token,
        &json!({ "name": "odd", "permissions": ["widgets:fly"] }),
    )
    .await
    .assert_problem(422, "validation_failed");

    let created = app
        .post_authed(
            "/api/v1/admin/service-keys",
            &admin_token,
            &json!({ "name": "gateway", "permissions": ["authz:check"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let (id, key) = (created.str("id"), created.str("key"));
    assert!(key.starts_with("sk_") && key.len() >= 46, "{key}");
    assert_eq!(created.body["name"], "gateway");
    assert_eq!(created.body["permissions"], json!(["authz:check"]));
    assert!(created.body["created_at"].is_string(), "{}", created.text);
    assert_eq!(audit_count(&env, "service_key.created").await, 1);
    assert!(!env.dump().await.contains(&key), "only the hash is stored");

    let listed = app
        .get_authed("/api/v1/admin/service-keys", &admin_token)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(!listed.text.contains(&key), "never the key again");
    let keys = listed.body["service_keys"]
        .as_array()
        .expect("service_keys");
    assert_eq!(keys.len(), 1, "{}", listed.text);
    assert_eq!(keys[0]["id"], id.as_str());
    assert_eq!(keys[0]["name"], "gateway");
    assert_eq!(keys[0]["permissions"], json!(["authz:check"]));
    assert!(keys[0]["created_at"].is_string());
    assert!(keys[0].get("key").is_none(), "{}", keys[0]);

    // A key creates no keys, even a key with `*`.
    let (_, root) = create_key(&app, &admin_token, "root", &["*"]).await;
    app.post_authed(
        "/api/v1/admin/service-keys",
        &root,
        &json!({ "name": "child", "permissions": ["authz:check"] }),
    )
    .await
    .assert_problem(403, "forbidden");

    let question = json!({ "subject": { "user_id": alice_id }, "permission": "profile:read" });
    assert_eq!(
        decide(&app, &key, &question).await,
        (true, "granted:user".into())
    );
    if let Some(other) = &other {
        assert_eq!(
            decide(other, &key, &question).await,
            (true, "granted:user".into()),
            "the key works on the other instance (and is cached there)"
        );
    }

    let revoked = app
        .delete_authed(&format!("/api/v1/admin/service-keys/{id}"), &admin_token)
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let started = Instant::now();
    authorize(&app, &key, &question)
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(audit_count(&env, "service_key.revoked").await, 1);
    if let Some(other) = &other {
        let delay = eventually(Duration::from_secs(1), || async {
            (authorize(other, &key, &question).await.status == 401).then_some(started.elapsed())
        })
        .await
        .expect("the deleted key is refused on the other instance within 1 s");
        eprintln!("service key revocation delay across instances: {delay:?}");
        authorize(other, &key, &question)
            .await
            .assert_problem(401, "unauthorized");
    }
    // A key that never existed, of the right shape.
    authorize(&app, &format!("sk_{}", "A".repeat(43)), &question)
        .await
        .assert_problem(401, "unauthorized");

    // A stale session may not create keys.
    age_proofs(&env).await;
    let stale = app.refresh(&admin.str("refresh_token")).await;
    assert_eq!(stale.status, 200, "{}", stale.text);
    app.post_authed(
        "/api/v1/admin/service-keys",
        &stale.str("access_token"),
        &json!({ "name": "late", "permissions": ["authz:check"] }),
    )
    .await
    .assert_problem(401, "step_up_required");
}

/// Polls `app` until the key hears `expected` about `user`, for at most 1 s.
async fn until_says(
    app: &TestApp,
    key: &str,
    user: &str,
    permission: &str,
    expected: (bool, &str),
) {
    let started = Instant::now();
    let last = std::sync::Mutex::new(None);
    let seen = eventually(Duration::from_secs(1), || async {
        let answer = ask_about(app, key, user, permission).await;
        let hit = answer.0 == expected.0 && answer.1 == expected.1;
        *last.lock().unwrap() = Some(answer);
        hit.then_some(started.elapsed())
    })
    .await;
    let delay = seen.unwrap_or_else(|| {
        panic!(
            "{expected:?} for {permission} within 1 s on the other instance; last answer {:?}",
            last.lock().unwrap()
        )
    });
    eprintln!("{permission} → {expected:?} on the other instance after {delay:?}");
}

/// Instance B has answered (and cached) a question; instance A changes the
/// subject's roles, and then a role's grants; B follows within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_on_one_instance_reaches_authorize_on_another_within_a_second() {
    let env = TestEnv::new().await;
    if !shared_backend(&env) {
        return;
    }
    let boss = email("boss");
    let a = spawn_with_admin(&env, &boss).await;
    let b = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&a, &boss).await;
    let admin_token = admin.str("access_token");
    let colleague = a.verified_login(&email("colleague")).await;
    let colleague_id = user_id(&colleague);
    let (_, gateway) = create_key(&a, &admin_token, "gateway", &["authz:check"]).await;

    // B answers once, and caches the role set.
    for _ in 0..2 {
        assert_eq!(
            ask_about(&b, &gateway, &colleague_id, "users:read").await,
            (false, "no_permission".into())
        );
    }

    assign(&a, &admin_token, &colleague_id, "manager").await;
    until_says(
        &b,
        &gateway,
        &colleague_id,
        "users:read",
        (true, "granted:manager"),
    )
    .await;
    let permissions = b
        .get_authed(
            &format!("/api/v1/auth/permissions/{colleague_id}"),
            &gateway,
        )
        .await;
    assert_eq!(permissions.status, 200, "{}", permissions.text);
    assert!(
        strings(&permissions.body["permissions"]).contains(&"users:read".to_owned()),
        "{}",
        permissions.text
    );

    let removed = unassign(&a, &admin_token, &colleague_id, "manager").await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    until_says(
        &b,
        &gateway,
        &colleague_id,
        "users:read",
        (false, "no_permission"),
    )
    .await;

    // A change of a role's grants reaches B too.
    let support = create_role(&a, &admin_token, "support", &["audit:read"]).await;
    assign(&a, &admin_token, &colleague_id, "support").await;
    until_says(
        &b,
        &gateway,
        &colleague_id,
        "audit:read",
        (true, "granted:support"),
    )
    .await;
    let narrowed = patch(
        &a,
        &format!("/api/v1/roles/{}", support["id"].as_str().unwrap()),
        &admin_token,
        &json!({ "permissions": ["events:read"] }),
    )
    .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    until_says(
        &b,
        &gateway,
        &colleague_id,
        "audit:read",
        (false, "no_permission"),
    )
    .await;
    until_says(
        &b,
        &gateway,
        &colleague_id,
        "events:read",
        (true, "granted:support"),
    )
    .await;
}

/// Activity reports: a key with activity:write appends `activity.reported`
/// to the user's trail; big metadata, other callers and unknown users are
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_is_reported_by_keys_with_activity_write() {
    let env = TestEnv::new().await;
    let boss = email("boss");
    let app = spawn_with_admin(&env, &boss).await;
    let admin = admin_login(&app, &boss).await;
    let admin_token = admin.str("access_token");
    let alice = app.verified_login(&email("alice")).await;
    let alice_id = user_id(&alice);
    let (_, analytics) = create_key(&app, &admin_token, "analytics", &["activity:write"]).await;
    let (_, gateway) = create_key(&app, &admin_token, "gateway", &["authz:check"]).await;
    let path = format!("/api/v1/auth/users/{alice_id}/activity");

    let reported = app
        .post_authed(
            &path,
            &analytics,
            &json!({
                "action": "report.viewed",
                "resource": "report:r-42",
                "metadata": { "pages": 3, "format": "pdf" },
            }),
        )
        .await;
    assert_eq!(reported.status, 202, "{}", reported.text);
    assert_eq!(reported.body, json!({}));
    assert_eq!(audit_count(&env, "activity.reported").await, 1);
    let trail = env.dump().await;
    let row = trail
        .lines()
        .find(|line| line.contains("activity.reported"))
        .expect("the audit row");
    for part in ["report.viewed", "r-42", "pdf"] {
        assert!(row.contains(part), "{part} in {row}");
    }
    // Only `action` is required; metadata up to 4 KiB.
    let minimal = app
        .post_authed(&path, &analytics, &json!({ "action": "login.seen" }))
        .await;
    assert_eq!(minimal.status, 202, "{}", minimal.text);
    let sizeable = app
        .post_authed(
            &path,
            &analytics,
            &json!({ "action": "export", "metadata": { "blob": "x".repeat(3000) } }),
        )
        .await;
    assert_eq!(sizeable.status, 202, "{}", sizeable.text);
    assert_eq!(audit_count(&env, "activity.reported").await, 3);

    for metadata in [
        json!({ "blob": "x".repeat(5000) }),
        json!(["not", "an", "object"]),
    ] {
        app.post_authed(
            &path,
            &analytics,
            &json!({ "action": "export", "metadata": metadata }),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    for token in [gateway, alice.str("access_token")] {
        app.post_authed(&path, &token, &json!({ "action": "export" }))
            .await
            .assert_problem(403, "forbidden");
    }
    app.post(&path, &json!({ "action": "export" }))
        .await
        .assert_problem(401, "unauthorized");
    app.post_authed(
        &format!("/api/v1/auth/users/{}/activity", unknown_id()),
        &analytics,
        &json!({ "action": "export" }),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(audit_count(&env, "activity.reported").await, 3);
}
