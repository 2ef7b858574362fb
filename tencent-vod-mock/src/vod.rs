//! The mock VOD API 3.0 endpoint.

use crate::CommitRecord;
use crate::api::{VodErr, envelope, err, get_str, get_u64, missing};
use crate::fault::{Fault, dropped_connection};
use crate::state::{Scope, Session, Shared, random_hex};
use crate::verify::{self, constant_time_eq};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tencent_vod::__private::manifest;
use tencent_vod::__private::{tc3, v1};

/// API 3.0 timestamps may be this far from the server clock.
const MAX_SKEW_SECS: i64 = 300;
/// Largest request body accepted.
const MAX_BODY: usize = 10 << 20;

/// Allowed `MediaType` values (protocol.md §2.1).
const MEDIA_TYPES: &[&str] = &[
    "WMV", "RM", "MOV", "MPEG", "MP4", "3GP", "FLV", "AVI", "RMVB", "TS", "ASF", "MPG", "WEBM",
    "MKV", "M3U8", "WM", "ASX", "RAM", "MPE", "VOB", "DAT", "MP4V", "M4V", "F4V", "MXF", "QT",
    "OGG", "MP3", "M4A", "FLAC", "WAV", "RA", "AAC", "AMR", "MPD",
];
/// Allowed `CoverType` values.
const COVER_TYPES: &[&str] = &[
    "JPG", "JPEG", "PNG", "GIF", "BMP", "TIFF", "AI", "CDR", "EPS",
];
/// v1 common parameters (not business parameters).
const V1_COMMON: &[&str] = &[
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Token",
    "Language",
    "RequestClient",
];

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

enum AuthMode {
    Tc3(String),
    V1,
}

