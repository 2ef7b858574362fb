//! The COS object operations (one retried, re-signed request each).

use super::source::{AttemptMeter, PartData};
use super::store::WriteTarget;
use super::transfer::Engine;
use super::xml::{self, CompletePartXml, InitiateMultipartUploadResult, ListedPart, Parsed};
use super::{CosClient, Ctx, RawResponse, TransferConfig, validate_key};
use crate::error::{CosOperation, Error, Result};
use crate::progress::ProgressTracker;
use bytes::Bytes;
use reqwest::Method;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The CRC header COS sends on object writes (decimal unsigned 64-bit).
pub(crate) const CRC_HEADER: &str = "x-cos-hash-crc64ecma";

/// What `PUT Object` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct PutObjectOutput {
    /// `ETag` (quotes included), empty if the server sent none.
    pub etag: String,
    /// CRC-64 computed locally over the body sent.
    pub crc64: u64,
    /// CRC-64 reported by COS (`x-cos-hash-crc64ecma`), if sent.
    pub server_crc64: Option<u64>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

/// What `Complete Multipart Upload` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct CompleteMultipartUploadOutput {
    /// The object's ETag (`"…-N"`).
    pub etag: String,
    /// `<Location>`.
    pub location: Option<String>,
    /// CRC-64 of the whole object reported by COS, if sent.
    pub server_crc64: Option<u64>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

/// What `HEAD Object` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadObjectOutput {
    /// `Content-Length`.
    pub size: u64,
    /// `ETag`.
    pub etag: Option<String>,
    /// `x-cos-hash-crc64ecma`.
    pub crc64: Option<u64>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

/// What the Complete Multipart Upload attempts came to.
pub(crate) enum CompleteAnswer {
    /// COS answered the completion.
    Completed(CompleteMultipartUploadOutput),
    /// An attempt's answer was lost (reset, timeout, 5xx) and a retry met `NoSuchUpload`: the lost attempt most
    /// likely completed the upload. The object must be checked (HEAD: size and CRC-64) before it counts.
    GoneAfterLostAnswer(Error),
}

/// Result of one data write (PUT or part), before integrity checks.
pub(crate) struct WriteResult {
    pub etag: Option<String>,
    pub local_crc: u64,
    pub server_crc: Option<u64>,
    pub request_id: Option<String>,
}

fn parse_crc(ctx: Ctx<'_>, resp: &RawResponse) -> Result<Option<u64>> {
    match resp.header(CRC_HEADER) {
        None => Ok(None),
        Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            Error::invalid_response(
                ctx.op.as_str(),
                resp.status,
                format!("{CRC_HEADER} {v:?} is not a decimal u64"),
                b"",
                resp.request_id(),
            )
        }),
    }
}

/// Compares a locally computed CRC with the server's, per the config.
pub(crate) fn verify_crc(
    cfg: &TransferConfig,
    ctx: Ctx<'_>,
    local: u64,
    server: Option<u64>,
    request_id: Option<String>,
) -> Result<()> {
    if !cfg.verify_crc() {
        return Ok(());
    }
    match server {
        Some(s) if s == local => Ok(()),
        Some(s) => Err(Error::Integrity {
            object: ctx.key.to_string(),
            part: ctx.part,
            expected: local,
            actual: s,
        }),
        None if cfg.require_crc() => Err(Error::invalid_response(
            ctx.op.as_str(),
            200,
            format!("no {CRC_HEADER} header, and require_crc is set"),
            b"",
            request_id,
        )),
        None => {
            tracing::debug!(op = %ctx.op, key = ctx.key, part = ?ctx.part, "no {CRC_HEADER} in response: CRC check skipped");
            Ok(())
        }
    }
}

