//! Resume: a checkpointed upload's identity, loading and judging its checkpoint, and recording the commit.

use super::*;

/// A checkpointed upload's identity: store, key, request digest and the sources' fingerprints.
pub(super) struct Resumable {
    pub(super) store: Arc<dyn checkpoint::CheckpointStore>,
    pub(super) key: String,
    pub(super) digest: String,
    pub(super) sources: Vec<(PathBuf, SourceFingerprint)>,
}

pub(super) async fn prepare_resumable(
    cfg: CheckpointConfig,
    specs: &[ObjectSpec],
    apply: &ApplyUploadRequest,
) -> Result<Option<Resumable>> {
    if specs.iter().any(|s| s.local_path().is_none()) {
        tracing::debug!(
            "checkpoint ignored: only uploads whose sources are all files can be resumed"
        );
        return Ok(None);
    }
    let mut canonical = Vec::with_capacity(specs.len());
    for s in specs {
        let p = s.local_path().unwrap_or(std::path::Path::new(""));
        canonical.push(
            tokio::fs::canonicalize(p)
                .await
                .unwrap_or_else(|_| p.to_path_buf()),
        );
    }
    let fingerprints: Vec<Result<SourceFingerprint>> = futures::stream::iter(
        canonical
            .clone()
            .into_iter()
            .map(|p: PathBuf| async move { SourceFingerprint::of_file(&p).await }),
    )
    .buffered(8)
    .collect()
    .await;
    let mut sources = Vec::with_capacity(specs.len());
    for (p, f) in canonical.iter().zip(fingerprints) {
        sources.push((p.clone(), f?));
    }
    let identity = serde_json::json!({
        "apply": apply,
        "paths": canonical,
    });
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(identity.to_string().as_bytes()))
    };
    let key = cfg
        .key
        .unwrap_or_else(|| format!("vod-upload-{}", &digest[..32]));
    Ok(Some(Resumable {
        store: cfg.store,
        key,
        digest,
        sources,
    }))
}

/// Why a checkpoint does not belong to this request (format, request, files), if it does not.
fn foreign_reason(cp: &Checkpoint, res: &Resumable) -> Option<String> {
    if cp.version != CHECKPOINT_VERSION {
        return Some(format!(
            "format version {} (expected {CHECKPOINT_VERSION})",
            cp.version
        ));
    }
    if cp.request_digest != res.digest {
        return Some("it was made for another request (different fields or files)".into());
    }
    if cp.objects.len() != res.sources.len() {
        return Some("its objects do not match the request's".into());
    }
    for (o, (path, fp)) in cp.objects.iter().zip(&res.sources) {
        if &o.local_path != path {
            return Some(format!("object {} was read from another file", o.key));
        }
        if &o.fingerprint != fp {
            return Some(format!(
                "source {} changed since the checkpoint (size, modification time or content)",
                path.display()
            ));
        }
    }
    None
}

/// Why a checkpoint of this request cannot be resumed (credentials about to expire, unusable session), if it
/// cannot.
fn stale_reason(cp: &Checkpoint, margin: Duration, want_cover: bool, now: i64) -> Option<String> {
    if let Some(exp) = cp.credential_expiry() {
        let left = exp - now;
        if left < i64::try_from(margin.as_secs()).unwrap_or(i64::MAX) {
            return Some(format!(
                "its temporary credentials expire in {left} s (margin {} s)",
                margin.as_secs()
            ));
        }
    }
    if let Err(e) = check_apply_response(&cp.apply, want_cover) {
        return Some(format!("its ApplyUpload answer is unusable: {e}"));
    }
    None
}

pub(super) async fn discard_checkpoint(res: &Resumable) {
    if let Err(e) = res.store.delete(&res.key).await {
        tracing::warn!(key = %res.key, error = %e, "could not delete the checkpoint");
    }
}

/// What a checkpoint of this request allows.
pub(super) enum Loaded {
    /// An interrupted transfer: resume it.
    Resume(Checkpoint),
    /// A commit was attempted and its outcome is unknown: reconcile it, never upload again.
    Reconcile(Checkpoint),
    /// The session is committed: answer with the recorded outcome.
    Committed(Checkpoint),
}

