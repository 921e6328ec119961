//! Adapters of auth-service: everything that talks to the outside world.
//! Each implements ports declared in `auth-domain`: [`db`] one file per
//! aggregate on sea-orm, [`hot`] one module per hot-state backend,
//! [`hasher`] PBKDF2, [`jwt`] josekit, [`mail`] mail-send or files,
//! [`workers`] the relay and the sweep, [`settings`] the configuration.
#![forbid(unsafe_code)]

pub mod db;
pub mod events;
pub mod hasher;
pub mod hot;
pub mod jwt;
pub mod mail;
pub mod mfa;
pub mod settings;
pub mod sms;
pub mod system;
pub mod workers;

pub use db::Database;
pub use hasher::Pbkdf2Hasher;
pub use hot::HotState;
pub use jwt::JwtTokens;
pub use mail::MailAdapter;
pub use settings::Settings;
pub use system::{OsRandom, SharedClock, SystemClock};
pub use workers::{run_outbox_worker, run_sweeper};
