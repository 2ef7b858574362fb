//! The objects of one upload (media, cover, segments) and their transfer: every object through the COS
//! engine under one in-flight budget, its progress aggregated into one sink (shared with the checkpoint
//! writer), a failing object cancelling the others.

use super::*;

/// What an object is read from; files and bytes can be read again (after a credential-expiry restart).
pub(super) enum Replay {
    Path(PathBuf),
    Bytes(Bytes),
    // A Mutex only to make `ObjectSpec` Sync (a boxed reader is Send but not Sync); never contended.
    Reader(Mutex<Option<UploadSource>>),
}

pub(super) enum Role {
    Media,
    Cover,
    Segment(String),
}

/// One object of the upload, before it has a COS key.
pub(super) struct ObjectSpec {
    pub(super) role: Role,
    pub(super) replay: Replay,
    pub(super) size: Option<u64>,
    /// For a file: what it was when checked (the upload fails if it changes before CommitUpload).
    pub(super) snapshot: Option<FileSnapshot>,
}

impl ObjectSpec {
    pub(super) fn new(
        role: Role,
        spec: SourceSpec,
        size: Option<u64>,
        snapshot: Option<FileSnapshot>,
    ) -> Self {
        let replay = match spec {
            SourceSpec::Path(p) => Replay::Path(p),
            SourceSpec::Bytes(b) => Replay::Bytes(b),
            r @ SourceSpec::Reader(..) => Replay::Reader(Mutex::new(Some(r.into_source()))),
        };
        ObjectSpec {
            role,
            replay,
            size,
            snapshot,
        }
    }

    /// For a file source: fails with [`Error::SourceChanged`] if it is no longer what was checked.
    pub(super) async fn verify_unchanged(&self) -> Result<()> {
        let (Replay::Path(p), Some(snap)) = (&self.replay, self.snapshot) else {
            return Ok(());
        };
        let p = p.clone();
        tokio::task::spawn_blocking(move || snap.verify_path(&p))
            .await
            .map_err(|e| {
                Error::io(
                    self.local_path().unwrap_or(std::path::Path::new("-")),
                    "stat",
                    std::io::Error::other(e),
                )
            })?
    }

    pub(super) fn take_source(&mut self) -> Option<UploadSource> {
        match &mut self.replay {
            Replay::Path(p) => Some(UploadSource::path(p.clone())),
            Replay::Bytes(b) => Some(UploadSource::bytes(b.clone())),
            Replay::Reader(r) => r.get_mut().unwrap_or_else(|p| p.into_inner()).take(),
        }
    }

    pub(super) fn replayable(&self) -> bool {
        !matches!(self.replay, Replay::Reader(_))
    }

