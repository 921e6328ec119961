//! `auth-bench` (`just bench`): builds and starts the real `auth-service` in
//! release mode, seeds users straight into its database, drives it over
//! HTTP on loopback with many keep-alive connections, and prints each figure
//! beside this machine's own ceilings measured in the same run: the
//! PBKDF2 hash limit for logins, a bare actix-web route for requests.
//!
//! `--quick` (under 2 minutes), `--postgres` (PostgreSQL + Redis from
//! `AUTH_TEST_DATABASE_URL` / `AUTH_TEST_REDIS_URL`, defaulting to the local
//! servers), `--users N` (default 1,000). Results also go to
//! `target/bench/latest.json`.
#![forbid(unsafe_code)]

mod hello;
mod load;
mod report;
mod seed;
mod service;
mod timing;

use std::time::{Duration, Instant};

use auth_domain::Password;
use auth_domain::password::PasswordHasher as _;
use auth_infrastructure::Pbkdf2Hasher;
use serde_json::{Map, Value, json};

use crate::load::Load;
use crate::service::Service;

/// What the command line asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Shorter runs.
    pub quick: bool,
    /// PostgreSQL + Redis instead of the embedded mode.
    pub postgres: bool,
    /// Users in the database during the run.
    pub users: usize,
    /// Keep the database and folder afterwards, to inspect (`--keep`).
    pub keep: bool,
    /// Only these measurements (`--only refresh,me`); all when empty.
    pub only: Vec<String>,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut options = Self {
            quick: false,
            postgres: false,
            users: 1_000,
            only: Vec::new(),
            keep: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--postgres" => options.postgres = true,
                "--keep" => options.keep = true,
                "--users" => {
                    options.users = args
                        .next()
                        .and_then(|n| n.replace('_', "").parse().ok())
                        .ok_or_else(|| anyhow::anyhow!("--users takes a number"))?;
                }
                "--only" => {
                    let list = args
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("--only takes a list"))?;
                    for name in list.split(',') {
                        anyhow::ensure!(
                            STAGES.contains(&name),
                            "--only: unknown measurement {name:?} (one of {STAGES:?})"
                        );
                        options.only.push(name.to_owned());
                    }
                }
                "-h" | "--help" => {
                    println!(
                        "usage: auth-bench [--quick] [--postgres] [--users N] [--only {}] [--keep]",
                        STAGES.join(",")
                    );
                    std::process::exit(0);
                }
                other => anyhow::bail!("unknown argument {other:?} (try --help)"),
            }
        }
        Ok(options)
    }

    /// Whether the measurement `stage` runs.
    pub fn wants(&self, stage: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == stage)
    }

    /// How long one measurement runs.
    pub fn window(&self) -> Duration {
        if self.quick {
            Duration::from_secs(4)
        } else {
            Duration::from_secs(12)
        }
    }
}

/// The measurements, in the order they run.
const STAGES: [&str; 9] = [
    "hello",
    "validate",
    "authorize",
    "me",
    "login",
    "under-load",
    "refresh",
    "register",
    "timing",
];

