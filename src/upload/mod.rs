//! Upload orchestration: ApplyUpload → media, cover and segments to COS (concurrently, one in-flight budget) →
//! CommitUpload.
//!
//! Guarantees:
//! - every local check (file exists and is a regular file, types known, field lengths, `MediaStoragePath`, every
//!   HLS/DASH segment present and inside the manifest's directory, symbolic links followed, within
//!   [`MAX_MANIFEST_DEPTH`] and [`MAX_MANIFEST_FILES`]) happens **before** ApplyUpload;
//! - a source file that changes between those checks and CommitUpload fails the upload with
//!   [`Error::SourceChanged`] (see [`UploadRequest::from_path`]);
//! - an object whose PUT / Complete answer lacks `x-cos-hash-crc64ecma` is verified with HEAD Object before it
//!   counts as uploaded (see [`TransferConfig::with_trust_missing_crc`]);
//! - CommitUpload is called only after every object was uploaded and its CRC-64 verified; on any failure nothing
//!   is committed, in-flight multipart uploads are aborted (kept instead when the upload is checkpointed, see
//!   [Resume](#resume)), and the error names the object (key or path);
//! - temporary credentials are never used past their `ExpiredTime` (see [Credential expiry](#credential-expiry)).
//!
//! # Cancellation, deadline, dropping the future
//! - [`UploadRequest::with_cancellation`]: when the token is cancelled, parts in flight are dropped, the multipart
//!   uploads are aborted (or kept for a resume when a checkpoint is set), CommitUpload is **not** called, and
//!   `upload` returns [`Error::Cancelled`]. A cancel that arrives while CommitUpload is already on the wire
//!   does not interrupt it.
//! - [`UploadRequest::with_deadline`]: the same, returning [`Error::DeadlineExceeded`] (unless the upload had
//!   already been committed when the deadline passed: then its outcome is returned).
//! - **Dropping** the `upload` future is safe: the part uploads run on a `JoinSet` owned by the future, so they
//!   are aborted with it and no task keeps running or sends requests afterwards (a file read already handed to
//!   the blocking pool finishes on its own). In-flight multipart uploads are then neither completed nor
//!   aborted: they are left for the bucket's lifecycle rules, or resumed by a later run with the same
//!   checkpoint.
//! - [`VodClient::start_upload`](crate::VodClient::start_upload) runs an upload on its own task and returns an
//!   [`UploadHandle`] (`cancel()`, `progress()`, `join().await`). Dropping the handle detaches the upload (it
//!   keeps running); cancel it first to stop it.
//!
//! # Resume
//! With [`UploadRequest::with_checkpoint`], an upload saves a [`Checkpoint`] (after ApplyUpload, after each
//! verified part — saves are coalesced and serialized by one writer — and when an object completes). Running the
//! same request again with the same store:
//! 1. loads the checkpoint and checks it; it is **discarded** (logged, deleted) and the upload starts over with a
//!    fresh ApplyUpload when it cannot be read or parsed, has another format version, belongs to another request
//!    (explicit key reused), when a source file changed (size, modification time or CRC-64 of its first MiB), or
//!    when its temporary credentials expire within the [margin](UploadRequest::with_credential_margin) (default
//!    5 minutes). A checkpoint that records a **commit** answers with the recorded outcome, and one that records
//!    a **commit attempt** (saved before CommitUpload is sent) is reconciled (see [Exactly once](#exactly-once)):
//!    neither ever uploads the media again;
//! 2. otherwise reuses the session: objects recorded complete are checked with HEAD Object (size and CRC-64) and
//!    skipped; multipart uploads are resumed (List Parts confirms the recorded parts; only the missing ones are
//!    sent);
//! 3. records the commit attempt, commits, and deletes the checkpoint (or, when the delete fails or with
//!    [`UploadRequest::with_keep_committed_checkpoint`], records the commit's answer in it). If CommitUpload answers `InvalidParameterValue.VodSessionKey` for a resumed
//!    session without a recorded attempt (the session expired, or an earlier run's attempt could not be
//!    recorded), the media library is searched once for its media; only when it is not there is the checkpoint
//!    discarded and the upload started over, once.
//!
//! Only file sources can be resumed: with bytes or readers the checkpoint is ignored (debug log). Store errors
//! never fail an upload: a `load` error starts over, `save`/`delete` errors are logged. A checkpoint holds the
//! temporary credentials: see [`Checkpoint`#secrets](Checkpoint#secrets).
//!
//! # Exactly once
//! Lost answers never turn into false failures or duplicate uploads. Each request declares whether it may be
//! repeated ([`Idempotency`](crate::retry::Idempotency)):
//! - PUT Object, Upload Part, HEAD, List Parts and Abort are repeated freely (an Abort meeting `NoSuchUpload`
//!   after a lost answer counts as done); Initiate too (a lost answer may leave an empty upload id, logged);
//! - **CompleteMultipartUpload** is repeated; when a repeat meets `NoSuchUpload` after an attempt whose answer was
//!   lost, the object is checked with HEAD Object and counts as complete when its size and CRC-64 match what
//!   was sent;
//! - **CommitUpload** is never repeated blindly. When its outcome is unknown (no answer after the request was
//!   sent, a 5xx, `InternalError`, an unreadable answer), the upload commits once more (VOD answers a session
//!   that was already committed like an invalid one), then searches the media library (`SearchMedia` by
//!   `MediaName` and creation time, the match being the media whose `MediaUrl` path is the session's
//!   `MediaStoragePath`, confirmed with `DescribeMediaInfos`) for up to the
//!   [reconcile timeout](UploadRequest::with_commit_reconcile_timeout). A FileId established this way is
//!   returned as success ([`UploadOutcome::commit_reconciled`]); otherwise the upload fails with
//!   [`Error::CommitOutcomeUnknown`], which carries the storage paths,
//!   request ids and (redacted in `Display`/`Debug`) the session key, so the application can reconcile. With
//!   a checkpoint, such a failure leaves the checkpoint recording the attempt: running the upload again
//!   reconciles again and never uploads the media a second time.
//!
//! # Clock and region
//! Signatures and expiry checks read the client's [`Clock`](crate::transport::Clock), which learns the offset
//! to server time from the `Date` of VOD and COS answers: a host whose clock is minutes off signs with server
//! time after at most one refused (and retried) request, and `TempCertificate.ExpiredTime` is compared with
//! server time. The API requires `Region` for ApplyUpload and CommitUpload: an upload with a client that has
//! no region fails with [`Error::InvalidInput`] (field `region`) before any request.
//!
//! # Credential expiry
//! ApplyUpload's temporary credentials are valid until `ExpiredTime`; the COS client never signs past it
//! ([`Error::CredentialsExpired`]). VOD API 3.0 cannot extend a session's credentials, and a new session has new
//! storage paths, so when the transfer fails because the credentials expired ([`Error::CredentialsExpired`], COS
//! `ExpiredToken`, or `AccessDenied` at or past the expiry) the upload applies for a **new session and re-sends
//! every object, at most once** (logged with `warn!`; not possible for reader sources, which cannot be read
//! twice). If that fails again, the error is returned and nothing is committed. A checkpoint whose credentials
//! expire within the margin is not used (step 1 above). A fresh session whose credentials are shorter than the
//! margin is only logged.
//!
//! Multipart uploads started with a session are stopped and aborted shortly before its credentials expire (the
//! [abort reserve](crate::cos::CosClientBuilder::with_abort_reserve)), so an expiry leaves none of them open.
//! One that cannot be aborted anyway (COS refused the credentials early, the network failed) is logged with
//! `warn!` and listed in [`Error::orphaned_uploads`](crate::Error::orphaned_uploads), or, when a restarted
//! session succeeds, in [`UploadOutcome::orphaned_uploads`].