/// Loads the checkpoint of a resumable upload, when there is a usable one. A checkpoint that does not parse
/// ([`Error::InvalidInput`] from the store) is discarded; any other store error fails the upload before
/// anything is sent: the record it could not read may be a commit attempt, which must never lead to a second
/// upload.
pub(super) async fn load_checkpoint(
    res: &Resumable,
    margin: Duration,
    want_cover: bool,
    now: i64,
) -> Result<Option<Loaded>> {
    let loaded = match res.store.load(&res.key).await {
        Err(e) if !matches!(e, Error::InvalidInput { .. }) => {
            tracing::error!(key = %res.key, error = %e, "the checkpoint store could not be read: nothing is sent");
            return Err(e);
        }
        loaded => loaded,
    };
    Ok(load_usable(res, margin, want_cover, now, loaded).await)
}

async fn load_usable(
    res: &Resumable,
    margin: Duration,
    want_cover: bool,
    now: i64,
    loaded: Result<Option<Checkpoint>>,
) -> Option<Loaded> {
    let cp = match loaded {
        Ok(Some(cp)) => cp,
        Ok(None) => {
            tracing::debug!(key = %res.key, "no checkpoint: starting a new upload");
            return None;
        }
        Err(e) => {
            tracing::warn!(key = %res.key, error = %e, "checkpoint unreadable: discarding it and starting over");
            discard_checkpoint(res).await;
            return None;
        }
    };
    if let Some(reason) = foreign_reason(&cp, res) {
        tracing::info!(key = %res.key, %reason, "discarding stale checkpoint: starting over with a new ApplyUpload");
        discard_checkpoint(res).await;
        return None;
    }
    if cp.committed && cp.commit.is_some() {
        tracing::info!(key = %res.key, "the checkpoint records a commit: answering with it, nothing is uploaded");
        return Some(Loaded::Committed(cp));
    }
    if cp.committed || cp.commit_attempted_at.is_some() {
        if let Err(e) = check_apply_response(&cp.apply, want_cover) {
            tracing::warn!(key = %res.key, error = %e, "the checkpoint records a commit attempt but its session is unusable: discarding it");
            discard_checkpoint(res).await;
            return None;
        }
        tracing::warn!(
            key = %res.key,
            "the checkpoint records a CommitUpload attempt whose outcome is unknown: reconciling the commit \
             instead of uploading again"
        );
        return Some(Loaded::Reconcile(cp));
    }
    match stale_reason(&cp, margin, want_cover, now) {
        Some(reason) => {
            tracing::info!(key = %res.key, %reason, "discarding stale checkpoint: starting over with a new ApplyUpload");
            discard_checkpoint(res).await;
            None
        }
        None => {
            tracing::info!(
                key = %res.key,
                verified_parts = cp.verified_parts(),
                "resuming from checkpoint"
            );
            Some(Loaded::Resume(cp))
        }
    }
}

/// After a successful commit: deletes the checkpoint, or (when asked to keep it, or when the delete fails)
/// records the commit in it, so a re-run answers with the outcome instead of uploading again.
pub(super) async fn record_commit(
    resumable: Option<&Resumable>,
    session: &Session,
    committed: &Committed,
    keep: bool,
) {
    let (Some(res), Some(w)) = (resumable, &session.writer) else {
        return;
    };
    let deleted = if keep {
        Err(None)
    } else {
        res.store.delete(&res.key).await.map_err(Some)
    };
    if let Err(e) = deleted {
        if let Some(e) = e {
            tracing::warn!(key = %res.key, error = %e, "could not delete the checkpoint after the commit; recording the commit in it");
        }
        let answer = crate::vod::CommitUploadResponse {
            file_id: committed.file_id.clone(),
            media_url: committed.media_url.clone(),
            cover_url: committed.cover_url.clone(),
            request_id: committed.request_id.clone(),
        };
        w.update(|cp| {
            cp.committed = true;
            cp.commit = Some(answer);
        });
        w.save_now().await;
    }
}
