//! Upload orchestration: ApplyUpload → media, cover and segments to COS (concurrently, one in-flight budget) →
//! CommitUpload.
//!
//! Guarantees:
//! - every local check (file exists and is a regular file, types known, field lengths, every HLS/DASH segment
//!   present) happens **before** ApplyUpload;
//! - CommitUpload is called only after every object was uploaded and its CRC-64 verified; on any failure nothing
//!   is committed, in-flight multipart uploads are aborted, and the error names the object (key or path);
//! - cancellation ([`UploadRequest::with_cancellation`]) and a deadline ([`UploadRequest::with_deadline`]) stop
//!   the transfer cleanly (multipart uploads aborted) and return [`Error::Cancelled`] /
//!   [`Error::DeadlineExceeded`]. Dropping the `upload` future is also safe — no task outlives it — but in-flight
//!   multipart uploads are then left for COS's lifecycle rules instead of being aborted.

mod prepare;
mod request;

pub use request::{
    COVER_TYPES, MAX_SESSION_CONTEXT, MAX_SOURCE_CONTEXT, MEDIA_TYPES, ProgressCallback,
    UploadOutcome, UploadProgress, UploadRequest,
};

use crate::cos::{
    ConcurrencyBudget, CosClient, Progress, ProgressEvent, TransferConfig, UploadOptions,
    UploadSource,
};
use crate::error::{Error, Result};
use crate::events::WaitOptions;
use crate::retry::RetryConfig;
use crate::vod::{ApplyUploadResponse, CommitUploadRequest, VodApi};
use futures::StreamExt;
use prepare::{check_file, collect_segments, complete_apply_fields, is_manifest_type, segment_key};
use request::SourceSpec;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What the orchestration needs from the client.
pub(crate) struct UploadContext<'a> {
    pub api: &'a VodApi,
    pub http: &'a reqwest::Client,
    pub cos_endpoint: Option<&'a str>,
    pub transfer: &'a TransferConfig,
    pub retry: &'a RetryConfig,
    pub sub_app_id: Option<u64>,
}

/// Runs one upload, honouring the request's cancellation token and deadline.
pub(crate) async fn run(ctx: UploadContext<'_>, mut req: UploadRequest) -> Result<UploadOutcome> {
    let cancel = req
        .cancel
        .take()
        .map(|t| t.child_token())
        .unwrap_or_default();
    let deadline = req.deadline;
    let span = tracing::info_span!("vod_upload", media = %req.media.describe());
    let work = pipeline(ctx, req, cancel.clone()).instrument(span);
    tokio::pin!(work);
    match deadline {
        None => work.await,
        Some(d) => {
            tokio::select! {
                r = &mut work => r,
                _ = tokio::time::sleep(d) => {
                    tracing::warn!(deadline = ?d, "upload deadline exceeded: cancelling");
                    cancel.cancel();
                    // Let the transfer abort its multipart uploads before returning.
                    let _ = work.await;
                    Err(Error::DeadlineExceeded(d))
                }
            }
        }
    }
}

struct Object {
    key: String,
    source: UploadSource,
    size: Option<u64>,
}

/// Sums per-object progress into one aggregate and forwards it to the caller's callback.
struct Aggregator {
    per_object: Mutex<(Vec<u64>, u64)>,
    sizes: Vec<Option<u64>>,
    total: u64,
    callback: request::ProgressCallback,
}

impl Aggregator {
    fn progress_for(self: &Arc<Self>, index: usize) -> Progress {
        let me = Arc::clone(self);
        Progress::new(move |ev: ProgressEvent| {
            let (bytes_sent, object_bytes) = {
                let mut g = me.per_object.lock().unwrap_or_else(|p| p.into_inner());
                let prev = g.0[index];
                g.0[index] = ev.bytes_sent;
                g.1 = g.1 - prev + ev.bytes_sent;
                (g.1, ev.bytes_sent)
            };
            (me.callback)(&UploadProgress {
                key: ev.key.clone(),
                object_bytes_sent: object_bytes,
                object_total: me.sizes[index].or(ev.total),
                bytes_sent,
                total_bytes: me.total,
                part_done: ev.part_done,
            });
        })
    }
}

