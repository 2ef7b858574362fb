//! VOD v3 event notification models (`EventContent` and the per-type `*Event` members).
//!
//! Field names follow the API 3.0 models of `vod/v20180717` (tencentcloud-sdk-go / -python / -java): the
//! `FileUploadEvent` member is a `FileUploadTask`, `ProcedureStateChangeEvent` is a `ProcedureTask`. Everything is
//! read leniently (see the module docs of [`crate::events`]).

use super::lenient::lenient_struct;
use serde_json::Value;

/// Event type of an upload that completed (`NewFileUpload`).
pub const NEW_FILE_UPLOAD: &str = "NewFileUpload";
/// Event type of a task-flow (Procedure) state change (`ProcedureStateChanged`).
pub const PROCEDURE_STATE_CHANGED: &str = "ProcedureStateChanged";
/// Event type of a finished URL pull upload (`PullComplete`).
pub const PULL_COMPLETE: &str = "PullComplete";
/// Event type of a deletion (`FileDeleted`).
pub const FILE_DELETED: &str = "FileDeleted";

lenient_struct! {
    /// `MediaSourceInfo`: where the media came from.
    rename_all = "PascalCase";
    pub struct MediaSourceInfo {
        /// `Record`, `Upload`, `VideoProcessing`, `TrtcRecord`, `WebPageRecord`, `Unknown`…
        pub source_type: Option<String>,
        /// The `SourceContext` given to `ApplyUpload` (≤ 250 characters).
        pub source_context: Option<String>,
    }
}

lenient_struct! {
    /// `MediaBasicInfo`: name, URLs, category and storage of a media file.
    rename_all = "PascalCase";
    pub struct MediaBasicInfo {
        /// Media name.
        pub name: Option<String>,
        /// Description.
        pub description: Option<String>,
        /// Creation time, ISO 8601 (`2019-01-09T16:36:22Z`).
        pub create_time: Option<String>,
        /// Last update time, ISO 8601.
        pub update_time: Option<String>,
        /// Expiry, ISO 8601 (`9999-12-31T23:59:59Z` = never).
        pub expire_time: Option<String>,
        /// Category id (0 = other).
        pub class_id: Option<i64>,
        /// Category name.
        pub class_name: Option<String>,
        /// Category path.
        pub class_path: Option<String>,
        /// Cover URL (`""` when there is none).
        pub cover_url: Option<String>,
        /// Container / file type, e.g. `mp4`.
        pub r#type: Option<String>,
        /// Playback URL of the original file.
        pub media_url: Option<String>,
        /// Tags.
        pub tag_set: Option<Vec<String>>,
        /// Storage region, e.g. `ap-guangzhou-2`.
        pub storage_region: Option<String>,
        /// Where the media came from.
        pub source_info: Option<MediaSourceInfo>,
        /// Live-recording video id (equals the FileId for uploads in the doc example).
        pub vid: Option<String>,
        /// `Video`, `Audio` or `Image`.
        pub category: Option<String>,
        /// `Normal` or `Forbidden`.
        pub status: Option<String>,
        /// `STANDARD`, `STANDARD_IA`, `ARCHIVE` or `DEEP_ARCHIVE`.
        pub storage_class: Option<String>,
        /// Storage path ("FileID + Path" sub-applications only).
        pub storage_path: Option<String>,
    }
}

lenient_struct! {
    /// `MediaMetaData`: technical metadata of the original file (may be `null` in events).
    rename_all = "PascalCase";
    pub struct MediaMetaData {
        /// Size in bytes.
        pub size: Option<i64>,
        /// Container, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
        pub container: Option<String>,
        /// Sum of the stream bitrates, bit/s.
        pub bitrate: Option<i64>,
        /// Maximum video stream height, px.
        pub height: Option<i64>,
        /// Maximum video stream width, px.
        pub width: Option<i64>,
        /// Duration, seconds.
        pub duration: Option<f64>,
        /// Rotation, degrees.
        pub rotate: Option<i64>,
        /// Video streams (`MediaVideoStreamItem`), kept as JSON.
        pub video_stream_set: Option<Vec<Value>>,
        /// Audio streams (`MediaAudioStreamItem`), kept as JSON.
        pub audio_stream_set: Option<Vec<Value>>,
        /// Video duration, seconds.
        pub video_duration: Option<f64>,
        /// Audio duration, seconds.
        pub audio_duration: Option<f64>,
        /// MD5 of the file (only when requested).
        pub md5: Option<String>,
    }
}

