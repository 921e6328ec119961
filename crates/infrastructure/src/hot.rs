//! Hot, rebuildable state: the revoked-session list. In-process for the
//! embedded mode; Redis (sorted set + pub/sub) for several instances. Either
//! way reads hit an in-memory mirror, so checking a token costs no round trip.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use auth_domain::ports::{
    GraceEntry, HealthProbe, RefreshGrace, RepoError, RevocationList, SessionRepository,
};
use auth_domain::{SessionId, Timestamp, TokenHash};
use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::Message;
use tokio::sync::Notify;

/// Revoked sessions and when each entry may be forgotten.
#[derive(Clone, Debug, Default)]
struct Mirror(Arc<RwLock<HashMap<SessionId, Timestamp>>>);

impl Mirror {
    fn contains(&self, session: SessionId) -> bool {
        self.0
            .read()
            .map(|map| map.contains_key(&session))
            .unwrap_or(true)
    }

    fn insert_all(&self, entries: impl IntoIterator<Item = (SessionId, Timestamp)>) {
        if let Ok(mut map) = self.0.write() {
            let now = chrono::Utc::now();
            map.retain(|_, until| *until > now);
            map.extend(entries);
        }
    }
}

/// The revocation list of one deployment.
#[derive(Clone, Debug)]
pub enum HotState {
    /// One process: the mirror is the list.
    InProcess(InProcessHotState),
    /// Several instances sharing Redis.
    Redis(RedisHotState),
}

/// In-process hot state.
#[derive(Clone, Debug, Default)]
pub struct InProcessHotState {
    mirror: Mirror,
    grace: Arc<RwLock<HashMap<String, (GraceEntry, std::time::Instant)>>>,
}

/// Redis-backed hot state with a local mirror fed by pub/sub.
#[derive(Clone)]
pub struct RedisHotState {
    client: Client,
    subscriber: SubscriberClient,
    mirror: Mirror,
    /// Raised when pub/sub may have lost messages (the listener lagged, the
    /// subscriber reconnected): the mirror is then reloaded from the database.
    resync_needed: Arc<Notify>,
    revoked_key: String,
    channel: String,
    key_prefix: String,
}

impl std::fmt::Debug for RedisHotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHotState")
            .field("revoked_key", &self.revoked_key)
            .finish_non_exhaustive()
    }
}

fn redis_err(err: &fred::error::Error) -> RepoError {
    RepoError::Unavailable(format!("redis: {err}"))
}

impl HotState {
    /// Hot state in this process only.
    #[must_use]
    pub fn in_process() -> Self {
        Self::InProcess(InProcessHotState::default())
    }

    /// Connects to Redis, subscribes to revocations and loads the current list.
    ///
    /// # Errors
    /// When Redis cannot be reached within a few seconds.
    pub async fn redis(url: &str, key_prefix: &str) -> anyhow::Result<Self> {
        let config = Config::from_url(url).map_err(|e| anyhow::anyhow!("redis.url: {e}"))?;
        let policy = ReconnectPolicy::new_exponential(0, 100, 5_000, 2);
        let build = |b: &mut Builder| {
            b.with_connection_config(|c| c.connection_timeout = Duration::from_secs(3))
                .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(3))
                .set_policy(policy.clone());
        };
        let mut builder = Builder::from_config(config);
        build(&mut builder);
        let client = builder.build()?;
        let subscriber = builder.build_subscriber_client()?;
        let connect = async {
            client.init().await?;
            subscriber.init().await?;
            Ok::<_, fred::error::Error>(())
        };
        tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| anyhow::anyhow!("redis.url: no answer from Redis within 5s"))?
            .map_err(|e| anyhow::anyhow!("redis.url: cannot connect to Redis: {e}"))?;

        let state = RedisHotState {
            client,
            subscriber,
            mirror: Mirror::default(),
            resync_needed: Arc::new(Notify::new()),
            revoked_key: format!("{key_prefix}revoked_sessions"),
            key_prefix: key_prefix.to_owned(),
            channel: format!("{key_prefix}revocations"),
        };
        state.subscriber.subscribe(state.channel.clone()).await?;
        // Re-subscribes after reconnects.
        let _resubscriber = state.subscriber.manage_subscriptions();
        state.spawn_listeners();
        state
            .resync()
            .await
            .map_err(|e| anyhow::anyhow!("redis: cannot load revoked sessions: {e}"))?;
        Ok(Self::Redis(state))
    }
}

