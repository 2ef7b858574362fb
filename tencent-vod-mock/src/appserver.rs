//! The app-server side of the mock: `ModifyEventConfig` / `DescribeEventConfig` (mode, notification URL, event
//! switches, callback key — normal callbacks are then signed with `Sign` = MD5(key + `T`), `T` = now + 10 min),
//! and `PullUpload` (the mock fetches the URL itself, loopback hosts only, and reports the task through
//! `DescribeTaskDetail` and a `PullComplete` event).
//!
//! Pull outcomes follow the source: an unreachable host, an HTTP error status, a redirect (never followed) or a
//! source that stops answering for longer than the pull timeout ([`MockServer::set_pull_timeout`], default 30 s)
//! finish the task with `ErrCode` 60000 and a message saying which; a `MediaUrl` or `CoverUrl` that is not on a
//! loopback host is refused up front with `InvalidParameterValue.MediaUrl` / `.CoverUrl`.

use crate::MockServer;
use crate::api::{VodErr, err, get_str, get_u64, iso8601, missing};
use crate::state::{
    EventSettings, Inner, ObjectMeta, PullTask, Shared, TaskRecord, TaskRow, random_hex,
};
use futures::StreamExt as _;
use md5::Digest as _;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tencent_vod::events::TaskStatus;
use tokio::io::AsyncWriteExt as _;

/// How long a signed callback stays valid (`T` = send time + this), like VOD's default.
pub const CALLBACK_SIGN_VALIDITY: Duration = Duration::from_secs(600);
/// Default time a pull waits for the source (connect, and between bytes).
pub const DEFAULT_PULL_TIMEOUT: Duration = Duration::from_secs(30);

/// A pull task, as [`MockServer::pull_tasks`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockPullTask {
    /// Task id (`{appid}-Pull-{hex}`).
    pub task_id: String,
    /// `SubAppId` of the request.
    pub sub_app_id: Option<u64>,
    /// `WAITING`, `PROCESSING` or `FINISH`.
    pub status: TaskStatus,
    /// 0, or 60000 when the source could not be fetched.
    pub err_code: i64,
    /// `SUCCESS` or what went wrong.
    pub message: String,
    /// FileId of the media created (`""` on failure).
    pub file_id: String,
    /// Bytes stored.
    pub size: u64,
}

fn default_settings(sh: &Shared) -> EventSettings {
    let url = sh
        .cfg
        .callback
        .as_ref()
        .map(|(u, _)| u.clone())
        .unwrap_or_default();
    EventSettings {
        mode: if url.is_empty() { "PULL" } else { "PUSH" }.into(),
        notification_url: url,
        upload_switch: true,
        delete_switch: true,
        persistence_switch: false,
        sign_key: None,
    }
}

fn settings_of(sh: &Shared, inner: &Inner, sub_app_id: Option<u64>) -> EventSettings {
    inner
        .app
        .settings
        .get(&sub_app_id)
        .cloned()
        .unwrap_or_else(|| default_settings(sh))
}

fn on_off(v: bool) -> &'static str {
    if v { "ON" } else { "OFF" }
}

fn parse_switch(req: &Map<String, Value>, name: &str) -> Result<Option<bool>, VodErr> {
    match get_str(req, name)?.as_deref() {
        None => Ok(None),
        Some("ON") => Ok(Some(true)),
        Some("OFF") => Ok(Some(false)),
        Some(other) => Err(err(
            &format!("InvalidParameterValue.{name}"),
            format!("{name} `{other}` is not ON or OFF."),
        )),
    }
}

