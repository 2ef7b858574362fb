//! The seam under the transfer engine: the object operations it needs, as a trait.
//!
//! The engine ([`super::transfer`]: planning, the bounded part pipeline, the in-flight budget, the retry loop of
//! data writes, integrity checks, resume, abort and the credential-expiry stop) is written against
//! [`MultipartStore`], like object_store's `MultipartUpload` or opendal's `MultipartWrite`. [`CosClient`]
//! implements it over HTTP (signed, each operation but the data writes retried by itself); the engine's unit
//! tests implement it in memory, so its logic is tested without a server.

use super::ops::{CompleteAnswer, HeadObjectOutput, WriteResult};
use super::source::PartData;
use super::xml::{CompletePartXml, ListedPart};
use super::{CosClient, Ctx};
use crate::error::{CosOperation, Error, Result};
use crate::progress::ProgressTracker;
use crate::retry::RetryConfig;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What one data write goes to: a single PUT (`upload_id` and `part` unset) or one part of a multipart upload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteTarget<'a> {
    pub(crate) key: &'a str,
    pub(crate) upload_id: Option<&'a str>,
    pub(crate) part: Option<u32>,
    pub(crate) content_type: Option<&'a str>,
}

impl<'a> WriteTarget<'a> {
    /// A single `PUT Object`.
    pub(crate) fn put(key: &'a str, content_type: Option<&'a str>) -> Self {
        WriteTarget {
            key,
            upload_id: None,
            part: None,
            content_type,
        }
    }

    /// Part `number` of multipart upload `upload_id`.
    pub(crate) fn part(key: &'a str, upload_id: &'a str, number: u32) -> Self {
        WriteTarget {
            key,
            upload_id: Some(upload_id),
            part: Some(number),
            content_type: None,
        }
    }

    /// What names the request in errors and logs.
    pub(crate) fn ctx(&self) -> Ctx<'a> {
        Ctx {
            op: if self.part.is_some() {
                CosOperation::UploadPart
            } else {
                CosOperation::PutObject
            },
            key: self.key,
            upload_id: self.upload_id,
            part: self.part,
        }
    }
}

/// The object operations the transfer engine needs from a bucket.
pub(crate) trait MultipartStore: Clone + Send + Sync + 'static {
    /// The bucket (named in orphaned-upload reports).
    fn bucket(&self) -> &str;

    /// The retry policy the engine applies to data writes.
    fn retry(&self) -> &RetryConfig;

    /// Fails with [`Error::CredentialsExpired`] once the credentials have expired (nothing is sent after that).
    fn check_not_expired(&self, key: &str) -> Result<()>;

    /// The credential expiry (unix seconds) and how long until an in-flight multipart upload must stop so it
    /// can still be aborted with valid credentials; `None` for credentials that do not expire.
    fn abort_deadline(&self) -> Option<(i64, Duration)>;

    /// The error of a multipart upload stopped at its abort deadline.
    fn stopped_for_expiry(&self, expired_at: i64, key: &str) -> Error;

    /// One attempt of a data write, not retried (the engine retries). Reports bytes to `tracker` as they go out
    /// and rolls them back when the attempt fails; the CRC-64 is computed over the bytes actually sent.
    fn write_once(
        &self,
        target: WriteTarget<'_>,
        data: &PartData,
        md5: Option<&str>,
        chunk_size: usize,
        tracker: Option<&Arc<ProgressTracker>>,
    ) -> impl Future<Output = Result<WriteResult>> + Send;

    /// `HEAD Object`; `None` when there is no such object.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<HeadObjectOutput>>> + Send;

    /// Starts a multipart upload; returns its id.
    fn initiate(
        &self,
        key: &str,
        content_type: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send;

    /// The parts a multipart upload holds, ascending.
    fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<Vec<ListedPart>>> + Send;

    /// Completes a multipart upload from `parts` (ascending).
    fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletePartXml],
    ) -> impl Future<Output = Result<CompleteAnswer>> + Send;

    /// Aborts a multipart upload.
    fn abort(&self, key: &str, upload_id: &str) -> impl Future<Output = Result<()>> + Send;
}

impl MultipartStore for CosClient {
    fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    fn retry(&self) -> &RetryConfig {
        &self.inner.retry
    }

    fn check_not_expired(&self, key: &str) -> Result<()> {
        if let Some(exp) = self.inner.expiry
            && self.inner.clock.now() >= exp
        {
            return Err(Error::credentials_expired(exp, format!("upload of {key}")));
        }
        Ok(())
    }

    /// The expiry minus the [abort reserve](super::CosClientBuilder::with_abort_reserve), measured with the
    /// [clock](crate::Clock).
    fn abort_deadline(&self) -> Option<(i64, Duration)> {
        let exp = self.inner.expiry?;
        let left = self
            .inner
            .clock
            .until(exp)
            .saturating_sub(self.inner.abort_reserve);
        Some((exp, left))
    }

    fn stopped_for_expiry(&self, expired_at: i64, key: &str) -> Error {
        Error::credentials_expired(
            expired_at,
            format!(
                "the rest of the upload of {key} (stopped {} s before the temporary credentials expire, to \
                 abort the multipart upload while they are still valid)",
                self.inner.abort_reserve.as_secs_f64()
            ),
        )
    }

    fn write_once(
        &self,
        target: WriteTarget<'_>,
        data: &PartData,
        md5: Option<&str>,
        chunk_size: usize,
        tracker: Option<&Arc<ProgressTracker>>,
    ) -> impl Future<Output = Result<WriteResult>> + Send {
        CosClient::write_once(self, target, data, md5, chunk_size, tracker)
    }

    fn head(&self, key: &str) -> impl Future<Output = Result<Option<HeadObjectOutput>>> + Send {
        self.head_object(key)
    }

    async fn initiate(&self, key: &str, content_type: Option<&str>) -> Result<String> {
        Ok(self
            .initiate_multipart_upload(key, content_type)
            .await?
            .upload_id)
    }

    fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> impl Future<Output = Result<Vec<ListedPart>>> + Send {
        CosClient::list_parts(self, key, upload_id)
    }

    fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletePartXml],
    ) -> impl Future<Output = Result<CompleteAnswer>> + Send {
        self.complete_attempts(key, upload_id, parts)
    }

    fn abort(&self, key: &str, upload_id: &str) -> impl Future<Output = Result<()>> + Send {
        self.abort_multipart_upload(key, upload_id)
    }
}
