//! Domain events (EVENTS.md) in the embedded mode: written with the change
//! they report, kept in the database and read from the pull feed as
//! CloudEvents envelopes.

use std::time::Duration;

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

/// The NATS server of this machine, or `None` (the test says why and
/// returns) unless `AUTH_TEST_NATS=required`, as `.ci/run` sets, where an
/// unreachable server fails the test.
async fn nats() -> Option<(String, async_nats::Client)> {
    let url =
        std::env::var("AUTH_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let required = std::env::var("AUTH_TEST_NATS").is_ok_and(|v| v == "required");
    match tokio::time::timeout(Duration::from_secs(5), async_nats::connect(url.as_str())).await {
        Ok(Ok(client)) => Some((url, client)),
        other => {
            assert!(
                !required,
                "NATS at {url} is required here and unreachable: {other:?}"
            );
            eprintln!(
                "skipped: no NATS server at {url} (set AUTH_TEST_NATS=required to fail instead)"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_nats_jetstream_in_order_deduplicated_by_their_id() {
    use futures_util::StreamExt as _;

    let Some((url, client)) = nats().await else {
        return;
    };
    let run = uuid::Uuid::now_v7().simple().to_string();
    let stream = format!("AUTH_TEST_{run}");
    let prefix = format!("test.{run}");
    let env = TestEnv::new().await;
    let (stream_name, subject_prefix) = (stream.clone(), prefix.clone());
    let app = env
        .spawn_with(move |s| {
            s.events.broker = "nats".into();
            s.events.nats.url = url;
            s.events.nats.stream = stream_name;
            s.events.subject_prefix = subject_prefix;
        })
        .await;
    let address = email("nats-user");
    let login = app.verified_login(&address).await;
    let user_id = login.body["user"]["id"].as_str().unwrap().to_owned();

    let jetstream = async_nats::jetstream::new(client);
    let consumer = jetstream
        .get_stream(&stream)
        .await
        .expect("the service created the stream")
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut received: Vec<(String, Value, Option<String>)> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while received.len() < 3 && std::time::Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(10)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        while let Some(Ok(message)) = batch.next().await {
            let envelope: Value = serde_json::from_slice(&message.payload).expect("JSON");
            let msg_id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_owned());
            received.push((message.subject.to_string(), envelope, msg_id));
            message.ack().await.expect("ack");
        }
    }
    let subjects: Vec<&str> = received.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("{prefix}.user.created"),
            format!("{prefix}.user.updated"),
            format!("{prefix}.user.login"),
        ],
        "in order, one subject per type"
    );
    for (_, envelope, msg_id) in &received {
        assert_eq!(envelope["specversion"], "1.0");
        assert_eq!(envelope["partitionkey"], user_id.as_str());
        assert_eq!(
            msg_id.as_deref(),
            envelope["id"].as_str(),
            "Nats-Msg-Id = id"
        );
    }
    // Marked published only after the ack: nothing left pending.
    let pending = auth_tests::eventually(Duration::from_secs(10), || async {
        (env.query_i64("SELECT COUNT(*) FROM outbox WHERE kind = 'event' AND status = 'pending'")
            .await
            == 0)
            .then_some(())
    })
    .await;
    assert!(pending.is_some(), "every event marked published");
    let _ = jetstream.delete_stream(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_a_redis_stream_in_order() {
    use fred::prelude::{
        Builder, ClientLike as _, Config, KeysInterface as _, StreamsInterface as _,
    };

    let url =
        std::env::var("AUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let Ok(config) = Config::from_url(&url) else {
        panic!("bad redis url {url}");
    };
    let Ok(client) = Builder::from_config(config).build() else {
        panic!("redis client");
    };
    let reachable = tokio::time::timeout(Duration::from_secs(3), client.init())
        .await
        .is_ok_and(|r| r.is_ok());
    if !reachable {
        assert!(
            std::env::var("AUTH_TEST_REDIS_URL").is_err(),
            "Redis at {url} is required here and unreachable"
        );
        eprintln!("skipped: no Redis at {url}");
        return;
    }
    let stream = format!("test:events:{}", uuid::Uuid::now_v7().simple());
    let env = TestEnv::new().await;
    let (redis_url, stream_key) = (url.clone(), stream.clone());
    let app = env
        .spawn_with(move |s| {
            s.redis.url = Some(redis_url);
            s.events.broker = "redis".into();
            s.events.redis.stream = stream_key;
        })
        .await;
    let login = app.verified_login(&email("stream-user")).await;
    let user_id = login.body["user"]["id"].as_str().unwrap().to_owned();
    let entries = auth_tests::eventually(Duration::from_secs(20), || {
        let client = client.clone();
        let stream = stream.clone();
        async move {
            let entries: Vec<(String, std::collections::HashMap<String, String>)> =
                client.xrange(&stream, "-", "+", None).await.ok()?;
            (entries.len() >= 3).then_some(entries)
        }
    })
    .await
    .expect("three events in the stream");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|(_, fields)| fields["type"].as_str())
        .collect();
    assert_eq!(kinds, ["user.created", "user.updated", "user.login"]);
    for (_, fields) in &entries {
        let envelope: serde_json::Value = serde_json::from_str(&fields["event"]).expect("JSON");
        assert_eq!(envelope["id"].as_str(), Some(fields["id"].as_str()));
        assert_eq!(envelope["partitionkey"], user_id.as_str());
    }
    let _: i64 = client.del(&stream).await.unwrap_or_default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_out_a_nats_outage_and_arrive_in_order() {
    use futures_util::StreamExt as _;

    let Some((url, client)) = nats().await else {
        return;
    };
    let cut = auth_tests::cut::TcpCut::start(&auth_tests::cut::target_of(&url, 4222)).await;
    let through = auth_tests::cut::through(&url, cut.port);
    let run = uuid::Uuid::now_v7().simple().to_string();
    let stream = format!("AUTH_OUTAGE_{run}");
    let prefix = format!("outage.{run}");
    let env = TestEnv::new().await;
    let (stream_name, subject_prefix) = (stream.clone(), prefix.clone());
    let app = env
        .spawn_with(move |s| {
            s.events.broker = "nats".into();
            s.events.nats.url = through;
            s.events.nats.stream = stream_name;
            s.events.subject_prefix = subject_prefix;
        })
        .await;

    cut.cut();
    let login = app.verified_login(&email("outage-user")).await;
    let user_id = login.body["user"]["id"].as_str().unwrap().to_owned();
    assert!(
        env.query_i64("SELECT COUNT(*) FROM outbox WHERE kind = 'event' AND status = 'pending'")
            .await
            >= 3,
        "the events wait in the outbox while NATS is away"
    );
    cut.restore();

    let jetstream = async_nats::jetstream::new(client);
    let consumer = jetstream
        .get_stream(&stream)
        .await
        .expect("stream")
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .expect("consumer");
    let mut kinds = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while kinds.len() < 3 && std::time::Instant::now() < deadline {
        let mut batch = consumer
            .fetch()
            .max_messages(10)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        while let Some(Ok(message)) = batch.next().await {
            let envelope: Value = serde_json::from_slice(&message.payload).expect("JSON");
            assert_eq!(envelope["partitionkey"], user_id.as_str());
            kinds.push(envelope["type"].as_str().unwrap_or_default().to_owned());
            message.ack().await.expect("ack");
        }
    }
    assert_eq!(
        kinds,
        ["user.created", "user.updated", "user.login"],
        "nothing lost, nothing doubled, in order"
    );
    let _ = jetstream.delete_stream(&stream).await;
}
