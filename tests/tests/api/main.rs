//! The API driven over HTTP, as API.md specifies it. Runs on SQLite +
//! in-process state by default, on PostgreSQL + Redis with
//! `AUTH_TEST_DATABASE_URL` and `AUTH_TEST_REDIS_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod access;
mod errors;
mod events;
mod flow;
mod hardening;
mod logs;
mod mail;
mod mfa;
mod migrations;
mod multi_instance;
mod observability;
mod organizations;
mod outage;
mod pages;
mod recovery;
mod sessions;
mod store_contract;
mod system;
mod token_attacks;
mod users;
