//! [`VodClient`]: the public entry point, and its builder.

use crate::cos::TransferConfig;
use crate::credential::{DefaultCredentialChain, ProvideCredential};
use crate::error::{Error, Result};
use crate::events::EventPoller;
use crate::retry::RetryConfig;
use crate::sign::SignMethod;
use crate::transport::Clock;
use crate::transport::net::{NetOptions, RootCertificate, http_client};
use crate::upload::{UploadHandle, UploadOutcome, UploadRequest};
use crate::vod::{self, ApiConfig, Language, VodApi};
use std::sync::Arc;
use std::time::Duration;

/// Environment variable with the default region (`ap-guangzhou` style).
pub const ENV_REGION: &str = "TENCENTCLOUD_REGION";
/// Environment variable overriding the VOD endpoint.
pub const ENV_VOD_ENDPOINT: &str = "TENCENTCLOUD_VOD_ENDPOINT";
/// Environment variable overriding the COS endpoint.
pub const ENV_COS_ENDPOINT: &str = "TENCENTCLOUD_COS_ENDPOINT";
/// Environment variable with a default VOD `SubAppId`.
pub const ENV_SUB_APP_ID: &str = "TENCENTCLOUD_VOD_SUB_APP_ID";
/// Environment variable naming a PEM (or DER) file of extra root certificates to trust, e.g. the CA of a private
/// endpoint (`tvod mock --tls` prints it) or of a TLS-intercepting corporate proxy. Read by
/// [`VodClient::from_env`]; see [`VodClientBuilder::with_root_certificate_file`].
pub const ENV_CA_FILE: &str = "TENCENTCLOUD_CA_FILE";

pub(crate) struct ClientInner {
    pub(crate) api: VodApi,
    pub(crate) http: reqwest::Client,
    pub(crate) cos_endpoint: Option<String>,
    pub(crate) sub_app_id: Option<u64>,
    pub(crate) transfer: TransferConfig,
    pub(crate) retry: RetryConfig,
    /// The "credentials over plain HTTP" warning of every COS client this client builds (logged once).
    pub(crate) cos_plain_http: Arc<crate::transport::http::PlainHttpWarning>,
}

/// The Tencent Cloud VOD client. Cheap to clone (an `Arc` inside), safe to share across tasks; one connection pool
/// serves both VOD and COS.
///
/// Build it with [`VodClient::builder`] or [`VodClient::from_env`]; upload with [`upload`](Self::upload) (or
/// [`start_upload`](Self::start_upload) for a cancellable handle); call any VOD API 3.0 action through
/// [`api`](Self::api). Clones share the pool, the credentials and the settings, so uploads can run in parallel
/// from one client:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = tencent_vod_mock::MockServer::start().await?;
/// # let client = mock.client_builder().build()?;
/// use tencent_vod::{UploadRequest, VodClient};
///
/// async fn publish(client: VodClient, name: &str, bytes: Vec<u8>) -> tencent_vod::Result<String> {
///     let out = client
///         .upload(UploadRequest::from_bytes(bytes, "mp4").with_media_name(name))
///         .await?;
///     Ok(out.file_id)
/// }
///
/// // `client`: VodClient::from_env()? in production.
/// let (a, b) = tokio::join!(
///     publish(client.clone(), "intro", vec![1; 1 << 20]),
///     publish(client.clone(), "outro", vec![2; 1 << 20]),
/// );
/// assert_ne!(a?, b?);
/// # assert_eq!(mock.commits().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct VodClient {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for VodClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VodClient")
            .field("api", &self.inner.api)
            .field("cos_endpoint", &self.inner.cos_endpoint)
            .field("sub_app_id", &self.inner.sub_app_id)
            .finish_non_exhaustive()
    }
}

impl VodClient {
    /// A builder with the defaults.
    pub fn builder() -> VodClientBuilder {
        VodClientBuilder::default()
    }

    /// A client configured from the environment: credentials from [`DefaultCredentialChain`] (checked now, so a
    /// missing credential fails here), region from `TENCENTCLOUD_REGION`, endpoints from
    /// `TENCENTCLOUD_VOD_ENDPOINT` / `TENCENTCLOUD_COS_ENDPOINT`, default SubAppId from
    /// `TENCENTCLOUD_VOD_SUB_APP_ID`, an extra trusted root certificate from `TENCENTCLOUD_CA_FILE`. Proxies come
    /// from `HTTPS_PROXY` & co. as for any client (see [`VodClientBuilder::with_proxy_from_env`]).
    pub fn from_env() -> Result<Self> {
        VodClientBuilder::from_env()?.build()
    }