lenient_struct! {
    /// `FileUploadEvent` (API model `FileUploadTask`): the body of a `NewFileUpload` event.
    rename_all = "PascalCase";
    pub struct FileUploadEvent {
        /// The new media's FileId.
        pub file_id: Option<String>,
        /// Basic information of the media.
        pub media_basic_info: Option<MediaBasicInfo>,
        /// Task id of the Procedure started by the upload (`""` when the Procedure had no media-processing / AI
        /// task or no Procedure was requested).
        pub procedure_task_id: Option<String>,
        /// Task id of the audio/video review started by the upload (`""` when none).
        pub review_audio_video_task_id: Option<String>,
        /// Metadata of the original file (`null` when not yet known).
        pub meta_data: Option<MediaMetaData>,
    }
}

/// The API 3.0 model name of [`FileUploadEvent`].
pub type FileUploadTask = FileUploadEvent;

lenient_struct! {
    /// `ProcedureStateChangeEvent` (API model `ProcedureTask`): a task flow's state; also
    /// `DescribeTaskDetail.ProcedureTask`.
    rename_all = "PascalCase";
    pub struct ProcedureStateChangeEvent {
        /// Task id, e.g. `1256768367-procedurev2-49dfbaea6786dd78ecf70d6256c7ec20t0`.
        pub task_id: Option<String>,
        /// `PROCESSING` or `FINISH`.
        pub status: Option<String>,
        /// Deprecated by VOD (see each sub-task's `ErrCode`); 0 = success.
        pub err_code: Option<i64>,
        /// Deprecated by VOD (see each sub-task's `Message`).
        pub message: Option<String>,
        /// FileId of the processed media.
        pub file_id: Option<String>,
        /// Name of the processed media.
        pub file_name: Option<String>,
        /// URL of the processed media.
        pub file_url: Option<String>,
        /// Metadata of the original file.
        pub meta_data: Option<MediaMetaData>,
        /// Media-processing sub-tasks and results (`MediaProcessTaskResult`), kept as JSON.
        pub media_process_result_set: Option<Vec<Value>>,
        /// Content-review sub-tasks and results, kept as JSON.
        pub ai_content_review_result_set: Option<Vec<Value>>,
        /// Content-analysis sub-tasks and results, kept as JSON.
        pub ai_analysis_result_set: Option<Vec<Value>>,
        /// Content-recognition sub-tasks and results, kept as JSON.
        pub ai_recognition_result_set: Option<Vec<Value>>,
        /// Priority, −10…10.
        pub tasks_priority: Option<i64>,
        /// `Finish`, `Change` or `None`.
        pub tasks_notify_mode: Option<String>,
        /// The `SessionContext` given when the task was started (≤ 1000 characters).
        pub session_context: Option<String>,
        /// Deduplication id given when the task was started.
        pub session_id: Option<String>,
        /// Operator type (newer API revisions).
        pub operator: Option<String>,
        /// Operation type (newer API revisions).
        pub operation_type: Option<String>,
    }
}

/// The API 3.0 model name of [`ProcedureStateChangeEvent`].
pub type ProcedureTask = ProcedureStateChangeEvent;

