//! The route table: one `configure` function, and the same list as data for
//! the OpenAPI coverage test.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Resource, web};
use auth_application::Ports;

use crate::auth::BearerAuthenticator;
use crate::client::TrustedProxies;
use crate::handlers::{auth, sessions, system};
use crate::state::AppState;

/// Every route as `(method, path)`, in OpenAPI path syntax.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/verify-email/{token}"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/sessions"),
    ("DELETE", "/api/v1/auth/sessions"),
    ("DELETE", "/api/v1/auth/sessions/all"),
    ("DELETE", "/api/v1/auth/sessions/{id}"),
    ("POST", "/api/v1/auth/change-password"),
    ("POST", "/api/v1/auth/validate"),
    ("GET", "/api/v1/auth/verify-token"),
    ("GET", "/health"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
];

/// A resource whose other methods answer 405 problem+json.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(system::method_not_allowed))
}

/// Registers every route.
pub fn configure<P: Ports>(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/auth/register").route(web::post().to(auth::register::<P>)))
        .service(
            resource("/api/v1/auth/verify-email").route(web::post().to(auth::verify_email::<P>)),
        )
        .service(
            resource("/api/v1/auth/verify-email/{token}")
                .route(web::post().to(auth::verify_email_in_path::<P>)),
        )
        .service(resource("/api/v1/auth/login").route(web::post().to(auth::login::<P>)))
        .service(resource("/api/v1/auth/me").route(web::get().to(auth::me::<P>)))
        .service(resource("/api/v1/auth/refresh").route(web::post().to(sessions::refresh::<P>)))
        .service(resource("/api/v1/auth/logout").route(web::post().to(sessions::logout::<P>)))
        .service(
            resource("/api/v1/auth/sessions")
                .route(web::get().to(sessions::list_sessions::<P>))
                .route(web::delete().to(sessions::revoke_sessions_collection::<P>)),
        )
        // Before `{id}`, which would otherwise match "all".
        .service(
            resource("/api/v1/auth/sessions/all")
                .route(web::delete().to(sessions::revoke_all_sessions::<P>)),
        )
        .service(
            resource("/api/v1/auth/sessions/{id}")
                .route(web::delete().to(sessions::revoke_session::<P>)),
        )
        .service(
            resource("/api/v1/auth/change-password")
                .route(web::post().to(sessions::change_password::<P>)),
        )
        .service(resource("/api/v1/auth/validate").route(web::post().to(sessions::validate::<P>)))
        .service(resource("/api/v1/auth/verify-token").route(web::get().to(sessions::verify_token)))
        .service(resource("/health").route(web::get().to(system::health::<P>)))
        .service(resource("/.well-known/jwks.json").route(web::get().to(system::jwks::<P>)))
        .service(resource("/openapi.json").route(web::get().to(system::openapi_json)))
        .service(resource("/docs").route(web::get().to(system::docs)));
}

/// The whole application: state, middleware, routes and the 404 fallback.
pub fn app<P: Ports>(
    state: web::Data<AppState<P>>,
    proxies: web::Data<TrustedProxies>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let authenticator: std::sync::Arc<dyn BearerAuthenticator> = state.service.clone();
    App::new()
        .app_data(state)
        .app_data(proxies)
        .app_data(web::Data::from(authenticator))
        .app_data(crate::json::config())
        .app_data(web::PathConfig::default())
        .configure(configure::<P>)
        .default_service(web::to(system::not_found))
        .wrap(from_fn(crate::request_id::middleware))
}
