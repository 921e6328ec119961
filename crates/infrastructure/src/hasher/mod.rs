//! PBKDF2-HMAC-SHA256 password hashing on a bounded pool of low-priority
//! threads ([`threads`]).

mod codes;
mod threads;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_domain::password::{HashError, PasswordCheck, PasswordHasher};
use auth_domain::{Password, PasswordHash};
use pbkdf2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use pbkdf2::{Algorithm, Params, Pbkdf2, phc};
use tokio::sync::Semaphore;

use threads::HashThreads;

/// Hashes with PBKDF2-HMAC-SHA256 into PHC strings.
///
/// At most `concurrency` hashes run at once, on as many dedicated threads
/// below the request workers' priority, never on a request worker; at most `queue` more wait. Past that, callers
/// get [`HashError::Busy`] at once (answered as 503 + `Retry-After`) instead of
/// piling up and starving token validation.
#[derive(Clone, Debug)]
pub struct Pbkdf2Hasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Hashes each client has running or queued.
    per_client: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// How many of those one client may have.
    client_share: usize,
    hasher: Pbkdf2,
    threads: HashThreads,
    rounds: u32,
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    dummy: PasswordHash,
    /// Hashes computing right now, and the most ever seen at once.
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// One of a client's slots in the pool, held (like the pool's own permits)
/// until the CPU work ends, so a client that drops its requests cannot queue
/// more than its share either.
struct ClientShare {
    inner: Arc<Inner>,
    client: String,
}

impl ClientShare {
    fn take(inner: &Arc<Inner>, client: &str) -> Option<Self> {
        let mut counts = inner
            .per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = counts.entry(client.to_owned()).or_insert(0);
        if *held >= inner.client_share {
            return None;
        }
        *held += 1;
        Some(Self {
            inner: Arc::clone(inner),
            client: client.to_owned(),
        })
    }
}