mod checkpoint;
mod commit;
mod handle;
mod prepare;
mod request;

pub use checkpoint::{
    CHECKPOINT_VERSION, Checkpoint, CheckpointStore, CompletedObject, FINGERPRINT_HEAD_BYTES,
    JsonFileCheckpointStore, MemoryCheckpointStore, ObjectCheckpoint, SourceFingerprint,
};
pub use handle::UploadHandle;
pub use prepare::{MAX_MANIFEST_DEPTH, MAX_MANIFEST_FILES, MAX_MEDIA_STORAGE_PATH};
pub use request::{
    COVER_TYPES, DEFAULT_COMMIT_RECONCILE_TIMEOUT, DEFAULT_CREDENTIAL_MARGIN, MAX_SESSION_CONTEXT,
    MAX_SOURCE_CONTEXT, MEDIA_TYPES, UploadOutcome, UploadRequest,
};

use crate::cos::{
    BandwidthLimit, ConcurrencyBudget, CosClient, ResumeState, TransferConfig,
    UnfinishedUploadPolicy, UploadOptions, UploadSource,
};
use crate::cos::{FileSnapshot, OrphanSink, or_cancel};
use crate::error::{Error, OrphanedUpload, Result};
use crate::events::WaitOptions;
use crate::progress::{ProgressEvent, ProgressFn, ProgressSink};
use crate::retry::RetryConfig;
use crate::vod::{ApplyUploadRequest, ApplyUploadResponse, VodApi};
use bytes::Bytes;
use checkpoint::CheckpointWriter;
use commit::{CommitTarget, Committed};
use futures::StreamExt;
use prepare::{check_file, collect_segments, complete_apply_fields, is_manifest_type, segment_key};
use request::{CheckpointConfig, SourceSpec};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What the orchestration needs from the client.
pub(crate) struct UploadContext<'a> {
    pub api: &'a VodApi,
    pub http: &'a reqwest::Client,
    pub cos_endpoint: Option<&'a str>,
    pub transfer: &'a TransferConfig,
    pub retry: &'a RetryConfig,
    pub sub_app_id: Option<u64>,
    pub cos_plain_http: &'a Arc<crate::transport::http::PlainHttpWarning>,
    pub clock: &'a crate::transport::Clock,
}

/// Runs one upload, honouring the request's cancellation token and deadline.
pub(crate) async fn run(ctx: UploadContext<'_>, mut req: UploadRequest) -> Result<UploadOutcome> {
    let cancel = req
        .cancel
        .take()
        .map(|t| t.child_token())
        .unwrap_or_default();
    let deadline = req.deadline;
    let span = tracing::info_span!("vod_upload", media = %req.media.describe());
    let work = pipeline(ctx, req, cancel.clone()).instrument(span);
    tokio::pin!(work);
    match deadline {
        None => work.await,
        Some(d) => {
            tokio::select! {
                r = &mut work => r,
                _ = tokio::time::sleep(d) => {
                    tracing::warn!(deadline = ?d, "upload deadline exceeded: cancelling");
                    cancel.cancel();
                    // Let the transfer abort (or keep, when checkpointed) its multipart uploads before returning.
                    match work.await {
                        Ok(out) => {
                            tracing::warn!(file_id = %out.file_id, "the deadline passed while CommitUpload was in flight; the upload is committed");
                            Ok(out)
                        }
                        // The media may be committed: that matters more than the deadline.
                        Err(e @ Error::CommitOutcomeUnknown(_)) => Err(e),
                        Err(_) => Err(Error::DeadlineExceeded(d)),
                    }
                }
            }
        }
    }
}

