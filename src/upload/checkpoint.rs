//! Resumable uploads: the [`Checkpoint`] record, the [`CheckpointStore`] trait and two stores
//! ([`JsonFileCheckpointStore`], [`MemoryCheckpointStore`]).
//!
//! A checkpoint is opt-in ([`UploadRequest::with_checkpoint`](super::UploadRequest::with_checkpoint)). It is
//! saved after ApplyUpload, after each verified part (saves are serialized through one writer and coalesced, so
//! they never race) and when an object completes; it is deleted after a successful CommitUpload. See the
//! [module docs](super#resume) for when a checkpoint is used and when it is discarded, and [`Checkpoint`] for the
//! secrets it holds.

use crate::cos::CompletedPart;
use crate::error::{Error, Result};
use crate::vod::ApplyUploadResponse;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The checkpoint format version written by this crate. A checkpoint of another version is discarded.
pub const CHECKPOINT_VERSION: u32 = 1;

/// How much of a file's head is hashed into its [`SourceFingerprint`].
pub const FINGERPRINT_HEAD_BYTES: u64 = 1 << 20;

/// The state of one interrupted upload: the ApplyUpload answer (with temporary credentials: see
/// [Secrets](#secrets)), and per object the multipart upload id and the verified parts.
///
/// # Secrets
/// A checkpoint holds the session's **temporary COS credentials** (SecretKey and token, valid until their
/// `ExpiredTime`) and the `VodSessionKey`. Treat a checkpoint like a credential file: [`JsonFileCheckpointStore`]
/// creates its files with mode `0600` (and its directory `0700` when it creates it) on unix, and `Debug` hides
/// the credentials and the session key. A store over a database should protect the records the same way.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Format version ([`CHECKPOINT_VERSION`]).
    pub version: u32,
    /// The checkpoint key it was saved under.
    pub key: String,
    /// SHA-256 (hex) of the request it belongs to (ApplyUpload fields and local paths); a checkpoint found under an
    /// explicit key but made for another request is discarded.
    pub request_digest: String,
    /// When the session was applied for (unix seconds).
    pub created_at: i64,
    /// Last save (unix seconds).
    pub updated_at: i64,
    /// The ApplyUpload answer: bucket, region, session key, storage paths and temporary credentials.
    pub apply: ApplyUploadResponse,
    /// `SubAppId` the session was applied for (sent again on CommitUpload).
    pub sub_app_id: Option<u64>,
    /// Objects in upload order: the media, the cover, then HLS/DASH segments.
    pub objects: Vec<ObjectCheckpoint>,
    /// Set once CommitUpload succeeded (normally the checkpoint is deleted then; kept with this flag only when
    /// the delete failed). A committed checkpoint answers a re-run with [`commit`](Self::commit), without
    /// uploading anything.
    pub committed: bool,
    /// When CommitUpload was (about to be) sent, unix seconds. Saved **before** the request goes out: a re-run
    /// of a checkpoint recording a commit attempt never uploads again; it reconciles the commit (a second
    /// CommitUpload, then a media search; see the [module docs](super#resume)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_attempted_at: Option<i64>,
    /// CommitUpload's answer, once it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<crate::vod::CommitUploadResponse>,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("version", &self.version)
            .field("key", &self.key)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("bucket", &self.apply.storage_bucket)
            .field("region", &self.apply.storage_region)
            .field("vod_session_key", &"***")
            .field("media_storage_path", &self.apply.media_storage_path)
            .field("temp_certificate", &self.apply.temp_certificate)
            .field("sub_app_id", &self.sub_app_id)
            .field("objects", &self.objects)
            .field("committed", &self.committed)
            .field("commit_attempted_at", &self.commit_attempted_at)
            .field("commit", &self.commit)
            .finish()
    }
}

impl Checkpoint {
    /// When the temporary credentials expire (unix seconds), if the session has any.
    pub fn credential_expiry(&self) -> Option<i64> {
        self.apply.temp_certificate.as_ref().map(|c| c.expired_time)
    }

    /// Verified parts over all objects.
    pub fn verified_parts(&self) -> usize {
        self.objects.iter().map(|o| o.parts.len()).sum()
    }

    /// Whether this is the record saved just before CommitUpload is sent (an attempt, no answer yet). It is the
    /// one save exactly-once depends on: a store should make it durable (fsynced) before `save` returns, since
    /// the request goes out as soon as it does. Other saves only make a resume shorter.
    pub fn records_commit_attempt(&self) -> bool {
        self.commit_attempted_at.is_some() && !self.committed
    }
}

/// One object of a checkpointed upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectCheckpoint {
    /// COS key (no leading `/`).
    pub key: String,
    /// The local file it is read from.
    pub local_path: PathBuf,
    /// The file as it was when the upload started.
    pub fingerprint: SourceFingerprint,
    /// The multipart upload id, once a part was verified.
    pub upload_id: Option<String>,
    /// Parts COS confirmed and whose CRC-64 was verified.
    pub parts: Vec<CompletedPart>,
    /// Set when the object is complete on COS.
    pub completed: Option<CompletedObject>,
}

