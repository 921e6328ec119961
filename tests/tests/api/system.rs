//! Health, keys, and the API document.

use auth_tests::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_dependency() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let health = app.get("/health").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["checks"]["database"], "ok");
    assert_eq!(health.body["checks"]["redis"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_only_the_public_key() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert!(key["kid"].is_string());
    assert!(key.get("d").is_none(), "no private part");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_serves_the_committed_file_and_docs_render() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    let served = app.get("/openapi.json").await;
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/openapi.json"
    ))
    .unwrap();
    assert_eq!(served.text, committed, "same bytes as openapi/openapi.json");
    let docs = app.get("/docs").await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
}

/// Every route of the route table is served (not a 404/405 fallback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_the_table_is_served() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    for (method, path) in auth_http::ROUTES {
        let url = app.url(&path.replace("{token}", "x"));
        let request = match *method {
            "GET" => app.client.get(url),
            "POST" => app.client.post(url).json(&serde_json::json!({})),
            "DELETE" => app.client.delete(url),
            other => panic!("unexpected method {other}"),
        };
        let reply = app.send(request).await;
        assert!(
            !matches!(reply.code(), "not_found" | "method_not_allowed"),
            "{method} {path} answered {}",
            reply.text
        );
    }
}
