//! The route table: one list of `(method, path, handler)` that `configure`
//! registers and the OpenAPI coverage test reads, so a route cannot be
//! served without being checked against the document.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, Handler, Responder, Route, web};

use crate::app::App;
use crate::auth::{AppAuthenticator, BearerAuthenticator};
use crate::client::TrustedProxies;
use crate::{
    access, accounts, activity, docs, mfa, openapi, organizations, sessions, sign_in, system, users,
};

/// One route: method, path (OpenAPI syntax) and its handler.
pub struct RouteEntry {
    /// HTTP method.
    pub method: Method,
    /// Path template, e.g. `/api/v1/auth/sessions/{id}`.
    pub path: &'static str,
    route: Route,
}

impl std::fmt::Debug for RouteEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn entry<F, Args>(method: Method, path: &'static str, handler: F) -> RouteEntry
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    RouteEntry {
        route: web::route().method(method.clone()).to(handler),
        method,
        path,
    }
}

/// Every route of the service. `/sessions/all` comes before `/sessions/{id}`,
/// which would otherwise match it.
#[must_use]
pub fn table<A: App>() -> Vec<RouteEntry> {
    vec![
        entry(
            Method::POST,
            "/api/v1/auth/register",
            accounts::register::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/verify-email",
            accounts::verify_email::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/verify-email/{token}",
            accounts::verify_email_in_path::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/resend-verification",
            accounts::resend_verification::<A>,
        ),
        entry(Method::POST, "/api/v1/auth/login", sign_in::login::<A>),
        entry(Method::GET, "/api/v1/auth/me", accounts::me::<A>),
        entry(Method::POST, "/api/v1/auth/refresh", sessions::refresh::<A>),
        entry(
            Method::POST,
            "/api/v1/auth/forgot-password",
            accounts::forgot_password::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/reset-password",
            accounts::reset_password::<A>,
        ),
        entry(Method::POST, "/api/v1/auth/logout", sessions::logout::<A>),
        entry(
            Method::GET,
            "/api/v1/auth/sessions",
            sessions::list_sessions::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/auth/sessions",
            sessions::revoke_sessions_collection::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/auth/sessions/all",
            sessions::revoke_all_sessions::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/auth/sessions/{id}",
            sessions::revoke_session::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/change-password",
            accounts::change_password::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/validate",
            sessions::validate::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/auth/verify-token",
            sessions::verify_token,
        ),
        entry(Method::GET, "/api/v1/auth/audit", activity::audit::<A>),
        entry(
            Method::POST,
            "/api/v1/auth/reauthenticate",
            sign_in::reauthenticate::<A>,
        ),
        entry(Method::POST, "/api/v1/mfa/setup", mfa::setup::<A>),
        entry(Method::GET, "/api/v1/mfa/methods", mfa::methods::<A>),
        entry(Method::POST, "/api/v1/mfa/challenge", mfa::challenge::<A>),
        entry(Method::POST, "/api/v1/mfa/verify", mfa::verify::<A>),
        entry(
            Method::DELETE,
            "/api/v1/mfa/methods/{method_id}",
            mfa::remove::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/mfa/backup-codes/regenerate",
            mfa::regenerate_backup_codes::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/authorize",
            access::authorize::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/auth/permissions/{user_id}",
            access::user_permissions::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/auth/roles/{user_id}",
            access::user_roles::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/auth/users/{user_id}/context",
            access::user_context::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/users/{user_id}/activity",
            access::report_activity::<A>,
        ),
        entry(Method::GET, "/api/v1/permissions", access::permissions::<A>),
        entry(Method::GET, "/api/v1/roles", access::roles::<A>),
        entry(Method::POST, "/api/v1/roles", access::create_role::<A>),
        entry(Method::GET, "/api/v1/roles/{role_id}", access::role::<A>),
        entry(
            Method::PATCH,
            "/api/v1/roles/{role_id}",
            access::update_role::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/roles/{role_id}",
            access::delete_role::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/users/{user_id}/roles",
            access::assign_role::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/users/{user_id}/roles/{role}",
            access::remove_role::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/admin/service-keys",
            access::create_service_key::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/admin/service-keys",
            access::service_keys::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/service-keys/{id}",
            access::revoke_service_key::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/organizations",
            organizations::create::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/organizations",
            organizations::list::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/organizations/{org_id}",
            organizations::get::<A>,
        ),
        entry(
            Method::PATCH,
            "/api/v1/organizations/{org_id}",
            organizations::update::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/organizations/{org_id}",
            organizations::delete::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/organizations/{org_id}/dashboard",
            organizations::dashboard::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/organizations/{org_id}/users",
            organizations::members::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/organizations/{org_id}/users",
            organizations::add_member::<A>,
        ),
        entry(
            Method::PATCH,
            "/api/v1/organizations/{org_id}/users/{user_id}",
            organizations::set_role::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/organizations/{org_id}/users/{user_id}",
            organizations::remove_member::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/organizations/{org_id}/invitations",
            organizations::invite::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/organizations/{org_id}/invitations",
            organizations::invitations::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/organizations/{org_id}/invitations/{invitation_id}",
            organizations::revoke_invitation::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend",
            organizations::resend_invitation::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/invitations/lookup",
            organizations::lookup_invitation::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/invitations/accept",
            organizations::accept_invitation::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/invitations/decline",
            organizations::decline_invitation::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/auth/switch-organization",
            organizations::switch_organization::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/users/profile",
            users::register_with_profile::<A>,
        ),
        entry(Method::GET, "/api/v1/users/{user_id}", users::profile::<A>),
        entry(
            Method::DELETE,
            "/api/v1/users/{user_id}",
            users::delete_account::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/users/{user_id}/preferences",
            users::preferences::<A>,
        ),
        entry(
            Method::PATCH,
            "/api/v1/users/{user_id}/preferences",
            users::update_preferences::<A>,
        ),
        entry(
            Method::PATCH,
            "/api/v1/users/{user_id}",
            users::update_profile::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/users/{user_id}/activity",
            users::activity::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/users/{user_id}/dashboard",
            users::dashboard::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/users/{user_id}/export",
            users::export::<A>,
        ),
        entry(Method::GET, "/api/v1/admin/users", users::users::<A>),
        entry(
            Method::GET,
            "/api/v1/admin/users/{user_id}",
            users::user::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/admin/users/{user_id}/suspend",
            users::suspend::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/admin/users/{user_id}/reactivate",
            users::reactivate::<A>,
        ),
        entry(
            Method::POST,
            "/api/v1/admin/users/{user_id}/unlock",
            users::unlock::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/users/{user_id}/mfa",
            users::reset_mfa::<A>,
        ),
        entry(
            Method::GET,
            "/api/v1/admin/users/{user_id}/sessions",
            users::sessions::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/users/{user_id}/sessions",
            users::revoke_sessions::<A>,
        ),
        entry(
            Method::DELETE,
            "/api/v1/admin/ip-blocks/{ip}",
            users::unblock_ip::<A>,
        ),
        entry(Method::GET, "/api/v1/admin/audit", users::audit::<A>),
        entry(Method::GET, "/api/v1/admin/events", users::events::<A>),
        entry(Method::GET, "/health", system::health::<A>),
        entry(Method::GET, "/metrics", system::metrics::<A>),
        entry(Method::GET, "/.well-known/jwks.json", system::jwks::<A>),
        entry(Method::GET, "/openapi.json", openapi::openapi_json),
        entry(Method::GET, "/docs", docs::page),
    ]
}

