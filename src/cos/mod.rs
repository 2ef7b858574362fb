//! The COS transfer engine: a client for one COS bucket, the object operations an uploader needs, and
//! [`CosClient::upload`], a bounded-memory, concurrent, CRC-verified, retrying uploader.
//!
//! It works on its own with any bucket (permanent or temporary credentials) and is the engine under
//! `VodClient::upload`.
//!
//! ```no_run
//! # async fn demo() -> tencent_vod::Result<()> {
//! use tencent_vod::Credential;
//! use tencent_vod::cos::{CosClient, TransferConfig, UploadOptions, UploadSource};
//! let cos = CosClient::builder("examplebucket-1250000000", "ap-guangzhou")
//!     .with_credential(Credential::new("AKID...", "secret").with_token("session-token"))
//!     .with_credential_expiry(1_700_000_000)
//!     .build()?;
//! let out = cos
//!     .upload(
//!         "dir/video.mp4",
//!         UploadSource::path("/data/video.mp4"),
//!         UploadOptions::default().with_config(TransferConfig::default().with_concurrency(8)),
//!     )
//!     .await?;
//! println!("{} bytes, crc64 {}", out.size, out.crc64);
//! # Ok(()) }
//! ```
//!
//! # Addressing
//! Default endpoint `https://{bucket}.cos.{region}.myqcloud.com`. [`CosClientBuilder::with_endpoint`] takes a
//! virtual-host template containing `{bucket}` (and optionally `{region}`), e.g.
//! `https://{bucket}.cos.accelerate.myqcloud.com`, or a plain base URL (`http://127.0.0.1:9000`) which addresses
//! objects path-style (`/{bucket}/{key}`). The signature always covers `/` + the decoded key and the `Host` sent.
//!
//! # Planning
//! Objects below [`TransferConfig::with_multipart_threshold`] (8 MiB) go in one `PUT Object`; larger ones in a
//! multipart upload of [`TransferConfig::with_part_size`] parts (8 MiB), raised so no upload needs more than
//! 10,000 parts. COS limits (part 1 MiB ..= 5 GiB, single PUT ≤ 5 GiB, object ≤ 48.82 TiB) are checked before
//! any request. A reader of unknown length is buffered up to the threshold: if it ends there it is one PUT,
//! otherwise parts are sent as they are read (at most 10,000 × part size bytes: choose the part size).
//!
//! # Memory bound
//! - From a **file**: every part is read from disk while it is sent, with positional reads of
//!   [`chunk_size`](TransferConfig::with_chunk_size) (256 KiB) chunks streamed as the request body; a retry
//!   re-reads the range. Chunk buffers come from a pool of the upload (at most `3 × parts in flight + 1` idle
//!   buffers, reused as soon as the HTTP stack has written a chunk), so memory is independent of part and file
//!   size and the steady state allocates nothing. A chunk already in the page cache is read without blocking
//!   (`preadv2` with `RWF_NOWAIT`, Linux) on the task's own thread, CRC'd there and written to the connection
//!   from the same core's cache; anything else is read on the blocking pool (and CRC'd on that thread).
//!   With `Content-MD5` enabled each part is read twice (a hashing pre-pass, then the send).
//! - From **`Bytes`**: the caller's buffer is shared (sliced, never copied).
//! - From a **reader**: at most `(parts in flight + 1) × part size` bytes (the parts in flight plus the one
//!   being read), or the multipart threshold if that is larger (the look-ahead that decides between PUT and
//!   multipart for a reader of unknown length).
//!
//! # Concurrency
//! At most [`TransferConfig::with_concurrency`] parts of one upload are in flight; a [`ConcurrencyBudget`]
//! passed to several uploads (media, cover, segments) bounds their sum.
//!
//! # Integrity
//! The CRC-64/XZ of every part is computed as it streams and compared with `x-cos-hash-crc64ecma`; the object's
//! CRC is combined from the parts and compared with the one COS reports after Complete (or
//! PUT). A mismatch fails the upload with [`Error::Integrity`]. When a PUT or Complete answer carries no CRC, the
//! object is checked with `HEAD Object` (size and CRC-64) and the upload fails if HEAD cannot confirm it
//! ([`TransferConfig::with_trust_missing_crc`] accepts it unverified instead); a part without the header is covered
//! by the whole-object check. [`TransferConfig::with_require_crc`] fails on any missing header at once.
//!
//! A file source that changes while it is read fails with [`Error::SourceChanged`] (see [`UploadSource`]).
//!
//! # Redirects
//! Neither VOD nor COS redirects API calls. The crate's HTTP client never follows a redirect: a 3xx answer is
//! [`Error::Redirect`], naming the operation and the `Location` host. A client passed to
//! [`CosClientBuilder::with_http_client`] must be built the same way.
//!
//! # Retries and failure
//! Every request goes through the crate's retry loop ([`RetryConfig`]) and is re-signed on each attempt (fresh
//! key time, never past the temporary credential's expiry: once it has passed, the request fails with
//! [`Error::CredentialsExpired`] without being sent). A part failing for good stops the upload: other parts are cancelled, the multipart upload is aborted (best effort) and the error
//! names the upload id and the part.

