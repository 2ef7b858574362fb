//! Before an item is uploaded, its SDK checkpoint says whether an earlier run got further than the journal
//! knows. The upload itself (the SDK, given the same checkpoint) acts on it and never uploads the media twice:
//!
//! - a checkpoint that records the **commit** (kept after the commit until the journal holds the outcome:
//!   `with_keep_committed_checkpoint`) is answered with that outcome; nothing is sent;
//! - one that records a **commit attempt** whose answer never arrived (the process died while CommitUpload was
//!   on the wire) is reconciled: a second CommitUpload, then a media-library search for the session's media;
//!   if neither establishes the FileId the upload fails with `CommitOutcomeUnknown` and the checkpoint keeps
//!   the attempt, so a later run reconciles again rather than uploading;
//! - a partial one is resumed (only the missing parts are sent).
//!
//! This module only looks, so the run can say how an item was recovered.

use tencent_vod::upload::CheckpointStore;

/// What an item's checkpoint records before its upload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No checkpoint (or one the SDK will discard or resume).
    Nothing,
    /// The commit and its answer: the upload answers from it.
    Committed,
    /// A commit attempt without an answer: the upload reconciles it.
    CommitAttempted,
}

/// Looks at the checkpoint under `key`.
pub async fn look(store: &impl CheckpointStore, key: &str) -> Found {
    match store.load(key).await {
        Ok(Some(cp)) if cp.committed && cp.commit.is_some() => Found::Committed,
        Ok(Some(cp)) if cp.committed || cp.commit_attempted_at.is_some() => Found::CommitAttempted,
        _ => Found::Nothing,
    }
}
