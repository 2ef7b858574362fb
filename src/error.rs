//! The crate's one error type.
//!
//! Every fallible operation returns [`Error`]. Remote failures keep what a support ticket needs (action or
//! operation, service error code, message, request id, HTTP status) and how hard the crate tried (attempts and
//! elapsed time, filled by the retry loop). [`Error::is_retryable`] is the single source of truth the retry loop
//! consults.
//!
//! No variant ever holds a secret: credentials, security tokens and `Authorization` values are never copied into
//! an error, and response excerpts are redacted (secret values such as `SecretKey`, `Token` or `Signature`
//! replaced by `***`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Shorthand for `Result<T, tencent_vod::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from VOD API 3.0 (`Response.Error` in the envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VodApiError {
    /// The API action, e.g. `ApplyUpload`.
    pub action: String,
    /// The service error code, e.g. `InvalidParameterValue.MediaType`.
    pub code: String,
    /// The service's message (its wording is not stable; switch on `code`).
    pub message: String,
    /// The `RequestId` of the failed call, for Tencent support.
    pub request_id: Option<String>,
    /// HTTP status of the response (API 3.0 answers 200 even for errors).
    pub http_status: u16,
    /// How many attempts were made (1 = no retry).
    pub attempts: u32,
    /// Time spent over all attempts.
    pub elapsed: Duration,
}

/// The COS operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CosOperation {
    /// `PUT Object` (simple upload).
    PutObject,
    /// `HEAD Object`.
    HeadObject,
    /// `POST Object?uploads` (Initiate Multipart Upload).
    InitiateMultipartUpload,
    /// `PUT Object?partNumber=&uploadId=` (Upload Part).
    UploadPart,
    /// `POST Object?uploadId=` (Complete Multipart Upload).
    CompleteMultipartUpload,
    /// `GET Object?uploadId=` (List Parts).
    ListParts,
    /// `DELETE Object?uploadId=` (Abort Multipart Upload).
    AbortMultipartUpload,
}

impl CosOperation {
    /// The operation's name as in the COS API documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            CosOperation::PutObject => "PutObject",
            CosOperation::HeadObject => "HeadObject",
            CosOperation::InitiateMultipartUpload => "InitiateMultipartUpload",
            CosOperation::UploadPart => "UploadPart",
            CosOperation::CompleteMultipartUpload => "CompleteMultipartUpload",
            CosOperation::ListParts => "ListParts",
            CosOperation::AbortMultipartUpload => "AbortMultipartUpload",
        }
    }
}

impl fmt::Display for CosOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered by COS (an `<Error>` XML body, or an error status).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CosError {
    /// The operation that failed.
    pub operation: CosOperation,
    /// HTTP status (200 for a Complete Multipart Upload that answered an `<Error>` body).
    pub status: u16,
    /// COS error code, e.g. `SignatureDoesNotMatch`; empty when the body carried none.
    pub code: String,
    /// COS error message.
    pub message: String,
    /// `x-cos-request-id` or `<RequestId>`.
    pub request_id: Option<String>,
    /// `<TraceId>`.
    pub trace_id: Option<String>,
    /// Bucket of the object.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Multipart upload id, when the operation belonged to one.
    pub upload_id: Option<String>,
    /// Part number, for Upload Part.
    pub part_number: Option<u32>,
    /// `Retry-After` the server asked for.
    pub retry_after: Option<Duration>,
    /// How many attempts were made (1 = no retry).
    pub attempts: u32,
    /// Time spent over all attempts.
    pub elapsed: Duration,
    /// Multipart uploads this failure left open because they could not be aborted (see [`OrphanedUpload`]).
    pub orphaned_uploads: Vec<OrphanedUpload>,
}

/// A multipart upload that was started but could be neither completed nor aborted (typically because the
/// temporary credentials it was started with were refused before the abort could be sent). Its parts stay in
/// the bucket until a lifecycle rule or an explicit `AbortMultipartUpload` removes them.
///
/// Upload ids are not secret; they are listed in errors ([`Error::orphaned_uploads`]), in
/// [`UploadOutcome::orphaned_uploads`](crate::UploadOutcome::orphaned_uploads) and in a `warn!` log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OrphanedUpload {
    /// Bucket of the object.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// The multipart upload id.
    pub upload_id: String,
}

impl OrphanedUpload {
    /// Describes one open multipart upload.
    pub fn new(
        bucket: impl Into<String>,
        key: impl Into<String>,
        upload_id: impl Into<String>,
    ) -> Self {
        OrphanedUpload {
            bucket: bucket.into(),
            key: key.into(),
            upload_id: upload_id.into(),
        }
    }
}

impl fmt::Display for OrphanedUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} (upload id {})",
            self.bucket, self.key, self.upload_id
        )
    }
}

fn fmt_orphans(list: &[OrphanedUpload]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let names: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!(
        "; {} multipart upload(s) could not be aborted and are left open: {}",
        list.len(),
        names.join(", ")
    )
}

/// What made an HLS/DASH manifest unusable (see [`Error::Manifest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestErrorKind {
    /// A referenced path is empty, a URL, absolute, or carries a query or fragment.
    InvalidPath,
    /// A referenced file is missing or is not a regular file.
    Missing,
    /// A segment or nested playlist resolves outside the top-level manifest's directory, through `..` or a
    /// symbolic link. Nothing outside that directory is ever read or uploaded.
    OutsideManifestDir {
        /// Where the path leads (following symbolic links when the file exists).
        resolved: PathBuf,
    },
    /// A playlist includes itself or one of its parents.
    Loop,
    /// Playlists nest deeper than [`MAX_MANIFEST_DEPTH`](crate::upload::MAX_MANIFEST_DEPTH).
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The manifest tree references more than
    /// [`MAX_MANIFEST_FILES`](crate::upload::MAX_MANIFEST_FILES) files.
    TooManyFiles {
        /// The limit.
        max: usize,
    },
}

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection could not be established.
    Connect,
    /// A timeout (connect, read or whole-request).
    Timeout,
    /// The request or response body failed mid-way (connection reset, short body).
    Body,
    /// Anything else the HTTP stack reported.
    Other,
}