/// `ModifyEventConfig`.
pub(crate) fn modify_event_config(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    let mode = get_str(req, "Mode")?;
    if let Some(m) = &mode
        && m != "PUSH"
        && m != "PULL"
    {
        return Err(err(
            "InvalidParameterValue.Mode",
            format!("Mode `{m}` is not PUSH or PULL."),
        ));
    }
    let url = get_str(req, "NotificationUrl")?;
    if let Some(u) = url.as_deref().filter(|u| !u.is_empty()) {
        let ok = url::Url::parse(u)
            .ok()
            .is_some_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
        if !ok {
            return Err(err(
                "InvalidParameterValue.NotificationUrl",
                "NotificationUrl is not an http or https URL.",
            ));
        }
    }
    let upload = parse_switch(req, "UploadMediaCompleteEventSwitch")?;
    let delete = parse_switch(req, "DeleteMediaCompleteEventSwitch")?;
    let persistence = parse_switch(req, "PersistenceCompleteEventSwitch")?;
    let key = get_str(req, "SignKey")?;
    if let Some(k) = key.as_deref().filter(|k| !k.is_empty())
        && (k.len() > tencent_vod::events::MAX_SIGN_KEY_LEN
            || !k.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(err(
            "InvalidParameterValue.SignKey",
            "SignKey must be at most 32 letters and digits.",
        ));
    }
    let mut inner = sh.lock();
    let mut s = settings_of(sh, &inner, sub_app_id);
    if let Some(m) = mode {
        s.mode = m;
    }
    if let Some(u) = url {
        s.notification_url = u;
    }
    if let Some(v) = upload {
        s.upload_switch = v;
    }
    if let Some(v) = delete {
        s.delete_switch = v;
    }
    if let Some(v) = persistence {
        s.persistence_switch = v;
    }
    if let Some(k) = key {
        // `""` clears the key (not documented; the mock's reading).
        s.sign_key = (!k.is_empty()).then_some(k);
    }
    tracing::debug!(?sub_app_id, mode = %s.mode, signed = s.sign_key.is_some(), "mock event config changed");
    inner.app.settings.insert(sub_app_id, s);
    Ok(json!({}))
}

/// `DescribeEventConfig` (the key is not returned, like VOD).
pub(crate) fn describe_event_config(
    sh: &Shared,
    req: &Map<String, Value>,
) -> Result<Value, VodErr> {
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    let inner = sh.lock();
    let s = settings_of(sh, &inner, sub_app_id);
    Ok(json!({
        "Mode": s.mode,
        "NotificationUrl": s.notification_url,
        "UploadMediaCompleteEventSwitch": on_off(s.upload_switch),
        "DeleteMediaCompleteEventSwitch": on_off(s.delete_switch),
        "PersistenceCompleteEventSwitch": on_off(s.persistence_switch),
    }))
}

/// Whether an event of this body is emitted for the application (the upload/delete switches).
pub(crate) fn event_enabled(
    sh: &Shared,
    inner: &Inner,
    sub_app_id: Option<u64>,
    body: &Value,
) -> bool {
    let s = settings_of(sh, inner, sub_app_id);
    match body.get("EventType").and_then(Value::as_str) {
        Some(tencent_vod::events::NEW_FILE_UPLOAD) => s.upload_switch,
        Some(tencent_vod::events::FILE_DELETED) => s.delete_switch,
        _ => true,
    }
}

/// Where (and with which client and key) a normal callback of this application goes, if anywhere: the
/// application's `NotificationUrl` in `PUSH` mode, else the builder's callback URL.
pub(crate) fn callback_target(
    sh: &Shared,
    inner: &Inner,
    sub_app_id: Option<u64>,
) -> Option<(String, reqwest::Client, Option<String>)> {
    let s = settings_of(sh, inner, sub_app_id);
    let url = if s.mode == "PUSH" && !s.notification_url.is_empty() {
        s.notification_url.clone()
    } else {
        sh.cfg.callback.as_ref().map(|(u, _)| u.clone())?
    };
    let http = match &sh.cfg.callback {
        Some((_, c)) => c.clone(),
        None => inner
            .app
            .http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default()
            })
            .clone(),
    };
    Some((url, http, s.sign_key))
}

