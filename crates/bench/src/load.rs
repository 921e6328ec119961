//! A closed-loop HTTP load generator: `concurrency` keep-alive connections,
//! each sending its next request as soon as the last one answered, for a
//! fixed window; it counts successes and keeps every latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::seed::{PASSWORD, World};

/// What one run measured.
#[derive(Debug, Default)]
pub struct Run {
    pub ok: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// Latencies of the successful requests, in microseconds.
    pub latencies: Vec<u32>,
}

impl Run {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A percentile of the successful requests' latency, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
    }

    /// The 99th percentile, in milliseconds.
    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(99.0)
    }

    fn merge(&mut self, other: Self) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.latencies.extend(other.latencies);
    }
}

/// One request a worker sends.
#[derive(Clone, Debug)]
enum Request {
    Get {
        url: String,
        authorization: String,
    },
    Post {
        url: String,
        body: Value,
    },
    /// A POST with credentials.
    PostAuthed {
        url: String,
        body: Value,
        authorization: String,
    },
}

/// Drives one service.
#[derive(Clone, Debug)]
pub struct Load {
    client: reqwest::Client,
    base: String,
}

impl Load {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: base.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `concurrency` workers send requests made by `next(worker, n)` until
    /// `window` is over; `check` says whether an answer counts as a success
    /// and may update the worker's state.
    async fn drive<S, N, C>(
        &self,
        concurrency: usize,
        window: Duration,
        state: impl Fn(usize) -> S,
        next: N,
        check: C,
    ) -> Run
    where
        S: Send + 'static,
        N: Fn(&mut S, usize) -> Request + Send + Sync + 'static,
        C: Fn(&mut S, u16, &[u8]) -> bool + Send + Sync + 'static,
    {
        let next = Arc::new(next);
        let check = Arc::new(check);
        let started = Instant::now();
        let deadline = started + window;
        let mut tasks = Vec::with_capacity(concurrency);
        for worker in 0..concurrency {
            let client = self.client.clone();
            let next = Arc::clone(&next);
            let check = Arc::clone(&check);
            let mut state = state(worker);
            tasks.push(tokio::spawn(async move {
                let mut run = Run::default();
                let mut n = 0;
                while Instant::now() < deadline {
                    let request = next(&mut state, n);
                    n += 1;
                    let sent = Instant::now();
                    let response = match request {
                        Request::Get { url, authorization } => {
                            client
                                .get(url)
                                .header("authorization", authorization)
                                .send()
                                .await
                        }
                        Request::Post { url, body } => client.post(url).json(&body).send().await,
                        Request::PostAuthed {
                            url,
                            body,
                            authorization,
                        } => {
                            client
                                .post(url)
                                .header("authorization", authorization)
                                .json(&body)
                                .send()
                                .await
                        }
                    };
                    let passed = match response {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let body = response.bytes().await.unwrap_or_default();
                            check(&mut state, status, &body)
                        }
                        Err(_) => false,
                    };
                    if passed {
                        run.ok += 1;
                        run.latencies
                            .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        run.failed += 1;
                    }
                }
                run
            }));
        }
        let mut total = Run::default();
        for task in tasks {
            if let Ok(run) = task.await {
                total.merge(run);
            }
        }
        total.elapsed = started.elapsed();
        total
    }

    /// GETs `url` with the given `Authorization` values in rotation.
    pub async fn get_rotating(
        &self,
        url: &str,
        authorizations: &[String],
        concurrency: usize,
        window: Duration,
    ) -> Run {
        let url = url.to_owned();
        let authorizations: Arc<[String]> = authorizations.into();
        let count = authorizations.len().max(1);
        self.drive(
            concurrency,
            window,
            |worker| worker,
            move |worker, n| Request::Get {
                url: url.clone(),
                authorization: authorizations[(*worker * 7919 + n) % count].clone(),
            },
            |_, status, _| status == 200,
        )
        .await
    }

    /// `POST /authorize` with the gateway's key, about seeded users in
    /// rotation (one permission: the decision is cached after the first).
    pub async fn authorize(&self, world: &World, concurrency: usize, window: Duration) -> Run {
        let url = self.url("/api/v1/auth/authorize");
        let key = world.service_key.clone();
        let subjects: Arc<[Uuid]> = world.sessions.iter().map(|(u, _, _)| *u).collect();
        let count = subjects.len().max(1);
        self.drive(
            concurrency,
            window,
            |worker| worker,
            move |worker, n| Request::PostAuthed {
                url: url.clone(),
                body: json!({
                    "subject": { "user_id": subjects[(*worker * 7919 + n) % count] },
                    "permission": "profile:read",
                }),
                authorization: key.clone(),
            },
            |_, status, body| status == 200 && body.starts_with(b"{\"allowed\":true"),
        )
        .await
    }

    /// Password logins of seeded users, in rotation.
    pub async fn logins(&self, world: &World, concurrency: usize, window: Duration) -> Run {
        let url = self.url("/api/v1/auth/login");
        let emails: Arc<[String]> = world.emails.clone().into();
        let count = emails.len().max(1);
        self.drive(
            concurrency,
            window,
            |worker| worker,
            move |worker, n| Request::Post {
                url: url.clone(),
                body: json!({
                    "email": emails[(*worker * 104_729 + n * 31) % count],
                    "password": PASSWORD,
                }),
            },
            |_, status, _| status == 200,
        )
        .await
    }

    /// Validation at 64 connections while 32 more keep logins saturated.
    pub async fn validate_under_logins(
        &self,
        world: &World,
        tokens: &[String],
        window: Duration,
    ) -> (Run, Run) {
        let url = self.url("/api/v1/auth/verify-token");
        let logins = self.logins(world, 32, window);
        let validate = self.get_rotating(&url, tokens, 64, window);
        let (logins, validate) = tokio::join!(logins, validate);
        (validate, logins)
    }

    /// Refresh rotations: each worker owns a share of the seeded sessions and
    /// presents each one's newest refresh token in turn.
    pub async fn refreshes(&self, world: &World, concurrency: usize, window: Duration) -> Run {
        let url = self.url("/api/v1/auth/refresh");
        let tokens: Vec<String> = world.sessions.iter().map(|(_, _, t)| t.clone()).collect();
        let tokens = Arc::new(std::sync::Mutex::new(Some(tokens)));
        let shares = move |worker: usize| {
            let all = tokens
                .lock()
                .ok()
                .and_then(|t| t.clone())
                .unwrap_or_default();
            let mine: Vec<String> = all.into_iter().skip(worker).step_by(concurrency).collect();
            (mine, 0_usize)
        };
        self.drive(
            concurrency,
            window,
            shares,
            move |(mine, current), n| {
                *current = n % mine.len().max(1);
                Request::Post {
                    url: url.clone(),
                    body: json!({ "refresh_token": mine.get(*current).cloned().unwrap_or_default() }),
                }
            },
            |(mine, current), status, body| {
                if status != 200 {
                    return false;
                }
                let Some(next) = serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|v| v["refresh_token"].as_str().map(str::to_owned))
                else {
                    return false;
                };
                if let Some(slot) = mine.get_mut(*current) {
                    *slot = next;
                }
                true
            },
        )
        .await
    }

    /// Registrations of fresh addresses.
    pub async fn registrations(&self, concurrency: usize, window: Duration) -> Run {
        let url = self.url("/api/v1/auth/register");
        let counter = Arc::new(AtomicUsize::new(0));
        let run = uuid::Uuid::now_v7().simple().to_string();
        self.drive(
            concurrency,
            window,
            |worker| worker,
            move |_, _| Request::Post {
                url: url.clone(),
                body: json!({
                    "email": format!("new{}-{run}@bench.example.com", counter.fetch_add(1, Ordering::Relaxed)),
                    "password": PASSWORD,
                }),
            },
            |_, status, _| status == 201,
        )
        .await
    }

    /// One POST, timed; whether it answered `expected`.
    pub async fn post_timed(&self, path: &str, body: &Value, expected: u16) -> Option<Duration> {
        let sent = Instant::now();
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        let _ = response.bytes().await;
        (status == expected).then(|| sent.elapsed())
    }
}