/// A complete object, as recorded in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletedObject {
    /// Size in bytes.
    pub size: u64,
    /// CRC-64/XZ of the object.
    pub crc64: u64,
}

/// What identifies a source file's content cheaply: size, modification time and the CRC-64 of its first MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceFingerprint {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the unix epoch (`None` when the platform gives none).
    pub modified_unix_nanos: Option<u64>,
    /// CRC-64/XZ of the first [`FINGERPRINT_HEAD_BYTES`] (or the whole file if smaller).
    pub head_crc64: u64,
}

impl SourceFingerprint {
    /// Fingerprints the file at `path`.
    pub(crate) async fn of_file(path: &Path) -> Result<Self> {
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let file = std::fs::File::open(&p).map_err(|e| Error::io(&p, "open", e))?;
            let meta = file.metadata().map_err(|e| Error::io(&p, "stat", e))?;
            let modified_unix_nanos = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| u64::try_from(d.as_nanos()).ok());
            let mut head = Vec::with_capacity(FINGERPRINT_HEAD_BYTES.min(meta.len()) as usize);
            file.take(FINGERPRINT_HEAD_BYTES)
                .read_to_end(&mut head)
                .map_err(|e| Error::io(&p, "read", e))?;
            Ok(SourceFingerprint {
                size: meta.len(),
                modified_unix_nanos,
                head_crc64: crate::cos::crc64(&head),
            })
        })
        .await
        .map_err(|e| Error::io(path, "fingerprint", std::io::Error::other(e)))?
    }
}

/// Where checkpoints live. Implement it over your own database when many workers share uploads; the crate
/// ships [`JsonFileCheckpointStore`] and [`MemoryCheckpointStore`].
///
/// Calls for one upload are serialized (never two saves of one key at once from one upload). A `load` that
/// answers [`Error::InvalidInput`] (a record that does not parse) makes the upload start over (logged); any
/// other `load` error fails the upload before anything is sent. A failed save of the commit attempt
/// ([`Checkpoint::records_commit_attempt`]) fails the upload before CommitUpload; other `save` errors and
/// `delete` errors are logged and the upload goes on (it is then just not resumable).
///
/// ```
/// use futures::future::BoxFuture;
/// use tencent_vod::upload::{Checkpoint, CheckpointStore};
/// struct Db;
/// impl CheckpointStore for Db {
///     fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, tencent_vod::Result<Option<Checkpoint>>> {
///         Box::pin(async move { let _ = key; Ok(None) })
///     }
///     fn save<'a>(&'a self, key: &'a str, cp: &'a Checkpoint) -> BoxFuture<'a, tencent_vod::Result<()>> {
///         Box::pin(async move { let _ = (key, serde_json::to_vec(cp)); Ok(()) })
///     }
///     fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, tencent_vod::Result<()>> {
///         Box::pin(async move { let _ = key; Ok(()) })
///     }
/// }
/// ```
pub trait CheckpointStore: Send + Sync + 'static {
    /// The checkpoint saved under `key`, or `None`.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>>>;
    /// Saves (replaces) the checkpoint under `key`.
    fn save<'a>(&'a self, key: &'a str, checkpoint: &'a Checkpoint) -> BoxFuture<'a, Result<()>>;
    /// Deletes the checkpoint under `key` (no error if there is none).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>>;
}

impl<T: CheckpointStore + ?Sized> CheckpointStore for Arc<T> {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>>> {
        (**self).load(key)
    }
    fn save<'a>(&'a self, key: &'a str, checkpoint: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        (**self).save(key, checkpoint)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        (**self).delete(key)
    }
}

/// One JSON file per upload in a directory (`{key}.json`; keys with other characters than `[A-Za-z0-9._-]`, or
/// longer than 100, are hashed). Writes are atomic (a temporary file in the same directory, then a rename), and
/// files are created with mode `0600` on unix: they hold temporary credentials.
///
/// A file that does not parse is reported by `load` as an error (the upload then discards it and starts over).
#[derive(Debug, Clone)]
pub struct JsonFileCheckpointStore {
    dir: PathBuf,
}