/// Adds `Sign` and `T` to a callback body (`T` = `now` + [`CALLBACK_SIGN_VALIDITY`]).
pub(crate) fn sign_callback_body(body: &mut Value, key: &str, now: SystemTime) {
    let t = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
        + CALLBACK_SIGN_VALIDITY.as_secs() as i64;
    if let Some(o) = body.as_object_mut() {
        o.insert(
            "Sign".into(),
            Value::String(tencent_vod::__private::callback_sign(key, t)),
        );
        o.insert("T".into(), json!(t));
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn loopback_url(field: &str, s: &str) -> Result<url::Url, VodErr> {
    let code = format!("InvalidParameterValue.{field}");
    let u = url::Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| err(&code, format!("{field} is not an http or https URL.")))?;
    if !is_loopback(&u) {
        return Err(err(
            &code,
            format!(
                "The mock pulls only from loopback hosts (127.0.0.0/8, ::1, localhost); `{}` refused.",
                u.host_str().unwrap_or_default()
            ),
        ));
    }
    Ok(u)
}

fn url_ext(u: &url::Url) -> Option<String> {
    let last = u.path_segments()?.next_back()?;
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// A validated `PullUpload` request.
struct PullJob {
    media_url: url::Url,
    cover_url: Option<url::Url>,
    media_type: String,
    media_name: String,
    sub_app_id: Option<u64>,
    procedure: Option<String>,
    storage_path: Option<String>,
}

/// `PullUpload`: validates, records the task (`WAITING`), starts the fetch, answers the `TaskId`.
pub(crate) fn pull_upload(sh: &Arc<Shared>, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    if sub_app_id == Some(0) {
        return Err(err(
            "InvalidParameterValue.SubAppId",
            "SubAppId must be a positive integer.",
        ));
    }
    let media_url = get_str(req, "MediaUrl")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("MediaUrl"))?;
    let media_url = loopback_url("MediaUrl", &media_url)?;
    let cover_url = get_str(req, "CoverUrl")?
        .filter(|s| !s.is_empty())
        .map(|c| loopback_url("CoverUrl", &c))
        .transpose()?;
    if let Some(c) = &cover_url
        && let Some(ext) = url_ext(c)
        && !tencent_vod::appserver::PULL_COVER_TYPES.contains(&ext.as_str())
    {
        return Err(err(
            "InvalidParameterValue.CoverUrl",
            format!("Cover type `{ext}` is not gif, jpeg, jpg or png."),
        ));
    }
    let media_type = get_str(req, "MediaType")?
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .or_else(|| url_ext(&media_url))
        .ok_or_else(|| {
            err(
                "InvalidParameterValue.MediaType",
                "MediaType is empty and the MediaUrl has no extension.",
            )
        })?;
    if media_type == "mpd" || !tencent_vod::upload::MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(err(
            "InvalidParameterValue.MediaType",
            format!("MediaType `{media_type}` is not supported by PullUpload."),
        ));
    }
    let chars = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
    let session_context = get_str(req, "SessionContext")?;
    if chars(&session_context) > 1000 {
        return Err(err(
            "InvalidParameterValue.SessionContextTooLong",
            "SessionContext is longer than 1000 characters.",
        ));
    }
    let source_context = get_str(req, "SourceContext")?;
    if chars(&source_context) > 250 {
        return Err(err(
            "InvalidParameterValue.SourceContext",
            "SourceContext is longer than 250 characters.",
        ));
    }
    let session_id = get_str(req, "SessionId")?.filter(|s| !s.is_empty());
    if chars(&session_id) > 50 {
        return Err(err(
            "InvalidParameterValue.SessionIdTooLong",
            "SessionId is longer than 50 characters.",
        ));
    }
    if let Some(p) = get_str(req, "TasksPriority")? {
        let ok = p
            .trim()
            .parse::<i64>()
            .is_ok_and(|p| (-10..=10).contains(&p));
        if !ok {
            return Err(err(
                "InvalidParameterValue.TasksPriority",
                "TasksPriority must be an integer in -10..=10.",
            ));
        }
    }
    let expire_time = get_str(req, "ExpireTime")?.filter(|s| !s.is_empty());
    if let Some(t) = &expire_time
        && time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_err()
    {
        return Err(err(
            "InvalidParameterValue.ExpireTime",
            format!("ExpireTime `{t}` is not ISO 8601."),
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
    let class_id = match get_str(req, "ClassId")? {
        Some(c) => c.trim().parse::<i64>().map_err(|_| {
            err(
                "InvalidParameterValue.ClassId",
                "ClassId must be an integer.",
            )
        })?,
        None => 0,
    };
    let storage_path = get_str(req, "MediaStoragePath")?.filter(|s| !s.is_empty());
    if let Some(p) = &storage_path
        && (!p.starts_with('/')
            || p.ends_with('/')
            || p[1..]
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == ".."))
    {
        return Err(err(
            "InvalidParameterValue.MediaStoragePath",
            "MediaStoragePath must start with `/`, not end with `/`, and have no empty, `.` or `..` segments.",
        ));
    }
    let media_name = get_str(req, "MediaName")?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            media_url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .map(|n| n.rsplit_once('.').map_or(n, |(stem, _)| stem).to_string())
                .unwrap_or_default()
        });
    let procedure = get_str(req, "Procedure")?.filter(|s| !s.is_empty());

    let mut guard = sh.lock();
    let inner = &mut *guard;
    if let Some(id) = &session_id
        && !inner.app.session_ids.insert((sub_app_id, id.clone()))
    {
        return Err(err(
            "InvalidParameterValue.SessionId",
            "A request with this SessionId was made in the last three days.",
        ));
    }
    inner.app.pull_requests.push(Value::Object(req.clone()));
    let task_id = format!("{}-Pull-{}", sh.cfg.app_id, random_hex(&mut inner.rng, 31));
    let seq = inner.next_task_seq();
    inner.app.pulls.push(PullTask {
        seq,
        task_id: task_id.clone(),
        sub_app_id,
        status: TaskStatus::Waiting,
        err_code: 0,
        message: String::new(),
        progress: 0,
        file_id: String::new(),
        file_url: String::new(),
        cover_url: String::new(),
        media_name: media_name.clone(),
        media_type: media_type.clone(),
        region,
        class_id,
        source_context: source_context.unwrap_or_default(),
        session_context: session_context.unwrap_or_default(),
        session_id: session_id.unwrap_or_default(),
        procedure_task_id: String::new(),
        expire_time,
        size: 0,
        created: sh.now(),
        begun: None,
        finished: None,
    });
    let timeout = inner.app.pull_timeout.unwrap_or(DEFAULT_PULL_TIMEOUT);
    drop(guard);
    let job = PullJob {
        media_url,
        cover_url,
        media_type,
        media_name,
        sub_app_id,
        procedure,
        storage_path,
    };
    let sh2 = sh.clone();
    let id = task_id.clone();
    tokio::spawn(async move { run_pull(sh2, id, job, timeout).await });
    Ok(json!({ "TaskId": task_id }))
}

