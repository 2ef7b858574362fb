//! The upload engine: planning, bounded concurrent parts, integrity, abort on failure, resume.

use super::crc::crc64_combine_all;
use super::ops::{
    CRC_HEADER, CompleteAnswer, CompleteMultipartUploadOutput, WriteResult, missing_etag,
    verify_crc,
};
use super::plan::{MAX_PARTS, PartPlan};
use super::source::{FileHandle, FileSnapshot, PartData, UploadSource};
use super::store::{MultipartStore, WriteTarget};
use super::xml::CompletePartXml;
use super::{CosClient, Ctx, TransferConfig, validate_key};
use crate::error::{CosOperation, Error, OrphanedUpload, Result};
use crate::progress::{ObjectProgress, Progress, ProgressSink, ProgressTracker};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// An in-flight budget shared by several uploads (e.g. a media file, its cover and HLS segments): each part or
/// single PUT holds one permit while it is sent. Cheap to clone (clones share the budget).
///
/// ```
/// use tencent_vod::cos::ConcurrencyBudget;
/// let budget = ConcurrencyBudget::new(8);
/// assert_eq!(budget.available(), 8);
/// ```
#[derive(Debug, Clone)]
pub struct ConcurrencyBudget(Arc<Semaphore>);

impl ConcurrencyBudget {
    /// A budget of `permits` requests in flight (at least 1, at most `Semaphore::MAX_PERMITS`).
    pub fn new(permits: usize) -> Self {
        ConcurrencyBudget(Arc::new(Semaphore::new(
            permits.clamp(1, Semaphore::MAX_PERMITS),
        )))
    }

    /// Permits not currently held.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }

    async fn acquire(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.0
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Cancelled)
    }
}

/// A byte-rate cap shared by uploads (e.g. every file of a batch): each part or single PUT waits for its turn
/// before it is sent, so the bytes handed to COS average at most `bytes_per_sec` over any interval longer than
/// one part's share. Cheap to clone (clones share the cap).
///
/// The cap is applied per request body (a part or a whole single PUT), not per network packet: a part itself
/// travels at line speed once its turn comes. Retries of a part are not charged again.
///
/// ```
/// use tencent_vod::cos::BandwidthLimit;
/// let cap = BandwidthLimit::new(20 << 20); // 20 MiB/s for everything that shares `cap`
/// assert_eq!(cap.bytes_per_sec(), 20 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct BandwidthLimit {
    bytes_per_sec: u64,
    /// When the next body may start (a reservation clock: each body pushes it by `len / rate`).
    next_free: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl BandwidthLimit {
    /// A cap of `bytes_per_sec` (at least 1).
    pub fn new(bytes_per_sec: u64) -> Self {
        BandwidthLimit {
            bytes_per_sec: bytes_per_sec.max(1),
            next_free: Arc::new(Mutex::new(None)),
        }
    }

    /// The cap, in bytes per second.
    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Reserves `len` bytes and waits until they may be sent (what each part does; usable for other traffic
    /// that should share the cap).
    pub async fn acquire(&self, len: u64) {
        let start = {
            let mut g = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            let start = g.filter(|t| *t > now).unwrap_or(now);
            let share = std::time::Duration::from_secs_f64(len as f64 / self.bytes_per_sec as f64);
            *g = Some(start + share);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// A part COS has confirmed (and whose CRC-64 was verified), as persisted by a checkpoint store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedPart {
    /// Part number (1-based).
    pub number: u32,
    /// ETag returned by Upload Part (quotes included).
    pub etag: String,
    /// CRC-64/XZ of the part's bytes.
    pub crc64: u64,
    /// Part size in bytes.
    pub size: u64,
}

/// Where to pick up an interrupted multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The multipart upload id.
    pub upload_id: String,
    /// Parts recorded as done. Only those List Parts confirms (same ETag and size) are skipped.
    pub completed_parts: Vec<CompletedPart>,
}

/// What happens to a multipart upload that does not complete (the upload failed or was cancelled).
///
/// A multipart upload left in place keeps its parts in the bucket (billed as storage) until it is resumed
/// ([`UploadOptions::with_resume`]), aborted ([`CosClient::abort_multipart_upload`]) or removed by a lifecycle
/// rule. A multipart upload that cannot be aborted is reported in [`Error::orphaned_uploads`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnfinishedUploadPolicy {
    /// Abort it, whatever stopped the upload (the default).
    #[default]
    Abort,
    /// Keep it when the upload is cancelled; abort it when the upload fails.
    KeepIfCancelled,
    /// Keep it when the upload is cancelled or fails, to resume it later (what a checkpointed VOD upload does).
    Keep,
}

impl UnfinishedUploadPolicy {
    /// Whether an upload that ended with `error` keeps its multipart upload.
    fn keeps(self, error: &Error) -> bool {
        match self {
            UnfinishedUploadPolicy::Abort => false,
            UnfinishedUploadPolicy::KeepIfCancelled => matches!(error, Error::Cancelled),
            UnfinishedUploadPolicy::Keep => true,
        }
    }
}

/// Options of one [`CosClient::upload`].
#[derive(Clone, Default)]
pub struct UploadOptions {
    config: TransferConfig,
    budget: Option<ConcurrencyBudget>,
    progress: Option<ObjectProgress>,
    cancellation: Option<CancellationToken>,
    unfinished: UnfinishedUploadPolicy,
    resume: Option<ResumeState>,
    content_type: Option<String>,
    expected_source: Option<FileSnapshot>,
    orphans: Option<OrphanSink>,
    bandwidth: Option<BandwidthLimit>,
}

/// Where multipart uploads that could not be aborted are recorded (besides the error and a `warn!`), so the
/// orchestration can report those of every object.
pub(crate) type OrphanSink = Arc<Mutex<Vec<OrphanedUpload>>>;

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("config", &self.config)
            .field("budget", &self.budget)
            .field("progress", &self.progress.is_some())
            .field("cancellation", &self.cancellation.is_some())
            .field("unfinished", &self.unfinished)
            .field("resume", &self.resume)
            .field("content_type", &self.content_type)
            .field("bandwidth", &self.bandwidth)
            .finish()
    }
}

