//! Domain events (EVENTS.md) in the embedded mode: written with the change
//! they report, kept in the database and read from the pull feed as
//! CloudEvents envelopes.

use auth_tests::{PASSWORD, TestApp, TestEnv, email};
use serde_json::{Value, json};

async fn feed(app: &TestApp, token: &str, after: Option<&str>) -> auth_tests::Reply {
    let path = match after {
        Some(after) => format!("/api/v1/admin/events?limit=2&after={after}"),
        None => "/api/v1/admin/events?limit=1000".to_owned(),
    };
    app.get_authed(&path, token).await
}

fn types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_reported_as_cloud_events_in_order_and_without_secrets() {
    let env = TestEnv::new().await;
    let boss = email("events-boss");
    let boss_for_settings = boss.clone();
    let app = env
        .spawn_with(move |s| {
            s.admin.bootstrap_emails = vec![boss_for_settings];
            s.events.source_id = "test-node".into();
        })
        .await;
    let admin = app.verified_login(&boss).await;
    let admin_token = admin.str("access_token");
    let address = email("events-user");
    let user = app.verified_login(&address).await;
    let user_id = user.body["user"]["id"].as_str().unwrap().to_owned();
    let org = app
        .post_authed(
            "/api/v1/organizations",
            &user.str("access_token"),
            &json!({ "name": "Evented" }),
        )
        .await;
    assert_eq!(org.status, 201, "{}", org.text);
    let org_id = org.body["organization"]["id"].as_str().unwrap().to_owned();
    let assigned = app
        .post_authed(
            &format!("/api/v1/users/{user_id}/roles"),
            &admin_token,
            &json!({ "role": "manager" }),
        )
        .await;
    assert_eq!(assigned.status, 204, "{}", assigned.text);
    assert_eq!(
        app.post_authed(
            "/api/v1/auth/logout",
            &user.str("access_token"),
            &json!(null)
        )
        .await
        .status,
        204
    );

    let all = feed(&app, &admin_token, None).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let events = &all.body["events"];
    let about_user: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["partitionkey"] == user_id.as_str())
        .collect();
    let kinds: Vec<&str> = about_user
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "user.updated",
            "user.login",
            "auth.permission_changed",
            "user.logout"
        ],
        "in order per partition key"
    );
    let created = about_user[0];
    assert_eq!(created["specversion"], "1.0");
    assert_eq!(created["source"], "/auth-service/test-node");
    assert_eq!(created["subject"], user_id.as_str());
    assert_eq!(created["datacontenttype"], "application/json");
    assert!(created["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(created["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        created["data"],
        json!({ "user_id": user_id, "email": address, "email_verified": false })
    );
    assert_eq!(about_user[1]["data"]["changed"], json!(["email_verified"]));
    assert_eq!(about_user[2]["data"]["acr"], "aal1");
    assert_eq!(about_user[2]["data"]["amr"], json!(["pwd"]));
    assert_eq!(about_user[3]["data"]["role"], "manager");
    assert_eq!(about_user[3]["data"]["change"], "granted");
    assert!(about_user[3]["actorid"].is_string());
    assert_eq!(about_user[4]["data"]["all"], false);

    let org_created = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "organization.created")
        .expect("organization.created");
    assert_eq!(org_created["partitionkey"], org_id.as_str());
    assert_eq!(org_created["orgid"], org_id.as_str());
    assert_eq!(org_created["data"]["name"], "Evented");
    assert_eq!(org_created["data"]["tier"], "basic");

    for secret in [
        PASSWORD,
        user.str("access_token").as_str(),
        user.str("refresh_token").as_str(),
    ] {
        assert!(!all.text.contains(secret), "never a secret in an event");
    }
    assert!(
        !all.text.contains("127.0.0.1"),
        "no address in these events"
    );

    // Paging with `after`.
    let first = feed(
        &app,
        &admin_token,
        Some("00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(first.body["events"].as_array().unwrap().len(), 2);
    let next = first.body["next_after"].as_str().unwrap().to_owned();
    let second = feed(&app, &admin_token, Some(&next)).await;
    assert_eq!(
        types(&second.body["events"]),
        types(&all.body["events"])[2..4].to_vec()
    );

    // A replayed refresh token: the one event that names an address.
    let last = all.body["events"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = app.login(&address, PASSWORD).await;
    let rotated = app.refresh(&again.str("refresh_token")).await;
    assert_eq!(rotated.status, 200);
    app.refresh(&again.str("refresh_token"))
        .await
        .assert_problem(401, "refresh_token_reused");
    let later = app
        .get_authed(&format!("/api/v1/admin/events?after={last}"), &admin_token)
        .await;
    let suspicious = later.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "auth.suspicious_activity")
        .expect("auth.suspicious_activity");
    assert_eq!(suspicious["data"]["kind"], "refresh_token_reuse");
    assert_eq!(suspicious["data"]["ip"], "127.0.0.1");
    assert_eq!(suspicious["data"]["user_id"], user_id.as_str());

    app.get_authed("/api/v1/admin/events", &user.str("access_token"))
        .await
        .assert_problem(401, "unauthorized");
    let plain = app.verified_login(&email("plain")).await;
    app.get_authed("/api/v1/admin/events", &plain.str("access_token"))
        .await
        .assert_problem(403, "forbidden");
}