fn check_apply_response(resp: &ApplyUploadResponse, want_cover: bool) -> Result<()> {
    let bad = |reason: String| {
        Error::invalid_response(
            "ApplyUpload",
            200,
            reason,
            b"",
            Some(resp.request_id.clone()),
        )
    };
    if resp.storage_bucket.is_empty() {
        return Err(bad("StorageBucket is empty".into()));
    }
    crate::transport::endpoint::validate_region("StorageRegion", &resp.storage_region).map_err(
        |_| {
            bad(format!(
                "StorageRegion {:?} is not a region",
                resp.storage_region
            ))
        },
    )?;
    if resp.vod_session_key.is_empty() {
        return Err(bad("VodSessionKey is empty".into()));
    }
    if let Some(problem) = prepare::storage_path_problem(&resp.media_storage_path) {
        return Err(bad(format!(
            "MediaStoragePath {:?} {problem}",
            resp.media_storage_path
        )));
    }
    if let Some(p) = resp.cover_storage_path.as_deref().filter(|p| !p.is_empty())
        && let Some(problem) = prepare::storage_path_problem(p)
    {
        return Err(bad(format!("CoverStoragePath {p:?} {problem}")));
    }
    if want_cover
        && !resp
            .cover_storage_path
            .as_deref()
            .is_some_and(|p| p.starts_with('/') && p.len() > 1)
    {
        return Err(bad(
            "a cover was requested but CoverStoragePath is missing".into()
        ));
    }
    Ok(())
}

/// What an object is read from; files and bytes can be read again (after a credential-expiry restart).
enum Replay {
    Path(PathBuf),
    Bytes(Bytes),
    // A Mutex only to make `ObjectSpec` Sync (a boxed reader is Send but not Sync); never contended.
    Reader(Mutex<Option<UploadSource>>),
}

enum Role {
    Media,
    Cover,
    Segment(String),
}

/// One object of the upload, before it has a COS key.
struct ObjectSpec {
    role: Role,
    replay: Replay,
    size: Option<u64>,
    /// For a file: what it was when checked (the upload fails if it changes before CommitUpload).
    snapshot: Option<FileSnapshot>,
}

impl ObjectSpec {
    fn new(
        role: Role,
        spec: SourceSpec,
        size: Option<u64>,
        snapshot: Option<FileSnapshot>,
    ) -> Self {
        let replay = match spec {
            SourceSpec::Path(p) => Replay::Path(p),
            SourceSpec::Bytes(b) => Replay::Bytes(b),
            r @ SourceSpec::Reader(..) => Replay::Reader(Mutex::new(Some(r.into_source()))),
        };
        ObjectSpec {
            role,
            replay,
            size,
            snapshot,
        }
    }

    /// For a file source: fails with [`Error::SourceChanged`] if it is no longer what was checked.
    async fn verify_unchanged(&self) -> Result<()> {
        let (Replay::Path(p), Some(snap)) = (&self.replay, self.snapshot) else {
            return Ok(());
        };
        let p = p.clone();
        tokio::task::spawn_blocking(move || snap.verify_path(&p))
            .await
            .map_err(|e| {
                Error::io(
                    self.local_path().unwrap_or(std::path::Path::new("-")),
                    "stat",
                    std::io::Error::other(e),
                )
            })?
    }

    fn take_source(&mut self) -> Option<UploadSource> {
        match &mut self.replay {
            Replay::Path(p) => Some(UploadSource::path(p.clone())),
            Replay::Bytes(b) => Some(UploadSource::bytes(b.clone())),
            Replay::Reader(r) => r.get_mut().unwrap_or_else(|p| p.into_inner()).take(),
        }
    }

    fn replayable(&self) -> bool {
        !matches!(self.replay, Replay::Reader(_))
    }

