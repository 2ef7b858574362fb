//! Progress reports: one type, [`Progress`], for every level.
//!
//! [`UploadRequest::with_progress`](crate::UploadRequest::with_progress) (a whole VOD upload: media, cover and
//! segments), [`UploadOptions::with_progress`](crate::cos::UploadOptions::with_progress) (one object through
//! [`CosClient::upload`](crate::CosClient::upload)) and [`UploadHandle::progress`](crate::UploadHandle::progress)
//! all report the same [`Progress`] value, through the same callback signature `Fn(&Progress)`.
//!
//! For one object, `object_bytes_sent` is monotonic, never above the object's size, and ends exactly at it: when
//! an attempt fails, the bytes it had reported are rolled back internally and only reported again once the retry
//! has re-sent more than was ever reported. The aggregate `bytes_sent` is the sum over the upload's objects.
//!
//! The callback runs on the upload's tasks, under a small lock that keeps reports ordered: keep it fast (update a
//! counter or a progress bar, or forward the value to a channel).

use crate::cos::CompletedPart;
use std::fmt;
use std::sync::{Arc, Mutex};

/// What a [`Progress`] report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// More bytes of the object were handed to the network.
    Sent,
    /// COS confirmed one part of a multipart upload and its CRC-64 was verified. `upload_id` and `part` are what
    /// a [`ResumeState`](crate::cos::ResumeState) records: persist them to resume the upload later.
    PartDone {
        /// The multipart upload id.
        upload_id: String,
        /// The part, as COS confirmed it.
        part: CompletedPart,
    },
    /// A part (or single PUT) request failed and is sent again; the bytes the failed attempt had reported are not
    /// counted twice.
    Retrying {
        /// The part number (`None` for a single PUT).
        part: Option<u32>,
    },
    /// The object is uploaded and verified (or, resuming, was found complete on COS).
    ObjectDone,
}

/// A progress report. The same type at every level: for an upload through
/// [`VodClient`](crate::VodClient) the totals cover every object of the upload (media, cover, HLS/DASH
/// segments); for [`CosClient::upload`](crate::CosClient::upload) the one object.
///
/// ```
/// use tencent_vod::{Progress, ProgressEvent};
/// fn show(p: &Progress) {
///     match &p.event {
///         ProgressEvent::ObjectDone => println!("{} done", p.object),
///         ProgressEvent::Retrying { part } => println!("{}: retrying part {part:?}", p.object),
///         _ => {
///             if let Some(total) = p.total {
///                 println!("{} / {total} bytes ({} retries)", p.bytes_sent, p.retries);
///             }
///         }
///     }
/// }
/// # let _ = show;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What happened.
    pub event: ProgressEvent,
    /// The object this report is about (its COS key).
    pub object: String,
    /// Bytes of that object sent so far.
    pub object_bytes_sent: u64,
    /// That object's size, when known (a reader of unknown length is known once it ends).
    pub object_total: Option<u64>,
    /// Bytes sent so far, over every object of the upload.
    pub bytes_sent: u64,
    /// Bytes of every object of the upload, once every size is known.
    pub total: Option<u64>,
    /// Part and PUT requests sent again so far (over every object of the upload).
    pub retries: u32,
}

/// A progress callback as the crate stores it.
pub(crate) type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Receives each report with the index of the object it is about.
type Consumer = Box<dyn Fn(usize, &Progress) + Send + Sync>;

/// Where the reports of one upload go: sums its objects and hands each report, in order, to a consumer that
/// also learns which object (by index) it is about.
pub(crate) struct ProgressSink {
    consumer: Consumer,
    state: Mutex<SinkState>,
}

struct SinkState {
    sent: Vec<u64>,
    sizes: Vec<Option<u64>>,
    bytes_sent: u64,
    retries: u32,
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink(..)")
    }
}

impl ProgressSink {
    /// A sink for objects of the given sizes (`None`: unknown until the object ends), starting from `retries`.
    pub(crate) fn new(
        sizes: Vec<Option<u64>>,
        retries: u32,
        consumer: impl Fn(usize, &Progress) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(ProgressSink {
            consumer: Box::new(consumer),
            state: Mutex::new(SinkState {
                sent: vec![0; sizes.len()],
                sizes,
                bytes_sent: 0,
                retries,
            }),
        })
    }

    /// A sink for one object, reporting to `callback`.
    pub(crate) fn single(callback: ProgressFn) -> Arc<Self> {
        Self::new(vec![None], 0, move |_, p| callback(p))
    }

    /// The reporter of object `index`.
    pub(crate) fn object(self: &Arc<Self>, index: usize) -> ObjectProgress {
        ObjectProgress {
            sink: Arc::clone(self),
            index,
        }
    }

