//! The pipeline of one upload: local checks, a session (fresh or from a checkpoint), the transfer, the
//! commit (reconciled when its outcome is unknown), the outcome.

use super::*;

pub(super) async fn pipeline(
    ctx: UploadContext<'_>,
    req: UploadRequest,
    cancel: CancellationToken,
) -> Result<UploadOutcome> {
    let started = tokio::time::Instant::now();
    let UploadRequest {
        media,
        cover,
        mut apply,
        transfer,
        progress,
        resolve_task,
        budget,
        checkpoint,
        checkpoint_key,
        keep_committed_checkpoint,
        bandwidth,
        credential_margin,
        commit_reconcile_timeout,
        ..
    } = req;

    // 1. Everything local, before any request.
    if ctx.api.region().is_none() {
        return Err(Error::invalid(
            "region",
            "an upload needs a region (Region is a required parameter of ApplyUpload and CommitUpload); set \
             VodClientBuilder::with_region or TENCENTCLOUD_REGION, e.g. ap-guangzhou",
        ));
    }
    let transfer = transfer.unwrap_or_else(|| ctx.transfer.clone());
    transfer.validate()?;
    let checkpoint = match (checkpoint, checkpoint_key) {
        (Some(store), key) => Some(CheckpointConfig { store, key }),
        (None, Some(key)) => {
            return Err(Error::invalid(
                "checkpoint_key",
                format!(
                    "{key:?} is set but no checkpoint store is (UploadRequest::with_checkpoint)"
                ),
            ));
        }
        (None, None) => None,
    };
    let (media_size, media_snapshot) = match &media {
        SourceSpec::Path(p) => {
            let (n, snap) = check_file("media", p).await?;
            (Some(n), Some(snap))
        }
        SourceSpec::Bytes(b) => (Some(b.len() as u64), None),
        SourceSpec::Reader(_, n) => (*n, None),
    };
    if let Some(n) = media_size {
        crate::cos::PartPlan::new(n, &transfer).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => {
                Error::invalid(format!("media ({})", media.describe()), reason)
            }
            other => other,
        })?;
    }
    let (cover_size, cover_snapshot) = match &cover {
        Some(SourceSpec::Path(p)) => {
            let (n, snap) = check_file("cover", p).await?;
            (Some(n), Some(snap))
        }
        Some(SourceSpec::Bytes(b)) => (Some(b.len() as u64), None),
        Some(SourceSpec::Reader(_, n)) => (*n, None),
        None => (None, None),
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
        let segs = or_cancel(&cancel, collect_segments(ctx.api, root)).await?;
        tracing::info!(segments = segs.len(), "manifest segments found locally");
        segs
    } else {
        Vec::new()
    };
    let want_cover = cover.is_some();
    let mut specs = vec![ObjectSpec::new(
        Role::Media,
        media,
        media_size,
        media_snapshot,
    )];
    if let Some(c) = cover {
        specs.push(ObjectSpec::new(Role::Cover, c, cover_size, cover_snapshot));
    }
    for s in segments {
        specs.push(ObjectSpec::new(
            Role::Segment(s.relative),
            SourceSpec::Path(s.local),
            Some(s.size),
            Some(s.snapshot),
        ));
    }
    let resumable = match checkpoint {
        Some(cfg) => prepare_resumable(cfg, &specs, &apply).await?,
        None => None,
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }

    let budget = budget.unwrap_or_else(|| ConcurrencyBudget::new(transfer.concurrency()));
    let orphans: OrphanSink = Arc::default();
    let retries = AtomicU32::new(0);
    let plan = TransferPlan {
        transfer: &transfer,
        budget: &budget,
        progress: progress.as_ref(),
        sizes: specs.iter().map(|o| o.size).collect(),
        retries: &retries,
        bandwidth: bandwidth.as_ref(),
        orphans: &orphans,
    };
    let orphaned =
        || -> Vec<OrphanedUpload> { orphans.lock().unwrap_or_else(|p| p.into_inner()).clone() };

    // 2. A session: from the checkpoint, or ApplyUpload. A checkpoint that records a commit (attempt) never
    //    leads to a second upload of the media.
    let mut from_checkpoint = match &resumable {
        Some(res) => {
            match load_checkpoint(res, credential_margin, want_cover, ctx.clock.now()).await? {
                Some(Loaded::Resume(cp)) => Some(cp),
                Some(Loaded::Committed(cp)) => {
                    let commit = cp.commit.clone().map(Committed::from);
                    let session = Session::new(cp.apply.clone(), cp.created_at, &specs);
                    if !keep_committed_checkpoint {
                        discard_checkpoint(res).await;
                    }
                    let Some(committed) = commit else {
                        return Err(Error::invalid(
                            "checkpoint",
                            "records a commit without its answer",
                        ));
                    };
                    let done = Finish {
                        started,
                        want_cover,
                        bytes_sent: 0,
                        orphans: Vec::new(),
                    };
                    return finish(&ctx, &apply, resolve_task, session, committed, done).await;
                }
                Some(Loaded::Reconcile(cp)) => {
                    let mut session = Session::new(cp.apply.clone(), cp.created_at, &specs);
                    session.resumed = true;
                    let sub_app_id = cp.sub_app_id;
                    session.writer = Some(CheckpointWriter::new(
                        Arc::clone(&res.store),
                        cp,
                        ctx.clock.clone(),
                    ));
                    let target = CommitTarget {
                        api: ctx.api,
                        applied: &session.applied,
                        sub_app_id,
                        media_name: apply.media_name.as_deref(),
                        applied_at: session.applied_at,
                        reconcile_timeout: commit_reconcile_timeout,
                        cancel: Some(&cancel),
                    };
                    // On failure the checkpoint keeps its commit attempt: a later run reconciles again.
                    let committed = commit::reconcile(&target, None).await?;
                    record_commit(
                        resumable.as_ref(),
                        &session,
                        &committed,
                        keep_committed_checkpoint,
                    )
                    .await;
                    let done = Finish {
                        started,
                        want_cover,
                        bytes_sent: 0,
                        orphans: Vec::new(),
                    };
                    return finish(&ctx, &apply, resolve_task, session, committed, done).await;
                }
                None => None,
            }
        }
        None => None,
    };
    let mut expiry_restarts = 0u32;
    let (session, bytes_sent, committed) = loop {
        let session = match from_checkpoint.take() {
            Some(cp) => {
                let mut s = Session::new(cp.apply.clone(), cp.created_at, &specs);
                s.resumed = true;
                if let Some(res) = &resumable {
                    s.writer = Some(CheckpointWriter::new(
                        Arc::clone(&res.store),
                        cp,
                        ctx.clock.clone(),
                    ));
                }
                s
            }
            None => {
                fresh_session(
                    &ctx,
                    &apply,
                    &specs,
                    resumable.as_ref(),
                    credential_margin,
                    want_cover,
                    &cancel,
                )
                .await?
            }
        };

        // 3. Every object, under one budget.
        let bytes_sent = match transfer_all(&ctx, &session, &mut specs, &plan, &cancel).await {
            Ok(n) => n,
            Err(_) if cancel.is_cancelled() => return Err(Error::Cancelled),
            Err(e @ Error::SourceChanged { .. }) => return Err(e.with_orphaned_uploads(orphaned())),
            Err(e)
                if expiry_restarts == 0
                    && is_credential_expiry(&e, session.expiry(), ctx.clock.now())
                    && specs.iter().all(ObjectSpec::replayable) =>
            {
                expiry_restarts += 1;
                tracing::warn!(
                    error = %e,
                    "the session's temporary credentials expired during the transfer: applying for a new \
                     session and re-sending every object (once)"
                );
                continue;
            }
            Err(e) => return Err(e.with_orphaned_uploads(orphaned())),
        };
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        // Every source file must still be what was checked before ApplyUpload: a file changed after its object
        // was sent is not committed either.
        for spec in specs.iter() {
            spec.verify_unchanged().await?;
        }

        // 4. CommitUpload: only now that every object is verified. The checkpoint records the attempt first, so
        //    a crash or a lost answer leads a re-run to reconciliation, not to a second upload.
        //    Without that record a crash during the commit could upload the media again, so a store that
        //    cannot save it stops the upload here (nothing committed; the checkpoint as it was, resumable).
        if let Some(w) = &session.writer {
            let now = ctx.clock.now();
            w.update(|cp| cp.commit_attempted_at = Some(now));
            if let Err(e) = w.try_save().await {
                tracing::error!(error = %e, "the commit attempt could not be recorded in the checkpoint: not committing");
                return Err(e);
            }
        }
        let target = CommitTarget {
            api: ctx.api,
            applied: &session.applied,
            sub_app_id: apply.sub_app_id,
            media_name: apply.media_name.as_deref(),
            applied_at: session.applied_at,
            reconcile_timeout: commit_reconcile_timeout,
            cancel: Some(&cancel),
        };
        match commit::send(&target).await {
            Ok(c) => break (session, bytes_sent, c),
            Err(e) if e.is_outcome_unknown() => {
                // Never re-sent blindly: a second commit, then a media search; the checkpoint keeps the attempt
                // when this fails.
                let c = commit::reconcile(&target, Some(e)).await?;
                break (session, bytes_sent, c);
            }
            Err(e) if session.resumed && commit::is_session_refused(&e) => {
                // VOD does not take the checkpointed session: expired, or committed by an earlier run whose
                // answer was lost before its attempt could be recorded. Look before uploading again.
                let once = CommitTarget {
                    reconcile_timeout: Duration::ZERO,
                    ..target
                };
                if let Ok(Some(c)) = commit::find(&once, &mut Vec::new()).await {
                    break (session, bytes_sent, c);
                }
                if !specs.iter().all(ObjectSpec::replayable) {
                    return Err(e);
                }
                tracing::warn!(
                    error = %e,
                    "the checkpointed session cannot be committed (expired or unknown) and its media is not in \
                     the library: discarding the checkpoint and starting over"
                );
                if let Some(res) = &resumable {
                    discard_checkpoint(res).await;
                }
                continue;
            }
            Err(e) => {
                // A definite refusal: nothing was committed, so the attempt needs no reconciliation.
                if let Some(w) = &session.writer {
                    w.update(|cp| cp.commit_attempted_at = None);
                    w.save_now().await;
                }
                return Err(e);
            }
        }
    };
    tracing::info!(
        file_id = %committed.file_id,
        request_id = %committed.request_id,
        reconciled = committed.reconciled,
        "CommitUpload done"
    );
    record_commit(
        resumable.as_ref(),
        &session,
        &committed,
        keep_committed_checkpoint,
    )
    .await;
    let done = Finish {
        started,
        want_cover,
        bytes_sent,
        orphans: orphaned(),
    };
    finish(&ctx, &apply, resolve_task, session, committed, done).await
}

