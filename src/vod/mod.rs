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
use crate::retry::RetryConfig;
use crate::sign::{self, SignMethod};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// The API version this crate speaks.
pub const API_VERSION: &str = "2018-07-17";
/// The service name used in signatures.
pub const SERVICE: &str = "vod";
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

/// Validates and normalises an endpoint URL (`https://host[:port]`, no path beyond `/`).
pub(crate) fn parse_endpoint(field: &str, s: &str) -> Result<url::Url> {
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        Error::invalid(
            field,
            format!(
                "{s:?} is not a valid URL ({e}); expected e.g. https://vod.tencentcloudapi.com"
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            field,
            format!("{s:?}: scheme must be http or https"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(field, format!("{s:?} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            field,
            format!("{s:?} must not have a query or fragment"),
        ));
    }
    Ok(url)
}

/// `host[:port]` as sent in the `Host` header (the port only when it is not the scheme's default).
pub(crate) fn authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Whether a URL's host is a loopback address (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Logs one warning per client the first time credentials (a signature, a session token) are sent over plain
/// HTTP to a host that is not a loopback address. Plain HTTP stays allowed (local mocks and proxies need it).
#[derive(Debug, Default)]
pub(crate) struct PlainHttpWarning(std::sync::atomic::AtomicBool);

impl PlainHttpWarning {
    /// Checks a request URL about to carry credentials for `service` (`VOD` or `COS`).
    pub(crate) fn check(&self, service: &str, url: &url::Url) {
        use std::sync::atomic::Ordering;
        if url.scheme() == "http" && !is_loopback(url) && !self.0.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                service,
                host = %authority(url),
                "credentials are sent over plain HTTP to a non-loopback host: anyone on the path can read the \
                 session token and replay signed requests; use an https:// endpoint"
            );
        }
    }
}

/// The error for a 3xx answer: names the operation and the `Location` host, never its path or query.
pub(crate) fn redirect_error(
    operation: &str,
    status: u16,
    request_url: &url::Url,
    headers: &reqwest::header::HeaderMap,
) -> Error {
    let location_host = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| request_url.join(loc.trim()).ok())
        .filter(|u| u.host_str().is_some())
        .map(|u| authority(&u));
    tracing::warn!(
        operation,
        status,
        location_host = location_host.as_deref().unwrap_or("-"),
        "redirect refused"
    );
    Error::Redirect {
        operation: operation.to_string(),
        status,
        location_host,
        followed: false,
    }
}

/// Validates a region name such as `ap-guangzhou` (lower-case letters, digits and `-`).
pub(crate) fn validate_region(field: &str, region: &str) -> Result<()> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{region:?} is not a region name; expected e.g. ap-guangzhou"),
        ))
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

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
    pub fn credentials(&self) -> &Arc<dyn ProvideCredential> {
        &self.inner.credentials
    }

    /// The retry policy.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.config.retry
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
        self.call_with_timeout(action, req, self.inner.config.request_timeout)
            .await
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
        let json = serde_json::to_value(req)
            .map_err(|e| Error::invalid(action, format!("request cannot be serialized: {e}")))?;
        let span = tracing::info_span!("vod_call", action, request_id = tracing::field::Empty);
        let value = self
            .inner
            .config
            .retry
            .run(action, |attempt| {
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
        let prepared = self.prepare(action, json, &cred, now_unix())?;
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

/// The error for a response that came from another URL than the one requested: a caller-supplied HTTP client
/// followed a redirect.
pub(crate) fn followed_redirect(operation: &str, status: u16, final_url: &url::Url) -> Error {
    tracing::warn!(
        operation,
        location_host = %authority(final_url),
        "the HTTP client followed a redirect (build it with redirect::Policy::none())"
    );
    Error::Redirect {
        operation: operation.to_string(),
        status,
        location_host: Some(authority(final_url)),
        followed: true,
    }
}

/// The largest response body the crate reads (VOD envelopes and COS XML are a few KiB; anything near this is a
/// misbehaving server or proxy, and reading it all would only exhaust memory).
pub const MAX_RESPONSE_BODY: usize = 16 << 20;

/// Reads a response body of at most `max` bytes; a larger one (by `Content-Length` or as it streams) is an
/// [`Error::InvalidResponse`] rather than an unbounded allocation.
pub(crate) async fn read_body_capped(
    operation: &str,
    mut resp: reqwest::Response,
    max: usize,
) -> Result<bytes::Bytes> {
    let status = resp.status().as_u16();
    let request_id = resp
        .headers()
        .get("x-cos-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let too_large = |what: String, head: &[u8]| {
        Error::invalid_response(
            operation,
            status,
            format!("response body {what} exceeds the {max} byte limit"),
            head,
            request_id.clone(),
        )
    };
    if let Some(n) = resp.content_length()
        && n > max as u64
    {
        return Err(too_large(format!("of {n} bytes"), b""));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::transport(operation, e))?
    {
        if buf.len() + chunk.len() > max {
            return Err(too_large("streamed past the limit".into(), &buf));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Parses an API 3.0 envelope: `Response.Error` → [`Error::Vod`]; anything not an envelope →
/// [`Error::InvalidResponse`]. Returns the `Response` object.
pub fn parse_envelope(action: &str, status: u16, body: &[u8]) -> Result<serde_json::Value> {
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

    #[test]
    fn endpoint_and_region_validation() {
        assert_eq!(
            authority(&parse_endpoint("e", "http://127.0.0.1:8080").unwrap()),
            "127.0.0.1:8080"
        );
        assert_eq!(
            authority(&parse_endpoint("e", "vod.tencentcloudapi.com").unwrap()),
            "vod.tencentcloudapi.com"
        );
        assert!(parse_endpoint("e", "ftp://x").is_err());
        assert!(parse_endpoint("e", "http://").is_err());
        for (url, loopback) in [
            ("http://127.0.0.1:9000", true),
            ("http://127.8.9.10", true),
            ("http://localhost:80", true),
            ("http://LOCALHOST.", true),
            ("http://api.localhost", true),
            ("http://[::1]:8080", true),
            ("http://[::ffff:127.0.0.1]", true),
            ("http://10.0.0.1", false),
            ("http://vod.tencentcloudapi.com", false),
            ("http://localhost.example.com", false),
            ("http://[::2]", false),
        ] {
            assert_eq!(
                is_loopback(&url::Url::parse(url).unwrap()),
                loopback,
                "{url}"
            );
        }
        assert!(validate_region("r", "ap-guangzhou").is_ok());
        assert!(validate_region("r", "AP GZ").is_err());
        assert!(validate_region("r", "").is_err());
    }
}
