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
//! - **Creation** is atomic: the schema is written to a temporary file that is then hard-linked into place (a
//!   link never replaces an existing file), so a half-created journal is never seen and two runs racing to
//!   create one cannot overwrite each other.

use super::journal::{
    Change, Committed, Failure, Item, Journal, JournalError, JournalErrorKind, NewItem, State, now,
};
use crate::common::MediaParams;
use futures::future::BoxFuture;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `PRAGMA application_id` of a tvod journal: "tvod".
pub const APPLICATION_ID: i32 = 0x7476_6F64;
/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 1;

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

/// How hard each transaction is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    /// Durable against the process dying at any point; OS crashes are covered by periodic syncs (WAL
    /// checkpoints) and by the SDK's fsynced checkpoints.
    Normal,
    /// Every transaction is fsynced.
    Full,
}

/// The SQLite journal.
pub struct SqliteJournal {
    path: PathBuf,
    /// To the writer thread, which owns the connection.
    tx: Option<std::sync::mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Reply<T> = tokio::sync::oneshot::Sender<Result<T, JournalError>>;

/// Work for the writer thread.
#[allow(
    clippy::large_enum_variant,
    reason = "one message per journal change, moved once through a channel; boxing buys nothing"
)]
enum Msg {
    /// Anything on the connection.
    Job(Box<dyn FnOnce(&mut Connection) + Send>),
    /// A state change; changes waiting together are committed in one transaction (group commit), each caller
    /// answered once that transaction is committed.
    Update(i64, Change, Reply<()>),
}

/// Most changes committed in one transaction.
const MAX_BATCH: usize = 256;

fn writer(path: PathBuf, mut conn: Connection, rx: std::sync::mpsc::Receiver<Msg>) {
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
            Msg::Job(f) => f(&mut conn),
            Msg::Update(id, change, reply) => {
                let mut batch = vec![(id, change, reply)];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(Msg::Update(id, change, reply)) => batch.push((id, change, reply)),
                        Ok(other) => {
                            pending.push_back(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_batch(&path, &mut conn, batch);
            }
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(journal = %path.display(), error = %e, "closing the journal failed");
    }
}

fn commit_batch(path: &Path, conn: &mut Connection, batch: Vec<(i64, Change, Reply<()>)>) {
    let mut replies = Vec::with_capacity(batch.len());
    let outcome = (|| -> rusqlite::Result<Vec<rusqlite::Result<()>>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        for (id, change, reply) in batch {
            results.push(apply_one(&tx, id, change));
            replies.push(reply);
        }
        tx.commit()?;
        Ok(results)
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
    if user_version != SCHEMA_VERSION {
        return Err(err(
            path,
            JournalErrorKind::Foreign(format!(
                "journal schema version {user_version}; this tvod reads version {SCHEMA_VERSION}"
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
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('created_by', ?1), ('created_at', ?2)",
            params![
                format!("tvod {}", env!("CARGO_PKG_VERSION")),
                now().to_string()
            ],
        )?;
        conn.close().map_err(|(_, e)| e)
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
    /// Opens the journal at `path`, creating it when it does not exist and `create` is set (`Ok(None)` when it
    /// does not exist and `create` is not set). Takes the exclusive lock.
    pub fn open(
        path: &Path,
        create_missing: bool,
        sync: SyncMode,
    ) -> Result<Option<SqliteJournal>, JournalError> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create_missing {
                    return Ok(None);
                }
                create(path)?;
            }
            Err(e) => return Err(err(path, JournalErrorKind::Io(e.to_string()))),
        }
        check_header(path)?;
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
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('items', 'meta')", [], |r| r.get(0))
            .map_err(|e| sql_err(path, e))?;
        if tables != 2 {
            return Err(err(
                path,
                JournalErrorKind::Corrupt("its tables are missing".into()),
            ));
        }
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
        // The run syncs (checkpoints) the WAL itself every few seconds; SQLite's own checkpoint only as a
        // backstop, so its fsyncs do not land in the middle of a batch of changes.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(|e| sql_err(path, e))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("tvod-journal".into())
            .spawn(move || writer(p, conn, rx))
            .map_err(|e| {
                err(
                    path,
                    JournalErrorKind::Io(format!("cannot start the journal writer: {e}")),
                )
            })?;
        Ok(Some(SqliteJournal {
            path: path.to_path_buf(),
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

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, JournalError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let path = self.path.clone();
        let sent = self.send(Msg::Job(Box::new(move |c| {
            let _ = tx.send(f(c).map_err(|e| sql_err(&path, e)));
        })));
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
}

impl Drop for SqliteJournal {
    /// Closes the connection (the WAL is checkpointed into the file) before returning.
    fn drop(&mut self) {
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
                    out.push(Item {
                        id: tx.last_insert_rowid(),
                        path: n.path,
                        size: n.size,
                        mtime_ns: n.mtime_ns,
                        stat_sig: n.stat_sig,
                        digest: n.digest,
                        bytes: n.bytes,
                        params: n.params,
                        state: State::Pending,
                        checkpoint_key: n.checkpoint_key,
                        committed: None,
                        failure: None,
                        attempts: 0,
                        created_at: at,
                        updated_at: at,
                    });
                }
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn update(&self, id: i64, change: Change) -> BoxFuture<'_, Result<(), JournalError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.send(Msg::Update(id, change, tx));
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
}
