//! The VOD API 3.0 wire of the mock: error answers, the response envelope and request member readers, shared by
//! the upload actions ([`crate::vod`]) and the event and task actions ([`crate::events`]).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// An API 3.0 error answer (`Response.Error.{Code,Message}`).
pub(crate) struct VodErr {
    pub code: String,
    pub message: String,
}

pub(crate) fn err(code: &str, message: impl Into<String>) -> VodErr {
    VodErr {
        code: code.to_string(),
        message: message.into(),
    }
}

pub(crate) fn missing(name: &str) -> VodErr {
    err(
        "MissingParameter",
        format!("The request is missing a required parameter `{name}`."),
    )
}

/// The API 3.0 envelope (HTTP 200) of a result or an error, with `RequestId`.
pub(crate) fn envelope(request_id: &str, result: Result<Value, VodErr>) -> Response {
    let body = match result {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.insert("RequestId".into(), Value::String(request_id.to_string()));
            }
            json!({ "Response": v })
        }
        Err(e) => json!({"Response": {
            "Error": {"Code": e.code, "Message": e.message},
            "RequestId": request_id,
        }}),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn get_str(m: &Map<String, Value>, name: &str) -> Result<Option<String>, VodErr> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(err(
            "InvalidParameter",
            format!("The parameter `{name}` must be a string."),
        )),
    }
}

pub(crate) fn get_u64(
    m: &Map<String, Value>,
    name: &str,
    code: &str,
) -> Result<Option<u64>, VodErr> {
    let bad = || {
        err(
            code,
            format!("The parameter `{name}` must be a positive integer."),
        )
    };
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// `2019-01-09T16:36:22Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    dt.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}
