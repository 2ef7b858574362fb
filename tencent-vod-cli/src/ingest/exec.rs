//! Running the uploads of a batch: one item at a time per job, the journal written around every upload.

use super::journal::{Change, Committed, Failure, Item, Journal, JournalError};
use super::recover;
use super::sqlite::JournalCheckpoints;
use crate::common::{MediaParams, RateLimiter, error_code, failure_json};
use crate::output::{ItemProgress, Output};
use futures::future::BoxFuture;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tencent_vod::cos::{BandwidthLimit, ConcurrencyBudget};
use tencent_vod::events::WaitOptions;
use tencent_vod::upload::{Checkpoint, CheckpointStore, JsonFileCheckpointStore};
use tencent_vod::{Error, VodClient};
use tokio_util::sync::CancellationToken;

/// Everything the uploads share.
pub struct Ctx {
    pub client: VodClient,
    pub journal: Arc<dyn Journal>,
    /// `None` with the hidden `--no-checkpoint` (bench comparisons): uploads are then not resumable.
    pub store: Option<Checkpoints>,
    pub budget: ConcurrencyBudget,
    pub bandwidth: Option<BandwidthLimit>,
    pub api_rate: RateLimiter,
    pub resolve: Option<WaitOptions>,
    pub max_attempts: u32,
    /// Cancelled on Ctrl-C / SIGTERM, or when the journal cannot be written.
    pub cancel: CancellationToken,
    pub output: Output,
    pub stats: Stats,
    /// Checkpoints of committed items, deleted once the journal is synced.
    pub done_checkpoints: Mutex<Vec<String>>,
    /// The first journal write error (the run stops).
    pub journal_error: Mutex<Option<JournalError>>,
}

/// Where the run keeps the SDK checkpoints of its uploads.
#[derive(Clone)]
pub enum Checkpoints {
    /// In the journal (the default).
    Journal(JournalCheckpoints),
    /// JSON files in a directory (`--checkpoint-dir`, or without a journal).
    Files(JsonFileCheckpointStore),
}

impl Checkpoints {
    /// Where the checkpoint under `key` is, for messages.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Checkpoints::Journal(j) => j.describe(key),
            Checkpoints::Files(f) => format!("checkpoint {}", f.path_for(key).display()),
        }
    }
}

impl CheckpointStore for Checkpoints {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, tencent_vod::Result<Option<Checkpoint>>> {
        match self {
            Checkpoints::Journal(j) => j.load(key),
            Checkpoints::Files(f) => f.load(key),
        }
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        checkpoint: &'a Checkpoint,
    ) -> BoxFuture<'a, tencent_vod::Result<()>> {
        match self {
            Checkpoints::Journal(j) => j.save(key, checkpoint),
            Checkpoints::Files(f) => f.save(key, checkpoint),
        }
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, tencent_vod::Result<()>> {
        match self {
            Checkpoints::Journal(j) => j.delete(key),
            Checkpoints::Files(f) => f.delete(key),
        }
    }
}

/// Counters of the run.
#[derive(Debug, Default)]
pub struct Stats {
    pub ok: AtomicU64,
    pub recovered: AtomicU64,
    pub failed: AtomicU64,
    pub interrupted: AtomicU64,
    pub bytes: AtomicU64,
    pub retries: AtomicU64,
}

/// How a committed item got there.
pub struct Done {
    /// Attempts so far.
    pub attempts: u32,
    /// When the item started in this run.
    pub started: Instant,
    /// How a recovered item was found (`None`: uploaded now).
    pub via: Option<&'static str>,
    /// Bytes sent for it in this run.
    pub bytes_sent: u64,
}

/// One upload to run.
pub struct Work {
    pub item: Item,
    /// The path as given (for messages).
    pub shown: PathBuf,
    /// The file to upload (canonical).
    pub path: PathBuf,
    pub params: MediaParams,
}

enum Attempt {
    Done,
    Retry(Duration),
}

impl Ctx {
    async fn journal(&self, id: i64, change: Change) -> bool {
        match self.journal.update(id, change).await {
            Ok(()) => true,
            Err(e) => {
                let mut g = self.journal_error.lock().unwrap_or_else(|p| p.into_inner());
                if g.is_none() {
                    self.output.warn(&format!("{e}; stopping the run"));
                    *g = Some(e);
                }
                self.cancel.cancel();
                false
            }
        }
    }

    fn committed(&self, work: &Work, progress: &ItemProgress, c: &Committed, how: Done) {
        let Done {
            attempts,
            started,
            via,
            bytes_sent,
        } = how;
        self.stats.ok.fetch_add(1, Ordering::Relaxed);
        if via.is_some() {
            self.stats.recovered.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.bytes.fetch_add(bytes_sent, Ordering::Relaxed);
        progress.finish(true, work.item.bytes);
        let line = json!({
            "Status": "ok",
            "Path": work.shown.display().to_string(),
            "FileId": c.file_id,
            "MediaUrl": c.media_url,
            "CoverUrl": c.cover_url,
            "ProcedureTaskId": c.task_id,
            "ApplyRequestId": c.apply_request_id,
            "CommitRequestId": c.commit_request_id,
            "Bytes": bytes_sent,
            "Seconds": started.elapsed().as_secs_f64(),
            "Attempts": attempts,
            "Recovered": via,
        });
        self.output.success(
            &format!(
                "{}\t{}\t{}",
                work.shown.display(),
                c.file_id,
                c.media_url.as_deref().unwrap_or("-")
            ),
            &line,
        );
    }

    fn failed(&self, work: &Work, progress: &ItemProgress, f: &Failure, attempts: u32) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        progress.finish(false, work.item.bytes);
        let line = failure_json(
            &work.shown,
            &f.code,
            &f.message,
            f.request_id.as_deref(),
            f.retryable,
            attempts,
        );
        let mut human = format!("{}: {}", work.shown.display(), f.message);
        if !f.message.contains(&f.code) {
            human.push_str(&format!(" [{}]", f.code));
        }
        self.output.failure(&human, &line);
    }

