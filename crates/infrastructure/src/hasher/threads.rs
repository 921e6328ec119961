//! The threads password hashes run on: a fixed set, started with the
//! hasher, each lowered once to the least favoured scheduling of the normal
//! policy (`SCHED_BATCH`, nice 19), so a request worker that wakes up
//! always preempts a hash. Hashing then takes the CPU the request work
//! leaves: logins slow down under heavy traffic, token validation does not.
//!
//! A dedicated set rather than tokio's blocking pool, whose threads also
//! serve file I/O and would keep the lowered priority (an unprivileged
//! process cannot raise it again).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Hands jobs to the hashing threads; they stop when it is dropped.
#[derive(Debug)]
pub(super) struct HashThreads {
    jobs: mpsc::Sender<Job>,
}

/// The threads are gone (only while the process shuts down).
#[derive(Debug, thiserror::Error)]
#[error("the hashing threads have stopped")]
pub(super) struct Stopped;

impl HashThreads {
    /// Starts `count` threads.
    ///
    /// # Errors
    /// When the OS refuses a thread.
    pub(super) fn start(count: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..count.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("auth-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { break };
                        // A panicking job loses its answer (the caller sees
                        // `Stopped`), not the thread.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `job` on a hashing thread and waits for its result. Callers
    /// bound how many jobs are queued (the hasher's permits).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (answer, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(job());
            }))
            .map_err(|_| Stopped)?;
        result.await.map_err(|_| Stopped)
    }
}

/// Lowers the calling thread's priority; a platform that refuses keeps
/// hashing at normal priority (the bounded pool still protects workers).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let result = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
        );
        if let Err(err) = result {
            tracing::warn!(error = ?err, "could not lower the hashing thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        if let Err(err) =
            thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
        {
            tracing::warn!(error = ?err, "could not lower the hashing thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_named_threads_at_lowered_priority() {
        let threads = HashThreads::start(2).expect("threads");
        let (name, nice) = threads
            .run(|| {
                let name = std::thread::current().name().map(str::to_owned);
                // Field 19 of /proc/thread-self/stat is the nice value.
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
                let after_comm = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
                let nice = after_comm.split(' ').nth(16).map(str::to_owned);
                (name, nice)
            })
            .await
            .expect("ran");
        assert!(name.is_some_and(|n| n.starts_with("auth-hash-")));
        if cfg!(target_os = "linux") {
            assert_eq!(nice.as_deref(), Some("19"));
        }
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let threads = HashThreads::start(1).expect("threads");
        let failed = threads.run(|| -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(threads.run(|| 7).await.expect("still running"), 7);
    }
}