impl UploadOptions {
    /// Transfer settings (threshold, part size, concurrency, integrity…).
    pub fn with_config(mut self, config: TransferConfig) -> Self {
        self.config = config;
        self
    }

    /// A shared in-flight budget (in addition to the per-upload concurrency).
    pub fn with_budget(mut self, budget: ConcurrencyBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// A shared byte-rate cap: each part or single PUT waits for its turn before it is sent.
    pub fn with_bandwidth_limit(mut self, limit: BandwidthLimit) -> Self {
        self.bandwidth = Some(limit);
        self
    }

    /// A progress callback: every report of this object ([`Progress`]), including each part confirmed by COS
    /// ([`ProgressEvent::PartDone`](crate::ProgressEvent::PartDone), what a [`ResumeState`] records).
    pub fn with_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressSink::single(Arc::new(f)).object(0));
        self
    }

    /// Reports to one object of an upload-wide sink (a VOD upload's aggregate).
    pub(crate) fn with_object_progress(mut self, progress: ObjectProgress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Cancellation: when `token` is cancelled, parts in flight are dropped, the multipart upload is aborted
    /// (unless the [policy](Self::with_unfinished_upload_policy) keeps it) and the upload returns
    /// [`Error::Cancelled`].
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = Some(token);
        self
    }

    /// What happens to the multipart upload when the upload fails or is cancelled (default: abort it).
    pub fn with_unfinished_upload_policy(mut self, policy: UnfinishedUploadPolicy) -> Self {
        self.unfinished = policy;
        self
    }

    /// Resume a multipart upload: List Parts confirms which recorded parts COS holds; only the others are sent.
    /// Ignored when the object is small enough for a single PUT. If COS no longer knows the upload id
    /// (`NoSuchUpload`), a new multipart upload is started.
    pub fn with_resume(mut self, state: ResumeState) -> Self {
        self.resume = Some(state);
        self
    }

    /// `Content-Type` of the object.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The transfer settings.
    pub fn config(&self) -> &TransferConfig {
        &self.config
    }

    /// The snapshot of the file source taken when it was checked: opening a file that no longer matches it
    /// fails with [`Error::SourceChanged`].
    pub(crate) fn with_expected_source(mut self, snapshot: Option<FileSnapshot>) -> Self {
        self.expected_source = snapshot;
        self
    }

    /// Also record multipart uploads that could not be aborted in `sink`.
    pub(crate) fn with_orphan_sink(mut self, sink: OrphanSink) -> Self {
        self.orphans = Some(sink);
        self
    }
}

/// What an upload produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOutput {
    /// Object key.
    pub key: String,
    /// Bytes uploaded.
    pub size: u64,
    /// CRC-64/XZ of the object (verified against COS when it reported one).
    pub crc64: u64,
    /// The object's ETag (empty if the server sent none for a PUT).
    pub etag: String,
    /// The multipart upload id (`None` for a single PUT).
    pub upload_id: Option<String>,
    /// Parts (1 for a single PUT).
    pub parts: u32,
    /// Request id of the final request (PUT or Complete).
    pub request_id: Option<String>,
}