/// What the outcome reports besides the session and the commit.
struct Finish {
    started: tokio::time::Instant,
    want_cover: bool,
    bytes_sent: u64,
    orphans: Vec<OrphanedUpload>,
}

/// Resolves the procedure task (when asked) and builds the outcome.
async fn finish(
    ctx: &UploadContext<'_>,
    apply: &ApplyUploadRequest,
    resolve_task: Option<WaitOptions>,
    session: Session,
    committed: Committed,
    done: Finish,
) -> Result<UploadOutcome> {
    // 5. Optionally find the procedure task.
    let procedure_task_id = match (resolve_task, apply.procedure.as_deref()) {
        (Some(opts), Some(p)) if !p.is_empty() => {
            resolve_procedure_task(ctx.api, &committed.file_id, apply.sub_app_id, opts).await
        }
        _ => None,
    };

    let Session { applied, keys, .. } = session;
    let mut keys = keys.into_iter();
    let media_key = keys.next().unwrap_or_default();
    let cover_key = if done.want_cover { keys.next() } else { None };
    let segment_keys: Vec<String> = keys.collect();
    Ok(UploadOutcome {
        file_id: committed.file_id,
        media_url: committed.media_url,
        cover_url: committed.cover_url,
        apply_request_id: applied.request_id,
        commit_request_id: committed.request_id,
        bucket: applied.storage_bucket,
        region: applied.storage_region,
        media_key,
        cover_key,
        segment_keys,
        bytes_sent: done.bytes_sent,
        elapsed: done.started.elapsed(),
        procedure_task_id,
        orphaned_uploads: done.orphans,
        commit_reconciled: committed.reconciled,
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
