//! Typed requests and responses of the VOD API 3.0 actions this crate uses.
//!
//! Responses are deserialized leniently: unknown fields are ignored, optional members may be `null` or absent.
//! Fields without which an upload cannot proceed (`StorageBucket`, `VodSessionKey`, `FileId`…) are required, so a
//! response lacking them is an [`Error::InvalidResponse`](crate::Error::InvalidResponse) naming the field.

use crate::credential::Credential;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `ApplyUpload` request: all 12 members of the API.
///
/// ```
/// use tencent_vod::vod::ApplyUploadRequest;
/// let r = ApplyUploadRequest::new("mp4").with_media_name("demo").with_sub_app_id(1500000001u64);
/// assert_eq!(serde_json::to_string(&r).unwrap(),
///     r#"{"MediaType":"mp4","SubAppId":1500000001,"MediaName":"demo"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ApplyUploadRequest {
    /// Media type (file extension, lower-case): `mp4`, `m3u8`, `mpd`, `mp3`… Required.
    pub media_type: String,
    /// VOD application id (mandatory for accounts activated after 2023-12-25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
    /// Display name of the media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_name: Option<String>,
    /// Cover type (`jpg`, `png`…); needed to get a `CoverStoragePath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover_type: Option<String>,
    /// Task-flow template to run after the upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure: Option<String>,
    /// Media expiry, ISO 8601 (`2030-01-01T00:00:00Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Force a storage region, e.g. `ap-chongqing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_region: Option<String>,
    /// Category id (0 = other).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_id: Option<i64>,
    /// ≤ 250 characters, echoed in the upload-complete event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_context: Option<String>,
    /// ≤ 1000 characters, echoed in `ProcedureStateChanged` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<String>,
    /// Reserved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_info: Option<String>,
    /// Custom storage path starting with `/` ("FileID + Path" sub-apps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_storage_path: Option<String>,
}

impl ApplyUploadRequest {
    /// A request for the given media type.
    pub fn new(media_type: impl Into<String>) -> Self {
        ApplyUploadRequest {
            media_type: media_type.into(),
            ..Default::default()
        }
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
    /// Sets `CoverType`.
    pub fn with_cover_type(mut self, v: impl Into<String>) -> Self {
        self.cover_type = Some(v.into());
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
    pub fn with_class_id(mut self, v: i64) -> Self {
        self.class_id = Some(v);
        self
    }
    /// Sets `SourceContext`.
    pub fn with_source_context(mut self, v: impl Into<String>) -> Self {
        self.source_context = Some(v.into());
        self
    }
    /// Sets `SessionContext`.
    pub fn with_session_context(mut self, v: impl Into<String>) -> Self {
        self.session_context = Some(v.into());
        self
    }
    /// Sets `ExtInfo`.
    pub fn with_ext_info(mut self, v: impl Into<String>) -> Self {
        self.ext_info = Some(v.into());
        self
    }
    /// Sets `MediaStoragePath`.
    pub fn with_media_storage_path(mut self, v: impl Into<String>) -> Self {
        self.media_storage_path = Some(v.into());
        self
    }
}

/// `TempCertificate`: temporary COS credentials issued by `ApplyUpload`. `Debug` hides the key and token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct TempCertificate {
    /// Temporary SecretId.
    pub secret_id: String,
    /// Temporary SecretKey.
    pub secret_key: String,
    /// Session token, sent as `x-cos-security-token`.
    pub token: String,
    /// Expiry, unix seconds.
    pub expired_time: i64,
}

impl TempCertificate {
    /// Builds a certificate (mainly for tests and checkpoint stores).
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
        token: impl Into<String>,
        expired_time: i64,
    ) -> Self {
        TempCertificate {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            token: token.into(),
            expired_time,
        }
    }

    /// As a [`Credential`] (with token) for signing COS requests.
    pub fn credential(&self) -> Credential {
        Credential::new(&self.secret_id, &self.secret_key).with_token(&self.token)
    }
}

impl fmt::Debug for TempCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempCertificate")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"***")
            .field("token", &"***")
            .field("expired_time", &self.expired_time)
            .finish()
    }
}

/// `ApplyUpload` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ApplyUploadResponse {
    /// COS bucket, already including `-appid`.
    pub storage_bucket: String,
    /// COS region of the bucket.
    pub storage_region: String,
    /// Opaque session to pass to `CommitUpload`.
    pub vod_session_key: String,
    /// Media object path, with a leading `/`.
    pub media_storage_path: String,
    /// Cover object path (`null` when no `CoverType` was given).
    #[serde(default)]
    pub cover_storage_path: Option<String>,
    /// Temporary COS credentials (absent: the caller's own key is used for COS, as the official SDKs do).
    #[serde(default)]
    pub temp_certificate: Option<TempCertificate>,
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// `CommitUpload` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CommitUploadRequest {
    /// The session key from `ApplyUpload`. Required.
    pub vod_session_key: String,
    /// VOD application id (send the same one as on `ApplyUpload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

impl CommitUploadRequest {
    /// A commit of the given session.
    pub fn new(vod_session_key: impl Into<String>) -> Self {
        CommitUploadRequest {
            vod_session_key: vod_session_key.into(),
            sub_app_id: None,
        }
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id(mut self, v: u64) -> Self {
        self.sub_app_id = Some(v);
        self
    }
}

/// `CommitUpload` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CommitUploadResponse {
    /// The media's FileId.
    pub file_id: String,
    /// Playback URL of the media.
    #[serde(default)]
    pub media_url: Option<String>,
    /// URL of the cover (when one was uploaded).
    #[serde(default)]
    pub cover_url: Option<String>,
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// `ParseStreamingManifest` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ParseStreamingManifestRequest {
    /// Full text of the `.m3u8` / `.mpd`. Required.
    pub media_manifest_content: String,
    /// `m3u8` (default) or `mpd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_type: Option<String>,
}

impl ParseStreamingManifestRequest {
    /// A request for this manifest text.
    pub fn new(content: impl Into<String>) -> Self {
        ParseStreamingManifestRequest {
            media_manifest_content: content.into(),
            manifest_type: None,
        }
    }
    /// Sets `ManifestType` (`m3u8` or `mpd`).
    pub fn with_manifest_type(mut self, v: impl Into<String>) -> Self {
        self.manifest_type = Some(v.into());
        self
    }
}

/// `ParseStreamingManifest` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ParseStreamingManifestResponse {
    /// Segment paths, relative to the manifest.
    #[serde(default)]
    pub media_segment_set: Vec<String>,
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}