/// Registers every route of [`table`]: one resource per path, whose other
/// methods answer 405 problem+json with an `Allow` header.
pub fn configure<A: App>(cfg: &mut web::ServiceConfig) {
    let mut by_path: Vec<(&'static str, Vec<Method>, Vec<Route>)> = Vec::new();
    for RouteEntry {
        method,
        path,
        route,
    } in table::<A>()
    {
        match by_path.iter_mut().find(|(p, _, _)| *p == path) {
            Some((_, methods, routes)) => {
                methods.push(method);
                routes.push(route);
            }
            None => by_path.push((path, vec![method], vec![route])),
        }
    }
    for (path, methods, routes) in by_path {
        // RFC 9110 §15.5.6: a 405 names the methods the resource serves.
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let resource = web::resource(path)
            .default_service(web::to(move || system::method_not_allowed(allow.clone())));
        cfg.service(
            routes
                .into_iter()
                .fold(resource, actix_web::Resource::route),
        );
    }
}

/// The whole application: state, middleware, routes and the 404 fallback.
pub fn app<A: App>(
    state: web::Data<A>,
    proxies: web::Data<TrustedProxies>,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let authenticator: std::sync::Arc<dyn BearerAuthenticator> =
        std::sync::Arc::new(AppAuthenticator(state.clone()));
    let keys: std::sync::Arc<dyn crate::auth::KeyAuthenticator> =
        std::sync::Arc::new(AppAuthenticator(state.clone()));
    actix_web::App::new()
        .app_data(state)
        .app_data(proxies)
        .app_data(web::Data::from(authenticator))
        .app_data(web::Data::from(keys))
        .app_data(crate::json::config())
        .app_data(web::PathConfig::default())
        .app_data(crate::json::query_config())
        .app_data(crate::json::form_config())
        .configure(configure::<A>)
        .configure(docs::configure_assets)
        .configure(crate::pages::configure::<A>)
        .default_service(web::to(system::not_found))
        .wrap(from_fn(crate::request_id::middleware))
}
