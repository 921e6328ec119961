//! Several instances' hot state: a Redis sorted set of revoked sessions, a
//! pub/sub channel that fans revocations out to every instance's mirror,
//! and the refresh grace as keys with a TTL. Every key carries
//! `redis.key_prefix`.

use std::sync::Arc;
use std::time::Duration;

use auth_domain::access::AccessChange;
use auth_domain::limits::{Admission, LimiterMode, RateLimiter, Window};
use auth_domain::sessions::{GraceEntry, RefreshGrace, RevocationList};
use auth_domain::system::{Clock, HealthProbe};
use auth_domain::{RepoError, SessionId, Timestamp, TokenHash};
use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::Message;
use tokio::sync::Notify;

use super::mirror::Mirror;
use super::windows::LocalWindows;
use crate::system::SharedClock;

/// A fred error on its way out of this adapter: `?` makes one, `From` makes
/// a `RepoError` of it. Any Redis failure is an outage to the caller.
#[derive(Debug)]
struct RedisError(fred::error::Error);

impl From<fred::error::Error> for RedisError {
    fn from(err: fred::error::Error) -> Self {
        Self(err)
    }
}

impl From<RedisError> for RepoError {
    fn from(err: RedisError) -> Self {
        Self::Unavailable(format!("redis: {}", err.0))
    }
}

async fn guarded<T>(op: impl Future<Output = Result<T, RedisError>>) -> Result<T, RepoError> {
    Ok(op.await?)
}

/// Redis-backed hot state with a local mirror fed by pub/sub.
#[derive(Clone)]
pub struct RedisHotState {
    client: Client,
    subscriber: SubscriberClient,
    pub(super) mirror: Mirror,
    /// Raised when pub/sub may have lost messages (the listener lagged, the
    /// subscriber reconnected): the mirror is then reloaded from the database.
    pub(super) resync_needed: Arc<Notify>,
    revoked_key: String,
    channel: String,
    /// Access changes (roles, role sets, service keys) for every instance's
    /// caches.
    access_channel: String,
    /// What arrived on `access_channel`; `None` = drop every cache (messages
    /// may have been lost).
    access_changes: tokio::sync::broadcast::Sender<Option<AccessChange>>,
    key_prefix: String,
    clock: SharedClock,
    /// Counts limits while Redis is unreachable.
    local: Arc<LocalWindows>,
    /// Whether limits are counted locally right now.
    fallback: Arc<std::sync::atomic::AtomicBool>,
    /// SHA-1 of each of [`SCRIPTS`], as Redis reported when loading them.
    script_shas: Arc<[String; 3]>,
}

impl std::fmt::Debug for RedisHotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHotState")
            .field("revoked_key", &self.revoked_key)
            .finish_non_exhaustive()
    }
}