/// Where multipart data comes from.
enum Feed {
    /// A file or a buffer: part `n` is a range, read when sent.
    Ranges {
        data: RangeData,
        plan: PartPlan,
        next: u32,
    },
    /// A sequential reader: parts are read in order into memory.
    Reader {
        reader: Box<dyn AsyncRead + Send + Unpin + 'static>,
        head: Bytes,
        part_size: u64,
        next: u32,
        expected: Option<u64>,
        read: u64,
        done: bool,
    },
}

enum RangeData {
    File(Arc<FileHandle>),
    Bytes(Bytes),
}

fn reader_error(e: std::io::Error) -> Error {
    Error::io("<reader>", "read", e)
}

async fn read_up_to(reader: &mut (dyn AsyncRead + Send + Unpin), limit: u64) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(limit.min(64 << 20) as usize);
    fill(reader, &mut buf, limit).await?;
    Ok(buf.freeze())
}

/// Appends up to `limit` bytes from `reader` to `buf` (stops early only at end of stream). Reads straight into
/// `buf`'s spare capacity: no intermediate buffer, no copy, and the buffer is never grown past what is needed
/// (unlike `read_to_end`, which doubles a full vector to probe for the end).
async fn fill(
    reader: &mut (dyn AsyncRead + Send + Unpin),
    buf: &mut BytesMut,
    limit: u64,
) -> Result<()> {
    let target = buf.len() as u64 + limit;
    while (buf.len() as u64) < target {
        let want = (target - buf.len() as u64).min(1 << 30) as usize;
        if buf.capacity() - buf.len() < want {
            buf.reserve(want.min(64 << 20));
        }
        let n = {
            let mut limited = (&mut *reader).take((target - buf.len() as u64).min(1 << 30));
            limited.read_buf(buf).await.map_err(reader_error)?
        };
        if n == 0 {
            break;
        }
    }
    Ok(())
}

async fn expect_eof(reader: &mut (dyn AsyncRead + Send + Unpin), declared: u64) -> Result<()> {
    let mut one = [0u8; 1];
    let n = reader.read(&mut one).await.map_err(reader_error)?;
    if n > 0 {
        return Err(Error::invalid(
            "source (reader)",
            format!("yielded more than its declared size of {declared} bytes"),
        ));
    }
    Ok(())
}

impl Feed {
    /// The open file, for a file source.
    fn file(&self) -> Option<Arc<FileHandle>> {
        match self {
            Feed::Ranges {
                data: RangeData::File(f),
                ..
            } => Some(f.clone()),
            _ => None,
        }
    }

    /// The part layout (what sizes parts have), detached from the data.
    fn layout(&self) -> Layout {
        match self {
            Feed::Ranges { plan, .. } => Layout::Plan(*plan),
            Feed::Reader {
                part_size,
                expected,
                ..
            } => Layout::Stream {
                part_size: *part_size,
                expected: *expected,
            },
        }
    }

