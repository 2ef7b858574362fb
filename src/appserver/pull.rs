//! `PullUpload` (拉取上传): VOD fetches the media from a URL itself.
//!
//! API reference: <https://cloud.tencent.com/document/api/266/35575> (intl
//! <https://www.tencentcloud.com/document/api/266/34118>); the `PullComplete` event:
//! <https://cloud.tencent.com/document/product/266/7831>; request and task members from the `vod/v20180717` models
//! (`PullUploadRequest`, `PullUploadTask`).
//!
//! The call answers a task id at once; the media exists when the task is `FINISH` with `ErrCode` 0. Follow it with
//! [`VodApi::wait_for_pull`] (polling `DescribeTaskDetail`) or the `PullComplete` event
//! ([`Event::PullComplete`](crate::events::Event::PullComplete) →
//! [`PullUploadTask::into_outcome`](crate::events::PullUploadTask::into_outcome)).

use crate::client::VodClient;
use crate::error::{Error, PullFailure, Result};
use crate::events::wait::wait_for_task_with;
use crate::events::{MediaBasicInfo, MediaMetaData, WaitOptions};
use crate::upload::{MAX_SESSION_CONTEXT, MAX_SOURCE_CONTEXT, MEDIA_TYPES};
use crate::vod::VodApi;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::events::PullUploadTask;

/// `TaskType` of a pull task in `DescribeTasks` / `DescribeTaskDetail`.
pub const PULL_UPLOAD_TASK_TYPE: &str = "PullUpload";
/// Longest `SessionId`, characters.
pub const MAX_PULL_SESSION_ID: usize = 50;
/// Cover formats `PullUpload` accepts (`CoverUrl`).
pub const PULL_COVER_TYPES: &[&str] = &["gif", "jpeg", "jpg", "png"];

/// `PullUpload` request: every documented member.
///
/// `Debug` prints the URLs without their query strings (pre-signed URLs carry credentials there).
///
/// ```
/// use tencent_vod::appserver::PullUploadRequest;
/// let req = PullUploadRequest::new("https://media.example.com/show/ep1.mp4")
///     .with_media_name("Episode 1")
///     .with_procedure("LongVideoPreset")
///     .with_session_id("ep1-2024-05-01");
/// req.validate()?;
/// assert_eq!(req.effective_media_type().as_deref(), Some("mp4"));
/// # Ok::<(), tencent_vod::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PullUploadRequest {
    /// URL of the media (http/https; HLS is supported, DASH is not). Required.
    pub media_url: String,
    /// Media type (extension); inferred from `MediaUrl` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
    /// Media name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_name: Option<String>,
    /// URL of a cover image (gif, jpeg/jpg, png).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_url: Option<String>,
    /// Task flow to run after the pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procedure: Option<String>,
    /// Media expiry, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Storage region, e.g. `ap-chongqing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_region: Option<String>,
    /// Category id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<u64>,
    /// Task priority, −10…10 (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_priority: Option<i32>,
    /// ≤ 1000 characters, echoed in the task-flow and pull-complete events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<String>,
    /// Deduplication id (≤ 50 characters): a repeat within three days is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_info: Option<String>,
    /// ≤ 250 characters, echoed in the upload-complete callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_context: Option<String>,
    /// Storage path starting with `/` ("FileID + Path" applications only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_storage_path: Option<String>,
}

/// `scheme://host[:port]/path` of a URL, or a placeholder when it does not parse.
pub(crate) fn without_query(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut p) => {
            let _ = p.set_username("");
            let _ = p.set_password(None);
            p.set_query(None);
            p.set_fragment(None);
            p.to_string()
        }
        Err(_) => "<not a URL>".into(),
    }
}

impl fmt::Debug for PullUploadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullUploadRequest")
            .field("media_url", &without_query(&self.media_url))
            .field("media_type", &self.media_type)
            .field("sub_app_id", &self.sub_app_id)
            .field("media_name", &self.media_name)
            .field("cover_url", &self.cover_url.as_deref().map(without_query))
            .field("procedure", &self.procedure)
            .field("expire_time", &self.expire_time)
            .field("storage_region", &self.storage_region)
            .field("class_id", &self.class_id)
            .field("tasks_priority", &self.tasks_priority)
            .field("session_context", &self.session_context)
            .field("session_id", &self.session_id)
            .field("ext_info", &self.ext_info)
            .field("source_context", &self.source_context)
            .field("media_storage_path", &self.media_storage_path)
            .finish()
    }
}

