//! Parsing the body VOD POSTs to an application's callback URL ("normal callback").
//!
//! Two shapes exist:
//!
//! - **v3** (current): the `EventContent` structure without `EventHandle`, e.g.
//!   `{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"…","ProcedureTaskId":"…",…}}`;
//! - **legacy v2** (apps configured before API 3.0): lower-camel-case keys,
//!   `{"version":"4.0","eventType":"NewFileUpload","data":{"fileId":"…","procedureTaskId":"…",…}}`.
//!
//! [`parse_callback`] detects which one it got. Reply `200` to VOD once the event is stored; VOD retries otherwise.

use super::lenient::lenient_struct;
use super::model::{
    Event, EventContent, FileUploadEvent, MediaBasicInfo, MediaSourceInfo, NEW_FILE_UPLOAD,
    PROCEDURE_STATE_CHANGED, ProcedureStateChangeEvent,
};
use crate::error::{Error, Result};
use serde_json::Value;

lenient_struct! {
    /// `data` of a legacy (v2) callback. Only the members an uploader needs are named; all others are kept in
    /// `extra`.
    rename_all = "camelCase";
    pub struct LegacyData {
        /// Status as text: `0` = success for `NewFileUpload` (a number on the wire), `PROCESSING` / `FINISH` for
        /// `ProcedureStateChanged`.
        pub status: Option<String>,
        /// Error message (when `status` ≠ 0).
        pub message: Option<String>,
        /// Error code (ProcedureStateChanged).
        pub err_code: Option<i64>,
        /// Task id of the event itself (e.g. the task flow for `ProcedureStateChanged`).
        pub vod_task_id: Option<String>,
        /// Task id (some legacy event types).
        pub task_id: Option<String>,
        /// The media's FileId.
        pub file_id: Option<String>,
        /// Media name.
        pub file_name: Option<String>,
        /// Playback URL of the original file.
        pub file_url: Option<String>,
        /// Cover URL.
        pub cover_url: Option<String>,
        /// Source type, e.g. `Upload`.
        pub source_type: Option<String>,
        /// `SourceContext` of the upload.
        pub source_context: Option<String>,
        /// Task id of the Procedure started by the upload (`""` when none).
        pub procedure_task_id: Option<String>,
        /// Task id of the transcode started by the upload (legacy `transcode` option).
        pub transcode_task_id: Option<String>,
        /// Metadata, kept as JSON (legacy lower-camel-case keys).
        pub meta_data: Option<Value>,
        /// `SessionContext` of the task.
        pub session_context: Option<String>,
        /// `SessionId` of the task.
        pub session_id: Option<String>,
    }
}

lenient_struct! {
    /// A legacy (v2) callback body: `{"version":"4.0","eventType":"…","data":{…}}`.
    rename_all = "camelCase";
    pub struct LegacyCallback {
        /// Protocol version, e.g. `4.0`.
        pub version: Option<String>,
        /// Event type, e.g. `NewFileUpload`, `ProcedureStateChanged`, `FileDeleted`.
        pub event_type: Option<String>,
        /// Event data.
        pub data: Option<LegacyData>,
    }
}

/// A parsed callback body.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Callback {
    /// The v3 (API 3.0) shape.
    V3(Box<EventContent>),
    /// The legacy v2 shape.
    Legacy(Box<LegacyCallback>),
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl Callback {
    /// The event type, `""` when absent.
    pub fn event_type(&self) -> &str {
        match self {
            Callback::V3(c) => c.event_type(),
            Callback::Legacy(l) => l.event_type.as_deref().unwrap_or_default(),
        }
    }

    /// The FileId the event is about.
    pub fn file_id(&self) -> Option<&str> {
        match self {
            Callback::V3(c) => c.file_id(),
            Callback::Legacy(l) => non_empty(l.data.as_ref().and_then(|d| d.file_id.as_deref())),
        }
    }

    /// The Procedure task id: of the upload (`NewFileUpload`) or of the task flow (`ProcedureStateChanged`).
    pub fn procedure_task_id(&self) -> Option<&str> {
        match self {
            Callback::V3(c) => c.procedure_task_id(),
            Callback::Legacy(l) => {
                let d = l.data.as_ref()?;
                non_empty(d.procedure_task_id.as_deref()).or_else(|| {
                    if l.event_type.as_deref() == Some(PROCEDURE_STATE_CHANGED) {
                        non_empty(d.vod_task_id.as_deref()).or(non_empty(d.task_id.as_deref()))
                    } else {
                        None
                    }
                })
            }
        }
    }

    /// The typed view. Legacy `NewFileUpload` / `ProcedureStateChanged` callbacks are mapped onto the v3 types
    /// (FileId, task ids, URLs, source, status, session members); other legacy events become [`Event::Other`]
    /// with the whole legacy body as `raw`.
    pub fn event(&self) -> Event {
        match self {
            Callback::V3(c) => c.event(),
            Callback::Legacy(l) => legacy_event(l),
        }
    }
}

