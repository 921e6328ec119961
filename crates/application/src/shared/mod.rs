//! What several contexts share, named: opening a session and issuing its
//! tokens ([`SessionIssuer`]), revoking sessions on every instance
//! ([`Revoker`]), and the password policy with hashing ([`Credentials`]).
//! A context calls these, never another context's module.

mod credentials;
mod issuer;
mod revoker;

pub use credentials::Credentials;
pub use issuer::{SessionIssuer, TokenPair};
pub use revoker::Revoker;
