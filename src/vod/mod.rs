//! VOD API 3.0 (`vod.tencentcloudapi.com`, version `2018-07-17`).
//!
//! [`VodApi`] is the one place that builds, signs and sends an API call and parses the response envelope:
//!
//! - TC3-HMAC-SHA256 signed `POST` JSON (default) or v1 `HmacSHA1`/`HmacSHA256` signed `POST` form;
//! - HTTP 200 with `Response.Error` → [`Error::Vod`] (action, code, message, request id);
//! - a body that is not JSON, is truncated, or lacks a required member → [`Error::InvalidResponse`] with the
//!   HTTP status and a short, redacted excerpt;
//! - each attempt is signed afresh and goes through the crate's retry loop ([`RetryConfig`]).

mod models;

pub use models::*;

use crate::credential::{Credential, ProvideCredential};
use crate::error::{Error, Result, VodApiError};
use crate::retry::{Idempotency, RetryConfig};
use crate::sign::{self, SignMethod};
use crate::transport::Clock;
use crate::transport::endpoint::authority;
use crate::transport::http::{
    MAX_RESPONSE_BODY, PlainHttpWarning, followed_redirect, read_body_capped, redirect_error,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The API version this crate speaks.
pub(crate) const API_VERSION: &str = "2018-07-17";
/// The service name used in signatures.
pub(crate) const SERVICE: &str = "vod";
/// The default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://vod.tencentcloudapi.com";

/// Language of error messages (`X-TC-Language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// `zh-CN`.
    ZhCn,
    /// `en-US`.
    EnUs,
}

impl Language {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::EnUs => "en-US",
        }
    }
}

/// Settings of the API client.
#[derive(Debug, Clone)]
pub(crate) struct ApiConfig {
    pub endpoint: url::Url,
    pub region: Option<String>,
    pub sign_method: SignMethod,
    pub language: Option<Language>,
    pub request_timeout: Duration,
    pub retry: RetryConfig,
    pub clock: Clock,
}

/// VOD actions whose `Region` common parameter the API reference marks **required**
/// (CommitUpload: cloud.tencent.com/document/api/266/31766; intl ApplyUpload 266/34120 and CommitUpload
/// 266/34119: "Region | Yes | Common Params"; the official upload SDKs always send the caller's region).
/// Calling one of them without a configured region fails before any request.
pub const REGION_REQUIRED_ACTIONS: &[&str] = &["ApplyUpload", "CommitUpload"];

/// Whether repeating `action` is harmless when its outcome is unknown (see [`Idempotency`]): reads
/// (`Describe*`, `Search*`, `Get*`, `List*`), `ParseStreamingManifest`, `ApplyUpload` (an unused session is
/// only a waste), `PullEvents` and `ConfirmEvents` (a second confirmation changes nothing) are; `CommitUpload`
/// and every other action (which may create or change something) are not.
pub(crate) fn action_idempotency(action: &str) -> Idempotency {
    const IDEMPOTENT_PREFIXES: &[&str] = &["Describe", "Search", "Get", "List"];
    const IDEMPOTENT: &[&str] = &[
        "ApplyUpload",
        "ParseStreamingManifest",
        "PullEvents",
        "ConfirmEvents",
    ];
    if IDEMPOTENT.contains(&action) || IDEMPOTENT_PREFIXES.iter().any(|p| action.starts_with(p)) {
        Idempotency::Idempotent
    } else {
        Idempotency::NotIdempotent
    }
}

/// Per-call options of [`VodApi::call_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    /// Whole-request timeout (default: the client's request timeout).
    pub timeout: Option<Duration>,
    /// Whether the call may be repeated when its outcome is unknown (default: reads, `ApplyUpload`,
    /// `ParseStreamingManifest`, `PullEvents` and `ConfirmEvents` are idempotent, every other action is not).
    pub idempotency: Option<Idempotency>,
}

impl CallOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the whole-request timeout.
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
    /// Sets the idempotency.
    pub fn with_idempotency(mut self, i: Idempotency) -> Self {
        self.idempotency = Some(i);
        self
    }
}

struct ApiInner {
    http: reqwest::Client,
    plain_http: PlainHttpWarning,
    config: ApiConfig,
    credentials: Arc<dyn ProvideCredential>,
    /// The current day's TC3 signing key, with the (SecretId, SecretKey) it was derived from.
    signing_key: std::sync::Mutex<Option<(String, String, sign::tc3::SigningKey)>>,
}