impl Drop for ClientShare {
    fn drop(&mut self) {
        let mut counts = self
            .inner
            .per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(held) = counts.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Counts one hash on a CPU for as long as it lives.
struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.peak.fetch_max(now, Ordering::SeqCst);
        metrics::gauge!("auth_hash_in_flight").set(now as f64);
        Self(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let now = self.0.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("auth_hash_in_flight").set(now as f64);
    }
}

impl Pbkdf2Hasher {
    /// A hasher with `iterations` rounds.
    ///
    /// # Errors
    /// When the parameters are out of range (fewer than 1000 rounds).
    pub fn new(
        iterations: u32,
        concurrency: usize,
        queue: usize,
        client_share: usize,
    ) -> anyhow::Result<Self> {
        let params =
            Params::new(iterations).map_err(|e| anyhow::anyhow!("password.iterations: {e}"))?;
        let hasher = Pbkdf2::new(Algorithm::Pbkdf2Sha256, params);
        let concurrency = concurrency.max(1);
        let dummy = hasher
            .hash_password(b"no account has this password")
            .map_err(|e| anyhow::anyhow!("cannot compute the dummy hash: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                per_client: std::sync::Mutex::default(),
                client_share: client_share.max(1),
                hasher,
                threads: HashThreads::start(concurrency)
                    .map_err(|e| anyhow::anyhow!("cannot start the hashing threads: {e}"))?,
                rounds: iterations,
                running: Arc::new(Semaphore::new(concurrency)),
                admitted: Arc::new(Semaphore::new(concurrency + queue)),
                dummy: PasswordHash::new(dummy.to_string()),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs `job` on a hashing thread once a slot is free.
    ///
    /// Both permits are owned and move into the blocking closure: a slot is
    /// free again only when the CPU work has ended, not when the request
    /// future is dropped (a client that resets its connection must not be
    /// able to start unbounded hashes).
    async fn run<T: Send + 'static>(
        &self,
        client: &str,
        job: impl FnOnce(&Pbkdf2) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let Some(share) = ClientShare::take(&self.inner, client) else {
            return Err(HashError::ClientBusy {
                retry_after: Duration::from_secs(1),
            });
        };
        let Ok(admitted) = Arc::clone(&self.inner.admitted).try_acquire_owned() else {
            return Err(HashError::Busy {
                retry_after: Duration::from_secs(1),
            });
        };
        let running = Arc::clone(&self.inner.running)
            .acquire_owned()
            .await
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let inner = Arc::clone(&self.inner);
        self.inner
            .threads
            .run(move || {
                let _permits = (admitted, running, share);
                let _counted = InFlight::enter(&inner);
                job(&inner.hasher)
            })
            .await
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    /// Hashes computing right now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// The most hashes ever computed at once by this hasher.
    #[must_use]
    pub fn peak_in_flight(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }
}

impl PasswordHasher for Pbkdf2Hasher {
    async fn hash(&self, password: Password, client: &str) -> Result<PasswordHash, HashError> {
        self.run(client, move |hasher| {
            hasher.hash_password(password.expose().as_bytes())
        })
        .await?
        .map(|hash| PasswordHash::new(hash.to_string()))
        .map_err(|e| HashError::Failed(e.to_string()))
    }

    async fn verify(
        &self,
        password: Password,
        hash: PasswordHash,
        client: &str,
    ) -> Result<PasswordCheck, HashError> {
        let current = self.inner.rounds;
        self.run(client, move |hasher| {
            let parsed = phc::PasswordHash::new(hash.as_str())
                .map_err(|e| HashError::Failed(format!("unreadable password hash: {e}")))?;
            match hasher.verify_password(password.expose().as_bytes(), &parsed) {
                Ok(()) => {
                    let outdated = parsed.algorithm.as_str() != Algorithm::Pbkdf2Sha256.to_str()
                        || Params::try_from(&parsed).map_or(true, |p| p.rounds() < current);
                    Ok(PasswordCheck::Match {
                        needs_rehash: outdated,
                    })
                }
                Err(pbkdf2::password_hash::Error::PasswordInvalid) => Ok(PasswordCheck::Mismatch),
                Err(e) => Err(HashError::Failed(e.to_string())),
            }
        })
        .await?
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.inner.dummy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_flag_outdated_parameters() {
        let old = Pbkdf2Hasher::new(1000, 1, 4, 4).expect("hasher");
        let current = Pbkdf2Hasher::new(2000, 1, 4, 4).expect("hasher");
        let hash = old
            .hash(Password::new("Secret-123".into()), "c")
            .await
            .expect("hash");
        assert!(hash.as_str().starts_with("$pbkdf2-sha256$i=1000"));
        assert_eq!(
            old.verify(Password::new("Secret-123".into()), hash.clone(), "c")
                .await
                .expect("verify"),
            PasswordCheck::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            current
                .verify(Password::new("Secret-123".into()), hash.clone(), "c")
                .await
                .expect("verify"),
            PasswordCheck::Match { needs_rehash: true }
        );
        assert_eq!(
            current
                .verify(Password::new("wrong".into()), hash, "c")
                .await
                .expect("verify"),
            PasswordCheck::Mismatch
        );
        assert_eq!(
            current
                .verify(Password::new("x".into()), current.dummy_hash(), "c")
                .await
                .expect("verify"),
            PasswordCheck::Mismatch
        );
    }

    /// A request future dropped mid-hash (the client reset its connection)
    /// keeps its slot until the CPU work ends, so hashes never pile up past
    /// the configured concurrency.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn dropped_requests_keep_their_slot_until_the_hash_ends() {
        let hasher = Pbkdf2Hasher::new(400_000, 1, 16, 16).expect("hasher");
        let mut dropped = Vec::new();
        for _ in 0..8 {
            let h = hasher.clone();
            dropped.push(tokio::spawn(async move {
                h.hash(Password::new("Secret-123".into()), "c").await
            }));
        }
        // Wait until a hash is on a CPU, then drop every request future.
        while hasher.in_flight() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for task in &dropped {
            task.abort();
        }
        // New work arrives while the orphaned hash still runs.
        let more: Vec<_> = (0..4)
            .map(|_| {
                let h = hasher.clone();
                tokio::spawn(async move { h.hash(Password::new("Secret-456".into()), "c").await })
            })
            .collect();
        for task in more {
            task.await.expect("task").expect("hash");
        }
        assert_eq!(
            hasher.peak_in_flight(),
            1,
            "never more than the concurrency"
        );
        assert_eq!(hasher.in_flight(), 0);
    }

    /// One client cannot hold more than its share of the pool, even with
    /// its requests dropped; another client still gets served.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_client_holds_at_most_its_share() {
        let hasher = Pbkdf2Hasher::new(400_000, 2, 16, 1).expect("hasher");
        let h = hasher.clone();
        let first =
            tokio::spawn(async move { h.hash(Password::new("Secret-1".into()), "flooder").await });
        while hasher.in_flight() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let second = hasher
            .hash(Password::new("Secret-1".into()), "flooder")
            .await;
        assert!(
            matches!(second, Err(HashError::ClientBusy { .. })),
            "{second:?}"
        );
        // The client gives up on its request; the hash it started still
        // holds the client's share until it ends.
        first.abort();
        let _ = first.await;
        if hasher.in_flight() > 0 {
            let again = hasher
                .hash(Password::new("Secret-1".into()), "flooder")
                .await;
            assert!(
                matches!(again, Err(HashError::ClientBusy { .. })),
                "{again:?}"
            );
        }
        hasher
            .hash(Password::new("Secret-2".into()), "someone else")
            .await
            .expect("another client is served");
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        let hasher = Pbkdf2Hasher::new(1000, 1, 0, 4).expect("hasher");
        // Hold the only admission slot.
        let _held = hasher.inner.admitted.try_acquire().expect("slot");
        let result = hasher.hash(Password::new("Secret-123".into()), "c").await;
        assert!(matches!(result, Err(HashError::Busy { .. })));
    }
}
