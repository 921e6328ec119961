//! The HTTP adapter of auth-service: actix-web handlers and extractors,
//! problem+json errors, and the OpenAPI document. Depends on the use cases,
//! never on the infrastructure.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod docs;
pub mod dto;
pub mod error;
pub mod handlers;
pub mod json;
pub mod openapi;
pub mod request_id;
pub mod routes;
pub mod state;

pub use client::TrustedProxies;
pub use routes::{RouteEntry, app, configure, table};
pub use state::{AppState, MetricsRenderer};