/// The VOD API 3.0 client: signs, sends, retries and parses calls. Cheap to clone.
///
/// Obtain it from [`VodClient::api`](crate::VodClient::api).
#[derive(Clone)]
pub struct VodApi {
    inner: Arc<ApiInner>,
}

impl std::fmt::Debug for VodApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VodApi")
            .field("endpoint", &self.inner.config.endpoint.as_str())
            .field("region", &self.inner.config.region)
            .field("sign_method", &self.inner.config.sign_method)
            .finish_non_exhaustive()
    }
}

/// A signed request ready to send.
struct Prepared {
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl VodApi {
    pub(crate) fn new(
        http: reqwest::Client,
        config: ApiConfig,
        credentials: Arc<dyn ProvideCredential>,
    ) -> Self {
        VodApi {
            inner: Arc::new(ApiInner {
                http,
                plain_http: PlainHttpWarning::default(),
                config,
                credentials,
                signing_key: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The endpoint calls go to.
    pub fn endpoint(&self) -> &url::Url {
        &self.inner.config.endpoint
    }

    /// The region sent as `X-TC-Region`.
    pub fn region(&self) -> Option<&str> {
        self.inner.config.region.as_deref()
    }

    /// The credential provider.
    pub(crate) fn credentials(&self) -> &Arc<dyn ProvideCredential> {
        &self.inner.credentials
    }

    /// The retry policy.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.config.retry
    }

    /// The clock signatures are timed with (shared with the `VodClient`'s COS clients).
    pub fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    /// `ApplyUpload`: asks VOD where to upload and for temporary COS credentials.
    pub async fn apply_upload(&self, req: &ApplyUploadRequest) -> Result<ApplyUploadResponse> {
        self.call("ApplyUpload", req).await
    }

    /// `CommitUpload`: tells VOD the upload is complete; returns the FileId and URLs.
    pub async fn commit_upload(&self, req: &CommitUploadRequest) -> Result<CommitUploadResponse> {
        self.call("CommitUpload", req).await
    }

    /// `ParseStreamingManifest`: lists the segment files of an HLS/DASH manifest.
    pub async fn parse_streaming_manifest(
        &self,
        req: &ParseStreamingManifestRequest,
    ) -> Result<ParseStreamingManifestResponse> {
        self.call("ParseStreamingManifest", req).await
    }

    /// Calls any VOD API 3.0 action with a JSON-serializable request and deserializes `Response`.
    pub async fn call<Req, Resp>(&self, action: &str, req: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.call_with(action, req, CallOptions::new()).await
    }

    /// Like [`call`](Self::call) with a per-call timeout (e.g. long polls).
    pub async fn call_with_timeout<Req, Resp>(
        &self,
        action: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.call_with(action, req, CallOptions::new().with_timeout(timeout))
            .await
    }

    /// Like [`call`](Self::call) with per-call options (timeout, idempotency).
    ///
    /// Fails with [`Error::InvalidInput`] (field `region`) before any request when `action` is one of
    /// [`REGION_REQUIRED_ACTIONS`] and the client has no region.
    pub async fn call_with<Req, Resp>(
        &self,
        action: &str,
        req: &Req,
        options: CallOptions,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        if self.inner.config.region.is_none() && REGION_REQUIRED_ACTIONS.contains(&action) {
            return Err(Error::invalid(
                "region",
                format!(
                    "{action} requires a region (its Region common parameter is required by the API); set \
                     VodClientBuilder::with_region or TENCENTCLOUD_REGION, e.g. ap-guangzhou"
                ),
            ));
        }
        let timeout = options.timeout.unwrap_or(self.inner.config.request_timeout);
        let idempotency = options
            .idempotency
            .unwrap_or_else(|| action_idempotency(action));
        let json = serde_json::to_value(req)
            .map_err(|e| Error::invalid(action, format!("request cannot be serialized: {e}")))?;
        let span = tracing::info_span!("vod_call", action, request_id = tracing::field::Empty);
        let value = self
            .inner
            .config
            .retry
            .run_with(action, idempotency, |attempt| {
                let json = &json;
                async move { self.attempt(action, json, timeout, attempt).await }
            })
            .instrument(span.clone())
            .await?;
        if let Some(id) = value.get("RequestId").and_then(|v| v.as_str()) {
            span.record("request_id", id);
        }
        serde_json::from_value(value.clone()).map_err(|e| {
            let body = serde_json::to_vec(&value).unwrap_or_default();
            Error::invalid_response(
                action,
                200,
                format!("unexpected Response: {e}"),
                &body,
                value
                    .get("RequestId")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            )
        })
    }

    fn prepare(
        &self,
        action: &str,
        json: &serde_json::Value,
        cred: &Credential,
        timestamp: i64,
    ) -> Result<Prepared> {
        let cfg = &self.inner.config;
        let host = authority(&cfg.endpoint);
        let mut headers: Vec<(&'static str, String)> = vec![("Host", host.clone())];
        match cfg.sign_method {
            SignMethod::Tc3HmacSha256 => {
                let body = serde_json::to_vec(json).map_err(|e| {
                    Error::invalid(action, format!("request cannot be serialized: {e}"))
                })?;
                let content_type = "application/json";
                let action_lc = action.to_ascii_lowercase();
                let key = self.signing_key(cred, timestamp);
                let signed = sign::tc3::sign_with_key(
                    cred.secret_id(),
                    &key,
                    &sign::tc3::Tc3Request {
                        method: "POST",
                        path: "/",
                        query: "",
                        headers: &[
                            ("content-type", content_type),
                            ("host", &host),
                            ("x-tc-action", &action_lc),
                        ],
                        payload: sign::tc3::Payload::Bytes(&body),
                        service: SERVICE,
                        timestamp,
                    },
                );
                headers.push(("Content-Type", content_type.into()));
                headers.push(("X-TC-Action", action.into()));
                headers.push(("X-TC-Version", API_VERSION.into()));
                headers.push(("X-TC-Timestamp", timestamp.to_string()));
                if let Some(r) = &cfg.region {
                    headers.push(("X-TC-Region", r.clone()));
                }
                if let Some(l) = cfg.language {
                    headers.push(("X-TC-Language", l.as_str().into()));
                }
                if let Some(t) = cred.token() {
                    headers.push(("X-TC-Token", t.into()));
                }
                headers.push((
                    "X-TC-RequestClient",
                    concat!("tencent-vod-rs/", env!("CARGO_PKG_VERSION")).into(),
                ));
                headers.push(("Authorization", signed.authorization));
                Ok(Prepared { headers, body })
            }
            SignMethod::HmacSha1 | SignMethod::HmacSha256 => {
                let alg = if cfg.sign_method == SignMethod::HmacSha1 {
                    sign::v1::Algorithm::HmacSha1
                } else {
                    sign::v1::Algorithm::HmacSha256
                };
                let mut params = sign::v1::flatten_json(json);
                params.push(("Action".into(), action.into()));
                params.push(("Version".into(), API_VERSION.into()));
                params.push(("Timestamp".into(), timestamp.to_string()));
                params.push(("Nonce".into(), fastrand::u32(1..u32::MAX).to_string()));
                params.push(("SecretId".into(), cred.secret_id().into()));
                params.push(("SignatureMethod".into(), alg.as_str().into()));
                if let Some(r) = &cfg.region {
                    params.push(("Region".into(), r.clone()));
                }
                if let Some(l) = cfg.language {
                    params.push(("Language".into(), l.as_str().into()));
                }
                if let Some(t) = cred.token() {
                    params.push(("Token".into(), t.into()));
                }
                let path = cfg.endpoint.path();
                let sts = sign::v1::string_to_sign("POST", &host, path, &params);
                let signature = sign::v1::signature(cred.secret_key(), alg, &sts);
                params.push(("Signature".into(), signature));
                headers.push(("Content-Type", "application/x-www-form-urlencoded".into()));
                Ok(Prepared {
                    headers,
                    body: sign::v1::encode_params(&params).into_bytes(),
                })
            }
        }
    }

    /// The TC3 signing key for this credential and day, derived once per day (three HMACs saved per call).
    fn signing_key(&self, cred: &Credential, timestamp: i64) -> sign::tc3::SigningKey {
        let mut cache = self
            .inner
            .signing_key
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((id, secret, key)) = cache.as_ref()
            && id == cred.secret_id()
            && secret == cred.secret_key()
            && key.matches(timestamp, SERVICE)
        {
            return key.clone();
        }
        let key = sign::tc3::SigningKey::derive(
            cred.secret_key(),
            &sign::tc3::utc_date(timestamp),
            SERVICE,
        );
        *cache = Some((
            cred.secret_id().to_string(),
            cred.secret_key().to_string(),
            key.clone(),
        ));
        key
    }

    async fn attempt(
        &self,
        action: &str,
        json: &serde_json::Value,
        timeout: Duration,
        attempt: u32,
    ) -> Result<serde_json::Value> {
        let cred = self.inner.credentials.credential().await?;
        let prepared = self.prepare(action, json, &cred, self.inner.config.clock.now())?;
        let endpoint = &self.inner.config.endpoint;
        self.inner.plain_http.check("VOD", endpoint);
        let mut rb = self
            .inner
            .http
            .post(endpoint.clone())
            .timeout(timeout)
            .body(prepared.body);
        for (k, v) in prepared.headers {
            rb = rb.header(k, v);
        }
        tracing::debug!(action, attempt, "sending");
        let resp = rb.send().await.map_err(|e| Error::transport(action, e))?;
        let status = resp.status().as_u16();
        if let Some(e) = Error::proxy_auth_from_response(action, status, resp.headers()) {
            return Err(e);
        }
        if resp.url() == endpoint {
            self.inner.config.clock.observe("VOD", resp.headers());
        }
        if resp.status().is_redirection() {
            return Err(redirect_error(action, status, endpoint, resp.headers()));
        }
        if resp.url() != endpoint {
            // A caller-supplied client followed a redirect: the request already went to the other host, but its
            // answer is never taken as VOD's.
            return Err(followed_redirect(action, status, resp.url()));
        }
        let body = read_body_capped(action, resp, MAX_RESPONSE_BODY).await?;
        parse_envelope(action, status, &body)
    }
}

/// Parses an API 3.0 envelope: `Response.Error` → [`Error::Vod`]; anything not an envelope →
/// [`Error::InvalidResponse`]. Returns the `Response` object.
pub(crate) fn parse_envelope(action: &str, status: u16, body: &[u8]) -> Result<serde_json::Value> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let reason = if e.is_eof() {
                format!("truncated JSON body ({e})")
            } else {
                format!("body is not JSON ({e})")
            };
            return Err(Error::invalid_response(action, status, reason, body, None));
        }
    };
    let Some(mut response) = value
        .as_object()
        .and_then(|o| o.get("Response"))
        .filter(|r| r.is_object())
        .cloned()
    else {
        return Err(Error::invalid_response(
            action,
            status,
            "JSON has no \"Response\" object",
            body,
            None,
        ));
    };
    let request_id = response
        .get("RequestId")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    if let Some(err) = response.get("Error").filter(|e| !e.is_null()) {
        let code = err.get("Code").and_then(|v| v.as_str()).unwrap_or("");
        let message = err.get("Message").and_then(|v| v.as_str()).unwrap_or("");
        if code.is_empty() {
            return Err(Error::invalid_response(
                action,
                status,
                "Response.Error has no Code",
                body,
                request_id,
            ));
        }
        return Err(Error::Vod(Box::new(VodApiError {
            action: action.to_string(),
            code: code.to_string(),
            message: message.to_string(),
            request_id,
            http_status: status,
            attempts: 1,
            elapsed: Duration::ZERO,
        })));
    }
    if status != 200 {
        return Err(Error::invalid_response(
            action,
            status,
            format!("HTTP {status} without Response.Error"),
            body,
            request_id,
        ));
    }
    if let Some(o) = response.as_object_mut() {
        o.remove("Error");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_error_is_vod_error() {
        let body = br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r1"}}"#;
        let e = parse_envelope("ApplyUpload", 200, body).unwrap_err();
        assert_eq!(e.code(), Some("AuthFailure.SignatureFailure"));
        assert_eq!(e.request_id(), Some("r1"));
        assert!(!e.is_retryable());
    }

    #[test]
    fn non_json_and_truncated() {
        let e = parse_envelope("ApplyUpload", 502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidResponse(r) if r.status == 502 && r.excerpt.contains("Bad Gateway"))
        );
        assert!(e.is_retryable());
        let e = parse_envelope(
            "ApplyUpload",
            200,
            br#"{"Response":{"TempCertificate":{"SecretKey":"topsecret"#,
        )
        .unwrap_err();
        let s = format!("{e} {e:?}");
        assert!(s.contains("truncated"), "{s}");
        assert!(!s.contains("topsecret"), "{s}");
    }
}
