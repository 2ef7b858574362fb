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
//!    fresh ApplyUpload when it does not parse, has another format version, belongs to another request
//!    (explicit key reused), when a source file changed (size, modification time or CRC-64 of its first MiB), or
//!    when its temporary credentials expire within the [margin](UploadRequest::with_credential_margin) (default
//!    5 minutes). A checkpoint that records a **commit** answers with the recorded outcome, and one that records
//!    a **commit attempt** (saved before CommitUpload is sent) is reconciled (see [Exactly once](#exactly-once)):
//!    neither ever uploads the media again;
//! 2. otherwise reuses the session: objects recorded complete are checked with HEAD Object (size and CRC-64) and
//!    skipped; multipart uploads are resumed (List Parts confirms the recorded parts; only the missing ones are
//!    sent);
//! 3. records the commit attempt, commits, and deletes the checkpoint (or, when the delete fails or with
//!    [`UploadRequest::with_keep_committed_checkpoint`], records the commit's answer in it). If CommitUpload
//!    answers `InvalidParameterValue.VodSessionKey` for a resumed
//!    session without a recorded attempt (the session expired, or an earlier run's attempt could not be
//!    recorded), the media library is searched once for its media; only when it is not there is the checkpoint
//!    discarded and the upload started over, once.
//!
//! Only file sources can be resumed: with bytes or readers the checkpoint is ignored (debug log). A checkpoint
//! that does not parse starts the upload over; a store that cannot be read at all fails the upload before
//! anything is sent (what it holds may be a commit attempt). A save that fails is logged and the upload goes on,
//! except the save of the commit attempt: without it a crash during the commit could upload the media again,
//! so the upload fails before CommitUpload (nothing committed, resumable). `delete` errors are logged. A
//! checkpoint holds the temporary credentials: see [`Checkpoint`#secrets](Checkpoint#secrets).
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
mod objects;
mod pipeline;
mod prepare;
mod request;
mod resume;
mod session;

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
use objects::{ObjectSpec, Role, TransferPlan, transfer_all};
use pipeline::pipeline;
pub(crate) use prepare::local_segments;
use prepare::{check_file, collect_segments, complete_apply_fields, is_manifest_type, segment_key};
use request::{CheckpointConfig, SourceSpec};
use resume::{
    Loaded, Resumable, discard_checkpoint, load_checkpoint, prepare_resumable, record_commit,
};
use session::{Session, check_apply_response, fresh_session, is_credential_expiry};
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