/// A request that got no (complete) HTTP response.
#[derive(Debug)]
#[non_exhaustive]
pub struct TransportError {
    /// What was being done, e.g. `ApplyUpload` or `UploadPart`.
    pub operation: String,
    /// The kind of failure.
    pub kind: TransportKind,
    /// The underlying error (URL stripped, so no signed query string leaks).
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
    /// How many attempts were made (1 = no retry).
    pub attempts: u32,
    /// Time spent over all attempts.
    pub elapsed: Duration,
    /// Multipart uploads this failure left open because they could not be aborted.
    pub orphaned_uploads: Vec<OrphanedUpload>,
}

/// Why a TLS connection to VOD or COS was refused ([`Error::Tls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate chain does not lead to a trusted root: a private CA that was not added with
    /// `with_root_certificate`, built-in roots turned off, or a TLS-intercepting proxy whose CA is not trusted.
    UnknownIssuer,
    /// The server's certificate (or one in its chain) has expired.
    Expired,
    /// The server's certificate is not valid yet (check this machine's clock).
    NotYetValid,
    /// The server's certificate does not name the host (or IP address) that was connected to.
    NotValidForName,
    /// The server's certificate was revoked.
    Revoked,
    /// Any other certificate problem (bad signature, unsupported algorithm, wrong key usage, malformed).
    BadCertificate,
    /// The handshake failed before a certificate verdict: no common protocol version or cipher suite, a TLS
    /// alert from the server, or a peer that does not speak TLS (an `https://` endpoint on a plain-HTTP port).
    Handshake,
}

impl TlsProblem {
    fn describe(self) -> &'static str {
        match self {
            TlsProblem::UnknownIssuer => "certificate not trusted (unknown issuer)",
            TlsProblem::Expired => "certificate expired",
            TlsProblem::NotYetValid => "certificate not valid yet",
            TlsProblem::NotValidForName => "certificate not valid for this host name",
            TlsProblem::Revoked => "certificate revoked",
            TlsProblem::BadCertificate => "certificate invalid",
            TlsProblem::Handshake => "handshake failed",
        }
    }
}

/// A TLS connection to VOD or COS failed: the server's certificate was refused or the handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsError {
    /// What was being done, e.g. `ApplyUpload` or `UploadPart of a/b.mp4 part 3`.
    pub operation: String,
    /// The host (and port) connected to, when known.
    pub host: Option<String>,
    /// What was wrong.
    pub problem: TlsProblem,
    /// The TLS library's words for it.
    pub detail: String,
    /// How many attempts were made (TLS failures are not retried: 1).
    pub attempts: u32,
    /// Time spent over all attempts.
    pub elapsed: Duration,
}

/// Why a forward proxy did not carry a request ([`Error::Proxy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyProblem {
    /// The proxy answered `407 Proxy Authentication Required` (or, to a forwarded plain-HTTP request, `401` with
    /// `WWW-Authenticate`): it wants credentials, or refused those given (put them in the proxy URL:
    /// `http://user:password@proxy:3128`). Not retried.
    AuthenticationRequired,
    /// The proxy refused to open a tunnel: `CONNECT` answered with a non-2xx status other than 407 — an access
    /// rule or a port it does not tunnel to (403), credentials it refused (some proxies answer 401), or a
    /// destination it cannot reach (5xx). The HTTP stack does not report which status, and most of these are
    /// configuration problems, so it is not retried.
    TunnelRefused,
    /// The proxy could not be reached, or closed the connection while the tunnel was set up. Retried.
    Unreachable,
}

/// A forward proxy did not carry a request to VOD or COS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyError {
    /// What was being done, e.g. `ApplyUpload` or `UploadPart of a/b.mp4 part 3`.
    pub operation: String,
    /// What went wrong.
    pub problem: ProxyProblem,
    /// The proxy's HTTP status, when it is known (407, or 401).
    pub status: Option<u16>,
    /// More detail, from the HTTP stack.
    pub detail: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// Time spent over all attempts.
    pub elapsed: Duration,
}

/// A response that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidResponseError {
    /// The action or operation, e.g. `ApplyUpload` or `CompleteMultipartUpload`.
    pub operation: String,
    /// HTTP status.
    pub status: u16,
    /// What was wrong, e.g. `body is not JSON: EOF while parsing`.
    pub reason: String,
    /// The first bytes of the body, with anything secret-looking replaced by `***`.
    pub excerpt: String,
    /// A request id, when one could be read from headers.
    pub request_id: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
    /// Time spent over all attempts.
    pub elapsed: Duration,
}

/// A `CommitUpload` whose outcome could not be established: the request may have been processed (its answer was
/// lost: a reset connection, a timeout, a 5xx or an unreadable body), a second `CommitUpload` did not succeed
/// (VOD answers a session that was already committed like an invalid one), and the media could not be found with
/// `SearchMedia` / `DescribeMediaInfos` either. The media **may be committed**: do not upload it again before
/// reconciling (search the media library for [`media_storage_path`](Self::media_storage_path), wait for the
/// `NewFileUpload` event, or retry `CommitUpload` with [`vod_session_key`](Self::vod_session_key)).
///
/// `Display` and `Debug` never show the session key.
#[non_exhaustive]
pub struct CommitOutcomeUnknownError {
    vod_session_key: String,
    /// `SubAppId` of the session.
    pub sub_app_id: Option<u64>,
    /// COS bucket the objects were uploaded to.
    pub bucket: String,
    /// COS region of the bucket.
    pub region: String,
    /// `MediaStoragePath` of the session (the media's path; a committed media's `MediaUrl` has this path).
    pub media_storage_path: String,
    /// `CoverStoragePath` of the session, when a cover was uploaded.
    pub cover_storage_path: Option<String>,
    /// `MediaName` given to ApplyUpload, when there was one.
    pub media_name: Option<String>,
    /// When ApplyUpload answered (unix seconds, server time): the media was created after this.
    pub applied_at: i64,
    /// Request id of ApplyUpload.
    pub apply_request_id: String,
    /// Request ids of the `CommitUpload` attempts that got an answer (none when no answer came back).
    pub commit_request_ids: Vec<String>,
    /// Request ids of the `SearchMedia` / `DescribeMediaInfos` calls made to find the media.
    pub search_request_ids: Vec<String>,
    /// Why the outcome stays unknown, in words.
    pub reason: String,
    /// The failure of the first `CommitUpload`.
    pub cause: Option<Box<Error>>,
}