/// A fetched body, stored under the data directory (or only hashed, in bench mode).
struct Fetched {
    path: Option<std::path::PathBuf>,
    size: u64,
    sha256: String,
    crc64: u64,
    md5: [u8; 16],
    content_type: String,
}

/// GETs a loopback URL (no redirects) into a temp file, hashing on the way; `on_progress(bytes, total)`.
async fn fetch(
    sh: &Shared,
    http: &reqwest::Client,
    url: &url::Url,
    mut on_progress: impl FnMut(u64, Option<u64>),
) -> Result<Fetched, String> {
    let describe = |e: reqwest::Error| {
        let e = e.without_url();
        if e.is_timeout() {
            format!("timed out waiting for the source ({e})")
        } else if e.is_connect() {
            format!("cannot connect to the source ({e})")
        } else {
            format!("reading the source failed ({e})")
        }
    };
    let resp = http.get(url.clone()).send().await.map_err(describe)?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(format!(
            "the source answered HTTP {status}; redirects are not followed"
        ));
    }
    if !status.is_success() {
        return Err(format!("the source answered HTTP {}", status.as_u16()));
    }
    let total = resp.content_length();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let store = !sh.cfg.bench;
    let tmp = sh.tmp_path();
    let io = |e: std::io::Error| format!("mock storage error: {e}");
    let mut file = if store {
        Some(tokio::io::BufWriter::with_capacity(
            1 << 20,
            tokio::fs::File::create(&tmp).await.map_err(io)?,
        ))
    } else {
        None
    };
    let mut crc = crc64fast::Digest::new();
    let mut md5 = md5::Md5::new();
    let mut sha = sha2::Sha256::new();
    let mut size = 0u64;
    let mut stream = resp.bytes_stream();
    let result: Result<(), String> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(describe)?;
            crc.write(&chunk);
            md5.update(&chunk);
            if store {
                sha.update(&chunk);
            }
            if let Some(f) = file.as_mut() {
                f.write_all(&chunk).await.map_err(io)?;
            }
            size += chunk.len() as u64;
            on_progress(size, total);
        }
        if let Some(f) = file.as_mut() {
            f.flush().await.map_err(io)?;
        }
        if let Some(t) = total
            && t != size
        {
            return Err(format!("the source sent {size} of {t} bytes"));
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
    Ok(Fetched {
        path: store.then_some(tmp),
        size,
        sha256: if store {
            hex::encode(sha.finalize())
        } else {
            String::new()
        },
        crc64: crc.sum64(),
        md5: md5.finalize().into(),
        content_type,
    })
}