impl RedisHotState {
    /// Connects, subscribes to revocations and loads the current list.
    ///
    /// # Errors
    /// When Redis cannot be reached within a few seconds.
    pub async fn connect(url: &str, key_prefix: &str, clock: SharedClock) -> anyhow::Result<Self> {
        let config = Config::from_url(url).map_err(|e| anyhow::anyhow!("redis.url: {e}"))?;
        let policy = ReconnectPolicy::new_exponential(0, 100, 5_000, 2);
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| c.connection_timeout = Duration::from_secs(3))
            .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(3))
            .set_policy(policy);
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

        let mut script_shas: [String; 3] = Default::default();
        for (sha, lua) in script_shas.iter_mut().zip(SCRIPTS) {
            *sha = client.script_load(lua).await?;
        }
        let state = Self {
            script_shas: Arc::new(script_shas),
            client,
            subscriber,
            mirror: Mirror::new(Arc::clone(&clock)),
            resync_needed: Arc::new(Notify::new()),
            revoked_key: format!("{key_prefix}revoked_sessions"),
            channel: format!("{key_prefix}revocations"),
            access_channel: format!("{key_prefix}access"),
            access_changes: tokio::sync::broadcast::channel(1024).0,
            key_prefix: key_prefix.to_owned(),
            local: Arc::new(LocalWindows::new(Arc::clone(&clock))),
            fallback: Arc::default(),
            clock,
        };
        metrics::gauge!("auth_rate_limiter_fallback").set(0.0);
        state.subscriber.subscribe(state.channel.clone()).await?;
        state
            .subscriber
            .subscribe(state.access_channel.clone())
            .await?;
        // Re-subscribes after reconnects.
        let _resubscriber = state.subscriber.manage_subscriptions();
        state.spawn_listeners();
        state
            .load_shared_set()
            .await
            .map_err(|e| anyhow::anyhow!("redis: cannot load revoked sessions: {e}"))?;
        Ok(state)
    }

    /// The main client's reconnections, after which the shared set is
    /// rebuilt from the database (a restarted Redis keeps nothing).
    pub(super) fn reconnects(&self) -> tokio::sync::broadcast::Receiver<Server> {
        self.client.reconnect_rx()
    }

    /// Feeds the mirror from pub/sub, and asks for a database resync when
    /// messages may have been lost.
    fn spawn_listeners(&self) {
        let mut messages = self.subscriber.message_rx();
        let mirror = self.mirror.clone();
        let resync_needed = Arc::clone(&self.resync_needed);
        let access_channel = self.access_channel.clone();
        let access_changes = self.access_changes.clone();
        tokio::spawn(async move {
            loop {
                match messages.recv().await {
                    Ok(message) if *message.channel == *access_channel => {
                        if let Some(change) = message.value.as_str().and_then(|t| parse_change(&t))
                        {
                            let _ = access_changes.send(Some(change));
                        }
                    }
                    Ok(message) => mirror.insert_all(parse_message(&message)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "revocation messages dropped; resyncing from the database"
                        );
                        resync_needed.notify_one();
                        let _ = access_changes.send(None);
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
                let _ = this.access_changes.send(None);
                if let Err(err) = this.load_shared_set().await {
                    tracing::warn!(error = %err, "could not reload revoked sessions after a Redis reconnect");
                }
            }
        });
    }

    /// Reads the shared set into the mirror.
    async fn load_shared_set(&self) -> Result<(), RepoError> {
        let now = self.clock.now().timestamp();
        let entries: Vec<(String, f64)> = guarded(async {
            Ok(self
                .client
                .zrangebyscore(&self.revoked_key, now as f64, "+inf", true, None)
                .await?)
        })
        .await?;
        self.mirror.insert_all(
            entries
                .into_iter()
                .filter_map(|(sid, until)| entry(&sid, until as i64)),
        );
        Ok(())
    }

    /// Adds revocations to the shared set and tells every instance.
    async fn fan_out(&self, sessions: &[SessionId], until: Timestamp) -> Result<(), RepoError> {
        let score = until.timestamp() as f64;
        let members: Vec<(f64, String)> = sessions.iter().map(|s| (score, s.to_string())).collect();
        let now = self.clock.now().timestamp() as f64;
        let message = sessions
            .iter()
            .map(|s| format!("{s}:{}", until.timestamp()))
            .collect::<Vec<_>>()
            .join(" ");
        guarded(async {
            let _: i64 = self
                .client
                .zadd(&self.revoked_key, None, None, false, false, members)
                .await?;
            let _: i64 = self
                .client
                .zremrangebyscore(&self.revoked_key, "-inf", now)
                .await?;
            let _: i64 = self.client.publish(&self.channel, message).await?;
            Ok(())
        })
        .await
    }

    fn grace_key(&self, presented: &TokenHash) -> String {
        format!("{}grace:{}", self.key_prefix, presented.as_str())
    }

    /// The Redis keys of a limit; the `{…}` hash tag keeps both on one
    /// cluster slot, as a script's keys must be.
    fn limit_keys(&self, key: &str) -> (String, String) {
        (
            format!("{}limit:{{{key}}}:events", self.key_prefix),
            format!("{}limit:{{{key}}}:block", self.key_prefix),
        )
    }

    /// Runs a limiter script, or answers `None` when Redis cannot (then the
    /// caller counts locally). Limits fail fast: a request never waits for a
    /// reconnection to be counted.
    async fn script(&self, script: usize, keys: Vec<String>, args: Vec<String>) -> Option<i64> {
        if !self.client.is_connected() {
            self.fall_back("not connected");
            return None;
        }
        let options = fred::types::config::Options {
            timeout: Some(LIMIT_TIMEOUT),
            fail_fast: true,
            ..fred::types::config::Options::default()
        };
        let client = self.client.with_options(&options);
        let result: Result<i64, fred::error::Error> = match client
            .evalsha(
                self.script_shas[script].as_str(),
                keys.clone(),
                args.clone(),
            )
            .await
        {
            // A restarted Redis forgot the scripts: EVAL caches them again.
            Err(err) if err.details().starts_with("NOSCRIPT") => {
                client.eval(SCRIPTS[script], keys, args).await
            }
            other => other,
        };
        match result {
            Ok(value) => {
                self.shared_again();
                Some(value)
            }
            Err(err) => {
                self.fall_back(&err.to_string());
                None
            }
        }
    }

    fn fall_back(&self, why: &str) {
        use std::sync::atomic::Ordering;
        if !self.fallback.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                reason = why,
                "rate limits: Redis unreachable; counting in this process until it returns"
            );
            metrics::gauge!("auth_rate_limiter_fallback").set(1.0);
        }
    }

    fn shared_again(&self) {
        use std::sync::atomic::Ordering;
        if self.fallback.swap(false, Ordering::SeqCst) {
            tracing::info!("rate limits: Redis is back; limits are shared again");
            metrics::gauge!("auth_rate_limiter_fallback").set(0.0);
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}

/// How long a limit may wait for Redis before it is counted locally.
const LIMIT_TIMEOUT: Duration = Duration::from_millis(500);

/// Counts an event if the window has room; otherwise answers the
/// milliseconds until the oldest event leaves it. -1: admitted.
/// KEYS: events. ARGV: now_ms, period_ms, max, member.
const ADMIT: &str = r"
local now, period, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(0, tonumber(oldest[2]) + period - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], period)
return -1
";

