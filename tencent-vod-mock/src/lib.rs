//! An in-process, signature-checking stand-in for Tencent Cloud VOD (API 3.0) and COS (XML object API), for tests
//! of [`tencent_vod`] (or any other client) and local development. Add it as a dev-dependency; `tvod mock` (the
//! `tencent-vod-cli` package) runs it standalone.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tencent_vod::UploadRequest;
//! use tencent_vod_mock::MockServer;
//! let server = MockServer::start().await?;
//! let client = server.client_builder().build()?;
//! let out = client.upload(UploadRequest::from_bytes(vec![1u8; 4096], "mp4")).await?;
//! assert_eq!(server.object(&out.bucket, &out.media_key).map(|o| o.size), Some(4096));
//! assert_eq!(server.commits()[0].file_id, out.file_id);
//! # Ok(()) }
//! ```
//!
//! See [`MockServer`] for the common test (faults included).
//!
//! # What it serves
//!
//! Two listeners on `127.0.0.1` (ports chosen by the OS unless configured):
//!
//! - **VOD** ([`MockServer::vod_endpoint`]): `ApplyUpload`, `CommitUpload`, `ParseStreamingManifest`, signed with
//!   TC3-HMAC-SHA256 (`POST` JSON, or `GET`/`POST` form) or v1 `HmacSHA1`/`HmacSHA256` (`GET` query or `POST`
//!   `application/x-www-form-urlencoded`; flattened names like `Filters.0.Name` are rebuilt into JSON). Every
//!   signature is verified: `AuthFailure.SignatureFailure`, `AuthFailure.SignatureExpire` (timestamp more than
//!   300 s off), `AuthFailure.SecretIdNotFound`, `AuthFailure.TokenFailure` (credential with a token and a missing or
//!   different `X-TC-Token`/`Token`), `AuthFailure.InvalidAuthorization`. Errors use the real envelope (HTTP 200,
//!   `Response.Error.{Code,Message}`, `RequestId`).
//! - **Events and tasks** on the VOD endpoint: every successful `CommitUpload` queues a v3 `NewFileUpload` event
//!   (`FileUploadEvent.ProcedureTaskId` is the task id of the `Procedure` given to `ApplyUpload`, else `""`) and,
//!   with a `Procedure`, creates a task of type `Procedure` that is `WAITING`, then `PROCESSING`, then `FINISH`
//!   ([`MockServerBuilder::with_task_durations`]); when it finishes a `ProcedureStateChanged` event is queued.
//!   See [Events and tasks](#events-and-tasks).
//! - **COS** ([`MockServer::cos_endpoint`]): PUT Object, HEAD Object, Initiate / Upload Part / Complete / List Parts
//!   / Abort multipart upload. The `q-sign-algorithm=sha1` signature is verified against the temporary credentials
//!   issued by `ApplyUpload` (or [`MockServer::create_cos_session`]) and the permanent mock credentials;
//!   temporary credentials need `x-cos-security-token` and expire at their `ExpiredTime`, and are restricted to the
//!   paths of their session (media, cover, and — for `m3u8`/`mpd` — anything under the manifest's directory).
//!   Errors are the real COS `<Error>` XML with `x-cos-request-id`.
//!
//! # COS addressing
//!
//! - **Path style** on the COS endpoint: `http://127.0.0.1:PORT/{bucket}/{key}`; the first path segment is the
//!   bucket and the signature is verified over `/{decoded key}` (not including the bucket), with the `host` header
//!   as sent.
//! - **Virtual host**: a `Host` of the form `{bucket}.cos.{region}.myqcloud.com` (or `….tencentcos.cn`), path
//!   `/{key}` — e.g. the official SDKs with their default host, connected to the mock's port.
//!
//! Objects stream to disk (a temporary directory removed on drop, or [`MockServerBuilder::with_data_dir`]),
//! hashed on the way (MD5 for the ETag, SHA-256, CRC-64/XZ for `x-cos-hash-crc64ecma`). In bench mode
//! ([`MockServerBuilder::with_bench_mode`]) bodies are only CRC-64'd and discarded, and the ETag is derived from
//! the CRC (`"{crc:016x}{size:016x}"`) rather than an MD5.
//!
//! # Events and tasks
//!
//! - `PullEvents` (`SubAppId`-scoped) answers up to 16 queued events that are not leased, each with a fresh
//!   `EventHandle`, and leases them for the confirm timeout (30 s, [`MockServerBuilder::with_event_confirm_timeout`]).
//!   An event not confirmed in time becomes pullable again, with a new handle (the old one is then invalid). With
//!   nothing to pull it waits up to [`MockServerBuilder::with_pull_wait`] (default 0; VOD waits up to 5 s) for an
//!   event, then answers `"EventSet": []`.
//! - `ConfirmEvents`: `EventHandles` required, at most 16 (else `InvalidParameterValue`). **All or nothing**: a
//!   handle that is unknown, already confirmed, expired or of another `SubAppId` rejects the request with
//!   `InvalidParameterValue` and confirms none of the handles (VOD only honours a handle within its 30 s).
//! - `DescribeTasks`: the Procedure and `PullUpload` tasks of the `SubAppId` (`TaskType` tells them apart; a pull
//!   task's `FileId` is `""` until the media exists), filtered by `FileId`, `Status`, `CreateTime`,
//!   `FinishTime`; `Sort` by `CreateTime`/`FinishTime` (both in creation order here) `Asc`/`Desc` (default newest first);
//!   `Limit` 1–100 (default 10); an opaque `ScrollToken` is returned while more tasks match (`""` on the last page).
//! - `DescribeTaskDetail`: `TaskType: "Procedure"`, `Status`, `CreateTime`, `BeginProcessTime`, `FinishTime`
//!   (ISO 8601 UTC, `""` until reached) and `ProcedureTask`; an unknown task (or one of another `SubAppId`) →
//!   `InvalidParameterValue.TaskId`.
//! - Normal callbacks ([`MockServerBuilder::with_callback_url`], or `ModifyEventConfig` with `Mode: PUSH` and a
//!   `NotificationUrl`): each event is also POSTed (JSON, without `EventHandle`, up to 3 attempts until a 2xx) —
//!   see [`MockServer::callback_deliveries`]. With a `SignKey` set by `ModifyEventConfig` the POSTed body carries
//!   `Sign` = MD5(key + `T`) and `T` = now + 10 min. Events stay pullable as well (whatever the mode).
//! - `ModifyEventConfig` / `DescribeEventConfig` (per `SubAppId`): mode, URL, the upload/delete/persistence
//!   switches (an upload or delete event switched `OFF` is not emitted; both start `ON`), the callback key (never
//!   returned).
//! - `PullUpload`: the mock fetches `MediaUrl` (and `CoverUrl`) itself — loopback hosts only — stores the object,
//!   and reports a task of type `PullUpload` through `DescribeTaskDetail` and a `PullComplete` event; an
//!   unreachable source, an error status or a stalled source ([`MockServer::set_pull_timeout`]) ends the task
//!   with `ErrCode` 60000. See [`MockServer::pull_tasks`].
//!
//! Task states are computed from the commit time whenever something looks (no clock to drive); a timer also
//! queues the `ProcedureStateChanged` event at the finish time. Inspect with [`MockServer::events_pending`],
//! [`MockServer::events_confirmed`] and [`MockServer::tasks`].
//!
//! # Faults
//!
//! [`MockServer::add_fault`] with a [`FaultRule`]: see [`Fault`] for the kinds and [`FaultRule`] for the
//! selectors and the text form used by `tvod mock --fault`. Faults bite before the work (status, drop, delay,
//! throttle…) or after it ([`Fault::DropAfterProcessing`], [`Fault::StatusAfterProcessing`]: the request is
//! processed — object stored, upload completed, session committed — and then its answer is lost).
//!
//! # Media library
//!
//! Every successful `CommitUpload` adds a media: `SearchMedia` and `DescribeMediaInfos` answer it with the
//! `BasicInfo` of its `NewFileUpload` event (`MediaUrl` path = the session's `MediaStoragePath`). A second
//! `CommitUpload` of a committed session is refused or answered again, per [`MockServerBuilder::with_recommit`].
//!
//! # Clock
//!
//! The mock keeps its own time ([`MockServerBuilder::with_clock_offset`], [`MockServer::set_clock_offset`]): it
//! checks signature windows, stamps every answer's `Date`, sets and enforces credential expiry, and dates media,
//! events and tasks with it, so tests can run a client ahead of or behind the servers without waiting.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![warn(rust_2018_idioms)]
#![deny(unsafe_code)]

