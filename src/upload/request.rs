//! [`UploadRequest`]: what to upload and every ApplyUpload field, and [`UploadOutcome`]: what came back.

use super::checkpoint::CheckpointStore;
use crate::cos::{BandwidthLimit, ConcurrencyBudget, TransferConfig, UploadSource};
use crate::events::WaitOptions;
use crate::progress::{Progress, ProgressFn};
use crate::vod::ApplyUploadRequest;
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio_util::sync::CancellationToken;

/// Media types VOD accepts (上传能力综述), lower-case.
pub const MEDIA_TYPES: &[&str] = &[
    // video
    "wmv", "rm", "mov", "mpeg", "mp4", "3gp", "flv", "avi", "rmvb", "ts", "asf", "mpg", "webm",
    "mkv", "m3u8", "wm", "asx", "ram", "mpe", "vob", "dat", "mp4v", "m4v", "f4v", "mxf", "qt",
    "ogg", "mpd", // audio
    "mp3", "m4a", "flac", "wav", "ra", "aac", "amr",
];

/// Cover image types VOD accepts, lower-case.
pub const COVER_TYPES: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "bmp", "tiff", "ai", "cdr", "eps",
];

/// Maximum length of `SourceContext`.
pub const MAX_SOURCE_CONTEXT: usize = 250;
/// Maximum length of `SessionContext`.
pub const MAX_SESSION_CONTEXT: usize = 1000;

/// Default for [`UploadRequest::with_commit_reconcile_timeout`].
pub const DEFAULT_COMMIT_RECONCILE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default for [`UploadRequest::with_credential_margin`]: temporary credentials (of a checkpoint) with less
/// validity left than this are not used.
pub const DEFAULT_CREDENTIAL_MARGIN: Duration = Duration::from_secs(300);

/// Where a resumable upload keeps its checkpoint.
#[derive(Clone)]
pub(crate) struct CheckpointConfig {
    pub store: Arc<dyn CheckpointStore>,
    pub key: Option<String>,
}

pub(crate) enum SourceSpec {
    Path(PathBuf),
    Bytes(Bytes),
    Reader(Box<dyn AsyncRead + Send + Unpin + 'static>, Option<u64>),
}

impl SourceSpec {
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            SourceSpec::Path(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn into_source(self) -> UploadSource {
        match self {
            SourceSpec::Path(p) => UploadSource::path(p),
            SourceSpec::Bytes(b) => UploadSource::bytes(b),
            SourceSpec::Reader(r, size) => UploadSource::reader(r, size),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            SourceSpec::Path(p) => p.display().to_string(),
            SourceSpec::Bytes(b) => format!("<{} bytes in memory>", b.len()),
            SourceSpec::Reader(_, Some(n)) => format!("<reader of {n} bytes>"),
            SourceSpec::Reader(_, None) => "<reader of unknown length>".into(),
        }
    }
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// One media upload: the media (a path, `Bytes` or an `AsyncRead`), an optional cover, every `ApplyUpload` field,
/// and how to run it (transfer settings, progress, cancellation, deadline, checkpoint).
///
/// Defaults follow the official SDKs: the media type is the lower-cased file extension, the media name the file
/// name without its last extension (`a.b.mp4` → `a.b`), the cover type the cover's extension.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = tencent_vod_mock::MockServer::start().await?;
/// # let client = mock.client_builder().build()?;
/// # let dir = tempfile::tempdir()?;
/// # let (video, poster) = (dir.path().join("launch.mp4"), dir.path().join("launch.jpg"));
/// # std::fs::write(&video, vec![1u8; 2 << 20])?;
/// # std::fs::write(&poster, b"jpeg bytes")?;
/// use std::time::Duration;
/// use tencent_vod::UploadRequest;
///
/// let request = UploadRequest::from_path(&video) // MediaType `mp4`, MediaName `launch`
///     .with_cover_path(&poster)
///     .with_procedure("LongVideoPreset")
///     .with_class_id(12)
///     .with_session_context("order-1138")
///     .with_deadline(Duration::from_secs(600));
/// assert_eq!(request.apply_fields().procedure.as_deref(), Some("LongVideoPreset"));
/// let out = client.upload(request).await?;
/// assert!(out.cover_url.is_some());
///
/// // From memory (or a reader): the type cannot be inferred, so it is given.
/// let out = client
///     .upload(UploadRequest::from_bytes(vec![2u8; 4096], "mp3").with_media_name("jingle"))
///     .await?;
/// # assert_eq!(out.bytes_sent, 4096);
/// # Ok(()) }
/// ```
pub struct UploadRequest {
    pub(crate) media: SourceSpec,
    pub(crate) cover: Option<SourceSpec>,
    pub(crate) apply: ApplyUploadRequest,
    pub(crate) transfer: Option<TransferConfig>,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) resolve_task: Option<WaitOptions>,
    pub(crate) cancel: Option<CancellationToken>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) budget: Option<ConcurrencyBudget>,
    pub(crate) checkpoint: Option<Arc<dyn CheckpointStore>>,
    pub(crate) checkpoint_key: Option<String>,
    pub(crate) keep_committed_checkpoint: bool,
    pub(crate) bandwidth: Option<BandwidthLimit>,
    pub(crate) credential_margin: Duration,
    pub(crate) commit_reconcile_timeout: Duration,
}

impl std::fmt::Debug for UploadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadRequest")
            .field("media", &self.media)
            .field("cover", &self.cover)
            .field("apply", &self.apply)
            .field("transfer", &self.transfer)
            .field("checkpoint", &self.checkpoint.is_some())
            .field("checkpoint_key", &self.checkpoint_key)
            .finish_non_exhaustive()
    }
}

