//! The crate's one retry loop.
//!
//! Every remote call (VOD API actions and COS operations) goes through [`RetryConfig::run`]: the closure builds
//! and **signs a fresh request on every attempt** (new timestamp / key time), the loop asks
//! [`Error::is_retryable`](crate::Error::is_retryable) whether to try again, sleeps a full-jitter exponential
//! backoff (or the server's `Retry-After`), and records attempts and elapsed time on the final error.
//!
//! **Idempotency.** Each operation declares whether repeating it is harmless ([`Idempotency`]), as
//! object_store's retry loop does. An idempotent operation (PUT Object, Upload Part, HEAD, List Parts, Abort,
//! Initiate, ApplyUpload, reads) is retried on every retryable failure. A non-idempotent one (CommitUpload) is
//! retried only when the failure proves the request was not processed (connection refused, throttling); when the
//! outcome is unknown ([`Error::is_outcome_unknown`](crate::Error::is_outcome_unknown): a reset after the request
//! was sent, a timeout, a 5xx) the error goes back to the caller, which reconciles instead of re-sending blindly.
//!
//! **Clock skew.** A skew error ([`Error::is_clock_skew`](crate::Error::is_clock_skew):
//! `AuthFailure.SignatureExpire`, `RequestTimeTooSkewed`, "Request has expired") is retried once, immediately and
//! outside the retry budget: the attempt's response already taught the [clock](crate::transport::Clock) the
//! server's time (its `Date` header), so the retry is signed with corrected time.

use crate::error::Result;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Whether an operation may be repeated when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Idempotency {
    /// Repeating it has no further effect (or its effect is checked afterwards): every retryable failure is
    /// retried.
    #[default]
    Idempotent,
    /// Repeating it could act twice (CommitUpload): only failures that prove the request was not processed are
    /// retried; a failure of unknown outcome is returned at once for the caller to reconcile.
    NotIdempotent,
}

/// Retry policy: how many retries and how long to wait between them.
///
/// ```
/// use std::time::Duration;
/// use tencent_vod::RetryConfig;
/// let r = RetryConfig::default().with_max_retries(5).with_max_backoff(Duration::from_secs(5));
/// assert_eq!(r.max_retries, 5);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt (default 3; 0 disables retries).
    pub max_retries: u32,
    /// Backoff ceiling of the first retry (default 200 ms); doubles each retry.
    pub initial_backoff: Duration,
    /// Upper bound of any single backoff, `Retry-After` included (default 20 s).
    pub max_backoff: Duration,
    /// Stop retrying once this much time has passed since the first attempt (default: no limit).
    pub retry_timeout: Option<Duration>,
    counter: RetryCounter,
}

/// Counts retries made through one [`RetryConfig`] (shared by its clones).
#[derive(Debug, Clone, Default)]
pub struct RetryCounter(Arc<AtomicU64>);

