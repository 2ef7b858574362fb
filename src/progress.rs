//! Upload progress: events delivered to a caller-supplied callback.
//!
//! A [`Progress`] wraps an `Arc<dyn Fn(ProgressEvent) + Send + Sync>`. The COS engine calls it as request bodies
//! are handed to the HTTP stack and when a part is confirmed. For one object, `bytes_sent` is monotonic, never
//! above `total`, and ends exactly at `total`: when an attempt fails, the bytes it had reported are rolled back
//! internally and only reported again once the retry has re-sent more than was ever reported.
//!
//! The callback runs on the upload's tasks, under a small lock that keeps events ordered: keep it fast (update a
//! counter or a progress bar, or forward with [`Progress::channel`]).

use std::fmt;
use std::sync::{Arc, Mutex};

/// One progress report for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressEvent {
    /// The object key.
    pub key: String,
    /// Bytes of this object sent so far (cumulative, monotonic).
    pub bytes_sent: u64,
    /// The object's size, when known (a reader of unknown length reports `None` until it ends).
    pub total: Option<u64>,
    /// Set when this event reports a part (or a single PUT, as part 1) confirmed by COS.
    pub part_done: Option<u32>,
}

/// A progress callback. Cheap to clone.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use tencent_vod::cos::Progress;
/// let sent = Arc::new(AtomicU64::new(0));
/// let s = sent.clone();
/// let progress = Progress::new(move |e| s.store(e.bytes_sent, Ordering::Relaxed));
/// # let _ = progress;
/// ```
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(ProgressEvent) + Send + Sync>);

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Progress {
    /// A callback.
    pub fn new(f: impl Fn(ProgressEvent) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }

    /// A callback forwarding every event into an unbounded channel (events are dropped once the receiver is).
    pub fn channel() -> (Self, tokio::sync::mpsc::UnboundedReceiver<ProgressEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (
            Progress::new(move |e| {
                let _ = tx.send(e);
            }),
            rx,
        )
    }

    /// Delivers one event.
    pub fn emit(&self, event: ProgressEvent) {
        (self.0)(event)
    }
}

impl<F> From<F> for Progress
where
    F: Fn(ProgressEvent) + Send + Sync + 'static,
{
    fn from(f: F) -> Self {
        Progress::new(f)
    }
}

/// Per-object accounting: the live byte count (which a failed attempt rolls back) and the high-water mark that
/// is reported, so reports stay monotonic and within the total.
pub(crate) struct ProgressTracker {
    key: String,
    progress: Option<Progress>,
    state: Mutex<TrackerState>,
}

struct TrackerState {
    total: Option<u64>,
    live: u64,
    reported: u64,
}

impl ProgressTracker {
    pub(crate) fn new(key: &str, total: Option<u64>, progress: Option<Progress>) -> Self {
        ProgressTracker {
            key: key.to_string(),
            progress,
            state: Mutex::new(TrackerState {
                total,
                live: 0,
                reported: 0,
            }),
        }
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut TrackerState) -> R) -> R {
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Bytes handed to the HTTP stack.
    pub(crate) fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.with_state(|s| {
            s.live = s.live.saturating_add(n);
            let capped = match s.total {
                Some(t) => s.live.min(t),
                None => s.live,
            };
            if capped > s.reported {
                s.reported = capped;
                if let Some(p) = &self.progress {
                    p.emit(ProgressEvent {
                        key: self.key.clone(),
                        bytes_sent: s.reported,
                        total: s.total,
                        part_done: None,
                    });
                }
            }
        })
    }

    /// Rolls back the bytes of a failed attempt.
    pub(crate) fn sub(&self, n: u64) {
        self.with_state(|s| s.live = s.live.saturating_sub(n));
    }

    /// A part (or the single PUT) was confirmed by COS.
    pub(crate) fn part_done(&self, part: u32) {
        self.with_state(|s| {
            if let Some(p) = &self.progress {
                p.emit(ProgressEvent {
                    key: self.key.clone(),
                    bytes_sent: s.reported,
                    total: s.total,
                    part_done: Some(part),
                });
            }
        })
    }

    /// The object is complete (`size` bytes): makes sure the last report says `size` of `Some(size)` (a reader
    /// of unknown length learns its size only now).
    pub(crate) fn finish(&self, size: u64) {
        self.with_state(|s| {
            let was_unknown = s.total != Some(size);
            s.total = Some(size);
            s.live = size;
            if s.reported != size || was_unknown {
                s.reported = size;
                if let Some(p) = &self.progress {
                    p.emit(ProgressEvent {
                        key: self.key.clone(),
                        bytes_sent: size,
                        total: Some(size),
                        part_done: None,
                    });
                }
            }
        })
    }

    /// Bytes credited so far (live count).
    #[cfg(test)]
    pub(crate) fn live(&self) -> u64 {
        self.with_state(|s| s.live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_keeps_reports_monotonic_and_bounded() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let t = ProgressTracker::new(
            "k",
            Some(100),
            Some(Progress::new(move |e| s.lock().unwrap().push(e.bytes_sent))),
        );
        t.add(40);
        t.add(30); // attempt of part 2 reported 30…
        t.sub(30); // …then failed
        assert_eq!(t.live(), 40);
        t.add(20); // retry: 60 < 70 reported, nothing new
        t.add(10); // 70
        t.add(30); // 100
        t.finish(100);
        let v = seen.lock().unwrap().clone();
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "{v:?}");
        assert!(v.iter().all(|&b| b <= 100));
        assert_eq!(*v.last().unwrap(), 100);
        assert_eq!(v, vec![40, 70, 100]);
    }
}