    fn local_path(&self) -> Option<&std::path::Path> {
        match &self.replay {
            Replay::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// A checkpointed upload's identity: store, key, request digest and the sources' fingerprints.
struct Resumable {
    store: Arc<dyn checkpoint::CheckpointStore>,
    key: String,
    digest: String,
    sources: Vec<(PathBuf, SourceFingerprint)>,
}

async fn prepare_resumable(
    cfg: CheckpointConfig,
    specs: &[ObjectSpec],
    apply: &ApplyUploadRequest,
) -> Result<Option<Resumable>> {
    if specs.iter().any(|s| s.local_path().is_none()) {
        tracing::debug!(
            "checkpoint ignored: only uploads whose sources are all files can be resumed"
        );
        return Ok(None);
    }
    let mut canonical = Vec::with_capacity(specs.len());
    for s in specs {
        let p = s.local_path().unwrap_or(std::path::Path::new(""));
        canonical.push(
            tokio::fs::canonicalize(p)
                .await
                .unwrap_or_else(|_| p.to_path_buf()),
        );
    }
    let fingerprints: Vec<Result<SourceFingerprint>> = futures::stream::iter(
        canonical
            .clone()
            .into_iter()
            .map(|p: PathBuf| async move { SourceFingerprint::of_file(&p).await }),
    )
    .buffered(8)
    .collect()
    .await;
    let mut sources = Vec::with_capacity(specs.len());
    for (p, f) in canonical.iter().zip(fingerprints) {
        sources.push((p.clone(), f?));
    }
    let identity = serde_json::json!({
        "apply": apply,
        "paths": canonical,
    });
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(identity.to_string().as_bytes()))
    };
    let key = cfg
        .key
        .unwrap_or_else(|| format!("vod-upload-{}", &digest[..32]));
    Ok(Some(Resumable {
        store: cfg.store,
        key,
        digest,
        sources,
    }))
}

/// Why a checkpoint does not belong to this request (format, request, files), if it does not.
fn foreign_reason(cp: &Checkpoint, res: &Resumable) -> Option<String> {
    if cp.version != CHECKPOINT_VERSION {
        return Some(format!(
            "format version {} (expected {CHECKPOINT_VERSION})",
            cp.version
        ));
    }
    if cp.request_digest != res.digest {
        return Some("it was made for another request (different fields or files)".into());
    }
    if cp.objects.len() != res.sources.len() {
        return Some("its objects do not match the request's".into());
    }
    for (o, (path, fp)) in cp.objects.iter().zip(&res.sources) {
        if &o.local_path != path {
            return Some(format!("object {} was read from another file", o.key));
        }
        if &o.fingerprint != fp {
            return Some(format!(
                "source {} changed since the checkpoint (size, modification time or content)",
                path.display()
            ));
        }
    }
    None
}

/// Why a checkpoint of this request cannot be resumed (credentials about to expire, unusable session), if it
/// cannot.
fn stale_reason(cp: &Checkpoint, margin: Duration, want_cover: bool, now: i64) -> Option<String> {
    if let Some(exp) = cp.credential_expiry() {
        let left = exp - now;
        if left < i64::try_from(margin.as_secs()).unwrap_or(i64::MAX) {
            return Some(format!(
                "its temporary credentials expire in {left} s (margin {} s)",
                margin.as_secs()
            ));
        }
    }
    if let Err(e) = check_apply_response(&cp.apply, want_cover) {
        return Some(format!("its ApplyUpload answer is unusable: {e}"));
    }
    None
}

async fn discard_checkpoint(res: &Resumable) {
    if let Err(e) = res.store.delete(&res.key).await {
        tracing::warn!(key = %res.key, error = %e, "could not delete the checkpoint");
    }
}

/// What a checkpoint of this request allows.
enum Loaded {
    /// An interrupted transfer: resume it.
    Resume(Checkpoint),
    /// A commit was attempted and its outcome is unknown: reconcile it, never upload again.
    Reconcile(Checkpoint),
    /// The session is committed: answer with the recorded outcome.
    Committed(Checkpoint),
}

/// Loads the checkpoint of a resumable upload, when there is a usable one.
async fn load_checkpoint(
    res: &Resumable,
    margin: Duration,
    want_cover: bool,
    now: i64,
) -> Option<Loaded> {
    let cp = match res.store.load(&res.key).await {
        Ok(Some(cp)) => cp,
        Ok(None) => {
            tracing::debug!(key = %res.key, "no checkpoint: starting a new upload");
            return None;
        }
        Err(e) => {
            tracing::warn!(key = %res.key, error = %e, "checkpoint unreadable: discarding it and starting over");
            discard_checkpoint(res).await;
            return None;
        }
    };
    if let Some(reason) = foreign_reason(&cp, res) {
        tracing::info!(key = %res.key, %reason, "discarding stale checkpoint: starting over with a new ApplyUpload");
        discard_checkpoint(res).await;
        return None;
    }
    if cp.committed && cp.commit.is_some() {
        tracing::info!(key = %res.key, "the checkpoint records a commit: answering with it, nothing is uploaded");
        return Some(Loaded::Committed(cp));
    }
    if cp.committed || cp.commit_attempted_at.is_some() {
        if let Err(e) = check_apply_response(&cp.apply, want_cover) {
            tracing::warn!(key = %res.key, error = %e, "the checkpoint records a commit attempt but its session is unusable: discarding it");
            discard_checkpoint(res).await;
            return None;
        }
        tracing::warn!(
            key = %res.key,
            "the checkpoint records a CommitUpload attempt whose outcome is unknown: reconciling the commit \
             instead of uploading again"
        );
        return Some(Loaded::Reconcile(cp));
    }
    match stale_reason(&cp, margin, want_cover, now) {
        Some(reason) => {
            tracing::info!(key = %res.key, %reason, "discarding stale checkpoint: starting over with a new ApplyUpload");
            discard_checkpoint(res).await;
            None
        }
        None => {
            tracing::info!(
                key = %res.key,
                verified_parts = cp.verified_parts(),
                "resuming from checkpoint"
            );
            Some(Loaded::Resume(cp))
        }
    }
}

/// One VOD upload session and the COS keys of its objects.
struct Session {
    applied: ApplyUploadResponse,
    /// When ApplyUpload answered (unix seconds, server time).
    applied_at: i64,
    keys: Vec<String>,
    resumed: bool,
    writer: Option<Arc<CheckpointWriter>>,
}

impl Session {
    fn new(applied: ApplyUploadResponse, applied_at: i64, specs: &[ObjectSpec]) -> Self {
        let media_key = applied.media_storage_path[1..].to_string();
        let keys = specs
            .iter()
            .map(|s| match &s.role {
                Role::Media => media_key.clone(),
                Role::Cover => applied
                    .cover_storage_path
                    .as_deref()
                    .map(|p| p[1..].to_string())
                    .unwrap_or_default(),
                Role::Segment(rel) => segment_key(&media_key, rel),
            })
            .collect();
        Session {
            applied,
            applied_at,
            keys,
            resumed: false,
            writer: None,
        }
    }

    fn expiry(&self) -> Option<i64> {
        self.applied
            .temp_certificate
            .as_ref()
            .map(|c| c.expired_time)
    }
}

/// Whether a transfer failure means the session's temporary credentials expired (`now`: server time).
fn is_credential_expiry(e: &Error, expiry: Option<i64>, now: i64) -> bool {
    match e {
        Error::CredentialsExpired { .. } => true,
        _ => match e.code() {
            Some("ExpiredToken") => true,
            Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
                expiry.is_some_and(|exp| now + 5 >= exp)
            }
            _ => false,
        },
    }
}

/// Settings shared by every transfer attempt of one upload.
struct TransferPlan<'a> {
    transfer: &'a TransferConfig,
    budget: &'a ConcurrencyBudget,
    /// The caller's progress callback.
    progress: Option<&'a ProgressFn>,
    /// The objects' sizes, when known before the transfer.
    sizes: Vec<Option<u64>>,
    /// Retries reported by earlier attempts (a restarted session keeps counting).
    retries: &'a AtomicU32,
    bandwidth: Option<&'a BandwidthLimit>,
    /// Multipart uploads of every attempt that could not be aborted.
    orphans: &'a OrphanSink,
}

