//! Requests and responses of `PullEvents`, `ConfirmEvents`, `DescribeTasks` and `DescribeTaskDetail`.
//!
//! All derive `Serialize` and `Deserialize` with the API's PascalCase names, so a mock server can read the
//! requests and write the responses with the same types.

use super::lenient::{self, lenient_struct};
use super::model::{EventContent, ProcedureTask, PullUploadTask};
use serde::{Deserialize, Serialize};

/// Most event handles one `ConfirmEvents` call accepts (and most events one `PullEvents` returns).
pub const MAX_EVENT_HANDLES: usize = 16;
/// Largest `DescribeTasks` page (`Limit`).
pub const MAX_TASKS_LIMIT: u64 = 100;

/// `PullEvents` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PullEventsRequest {
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_info: Option<String>,
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

impl PullEventsRequest {
    /// An empty request (the default application).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }
    /// Sets `ExtInfo`.
    pub fn with_ext_info(mut self, v: impl Into<String>) -> Self {
        self.ext_info = Some(v.into());
        self
    }
}

/// `PullEvents` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PullEventsResponse {
    /// The events (≤ 16); `null` or absent reads as empty.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub event_set: Vec<EventContent>,
    /// Request id.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
}

impl PullEventsResponse {
    /// A response carrying these events (for mocks).
    pub fn new(event_set: Vec<EventContent>, request_id: impl Into<String>) -> Self {
        PullEventsResponse {
            event_set,
            request_id: Some(request_id.into()),
        }
    }
}

/// `ConfirmEvents` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ConfirmEventsRequest {
    /// Handles from `EventSet[].EventHandle`, 1–16. Required.
    #[serde(default)]
    pub event_handles: Vec<String>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_info: Option<String>,
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

impl ConfirmEventsRequest {
    /// A confirmation of these handles.
    pub fn new(event_handles: Vec<String>) -> Self {
        ConfirmEventsRequest {
            event_handles,
            ..Default::default()
        }
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }
}

/// `ConfirmEvents` response (only a request id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ConfirmEventsResponse {
    /// Request id.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
}

/// `TimeRange`: an ISO 8601 interval filter (`After` ≤ t < `Before`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct TimeRange {
    /// Lower bound (inclusive), e.g. `2024-01-01T00:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Upper bound (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl TimeRange {
    /// A range with both bounds (ISO 8601).
    pub fn new(after: impl Into<String>, before: impl Into<String>) -> Self {
        TimeRange {
            after: Some(after.into()),
            before: Some(before.into()),
        }
    }
    /// A range open at the top.
    pub fn after(after: impl Into<String>) -> Self {
        TimeRange {
            after: Some(after.into()),
            before: None,
        }
    }
}

/// `SortBy`: `Field` (`CreateTime` | `FinishTime`) and `Order` (`Asc` | `Desc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SortBy {
    /// `CreateTime` or `FinishTime`.
    pub field: String,
    /// `Asc` or `Desc`.
    pub order: String,
}

impl SortBy {
    /// Sort by `field`, ascending.
    pub fn asc(field: impl Into<String>) -> Self {
        SortBy {
            field: field.into(),
            order: "Asc".into(),
        }
    }
    /// Sort by `field`, descending.
    pub fn desc(field: impl Into<String>) -> Self {
        SortBy {
            field: field.into(),
            order: "Desc".into(),
        }
    }
}

/// `DescribeTasks` request: lists tasks of the last 72 hours (3 days), filtered and paged.
///
/// ```
/// use tencent_vod::events::DescribeTasksRequest;
/// let r = DescribeTasksRequest::new().with_file_id("5285890784273533167").with_limit(100);
/// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"FileId":"5285890784273533167","Limit":100}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeTasksRequest {
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
    /// `WAITING`, `PROCESSING` or `FINISH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only tasks of this FileId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Creation-time filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<TimeRange>,
    /// Finish-time filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<TimeRange>,
    /// Sort order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortBy>,
    /// Page size, 1–100 (server default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The `ScrollToken` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_token: Option<String>,
}

impl DescribeTasksRequest {
    /// A request with no filter.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }
    /// Sets `SubAppId` when `Some`.
    pub(crate) fn with_sub_app_id_opt(mut self, v: Option<u64>) -> Self {
        self.sub_app_id = v;
        self
    }
    /// Sets `Status`.
    pub fn with_status(mut self, v: impl Into<String>) -> Self {
        self.status = Some(v.into());
        self
    }
    /// Sets `FileId`.
    pub fn with_file_id(mut self, v: impl Into<String>) -> Self {
        self.file_id = Some(v.into());
        self
    }
    /// Sets `CreateTime`.
    pub fn with_create_time(mut self, v: TimeRange) -> Self {
        self.create_time = Some(v);
        self
    }
    /// Sets `FinishTime`.
    pub fn with_finish_time(mut self, v: TimeRange) -> Self {
        self.finish_time = Some(v);
        self
    }
    /// Sets `Sort`.
    pub fn with_sort(mut self, v: SortBy) -> Self {
        self.sort = Some(v);
        self
    }
    /// Sets `Limit` (1–100).
    pub fn with_limit(mut self, v: u64) -> Self {
        self.limit = Some(v);
        self
    }
    /// Sets `ScrollToken`.
    pub fn with_scroll_token(mut self, v: impl Into<String>) -> Self {
        self.scroll_token = Some(v.into());
        self
    }
}