impl JsonFileCheckpointStore {
    /// A store in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JsonFileCheckpointStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a key is stored in.
    pub fn path_for(&self, key: &str) -> PathBuf {
        let safe = !key.is_empty()
            && key.len() <= 100
            && !key.starts_with('.')
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        let name = if safe {
            format!("{key}.json")
        } else {
            use sha2::Digest;
            let h = hex::encode(sha2::Sha256::digest(key.as_bytes()));
            format!("key-{}.json", &h[..40])
        };
        self.dir.join(name)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl CheckpointStore for JsonFileCheckpointStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>>> {
        let path = self.path_for(key);
        Box::pin(async move {
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::io(&path, "read the checkpoint", e)),
            };
            // Only the kind of error and where: serde_json's own message may quote a value (a credential).
            serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::invalid(
                    format!("checkpoint ({})", path.display()),
                    format!(
                        "not a valid checkpoint: {:?} error at line {} column {}",
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                )
            })
        })
    }

    fn save<'a>(&'a self, key: &'a str, checkpoint: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        let path = self.path_for(key);
        let dir = self.dir.clone();
        let json = serde_json::to_vec_pretty(checkpoint);
        Box::pin(async move {
            let json = json.map_err(|e| Error::invalid("checkpoint", e.to_string()))?;
            tokio::task::spawn_blocking(move || {
                if !dir.is_dir() {
                    let mut b = std::fs::DirBuilder::new();
                    b.recursive(true);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::DirBuilderExt;
                        b.mode(0o700);
                    }
                    b.create(&dir)
                        .map_err(|e| Error::io(&dir, "create the checkpoint directory", e))?;
                }
                let file_name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("checkpoint");
                let tmp = dir.join(format!(
                    ".{file_name}.{}.{:016x}.tmp",
                    std::process::id(),
                    fastrand::u64(..)
                ));
                if let Err(e) = write_private(&tmp, &json) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(Error::io(&tmp, "write the checkpoint", e));
                }
                std::fs::rename(&tmp, &path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    Error::io(&path, "rename the checkpoint into place", e)
                })
            })
            .await
            .map_err(|e| Error::io(&self.dir, "save the checkpoint", std::io::Error::other(e)))?
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        let path = self.path_for(key);
        Box::pin(async move {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io(&path, "delete the checkpoint", e)),
            }
        })
    }
}

/// Checkpoints in memory (for tests, or a process that only retries within its own lifetime). Clones share the
/// same map.
#[derive(Debug, Clone, Default)]
pub struct MemoryCheckpointStore {
    map: Arc<Mutex<HashMap<String, Checkpoint>>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Checkpoint>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The checkpoint under `key`.
    pub fn get(&self, key: &str) -> Option<Checkpoint> {
        self.lock().get(key).cloned()
    }

    /// Stored keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.lock().keys().cloned().collect();
        k.sort();
        k
    }

    /// Number of checkpoints.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Replaces (or inserts) a checkpoint directly (e.g. to make one stale in a test).
    pub fn put(&self, key: impl Into<String>, checkpoint: Checkpoint) {
        self.lock().insert(key.into(), checkpoint);
    }
}

impl CheckpointStore for MemoryCheckpointStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Checkpoint>>> {
        let v = self.get(key);
        Box::pin(async move { Ok(v) })
    }
    fn save<'a>(&'a self, key: &'a str, checkpoint: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        self.put(key, checkpoint.clone());
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<()>> {
        self.lock().remove(key);
        Box::pin(async { Ok(()) })
    }
}

/// Serializes and coalesces the saves of one upload: callbacks update the state and poke the writer, which
/// saves the latest snapshot (never two saves at once, never an older state after a newer one).
pub(crate) struct CheckpointWriter {
    store: Arc<dyn CheckpointStore>,
    key: String,
    state: Mutex<Checkpoint>,
    generation: std::sync::atomic::AtomicU64,
    closed: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
    clock: crate::transport::Clock,
}

impl CheckpointWriter {
    pub(crate) fn new(
        store: Arc<dyn CheckpointStore>,
        checkpoint: Checkpoint,
        clock: crate::transport::Clock,
    ) -> Arc<Self> {
        Arc::new(CheckpointWriter {
            store,
            clock,
            key: checkpoint.key.clone(),
            state: Mutex::new(checkpoint),
            generation: std::sync::atomic::AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Checkpoint> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn snapshot(&self) -> Checkpoint {
        self.lock().clone()
    }

    /// Changes the state and schedules a save.
    pub(crate) fn update(&self, f: impl FnOnce(&mut Checkpoint)) {
        {
            let mut g = self.lock();
            f(&mut g);
            g.updated_at = self.clock.now();
        }
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Records a verified part of object `index`.
    pub(crate) fn part_done(&self, index: usize, upload_id: &str, part: &CompletedPart) {
        self.update(|cp| {
            if let Some(o) = cp.objects.get_mut(index) {
                if o.upload_id.as_deref() != Some(upload_id) {
                    o.upload_id = Some(upload_id.to_string());
                    o.parts.clear();
                }
                o.parts.retain(|p| p.number != part.number);
                o.parts.push(part.clone());
                o.parts.sort_by_key(|p| p.number);
            }
        });
    }

    /// Saves now (awaited), outside the writer loop; the store's error is returned.
    pub(crate) async fn try_save(&self) -> Result<()> {
        let snap = self.snapshot();
        self.store.save(&self.key, &snap).await
    }

    /// Saves now (awaited), outside the writer loop. Returns whether the save succeeded (failures are logged).
    pub(crate) async fn save_now(&self) -> bool {
        match self.try_save().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(key = %self.key, error = %e, "checkpoint save failed; the upload goes on but may not be resumable");
                false
            }
        }
    }

    /// Ends [`run`](Self::run) after a final save of pending changes.
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// The writer loop: run it concurrently with the transfer (not spawned), then [`close`](Self::close).
    pub(crate) async fn run(&self) {
        let mut saved = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        loop {
            let current = self.generation.load(std::sync::atomic::Ordering::SeqCst);
            if current != saved {
                self.save_now().await;
                saved = current;
                continue;
            }
            if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            self.notify.notified().await;
        }
    }
}
