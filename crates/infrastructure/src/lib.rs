//! Adapters of auth-service: everything that talks to the outside world.
#![forbid(unsafe_code)]

pub mod db;
pub mod hasher;
pub mod hot;
pub mod jwt;
pub mod mail;
pub mod settings;
pub mod system;

pub use db::SeaStore;
pub use hasher::Pbkdf2Hasher;
pub use hot::HotState;
pub use jwt::JwtTokens;
pub use mail::{MailAdapter, run_outbox_worker};
pub use settings::Settings;
pub use system::{OsRandom, SystemClock};
