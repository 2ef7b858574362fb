//! The VOD upload session: ApplyUpload and its answer checked, the COS keys of the objects, and recovery
//! from temporary credentials that expire during the transfer.

use super::*;

pub(super) fn check_apply_response(resp: &ApplyUploadResponse, want_cover: bool) -> Result<()> {
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
    crate::transport::endpoint::validate_region("StorageRegion", &resp.storage_region).map_err(
        |_| {
            bad(format!(
                "StorageRegion {:?} is not a region",
                resp.storage_region
            ))
        },
    )?;
    if resp.vod_session_key.is_empty() {
        return Err(bad("VodSessionKey is empty".into()));
    }
    if let Some(problem) = prepare::storage_path_problem(&resp.media_storage_path) {
        return Err(bad(format!(
            "MediaStoragePath {:?} {problem}",
            resp.media_storage_path
        )));
    }
    if let Some(p) = resp.cover_storage_path.as_deref().filter(|p| !p.is_empty())
        && let Some(problem) = prepare::storage_path_problem(p)
    {
        return Err(bad(format!("CoverStoragePath {p:?} {problem}")));
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

/// One VOD upload session and the COS keys of its objects.
pub(super) struct Session {
    pub(super) applied: ApplyUploadResponse,
    /// When ApplyUpload answered (unix seconds, server time).
    pub(super) applied_at: i64,
    pub(super) keys: Vec<String>,
    pub(super) resumed: bool,
    pub(super) writer: Option<Arc<CheckpointWriter>>,
}

impl Session {
    pub(super) fn new(applied: ApplyUploadResponse, applied_at: i64, specs: &[ObjectSpec]) -> Self {
        let media_key = applied.media_storage_path[1..].to_string();
        let keys = specs
            .iter()
            .map(|s| match &s.role {
                Role::Media => media_key.clone(),
                Role::Cover => applied
                    .cover_storage_path
                    .as_deref()
                    .map(|p| p[1..].to_string())
                    .unwrap_or_default(),
                Role::Segment(rel) => segment_key(&media_key, rel),
            })
            .collect();
        Session {
            applied,
            applied_at,
            keys,
            resumed: false,
            writer: None,
        }
    }

    pub(super) fn expiry(&self) -> Option<i64> {
        self.applied
            .temp_certificate
            .as_ref()
            .map(|c| c.expired_time)
    }
}

/// Whether a transfer failure means the session's temporary credentials expired (`now`: server time).
pub(super) fn is_credential_expiry(e: &Error, expiry: Option<i64>, now: i64) -> bool {
    match e {
        Error::CredentialsExpired { .. } => true,
        _ => match e.code() {
            Some("ExpiredToken") => true,
            Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
                expiry.is_some_and(|exp| now + 5 >= exp)
            }
            _ => false,
        },
    }
}

/// A new session: ApplyUpload (raced with cancellation), and a fresh checkpoint when resumable.
pub(super) async fn fresh_session(
    ctx: &UploadContext<'_>,
    apply: &ApplyUploadRequest,
    specs: &[ObjectSpec],
    resumable: Option<&Resumable>,
    margin: Duration,
    want_cover: bool,
    cancel: &CancellationToken,
) -> Result<Session> {
    let applied = or_cancel(cancel, ctx.api.apply_upload(apply)).await?;
    check_apply_response(&applied, want_cover)?;
    tracing::info!(
        bucket = %applied.storage_bucket,
        region = %applied.storage_region,
        request_id = %applied.request_id,
        "ApplyUpload done"
    );
    if let Some(exp) = applied.temp_certificate.as_ref().map(|c| c.expired_time) {
        let left = exp - ctx.clock.now();
        if left < i64::try_from(margin.as_secs()).unwrap_or(i64::MAX) {
            tracing::info!(
                valid_for_s = left,
                "the session's temporary credentials are short-lived; an expiry during the transfer restarts it once"
            );
        }
    }
    let applied_at = ctx.clock.now();
    let mut session = Session::new(applied, applied_at, specs);
    if let Some(res) = resumable {
        let now = applied_at;
        let cp = Checkpoint {
            version: CHECKPOINT_VERSION,
            key: res.key.clone(),
            request_digest: res.digest.clone(),
            created_at: now,
            updated_at: now,
            apply: session.applied.clone(),
            sub_app_id: apply.sub_app_id,
            objects: session
                .keys
                .iter()
                .zip(&res.sources)
                .map(|(key, (path, fp))| ObjectCheckpoint {
                    key: key.clone(),
                    local_path: path.clone(),
                    fingerprint: *fp,
                    upload_id: None,
                    parts: Vec::new(),
                    completed: None,
                })
                .collect(),
            committed: false,
            commit_attempted_at: None,
            commit: None,
        };
        let writer = CheckpointWriter::new(Arc::clone(&res.store), cp, ctx.clock.clone());
        writer.save_now().await;
        session.writer = Some(writer);
    }
    Ok(session)
}
