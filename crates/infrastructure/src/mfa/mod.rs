//! Second-factor adapters: TOTP codes ([`RfcTotp`], totp-rs) and the
//! encryption of TOTP secrets at rest ([`AesSecretBox`], AES-256-GCM).

mod secret_box;
mod totp;

pub use secret_box::{AesSecretBox, DEFAULT_KEY_FILE};
pub use totp::RfcTotp;
