//! What handlers share.

use std::sync::Arc;

use auth_application::{AuthService, Ports};

/// Renders the process's metrics in the Prometheus text format. The
/// composition root owns the recorder; handlers only read it.
pub trait MetricsRenderer: Send + Sync + 'static {
    /// The current metrics, Prometheus text exposition format.
    fn render(&self) -> String;
}

/// Shared by every handler of one server.
pub struct AppState<P: Ports> {
    /// The use cases.
    pub service: Arc<AuthService<P>>,
    /// The public JWKS document, rendered once.
    pub jwks: String,
    /// Source of `GET /metrics`.
    pub metrics: Arc<dyn MetricsRenderer>,
}

impl<P: Ports> std::fmt::Debug for AppState<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