/// Moves a fetched body into the object store.
async fn store(sh: &Shared, bucket: &str, key: &str, f: Fetched) -> Result<(), String> {
    let path = match &f.path {
        Some(tmp) => {
            let dest = sh.object_path();
            tokio::fs::rename(tmp, &dest)
                .await
                .map_err(|e| format!("mock storage error: {e}"))?;
            Some(dest)
        }
        None => None,
    };
    sh.put_object(
        bucket,
        key,
        ObjectMeta {
            path,
            size: f.size,
            sha256: f.sha256,
            crc64: f.crc64,
            etag: format!("\"{}\"", hex::encode(f.md5)),
            content_type: f.content_type,
            last_modified: sh.now(),
        },
    );
    Ok(())
}

fn with_task(sh: &Shared, task_id: &str, f: impl FnOnce(&mut PullTask)) {
    let mut inner = sh.lock();
    if let Some(t) = inner.app.pulls.iter_mut().find(|t| t.task_id == task_id) {
        f(t);
    }
}

/// Fetches the media (and cover), stores them, finishes the task and queues its `PullComplete` event.
async fn run_pull(sh: Arc<Shared>, task_id: String, job: PullJob, timeout: Duration) {
    with_task(&sh, &task_id, |t| {
        t.status = TaskStatus::Processing;
        t.begun = Some(sh.now());
    });
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            finish_failed(&sh, &task_id, 70000, format!("mock pull client: {e}"));
            return;
        }
    };
    let mut last_pct = -1i64;
    let media = fetch(&sh, &http, &job.media_url, |done, total| {
        if let Some(total) = total.filter(|t| *t > 0) {
            let pct = (done.saturating_mul(100) / total).min(99) as i64;
            if pct != last_pct {
                last_pct = pct;
                with_task(&sh, &task_id, |t| t.progress = pct);
            }
        }
    })
    .await;
    let media = match media {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(task_id, error = %e, "mock pull failed");
            finish_failed(&sh, &task_id, 60000, format!("SourceFileError: {e}"));
            return;
        }
    };
    let cover = match &job.cover_url {
        Some(u) => match fetch(&sh, &http, u, |_, _| {}).await {
            Ok(c) => Some((c, url_ext(u).unwrap_or_else(|| "jpg".into()))),
            Err(e) => {
                if let Some(p) = &media.path {
                    let _ = tokio::fs::remove_file(p).await;
                }
                finish_failed(&sh, &task_id, 60000, format!("SourceFileError: cover: {e}"));
                return;
            }
        },
        None => None,
    };
    let region = {
        let inner = sh.lock();
        inner
            .app
            .pulls
            .iter()
            .find(|t| t.task_id == task_id)
            .map(|t| t.region.clone())
            .unwrap_or_else(|| sh.cfg.region.clone())
    };
    let bucket = sh.bucket_for(&region);
    let (file_id, media_key) = {
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
        let key = match &job.storage_path {
            Some(p) => p[1..].to_string(),
            None => format!(
                "{}vod{abbr}{}/{}{file_id}/f0.{}",
                random_hex(&mut inner.rng, 8),
                sh.cfg.app_id,
                random_hex(&mut inner.rng, 8),
                job.media_type
            ),
        };
        (file_id, key)
    };
    let size = media.size;
    if let Err(e) = store(&sh, &bucket, &media_key, media).await {
        finish_failed(&sh, &task_id, 70000, e);
        return;
    }
    let base = format!("http://{}.vod2.myqcloud.com", sh.cfg.app_id);
    let cover_url = match cover {
        Some((c, ext)) => {
            let dir = media_key.rsplit_once('/').map_or("", |(d, _)| d);
            let key = if dir.is_empty() {
                format!("cover.{ext}")
            } else {
                format!("{dir}/cover.{ext}")
            };
            if let Err(e) = store(&sh, &bucket, &key, c).await {
                finish_failed(&sh, &task_id, 70000, e);
                return;
            }
            format!("{base}/{key}")
        }
        None => String::new(),
    };
    let file_url = format!("{base}/{media_key}");
    let now_wall = sh.now();
    let mut guard = sh.lock();
    let inner = &mut *guard;
    let procedure_task_id = job.procedure.as_ref().map(|procedure| {
        let id = format!(
            "{}-procedurev2-{}t0",
            sh.cfg.app_id,
            random_hex(&mut inner.rng, 32)
        );
        let session_context = inner
            .app
            .pulls
            .iter()
            .find(|t| t.task_id == task_id)
            .map(|t| t.session_context.clone())
            .unwrap_or_default();
        let seq = inner.next_task_seq();
        inner.tasks.push(TaskRecord {
            seq,
            task_id: id.clone(),
            sub_app_id: job.sub_app_id,
            procedure: procedure.clone(),
            file_id: file_id.clone(),
            file_name: job.media_name.clone(),
            file_url: file_url.clone(),
            session_context,
            session_id: String::new(),
            meta_data: json!({"Size": size}),
            created_wall: now_wall,
            created: Instant::now(),
            finish_event_queued: false,
        });
        id
    });
    let Some(t) = inner.app.pulls.iter_mut().find(|t| t.task_id == task_id) else {
        return;
    };
    t.status = TaskStatus::Finish;
    t.err_code = 0;
    t.message = "SUCCESS".into();
    t.progress = 100;
    t.file_id = file_id;
    t.file_url = file_url;
    t.cover_url = cover_url;
    t.size = size;
    t.procedure_task_id = procedure_task_id.clone().unwrap_or_default();
    t.finished = Some(now_wall);
    let body =
        json!({"EventType": tencent_vod::events::PULL_COMPLETE, "PullCompleteEvent": task_json(t)});
    let sub_app_id = t.sub_app_id;
    tracing::debug!(task_id, size, "mock pull finished");
    sh.enqueue(inner, sub_app_id, body);
    drop(guard);
    if procedure_task_id.is_some() {
        let weak = Arc::downgrade(&sh);
        let after = sh.cfg.task_waiting + sh.cfg.task_processing + Duration::from_millis(1);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(sh) = weak.upgrade() {
                sh.advance_tasks();
            }
        });
    }
}