    /// The next part to send, skipping those `skip` says are done. Reader parts are read into memory here.
    async fn next(&mut self, skip: impl Fn(u32) -> bool) -> Result<Option<(u32, PartData)>> {
        match self {
            Feed::Ranges { data, plan, next } => loop {
                let number = *next;
                let Some((offset, len)) = plan.part_range(number) else {
                    return Ok(None);
                };
                *next += 1;
                if skip(number) {
                    continue;
                }
                let part = match data {
                    RangeData::File(f) => PartData::File {
                        file: f.clone(),
                        offset,
                        len,
                    },
                    RangeData::Bytes(b) => {
                        PartData::Bytes(b.slice(offset as usize..(offset + len) as usize))
                    }
                };
                return Ok(Some((number, part)));
            },
            Feed::Reader {
                reader,
                head,
                part_size,
                next,
                expected,
                read,
                done,
            } => loop {
                if *done {
                    return Ok(None);
                }
                let want = match expected {
                    Some(total) => (*part_size).min(*total - *read),
                    None => *part_size,
                };
                if want == 0 {
                    *done = true;
                    if let Some(total) = expected {
                        expect_eof(reader.as_mut(), *total).await?;
                    }
                    return Ok(None);
                }
                let bytes = if head.len() as u64 >= want {
                    head.split_to(want as usize)
                } else {
                    // One buffer of exactly the part's size, filled in place and frozen without a copy.
                    let mut buf = BytesMut::with_capacity(want as usize);
                    buf.extend_from_slice(head);
                    *head = Bytes::new();
                    let rest = want - buf.len() as u64;
                    fill(reader.as_mut(), &mut buf, rest).await?;
                    buf.freeze()
                };
                let got = bytes.len() as u64;
                *read += got;
                if got < want {
                    *done = true;
                    if let Some(total) = expected {
                        return Err(Error::invalid(
                            "source (reader)",
                            format!(
                                "ended after {read} bytes, but its size was declared as {total}"
                            ),
                        ));
                    }
                    if got == 0 {
                        return Ok(None);
                    }
                }
                let number = *next;
                if u64::from(number) > MAX_PARTS {
                    return Err(Error::invalid(
                        "part_size",
                        format!(
                            "the stream needs more than 10,000 parts of {part_size} bytes; use a larger part size"
                        ),
                    ));
                }
                *next += 1;
                if skip(number) {
                    continue;
                }
                return Ok(Some((number, PartData::Bytes(bytes))));
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    Plan(PartPlan),
    Stream {
        part_size: u64,
        expected: Option<u64>,
    },
}

impl Layout {
    /// The expected size of part `number`, when known.
    fn part_len(self, number: u32) -> Option<u64> {
        match self {
            Layout::Plan(plan) => plan.part_range(number).map(|(_, l)| l),
            Layout::Stream {
                part_size,
                expected: Some(total),
            } => {
                let off = u64::from(number.max(1) - 1) * part_size;
                (off < total).then(|| part_size.min(total - off))
            }
            Layout::Stream { .. } => None,
        }
    }
}

fn trim_etag(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// Waits for `fut` unless `cancel` fires first.
pub(crate) async fn or_cancel<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::Cancelled),
        r = fut => r,
    }
}

impl CosClient {
    /// Uploads `source` to `key`: a single PUT below the multipart threshold, otherwise a concurrent multipart
    /// upload; CRC-64 verified, retried, aborted on failure. See the [module docs](super) for the details and
    /// the memory bound.
    pub async fn upload(
        &self,
        key: &str,
        source: UploadSource,
        options: UploadOptions,
    ) -> Result<UploadOutput> {
        Engine::new(self.clone()).upload(key, source, options).await
    }
}

/// The transfer engine over a [`MultipartStore`]: planning, the bounded part pipeline and the shared in-flight
/// budget, the retry loop of data writes, integrity checks, resume, abort (or keep) on failure and the stop
/// before the credentials expire.
#[derive(Debug, Clone)]
pub(crate) struct Engine<S> {
    store: S,
}

impl<S: MultipartStore> Engine<S> {
    pub(crate) fn new(store: S) -> Self {
        Engine { store }
    }

    /// See [`CosClient::upload`].
    pub(crate) async fn upload(
        &self,
        key: &str,
        source: UploadSource,
        options: UploadOptions,
    ) -> Result<UploadOutput> {
        let span = tracing::info_span!(
            "cos_upload",
            bucket = %self.store.bucket(),
            key,
            size = tracing::field::Empty,
            upload_id = tracing::field::Empty
        );
        self.upload_inner(key, source, options)
            .instrument(span)
            .await
    }

    /// Sends a body (PUT Object or Upload Part) with retries: each attempt re-reads the data, re-signs and
    /// re-computes the CRC; a failed attempt's progress is rolled back by the store, and a retry is reported.
    pub(crate) async fn write_data(
        &self,
        target: WriteTarget<'_>,
        data: &PartData,
        cfg: &TransferConfig,
        tracker: Option<&Arc<ProgressTracker>>,
    ) -> Result<WriteResult> {
        let ctx = target.ctx();
        let md5 = if cfg.content_md5() {
            let digest = match data.md5(cfg.chunk_size()).await {
                Ok(d) => d,
                Err(e) => {
                    // A read that failed because the file shrank is a change, not an I/O error.
                    data.verify_unchanged().await?;
                    let action = match ctx.part {
                        Some(p) => format!("read part {p}"),
                        None => "read".to_string(),
                    };
                    return Err(Error::io(
                        data.path().unwrap_or(std::path::Path::new("-")),
                        action,
                        e,
                    ));
                }
            };
            use base64::Engine as _;
            Some(base64::engine::general_purpose::STANDARD.encode(digest))
        } else {
            None
        };
        let label = ctx.label();
        self.store
            .retry()
            .run(&label, |attempt| {
                let md5 = md5.as_deref();
                async move {
                    tracing::debug!(attempt, "sending");
                    if attempt > 1
                        && let Some(t) = tracker
                    {
                        t.retrying(target.part);
                    }
                    let r = self
                        .store
                        .write_once(target, data, md5, cfg.chunk_size(), tracker)
                        .await;
                    if let Err(e) = &r {
                        tracing::debug!(attempt, error = %e, "attempt failed");
                    }
                    r
                }
            })
            .await
    }