lenient_struct! {
    /// `TaskSimpleInfo`: one row of `DescribeTasks`.
    rename_all = "PascalCase";
    pub struct TaskSimpleInfo {
        /// Task id.
        pub task_id: Option<String>,
        /// `WAITING`, `PROCESSING`, `FINISH` or `ABORTED`.
        pub status: Option<String>,
        /// FileId the task works on.
        pub file_id: Option<String>,
        /// `Procedure`, `EditMedia`, `ReviewAudioVideo`, `Transcode`…
        pub task_type: Option<String>,
        /// Creation time, ISO 8601.
        pub create_time: Option<String>,
        /// Start of processing, ISO 8601 (empty before).
        pub begin_process_time: Option<String>,
        /// End of processing, ISO 8601 (empty before).
        pub finish_time: Option<String>,
        /// Deduplication id.
        pub session_id: Option<String>,
        /// Source context.
        pub session_context: Option<String>,
    }
}

/// `DescribeTasks` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeTasksResponse {
    /// The tasks of this page; `null` or absent reads as empty.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub task_set: Vec<TaskSimpleInfo>,
    /// Token of the next page; absent or `""` on the last page.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub scroll_token: Option<String>,
    /// Request id.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
}

impl DescribeTasksResponse {
    /// The token of the next page, `None` on the last page (absent or `""`).
    pub fn next_token(&self) -> Option<&str> {
        self.scroll_token.as_deref().filter(|t| !t.is_empty())
    }
}

/// `DescribeTaskDetail` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeTaskDetailRequest {
    /// Task id. Required.
    pub task_id: String,
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

impl DescribeTaskDetailRequest {
    /// A request for this task.
    pub fn new(task_id: impl Into<String>) -> Self {
        DescribeTaskDetailRequest {
            task_id: task_id.into(),
            sub_app_id: None,
        }
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }
}

lenient_struct! {
    /// `DescribeTaskDetail` response. `ProcedureTask` and `PullUploadTask` are typed; the other per-type members (`EditMediaTask`,
    /// `ReviewAudioVideoTask`, …) are kept in `extra`.
    rename_all = "PascalCase";
    pub struct DescribeTaskDetailResponse {
        /// `Procedure`, `EditMedia`, `ReviewAudioVideo`, …
        pub task_type: Option<String>,
        /// `WAITING`, `PROCESSING`, `FINISH` or `ABORTED`.
        pub status: Option<String>,
        /// Creation time, ISO 8601.
        pub create_time: Option<String>,
        /// Start of processing, ISO 8601.
        pub begin_process_time: Option<String>,
        /// End of processing, ISO 8601.
        pub finish_time: Option<String>,
        /// Details of a `Procedure` task.
        pub procedure_task: Option<ProcedureTask>,
        /// Details of a `PullUpload` task.
        pub pull_upload_task: Option<PullUploadTask>,
        /// Request id.
        pub request_id: Option<String>,
    }
}

impl DescribeTaskDetailResponse {
    /// The status, parsed.
    pub fn task_status(&self) -> TaskStatus {
        TaskStatus::parse(self.status.as_deref().unwrap_or_default())
    }
}

impl TaskSimpleInfo {
    /// The status, parsed.
    pub fn task_status(&self) -> TaskStatus {
        TaskStatus::parse(self.status.as_deref().unwrap_or_default())
    }
}

/// A task's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// `WAITING`.
    Waiting,
    /// `PROCESSING`.
    Processing,
    /// `FINISH` (which includes tasks whose sub-tasks failed: check the per-sub-task `ErrCode`).
    Finish,
    /// `ABORTED`.
    Aborted,
    /// Anything else (kept verbatim; `""` when absent).
    Other(String),
}

impl TaskStatus {
    /// Parses the wire value (case-insensitively).
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "WAITING" => TaskStatus::Waiting,
            "PROCESSING" => TaskStatus::Processing,
            "FINISH" => TaskStatus::Finish,
            "ABORTED" => TaskStatus::Aborted,
            _ => TaskStatus::Other(s.to_string()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Waiting => "WAITING",
            TaskStatus::Processing => "PROCESSING",
            TaskStatus::Finish => "FINISH",
            TaskStatus::Aborted => "ABORTED",
            TaskStatus::Other(s) => s,
        }
    }

    /// Whether the task will not change any more (`FINISH` or `ABORTED`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Finish | TaskStatus::Aborted)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
