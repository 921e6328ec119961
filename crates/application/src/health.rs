//! Reachability of the dependencies, for `GET /health`.

use auth_domain::system::HealthProbe;

/// What each dependency answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// The database answered.
    pub database: bool,
    /// The hot store (Redis, or the in-process one) answered.
    pub hot_store: bool,
}

impl HealthReport {
    /// Whether everything answered.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.database && self.hot_store
    }
}

/// Pings the database and the hot store.
#[derive(Clone, Debug)]
pub struct HealthCheck<D, H> {
    database: D,
    hot: H,
}

impl<D: HealthProbe, H: HealthProbe> HealthCheck<D, H> {
    /// A check of these dependencies.
    pub fn new(database: D, hot: H) -> Self {
        Self { database, hot }
    }

    /// Pings every dependency at once.
    pub async fn check(&self) -> HealthReport {
        let (database, hot_store) = (self.database.ping().await, self.hot.ping().await);
        if let Err(err) = &database {
            tracing::warn!(error = %err, "health: database check failed");
        }
        if let Err(err) = &hot_store {
            tracing::warn!(error = %err, "health: hot store check failed");
        }
        HealthReport {
            database: database.is_ok(),
            hot_store: hot_store.is_ok(),
        }
    }
}