/// Uploads every object of `session` (resuming from its checkpoint when it has one). Returns the bytes of all
/// objects.
async fn transfer_all(
    ctx: &UploadContext<'_>,
    session: &Session,
    specs: &mut [ObjectSpec],
    plan: &TransferPlan<'_>,
    cancel: &CancellationToken,
) -> Result<u64> {
    let applied = &session.applied;
    let mut cos = CosClient::builder(&applied.storage_bucket, &applied.storage_region)
        .with_http_client(ctx.http.clone())
        .with_plain_http_warning(Arc::clone(ctx.cos_plain_http))
        .with_clock(ctx.clock.clone())
        .with_retry(ctx.retry.clone());
    cos = match &applied.temp_certificate {
        Some(tc) => cos
            .with_credential(tc.credential())
            .with_credential_expiry(tc.expired_time),
        None => {
            tracing::debug!("no TempCertificate: using the caller's own credentials for COS");
            cos.with_credential(ctx.api.credentials().credential().await?)
        }
    };
    if let Some(e) = ctx.cos_endpoint {
        cos = cos.with_endpoint(e);
    }
    let cos = cos.build()?;

    // Failing objects cancel the others through this token (a child: the caller's token is never touched).
    let attempt = cancel.child_token();
    let sources: Vec<Option<UploadSource>> = specs.iter_mut().map(|s| s.take_source()).collect();
    let specs_snapshots: Vec<Option<FileSnapshot>> = specs.iter().map(|s| s.snapshot).collect();
    let specs_snapshots = &specs_snapshots;
    let transfer = plan.transfer;
    let objects_in_flight = transfer.concurrency().max(1).saturating_mul(2);
    let cos_ref = &cos;
    let writer = session.writer.as_ref();
    let recorded = writer.map(|w| w.snapshot());
    // One sink for the caller's callback and the checkpoint writer (which records each confirmed part).
    let sink = (plan.progress.is_some() || writer.is_some()).then(|| {
        let user = plan.progress.cloned();
        let w = writer.cloned();
        ProgressSink::new(
            plan.sizes.clone(),
            plan.retries.load(Ordering::Relaxed),
            move |i, p| {
                if let (Some(w), ProgressEvent::PartDone { upload_id, part }) = (&w, &p.event) {
                    w.part_done(i, upload_id, part);
                }
                if let Some(f) = &user {
                    f(p);
                }
            },
        )
    });
    let sink = &sink;
    let work = async {
        let mut results = futures::stream::iter(sources.into_iter().enumerate().map(|(i, source)| {
            let key = session.keys[i].clone();
            let mut opts = UploadOptions::default()
                .with_config(transfer.clone())
                .with_budget(plan.budget.clone())
                .with_cancellation(attempt.clone())
                .with_expected_source(specs_snapshots[i])
                .with_orphan_sink(Arc::clone(plan.orphans));
            let progress = sink.as_ref().map(|s| s.object(i));
            if let Some(p) = &progress {
                opts = opts.with_object_progress(p.clone());
            }
            if let Some(l) = plan.bandwidth {
                opts = opts.with_bandwidth_limit(l.clone());
            }
            let entry = recorded.as_ref().and_then(|cp| cp.objects.get(i)).cloned();
            let head_cancel = attempt.clone();
            async move {
                if let (Some(w), Some(entry)) = (writer, &entry) {
                    if let Some(done) = entry.completed {
                        match or_cancel(&head_cancel, cos_ref.head_object(&key)).await? {
                            Some(h)
                                if h.size == done.size
                                    && (h.crc64 == Some(done.crc64)
                                        || (h.crc64.is_none() && transfer.trust_missing_crc())) =>
                            {
                                tracing::info!(key = %key, size = done.size, "object already complete (checkpoint, HEAD Object): skipped");
                                if let Some(p) = &progress {
                                    p.skipped(&key, done.size);
                                }
                                return Ok(done.size);
                            }
                            _ => {
                                tracing::info!(key = %key, "object recorded complete is missing or different on COS: uploading it again");
                                w.update(|cp| {
                                    if let Some(o) = cp.objects.get_mut(i) {
                                        o.completed = None;
                                        o.upload_id = None;
                                        o.parts.clear();
                                    }
                                });
                            }
                        }
                    } else if let Some(upload_id) = &entry.upload_id {
                        opts = opts.with_resume(ResumeState {
                            upload_id: upload_id.clone(),
                            completed_parts: entry.parts.clone(),
                        });
                    }
                }
                if writer.is_some() {
                    opts = opts.with_unfinished_upload_policy(UnfinishedUploadPolicy::Keep);
                }
                let Some(source) = source else {
                    return Err(Error::invalid(
                        format!("object {key}"),
                        "its reader was already consumed by an earlier attempt and cannot be read again",
                    ));
                };
                let out = cos_ref.upload(&key, source, opts).await?;
                if let Some(w) = writer {
                    w.update(|cp| {
                        if let Some(o) = cp.objects.get_mut(i) {
                            o.completed = Some(CompletedObject {
                                size: out.size,
                                crc64: out.crc64,
                            });
                        }
                    });
                }
                Ok(out.size)
            }
        }))
        .buffer_unordered(objects_in_flight);
        let mut first_error: Option<Error> = None;
        let mut bytes = 0u64;
        while let Some(r) = results.next().await {
            match r {
                Ok(n) => bytes += n,
                Err(e) => {
                    if first_error.is_none() {
                        if !matches!(e, Error::Cancelled) {
                            tracing::warn!(error = %e, "object upload failed: cancelling the others");
                        }
                        attempt.cancel();
                        first_error = Some(e);
                    } else if !matches!(e, Error::Cancelled) {
                        tracing::debug!(error = %e, "further object failure");
                    }
                }
            }
        }
        drop(results);
        if let Some(w) = writer {
            w.close();
        }
        match first_error {
            Some(e) => Err(e),
            None if cancel.is_cancelled() => Err(Error::Cancelled),
            None => Ok(bytes),
        }
    };
    // The checkpoint writer runs alongside (not spawned: dropping the upload drops it too).
    let (result, ()) = tokio::join!(work, async {
        if let Some(w) = writer {
            w.run().await;
        }
    });
    if let Some(s) = sink {
        plan.retries.store(s.retries(), Ordering::Relaxed);
    }
    result
}

