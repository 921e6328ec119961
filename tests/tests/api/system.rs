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

/// The document covers exactly the routes `configure` registers: a route
/// added without its `#[utoipa::path]` (or the reverse) fails here.
#[test]
fn every_registered_route_is_documented_and_every_documented_route_is_registered() {
    use std::collections::BTreeSet;
    let document: serde_json::Value = serde_json::from_str(auth_http::openapi::document()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let registered: BTreeSet<(String, String)> = auth_http::table::<auth_server::Services>()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "registered but missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unregistered.is_empty(),
        "documented but not registered: {unregistered:?}"
    );
}

/// Every route of the table is served (not the 404/405 fallbacks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_the_table_is_served() {
    let env = TestEnv::new().await;
    let app = env.spawn().await;
    for route in auth_http::table::<auth_server::Services>() {
        let url = app.url(&route.path.replace("{token}", "x").replace("{id}", "x"));
        let request = app
            .client
            .request(route.method.as_str().parse().unwrap(), url)
            .json(&serde_json::json!({}));
        let reply = app.send(request).await;
        // 404 only as a handler's answer ("No such session"), never the fallback.
        let fallback = reply.code() == "method_not_allowed"
            || (reply.code() == "not_found" && reply.body["detail"] != "No such session");
        assert!(!fallback, "{route:?} answered {}", reply.text);
    }
}