/// Keeps this instance's revocation mirror complete, from the database, the
/// source of truth:
///
/// - at start-up (before serving), and after every Redis reconnect, the
///   sessions revoked within `window` are loaded into the mirror and written
///   back to Redis (a restarted Redis keeps nothing);
/// - every `interval`, and at once when pub/sub may have dropped a message
///   (a lagging listener, a reconnect), the sessions revoked since the last
///   pass are read again into the mirror only.
///
/// So a revocation whose Redis fan-out failed still reaches every instance
/// within `interval`. `window` must cover the longest an access token stays
/// acceptable after its session was revoked (`access_ttl + leeway`, plus a
/// margin).
///
/// # Errors
/// When the initial load fails.
pub async fn keep_in_sync<S: SessionRepository + Clone>(
    hot: &HotState,
    store: S,
    window: Duration,
    interval: Duration,
) -> anyhow::Result<()> {
    let window = chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::MAX);
    let load = {
        let hot = hot.clone();
        let store = store.clone();
        move || {
            let hot = hot.clone();
            let store = store.clone();
            async move {
                let now = chrono::Utc::now();
                let ids = store.revoked_since(now - window).await?;
                let count = ids.len();
                hot.revoke(&ids, now + window).await?;
                tracing::debug!(count, "revoked sessions loaded from the database");
                Ok::<(), RepoError>(())
            }
        }
    };
    load()
        .await
        .map_err(|e| anyhow::anyhow!("cannot load revoked sessions: {e}"))?;
    let HotState::Redis(state) = hot else {
        // One process: every revocation went into the mirror directly.
        return Ok(());
    };
    let mut reconnects = state.client.reconnect_rx();
    tokio::spawn(async move {
        while reconnects.recv().await.is_ok() {
            if let Err(err) = load().await {
                tracing::warn!(error = %err, "could not reload revoked sessions after a Redis reconnect");
            }
        }
    });
    let state = state.clone();
    tokio::spawn(async move {
        // Overlap passes a little: a revocation committed while the previous
        // query ran is read again rather than missed.
        let overlap = chrono::TimeDelta::seconds(2);
        let mut since = chrono::Utc::now() - overlap;
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = state.resync_needed.notified() => {}
            }
            let started = chrono::Utc::now();
            match store.revoked_since(since).await {
                Ok(ids) => {
                    let until = started + window;
                    state
                        .mirror
                        .insert_all(ids.into_iter().map(|id| (id, until)));
                    since = started - overlap;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not re-read revoked sessions; will retry");
                }
            }
        }
    });
    Ok(())
}