pub(crate) async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let request_id = sh.vod_request_id();
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return envelope(
                &request_id,
                Err(err(
                    "RequestSizeLimitExceeded",
                    "The request body is too large or could not be read.",
                )),
            );
        }
    };
    let headers = &parts.headers;
    let content_type = header_str(headers, "content-type").unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    if mime == "application/x-www-form-urlencoded" && !body.is_empty() {
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mode = match header_str(headers, "authorization") {
        Some(a) if a.starts_with(tc3::ALGORITHM) => AuthMode::Tc3(a),
        _ if param("Signature").is_some() => AuthMode::V1,
        _ => {
            let action = header_str(headers, "x-tc-action")
                .or_else(|| param("Action"))
                .unwrap_or_else(|| "Unknown".into());
            sh.count(&action);
            let e = err(
                "AuthFailure.InvalidAuthorization",
                "Authorization is missing or is not TC3-HMAC-SHA256, and no v1 Signature parameter was given.",
            );
            sh.reject(&action, &e.code, &e.message);
            return envelope(&request_id, Err(e));
        }
    };
    let action = match &mode {
        AuthMode::Tc3(_) => header_str(headers, "x-tc-action"),
        AuthMode::V1 => param("Action"),
    };
    let Some(action) = action.filter(|a| !a.is_empty()) else {
        sh.count("Unknown");
        return envelope(&request_id, Err(missing("Action")));
    };
    sh.count(&action);
    tracing::debug!(action, "mock VOD request");

    // A fault that bites after the work: the request is processed, then its answer is lost.
    let mut after: Option<Fault> = None;
    if let Some(fault) = sh.vod_fault(&action) {
        tracing::debug!(action, ?fault, "mock VOD fault");
        match fault {
            f @ (Fault::DropAfterProcessing | Fault::StatusAfterProcessing(_)) => after = Some(f),
            Fault::Status(s) => {
                let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (status, "mock fault: injected HTTP status").into_response();
            }
            Fault::VodError(code) => {
                return envelope(&request_id, Err(err(&code, "Injected fault.")));
            }
            Fault::Throttle => {
                return envelope(
                    &request_id,
                    Err(err(
                        "RequestLimitExceeded",
                        "The number of requests exceeds the frequency limit.",
                    )),
                );
            }
            Fault::DropConnection => return dropped_connection(),
            Fault::Delay(d) => tokio::time::sleep(d).await,
            Fault::Hold(gate) => gate.wait().await,
            Fault::Redirect { status, location } => {
                return Fault::redirect_response(status, &location);
            }
            Fault::CosError { .. }
            | Fault::CompleteErrorBody
            | Fault::WrongCrc
            | Fault::OmitCrc
            | Fault::ExpireCredentials => {}
        }
    }

    let host = header_str(headers, "host").unwrap_or_default();
    let verified = match &mode {
        AuthMode::Tc3(auth) => verify_tc3(
            &sh,
            parts.method.as_str(),
            parts.uri.path(),
            &raw_query,
            headers,
            &body,
            auth,
        ),
        AuthMode::V1 => verify_v1(&sh, parts.method.as_str(), &host, parts.uri.path(), &params),
    };
    if let Err(e) = verified {
        sh.reject(&action, &e.code, &e.message);
        return envelope(&request_id, Err(e));
    }

    let version = match &mode {
        AuthMode::Tc3(_) => header_str(headers, "x-tc-version"),
        AuthMode::V1 => param("Version"),
    };
    match version.as_deref() {
        None | Some("") => return envelope(&request_id, Err(missing("Version"))),
        Some(tencent_vod::__private::VOD_API_VERSION) => {}
        Some(other) => {
            return envelope(
                &request_id,
                Err(err(
                    "NoSuchVersion",
                    format!("The API version `{other}` does not exist."),
                )),
            );
        }
    }

    let request: Value = match &mode {
        AuthMode::Tc3(_)
            if mime == "application/json" || (parts.method == "POST" && mime.is_empty()) =>
        {
            if body.is_empty() {
                Value::Object(Map::new())
            } else {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        return envelope(
                            &request_id,
                            Err(err(
                                "InvalidParameter",
                                "The request body is not a JSON object.",
                            )),
                        );
                    }
                }
            }
        }
        AuthMode::Tc3(_)
            if parts.method == "GET" || mime == "application/x-www-form-urlencoded" =>
        {
            unflatten(&params)
        }
        AuthMode::Tc3(_) => {
            return envelope(
                &request_id,
                Err(err(
                    "InvalidParameter",
                    format!(
                        "Content-Type `{content_type}` is not supported; use application/json."
                    ),
                )),
            );
        }
        AuthMode::V1 => {
            let business: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| !V1_COMMON.contains(&k.as_str()))
                .cloned()
                .collect();
            unflatten(&business)
        }
    };
    let req = request.as_object().cloned().unwrap_or_default();
    let result = match action.as_str() {
        "ApplyUpload" => {
            sh.lock().apply_requests.push(request.clone());
            apply_upload(&sh, &req)
        }
        "CommitUpload" => commit_upload(&sh, &req),
        "SearchMedia" => crate::media::search_media(&sh, &req),
        "DescribeMediaInfos" => crate::media::describe_media_infos(&sh, &req),
        "PullEvents" => crate::events::pull_events(&sh, &req).await,
        "ConfirmEvents" => crate::events::confirm_events(&sh, &req),
        "DescribeTasks" => crate::events::describe_tasks(&sh, &req),
        "DescribeTaskDetail" => match crate::appserver::describe_pull_task(&sh, &req) {
            Some(r) => r,
            None => crate::events::describe_task_detail(&sh, &req),
        },
        "PullUpload" => crate::appserver::pull_upload(&sh, &req),
        "ModifyEventConfig" => crate::appserver::modify_event_config(&sh, &req),
        "DescribeEventConfig" => crate::appserver::describe_event_config(&sh, &req),
        "ParseStreamingManifest" => parse_streaming_manifest(&req),
        other => Err(err(
            "InvalidAction",
            format!("The action `{other}` does not exist."),
        )),
    };
    if let Err(e) = &result {
        tracing::debug!(action, code = %e.code, "mock VOD error");
    }
    let answer = envelope(&request_id, result);
    match after {
        Some(Fault::StatusAfterProcessing(s)) => {
            tracing::debug!(
                action,
                status = s,
                "mock VOD: processed, answering an error status"
            );
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, "mock fault: injected HTTP status after processing").into_response()
        }
        Some(_) => {
            tracing::debug!(action, "mock VOD: processed, dropping the connection");
            dropped_connection()
        }
        None => answer,
    }
}

