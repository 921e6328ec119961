//! What handlers share.

use std::sync::Arc;

use auth_application::{AuthService, Ports};

/// Shared by every handler of one server.
#[derive(Debug)]
pub struct AppState<P: Ports> {
    /// The use cases.
    pub service: Arc<AuthService<P>>,
    /// The public JWKS document, rendered once.
    pub jwks: String,
}