impl UploadRequest {
    fn new(media: SourceSpec) -> Self {
        UploadRequest {
            media,
            cover: None,
            apply: ApplyUploadRequest::default(),
            transfer: None,
            progress: None,
            resolve_task: None,
            cancel: None,
            deadline: None,
            budget: None,
            checkpoint: None,
            checkpoint_key: None,
            keep_committed_checkpoint: false,
            bandwidth: None,
            credential_margin: DEFAULT_CREDENTIAL_MARGIN,
            commit_reconcile_timeout: DEFAULT_COMMIT_RECONCILE_TIMEOUT,
        }
    }

    /// Uploads the file at `path` (read part by part from disk; never whole in memory). An `.m3u8` / `.mpd` is
    /// uploaded with every segment it references; each must resolve, symbolic links followed, inside the
    /// manifest's directory (see [`MAX_MANIFEST_DEPTH`](crate::upload::MAX_MANIFEST_DEPTH) and
    /// [`MAX_MANIFEST_FILES`](crate::upload::MAX_MANIFEST_FILES) for the limits).
    ///
    /// **A file that changes during the upload is never committed.** Its size, modification and status-change
    /// times, inode and device are recorded when it is checked (before ApplyUpload) and compared when it is
    /// opened, after the last byte of every part was read, before a multipart upload is completed and again
    /// before CommitUpload. Any difference — rewritten in place, appended to, truncated, replaced or removed —
    /// fails the upload with [`Error::SourceChanged`](crate::Error::SourceChanged) naming the file; the
    /// multipart upload is aborted and CommitUpload is not called. (Detection relies on the file system's
    /// timestamps: a same-size rewrite within one timestamp tick of the check cannot be seen.)
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self::new(SourceSpec::Path(path.into()))
    }

    /// Uploads bytes held in memory; the media type must be given (there is no file extension to infer it from).
    pub fn from_bytes(bytes: impl Into<Bytes>, media_type: impl Into<String>) -> Self {
        Self::new(SourceSpec::Bytes(bytes.into())).with_media_type(media_type)
    }

    /// Uploads from a reader, of known (`Some(len)`) or unknown length; the media type must be given.
    /// At most (concurrency + 1) parts are held in memory.
    pub fn from_reader(
        reader: impl AsyncRead + Send + Unpin + 'static,
        size: Option<u64>,
        media_type: impl Into<String>,
    ) -> Self {
        Self::new(SourceSpec::Reader(Box::new(reader), size)).with_media_type(media_type)
    }

    /// A cover image from a file; its type is inferred from the extension unless given.
    pub fn with_cover_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.cover = Some(SourceSpec::Path(path.into()));
        self
    }

    /// A cover image from memory, with its type (`jpg`, `png`…).
    pub fn with_cover_bytes(
        mut self,
        bytes: impl Into<Bytes>,
        cover_type: impl Into<String>,
    ) -> Self {
        self.cover = Some(SourceSpec::Bytes(bytes.into()));
        self.with_cover_type(cover_type)
    }

    /// A cover image from a reader, with its type.
    pub fn with_cover_reader(
        mut self,
        reader: impl AsyncRead + Send + Unpin + 'static,
        size: Option<u64>,
        cover_type: impl Into<String>,
    ) -> Self {
        self.cover = Some(SourceSpec::Reader(Box::new(reader), size));
        self.with_cover_type(cover_type)
    }

    /// `MediaType` (default: the file extension, lower-cased).
    pub fn with_media_type(mut self, v: impl Into<String>) -> Self {
        self.apply.media_type = v.into();
        self
    }
    /// `MediaName` (default: the file name without its last extension).
    pub fn with_media_name(mut self, v: impl Into<String>) -> Self {
        self.apply.media_name = Some(v.into());
        self
    }
    /// `CoverType` (default: the cover file's extension).
    pub fn with_cover_type(mut self, v: impl Into<String>) -> Self {
        self.apply.cover_type = Some(v.into());
        self
    }
    /// `Procedure`: the task flow to run after the upload.
    pub fn with_procedure(mut self, v: impl Into<String>) -> Self {
        self.apply.procedure = Some(v.into());
        self
    }
    /// `ExpireTime` (ISO 8601, e.g. `2030-01-01T00:00:00Z`).
    pub fn with_expire_time(mut self, v: impl Into<String>) -> Self {
        self.apply.expire_time = Some(v.into());
        self
    }
    /// `StorageRegion`.
    pub fn with_storage_region(mut self, v: impl Into<String>) -> Self {
        self.apply.storage_region = Some(v.into());
        self
    }
    /// `ClassId`.
    pub fn with_class_id(mut self, v: i64) -> Self {
        self.apply.class_id = Some(v);
        self
    }
    /// `SourceContext` (≤ 250 characters).
    pub fn with_source_context(mut self, v: impl Into<String>) -> Self {
        self.apply.source_context = Some(v.into());
        self
    }
    /// `SessionContext` (≤ 1000 characters).
    pub fn with_session_context(mut self, v: impl Into<String>) -> Self {
        self.apply.session_context = Some(v.into());
        self
    }
    /// `ExtInfo`.
    pub fn with_ext_info(mut self, v: impl Into<String>) -> Self {
        self.apply.ext_info = Some(v.into());
        self
    }
    /// `SubAppId`, sent on both ApplyUpload and CommitUpload (default: the client's).
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.apply.sub_app_id = Some(v);
        self
    }
    /// `MediaStoragePath` (must start with `/`; "FileID + Path" sub-apps only).
    pub fn with_media_storage_path(mut self, v: impl Into<String>) -> Self {
        self.apply.media_storage_path = Some(v.into());
        self
    }
    /// Transfer settings for this upload, instead of the client's
    /// ([`VodClientBuilder::with_transfer_config`](crate::VodClientBuilder::with_transfer_config)); they replace
    /// the client's as a whole, so start from [`VodClient::transfer_config`](crate::VodClient::transfer_config) to
    /// change one setting. The concurrency bounds the parts in flight of media, cover and segments together
    /// (unless [`with_budget`](Self::with_budget) shares a budget).
    ///
    /// ```
    /// # fn demo(client: &tencent_vod::VodClient) {
    /// use tencent_vod::UploadRequest;
    /// let req = UploadRequest::from_path("/data/large.mp4")
    ///     .with_transfer_config(client.transfer_config().clone().with_part_size(64 << 20).with_concurrency(8));
    /// # let _ = req; }
    /// ```
    pub fn with_transfer_config(mut self, config: TransferConfig) -> Self {
        self.transfer = Some(config);
        self
    }
    /// A progress callback: each [`Progress`] report is about one object (media, cover or segment) and carries
    /// the totals over every object of the upload.
    pub fn with_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
    /// After CommitUpload, find the procedure task id (DescribeTasks by FileId, polled with backoff until
    /// `opts.deadline`). Only when a `Procedure` was named; otherwise `procedure_task_id` stays `None`. Not finding
    /// it in time is not an error (the upload is committed): the outcome's `procedure_task_id` is `None` and a
    /// warning is logged; the `NewFileUpload` event carries it too.
    pub fn with_resolve_procedure_task(mut self, opts: WaitOptions) -> Self {
        self.resolve_task = Some(opts);
        self
    }
    /// Cancels the upload when `token` is cancelled: in-flight multipart uploads are aborted, nothing is
    /// committed, and `upload` returns [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
    /// An overall deadline for the whole upload; past it the upload is cancelled and
    /// [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded) returned.
    pub fn with_deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }

    /// Shares an in-flight budget with other uploads (e.g. one budget for a whole batch of files). Without it,
    /// each upload gets its own budget of `concurrency` parts.
    pub fn with_budget(mut self, budget: ConcurrencyBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Makes the upload resumable: its state is saved in `store` (after ApplyUpload, after each verified part,
    /// when an object completes) and deleted after CommitUpload; running the same request again after a crash,
    /// a kill or a failure picks up where it stopped. The checkpoint's key is derived from the request (canonical
    /// local paths and every ApplyUpload field) unless [`with_checkpoint_key`](Self::with_checkpoint_key) names
    /// one. Only file sources (media, cover, segments) can be resumed: with bytes or a reader the checkpoint is
    /// ignored (logged at debug level).
    ///
    /// With a checkpoint, a failed or cancelled upload leaves its multipart uploads in place (instead of
    /// aborting them) so they can be resumed. See [the module docs](crate::upload#resume) for when a
    /// checkpoint is discarded, and [`Checkpoint`](crate::upload::Checkpoint#secrets): it holds secrets.
    ///
    /// ```
    /// use tencent_vod::{JsonFileCheckpointStore, UploadRequest};
    /// let store = JsonFileCheckpointStore::new("/var/lib/myapp/vod-checkpoints");
    /// let req = UploadRequest::from_path("/data/movie.mp4").with_checkpoint(store);
    /// # let _ = req;
    /// ```
    pub fn with_checkpoint(mut self, store: impl CheckpointStore) -> Self {
        self.checkpoint = Some(Arc::new(store));
        self
    }

    /// Names the checkpoint (e.g. a job id) instead of deriving its key from the request. A checkpoint found
    /// under this key but made for another request is discarded. Requires
    /// [`with_checkpoint`](Self::with_checkpoint): without a store the upload fails with
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) before any request.
    ///
    /// ```
    /// use tencent_vod::{MemoryCheckpointStore, UploadRequest};
    /// let req = UploadRequest::from_path("/data/movie.mp4")
    ///     .with_checkpoint(MemoryCheckpointStore::new())
    ///     .with_checkpoint_key("job-42");
    /// # let _ = req;
    /// ```
    pub fn with_checkpoint_key(mut self, key: impl Into<String>) -> Self {
        self.checkpoint_key = Some(key.into());
        self
    }

    /// With a checkpoint: after a successful CommitUpload, keep the checkpoint, recording the commit's answer
    /// ([`Checkpoint::committed`](crate::upload::Checkpoint::committed),
    /// [`Checkpoint::commit`](crate::upload::Checkpoint::commit)), instead of deleting it; also when the upload
    /// answers from such a checkpoint. The save is awaited before `upload` returns.
    ///
    /// For callers that record the outcome in a store of their own (a batch journal) and must survive a crash
    /// between the commit and their own write: running the same request again then answers with the recorded
    /// outcome and uploads nothing. Delete the checkpoint ([`CheckpointStore::delete`](crate::upload::CheckpointStore::delete))
    /// once your record is durable.
    pub fn with_keep_committed_checkpoint(mut self, keep: bool) -> Self {
        self.keep_committed_checkpoint = keep;
        self
    }

    /// Caps the rate at which this upload's bytes are sent; share one [`BandwidthLimit`] between uploads to cap
    /// them together.
    pub fn with_bandwidth_limit(mut self, limit: BandwidthLimit) -> Self {
        self.bandwidth = Some(limit);
        self
    }

    /// A checkpoint whose temporary credentials have less validity left than `margin` is discarded (a fresh
    /// ApplyUpload is made instead); default [`DEFAULT_CREDENTIAL_MARGIN`] (5 minutes).
    pub fn with_credential_margin(mut self, margin: Duration) -> Self {
        self.credential_margin = margin;
        self
    }

    /// How long the media library may be searched for a commit whose answer was lost (default
    /// [`DEFAULT_COMMIT_RECONCILE_TIMEOUT`], 60 s; the search is repeated with backoff because VOD indexes new
    /// media with a delay). `Duration::ZERO` searches once. See [Exactly once](super#exactly-once).
    pub fn with_commit_reconcile_timeout(mut self, timeout: Duration) -> Self {
        self.commit_reconcile_timeout = timeout;
        self
    }

    /// The ApplyUpload fields as they stand (before defaults are inferred).
    pub fn apply_fields(&self) -> &ApplyUploadRequest {
        &self.apply
    }
}