fn lookup_credential(sh: &Shared, secret_id: &str) -> Result<tencent_vod::Credential, VodErr> {
    sh.cfg
        .credentials
        .iter()
        .find(|c| c.secret_id() == secret_id)
        .cloned()
        .ok_or_else(|| {
            err(
                "AuthFailure.SecretIdNotFound",
                "The SecretId is not found, please ensure that your SecretId is correct.",
            )
        })
}

fn check_timestamp(sh: &Shared, ts: &str) -> Result<i64, VodErr> {
    let ts: i64 = ts.trim().parse().map_err(|_| {
        err(
            "InvalidParameter",
            "The timestamp must be an integer (unix seconds).",
        )
    })?;
    let now = sh.now_unix();
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(err(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp {ts} is more than {MAX_SKEW_SECS} s away from the server time {now}."
            ),
        ));
    }
    Ok(ts)
}

fn check_token(cred: &tencent_vod::Credential, sent: Option<&str>) -> Result<(), VodErr> {
    if let Some(expected) = cred.token() {
        let ok = sent.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes()));
        if !ok {
            return Err(err(
                "AuthFailure.TokenFailure",
                "The token is missing or invalid for this temporary credential.",
            ));
        }
    }
    Ok(())
}

fn verify_tc3(
    sh: &Shared,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    auth: &str,
) -> Result<(), VodErr> {
    let p = verify::tc3::parse_authorization(auth).ok_or_else(|| {
        err(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header is not a valid TC3-HMAC-SHA256 value.",
        )
    })?;
    let ts = header_str(headers, "x-tc-timestamp").ok_or_else(|| missing("X-TC-Timestamp"))?;
    let ts = check_timestamp(sh, &ts)?;
    let cred = lookup_credential(sh, &p.secret_id)?;
    if p.service != tencent_vod::__private::VOD_SERVICE {
        return Err(err(
            "AuthFailure.InvalidAuthorization",
            format!("The credential scope service `{}` is not `vod`.", p.service),
        ));
    }
    let date = tc3::utc_date(ts);
    if p.date != date {
        return Err(err(
            "AuthFailure.SignatureFailure",
            format!(
                "The credential scope date `{}` is not the UTC date of X-TC-Timestamp ({date}).",
                p.date
            ),
        ));
    }
    let names: Vec<String> = p
        .signed_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !names.iter().any(|h| h == "content-type") || !names.iter().any(|h| h == "host") {
        return Err(err(
            "AuthFailure.SignatureFailure",
            "SignedHeaders must include content-type and host.",
        ));
    }
    let mut values = Vec::with_capacity(names.len());
    for n in &names {
        let v = header_str(headers, n).ok_or_else(|| {
            err(
                "AuthFailure.SignatureFailure",
                format!("The signed header `{n}` is not in the request."),
            )
        })?;
        values.push(v);
    }
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(values.iter().map(String::as_str))
        .collect();
    let payload = if header_str(headers, "x-tc-content-sha256")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("UNSIGNED-PAYLOAD"))
    {
        tc3::Payload::Unsigned
    } else {
        tc3::Payload::Bytes(body)
    };
    let expected = tc3::sign(
        cred.secret_id(),
        cred.secret_key(),
        &tc3::Tc3Request {
            method,
            path,
            query,
            headers: &pairs,
            payload,
            service: tencent_vod::__private::VOD_SERVICE,
            timestamp: ts,
        },
    );
    if !constant_time_eq(expected.signature.as_bytes(), p.signature.as_bytes()) {
        return Err(err(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    check_token(&cred, header_str(headers, "x-tc-token").as_deref())
}

fn verify_v1(
    sh: &Shared,
    method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
) -> Result<(), VodErr> {
    let get = |name: &str| crate::param(params, name);
    let signature = get("Signature").ok_or_else(|| missing("Signature"))?;
    let secret_id = get("SecretId").ok_or_else(|| missing("SecretId"))?;
    let ts = get("Timestamp").ok_or_else(|| missing("Timestamp"))?;
    get("Nonce").ok_or_else(|| missing("Nonce"))?;
    check_timestamp(sh, ts)?;
    let alg = v1::Algorithm::from_param(get("SignatureMethod")).ok_or_else(|| {
        err(
            "InvalidParameterValue",
            "SignatureMethod must be HmacSHA1 or HmacSHA256.",
        )
    })?;
    let cred = lookup_credential(sh, secret_id)?;
    let sts = v1::string_to_sign(method, host, path, params);
    let expected = v1::signature(cred.secret_key(), alg, &sts);
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(err(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    check_token(&cred, get("Token"))
}

/// Rebuilds a JSON object from flattened v1 names (`Filters.0.Name`); leaf values stay strings.
pub(crate) fn unflatten(params: &[(String, String)]) -> Value {
    fn insert(map: &mut Map<String, Value>, path: &[&str], v: &str) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            map.insert((*first).to_string(), Value::String(v.to_string()));
            return;
        }
        let entry = map
            .entry((*first).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Some(m) = entry.as_object_mut() {
            insert(m, rest, v);
        }
    }
    fn arrayify(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let all_indices = !m.is_empty() && m.keys().all(|k| k.parse::<usize>().is_ok());
                if all_indices {
                    let mut items: Vec<(usize, Value)> = m
                        .into_iter()
                        .map(|(k, v)| (k.parse().unwrap_or(0), arrayify(v)))
                        .collect();
                    items.sort_by_key(|(i, _)| *i);
                    Value::Array(items.into_iter().map(|(_, v)| v).collect())
                } else {
                    Value::Object(m.into_iter().map(|(k, v)| (k, arrayify(v))).collect())
                }
            }
            other => other,
        }
    }
    let mut root = Map::new();
    for (k, v) in params {
        let path: Vec<&str> = k.split('.').collect();
        insert(&mut root, &path, v);
    }
    arrayify(Value::Object(root))
}

fn is_manifest(media_type: &str) -> bool {
    media_type.eq_ignore_ascii_case("m3u8") || media_type.eq_ignore_ascii_case("mpd")
}

fn valid_storage_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.ends_with('/')
        && p.len() <= 850
        && !p[1..]
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
}