mod api;
mod appserver;
mod cos;
mod events;
mod fault;
mod media;
#[cfg(feature = "standalone")]
#[cfg_attr(docsrs, doc(cfg(feature = "standalone")))]
pub mod standalone;
mod state;
mod tls;
pub mod verify;
mod vod;

pub use appserver::{CALLBACK_SIGN_VALIDITY, DEFAULT_PULL_TIMEOUT, MockPullTask};
pub use fault::{Fault, FaultRule, Gate, Target};

/// CRC-64/XZ (ECMA-182 polynomial, reflected, init and xor-out all ones): the checksum COS reports in
/// `x-cos-hash-crc64ecma` and [`StoredObject::crc64`] holds.
pub fn crc64(bytes: &[u8]) -> u64 {
    tencent_vod::__private::crc64(bytes)
}

use state::Shared;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tencent_vod::client::VodClientBuilder;
use tencent_vod::credential::Credential;
use tencent_vod::error::{Error, Result};
use tencent_vod::vod::TempCertificate;

/// A stored object, as [`MockServer::objects`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredObject {
    /// Bucket (`name-appid`).
    pub bucket: String,
    /// Object key (no leading `/`).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-hex SHA-256 of the content (empty in bench mode).
    pub sha256: String,
    /// CRC-64/XZ of the content.
    pub crc64: u64,
    /// The ETag as returned (with quotes).
    pub etag: String,
}

