//! What several contexts share, named: opening a session and issuing its
//! tokens ([`SessionIssuer`]), revoking sessions on every instance
//! ([`Revoker`]), the password policy with hashing ([`Credentials`]), and
//! the rate limits ([`Limits`]).
//! A context calls these, never another context's module.

mod credentials;
mod issuer;
mod limits;
mod revoker;

pub use credentials::Credentials;
pub use issuer::{SessionIssuer, TokenPair};
pub(crate) use limits::refused;
pub use limits::{LimitName, LimitSettings, Limits};
pub use revoker::Revoker;
