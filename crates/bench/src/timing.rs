//! Does an answer tell whether an email has an account? The same request
//! for seeded (existing) and unknown addresses, interleaved one at a time,
//! compared by median latency.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Options;
use crate::load::Load;
use crate::seed::World;

/// Median latencies of one endpoint for existing and unknown emails.
async fn compare_one(
    load: &Load,
    world: &World,
    path: &str,
    samples: usize,
    body: impl Fn(&str) -> Value,
    expected: u16,
) -> Value {
    let mut existing = Vec::with_capacity(samples);
    let mut unknown = Vec::with_capacity(samples);
    for i in 0..samples {
        let known = &world.emails[(i * 7) % world.emails.len().max(1)];
        let stranger = format!(
            "nobody{i}-{}@bench.example.com",
            uuid::Uuid::now_v7().simple()
        );
        // Alternate which goes first, so neither always meets a warm cache.
        let pair = if i % 2 == 0 {
            [(known.as_str(), true), (stranger.as_str(), false)]
        } else {
            [(stranger.as_str(), false), (known.as_str(), true)]
        };
        for (email, is_known) in pair {
            if let Some(took) = load.post_timed(path, &body(email), expected).await {
                if is_known {
                    existing.push(took);
                } else {
                    unknown.push(took);
                }
            }
        }
    }
    let existing_ms = median_ms(&mut existing);
    let unknown_ms = median_ms(&mut unknown);
    json!({
        "samples": samples,
        "existing_median_ms": existing_ms,
        "unknown_median_ms": unknown_ms,
        "difference_ms": existing_ms - unknown_ms,
    })
}

fn median_ms(times: &mut [Duration]) -> f64 {
    if times.is_empty() {
        return f64::NAN;
    }
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

/// Forgot-password, resend-verification and a failed login, existing
/// versus unknown email.
pub async fn compare(load: &Load, world: &World, options: &Options) -> Value {
    let (cheap, hashed) = if options.quick {
        (200, 30)
    } else {
        (1_000, 120)
    };
    json!({
        "forgot_password": compare_one(load, world, "/api/v1/auth/forgot-password", cheap, |e| json!({ "email": e }), 202).await,
        "resend_verification": compare_one(load, world, "/api/v1/auth/resend-verification", cheap, |e| json!({ "email": e }), 202).await,
        "login_wrong_password": compare_one(load, world, "/api/v1/auth/login", hashed, |e| json!({ "email": e, "password": "Wrong-Horse-43" }), 401).await,
    })
}
