//! The `mfa` context: second factors (TOTP, email and SMS codes), backup
//! codes, the half-finished login that waits for a factor, and the rules
//! that keep each code single-use.

mod backup;
mod method;
mod pending;
mod ports;
pub mod totp;

pub use backup::{BackupCode, BackupCodeSummary, backup_code_from_bytes, normalize_backup_code};
pub use method::{
    CodeChallenge, MethodKind, MethodStatus, MfaMethod, PENDING_METHOD_TTL, Phone, SealedSecret,
    mask_email,
};
pub use pending::PendingLogin;
pub use ports::{
    Activation, BackupCodeHasher, BackupCodeRepository, CryptoError, MethodRepository,
    PendingLoginRepository, Removal, SecretBox, TotpCodes,
};