/// A successful `CommitUpload`, as [`MockServer::commits`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitRecord {
    /// The session key committed.
    pub vod_session_key: String,
    /// `SubAppId` of the session.
    pub sub_app_id: Option<u64>,
    /// The FileId returned.
    pub file_id: String,
    /// The media URL returned.
    pub media_url: String,
    /// The cover URL returned (when a cover was applied for).
    pub cover_url: Option<String>,
    /// The `Procedure` given to `ApplyUpload`.
    pub procedure: Option<String>,
    /// The procedure task id (`{appid}-procedurev2-{32 hex}t0`) when a `Procedure` was given.
    pub procedure_task_id: Option<String>,
}

/// Temporary COS credentials for a bucket, without an `ApplyUpload` ([`MockServer::create_cos_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CosSession {
    /// Bucket (`name-appid`).
    pub bucket: String,
    /// Region of the bucket.
    pub region: String,
    /// Temporary credentials valid for any key in the bucket.
    pub credential: TempCertificate,
}

/// A rejected signature or credential, as [`MockServer::rejections`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The VOD action or COS operation.
    pub kind: String,
    /// The error code answered (e.g. `AuthFailure.SignatureFailure`, `SignatureDoesNotMatch`).
    pub code: String,
    /// Why (never contains secrets).
    pub message: String,
}

/// Counters of a [`MockServer`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockStats {
    /// Requests received per kind (VOD action or COS operation name), faulted or not.
    pub counts: BTreeMap<String, u64>,
    /// Requests rejected for their signature, credential, token or timestamp.
    pub rejected_signatures: u64,
    /// Most `UploadPart`/`PutObject` bodies in flight at once.
    pub max_concurrent_uploads: u64,
    /// Faults injected.
    pub faults_injected: u64,
    /// Body bytes received by PUT Object and Upload Part, counted as they arrive (bodies cut short and
    /// refused ones included).
    pub bytes_received: u64,
}

/// A queued (not yet confirmed) event, as [`MockServer::events_pending`] reports it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockEvent {
    /// `SubAppId` the event belongs to.
    pub sub_app_id: Option<u64>,
    /// The event (without `EventHandle`).
    pub content: tencent_vod::events::EventContent,
    /// The handle of the current lease, when it is pulled and the lease has not expired.
    pub handle: Option<String>,
    /// How many times it has been pulled.
    pub deliveries: u32,
}

/// A Procedure task, as [`MockServer::tasks`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockTask {
    /// Task id (`{appid}-procedurev2-{32 hex}t0`).
    pub task_id: String,
    /// The FileId of the upload that started it.
    pub file_id: String,
    /// `SubAppId` of the upload.
    pub sub_app_id: Option<u64>,
    /// The `Procedure` template name.
    pub procedure: String,
    /// The status now.
    pub status: tencent_vod::events::TaskStatus,
    /// `SessionContext` of the upload.
    pub session_context: String,
    /// When it was created (at `CommitUpload`).
    pub created: std::time::SystemTime,
}

