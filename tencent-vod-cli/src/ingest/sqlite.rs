//! The SQLite journal (the library is bundled: no system SQLite needed).
//!
//! - **Identity**: the file's header must carry the application id `tvod` (`0x74766F64`) and a schema version
//!   this build knows. Anything else (an empty file, a text file, another application's database, a newer
//!   schema) is refused with its path *before* SQLite opens it for writing, and is never modified. A journal that
//!   fails SQLite's `quick_check` is refused as corrupt.
//! - **One writer, one process**: the connection runs in `EXCLUSIVE` locking mode and takes the lock when it
//!   opens, so a second `tvod ingest` on the same journal fails at once ("locked"). The lock is a file lock:
//!   the OS releases it when the process dies, so a killed run never leaves a stale lock.
//! - **Transactions**: every change is one `BEGIN IMMEDIATE` transaction. WAL mode; `synchronous=NORMAL` by
//!   default: a committed transaction survives the process being killed at any point (it is in the WAL, in the
//!   OS), and [`Journal::sync`] (a WAL checkpoint, which fsyncs) makes everything survive an OS crash or power
//!   loss as well. With `synchronous=FULL` (`--journal-sync full`) every transaction is fsynced.
//! - **Checkpoints**: the SDK checkpoints of the run's uploads are rows of the `checkpoints` table
//!   ([`JournalCheckpoints`]), written in the journal's transactions: a save is a few tens of microseconds, not a
//!   file, an fsync and a rename. The one save exactly-once depends on (a commit attempt, recorded before
//!   CommitUpload is sent) is fsynced before it returns, with the saves and changes waiting beside it (group
//!   commit), so even a power loss cannot make a re-run upload a file whose commit may have gone out. The file is
//!   mode `0600`: the rows hold temporary credentials.
//! - **Creation** is atomic: the schema is written to a temporary file that is then hard-linked into place (a
//!   link never replaces an existing file), so a half-created journal is never seen and two runs racing to
//!   create one cannot overwrite each other.

use super::journal::{
    Change, Committed, Failure, Item, Journal, JournalError, JournalErrorKind, NewItem, State, now,
};
use crate::common::MediaParams;
use futures::future::BoxFuture;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tencent_vod::upload::{Checkpoint, CheckpointStore};

/// `PRAGMA application_id` of a tvod journal: "tvod".
pub const APPLICATION_ID: i32 = 0x7476_6F64;
/// The schema version this build writes. Version 1 (no `checkpoints` table) is upgraded when opened for a
/// run.
pub const SCHEMA_VERSION: i32 = 2;

const SCHEMA: &str = "
CREATE TABLE items (
    id                INTEGER PRIMARY KEY,
    path              TEXT NOT NULL,
    size              INTEGER NOT NULL,
    mtime_ns          INTEGER,
    stat_sig          TEXT NOT NULL,
    digest            TEXT NOT NULL,
    bytes             INTEGER NOT NULL,
    params            TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'committed', 'failed')),
    checkpoint_key    TEXT NOT NULL,
    file_id           TEXT,
    media_url         TEXT,
    cover_url         TEXT,
    task_id           TEXT,
    apply_request_id  TEXT,
    commit_request_id TEXT,
    error_code        TEXT,
    error_message     TEXT,
    error_request_id  TEXT,
    retryable         INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (path, digest)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// Added by schema version 2.
const CHECKPOINTS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    key        TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
";

/// How hard each transaction is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    /// Durable against the process dying at any point; OS crashes are covered by periodic syncs (WAL
    /// checkpoints), and the commit attempts of uploads are fsynced before CommitUpload is sent.
    Normal,
    /// Every transaction is fsynced.
    Full,
}

/// The SQLite journal.
pub struct SqliteJournal {
    path: PathBuf,
    /// The one connection (the one writer).
    conn: Arc<Mutex<Connection>>,
    /// `synchronous=NORMAL`: a change commits without an fsync (tens of µs), so it is written inline, under the
    /// lock, by the task that makes it; with `FULL` every commit fsyncs, so changes go through the writer thread,
    /// which commits those waiting together in one transaction.
    inline: bool,
    /// Writes made durable before they returned (commit attempts), for the run's diagnostics and the tests.
    durable_writes: std::sync::atomic::AtomicU64,
    /// To the writer thread (reads, batches, syncs: everything that may block).
    tx: Option<std::sync::mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Reply<T> = tokio::sync::oneshot::Sender<Result<T, JournalError>>;

/// One write, inside a transaction.
#[allow(
    clippy::large_enum_variant,
    reason = "one per journal change, moved once through a channel; boxing buys nothing"
)]
enum Write {
    /// A state change of an item.
    Item(i64, Change),
    /// Saves (replaces) the checkpoint under `key`.
    SaveCheckpoint { key: String, body: String },
    /// Deletes the checkpoint under `key`.
    DeleteCheckpoint(String),
}

