//! The API reference page at `/docs`: Redoc, served from the binary.
//!
//! Everything the page loads comes from this service: the Redoc bundle is a
//! pinned, checked-in file (`assets/redoc/`, MIT), embedded at compile time,
//! so the reference renders offline, behind a strict egress proxy and on
//! air-gapped installs, and no third-party script ever runs on the origin
//! that holds the refresh cookie. The Content-Security-Policy says so to the
//! browser as well.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// Redoc version of the embedded bundle; part of its URL, so the bundle can
/// be cached for good.
pub const REDOC_VERSION: &str = "2.5.4";

/// Path of the embedded Redoc bundle.
pub const BUNDLE_PATH: &str = "/docs/assets/redoc-2.5.4.standalone.js";

/// Path of the script that starts Redoc (a file of its own: the policy
/// allows no inline script).
pub const INIT_PATH: &str = "/docs/assets/init.js";

const BUNDLE: &[u8] = include_bytes!("../assets/redoc/redoc-2.5.4.standalone.js");

const INIT: &str = "Redoc.init('/openapi.json', { hideDownloadButton: false, \
    expandResponses: '200,201', pathInMiddlePanel: true }, document.getElementById('redoc'));\n";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>auth-service API reference</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<noscript>The reference needs JavaScript. The document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<div id="redoc"></div>
<script src="/docs/assets/redoc-2.5.4.standalone.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
"#;

/// The page's policy: nothing from another host. Redoc injects its styles at
/// run time (`'unsafe-inline'` for styles only) and runs its search index in
/// a worker built from a `blob:` URL of this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
    connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The API reference page.
#[utoipa::path(
    get, path = "/docs", tag = "system",
    responses((status = 200, description = "HTML API reference (Redoc, served from the binary; loads nothing from another host)", content_type = "text/html"))
)]
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

/// Registers the page's assets. They are files, not API operations, so they
/// stay out of the route table and the OpenAPI document.
pub fn configure_assets(cfg: &mut web::ServiceConfig) {
    cfg.route(BUNDLE_PATH, web::get().to(bundle))
        .route(INIT_PATH, web::get().to(init));
}

async fn bundle() -> HttpResponse {
    script(BUNDLE, "public, max-age=31536000, immutable")
}

async fn init() -> HttpResponse {
    script(INIT.as_bytes(), "no-cache")
}

fn script(body: &'static [u8], cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `src` and `href` of the page is a path of this service.
    #[test]
    fn the_page_references_no_other_host() {
        for attribute in ["src=\"", "href=\""] {
            for (at, _) in PAGE.match_indices(attribute) {
                let value = &PAGE[at + attribute.len()..];
                assert!(
                    value.starts_with('/') && !value.starts_with("//"),
                    "{attribute}{}",
                    &value[..value.find('"').unwrap_or(value.len())]
                );
            }
        }
        assert!(PAGE.contains(BUNDLE_PATH) && PAGE.contains(INIT_PATH));
        assert!(BUNDLE_PATH.contains(REDOC_VERSION));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        assert!(!INIT.contains("http"));
    }

    #[test]
    fn the_policy_allows_this_origin_only() {
        for directive in CONTENT_SECURITY_POLICY.split(';') {
            assert!(
                !directive.contains("http") && !directive.contains('*'),
                "{directive}"
            );
        }
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'"));
    }
}