/// One normal-callback POST, as [`MockServer::callback_deliveries`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackDelivery {
    /// `EventType` of the event.
    pub event_type: String,
    /// The JSON body POSTed.
    pub body: String,
    /// HTTP status of the last attempt (`None` when no response came back).
    pub status: Option<u16>,
    /// The error of the last attempt, when no response came back.
    pub error: Option<String>,
    /// Attempts made (≤ 3).
    pub attempts: u32,
}

/// How the mock answers a `CommitUpload` of a session that was already committed ([`MockServerBuilder::with_recommit`]).
///
/// Tencent documents no "already committed" code for CommitUpload: its error list
/// (tencentcloud-sdk-go `vod/v20180717` `CommitUpload`) names `InvalidParameterValue.VodSessionKey`,
/// `ResourceNotFound`, `InvalidParameterValue.SubAppId`, `InternalError` and `UnauthorizedOperation`, and the API
/// reference describes the session key as single-use. The default is therefore to refuse the key; the other
/// behaviour lets tests check that a client also copes with an idempotent VOD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Recommit {
    /// `InvalidParameterValue.VodSessionKey` ("VodSessionKey has already been committed.").
    #[default]
    Refuse,
    /// Success again, with the same FileId and URLs (nothing new is created, no second event).
    SameFileId,
}

/// Builds a [`MockServer`].
#[derive(Debug, Clone)]
pub struct MockServerBuilder {
    credentials: Vec<Credential>,
    app_id: u64,
    region: String,
    data_dir: Option<PathBuf>,
    bench: bool,
    temp_ttl: Duration,
    seed: Option<u64>,
    min_part_size: u64,
    ip: IpAddr,
    vod_port: u16,
    cos_port: u16,
    faults: Vec<FaultRule>,
    event_confirm_timeout: Duration,
    pull_wait: Duration,
    task_waiting: Duration,
    task_processing: Duration,
    callback_url: Option<String>,
    clock_offset: i64,
    recommit: Recommit,
    tls: bool,
    tls_http2: bool,
}

/// The longest event/task duration the builder keeps (longer values are clamped, so time arithmetic cannot
/// overflow): about ten years.
pub const MAX_MOCK_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The permanent credential accepted when none is configured.
pub const DEFAULT_SECRET_ID: &str = "AKIDmockmockmockmockmockmockmock0000";
/// The key of [`DEFAULT_SECRET_ID`].
pub const DEFAULT_SECRET_KEY: &str = "mock-secret-key-0000000000000000";

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            credentials: Vec::new(),
            app_id: 1250000000,
            region: "ap-guangzhou".into(),
            data_dir: None,
            bench: false,
            temp_ttl: Duration::from_secs(3600),
            seed: None,
            min_part_size: 1 << 20,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            vod_port: 0,
            cos_port: 0,
            faults: Vec::new(),
            event_confirm_timeout: Duration::from_secs(30),
            pull_wait: Duration::ZERO,
            task_waiting: Duration::from_millis(200),
            task_processing: Duration::from_millis(500),
            callback_url: None,
            clock_offset: 0,
            recommit: Recommit::default(),
            tls: false,
            tls_http2: true,
        }
    }
}