/// A new session: ApplyUpload (raced with cancellation), and a fresh checkpoint when resumable.
async fn fresh_session(
    ctx: &UploadContext<'_>,
    apply: &ApplyUploadRequest,
    specs: &[ObjectSpec],
    resumable: Option<&Resumable>,
    margin: Duration,
    want_cover: bool,
    cancel: &CancellationToken,
) -> Result<Session> {
    let applied = or_cancel(cancel, ctx.api.apply_upload(apply)).await?;
    check_apply_response(&applied, want_cover)?;
    tracing::info!(
        bucket = %applied.storage_bucket,
        region = %applied.storage_region,
        request_id = %applied.request_id,
        "ApplyUpload done"
    );
    if let Some(exp) = applied.temp_certificate.as_ref().map(|c| c.expired_time) {
        let left = exp - ctx.clock.now();
        if left < i64::try_from(margin.as_secs()).unwrap_or(i64::MAX) {
            tracing::info!(
                valid_for_s = left,
                "the session's temporary credentials are short-lived; an expiry during the transfer restarts it once"
            );
        }
    }
    let applied_at = ctx.clock.now();
    let mut session = Session::new(applied, applied_at, specs);
    if let Some(res) = resumable {
        let now = applied_at;
        let cp = Checkpoint {
            version: CHECKPOINT_VERSION,
            key: res.key.clone(),
            request_digest: res.digest.clone(),
            created_at: now,
            updated_at: now,
            apply: session.applied.clone(),
            sub_app_id: apply.sub_app_id,
            objects: session
                .keys
                .iter()
                .zip(&res.sources)
                .map(|(key, (path, fp))| ObjectCheckpoint {
                    key: key.clone(),
                    local_path: path.clone(),
                    fingerprint: *fp,
                    upload_id: None,
                    parts: Vec::new(),
                    completed: None,
                })
                .collect(),
            committed: false,
            commit_attempted_at: None,
            commit: None,
        };
        let writer = CheckpointWriter::new(Arc::clone(&res.store), cp, ctx.clock.clone());
        writer.save_now().await;
        session.writer = Some(writer);
    }
    Ok(session)
}

