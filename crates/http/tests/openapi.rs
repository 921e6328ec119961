//! The committed document is fresh, and it covers exactly the route table.

use std::collections::BTreeSet;

use auth_http::ROUTES;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");

#[test]
fn committed_openapi_json_is_fresh() {
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == auth_http::openapi::document(),
        "openapi/openapi.json is stale: run `just openapi` (or `cargo run -p auth-server -- --dump-openapi`) and commit it"
    );
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let document: serde_json::Value =
        serde_json::from_str(auth_http::openapi::document()).expect("valid JSON");
    assert_eq!(
        document["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(move |ops| ops.keys().map(move |m| (m.to_uppercase(), path.clone())))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[test]
fn every_error_response_is_problem_json() {
    let document: serde_json::Value =
        serde_json::from_str(auth_http::openapi::document()).expect("valid JSON");
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if is_error && path != "/health" {
                    assert!(
                        response["content"]
                            .get("application/problem+json")
                            .is_some(),
                        "{method} {path} {status} must be application/problem+json"
                    );
                }
            }
        }
    }
}