/// The lower-cased extension of the last path segment of a URL.
pub(crate) fn url_extension(u: &url::Url) -> Option<String> {
    let last = u.path_segments()?.next_back()?;
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn parse_http_url(field: &str, s: &str) -> Result<url::Url> {
    let u = url::Url::parse(s).map_err(|e| {
        Error::invalid(
            field,
            format!("is not a URL ({e}); expected e.g. https://example.com/a.mp4"),
        )
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(Error::invalid(field, "must be an http or https URL"));
    }
    Ok(u)
}

impl PullUploadRequest {
    /// A request to pull `media_url`.
    pub fn new(media_url: impl Into<String>) -> Self {
        PullUploadRequest {
            media_url: media_url.into(),
            ..Default::default()
        }
    }
    /// Sets `MediaType`.
    pub fn with_media_type(mut self, v: impl Into<String>) -> Self {
        self.media_type = Some(v.into());
        self
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }
    /// Sets `MediaName`.
    pub fn with_media_name(mut self, v: impl Into<String>) -> Self {
        self.media_name = Some(v.into());
        self
    }
    /// Sets `CoverUrl`.
    pub fn with_cover_url(mut self, v: impl Into<String>) -> Self {
        self.cover_url = Some(v.into());
        self
    }
    /// Sets `Procedure`.
    pub fn with_procedure(mut self, v: impl Into<String>) -> Self {
        self.procedure = Some(v.into());
        self
    }
    /// Sets `ExpireTime` (ISO 8601).
    pub fn with_expire_time(mut self, v: impl Into<String>) -> Self {
        self.expire_time = Some(v.into());
        self
    }
    /// Sets `StorageRegion`.
    pub fn with_storage_region(mut self, v: impl Into<String>) -> Self {
        self.storage_region = Some(v.into());
        self
    }
    /// Sets `ClassId`.
    pub fn with_class_id(mut self, v: u64) -> Self {
        self.class_id = Some(v);
        self
    }
    /// Sets `TasksPriority` (−10…10).
    pub fn with_tasks_priority(mut self, v: i32) -> Self {
        self.tasks_priority = Some(v);
        self
    }
    /// Sets `SessionContext`.
    pub fn with_session_context(mut self, v: impl Into<String>) -> Self {
        self.session_context = Some(v.into());
        self
    }
    /// Sets `SessionId`.
    pub fn with_session_id(mut self, v: impl Into<String>) -> Self {
        self.session_id = Some(v.into());
        self
    }
    /// Sets `ExtInfo`.
    pub fn with_ext_info(mut self, v: impl Into<String>) -> Self {
        self.ext_info = Some(v.into());
        self
    }
    /// Sets `SourceContext`.
    pub fn with_source_context(mut self, v: impl Into<String>) -> Self {
        self.source_context = Some(v.into());
        self
    }
    /// Sets `MediaStoragePath`.
    pub fn with_media_storage_path(mut self, v: impl Into<String>) -> Self {
        self.media_storage_path = Some(v.into());
        self
    }

    /// The media type VOD will use: `MediaType`, or the extension of the URL's path.
    pub fn effective_media_type(&self) -> Option<String> {
        match self.media_type.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(t.to_ascii_lowercase()),
            None => url::Url::parse(&self.media_url)
                .ok()
                .and_then(|u| url_extension(&u)),
        }
    }

    /// Checks every member before anything is sent; errors name the member.
    pub fn validate(&self) -> Result<()> {
        if self.media_url.is_empty() {
            return Err(Error::invalid("MediaUrl", "is required"));
        }
        parse_http_url("MediaUrl", &self.media_url)?;
        let media_type = self.effective_media_type().ok_or_else(|| {
            Error::invalid(
                "MediaType",
                "cannot be inferred from MediaUrl (its path has no extension); set it, e.g. mp4",
            )
        })?;
        if media_type == "mpd" {
            return Err(Error::invalid(
                "MediaType",
                "PullUpload does not support DASH (mpd); HLS (m3u8) is supported",
            ));
        }
        if !MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(Error::invalid(
                "MediaType",
                format!(
                    "{media_type:?} is not a media type VOD accepts; expected one of {}",
                    MEDIA_TYPES.join(", ")
                ),
            ));
        }
        if let Some(c) = &self.cover_url {
            let u = parse_http_url("CoverUrl", c)?;
            if let Some(ext) = url_extension(&u)
                && !PULL_COVER_TYPES.contains(&ext.as_str())
            {
                return Err(Error::invalid(
                    "CoverUrl",
                    format!("a .{ext} file; expected gif, jpeg, jpg or png"),
                ));
            }
        }
        if let Some(p) = self.tasks_priority
            && !(-10..=10).contains(&p)
        {
            return Err(Error::invalid(
                "TasksPriority",
                format!("{p} is outside -10..=10"),
            ));
        }
        let chars = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
        for (name, v, max) in [
            ("SessionContext", &self.session_context, MAX_SESSION_CONTEXT),
            ("SourceContext", &self.source_context, MAX_SOURCE_CONTEXT),
            ("SessionId", &self.session_id, MAX_PULL_SESSION_ID),
        ] {
            if chars(v) > max {
                return Err(Error::invalid(
                    name,
                    format!("{} characters; at most {max} allowed", chars(v)),
                ));
            }
        }
        if let Some(t) = &self.expire_time
            && time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .is_err()
        {
            return Err(Error::invalid(
                "ExpireTime",
                format!("{t:?} is not ISO 8601; expected e.g. 2030-01-01T00:00:00Z"),
            ));
        }
        if let Some(r) = &self.storage_region {
            crate::transport::endpoint::validate_region("StorageRegion", r)?;
        }
        if let Some(p) = &self.media_storage_path
            && !p.starts_with('/')
        {
            return Err(Error::invalid(
                "MediaStoragePath",
                format!("{p:?} must start with '/'"),
            ));
        }
        if self.sub_app_id == Some(0) {
            return Err(Error::invalid("SubAppId", "must be a positive integer"));
        }
        Ok(())
    }
}