/// Counts a failure; the one that fills the window blocks the key and
/// forgets the failures. 1: blocked now, 0: not.
/// KEYS: events, block. ARGV: now_ms, period_ms, max, member, block_ms.
const FAIL: &str = r"
local now, period, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], period)
if redis.call('ZCARD', KEYS[1]) >= max then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
  return 1
end
return 0
";

/// Milliseconds left of a block; -1 or -2 when there is none.
/// KEYS: block.
const BLOCKED: &str = r"return redis.call('PTTL', KEYS[1])";

/// The limiter's scripts, in the order of [`RedisHotState::script_shas`].
const SCRIPTS: [&str; 3] = [ADMIT, FAIL, BLOCKED];

/// A unique member for one event (two events may share a millisecond).
fn member(now_ms: i64) -> String {
    format!("{now_ms}-{}", uuid::Uuid::now_v7().simple())
}

fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

impl RateLimiter for RedisHotState {
    async fn admit(&self, key: &str, window: Window) -> Result<Admission, RepoError> {
        let (events, _) = self.limit_keys(key);
        let now = self.now_ms();
        let args = vec![
            now.to_string(),
            millis(window.period),
            window.max.to_string(),
            member(now),
        ];
        Ok(match self.script(0, vec![events], args).await {
            Some(-1) => Admission::Allowed,
            Some(ms) => Admission::Refused {
                retry_after: Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
            },
            None => self.local.admit(key, window),
        })
    }