    /// The VOD API 3.0 client (ApplyUpload, CommitUpload, ParseStreamingManifest, any action).
    pub fn api(&self) -> &VodApi {
        &self.inner.api
    }

    /// The shared HTTP client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The default `SubAppId` applied to requests that name none.
    pub fn sub_app_id(&self) -> Option<u64> {
        self.inner.sub_app_id
    }

    /// The COS endpoint override, if any.
    pub fn cos_endpoint(&self) -> Option<&str> {
        self.inner.cos_endpoint.as_deref()
    }

    /// The transfer settings of uploads that set none
    /// ([`UploadRequest::with_transfer_config`](crate::UploadRequest::with_transfer_config) replaces them).
    pub fn transfer_config(&self) -> &TransferConfig {
        &self.inner.transfer
    }

    /// The clock shared by VOD calls and the COS clients of uploads: local time plus the offset to server time
    /// it learned (see [`Clock`]).
    pub fn clock(&self) -> &Clock {
        self.inner.api.clock()
    }

    /// Uploads one media file (plus its cover and HLS/DASH segments): ApplyUpload → COS → CommitUpload.
    ///
    /// ```no_run
    /// # async fn demo() -> tencent_vod::Result<()> {
    /// use tencent_vod::{UploadRequest, VodClient};
    /// let client = VodClient::from_env()?;
    /// let out = client
    ///     .upload(UploadRequest::from_path("movie.mp4").with_cover_path("cover.jpg"))
    ///     .await?;
    /// println!("{} {:?}", out.file_id, out.media_url);
    /// # Ok(()) }
    /// ```
    ///
    /// Runnable examples: [`UploadRequest`], [`UploadOutcome`].
    ///
    /// See [`crate::upload`] for the guarantees (nothing is committed unless every object was verified).
    pub async fn upload(&self, request: UploadRequest) -> Result<UploadOutcome> {
        crate::upload::run(
            crate::upload::UploadContext {
                api: &self.inner.api,
                http: &self.inner.http,
                cos_endpoint: self.inner.cos_endpoint.as_deref(),
                transfer: &self.inner.transfer,
                retry: &self.inner.retry,
                sub_app_id: self.inner.sub_app_id,
                cos_plain_http: &self.inner.cos_plain_http,
                clock: self.inner.api.clock(),
            },
            request,
        )
        .await
    }

    /// Starts `request` on a new Tokio task and returns a handle to cancel it, watch its progress and join it.
    /// The request's own cancellation token, deadline and progress callback still apply.
    ///
    /// ```no_run
    /// # async fn demo(client: tencent_vod::VodClient) -> tencent_vod::Result<()> {
    /// use tencent_vod::UploadRequest;
    /// let handle = client.start_upload(UploadRequest::from_path("movie.mp4"));
    /// // … later, e.g. on shutdown:
    /// handle.cancel();
    /// let result = handle.join().await; // Err(Error::Cancelled) unless it had already finished
    /// # let _ = result; Ok(()) }
    /// ```
    ///
    /// # Panics
    /// Like `tokio::spawn`, when called outside a Tokio runtime.
    pub fn start_upload(&self, request: UploadRequest) -> UploadHandle {
        let client = self.clone();
        UploadHandle::spawn(request, move |r| async move { client.upload(r).await })
    }

    /// An [`EventPoller`] for this client's default `SubAppId`.
    pub fn event_poller(&self) -> EventPoller {
        EventPoller::new(self.api().clone()).with_sub_app_id(self.sub_app_id())
    }
}