fn check_apply_response(resp: &ApplyUploadResponse, want_cover: bool) -> Result<()> {
    let bad = |reason: String| {
        Error::invalid_response(
            "ApplyUpload",
            200,
            reason,
            b"",
            Some(resp.request_id.clone()),
        )
    };
    if resp.storage_bucket.is_empty() {
        return Err(bad("StorageBucket is empty".into()));
    }
    crate::vod::validate_region("StorageRegion", &resp.storage_region).map_err(|_| {
        bad(format!(
            "StorageRegion {:?} is not a region",
            resp.storage_region
        ))
    })?;
    if resp.vod_session_key.is_empty() {
        return Err(bad("VodSessionKey is empty".into()));
    }
    if !resp.media_storage_path.starts_with('/') || resp.media_storage_path.len() < 2 {
        return Err(bad(format!(
            "MediaStoragePath {:?} is not a path starting with '/'",
            resp.media_storage_path
        )));
    }
    if want_cover
        && !resp
            .cover_storage_path
            .as_deref()
            .is_some_and(|p| p.starts_with('/') && p.len() > 1)
    {
        return Err(bad(
            "a cover was requested but CoverStoragePath is missing".into()
        ));
    }
    Ok(())
}

async fn pipeline(
    ctx: UploadContext<'_>,
    req: UploadRequest,
    cancel: CancellationToken,
) -> Result<UploadOutcome> {
    let started = tokio::time::Instant::now();
    let UploadRequest {
        media,
        cover,
        mut apply,
        concurrency,
        part_size,
        progress,
        resolve_task,
        budget,
        ..
    } = req;

    // 1. Everything local, before any request.
    let mut transfer = ctx.transfer.clone();
    if let Some(c) = concurrency {
        transfer = transfer.with_concurrency(c);
    }
    if let Some(p) = part_size {
        transfer = transfer.with_part_size(p);
    }
    transfer.validate()?;
    let media_size = match &media {
        SourceSpec::Path(p) => Some(check_file("media", p).await?),
        SourceSpec::Bytes(b) => Some(b.len() as u64),
        SourceSpec::Reader(_, n) => *n,
    };
    if let Some(n) = media_size {
        crate::cos::PartPlan::new(n, &transfer).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => {
                Error::invalid(format!("media ({})", media.describe()), reason)
            }
            other => other,
        })?;
    }
    let cover_size = match &cover {
        Some(SourceSpec::Path(p)) => Some(check_file("cover", p).await?),
        Some(SourceSpec::Bytes(b)) => Some(b.len() as u64),
        Some(SourceSpec::Reader(_, n)) => *n,
        None => None,
    };
    // VOD has nothing to transcode or play in an empty file: refuse it before ApplyUpload.
    if media_size == Some(0) {
        return Err(Error::invalid(
            format!("media ({})", media.describe()),
            "is empty (0 bytes); VOD does not accept empty media",
        ));
    }
    if let (Some(0), Some(c)) = (cover_size, &cover) {
        return Err(Error::invalid(
            format!("cover ({})", c.describe()),
            "is empty (0 bytes); a cover must be an image",
        ));
    }
    complete_apply_fields(&mut apply, &media, cover.as_ref(), ctx.sub_app_id)?;
    let segments = if is_manifest_type(&apply.media_type) {
        let Some(root) = media.path() else {
            return Err(Error::invalid(
                "media",
                "an HLS/DASH manifest must be uploaded from a file path so its segments can be found",
            ));
        };
        let segs = collect_segments(ctx.api, root).await?;
        tracing::info!(segments = segs.len(), "manifest segments found locally");
        segs
    } else {
        Vec::new()
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    // 2. ApplyUpload.
    let applied = ctx.api.apply_upload(&apply).await?;
    check_apply_response(&applied, cover.is_some())?;
    tracing::info!(
        bucket = %applied.storage_bucket,
        region = %applied.storage_region,
        request_id = %applied.request_id,
        "ApplyUpload done"
    );
    let media_key = applied.media_storage_path[1..].to_string();
    let cover_key = applied
        .cover_storage_path
        .as_deref()
        .filter(|_| cover.is_some())
        .map(|p| p[1..].to_string());

    // 3. COS client for the session's bucket and temporary credentials.
    let mut cos = CosClient::builder(&applied.storage_bucket, &applied.storage_region)
        .with_http_client(ctx.http.clone())
        .with_retry(ctx.retry.clone());
    cos = match &applied.temp_certificate {
        Some(tc) => cos
            .with_credential(tc.credential())
            .with_credential_expiry(tc.expired_time),
        None => {
            tracing::debug!("no TempCertificate: using the caller's own credentials for COS");
            cos.with_credential(ctx.api.credentials().credential().await?)
        }
    };
    if let Some(e) = ctx.cos_endpoint {
        cos = cos.with_endpoint(e);
    }
    let cos = cos.build()?;

    // 4. Transfer every object under one budget.
    let mut objects = vec![Object {
        key: media_key.clone(),
        source: media.into_source(),
        size: media_size,
    }];
    if let (Some(c), Some(k)) = (cover, &cover_key) {
        objects.push(Object {
            key: k.clone(),
            source: c.into_source(),
            size: cover_size,
        });
    }
    let mut segment_keys = Vec::with_capacity(segments.len());
    for s in &segments {
        let key = segment_key(&media_key, &s.relative);
        segment_keys.push(key.clone());
        objects.push(Object {
            key,
            source: UploadSource::path(&s.local),
            size: Some(s.size),
        });
    }
    let aggregator = progress.map(|callback| {
        Arc::new(Aggregator {
            per_object: Mutex::new((vec![0; objects.len()], 0)),
            sizes: objects.iter().map(|o| o.size).collect(),
            total: objects.iter().filter_map(|o| o.size).sum(),
            callback,
        })
    });
    let budget = budget.unwrap_or_else(|| ConcurrencyBudget::new(transfer.concurrency()));
    // Objects are started a few at a time (each one then takes part permits from the shared budget), so a
    // manifest with thousands of segments does not open thousands of files at once.
    let objects_in_flight = transfer.concurrency().max(1) * 2;
    let cos_ref = &cos;
    let mut results = futures::stream::iter(objects.into_iter().enumerate().map(|(i, o)| {
        let mut opts = UploadOptions::default()
            .with_config(transfer.clone())
            .with_budget(budget.clone())
            .with_cancellation(cancel.clone());
        if let Some(a) = &aggregator {
            opts = opts.with_progress(a.progress_for(i));
        }
        async move { cos_ref.upload(&o.key, o.source, opts).await }
    }))
    .buffer_unordered(objects_in_flight);
    let mut first_error: Option<Error> = None;
    let mut bytes_sent = 0u64;
    while let Some(r) = results.next().await {
        match r {
            Ok(out) => bytes_sent += out.size,
            Err(e) => {
                if first_error.is_none() {
                    tracing::warn!(error = %e, "object upload failed: cancelling the others");
                    cancel.cancel();
                    first_error = Some(e);
                } else if !matches!(e, Error::Cancelled) {
                    tracing::debug!(error = %e, "further object failure");
                }
            }
        }
    }
    drop(results);
    if let Some(e) = first_error {
        return Err(e);
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    // 5. CommitUpload: only now that every object is verified.
    let mut commit = CommitUploadRequest::new(&applied.vod_session_key);
    commit.sub_app_id = apply.sub_app_id;
    let committed = ctx.api.commit_upload(&commit).await?;
    tracing::info!(file_id = %committed.file_id, request_id = %committed.request_id, "CommitUpload done");

    // 6. Optionally find the procedure task.
    let procedure_task_id = match (resolve_task, apply.procedure.as_deref()) {
        (Some(opts), Some(p)) if !p.is_empty() => {
            resolve_procedure_task(ctx.api, &committed.file_id, apply.sub_app_id, opts).await
        }
        _ => None,
    };

    Ok(UploadOutcome {
        file_id: committed.file_id,
        media_url: committed.media_url,
        cover_url: committed.cover_url.filter(|u| !u.is_empty()),
        apply_request_id: applied.request_id,
        commit_request_id: committed.request_id,
        bucket: applied.storage_bucket,
        region: applied.storage_region,
        media_key,
        cover_key,
        segment_keys,
        bytes_sent,
        elapsed: started.elapsed(),
        procedure_task_id,
    })
}

async fn resolve_procedure_task(
    api: &VodApi,
    file_id: &str,
    sub_app_id: Option<u64>,
    opts: WaitOptions,
) -> Option<String> {
    match api.find_procedure_task_id(file_id, sub_app_id, opts).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(file_id, error = %e, "procedure task id not found; it also arrives in the NewFileUpload event");
            None
        }
    }
}