impl CosClient {
    /// One attempt of a data write (PUT Object or Upload Part), not retried: reads the data as the body
    /// streams (a retry reads it again), signs, sends and computes the CRC-64 over the bytes sent; progress is
    /// reported as bytes go out and rolled back when the attempt fails.
    pub(crate) async fn write_once(
        &self,
        target: WriteTarget<'_>,
        data: &PartData,
        md5: Option<&str>,
        chunk_size: usize,
        tracker: Option<&Arc<ProgressTracker>>,
    ) -> Result<WriteResult> {
        let ctx = target.ctx();
        let read_action = || match ctx.part {
            Some(p) => format!("read part {p}"),
            None => "read".to_string(),
        };
        let number = target.part.map(|n| n.to_string());
        let query: Vec<(&str, &str)> = match (target.upload_id, &number) {
            (Some(id), Some(n)) => vec![("uploadId", id), ("partNumber", n.as_str())],
            _ => Vec::new(),
        };
        let mut headers = vec![("content-length".to_string(), data.len().to_string())];
        if let Some(ct) = target.content_type {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        if let Some(m) = md5 {
            headers.push(("content-md5".to_string(), m.to_string()));
        }
        let meter = Arc::new(AttemptMeter::default());
        let body = data.body(chunk_size, meter.clone(), tracker.cloned());
        let res = self
            .send_once(ctx, Method::PUT, &query, &headers, Some(body))
            .await;
        let rollback = || {
            if let Some(t) = tracker {
                t.sub(meter.sent.load(Ordering::Relaxed));
            }
        };
        if let Some(changed) = meter.take_changed() {
            rollback();
            return Err(changed);
        }
        let resp = match res {
            Err(e) => {
                rollback();
                if let Some(io) = meter.take_io_error() {
                    return Err(Error::io(
                        data.path().unwrap_or(std::path::Path::new("-")),
                        read_action(),
                        io,
                    ));
                }
                return Err(e);
            }
            Ok(resp) => resp,
        };
        let crc = meter.crc();
        let sent = meter.sent.load(Ordering::Relaxed);
        if sent != data.len() || crc.len() != data.len() {
            rollback();
            return Err(Error::invalid_response(
                ctx.op.as_str(),
                resp.status,
                format!(
                    "server answered after {} of {} body bytes",
                    sent,
                    data.len()
                ),
                &resp.body,
                resp.request_id(),
            ));
        }
        Ok(WriteResult {
            etag: resp.header("etag").map(str::to_string),
            local_crc: crc.finish(),
            server_crc: parse_crc(ctx, &resp)?,
            request_id: resp.request_id(),
        })
    }

    /// `PUT Object` of an in-memory body, CRC-64 checked (with `HEAD Object` when the answer carries no CRC).
    pub(crate) async fn put_object(&self, key: &str, body: Bytes) -> Result<PutObjectOutput> {
        validate_key(key)?;
        let target = WriteTarget::put(key, None);
        let cfg = TransferConfig::default();
        let size = body.len() as u64;
        let engine = Engine::new(self.clone());
        let w = engine
            .write_data(target, &PartData::Bytes(body), &cfg, None)
            .await?;
        engine
            .verify_written(
                &cfg,
                target.ctx(),
                w.local_crc,
                size,
                w.server_crc,
                w.request_id.clone(),
            )
            .await?;
        Ok(PutObjectOutput {
            etag: w.etag.unwrap_or_default(),
            crc64: w.local_crc,
            server_crc64: w.server_crc,
            request_id: w.request_id,
        })
    }

    /// `Upload Part` of an in-memory body (`part_number` 1..=10000), CRC-64 checked when COS reports one.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<PutObjectOutput> {
        validate_key(key)?;
        if !(1..=10_000).contains(&part_number) {
            return Err(Error::invalid(
                "part_number",
                format!("{part_number}: expected 1..=10000"),
            ));
        }
        let target = WriteTarget::part(key, upload_id, part_number);
        let ctx = target.ctx();
        let cfg = TransferConfig::default();
        let w = Engine::new(self.clone())
            .write_data(target, &PartData::Bytes(body), &cfg, None)
            .await?;
        verify_crc(&cfg, ctx, w.local_crc, w.server_crc, w.request_id.clone())?;
        let etag = w
            .etag
            .ok_or_else(|| missing_etag(ctx, w.request_id.clone()))?;
        Ok(PutObjectOutput {
            etag,
            crc64: w.local_crc,
            server_crc64: w.server_crc,
            request_id: w.request_id,
        })
    }

