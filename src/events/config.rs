//! `ModifyEventConfig` and `DescribeEventConfig`: how the account receives event notifications (normal callback
//! to a URL, or the reliable queue), which optional events it receives, and the callback key.
//!
//! API reference: <https://www.tencentcloud.com/document/api/266/57589> (ModifyEventConfig), both listed under
//! <https://cloud.tencent.com/document/api/266/33432>; member meanings from the `vod/v20180717` models of the
//! tencentcloud SDKs.

use super::lenient::{self, lenient_struct};
use super::verify::validate_sign_key;
use crate::error::{Error, Result};
use crate::vod::VodApi;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How events are delivered (`Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventMode {
    /// `PUSH`: normal callback, VOD POSTs each event to `NotificationUrl`.
    Push,
    /// `PULL`: reliable callback, events wait in a queue for `PullEvents` / `ConfirmEvents`.
    Pull,
}

impl EventMode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventMode::Push => "PUSH",
            EventMode::Pull => "PULL",
        }
    }

    /// Parses the wire value (case-insensitively).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PUSH" => Some(EventMode::Push),
            "PULL" => Some(EventMode::Pull),
            _ => None,
        }
    }
}

fn switch(on: bool) -> String {
    if on { "ON" } else { "OFF" }.to_string()
}

fn parse_switch(s: Option<&str>) -> Option<bool> {
    match s?.to_ascii_uppercase().as_str() {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    }
}

/// `ModifyEventConfig` request: every member optional; an absent member is left unchanged.
///
/// `Debug` hides the callback key.
///
/// ```
/// use tencent_vod::events::{EventMode, ModifyEventConfigRequest};
/// let req = ModifyEventConfigRequest::new()
///     .with_mode(EventMode::Push)
///     .with_notification_url("https://app.example.com/vod/callback")
///     .with_upload_media_complete_events(true)
///     .with_sign_key("Key123abc");
/// assert!(!format!("{req:?}").contains("Key123abc"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ModifyEventConfigRequest {
    /// `PUSH` or `PULL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// URL receiving v3 normal callbacks; `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// `ON` / `OFF`: receive "upload complete" (`NewFileUpload`) events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_media_complete_event_switch: Option<String>,
    /// `ON` / `OFF`: receive "delete complete" (`FileDeleted`) events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_media_complete_event_switch: Option<String>,
    /// `ON` / `OFF`: receive "clip persistence complete" events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_complete_event_switch: Option<String>,
    /// Callback key (1–32 letters and digits): normal callbacks then carry `Sign` = MD5(key + `T`) and `T`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_key: Option<String>,
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

impl fmt::Debug for ModifyEventConfigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModifyEventConfigRequest")
            .field("mode", &self.mode)
            .field("notification_url", &self.notification_url)
            .field(
                "upload_media_complete_event_switch",
                &self.upload_media_complete_event_switch,
            )
            .field(
                "delete_media_complete_event_switch",
                &self.delete_media_complete_event_switch,
            )
            .field(
                "persistence_complete_event_switch",
                &self.persistence_complete_event_switch,
            )
            .field("sign_key", &self.sign_key.as_ref().map(|_| "<redacted>"))
            .field("sub_app_id", &self.sub_app_id)
            .finish()
    }
}

impl ModifyEventConfigRequest {
    /// A request changing nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `Mode`.
    pub fn with_mode(mut self, mode: EventMode) -> Self {
        self.mode = Some(mode.as_str().into());
        self
    }
    /// Sets `NotificationUrl` (http or https).
    pub fn with_notification_url(mut self, url: impl Into<String>) -> Self {
        self.notification_url = Some(url.into());
        self
    }
    /// Clears `NotificationUrl` (sends `""`).
    pub fn clear_notification_url(mut self) -> Self {
        self.notification_url = Some(String::new());
        self
    }
    /// Sets `UploadMediaCompleteEventSwitch`.
    pub fn with_upload_media_complete_events(mut self, on: bool) -> Self {
        self.upload_media_complete_event_switch = Some(switch(on));
        self
    }
    /// Sets `DeleteMediaCompleteEventSwitch`.
    pub fn with_delete_media_complete_events(mut self, on: bool) -> Self {
        self.delete_media_complete_event_switch = Some(switch(on));
        self
    }
    /// Sets `PersistenceCompleteEventSwitch`.
    pub fn with_persistence_complete_events(mut self, on: bool) -> Self {
        self.persistence_complete_event_switch = Some(switch(on));
        self
    }
    /// Sets `SignKey`.
    pub fn with_sign_key(mut self, key: impl Into<String>) -> Self {
        self.sign_key = Some(key.into());
        self
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }

    /// Checks every member: mode, URL (http/https, or `""`), switches (`ON`/`OFF`), key (1–32 letters and digits).
    pub fn validate(&self) -> Result<()> {
        if let Some(m) = &self.mode
            && EventMode::parse(m).is_none()
        {
            return Err(Error::invalid("Mode", format!("{m:?} is not PUSH or PULL")));
        }
        if let Some(u) = self.notification_url.as_deref().filter(|u| !u.is_empty()) {
            let ok = url::Url::parse(u)
                .ok()
                .filter(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if ok.is_none() {
                return Err(Error::invalid(
                    "NotificationUrl",
                    "is not an http or https URL",
                ));
            }
        }
        for (name, v) in [
            (
                "UploadMediaCompleteEventSwitch",
                &self.upload_media_complete_event_switch,
            ),
            (
                "DeleteMediaCompleteEventSwitch",
                &self.delete_media_complete_event_switch,
            ),
            (
                "PersistenceCompleteEventSwitch",
                &self.persistence_complete_event_switch,
            ),
        ] {
            if let Some(s) = v
                && parse_switch(Some(s)).is_none()
            {
                return Err(Error::invalid(name, format!("{s:?} is not ON or OFF")));
            }
        }
        if let Some(k) = &self.sign_key {
            validate_sign_key("SignKey", k)?;
        }
        if self.sub_app_id == Some(0) {
            return Err(Error::invalid("SubAppId", "must be a positive integer"));
        }
        Ok(())
    }
}

/// `ModifyEventConfig` response (a request id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ModifyEventConfigResponse {
    /// Request id.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
}

/// `DescribeEventConfig` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeEventConfigRequest {
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

lenient_struct! {
    /// `DescribeEventConfig` response: the current notification settings. (The API does not return the callback
    /// key.)
    rename_all = "PascalCase";
    pub struct EventConfig {
        /// `PUSH` or `PULL`.
        pub mode: Option<String>,
        /// URL receiving v3 normal callbacks.
        pub notification_url: Option<String>,
        /// `ON` / `OFF`.
        pub upload_media_complete_event_switch: Option<String>,
        /// `ON` / `OFF`.
        pub delete_media_complete_event_switch: Option<String>,
        /// `ON` / `OFF`.
        pub persistence_complete_event_switch: Option<String>,
        /// Request id.
        pub request_id: Option<String>,
    }
}

impl EventConfig {
    /// `Mode`, parsed.
    pub fn event_mode(&self) -> Option<EventMode> {
        EventMode::parse(self.mode.as_deref()?)
    }
    /// Whether `NewFileUpload` events are received.
    pub fn upload_media_complete_events(&self) -> Option<bool> {
        parse_switch(self.upload_media_complete_event_switch.as_deref())
    }
    /// Whether `FileDeleted` events are received.
    pub fn delete_media_complete_events(&self) -> Option<bool> {
        parse_switch(self.delete_media_complete_event_switch.as_deref())
    }
    /// Whether clip-persistence events are received.
    pub fn persistence_complete_events(&self) -> Option<bool> {
        parse_switch(self.persistence_complete_event_switch.as_deref())
    }
}

impl VodApi {
    /// `ModifyEventConfig`: changes the members that are set (validated before any request).
    pub async fn modify_event_config(&self, req: &ModifyEventConfigRequest) -> Result<()> {
        req.validate()?;
        let _: ModifyEventConfigResponse = self.call("ModifyEventConfig", req).await?;
        Ok(())
    }

    /// `DescribeEventConfig`: the current notification settings of the application.
    pub async fn describe_event_config(&self, sub_app_id: Option<u64>) -> Result<EventConfig> {
        self.call(
            "DescribeEventConfig",
            &DescribeEventConfigRequest { sub_app_id },
        )
        .await
    }
}