async fn pipeline(
    ctx: UploadContext<'_>,
    req: UploadRequest,
    cancel: CancellationToken,
) -> Result<UploadOutcome> {
    let started = tokio::time::Instant::now();
    let UploadRequest {
        media,
        cover,
        mut apply,
        transfer,
        progress,
        resolve_task,
        budget,
        checkpoint,
        checkpoint_key,
        keep_committed_checkpoint,
        bandwidth,
        credential_margin,
        commit_reconcile_timeout,
        ..
    } = req;

    // 1. Everything local, before any request.
    if ctx.api.region().is_none() {
        return Err(Error::invalid(
            "region",
            "an upload needs a region (Region is a required parameter of ApplyUpload and CommitUpload); set \
             VodClientBuilder::with_region or TENCENTCLOUD_REGION, e.g. ap-guangzhou",
        ));
    }
    let transfer = transfer.unwrap_or_else(|| ctx.transfer.clone());
    transfer.validate()?;
    let checkpoint = match (checkpoint, checkpoint_key) {
        (Some(store), key) => Some(CheckpointConfig { store, key }),
        (None, Some(key)) => {
            return Err(Error::invalid(
                "checkpoint_key",
                format!(
                    "{key:?} is set but no checkpoint store is (UploadRequest::with_checkpoint)"
                ),
            ));
        }
        (None, None) => None,
    };
    let (media_size, media_snapshot) = match &media {
        SourceSpec::Path(p) => {
            let (n, snap) = check_file("media", p).await?;
            (Some(n), Some(snap))
        }
        SourceSpec::Bytes(b) => (Some(b.len() as u64), None),
        SourceSpec::Reader(_, n) => (*n, None),
    };
    if let Some(n) = media_size {
        crate::cos::PartPlan::new(n, &transfer).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => {
                Error::invalid(format!("media ({})", media.describe()), reason)
            }
            other => other,
        })?;
    }
    let (cover_size, cover_snapshot) = match &cover {
        Some(SourceSpec::Path(p)) => {
            let (n, snap) = check_file("cover", p).await?;
            (Some(n), Some(snap))
        }
        Some(SourceSpec::Bytes(b)) => (Some(b.len() as u64), None),
        Some(SourceSpec::Reader(_, n)) => (*n, None),
        None => (None, None),
    };
    // VOD has nothing to transcode or play in an empty file: refuse it before ApplyUpload.
    if media_size == Some(0) {
        return Err(Error::invalid(
            format!("media ({})", media.describe()),
            "is empty (0 bytes); VOD does not accept empty media",
        ));
    }
    if let (Some(0), Some(c)) = (cover_size, &cover) {
        return Err(Error::invalid(
            format!("cover ({})", c.describe()),
            "is empty (0 bytes); a cover must be an image",
        ));
    }
    complete_apply_fields(&mut apply, &media, cover.as_ref(), ctx.sub_app_id)?;
    let segments = if is_manifest_type(&apply.media_type) {
        let Some(root) = media.path() else {
            return Err(Error::invalid(
                "media",
                "an HLS/DASH manifest must be uploaded from a file path so its segments can be found",
            ));
        };
        let segs = or_cancel(&cancel, collect_segments(ctx.api, root)).await?;
        tracing::info!(segments = segs.len(), "manifest segments found locally");
        segs
    } else {
        Vec::new()
    };
    let want_cover = cover.is_some();
    let mut specs = vec![ObjectSpec::new(
        Role::Media,
        media,
        media_size,
        media_snapshot,
    )];
    if let Some(c) = cover {
        specs.push(ObjectSpec::new(Role::Cover, c, cover_size, cover_snapshot));
    }
    for s in segments {
        specs.push(ObjectSpec::new(
            Role::Segment(s.relative),
            SourceSpec::Path(s.local),
            Some(s.size),
            Some(s.snapshot),
        ));
    }
    let resumable = match checkpoint {
        Some(cfg) => prepare_resumable(cfg, &specs, &apply).await?,
        None => None,
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    let budget = budget.unwrap_or_else(|| ConcurrencyBudget::new(transfer.concurrency()));
    let orphans: OrphanSink = Arc::default();
    let retries = AtomicU32::new(0);
    let plan = TransferPlan {
        transfer: &transfer,
        budget: &budget,
        progress: progress.as_ref(),
        sizes: specs.iter().map(|o| o.size).collect(),
        retries: &retries,
        bandwidth: bandwidth.as_ref(),
        orphans: &orphans,
    };
    let orphaned =
        || -> Vec<OrphanedUpload> { orphans.lock().unwrap_or_else(|p| p.into_inner()).clone() };

    // 2. A session: from the checkpoint, or ApplyUpload. A checkpoint that records a commit (attempt) never
    //    leads to a second upload of the media.
    let mut from_checkpoint = match &resumable {
        Some(res) => {
            match load_checkpoint(res, credential_margin, want_cover, ctx.clock.now()).await {
                Some(Loaded::Resume(cp)) => Some(cp),
                Some(Loaded::Committed(cp)) => {
                    let commit = cp.commit.clone().map(Committed::from);
                    let session = Session::new(cp.apply.clone(), cp.created_at, &specs);
                    if !keep_committed_checkpoint {
                        discard_checkpoint(res).await;
                    }
                    let Some(committed) = commit else {
                        return Err(Error::invalid(
                            "checkpoint",
                            "records a commit without its answer",
                        ));
                    };
                    let done = Finish {
                        started,
                        want_cover,
                        bytes_sent: 0,
                        orphans: Vec::new(),
                    };
                    return finish(&ctx, &apply, resolve_task, session, committed, done).await;
                }
                Some(Loaded::Reconcile(cp)) => {
                    let mut session = Session::new(cp.apply.clone(), cp.created_at, &specs);
                    session.resumed = true;
                    let sub_app_id = cp.sub_app_id;
                    session.writer = Some(CheckpointWriter::new(
                        Arc::clone(&res.store),
                        cp,
                        ctx.clock.clone(),
                    ));
                    let target = CommitTarget {
                        api: ctx.api,
                        applied: &session.applied,
                        sub_app_id,
                        media_name: apply.media_name.as_deref(),
                        applied_at: session.applied_at,
                        reconcile_timeout: commit_reconcile_timeout,
                        cancel: Some(&cancel),
                    };
                    // On failure the checkpoint keeps its commit attempt: a later run reconciles again.
                    let committed = commit::reconcile(&target, None).await?;
                    record_commit(
                        resumable.as_ref(),
                        &session,
                        &committed,
                        keep_committed_checkpoint,
                    )
                    .await;
                    let done = Finish {
                        started,
                        want_cover,
                        bytes_sent: 0,
                        orphans: Vec::new(),
                    };
                    return finish(&ctx, &apply, resolve_task, session, committed, done).await;
                }
                None => None,
            }
        }
        None => None,
    };
    let mut expiry_restarts = 0u32;
    let (session, bytes_sent, committed) = loop {
        let session = match from_checkpoint.take() {
            Some(cp) => {
                let mut s = Session::new(cp.apply.clone(), cp.created_at, &specs);
                s.resumed = true;
                if let Some(res) = &resumable {
                    s.writer = Some(CheckpointWriter::new(
                        Arc::clone(&res.store),
                        cp,
                        ctx.clock.clone(),
                    ));
                }
                s
            }
            None => {
                fresh_session(
                    &ctx,
                    &apply,
                    &specs,
                    resumable.as_ref(),
                    credential_margin,
                    want_cover,
                    &cancel,
                )
                .await?
            }
        };

        // 3. Every object, under one budget.
        let bytes_sent = match transfer_all(&ctx, &session, &mut specs, &plan, &cancel).await {
            Ok(n) => n,
            Err(_) if cancel.is_cancelled() => return Err(Error::Cancelled),
            Err(e @ Error::SourceChanged { .. }) => return Err(e.with_orphaned_uploads(orphaned())),
            Err(e)
                if expiry_restarts == 0
                    && is_credential_expiry(&e, session.expiry(), ctx.clock.now())
                    && specs.iter().all(ObjectSpec::replayable) =>
            {
                expiry_restarts += 1;
                tracing::warn!(
                    error = %e,
                    "the session's temporary credentials expired during the transfer: applying for a new \
                     session and re-sending every object (once)"
                );
                continue;
            }
            Err(e) => return Err(e.with_orphaned_uploads(orphaned())),
        };
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        // Every source file must still be what was checked before ApplyUpload: a file changed after its object
        // was sent is not committed either.
        for spec in specs.iter() {
            spec.verify_unchanged().await?;
        }

        // 4. CommitUpload: only now that every object is verified. The checkpoint records the attempt first, so
        //    a crash or a lost answer leads a re-run to reconciliation, not to a second upload.
        if let Some(w) = &session.writer {
            let now = ctx.clock.now();
            w.update(|cp| cp.commit_attempted_at = Some(now));
            w.save_now().await;
        }
        let target = CommitTarget {
            api: ctx.api,
            applied: &session.applied,
            sub_app_id: apply.sub_app_id,
            media_name: apply.media_name.as_deref(),
            applied_at: session.applied_at,
            reconcile_timeout: commit_reconcile_timeout,
            cancel: Some(&cancel),
        };
        match commit::send(&target).await {
            Ok(c) => break (session, bytes_sent, c),
            Err(e) if e.is_outcome_unknown() => {
                // Never re-sent blindly: a second commit, then a media search; the checkpoint keeps the attempt
                // when this fails.
                let c = commit::reconcile(&target, Some(e)).await?;
                break (session, bytes_sent, c);
            }
            Err(e) if session.resumed && commit::is_session_refused(&e) => {
                // VOD does not take the checkpointed session: expired, or committed by an earlier run whose
                // answer was lost before its attempt could be recorded. Look before uploading again.
                let once = CommitTarget {
                    reconcile_timeout: Duration::ZERO,
                    ..target
                };
                if let Ok(Some(c)) = commit::find(&once, &mut Vec::new()).await {
                    break (session, bytes_sent, c);
                }
                if !specs.iter().all(ObjectSpec::replayable) {
                    return Err(e);
                }
                tracing::warn!(
                    error = %e,
                    "the checkpointed session cannot be committed (expired or unknown) and its media is not in \
                     the library: discarding the checkpoint and starting over"
                );
                if let Some(res) = &resumable {
                    discard_checkpoint(res).await;
                }
                continue;
            }
            Err(e) => {
                // A definite refusal: nothing was committed, so the attempt needs no reconciliation.
                if let Some(w) = &session.writer {
                    w.update(|cp| cp.commit_attempted_at = None);
                    w.save_now().await;
                }
                return Err(e);
            }
        }
    };
    tracing::info!(
        file_id = %committed.file_id,
        request_id = %committed.request_id,
        reconciled = committed.reconciled,
        "CommitUpload done"
    );
    record_commit(
        resumable.as_ref(),
        &session,
        &committed,
        keep_committed_checkpoint,
    )
    .await;
    let done = Finish {
        started,
        want_cover,
        bytes_sent,
        orphans: orphaned(),
    };
    finish(&ctx, &apply, resolve_task, session, committed, done).await
}

