//! The `accounts` context: user accounts, the rule that says who may sign in,
//! and the single-use tokens mailed to prove an address or reset a password.

mod one_time_token;
mod ports;
mod preferences;
mod user;

pub use one_time_token::{OneTimeToken, TokenPurpose, TokenState};
pub use ports::{
    AccountDeletion, CreateUserError, NewAccount, OneTimeTokenRepository, UserFilter,
    UserRepository,
};
pub use preferences::{valid_locale, valid_timezone};
pub use user::{AccountStatus, Profile, ProfileError, SignInRefusal, Suspension, User};