    /// `HEAD Object`; `Ok(None)` when the object does not exist (404).
    pub async fn head_object(&self, key: &str) -> Result<Option<HeadObjectOutput>> {
        validate_key(key)?;
        let ctx = Ctx {
            op: CosOperation::HeadObject,
            key,
            upload_id: None,
            part: None,
        };
        let res = self
            .inner
            .retry
            .run(&ctx.label(), |_| {
                self.send_once(ctx, Method::HEAD, &[], &[], None)
            })
            .await;
        let resp = match res {
            Ok(r) => r,
            Err(e) if e.http_status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = resp
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(Some(HeadObjectOutput {
            size,
            etag: resp.header("etag").map(str::to_string),
            crc64: parse_crc(ctx, &resp)?,
            content_type: resp.header("content-type").map(str::to_string),
            request_id: resp.request_id(),
        }))
    }

    /// `POST Object?uploads` (Initiate Multipart Upload).
    pub(crate) async fn initiate_multipart_upload(
        &self,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<InitiateMultipartUploadResult> {
        validate_key(key)?;
        let ctx = Ctx {
            op: CosOperation::InitiateMultipartUpload,
            key,
            upload_id: None,
            part: None,
        };
        let mut headers = vec![("content-length".to_string(), "0".to_string())];
        if let Some(ct) = content_type {
            headers.push(("content-type".to_string(), ct.to_string()));
        }
        let query = [("uploads", "")];
        // Initiate is repeatable: a lost answer at worst leaves an empty upload id behind (logged below).
        let lost = AtomicBool::new(false);
        let resp = self
            .inner
            .retry
            .run(&ctx.label(), |_| async {
                let r = self
                    .send_once(
                        ctx,
                        Method::POST,
                        &query,
                        &headers,
                        Some(reqwest::Body::from(Bytes::new())),
                    )
                    .await;
                if r.as_ref().is_err_and(Error::is_outcome_unknown) {
                    lost.store(true, Ordering::Relaxed);
                }
                r
            })
            .await?;
        if lost.load(Ordering::Relaxed) {
            tracing::warn!(
                key,
                "an InitiateMultipartUpload attempt lost its answer: it may have created another upload id for \
                 this key, which holds no parts and is left to the bucket's lifecycle rules"
            );
        }
        match xml::parse_or_error::<InitiateMultipartUploadResult>(&resp.body) {
            Ok(Parsed::Ok(r)) if !r.upload_id.is_empty() => Ok(r),
            Ok(Parsed::Ok(_)) => Err(Error::invalid_response(
                ctx.op.as_str(),
                resp.status,
                "empty <UploadId>",
                &resp.body,
                resp.request_id(),
            )),
            Ok(Parsed::Error) => Err(self.cos_error(ctx, resp.status, &resp.headers, &resp.body)),
            Err(reason) => Err(Error::invalid_response(
                ctx.op.as_str(),
                resp.status,
                reason,
                &resp.body,
                resp.request_id(),
            )),
        }
    }

    /// `POST Object?uploadId=` (Complete Multipart Upload), retried like the idempotent operations. `parts` must
    /// be ascending. A `200` whose body is an `<Error>` (possibly after whitespace) is an error; success requires
    /// an `<ETag>`. When an attempt's answer is lost (reset, timeout, 5xx) and a retry then meets `NoSuchUpload`,
    /// the lost attempt most likely completed the upload: that is told apart
    /// ([`CompleteAnswer::GoneAfterLostAnswer`]) so [`upload`](Self::upload) can check the object with HEAD
    /// (size and CRC-64 must match what was sent) and count a match as success.
    pub(crate) async fn complete_attempts(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletePartXml],
    ) -> Result<CompleteAnswer> {
        validate_key(key)?;
        let ctx = Ctx {
            op: CosOperation::CompleteMultipartUpload,
            key,
            upload_id: Some(upload_id),
            part: None,
        };
        let body = xml::CompleteMultipartUpload {
            parts: parts.to_vec(),
        }
        .to_xml()
        .map_err(|e| Error::invalid("parts", format!("cannot serialise: {e}")))?;
        let body = Bytes::from(body);
        let headers = vec![
            ("content-length".to_string(), body.len().to_string()),
            ("content-type".to_string(), "application/xml".to_string()),
        ];
        let query = [("uploadId", upload_id)];
        let lost = AtomicBool::new(false);
        self.inner
            .retry
            .run(&ctx.label(), |attempt| {
                let body = body.clone();
                let headers = &headers;
                let query = &query;
                let lost = &lost;
                async move {
                    tracing::debug!(attempt, "completing");
                    let resp = match self
                        .send_once(ctx, Method::POST, query, headers, Some(body.into()))
                        .await
                    {
                        Ok(r) => r,
                        Err(e) if e.is_outcome_unknown() => {
                            lost.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                        Err(e)
                            if e.code() == Some("NoSuchUpload") && lost.load(Ordering::Relaxed) =>
                        {
                            return Ok(CompleteAnswer::GoneAfterLostAnswer(e));
                        }
                        Err(e) => return Err(e),
                    };
                    match xml::parse_or_error::<xml::CompleteMultipartUploadResult>(&resp.body) {
                        Ok(Parsed::Ok(r)) => match r.etag {
                            Some(etag) if !etag.is_empty() => {
                                Ok(CompleteAnswer::Completed(CompleteMultipartUploadOutput {
                                    etag,
                                    location: r.location,
                                    server_crc64: parse_crc(ctx, &resp)?,
                                    request_id: resp.request_id(),
                                }))
                            }
                            _ => Err(Error::invalid_response(
                                ctx.op.as_str(),
                                resp.status,
                                "no <ETag> in the result",
                                &resp.body,
                                resp.request_id(),
                            )),
                        },
                        Ok(Parsed::Error) => {
                            Err(self.cos_error(ctx, resp.status, &resp.headers, &resp.body))
                        }
                        Err(reason) => Err(Error::invalid_response(
                            ctx.op.as_str(),
                            resp.status,
                            reason,
                            &resp.body,
                            resp.request_id(),
                        )),
                    }
                }
            })
            .await
    }

    /// `GET Object?uploadId=` (List Parts), following pagination; parts ascending.
    pub(crate) async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<ListedPart>> {
        validate_key(key)?;
        let ctx = Ctx {
            op: CosOperation::ListParts,
            key,
            upload_id: Some(upload_id),
            part: None,
        };
        let mut out: Vec<ListedPart> = Vec::new();
        let mut marker: Option<u32> = None;
        for _page in 0..100 {
            let m = marker.map(|m| m.to_string());
            let mut query = vec![("uploadId", upload_id), ("max-parts", "1000")];
            if let Some(m) = &m {
                query.push(("part-number-marker", m.as_str()));
            }
            let resp = self
                .inner
                .retry
                .run(&ctx.label(), |_| {
                    self.send_once(ctx, Method::GET, &query, &[], None)
                })
                .await?;
            let page = match xml::parse_or_error::<xml::ListPartsResult>(&resp.body) {
                Ok(Parsed::Ok(r)) => r,
                Ok(Parsed::Error) => {
                    return Err(self.cos_error(ctx, resp.status, &resp.headers, &resp.body));
                }
                Err(reason) => {
                    return Err(Error::invalid_response(
                        ctx.op.as_str(),
                        resp.status,
                        reason,
                        &resp.body,
                        resp.request_id(),
                    ));
                }
            };
            let last = page.parts.last().map(|p| p.part_number);
            out.extend(page.parts);
            match (page.is_truncated, page.next_part_number_marker.or(last)) {
                (true, Some(next)) if Some(next) != marker => marker = Some(next),
                _ => break,
            }
        }
        out.sort_by_key(|p| p.part_number);
        out.dedup_by_key(|p| p.part_number);
        Ok(out)
    }

    /// `DELETE Object?uploadId=` (Abort Multipart Upload).
    pub async fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        validate_key(key)?;
        let ctx = Ctx {
            op: CosOperation::AbortMultipartUpload,
            key,
            upload_id: Some(upload_id),
            part: None,
        };
        let query = [("uploadId", upload_id)];
        let lost = AtomicBool::new(false);
        self.inner
            .retry
            .run(&ctx.label(), |_| async {
                match self.send_once(ctx, Method::DELETE, &query, &[], None).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_outcome_unknown() => {
                        lost.store(true, Ordering::Relaxed);
                        Err(e)
                    }
                    // The attempt whose answer was lost aborted it.
                    Err(e) if e.code() == Some("NoSuchUpload") && lost.load(Ordering::Relaxed) => {
                        tracing::debug!(
                            key,
                            upload_id,
                            "abort: NoSuchUpload after a lost answer: already aborted"
                        );
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }
}

pub(crate) fn missing_etag(ctx: Ctx<'_>, request_id: Option<String>) -> Error {
    Error::invalid_response(
        ctx.op.as_str(),
        200,
        "no ETag header in the response",
        b"",
        request_id,
    )
}
