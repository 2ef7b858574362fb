//! `tvod ingest`: an idempotent batch upload with a durable journal.
//!
//! ```sh
//! tvod ingest --procedure LongVideoPreset /data/drop            # every media file under /data/drop
//! find /data -name '*.mp4' | tvod ingest -                      # a list on stdin
//! tvod ingest --csv cms-export.csv --json > results.jsonl       # per-row fields from a CSV
//! tvod ingest --report uploaded.csv                             # the journal as CSV (no upload)
//! ```
//!
//! Run the same command again after a crash, a kill or Ctrl-C: committed items are skipped (never uploaded
//! twice), half-done multipart uploads resume from their checkpoints, failed items are retried up to
//! `--max-attempts`, and a file whose content changed is a new item. See `journal` for the item states,
//! `recover` for how a crash between CommitUpload and the journal write is closed, `fingerprint` for what
//! "changed" means.

mod exec;
mod fingerprint;
mod journal;
mod list;
mod recover;
mod report;
mod sqlite;

pub use journal::{Journal, MemoryJournal};
pub use sqlite::{SqliteJournal, SyncMode};

use crate::common::{
    ApplyArgs, ConnArgs, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, MediaParams, RateLimiter,
    TransferArgs, failure_json, human_bytes, usage_error,
};
use crate::output::{Output, OutputArgs};
use crate::sources::{self, Walk};
use exec::{Checkpoints, Ctx, Stats, Work};
use fingerprint::Stat;
use journal::{Change, Item, NewItem, State};
use list::Source;
use serde_json::json;
use sqlite::JournalCheckpoints;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tencent_vod::cos::{BandwidthLimit, ConcurrencyBudget};
use tencent_vod::events::WaitOptions;
use tencent_vod::upload::JsonFileCheckpointStore;
use tokio_util::sync::CancellationToken;

const AFTER_HELP: &str = "\
Sources: PATHs (directories are walked recursively: media files by extension, hidden entries skipped; an
.m3u8/.mpd is one item with every file it references), `-` or --files-from (one path per line), --csv (a header
row names the columns: path, media_name, cover, cover_type, media_type, procedure, class_id, source_context,
session_context, storage_region, sub_app_id, expire_time, ext_info, media_storage_path; empty cells keep the
flag's value; relative paths are relative to the CSV file).

Journal: an SQLite file (default ./tvod-ingest.db) recording every item: path, size, mtime, SHA-256, state
(pending, uploading, committed with FileId and URLs, failed with the error), attempts, times. Only one ingest
may use a journal at a time. The checkpoints of resumable uploads are kept in it (or as files in
--checkpoint-dir); they hold temporary credentials, so the journal (like those files) is mode 0600.

Run the same command again after a crash or Ctrl-C: committed items are skipped, partial uploads resume,
failed items are retried (up to --max-attempts), changed files are uploaded as new items.";

/// Upload a batch of media files idempotently, with a durable journal (resume after a crash or Ctrl-C).
#[derive(clap::Args, Debug)]
#[command(after_help = format!("{AFTER_HELP}\n\n{}\n\n{}", crate::common::EXIT_HELP, crate::ENV_HELP))]
pub struct Args {
    /// Files or directories (walked recursively); `-` reads paths from stdin, one per line.
    pub paths: Vec<PathBuf>,
    /// Read paths from FILE, one per line (`-`: stdin).
    #[arg(long, value_name = "FILE", help_heading = "Sources")]
    pub files_from: Option<PathBuf>,
    /// A CSV of media files with per-row fields (see below).
    #[arg(long, value_name = "FILE", help_heading = "Sources")]
    pub csv: Option<PathBuf>,
    /// Only files whose path (relative to the directory given) matches this glob (repeatable; default: media
    /// extensions).
    #[arg(long, value_name = "GLOB", help_heading = "Sources")]
    pub include: Vec<String>,
    /// Skip files and directories whose relative path matches this glob (repeatable).
    #[arg(long, value_name = "GLOB", help_heading = "Sources")]
    pub exclude: Vec<String>,
    /// Only the top level of directories.
    #[arg(long, help_heading = "Sources")]
    pub no_recursive: bool,
    /// The journal file (created if missing).
    #[arg(long, default_value = "tvod-ingest.db", help_heading = "Journal")]
    pub journal: PathBuf,
    /// normal: each change survives the process dying, the journal is fsynced every 5 s and at the end, and
    /// the record that a commit is about to be sent is fsynced before it is; full: each change is fsynced.
    #[arg(long, value_enum, default_value = "normal", help_heading = "Journal")]
    pub journal_sync: SyncMode,
    /// Keep the checkpoints of resumable uploads as JSON files in DIR instead of in the journal.
    #[arg(long, value_name = "DIR", help_heading = "Journal")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Attempts per item, over all runs, before it is left failed.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Journal")]
    pub max_attempts: u32,
    /// Hash every file again even when its size and modification time are unchanged.
    #[arg(long, help_heading = "Journal")]
    pub rehash: bool,
    /// List what would be uploaded after checking every file and manifest locally; send nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the journal to FILE (`-`: stdout) as JSON lines or CSV (by extension or --report-format) after
    /// the run; with no sources, only write it.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
    /// Format of --report.
    #[arg(long, value_enum, help_heading = "Output")]
    pub report_format: Option<report::Format>,
    /// After each commit, wait for the procedure task id (DescribeTasks) and record it.
    #[arg(long, help_heading = "Media")]
    pub resolve_task: bool,
    /// Seconds --resolve-task waits per file.
    #[arg(long, default_value_t = 120, help_heading = "Media")]
    pub resolve_timeout: u64,
    /// Keep the journal in memory only (benchmarks: the cost of the journal).
    #[arg(long, hide = true)]
    pub no_journal: bool,
    /// Upload without checkpoints (benchmarks: the cost of resumability).
    #[arg(long, hide = true)]
    pub no_checkpoint: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How often the journal is synced (a WAL checkpoint: two fsyncs that briefly hold up the writer).
const SYNC_EVERY: Duration = Duration::from_secs(5);

/// Why a run could not go on.
enum Fatal {
    /// Arguments, configuration, journal identity or lock: exit 2.
    Usage(String),
}

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal::Usage(e.to_string())
    }
}