fn apply_upload(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let media_type = get_str(req, "MediaType")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("MediaType"))?;
    if !MEDIA_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&media_type))
    {
        return Err(err(
            "InvalidParameterValue.MediaType",
            format!("MediaType `{media_type}` is not supported."),
        ));
    }
    let cover_type = get_str(req, "CoverType")?.filter(|s| !s.is_empty());
    if let Some(ct) = &cover_type
        && !COVER_TYPES.iter().any(|t| t.eq_ignore_ascii_case(ct))
    {
        return Err(err(
            "InvalidParameterValue.CoverType",
            format!("CoverType `{ct}` is not supported."),
        ));
    }
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    if sub_app_id == Some(0) {
        return Err(err(
            "InvalidParameterValue.SubAppId",
            "SubAppId must be a positive integer.",
        ));
    }
    let region = match get_str(req, "StorageRegion")?.filter(|s| !s.is_empty()) {
        Some(r) => {
            tencent_vod::__private::validate_region("StorageRegion", &r).map_err(|_| {
                err(
                    "InvalidParameterValue.StorageRegion",
                    format!("StorageRegion `{r}` is not a region."),
                )
            })?;
            r
        }
        None => sh.cfg.region.clone(),
    };
    let custom_path = get_str(req, "MediaStoragePath")?.filter(|s| !s.is_empty());
    if let Some(p) = &custom_path
        && !valid_storage_path(p)
    {
        return Err(err(
            "InvalidParameterValue.MediaStoragePath",
            "MediaStoragePath must start with `/`, not end with `/`, and have no empty, `.` or `..` segments.",
        ));
    }
    let expire_time = get_str(req, "ExpireTime")?.filter(|s| !s.is_empty());
    if let Some(t) = &expire_time
        && time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_err()
    {
        return Err(err(
            "InvalidParameterValue.ExpireTime",
            format!("ExpireTime `{t}` is not ISO 8601 (e.g. 2030-01-01T00:00:00Z)."),
        ));
    }
    let class_id = match get_str(req, "ClassId")? {
        Some(c) => c.trim().parse::<i64>().map_err(|_| {
            err(
                "InvalidParameterValue.ClassId",
                "ClassId must be an integer.",
            )
        })?,
        None => 0,
    };
    let source_context = get_str(req, "SourceContext")?.unwrap_or_default();
    let session_context = get_str(req, "SessionContext")?.unwrap_or_default();
    let media_name = get_str(req, "MediaName")?.filter(|s| !s.is_empty());
    if get_str(req, "SourceContext")?.is_some_and(|s| s.chars().count() > 250) {
        return Err(err(
            "InvalidParameterValue.SourceContext",
            "SourceContext is longer than 250 characters.",
        ));
    }
    if get_str(req, "SessionContext")?.is_some_and(|s| s.chars().count() > 1000) {
        return Err(err(
            "InvalidParameterValue.SessionContextTooLong",
            "SessionContext is longer than 1000 characters.",
        ));
    }
    let procedure = get_str(req, "Procedure")?.filter(|s| !s.is_empty());

    let media_type_lc = media_type.to_ascii_lowercase();
    let bucket = sh.bucket_for(&region);
    let mut guard = sh.lock();
    let inner = &mut *guard;
    inner.file_seq += 1;
    let file_id =
        (387_702_300_000_000_000u64 + inner.file_seq * 7 + inner.rng.u64(0..7)).to_string();
    let abbr: String = region
        .split('-')
        .nth(1)
        .unwrap_or("gz")
        .chars()
        .take(3)
        .collect();
    let d1 = format!(
        "{}vod{abbr}{}",
        random_hex(&mut inner.rng, 8),
        sh.cfg.app_id
    );
    let d2 = format!("{}{file_id}", random_hex(&mut inner.rng, 8));
    let media_path = custom_path.unwrap_or_else(|| format!("/{d1}/{d2}/f0.{media_type_lc}"));
    let dir = media_path
        .rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    let cover_path = cover_type
        .as_ref()
        .map(|ct| format!("{dir}/cover.{}", ct.to_ascii_lowercase()));
    let media_key = media_path[1..].to_string();
    let cover_key = cover_path.as_ref().map(|p| p[1..].to_string());
    let session_key = loop {
        use base64::Engine as _;
        let raw: Vec<u8> = (0..46).map(|_| inner.rng.u8(..)).collect();
        let mut k = base64::engine::general_purpose::STANDARD
            .encode(raw)
            .into_bytes();
        // Like the real key: it contains `/`, `+` and `=`.
        k[10] = b'/';
        k[20] = b'+';
        let k = String::from_utf8(k).unwrap_or_default();
        if !inner.sessions.contains_key(&k) {
            break k;
        }
    };
    let mut exact = vec![media_key.clone()];
    exact.extend(cover_key.clone());
    let prefix = is_manifest(&media_type_lc).then(|| {
        if dir.is_empty() {
            String::new()
        } else {
            format!("{}/", &dir[1..])
        }
    });
    let cert = sh.issue_temp(inner, &bucket, Scope::Keys { exact, prefix });
    inner.sessions.insert(
        session_key.clone(),
        Session {
            sub_app_id,
            bucket: bucket.clone(),
            region: region.clone(),
            media_key,
            cover_key,
            media_type: media_type_lc,
            procedure,
            committed: false,
            temp_secret_id: cert.secret_id.clone(),
            file_id,
            media_name,
            class_id,
            source_context,
            session_context,
            expire_time,
        },
    );
    Ok(json!({
        "StorageBucket": bucket,
        "StorageRegion": region,
        "VodSessionKey": session_key,
        "MediaStoragePath": media_path,
        "CoverStoragePath": cover_path,
        "TempCertificate": {
            "SecretId": cert.secret_id,
            "SecretKey": cert.secret_key,
            "Token": cert.token,
            "ExpiredTime": cert.expired_time,
        },
    }))
}

