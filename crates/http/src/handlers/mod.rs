//! Request handlers: parse the DTO, build the domain request, call the use
//! case, map the outcome. No business rule lives here.

pub mod auth;
pub mod sessions;
pub mod system;