/// Runs `tvod ingest`.
pub async fn run(args: Args) -> ExitCode {
    match run_inner(args).await {
        Ok(code) => ExitCode::from(code),
        Err(Fatal::Usage(m)) => usage_error(m),
    }
}

fn stdin_paths() -> Result<Vec<(PathBuf, String)>, String> {
    list::read_paths(std::io::stdin().lock(), "stdin")
}

/// Collects the sources; a PATH argument that does not exist is a usage error, a listed one an item failure.
fn collect(args: &Args, defaults: &MediaParams, walk: &Walk) -> Result<Vec<Source>, String> {
    let stdin_uses = args.paths.iter().filter(|p| p.as_os_str() == "-").count()
        + usize::from(args.files_from.as_deref() == Some(Path::new("-")));
    if stdin_uses > 1 {
        return Err("stdin can be read only once (`-` and --files-from -)".into());
    }
    let mut out = Vec::new();
    let push_listed =
        |path: PathBuf, origin: String, out: &mut Vec<Source>| -> Result<(), String> {
            if path.is_dir() {
                for f in sources::expand(&[path], walk)? {
                    out.push(Source {
                        path: f,
                        params: defaults.clone(),
                        origin: origin.clone(),
                    });
                }
            } else {
                out.push(Source {
                    path,
                    params: defaults.clone(),
                    origin,
                });
            }
            Ok(())
        };
    for p in &args.paths {
        if p.as_os_str() == "-" {
            for (path, origin) in stdin_paths()? {
                push_listed(path, origin, &mut out)?;
            }
            continue;
        }
        if std::fs::metadata(p).is_err() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
        for f in sources::expand(std::slice::from_ref(p), walk)? {
            out.push(Source {
                path: f,
                params: defaults.clone(),
                origin: "argument".into(),
            });
        }
    }
    if let Some(f) = &args.files_from {
        let listed = if f.as_os_str() == "-" {
            stdin_paths()?
        } else {
            let file =
                std::fs::File::open(f).map_err(|e| format!("--files-from {}: {e}", f.display()))?;
            list::read_paths(std::io::BufReader::new(file), &f.display().to_string())?
        };
        for (path, origin) in listed {
            push_listed(path, origin, &mut out)?;
        }
    }
    if let Some(c) = &args.csv {
        out.extend(list::read_csv(c, defaults)?);
    }
    Ok(out)
}

