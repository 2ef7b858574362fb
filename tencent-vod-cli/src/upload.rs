//! `tvod upload`: upload files or directories to VOD.
//!
//! ```sh
//! tvod upload [OPTIONS] PATH...
//! tvod upload --json --vod-endpoint http://127.0.0.1:PORT --cos-endpoint http://127.0.0.1:PORT2 ./videos
//! ```
//! Credentials come from `TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY` (or `~/.tencentcloud/credentials`).
//! A directory uploads every file with a media extension directly inside it; when it holds an `.m3u8`/`.mpd`,
//! its `.ts`/`.m4s` files are treated as segments of that manifest and not uploaded on their own.
//! All files share one in-flight budget (`--concurrency` parts); `--jobs` files run at once.
//! Exit status is non-zero when any file failed; each failure is one line on stderr.

use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tencent_vod::cos::ConcurrencyBudget;
use tencent_vod::{
    MEDIA_TYPES, SignMethod, TransferConfig, UploadRequest, VodClient, VodClientBuilder,
};

/// Upload media files (or every media file directly inside a directory) to Tencent Cloud VOD.
#[derive(clap::Args, Debug)]
#[command(after_help = crate::ENV_HELP)]
pub struct Args {
    /// Files or directories to upload.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Cover image (only with a single media file).
    #[arg(long)]
    cover: Option<PathBuf>,
    /// MediaType (default: the file extension).
    #[arg(long)]
    media_type: Option<String>,
    /// MediaName (default: the file name without extension).
    #[arg(long)]
    media_name: Option<String>,
    /// CoverType (default: the cover's extension).
    #[arg(long)]
    cover_type: Option<String>,
    /// Procedure (task flow) to run after upload.
    #[arg(long)]
    procedure: Option<String>,
    /// ExpireTime, ISO 8601.
    #[arg(long)]
    expire_time: Option<String>,
    /// StorageRegion.
    #[arg(long)]
    storage_region: Option<String>,
    /// ClassId.
    #[arg(long)]
    class_id: Option<i64>,
    /// SourceContext (≤ 250 chars).
    #[arg(long)]
    source_context: Option<String>,
    /// SessionContext (≤ 1000 chars).
    #[arg(long)]
    session_context: Option<String>,
    /// ExtInfo.
    #[arg(long)]
    ext_info: Option<String>,
    /// SubAppId (sent on ApplyUpload and CommitUpload).
    #[arg(long, env = "TENCENTCLOUD_VOD_SUB_APP_ID")]
    sub_app_id: Option<u64>,
    /// MediaStoragePath (only with a single media file).
    #[arg(long)]
    media_storage_path: Option<String>,
    /// API region (X-TC-Region); required: ApplyUpload and CommitUpload need it.
    #[arg(long, env = "TENCENTCLOUD_REGION")]
    region: Option<String>,
    /// VOD endpoint override.
    #[arg(long)]
    vod_endpoint: Option<String>,
    /// COS endpoint override (base URL: path-style; with {bucket}: virtual-host template).
    #[arg(long)]
    cos_endpoint: Option<String>,
    /// Signature method for VOD API calls.
    #[arg(long, default_value = "tc3", value_parser = ["tc3", "hmac-sha1", "hmac-sha256"])]
    sign_method: String,
    /// Parts in flight, shared by every file.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Files uploaded at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Multipart part size in bytes (suffixes K, M, G accepted).
    #[arg(long, value_parser = parse_size)]
    part_size: Option<u64>,
    /// One JSON object per uploaded file on stdout.
    #[arg(long)]
    json: bool,
    /// Show progress bars even when stderr is not a terminal.
    #[arg(long)]
    progress: bool,
}

/// Sizes as `8M`, `512K`, `1.5G`: the SDK's checked parser (an overflowing value is an error, never wrapped).
fn parse_size(s: &str) -> Result<u64, String> {
    tencent_vod::cos::parse_size(s).map_err(|e| e.to_string())
}

