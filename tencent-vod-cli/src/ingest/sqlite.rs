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
    Change, Committed, Failure, Item, Journal, JournalError, JournalErrorKind, NewItem, State,
    apply_change, now,
};
use crate::common::MediaParams;
use futures::future::BoxFuture;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    conn: Arc<Mutex<Connection>>,
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
        Ok(Some(SqliteJournal {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        }))
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, JournalError>> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        Box::pin(async move {
            let p2 = path.clone();
            tokio::task::spawn_blocking(move || {
                let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut c).map_err(|e| sql_err(&p2, e))
            })
            .await
            .map_err(|e| err(&path, JournalErrorKind::Io(e.to_string())))?
        })
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
        let path = self.path.clone();
        let conn = self.conn.clone();
        Box::pin(async move {
            let p2 = path.clone();
            let r = tokio::task::spawn_blocking(move || -> Result<(), JournalError> {
                let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = c
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| sql_err(&p2, e))?;
                let mut item = tx
                    .query_row("SELECT * FROM items WHERE id = ?1", [id], row_to_item)
                    .optional()
                    .map_err(|e| sql_err(&p2, e))?
                    .ok_or_else(|| err(&p2, JournalErrorKind::Io(format!("no item {id}"))))?;
                let at = now();
                apply_change(&mut item, change, at);
                let c = item.committed.clone().unwrap_or_default();
                let has_commit = item.committed.is_some();
                let f = item.failure.clone();
                tx.execute(
                    "UPDATE items SET size = ?2, mtime_ns = ?3, stat_sig = ?4, bytes = ?5, params = ?6, state = ?7, \
                     file_id = ?8, media_url = ?9, cover_url = ?10, task_id = ?11, apply_request_id = ?12, \
                     commit_request_id = ?13, error_code = ?14, error_message = ?15, error_request_id = ?16, \
                     retryable = ?17, attempts = ?18, updated_at = ?19 WHERE id = ?1",
                    params![
                        id,
                        i64_of(item.size),
                        item.mtime_ns,
                        item.stat_sig,
                        i64_of(item.bytes),
                        serde_json::to_string(&item.params).unwrap_or_else(|_| "{}".into()),
                        item.state.as_str(),
                        has_commit.then_some(c.file_id),
                        c.media_url,
                        c.cover_url,
                        c.task_id,
                        c.apply_request_id,
                        c.commit_request_id,
                        f.as_ref().map(|f| f.code.clone()),
                        f.as_ref().map(|f| f.message.clone()),
                        f.as_ref().and_then(|f| f.request_id.clone()),
                        f.as_ref().map(|f| f.retryable),
                        i64::from(item.attempts),
                        at
                    ],
                )
                .map_err(|e| sql_err(&p2, e))?;
                tx.commit().map_err(|e| sql_err(&p2, e))
            })
            .await;
            r.map_err(|e| err(&path, JournalErrorKind::Io(e.to_string())))?
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
