//! Another actix-web service protecting its own routes with auth-service's
//! guards, verifying access tokens offline against this service's JWKS (no
//! network round trip per request; revocation is only seen by auth-service
//! itself, so keep access tokens short-lived).
//!
//! Compiled with the workspace (`cargo build --examples`), so it cannot rot:
//!
//! ```sh
//! curl -s http://127.0.0.1:8001/.well-known/jwks.json > jwks.json
//! cargo run -p auth-server --example offline_guard
//! ```

use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use auth_http::auth::{Authenticated, BearerAuthenticator, MaybeAuthenticated, OfflineVerifier};
use auth_infrastructure::settings::TokenSettings;
use auth_infrastructure::{JwtTokens, SystemClock};

async fn orders(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(format!("orders of {}", user.claims.user_id))
}

async fn catalog(user: MaybeAuthenticated) -> HttpResponse {
    HttpResponse::Ok().body(if user.0.is_some() {
        "prices for members"
    } else {
        "public prices"
    })
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // Fetched once from GET https://auth.example.com/.well-known/jwks.json
    let jwks = std::fs::read_to_string("jwks.json")?;
    let verifier = JwtTokens::from_jwks(&TokenSettings::default(), &jwks)?;
    let guard: Arc<dyn BearerAuthenticator> = Arc::new(OfflineVerifier(verifier, SystemClock));
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::from(guard.clone()))
            .route("/orders", web::get().to(orders))
            .route("/catalog", web::get().to(catalog))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await?;
    Ok(())
}