/// Resolves a segment reference relative to the directory of `manifest_key`; `None` for URLs/absolute paths or
/// paths escaping the root.
pub(crate) fn resolve_segment(manifest_key: &str, segment: &str) -> Option<String> {
    if segment.contains("://") || segment.starts_with('/') {
        return None;
    }
    let seg = segment.split(['?', '#']).next().unwrap_or_default();
    let mut parts: Vec<&str> = manifest_key.split('/').collect();
    parts.pop();
    for s in seg.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

fn commit_upload(sh: &Arc<Shared>, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let key = get_str(req, "VodSessionKey")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("VodSessionKey"))?;
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    let (bucket, media_key, cover_key, media_type) = {
        let inner = sh.lock();
        let s = inner.sessions.get(&key).ok_or_else(|| {
            err(
                "InvalidParameterValue.VodSessionKey",
                "VodSessionKey is invalid.",
            )
        })?;
        if s.committed {
            return recommit(sh, &inner.commits, &key);
        }
        if s.sub_app_id != sub_app_id {
            return Err(err(
                "InvalidParameterValue.SubAppId",
                "SubAppId does not match the one given to ApplyUpload.",
            ));
        }
        (
            s.bucket.clone(),
            s.media_key.clone(),
            s.cover_key.clone(),
            s.media_type.clone(),
        )
    };
    let not_found = |what: &str, k: &str| {
        err(
            "ResourceNotFound",
            format!(
                "The {what} `/{k}` has not been uploaded (complete the upload before CommitUpload)."
            ),
        )
    };
    let Some(media_obj) = sh.object(&bucket, &media_key) else {
        return Err(not_found("media", &media_key));
    };
    // MetaData.Size: the media plus, for HLS/DASH, every (nested) playlist and segment it references.
    let mut size = media_obj.size;
    let mut counted = std::collections::HashSet::new();
    counted.insert(media_key.clone());
    if let Some(ck) = &cover_key
        && sh.object(&bucket, ck).is_none()
    {
        return Err(not_found("cover", ck));
    }
    if is_manifest(&media_type) {
        let mut visited = std::collections::HashSet::new();
        let mut stack = vec![media_key.clone()];
        while let Some(mk) = stack.pop() {
            if !visited.insert(mk.clone()) {
                continue;
            }
            let Some(bytes) = sh.object_bytes(&bucket, &mk) else {
                return Err(not_found("manifest", &mk));
            };
            let text = String::from_utf8_lossy(&bytes);
            let segments = if mk.to_ascii_lowercase().ends_with(".mpd") {
                manifest::parse_mpd(&text)
            } else {
                manifest::parse_m3u8(&text)
            };
            for seg in segments {
                let Some(k) = resolve_segment(&mk, &seg) else {
                    continue;
                };
                let Some(obj) = sh.object(&bucket, &k) else {
                    return Err(not_found(
                        &format!("segment `{seg}` of manifest `/{mk}`, object"),
                        &k,
                    ));
                };
                if counted.insert(k.clone()) {
                    size += obj.size;
                }
                let lower = k.to_ascii_lowercase();
                if lower.ends_with(".m3u8") || lower.ends_with(".mpd") {
                    stack.push(k);
                }
            }
        }
    }
    let mut guard = sh.lock();
    let inner = &mut *guard;
    let task_hex = random_hex(&mut inner.rng, 32);
    let Some(s) = inner.sessions.get_mut(&key) else {
        return Err(err(
            "InvalidParameterValue.VodSessionKey",
            "VodSessionKey is invalid.",
        ));
    };
    if s.committed {
        return recommit(sh, &inner.commits, &key);
    }
    s.committed = true;
    let base = format!("http://{}.vod2.myqcloud.com", sh.cfg.app_id);
    let media_url = format!("{base}/{}", s.media_key);
    let cover_url = s.cover_key.as_ref().map(|k| format!("{base}/{k}"));
    let procedure_task_id = s
        .procedure
        .as_ref()
        .map(|_| format!("{}-procedurev2-{task_hex}t0", sh.cfg.app_id));
    let record = CommitRecord {
        vod_session_key: key.clone(),
        sub_app_id: s.sub_app_id,
        file_id: s.file_id.clone(),
        media_url: media_url.clone(),
        cover_url: cover_url.clone(),
        procedure: s.procedure.clone(),
        procedure_task_id,
    };
    let media_type = s.media_type.clone();
    let stem = s
        .media_key
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .rsplit_once('.')
        .map(|(stem, _)| stem.to_string())
        .unwrap_or_else(|| s.media_key.clone());
    let committed = crate::events::Committed {
        sub_app_id: s.sub_app_id,
        file_id: s.file_id.clone(),
        media_name: s.media_name.clone().unwrap_or(stem),
        media_type,
        media_url: media_url.clone(),
        cover_url: cover_url.clone().unwrap_or_default(),
        region: s.region.clone(),
        class_id: s.class_id,
        source_context: s.source_context.clone(),
        session_context: s.session_context.clone(),
        expire_time: s.expire_time.clone(),
        size,
        procedure: s.procedure.clone(),
        procedure_task_id: record.procedure_task_id.clone(),
    };
    let file_id = s.file_id.clone();
    inner.commits.push(record);
    drop(guard);
    sh.on_commit(committed);
    let mut resp = json!({"FileId": file_id, "MediaUrl": media_url});
    if let (Some(o), Some(c)) = (resp.as_object_mut(), cover_url) {
        o.insert("CoverUrl".into(), Value::String(c));
    }
    Ok(resp)
}

