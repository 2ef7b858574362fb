//! After the upload: event notifications and task tracking.
//!
//! `CommitUpload` returns the FileId but not the id of the `Procedure` task the upload started. That id, and the
//! task's progress, come from:
//!
//! 1. **event notifications** — the `NewFileUpload` event carries `FileUploadEvent.ProcedureTaskId`, a
//!    `ProcedureStateChanged` event reports the task flow's state. They arrive either
//!    - by *normal callback*: VOD POSTs the event to your URL → [`parse_callback`] (v3 and legacy v2 bodies), or
//!      [`CallbackVerifier`] to check the `Sign` / `T` VOD adds when a callback key is configured
//!      ([`VodApi::modify_event_config`]), or
//!    - by *reliable callback*: you long-poll [`VodApi::pull_events`] and acknowledge with
//!      [`VodApi::confirm_events`] **within 30 s**, or the events are delivered again. [`EventPoller`] does both.
//! 2. **task queries** — [`VodApi::describe_tasks`] (tasks of the last 72 h, filter by FileId) and
//!    [`VodApi::describe_task_detail`]; [`VodApi::find_procedure_task_id`] and [`VodApi::wait_for_task`] poll
//!    them with backoff.
//!
//! Everything an event or task answer contains is read **leniently**: every member is optional, `null` is
//! accepted, a member of an unexpected type is dropped (after trying number ⇄ string), members and event types
//! this crate does not know are kept (`extra` maps, [`Event::Other`]). Reading an event never fails because VOD
//! added or changed something.
//!
//! ```
//! use tencent_vod::events::{parse_callback, Event};
//! let body = br#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"5285890784273533167",
//!     "ProcedureTaskId":"1256768367-procedurev2-49dfbaea6786dd78ecf70d6256c7ec20t0","MetaData":null}}"#;
//! let cb = parse_callback(body)?;
//! match cb.event() {
//!     Event::NewFileUpload(u) => assert_eq!(u.file_id.as_deref(), Some("5285890784273533167")),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), tencent_vod::Error>(())
//! ```

mod api;
mod callback;
mod config;
pub(crate) mod lenient;
mod model;
mod poller;
pub(crate) mod verify;
pub(crate) mod wait;

pub use api::{
    ConfirmEventsRequest, ConfirmEventsResponse, DescribeTaskDetailRequest,
    DescribeTaskDetailResponse, DescribeTasksRequest, DescribeTasksResponse, MAX_EVENT_HANDLES,
    MAX_TASKS_LIMIT, PullEventsRequest, PullEventsResponse, SortBy, TaskSimpleInfo, TaskStatus,
    TimeRange,
};
pub use callback::{Callback, LegacyCallback, LegacyData, parse_callback};
pub use config::{
    DescribeEventConfigRequest, EventConfig, EventMode, ModifyEventConfigRequest,
    ModifyEventConfigResponse,
};
pub use model::{
    Event, EventContent, FILE_DELETED, FileDeleteEvent, FileDeleteResultItem, FileDeleteTask,
    FileUploadEvent, FileUploadTask, MediaBasicInfo, MediaDeleteItem, MediaMetaData,
    MediaSourceInfo, NEW_FILE_UPLOAD, PROCEDURE_STATE_CHANGED, PULL_COMPLETE,
    ProcedureStateChangeEvent, ProcedureTask, PullUploadTask,
};
pub use poller::{EventPoller, PollStats};
pub use verify::{
    CallbackVerifier, DEFAULT_CALLBACK_SKEW, DEFAULT_MAX_SIGN_VALIDITY, MAX_CALLBACK_SKEW,
    MAX_SIGN_KEY_LEN, MAX_SIGN_VALIDITY, VerifiedCallback, parse_callback_verified,
};
pub use wait::{PROCEDURE_TASK_TYPE, WaitOptions};
use wait::{find_procedure_task_id_with, wait_for_task_with};

use crate::error::{Error, Result};
use crate::vod::VodApi;
use std::time::Duration;

/// Client-side timeout of one `PullEvents` call: VOD holds an empty long poll up to 5 s, so the request timeout
/// must be well above that (VOD recommends 10 s).
pub(crate) const PULL_EVENTS_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a `PullEvents` error means "nothing to pull". The API reference documents an empty (or `null`)
/// `EventSet` for that, but some SDK error lists also give `ResourceNotFound` for `PullEvents`; both are treated
/// as no events.
fn is_no_events(e: &Error) -> bool {
    e.code()
        .is_some_and(|c| c == "ResourceNotFound" || c.starts_with("ResourceNotFound."))
}