    /// Sleeps unless cancelled; `false` when cancelled.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

fn failure_of(e: &Error) -> Failure {
    Failure {
        code: error_code(e),
        message: e.to_string(),
        request_id: e.request_id().map(str::to_string),
        retryable: e.is_retryable(),
    }
}

/// Backoff before retry `n` (1-based) of an item: 1 s, 2 s, 4 s … 30 s, with jitter.
fn backoff(n: u32) -> Duration {
    let base = Duration::from_secs(1u64 << n.saturating_sub(1).min(5)).min(Duration::from_secs(30));
    base.mul_f64(0.5 + fastrand_f64() * 0.5)
}

fn fastrand_f64() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Uploads one item (recovering it from its checkpoint first), retrying retryable failures up to
/// `max_attempts` attempts in all (earlier runs included).
pub async fn process(ctx: &Ctx, work: Work) {
    let started = Instant::now();
    let progress = Arc::new(
        ctx.output
            .start_item(&work.shown.display().to_string(), work.item.bytes),
    );
    let mut attempts = work.item.attempts;
    loop {
        if ctx.cancel.is_cancelled() {
            ctx.stats.interrupted.fetch_add(1, Ordering::Relaxed);
            progress.finish(false, 0);
            return;
        }
        match attempt(ctx, &work, &progress, &mut attempts, started).await {
            Attempt::Done => return,
            Attempt::Retry(d) => {
                ctx.stats.retries.fetch_add(1, Ordering::Relaxed);
                ctx.output.note(&format!(
                    "retrying {} in {:.1} s",
                    work.shown.display(),
                    d.as_secs_f64()
                ));
                // Cancelled during the pause: the loop's top ends the item.
                let _ = ctx.pause(d).await;
            }
        }
    }
}

async fn attempt(
    ctx: &Ctx,
    work: &Work,
    progress: &Arc<ItemProgress>,
    attempts: &mut u32,
    started: Instant,
) -> Attempt {
    let id = work.item.id;
    let key = &work.item.checkpoint_key;
    // 1. What an earlier run left behind (the upload acts on it; this only tells how the item was recovered).
    let found = match &ctx.store {
        Some(store) => recover::look(store, key).await,
        None => recover::Found::Nothing,
    };
    // 2. An attempt: recorded before the first request.
    tokio::select! {
        _ = ctx.cancel.cancelled() => {
            ctx.stats.interrupted.fetch_add(1, Ordering::Relaxed);
            progress.finish(false, 0);
            return Attempt::Done;
        }
        _ = ctx.api_rate.acquire() => {}
    }
    if !ctx.journal(id, Change::Uploading).await {
        progress.finish(false, 0);
        return Attempt::Done;
    }
    *attempts += 1;
    let p = progress.clone();
    let mut req = work
        .params
        .request(&work.path)
        .with_budget(ctx.budget.clone())
        .with_cancellation(ctx.cancel.child_token())
        .with_progress(move |u| p.update(u.bytes_sent, u.total.unwrap_or(u.bytes_sent)));
    if let Some(store) = &ctx.store {
        req = req
            .with_checkpoint(store.clone())
            .with_checkpoint_key(key.clone())
            .with_keep_committed_checkpoint(true);
    }
    if let Some(b) = &ctx.bandwidth {
        req = req.with_bandwidth_limit(b.clone());
    }
    if let Some(w) = &ctx.resolve {
        req = req.with_resolve_procedure_task(*w);
    }
    match ctx.client.upload(req).await {
        Ok(out) => {
            let via = if out.commit_reconciled {
                Some("reconciled")
            } else if found == recover::Found::Committed {
                Some("checkpoint")
            } else {
                None
            };
            if via.is_some() {
                tracing::info!(path = %work.path.display(), file_id = %out.file_id, ?via, "recovered a committed upload");
            }
            let c = Committed {
                file_id: out.file_id.clone(),
                media_url: out.media_url.clone(),
                cover_url: out.cover_url.clone(),
                task_id: out.procedure_task_id.clone(),
                apply_request_id: Some(out.apply_request_id.clone()),
                commit_request_id: Some(out.commit_request_id.clone()),
            };
            if ctx.journal(id, Change::Committed(c.clone())).await && ctx.store.is_some() {
                ctx.done_checkpoints
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(key.clone());
            }
            for o in &out.orphaned_uploads {
                ctx.output.warn(&format!(
                    "{}: a multipart upload could not be aborted: {o:?}",
                    work.shown.display()
                ));
            }
            ctx.committed(
                work,
                progress,
                &c,
                Done {
                    attempts: *attempts,
                    started,
                    via,
                    bytes_sent: out.bytes_sent,
                },
            );
            Attempt::Done
        }
        Err(Error::Cancelled) if ctx.cancel.is_cancelled() => {
            // Nothing was committed; the checkpoint (and its multipart uploads) stay for the next run.
            ctx.journal(id, Change::Interrupted).await;
            *attempts -= 1;
            ctx.stats.interrupted.fetch_add(1, Ordering::Relaxed);
            progress.finish(false, 0);
            Attempt::Done
        }
        Err(e) => {
            let f = failure_of(&e);
            ctx.journal(id, Change::Failed(f.clone())).await;
            if f.retryable && *attempts < ctx.max_attempts && !ctx.cancel.is_cancelled() {
                return Attempt::Retry(backoff(*attempts));
            }
            ctx.failed(work, progress, &f, *attempts);
            Attempt::Done
        }
    }
}