/// What planning decided for one source.
enum Plan {
    /// Refused by the local checks.
    Invalid { source: Source, reason: String },
    /// Already committed.
    Skip { source: Source, item: Item },
    /// Failed `max_attempts` times.
    GiveUp { source: Source, item: Item },
    /// To upload (new, pending, interrupted, or failed and retried).
    Upload {
        source: Source,
        item: Item,
        canonical: PathBuf,
    },
}

/// A source that passed the local checks, before the journal decides.
struct Checked {
    source: Source,
    canonical: PathBuf,
    key: String,
    stat: Stat,
    bytes: u64,
    referenced: std::collections::BTreeSet<sources::Referenced>,
}

fn checkpoint_dir(args: &Args) -> PathBuf {
    args.checkpoint_dir.clone().unwrap_or_else(|| {
        let mut s = args.journal.clone().into_os_string();
        s.push(".checkpoints");
        PathBuf::from(s)
    })
}

async fn run_inner(args: Args) -> Result<u8, Fatal> {
    let has_sources = !args.paths.is_empty() || args.files_from.is_some() || args.csv.is_some();
    if !has_sources && args.report.is_none() {
        return Err(Fatal::Usage(
            "nothing to ingest: give PATHs, `-`, --files-from or --csv (or --report FILE to write the journal out)".into(),
        ));
    }
    let walk = Walk {
        recursive: !args.no_recursive,
        include: sources::globs("--include", &args.include)?,
        exclude: sources::globs("--exclude", &args.exclude)?,
    };

    // Configuration first: a bad flag or missing credentials fail before any file is touched.
    let client = if has_sources && !args.dry_run {
        let built = args
            .conn
            .builder()
            .and_then(|b| args.transfer.apply(b).build());
        let client = built.map_err(|e| Fatal::Usage(e.to_string()))?;
        crate::common::require_region(&client).map_err(Fatal::Usage)?;
        Some(client)
    } else {
        None
    };
    let defaults = MediaParams::from_args(&args.apply);
    let collected = if has_sources {
        collect(&args, &defaults, &walk)?
    } else {
        Vec::new()
    };

    // The journal: its identity and lock are checked before it is used.
    let mut in_journal = None;
    let journal: Arc<dyn Journal> = if args.no_journal {
        Arc::new(MemoryJournal::default())
    } else {
        match SqliteJournal::open(
            &args.journal,
            has_sources && !args.dry_run,
            args.journal_sync,
        )? {
            Some(j) => {
                let j = Arc::new(j);
                in_journal = Some(j.checkpoints());
                j
            }
            None if !has_sources => {
                return Err(Fatal::Usage(format!(
                    "journal {}: no such file",
                    args.journal.display()
                )));
            }
            None => Arc::new(MemoryJournal::default()),
        }
    };
    if !has_sources {
        write_report(&args, journal.as_ref()).await?;
        return Ok(EXIT_OK);
    }

    // Local checks and fingerprints (blocking file I/O, on the blocking pool).
    let (rehash, max_attempts) = (args.rehash, args.max_attempts);
    let existing = journal.items().await?;
    let planned =
        tokio::task::spawn_blocking(move || plan(collected, existing, rehash, max_attempts))
            .await
            .map_err(|e| Fatal::Usage(format!("planning failed: {e}")))?;
    let (mut plans, new_items, seen, superseded) = planned;

    if args.dry_run {
        return Ok(dry_run(&args, &plans, &new_items));
    }

    let Some(client) = client else {
        return Err(Fatal::Usage("internal: no client".into()));
    };

    let added = journal
        .add(new_items.iter().map(|(_, n)| n.clone()).collect())
        .await?;
    for ((slot, _), item) in new_items.into_iter().zip(added) {
        if let Plan::Upload { item: i, .. } = &mut plans[slot] {
            *i = item;
        }
    }
    for (id, change) in seen {
        journal.update(id, change).await?;
    }

    let store = match (args.no_checkpoint, &args.checkpoint_dir, in_journal) {
        (true, _, _) => None,
        (false, Some(dir), _) => Some(Checkpoints::Files(JsonFileCheckpointStore::new(dir))),
        (false, None, Some(j)) => {
            // Checkpoints an older tvod kept as files beside the journal move into it first.
            let legacy = checkpoint_dir(&args);
            if legacy.is_dir() {
                import_legacy_checkpoints(&legacy, &j, journal.as_ref()).await?;
            }
            // Those of items a killed run committed but could not remove yet.
            if let Err(e) = j.delete_committed().await {
                tracing::warn!(error = %e, "could not remove the checkpoints of committed items");
            }
            Some(Checkpoints::Journal(j))
        }
        (false, None, None) => Some(Checkpoints::Files(JsonFileCheckpointStore::new(
            checkpoint_dir(&args),
        ))),
    };
    let uploads: Vec<&Plan> = plans
        .iter()
        .filter(|p| matches!(p, Plan::Upload { .. }))
        .collect();
    let total_bytes: u64 = uploads
        .iter()
        .map(|p| match p {
            Plan::Upload { item, .. } => item.bytes,
            _ => 0,
        })
        .sum();
    let output = Output::new(&args.output, uploads.len() as u64, total_bytes);
    let ctx = Arc::new(Ctx {
        client,
        journal: journal.clone(),
        store,
        budget: ConcurrencyBudget::new(args.transfer.concurrency as usize),
        bandwidth: args.transfer.max_bytes_per_sec.map(BandwidthLimit::new),
        api_rate: RateLimiter::new(args.transfer.api_rate),
        resolve: args
            .resolve_task
            .then(|| WaitOptions::new(Duration::from_secs(args.resolve_timeout))),
        max_attempts,
        cancel: CancellationToken::new(),
        output,
        stats: Stats::default(),
        done_checkpoints: Mutex::new(Vec::new()),
        journal_error: Mutex::new(None),
    });

    // Items that need no upload are reported first.
    let mut skipped = 0u64;
    let mut refused = 0u64;
    for p in &plans {
        match p {
            Plan::Skip { source, item } => {
                skipped += 1;
                // A run that died before its journal sync left the checkpoints of its last commits: removed after
                // this run's first sync.
                if matches!(ctx.store, Some(Checkpoints::Files(_))) {
                    ctx.done_checkpoints
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(item.checkpoint_key.clone());
                }
                let c = item.committed.clone().unwrap_or_default();
                if ctx.output.json() {
                    ctx.output.success(
                        "",
                        &json!({
                            "Status": "skipped",
                            "Reason": "already committed",
                            "Path": source.path.display().to_string(),
                            "FileId": c.file_id,
                            "MediaUrl": c.media_url,
                            "CoverUrl": c.cover_url,
                            "ProcedureTaskId": c.task_id,
                        }),
                    );
                }
            }
            Plan::Invalid { source, reason } => {
                refused += 1;
                ctx.output.failure(
                    &format!("{} ({}): {reason}", source.path.display(), source.origin),
                    &failure_json(&source.path, "InvalidInput", reason, None, false, 0),
                );
            }
            Plan::GiveUp { source, item } => {
                refused += 1;
                let f = item.failure.clone().unwrap_or_else(|| journal::Failure {
                    code: "Failed".into(),
                    message: String::new(),
                    request_id: None,
                    retryable: false,
                });
                let msg = format!(
                    "not retried: failed {} time(s), --max-attempts {}; last error: {}",
                    item.attempts, max_attempts, f.message
                );
                ctx.output.failure(
                    &format!("{}: {msg}", source.path.display()),
                    &failure_json(
                        &source.path,
                        &f.code,
                        &msg,
                        f.request_id.as_deref(),
                        f.retryable,
                        item.attempts,
                    ),
                );
            }
            Plan::Upload { .. } => {}
        }
    }
    if uploads.is_empty() {
        ctx.output.note(&format!(
            "nothing to upload: {skipped} item(s) already committed{} (journal {})",
            if refused > 0 {
                format!(", {refused} refused")
            } else {
                String::new()
            },
            journal.location()
        ));
    }

    // Ctrl-C / SIGTERM: stop starting items, cancel those in flight (their checkpoints stay); a second one exits
    // at once (every journal change is a transaction, so the journal is consistent either way).
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = {
        let (ctx, flag) = (ctx.clone(), interrupted.clone());
        tokio::spawn(async move {
            crate::common::interrupted().await;
            flag.store(true, Ordering::SeqCst);
            ctx.output.warn("interrupted: stopping (the journal stays consistent; run the same command to resume)");
            ctx.cancel.cancel();
            crate::common::interrupted().await;
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        })
    };
    // The journal is synced every few seconds; checkpoints of items committed before a sync are deleted after it
    // (until then they hold the commit's outcome durably).
    let stop_sync = CancellationToken::new();
    let syncer = {
        let (ctx, stop) = (ctx.clone(), stop_sync.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SYNC_EVERY);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => sync_and_clean(&ctx).await,
                }
            }
        })
    };

    let work: Vec<Work> = plans
        .into_iter()
        .filter_map(|p| match p {
            Plan::Upload {
                source,
                item,
                canonical,
            } => Some(Work {
                item,
                shown: source.path,
                path: canonical,
                params: source.params,
            }),
            _ => None,
        })
        .collect();
    {
        use futures::StreamExt;
        let ctx2 = ctx.clone();
        futures::stream::iter(work)
            .map(|w| {
                let ctx = ctx2.clone();
                async move { exec::process(&ctx, w).await }
            })
            .buffer_unordered(args.transfer.jobs as usize)
            .collect::<Vec<()>>()
            .await;
    }
    for item in superseded {
        reconcile_superseded(&ctx, item).await;
    }
    stop_sync.cancel();
    let _ = syncer.await;
    sync_and_clean(&ctx).await;
    signals.abort();
    let _ = signals.await;

    let journal_failed = ctx
        .journal_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let s = &ctx.stats;
    let ok = s.ok.load(Ordering::Relaxed);
    let failed = s.failed.load(Ordering::Relaxed) + refused;
    let bytes = s.bytes.load(Ordering::Relaxed);
    let secs = ctx.output.elapsed().as_secs_f64();
    let was_interrupted = interrupted.load(Ordering::SeqCst);
    let not_done = s.interrupted.load(Ordering::Relaxed);
    let mbps = bytes as f64 / secs.max(1e-9) / 1e6;
    let summary = json!({
        "Summary": {
            "Ok": ok,
            "Recovered": s.recovered.load(Ordering::Relaxed),
            "Failed": failed,
            "Skipped": skipped,
            "NotDone": not_done,
            "Bytes": bytes,
            "Seconds": secs,
            "MBps": mbps,
            "Retries": s.retries.load(Ordering::Relaxed),
            "Interrupted": was_interrupted,
            "Journal": journal.location(),
        }
    });
    let human = format!(
        "ingest: {ok} uploaded, {failed} failed, {skipped} skipped{}; {} in {secs:.1} s ({mbps:.1} MB/s); {} retries{}",
        if not_done > 0 {
            format!(", {not_done} not done")
        } else {
            String::new()
        },
        human_bytes(bytes),
        s.retries.load(Ordering::Relaxed),
        if was_interrupted {
            "; interrupted: run the same command again to resume"
        } else {
            ""
        }
    );
    let ctx = match Arc::try_unwrap(ctx) {
        Ok(c) => c,
        Err(_) => {
            return Err(Fatal::Usage(
                "internal: the run's context is still shared".into(),
            ));
        }
    };
    ctx.output.finish(&human, &summary).await;
    if args.report.is_some() {
        write_report(&args, journal.as_ref()).await?;
    }
    if let Some(e) = journal_failed {
        eprintln!("error: {e}");
        return Ok(EXIT_FAILED);
    }
    Ok(if was_interrupted {
        EXIT_INTERRUPTED
    } else if failed > 0 || not_done > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// Moves the checkpoint files an older tvod kept beside the journal (`JOURNAL.checkpoints/`) into the journal:
/// each is saved under the key it records, the journal is synced, and only then are the files removed (and the
/// directory, once empty). A file that is not a checkpoint is left where it is, with a warning.
async fn import_legacy_checkpoints(
    dir: &Path,
    store: &JournalCheckpoints,
    journal: &dyn Journal,
) -> Result<(), Fatal> {
    use tencent_vod::upload::{Checkpoint, CheckpointStore};
    let io =
        |e: std::io::Error| Fatal::Usage(format!("checkpoint directory {}: {e}", dir.display()));
    let mut imported = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let cp: Checkpoint = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice(&b).map_err(|e| format!("{:?} error", e.classify()))
            }) {
            Ok(cp) => cp,
            Err(why) => {
                tracing::warn!(file = %path.display(), %why, "not a checkpoint: left in place");
                continue;
            }
        };
        store
            .save(&cp.key, &cp)
            .await
            .map_err(|e| Fatal::Usage(format!("importing {}: {e}", path.display())))?;
        imported.push(path);
    }
    journal.sync().await?;
    for path in &imported {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!(file = %path.display(), error = %e, "could not remove an imported checkpoint file");
        }
    }
    let _ = std::fs::remove_dir(dir);
    tracing::info!(count = imported.len(), dir = %dir.display(), "checkpoint files moved into the journal");
    Ok(())
}

