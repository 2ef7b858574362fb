//! # tencent-vod
//!
//! Async server-side upload SDK for [Tencent Cloud VOD](https://cloud.tencent.com/product/vod) (云点播).
//!
//! Server-side upload is three steps, and [`VodClient::upload`] does all of them:
//!
//! 1. **ApplyUpload** (VOD API 3.0, TC3-HMAC-SHA256 signed): VOD answers with a COS bucket, storage paths, a
//!    session key and temporary COS credentials;
//! 2. **upload to COS** with those credentials: single PUT or parallel multipart, CRC-64 verified, retried;
//! 3. **CommitUpload**: VOD answers with the `FileId` and URLs and starts the processing `Procedure`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mock = tencent_vod_mock::MockServer::start().await?;
//! # let (secret_id, secret_key) = (mock.credential().secret_id().to_owned(), mock.credential().secret_key().to_owned());
//! # let dir = tempfile::tempdir()?;
//! # let video = dir.path().join("movie.mp4");
//! # std::fs::write(&video, vec![7u8; 3 << 20])?;
//! use tencent_vod::{Credential, ProgressEvent, UploadRequest, VodClient};
//!
//! // Or `VodClient::from_env()?`: TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION.
//! let client = VodClient::builder()
//!     .with_credential(Credential::new(secret_id, secret_key))
//!     .with_region("ap-guangzhou")
//! #   .with_vod_endpoint(mock.vod_endpoint())
//! #   .with_cos_endpoint(mock.cos_endpoint())
//!     .build()?;
//! let out = client
//!     .upload(
//!         UploadRequest::from_path(&video)
//!             .with_procedure("LongVideoPreset")
//!             .with_progress(|p| {
//!                 if p.event == ProgressEvent::ObjectDone {
//!                     println!("{}: {} bytes", p.object, p.object_bytes_sent);
//!                 }
//!             }),
//!     )
//!     .await?;
//! println!("FileId {}, playable at {:?}", out.file_id, out.media_url);
//! # assert_eq!(mock.commits()[0].file_id, out.file_id);
//! # Ok(()) }
//! ```
//!
//! # Where to look
//!
//! - [`VodClient`] / [`VodClientBuilder`]: credentials ([`Credential`], [`DefaultCredentialChain`]), region,
//!   endpoints, [`RetryConfig`], [`TransferConfig`] (part size, multipart threshold, parts in flight, integrity).
//! - [`UploadRequest`] → [`UploadOutcome`]: a file, bytes or a reader (or a URL), a cover, every ApplyUpload
//!   field, HLS/DASH manifests with their segments, [`Progress`] reports, cancellation ([`CancellationToken`]) and
//!   deadline, resumable [checkpoints](CheckpointStore). [`VodClient::start_upload`] runs one as an
//!   [`UploadHandle`]. The guarantees are in [`upload`].
//! - [`Error`]: one error type; [`Error::is_retryable`], [`Error::code`], [`Error::request_id`]; details in
//!   [`error`].
//! - [`CosClient`]: the COS transfer engine on its own, for any bucket ([`cos`]).
//! - [`events`]: tasks, event notifications, verified callbacks; [`media`]: `SearchMedia`,
//!   `DescribeMediaInfos`; [`appserver`]: client-upload signatures, `PullUpload`; [`vod::VodApi`]: any VOD API
//!   3.0 action.
//! - [`Clock`]: the time every signature and expiry check reads, corrected from the services' `Date` headers.
//!
//! # Testing
//!
//! `tencent-vod-mock` (a dev-dependency) is an in-process VOD + COS server that verifies every signature like
//! the real services, stores what it receives and injects faults: point a client at it with
//! `MockServer::client_builder()`, upload, then assert on the stored objects and the commits. The operator CLI
//! is `tencent-vod-cli` (binary `tvod`).
//!
//! # Secrets
//!
//! Secrets (SecretKey, session tokens, temporary credentials, `Authorization` values) never appear in `Debug`,
//! `Display`, logs or errors.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![deny(unsafe_code, rustdoc::broken_intra_doc_links)]

pub mod appserver;
pub mod client;
pub mod cos;
pub mod credential;
pub mod error;
pub mod events;
mod manifest;
pub mod media;
mod progress;
mod retry;
mod sign;
pub(crate) mod transport;
pub mod upload;
pub mod vod;

