//! # tencent-vod
//!
//! Async server-side upload SDK for [Tencent Cloud VOD](https://cloud.tencent.com/product/vod) (云点播).
//!
//! Server-side upload is three steps, and this crate does all of them:
//!
//! 1. **ApplyUpload** (VOD API 3.0, TC3-HMAC-SHA256 signed): VOD answers with a COS bucket, storage paths, a
//!    session key and temporary COS credentials;
//! 2. **upload to COS** with those credentials: single PUT or parallel multipart, CRC-64 verified;
//! 3. **CommitUpload**: VOD answers with the `FileId` and URLs and starts the processing `Procedure`.
//!
//! The data flows one way through the modules:
//!
//! ```text
//! credential -> sign::{tc3, v1, cos} -> transport (HTTP client, clock, body caps, endpoints)
//!            -> vod (API 3.0) / cos (object API) -> upload -> client (VodClient)
//! events (tasks, event notifications, verified callbacks), media (SearchMedia, DescribeMediaInfos) and
//! appserver (client-upload signatures, PullUpload, uploads from a URL) sit beside upload and use vod;
//! error, retry, progress: shared by all
//! ```
//!
//! The signature-checking mock VOD + COS server for tests is the separate crate `tencent-vod-mock` (a
//! dev-dependency); the operator CLI is `tencent-vod-cli` (binary `tvod`).
//!
//! Secrets (SecretKey, session tokens, temporary credentials, `Authorization` values) never appear in `Debug`,
//! `Display`, logs or errors.
#![warn(missing_docs)]
#![warn(rust_2018_idioms)]
#![deny(unsafe_code)]

pub mod appserver;
pub mod client;
pub mod cos;
pub mod credential;
pub mod error;
pub mod events;
pub mod manifest;
pub mod media;
pub mod progress;
pub mod retry;
pub mod sign;
pub mod transport;
pub mod upload;
pub mod vod;

pub use appserver::{PullUploadRequest, UploadSignature};
pub use client::{VodClient, VodClientBuilder};
pub use cos::{CosClient, CosClientBuilder};
pub use credential::{
    Credential, DefaultCredentialChain, EnvCredentialProvider, ProfileCredentialProvider,
    ProvideCredential,
};
pub use error::{Error, Result};
pub use events::{
    Callback, CallbackVerifier, Event, EventPoller, WaitOptions, parse_callback,
    parse_callback_verified,
};
pub use retry::{Idempotency, RetryConfig};
pub use sign::SignMethod;
pub use upload::{COVER_TYPES, MEDIA_TYPES, UploadOutcome, UploadProgress, UploadRequest};
pub use upload::{Checkpoint, CheckpointStore, JsonFileCheckpointStore, MemoryCheckpointStore};

/// Internals shared with the workspace's own crates (the mock server `tencent-vod-mock`, the fuzz targets and the
/// benchmarks). Not part of the documented API: no stability promise, may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::cos::{crc64, crc64_combine};
    pub use crate::manifest;
    pub use crate::sign::{cos as cos_sign, tc3, v1};
    pub use crate::vod::{API_VERSION as VOD_API_VERSION, SERVICE as VOD_SERVICE};

    /// Checks a region name the way the SDK does (`field` names the parameter in the error).
    pub fn validate_region(field: &str, region: &str) -> crate::Result<()> {
        crate::transport::endpoint::validate_region(field, region)
    }
}

/// The README's examples are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
