//! `just bench`: the costs that size a deployment, measured in-process on
//! this machine (run it with `--release`).
//!
//! - one PBKDF2-HMAC-SHA256 hash at the configured and the default cost;
//! - access-token signing and verification (EdDSA and HS256), first sight
//!   and from the verified-token cache;
//! - one rate-limit check, in-process and (with `AUTH_TEST_REDIS_URL`) on
//!   Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use auth_domain::limits::{RateLimiter, Window};
use auth_domain::password::PasswordHasher;
use auth_domain::sessions::{AccessTokenIssuer, AccessTokenVerifier};
use auth_domain::{AccessClaims, Email, Password, Role, SessionId, UserId};
use auth_infrastructure::settings::{Algorithm, TokenSettings};
use auth_infrastructure::{HotState, JwtTokens, Pbkdf2Hasher, SystemClock};

fn rate(label: &str, iterations: u32, elapsed: Duration) {
    let per_op = elapsed / iterations;
    let per_sec = f64::from(iterations) / elapsed.as_secs_f64();
    println!("{label:<44} {per_op:>12.2?} per op  {per_sec:>12.0} ops/s");
}

#[tokio::main]
async fn main() {
    for iterations in [600_000, 10_000] {
        let hasher = Pbkdf2Hasher::new(iterations, 1, 8, 8).expect("hasher");
        let n = if iterations > 100_000 { 10 } else { 200 };
        let started = Instant::now();
        for _ in 0..n {
            hasher
                .hash(Password::new("Correct-Horse-42".into()), "bench")
                .await
                .expect("hash");
        }
        rate(
            &format!("pbkdf2-sha256 hash, {iterations} iterations"),
            n,
            started.elapsed(),
        );
    }

    let now = chrono::Utc::now();
    let claims = AccessClaims {
        user_id: UserId::generate(),
        email: Email::parse("bench@example.com").expect("email"),
        email_verified: true,
        roles: vec![Role::user()],
        session_id: SessionId::generate(),
        token_id: "bench".into(),
        issued_at: now,
        expires_at: now + chrono::TimeDelta::minutes(15),
        assurance: auth_domain::Assurance::password(now),
        organization_id: None,
    };
    let dir = tempfile_dir();
    for algorithm in [Algorithm::EdDSA, Algorithm::HS256] {
        let settings = TokenSettings {
            algorithm,
            ..TokenSettings::default()
        };
        let tokens = JwtTokens::from_settings(&settings, &dir).expect("tokens");
        let n = 5_000;
        let started = Instant::now();
        let issued: Vec<String> = (0..n)
            .map(|i| {
                let claims = AccessClaims {
                    token_id: format!("bench-{i}"),
                    ..claims.clone()
                };
                tokens.issue(&claims).expect("sign")
            })
            .collect();
        rate(&format!("{algorithm:?} sign"), n, started.elapsed());
        let started = Instant::now();
        for token in &issued {
            tokens.verify(token, now).expect("verify");
        }
        rate(
            &format!("{algorithm:?} verify (first sight)"),
            n,
            started.elapsed(),
        );
        let started = Instant::now();
        for token in &issued {
            tokens.verify(token, now).expect("verify");
        }
        rate(
            &format!("{algorithm:?} verify (cached)"),
            n,
            started.elapsed(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);

    limiter("in-process", HotState::in_process(SystemClock::shared())).await;
    if let Some(url) = std::env::var("AUTH_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let prefix = format!("bench:{}:", std::process::id());
        let hot = HotState::redis(&url, &prefix, SystemClock::shared())
            .await
            .expect("redis");
        limiter("redis", hot).await;
    }
}

async fn limiter(label: &str, hot: HotState) {
    let window = Window {
        max: u32::MAX,
        period: Duration::from_secs(60),
    };
    let n = 5_000;
    let started = Instant::now();
    for i in 0..n {
        hot.admit(&format!("bench:{}", i % 100), window)
            .await
            .expect("admit");
    }
    rate(&format!("rate-limit check ({label})"), n, started.elapsed());
    let started = Instant::now();
    for i in 0..n {
        hot.blocked_for(&format!("bench:{}", i % 100))
            .await
            .expect("blocked");
    }
    rate(&format!("lockout check ({label})"), n, started.elapsed());
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