fn finish_failed(sh: &Shared, task_id: &str, code: i64, message: String) {
    let mut guard = sh.lock();
    let inner = &mut *guard;
    let Some(t) = inner.app.pulls.iter_mut().find(|t| t.task_id == task_id) else {
        return;
    };
    t.status = TaskStatus::Finish;
    t.err_code = code;
    t.message = message;
    t.finished = Some(sh.now());
    let body =
        json!({"EventType": tencent_vod::events::PULL_COMPLETE, "PullCompleteEvent": task_json(t)});
    let sub_app_id = t.sub_app_id;
    sh.enqueue(inner, sub_app_id, body);
}

fn task_json(t: &PullTask) -> Value {
    let iso = |t: Option<SystemTime>| t.map(iso8601).unwrap_or_default();
    let ok = t.err_code == 0 && t.status == TaskStatus::Finish;
    let created = iso8601(t.created);
    json!({
        "TaskId": t.task_id,
        "Status": t.status.as_str(),
        "ErrCode": t.err_code,
        "Message": t.message,
        "FileId": t.file_id,
        "MediaBasicInfo": if ok {
            json!({
                "Name": t.media_name,
                "Description": "",
                "CreateTime": created,
                "UpdateTime": iso(t.finished),
                "ExpireTime": t.expire_time.clone().unwrap_or_else(|| "9999-12-31T23:59:59Z".into()),
                "ClassId": t.class_id,
                "CoverUrl": t.cover_url,
                "Type": t.media_type,
                "MediaUrl": t.file_url,
                "TagSet": [],
                "StorageRegion": t.region,
                "SourceInfo": {"SourceType": "Upload", "SourceContext": t.source_context},
                "Vid": "",
            })
        } else {
            Value::Null
        },
        "MetaData": if ok { json!({"Size": t.size}) } else { Value::Null },
        "FileUrl": t.file_url,
        "ProcedureTaskId": t.procedure_task_id,
        "ReviewAudioVideoTaskId": "",
        "SessionContext": t.session_context,
        "SessionId": t.session_id,
        "Progress": t.progress,
    })
}