    /// Verifies a whole object after `PUT Object` or `Complete Multipart Upload`: against the CRC-64 the answer
    /// carried, or, when it carried none, with `HEAD Object` (size and CRC-64 must both match) unless
    /// [`TransferConfig::with_trust_missing_crc`] is set. An object that cannot be verified is not counted as
    /// uploaded.
    pub(crate) async fn verify_written(
        &self,
        cfg: &TransferConfig,
        ctx: Ctx<'_>,
        local: u64,
        size: u64,
        server: Option<u64>,
        request_id: Option<String>,
    ) -> Result<()> {
        if server.is_some() || !cfg.verify_crc() || cfg.require_crc() || cfg.trust_missing_crc() {
            return verify_crc(cfg, ctx, local, server, request_id);
        }
        tracing::info!(
            op = %ctx.op,
            key = ctx.key,
            "no {CRC_HEADER} in the answer: verifying the object with HEAD Object"
        );
        let head_ctx = Ctx {
            op: CosOperation::HeadObject,
            ..ctx
        };
        let unverifiable = |status: u16, reason: String, request_id: Option<String>| {
            Error::invalid_response(ctx.op.as_str(), status, reason, b"", request_id)
        };
        let Some(head) = self.store.head(ctx.key).await? else {
            return Err(unverifiable(
                404,
                format!(
                    "{} answered success without {CRC_HEADER}, and HEAD Object finds no object {}",
                    ctx.op, ctx.key
                ),
                request_id,
            ));
        };
        if head.size != size {
            return Err(unverifiable(
                200,
                format!(
                    "HEAD Object reports {} bytes for {}, but {size} were sent",
                    head.size, ctx.key
                ),
                head.request_id,
            ));
        }
        match head.crc64 {
            Some(c) => verify_crc(cfg, head_ctx, local, Some(c), head.request_id),
            None => Err(unverifiable(
                200,
                format!(
                    "neither {} nor HEAD Object reported {CRC_HEADER} for {}: the object cannot be verified \
                     (TransferConfig::with_trust_missing_crc accepts it unverified)",
                    ctx.op, ctx.key
                ),
                head.request_id,
            )),
        }
    }

    async fn upload_inner(
        &self,
        key: &str,
        source: UploadSource,
        opts: UploadOptions,
    ) -> Result<UploadOutput> {
        validate_key(key)?;
        let cfg = opts.config.clone();
        cfg.validate()?;
        let cancel = opts.cancellation.clone().unwrap_or_default();
        // Decide single PUT or multipart, and where parts come from.
        enum Plan {
            Single(PartData),
            Multi(Feed, Option<u64>),
        }
        let plan = match source {
            UploadSource::Path(path) => {
                let (file, size) =
                    FileHandle::open(&path, opts.expected_source, cfg.concurrency()).await?;
                match PartPlan::new(size, &cfg)? {
                    PartPlan::Single { size } => Plan::Single(PartData::File {
                        file,
                        offset: 0,
                        len: size,
                    }),
                    p => Plan::Multi(
                        Feed::Ranges {
                            data: RangeData::File(file),
                            plan: p,
                            next: 1,
                        },
                        Some(size),
                    ),
                }
            }
            UploadSource::Bytes(b) => match PartPlan::new(b.len() as u64, &cfg)? {
                PartPlan::Single { .. } => Plan::Single(PartData::Bytes(b)),
                p => Plan::Multi(
                    Feed::Ranges {
                        data: RangeData::Bytes(b),
                        plan: p,
                        next: 1,
                    },
                    Some(p.size()),
                ),
            },
            UploadSource::Reader {
                mut reader,
                size: Some(size),
            } => match PartPlan::new(size, &cfg)? {
                PartPlan::Single { .. } => {
                    self.store.check_not_expired(key)?;
                    let buf = or_cancel(&cancel, read_up_to(reader.as_mut(), size)).await?;
                    if (buf.len() as u64) < size {
                        return Err(Error::invalid(
                            "source (reader)",
                            format!(
                                "ended after {} bytes, but its size was declared as {size}",
                                buf.len()
                            ),
                        ));
                    }
                    expect_eof(reader.as_mut(), size).await?;
                    Plan::Single(PartData::Bytes(buf))
                }
                PartPlan::Multipart { part_size, .. } => Plan::Multi(
                    Feed::Reader {
                        reader,
                        head: Bytes::new(),
                        part_size,
                        next: 1,
                        expected: Some(size),
                        read: 0,
                        done: false,
                    },
                    Some(size),
                ),
            },
            UploadSource::Reader {
                mut reader,
                size: None,
            } => {
                self.store.check_not_expired(key)?;
                let limit = cfg.multipart_threshold().max(1);
                let head = or_cancel(&cancel, read_up_to(reader.as_mut(), limit)).await?;
                if (head.len() as u64) < limit {
                    Plan::Single(PartData::Bytes(head))
                } else {
                    Plan::Multi(
                        Feed::Reader {
                            reader,
                            head,
                            part_size: cfg.part_size(),
                            next: 1,
                            expected: None,
                            read: 0,
                            done: false,
                        },
                        None,
                    )
                }
            }
        };
        self.store.check_not_expired(key)?;
        match plan {
            Plan::Single(data) => self.single_put(key, data, &opts, &cancel).await,
            Plan::Multi(feed, total) => self.multipart(key, feed, total, &opts, &cancel).await,
        }
    }

