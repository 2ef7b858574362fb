//! The crate's one clock: a local time source plus the learned offset to the services' time (see [`Clock`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A difference between the server's `Date` and the clock's estimate this large (seconds) replaces the offset.
/// `Date` has a resolution of one second and is stamped before the response travels back, so smaller
/// differences are noise.
pub(crate) const LEARN_THRESHOLD_SECS: i64 = 3;
/// An offset at least this large (seconds) is logged at `info` when learned (smaller ones at `debug`).
pub(crate) const LOG_THRESHOLD_SECS: i64 = 5;

/// Where the local wall-clock time comes from. Implemented by any `Fn() -> SystemTime` closure.
pub trait TimeSource: Send + Sync + 'static {
    /// The local time now.
    fn now(&self) -> SystemTime;
}

impl<F> TimeSource for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

struct Inner {
    source: Arc<dyn TimeSource>,
    offset: AtomicI64,
    correct: AtomicBool,
}

/// The crate's one clock: a local [`TimeSource`] plus the learned offset (seconds) to the services' time. Cheap
/// to clone; clones share the offset.
///
/// Every time-dependent decision goes through a [`Clock`]: the `X-TC-Timestamp` of TC3 and the `Timestamp` of v1
/// signatures, the COS key time, and the checks against `TempCertificate.ExpiredTime` (which is **server** time).
/// A host whose clock is off by more than the services allow (VOD: 5 minutes; COS: 15 minutes, or past the
/// signature's end) would otherwise fail every call, or sign with temporary credentials past their real expiry.
///
/// The clock corrects itself (unless [`Clock::with_skew_correction`] turned it off):
/// - from the `Date` header of every VOD and COS response: when the server's time differs from the current
///   estimate by 3 s or more, the offset is replaced (logged at `info` when it exceeds
///   5 s);
/// - the skew errors (`AuthFailure.SignatureExpire`, COS `RequestTimeTooSkewed`, COS `AccessDenied`
///   "Request has expired") carry such a `Date` too; the retry loop then re-signs and retries **once** with the
///   corrected time.
///
/// One clock is shared by a `VodClient`, its VOD API client and the COS clients of its uploads, so what one
/// response teaches serves every later request. Tests inject their own time source
/// ([`Clock::with_time_source`]) to run a host that is ahead of or behind the servers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tencent_vod::Clock;
/// // A host 15 minutes ahead of real time.
/// let clock = Clock::with_time_source(|| SystemTime::now() + Duration::from_secs(900));
/// assert!(clock.local_now() - clock.now() == 0 && clock.offset() == 0);
/// clock.set_offset(-900);
/// assert!((clock.now() - tencent_vod::Clock::system().now()).abs() <= 1);
/// ```
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("offset_secs", &self.offset())
            .field(
                "skew_correction",
                &self.inner.correct.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl Clock {
    /// The system clock, with skew correction on.
    pub fn system() -> Self {
        Clock::with_time_source(SystemTime::now)
    }

    /// A clock reading local time from `source` (tests: a host ahead of or behind real time, or a manually
    /// advanced time), with skew correction on.
    pub fn with_time_source(source: impl TimeSource) -> Self {
        Clock {
            inner: Arc::new(Inner {
                source: Arc::new(source),
                offset: AtomicI64::new(0),
                correct: AtomicBool::new(true),
            }),
        }
    }

    /// Turns learning from `Date` headers on or off (default on). With it off, [`now`](Self::now) is the local
    /// time plus whatever [`set_offset`](Self::set_offset) gave. Applies to every clone.
    pub fn with_skew_correction(self, on: bool) -> Self {
        self.inner.correct.store(on, Ordering::Relaxed);
        self
    }

    /// Local time (unix seconds), uncorrected.
    pub fn local_now(&self) -> i64 {
        unix_secs(self.inner.source.now())
    }

    /// The best estimate of the services' time (unix seconds): local time plus the learned offset. Used for
    /// signatures and for comparisons with `TempCertificate.ExpiredTime`.
    pub fn now(&self) -> i64 {
        self.local_now().saturating_add(self.offset())
    }

    /// The estimate of the services' time as a `SystemTime` (sub-second precision of the local source).
    pub fn now_system_time(&self) -> SystemTime {
        let local = self.inner.source.now();
        let off = self.offset();
        let d = std::time::Duration::from_secs(off.unsigned_abs());
        let t = if off >= 0 {
            local.checked_add(d)
        } else {
            local.checked_sub(d)
        };
        t.filter(|t| *t >= UNIX_EPOCH).unwrap_or(UNIX_EPOCH)
    }

    /// The time left until `deadline_unix` (unix seconds, server time), with sub-second precision; zero when
    /// it has passed.
    pub fn until(&self, deadline_unix: i64) -> std::time::Duration {
        let Ok(secs) = u64::try_from(deadline_unix) else {
            return std::time::Duration::ZERO;
        };
        (UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .duration_since(self.now_system_time())
            .unwrap_or_default()
    }

    /// The offset (seconds) added to local time: positive when the services are ahead of this host.
    pub fn offset(&self) -> i64 {
        self.inner.offset.load(Ordering::Relaxed)
    }

    /// Sets the offset (seconds) by hand.
    pub fn set_offset(&self, secs: i64) {
        self.inner.offset.store(secs, Ordering::Relaxed);
    }

    /// Learns from a response's `Date` header (`service` names the sender in the log). Returns whether the
    /// offset changed.
    pub(crate) fn observe(&self, service: &str, headers: &reqwest::header::HeaderMap) -> bool {
        if !self.inner.correct.load(Ordering::Relaxed) {
            return false;
        }
        let Some(server) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        else {
            return false;
        };
        self.observe_server_time(service, unix_secs(server))
    }

    /// Learns from a server time (unix seconds) read now. Returns whether the offset changed.
    pub(crate) fn observe_server_time(&self, service: &str, server_now: i64) -> bool {
        let local = self.local_now();
        let learned = server_now.saturating_sub(local);
        let previous = self.offset();
        if (learned - previous).abs() < LEARN_THRESHOLD_SECS {
            return false;
        }
        // Concurrent responses may race here; any of them is as good as the other.
        self.inner.offset.store(learned, Ordering::Relaxed);
        if learned.abs() >= LOG_THRESHOLD_SECS {
            tracing::info!(
                service,
                offset_s = learned,
                previous_offset_s = previous,
                "this host's clock differs from the server's: signing and expiry checks use server time"
            );
        } else {
            tracing::debug!(
                service,
                offset_s = learned,
                previous_offset_s = previous,
                "clock offset to server time updated"
            );
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;
    use std::time::Duration;

    fn manual(start: i64) -> (Clock, Arc<AtomicI64>) {
        let t = Arc::new(AtomicI64::new(start));
        let t2 = Arc::clone(&t);
        let clock = Clock::with_time_source(move || {
            UNIX_EPOCH + Duration::from_secs(t2.load(Ordering::Relaxed) as u64)
        });
        (clock, t)
    }

    fn date(unix: i64) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::DATE,
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(unix as u64))
                .parse()
                .unwrap(),
        );
        h
    }

    #[test]
    fn learns_offsets_beyond_the_threshold_only() {
        let (clock, local) = manual(1_700_000_000);
        assert_eq!(clock.now(), 1_700_000_000);
        // Within the threshold: noise.
        assert!(!clock.observe("VOD", &date(1_700_000_002)));
        assert!(!clock.observe("VOD", &date(1_699_999_998)));
        assert_eq!(clock.offset(), 0);
        // Host 15 minutes ahead of the server.
        assert!(clock.observe("VOD", &date(1_700_000_000 - 900)));
        assert_eq!(clock.offset(), -900);
        assert_eq!(clock.now(), 1_700_000_000 - 900);
        assert_eq!(clock.local_now(), 1_700_000_000);
        // Time passes on both sides: the offset holds, a one-second jitter changes nothing.
        local.store(1_700_000_100, Ordering::Relaxed);
        assert!(!clock.observe("COS", &date(1_700_000_100 - 901)));
        assert_eq!(clock.now(), 1_700_000_100 - 900);
        // No or a bad Date: nothing learned.
        assert!(!clock.observe("COS", &reqwest::header::HeaderMap::new()));
        let mut bad = reqwest::header::HeaderMap::new();
        bad.insert(reqwest::header::DATE, "yesterday".parse().unwrap());
        assert!(!clock.observe("COS", &bad));
        // Clones share the offset.
        let other = clock.clone();
        assert!(other.observe("VOD", &date(1_700_000_100 + 600)));
        assert_eq!(clock.offset(), 600);
    }

    #[test]
    fn correction_can_be_turned_off() {
        let (clock, _) = manual(1_000_000);
        let clock = clock.with_skew_correction(false);
        assert!(!clock.observe("VOD", &date(2_000_000)));
        assert_eq!(clock.offset(), 0);
        clock.set_offset(-5);
        assert_eq!(clock.now(), 999_995);
        assert!(format!("{clock:?}").contains("offset_secs: -5"));
    }

    #[test]
    fn precise_time_and_time_left() {
        let clock = Clock::with_time_source(|| UNIX_EPOCH + Duration::from_millis(10_250));
        clock.set_offset(-2);
        assert_eq!(clock.now(), 8);
        assert_eq!(
            clock.now_system_time(),
            UNIX_EPOCH + Duration::from_millis(8_250)
        );
        assert_eq!(clock.until(9), Duration::from_millis(750));
        assert_eq!(clock.until(8), Duration::ZERO);
        assert_eq!(clock.until(-1), Duration::ZERO);
    }

    #[test]
    fn times_before_the_epoch_do_not_panic() {
        let clock = Clock::with_time_source(|| UNIX_EPOCH - Duration::from_secs(10));
        assert_eq!(clock.local_now(), -10);
        assert_eq!(clock.now_system_time(), UNIX_EPOCH);
    }
}