impl CommitOutcomeUnknownError {
    /// Describes an unresolved commit of the session `vod_session_key`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        vod_session_key: impl Into<String>,
        sub_app_id: Option<u64>,
        bucket: impl Into<String>,
        region: impl Into<String>,
        media_storage_path: impl Into<String>,
        cover_storage_path: Option<String>,
        media_name: Option<String>,
        applied_at: i64,
        apply_request_id: impl Into<String>,
    ) -> Self {
        CommitOutcomeUnknownError {
            vod_session_key: vod_session_key.into(),
            sub_app_id,
            bucket: bucket.into(),
            region: region.into(),
            media_storage_path: media_storage_path.into(),
            cover_storage_path,
            media_name,
            applied_at,
            apply_request_id: apply_request_id.into(),
            commit_request_ids: Vec::new(),
            search_request_ids: Vec::new(),
            reason: String::new(),
            cause: None,
        }
    }

    /// The session's `VodSessionKey` (a secret: it commits the session), e.g. to retry `CommitUpload` later.
    pub fn vod_session_key(&self) -> &str {
        &self.vod_session_key
    }
}

impl fmt::Debug for CommitOutcomeUnknownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitOutcomeUnknownError")
            .field("vod_session_key", &"***")
            .field("sub_app_id", &self.sub_app_id)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("media_storage_path", &self.media_storage_path)
            .field("cover_storage_path", &self.cover_storage_path)
            .field("media_name", &self.media_name)
            .field("applied_at", &self.applied_at)
            .field("apply_request_id", &self.apply_request_id)
            .field("commit_request_ids", &self.commit_request_ids)
            .field("search_request_ids", &self.search_request_ids)
            .field("reason", &self.reason)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for CommitOutcomeUnknownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the outcome of CommitUpload is unknown for the media at {} (bucket {}, applied at {}, ApplyUpload \
             request id {}): {}; the media may be committed: reconcile before uploading it again",
            self.media_storage_path,
            self.bucket,
            self.applied_at,
            self.apply_request_id,
            self.reason
        )?;
        if !self.commit_request_ids.is_empty() {
            write!(
                f,
                "; CommitUpload request ids {}",
                self.commit_request_ids.join(", ")
            )?;
        }
        if let Some(c) = &self.cause {
            write!(f, "; first failure: {c}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CommitOutcomeUnknownError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why an event callback was refused by [`CallbackVerifier`](crate::events::CallbackVerifier).
///
/// VOD signs a callback with the `SignKey` set by `ModifyEventConfig`: the body carries `T` (the signature's
/// expiry, unix seconds) and `Sign` = lower-case hex MD5(`SignKey` + `T`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackRejection {
    /// A key is configured but the body has no `Sign`.
    MissingSign,
    /// A key is configured but the body has no `T`.
    MissingExpiry,
    /// `Sign` or `T` is present but unusable.
    Malformed {
        /// `Sign` or `T`.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
    /// `Sign` is not MD5(key + `T`): the wrong key, or a forged or altered notification.
    SignMismatch,
    /// `T` has passed, by more than the clock-skew allowance.
    Expired {
        /// `T`.
        expired_at: i64,
        /// The verifier's clock.
        now: i64,
        /// The allowance that was applied, seconds.
        skew_secs: u64,
    },
    /// `T` lies further ahead than any signature VOD hands out (a replay window this long is refused).
    ExpiryTooFar {
        /// `T`.
        expires_at: i64,
        /// The verifier's clock.
        now: i64,
        /// The largest accepted distance, seconds.
        max_ahead_secs: u64,
    },
}

impl fmt::Display for CallbackRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackRejection::MissingSign => {
                f.write_str("no Sign in the notification, but a callback key is configured")
            }
            CallbackRejection::MissingExpiry => {
                f.write_str("no T in the notification, but a callback key is configured")
            }
            CallbackRejection::Malformed { field, reason } => write!(f, "{field} {reason}"),
            CallbackRejection::SignMismatch => {
                f.write_str("Sign does not match MD5(callback key + T)")
            }
            CallbackRejection::Expired {
                expired_at,
                now,
                skew_secs,
            } => write!(
                f,
                "signature expired at {expired_at} (T), now {now}, allowance {skew_secs} s"
            ),
            CallbackRejection::ExpiryTooFar {
                expires_at,
                now,
                max_ahead_secs,
            } => write!(
                f,
                "T {expires_at} is more than {max_ahead_secs} s after now ({now})"
            ),
        }
    }
}

/// Why a client-upload signature (客户端上传签名) did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadSignatureRejection {
    /// Not standard Base64.
    NotBase64,
    /// Too short to hold the 20-byte HMAC-SHA1 and a query string.
    TooShort {
        /// Decoded length, bytes.
        len: usize,
    },
    /// The query string after the HMAC is not UTF-8.
    NotUtf8,
    /// The HMAC-SHA1 does not match the query string under this key.
    HmacMismatch,
    /// `expireTime` has passed.
    Expired {
        /// `expireTime`.
        expire_time: i64,
        /// The verifier's clock.
        now: i64,
    },
}

