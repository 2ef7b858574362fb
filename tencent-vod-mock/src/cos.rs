//! The mock COS XML object API.

use crate::fault::{Fault, dropped_connection};
use crate::state::{ObjectMeta, PartMeta, Scope, Shared, Upload, random_hex};
use crate::verify::{self, constant_time_eq};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use futures::StreamExt;
use md5::Digest as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;
use tencent_vod::__private::cos_sign as cossign;
use tencent_vod::__private::crc64_combine;
use tencent_vod::error::CosOperation;
use tokio::io::AsyncWriteExt;

/// Key-time starts may be this far in the future.
const MAX_SKEW_SECS: i64 = 900;
/// Largest CompleteMultipartUpload body.
const MAX_XML: usize = 16 << 20;

#[derive(Debug)]
pub(crate) struct CosErr {
    status: u16,
    code: String,
    message: String,
}

fn cerr(status: u16, code: &str, message: impl Into<String>) -> CosErr {
    CosErr {
        status,
        code: code.to_string(),
        message: message.into(),
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

struct Ctx {
    request_id: String,
    resource: String,
    head: bool,
}

impl Ctx {
    fn base(&self, status: StatusCode) -> axum::http::response::Builder {
        Response::builder()
            .status(status)
            .header("x-cos-request-id", self.request_id.as_str())
            .header(header::SERVER, "tencent-cos")
    }

    fn error(&self, e: &CosErr) -> Response {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let trace = format!(
            "{}{}",
            self.request_id,
            hex::encode(cossign::url_encode(&e.code))
        );
        let body = if self.head {
            String::new()
        } else {
            error_xml(e, &self.resource, &self.request_id, &trace)
        };
        self.base(status)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(body))
            .unwrap_or_default()
    }

    fn xml(&self, status: StatusCode, body: String) -> Response {
        self.base(status)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(body))
            .unwrap_or_default()
    }
}

fn error_xml(e: &CosErr, resource: &str, request_id: &str, trace: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n\t<Code>{}</Code>\n\t<Message>{}</Message>\n\t\
         <Resource>{}</Resource>\n\t<RequestId>{}</RequestId>\n\t<TraceId>{}</TraceId>\n</Error>",
        xml_escape(&e.code),
        xml_escape(&e.message),
        xml_escape(resource),
        xml_escape(request_id),
        xml_escape(trace)
    )
}

fn status_code_name(status: u16) -> &'static str {
    match status {
        500 => "InternalError",
        503 => "ServiceUnavailable",
        501 => "NotImplemented",
        400 => "InvalidRequest",
        403 => "AccessDenied",
        404 => "NoSuchKey",
        409 => "OperationAborted",
        429 => "SlowDown",
        s if s >= 500 => "InternalError",
        _ => "InvalidRequest",
    }
}

fn decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Query pairs, percent-decoded; valueless keys (`uploads`) get `""`. `+` is kept literally.
fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                decode(k).unwrap_or_else(|| k.to_string()),
                decode(v).unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `(bucket, key, virtual_host)` from the Host and path (see the module docs).
fn address(host: &str, raw_path: &str) -> Result<(String, String, bool), CosErr> {
    let host_only = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host_lc = host_only.to_ascii_lowercase();
    let virtual_host = (host_lc.ends_with(".myqcloud.com") || host_lc.ends_with(".tencentcos.cn"))
        && host_lc.contains(".cos.");
    let path = decode(raw_path)
        .ok_or_else(|| cerr(400, "InvalidURI", "The object path is not valid UTF-8."))?;
    let (bucket, key) = if virtual_host {
        let bucket = host_lc.split('.').next().unwrap_or_default().to_string();
        (bucket, path.trim_start_matches('/').to_string())
    } else {
        let rest = raw_path.trim_start_matches('/');
        let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
        (
            decode(b).unwrap_or_default(),
            decode(k)
                .ok_or_else(|| cerr(400, "InvalidURI", "The object path is not valid UTF-8."))?,
        )
    };
    let valid_bucket = bucket.rsplit_once('-').is_some_and(|(name, appid)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !appid.is_empty()
            && appid.bytes().all(|b| b.is_ascii_digit())
    });
    if !valid_bucket {
        return Err(cerr(
            400,
            "InvalidBucketName",
            format!(
                "The bucket `{bucket}` is not of the form name-appid (path-style: /{{bucket}}/{{key}})."
            ),
        ));
    }
    Ok((bucket, key, virtual_host))
}

enum Op {
    Cos(CosOperation),
    GetObject,
    ListMultipartUploads,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Cos(o) => o.as_str(),
            Op::GetObject => "GetObject",
            Op::ListMultipartUploads => "ListMultipartUploads",
        }
    }
}

fn route(method: &Method, query: &[(String, String)], bucket_level: bool) -> Option<Op> {
    let has = |k: &str| query.iter().any(|(q, _)| q == k);
    if bucket_level && *method == Method::GET && has("uploads") {
        return Some(Op::ListMultipartUploads);
    }
    let op = match *method {
        Method::PUT if has("partNumber") && has("uploadId") => CosOperation::UploadPart,
        Method::PUT => CosOperation::PutObject,
        Method::POST if has("uploads") => CosOperation::InitiateMultipartUpload,
        Method::POST if has("uploadId") => CosOperation::CompleteMultipartUpload,
        Method::GET if has("uploadId") => CosOperation::ListParts,
        Method::GET => return Some(Op::GetObject),
        Method::DELETE if has("uploadId") => CosOperation::AbortMultipartUpload,
        Method::HEAD => CosOperation::HeadObject,
        _ => return None,
    };
    Some(Op::Cos(op))
}