    async fn fail(&self, key: &str, window: Window, block: Duration) -> Result<bool, RepoError> {
        let (events, block_key) = self.limit_keys(key);
        let now = self.now_ms();
        let args = vec![
            now.to_string(),
            millis(window.period),
            window.max.to_string(),
            member(now),
            millis(block),
        ];
        Ok(match self.script(1, vec![events, block_key], args).await {
            Some(blocked) => blocked == 1,
            None => self.local.fail(key, window, block),
        })
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, RepoError> {
        let (_, block_key) = self.limit_keys(key);
        Ok(match self.script(2, vec![block_key], Vec::new()).await {
            Some(ms) if ms > 0 => Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            Some(_) => None,
            None => self.local.blocked_for(key),
        })
    }

    fn mode(&self) -> LimiterMode {
        if self.fallback.load(std::sync::atomic::Ordering::SeqCst) || !self.client.is_connected() {
            LimiterMode::Fallback
        } else {
            LimiterMode::Shared
        }
    }

    async fn reset(&self, key: &str) -> Result<(), RepoError> {
        self.local.reset(key);
        if !self.client.is_connected() {
            return Ok(());
        }
        let (events, block) = self.limit_keys(key);
        let options = fred::types::config::Options {
            timeout: Some(LIMIT_TIMEOUT),
            fail_fast: true,
            ..fred::types::config::Options::default()
        };
        let result: Result<i64, fred::error::Error> = self
            .client
            .with_options(&options)
            .del(vec![events, block])
            .await;
        if let Err(err) = result {
            self.fall_back(&err.to_string());
        }
        Ok(())
    }
}

/// Access changes on the wire: `user:<id>`, `roles`, `key:<id>`.
fn change_text(change: AccessChange) -> String {
    match change {
        AccessChange::User(user) => format!("user:{user}"),
        AccessChange::Roles => "roles".to_owned(),
        AccessChange::ServiceKey(key) => format!("key:{key}"),
    }
}

fn parse_change(text: &str) -> Option<AccessChange> {
    match text.split_once(':') {
        None if text == "roles" => Some(AccessChange::Roles),
        Some(("user", id)) => id.parse().ok().map(AccessChange::User),
        Some(("key", id)) => id.parse().ok().map(AccessChange::ServiceKey),
        _ => None,
    }
}

impl RedisHotState {
    /// What other instances announced; `None` = drop every cache.
    #[must_use]
    pub fn access_changes(&self) -> tokio::sync::broadcast::Receiver<Option<AccessChange>> {
        self.access_changes.subscribe()
    }

    /// Tells every instance (this one included; dropping twice is harmless).
    pub async fn announce(&self, change: AccessChange) {
        let published: Result<i64, _> = self
            .client
            .publish(&self.access_channel, change_text(change))
            .await;
        if let Err(err) = published {
            tracing::warn!(error = %err, ?change, "access change not announced; other instances see it when their caches expire");
        }
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

impl RevocationList for RedisHotState {
    fn is_revoked(&self, session: SessionId) -> bool {
        self.mirror.contains(session)
    }

    async fn revoke(&self, sessions: &[SessionId], until: Timestamp) -> Result<(), RepoError> {
        if sessions.is_empty() {
            return Ok(());
        }
        // Our own mirror first: this instance never waits for the echo.
        self.mirror
            .insert_all(sessions.iter().map(|session| (*session, until)));
        // The fan-out runs on its own: the revocation already committed in
        // the database, and an instance that misses this message reads it
        // there at its next resync. A slow or unreachable Redis must not
        // hold up a logout.
        let state = self.clone();
        let sessions = sessions.to_vec();
        tokio::spawn(async move {
            if let Err(err) = state.fan_out(&sessions, until).await {
                tracing::warn!(error = %err, count = sessions.len(), "revocation fan-out failed; other instances read it from the database at their next resync");
            }
        });
        Ok(())
    }
}

impl RefreshGrace for RedisHotState {
    async fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        ttl: Duration,
    ) -> Result<(), RepoError> {
        let value = format!("{} {}", entry.refresh_token, entry.access_token);
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        guarded(async {
            let _: () = self
                .client
                .set(
                    self.grace_key(presented),
                    value,
                    Some(fred::types::Expiration::PX(millis)),
                    None,
                    false,
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn recall(&self, presented: &TokenHash) -> Result<Option<GraceEntry>, RepoError> {
        let value: Option<String> =
            guarded(async { Ok(self.client.get(self.grace_key(presented)).await?) }).await?;
        Ok(value.and_then(|v| {
            let (refresh_token, access_token) = v.split_once(' ')?;
            Some(GraceEntry {
                refresh_token: refresh_token.to_owned(),
                access_token: access_token.to_owned(),
            })
        }))
    }
}

impl HealthProbe for RedisHotState {
    async fn ping(&self) -> Result<(), RepoError> {
        guarded(async {
            let _: String = self.client.ping(None).await?;
            Ok(())
        })
        .await
    }
}