    async fn single_put(
        &self,
        key: &str,
        data: PartData,
        opts: &UploadOptions,
        cancel: &CancellationToken,
    ) -> Result<UploadOutput> {
        let size = data.len();
        tracing::Span::current().record("size", size);
        let tracker = Arc::new(ProgressTracker::new(key, Some(size), opts.progress.clone()));
        let ctx = WriteTarget::put(key, None).ctx();
        let cfg = &opts.config;
        let _budget = match &opts.budget {
            Some(b) => Some(or_cancel(cancel, b.acquire()).await?),
            None => None,
        };
        if let Some(l) = &opts.bandwidth {
            or_cancel(cancel, async {
                l.acquire(size).await;
                Ok(())
            })
            .await?;
        }
        let target = WriteTarget::put(key, opts.content_type.as_deref());
        let w = or_cancel(cancel, self.write_data(target, &data, cfg, Some(&tracker))).await?;
        or_cancel(
            cancel,
            self.verify_written(
                cfg,
                ctx,
                w.local_crc,
                size,
                w.server_crc,
                w.request_id.clone(),
            ),
        )
        .await?;
        tracker.finish(size);
        tracing::info!(size, "uploaded with a single PUT");
        Ok(UploadOutput {
            key: key.to_string(),
            size,
            crc64: w.local_crc,
            etag: w.etag.unwrap_or_default(),
            upload_id: None,
            parts: 1,
            request_id: w.request_id,
        })
    }

    /// Establishes the upload id: a verified resume, or a new multipart upload.
    async fn start_or_resume(
        &self,
        key: &str,
        layout: Layout,
        opts: &UploadOptions,
    ) -> Result<(String, BTreeMap<u32, CompletedPart>)> {
        if let Some(state) = &opts.resume {
            match self.store.list_parts(key, &state.upload_id).await {
                Ok(listed) => {
                    let on_server: BTreeMap<u32, _> =
                        listed.into_iter().map(|p| (p.part_number, p)).collect();
                    let mut kept = BTreeMap::new();
                    for cp in &state.completed_parts {
                        let confirmed =
                            on_server.get(&cp.number).is_some_and(|sp| {
                                trim_etag(&sp.etag) == trim_etag(&cp.etag) && sp.size == cp.size
                            }) && layout.part_len(cp.number).is_none_or(|l| l == cp.size);
                        if confirmed {
                            kept.insert(cp.number, cp.clone());
                        } else {
                            tracing::debug!(
                                part = cp.number,
                                "recorded part not confirmed by List Parts: re-sending"
                            );
                        }
                    }
                    tracing::info!(
                        upload_id = %state.upload_id,
                        confirmed = kept.len(),
                        recorded = state.completed_parts.len(),
                        "resuming multipart upload"
                    );
                    return Ok((state.upload_id.clone(), kept));
                }
                Err(e) if e.code() == Some("NoSuchUpload") => {
                    tracing::warn!(upload_id = %state.upload_id, "upload to resume is gone (NoSuchUpload): starting a new one");
                }
                Err(e) => return Err(e),
            }
        }
        let upload_id = self
            .store
            .initiate(key, opts.content_type.as_deref())
            .await?;
        Ok((upload_id, BTreeMap::new()))
    }