impl fmt::Display for UploadSignatureRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadSignatureRejection::NotBase64 => f.write_str("not standard Base64"),
            UploadSignatureRejection::TooShort { len } => write!(
                f,
                "{len} bytes decoded; expected a 20-byte HMAC-SHA1 followed by the query string"
            ),
            UploadSignatureRejection::NotUtf8 => f.write_str("the query string is not UTF-8"),
            UploadSignatureRejection::HmacMismatch => {
                f.write_str("HMAC-SHA1 does not match (wrong SecretKey or altered parameters)")
            }
            UploadSignatureRejection::Expired { expire_time, now } => {
                write!(f, "expired at {expire_time} (expireTime), now {now}")
            }
        }
    }
}

/// A `PullUpload` task that ended with an error (`PullUploadTask.ErrCode` ≠ 0).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullFailure {
    /// The pull task id.
    pub task_id: String,
    /// `ErrCode`: 40000 invalid input, 60000 source file error, 70000 internal error (others possible).
    pub err_code: i64,
    /// `Message`.
    pub message: String,
}

/// What kind of failure a [`PullFailure`] is, from its `ErrCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PullErrorKind {
    /// 40000: an input parameter is invalid.
    InvalidInput,
    /// 60000: the source could not be fetched or is damaged.
    SourceFile,
    /// 70000: VOD internal error; pulling again may succeed.
    Internal,
    /// Any other code.
    Other,
}

impl PullFailure {
    /// The kind, from `err_code`.
    pub fn kind(&self) -> PullErrorKind {
        match self.err_code {
            40000 => PullErrorKind::InvalidInput,
            60000 => PullErrorKind::SourceFile,
            70000 => PullErrorKind::Internal,
            _ => PullErrorKind::Other,
        }
    }
}

/// The crate's error type.
///
/// Match on the variant for what went wrong; [`is_retryable`](Self::is_retryable) says whether trying again can
/// help (the crate has already retried what it could), [`code`](Self::code) and
/// [`request_id`](Self::request_id) are what Tencent support asks for. `Display` names the action or object and
/// never shows a secret.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};
/// # let mock = MockServer::start().await?;
/// # let client = mock.client_builder().build()?;
/// # mock.add_fault(FaultRule::new(Target::Vod("ApplyUpload")).fault(Fault::VodError("ResourceNotFound".into())));
/// use tencent_vod::{Error, UploadRequest};
///
/// // Bad input fails before any request, naming the field and what was expected.
/// let e = client.upload(UploadRequest::from_bytes(vec![1; 10], "exe")).await.unwrap_err();
/// assert!(matches!(&e, Error::InvalidInput { field, .. } if field.starts_with("media_type")), "{e}");
/// assert!(!e.is_retryable());
///
/// // A service error keeps its code and request id.
/// match client.upload(UploadRequest::from_bytes(vec![1; 10], "mp4")).await {
///     Err(Error::Vod(v)) => {
///         assert_eq!((v.action.as_str(), v.code.as_str()), ("ApplyUpload", "ResourceNotFound"));
///         eprintln!("ask support about request {:?}", v.request_id);
///     }
///     Err(Error::Cancelled | Error::DeadlineExceeded(_)) => unreachable!("not cancelled here"),
///     Err(other) if other.is_retryable() => eprintln!("transient, try again later: {other}"),
///     other => panic!("{other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller-supplied value or configuration is invalid. `field` names it; `reason` says what was expected.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, option or argument, e.g. `part_size` or `media (/data/a.mp4)`.
        field: String,
        /// What was wrong and what was expected.
        reason: String,
    },

    /// Reading a local file failed.
    #[error("I/O error on {}: {action}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. `open`, `read part 3`.
        action: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// An HLS/DASH manifest is unusable (missing segment, absolute/URL segment, a segment leading outside the
    /// manifest's directory, a loop, nesting or size limits). `kind` says which, `reason` says it in words.
    #[error("manifest {}: {reason}", manifest.display())]
    Manifest {
        /// The manifest file.
        manifest: PathBuf,
        /// The offending segment, as written in the manifest, when one is to blame.
        segment: Option<String>,
        /// What kind of problem it is.
        kind: ManifestErrorKind,
        /// What is wrong.
        reason: String,
    },

    /// A source file changed (size, modification time, inode or device) between the moment the upload
    /// checked it and the moment its last byte was read or the upload was committed. Nothing is committed: the
    /// bytes sent may mix old and new content.
    #[error("{} changed while uploading ({detail}); nothing was committed", path.display())]
    SourceChanged {
        /// The file.
        path: PathBuf,
        /// What changed, e.g. `size 1048576 -> 1048580`.
        detail: String,
    },

    /// A VOD or COS request was answered with an HTTP redirect (3xx). Neither service redirects API calls, and
    /// following one would send the signed request, its session token and its body to another host, so the
    /// crate never does.
    ///
    /// A caller-supplied HTTP client ([`VodClientBuilder::with_http_client`](crate::VodClientBuilder::with_http_client))
    /// that follows redirects itself hides the 3xx from the crate; the crate still notices that the answer came
    /// from another URL and refuses it (`followed` is then `true`), but the request has already reached the other
    /// host by then.
    #[error("{}", fmt_redirect(operation, *status, location_host.as_deref(), *followed))]
    Redirect {
        /// The VOD action or COS operation, e.g. `CommitUpload` or `InitiateMultipartUpload of a/b.mp4`.
        operation: String,
        /// The HTTP status: the 3xx (301, 302, 303, 307, 308…), or the final status when `followed`.
        status: u16,
        /// The host (and port) the `Location` header points at (or the client was redirected to); never its
        /// path or query.
        location_host: Option<String>,
        /// The HTTP client followed the redirect before the crate saw it.
        followed: bool,
    },

    /// No usable credentials, or a half-set credential.
    #[error("credentials: {0}")]
    Credentials(String),

    /// VOD API 3.0 answered `Response.Error`.
    #[error(
        "VOD {} failed: {} ({}), request id {}, after {} attempt(s)",
        .0.action, .0.code, .0.message, .0.request_id.as_deref().unwrap_or("-"), .0.attempts
    )]
    Vod(Box<VodApiError>),

    /// COS answered an error.
    #[error("{}", fmt_cos(.0))]
    Cos(Box<CosError>),

    /// The request got no complete response (connect failure, reset, timeout).
    #[error(
        "{} failed: {:?} error: {}, after {} attempt(s){}",
        .0.operation, .0.kind, .0.source, .0.attempts, fmt_orphans(&.0.orphaned_uploads)
    )]
    Transport(Box<TransportError>),

    /// A TLS connection failed: the server's certificate was refused (untrusted issuer, expired, wrong name…)
    /// or the handshake failed. Never retried. A private CA (a test server, a corporate TLS-intercepting proxy)
    /// is added with `VodClientBuilder::with_root_certificate`.
    #[error("{}", fmt_tls(.0))]
    Tls(Box<TlsError>),

    /// A forward proxy (from `with_proxy` or `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`) did not carry the request:
    /// it wants credentials (`407`) or refused the tunnel (both never retried), or could not be reached
    /// (retried like a connection failure).
    #[error(
        "{}: the proxy {}{}: {}, after {} attempt(s)",
        .0.operation,
        match .0.problem {
            ProxyProblem::AuthenticationRequired => "refused the request: proxy authentication required",
            ProxyProblem::TunnelRefused => "refused to open a tunnel (CONNECT)",
            ProxyProblem::Unreachable => "could not be reached",
        },
        .0.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        .0.detail,
        .0.attempts
    )]
    Proxy(Box<ProxyError>),

    /// A response could not be understood (not JSON/XML, truncated, missing a required field).
    #[error(
        "{}: invalid response (HTTP {}): {}; body starts: {:?}",
        .0.operation, .0.status, .0.reason, .0.excerpt
    )]
    InvalidResponse(Box<InvalidResponseError>),

    /// The temporary COS credentials expired (or would expire before the request could be signed).
    #[error(
        "temporary credentials expired at {expired_at} (unix s) before {operation} could be sent{}",
        fmt_orphans(orphaned_uploads)
    )]
    CredentialsExpired {
        /// `TempCertificate.ExpiredTime`.
        expired_at: i64,
        /// What could not be done.
        operation: String,
        /// Multipart uploads started with these credentials that could not be aborted in time.
        orphaned_uploads: Vec<OrphanedUpload>,
    },

    /// A checksum did not match: the bytes COS stored are not the bytes that were sent.
    #[error(
        "integrity check failed for {object}{}: expected crc64 {expected}, COS reported {actual}",
        part.map(|p| format!(" part {p}")).unwrap_or_default()
    )]
    Integrity {
        /// Object key.
        object: String,
        /// Part number, when a single part mismatched.
        part: Option<u32>,
        /// CRC-64/XZ computed locally.
        expected: u64,
        /// CRC-64/XZ reported by COS.
        actual: u64,
    },

    /// The operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,

    /// The caller's overall deadline passed.
    #[error("deadline of {0:?} exceeded")]
    DeadlineExceeded(Duration),

    /// `CommitUpload` may have been processed but its outcome could not be established: the media may be
    /// committed. See [`CommitOutcomeUnknownError`]; never retry the upload blindly.
    #[error(transparent)]
    CommitOutcomeUnknown(Box<CommitOutcomeUnknownError>),

    /// An event callback failed verification (see [`CallbackVerifier`](crate::events::CallbackVerifier)).
    #[error("event callback rejected: {0}")]
    CallbackRejected(CallbackRejection),

    /// A client-upload signature failed verification (see
    /// [`UploadSignature::verify`](crate::appserver::UploadSignature::verify)).
    #[error("upload signature rejected: {0}")]
    UploadSignatureRejected(UploadSignatureRejection),

    /// A `PullUpload` task finished with an error.
    #[error(
        "pull task {} failed: ErrCode {} ({})",
        .0.task_id, .0.err_code, .0.message
    )]
    PullFailed(Box<PullFailure>),
}