pub(crate) mod crc;
mod ops;
pub(crate) mod plan;
mod source;
mod store;
mod transfer;
pub(crate) mod xml;

pub use crate::progress::{Progress, ProgressEvent};
pub(crate) use crc::crc64;
pub use ops::HeadObjectOutput;
pub(crate) use plan::PartPlan;
pub use plan::{
    DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE,
    MAX_CONCURRENCY, MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MAX_SINGLE_PUT, MIN_PART_SIZE,
    TransferConfig, parse_size,
};
pub(crate) use source::FileSnapshot;
pub use source::UploadSource;
pub use transfer::{
    BandwidthLimit, CompletedPart, ConcurrencyBudget, ResumeState, UnfinishedUploadPolicy,
    UploadOptions, UploadOutput,
};
pub(crate) use transfer::{OrphanSink, or_cancel};

use crate::credential::{Credential, ProvideCredential};
use crate::error::{CosError, CosOperation, Error, Result};
use crate::retry::RetryConfig;
use crate::sign::cos as signer;
use crate::transport::Clock;
use crate::transport::endpoint::{authority, parse_endpoint, validate_region};
use crate::transport::http::{
    MAX_RESPONSE_BODY, PlainHttpWarning, followed_redirect, read_body_capped, redirect_error,
};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Default endpoint template.
pub const DEFAULT_ENDPOINT: &str = "https://{bucket}.cos.{region}.myqcloud.com";

/// Default [abort reserve](CosClientBuilder::with_abort_reserve): an in-flight multipart upload is stopped
/// and aborted this long before the temporary credentials expire.
pub const DEFAULT_ABORT_RESERVE: Duration = Duration::from_secs(30);

/// How long a signature is valid at most (the temporary credential's expiry may cut it shorter).
const SIGNATURE_LIFETIME: i64 = 3600;
/// How far back the key time starts (clock skew allowance).
const CLOCK_SKEW_ALLOWANCE: i64 = 60;

#[derive(Debug, Clone)]
enum Endpoint {
    /// Objects at `{origin}/{key}`.
    VirtualHost(url::Url),
    /// Objects at `{base}/{bucket}/{key}`.
    PathStyle(url::Url),
}

struct Inner {
    http: reqwest::Client,
    bucket: String,
    region: String,
    credentials: Arc<dyn ProvideCredential>,
    expiry: Option<i64>,
    abort_reserve: Duration,
    endpoint: Endpoint,
    retry: RetryConfig,
    plain_http: Arc<PlainHttpWarning>,
    clock: Clock,
}

