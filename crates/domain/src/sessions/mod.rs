//! The `sessions` context: login sessions (one per device), their rotating
//! refresh tokens, access-token claims, and the revocation list that makes a
//! revoked session's access tokens fail on every instance.

mod assurance;
mod claims;
mod ports;
mod session;

pub use assurance::{Aal, Amr, Assurance};
pub use claims::AccessClaims;
pub use ports::{
    AccessTokenIssuer, AccessTokenVerifier, GraceEntry, RefreshGrace, RefreshTokenRecord,
    RevocationList, RevokeReason, RevokeScope, Rotation, SessionRepository, SigningError,
    TokenRejection,
};
pub use session::{NewSession, Session};