/// A write waiting for its transaction: whether it must be fsynced before its caller is answered, and the
/// caller.
type Pending = (Write, bool, Reply<()>);

/// Work for the writer thread.
#[allow(
    clippy::large_enum_variant,
    reason = "one message per journal write, moved once through a channel; boxing buys nothing"
)]
enum Msg {
    /// Anything on the connection.
    Job(Box<dyn FnOnce(&mut Connection) + Send>),
    /// A write; writes waiting together are committed in one transaction (group commit), fsynced when any of
    /// them must be, each caller answered once that transaction is committed.
    Write(Pending),
}

/// Most changes committed in one transaction.
const MAX_BATCH: usize = 256;

fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

fn writer(
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    full: bool,
    rx: std::sync::mpsc::Receiver<Msg>,
) {
    let mut pending: std::collections::VecDeque<Msg> = std::collections::VecDeque::new();
    loop {
        let msg = match pending.pop_front() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        match msg {
            Msg::Job(f) => f(&mut lock(&conn)),
            Msg::Write(w) => {
                let mut batch = vec![w];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(Msg::Write(w)) => batch.push(w),
                        Ok(other) => {
                            pending.push_back(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_batch(&path, &mut lock(&conn), full, batch);
            }
        }
    }
}

/// Commits `batch` in one transaction. On a `synchronous=NORMAL` connection (`full` false) a batch holding a
/// write that must be durable is committed with `synchronous=FULL`: in WAL mode that fsyncs the WAL, which
/// makes this transaction and every earlier one durable.
fn commit_batch(path: &Path, conn: &mut Connection, full: bool, batch: Vec<Pending>) {
    let fsync = !full && batch.iter().any(|(_, durable, _)| *durable);
    let mut replies = Vec::with_capacity(batch.len());
    let outcome = (|| -> rusqlite::Result<Vec<rusqlite::Result<()>>> {
        if fsync {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        let committed = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(batch.len());
            for (write, _, reply) in batch {
                let r = apply_write(&tx, write);
                replies.push(reply);
                if let Err(e) = r {
                    // Some errors (a full disk, an I/O error) roll the whole transaction back: the writes after
                    // it would then each commit on their own. The whole batch fails instead.
                    if tx.is_autocommit() {
                        return Err(e);
                    }
                    results.push(Err(e));
                } else {
                    results.push(Ok(()));
                }
            }
            tx.commit()?;
            Ok(results)
        })();
        if fsync {
            // The batch's outcome stands whatever happens here; a connection left at FULL is only slower.
            if let Err(e) = conn.pragma_update(None, "synchronous", "NORMAL") {
                tracing::warn!(journal = %path.display(), error = %e, "could not set synchronous=NORMAL again");
            }
        }
        committed
    })();
    match outcome {
        Ok(results) => {
            for (r, reply) in results.into_iter().zip(replies) {
                let _ = reply.send(r.map_err(|e| sql_err(path, e)));
            }
        }
        Err(e) => {
            let e = sql_err(path, e);
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

fn err(path: &Path, kind: JournalErrorKind) -> JournalError {
    JournalError {
        path: path.display().to_string(),
        kind,
    }
}

fn sql_err(path: &Path, e: rusqlite::Error) -> JournalError {
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => JournalErrorKind::Locked,
        Some(ErrorCode::NotADatabase) => {
            JournalErrorKind::Foreign(format!("not an SQLite database ({e})"))
        }
        Some(ErrorCode::DatabaseCorrupt) => JournalErrorKind::Corrupt(e.to_string()),
        _ => JournalErrorKind::Io(e.to_string()),
    };
    err(path, kind)
}

/// Checks the file header without opening the file for writing: `Ok(())` for a tvod journal of a known
/// schema.
fn check_header(path: &Path) -> Result<(), JournalError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| err(path, JournalErrorKind::Io(format!("cannot open: {e}"))))?;
    let meta = f
        .metadata()
        .map_err(|e| err(path, JournalErrorKind::Io(e.to_string())))?;
    if !meta.is_file() {
        return Err(err(
            path,
            JournalErrorKind::Foreign("not a regular file".into()),
        ));
    }
    if meta.len() == 0 {
        return Err(err(
            path,
            JournalErrorKind::Foreign("an empty file, not a tvod journal".into()),
        ));
    }
    let mut head = [0u8; 100];
    let n = f
        .read(&mut head)
        .map_err(|e| err(path, JournalErrorKind::Io(e.to_string())))?;
    if n < 100 || &head[..16] != b"SQLite format 3\0" {
        return Err(err(
            path,
            JournalErrorKind::Foreign("not an SQLite database, so not a tvod journal".into()),
        ));
    }
    let be = |o: usize| i32::from_be_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    let (user_version, app_id) = (be(60), be(68));
    if app_id != APPLICATION_ID {
        return Err(err(
            path,
            JournalErrorKind::Foreign(format!(
                "an SQLite database of another application (application_id {app_id:#010x}, a tvod journal has {APPLICATION_ID:#010x})"
            )),
        ));
    }
    check_version(path, user_version)
}

fn check_version(path: &Path, version: i32) -> Result<(), JournalError> {
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(err(
            path,
            JournalErrorKind::Foreign(format!(
                "journal schema version {version}; this tvod reads versions 1 to {SCHEMA_VERSION}"
            )),
        ));
    }
    Ok(())
}