/// A client for one COS bucket. Cheap to clone (an `Arc` inside), safe to share across tasks.
///
/// [`upload`](Self::upload) is the transfer engine [`VodClient`](crate::VodClient) uses, available for any
/// bucket: single PUT or concurrent multipart, CRC-64 verified, retried, aborted (or kept, see
/// [`UnfinishedUploadPolicy`]) on failure. [`head_object`](Self::head_object) checks an object;
/// [`abort_multipart_upload`](Self::abort_multipart_upload) cleans up an
/// [orphaned](crate::Error::orphaned_uploads) multipart upload.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = tencent_vod_mock::MockServer::start().await?;
/// # let session = mock.create_cos_session(None);
/// # let (bucket, region) = (session.bucket.clone(), session.region.clone());
/// # let credential = session.credential.credential();
/// # let expired_time = session.credential.expired_time;
/// use tencent_vod::cos::{CosClient, UploadOptions, UploadSource};
///
/// // `credential`: temporary credentials (with a token) and their expiry, or a permanent key pair.
/// let cos = CosClient::builder(&bucket, &region) // e.g. "examplebucket-1250000000", "ap-guangzhou"
///     .with_credential(credential)
///     .with_credential_expiry(expired_time)
/// #   .with_endpoint(mock.cos_endpoint())
///     .build()?;
/// let video = vec![7u8; 5 << 20];
/// let out = cos
///     .upload(
///         "videos/launch.mp4",
///         UploadSource::bytes(video),
///         UploadOptions::default()
///             .with_content_type("video/mp4")
///             .with_progress(|p| eprintln!("{} / {:?}", p.bytes_sent, p.total)),
///     )
///     .await?;
/// assert_eq!(out.size, 5 << 20);
/// let head = cos.head_object("videos/launch.mp4").await?.expect("uploaded");
/// assert_eq!((head.size, head.crc64), (out.size, Some(out.crc64)));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CosClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CosClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosClient")
            .field("bucket", &self.inner.bucket)
            .field("region", &self.inner.region)
            .field("credentials", &self.inner.credentials)
            .field("expiry", &self.inner.expiry)
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CosClient`].
#[derive(Clone)]
pub struct CosClientBuilder {
    bucket: String,
    region: String,
    credentials: Option<Arc<dyn ProvideCredential>>,
    expiry: Option<i64>,
    abort_reserve: Duration,
    endpoint: Option<String>,
    http: Option<reqwest::Client>,
    retry: RetryConfig,
    connect_timeout: Duration,
    read_timeout: Duration,
    plain_http: Option<Arc<PlainHttpWarning>>,
    clock: Option<Clock>,
    net: crate::transport::net::NetOptions,
}

impl std::fmt::Debug for CosClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosClientBuilder")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .field("endpoint", &self.endpoint)
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

impl CosClient {
    /// A builder for `bucket` (with its `-appid` suffix, e.g. `examplebucket-1250000000`) in `region`.
    pub fn builder(bucket: impl Into<String>, region: impl Into<String>) -> CosClientBuilder {
        CosClientBuilder {
            bucket: bucket.into(),
            region: region.into(),
            credentials: None,
            expiry: None,
            abort_reserve: DEFAULT_ABORT_RESERVE,
            endpoint: None,
            http: None,
            retry: RetryConfig::default(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            plain_http: None,
            clock: None,
            net: crate::transport::net::NetOptions::default(),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The credential expiry (unix seconds), if one was set.
    pub fn credential_expiry(&self) -> Option<i64> {
        self.inner.expiry
    }

    /// The retry policy.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// The clock key times and expiry checks use (see [`Clock`]).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The URL of an object (with `query` appended, values encoded; valueless parameters as bare names).
    pub(crate) fn object_url(&self, key: &str, query: &[(&str, &str)]) -> Result<url::Url> {
        let wire = signer::object_path_on_wire(key);
        let mut s = match &self.inner.endpoint {
            Endpoint::VirtualHost(base) => {
                format!("{}{}", base.origin().ascii_serialization(), wire)
            }
            Endpoint::PathStyle(base) => {
                let prefix = base.path().trim_end_matches('/');
                format!(
                    "{}{}/{}{}",
                    base.origin().ascii_serialization(),
                    prefix,
                    signer::url_encode(&self.inner.bucket),
                    wire
                )
            }
        };
        for (i, (k, v)) in query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(&signer::url_encode(k));
            if !v.is_empty() {
                s.push('=');
                s.push_str(&signer::url_encode(v));
            }
        }
        url::Url::parse(&s)
            .map_err(|e| Error::invalid("key", format!("{key:?}: cannot form a URL: {e}")))
    }

    /// Signs a request: returns `headers` plus `x-cos-security-token` (temporary credentials) and
    /// `Authorization`. `host` is the `Host` header the request will carry; `now` the current unix time.
    ///
    /// Fails with [`Error::CredentialsExpired`] when the credential expiry has passed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign_headers(
        &self,
        cred: &Credential,
        op: CosOperation,
        method: &str,
        key: &str,
        host: &str,
        query: &[(&str, &str)],
        headers: &[(String, String)],
        now: i64,
    ) -> Result<Vec<(String, String)>> {
        let mut end = now + SIGNATURE_LIFETIME;
        if let Some(exp) = self.inner.expiry {
            if now >= exp {
                return Err(Error::credentials_expired(exp, format!("{op} of {key}")));
            }
            end = end.min(exp);
        }
        let mut out: Vec<(String, String)> = headers.to_vec();
        if let Some(token) = cred.token() {
            out.push(("x-cos-security-token".to_string(), token.to_string()));
        }
        let mut to_sign: Vec<(&str, &str)> = vec![("host", host)];
        to_sign.extend(
            out.iter()
                .filter(|(k, _)| signer::should_sign_header(k))
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let path = format!("/{key}");
        let authorization = signer::authorization(
            cred.secret_id(),
            cred.secret_key(),
            &signer::CosRequest {
                method,
                path: &path,
                query,
                headers: &to_sign,
                key_time: (now - CLOCK_SKEW_ALLOWANCE, end),
            },
        );
        out.push(("authorization".to_string(), authorization));
        Ok(out)
    }
}

impl CosClientBuilder {
    /// Fixed credentials (a permanent key pair, or temporary ones with [`Credential::with_token`]).
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credentials = Some(Arc::new(credential));
        self
    }

    /// A credential provider consulted before every request.
    pub fn with_credential_provider(mut self, provider: impl ProvideCredential + 'static) -> Self {
        self.credentials = Some(Arc::new(provider));
        self
    }

    /// The temporary credential's expiry (unix seconds, e.g. `TempCertificate.ExpiredTime`). Signatures never
    /// outlive it; once it has passed, requests fail with [`Error::CredentialsExpired`] without being sent.
    ///
    /// A multipart upload still running when the expiry comes within the
    /// [abort reserve](Self::with_abort_reserve) is stopped (parts in flight are dropped) and aborted while the
    /// credentials are still valid, and the upload fails with [`Error::CredentialsExpired`]; a multipart upload
    /// is not started that close to the expiry. So no multipart upload is left open by expiring credentials;
    /// when an abort fails anyway (COS refused the credentials early, the network failed), the upload id is
    /// logged with `warn!` and listed in the error ([`Error::orphaned_uploads`]).
    pub fn with_credential_expiry(mut self, expired_time_unix: i64) -> Self {
        self.expiry = Some(expired_time_unix);
        self
    }

    /// How long before the [credential expiry](Self::with_credential_expiry) an in-flight multipart upload is
    /// stopped and aborted (default [`DEFAULT_ABORT_RESERVE`], 30 s). It is capped at a quarter of the credentials'
    /// remaining lifetime when the client is built, so short-lived credentials stay usable.
    pub fn with_abort_reserve(mut self, reserve: Duration) -> Self {
        self.abort_reserve = reserve;
        self
    }

    /// Endpoint override: a virtual-host template with `{bucket}` (and optionally `{region}`), or a base URL
    /// addressed path-style (`/{bucket}/{key}`). Default [`DEFAULT_ENDPOINT`].
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// A shared `reqwest::Client` (e.g. the `VodClient`'s pool). Its own timeouts, TLS and proxy settings apply
    /// (combining it with [`with_root_certificate`](Self::with_root_certificate) or
    /// [`with_proxy`](Self::with_proxy) fails [`build`](Self::build)).
    ///
    /// **It must not follow redirects**: build it with
    /// `.redirect(reqwest::redirect::Policy::none())`. COS never redirects object API calls, and a client that
    /// follows one sends the signed request, the `x-cos-security-token` and the body to the other host before
    /// the crate sees anything. With such a client the crate only sees the 3xx when the client does not follow
    /// it; it still refuses an answer that came from another URL ([`Error::Redirect`] with `followed`), but
    /// cannot undo the request.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Shares the "credentials over plain HTTP" warning with another client (the `VodClient`'s), so it is
    /// logged once for all of them.
    pub(crate) fn with_plain_http_warning(mut self, w: Arc<PlainHttpWarning>) -> Self {
        self.plain_http = Some(w);
        self
    }

    /// The clock for key times and expiry checks (default: a new system [`Clock`] with skew correction). Pass the
    /// `VodClient`'s ([`VodClient::clock`](crate::VodClient::clock)) to share what it learned about server time.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Retry policy (default [`RetryConfig::default`]).
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// TCP connect timeout of the built-in HTTP client (default 5 s).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Idle read timeout of the built-in HTTP client (default 60 s); there is no whole-request cap, so large
    /// parts are never cut short while data flows.
    pub fn with_read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Also trusts this root certificate (PEM, possibly a bundle, or one DER certificate); see
    /// [`VodClientBuilder::with_root_certificate`](crate::VodClientBuilder::with_root_certificate).
    pub fn with_root_certificate(mut self, pem_or_der: impl AsRef<[u8]>) -> Self {
        self.net
            .root_certificates
            .push(crate::transport::net::RootCertificate::Bytes(Arc::from(
                pem_or_der.as_ref(),
            )));
        self
    }

    /// Like [`with_root_certificate`](Self::with_root_certificate), read from a file when the client is built.
    pub fn with_root_certificate_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.net
            .root_certificates
            .push(crate::transport::net::RootCertificate::File(path.into()));
        self
    }

    /// Whether the platform's trust store is used (default `true`); see
    /// [`VodClientBuilder::with_built_in_root_certificates`](crate::VodClientBuilder::with_built_in_root_certificates).
    pub fn with_built_in_root_certificates(mut self, on: bool) -> Self {
        self.net.built_in_roots = on;
        self
    }

    /// Sends every request through this forward proxy (`http://[user:password@]host:port`); see
    /// [`VodClientBuilder::with_proxy`](crate::VodClientBuilder::with_proxy).
    pub fn with_proxy(mut self, url: impl Into<String>) -> Self {
        self.net.proxy = Some(url.into());
        self
    }

    /// Hosts the [`with_proxy`](Self::with_proxy) proxy is not used for (`NO_PROXY` style).
    pub fn with_proxy_bypass(mut self, list: impl Into<String>) -> Self {
        self.net.proxy_bypass = Some(list.into());
        self
    }

    /// Whether `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` are honoured without
    /// [`with_proxy`](Self::with_proxy) (default `true`; never for loopback destinations); see
    /// [`VodClientBuilder::with_proxy_from_env`](crate::VodClientBuilder::with_proxy_from_env).
    pub fn with_proxy_from_env(mut self, on: bool) -> Self {
        self.net.proxy_from_env = on;
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<CosClient> {
        let bucket = self.bucket;
        if bucket.is_empty()
            || bucket.len() > 63
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Error::invalid(
                "bucket",
                format!(
                    "{bucket:?}: expected lower-case letters, digits and '-', e.g. examplebucket-1250000000"
                ),
            ));
        }
        validate_region("region", &self.region)?;
        let credentials = self.credentials.ok_or_else(|| {
            Error::Credentials("no credential given to the COS client (with_credential)".into())
        })?;
        let template = self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        let endpoint = if template.contains("{bucket}") {
            let s = template
                .replace("{bucket}", &bucket)
                .replace("{region}", &self.region);
            Endpoint::VirtualHost(parse_endpoint("cos_endpoint", &s)?)
        } else {
            let s = template.replace("{region}", &self.region);
            Endpoint::PathStyle(parse_endpoint("cos_endpoint", &s)?)
        };
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("read_timeout", self.read_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::invalid(name, "must be greater than zero"));
            }
        }
        let http = match self.http {
            Some(h) => {
                self.net.check_unused_with_http_client()?;
                h
            }
            None => crate::transport::net::http_client(
                self.connect_timeout,
                self.read_timeout,
                &self.net,
            )?,
        };
        let clock = self.clock.unwrap_or_default();
        // Short-lived credentials: never reserve more than a quarter of what is left (in server time).
        let abort_reserve = match self.expiry {
            Some(exp) => self.abort_reserve.min(clock.until(exp) / 4),
            None => self.abort_reserve,
        };
        Ok(CosClient {
            inner: Arc::new(Inner {
                http,
                bucket,
                region: self.region,
                credentials,
                expiry: self.expiry,
                abort_reserve,
                endpoint,
                retry: self.retry,
                plain_http: self.plain_http.unwrap_or_default(),
                clock,
            }),
        })
    }
}

