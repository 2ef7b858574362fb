//! `tvod upload`: upload files or directories to VOD, once (no journal; see `tvod ingest` for batches).
//!
//! ```sh
//! tvod upload [OPTIONS] PATH...
//! tvod upload --json --checkpoint-dir ./cp ./videos      # resumable: run it again after a failure
//! ```
//! A directory uploads the media files directly inside it (`-r`: below it too); an `.m3u8`/`.mpd` travels with
//! every file it references. All files share one in-flight budget (`--concurrency` parts); `--jobs` files run at
//! once. Results go to stdout (tab-separated, or JSON lines with `--json`, failures included, then a summary
//! object); progress and messages to stderr.

use crate::common::{
    ApplyArgs, ConnArgs, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, MediaParams, RateLimiter,
    TransferArgs, error_code, failure_json, human_bytes, usage_error,
};
use crate::output::{Output, OutputArgs};
use crate::sources::{self, Walk};
use futures::StreamExt;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tencent_vod::Error;
use tencent_vod::cos::{BandwidthLimit, ConcurrencyBudget};
use tencent_vod::events::WaitOptions;
use tencent_vod::upload::JsonFileCheckpointStore;
use tokio_util::sync::CancellationToken;

/// Upload media files (or the media files inside directories) to Tencent Cloud VOD.
#[derive(clap::Args, Debug)]
#[command(after_help = format!("{}\n\n{}", crate::common::EXIT_HELP, crate::ENV_HELP))]
pub struct Args {
    /// Files or directories to upload.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also upload the media files in subdirectories.
    #[arg(long, short)]
    recursive: bool,
    /// Cover image (only with a single media file).
    #[arg(long, help_heading = "Media")]
    cover: Option<PathBuf>,
    /// MediaType (default: the file extension).
    #[arg(long, help_heading = "Media")]
    media_type: Option<String>,
    /// MediaName (only with a single media file; default: the file name without extension).
    #[arg(long, help_heading = "Media")]
    media_name: Option<String>,
    /// CoverType (default: the cover's extension).
    #[arg(long, help_heading = "Media")]
    cover_type: Option<String>,
    /// MediaStoragePath (only with a single media file).
    #[arg(long, help_heading = "Media")]
    media_storage_path: Option<String>,
    #[command(flatten)]
    apply: ApplyArgs,
    /// After the commit, wait for the procedure task id (DescribeTasks) and print it.
    #[arg(long, help_heading = "Media")]
    resolve_task: bool,
    /// Seconds --resolve-task waits per file.
    #[arg(long, default_value_t = 120, help_heading = "Media")]
    resolve_timeout: u64,
    /// Make uploads resumable: checkpoints in DIR (mode 0600: they hold temporary credentials); running the
    /// same command again resumes interrupted uploads.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Check every file (and manifest) locally and list what would be uploaded; send nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Runs `tvod upload`.
pub async fn run(args: Args) -> ExitCode {
    let walk = Walk {
        recursive: args.recursive,
        ..Default::default()
    };
    let files = match sources::expand(&args.paths, &walk) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => return usage_error(format!("no media files found in {:?}", args.paths)),
        Err(e) => return usage_error(e),
    };
    let single = files.len() == 1;
    if !single
        && (args.cover.is_some() || args.media_storage_path.is_some() || args.media_name.is_some())
    {
        return usage_error(
            "--cover, --media-name and --media-storage-path need exactly one media file",
        );
    }
    let mut params = MediaParams::from_args(&args.apply);
    params.media_type = args.media_type.clone();
    params.cover_type = args.cover_type.clone();
    if single {
        params.cover = args.cover.clone();
        params.media_name = args.media_name.clone();
        params.media_storage_path = args.media_storage_path.clone();
    }
    if args.dry_run {
        return dry_run(&args, &files, &params);
    }
    let client = match args
        .conn
        .builder()
        .and_then(|b| args.transfer.apply(b).build())
    {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    if let Err(e) = crate::common::require_region(&client) {
        return usage_error(e);
    }
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| sources::check(f, &params).map(|c| c.total).unwrap_or(0))
        .collect();
    let output = Arc::new(Output::new(
        &args.output,
        files.len() as u64,
        sizes.iter().sum(),
    ));
    let budget = ConcurrencyBudget::new(args.transfer.concurrency as usize);
    let bandwidth = args.transfer.max_bytes_per_sec.map(BandwidthLimit::new);
    let api_rate = Arc::new(RateLimiter::new(args.transfer.api_rate));
    let store = args
        .checkpoint_dir
        .clone()
        .map(JsonFileCheckpointStore::new);
    let resolve = args
        .resolve_task
        .then(|| WaitOptions::new(Duration::from_secs(args.resolve_timeout)));
    let cancel = CancellationToken::new();
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = {
        let (cancel, flag, output) = (cancel.clone(), interrupted.clone(), output.clone());
        let resumable = store.is_some();
        tokio::spawn(async move {
            crate::common::interrupted().await;
            flag.store(true, Ordering::SeqCst);
            output.warn(if resumable {
                "interrupted: stopping; uploads in flight keep their checkpoints and resume when the command runs again"
            } else {
                "interrupted: stopping; uploads in flight are aborted, nothing of theirs is committed"
            });
            cancel.cancel();
            crate::common::interrupted().await;
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        })
    };
    let (ok, failed, bytes) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let started = Instant::now();
    let mut results = futures::stream::iter(files.iter().zip(&sizes).map(|(path, size)| {
        let progress = Arc::new(output.start_item(&path.display().to_string(), *size));
        let p = progress.clone();
        let mut req = params
            .request(path)
            .with_budget(budget.clone())
            .with_cancellation(cancel.child_token())
            .with_progress(move |u| p.update(u.bytes_sent, u.total.unwrap_or(u.bytes_sent)));
        if let Some(b) = &bandwidth {
            req = req.with_bandwidth_limit(b.clone());
        }
        if let Some(s) = &store {
            req = req.with_checkpoint(s.clone());
        }
        if let Some(w) = &resolve {
            req = req.with_resolve_procedure_task(*w);
        }
        let (client, api_rate, cancel) = (client.clone(), api_rate.clone(), cancel.clone());
        async move {
            let t0 = Instant::now();
            let r = tokio::select! {
                _ = cancel.cancelled() => Err(Error::Cancelled),
                _ = api_rate.acquire() => client.upload(req).await,
            };
            (path, progress, *size, t0.elapsed(), r)
        }
    }))
    .buffer_unordered(args.transfer.jobs as usize);
    let mut not_done = 0u64;
    while let Some((path, progress, size, took, result)) = results.next().await {
        match result {
            Ok(out) => {
                progress.finish(true, size);
                ok.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(out.bytes_sent, Ordering::Relaxed);
                let line = json!({
                    "Status": "ok",
                    "Path": path.display().to_string(),
                    "FileId": out.file_id,
                    "MediaUrl": out.media_url,
                    "CoverUrl": out.cover_url,
                    "ProcedureTaskId": out.procedure_task_id,
                    "ApplyRequestId": out.apply_request_id,
                    "CommitRequestId": out.commit_request_id,
                    "Bytes": out.bytes_sent,
                    "Seconds": took.as_secs_f64(),
                });
                let mut human = format!(
                    "{}\t{}\t{}",
                    path.display(),
                    out.file_id,
                    out.media_url.as_deref().unwrap_or("-")
                );
                if let Some(t) = &out.procedure_task_id {
                    human.push('\t');
                    human.push_str(t);
                }
                output.success(&human, &line);
            }
            Err(Error::Cancelled) if cancel.is_cancelled() => {
                progress.finish(false, 0);
                not_done += 1;
            }
            Err(e) => {
                progress.finish(false, size);
                failed.fetch_add(1, Ordering::Relaxed);
                let line = failure_json(
                    path,
                    &error_code(&e),
                    &e.to_string(),
                    e.request_id(),
                    e.is_retryable(),
                    1,
                );
                output.failure(&format!("{}: {e}", path.display()), &line);
            }
        }
    }
    drop(results);
    signals.abort();
    let _ = signals.await;
    let (ok, failed, bytes) = (ok.into_inner(), failed.into_inner(), bytes.into_inner());
    let secs = started.elapsed().as_secs_f64();
    let mbps = bytes as f64 / secs.max(1e-9) / 1e6;
    let was_interrupted = interrupted.load(Ordering::SeqCst);
    let summary = json!({"Summary": {
        "Ok": ok, "Failed": failed, "NotDone": not_done, "Bytes": bytes, "Seconds": secs, "MBps": mbps,
        "Interrupted": was_interrupted,
    }});
    let human = format!(
        "upload: {ok} uploaded, {failed} failed{}; {} in {secs:.1} s ({mbps:.1} MB/s){}",
        if not_done > 0 {
            format!(", {not_done} not done")
        } else {
            String::new()
        },
        human_bytes(bytes),
        if was_interrupted && store.is_some() {
            "; interrupted: run the same command again to resume"
        } else if was_interrupted {
            "; interrupted"
        } else {
            ""
        }
    );
    match Arc::try_unwrap(output) {
        Ok(o) => o.finish(&human, &summary).await,
        Err(_) => eprintln!("{human}"),
    }
    ExitCode::from(if was_interrupted {
        EXIT_INTERRUPTED
    } else if failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

fn dry_run(args: &Args, files: &[PathBuf], params: &MediaParams) -> ExitCode {
    let (mut count, mut bytes, mut bad) = (0u64, 0u64, 0u64);
    for f in files {
        match sources::check(f, params) {
            Ok(c) => {
                count += 1;
                bytes += c.total;
                if args.output.json {
                    println!(
                        "{}",
                        json!({"Status": "dry-run", "Action": "upload", "Path": f.display().to_string(), "Bytes": c.total, "Segments": c.referenced.len()})
                    );
                } else if !args.output.quiet {
                    println!("upload\t{}\t{}", f.display(), human_bytes(c.total));
                }
            }
            Err(e) => {
                bad += 1;
                if args.output.json {
                    println!(
                        "{}",
                        json!({"Status": "dry-run", "Action": "invalid", "Path": f.display().to_string(), "Error": e})
                    );
                } else {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    if args.output.json {
        println!(
            "{}",
            json!({"Summary": {"DryRun": true, "Upload": count, "Bytes": bytes, "Invalid": bad}})
        );
    } else if !args.output.quiet {
        eprintln!(
            "dry run: {count} file(s) to upload ({}), {bad} refused; nothing was sent",
            human_bytes(bytes)
        );
    }
    ExitCode::from(if bad > 0 { EXIT_FAILED } else { EXIT_OK })
}