/// Builds a [`VodClient`]: credentials, region, endpoints, timeouts, retries, transfer settings. Every setting
/// has a default; [`build`](Self::build) checks them all (and finds credentials through the
/// [`DefaultCredentialChain`] when none were given) without making a request.
///
/// ```
/// use std::time::Duration;
/// use tencent_vod::{Credential, RetryConfig, SignMethod, TransferConfig, VodClient};
///
/// let client = VodClient::builder()
///     .with_credential(Credential::new("AKIDexample", "example-secret-key"))
///     .with_region("ap-guangzhou")
///     .with_sub_app_id(1500000001)
///     .with_sign_method(SignMethod::Tc3HmacSha256)
///     .with_connect_timeout(Duration::from_secs(3))
///     .with_retry(RetryConfig::default().with_max_retries(5))
///     .with_transfer_config(TransferConfig::default().with_part_size(16 << 20).with_concurrency(8))
///     .build()?;
/// assert_eq!(client.sub_app_id(), Some(1500000001));
/// assert_eq!(client.transfer_config().part_size(), 16 << 20);
///
/// // Every value is checked when building: which setting, and what was expected.
/// let e = VodClient::builder()
///     .with_credential(Credential::new("AKIDexample", "example-secret-key"))
///     .with_region("not a region")
///     .build()
///     .unwrap_err();
/// assert!(matches!(e, tencent_vod::Error::InvalidInput { ref field, .. } if field == "region"), "{e}");
/// # Ok::<(), tencent_vod::Error>(())
/// ```
#[derive(Clone)]
pub struct VodClientBuilder {
    credentials: Option<Arc<dyn ProvideCredential>>,
    region: Option<String>,
    vod_endpoint: Option<String>,
    cos_endpoint: Option<String>,
    sign_method: SignMethod,
    language: Option<Language>,
    connect_timeout: Duration,
    request_timeout: Duration,
    read_timeout: Duration,
    retry: RetryConfig,
    http: Option<reqwest::Client>,
    sub_app_id: Option<u64>,
    transfer: TransferConfig,
    clock: Option<Clock>,
    net: NetOptions,
}

impl std::fmt::Debug for VodClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VodClientBuilder")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("vod_endpoint", &self.vod_endpoint)
            .field("cos_endpoint", &self.cos_endpoint)
            .field("sign_method", &self.sign_method)
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

impl Default for VodClientBuilder {
    fn default() -> Self {
        VodClientBuilder {
            credentials: None,
            region: None,
            vod_endpoint: None,
            cos_endpoint: None,
            sign_method: SignMethod::default(),
            language: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retry: RetryConfig::default(),
            http: None,
            sub_app_id: None,
            transfer: TransferConfig::default(),
            clock: None,
            net: NetOptions::default(),
        }
    }
}

impl VodClientBuilder {
    /// A builder preset from the environment (see [`VodClient::from_env`]).
    pub fn from_env() -> Result<Self> {
        let chain = DefaultCredentialChain::new();
        chain.load()?;
        let mut b = VodClientBuilder::default().with_credential_provider(chain);
        if let Ok(r) = std::env::var(ENV_REGION)
            && !r.is_empty()
        {
            b = b.with_region(r);
        }
        if let Ok(e) = std::env::var(ENV_VOD_ENDPOINT)
            && !e.is_empty()
        {
            b = b.with_vod_endpoint(e);
        }
        if let Ok(e) = std::env::var(ENV_COS_ENDPOINT)
            && !e.is_empty()
        {
            b = b.with_cos_endpoint(e);
        }
        if let Ok(s) = std::env::var(ENV_SUB_APP_ID)
            && !s.is_empty()
        {
            let id = s.parse::<u64>().map_err(|_| {
                Error::invalid(ENV_SUB_APP_ID, format!("{s:?} is not an unsigned integer"))
            })?;
            b = b.with_sub_app_id(id);
        }
        if let Some(path) = std::env::var_os(ENV_CA_FILE)
            && !path.is_empty()
        {
            b = b.with_root_certificate_file(path);
        }
        Ok(b)
    }

    /// Fixed credentials.
    pub fn with_credential(mut self, credential: crate::Credential) -> Self {
        self.credentials = Some(Arc::new(credential));
        self
    }

    /// A credential provider consulted before every request.
    pub fn with_credential_provider(mut self, provider: impl ProvideCredential + 'static) -> Self {
        self.credentials = Some(Arc::new(provider));
        self
    }