pub(crate) async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let host = header_str(&parts.headers, "host").unwrap_or_default();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let query = parse_query(&raw_query);
    let mut ctx = Ctx {
        request_id: sh.cos_request_id(),
        resource: format!("{host}{}", parts.uri.path()),
        head: parts.method == Method::HEAD,
    };
    let (bucket, key, virtual_host) = match address(&host, parts.uri.path()) {
        Ok(a) => a,
        Err(e) => {
            sh.count("Unsupported");
            return ctx.error(&e);
        }
    };
    let Some(op) = route(&parts.method, &query, key.is_empty()) else {
        sh.count("Unsupported");
        return ctx.error(&cerr(
            405,
            "MethodNotAllowed",
            format!("{} is not supported by the mock.", parts.method),
        ));
    };
    sh.count(op.name());
    ctx.resource = format!("{bucket}.cos.{}.myqcloud.com/{key}", sh.cfg.region);
    tracing::debug!(
        op = op.name(),
        bucket,
        key,
        virtual_host,
        "mock COS request"
    );
    let bucket_level = matches!(op, Op::ListMultipartUploads);
    if key.is_empty() && !bucket_level {
        return ctx.error(&cerr(
            400,
            "InvalidArgument",
            "Bucket-level operations other than ListMultipartUploads are not supported by the mock; the object key is empty.",
        ));
    }
    let auth = extract_auth(&parts.headers, &query);

    // Faults.
    let mut wrong_crc = false;
    let mut omit_crc = false;
    let mut complete_error_body = false;
    // A fault that bites after the work: the request is processed, then its answer is lost.
    let mut after: Option<Fault> = None;
    let fault = match op {
        Op::Cos(o) => sh.cos_fault(o),
        Op::GetObject | Op::ListMultipartUploads => None,
    };
    if let Some(fault) = fault {
        tracing::debug!(op = op.name(), ?fault, "mock COS fault");
        match fault {
            f @ (Fault::DropAfterProcessing | Fault::StatusAfterProcessing(_)) => after = Some(f),
            Fault::Status(s) => {
                drain(body).await;
                return ctx.error(&cerr(s, status_code_name(s), "Injected fault."));
            }
            Fault::CosError { status, code } => {
                drain(body).await;
                return ctx.error(&cerr(status, &code, "Injected fault."));
            }
            Fault::VodError(code) => {
                drain(body).await;
                return ctx.error(&cerr(500, &code, "Injected fault."));
            }
            Fault::Throttle => {
                drain(body).await;
                return ctx.error(&cerr(503, "SlowDown", "Please reduce your request rate."));
            }
            Fault::DropConnection if ctx.head => {
                // A HEAD answer has no body to cut short: answered as a 503 instead.
                return ctx.error(&cerr(503, "ServiceUnavailable", "Injected fault."));
            }
            Fault::DropConnection => {
                let len: u64 = header_str(&parts.headers, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                read_some(body, len / 2).await;
                return dropped_connection();
            }
            Fault::Delay(d) => tokio::time::sleep(d).await,
            Fault::Hold(gate) => gate.wait().await,
            Fault::CompleteErrorBody => complete_error_body = true,
            Fault::WrongCrc => wrong_crc = true,
            Fault::OmitCrc => omit_crc = true,
            Fault::Redirect { status, location } => {
                drain(body).await;
                return Fault::redirect_response(status, &location);
            }
            Fault::ExpireCredentials => {
                if let Some(Ok(a)) = &auth {
                    sh.expire_credentials(&a.0.secret_id);
                }
            }
        }
    }

    let verified = match auth {
        None => Err(cerr(
            403,
            "AccessDenied",
            "Access Denied: the request is not signed (no Authorization).",
        )),
        Some(Err(e)) => Err(e),
        Some(Ok((a, from_query))) => verify(
            &sh,
            &parts.method,
            &bucket,
            &key,
            &query,
            &parts.headers,
            &a,
            from_query,
            bucket_level,
            !virtual_host,
        ),
    };
    if let Err(e) = verified {
        sh.reject(op.name(), &e.code, &e.message);
        drain(body).await;
        return ctx.error(&e);
    }

    let result = match op {
        Op::Cos(CosOperation::PutObject) => {
            put_object(&sh, &ctx, &bucket, &key, &parts.headers, body, wrong_crc).await
        }
        Op::Cos(CosOperation::UploadPart) => {
            upload_part(
                &sh,
                &ctx,
                &bucket,
                &key,
                &query,
                &parts.headers,
                body,
                wrong_crc,
            )
            .await
        }
        Op::Cos(CosOperation::InitiateMultipartUpload) => {
            initiate(&sh, &ctx, &bucket, &key, &parts.headers)
        }
        Op::Cos(CosOperation::CompleteMultipartUpload) => {
            complete(
                &sh,
                &ctx,
                &bucket,
                &key,
                &query,
                &parts.headers,
                body,
                wrong_crc,
                complete_error_body,
            )
            .await
        }
        Op::Cos(CosOperation::ListParts) => list_parts(&sh, &ctx, &bucket, &key, &query),
        Op::Cos(CosOperation::AbortMultipartUpload) => abort(&sh, &ctx, &bucket, &key, &query),
        Op::Cos(CosOperation::HeadObject) => head_object(&sh, &ctx, &bucket, &key, wrong_crc),
        // `CosOperation` is non-exhaustive; the request routing above never produces another operation.
        Op::Cos(other) => Err(cerr(
            501,
            "NotImplemented",
            format!("{} is not implemented by the mock.", other.as_str()),
        )),
        Op::GetObject => get_object(&sh, &ctx, &bucket, &key).await,
        Op::ListMultipartUploads => list_uploads(&sh, &ctx, &bucket, &query),
    };
    // A HEAD answer has no body to cut short: a drop is answered as a 503 instead.
    if ctx.head && matches!(after, Some(Fault::DropAfterProcessing)) {
        after = Some(Fault::StatusAfterProcessing(503));
    }
    match after {
        Some(Fault::StatusAfterProcessing(s)) => {
            tracing::debug!(
                op = op.name(),
                status = s,
                ok = result.is_ok(),
                "mock COS: processed, answering an error status"
            );
            return ctx.error(&cerr(
                s,
                status_code_name(s),
                "Injected fault after processing.",
            ));
        }
        Some(_) => {
            tracing::debug!(
                op = op.name(),
                ok = result.is_ok(),
                "mock COS: processed, dropping the connection"
            );
            return dropped_connection();
        }
        None => {}
    }
    match result {
        Ok(mut r) => {
            if omit_crc {
                r.headers_mut().remove("x-cos-hash-crc64ecma");
            }
            r
        }
        Err(e) => {
            tracing::debug!(code = %e.code, "mock COS error");
            ctx.error(&e)
        }
    }
}

