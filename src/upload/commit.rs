//! CommitUpload, exactly once.
//!
//! CommitUpload is not idempotent: VOD consumes the session, and a session that was already committed is answered
//! like an invalid one (`InvalidParameterValue.VodSessionKey`; the API documents no "already committed" code).
//! So the commit is never re-sent blindly by the retry loop ([`Idempotency::NotIdempotent`]). When its outcome
//! is unknown (the connection dropped after the request was sent, a timeout, a 5xx, an unreadable answer), the
//! upload **reconciles**:
//!
//! 1. one more `CommitUpload`: it succeeds when the first one never took effect (or when VOD answers a
//!    repeated commit with the same FileId);
//! 2. otherwise the media library is searched: `SearchMedia` (`Names` = the `MediaName`, `CreateTime` from the
//!    ApplyUpload time, `Filters` = `basicInfo`) for a media whose `MediaUrl` path is the session's
//!    `MediaStoragePath`, confirmed with `DescribeMediaInfos`; the search is repeated with backoff for the
//!    [reconcile timeout](super::UploadRequest::with_commit_reconcile_timeout), as the library indexes new media
//!    with a delay;
//! 3. when neither establishes the FileId: [`Error::CommitOutcomeUnknown`], with what an application needs to
//!    reconcile later (storage paths, request ids, the session key).

use crate::error::{CommitOutcomeUnknownError, Error, Result};
use crate::events::TimeRange;
use crate::media::{
    BASIC_INFO, DescribeMediaInfosRequest, MAX_SEARCH_RESULTS, SearchMediaRequest,
    media_matches_storage_path,
};
use crate::retry::Idempotency;
use crate::vod::{ApplyUploadResponse, CallOptions, CommitUploadRequest, VodApi};
use std::time::Duration;

/// How far before the ApplyUpload time the `CreateTime` window of the search starts (clock differences between
/// VOD's front end and its media store).
const SEARCH_WINDOW_SLACK_SECS: i64 = 600;
/// Page size of the reconciliation search.
const SEARCH_PAGE: u64 = 100;

/// The session to commit and what identifies its media.
pub(crate) struct CommitTarget<'a> {
    pub api: &'a VodApi,
    pub applied: &'a ApplyUploadResponse,
    pub sub_app_id: Option<u64>,
    pub media_name: Option<&'a str>,
    /// When ApplyUpload answered (unix seconds, server time).
    pub applied_at: i64,
    /// How long the media search may be repeated.
    pub reconcile_timeout: Duration,
    /// Stops the repeated search early (cancellation or deadline of the upload).
    pub cancel: Option<&'a tokio_util::sync::CancellationToken>,
}

/// A committed session.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub file_id: String,
    pub media_url: Option<String>,
    pub cover_url: Option<String>,
    pub request_id: String,
    /// The FileId was established after a lost answer (second CommitUpload or media search).
    pub reconciled: bool,
}

impl From<crate::vod::CommitUploadResponse> for Committed {
    fn from(r: crate::vod::CommitUploadResponse) -> Self {
        Committed {
            file_id: r.file_id,
            media_url: r.media_url,
            cover_url: r.cover_url.filter(|u| !u.is_empty()),
            request_id: r.request_id,
            reconciled: false,
        }
    }
}

/// Whether a CommitUpload error says VOD does not take the session (any more): already committed, expired, or
/// unknown.
/// How many times an unknown-outcome CommitUpload is sent again (with backoff) while the answers stay transient,
/// before the media search decides.
const MAX_COMMIT_RESENDS: u32 = 3;

pub(crate) fn is_session_refused(e: &Error) -> bool {
    e.code().is_some_and(|c| {
        c == "InvalidParameterValue.VodSessionKey"
            || c == "ResourceNotFound"
            || c.starts_with("ResourceNotFound.")
    })
}

/// One CommitUpload, retried only on failures that prove it was not processed.
pub(crate) async fn send(t: &CommitTarget<'_>) -> Result<Committed> {
    let mut req = CommitUploadRequest::new(&t.applied.vod_session_key);
    req.sub_app_id = t.sub_app_id;
    let resp: crate::vod::CommitUploadResponse = t
        .api
        .call_with(
            "CommitUpload",
            &req,
            CallOptions::new().with_idempotency(Idempotency::NotIdempotent),
        )
        .await?;
    Ok(resp.into())
}