    /// The region sent as `X-TC-Region` / `Region` (e.g. `ap-guangzhou`).
    ///
    /// **Required for uploads**: the API reference marks `Region` required for ApplyUpload and CommitUpload, so
    /// without a region these calls (and [`VodClient::upload`]) fail with [`Error::InvalidInput`] (field
    /// `region`) before any request. Other actions are sent without one.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// VOD endpoint (`https://vod.tencentcloudapi.com` by default; intl `vod.intl.tencentcloudapi.com`,
    /// financial zones `vod.ap-shanghai-fsi.tencentcloudapi.com`, or `http://127.0.0.1:port` for a mock).
    /// Plain `http://` is accepted, but the first signed request to a host that is not a loopback address logs a
    /// warning (once per client): signatures and session tokens would travel in clear text.
    pub fn with_vod_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.vod_endpoint = Some(endpoint.into());
        self
    }

    /// COS endpoint override. A plain base URL (`http://127.0.0.1:9000`) addresses objects path-style
    /// (`/{bucket}/{key}`); a URL containing `{bucket}` (and optionally `{region}`) is a virtual-host template,
    /// e.g. `https://{bucket}.cos.accelerate.myqcloud.com`. Default: `https://{bucket}.cos.{region}.myqcloud.com`.
    /// Plain `http://` is accepted with a warning, as for [`with_vod_endpoint`](Self::with_vod_endpoint).
    pub fn with_cos_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.cos_endpoint = Some(endpoint.into());
        self
    }

    /// Signature for VOD API calls (TC3-HMAC-SHA256 by default).
    pub fn with_sign_method(mut self, m: SignMethod) -> Self {
        self.sign_method = m;
        self
    }

    /// `X-TC-Language` for error messages.
    pub fn with_language(mut self, l: Language) -> Self {
        self.language = Some(l);
        self
    }

    /// TCP connect timeout (default 5 s). Ignored with [`with_http_client`](Self::with_http_client).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Whole-request timeout of VOD API calls (default 30 s).
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Idle read timeout of every connection (default 60 s): a COS part upload is never cut by a whole-request
    /// cap, only when the peer stops answering. Ignored with [`with_http_client`](Self::with_http_client).
    pub fn with_read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Retry policy for VOD calls and COS requests.
    pub fn with_retry(mut self, r: RetryConfig) -> Self {
        self.retry = r;
        self
    }

    /// A caller-built `reqwest::Client`. Its own timeouts, TLS and proxy settings apply: combining it with
    /// [`with_root_certificate`](Self::with_root_certificate) or [`with_proxy`](Self::with_proxy) fails
    /// [`build`](Self::build).
    ///
    /// **It must not follow redirects**: build it with `.redirect(reqwest::redirect::Policy::none())`
    /// (reqwest follows up to 10 by default). Neither VOD nor COS redirects API calls; a client that follows a
    /// `307` re-sends the signed request, the `X-TC-Token` / `x-cos-security-token` session token and the body
    /// (CommitUpload's `VodSessionKey`, media bytes) to whatever host the `Location` names. The crate's own
    /// client never follows one and turns a 3xx into [`Error::Redirect`] naming the operation and the `Location`
    /// host. With a caller's client the crate sees the 3xx only when the client does not follow it; if it does,
    /// the crate still notices that the answer came from another URL and refuses it (`Error::Redirect` with
    /// `followed: true`), but the request has already reached the other host.
    ///
    /// ```
    /// let http = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()
    ///     .unwrap();
    /// let builder = tencent_vod::VodClient::builder().with_http_client(http);
    /// # let _ = builder;
    /// ```
    pub fn with_http_client(mut self, c: reqwest::Client) -> Self {
        self.http = Some(c);
        self
    }

    /// The clock for signatures and credential-expiry checks (default: the system clock, corrected from the
    /// servers' `Date` headers; see [`Clock`]). Tests pass one with their own time source.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Also trusts this root certificate (PEM, possibly a bundle of several, or one DER certificate) when
    /// verifying VOD and COS servers, e.g. the CA of a private endpoint or of a TLS-intercepting proxy. Checked
    /// when the client is built ([`Error::InvalidInput`] naming `root_certificate`). Repeatable.
    ///
    /// ```no_run
    /// # fn demo() -> tencent_vod::Result<()> {
    /// let pem = std::fs::read("corp-ca.pem").unwrap();
    /// let client = tencent_vod::VodClient::builder().with_root_certificate(pem).build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn with_root_certificate(mut self, pem_or_der: impl AsRef<[u8]>) -> Self {
        self.net
            .root_certificates
            .push(RootCertificate::Bytes(Arc::from(pem_or_der.as_ref())));
        self
    }

    /// Like [`with_root_certificate`](Self::with_root_certificate), read from a file when the client is built
    /// (a missing file is [`Error::Io`] naming it). [`VodClient::from_env`] adds `TENCENTCLOUD_CA_FILE` this way.
    pub fn with_root_certificate_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.net
            .root_certificates
            .push(RootCertificate::File(path.into()));
        self
    }

    /// Whether the platform's trust store is used (default `true`). With `false` only the roots added with
    /// [`with_root_certificate`](Self::with_root_certificate) are trusted (at least one is then required).
    pub fn with_built_in_root_certificates(mut self, on: bool) -> Self {
        self.net.built_in_roots = on;
        self
    }

    /// Sends every VOD and COS request through this forward proxy: `http://[user:password@]host:port` (or
    /// `https://` for TLS to the proxy); `https://` destinations through a `CONNECT` tunnel, `http://` ones
    /// forwarded. Credentials in the URL (percent-encoded) go as `Proxy-Authorization: Basic`, and never appear
    /// in `Debug` output, logs or errors. Applies to loopback destinations too (unlike environment proxies).
    /// Overrides `HTTPS_PROXY` & co. A proxy that answers `407` fails with [`Error::Proxy`] (not retried).
    ///
    /// Without it, `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` are honoured, except for loopback
    /// destinations (see [`with_proxy_from_env`](Self::with_proxy_from_env)).
    ///
    /// ```no_run
    /// # fn demo() -> tencent_vod::Result<()> {
    /// let client = tencent_vod::VodClient::builder()
    ///     .with_proxy("http://build:s3cret@proxy.corp.example:3128")
    ///     .with_proxy_bypass("internal.example,10.0.0.0/8")
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn with_proxy(mut self, url: impl Into<String>) -> Self {
        self.net.proxy = Some(url.into());
        self
    }

    /// Hosts the [`with_proxy`](Self::with_proxy) proxy is not used for, `NO_PROXY` style: comma-separated
    /// domains (matching their subdomains too), IP addresses, CIDR ranges, or `*`.
    pub fn with_proxy_bypass(mut self, list: impl Into<String>) -> Self {
        self.net.proxy_bypass = Some(list.into());
        self
    }

    /// Whether the proxy environment is honoured when no [`with_proxy`](Self::with_proxy) is given (default
    /// `true`): `HTTPS_PROXY` for `https://` destinations, `HTTP_PROXY` for `http://` ones (ignored under CGI),
    /// `ALL_PROXY` for either when the specific one is unset, `NO_PROXY` for exceptions — upper case first, then
    /// lower case, read when the client is built. **Loopback destinations** (`localhost`, `127.0.0.0/8`, `::1`)
    /// never go through an environment proxy, as with Go's `ProxyFromEnvironment` (used by Tencent's Go SDKs).
    /// An invalid or SOCKS proxy URL in the environment fails [`build`](Self::build) with
    /// [`Error::InvalidInput`] naming the variable. `false` connects directly.
    pub fn with_proxy_from_env(mut self, on: bool) -> Self {
        self.net.proxy_from_env = on;
        self
    }

    /// Default `SubAppId` for requests that name none.
    pub fn with_sub_app_id(mut self, id: u64) -> Self {
        self.sub_app_id = Some(id);
        self
    }

    /// The transfer settings of every upload (multipart threshold and part size, 8 MiB; parts in flight, 4,
    /// shared by an upload's media, cover and segments; integrity checks…): the one place they are set. A request
    /// can replace them with [`UploadRequest::with_transfer_config`]. Checked by [`build`](Self::build).
    ///
    /// ```
    /// use tencent_vod::{TransferConfig, VodClient};
    /// let builder = VodClient::builder().with_transfer_config(
    ///     TransferConfig::default().with_part_size(16 << 20).with_concurrency(8),
    /// );
    /// # let _ = builder;
    /// ```
    pub fn with_transfer_config(mut self, t: TransferConfig) -> Self {
        self.transfer = t;
        self
    }

    /// Validates the configuration and builds the client.
    pub fn build(self) -> Result<VodClient> {
        let credentials = match self.credentials {
            Some(c) => c,
            None => {
                let chain = DefaultCredentialChain::new();
                chain.load()?;
                Arc::new(chain)
            }
        };
        let endpoint = crate::transport::endpoint::parse_endpoint(
            "vod_endpoint",
            self.vod_endpoint
                .as_deref()
                .unwrap_or(vod::DEFAULT_ENDPOINT),
        )?;
        if let Some(r) = &self.region {
            crate::transport::endpoint::validate_region("region", r)?;
        }
        if let Some(c) = &self.cos_endpoint {
            let probe = c
                .replace("{bucket}", "bucket-1250000000")
                .replace("{region}", "ap-guangzhou");
            crate::transport::endpoint::parse_endpoint("cos_endpoint", &probe)?;
        }
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
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
            None => http_client(self.connect_timeout, self.read_timeout, &self.net)?,
        };
        self.transfer.validate()?;
        let api = VodApi::new(
            http.clone(),
            ApiConfig {
                endpoint,
                region: self.region,
                sign_method: self.sign_method,
                language: self.language,
                request_timeout: self.request_timeout,
                retry: self.retry.clone(),
                clock: self.clock.unwrap_or_default(),
            },
            credentials,
        );
        Ok(VodClient {
            inner: Arc::new(ClientInner {
                api,
                http,
                cos_endpoint: self.cos_endpoint,
                sub_app_id: self.sub_app_id,
                transfer: self.transfer,
                retry: self.retry,
                cos_plain_http: Arc::default(),
            }),
        })
    }
}