/// The pull tasks of `sub_app_id` as `DescribeTasks` rows (`TaskType` `PullUpload`; `FileId` empty until the
/// media exists).
pub(crate) fn pull_task_rows(
    inner: &Inner,
    sub_app_id: Option<u64>,
) -> impl Iterator<Item = TaskRow> + '_ {
    let iso = |t: Option<SystemTime>| t.map(iso8601).unwrap_or_default();
    inner
        .app
        .pulls
        .iter()
        .filter(move |t| t.sub_app_id == sub_app_id)
        .map(move |t| TaskRow {
            seq: t.seq,
            file_id: t.file_id.clone(),
            status: t.status.clone(),
            created_wall: t.created,
            finish_wall: t.finished,
            json: json!({
                "TaskId": t.task_id,
                "Status": t.status.as_str(),
                "FileId": t.file_id,
                "TaskType": tencent_vod::appserver::PULL_UPLOAD_TASK_TYPE,
                "CreateTime": iso8601(t.created),
                "BeginProcessTime": iso(t.begun),
                "FinishTime": iso(t.finished),
                "SessionId": t.session_id,
                "SessionContext": t.session_context,
            }),
        })
}

/// `DescribeTaskDetail` of a pull task; `None` when `TaskId` names no pull task (other task types answer).
pub(crate) fn describe_pull_task(
    sh: &Shared,
    req: &Map<String, Value>,
) -> Option<Result<Value, VodErr>> {
    let task_id = get_str(req, "TaskId").ok()??;
    let sub_app_id = match get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId") {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let inner = sh.lock();
    let t = inner.app.pulls.iter().find(|t| t.task_id == task_id)?;
    if t.sub_app_id != sub_app_id {
        return Some(Err(err(
            "InvalidParameterValue.TaskId",
            format!("The task `{task_id}` does not exist."),
        )));
    }
    let iso = |t: Option<SystemTime>| t.map(iso8601).unwrap_or_default();
    Some(Ok(json!({
        "TaskType": tencent_vod::appserver::PULL_UPLOAD_TASK_TYPE,
        "Status": t.status.as_str(),
        "CreateTime": iso8601(t.created),
        "BeginProcessTime": iso(t.begun),
        "FinishTime": iso(t.finished),
        "PullUploadTask": task_json(t),
    })))
}

impl MockServer {
    /// How long a `PullUpload` waits for its source to connect and between bytes before the task fails
    /// (default 30 s).
    pub fn set_pull_timeout(&self, timeout: Duration) {
        self.shared.lock().app.pull_timeout = Some(timeout.min(crate::MAX_MOCK_DURATION));
    }

    /// Every `PullUpload` request accepted, as received.
    pub fn pull_requests(&self) -> Vec<Value> {
        self.shared.lock().app.pull_requests.clone()
    }

    /// Every pull task, oldest first.
    pub fn pull_tasks(&self) -> Vec<MockPullTask> {
        self.shared
            .lock()
            .app
            .pulls
            .iter()
            .map(|t| MockPullTask {
                task_id: t.task_id.clone(),
                sub_app_id: t.sub_app_id,
                status: t.status.clone(),
                err_code: t.err_code,
                message: t.message.clone(),
                file_id: t.file_id.clone(),
                size: t.size,
            })
            .collect()
    }
}