fn fmt_redirect(operation: &str, status: u16, host: Option<&str>, followed: bool) -> String {
    let host = host.unwrap_or("(no Location)");
    if followed {
        format!(
            "{operation}: the HTTP client followed a redirect to {host} (HTTP {status} there); the answer is \
             refused: build the client with reqwest::redirect::Policy::none()"
        )
    } else {
        format!(
            "{operation}: the server answered HTTP {status} redirecting to {host}; redirects are never followed"
        )
    }
}

fn fmt_tls(e: &TlsError) -> String {
    let mut s = format!(
        "{}: TLS with {}: {} ({})",
        e.operation,
        e.host.as_deref().unwrap_or("the server"),
        e.problem.describe(),
        e.detail
    );
    if e.problem == TlsProblem::UnknownIssuer {
        s.push_str(
            "; if the server's certificate comes from a private CA, trust it with with_root_certificate",
        );
    }
    s.push_str(&format!(", after {} attempt(s)", e.attempts));
    s
}

fn fmt_cos(e: &CosError) -> String {
    let mut s = format!(
        "COS {} of {}/{} failed: HTTP {}",
        e.operation, e.bucket, e.key, e.status
    );
    if !e.code.is_empty() {
        s.push_str(&format!(" {}", e.code));
    }
    if !e.message.is_empty() {
        s.push_str(&format!(" ({})", e.message));
    }
    if let Some(id) = &e.upload_id {
        s.push_str(&format!(", upload id {id}"));
    }
    if let Some(n) = e.part_number {
        s.push_str(&format!(", part {n}"));
    }
    if let Some(r) = &e.request_id {
        s.push_str(&format!(", request id {r}"));
    }
    s.push_str(&format!(", after {} attempt(s)", e.attempts));
    s.push_str(&fmt_orphans(&e.orphaned_uploads));
    s
}

/// VOD error codes that are worth retrying (throttling and server-side transients).
const VOD_RETRYABLE: &[&str] = &[
    "InternalError",
    "ServiceUnavailable",
    "ResourceUnavailable",
    "RequestLimitExceeded",
];

/// COS error codes that are worth retrying even under a 4xx status.
const COS_RETRYABLE: &[&str] = &[
    "InternalError",
    "SlowDown",
    "ServiceUnavailable",
    "RequestTimeOut",
    "RequestTimeout",
];