/// The answer to a `CommitUpload` of a session that is already committed ([`crate::Recommit`]).
fn recommit(sh: &Shared, commits: &[CommitRecord], key: &str) -> Result<Value, VodErr> {
    let done = commits.iter().find(|c| c.vod_session_key == key);
    match (sh.cfg.recommit, done) {
        (crate::Recommit::SameFileId, Some(c)) => {
            let mut resp = json!({"FileId": c.file_id, "MediaUrl": c.media_url});
            if let (Some(o), Some(u)) = (resp.as_object_mut(), &c.cover_url) {
                o.insert("CoverUrl".into(), Value::String(u.clone()));
            }
            Ok(resp)
        }
        _ => Err(err(
            "InvalidParameterValue.VodSessionKey",
            "VodSessionKey has already been committed.",
        )),
    }
}

fn parse_streaming_manifest(req: &Map<String, Value>) -> Result<Value, VodErr> {
    let content = get_str(req, "MediaManifestContent")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("MediaManifestContent"))?;
    let kind = get_str(req, "ManifestType")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "m3u8".into())
        .to_ascii_lowercase();
    let set = match kind.as_str() {
        "m3u8" => manifest::parse_m3u8(&content),
        "mpd" => manifest::parse_mpd(&content),
        other => {
            return Err(err(
                "InvalidParameterValue.ManifestType",
                format!("ManifestType `{other}` is not supported; use m3u8 or mpd."),
            ));
        }
    };
    Ok(json!({ "MediaSegmentSet": set }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unflattens_v1_names() {
        let p = vec![
            ("Filters.0.Name".to_string(), "a".to_string()),
            ("Filters.1.Name".to_string(), "b".to_string()),
            ("Filters.0.Values.0".to_string(), "x".to_string()),
            ("MediaType".to_string(), "mp4".to_string()),
        ];
        assert_eq!(
            unflatten(&p),
            json!({"Filters": [{"Name": "a", "Values": ["x"]}, {"Name": "b"}], "MediaType": "mp4"})
        );
    }

    #[test]
    fn resolves_segments() {
        assert_eq!(
            resolve_segment("a/b/f.m3u8", "s/1.ts").as_deref(),
            Some("a/b/s/1.ts")
        );
        assert_eq!(
            resolve_segment("a/b/f.m3u8", "../x.ts").as_deref(),
            Some("a/x.ts")
        );
        assert_eq!(
            resolve_segment("a/b/f.m3u8", "1.ts?x=1").as_deref(),
            Some("a/b/1.ts")
        );
        assert_eq!(resolve_segment("f.m3u8", "../x.ts"), None);
        assert_eq!(resolve_segment("a/f.m3u8", "http://h/x.ts"), None);
    }
}
