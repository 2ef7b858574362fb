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
    /// `EventContent`: one event notification, as returned by `PullEvents` or POSTed to a callback URL (where
    /// `EventHandle` is absent).
    ///
    /// Exactly one `*Event` member is set for known types; every other member (including the event members of
    /// types this crate does not model, e.g. `FileDeleteEvent`) is kept in `extra`.
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
    }
}

/// A convenient view of an event: the two types an uploader cares about, typed; everything else raw.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An upload completed.
    NewFileUpload(Box<FileUploadEvent>),
    /// A task flow changed state.
    ProcedureStateChanged(Box<ProcedureStateChangeEvent>),
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
    /// `NewFileUpload` needs a `FileUploadEvent` body, `ProcedureStateChanged` a `ProcedureStateChangeEvent` body;
    /// when the type is absent but exactly that body is present, the body decides.
    pub fn into_event(self) -> Event {
        let ty = self.event_type.as_deref();
        let upload = matches!(ty, Some(NEW_FILE_UPLOAD))
            || (ty.is_none() && self.procedure_state_change_event.is_none());
        let procedure = matches!(ty, Some(PROCEDURE_STATE_CHANGED))
            || (ty.is_none() && self.file_upload_event.is_none());
        if upload && let Some(e) = &self.file_upload_event {
            return Event::NewFileUpload(Box::new(e.clone()));
        }
        if procedure && let Some(e) = &self.procedure_state_change_event {
            return Event::ProcedureStateChanged(Box::new(e.clone()));
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
        self.extra
            .iter()
            .filter(|(k, _)| k.ends_with("Event"))
            .find_map(|(_, v)| non_empty(v.get("FileId").and_then(Value::as_str)))
    }

    /// The Procedure task id: `FileUploadEvent.ProcedureTaskId` (when not `""`) or
    /// `ProcedureStateChangeEvent.TaskId`.
    pub fn procedure_task_id(&self) -> Option<&str> {
        non_empty(
            self.file_upload_event
                .as_ref()
                .and_then(|e| e.procedure_task_id.as_deref()),
        )
        .or_else(|| {
            non_empty(
                self.procedure_state_change_event
                    .as_ref()
                    .and_then(|e| e.task_id.as_deref()),
            )
        })
    }
}
