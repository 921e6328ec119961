//! The process's metrics recorder: Prometheus, installed once, rendered by
//! `GET /metrics`. The `metrics` facade records from every layer; only this
//! crate knows the exporter.

use std::sync::OnceLock;
use std::time::Duration;

use auth_domain::system::Clock as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached token check (~µs) to a hash
/// under load (~s).
const BUCKETS: [f64; 14] = [
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Renders the global Prometheus recorder.
#[derive(Clone, Debug)]
pub struct Prometheus(PrometheusHandle);

impl Prometheus {
    /// The current metrics, Prometheus text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        self.0.render()
    }
}

/// The process-wide recorder, installed on first use (several applications
/// in one process, as in the test harness, share it).
///
/// # Errors
/// When another recorder was installed first.
pub fn prometheus() -> anyhow::Result<Prometheus> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(Prometheus(handle.clone()));
    }
    // Histograms, not summaries: buckets aggregate across instances.
    let recorder = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .build_recorder();
    let handle = recorder.handle();
    // Only the first caller installs; a racing second one keeps the first.
    if HANDLE.set(handle.clone()).is_ok() {
        metrics::set_global_recorder(recorder)
            .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
        let upkeep = handle.clone();
        // Rendering drains histogram samples; when nobody scrapes, this
        // thread does, so they cannot pile up. A thread, not a task: it must
        // outlive any one runtime.
        std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })?;
    }
    Ok(Prometheus(HANDLE.get().cloned().unwrap_or(handle)))
}

/// How often the gauges read from the database are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(10);

/// Refreshes the gauges that count rows: active sessions and the outbox
/// backlog. A task, not a read per scrape, so a slow database never slows
/// `/metrics`.
pub fn spawn_gauges<S, O>(
    sessions: S,
    outbox: O,
    clock: auth_infrastructure::SharedClock,
) -> tokio::task::JoinHandle<()>
where
    S: auth_domain::sessions::SessionRepository,
    O: auth_domain::activity::OutboxRepository + auth_domain::activity::EventFeed,
{
    tokio::spawn(async move {
        loop {
            if let Ok(active) = sessions.count_active(clock.now()).await {
                metrics::gauge!("auth_active_sessions").set(active as f64);
            }
            if let Ok(backlog) = outbox.backlog().await {
                metrics::gauge!("auth_email_outbox_pending").set(backlog.pending as f64);
                metrics::gauge!("auth_email_outbox_failed").set(backlog.failed as f64);
            }
            if let Ok(pending) = outbox.pending_events().await {
                metrics::gauge!("auth_events_outbox_pending").set(pending as f64);
            }
            tokio::time::sleep(GAUGE_INTERVAL).await;
        }
    })
}