/// `PullUpload` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PullUploadResponse {
    /// The pull task id.
    pub task_id: String,
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A successful pull: the new media.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PullUploadOutcome {
    /// The pull task id.
    pub task_id: String,
    /// FileId of the new media.
    pub file_id: String,
    /// Playback URL (`FileUrl`).
    pub media_url: Option<String>,
    /// Cover URL, when a cover was pulled.
    pub cover_url: Option<String>,
    /// Task id of the `Procedure` started, if any.
    pub procedure_task_id: Option<String>,
    /// Basic information of the media.
    pub media_basic_info: Option<MediaBasicInfo>,
    /// Metadata of the media.
    pub meta_data: Option<MediaMetaData>,
    /// `SessionContext` of the request.
    pub session_context: Option<String>,
    /// `SessionId` of the request.
    pub session_id: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl PullUploadTask {
    /// The task's status, parsed.
    pub fn task_status(&self) -> crate::events::TaskStatus {
        crate::events::TaskStatus::parse(self.status.as_deref().unwrap_or_default())
    }

    /// The result of a finished task: the new media, or [`Error::PullFailed`] when `ErrCode` ≠ 0. A task that has
    /// not finished is an [`Error::InvalidInput`].
    pub fn into_outcome(self) -> Result<PullUploadOutcome> {
        let task_id = self.task_id.clone().unwrap_or_default();
        if !self.task_status().is_terminal() {
            return Err(Error::invalid(
                "pull task",
                format!("{task_id} has not finished (status {})", self.task_status()),
            ));
        }
        let code = self.err_code.unwrap_or(0);
        if code != 0 || self.task_status() == crate::events::TaskStatus::Aborted {
            return Err(Error::PullFailed(Box::new(PullFailure {
                task_id,
                err_code: code,
                message: self.message.unwrap_or_default(),
            })));
        }
        let file_id = non_empty(self.file_id).ok_or_else(|| {
            Error::invalid_response(
                "DescribeTaskDetail",
                200,
                format!("pull task {task_id} finished without a FileId"),
                b"",
                None,
            )
        })?;
        let cover_url = non_empty(
            self.media_basic_info
                .as_ref()
                .and_then(|b| b.cover_url.clone()),
        );
        Ok(PullUploadOutcome {
            task_id,
            file_id,
            media_url: non_empty(self.file_url).or_else(|| {
                non_empty(
                    self.media_basic_info
                        .as_ref()
                        .and_then(|b| b.media_url.clone()),
                )
            }),
            cover_url,
            procedure_task_id: non_empty(self.procedure_task_id),
            media_basic_info: self.media_basic_info,
            meta_data: self.meta_data,
            session_context: non_empty(self.session_context),
            session_id: non_empty(self.session_id),
        })
    }
}

impl VodApi {
    /// `PullUpload`: asks VOD to fetch the media at `req.media_url`; returns the task id. The request is
    /// validated first ([`PullUploadRequest::validate`]).
    pub async fn pull_upload(&self, req: &PullUploadRequest) -> Result<PullUploadResponse> {
        req.validate()?;
        self.call("PullUpload", req).await
    }

    /// Polls `DescribeTaskDetail` until the pull task ends; the new media, or [`Error::PullFailed`] (the task's
    /// `ErrCode` and `Message`), or [`Error::DeadlineExceeded`].
    pub async fn wait_for_pull(
        &self,
        task_id: &str,
        sub_app_id: Option<u64>,
        opts: WaitOptions,
    ) -> Result<PullUploadOutcome> {
        if task_id.is_empty() {
            return Err(Error::invalid("task_id", "must not be empty"));
        }
        let detail =
            wait_for_task_with(&opts, || self.describe_task_detail(task_id, sub_app_id)).await?;
        let task_type = detail.task_type.clone().unwrap_or_default();
        if task_type != PULL_UPLOAD_TASK_TYPE {
            return Err(Error::invalid(
                "task_id",
                format!("{task_id} is a {task_type:?} task, not a PullUpload task"),
            ));
        }
        let mut task = detail.pull_upload_task.ok_or_else(|| {
            Error::invalid_response(
                "DescribeTaskDetail",
                200,
                "a finished PullUpload task without PullUploadTask",
                b"",
                detail.request_id.clone(),
            )
        })?;
        // The detail's status is authoritative; the member may lag behind it.
        if task.status.is_none() {
            task.status = detail.status.clone();
        }
        if task.task_id.is_none() {
            task.task_id = Some(task_id.to_string());
        }
        tracing::debug!(task_id, status = ?detail.status, "pull task ended");
        task.into_outcome()
    }
}

impl VodClient {
    /// `PullUpload` with the client's default `SubAppId` when the request names none.
    pub async fn pull_upload(&self, mut req: PullUploadRequest) -> Result<PullUploadResponse> {
        if req.sub_app_id.is_none() {
            req.sub_app_id = self.sub_app_id();
        }
        self.api().pull_upload(&req).await
    }

    /// Waits for a pull task of the client's default `SubAppId` (see [`VodApi::wait_for_pull`]).
    pub async fn wait_for_pull(
        &self,
        task_id: &str,
        opts: WaitOptions,
    ) -> Result<PullUploadOutcome> {
        self.api()
            .wait_for_pull(task_id, self.sub_app_id(), opts)
            .await
    }

    /// [`pull_upload`](Self::pull_upload), then [`wait_for_pull`](Self::wait_for_pull).
    pub async fn pull_upload_and_wait(
        &self,
        req: PullUploadRequest,
        opts: WaitOptions,
    ) -> Result<PullUploadOutcome> {
        let sub_app_id = req.sub_app_id.or(self.sub_app_id());
        let task = self.pull_upload(req).await?;
        self.api()
            .wait_for_pull(&task.task_id, sub_app_id, opts)
            .await
    }
}