impl RedisHotState {
    /// Feeds the mirror from pub/sub, and reloads it after each reconnect
    /// (messages published while disconnected are lost on the wire).
    fn spawn_listeners(&self) {
        let mut messages = self.subscriber.message_rx();
        let mirror = self.mirror.clone();
        let resync_needed = Arc::clone(&self.resync_needed);
        tokio::spawn(async move {
            loop {
                match messages.recv().await {
                    Ok(message) => mirror.insert_all(parse_message(&message)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "revocation messages dropped; resyncing from the database"
                        );
                        resync_needed.notify_one();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let mut reconnects = self.subscriber.reconnect_rx();
        let this = self.clone();
        tokio::spawn(async move {
            while reconnects.recv().await.is_ok() {
                // Messages published while disconnected are lost on the wire.
                this.resync_needed.notify_one();
                if let Err(err) = this.resync().await {
                    tracing::warn!(error = %err, "could not reload revoked sessions after a Redis reconnect");
                }
            }
        });
    }

    async fn resync(&self) -> Result<(), RepoError> {
        let now = chrono::Utc::now().timestamp();
        let entries: Vec<(String, f64)> = self
            .client
            .zrangebyscore(&self.revoked_key, now as f64, "+inf", true, None)
            .await
            .map_err(|e| redis_err(&e))?;
        self.mirror.insert_all(
            entries
                .into_iter()
                .filter_map(|(sid, until)| entry(&sid, until as i64)),
        );
        Ok(())
    }
}

fn entry(sid: &str, until: i64) -> Option<(SessionId, Timestamp)> {
    Some((
        sid.parse().ok()?,
        chrono::DateTime::from_timestamp(until, 0)?,
    ))
}

/// Messages are `sid:until` pairs separated by spaces.
fn parse_message(message: &Message) -> Vec<(SessionId, Timestamp)> {
    let Some(text) = message.value.as_str() else {
        return Vec::new();
    };
    text.split_whitespace()
        .filter_map(|pair| pair.split_once(':'))
        .filter_map(|(sid, until)| entry(sid, until.parse().ok()?))
        .collect()
}

impl RevocationList for HotState {
    fn is_revoked(&self, session: SessionId) -> bool {
        match self {
            Self::InProcess(state) => state.mirror.contains(session),
            Self::Redis(state) => state.mirror.contains(session),
        }
    }

    async fn revoke(&self, sessions: &[SessionId], until: Timestamp) -> Result<(), RepoError> {
        let entries: Vec<(SessionId, Timestamp)> = sessions.iter().map(|s| (*s, until)).collect();
        match self {
            Self::InProcess(state) => {
                state.mirror.insert_all(entries);
                Ok(())
            }
            Self::Redis(state) => {
                if sessions.is_empty() {
                    return Ok(());
                }
                // Our own mirror first: this instance never waits for the echo.
                state.mirror.insert_all(entries);
                // The fan-out runs on its own: the revocation already
                // committed in the database, and an instance that misses
                // this message reads it there at its next resync. A slow or
                // unreachable Redis must not hold up a logout.
                let state = state.clone();
                let sessions = sessions.to_vec();
                tokio::spawn(async move {
                    if let Err(err) = state.fan_out(&sessions, until).await {
                        tracing::warn!(error = %err, count = sessions.len(), "revocation fan-out failed; other instances read it from the database at their next resync");
                    }
                });
                Ok(())
            }
        }
    }
}

impl RedisHotState {
    /// Adds revocations to the shared set and tells every instance.
    async fn fan_out(&self, sessions: &[SessionId], until: Timestamp) -> Result<(), RepoError> {
        let score = until.timestamp() as f64;
        let members: Vec<(f64, String)> = sessions.iter().map(|s| (score, s.to_string())).collect();
        let _: i64 = self
            .client
            .zadd(&self.revoked_key, None, None, false, false, members)
            .await
            .map_err(|e| redis_err(&e))?;
        let now = chrono::Utc::now().timestamp() as f64;
        let _: i64 = self
            .client
            .zremrangebyscore(&self.revoked_key, "-inf", now)
            .await
            .map_err(|e| redis_err(&e))?;
        let message = sessions
            .iter()
            .map(|s| format!("{s}:{}", until.timestamp()))
            .collect::<Vec<_>>()
            .join(" ");
        let _: i64 = self
            .client
            .publish(&self.channel, message)
            .await
            .map_err(|e| redis_err(&e))?;
        Ok(())
    }
}

impl RefreshGrace for HotState {
    async fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        ttl: Duration,
    ) -> Result<(), RepoError> {
        match self {
            Self::InProcess(state) => {
                if let Ok(mut map) = state.grace.write() {
                    let now = std::time::Instant::now();
                    map.retain(|_, (_, until)| *until > now);
                    map.insert(presented.as_str().to_owned(), (entry.clone(), now + ttl));
                }
                Ok(())
            }
            Self::Redis(state) => {
                let key = format!("{}grace:{}", state.key_prefix, presented.as_str());
                let value = format!("{} {}", entry.refresh_token, entry.access_token);
                let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
                let _: () = state
                    .client
                    .set(
                        key,
                        value,
                        Some(fred::types::Expiration::PX(millis)),
                        None,
                        false,
                    )
                    .await
                    .map_err(|e| redis_err(&e))?;
                Ok(())
            }
        }
    }

    async fn recall(&self, presented: &TokenHash) -> Result<Option<GraceEntry>, RepoError> {
        match self {
            Self::InProcess(state) => Ok(state.grace.read().ok().and_then(|map| {
                map.get(presented.as_str())
                    .filter(|(_, until)| *until > std::time::Instant::now())
                    .map(|(entry, _)| entry.clone())
            })),
            Self::Redis(state) => {
                let key = format!("{}grace:{}", state.key_prefix, presented.as_str());
                let value: Option<String> =
                    state.client.get(key).await.map_err(|e| redis_err(&e))?;
                Ok(value.and_then(|v| {
                    let (refresh_token, access_token) = v.split_once(' ')?;
                    Some(GraceEntry {
                        refresh_token: refresh_token.to_owned(),
                        access_token: access_token.to_owned(),
                    })
                }))
            }
        }
    }
}

impl HealthProbe for HotState {
    async fn ping(&self) -> Result<(), RepoError> {
        match self {
            Self::InProcess(_) => Ok(()),
            Self::Redis(state) => {
                let _: String = state.client.ping(None).await.map_err(|e| redis_err(&e))?;
                Ok(())
            }
        }
    }
}