/// Syncs the journal, then deletes the checkpoints of items whose commit it now holds durably.
async fn sync_and_clean(ctx: &Ctx) {
    let keys: Vec<String> = std::mem::take(
        &mut *ctx
            .done_checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    if let Err(e) = ctx.journal.sync().await {
        ctx.output.warn(&e.to_string());
        ctx.done_checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(keys);
        return;
    }
    if let Some(store) = &ctx.store {
        use tencent_vod::upload::CheckpointStore;
        for k in keys {
            if let Err(e) = store.delete(&k).await {
                tracing::warn!(key = %k, error = %e, "could not delete a committed item's checkpoint");
            }
        }
    }
}

/// An item left `uploading` by an earlier run whose file has since changed: its checkpoint may record a commit
/// (then it is recorded so) or a commit attempt (then it may be in VOD: the item fails with
/// `CommitOutcomeUnknown`); otherwise it is closed as superseded. The old content is not uploaded again.
async fn reconcile_superseded(ctx: &Ctx, item: Item) {
    use tencent_vod::upload::CheckpointStore;
    let Some(store) = &ctx.store else { return };
    let cp = store.load(&item.checkpoint_key).await.ok().flatten();
    let change = match cp {
        Some(cp) if cp.committed && cp.commit.is_some() => {
            let Some(c) = cp.commit.clone() else { return };
            ctx.output.note(&format!(
                "{}: an earlier version of this file was committed as {} before it changed",
                item.path, c.file_id
            ));
            ctx.done_checkpoints
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(item.checkpoint_key.clone());
            Change::Committed(journal::Committed {
                file_id: c.file_id,
                media_url: c.media_url,
                cover_url: c.cover_url.filter(|u| !u.is_empty()),
                task_id: None,
                apply_request_id: Some(cp.apply.request_id.clone()),
                commit_request_id: Some(c.request_id),
            })
        }
        Some(cp) if cp.committed || cp.commit_attempted_at.is_some() => {
            Change::Failed(journal::Failure {
                code: "CommitOutcomeUnknown".into(),
                message: format!(
                    "the file changed after an earlier run started committing this version (MediaStoragePath {}); \
                 it may be in VOD; see its {}",
                    cp.apply.media_storage_path,
                    store.describe(&item.checkpoint_key)
                ),
                request_id: None,
                retryable: false,
            })
        }
        _ => Change::Failed(journal::Failure {
            code: "Superseded".into(),
            message:
                "the file changed before this version was committed; its new content is a new item"
                    .into(),
            request_id: None,
            retryable: false,
        }),
    };
    if let Err(e) = ctx.journal.update(item.id, change).await {
        ctx.output.warn(&e.to_string());
    }
}

type Planned = (
    Vec<Plan>,
    Vec<(usize, NewItem)>,
    Vec<(i64, Change)>,
    Vec<Item>,
);

/// Decides what to do with every source (blocking: file I/O).
fn plan(collected: Vec<Source>, existing: Vec<Item>, rehash: bool, max_attempts: u32) -> Planned {
    let mut by_path: HashMap<String, Vec<Item>> = HashMap::new();
    for i in existing {
        by_path.entry(i.path.clone()).or_default().push(i);
    }
    // Checks, deduplicated by canonical path: a CSV row beats a list line, which beats a directory walk; among
    // equals the first mention wins.
    let rank = |s: &Source| {
        if s.origin.starts_with("csv") {
            2
        } else if s.origin == "argument" {
            0
        } else {
            1
        }
    };
    let mut best: HashMap<PathBuf, (usize, u8)> = HashMap::new();
    for (i, s) in collected.iter().enumerate() {
        if let Ok(c) = std::fs::canonicalize(&s.path) {
            let r = rank(s);
            match best.get(&c) {
                Some((_, br)) if *br >= r => {
                    tracing::info!(path = %s.path.display(), origin = %s.origin, "listed more than once: the more specific (or first) mention is used");
                }
                _ => {
                    best.insert(c, (i, r));
                }
            }
        }
    }
    let mut checked: Vec<Result<Checked, (Source, String)>> = Vec::new();
    for (i, source) in collected.into_iter().enumerate() {
        let canonical = match std::fs::canonicalize(&source.path) {
            Ok(c) => c,
            Err(e) => {
                let reason = format!("{e}");
                checked.push(Err((source, reason)));
                continue;
            }
        };
        if best.get(&canonical).is_some_and(|(bi, _)| *bi != i) {
            continue;
        }
        let r = sources::check(&canonical, &source.params).and_then(|c| {
            let stat = fingerprint::stat(&canonical, &c.referenced)?;
            Ok((c, stat))
        });
        match r {
            Ok((c, stat)) => checked.push(Ok(Checked {
                key: String::new(),
                canonical,
                stat,
                bytes: c.total,
                referenced: c.referenced,
                source,
            })),
            Err(reason) => checked.push(Err((source, reason))),
        }
    }
    // Digests where the journal cannot vouch for the content, hashed in parallel.
    let needs_digest = |c: &Checked| -> bool {
        let path = c.canonical.to_string_lossy();
        rehash
            || by_path
                .get(path.as_ref())
                .and_then(|v| v.last())
                .is_none_or(|latest| latest.stat_sig != c.stat.stat_sig)
    };
    let todo: Vec<usize> = checked
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.as_ref().ok().filter(|c| needs_digest(c)).map(|_| i))
        .collect();
    let digests: Vec<(usize, Result<String, String>)> = std::thread::scope(|s| {
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8);
        let chunks: Vec<Vec<usize>> = (0..threads)
            .map(|t| todo.iter().copied().skip(t).step_by(threads).collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let checked = &checked;
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|i| {
                            let c = checked[i]
                                .as_ref()
                                .expect("only checked sources are hashed");
                            (i, fingerprint::digest(&c.canonical, &c.referenced))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut digest_of: HashMap<usize, Result<String, String>> = digests.into_iter().collect();

    let mut plans = Vec::new();
    let mut new_items = Vec::new();
    let mut seen = Vec::new();
    let mut superseded = Vec::new();
    for (i, c) in checked.into_iter().enumerate() {
        let mut c = match c {
            Ok(c) => c,
            Err((source, reason)) => {
                plans.push(Plan::Invalid { source, reason });
                continue;
            }
        };
        let path = c.canonical.to_string_lossy().into_owned();
        let history = by_path.get(&path).cloned().unwrap_or_default();
        let found = match digest_of.remove(&i) {
            None => history.last().cloned(),
            Some(Err(reason)) => {
                plans.push(Plan::Invalid {
                    source: c.source,
                    reason,
                });
                continue;
            }
            Some(Ok(d)) => {
                let hit = history.iter().rev().find(|h| h.digest == d).cloned();
                match hit {
                    Some(mut h) => {
                        if h.stat_sig != c.stat.stat_sig || h.params != c.source.params {
                            let change = Change::Seen {
                                size: c.stat.size,
                                mtime_ns: c.stat.mtime_ns,
                                stat_sig: c.stat.stat_sig.clone(),
                                bytes: c.bytes,
                                params: c.source.params.clone(),
                            };
                            let at = h.updated_at;
                            journal::apply_change(&mut h, change.clone(), at);
                            seen.push((h.id, change));
                        }
                        Some(h)
                    }
                    None => {
                        c.key = fingerprint::checkpoint_key(&path, &d);
                        new_items.push((
                            plans.len(),
                            NewItem {
                                path: path.clone(),
                                size: c.stat.size,
                                mtime_ns: c.stat.mtime_ns,
                                stat_sig: c.stat.stat_sig.clone(),
                                digest: d,
                                bytes: c.bytes,
                                params: c.source.params.clone(),
                                checkpoint_key: c.key.clone(),
                            },
                        ));
                        // Older versions of this file left mid-upload may have been committed: reconciled after the run.
                        for h in history.iter().filter(|h| h.state == State::Uploading) {
                            superseded.push(h.clone());
                        }
                        None
                    }
                }
            }
        };
        match found {
            Some(item) if item.state == State::Committed => plans.push(Plan::Skip {
                source: c.source,
                item,
            }),
            Some(item) if item.state == State::Failed && item.attempts >= max_attempts => plans
                .push(Plan::GiveUp {
                    source: c.source,
                    item,
                }),
            Some(item) => plans.push(Plan::Upload {
                source: c.source,
                item,
                canonical: c.canonical,
            }),
            None => {
                // A placeholder until the journal assigns the id.
                let item = Item {
                    id: 0,
                    path: path.clone(),
                    size: c.stat.size,
                    mtime_ns: c.stat.mtime_ns,
                    stat_sig: c.stat.stat_sig.clone(),
                    digest: String::new(),
                    bytes: c.bytes,
                    params: c.source.params.clone(),
                    state: State::Pending,
                    checkpoint_key: c.key.clone(),
                    committed: None,
                    failure: None,
                    attempts: 0,
                    created_at: 0,
                    updated_at: 0,
                };
                plans.push(Plan::Upload {
                    source: c.source,
                    item,
                    canonical: c.canonical,
                });
            }
        }
    }
    (plans, new_items, seen, superseded)
}

/// `--dry-run`: prints the plan; sends nothing, writes nothing.
fn dry_run(args: &Args, plans: &[Plan], new_items: &[(usize, NewItem)]) -> u8 {
    let new: HashSet<usize> = new_items.iter().map(|(i, _)| *i).collect();
    let (mut upload, mut bytes, mut skip, mut invalid) = (0u64, 0u64, 0u64, 0u64);
    for (i, p) in plans.iter().enumerate() {
        let (action, path, detail, item_bytes, err): (&str, &Path, String, u64, Option<&str>) =
            match p {
                Plan::Invalid { source, reason } => {
                    ("invalid", &source.path, reason.clone(), 0, Some(reason))
                }
                Plan::Skip { source, item } => (
                    "skip",
                    &source.path,
                    format!(
                        "committed as {}",
                        item.committed.as_ref().map_or("?", |c| c.file_id.as_str())
                    ),
                    item.bytes,
                    None,
                ),
                Plan::GiveUp { source, item } => (
                    "give-up",
                    &source.path,
                    format!("failed {} time(s)", item.attempts),
                    item.bytes,
                    None,
                ),
                Plan::Upload { source, item, .. } => {
                    let action = if new.contains(&i) {
                        "upload"
                    } else {
                        match item.state {
                            State::Failed => "retry",
                            State::Uploading => "resume",
                            _ => "upload",
                        }
                    };
                    (
                        action,
                        &source.path,
                        crate::common::human_bytes(item.bytes),
                        item.bytes,
                        None,
                    )
                }
            };
        let key = match p {
            Plan::Upload { item, .. } | Plan::Skip { item, .. } | Plan::GiveUp { item, .. } => {
                Some(item.checkpoint_key.as_str())
            }
            Plan::Invalid { .. } => None,
        };
        match action {
            "upload" | "retry" | "resume" => {
                upload += 1;
                bytes += item_bytes;
            }
            "skip" => skip += 1,
            _ => invalid += 1,
        }
        if args.output.json {
            println!(
                "{}",
                json!({"Status": "dry-run", "Action": action, "Path": path.display().to_string(), "Bytes": item_bytes, "Error": err, "CheckpointKey": key})
            );
        } else if action == "invalid" {
            eprintln!("error: {}: {detail}", path.display());
        } else if !args.output.quiet {
            println!("{action}\t{}\t{detail}", path.display());
        }
    }
    let summary = json!({"Summary": {"DryRun": true, "Upload": upload, "Bytes": bytes, "Skip": skip, "Invalid": invalid}});
    if args.output.json {
        println!("{summary}");
    } else if !args.output.quiet {
        eprintln!(
            "dry run: {upload} to upload ({}), {skip} already committed, {invalid} refused; nothing was sent",
            human_bytes(bytes)
        );
    }
    if invalid > 0 { EXIT_FAILED } else { EXIT_OK }
}

async fn write_report(args: &Args, journal: &dyn Journal) -> Result<(), Fatal> {
    let Some(path) = &args.report else {
        return Ok(());
    };
    let items = journal.items().await?;
    let format = args
        .report_format
        .unwrap_or_else(|| report::Format::for_path(path));
    let result = if path.as_os_str() == "-" {
        report::write(&items, format, std::io::stdout().lock())
    } else {
        std::fs::File::create(path)
            .and_then(|f| report::write(&items, format, std::io::BufWriter::new(f)))
    };
    result.map_err(|e| Fatal::Usage(format!("--report {}: {e}", path.display())))
}