impl RetryCounter {
    /// Retries made so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            retry_timeout: None,
            counter: RetryCounter::default(),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn disabled() -> Self {
        RetryConfig {
            max_retries: 0,
            ..Default::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    pub fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    pub fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets [`retry_timeout`](Self::retry_timeout).
    pub fn with_retry_timeout(mut self, d: Duration) -> Self {
        self.retry_timeout = Some(d);
        self
    }

    /// The retry counter shared by this policy's clones (how many retries the client made).
    pub fn counter(&self) -> &RetryCounter {
        &self.counter
    }

    /// The full-jitter backoff before retry number `retry` (1-based): uniform in `0..=min(max, initial·2^(retry-1))`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// Runs an idempotent `attempt` until it succeeds, fails with a non-retryable error, or the policy is
    /// exhausted. The closure receives the 1-based attempt number and must build and sign a fresh request each
    /// time. Same as [`run_with`](Self::run_with) and [`Idempotency::Idempotent`].
    pub(crate) async fn run<T, F, Fut>(&self, operation: &str, attempt: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_with(operation, Idempotency::Idempotent, attempt)
            .await
    }

    /// Runs `attempt` under this policy for an operation of the given [`Idempotency`] (see the
    /// [module docs](self)).
    pub(crate) async fn run_with<T, F, Fut>(
        &self,
        operation: &str,
        idempotency: Idempotency,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let start = tokio::time::Instant::now();
        let mut n = 0u32;
        let mut retries = 0u32;
        let mut skew_retried = false;
        loop {
            n += 1;
            let err = match attempt(n).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let elapsed = start.elapsed();
            let skew = err.is_clock_skew() && !skew_retried;
            let within_time = self.retry_timeout.is_none_or(|t| elapsed < t);
            let repeatable = match idempotency {
                Idempotency::Idempotent => true,
                Idempotency::NotIdempotent => !err.is_outcome_unknown(),
            };
            let retry = skew
                || (err.is_retryable() && repeatable && retries < self.max_retries && within_time);
            if !retry {
                if n > 1 {
                    tracing::warn!(operation, attempts = n, ?elapsed, error = %err, "giving up");
                } else if !repeatable && err.is_retryable() {
                    tracing::info!(
                        operation,
                        error = %err,
                        "not repeated: the request may have been processed (not idempotent)"
                    );
                }
                return Err(err.with_attempts(n, elapsed));
            }
            self.counter.0.fetch_add(1, Ordering::Relaxed);
            if skew {
                skew_retried = true;
                tracing::info!(
                    operation,
                    attempt = n,
                    error = %err,
                    "refused for clock skew: re-signing with the corrected clock and retrying once"
                );
                continue;
            }
            retries += 1;
            let delay = match err.retry_after() {
                Some(d) => d.min(self.max_backoff),
                None => self.backoff(retries),
            };
            tracing::debug!(operation, attempt = n, ?delay, error = %err, "retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, VodApiError};
    use std::sync::atomic::AtomicU32;

    fn vod(code: &str) -> Error {
        Error::Vod(Box::new(VodApiError {
            action: "ApplyUpload".into(),
            code: code.into(),
            message: "m".into(),
            request_id: Some("rid".into()),
            http_status: 200,
            attempts: 1,
            elapsed: Duration::ZERO,
        }))
    }

    #[test]
    fn backoff_is_bounded() {
        let r = RetryConfig::default();
        for i in 1..40 {
            assert!(r.backoff(i) <= Duration::from_secs(20));
        }
        assert!(r.backoff(1) <= Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_throttling_then_succeeds() {
        let calls = AtomicU32::new(0);
        let r = RetryConfig::default();
        let out = r
            .run("ApplyUpload", |_| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(vod("RequestLimitExceeded"))
                } else {
                    Ok(7)
                }
            })
            .await
            .unwrap();
        assert_eq!(out, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(r.counter().get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_and_records_attempts() {
        let r = RetryConfig::default().with_max_retries(2);
        let start = tokio::time::Instant::now();
        let e = r
            .run("CommitUpload", |_| async {
                Err::<(), _>(vod("InternalError"))
            })
            .await
            .unwrap_err();
        assert_eq!(e.attempts(), 3);
        assert_eq!(e.elapsed().unwrap(), start.elapsed());
        assert!(e.to_string().contains("after 3 attempt(s)"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_auth_or_parameter_errors() {
        for code in [
            "AuthFailure.SignatureFailure",
            "InvalidParameterValue.MediaType",
            "MissingParameter",
        ] {
            let calls = AtomicU32::new(0);
            let e = RetryConfig::default()
                .run("ApplyUpload", |_| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(vod(code))
                })
                .await
                .unwrap_err();
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{code}");
            assert_eq!(e.attempts(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn signature_expire_retried_once_without_sleeping() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let e = RetryConfig::default()
            .run("ApplyUpload", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(vod("AuthFailure.SignatureExpire"))
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(e.code(), Some("AuthFailure.SignatureExpire"));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    fn transport(kind: crate::error::TransportKind) -> Error {
        Error::Transport(Box::new(crate::error::TransportError {
            operation: "CommitUpload".into(),
            kind,
            source: Box::new(std::io::Error::other("reset")),
            attempts: 1,
            elapsed: Duration::ZERO,
            orphaned_uploads: Vec::new(),
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn not_idempotent_operations_are_repeated_only_when_not_processed() {
        use crate::error::TransportKind;
        // (error, idempotent attempts, not-idempotent attempts) with max_retries = 2.
        type Case = (fn() -> Error, u32, u32);
        let cases: Vec<Case> = vec![
            (|| transport(TransportKind::Body), 3, 1),
            (|| transport(TransportKind::Timeout), 3, 1),
            (|| transport(TransportKind::Connect), 3, 3),
            (|| vod("InternalError"), 3, 1),
            (|| vod("RequestLimitExceeded"), 3, 3),
            (|| vod("AuthFailure.SignatureExpire"), 2, 2),
            (|| vod("InvalidParameterValue.VodSessionKey"), 1, 1),
        ];
        for (make, idempotent, not_idempotent) in cases {
            for (idem, expected) in [
                (Idempotency::Idempotent, idempotent),
                (Idempotency::NotIdempotent, not_idempotent),
            ] {
                let calls = AtomicU32::new(0);
                let e = RetryConfig::default()
                    .with_max_retries(2)
                    .run_with("CommitUpload", idem, |_| async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Err::<(), _>(make())
                    })
                    .await
                    .unwrap_err();
                assert_eq!(calls.load(Ordering::SeqCst), expected, "{e} {idem:?}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_timeout_stops_early() {
        let r = RetryConfig::default()
            .with_max_retries(100)
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(1))
            .with_retry_timeout(Duration::from_secs(5));
        let e = r
            .run("x", |_| async { Err::<(), _>(vod("InternalError")) })
            .await
            .unwrap_err();
        assert!(e.attempts() < 100);
        assert!(e.elapsed().unwrap() <= Duration::from_secs(6));
    }
}