fn unknown(t: &CommitTarget<'_>) -> CommitOutcomeUnknownError {
    CommitOutcomeUnknownError::new(
        &t.applied.vod_session_key,
        t.sub_app_id,
        &t.applied.storage_bucket,
        &t.applied.storage_region,
        &t.applied.media_storage_path,
        t.applied
            .cover_storage_path
            .clone()
            .filter(|p| !p.is_empty()),
        t.media_name.map(str::to_string),
        t.applied_at,
        &t.applied.request_id,
    )
}

/// After a CommitUpload whose outcome is unknown (`cause`), or for a checkpoint that records a commit attempt
/// (`cause` = `None`): CommitUpload sent again (up to [`MAX_COMMIT_RESENDS`] times while the answers stay transient), then the media search. Fails with [`Error::CommitOutcomeUnknown`]
/// when neither establishes the FileId.
pub(crate) async fn reconcile(t: &CommitTarget<'_>, cause: Option<Error>) -> Result<Committed> {
    let mut report = unknown(t);
    if let Some(c) = &cause {
        tracing::warn!(
            error = %c,
            media_storage_path = %t.applied.media_storage_path,
            "the outcome of CommitUpload is unknown: committing again, then searching the media library"
        );
        report
            .commit_request_ids
            .extend(c.request_id().map(str::to_string));
    }
    // Re-send while VOD's answers stay transient (throttling, InternalError, 5xx, lost answers): a commit that
    // was never processed then succeeds; one that was is refused (session already used) or answers the same
    // FileId, and the media search below settles it.
    let mut resend = 0u32;
    let second = loop {
        resend += 1;
        match send(t).await {
            Ok(mut c) => {
                tracing::info!(file_id = %c.file_id, request_id = %c.request_id, attempt = resend, "CommitUpload succeeded on a re-send");
                c.reconciled = true;
                return Ok(c);
            }
            Err(e) => {
                report
                    .commit_request_ids
                    .extend(e.request_id().map(str::to_string));
                if is_session_refused(&e) {
                    tracing::info!(error = %e, "VOD refuses the session (already committed, or expired): searching for its media");
                    break e;
                }
                let cancelled = t.cancel.is_some_and(|c| c.is_cancelled());
                if resend >= MAX_COMMIT_RESENDS || !e.is_retryable() || cancelled {
                    tracing::warn!(error = %e, attempts = resend, "CommitUpload re-sends failed too: searching for the media");
                    break e;
                }
                tracing::debug!(error = %e, attempt = resend, "CommitUpload re-send failed transiently: sending again");
                let pause = Duration::from_millis(200u64 << resend.min(6));
                match t.cancel {
                    Some(c) => {
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = c.cancelled() => {}
                        }
                    }
                    None => tokio::time::sleep(pause).await,
                }
            }
        }
    };
    match find(t, &mut report.search_request_ids).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => {
            let within = if t.cancel.is_some_and(|c| c.is_cancelled()) {
                "before the upload was cancelled (or its deadline passed)".to_string()
            } else {
                format!("within {:?}", t.reconcile_timeout)
            };
            report.reason = format!(
                "no media with the storage path was found {within} (last CommitUpload re-send: {second})"
            );
            report.cause = Some(Box::new(cause.unwrap_or(second)));
            Err(Error::CommitOutcomeUnknown(Box::new(report)))
        }
        Err(search) => {
            report.reason =
                format!("the media search failed: {search} (last CommitUpload re-send: {second})");
            report.cause = Some(Box::new(cause.unwrap_or(second)));
            Err(Error::CommitOutcomeUnknown(Box::new(report)))
        }
    }
}