    /// Retries reported so far.
    pub(crate) fn retries(&self) -> u32 {
        self.lock().retries
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(
        &self,
        index: usize,
        object: &str,
        event: ProgressEvent,
        object_bytes_sent: u64,
        object_total: Option<u64>,
    ) {
        let mut s = self.lock();
        if index >= s.sent.len() {
            return;
        }
        if matches!(event, ProgressEvent::Retrying { .. }) {
            s.retries = s.retries.saturating_add(1);
        }
        let prev = std::mem::replace(&mut s.sent[index], object_bytes_sent);
        s.bytes_sent = s.bytes_sent - prev + object_bytes_sent;
        if object_total.is_some() {
            s.sizes[index] = object_total;
        }
        let total = s.sizes.iter().try_fold(0u64, |acc, n| Some(acc + (*n)?));
        let progress = Progress {
            event,
            object: object.to_string(),
            object_bytes_sent,
            object_total: s.sizes[index],
            bytes_sent: s.bytes_sent,
            total,
            retries: s.retries,
        };
        // Called under the lock: reports reach the consumer in the order their state was computed.
        (self.consumer)(index, &progress);
    }
}

/// Reports the progress of one object of a [`ProgressSink`].
#[derive(Debug, Clone)]
pub(crate) struct ObjectProgress {
    sink: Arc<ProgressSink>,
    index: usize,
}

impl ObjectProgress {
    /// Reports the object as already complete (found on COS when resuming), without a transfer.
    pub(crate) fn skipped(&self, object: &str, size: u64) {
        self.sink.report(
            self.index,
            object,
            ProgressEvent::ObjectDone,
            size,
            Some(size),
        );
    }
}

/// Per-object accounting: the live byte count (which a failed attempt rolls back) and the high-water mark that
/// is reported, so reports stay monotonic and within the total.
pub(crate) struct ProgressTracker {
    key: String,
    progress: Option<ObjectProgress>,
    state: Mutex<TrackerState>,
}

struct TrackerState {
    total: Option<u64>,
    live: u64,
    reported: u64,
}

impl ProgressTracker {
    pub(crate) fn new(key: &str, total: Option<u64>, progress: Option<ObjectProgress>) -> Self {
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

    fn emit(&self, s: &TrackerState, event: ProgressEvent) {
        if let Some(p) = &self.progress {
            p.sink
                .report(p.index, &self.key, event, s.reported, s.total);
        }
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
                self.emit(s, ProgressEvent::Sent);
            }
        })
    }

    /// Rolls back the bytes of a failed attempt.
    pub(crate) fn sub(&self, n: u64) {
        self.with_state(|s| s.live = s.live.saturating_sub(n));
    }

    /// A request of this object (part `part`, or the single PUT) is sent again.
    pub(crate) fn retrying(&self, part: Option<u32>) {
        self.with_state(|s| self.emit(s, ProgressEvent::Retrying { part }))
    }

    /// A part was confirmed by COS and verified.
    pub(crate) fn part_done(&self, upload_id: &str, part: &CompletedPart) {
        self.with_state(|s| {
            self.emit(
                s,
                ProgressEvent::PartDone {
                    upload_id: upload_id.to_string(),
                    part: part.clone(),
                },
            )
        })
    }

    /// The object is complete (`size` bytes): the last report says `size` of `Some(size)` (a reader of unknown
    /// length learns its size only now).
    pub(crate) fn finish(&self, size: u64) {
        self.with_state(|s| {
            s.total = Some(size);
            s.live = size;
            s.reported = size;
            self.emit(s, ProgressEvent::ObjectDone);
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

    type Seen = Arc<Mutex<Vec<(usize, Progress)>>>;

    fn recording(sizes: Vec<Option<u64>>) -> (Arc<ProgressSink>, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let sink = ProgressSink::new(sizes, 0, move |i, p| s.lock().unwrap().push((i, p.clone())));
        (sink, seen)
    }

    #[test]
    fn rollback_keeps_reports_monotonic_and_bounded() {
        let (sink, seen) = recording(vec![Some(100)]);
        let t = ProgressTracker::new("k", Some(100), Some(sink.object(0)));
        t.add(40);
        t.add(30); // attempt of part 2 reported 30…
        t.sub(30); // …then failed
        t.retrying(Some(2));
        assert_eq!(t.live(), 40);
        t.add(20); // retry: 60 < 70 reported, nothing new
        t.add(10); // 70
        t.add(30); // 100
        t.finish(100);
        let v: Vec<Progress> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.clone())
            .collect();
        let bytes: Vec<u64> = v.iter().map(|p| p.object_bytes_sent).collect();
        assert!(bytes.windows(2).all(|w| w[0] <= w[1]), "{bytes:?}");
        assert!(bytes.iter().all(|&b| b <= 100));
        assert_eq!(bytes, vec![40, 70, 70, 100, 100]);
        assert_eq!(v[2].event, ProgressEvent::Retrying { part: Some(2) });
        assert_eq!(v.last().unwrap().event, ProgressEvent::ObjectDone);
        assert_eq!(v.last().unwrap().retries, 1);
        assert_eq!(sink.retries(), 1);
    }

    #[test]
    fn aggregates_objects_and_learns_unknown_sizes() {
        let (sink, seen) = recording(vec![Some(10), None]);
        let media = ProgressTracker::new("media", Some(10), Some(sink.object(0)));
        let stream = ProgressTracker::new("stream", None, Some(sink.object(1)));
        media.add(4);
        stream.add(7);
        media.finish(10);
        stream.finish(9);
        sink.object(0).skipped("media", 10);
        let v: Vec<(usize, Progress)> = seen.lock().unwrap().clone();
        let row = |i: usize| (v[i].0, v[i].1.bytes_sent, v[i].1.total);
        assert_eq!(row(0), (0, 4, None));
        assert_eq!(row(1), (1, 11, None), "the stream's size is not known yet");
        assert_eq!(row(2), (0, 17, None));
        assert_eq!(row(3), (1, 19, Some(19)), "known once the stream ends");
        assert_eq!(v[3].1.object_total, Some(9));
        assert_eq!(row(4), (0, 19, Some(19)));
        assert!(v.iter().all(|(_, p)| p.retries == 0));
    }
}