impl MockServerBuilder {
    /// Accepts this permanent credential (repeatable; the first one is [`MockServer::credential`]). A credential
    /// with a token requires it as `X-TC-Token` / `Token`. Default: [`DEFAULT_SECRET_ID`] / [`DEFAULT_SECRET_KEY`].
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credentials.push(credential);
        self
    }
    /// The APPID in bucket names and task ids (default `1250000000`).
    pub fn with_app_id(mut self, app_id: u64) -> Self {
        self.app_id = app_id;
        self
    }
    /// The default storage region (default `ap-guangzhou`).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }
    /// Store objects under this directory (kept after the server stops) instead of a fresh temp dir.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
    /// Bench mode: bodies are CRC-64'd and discarded (manifests `.m3u8`/`.mpd` are still kept).
    pub fn with_bench_mode(mut self, on: bool) -> Self {
        self.bench = on;
        self
    }
    /// Lifetime of issued temporary credentials (default 1 h).
    pub fn with_temp_credential_ttl(mut self, ttl: Duration) -> Self {
        self.temp_ttl = ttl;
        self
    }
    /// Seeds the random generator (fault probabilities, generated ids).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Minimum size of a non-last part at `CompleteMultipartUpload` (default 1 MiB, like COS).
    pub fn with_min_part_size(mut self, bytes: u64) -> Self {
        self.min_part_size = bytes;
        self
    }
    /// The IP to bind (default `127.0.0.1`).
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }
    /// The VOD port (default 0: any free port).
    pub fn with_vod_port(mut self, port: u16) -> Self {
        self.vod_port = port;
        self
    }
    /// The COS port (default 0: any free port).
    pub fn with_cos_port(mut self, port: u16) -> Self {
        self.cos_port = port;
        self
    }
    /// Adds a fault rule from the start.
    pub fn with_fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// How long a pulled event is leased before it is delivered again with a new handle (default 30 s, like VOD).
    pub fn with_event_confirm_timeout(mut self, d: Duration) -> Self {
        self.event_confirm_timeout = d.min(MAX_MOCK_DURATION);
        self
    }
    /// How long `PullEvents` waits for an event when none is pullable (default 0: answer at once; VOD waits up to
    /// 5 s).
    pub fn with_pull_wait(mut self, d: Duration) -> Self {
        self.pull_wait = d.min(MAX_MOCK_DURATION);
        self
    }
    /// How long a Procedure task stays `WAITING` after `CommitUpload`, then `PROCESSING`, before it is `FINISH`
    /// (defaults 200 ms and 500 ms). Durations above [`MAX_MOCK_DURATION`] are clamped, here and in the other
    /// event settings.
    pub fn with_task_durations(mut self, waiting: Duration, processing: Duration) -> Self {
        self.task_waiting = waiting.min(MAX_MOCK_DURATION);
        self.task_processing = processing.min(MAX_MOCK_DURATION);
        self
    }
    /// Also POST every event to this URL (normal callback; the body is the v3 `EventContent` without
    /// `EventHandle`).
    pub fn with_callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// Runs the mock's clock `secs` seconds ahead of this host's (negative: behind). The mock's time checks
    /// signatures (TC3/v1 timestamps within 300 s, COS key times), stamps the `Date` header of every answer,
    /// sets `TempCertificate.ExpiredTime` and expires temporary credentials, and dates media, events and tasks.
    /// Change it later with [`MockServer::set_clock_offset`].
    pub fn with_clock_offset(mut self, secs: i64) -> Self {
        self.clock_offset = secs;
        self
    }

    /// How a second `CommitUpload` of a committed session is answered (default [`Recommit::Refuse`]).
    pub fn with_recommit(mut self, recommit: Recommit) -> Self {
        self.recommit = recommit;
        self
    }

    /// Serve both endpoints over TLS (`https://`): a CA and a server certificate (for `localhost`, `127.0.0.1`,
    /// `::1` and the bound IP) are generated at start; [`MockServer::ca_certificate_pem`] /
    /// [`MockServer::ca_file`] hand the CA to clients, and [`MockServer::client_builder`] trusts it already.
    pub fn with_tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }
    /// With TLS: whether ALPN offers HTTP/2 besides HTTP/1.1 (default `true`, like VOD and COS), so a client
    /// that asks for `h2` multiplexes its requests on one connection. `false` offers `http/1.1` only.
    pub fn with_tls_http2(mut self, on: bool) -> Self {
        self.tls_http2 = on;
        self
    }

    /// Binds both listeners and starts serving.
    pub async fn start(self) -> Result<MockServer> {
        tencent_vod::__private::validate_region("region", &self.region)?;
        let credentials = if self.credentials.is_empty() {
            vec![Credential::new(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)]
        } else {
            self.credentials
        };
        let (data_dir, tempdir) = match self.data_dir {
            Some(d) => {
                std::fs::create_dir_all(&d)
                    .map_err(|e| Error::io(&d, "create the mock data directory", e))?;
                (d, None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("tencent-vod-mock-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), "create a temp dir", e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        for sub in ["objects", "parts", "tmp"] {
            let p = data_dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, "create a directory", e))?;
        }
        let callback = match self.callback_url {
            Some(u) => {
                url::Url::parse(&u).map_err(|e| Error::invalid("callback_url", e.to_string()))?;
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| {
                        Error::invalid(
                            "callback_url",
                            format!("cannot build the HTTP client for callbacks: {e}"),
                        )
                    })?;
                Some((u, http))
            }
            None => None,
        };
        let bind = |port: u16| {
            let addr = SocketAddr::new(self.ip, port);
            async move {
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::io(addr.to_string(), "bind the mock listener", e))
            }
        };
        let tls = if self.tls {
            let alpn: &[&[u8]] = if self.tls_http2 {
                &[b"h2", b"http/1.1"]
            } else {
                &[b"http/1.1"]
            };
            let t = tls::generate(self.ip, alpn)?;
            let ca_file = data_dir.join("ca.pem");
            std::fs::write(&ca_file, &t.ca_pem)
                .map_err(|e| Error::io(&ca_file, "write the mock CA certificate", e))?;
            Some((t, ca_file))
        } else {
            None
        };
        let vod_listener = bind(self.vod_port).await?;
        let cos_listener = bind(self.cos_port).await?;
        let vod_addr = vod_listener
            .local_addr()
            .map_err(|e| Error::io("vod listener", "read the local address", e))?;
        let cos_addr = cos_listener
            .local_addr()
            .map_err(|e| Error::io("cos listener", "read the local address", e))?;
        let shared = Arc::new(Shared::new(
            state::Config {
                credentials: credentials.clone(),
                app_id: self.app_id,
                region: self.region.clone(),
                bench: self.bench,
                temp_ttl: self.temp_ttl,
                min_part_size: self.min_part_size,
                seed: self.seed,
                data_dir: data_dir.clone(),
                _tempdir: tempdir,
                faults: self.faults,
                event_confirm_timeout: self.event_confirm_timeout,
                pull_wait: self.pull_wait,
                task_waiting: self.task_waiting,
                task_processing: self.task_processing,
                callback,
                recommit: self.recommit,
            },
            self.clock_offset,
        ));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let acceptor = tls.as_ref().map(|(t, _)| t.acceptor.clone());
        let tls_alpn = tls::AlpnCounts::default();
        let serve = |listener: tokio::net::TcpListener, router: axum::Router| {
            let mut rx = rx.clone();
            let acceptor = acceptor.clone();
            let alpn = tls_alpn.clone();
            tokio::spawn(async move {
                if let Some(acceptor) = acceptor {
                    return tls::serve(listener, acceptor, router, rx, alpn).await;
                }
                let shutdown = async move {
                    let _ = rx.wait_for(|v| *v).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::debug!(error = %e, "mock listener stopped");
                }
            })
        };
        let date = || axum::middleware::from_fn_with_state(shared.clone(), date_header);
        let vod_task = serve(
            vod_listener,
            axum::Router::new()
                .fallback(vod::handle)
                .layer(date())
                .with_state(shared.clone()),
        );
        let cos_task = serve(
            cos_listener,
            axum::Router::new()
                .fallback(cos::handle)
                .layer(date())
                .with_state(shared.clone()),
        );
        tracing::debug!(%vod_addr, %cos_addr, "mock server started");
        Ok(MockServer {
            shared,
            vod_addr,
            cos_addr,
            tls: tls.map(|(t, path)| (t.ca_pem, path)),
            tls_alpn,
            credential: credentials[0].clone(),
            shutdown: tx,
            tasks: vec![vod_task, cos_task],
        })
    }
}