lenient_struct! {
    /// `PullUploadTask`: a `PullUpload` task — the body of a `PullComplete` event and
    /// `DescribeTaskDetail.PullUploadTask`.
    rename_all = "PascalCase";
    pub struct PullUploadTask {
        /// Task id.
        pub task_id: Option<String>,
        /// `PROCESSING` or `FINISH` (`WAITING` before it starts).
        pub status: Option<String>,
        /// 0 = success; 40000 invalid input, 60000 source file error, 70000 internal error.
        pub err_code: Option<i64>,
        /// Error message.
        pub message: Option<String>,
        /// FileId of the media created.
        pub file_id: Option<String>,
        /// Basic information of the media created (may be `null`).
        pub media_basic_info: Option<MediaBasicInfo>,
        /// Metadata of the media.
        pub meta_data: Option<MediaMetaData>,
        /// Playback URL.
        pub file_url: Option<String>,
        /// Task id of the `Procedure` started (`""` when none).
        pub procedure_task_id: Option<String>,
        /// Task id of the review started (`""` when none).
        pub review_audio_video_task_id: Option<String>,
        /// `SessionContext` of the request.
        pub session_context: Option<String>,
        /// `SessionId` of the request.
        pub session_id: Option<String>,
        /// Progress, 0–100.
        pub progress: Option<i64>,
    }
}

lenient_struct! {
    /// `MediaDeleteItem`: one part of a media that was deleted.
    rename_all = "PascalCase";
    pub struct MediaDeleteItem {
        /// `OriginalFiles`, `TranscodeFiles`, `AdaptiveDynamicStreamingFiles`, `WechatPublishFiles`…
        pub r#type: Option<String>,
        /// Template id of the deleted output (0 = every template).
        pub definition: Option<i64>,
    }
}

lenient_struct! {
    /// `FileDeleteResultItem`: what was deleted of one FileId.
    rename_all = "PascalCase";
    pub struct FileDeleteResultItem {
        /// The FileId.
        pub file_id: Option<String>,
        /// The parts deleted.
        pub delete_parts: Option<Vec<MediaDeleteItem>>,
    }
}

lenient_struct! {
    /// `FileDeleteEvent` (API model `FileDeleteTask`): the body of a `FileDeleted` event.
    rename_all = "PascalCase";
    pub struct FileDeleteEvent {
        /// The FileIds deleted.
        pub file_id_set: Option<Vec<String>>,
        /// What was deleted of each.
        pub file_delete_result_info: Option<Vec<FileDeleteResultItem>>,
    }
}

/// The API 3.0 model name of [`FileDeleteEvent`].
pub type FileDeleteTask = FileDeleteEvent;

lenient_struct! {
    /// `EventContent`: one event notification, as returned by `PullEvents` or POSTed to a callback URL (where
    /// `EventHandle` is absent).
    ///
    /// Exactly one `*Event` member is set for known types; every other member (including the event members of
    /// types this crate does not model, e.g. `EditMediaCompleteEvent`) is kept in `extra`. A signed normal
    /// callback also carries `Sign` and `T` (see [`CallbackVerifier`](crate::events::CallbackVerifier)); they end
    /// up in `extra` too.
    rename_all = "PascalCase";
    pub struct EventContent {
        /// Handle to pass to `ConfirmEvents` (reliable callback only); valid for 30 s.
        pub event_handle: Option<String>,
        /// `NewFileUpload`, `ProcedureStateChanged`, `FileDeleted`, `PullComplete`, `EditMediaComplete`…
        pub event_type: Option<String>,
        /// Set for `NewFileUpload`.
        pub file_upload_event: Option<FileUploadEvent>,
        /// Set for `ProcedureStateChanged`.
        pub procedure_state_change_event: Option<ProcedureStateChangeEvent>,
        /// Set for `PullComplete`.
        pub pull_complete_event: Option<PullUploadTask>,
        /// Set for `FileDeleted`.
        pub file_delete_event: Option<FileDeleteEvent>,
    }
}