/// What an upload produced: the FileId and URLs VOD answered, where the objects went on COS, and the request ids
/// a support ticket needs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = tencent_vod_mock::MockServer::start().await?;
/// # let client = mock.client_builder().build()?;
/// use tencent_vod::UploadRequest;
///
/// let out = client
///     .upload(UploadRequest::from_bytes(vec![0u8; 100_000], "mp4").with_cover_bytes(vec![1u8; 500], "png"))
///     .await?;
/// println!("FileId {} → {:?}", out.file_id, out.media_url);
/// println!("ApplyUpload {}, CommitUpload {}", out.apply_request_id, out.commit_request_id);
/// assert_eq!(out.bytes_sent, 100_500); // media and cover
/// assert!(out.media_key.ends_with(".mp4") && out.cover_key.is_some());
/// assert!(out.segment_keys.is_empty() && out.orphaned_uploads.is_empty());
/// # assert_eq!(mock.object(&out.bucket, &out.media_key).map(|o| o.size), Some(100_000));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOutcome {
    /// The media's FileId.
    pub file_id: String,
    /// Playback URL.
    pub media_url: Option<String>,
    /// Cover URL, when a cover was uploaded.
    pub cover_url: Option<String>,
    /// Request id of ApplyUpload.
    pub apply_request_id: String,
    /// Request id of CommitUpload.
    pub commit_request_id: String,
    /// COS bucket the objects went to.
    pub bucket: String,
    /// COS region of the bucket.
    pub region: String,
    /// COS key of the media (the manifest, for HLS/DASH).
    pub media_key: String,
    /// COS key of the cover.
    pub cover_key: Option<String>,
    /// COS keys of HLS/DASH segments.
    pub segment_keys: Vec<String>,
    /// Bytes uploaded, all objects together.
    pub bytes_sent: u64,
    /// Wall time of the whole upload (ApplyUpload to CommitUpload).
    pub elapsed: Duration,
    /// The procedure task id, when asked for with
    /// [`UploadRequest::with_resolve_procedure_task`] and a `Procedure` was named; otherwise `None`.
    pub procedure_task_id: Option<String>,
    /// Multipart uploads of an earlier session (before a credential-expiry restart) that could not be aborted
    /// and were left open; also logged with `warn!`. Usually empty.
    pub orphaned_uploads: Vec<crate::error::OrphanedUpload>,
    /// CommitUpload's answer was lost (or a checkpoint recorded a commit attempt) and the FileId was established
    /// afterwards, by a second CommitUpload or by a media search (see [Exactly once](super#exactly-once));
    /// `commit_request_id` is then the request id of the call that established it.
    pub commit_reconciled: bool,
}