    pub(super) fn local_path(&self) -> Option<&std::path::Path> {
        match &self.replay {
            Replay::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// Settings shared by every transfer attempt of one upload.
pub(super) struct TransferPlan<'a> {
    pub(super) transfer: &'a TransferConfig,
    pub(super) budget: &'a ConcurrencyBudget,
    /// The caller's progress callback.
    pub(super) progress: Option<&'a ProgressFn>,
    /// The objects' sizes, when known before the transfer.
    pub(super) sizes: Vec<Option<u64>>,
    /// Retries reported by earlier attempts (a restarted session keeps counting).
    pub(super) retries: &'a AtomicU32,
    /// A byte-rate cap shared with other uploads.
    pub(super) bandwidth: Option<&'a BandwidthLimit>,
    /// Multipart uploads of every attempt that could not be aborted.
    pub(super) orphans: &'a OrphanSink,
}

/// Uploads every object of `session` (resuming from its checkpoint when it has one). Returns the bytes of all
/// objects.
pub(super) async fn transfer_all(
    ctx: &UploadContext<'_>,
    session: &Session,
    specs: &mut [ObjectSpec],
    plan: &TransferPlan<'_>,
    cancel: &CancellationToken,
) -> Result<u64> {
    let applied = &session.applied;
    let mut cos = CosClient::builder(&applied.storage_bucket, &applied.storage_region)
        .with_http_client(ctx.http.clone())
        .with_plain_http_warning(Arc::clone(ctx.cos_plain_http))
        .with_clock(ctx.clock.clone())
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

    // Failing objects cancel the others through this token (a child: the caller's token is never touched).
    let attempt = cancel.child_token();
    let sources: Vec<Option<UploadSource>> = specs.iter_mut().map(|s| s.take_source()).collect();
    let specs_snapshots: Vec<Option<FileSnapshot>> = specs.iter().map(|s| s.snapshot).collect();
    let specs_snapshots = &specs_snapshots;
    let transfer = plan.transfer;
    let objects_in_flight = transfer.concurrency().max(1).saturating_mul(2);
    let cos_ref = &cos;
    let writer = session.writer.as_ref();
    let recorded = writer.map(|w| w.snapshot());
    // One sink for the caller's callback and the checkpoint writer (which records each confirmed part).
    let sink = (plan.progress.is_some() || writer.is_some()).then(|| {
        let user = plan.progress.cloned();
        let w = writer.cloned();
        ProgressSink::new(
            plan.sizes.clone(),
            plan.retries.load(Ordering::Relaxed),
            move |i, p| {
                if let (Some(w), ProgressEvent::PartDone { upload_id, part }) = (&w, &p.event) {
                    w.part_done(i, upload_id, part);
                }
                if let Some(f) = &user {
                    f(p);
                }
            },
        )
    });
    let sink = &sink;
    let work = async {
        let mut results = futures::stream::iter(sources.into_iter().enumerate().map(|(i, source)| {
            let key = session.keys[i].clone();
            let mut opts = UploadOptions::default()
                .with_config(transfer.clone())
                .with_budget(plan.budget.clone())
                .with_cancellation(attempt.clone())
                .with_expected_source(specs_snapshots[i])
                .with_orphan_sink(Arc::clone(plan.orphans));
            let progress = sink.as_ref().map(|s| s.object(i));
            if let Some(p) = &progress {
                opts = opts.with_object_progress(p.clone());
            }
            if let Some(l) = plan.bandwidth {
                opts = opts.with_bandwidth_limit(l.clone());
            }
            let entry = recorded.as_ref().and_then(|cp| cp.objects.get(i)).cloned();
            let head_cancel = attempt.clone();
            async move {
                if let (Some(w), Some(entry)) = (writer, &entry) {
                    if let Some(done) = entry.completed {
                        match or_cancel(&head_cancel, cos_ref.head_object(&key)).await? {
                            Some(h)
                                if h.size == done.size
                                    && (h.crc64 == Some(done.crc64)
                                        || (h.crc64.is_none() && transfer.trust_missing_crc())) =>
                            {
                                tracing::info!(key = %key, size = done.size, "object already complete (checkpoint, HEAD Object): skipped");
                                if let Some(p) = &progress {
                                    p.skipped(&key, done.size);
                                }
                                return Ok(done.size);
                            }
                            _ => {
                                tracing::info!(key = %key, "object recorded complete is missing or different on COS: uploading it again");
                                w.update(|cp| {
                                    if let Some(o) = cp.objects.get_mut(i) {
                                        o.completed = None;
                                        o.upload_id = None;
                                        o.parts.clear();
                                    }
                                });
                            }
                        }
                    } else if let Some(upload_id) = &entry.upload_id {
                        opts = opts.with_resume(ResumeState {
                            upload_id: upload_id.clone(),
                            completed_parts: entry.parts.clone(),
                        });
                    }
                }
                if writer.is_some() {
                    opts = opts.with_unfinished_upload_policy(UnfinishedUploadPolicy::Keep);
                }
                let Some(source) = source else {
                    return Err(Error::invalid(
                        format!("object {key}"),
                        "its reader was already consumed by an earlier attempt and cannot be read again",
                    ));
                };
                let out = cos_ref.upload(&key, source, opts).await?;
                if let Some(w) = writer {
                    w.update(|cp| {
                        if let Some(o) = cp.objects.get_mut(i) {
                            o.completed = Some(CompletedObject {
                                size: out.size,
                                crc64: out.crc64,
                            });
                        }
                    });
                }
                Ok(out.size)
            }
        }))
        .buffer_unordered(objects_in_flight);
        let mut first_error: Option<Error> = None;
        let mut bytes = 0u64;
        while let Some(r) = results.next().await {
            match r {
                Ok(n) => bytes += n,
                Err(e) => {
                    if first_error.is_none() {
                        if !matches!(e, Error::Cancelled) {
                            tracing::warn!(error = %e, "object upload failed: cancelling the others");
                        }
                        attempt.cancel();
                        first_error = Some(e);
                    } else if !matches!(e, Error::Cancelled) {
                        tracing::debug!(error = %e, "further object failure");
                    }
                }
            }
        }
        drop(results);
        if let Some(w) = writer {
            w.close();
        }
        match first_error {
            Some(e) => Err(e),
            None if cancel.is_cancelled() => Err(Error::Cancelled),
            None => Ok(bytes),
        }
    };
    // The checkpoint writer runs alongside (not spawned: dropping the upload drops it too).
    let (result, ()) = tokio::join!(work, async {
        if let Some(w) = writer {
            w.run().await;
        }
    });
    if let Some(s) = sink {
        plan.retries.store(s.retries(), Ordering::Relaxed);
    }
    result
}