/// The hashing cost every login pays, measured in this build.
const ITERATIONS: u32 = 600_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let started = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    eprintln!("auth-bench: {options:?}, {cores} cores");

    let binary = service::build()?;
    let hash_ms = hash_ms().await?;
    let login_limit = cores as f64 * 1000.0 / hash_ms;

    let mut world = seed::World::create(&options).await?;
    // First start: migrations. Then the seed, then the measured start.
    Service::start(&binary, &world, &options).await?.stop();
    world.seed(&options).await?;
    let service = Service::start(&binary, &world, &options).await?;
    let startup_ms = service.startup.as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss_mb = service.rss_mb();

    let load = Load::new(&service.base);
    let tokens = world.access_tokens(1_000)?;
    let window = options.window();
    let mut results = Map::new();
    let mut errors = Map::new();
    let mut put = |key: &str, value: Value| {
        results.insert(key.to_owned(), value);
    };
    put("cores", json!(cores));
    put(
        "backend",
        json!(if options.postgres {
            "postgres"
        } else {
            "sqlite"
        }),
    );
    put("users", json!(options.users));
    put("quick", json!(options.quick));
    put("hash_ms", json!(hash_ms));
    put("login_limit_per_s", json!(login_limit));
    put("startup_ms", json!(startup_ms));
    put("idle_rss_mb", json!(idle_rss_mb));

    if options.wants("hello") {
        let hello = hello::Hello::start(service.workers)?;
        let run = load
            .get_rotating(&hello.url("/"), &["x".to_owned()], 64, window)
            .await;
        hello.stop().await;
        put("hello_rps", json!(run.rps()));
    }
    if options.wants("validate") {
        let run = load
            .get_rotating(
                &service.url("/api/v1/auth/verify-token"),
                &tokens,
                64,
                window,
            )
            .await;
        put("validate_rps", json!(run.rps()));
        put("validate_p99_ms", json!(run.p99_ms()));
        errors.insert("validate".into(), json!(run.failed));
    }
    if options.wants("authorize") {
        let run = load.authorize(&world, 64, window).await;
        put("authorize_rps", json!(run.rps()));
        put("authorize_p99_ms", json!(run.p99_ms()));
        errors.insert("authorize".into(), json!(run.failed));
        put(
            "authorize_in_process_p99_ms",
            json!(
                service
                    .histogram_p99_ms("auth_authorize_duration_seconds")
                    .await
            ),
        );
    }
    if options.wants("me") {
        let run = load
            .get_rotating(&service.url("/api/v1/auth/me"), &tokens, 64, window)
            .await;
        put("me_rps", json!(run.rps()));
        put("me_p99_ms", json!(run.p99_ms()));
        errors.insert("me".into(), json!(run.failed));
    }
    if options.wants("login") {
        let mut best: f64 = 0.0;
        for concurrency in if options.quick {
            vec![16]
        } else {
            vec![8, 32, 64]
        } {
            best = best.max(load.logins(&world, concurrency, window).await.rps());
        }
        put("login_per_s", json!(best));
    }
    if options.wants("under-load") {
        let (validate, logins) = load.validate_under_logins(&world, &tokens, window).await;
        put("validate_p99_ms_under_login_load", json!(validate.p99_ms()));
        put("logins_during_validate_per_s", json!(logins.rps()));
        errors.insert("validate_under_login_load".into(), json!(validate.failed));
    }
    if options.wants("refresh") {
        let run = load.refreshes(&world, 32, window).await;
        put("refresh_per_s", json!(run.rps()));
        put("refresh_p99_ms", json!(run.p99_ms()));
        errors.insert("refresh".into(), json!(run.failed));
    }
    if options.wants("register") {
        let run = load.registrations(16, window).await;
        put("register_per_s", json!(run.rps()));
        errors.insert("register".into(), json!(run.failed));
    }
    put("loaded_rss_mb", json!(service.rss_mb()));
    if options.wants("timing") {
        put("timing", timing::compare(&load, &world, &options).await);
    }
    service.stop();
    if options.keep {
        let dir = world.keep();
        eprintln!(
            "auth-bench: kept {} and {}",
            world.database_url,
            dir.display()
        );
    } else {
        world.drop_database().await;
    }

    let targets: Map<String, Value> = report::targets(&Value::Object(results.clone()))
        .into_iter()
        .map(|(label, value, met)| (label, json!({ "value": value, "met": met })))
        .collect();
    results.insert("targets".into(), Value::Object(targets));
    results.insert("errors".into(), Value::Object(errors));
    results.insert("took_s".into(), json!(started.elapsed().as_secs_f64()));
    let results = Value::Object(results);
    report::print(&results);
    report::save(&results)?;
    Ok(())
}

/// Median of 20 PBKDF2 hashes at the production cost, in this build.
async fn hash_ms() -> anyhow::Result<f64> {
    let hasher = Pbkdf2Hasher::new(ITERATIONS, 1, 1, 1)?;
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        hasher
            .hash(Password::new("Correct-Horse-42".into()), "bench")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