fn ext(p: &Path) -> Option<String> {
    p.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Expands directories into the media files directly inside them.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .filter(|f| ext(f).is_some_and(|e| MEDIA_TYPES.contains(&e.as_str())))
                .collect();
            let has_manifest = entries
                .iter()
                .any(|f| matches!(ext(f).as_deref(), Some("m3u8" | "mpd")));
            if has_manifest {
                entries.retain(|f| !matches!(ext(f).as_deref(), Some("ts" | "m4s")));
            }
            entries.sort();
            out.extend(entries);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn client(args: &Args) -> tencent_vod::Result<VodClient> {
    let mut transfer = TransferConfig::default().with_concurrency(args.concurrency);
    if let Some(p) = args.part_size {
        transfer = transfer.with_part_size(p);
    }
    let mut b = VodClientBuilder::from_env()?
        .with_sign_method(args.sign_method.parse::<SignMethod>()?)
        .with_transfer_config(transfer);
    if let Some(r) = &args.region {
        b = b.with_region(r);
    }
    if let Some(e) = &args.vod_endpoint {
        b = b.with_vod_endpoint(e);
    }
    if let Some(e) = &args.cos_endpoint {
        b = b.with_cos_endpoint(e);
    }
    b.build()
}

fn request(args: &Args, path: &Path, single: bool) -> UploadRequest {
    let mut r = UploadRequest::from_path(path);
    if single {
        if let Some(c) = &args.cover {
            r = r.with_cover_path(c);
        }
        if let Some(v) = &args.media_storage_path {
            r = r.with_media_storage_path(v);
        }
        if let Some(v) = &args.media_name {
            r = r.with_media_name(v);
        }
    }
    if let Some(v) = &args.media_type {
        r = r.with_media_type(v);
    }
    if let Some(v) = &args.cover_type {
        r = r.with_cover_type(v);
    }
    if let Some(v) = &args.procedure {
        r = r.with_procedure(v);
    }
    if let Some(v) = &args.expire_time {
        r = r.with_expire_time(v);
    }
    if let Some(v) = &args.storage_region {
        r = r.with_storage_region(v);
    }
    if let Some(v) = args.class_id {
        r = r.with_class_id(v);
    }
    if let Some(v) = &args.source_context {
        r = r.with_source_context(v);
    }
    if let Some(v) = &args.session_context {
        r = r.with_session_context(v);
    }
    if let Some(v) = &args.ext_info {
        r = r.with_ext_info(v);
    }
    if let Some(v) = args.sub_app_id {
        r = r.with_sub_app_id(v);
    }
    r
}

/// Uploads every file; one line per upload on stdout, one `error: PATH: …` line per failure on stderr.
pub async fn run(args: Args) -> ExitCode {
    let files = match expand(&args.paths) {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            eprintln!("error: no media files found in {:?}", args.paths);
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if files.len() > 1 && (args.cover.is_some() || args.media_storage_path.is_some()) {
        eprintln!("error: --cover and --media-storage-path need exactly one media file");
        return ExitCode::FAILURE;
    }
    let client = match client(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let show_progress = args.progress || (std::io::stderr().is_terminal() && !args.json);
    let bars = MultiProgress::new();
    let budget = ConcurrencyBudget::new(args.concurrency.max(1));
    let single = files.len() == 1;
    let mut failures = 0usize;
    let mut results = futures::stream::iter(files.iter().map(|path| {
        let mut req = request(&args, path, single).with_budget(budget.clone());
        if show_progress {
            let bar = bars.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:30!} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(path.display().to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            req = req.with_progress(move |p| {
                if let Some(total) = p.total {
                    bar.set_length(total);
                }
                bar.set_position(p.bytes_sent);
            });
        }
        let client = client.clone();
        async move { (path, client.upload(req).await) }
    }))
    .buffer_unordered(args.jobs.max(1));
    while let Some((path, result)) = results.next().await {
        match result {
            Ok(out) => {
                if args.json {
                    let line = serde_json::json!({
                        "Path": path.display().to_string(),
                        "FileId": out.file_id,
                        "MediaUrl": out.media_url,
                        "CoverUrl": out.cover_url,
                        "ProcedureTaskId": out.procedure_task_id,
                        "ApplyRequestId": out.apply_request_id,
                        "CommitRequestId": out.commit_request_id,
                        "Bytes": out.bytes_sent,
                        "Seconds": out.elapsed.as_secs_f64(),
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{}\t{}\t{}",
                        path.display(),
                        out.file_id,
                        out.media_url.as_deref().unwrap_or("-")
                    );
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("error: {}: {e}", path.display());
            }
        }
    }
    if failures > 0 {
        eprintln!("{failures} of {} file(s) failed", files.len());
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
