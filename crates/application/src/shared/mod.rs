//! What several contexts share, named: opening a session and issuing its
//! tokens ([`SessionIssuer`]), revoking sessions on every instance
//! ([`Revoker`]), the password policy with hashing ([`Credentials`]), and
//! the rate limits ([`Limits`]).
//! A context calls these, never another context's module.

mod credentials;
pub(crate) mod events;
mod factors;
mod issuer;
mod limits;
pub(crate) mod mail;
pub(crate) mod permissions;
mod revoker;
mod step_up;

pub use credentials::Credentials;
pub use factors::{
    FactorAdapters, FactorError, FactorPorts, Factors, PendingProof, Proof, Verified, amr_of,
};
pub use issuer::{SessionIssuer, TokenPair};
pub(crate) use limits::refused;
pub use limits::{LimitName, LimitSettings, Limits};
pub use revoker::Revoker;
pub use step_up::{StepUp, StepUpError, StepUpRequired};