/// Validates an object key (1..=850 bytes).
pub(crate) fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 850 {
        return Err(Error::invalid(
            "key",
            format!(
                "{} bytes: a COS object key must be 1..=850 bytes",
                key.len()
            ),
        ));
    }
    if key.starts_with('/') {
        return Err(Error::invalid(
            "key",
            format!("{key:?} starts with '/': pass the key without its leading slash"),
        ));
    }
    Ok(())
}

/// What identifies a request in errors and logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub op: CosOperation,
    pub key: &'a str,
    pub upload_id: Option<&'a str>,
    pub part: Option<u32>,
}

impl Ctx<'_> {
    /// The operation label used in transport errors: names the key, part and upload id.
    fn label(&self) -> String {
        let mut s = format!("{} of {}", self.op, self.key);
        if let Some(p) = self.part {
            s.push_str(&format!(" part {p}"));
        }
        if let Some(u) = self.upload_id {
            s.push_str(&format!(" (upload id {u})"));
        }
        s
    }
}

/// A response with a success status.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn request_id(&self) -> Option<String> {
        self.header("x-cos-request-id").map(str::to_string)
    }
}

impl CosClient {
    /// Sends one signed request (one attempt) and maps a non-2xx status to [`Error::Cos`].
    pub(crate) async fn send_once(
        &self,
        ctx: Ctx<'_>,
        method: reqwest::Method,
        query: &[(&str, &str)],
        headers: &[(String, String)],
        body: Option<reqwest::Body>,
    ) -> Result<RawResponse> {
        let cred = self.inner.credentials.credential().await?;
        let url = self.object_url(ctx.key, query)?;
        let host = authority(&url);
        let signed = self.sign_headers(
            &cred,
            ctx.op,
            method.as_str(),
            ctx.key,
            &host,
            query,
            headers,
            self.inner.clock.now(),
        )?;
        self.inner.plain_http.check("COS", &url);
        let mut rb = self.inner.http.request(method, url.clone());
        for (k, v) in &signed {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| Error::transport(ctx.label(), e))?;
        let status = resp.status().as_u16();
        if let Some(e) = Error::proxy_auth_from_response(&ctx.label(), status, resp.headers()) {
            return Err(e);
        }
        if resp.url() == &url {
            self.inner.clock.observe("COS", resp.headers());
        }
        if resp.status().is_redirection() {
            return Err(redirect_error(&ctx.label(), status, &url, resp.headers()));
        }
        if resp.url() != &url {
            return Err(followed_redirect(&ctx.label(), status, resp.url()));
        }
        let resp_headers = resp.headers().clone();
        let body = read_body_capped(&ctx.label(), resp, MAX_RESPONSE_BODY).await?;
        if !(200..300).contains(&status) {
            return Err(self.cos_error(ctx, status, &resp_headers, &body));
        }
        Ok(RawResponse {
            status,
            headers: resp_headers,
            body,
        })
    }