async fn drain(body: Body) {
    let mut s = body.into_data_stream();
    while let Some(Ok(_)) = s.next().await {}
}

async fn read_some(body: Body, limit: u64) {
    let mut s = body.into_data_stream();
    let mut n = 0u64;
    while let Some(Ok(c)) = s.next().await {
        n += c.len() as u64;
        if n >= limit {
            break;
        }
    }
}

type Auth = Result<(verify::cos::ParsedAuthorization, bool), CosErr>;

fn extract_auth(headers: &HeaderMap, query: &[(String, String)]) -> Option<Auth> {
    let malformed = || {
        cerr(
            403,
            "AccessDenied",
            "The Authorization is malformed (expected q-sign-algorithm=sha1&q-ak=…).",
        )
    };
    if let Some(a) = header_str(headers, "authorization") {
        return Some(
            verify::cos::parse_authorization(a.trim())
                .map(|p| (p, false))
                .ok_or_else(malformed),
        );
    }
    if query.iter().any(|(k, _)| k == "q-sign-algorithm") {
        let joined = query
            .iter()
            .filter(|(k, _)| k.starts_with("q-"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        return Some(
            verify::cos::parse_authorization(&joined)
                .map(|p| (p, true))
                .ok_or_else(malformed),
        );
    }
    None
}

struct Secret {
    key: String,
    token: Option<String>,
    temp: Option<(i64, bool, String, Scope)>,
}

#[allow(clippy::too_many_arguments)]
fn verify(
    sh: &Shared,
    method: &Method,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    auth: &verify::cos::ParsedAuthorization,
    from_query: bool,
    bucket_level: bool,
    path_style: bool,
) -> Result<(), CosErr> {
    let now = sh.now_unix();
    let secret = {
        let inner = sh.lock();
        match inner.temp_creds.get(&auth.secret_id) {
            Some(t) => Some(Secret {
                key: t.secret_key.clone(),
                token: Some(t.token.clone()),
                temp: Some((
                    t.expired_time,
                    t.expired_early,
                    t.bucket.clone(),
                    t.scope.clone(),
                )),
            }),
            None => sh
                .cfg
                .credentials
                .iter()
                .find(|c| c.secret_id() == auth.secret_id)
                .map(|c| Secret {
                    key: c.secret_key().to_string(),
                    token: c.token().map(str::to_string),
                    temp: None,
                }),
        }
    };
    let Some(secret) = secret else {
        return Err(cerr(
            403,
            "InvalidAccessKeyId",
            "The access key Id format you provided is invalid or the SecretId does not exist.",
        ));
    };
    let sent_token = header_str(headers, "x-cos-security-token").or_else(|| {
        query
            .iter()
            .find(|(k, _)| k == "x-cos-security-token")
            .map(|(_, v)| v.clone())
    });
    if let Some(expected) = &secret.token {
        match &sent_token {
            None => {
                return Err(cerr(
                    403,
                    "InvalidSecurity",
                    "The x-cos-security-token is required with temporary credentials.",
                ));
            }
            Some(t) if !constant_time_eq(t.as_bytes(), expected.as_bytes()) => {
                return Err(cerr(
                    403,
                    "InvalidSecurity",
                    "The provided x-cos-security-token does not match the credentials.",
                ));
            }
            Some(_) => {}
        }
    }
    if let Some((expired_time, early, _, _)) = &secret.temp
        && (*early || now >= *expired_time)
    {
        return Err(cerr(400, "ExpiredToken", "The provided token has expired."));
    }
    let (start, end) = auth.key_time;
    let (sstart, send) = auth.sign_time;
    if now > end.min(send) {
        return Err(cerr(403, "AccessDenied", "Request has expired"));
    }
    if start.max(sstart) > now + MAX_SKEW_SECS {
        return Err(cerr(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        ));
    }
    // Headers.
    if !auth.header_list.iter().any(|h| h == "host") {
        return Err(cerr(
            403,
            "SignatureDoesNotMatch",
            "The host header must be signed (q-header-list lacks host).",
        ));
    }
    let mut header_values = Vec::with_capacity(auth.header_list.len());
    for name in &auth.header_list {
        let decoded = decode(name).unwrap_or_else(|| name.clone());
        // A request with neither Content-Length nor Transfer-Encoding has an empty body (RFC 9112 §6.3): clients
        // (hyper/reqwest) omit `Content-Length: 0` on empty POSTs, so a signed content-length means "0" then.
        let implied = (decoded == "content-length" && !headers.contains_key("transfer-encoding"))
            .then(|| "0".to_string());
        let v = header_str(headers, &decoded).or(implied).ok_or_else(|| {
            cerr(
                403,
                "SignatureDoesNotMatch",
                format!("The signed header `{decoded}` is not in the request."),
            )
        })?;
        header_values.push((decoded, v));
    }
    // Parameters: every one (but the presigning q-* ones) must be signed.
    let params: Vec<(&str, &str)> = query
        .iter()
        .filter(|(k, _)| !(from_query && (k.starts_with("q-"))))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (k, _) in &params {
        let enc = cossign::url_encode(k).to_ascii_lowercase();
        if !auth.url_param_list.contains(&enc) {
            return Err(cerr(
                403,
                "SignatureDoesNotMatch",
                format!("The query parameter `{k}` is not signed (q-url-param-list)."),
            ));
        }
    }
    if auth.url_param_list.len() != params.len() {
        return Err(cerr(
            403,
            "SignatureDoesNotMatch",
            "q-url-param-list names parameters that are not in the request.",
        ));
    }
    let sign_time_ok = auth.sign_time == auth.key_time;
    let matched = sign_time_ok
        && signing_variants(&bucket_key_path(bucket, key, path_style), &header_values)
            .iter()
            .any(|(path, headers)| {
                let hv: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let expected = cossign::sign(
                    &auth.secret_id,
                    &secret.key,
                    &cossign::CosRequest {
                        method: method.as_str(),
                        path,
                        query: &params,
                        headers: &hv,
                        key_time: auth.key_time,
                    },
                );
                constant_time_eq(expected.signature.as_bytes(), auth.signature.as_bytes())
            });
    if !matched {
        return Err(cerr(
            403,
            "SignatureDoesNotMatch",
            "The Signature you specified does not match what we calculated.",
        ));
    }
    // Scope of temporary credentials.
    if let Some((_, _, cred_bucket, scope)) = &secret.temp {
        let allowed = cred_bucket == bucket
            && match scope {
                Scope::Bucket => true,
                // Listing the bucket's multipart uploads (COS SDKs do it to resume) is allowed.
                Scope::Keys { .. } if bucket_level => true,
                Scope::Keys { exact, prefix } => {
                    exact.iter().any(|k| k == key)
                        || prefix.as_ref().is_some_and(|p| key.starts_with(p.as_str()))
                }
            };
        if !allowed {
            return Err(cerr(
                403,
                "AccessDenied",
                "Access Denied: these temporary credentials do not grant access to this object.",
            ));
        }
    }
    Ok(())
}

/// The paths a request for `key` may have been signed over: `/{key}` always; with path-style addressing also the
/// URL path `/{bucket}/{key}` (the Go SDK signs `req.URL.Path`).
fn bucket_key_path(bucket: &str, key: &str, path_style: bool) -> Vec<String> {
    let mut v = vec![format!("/{key}")];
    if path_style {
        v.push(format!("/{bucket}/{key}"));
    }
    v
}

/// The (path, signed headers) combinations the official COS SDKs produce for one request: every path of
/// [`bucket_key_path`], with the `host` value as sent and — when it carries a port — without the port (the Python
/// SDK signs `urlparse(url).hostname`, which drops it).
fn signing_variants(
    paths: &[String],
    headers: &[(String, String)],
) -> Vec<(String, Vec<(String, String)>)> {
    let mut header_sets = vec![headers.to_vec()];
    let host = headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v);
    if let Some(h) = host
        && let Some((name, port)) = h.rsplit_once(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && ((name.starts_with('[') && name.ends_with(']')) || !name.contains(':'))
    {
        let bare = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        header_sets.push(
            headers
                .iter()
                .map(|(k, v)| {
                    if k == "host" {
                        (k.clone(), bare.clone())
                    } else {
                        (k.clone(), v.clone())
                    }
                })
                .collect(),
        );
    }
    paths
        .iter()
        .flat_map(|p| header_sets.iter().map(move |h| (p.clone(), h.clone())))
        .collect()
}

fn is_manifest_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.ends_with(".m3u8") || k.ends_with(".mpd")
}

struct Received {
    path: Option<PathBuf>,
    size: u64,
    md5: Option<[u8; 16]>,
    sha256: String,
    crc64: u64,
}

fn content_length(headers: &HeaderMap) -> Result<u64, CosErr> {
    header_str(headers, "content-length")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            cerr(
                411,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            )
        })
}

fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, CosErr> {
    let Some(v) = header_str(headers, "content-md5") else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or_else(|| {
            cerr(
                400,
                "InvalidDigest",
                "The Content-MD5 you specified is not valid.",
            )
        })?;
    Ok(Some(bytes))
}

/// Streams a body to a temp file (when `store`), hashing it on the way.
async fn receive(sh: &Shared, body: Body, store: bool, want_md5: bool) -> Result<Received, CosErr> {
    let full = !sh.cfg.bench;
    let mut crc = crc64fast::Digest::new();
    let mut md5 = (want_md5 || full).then(md5::Md5::new);
    let mut sha = full.then(sha2::Sha256::new);
    let tmp = sh.tmp_path();
    let io_err = |e: std::io::Error| cerr(500, "InternalError", format!("mock storage error: {e}"));
    let mut file = if store {
        let f = tokio::fs::File::create(&tmp).await.map_err(io_err)?;
        Some(tokio::io::BufWriter::with_capacity(1 << 20, f))
    } else {
        None
    };
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    let result: Result<(), CosErr> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                cerr(
                    400,
                    "RequestTimeOut",
                    format!("The request body could not be read completely: {e}"),
                )
            })?;
            sh.bytes_received
                .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            crc.write(&chunk);
            if let Some(m) = md5.as_mut() {
                m.update(&chunk);
            }
            if let Some(s) = sha.as_mut() {
                s.update(&chunk);
            }
            if let Some(f) = file.as_mut() {
                f.write_all(&chunk).await.map_err(io_err)?;
            }
            size += chunk.len() as u64;
        }
        if let Some(f) = file.as_mut() {
            f.flush().await.map_err(io_err)?;
        }
        Ok(())
    }
    .await;
    drop(file);
    if let Err(e) = result {
        if store {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        return Err(e);
    }
    Ok(Received {
        path: store.then_some(tmp),
        size,
        md5: md5.map(|m| m.finalize().into()),
        sha256: sha.map(|s| hex::encode(s.finalize())).unwrap_or_default(),
        crc64: crc.sum64(),
    })
}