fn create(path: &Path) -> Result<(), JournalError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("journal");
    std::fs::create_dir_all(dir).map_err(|e| {
        err(
            path,
            JournalErrorKind::Io(format!("cannot create its directory: {e}")),
        )
    })?;
    let tmp = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        fastrand_u32()
    ));
    let build = || -> rusqlite::Result<()> {
        let conn = Connection::open_with_flags(
            &tmp,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(CHECKPOINTS_TABLE)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('created_by', ?1), ('created_at', ?2)",
            params![
                format!("tvod {}", env!("CARGO_PKG_VERSION")),
                now().to_string()
            ],
        )?;
        conn.close().map_err(|(_, e)| e)?;
        // The checkpoints hold temporary credentials; SQLite gives its -wal and -shm files the same mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        }
        Ok(())
    };
    let result = build()
        .map_err(|e| err(path, JournalErrorKind::Io(format!("cannot create: {e}"))))
        .and_then(|()| match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            // Someone else created it meanwhile: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(err(
                path,
                JournalErrorKind::Io(format!("cannot create: {e}")),
            )),
        });
    for suffix in ["", "-wal", "-shm"] {
        let mut p = tmp.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    result
}

/// Makes the journal (and its WAL and shared-memory files, when present) readable by its owner only: its
/// checkpoints hold temporary credentials. A journal created by this build already is; one made by an older
/// build (or copied) is tightened.
fn private(path: &Path) -> Result<(), JournalError> {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
                err(
                    path,
                    JournalErrorKind::Io(format!(
                        "cannot make {} private (mode 0600): {e}",
                        p.display()
                    )),
                )
            })?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn fastrand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}