pub use appserver::{PullUploadRequest, UploadSignature};
pub use client::{VodClient, VodClientBuilder};
pub use cos::{BandwidthLimit, ConcurrencyBudget, CosClient, CosClientBuilder, TransferConfig};
pub use credential::{
    Credential, DefaultCredentialChain, EnvCredentialProvider, ProfileCredentialProvider,
    ProvideCredential,
};
pub use error::{Error, Result};
pub use events::{
    Callback, CallbackVerifier, Event, EventPoller, WaitOptions, parse_callback,
    parse_callback_verified,
};
pub use progress::{Progress, ProgressEvent};
pub use retry::{Idempotency, RetryConfig, RetryCounter};
pub use sign::SignMethod;
pub use tokio_util::sync::CancellationToken;
pub use transport::{Clock, TimeSource};
pub use upload::{COVER_TYPES, MEDIA_TYPES, UploadHandle, UploadOutcome, UploadRequest};
pub use upload::{Checkpoint, CheckpointStore, JsonFileCheckpointStore, MemoryCheckpointStore};

/// Internals shared with the workspace's own crates (the mock server `tencent-vod-mock`, the fuzz targets, the
/// benchmarks) and the integration tests. Not part of the documented API: no stability promise, may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use crate::cos::crc::{Crc64, crc64, crc64_combine, crc64_combine_all};
    pub use crate::cos::plan::PartPlan;
    pub use crate::events::verify::callback_sign;
    pub use crate::events::wait::{find_procedure_task_id_with, wait_for_task_with};
    pub use crate::sign::{cos as cos_sign, tc3, v1};
    use crate::{CosClient, Result, TransferConfig};
    use bytes::Bytes;

    /// The VOD API version the SDK speaks (`X-TC-Version`).
    pub const VOD_API_VERSION: &str = crate::vod::API_VERSION;
    /// The TC3 service name of VOD.
    pub const VOD_SERVICE: &str = crate::vod::SERVICE;

    /// HLS / DASH manifest parsing (the segment references a manifest names).
    pub mod manifest {
        pub use crate::manifest::{parse_m3u8, parse_mpd};

        /// Every file the manifest tree at `root` references, as (path relative to the top manifest's
        /// directory, canonical path): the SDK's local check before ApplyUpload (symbolic links resolved inside
        /// the manifest's directory, nesting and size limits, loops refused), without a client.
        pub async fn local_files(
            root: &std::path::Path,
        ) -> crate::Result<Vec<(String, std::path::PathBuf)>> {
            crate::upload::local_segments(root).await
        }
    }

    /// The COS XML wire types and parsers.
    pub mod cos_xml {
        pub use crate::cos::xml::{
            CompleteMultipartUpload, CompleteMultipartUploadResult, CompletePartXml, ErrorBody,
            InitiateMultipartUploadResult, ListPartsResult, ListedPart, XmlResponse,
            parse_document, parse_error_body, parse_response,
        };
    }

    /// Checks a region name the way the SDK does (`field` names the parameter in the error).
    pub fn validate_region(field: &str, region: &str) -> Result<()> {
        crate::transport::endpoint::validate_region(field, region)
    }

    /// Reads a VOD API 3.0 answer: the `Response` object, or the error it carries.
    pub fn parse_envelope(action: &str, status: u16, body: &[u8]) -> Result<serde_json::Value> {
        crate::vod::parse_envelope(action, status, body)
    }

    /// An excerpt of a response body with secret values replaced by `***`.
    pub fn redact_excerpt(body: &[u8], max: usize) -> String {
        crate::error::redact_excerpt(body, max)
    }

    /// `config` with COS's 1 MiB part-size floor lowered to `bytes` (for tests against the mock, which can be
    /// told to accept small parts; real COS rejects them at Complete with `EntityTooSmall`).
    pub fn with_min_part_size_unchecked(config: TransferConfig, bytes: u64) -> TransferConfig {
        config.with_min_part_size_unchecked(bytes)
    }

    /// One `PUT Object` of an in-memory body; returns the ETag.
    pub async fn put_object(cos: &CosClient, key: &str, body: Bytes) -> Result<String> {
        Ok(cos.put_object(key, body).await?.etag)
    }

    /// Initiate Multipart Upload; returns the upload id.
    pub async fn initiate_multipart_upload(cos: &CosClient, key: &str) -> Result<String> {
        Ok(cos.initiate_multipart_upload(key, None).await?.upload_id)
    }

    /// One Upload Part of an in-memory body; returns the ETag.
    pub async fn upload_part(
        cos: &CosClient,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<String> {
        Ok(cos
            .upload_part(key, upload_id, part_number, body)
            .await?
            .etag)
    }
}

/// The README's examples are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