fn etag_of(r: &Received) -> String {
    match &r.md5 {
        Some(m) => format!("\"{}\"", hex::encode(m)),
        None => format!("\"{:016x}{:016x}\"", r.crc64, r.size),
    }
}

async fn discard(r: &Received) {
    if let Some(p) = &r.path {
        let _ = tokio::fs::remove_file(p).await;
    }
}

/// Checks length and Content-MD5 of a received body.
async fn check_received(
    r: &Received,
    expected_len: u64,
    md5: Option<[u8; 16]>,
) -> Result<(), CosErr> {
    if r.size != expected_len {
        discard(r).await;
        return Err(cerr(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    if let Some(want) = md5
        && r.md5 != Some(want)
    {
        discard(r).await;
        return Err(cerr(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(())
}

fn crc_header(crc: u64, wrong: bool) -> String {
    if wrong {
        crc.wrapping_add(1).to_string()
    } else {
        crc.to_string()
    }
}

async fn put_object(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: Body,
    wrong_crc: bool,
) -> Result<Response, CosErr> {
    let len = content_length(headers)?;
    let md5 = content_md5(headers)?;
    if header_str(headers, "x-cos-forbid-overwrite").is_some_and(|v| v == "true")
        && sh.object(bucket, key).is_some()
    {
        return Err(cerr(409, "FileAlreadyExists", "The object already exists."));
    }
    let received = {
        let _guard = sh.begin_upload();
        let store = !sh.cfg.bench || is_manifest_key(key);
        receive(sh, body, store, md5.is_some()).await?
    };
    check_received(&received, len, md5).await?;
    let etag = etag_of(&received);
    let path = match &received.path {
        Some(tmp) => {
            let dest = sh.object_path();
            tokio::fs::rename(tmp, &dest)
                .await
                .map_err(|e| cerr(500, "InternalError", format!("mock storage error: {e}")))?;
            Some(dest)
        }
        None => None,
    };
    sh.put_object(
        bucket,
        key,
        ObjectMeta {
            path,
            size: received.size,
            sha256: received.sha256.clone(),
            crc64: received.crc64,
            etag: etag.clone(),
            content_type: header_str(headers, "content-type")
                .unwrap_or_else(|| "application/octet-stream".into()),
            last_modified: sh.now(),
        },
    );
    Ok(write_ok(ctx, etag, received.crc64, wrong_crc))
}

/// The 200 answer to a PUT Object / Upload Part: `ETag` and `x-cos-hash-crc64ecma` (deliberately off by one
/// under the `WrongCrc` fault).
fn write_ok(ctx: &Ctx, etag: String, crc64: u64, wrong_crc: bool) -> Response {
    ctx.base(StatusCode::OK)
        .header(header::ETAG, etag)
        .header("x-cos-hash-crc64ecma", crc_header(crc64, wrong_crc))
        .body(Body::empty())
        .unwrap_or_default()
}

fn find_upload<'a>(
    inner: &'a mut crate::state::Inner,
    query: &[(String, String)],
    bucket: &str,
    key: &str,
) -> Result<(String, &'a mut Upload), CosErr> {
    let id = query
        .iter()
        .find(|(k, _)| k == "uploadId")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match inner.uploads.get_mut(&id) {
        Some(u) if u.bucket == bucket && u.key == key => Ok((id, u)),
        _ => Err(cerr(
            404,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn upload_part(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: Body,
    wrong_crc: bool,
) -> Result<Response, CosErr> {
    let n: u32 = query
        .iter()
        .find(|(k, _)| k == "partNumber")
        .and_then(|(_, v)| v.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            cerr(
                400,
                "InvalidArgument",
                "partNumber must be an integer between 1 and 10000.",
            )
        })?;
    find_upload(&mut sh.lock(), query, bucket, key)?;
    let len = content_length(headers)?;
    let md5 = content_md5(headers)?;
    let received = {
        let _guard = sh.begin_upload();
        let store = !sh.cfg.bench || is_manifest_key(key);
        receive(sh, body, store, md5.is_some()).await?
    };
    check_received(&received, len, md5).await?;
    let etag = etag_of(&received);
    let inserted = {
        let mut inner = sh.lock();
        find_upload(&mut inner, query, bucket, key).map(|(_, u)| {
            u.parts.insert(
                n,
                PartMeta {
                    size: received.size,
                    etag: etag.clone(),
                    crc64: received.crc64,
                    path: received.path.clone(),
                    last_modified: sh.now(),
                },
            )
        })
    };
    let old = match inserted {
        Ok(old) => old,
        Err(e) => {
            discard(&received).await;
            return Err(e);
        }
    };
    if let Some(p) = old.and_then(|o| o.path) {
        let _ = tokio::fs::remove_file(p).await;
    }
    Ok(write_ok(ctx, etag, received.crc64, wrong_crc))
}

fn initiate(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response, CosErr> {
    let mut inner = sh.lock();
    let id = format!("{}{}", sh.now_unix(), random_hex(&mut inner.rng, 40));
    inner.uploads.insert(
        id.clone(),
        Upload {
            bucket: bucket.to_string(),
            key: key.to_string(),
            parts: Default::default(),
            content_type: header_str(headers, "content-type")
                .unwrap_or_else(|| "application/octet-stream".into()),
            initiated: sh.now(),
        },
    );
    drop(inner);
    Ok(ctx.xml(
        StatusCode::OK,
        format!(
            "<?xml version='1.0' encoding='utf-8' ?>\n<InitiateMultipartUploadResult>\n\t<Bucket>{}</Bucket>\n\t\
             <Key>{}</Key>\n\t<UploadId>{}</UploadId>\n</InitiateMultipartUploadResult>",
            xml_escape(bucket),
            xml_escape(key),
            xml_escape(&id)
        ),
    ))
}

#[derive(serde::Deserialize)]
struct CompleteXml {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletePart>,
}

#[derive(serde::Deserialize)]
struct CompletePart {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

fn norm_etag(s: &str) -> String {
    s.trim().trim_matches('"').to_ascii_lowercase()
}

#[allow(clippy::too_many_arguments)]
async fn complete(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: Body,
    wrong_crc: bool,
    error_body: bool,
) -> Result<Response, CosErr> {
    find_upload(&mut sh.lock(), query, bucket, key)?;
    let md5 = content_md5(headers)?;
    let xml = axum::body::to_bytes(body, MAX_XML).await.map_err(|_| {
        cerr(
            400,
            "MalformedXML",
            "The XML body is too large or incomplete.",
        )
    })?;
    if let Some(want) = md5
        && <[u8; 16]>::from(md5::Md5::digest(&xml)) != want
    {
        return Err(cerr(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    let text = std::str::from_utf8(&xml)
        .map_err(|_| cerr(400, "MalformedXML", "The XML body is not UTF-8."))?;
    let parsed: CompleteXml = quick_xml::de::from_str(text).map_err(|e| {
        cerr(
            400,
            "MalformedXML",
            format!("The XML you provided was not well-formed or did not validate: {e}"),
        )
    })?;
    if parsed.parts.is_empty() {
        return Err(cerr(
            400,
            "MalformedXML",
            "The XML you provided lists no Part.",
        ));
    }
    if parsed.parts.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(cerr(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order.",
        ));
    }
    let (upload_id, chosen, content_type) = {
        let mut inner = sh.lock();
        let (id, u) = find_upload(&mut inner, query, bucket, key)?;
        let mut chosen = Vec::with_capacity(parsed.parts.len());
        for p in &parsed.parts {
            match u.parts.get(&p.number) {
                Some(m) if norm_etag(&m.etag) == norm_etag(&p.etag) => {
                    chosen.push((p.number, m.clone()))
                }
                _ => {
                    return Err(cerr(
                        400,
                        "InvalidPart",
                        format!(
                            "Part {} could not be found or its ETag does not match.",
                            p.number
                        ),
                    ));
                }
            }
        }
        (id, chosen, u.content_type.clone())
    };
    let last = chosen.len() - 1;
    for (i, (n, m)) in chosen.iter().enumerate() {
        if i != last && m.size < sh.cfg.min_part_size {
            return Err(cerr(
                400,
                "EntityTooSmall",
                format!(
                    "Part {n} is {} bytes; every part but the last must be at least {} bytes.",
                    m.size, sh.cfg.min_part_size
                ),
            ));
        }
    }
    if error_body {
        let e = cerr(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        );
        let trace = ctx.request_id.clone();
        let body = format!(
            "\n  \n \n{}",
            error_xml(&e, &ctx.resource, &ctx.request_id, &trace)
        );
        return Ok(ctx.xml(StatusCode::OK, body));
    }
    // ETag: md5 of the concatenated binary part MD5s, "-N".
    let mut md = md5::Md5::new();
    for (_, m) in &chosen {
        let raw = hex::decode(norm_etag(&m.etag)).unwrap_or_default();
        md.update(&raw);
    }
    let etag = format!("\"{}-{}\"", hex::encode(md.finalize()), chosen.len());
    let mut crc = 0u64;
    let mut size = 0u64;
    for (_, m) in &chosen {
        crc = crc64_combine(crc, m.crc64, m.size);
        size += m.size;
    }
    let files: Option<Vec<PathBuf>> = chosen.iter().map(|(_, m)| m.path.clone()).collect();
    let (path, sha256) = match files {
        Some(files) if !files.is_empty() => {
            let dest = sh.object_path();
            let want_sha = !sh.cfg.bench;
            let d = dest.clone();
            let sha = tokio::task::spawn_blocking(move || concat_files(&files, &d, want_sha))
                .await
                .map_err(|e| cerr(500, "InternalError", format!("mock storage error: {e}")))?
                .map_err(|e| cerr(500, "InternalError", format!("mock storage error: {e}")))?;
            (Some(dest), sha)
        }
        _ => (None, String::new()),
    };
    let removed = sh.lock().uploads.remove(&upload_id);
    let Some(upload) = removed else {
        if let Some(p) = path {
            let _ = tokio::fs::remove_file(p).await;
        }
        return Err(cerr(
            404,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        ));
    };
    for m in upload.parts.values() {
        if let Some(p) = &m.path {
            let _ = tokio::fs::remove_file(p).await;
        }
    }
    sh.put_object(
        bucket,
        key,
        ObjectMeta {
            path,
            size,
            sha256,
            crc64: crc,
            etag: etag.clone(),
            content_type,
            last_modified: sh.now(),
        },
    );
    let body = format!(
        "<?xml version='1.0' encoding='utf-8' ?>\n<CompleteMultipartUploadResult>\n\t<Location>{}</Location>\n\t\
         <Bucket>{}</Bucket>\n\t<Key>{}</Key>\n\t<ETag>{}</ETag>\n</CompleteMultipartUploadResult>",
        xml_escape(&format!(
            "{bucket}.cos.{}.myqcloud.com/{key}",
            sh.cfg.region
        )),
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(&etag)
    );
    let mut resp = ctx.xml(StatusCode::OK, body);
    if let Ok(v) = HeaderValue::from_str(&crc_header(crc, wrong_crc)) {
        resp.headers_mut().insert("x-cos-hash-crc64ecma", v);
    }
    Ok(resp)
}

fn concat_files(
    files: &[PathBuf],
    dest: &std::path::Path,
    want_sha: bool,
) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dest)?);
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        let mut input = std::fs::File::open(f)?;
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if want_sha {
                sha.update(&buf[..n]);
            }
            out.write_all(&buf[..n])?;
        }
    }
    out.flush()?;
    Ok(if want_sha {
        hex::encode(sha.finalize())
    } else {
        String::new()
    })
}

fn list_parts(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
) -> Result<Response, CosErr> {
    let get = |name: &str| crate::param(query, name);
    let max_parts: usize = match get("max-parts") {
        None => 1000,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(1000))
            .ok_or_else(|| {
                cerr(
                    400,
                    "InvalidArgument",
                    "max-parts must be a positive integer.",
                )
            })?,
    };
    let marker: u32 = match get("part-number-marker") {
        None | Some("") => 0,
        Some(v) => v.parse().map_err(|_| {
            cerr(
                400,
                "InvalidArgument",
                "part-number-marker must be an integer.",
            )
        })?,
    };
    let url_encoding = match get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(cerr(400, "InvalidArgument", "encoding-type must be url."));
        }
    };
    let mut inner = sh.lock();
    let (id, u) = find_upload(&mut inner, query, bucket, key)?;
    let listed: Vec<(u32, PartMeta)> = u
        .parts
        .range(marker.saturating_add(1)..)
        .take(max_parts + 1)
        .map(|(n, m)| (*n, m.clone()))
        .collect();
    let initiated = u.initiated;
    drop(inner);
    let truncated = listed.len() > max_parts;
    let listed = &listed[..listed.len().min(max_parts)];
    let next = listed.last().map_or(marker, |(n, _)| *n);
    let shown_key = if url_encoding {
        cossign::url_encode(key)
    } else {
        key.to_string()
    };
    let owner = format!("qcs::cam::uin/{0}:uin/{0}", sh.cfg.app_id);
    let mut body = String::with_capacity(512 + listed.len() * 200);
    body.push_str("<?xml version='1.0' encoding='utf-8' ?>\n<ListPartsResult>\n");
    body.push_str(&format!("\t<Bucket>{}</Bucket>\n", xml_escape(bucket)));
    if url_encoding {
        body.push_str("\t<Encoding-type>url</Encoding-type>\n");
    }
    body.push_str(&format!("\t<Key>{}</Key>\n", xml_escape(&shown_key)));
    body.push_str(&format!("\t<UploadId>{}</UploadId>\n", xml_escape(&id)));
    body.push_str(&format!(
        "\t<Initiator>\n\t\t<ID>{0}</ID>\n\t\t<DisplayName>{1}</DisplayName>\n\t</Initiator>\n\
         \t<Owner>\n\t\t<ID>{0}</ID>\n\t\t<DisplayName>{1}</DisplayName>\n\t</Owner>\n",
        xml_escape(&owner),
        sh.cfg.app_id
    ));
    body.push_str("\t<StorageClass>STANDARD</StorageClass>\n");
    body.push_str(&format!(
        "\t<PartNumberMarker>{marker}</PartNumberMarker>\n"
    ));
    body.push_str(&format!(
        "\t<NextPartNumberMarker>{next}</NextPartNumberMarker>\n"
    ));
    body.push_str(&format!("\t<MaxParts>{max_parts}</MaxParts>\n"));
    body.push_str(&format!("\t<IsTruncated>{truncated}</IsTruncated>\n"));
    let _ = initiated;
    for (n, m) in listed {
        body.push_str(&format!(
            "\t<Part>\n\t\t<PartNumber>{n}</PartNumber>\n\t\t<LastModified>{}</LastModified>\n\t\t\
             <ETag>{}</ETag>\n\t\t<Size>{}</Size>\n\t</Part>\n",
            iso8601(m.last_modified),
            xml_escape(&m.etag),
            m.size
        ));
    }
    body.push_str("</ListPartsResult>");
    Ok(ctx.xml(StatusCode::OK, body))
}

fn list_uploads(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    query: &[(String, String)],
) -> Result<Response, CosErr> {
    let get = |name: &str| crate::param(query, name);
    let prefix = get("prefix").unwrap_or("");
    let key_marker = get("key-marker").unwrap_or("");
    let id_marker = get("upload-id-marker").unwrap_or("");
    let max: usize = match get("max-uploads") {
        None | Some("") => 1000,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(1000))
            .ok_or_else(|| {
                cerr(
                    400,
                    "InvalidArgument",
                    "max-uploads must be a positive integer.",
                )
            })?,
    };
    let url = match get("encoding-type") {
        None | Some("") => false,
        Some("url") => true,
        Some(_) => return Err(cerr(400, "InvalidArgument", "encoding-type must be url.")),
    };
    let enc = |s: &str| {
        if url {
            cossign::url_encode(s)
        } else {
            s.to_string()
        }
    };
    let mut uploads: Vec<(String, String, SystemTime)> = sh
        .lock()
        .uploads
        .iter()
        .filter(|(_, u)| u.bucket == bucket && u.key.starts_with(prefix))
        .map(|(id, u)| (u.key.clone(), id.clone(), u.initiated))
        .filter(|(k, id, _)| {
            key_marker.is_empty()
                || k.as_str() > key_marker
                || (k == key_marker && !id_marker.is_empty() && id.as_str() > id_marker)
        })
        .collect();
    uploads.sort();
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    let (next_key, next_id) = uploads
        .last()
        .map(|(k, id, _)| (k.clone(), id.clone()))
        .unwrap_or_default();
    let owner = format!("qcs::cam::uin/{0}:uin/{0}", sh.cfg.app_id);
    let mut body =
        String::from("<?xml version='1.0' encoding='utf-8' ?>\n<ListMultipartUploadsResult>\n");
    body.push_str(&format!("\t<Bucket>{}</Bucket>\n", xml_escape(bucket)));
    if url {
        body.push_str("\t<Encoding-Type>url</Encoding-Type>\n");
    }
    body.push_str(&format!(
        "\t<KeyMarker>{}</KeyMarker>\n\t<UploadIdMarker>{}</UploadIdMarker>\n\t<NextKeyMarker>{}</NextKeyMarker>\n\t\
         <NextUploadIdMarker>{}</NextUploadIdMarker>\n\t<MaxUploads>{max}</MaxUploads>\n\t<IsTruncated>{truncated}</IsTruncated>\n\t\
         <Prefix>{}</Prefix>\n",
        xml_escape(&enc(key_marker)),
        xml_escape(id_marker),
        xml_escape(&enc(&next_key)),
        xml_escape(&next_id),
        xml_escape(&enc(prefix)),
    ));
    for (k, id, initiated) in &uploads {
        body.push_str(&format!(
            "\t<Upload>\n\t\t<Key>{}</Key>\n\t\t<UploadId>{}</UploadId>\n\t\t<StorageClass>STANDARD</StorageClass>\n\t\t\
             <Initiator>\n\t\t\t<ID>{2}</ID>\n\t\t\t<DisplayName>{3}</DisplayName>\n\t\t</Initiator>\n\t\t\
             <Owner>\n\t\t\t<ID>{2}</ID>\n\t\t\t<DisplayName>{3}</DisplayName>\n\t\t</Owner>\n\t\t<Initiated>{4}</Initiated>\n\t</Upload>\n",
            xml_escape(&enc(k)),
            xml_escape(id),
            xml_escape(&owner),
            sh.cfg.app_id,
            iso8601(*initiated),
        ));
    }
    body.push_str("</ListMultipartUploadsResult>");
    Ok(ctx.xml(StatusCode::OK, body))
}

fn iso8601(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    dt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn abort(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
) -> Result<Response, CosErr> {
    let upload = {
        let mut inner = sh.lock();
        let (id, _) = find_upload(&mut inner, query, bucket, key)?;
        inner.uploads.remove(&id)
    };
    for m in upload.iter().flat_map(|u| u.parts.values()) {
        if let Some(p) = &m.path {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(ctx
        .base(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

fn head_object(
    sh: &Shared,
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    wrong_crc: bool,
) -> Result<Response, CosErr> {
    let m = sh
        .object_meta(bucket, key)
        .ok_or_else(|| cerr(404, "NoSuchKey", "The specified key does not exist."))?;
    Ok(ctx
        .base(StatusCode::OK)
        .header(header::CONTENT_LENGTH, m.size)
        .header(header::CONTENT_TYPE, m.content_type)
        .header(header::ETAG, m.etag)
        .header(
            header::LAST_MODIFIED,
            httpdate::fmt_http_date(m.last_modified),
        )
        .header("x-cos-hash-crc64ecma", crc_header(m.crc64, wrong_crc))
        .header("x-cos-storage-class", "STANDARD")
        .body(Body::empty())
        .unwrap_or_default())
}

async fn get_object(sh: &Shared, ctx: &Ctx, bucket: &str, key: &str) -> Result<Response, CosErr> {
    let m = sh
        .object_meta(bucket, key)
        .ok_or_else(|| cerr(404, "NoSuchKey", "The specified key does not exist."))?;
    let Some(path) = m.path else {
        return Err(cerr(
            501,
            "NotImplemented",
            "Object bodies are discarded in bench mode.",
        ));
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| cerr(500, "InternalError", format!("mock storage error: {e}")))?;
    Ok(ctx
        .base(StatusCode::OK)
        .header(header::CONTENT_LENGTH, m.size)
        .header(header::CONTENT_TYPE, m.content_type)
        .header(header::ETAG, m.etag)
        .header("x-cos-hash-crc64ecma", m.crc64.to_string())
        .body(Body::from_stream(
            tokio_util::io::ReaderStream::with_capacity(file, 1 << 16),
        ))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addressing() {
        let (b, k, v) = address("127.0.0.1:9000", "/b-125/dir/a%20b.mp4").unwrap();
        assert_eq!((b.as_str(), k.as_str(), v), ("b-125", "dir/a b.mp4", false));
        let (b, k, v) = address("b-125.cos.ap-guangzhou.myqcloud.com", "/x/%E8%A7%86.ts").unwrap();
        assert_eq!((b.as_str(), k.as_str(), v), ("b-125", "x/视.ts", true));
        assert!(address("127.0.0.1", "/nobucket/k").is_err());
    }

    #[test]
    fn query_keeps_valueless_keys() {
        assert_eq!(
            parse_query("uploads&x=a%2Bb+c"),
            vec![("uploads".into(), "".into()), ("x".into(), "a+b+c".into())]
        );
        assert_eq!(parse_query("uploads="), vec![("uploads".into(), "".into())]);
    }
}
