//! Before an item is uploaded, its SDK checkpoint says whether an earlier run got further than the journal
//! knows. This is what makes a re-run after a crash upload nothing twice:
//!
//! 1. a checkpoint **kept after the commit** holds the FileId: the item is committed, nothing is sent;
//! 2. a checkpoint whose objects are **all complete** but with no commit recorded belongs to a session whose
//!    CommitUpload may or may not have reached VOD (the process died in between). CommitUpload is sent again
//!    with the same session key: if VOD accepts it, the first one never arrived and this is the only commit.
//!    If VOD answers that the session key is no longer valid (already committed), the media is looked up with
//!    `SearchMedia` (upload time window, name, storage region) and matched by its URL's path, which is the
//!    session's `MediaStoragePath`; found → committed. Not found → the outcome is **unknown**: the item fails
//!    with `CommitOutcomeUnknown` and is never uploaded again automatically (a later run retries the lookup);
//! 3. anything else (no checkpoint, a partial one) → upload; the SDK resumes a partial checkpoint.

use super::journal::{Committed, Failure};
use crate::common::{RateLimiter, iso8601};
use serde_json::{Value, json};
use tencent_vod::upload::{Checkpoint, CheckpointStore, JsonFileCheckpointStore};
use tencent_vod::vod::CommitUploadRequest;
use tencent_vod::{Error, VodClient};

/// What the checkpoint says.
#[derive(Debug)]
pub enum Recovery {
    /// Upload (from scratch or resuming the checkpoint).
    Proceed,
    /// Already committed; `via` says how it was found (`checkpoint`, `commit`, `search`).
    Committed {
        /// The outcome.
        committed: Committed,
        /// How it was established.
        via: &'static str,
    },
    /// It may be committed, but nothing shows its FileId.
    Unknown(Failure),
    /// A call made to find out failed.
    Error(Error),
}

/// Longest `Names` entry `SearchMedia` accepts.
const MAX_SEARCH_NAME: usize = 40;
/// `SearchMedia`'s cap on `Offset + Limit`.
const MAX_SEARCH_RESULTS: u64 = 5000;
const SEARCH_PAGE: u64 = 100;

/// Inspects the checkpoint under `key` (see the module docs). `media_name` is the name the upload applied with.
pub async fn inspect(
    client: &VodClient,
    store: &JsonFileCheckpointStore,
    key: &str,
    media_name: &str,
    api_rate: &RateLimiter,
) -> Recovery {
    let cp = match store.load(key).await {
        Ok(Some(cp)) => cp,
        // No checkpoint, or one the SDK will discard (it logs why): upload.
        Ok(None) | Err(_) => return Recovery::Proceed,
    };
    if let Some(c) = cp.committed_upload() {
        return Recovery::Committed {
            committed: Committed {
                file_id: c.file_id.clone(),
                media_url: c.media_url.clone(),
                cover_url: c.cover_url.clone(),
                task_id: None,
                apply_request_id: Some(c.apply_request_id.clone()),
                commit_request_id: Some(c.commit_request_id.clone()),
            },
            via: "checkpoint",
        };
    }
    if !cp.committed && !cp.all_objects_complete() {
        return Recovery::Proceed;
    }
    if !cp.committed {
        let mut req = CommitUploadRequest::new(&cp.apply.vod_session_key);
        req.sub_app_id = cp.sub_app_id;
        api_rate.acquire().await;
        match client.api().commit_upload(&req).await {
            Ok(c) => {
                tracing::info!(key, file_id = %c.file_id, "committed a session whose commit had not reached VOD");
                return Recovery::Committed {
                    committed: Committed {
                        file_id: c.file_id,
                        media_url: c.media_url,
                        cover_url: c.cover_url.filter(|u| !u.is_empty()),
                        task_id: None,
                        apply_request_id: Some(cp.apply.request_id.clone()),
                        commit_request_id: Some(c.request_id),
                    },
                    via: "commit",
                };
            }
            Err(e) if e.code() == Some("InvalidParameterValue.VodSessionKey") => {
                tracing::info!(
                    key,
                    "the session was already committed: looking the media up"
                );
            }
            Err(e) => return Recovery::Error(e),
        }
    }
    match search(client, &cp, media_name, api_rate).await {
        Ok(Some(committed)) => Recovery::Committed {
            committed,
            via: "search",
        },
        Ok(None) => Recovery::Unknown(Failure {
            code: "CommitOutcomeUnknown".into(),
            message: format!(
                "an earlier run stopped while committing this upload (bucket {}, MediaStoragePath {}); VOD no longer \
                 accepts its session but SearchMedia does not show the media yet. Not uploading it again; check VOD, \
                 or delete the checkpoint {} to force a new upload",
                cp.apply.storage_bucket,
                cp.apply.media_storage_path,
                store.path_for(key).display()
            ),
            request_id: None,
            retryable: true,
        }),
        Err(e) => Recovery::Error(e),
    }
}

/// The media committed from this checkpoint's session, found by `SearchMedia`: its URL's path is the
/// session's `MediaStoragePath`.
async fn search(
    client: &VodClient,
    cp: &Checkpoint,
    media_name: &str,
    api_rate: &RateLimiter,
) -> Result<Option<Committed>, Error> {
    let want = match url::Url::parse("http://vod.invalid/")
        .and_then(|u| u.join(&cp.apply.media_storage_path))
    {
        Ok(u) => u.path().to_string(),
        Err(_) => return Ok(None),
    };
    let mut offset = 0;
    while offset + SEARCH_PAGE <= MAX_SEARCH_RESULTS {
        let mut req = json!({
            "StorageRegions": [cp.apply.storage_region],
            // Clocks differ: look from a while before the session started.
            "CreateTime": {"After": iso8601(cp.created_at - 3600)},
            "Filters": ["basicInfo"],
            "Sort": {"Field": "CreateTime", "Order": "Asc"},
            "Offset": offset,
            "Limit": SEARCH_PAGE,
        });
        if let Some(id) = cp.sub_app_id {
            req["SubAppId"] = json!(id);
        }
        if !media_name.is_empty() && media_name.chars().count() <= MAX_SEARCH_NAME {
            req["Names"] = json!([media_name]);
        }
        api_rate.acquire().await;
        let resp: Value = client.api().call("SearchMedia", &req).await?;
        let set = resp["MediaInfoSet"].as_array().cloned().unwrap_or_default();
        for m in &set {
            let info = &m["BasicInfo"];
            let path = info["MediaUrl"]
                .as_str()
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| u.path().to_string());
            if path.as_deref() == Some(want.as_str())
                && let Some(file_id) = m["FileId"].as_str()
            {
                return Ok(Some(Committed {
                    file_id: file_id.to_string(),
                    media_url: info["MediaUrl"].as_str().map(str::to_string),
                    cover_url: info["CoverUrl"]
                        .as_str()
                        .filter(|u| !u.is_empty())
                        .map(str::to_string),
                    task_id: None,
                    apply_request_id: Some(cp.apply.request_id.clone()),
                    commit_request_id: None,
                }));
            }
        }
        let total = resp["TotalCount"].as_u64().unwrap_or(0);
        offset += SEARCH_PAGE;
        if set.is_empty() || offset >= total {
            break;
        }
    }
    Ok(None)
}
