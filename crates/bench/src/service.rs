//! The real `auth-service`: built in release mode, started as a child
//! process against the bench's own database, watched from outside.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Options;
use crate::seed::World;

/// The workspace root.
fn workspace_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.canonicalize().unwrap_or(dir)
}

/// The workspace's `target` folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_dir().join("target"), PathBuf::from)
}

/// Builds `auth-service` in release mode and returns the binary's path.
pub fn build() -> anyhow::Result<PathBuf> {
    eprintln!("auth-bench: cargo build --release -p auth-server --bin auth-service");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args([
            "build",
            "--release",
            "-p",
            "auth-server",
            "--bin",
            "auth-service",
        ])
        .current_dir(workspace_dir());
    // `cargo run` hands its child variables of its own (CARGO_PKG_*,
    // CARGO_MANIFEST_DIR, LD_LIBRARY_PATH…); build scripts that watch them
    // would see a different environment than a build from the shell and
    // rebuild half the tree every time.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let inherited = ["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&name.as_ref());
        if (name.starts_with("CARGO_") && !inherited)
            || ["LD_LIBRARY_PATH", "OUT_DIR", "CARGO"].contains(&name.as_ref())
        {
            cargo.env_remove(name.as_ref());
        }
    }
    let status = cargo.status()?;
    anyhow::ensure!(status.success(), "building auth-service failed");
    let binary = target_dir().join("release/auth-service");
    anyhow::ensure!(binary.exists(), "{} is missing", binary.display());
    Ok(binary)
}

/// One running `auth-service`.
#[derive(Debug)]
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Process start to the first `/health` 200.
    pub startup: Duration,
    /// Its actix-web workers (one per core).
    pub workers: usize,
}

impl Service {
    /// Starts the binary in the world's folder, configured only through
    /// `AUTH__…` variables, and waits for `/health` to answer 200.
    pub async fn start(binary: &Path, world: &World, options: &Options) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = Command::new(binary);
        command
            .current_dir(&world.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AUTH__HTTP__HOST", "127.0.0.1")
            .env("AUTH__HTTP__PORT", port.to_string())
            .env("AUTH__HTTP__PUBLIC_URL", &base)
            .env("AUTH__DATABASE__URL", &world.database_url)
            .env("AUTH__TOKENS__SIGNING_KEY_FILE", &world.key_file)
            .env("AUTH__LOG__LEVEL", "warn")
            // Every request comes from 127.0.0.1: the per-client limits
            // would measure themselves, not the service.
            .env("AUTH__PASSWORD__HASH_QUEUE_PER_CLIENT", "100000")
            .env("AUTH__LIMITS__LOGIN_FAILURES", "100000000")
            .env("AUTH__LIMITS__REGISTER_PER_IP", "100000000")
            .env("AUTH__LIMITS__FORGOT_PASSWORD_PER_EMAIL", "100000000")
            .env("AUTH__LIMITS__RESEND_VERIFICATION_PER_EMAIL", "100000000")
            .env("AUTH__LIMITS__REFRESH_PER_SESSION", "100000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Levers to measure: AUTH__… variables of the bench's own
        // environment reach the service and win over the ones above.
        for (name, value) in std::env::vars() {
            if name.starts_with("AUTH__") {
                command.env(name, value);
            }
        }
        if options.postgres {
            command
                .env("AUTH__REDIS__URL", &world.redis_url)
                .env("AUTH__REDIS__KEY_PREFIX", &world.redis_prefix);
        }
        let started = Instant::now();
        let mut child = command.spawn()?;
        let client = reqwest::Client::new();
        let health = format!("{base}/health");
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(&health).send().await
                && response.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("auth-service exited during start-up: {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                anyhow::bail!("auth-service did not answer /health within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Self {
            startup: started.elapsed(),
            child,
            base,
            workers: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        })
    }

    /// An absolute URL on this service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The 99th percentile of a histogram the service exports on
    /// `/metrics`, in ms: the upper bound of the first bucket holding 99 %
    /// of the observations (the buckets are 0.1, 0.5, 1, 2.5 ms, …).
    pub async fn histogram_p99_ms(&self, name: &str) -> f64 {
        let Ok(response) = reqwest::get(self.url("/metrics")).await else {
            return f64::NAN;
        };
        let text = response.text().await.unwrap_or_default();
        let prefix = format!("{name}_bucket{{le=\"");
        let buckets: Vec<(f64, f64)> = text
            .lines()
            .filter_map(|line| line.strip_prefix(&prefix))
            .filter_map(|rest| {
                let (le, count) = rest.split_once("\"} ")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, count.trim().parse().ok()?))
            })
            .collect();
        let total = buckets.iter().map(|(_, c)| *c).fold(0.0, f64::max);
        buckets
            .iter()
            .find(|(_, count)| *count >= total * 0.99)
            .map_or(f64::NAN, |(le, _)| le * 1000.0)
    }

    /// Resident memory, from `/proc/PID/status`.
    pub fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// Stops the process.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