/// Searches the media library for the session's media, repeating with backoff for the reconcile timeout.
/// `Ok(None)`: not found; `Err`: the search itself failed, or found several candidates.
pub(crate) async fn find(
    t: &CommitTarget<'_>,
    request_ids: &mut Vec<String>,
) -> Result<Option<Committed>> {
    let deadline = tokio::time::Instant::now() + t.reconcile_timeout;
    let mut delay = Duration::from_secs(1);
    loop {
        match search_once(t, request_ids).await {
            Ok(Some(c)) => return Ok(Some(c)),
            Ok(None) => {}
            Err(e) if e.is_retryable() => {
                tracing::debug!(error = %e, "media search failed; trying again")
            }
            Err(e) => return Err(e),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || t.cancel.is_some_and(|c| c.is_cancelled()) {
            return Ok(None);
        }
        let pause = tokio::time::sleep(delay.min(deadline - now));
        match t.cancel {
            Some(c) => {
                tokio::select! {
                    () = pause => {}
                    () = c.cancelled() => return Ok(None),
                }
            }
            None => pause.await,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// One pass of the search: every page of `SearchMedia` in the window, then `DescribeMediaInfos` of the match.
async fn search_once(
    t: &CommitTarget<'_>,
    request_ids: &mut Vec<String>,
) -> Result<Option<Committed>> {
    let path = t.applied.media_storage_path.as_str();
    let mut base = SearchMediaRequest::new()
        .with_sub_app_id_opt(t.sub_app_id)
        .with_create_time(TimeRange::after(crate::media::iso8601(
            t.applied_at - SEARCH_WINDOW_SLACK_SECS,
        )))
        .with_filters([BASIC_INFO])
        .with_limit(SEARCH_PAGE);
    if let Some(name) = t
        .media_name
        .filter(|n| !n.is_empty() && n.chars().count() <= 100)
    {
        base = base.with_names([name]);
    }
    let mut candidates: Vec<String> = Vec::new();
    let mut offset = 0;
    while offset + SEARCH_PAGE <= MAX_SEARCH_RESULTS {
        let page = t
            .api
            .search_media(&base.clone().with_offset(offset))
            .await?;
        request_ids.extend(page.request_id.clone());
        for m in &page.media_info_set {
            if let (Some(id), Some(b)) = (&m.file_id, &m.basic_info)
                && media_matches_storage_path(b, path)
                && !candidates.contains(id)
            {
                candidates.push(id.clone());
            }
        }
        let n = page.media_info_set.len() as u64;
        offset += SEARCH_PAGE;
        if n < SEARCH_PAGE || page.total_count.is_some_and(|total| offset >= total) {
            break;
        }
    }
    match candidates.len() {
        0 => Ok(None),
        1 => confirm(t, &candidates[0], request_ids).await,
        n => Err(Error::invalid_response(
            "SearchMedia",
            200,
            format!(
                "{n} media have the storage path {path} (FileIds {}); cannot tell which one this session committed",
                candidates.join(", ")
            ),
            b"",
            request_ids.last().cloned(),
        )),
    }
}

/// Confirms a candidate with `DescribeMediaInfos` (the media store, not the search index).
async fn confirm(
    t: &CommitTarget<'_>,
    file_id: &str,
    request_ids: &mut Vec<String>,
) -> Result<Option<Committed>> {
    let resp = t
        .api
        .describe_media_infos(
            &DescribeMediaInfosRequest::new([file_id])
                .with_filters([BASIC_INFO])
                .with_sub_app_id_opt(t.sub_app_id),
        )
        .await?;
    let request_id = resp.request_id.clone().unwrap_or_default();
    request_ids.extend(resp.request_id.clone());
    let found = resp.media_info_set.into_iter().find(|m| {
        m.file_id.as_deref() == Some(file_id)
            && m.basic_info
                .as_ref()
                .is_some_and(|b| media_matches_storage_path(b, &t.applied.media_storage_path))
    });
    let Some(m) = found else {
        tracing::debug!(
            file_id,
            "SearchMedia's candidate is not confirmed by DescribeMediaInfos"
        );
        return Ok(None);
    };
    let b = m.basic_info.unwrap_or_default();
    tracing::info!(
        file_id,
        request_id = %request_id,
        "the media of the session was found: CommitUpload had taken effect"
    );
    Ok(Some(Committed {
        file_id: file_id.to_string(),
        media_url: b.media_url,
        cover_url: b.cover_url.filter(|u| !u.is_empty()),
        request_id,
        reconciled: true,
    }))
}