impl Error {
    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, action: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action: action.into(),
            source,
        }
    }

    /// Whether trying the same request again may succeed: transport failures, throttling, server errors.
    /// Never true for authentication, parameter or local errors.
    ///
    /// Clock-skew refusals ([`is_clock_skew`](Self::is_clock_skew), e.g. `AuthFailure.SignatureExpire`) answer
    /// `false` here; the retry loop re-signs them with the corrected clock and retries once on its own. Whether a
    /// retryable failure may be repeated also depends on the operation's
    /// [`Idempotency`](crate::retry::Idempotency) (see [`is_outcome_unknown`](Self::is_outcome_unknown)).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Vod(e) => {
                VOD_RETRYABLE.contains(&e.code.as_str())
                    || e.code.starts_with("RequestLimitExceeded")
                    || e.http_status >= 500
            }
            Error::Cos(e) => {
                e.status >= 500
                    || e.status == 429
                    || e.status == 408
                    || COS_RETRYABLE.contains(&e.code.as_str())
            }
            Error::Transport(_) => true,
            Error::Proxy(e) => e.problem == ProxyProblem::Unreachable,
            Error::InvalidResponse(e) => e.status >= 500 || e.status == 429 || e.status == 408,
            _ => false,
        }
    }

    /// Whether the request may have been processed although no usable answer came back: a transport failure
    /// after the connection was made (reset, timeout, short body), an unreadable answer, or a server error
    /// (5xx, VOD `InternalError`). Repeating such a request is safe only for idempotent operations; the retry
    /// loop never repeats a non-idempotent one then (see [`Idempotency`](crate::retry::Idempotency)).
    ///
    /// Throttling (`RequestLimitExceeded`, `SlowDown`, 429), a connection that could not be made, and every
    /// 4xx answer mean the request was not processed.
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Transport(e) => e.kind != TransportKind::Connect,
            Error::InvalidResponse(e) => e.status != 429,
            Error::Vod(e) => {
                !e.code.starts_with("RequestLimitExceeded")
                    && (e.http_status >= 500
                        || matches!(
                            e.code.as_str(),
                            "InternalError" | "ServiceUnavailable" | "ResourceUnavailable"
                        )
                        || e.code.starts_with("InternalError."))
            }
            Error::Cos(e) => e.status >= 500 && e.code != "SlowDown",
            Error::CommitOutcomeUnknown(_) => true,
            _ => false,
        }
    }

    /// Whether the service refused the request because this host's clock is off: VOD
    /// `AuthFailure.SignatureExpire` (timestamp more than 5 minutes away), COS `RequestTimeTooSkewed`, and COS
    /// `AccessDenied` "Request has expired" (the signature's end time is past, by the server's clock). The retry
    /// loop re-signs with the corrected clock and retries once.
    pub fn is_clock_skew(&self) -> bool {
        match self {
            Error::Vod(e) => e.code == "AuthFailure.SignatureExpire",
            Error::Cos(e) => {
                e.code == "RequestTimeTooSkewed"
                    || (e.code == "AccessDenied"
                        && e.message
                            .trim_start()
                            .to_ascii_lowercase()
                            .starts_with("request has expired"))
            }
            _ => false,
        }
    }

    /// The service error code (`InvalidParameterValue.MediaType`, `NoSuchUpload`…), for VOD and COS errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Vod(e) => Some(&e.code),
            Error::Cos(e) if !e.code.is_empty() => Some(&e.code),
            _ => None,
        }
    }

    /// The request id of the failed call (VOD `RequestId`, COS `x-cos-request-id`).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Vod(e) => e.request_id.as_deref(),
            Error::Cos(e) => e.request_id.as_deref(),
            Error::InvalidResponse(e) => e.request_id.as_deref(),
            Error::CommitOutcomeUnknown(e) => e.commit_request_ids.last().map(String::as_str),
            _ => None,
        }
    }

    /// The HTTP status of the failed response, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Vod(e) => Some(e.http_status),
            Error::Cos(e) => Some(e.status),
            Error::InvalidResponse(e) => Some(e.status),
            Error::Proxy(e) => e.status,
            _ => None,
        }
    }

    /// How many attempts the retry loop made before giving up (1 when not retried; 0 for local errors).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Vod(e) => e.attempts,
            Error::Cos(e) => e.attempts,
            Error::Transport(e) => e.attempts,
            Error::InvalidResponse(e) => e.attempts,
            Error::Tls(e) => e.attempts,
            Error::Proxy(e) => e.attempts,
            _ => 0,
        }
    }

    /// Time spent over all attempts of the failed request.
    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Error::Vod(e) => Some(e.elapsed),
            Error::Cos(e) => Some(e.elapsed),
            Error::Transport(e) => Some(e.elapsed),
            Error::InvalidResponse(e) => Some(e.elapsed),
            Error::Tls(e) => Some(e.elapsed),
            Error::Proxy(e) => Some(e.elapsed),
            _ => None,
        }
    }

    /// A delay the server asked for (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Cos(e) => e.retry_after,
            _ => None,
        }
    }

    /// Multipart uploads left open by this failure (they could not be aborted), for a later clean-up. Filled
    /// for [`Error::CredentialsExpired`], [`Error::Cos`] and [`Error::Transport`]; other failures log them with
    /// `warn!`.
    pub fn orphaned_uploads(&self) -> &[OrphanedUpload] {
        match self {
            Error::CredentialsExpired {
                orphaned_uploads, ..
            } => orphaned_uploads,
            Error::Cos(e) => &e.orphaned_uploads,
            Error::Transport(e) => &e.orphaned_uploads,
            _ => &[],
        }
    }

    /// Attaches orphaned multipart uploads to the error when its variant can hold them (see
    /// [`orphaned_uploads`](Self::orphaned_uploads)); duplicates are dropped.
    pub(crate) fn with_orphaned_uploads(
        mut self,
        orphans: impl IntoIterator<Item = OrphanedUpload>,
    ) -> Self {
        let list = match &mut self {
            Error::CredentialsExpired {
                orphaned_uploads, ..
            } => orphaned_uploads,
            Error::Cos(e) => &mut e.orphaned_uploads,
            Error::Transport(e) => &mut e.orphaned_uploads,
            _ => return self,
        };
        for o in orphans {
            if !list.contains(&o) {
                list.push(o);
            }
        }
        self
    }

    /// Builds an [`Error::CredentialsExpired`].
    pub(crate) fn credentials_expired(expired_at: i64, operation: impl Into<String>) -> Self {
        Error::CredentialsExpired {
            expired_at,
            operation: operation.into(),
            orphaned_uploads: Vec::new(),
        }
    }

    /// Records the retry loop's attempt count and elapsed time on a remote error.
    pub(crate) fn with_attempts(mut self, attempts: u32, elapsed: Duration) -> Self {
        match &mut self {
            Error::Vod(e) => {
                e.attempts = attempts;
                e.elapsed = elapsed;
            }
            Error::Cos(e) => {
                e.attempts = attempts;
                e.elapsed = elapsed;
            }
            Error::Transport(e) => {
                e.attempts = attempts;
                e.elapsed = elapsed;
            }
            Error::InvalidResponse(e) => {
                e.attempts = attempts;
                e.elapsed = elapsed;
            }
            Error::Tls(e) => {
                e.attempts = attempts;
                e.elapsed = elapsed;
            }
            Error::Proxy(e) => {
                e.attempts = attempts;
                e.elapsed = elapsed;
            }
            _ => {}
        }
        self
    }

    /// Wraps a `reqwest` error, stripping its URL (a v1-signed GET carries the signature in the query).
    ///
    /// A refused TLS certificate or handshake becomes [`Error::Tls`] and a proxy failure [`Error::Proxy`]
    /// (see [`crate::transport::net::classify`]), so neither hides behind a generic transport error.
    pub(crate) fn transport(operation: impl Into<String>, err: reqwest::Error) -> Self {
        let operation = operation.into();
        if let Some(e) = crate::transport::net::classify(&operation, &err) {
            return e;
        }
        let kind = if err.is_timeout() {
            TransportKind::Timeout
        } else if err.is_connect() {
            TransportKind::Connect
        } else if err.is_body() || err.is_request() || err.is_decode() {
            TransportKind::Body
        } else {
            TransportKind::Other
        };
        Error::Transport(Box::new(TransportError {
            operation,
            kind,
            source: Box::new(err.without_url()),
            attempts: 1,
            elapsed: Duration::ZERO,
            orphaned_uploads: Vec::new(),
        }))
    }

    /// The proxy-authentication error for a response to a request a proxy forwarded (plain HTTP), when it is
    /// one: `407`, or `401` with `WWW-Authenticate` (VOD answers errors with HTTP 200 and COS with 403, never
    /// 401; some proxies answer 401 to wrong credentials).
    pub(crate) fn proxy_auth_from_response(
        operation: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
    ) -> Option<Self> {
        let detail = match status {
            407 => "the proxy wants credentials, or refused those in the proxy URL",
            401 if headers.contains_key(reqwest::header::WWW_AUTHENTICATE) => {
                "an intermediary (the proxy) answered 401 with WWW-Authenticate: credentials refused"
            }
            _ => return None,
        };
        Some(Error::Proxy(Box::new(ProxyError {
            operation: operation.to_string(),
            problem: ProxyProblem::AuthenticationRequired,
            status: Some(status),
            detail: detail.into(),
            attempts: 1,
            elapsed: Duration::ZERO,
        })))
    }

    /// Builds an [`Error::InvalidResponse`] with a redacted excerpt of `body`.
    pub(crate) fn invalid_response(
        operation: impl Into<String>,
        status: u16,
        reason: impl Into<String>,
        body: &[u8],
        request_id: Option<String>,
    ) -> Self {
        Error::InvalidResponse(Box::new(InvalidResponseError {
            operation: operation.into(),
            status,
            reason: reason.into(),
            excerpt: redact_excerpt(body, 200),
            request_id,
            attempts: 1,
            elapsed: Duration::ZERO,
        }))
    }
}