    /// Builds an [`Error::Cos`] from an error response (or a 200 carrying an `<Error>` body).
    pub(crate) fn cos_error(
        &self,
        ctx: Ctx<'_>,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Error {
        let parsed = xml::parse_error(body);
        let header_id = headers
            .get("x-cos-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.inner.clock.now_system_time()));
        let (code, message, request_id, trace_id) = match parsed {
            Some(e) => (e.code, e.message, header_id.or(e.request_id), e.trace_id),
            None => (
                String::new(),
                if body.is_empty() {
                    String::new()
                } else {
                    crate::error::redact_excerpt(body, 200)
                },
                header_id,
                None,
            ),
        };
        Error::Cos(Box::new(CosError {
            operation: ctx.op,
            status,
            code,
            message,
            request_id,
            trace_id,
            bucket: self.inner.bucket.clone(),
            key: ctx.key.to_string(),
            upload_id: ctx.upload_id.map(str::to_string),
            part_number: ctx.part,
            retry_after,
            attempts: 1,
            elapsed: Duration::ZERO,
            orphaned_uploads: Vec::new(),
        }))
    }
}

/// A `Retry-After` value: seconds, or an HTTP date compared with `now` (server time).
fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v.trim()).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: Option<&str>, expiry: Option<i64>) -> CosClient {
        let mut b = CosClient::builder("examplebucket-1250000000", "ap-guangzhou")
            .with_credential(Credential::new("AKIDtest", "secret-key").with_token("tok-123"));
        if let Some(e) = endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(x) = expiry {
            b = b.with_credential_expiry(x);
        }
        b.build().unwrap()
    }

    #[test]
    fn addressing_convention() {
        let c = client(None, None);
        assert_eq!(
            c.object_url("dir/a b.mp4", &[]).unwrap().as_str(),
            "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/dir/a%20b.mp4"
        );
        let c = client(Some("http://127.0.0.1:9000"), None);
        assert_eq!(
            c.object_url("dir/视.mp4", &[("uploadId", "x/y"), ("partNumber", "3")])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9000/examplebucket-1250000000/dir/%E8%A7%86.mp4?uploadId=x%2Fy&partNumber=3"
        );
        assert_eq!(
            c.object_url("k", &[("uploads", "")]).unwrap().as_str(),
            "http://127.0.0.1:9000/examplebucket-1250000000/k?uploads"
        );
        let c = client(Some("https://{bucket}.cos.accelerate.myqcloud.com"), None);
        assert_eq!(
            c.object_url("k", &[]).unwrap().as_str(),
            "https://examplebucket-1250000000.cos.accelerate.myqcloud.com/k"
        );
    }

    #[test]
    fn builder_validates() {
        let b = || {
            CosClient::builder("examplebucket-1250000000", "ap-guangzhou")
                .with_credential(Credential::new("a", "b"))
        };
        assert!(b().build().is_ok());
        assert!(matches!(
            CosClient::builder("Bad_Bucket", "ap-guangzhou")
                .with_credential(Credential::new("a", "b"))
                .build(),
            Err(Error::InvalidInput { field, .. }) if field == "bucket"
        ));
        assert!(b().with_endpoint("ftp://x").build().is_err());
        assert!(matches!(
            CosClient::builder("b-1", "ap-guangzhou").build(),
            Err(Error::Credentials(_))
        ));
        assert!(validate_key("").is_err());
        assert!(validate_key("/lead").is_err());
        assert!(validate_key(&"k".repeat(851)).is_err());
        assert!(validate_key("ok/key").is_ok());
    }

    /// One `name=value` field of a COS `Authorization` value (the full parser is the mock's).
    fn auth_field<'a>(auth: &'a str, name: &str) -> &'a str {
        auth.split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {auth}"))
    }

    #[test]
    fn signature_covers_host_length_token_and_query() {
        let c = client(Some("http://127.0.0.1:9000"), Some(10_000));
        let cred = Credential::new("AKIDtest", "secret-key").with_token("tok-123");
        let query = [("uploadId", "u1"), ("partNumber", "2")];
        let headers = vec![("content-length".to_string(), "5".to_string())];
        let now = 9_000;
        let out = c
            .sign_headers(
                &cred,
                CosOperation::UploadPart,
                "PUT",
                "dir/视频.mp4",
                "127.0.0.1:9000",
                &query,
                &headers,
                now,
            )
            .unwrap();
        let get = |n: &str| out.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("x-cos-security-token").as_deref(), Some("tok-123"));
        let auth = get("authorization").unwrap();
        let p = |name: &str| auth_field(&auth, name);
        assert_eq!(p("q-sign-algorithm"), "sha1");
        assert_eq!(p("q-ak"), "AKIDtest");
        assert_eq!(
            p("q-header-list"),
            "content-length;host;x-cos-security-token"
        );
        assert_eq!(p("q-url-param-list"), "partnumber;uploadid");
        // Key time starts 60 s back and is capped by the credential expiry (now + 1000 < now + 3600).
        assert_eq!(p("q-key-time"), format!("{};10000", now - 60));
        assert_eq!(p("q-sign-time"), p("q-key-time"));
        // Recompute independently: the signed path is the decoded key.
        let expect = signer::sign(
            "AKIDtest",
            "secret-key",
            &signer::CosRequest {
                method: "put",
                path: "/dir/视频.mp4",
                query: &query,
                headers: &[
                    ("content-length", "5"),
                    ("host", "127.0.0.1:9000"),
                    ("x-cos-security-token", "tok-123"),
                ],
                key_time: (now - 60, 10_000),
            },
        );
        assert_eq!(p("q-signature"), expect.signature);
        // No expiry: an hour.
        let c2 = client(None, None);
        let out = c2
            .sign_headers(
                &cred,
                CosOperation::PutObject,
                "PUT",
                "k",
                "h",
                &[],
                &[],
                now,
            )
            .unwrap();
        let auth = &out.last().unwrap().1;
        assert_eq!(
            auth_field(auth, "q-key-time"),
            format!("{};{}", now - 60, now + 3600)
        );
    }

    #[test]
    fn expired_credential_fails_before_signing() {
        let c = client(None, Some(1_000));
        let cred = Credential::new("AKIDtest", "secret-key").with_token("tok-123");
        let e = c
            .sign_headers(
                &cred,
                CosOperation::PutObject,
                "PUT",
                "k",
                "h",
                &[],
                &[],
                1_000,
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::CredentialsExpired {
                    expired_at: 1_000,
                    ..
                }
            ),
            "{e}"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn error_mapping() {
        let c = client(None, None);
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-cos-request-id", "rid-1".parse().unwrap());
        h.insert("retry-after", "3".parse().unwrap());
        let body = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>m</Message><TraceId>t</TraceId></Error>";
        let ctx = Ctx {
            op: CosOperation::UploadPart,
            key: "k",
            upload_id: Some("u-9"),
            part: Some(4),
        };
        let e = c.cos_error(ctx, 503, &h, body);
        let Error::Cos(ce) = &e else { panic!("{e}") };
        assert_eq!(ce.code, "SlowDown");
        assert_eq!(ce.request_id.as_deref(), Some("rid-1"));
        assert_eq!(ce.trace_id.as_deref(), Some("t"));
        assert_eq!(ce.retry_after, Some(Duration::from_secs(3)));
        assert!(e.is_retryable());
        let s = e.to_string();
        assert!(s.contains("upload id u-9") && s.contains("part 4"), "{s}");
        let e = c.cos_error(ctx, 403, &reqwest::header::HeaderMap::new(), b"");
        assert!(!e.is_retryable());
        assert_eq!(e.http_status(), Some(403));
    }
}