fn legacy_event(l: &LegacyCallback) -> Event {
    let ty = l.event_type.as_deref().unwrap_or_default();
    match (ty, &l.data) {
        (NEW_FILE_UPLOAD, Some(d)) => {
            let source_info =
                (d.source_type.is_some() || d.source_context.is_some()).then(|| MediaSourceInfo {
                    source_type: d.source_type.clone(),
                    source_context: d.source_context.clone(),
                    ..Default::default()
                });
            let basic = MediaBasicInfo {
                name: d.file_name.clone(),
                media_url: d.file_url.clone(),
                cover_url: d.cover_url.clone(),
                source_info,
                ..Default::default()
            };
            Event::NewFileUpload(Box::new(FileUploadEvent {
                file_id: d.file_id.clone(),
                procedure_task_id: d.procedure_task_id.clone(),
                media_basic_info: Some(basic),
                ..Default::default()
            }))
        }
        (PROCEDURE_STATE_CHANGED, Some(d)) => {
            Event::ProcedureStateChanged(Box::new(ProcedureStateChangeEvent {
                task_id: d.vod_task_id.clone().or_else(|| d.task_id.clone()),
                status: d.status.clone(),
                err_code: d.err_code,
                message: d.message.clone(),
                file_id: d.file_id.clone(),
                file_name: d.file_name.clone(),
                file_url: d.file_url.clone(),
                session_context: d.session_context.clone(),
                session_id: d.session_id.clone(),
                ..Default::default()
            }))
        }
        _ => Event::Other {
            event_type: ty.to_string(),
            raw: serde_json::to_value(l).unwrap_or(Value::Null),
        },
    }
}

const OPERATION: &str = "callback body";

/// Parses a callback body POSTed by VOD, detecting the v3 and the legacy v2 shape.
///
/// Lenient: unknown event types and members are kept, `null` members are accepted, a member of an unexpected type
/// is dropped rather than failing the whole body. A body that is not a JSON object (empty, truncated, an array…)
/// is an [`Error::InvalidInput`] naming `callback body`; this function never panics.
///
/// An object with a top-level `eventType` or `data` + `version` (and no `EventType`) is legacy; anything else is
/// read as v3 (an object naming no event type at all reads as an [`Event::Other`] with an empty type).
///
/// ```
/// use tencent_vod::events::{parse_callback, Callback};
/// let cb = parse_callback(br#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"528","ProcedureTaskId":""}}"#)?;
/// assert!(matches!(cb, Callback::V3(_)));
/// assert_eq!(cb.file_id(), Some("528"));
/// assert_eq!(cb.procedure_task_id(), None);
/// # Ok::<(), tencent_vod::Error>(())
/// ```
pub fn parse_callback(body: &[u8]) -> Result<Callback> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let reason = if e.is_eof() {
            format!("truncated or empty JSON ({e})")
        } else {
            format!("not JSON ({e})")
        };
        Error::invalid(OPERATION, reason)
    })?;
    let Value::Object(obj) = &value else {
        return Err(Error::invalid(
            OPERATION,
            format!("expected a JSON object, got {}", json_kind(&value)),
        ));
    };
    let legacy = !obj.contains_key("EventType")
        && (obj.contains_key("eventType")
            || (obj.contains_key("data") && obj.contains_key("version")));
    // Both structs only have lenient members, so deserializing an object cannot fail; map the error anyway.
    let fail = |e: serde_json::Error| Error::invalid(OPERATION, format!("unreadable body ({e})"));
    if legacy {
        let l: LegacyCallback = serde_json::from_value(value).map_err(fail)?;
        Ok(Callback::Legacy(Box::new(l)))
    } else {
        let c: EventContent = serde_json::from_value(value).map_err(fail)?;
        Ok(Callback::V3(Box::new(c)))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
