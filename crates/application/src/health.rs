//! Reachability of the dependencies, for `GET /health`.

use std::time::{Duration, Instant};

use auth_domain::activity::{OutboxBacklog, OutboxRepository};
use auth_domain::limits::{LimiterMode, RateLimiter};
use auth_domain::system::HealthProbe;

/// One dependency's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// It answered.
    pub ok: bool,
    /// How long it took to answer (or to fail).
    pub latency: Duration,
}

/// What each dependency answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// The database.
    pub database: Probe,
    /// The hot store (Redis, or the in-process one).
    pub hot_store: Probe,
    /// The outbox's backlog, when the database could tell.
    pub outbox: Option<OutboxBacklog>,
    /// Where rate limits are counted right now.
    pub limiter: LimiterMode,
}

impl HealthReport {
    /// Whether the service can do its work: the database answers. Without
    /// Redis it still serves (tokens validate from the local mirror, limits
    /// count in-process), degraded.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.database.ok
    }

    /// Whether everything answered and limits are shared as configured.
    #[must_use]
    pub fn degraded(&self) -> bool {
        !self.hot_store.ok || self.limiter == LimiterMode::Fallback
    }
}

/// Pings the database and the hot store, reads the outbox backlog and the
/// limiter's mode.
#[derive(Clone, Debug)]
pub struct HealthCheck<D, H, O, L> {
    database: D,
    hot: H,
    outbox: O,
    limiter: L,
}

impl<D: HealthProbe, H: HealthProbe, O: OutboxRepository, L: RateLimiter> HealthCheck<D, H, O, L> {
    /// A check of these dependencies.
    pub fn new(database: D, hot: H, outbox: O, limiter: L) -> Self {
        Self {
            database,
            hot,
            outbox,
            limiter,
        }
    }

    /// Pings every dependency.
    pub async fn check(&self) -> HealthReport {
        let database = probe("database", self.database.ping()).await;
        let hot_store = probe("hot store", self.hot.ping()).await;
        let outbox = if database.ok {
            self.outbox.backlog().await.ok()
        } else {
            None
        };
        HealthReport {
            database,
            hot_store,
            outbox,
            limiter: self.limiter.mode(),
        }
    }
}

async fn probe(
    name: &str,
    ping: impl Future<Output = Result<(), auth_domain::RepoError>>,
) -> Probe {
    let started = Instant::now();
    let result = ping.await;
    if let Err(err) = &result {
        tracing::warn!(error = %err, dependency = name, "health check failed");
    }
    Probe {
        ok: result.is_ok(),
        latency: started.elapsed(),
    }
}
