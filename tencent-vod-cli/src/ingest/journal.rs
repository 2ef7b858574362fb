//! The ingest journal: what each item is and where it stands, behind a small trait so another store (a shared
//! database for a fleet of hosts) can replace SQLite later.
//!
//! An item is one media file (for HLS/DASH: one manifest with everything it references), identified by its
//! canonical path and its content digest. Its state moves `pending → uploading → committed`, or to `failed`;
//! a failed item goes back to `uploading` when it is retried; an interrupted attempt goes back to `pending`.

use crate::common::MediaParams;
use futures::future::BoxFuture;
use serde::Serialize;
use std::fmt;
use std::sync::Mutex;

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Known, not started (or an attempt was interrupted before anything was committed).
    Pending,
    /// An upload was started; its checkpoint (under the item's checkpoint key) tells how far it went.
    Uploading,
    /// CommitUpload succeeded: the item has a FileId. Never uploaded again.
    Committed,
    /// The last attempt failed (see the error); retried by a later run up to `--max-attempts`.
    Failed,
}

impl State {
    /// The journal's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Uploading => "uploading",
            State::Committed => "committed",
            State::Failed => "failed",
        }
    }

    /// Parses the journal's spelling.
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "uploading" => State::Uploading,
            "committed" => State::Committed,
            "failed" => State::Failed,
            _ => return None,
        })
    }
}

/// Why an item failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The service error code, or the kind of failure (`InvalidInput`, `TransportError`, `CommitOutcomeUnknown`…).
    pub code: String,
    /// What happened.
    pub message: String,
    /// Request id of the failed call, when there was one.
    pub request_id: Option<String>,
    /// Whether trying again may succeed.
    pub retryable: bool,
}

/// The result of a successful upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Committed {
    /// FileId.
    pub file_id: String,
    /// Playback URL.
    pub media_url: Option<String>,
    /// Cover URL.
    pub cover_url: Option<String>,
    /// Procedure task id (with `--resolve-task`).
    pub task_id: Option<String>,
    /// ApplyUpload request id.
    pub apply_request_id: Option<String>,
    /// CommitUpload request id.
    pub commit_request_id: Option<String>,
}

/// One item as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Row id.
    pub id: i64,
    /// Canonical path of the media file (the manifest for HLS/DASH).
    pub path: String,
    /// Size of the media file, bytes.
    pub size: u64,
    /// Modification time of the media file, nanoseconds since the epoch.
    pub mtime_ns: Option<i64>,
    /// Hash of the sizes and modification times of every file of the item (cheap "unchanged" check).
    pub stat_sig: String,
    /// SHA-256 of the content (for HLS/DASH: of the manifest and every file it references).
    pub digest: String,
    /// Bytes of every object of the upload (media, cover, segments).
    pub bytes: u64,
    /// ApplyUpload fields of the item.
    pub params: MediaParams,
    /// Where it stands.
    pub state: State,
    /// The SDK checkpoint of its upload.
    pub checkpoint_key: String,
    /// Set when committed.
    pub committed: Option<Committed>,
    /// Set when failed.
    pub failure: Option<Failure>,
    /// Upload attempts started (an interrupted one is not counted).
    pub attempts: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A new item.
#[derive(Debug, Clone)]
pub struct NewItem {
    /// See [`Item::path`].
    pub path: String,
    /// See [`Item::size`].
    pub size: u64,
    /// See [`Item::mtime_ns`].
    pub mtime_ns: Option<i64>,
    /// See [`Item::stat_sig`].
    pub stat_sig: String,
    /// See [`Item::digest`].
    pub digest: String,
    /// See [`Item::bytes`].
    pub bytes: u64,
    /// See [`Item::params`].
    pub params: MediaParams,
    /// See [`Item::checkpoint_key`].
    pub checkpoint_key: String,
}

impl NewItem {
    /// The item as stored: pending, no attempts yet.
    pub fn into_item(self, id: i64, at: i64) -> Item {
        Item {
            id,
            path: self.path,
            size: self.size,
            mtime_ns: self.mtime_ns,
            stat_sig: self.stat_sig,
            digest: self.digest,
            bytes: self.bytes,
            params: self.params,
            state: State::Pending,
            checkpoint_key: self.checkpoint_key,
            committed: None,
            failure: None,
            attempts: 0,
            created_at: at,
            updated_at: at,
        }
    }
}

/// A state change (one transaction).
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "a few per item, short-lived; boxing buys nothing"
)]
pub enum Change {
    /// An attempt starts (recorded before any request): `attempts + 1`.
    Uploading,
    /// CommitUpload succeeded.
    Committed(Committed),
    /// The attempt failed.
    Failed(Failure),
    /// The attempt was interrupted before anything was committed: back to pending, `attempts - 1`.
    Interrupted,
    /// The files were seen again with the same content but other modification times (or new fields).
    Seen {
        /// See [`Item::size`].
        size: u64,
        /// See [`Item::mtime_ns`].
        mtime_ns: Option<i64>,
        /// See [`Item::stat_sig`].
        stat_sig: String,
        /// See [`Item::bytes`].
        bytes: u64,
        /// See [`Item::params`].
        params: MediaParams,
    },
}