    async fn multipart(
        &self,
        key: &str,
        mut feed: Feed,
        total: Option<u64>,
        opts: &UploadOptions,
        cancel: &CancellationToken,
    ) -> Result<UploadOutput> {
        if let Some(t) = total {
            tracing::Span::current().record("size", t);
        }
        let tracker = Arc::new(ProgressTracker::new(key, total, opts.progress.clone()));
        let deadline = self.store.abort_deadline();
        if let Some((exp, left)) = deadline
            && left.is_zero()
        {
            // Too close to the expiry to start (or resume) a multipart upload that could still be aborted.
            return Err(self.store.stopped_for_expiry(exp, key));
        }
        let (upload_id, mut done) =
            or_cancel(cancel, self.start_or_resume(key, feed.layout(), opts)).await?;
        tracing::Span::current().record("upload_id", upload_id.as_str());
        tracker.add(done.values().map(|p| p.size).sum());

        let drive = self.drive_parts(
            key, &upload_id, &mut feed, &mut done, &tracker, opts, cancel,
        );
        // Measured again now that the upload id is established.
        let driven = match self.store.abort_deadline() {
            None => drive.await,
            Some((exp, left)) => {
                tokio::select! {
                    r = drive => r,
                    _ = tokio::time::sleep(left) => {
                        tracing::warn!(
                            upload_id = %upload_id,
                            expired_at = exp,
                            "temporary credentials about to expire: stopping the parts in flight to abort the \
                             multipart upload while the credentials are valid"
                        );
                        Err(self.store.stopped_for_expiry(exp, key))
                    }
                }
            }
        };
        let result = match driven {
            // After the last byte of every part was read: the file must still be what it was when opened.
            Ok(()) => {
                let unchanged = match feed.file() {
                    Some(f) => f.verify_unchanged().await,
                    None => Ok(()),
                };
                match unchanged {
                    Ok(()) => self.complete(key, &upload_id, &done, opts).await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(out) => {
                tracker.finish(out.size);
                Ok(out)
            }
            Err(e) => {
                let cancelled = matches!(e, Error::Cancelled);
                if cancelled && opts.unfinished.keeps(&e) {
                    tracing::info!(upload_id = %upload_id, "cancelled; multipart upload kept for resume");
                } else if opts.unfinished.keeps(&e) {
                    tracing::warn!(upload_id = %upload_id, error = %e, "upload failed; multipart upload kept for resume");
                } else {
                    tracing::warn!(upload_id = %upload_id, error = %e, "upload failed; aborting the multipart upload");
                    if let Err(abort_err) = self.store.abort(key, &upload_id).await {
                        let orphan = OrphanedUpload::new(self.store.bucket(), key, &upload_id);
                        tracing::warn!(
                            bucket = %orphan.bucket,
                            key = %orphan.key,
                            upload_id = %orphan.upload_id,
                            error = %abort_err,
                            "could not abort the multipart upload: it is left open (orphaned)"
                        );
                        if let Some(sink) = &opts.orphans {
                            sink.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(orphan.clone());
                        }
                        return Err(e.with_orphaned_uploads([orphan]));
                    }
                }
                Err(e)
            }
        }
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        done: &BTreeMap<u32, CompletedPart>,
        opts: &UploadOptions,
    ) -> Result<UploadOutput> {
        let parts: Vec<CompletePartXml> = done
            .values()
            .map(|p| CompletePartXml {
                part_number: p.number,
                etag: p.etag.clone(),
            })
            .collect();
        let size: u64 = done.values().map(|p| p.size).sum();
        let crc = crc64_combine_all(done.values().map(|p| (p.crc64, p.size)));
        let ctx = Ctx {
            op: CosOperation::CompleteMultipartUpload,
            key,
            upload_id: Some(upload_id),
            part: None,
        };
        let out = match self.store.complete(key, upload_id, &parts).await? {
            CompleteAnswer::Completed(out) => out,
            CompleteAnswer::GoneAfterLostAnswer(e) => {
                self.reconcile_lost_complete(&opts.config, key, size, crc, e)
                    .await?
            }
        };
        self.verify_written(
            &opts.config,
            ctx,
            crc,
            size,
            out.server_crc64,
            out.request_id.clone(),
        )
        .await?;
        tracing::info!(size, parts = parts.len(), "multipart upload complete");
        Ok(UploadOutput {
            key: key.to_string(),
            size,
            crc64: crc,
            etag: out.etag,
            upload_id: Some(upload_id.to_string()),
            parts: parts.len() as u32,
            request_id: out.request_id,
        })
    }

    /// After a Complete whose answer was lost and whose retry met `NoSuchUpload`: the object counts as complete
    /// only when HEAD Object finds it with the size and CRC-64 of the parts sent (or, without a CRC from HEAD,
    /// the size when [`TransferConfig::with_trust_missing_crc`] is set). Otherwise `gone` is the error.
    async fn reconcile_lost_complete(
        &self,
        cfg: &TransferConfig,
        key: &str,
        size: u64,
        crc: u64,
        gone: Error,
    ) -> Result<CompleteMultipartUploadOutput> {
        tracing::warn!(
            key,
            "CompleteMultipartUpload answered NoSuchUpload after an attempt whose answer was lost: checking the \
             object with HEAD Object"
        );
        let head = self.store.head(key).await?;
        match head {
            Some(h)
                if h.size == size
                    && (h.crc64 == Some(crc) || (h.crc64.is_none() && cfg.trust_missing_crc())) =>
            {
                tracing::info!(
                    key,
                    size,
                    "the attempt whose answer was lost completed the upload (HEAD Object: size and CRC-64 match)"
                );
                Ok(CompleteMultipartUploadOutput {
                    etag: h.etag.unwrap_or_default(),
                    location: None,
                    server_crc64: h.crc64.or(Some(crc)),
                    request_id: h.request_id,
                })
            }
            other => {
                tracing::warn!(
                    key,
                    found = ?other.as_ref().map(|h| (h.size, h.crc64)),
                    expected_size = size,
                    expected_crc64 = crc,
                    "HEAD Object does not confirm the completion"
                );
                Err(gone)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn drive_parts(
        &self,
        key: &str,
        upload_id: &str,
        feed: &mut Feed,
        done: &mut BTreeMap<u32, CompletedPart>,
        tracker: &Arc<ProgressTracker>,
        opts: &UploadOptions,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let cfg = &opts.config;
        let local = Arc::new(Semaphore::new(cfg.concurrency()));
        let mut set: JoinSet<Result<CompletedPart>> = JoinSet::new();
        let mut feeding = true;
        let key_owned: Arc<str> = Arc::from(key);
        let id_owned: Arc<str> = Arc::from(upload_id);
        let outcome: Result<()> = loop {
            if !feeding && set.is_empty() {
                break Ok(());
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Err(Error::Cancelled),
                Some(joined) = set.join_next(), if !set.is_empty() => match joined {
                    Ok(Ok(part)) => {
                        tracing::debug!(part = part.number, size = part.size, "part done");
                        tracker.part_done(upload_id, &part);
                        done.insert(part.number, part);
                    }
                    Ok(Err(e)) => break Err(e),
                    Err(join) => break Err(Error::invalid("upload", format!("part task failed: {join}"))),
                },
                permit = local.clone().acquire_owned(), if feeding => {
                    let Ok(permit) = permit else { break Err(Error::Cancelled) };
                    let next = {
                        let done_ref = &*done;
                        or_cancel(cancel, feed.next(|n| done_ref.contains_key(&n))).await
                    };
                    let (number, data) = match next {
                        Ok(Some(p)) => p,
                        Ok(None) => { feeding = false; continue; }
                        Err(e) => break Err(e),
                    };
                    let budget = match &opts.budget {
                        Some(b) => match or_cancel(cancel, b.acquire()).await {
                            Ok(p) => Some(p),
                            Err(e) => break Err(e),
                        },
                        None => None,
                    };
                    let engine = self.clone();
                    let cfg = cfg.clone();
                    let tracker = tracker.clone();
                    let (k, id) = (key_owned.clone(), id_owned.clone());
                    let span = tracing::debug_span!("cos_part", part = number, upload_id = %id);
                    let bandwidth = opts.bandwidth.clone();
                    set.spawn(async move {
                        let _permits = (permit, budget);
                        if let Some(l) = bandwidth {
                            l.acquire(data.len()).await;
                        }
                        engine.send_part(&k, &id, number, data, &cfg, &tracker).await
                    }.instrument(span));
                }
            }
        };
        if outcome.is_err() {
            set.abort_all();
            while set.join_next().await.is_some() {}
        }
        outcome
    }

    async fn send_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        data: PartData,
        cfg: &TransferConfig,
        tracker: &Arc<ProgressTracker>,
    ) -> Result<CompletedPart> {
        let target = WriteTarget::part(key, upload_id, number);
        let ctx = target.ctx();
        let w = self.write_data(target, &data, cfg, Some(tracker)).await?;
        verify_crc(cfg, ctx, w.local_crc, w.server_crc, w.request_id.clone())?;
        let etag = w
            .etag
            .ok_or_else(|| missing_etag(ctx, w.request_id.clone()))?;
        Ok(CompletedPart {
            number,
            etag,
            crc64: w.local_crc,
            size: data.len(),
        })
    }
}

#[cfg(test)]
mod tests;