impl SqliteJournal {
    /// Opens the journal at `path` and takes the exclusive lock. `for_run`: for a run that uploads, which
    /// creates the journal when it does not exist and upgrades a version-1 journal; otherwise (a report, a dry
    /// run) a missing journal is `Ok(None)` and an older one is read as it is.
    pub fn open(
        path: &Path,
        for_run: bool,
        sync: SyncMode,
    ) -> Result<Option<SqliteJournal>, JournalError> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !for_run {
                    return Ok(None);
                }
                create(path)?;
            }
            Err(e) => return Err(err(path, JournalErrorKind::Io(e.to_string()))),
        }
        check_header(path)?;
        private(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql_err(path, e))?;
        let setup = || -> rusqlite::Result<String> {
            conn.busy_timeout(std::time::Duration::ZERO)?;
            let _: String = conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |r| r.get(0))?;
            // Take the lock now (and keep it: exclusive locking mode never releases it).
            conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
            let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            Ok(check)
        };
        match setup() {
            Ok(check) if check == "ok" => {}
            Ok(problem) => {
                let one_line = problem
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(err(path, JournalErrorKind::Corrupt(one_line)));
            }
            Err(e) => return Err(sql_err(path, e)),
        }
        // The version again, now through SQLite: the file's header may predate a change still in the WAL.
        let version: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| sql_err(path, e))?;
        check_version(path, version)?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('items', 'meta', 'checkpoints')", [], |r| r.get(0))
            .map_err(|e| sql_err(path, e))?;
        if tables != if version >= 2 { 3 } else { 2 } {
            return Err(err(
                path,
                JournalErrorKind::Corrupt("its tables are missing".into()),
            ));
        }
        // Version 1 had no checkpoints table (its checkpoints were files beside it): a run adds it, and writes
        // the change into the file at once, so an older tvod reading the header sees the new version.
        if version < SCHEMA_VERSION && for_run {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {CHECKPOINTS_TABLE} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT; \
                 PRAGMA wal_checkpoint(TRUNCATE);"
            ))
            .map_err(|e| sql_err(path, e))?;
            tracing::info!(journal = %path.display(), from = version, to = SCHEMA_VERSION, "journal schema upgraded");
        }
        // Rows deleted or replaced (checkpoints with temporary credentials) are overwritten, not left in free
        // pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(|e| sql_err(path, e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| sql_err(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(err(
                path,
                JournalErrorKind::Io(format!("cannot switch to WAL mode (got {mode})")),
            ));
        }
        conn.pragma_update(
            None,
            "synchronous",
            match sync {
                SyncMode::Normal => "NORMAL",
                SyncMode::Full => "FULL",
            },
        )
        .map_err(|e| sql_err(path, e))?;
        // The run syncs (checkpoints) the WAL itself every few seconds, on the writer thread. SQLite's own
        // automatic checkpoint is off: it would run inside whichever commit crossed its threshold, with its
        // fsyncs, possibly an inline one on a runtime worker. (The WAL is checkpointed at close as well.)
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| sql_err(path, e))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.to_path_buf();
        let conn = Arc::new(Mutex::new(conn));
        let shared = conn.clone();
        let full = sync == SyncMode::Full;
        let thread = std::thread::Builder::new()
            .name("tvod-journal".into())
            .spawn(move || writer(p, shared, full, rx))
            .map_err(|e| {
                err(
                    path,
                    JournalErrorKind::Io(format!("cannot start the journal writer: {e}")),
                )
            })?;
        Ok(Some(SqliteJournal {
            path: path.to_path_buf(),
            conn,
            inline: sync == SyncMode::Normal,
            durable_writes: std::sync::atomic::AtomicU64::new(0),
            tx: Some(tx),
            thread: Some(thread),
        }))
    }

    fn send(&self, msg: Msg) -> Result<(), JournalError> {
        self.tx
            .as_ref()
            .and_then(|t| t.send(msg).ok())
            .ok_or_else(|| {
                err(
                    &self.path,
                    JournalErrorKind::Io("the journal writer stopped".into()),
                )
            })
    }

    /// One write in its own transaction. With `synchronous=NORMAL` a small write that need not be fsynced is
    /// committed inline by the calling task (tens of microseconds) when the connection is free; otherwise (the
    /// writer thread holds it, perhaps for an fsync; the write must be durable; it is `heavy`, e.g. the
    /// checkpoint of an upload of thousands of parts; `synchronous=FULL`) it joins the writer thread's next
    /// group commit, so no task ever waits for an fsync it does not need and no runtime worker is held up.
    fn write(
        &self,
        write: Write,
        durable: bool,
        heavy: bool,
    ) -> BoxFuture<'_, Result<(), JournalError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if durable {
            self.durable_writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let inline = (self.inline && !durable && !heavy)
            .then(|| self.try_conn())
            .flatten();
        let sent = match inline {
            Some(mut c) => {
                commit_batch(&self.path, &mut c, false, vec![(write, false, tx)]);
                Ok(())
            }
            None => self.send(Msg::Write((write, durable, tx))),
        };
        self.answer(sent, rx)
    }

    /// The SDK checkpoint store of this journal.
    pub fn checkpoints(self: &Arc<Self>) -> JournalCheckpoints {
        JournalCheckpoints {
            journal: self.clone(),
        }
    }

    /// The connection, when no one holds it (a poisoned lock is taken over: every transaction is atomic, so a
    /// panic cannot have left one half done).
    fn try_conn(&self) -> Option<std::sync::MutexGuard<'_, Connection>> {
        match self.conn.try_lock() {
            Ok(c) => Some(c),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// The answer to a message sent to the writer thread (or to a write done inline).
    fn answer<T: Send + 'static>(
        &self,
        sent: Result<(), JournalError>,
        rx: tokio::sync::oneshot::Receiver<Result<T, JournalError>>,
    ) -> BoxFuture<'_, Result<T, JournalError>> {
        Box::pin(async move {
            sent?;
            rx.await.map_err(|_| {
                err(
                    &self.path,
                    JournalErrorKind::Io("the journal writer stopped".into()),
                )
            })?
        })
    }

    /// A read: inline when the connection is free, else on the writer thread.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, JournalError>> {
        let Some(mut c) = self.try_conn() else {
            return self.run(f);
        };
        let r = f(&mut c).map_err(|e| sql_err(&self.path, e));
        Box::pin(async move { r })
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, JournalError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let path = self.path.clone();
        let sent = self.send(Msg::Job(Box::new(move |c| {
            let _ = tx.send(f(c).map_err(|e| sql_err(&path, e)));
        })));
        self.answer(sent, rx)
    }
}