/// What went wrong with the journal itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalError {
    /// The journal's path (or `memory`).
    pub path: String,
    /// What happened.
    pub kind: JournalErrorKind,
}

/// Kinds of [`JournalError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalErrorKind {
    /// Not a tvod journal (another file, another application's database, a newer schema); never modified.
    Foreign(String),
    /// A tvod journal that cannot be read; never modified.
    Corrupt(String),
    /// Another running `tvod ingest` holds it.
    Locked,
    /// Reading or writing failed.
    Io(String),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            JournalErrorKind::Foreign(why) => write!(
                f,
                "journal {}: {why}; refusing to use it (it was not modified)",
                self.path
            ),
            JournalErrorKind::Corrupt(why) => write!(
                f,
                "journal {} is corrupt: {why}; refusing to use it (it was not modified)",
                self.path
            ),
            JournalErrorKind::Locked => write!(
                f,
                "journal {} is locked by another running `tvod ingest`; wait for it to finish (or use another --journal)",
                self.path
            ),
            JournalErrorKind::Io(why) => write!(f, "journal {}: {why}", self.path),
        }
    }
}

impl std::error::Error for JournalError {}

/// The journal's operations. Writes are transactions: after `update` returns, the change survives the process
/// being killed. [`sync`](Self::sync) makes everything written so far survive an OS crash or power loss too.
pub trait Journal: Send + Sync {
    /// Every item, oldest first.
    fn items(&self) -> BoxFuture<'_, Result<Vec<Item>, JournalError>>;
    /// Adds items (one transaction) and returns them with their ids, in order.
    fn add(&self, items: Vec<NewItem>) -> BoxFuture<'_, Result<Vec<Item>, JournalError>>;
    /// Applies a change to one item (one transaction).
    fn update(&self, id: i64, change: Change) -> BoxFuture<'_, Result<(), JournalError>>;
    /// Makes every write so far durable against an OS crash.
    fn sync(&self) -> BoxFuture<'_, Result<(), JournalError>>;
    /// Where it is, for messages.
    fn location(&self) -> String;
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Applies a change to an item in memory (shared by the implementations so they cannot disagree).
pub fn apply_change(item: &mut Item, change: Change, at: i64) {
    item.updated_at = at;
    match change {
        Change::Uploading => {
            item.state = State::Uploading;
            item.attempts += 1;
        }
        Change::Committed(c) => {
            item.state = State::Committed;
            item.committed = Some(c);
            item.failure = None;
        }
        Change::Failed(f) => {
            item.state = State::Failed;
            item.failure = Some(f);
        }
        Change::Interrupted => {
            item.state = State::Pending;
            item.attempts = item.attempts.saturating_sub(1);
        }
        Change::Seen {
            size,
            mtime_ns,
            stat_sig,
            bytes,
            params,
        } => {
            item.size = size;
            item.mtime_ns = mtime_ns;
            item.stat_sig = stat_sig;
            item.bytes = bytes;
            item.params = params;
        }
    }
}

/// A journal in memory: nothing survives the process (`--no-journal`, for comparisons and tests).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    items: Mutex<Vec<Item>>,
}

impl MemoryJournal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Journal for MemoryJournal {
    fn items(&self) -> BoxFuture<'_, Result<Vec<Item>, JournalError>> {
        let v = self.lock().clone();
        Box::pin(async move { Ok(v) })
    }

    fn add(&self, items: Vec<NewItem>) -> BoxFuture<'_, Result<Vec<Item>, JournalError>> {
        let mut g = self.lock();
        let at = now();
        let mut out = Vec::with_capacity(items.len());
        for n in items {
            let item = n.into_item(g.len() as i64 + 1, at);
            g.push(item.clone());
            out.push(item);
        }
        Box::pin(async move { Ok(out) })
    }

    fn update(&self, id: i64, change: Change) -> BoxFuture<'_, Result<(), JournalError>> {
        // Ids are 1, 2, 3… in insertion order.
        let mut g = self.lock();
        let slot = usize::try_from(id - 1)
            .ok()
            .and_then(|i| g.get_mut(i))
            .filter(|i| i.id == id);
        let r = match slot {
            Some(item) => {
                apply_change(item, change, now());
                Ok(())
            }
            None => Err(JournalError {
                path: self.location(),
                kind: JournalErrorKind::Io(format!("no item {id}")),
            }),
        };
        Box::pin(async move { r })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async { Ok(()) })
    }

    fn location(&self) -> String {
        "(memory)".into()
    }
}