impl VodApi {
    /// `PullEvents`: long-polls the reliable-callback queue for up to 16 events.
    ///
    /// VOD answers at once when events are waiting and otherwise holds the request up to 5 s; the call uses a
    /// 10 s client timeout. No events → `Ok(vec![])` (an empty or `null` `EventSet`, or a
    /// `ResourceNotFound` error). Every returned event must be acknowledged with
    /// [`confirm_events`](Self::confirm_events) within 30 s, or VOD delivers it again. Unpulled events are kept
    /// 4 days.
    pub async fn pull_events(&self, req: &PullEventsRequest) -> Result<Vec<EventContent>> {
        match self
            .call_with_timeout::<_, PullEventsResponse>("PullEvents", req, PULL_EVENTS_TIMEOUT)
            .await
        {
            Ok(r) => Ok(r.event_set),
            Err(e) if is_no_events(&e) => {
                tracing::debug!(error = %e, "PullEvents: no events");
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// `ConfirmEvents`: acknowledges pulled events by their `EventHandle`.
    ///
    /// Must follow the pull **within 30 s**, or the events are redelivered (and VOD rejects the stale handles).
    /// No handles → no request. More than [`MAX_EVENT_HANDLES`] (16) or an empty handle → [`Error::InvalidInput`]
    /// before any request is sent.
    pub async fn confirm_events<S: AsRef<str>>(
        &self,
        handles: &[S],
        sub_app_id: Option<u64>,
    ) -> Result<()> {
        if handles.is_empty() {
            return Ok(());
        }
        if handles.len() > MAX_EVENT_HANDLES {
            return Err(Error::invalid(
                "event_handles",
                format!(
                    "{} handles given; ConfirmEvents accepts at most {MAX_EVENT_HANDLES} per call",
                    handles.len()
                ),
            ));
        }
        if handles.iter().any(|h| h.as_ref().is_empty()) {
            return Err(Error::invalid("event_handles", "an event handle is empty"));
        }
        let mut req =
            ConfirmEventsRequest::new(handles.iter().map(|h| h.as_ref().to_string()).collect());
        req.sub_app_id = sub_app_id;
        let _: ConfirmEventsResponse = self.call("ConfirmEvents", &req).await?;
        Ok(())
    }

    /// `DescribeTasks`: one page of the tasks of the last 72 hours matching the filters. Follow
    /// [`DescribeTasksResponse::next_token`] with [`DescribeTasksRequest::with_scroll_token`] for the next page.
    ///
    /// `Limit` outside 1–100 → [`Error::InvalidInput`] before any request.
    pub async fn describe_tasks(
        &self,
        req: &DescribeTasksRequest,
    ) -> Result<DescribeTasksResponse> {
        if let Some(limit) = req.limit
            && !(1..=MAX_TASKS_LIMIT).contains(&limit)
        {
            return Err(Error::invalid(
                "limit",
                format!("{limit} is outside 1..={MAX_TASKS_LIMIT}"),
            ));
        }
        self.call("DescribeTasks", req).await
    }

    /// `DescribeTaskDetail`: status and results of a task of the last 3 days.
    pub async fn describe_task_detail(
        &self,
        task_id: &str,
        sub_app_id: Option<u64>,
    ) -> Result<DescribeTaskDetailResponse> {
        if task_id.is_empty() {
            return Err(Error::invalid("task_id", "must not be empty"));
        }
        let mut req = DescribeTaskDetailRequest::new(task_id);
        req.sub_app_id = sub_app_id;
        self.call("DescribeTaskDetail", &req).await
    }

    /// Polls `DescribeTaskDetail` with backoff until the task's status is `FINISH` or `ABORTED` and returns that
    /// detail; [`Error::DeadlineExceeded`] once `opts.deadline` has passed. API errors (after the client's own
    /// retries) end the wait.
    ///
    /// `FINISH` does not mean success: check the sub-task results in `procedure_task`.
    pub async fn wait_for_task(
        &self,
        task_id: &str,
        sub_app_id: Option<u64>,
        opts: WaitOptions,
    ) -> Result<DescribeTaskDetailResponse> {
        if task_id.is_empty() {
            return Err(Error::invalid("task_id", "must not be empty"));
        }
        wait_for_task_with(&opts, || self.describe_task_detail(task_id, sub_app_id)).await
    }

    /// Polls `DescribeTasks` (`FileId` filter, 100 per page, oldest first, following `ScrollToken`s) with
    /// backoff until a `Procedure` task for `file_id` appears; returns its task id, or
    /// [`Error::DeadlineExceeded`].
    ///
    /// Use it after `CommitUpload` when the upload named a `Procedure` and no event tells you the task id. A
    /// Procedure without media-processing or AI tasks starts no task, in which case this runs to the deadline.
    pub async fn find_procedure_task_id(
        &self,
        file_id: &str,
        sub_app_id: Option<u64>,
        opts: WaitOptions,
    ) -> Result<String> {
        find_procedure_task_id_with(file_id, &opts, |token| {
            let mut req = DescribeTasksRequest::new()
                .with_file_id(file_id)
                .with_limit(MAX_TASKS_LIMIT)
                .with_sort(SortBy::asc("CreateTime"))
                .with_sub_app_id_opt(sub_app_id);
            req.scroll_token = token;
            async move { self.describe_tasks(&req).await }
        })
        .await
    }
}