impl Drop for SqliteJournal {
    /// Stops the writer thread; the connection closes with the last owner (the WAL is checkpointed into the file
    /// then).
    fn drop(&mut self) {
        tracing::debug!(
            journal = %self.path.display(),
            durable_writes = self.durable_writes.load(std::sync::atomic::Ordering::Relaxed),
            "journal closed"
        );
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn opt_str(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn row_to_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let params_json: String = r.get("params")?;
    let state: String = r.get("state")?;
    let state = State::parse(&state).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown state {state:?}").into(),
        )
    })?;
    let params: MediaParams = serde_json::from_str(&params_json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let file_id: Option<String> = r.get("file_id")?;
    let committed = file_id.map(|file_id| -> rusqlite::Result<Committed> {
        Ok(Committed {
            file_id,
            media_url: opt_str(r.get("media_url")?),
            cover_url: opt_str(r.get("cover_url")?),
            task_id: opt_str(r.get("task_id")?),
            apply_request_id: opt_str(r.get("apply_request_id")?),
            commit_request_id: opt_str(r.get("commit_request_id")?),
        })
    });
    let code: Option<String> = r.get("error_code")?;
    let failure = code.map(|code| -> rusqlite::Result<Failure> {
        Ok(Failure {
            code,
            message: r
                .get::<_, Option<String>>("error_message")?
                .unwrap_or_default(),
            request_id: opt_str(r.get("error_request_id")?),
            retryable: r.get::<_, Option<bool>>("retryable")?.unwrap_or(false),
        })
    });
    Ok(Item {
        id: r.get("id")?,
        path: r.get("path")?,
        size: r.get::<_, i64>("size")? as u64,
        mtime_ns: r.get("mtime_ns")?,
        stat_sig: r.get("stat_sig")?,
        digest: r.get("digest")?,
        bytes: r.get::<_, i64>("bytes")? as u64,
        params,
        state,
        checkpoint_key: r.get("checkpoint_key")?,
        committed: committed.transpose()?,
        failure: failure.transpose()?,
        attempts: r.get::<_, i64>("attempts")? as u32,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One write, inside the caller's transaction.
fn apply_write(tx: &rusqlite::Transaction<'_>, write: Write) -> rusqlite::Result<()> {
    match write {
        Write::Item(id, change) => apply_one(tx, id, change),
        Write::SaveCheckpoint { key, body } => tx
            .prepare_cached(
                "INSERT INTO checkpoints (key, body, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )?
            .execute(params![key, body, now()])
            .map(drop),
        Write::DeleteCheckpoint(key) => tx
            .prepare_cached("DELETE FROM checkpoints WHERE key = ?1")?
            .execute(params![key])
            .map(drop),
    }
}

/// One change, inside the caller's transaction (the same effect as `apply_change`).
fn apply_one(tx: &rusqlite::Transaction<'_>, id: i64, change: Change) -> rusqlite::Result<()> {
    let at = now();
    // One targeted statement per kind of change (the same effect as `apply_change`).
    let n = match change {
        Change::Uploading => tx
            .prepare_cached(
                "UPDATE items SET state = 'uploading', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
            )?
            .execute(params![id, at])?,
        Change::Committed(c) => tx
            .prepare_cached(
                "UPDATE items SET state = 'committed', file_id = ?2, media_url = ?3, cover_url = ?4, \
                 task_id = ?5, apply_request_id = ?6, commit_request_id = ?7, error_code = NULL, \
                 error_message = NULL, error_request_id = NULL, retryable = NULL, updated_at = ?8 \
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                c.file_id,
                c.media_url,
                c.cover_url,
                c.task_id,
                c.apply_request_id,
                c.commit_request_id,
                at
            ])?,
        Change::Failed(f) => tx
            .prepare_cached(
                "UPDATE items SET state = 'failed', error_code = ?2, error_message = ?3, \
                 error_request_id = ?4, retryable = ?5, updated_at = ?6 WHERE id = ?1",
            )?
            .execute(params![id, f.code, f.message, f.request_id, f.retryable, at])?,
        Change::Interrupted => tx
            .prepare_cached(
                "UPDATE items SET state = 'pending', attempts = max(attempts - 1, 0), updated_at = ?2 \
                 WHERE id = ?1",
            )?
            .execute(params![id, at])?,
        Change::Seen {
            size,
            mtime_ns,
            stat_sig,
            bytes,
            params: p,
        } => tx
            .prepare_cached(
                "UPDATE items SET size = ?2, mtime_ns = ?3, stat_sig = ?4, bytes = ?5, params = ?6, \
                 updated_at = ?7 WHERE id = ?1",
            )?
            .execute(params![
                id,
                i64_of(size),
                mtime_ns,
                stat_sig,
                i64_of(bytes),
                serde_json::to_string(&p).unwrap_or_else(|_| "{}".into()),
                at
            ])?,
    };
    if n != 1 {
        return Err(rusqlite::Error::ToSqlConversionFailure(
            format!("no journal item {id}").into(),
        ));
    }
    Ok(())
}

impl Journal for SqliteJournal {
    fn items(&self) -> BoxFuture<'_, Result<Vec<Item>, JournalError>> {
        self.run(|c| {
            let mut st = c.prepare("SELECT * FROM items ORDER BY id")?;
            let rows = st.query_map([], row_to_item)?;
            rows.collect()
        })
    }

    fn add(&self, items: Vec<NewItem>) -> BoxFuture<'_, Result<Vec<Item>, JournalError>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let at = now();
            let mut out = Vec::with_capacity(items.len());
            {
                let mut st = tx.prepare(
                    "INSERT INTO items (path, size, mtime_ns, stat_sig, digest, bytes, params, state, checkpoint_key, \
                     attempts, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, 0, ?9, ?9)",
                )?;
                for n in items {
                    let params_json = serde_json::to_string(&n.params).unwrap_or_else(|_| "{}".into());
                    st.execute(params![
                        n.path,
                        i64_of(n.size),
                        n.mtime_ns,
                        n.stat_sig,
                        n.digest,
                        i64_of(n.bytes),
                        params_json,
                        n.checkpoint_key,
                        at
                    ])?;
                    out.push(n.into_item(tx.last_insert_rowid(), at));
                }
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn update(&self, id: i64, change: Change) -> BoxFuture<'_, Result<(), JournalError>> {
        self.write(Write::Item(id, change), false, false)
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), JournalError>> {
        self.run(|c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// The SDK's checkpoints of a run, kept in its journal (the `checkpoints` table): one row per upload, its body
/// the checkpoint's JSON. A save that records a commit attempt (made before CommitUpload is sent) is fsynced
/// before it returns; the others are durable against the process dying, and against an OS crash from the next
/// sync on.
#[derive(Clone)]
pub struct JournalCheckpoints {
    journal: Arc<SqliteJournal>,
}

impl JournalCheckpoints {
    /// Where the checkpoint under `key` is, for messages.
    pub fn describe(&self, key: &str) -> String {
        format!(
            "checkpoint {key:?} in the journal {}",
            self.journal.path.display()
        )
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> tencent_vod::Error {
        tencent_vod::Error::io(
            &self.journal.path,
            what,
            std::io::Error::other(e.to_string()),
        )
    }
}

/// A checkpoint body larger than this is written by the writer thread, never inline on a runtime worker.
const HEAVY_WRITE: usize = 64 * 1024;

impl JournalCheckpoints {
    /// Deletes, in one transaction, the checkpoints of every item the journal holds as committed (left by a run
    /// that died before removing them). Safe without a sync first: the WAL replays a prefix of its
    /// transactions, and every such item's commit was written before this delete.
    pub async fn delete_committed(&self) -> Result<usize, JournalError> {
        self.journal
            .run(|c| {
                c.execute(
                    "DELETE FROM checkpoints WHERE key IN \
                     (SELECT checkpoint_key FROM items WHERE state = 'committed')",
                    [],
                )
            })
            .await
    }
}

impl CheckpointStore for JournalCheckpoints {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, tencent_vod::Result<Option<Checkpoint>>> {
        let k = key.to_string();
        let read = self.journal.read(move |c| {
            c.prepare_cached("SELECT body FROM checkpoints WHERE key = ?1")?
                .query_row(params![k], |r| r.get::<_, String>(0))
                .optional()
        });
        Box::pin(async move {
            let Some(body) = read
                .await
                .map_err(|e| self.error("read the checkpoint", e))?
            else {
                return Ok(None);
            };
            // Only the kind of error and where: serde_json's own message may quote a value (a credential).
            serde_json::from_str(&body).map(Some).map_err(|e| {
                tencent_vod::Error::invalid(
                    format!("checkpoint ({})", self.describe(key)),
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

    fn save<'a>(
        &'a self,
        key: &'a str,
        checkpoint: &'a Checkpoint,
    ) -> BoxFuture<'a, tencent_vod::Result<()>> {
        // The record that CommitUpload is about to go out is what keeps a re-run from uploading the file again:
        // it must outlive a power loss.
        let durable = checkpoint.records_commit_attempt();
        let body = match serde_json::to_string(checkpoint) {
            Ok(b) => b,
            Err(e) => return Box::pin(async move { Err(self.error("save the checkpoint", e)) }),
        };
        let heavy = body.len() > HEAVY_WRITE;
        let written = self.journal.write(
            Write::SaveCheckpoint {
                key: key.to_string(),
                body,
            },
            durable,
            heavy,
        );
        Box::pin(async move {
            written
                .await
                .map_err(|e| self.error("save the checkpoint", e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, tencent_vod::Result<()>> {
        let written = self
            .journal
            .write(Write::DeleteCheckpoint(key.to_string()), false, false);
        Box::pin(async move {
            written
                .await
                .map_err(|e| self.error("delete the checkpoint", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item(path: &str, digest: &str) -> NewItem {
        NewItem {
            path: path.into(),
            size: 10,
            mtime_ns: Some(5),
            stat_sig: "s".into(),
            digest: digest.into(),
            bytes: 10,
            params: MediaParams {
                media_name: Some("n".into()),
                ..Default::default()
            },
            checkpoint_key: format!("k-{digest}"),
        }
    }

    #[tokio::test]
    async fn round_trip_of_every_change() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.db");
        let j = SqliteJournal::open(&p, true, SyncMode::Normal)
            .unwrap()
            .unwrap();
        let added = j
            .add(vec![new_item("/a", "d1"), new_item("/b", "d2")])
            .await
            .unwrap();
        assert_eq!(added.len(), 2);
        let (a, b) = (added[0].id, added[1].id);
        j.update(a, Change::Uploading).await.unwrap();
        j.update(
            a,
            Change::Committed(Committed {
                file_id: "F".into(),
                media_url: Some("u".into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        j.update(b, Change::Uploading).await.unwrap();
        j.update(
            b,
            Change::Failed(Failure {
                code: "C".into(),
                message: "m".into(),
                request_id: Some("r".into()),
                retryable: true,
            }),
        )
        .await
        .unwrap();
        j.update(b, Change::Uploading).await.unwrap();
        j.update(b, Change::Interrupted).await.unwrap();
        j.sync().await.unwrap();
        drop(j);
        let j = SqliteJournal::open(&p, false, SyncMode::Full)
            .unwrap()
            .unwrap();
        let items = j.items().await.unwrap();
        assert_eq!(items[0].state, State::Committed);
        assert_eq!(items[0].committed.as_ref().unwrap().file_id, "F");
        assert_eq!(items[0].attempts, 1);
        assert_eq!(items[0].params.media_name.as_deref(), Some("n"));
        assert_eq!(items[1].state, State::Pending);
        assert_eq!(items[1].attempts, 1);
        assert_eq!(
            items[1].failure.as_ref().unwrap().request_id.as_deref(),
            Some("r")
        );
        // The same path and digest cannot be added twice.
        assert!(j.add(vec![new_item("/a", "d1")]).await.is_err());
    }

    #[test]
    fn a_second_open_is_locked_out_and_missing_files_are_not_created_unless_asked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.db");
        assert!(
            SqliteJournal::open(&p, false, SyncMode::Normal)
                .unwrap()
                .is_none()
        );
        assert!(!p.exists());
        let first = SqliteJournal::open(&p, true, SyncMode::Normal)
            .unwrap()
            .unwrap();
        let e = SqliteJournal::open(&p, true, SyncMode::Normal)
            .err()
            .unwrap();
        assert_eq!(e.kind, JournalErrorKind::Locked, "{e}");
        assert!(e.to_string().contains("locked by another running"), "{e}");
        drop(first);
        assert!(
            SqliteJournal::open(&p, false, SyncMode::Normal)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn foreign_files_are_refused_untouched() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("other.db");
        {
            let c = Connection::open(&other).unwrap();
            c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
                .unwrap();
        }
        let text = d.path().join("notes.txt");
        std::fs::write(&text, "hello, this is not a database at all, just some words to fill a hundred bytes or more of text here.").unwrap();
        let empty = d.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        for (p, says) in [
            (&other, "another application"),
            (&text, "not an SQLite database"),
            (&empty, "empty file"),
        ] {
            let before = std::fs::read(p).unwrap();
            let e = SqliteJournal::open(p, true, SyncMode::Normal)
                .err()
                .unwrap();
            assert!(matches!(e.kind, JournalErrorKind::Foreign(_)), "{e}");
            assert!(
                e.to_string().contains(says) && e.to_string().contains(&p.display().to_string()),
                "{e}"
            );
            assert_eq!(std::fs::read(p).unwrap(), before);
        }
    }

    /// A real checkpoint: a small upload to the mock, kept after its commit.
    async fn a_checkpoint() -> Checkpoint {
        let server = tencent_vod_mock::MockServer::start().await.unwrap();
        let client = server.client_builder().build().unwrap();
        let d = tempfile::tempdir().unwrap();
        let media = d.path().join("a.mp4");
        std::fs::write(&media, vec![7u8; 3000]).unwrap();
        let mem = tencent_vod::upload::MemoryCheckpointStore::new();
        client
            .upload(
                tencent_vod::UploadRequest::from_path(&media)
                    .with_checkpoint(mem.clone())
                    .with_checkpoint_key("k")
                    .with_keep_committed_checkpoint(true),
            )
            .await
            .unwrap();
        mem.get("k").unwrap()
    }

    /// The same checkpoint in another state, through its JSON (the type is not constructible here).
    fn with(cp: &Checkpoint, f: impl FnOnce(&mut serde_json::Value)) -> Checkpoint {
        let mut v = serde_json::to_value(cp).unwrap();
        f(&mut v);
        serde_json::from_value(v).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_round_trip_in_the_journal_in_both_sync_modes() {
        let committed = a_checkpoint().await;
        // Before CommitUpload: an attempt recorded (the durable save), and a plain partial one.
        let attempted = with(&committed, |v| {
            v["committed"] = false.into();
            v.as_object_mut().unwrap().remove("commit");
        });
        assert!(attempted.commit_attempted_at.is_some());
        let partial = with(&attempted, |v| {
            v.as_object_mut().unwrap().remove("commit_attempted_at");
        });
        for mode in [SyncMode::Normal, SyncMode::Full] {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("j.db");
            let j = Arc::new(SqliteJournal::open(&p, true, mode).unwrap().unwrap());
            let store = j.checkpoints();
            assert!(store.load("a").await.unwrap().is_none());
            // Saves from many tasks at once (inline, or joining the writer's group commits).
            let mut tasks = Vec::new();
            for n in 0..64 {
                let store = store.clone();
                let cps = [partial.clone(), attempted.clone(), committed.clone()];
                tasks.push(tokio::spawn(async move {
                    let key = format!("k{n}");
                    for cp in &cps {
                        store.save(&key, cp).await.unwrap();
                    }
                    if n % 2 == 0 {
                        store.delete(&key).await.unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            store.save("a", &attempted).await.unwrap();
            assert_eq!(store.load("a").await.unwrap().as_ref(), Some(&attempted));
            drop(store);
            drop(j);
            let j = Arc::new(SqliteJournal::open(&p, false, mode).unwrap().unwrap());
            let store = j.checkpoints();
            assert_eq!(
                store.load("a").await.unwrap(),
                Some(attempted.clone()),
                "{mode:?}"
            );
            for n in 0..64 {
                let got = store.load(&format!("k{n}")).await.unwrap();
                assert_eq!(got.is_some(), n % 2 == 1, "{mode:?} k{n}");
                if let Some(cp) = got {
                    assert_eq!(cp, committed);
                }
            }
            // A row that is not a checkpoint is an error naming the journal and the key, never the content.
            lock(&j.conn)
                .execute(
                    "INSERT INTO checkpoints (key, body, updated_at) VALUES ('bad', '{\"x\": 1}', 0)",
                    [],
                )
                .unwrap();
            let e = store.load("bad").await.unwrap_err().to_string();
            assert!(
                e.contains("not a valid checkpoint") && e.contains("j.db"),
                "{e}"
            );
            store.delete("a").await.unwrap();
            assert!(store.load("a").await.unwrap().is_none());
            assert!(store.describe("a").contains("j.db"));
        }
    }

    /// The contract with the SDK: of an upload's saves, exactly one (the commit attempt, made before
    /// CommitUpload is sent) is made durable, and the connection is back at `synchronous=NORMAL` afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exactly_the_commit_attempt_is_fsynced() {
        let server = tencent_vod_mock::MockServer::start().await.unwrap();
        let client = server.client_builder().build().unwrap();
        let d = tempfile::tempdir().unwrap();
        let j = Arc::new(
            SqliteJournal::open(&d.path().join("j.db"), true, SyncMode::Normal)
                .unwrap()
                .unwrap(),
        );
        for (n, size) in [3000usize, 9 << 20].into_iter().enumerate() {
            let media = d.path().join(format!("{n}.mp4"));
            std::fs::write(&media, vec![n as u8; size]).unwrap();
            client
                .upload(
                    tencent_vod::UploadRequest::from_path(&media)
                        .with_checkpoint(j.checkpoints())
                        .with_checkpoint_key(format!("k{n}"))
                        .with_keep_committed_checkpoint(true),
                )
                .await
                .unwrap();
            assert_eq!(
                j.durable_writes.load(std::sync::atomic::Ordering::Relaxed),
                n as u64 + 1,
                "{size} bytes"
            );
            let cp = j
                .checkpoints()
                .load(&format!("k{n}"))
                .await
                .unwrap()
                .unwrap();
            assert!(cp.committed && cp.commit.is_some());
        }
        let sync: i64 = lock(&j.conn)
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
    }

    #[tokio::test]
    async fn a_version_1_journal_is_upgraded_and_made_private_and_a_newer_one_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("old.db");
        {
            let c = Connection::open(&p).unwrap();
            c.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.execute(
                "INSERT INTO items (path, size, stat_sig, digest, bytes, params, state, checkpoint_key, \
                 created_at, updated_at) VALUES ('/a', 1, 's', 'd', 1, '{}', 'committed', 'k', 0, 0)",
                [],
            )
            .unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        // Read for a report (or a dry run): left as it is, an older tvod can still use it.
        let j = SqliteJournal::open(&p, false, SyncMode::Normal)
            .unwrap()
            .unwrap();
        assert_eq!(j.items().await.unwrap().len(), 1);
        let version: i32 = lock(&j.conn)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1);
        drop(j);
        // Opened for a run: upgraded, the change written into the file itself (its header says 2 at once).
        let j = SqliteJournal::open(&p, true, SyncMode::Normal)
            .unwrap()
            .unwrap();
        let mut head = [0u8; 64];
        std::io::Read::read_exact(&mut std::fs::File::open(&p).unwrap(), &mut head).unwrap();
        assert_eq!(
            i32::from_be_bytes([head[60], head[61], head[62], head[63]]),
            SCHEMA_VERSION
        );
        let (version, tables): (i32, i64) = {
            let c = lock(&j.conn);
            (
                c.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap(),
                c.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'checkpoints'",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
            )
        };
        assert_eq!((version, tables), (SCHEMA_VERSION, 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        lock(&j.conn)
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(j);
        let e = SqliteJournal::open(&p, false, SyncMode::Normal)
            .err()
            .unwrap();
        assert!(
            matches!(e.kind, JournalErrorKind::Foreign(_))
                && e.to_string().contains("schema version 3")
                && e.to_string().contains("versions 1 to 2"),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_new_journal_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("new.db");
        let j = SqliteJournal::open(&p, true, SyncMode::Normal)
            .unwrap()
            .unwrap();
        drop(j);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}