/// Names whose values are replaced by `***` in response excerpts (JSON keys, XML elements, headers).
const SECRET_NAMES: &[&str] = &[
    "secretkey",
    "secret_key",
    "token",
    "sessiontoken",
    "session_token",
    "securitytoken",
    "x-cos-security-token",
    "x-tc-token",
    "authorization",
    "signature",
    "q-signature",
    "tmpsecretkey",
    "tmptoken",
    "vodsessionkey",
    "signkey",
];

/// Returns at most `max` characters of `body` as text, with the values of secret-looking fields
/// (`SecretKey`, `Token`, `Signature`, `Authorization`, `VodSessionKey`…) replaced by `***`.
///
/// Works on JSON (`"SecretKey":"…"`), XML (`<Token>…</Token>`) and `name=value` text, and on truncated input.
pub(crate) fn redact_excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let redacted = redact_text(&text);
    let mut out: String = redacted.chars().take(max).collect();
    if redacted.chars().count() > max {
        out.push('…');
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn redact_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if is_name_char(chars[i]) && (i == 0 || !is_name_char(chars[i - 1])) {
            let start = i;
            while i < chars.len() && is_name_char(chars[i]) {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            out.push_str(&name);
            if SECRET_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
                // Copy the separator (`":"`, `>`, `=`, `: `), then mask the value.
                let mut j = i;
                while j < chars.len() && matches!(chars[j], '"' | '\'' | ':' | '=' | '>' | ' ') {
                    j += 1;
                }
                if j > i {
                    out.extend(&chars[i..j]);
                    let mut k = j;
                    while k < chars.len()
                        && !matches!(chars[k], '"' | '\'' | '<' | '&' | ',' | '\n' | '}')
                    {
                        k += 1;
                    }
                    if k > j {
                        out.push_str("***");
                    }
                    i = k;
                }
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_json_xml_and_pairs() {
        let body = br#"{"Response":{"TempCertificate":{"SecretId":"AKIDx","SecretKey":"sk-123","Token":"tok+/="},"VodSessionKey":"abc"}}"#;
        let r = redact_excerpt(body, 1000);
        assert!(
            !r.contains("sk-123") && !r.contains("tok+/=") && !r.contains("abc\""),
            "{r}"
        );
        assert!(r.contains("AKIDx"), "secret ids are not secret: {r}");
        let r = redact_excerpt(br#"{"Mode":"PUSH","SignKey":"Key123abc"}"#, 1000);
        assert!(!r.contains("Key123abc") && r.contains("PUSH"), "{r}");
        let xml = b"<Error><Token>zzz</Token><Code>AccessDenied</Code></Error>";
        let r = redact_excerpt(xml, 1000);
        assert!(!r.contains("zzz") && r.contains("AccessDenied"), "{r}");
        let kv =
            b"Signature=abc%2B&x-cos-security-token: ttt\nAuthorization: q-sign-algorithm=sha1";
        let r = redact_excerpt(kv, 1000);
        assert!(
            !r.contains("abc%2B") && !r.contains("ttt") && !r.contains("q-sign"),
            "{r}"
        );
    }

    #[test]
    fn redacts_truncated_values() {
        let body = br#"{"Response":{"TempCertificate":{"SecretKey":"sk-12"#;
        let r = redact_excerpt(body, 1000);
        assert!(!r.contains("sk-12"), "{r}");
    }

    #[test]
    fn excerpt_is_bounded() {
        let body = vec![b'a'; 10_000];
        assert_eq!(redact_excerpt(&body, 50).chars().count(), 51);
    }

    #[test]
    fn retryability() {
        let vod = |code: &str| {
            Error::Vod(Box::new(VodApiError {
                action: "ApplyUpload".into(),
                code: code.into(),
                message: String::new(),
                request_id: None,
                http_status: 200,
                attempts: 1,
                elapsed: Duration::ZERO,
            }))
        };
        assert!(vod("RequestLimitExceeded.UinLimitExceeded").is_retryable());
        assert!(vod("InternalError").is_retryable());
        assert!(!vod("AuthFailure.SignatureFailure").is_retryable());
        assert!(!vod("InvalidParameterValue.MediaType").is_retryable());
        assert!(!Error::invalid("x", "y").is_retryable());
        assert_eq!(vod("InternalError").code(), Some("InternalError"));
    }

    #[test]
    fn outcome_unknown_and_clock_skew() {
        let vod = |code: &str, http_status: u16| {
            Error::Vod(Box::new(VodApiError {
                action: "CommitUpload".into(),
                code: code.into(),
                message: String::new(),
                request_id: None,
                http_status,
                attempts: 1,
                elapsed: Duration::ZERO,
            }))
        };
        let cos = |status: u16, code: &str, message: &str| {
            Error::Cos(Box::new(CosError {
                operation: CosOperation::CompleteMultipartUpload,
                status,
                code: code.into(),
                message: message.into(),
                request_id: None,
                trace_id: None,
                bucket: "b".into(),
                key: "k".into(),
                upload_id: None,
                part_number: None,
                retry_after: None,
                attempts: 1,
                elapsed: Duration::ZERO,
                orphaned_uploads: Vec::new(),
            }))
        };
        let transport = |kind| {
            Error::Transport(Box::new(TransportError {
                operation: "x".into(),
                kind,
                source: Box::new(std::io::Error::other("x")),
                attempts: 1,
                elapsed: Duration::ZERO,
                orphaned_uploads: Vec::new(),
            }))
        };
        // (error, outcome unknown, clock skew)
        let cases = [
            (transport(TransportKind::Connect), false, false),
            (transport(TransportKind::Body), true, false),
            (transport(TransportKind::Timeout), true, false),
            (
                Error::invalid_response("c", 502, "r", b"", None),
                true,
                false,
            ),
            (
                Error::invalid_response("c", 429, "r", b"", None),
                false,
                false,
            ),
            (vod("InternalError", 200), true, false),
            (vod("InternalError.DbError", 200), true, false),
            (
                vod("RequestLimitExceeded.UinLimitExceeded", 200),
                false,
                false,
            ),
            (
                vod("InvalidParameterValue.VodSessionKey", 200),
                false,
                false,
            ),
            (vod("AuthFailure.SignatureExpire", 200), false, true),
            (cos(503, "SlowDown", "slow"), false, false),
            (cos(500, "InternalError", "x"), true, false),
            (cos(404, "NoSuchUpload", "x"), false, false),
            (cos(403, "RequestTimeTooSkewed", "x"), false, true),
            (cos(403, "AccessDenied", "Request has expired"), false, true),
            (cos(403, "AccessDenied", "Access Denied."), false, false),
            (Error::invalid("f", "r"), false, false),
        ];
        for (e, unknown, skew) in cases {
            assert_eq!(e.is_outcome_unknown(), unknown, "{e}");
            assert_eq!(e.is_clock_skew(), skew, "{e}");
        }
    }

    #[test]
    fn commit_outcome_unknown_hides_the_session_key() {
        let mut u = CommitOutcomeUnknownError::new(
            "SeSsIoNkEy/+=",
            Some(7),
            "b-1",
            "ap-guangzhou",
            "/d/f0.mp4",
            None,
            Some("m".into()),
            1,
            "apply-rid",
        );
        u.commit_request_ids.push("rid-2".into());
        u.reason = "not found".into();
        let e = Error::CommitOutcomeUnknown(Box::new(u));
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("SeSsIoNkEy"), "{text}");
            assert!(
                text.contains("/d/f0.mp4") && text.contains("rid-2"),
                "{text}"
            );
        }
        assert_eq!(e.request_id(), Some("rid-2"));
        let Error::CommitOutcomeUnknown(u) = &e else {
            unreachable!()
        };
        assert_eq!(u.vod_session_key(), "SeSsIoNkEy/+=");
    }
}
