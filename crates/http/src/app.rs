//! What the HTTP layer needs from the application: one service per context,
//! as associated types, so handlers are generic over one parameter and
//! dispatch statically (no boxed futures), and a fake `App` tests them.

use std::future::Future;

use auth_application::access::Access;
use auth_application::accounts::Accounts;
use auth_application::activity::Activity;
use auth_application::admin::Admin;
use auth_application::health::HealthReport;
use auth_application::mfa::Mfa;
use auth_application::organizations::Organizations;
use auth_application::sessions::Sessions;
use auth_application::sign_in::SignIn;

/// The application as the handlers see it.
pub trait App: Send + Sync + 'static {
    /// The `accounts` context.
    type Accounts: Accounts;
    /// The `sign_in` context.
    type SignIn: SignIn;
    /// The `sessions` context.
    type Sessions: Sessions;
    /// The `activity` context.
    type Activity: Activity;
    /// The `mfa` context.
    type Mfa: Mfa;
    /// The `access` context.
    type Access: Access;
    /// The `organizations` context.
    type Organizations: Organizations;
    /// The `admin` context.
    type Admin: Admin;

    /// Registration, verification, the current user, password change.
    fn accounts(&self) -> &Self::Accounts;
    /// Login.
    fn sign_in(&self) -> &Self::SignIn;
    /// Tokens, refresh, logout, the session list.
    fn sessions(&self) -> &Self::Sessions;
    /// The audit trail.
    fn activity(&self) -> &Self::Activity;
    /// Second factors and step-up.
    fn mfa(&self) -> &Self::Mfa;
    /// Authorization, roles and service keys.
    fn access(&self) -> &Self::Access;
    /// Tenants, members and invitations.
    fn organizations(&self) -> &Self::Organizations;
    /// Administration of users.
    fn admin(&self) -> &Self::Admin;
    /// Pings the dependencies.
    fn health(&self) -> impl Future<Output = HealthReport> + Send;
    /// The product's name on the hosted pages.
    fn product_name(&self) -> &str;
    /// The public JWKS document, rendered once.
    fn jwks(&self) -> &str;
    /// The CloudEvents `source` of this service's events
    /// (`/auth-service/{events.source_id}`).
    fn event_source(&self) -> &str;
    /// The metrics, Prometheus text exposition format.
    fn metrics(&self) -> String;
}