/// The running mock VOD + COS server. Stops on [`shutdown`](Self::shutdown) or drop.
///
/// The common test: upload through a [`VodClient`](tencent_vod::VodClient) pointed at the mock
/// ([`client_builder`](Self::client_builder)), then assert on what COS stored ([`object`](Self::object)) and on
/// what VOD committed ([`commits`](Self::commits)); faults ([`add_fault`](Self::add_fault)) make it fail on
/// purpose.
///
/// ```
/// use tencent_vod::UploadRequest;
/// use tencent_vod::error::CosOperation;
/// use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // In a test: #[tokio::test] async fn upload_reaches_vod() { … }
/// let server = MockServer::start().await?;
/// let client = server.client_builder().build()?; // the mock's endpoints, region and credentials
/// // The first part request answers 503: the upload retries it.
/// server.add_fault(
///     FaultRule::new(Target::Cos(CosOperation::UploadPart)).nth(1).fault(Fault::Status(503)),
/// );
///
/// let media = vec![42u8; 9 << 20]; // two parts of the default 8 MiB
/// let out = client
///     .upload(UploadRequest::from_bytes(media.clone(), "mp4").with_procedure("QuickstartPreset"))
///     .await?;
///
/// // What COS stored…
/// let stored = server.object(&out.bucket, &out.media_key).expect("stored");
/// assert_eq!(stored.size, media.len() as u64);
/// assert_eq!(stored.crc64, tencent_vod_mock::crc64(&media));
/// assert_eq!(server.object_bytes(&out.bucket, &out.media_key), Some(media));
/// // …what VOD committed…
/// let commits = server.commits();
/// assert_eq!(commits.len(), 1);
/// assert_eq!(commits[0].file_id, out.file_id);
/// assert_eq!(commits[0].procedure.as_deref(), Some("QuickstartPreset"));
/// // …and what it took.
/// assert_eq!(server.count("UploadPart"), 3);
/// assert!(server.multipart_uploads().is_empty());
/// # Ok(()) }
/// ```
pub struct MockServer {
    shared: Arc<Shared>,
    vod_addr: SocketAddr,
    cos_addr: SocketAddr,
    credential: Credential,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// With TLS: the CA (PEM) and the file it was written to.
    tls: Option<(String, PathBuf)>,
    tls_alpn: tls::AlpnCounts,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("vod_endpoint", &self.vod_endpoint())
            .field("cos_endpoint", &self.cos_endpoint())
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts a server with the defaults on `127.0.0.1`, any free ports.
    pub async fn start() -> Result<MockServer> {
        MockServerBuilder::default().start().await
    }

