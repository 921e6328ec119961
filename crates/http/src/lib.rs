//! The HTTP adapter of auth-service: actix-web handlers, extractors,
//! problem+json errors, and the OpenAPI document. Handlers are sliced by
//! context like every layer — [`accounts`], [`sign_in`], [`sessions`],
//! [`system`] — and are generic over one [`App`], whose associated services
//! are the application's context traits. Depends on the use cases, never on
//! the infrastructure.
#![forbid(unsafe_code)]

pub mod access;
pub mod accounts;
pub mod activity;
mod app;
pub mod auth;
pub mod client;
pub mod docs;
pub mod dto;
pub mod error;
pub mod json;
pub mod mfa;
pub mod openapi;
pub mod organizations;
pub mod pages;
pub mod refresh_cookie;
pub mod request_id;
pub mod routes;
pub mod sessions;
pub mod sign_in;
pub mod system;
pub mod users;

#[cfg(test)]
mod tests;

pub use app::App;
pub use client::TrustedProxies;
pub use routes::{RouteEntry, app, configure, table};
