//! Business rules of auth-service: entities, value objects, policies and the
//! port traits that adapters implement. Nothing in this crate does I/O.
#![forbid(unsafe_code)]

pub mod audit;
pub mod claims;
pub mod email;
pub mod ids;
pub mod mail;
pub mod one_time_token;
pub mod password;
pub mod ports;
pub mod session;
pub mod token;
pub mod user;

pub use audit::{AuditEvent, AuditEventType, RequestContext};
pub use claims::AccessClaims;
pub use email::{Email, EmailError};
pub use ids::{EventId, MessageId, SessionId, TokenId, UserId};
pub use mail::{EmailMessage, OutboxMessage, OutboxStatus};
pub use one_time_token::{OneTimeToken, TokenPurpose};
pub use password::{Password, PasswordHash, PasswordPolicy, PolicyViolation};
pub use session::{NewSession, Session};
pub use token::{OpaqueToken, TokenHash};
pub use user::{AccountStatus, Role, User};

/// Every instant in the domain is a UTC timestamp.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