    /// A builder.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `http://127.0.0.1:PORT` of the VOD API (`https://` with [`MockServerBuilder::with_tls`]).
    pub fn vod_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.vod_addr)
    }

    /// `http://127.0.0.1:PORT` of COS (path-style addressing, see the module docs; `https://` with
    /// [`MockServerBuilder::with_tls`]).
    pub fn cos_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.cos_addr)
    }

    /// With TLS, the CA certificate (PEM) that signed the server's certificate: what a client must trust.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// With TLS, the connections accepted so far (both endpoints) by the protocol ALPN settled on: `h2`,
    /// `http/1.1`, or `-` for a client that offered none. Empty without TLS.
    pub fn tls_connections(&self) -> BTreeMap<String, u64> {
        self.tls_alpn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// With TLS, the file holding [`ca_certificate_pem`](Self::ca_certificate_pem) (`ca.pem` in the data
    /// directory), e.g. for `curl --cacert` or `TENCENTCLOUD_CA_FILE`.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|(_, path)| path.as_path())
    }

    /// The VOD listener address.
    pub fn vod_addr(&self) -> SocketAddr {
        self.vod_addr
    }

    /// The COS listener address.
    pub fn cos_addr(&self) -> SocketAddr {
        self.cos_addr
    }

    /// The first accepted permanent credential.
    pub fn credential(&self) -> Credential {
        self.credential.clone()
    }

    /// Every accepted permanent credential.
    pub fn credentials(&self) -> Vec<Credential> {
        self.shared.cfg.credentials.clone()
    }

    /// The APPID.
    pub fn app_id(&self) -> u64 {
        self.shared.cfg.app_id
    }

    /// The default region.
    pub fn region(&self) -> String {
        self.shared.cfg.region.clone()
    }

    /// The directory objects are stored in.
    pub fn data_dir(&self) -> PathBuf {
        self.shared.cfg.data_dir.clone()
    }

    /// A [`VodClientBuilder`] preset with the credential, both endpoints and the region (and, with TLS, trusting
    /// the mock's CA).
    pub fn client_builder(&self) -> VodClientBuilder {
        let b = VodClientBuilder::default()
            .with_credential(self.credential())
            .with_region(self.region())
            .with_vod_endpoint(self.vod_endpoint())
            .with_cos_endpoint(self.cos_endpoint());
        match self.ca_certificate_pem() {
            Some(pem) => b.with_root_certificate(pem),
            None => b,
        }
    }

    /// Temporary COS credentials for `bucket` (default: the region's VOD bucket), valid for any key in it.
    pub fn create_cos_session(&self, bucket: Option<&str>) -> CosSession {
        self.shared.create_cos_session(bucket)
    }

    /// Every stored object.
    pub fn objects(&self) -> Vec<StoredObject> {
        self.shared.objects()
    }

    /// One stored object.
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        self.shared.object(bucket, key)
    }

    /// The content of a stored object (`None` if absent or in bench mode).
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.shared.object_bytes(bucket, key)
    }

    /// Every temporary certificate issued so far (by `ApplyUpload` or [`create_cos_session`](Self::create_cos_session)),
    /// in no particular order — e.g. to check that none of them leaks into logs or errors.
    pub fn issued_credentials(&self) -> Vec<TempCertificate> {
        self.shared
            .lock()
            .temp_creds
            .iter()
            .map(|(id, c)| {
                TempCertificate::new(
                    id.clone(),
                    c.secret_key.clone(),
                    c.token.clone(),
                    c.expired_time,
                )
            })
            .collect()
    }

    /// Every `ApplyUpload` request as received (the JSON body, or the v1 parameters rebuilt as JSON).
    pub fn apply_requests(&self) -> Vec<serde_json::Value> {
        self.shared.lock().apply_requests.clone()
    }

    /// Every successful `CommitUpload`.
    pub fn commits(&self) -> Vec<CommitRecord> {
        self.shared.lock().commits.clone()
    }

    /// How many requests of a kind were received (VOD action or COS operation name), faulted or not.
    pub fn count(&self, kind: &str) -> u64 {
        self.shared.lock().counts.get(kind).copied().unwrap_or(0)
    }

    /// Every signature / credential rejection so far.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.shared.lock().rejections.clone()
    }

    /// Open multipart uploads as `(bucket, key, upload_id)`.
    pub fn multipart_uploads(&self) -> Vec<(String, String, String)> {
        let inner = self.shared.lock();
        let mut v: Vec<_> = inner
            .uploads
            .iter()
            .map(|(id, u)| (u.bucket.clone(), u.key.clone(), id.clone()))
            .collect();
        v.sort();
        v
    }

    /// Events queued and not confirmed yet (pulled or not), oldest first. Finished tasks' events are queued first.
    pub fn events_pending(&self) -> Vec<MockEvent> {
        self.shared.pending_events()
    }

    /// Events confirmed so far, in confirmation order (without `EventHandle`).
    pub fn events_confirmed(&self) -> Vec<tencent_vod::events::EventContent> {
        self.shared.confirmed_events()
    }

    /// Every Procedure task, oldest first, with its status now.
    pub fn tasks(&self) -> Vec<MockTask> {
        self.shared.task_list()
    }

    /// The normal-callback POSTs finished so far ([`MockServerBuilder::with_callback_url`]).
    pub fn callback_deliveries(&self) -> Vec<CallbackDelivery> {
        self.shared
            .callback_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Body bytes received by PUT Object and Upload Part so far (also in [`stats`](Self::stats)).
    pub fn bytes_received(&self) -> u64 {
        self.shared
            .bytes_received
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counters.
    pub fn stats(&self) -> MockStats {
        let inner = self.shared.lock();
        MockStats {
            counts: inner.counts.clone(),
            rejected_signatures: inner.rejections.len() as u64,
            max_concurrent_uploads: self
                .shared
                .max_in_flight
                .load(std::sync::atomic::Ordering::Relaxed),
            faults_injected: inner.faults_injected,
            bytes_received: self.bytes_received(),
        }
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.push(fault::RuleState {
            rule,
            seen: 0,
            hits: 0,
        });
    }

    /// Sets how far (seconds) the mock's clock runs ahead of this host's (negative: behind); see
    /// [`MockServerBuilder::with_clock_offset`]. Tests move time forward by raising it.
    pub fn set_clock_offset(&self, secs: i64) {
        self.shared.set_clock_offset(secs);
    }

    /// The mock's clock offset (seconds ahead of this host).
    pub fn clock_offset(&self) -> i64 {
        self.shared.clock_offset()
    }

    /// The mock's time now (unix seconds).
    pub fn now_unix(&self) -> i64 {
        self.shared.now_unix()
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Marks the temporary credentials of a session (by `VodSessionKey`) or of a temp SecretId as expired now.
    /// Returns whether something matched.
    pub fn expire_credentials(&self, session_key_or_secret_id: &str) -> bool {
        self.shared.expire_credentials(session_key_or_secret_id)
    }

    /// Stops both listeners (in-flight requests get a few seconds to finish).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            // The graceful shutdown closes idle connections; the accept loops end now.
            let _ = t;
        }
    }
}

/// Stamps every answer with the mock's own `Date` (hyper would otherwise add the host's).
async fn date_header(
    axum::extract::State(sh): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&httpdate::fmt_http_date(sh.now())) {
        resp.headers_mut().insert(axum::http::header::DATE, v);
    }
    resp
}

/// The value of the first `name` in decoded (name, value) pairs.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