/// After a successful commit: deletes the checkpoint, or (when asked to keep it, or when the delete fails)
/// records the commit in it, so a re-run answers with the outcome instead of uploading again.
async fn record_commit(
    resumable: Option<&Resumable>,
    session: &Session,
    committed: &Committed,
    keep: bool,
) {
    let (Some(res), Some(w)) = (resumable, &session.writer) else {
        return;
    };
    let deleted = if keep {
        Err(None)
    } else {
        res.store.delete(&res.key).await.map_err(Some)
    };
    if let Err(e) = deleted {
        if let Some(e) = e {
            tracing::warn!(key = %res.key, error = %e, "could not delete the checkpoint after the commit; recording the commit in it");
        }
        let answer = crate::vod::CommitUploadResponse {
            file_id: committed.file_id.clone(),
            media_url: committed.media_url.clone(),
            cover_url: committed.cover_url.clone(),
            request_id: committed.request_id.clone(),
        };
        w.update(|cp| {
            cp.committed = true;
            cp.commit = Some(answer);
        });
        w.save_now().await;
    }
}

/// What the outcome reports besides the session and the commit.
struct Finish {
    started: tokio::time::Instant,
    want_cover: bool,
    bytes_sent: u64,
    orphans: Vec<OrphanedUpload>,
}

/// Resolves the procedure task (when asked) and builds the outcome.
async fn finish(
    ctx: &UploadContext<'_>,
    apply: &ApplyUploadRequest,
    resolve_task: Option<WaitOptions>,
    session: Session,
    committed: Committed,
    done: Finish,
) -> Result<UploadOutcome> {
    // 5. Optionally find the procedure task.
    let procedure_task_id = match (resolve_task, apply.procedure.as_deref()) {
        (Some(opts), Some(p)) if !p.is_empty() => {
            resolve_procedure_task(ctx.api, &committed.file_id, apply.sub_app_id, opts).await
        }
        _ => None,
    };

    let Session { applied, keys, .. } = session;
    let mut keys = keys.into_iter();
    let media_key = keys.next().unwrap_or_default();
    let cover_key = if done.want_cover { keys.next() } else { None };
    let segment_keys: Vec<String> = keys.collect();
    Ok(UploadOutcome {
        file_id: committed.file_id,
        media_url: committed.media_url,
        cover_url: committed.cover_url,
        apply_request_id: applied.request_id,
        commit_request_id: committed.request_id,
        bucket: applied.storage_bucket,
        region: applied.storage_region,
        media_key,
        cover_key,
        segment_keys,
        bytes_sent: done.bytes_sent,
        elapsed: done.started.elapsed(),
        procedure_task_id,
        orphaned_uploads: done.orphans,
        commit_reconciled: committed.reconciled,
    })
}

async fn resolve_procedure_task(
    api: &VodApi,
    file_id: &str,
    sub_app_id: Option<u64>,
    opts: WaitOptions,
) -> Option<String> {
    match api.find_procedure_task_id(file_id, sub_app_id, opts).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(file_id, error = %e, "procedure task id not found; it also arrives in the NewFileUpload event");
            None
        }
    }
}