/// A convenient view of an event: the types an uploading app sees, typed; everything else raw.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An upload completed.
    NewFileUpload(Box<FileUploadEvent>),
    /// A task flow changed state.
    ProcedureStateChanged(Box<ProcedureStateChangeEvent>),
    /// A `PullUpload` finished (check `err_code`).
    PullComplete(Box<PullUploadTask>),
    /// Media was deleted.
    FileDeleted(Box<FileDeleteEvent>),
    /// Any other event type (or a known type whose body was missing).
    Other {
        /// The event type (`""` when the notification named none).
        event_type: String,
        /// The whole notification as JSON.
        raw: Value,
    },
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl EventContent {
    /// The event type, `""` when absent.
    pub fn event_type(&self) -> &str {
        self.event_type.as_deref().unwrap_or_default()
    }

    /// The typed view of this event (clones the body).
    pub fn event(&self) -> Event {
        self.clone().into_event()
    }

    /// The typed view of this event.
    ///
    /// Each typed variant needs its body (`NewFileUpload` a `FileUploadEvent`, `ProcedureStateChanged` a
    /// `ProcedureStateChangeEvent`, `PullComplete` a `PullCompleteEvent`, `FileDeleted` a `FileDeleteEvent`); when
    /// the type is absent but exactly one such body is present, the body decides.
    pub fn into_event(self) -> Event {
        let bodies = [
            self.file_upload_event.is_some(),
            self.procedure_state_change_event.is_some(),
            self.pull_complete_event.is_some(),
            self.file_delete_event.is_some(),
        ];
        let only_body = bodies.iter().filter(|b| **b).count() == 1;
        let is = |name: &str| match self.event_type.as_deref() {
            Some(t) => t == name,
            None => only_body,
        };
        if is(NEW_FILE_UPLOAD)
            && let Some(e) = &self.file_upload_event
        {
            return Event::NewFileUpload(Box::new(e.clone()));
        }
        if is(PROCEDURE_STATE_CHANGED)
            && let Some(e) = &self.procedure_state_change_event
        {
            return Event::ProcedureStateChanged(Box::new(e.clone()));
        }
        if is(PULL_COMPLETE)
            && let Some(e) = &self.pull_complete_event
        {
            return Event::PullComplete(Box::new(e.clone()));
        }
        if is(FILE_DELETED)
            && let Some(e) = &self.file_delete_event
        {
            return Event::FileDeleted(Box::new(e.clone()));
        }
        let event_type = self.event_type.clone().unwrap_or_default();
        let raw = serde_json::to_value(&self).unwrap_or(Value::Null);
        Event::Other { event_type, raw }
    }

    /// The FileId the event is about: from the typed bodies, else from any `*Event` member's `FileId`.
    pub fn file_id(&self) -> Option<&str> {
        if let Some(id) = non_empty(
            self.file_upload_event
                .as_ref()
                .and_then(|e| e.file_id.as_deref()),
        ) {
            return Some(id);
        }
        if let Some(id) = non_empty(
            self.procedure_state_change_event
                .as_ref()
                .and_then(|e| e.file_id.as_deref()),
        ) {
            return Some(id);
        }
        if let Some(id) = non_empty(
            self.pull_complete_event
                .as_ref()
                .and_then(|e| e.file_id.as_deref()),
        ) {
            return Some(id);
        }
        if let Some(id) = non_empty(
            self.file_delete_event
                .as_ref()
                .and_then(|e| e.file_id_set.as_ref())
                .and_then(|s| s.first())
                .map(String::as_str),
        ) {
            return Some(id);
        }
        self.extra
            .iter()
            .filter(|(k, _)| k.ends_with("Event"))
            .find_map(|(_, v)| non_empty(v.get("FileId").and_then(Value::as_str)))
    }

    /// The Procedure task id: `FileUploadEvent.ProcedureTaskId` or `PullCompleteEvent.ProcedureTaskId` (when not
    /// `""`), or `ProcedureStateChangeEvent.TaskId`.
    pub fn procedure_task_id(&self) -> Option<&str> {
        non_empty(
            self.file_upload_event
                .as_ref()
                .and_then(|e| e.procedure_task_id.as_deref()),
        )
        .or_else(|| {
            non_empty(
                self.pull_complete_event
                    .as_ref()
                    .and_then(|e| e.procedure_task_id.as_deref()),
            )
        })
        .or_else(|| {
            non_empty(
                self.procedure_state_change_event
                    .as_ref()
                    .and_then(|e| e.task_id.as_deref()),
            )
        })
    }
}
