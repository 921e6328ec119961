//! The committed document is fresh, and every error it documents is
//! problem+json. (That it covers exactly the route table is checked in
//! `tests/`, which has a concrete set of ports to build the table with.)

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
