//! Use cases of auth-service, one service per context (ARCHITECTURE.md,
//! "Contexts"): [`accounts`], [`sign_in`], [`sessions`], [`activity`]. Each
//! service is generic over its own ports only, declared as a ports trait
//! beside it, and exposes a trait that the HTTP handlers depend on, so a
//! handler can be tested against a fake service. What several contexts share
//! is named in [`shared`]: [`SessionIssuer`], [`Revoker`], [`Credentials`];
//! the audit events and queued messages a change writes in its own
//! transaction are [`auth_domain::Effects`]. Nothing here does I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod accounts;
pub mod activity;
pub mod admin;
mod failure;
pub mod health;
pub mod housekeeping;
pub mod mfa;
pub mod organizations;
pub mod sessions;
mod settings;
pub mod shared;
pub mod sign_in;

#[cfg(test)]
mod testing;

pub use failure::Failure;
pub use settings::{AccessSettings, AuthSettings, MfaSettings, OrgSettings};
pub use shared::{Credentials, Limits, Revoker, SessionIssuer, TokenPair};
