//! What an app backend needs beside its own uploads: signing uploads for its web and mobile clients, and asking
//! VOD to fetch media from a URL.
//!
//! - [`UploadSignature`] — the client-upload signature (客户端上传签名) a web or mobile uploader sends with
//!   `ApplyUploadUGC`: a typed builder with every documented parameter, and a decoder/verifier;
//! - [`PullUploadRequest`] / [`VodClient::pull_upload`](crate::VodClient::pull_upload) — `PullUpload` (拉取上传):
//!   VOD fetches the media itself; [`VodClient::wait_for_pull`](crate::VodClient::wait_for_pull) follows the task
//!   through `DescribeTaskDetail` to the FileId and URLs (or a [`Error::PullFailed`](crate::Error::PullFailed));
//! - [`UploadRequest::from_url`](crate::UploadRequest::from_url) — for a source the app can read but VOD cannot
//!   reach: the remote body is streamed through the normal multipart upload (bounded memory, no temp file).
//!
//! Verified event callbacks live with the other event code: [`CallbackVerifier`](crate::events::CallbackVerifier)
//! and [`VodApi::modify_event_config`](crate::vod::VodApi::modify_event_config).

pub mod pull;
pub mod signature;
mod url_source;

pub use pull::{
    MAX_PULL_SESSION_ID, PULL_COVER_TYPES, PULL_UPLOAD_TASK_TYPE, PullUploadOutcome,
    PullUploadRequest, PullUploadResponse, PullUploadTask,
};
pub use signature::{
    TaskNotifyMode, UploadSignature, UploadSignatureBuilder, UploadSignatureParams,
};
