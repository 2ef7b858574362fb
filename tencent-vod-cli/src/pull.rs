//! `tvod pull`: ask VOD to fetch media from a URL itself (`PullUpload`, 拉取上传), optionally waiting for the result.
//!
//! ```sh
//! tvod pull https://media.example.com/ep1.mp4                      # prints the task id
//! tvod pull --wait --procedure LongVideoPreset https://media.example.com/ep1.mp4
//! tvod pull --wait --json --media-name "Episode 1" https://media.example.com/ep1.mp4
//! ```
//! Credentials, region and endpoints come from the environment or the profile file, as for every subcommand.
//!
//! Output: the task id alone on the first line of stdout (printed as soon as VOD answers). With `--wait`, then
//! `FileId`, `MediaUrl`, and when present `CoverUrl` and `ProcedureTaskId`, one `NAME<TAB>value` line each. With
//! `--json`: one JSON object at the end instead (`TaskId`, `RequestId`; with `--wait` the outcome, or `ErrCode` /
//! `Message` of a failed pull).
//!
//! Exit status: 0 success; 1 the pull failed (the task's `ErrCode` and message on stderr) or VOD could not be
//! reached or refused the call; 2 invalid arguments or credentials (nothing sent); 3 `--wait` gave up after
//! `--timeout` (the task may still finish: its id was printed).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tencent_vod::appserver::{PullUploadOutcome, PullUploadRequest};
use tencent_vod::error::{PullErrorKind, PullFailure};
use tencent_vod::{Error, SignMethod, VodClient, VodClientBuilder, WaitOptions};

/// Ask VOD to fetch media from a URL itself (PullUpload) and print the task id; with --wait, the FileId and URLs.
///
/// Exit status: 0 success; 1 the pull failed (ErrCode and message on stderr) or the call failed; 2 invalid
/// arguments or credentials; 3 --wait timed out (the task id was printed; the task may still finish).
#[derive(clap::Args, Debug)]
#[command(after_help = crate::ENV_HELP)]
pub struct Args {
    /// MediaUrl: http(s) URL of the media VOD fetches (HLS m3u8 supported, DASH not).
    url: String,
    /// Wait for the pull task to finish, then print the FileId and URLs.
    #[arg(long)]
    wait: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// MediaName (default: VOD names it after the URL).
    #[arg(long)]
    media_name: Option<String>,
    /// MediaType (default: the extension of the URL's path).
    #[arg(long)]
    media_type: Option<String>,
    /// CoverUrl: http(s) URL of a cover image (gif, jpeg, jpg, png).
    #[arg(long)]
    cover_url: Option<String>,
    /// Procedure (task flow) to run after the pull.
    #[arg(long)]
    procedure: Option<String>,
    /// ExpireTime of the media, ISO 8601 (e.g. 2030-01-01T00:00:00Z).
    #[arg(long)]
    expire_time: Option<String>,
    /// StorageRegion, e.g. ap-chongqing.
    #[arg(long)]
    storage_region: Option<String>,
    /// ClassId.
    #[arg(long)]
    class_id: Option<u64>,
    /// TasksPriority, -10..=10.
    #[arg(long, allow_hyphen_values = true)]
    tasks_priority: Option<i32>,
    /// SessionContext (≤ 1000 chars), echoed in the PullComplete and task-flow events.
    #[arg(long)]
    session_context: Option<String>,
    /// SessionId (≤ 50 chars): VOD refuses a repeat within three days.
    #[arg(long)]
    session_id: Option<String>,
    /// SourceContext (≤ 250 chars), echoed in the upload-complete event.
    #[arg(long)]
    source_context: Option<String>,
    /// ExtInfo (reserved).
    #[arg(long)]
    ext_info: Option<String>,
    /// MediaStoragePath, starting with / ("FileID + Path" applications only).
    #[arg(long)]
    media_storage_path: Option<String>,
    /// SubAppId.
    #[arg(long, env = "TENCENTCLOUD_VOD_SUB_APP_ID")]
    sub_app_id: Option<u64>,
    /// With --wait: give up after this long (seconds, or 30m, 2h…; exit status 3).
    #[arg(long, default_value = "1h", value_parser = crate::sign_upload::parse_whole_secs)]
    timeout: Duration,
    /// With --wait: the longest pause between two polls of DescribeTaskDetail (e.g. 15s, 500ms).
    #[arg(long, default_value = "15s", value_parser = parse_interval)]
    poll_interval: Duration,
    /// API region (X-TC-Region).
    #[arg(long, env = "TENCENTCLOUD_REGION")]
    region: Option<String>,
    /// VOD endpoint override.
    #[arg(long)]
    vod_endpoint: Option<String>,
    /// Signature method for VOD API calls.
    #[arg(long, default_value = "tc3", value_parser = ["tc3", "hmac-sha1", "hmac-sha256"])]
    sign_method: String,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = crate::sign_upload::parse_duration(s, true)?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// The request the flags describe.
fn request(args: &Args) -> PullUploadRequest {
    let mut r = PullUploadRequest::new(&args.url);
    if let Some(v) = &args.media_name {
        r = r.with_media_name(v);
    }
    if let Some(v) = &args.media_type {
        r = r.with_media_type(v);
    }
    if let Some(v) = &args.cover_url {
        r = r.with_cover_url(v);
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
    if let Some(v) = args.tasks_priority {
        r = r.with_tasks_priority(v);
    }
    if let Some(v) = &args.session_context {
        r = r.with_session_context(v);
    }
    if let Some(v) = &args.session_id {
        r = r.with_session_id(v);
    }
    if let Some(v) = &args.source_context {
        r = r.with_source_context(v);
    }
    if let Some(v) = &args.ext_info {
        r = r.with_ext_info(v);
    }
    if let Some(v) = &args.media_storage_path {
        r = r.with_media_storage_path(v);
    }
    if let Some(v) = args.sub_app_id {
        r = r.with_sub_app_id(v);
    }
    r
}

fn client(args: &Args) -> tencent_vod::Result<VodClient> {
    let mut b =
        VodClientBuilder::from_env()?.with_sign_method(args.sign_method.parse::<SignMethod>()?);
    if let Some(r) = &args.region {
        b = b.with_region(r);
    }
    if let Some(e) = &args.vod_endpoint {
        b = b.with_vod_endpoint(e);
    }
    b.build()
}

/// The flag a `PullUpload` member comes from (for error messages).
fn flag_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "MediaUrl" => "URL",
        "MediaType" => "--media-type",
        "MediaName" => "--media-name",
        "CoverUrl" => "--cover-url",
        "Procedure" => "--procedure",
        "ExpireTime" => "--expire-time",
        "StorageRegion" => "--storage-region",
        "ClassId" => "--class-id",
        "TasksPriority" => "--tasks-priority",
        "SessionContext" => "--session-context",
        "SessionId" => "--session-id",
        "SourceContext" => "--source-context",
        "ExtInfo" => "--ext-info",
        "MediaStoragePath" => "--media-storage-path",
        "SubAppId" => "--sub-app-id",
        _ => return None,
    })
}

/// What a pull failure's `ErrCode` means, in words.
fn kind_words(f: &PullFailure) -> &'static str {
    match f.kind() {
        PullErrorKind::InvalidInput => "invalid input",
        PullErrorKind::SourceFile => {
            "source file error: VOD could not fetch the URL or the file is damaged"
        }
        PullErrorKind::Internal => "VOD internal error: pulling again may succeed",
        _ => "unknown error code",
    }
}

fn kind_name(f: &PullFailure) -> &'static str {
    match f.kind() {
        PullErrorKind::InvalidInput => "InvalidInput",
        PullErrorKind::SourceFile => "SourceFile",
        PullErrorKind::Internal => "Internal",
        _ => "Other",
    }
}

/// Prints the error as one line and picks the exit status (see the [module docs](self)).
fn report(e: &Error) -> ExitCode {
    match e {
        Error::InvalidInput { field, reason } => {
            match flag_of(field) {
                Some(flag) => eprintln!("error: {flag} ({field}): {reason}"),
                None => eprintln!("error: {e}"),
            }
            ExitCode::from(2)
        }
        Error::Credentials(_) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Error::PullFailed(f) => {
            eprintln!("error: {e} [{}]", kind_words(f));
            ExitCode::FAILURE
        }
        Error::DeadlineExceeded(d) => {
            eprintln!(
                "error: the pull task had not finished after {}s (--timeout); it may still finish",
                d.as_secs()
            );
            ExitCode::from(3)
        }
        other => {
            eprintln!("error: {other}");
            ExitCode::FAILURE
        }
    }
}

fn outcome_json(
    task_id: &str,
    request_id: Option<&str>,
    out: &PullUploadOutcome,
    seconds: f64,
) -> serde_json::Value {
    serde_json::json!({
        "TaskId": task_id,
        "RequestId": request_id,
        "Status": "FINISH",
        "ErrCode": 0,
        "FileId": out.file_id,
        "MediaUrl": out.media_url,
        "CoverUrl": out.cover_url,
        "ProcedureTaskId": out.procedure_task_id,
        "Size": out.meta_data.as_ref().and_then(|m| m.size),
        "SessionContext": out.session_context,
        "SessionId": out.session_id,
        "Seconds": seconds,
    })
}

/// Pulls (and waits); see the [module docs](self).
pub async fn run(args: Args) -> ExitCode {
    let req = request(&args);
    // Checked here too (the SDK checks again) so that bad flags never need credentials to be reported.
    if let Err(e) = req.validate() {
        return report(&e);
    }
    let client = match client(&args) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let sub_app_id = req.sub_app_id.or(client.sub_app_id());
    let started = Instant::now();
    let task = match client.pull_upload(req).await {
        Ok(t) => t,
        Err(e) => return report(&e),
    };
    tracing::debug!(task_id = %task.task_id, "pull task created");
    if !args.json {
        println!("{}", task.task_id);
        let _ = std::io::stdout().flush();
    }
    if !args.wait {
        if args.json {
            println!(
                "{}",
                serde_json::json!({"TaskId": task.task_id, "RequestId": task.request_id})
            );
        }
        return ExitCode::SUCCESS;
    }
    if std::io::stderr().is_terminal() {
        eprintln!(
            "waiting for pull task {} (up to {}s)…",
            task.task_id,
            args.timeout.as_secs()
        );
    }
    let opts = WaitOptions::new(args.timeout).with_intervals(
        args.poll_interval.min(Duration::from_secs(1)),
        args.poll_interval,
    );
    let result = client
        .api()
        .wait_for_pull(&task.task_id, sub_app_id, opts)
        .await;
    match result {
        Ok(out) => {
            if args.json {
                let seconds = started.elapsed().as_secs_f64();
                let line = outcome_json(&task.task_id, task.request_id.as_deref(), &out, seconds);
                println!("{line}");
            } else {
                println!("FileId\t{}", out.file_id);
                println!("MediaUrl\t{}", out.media_url.as_deref().unwrap_or("-"));
                if let Some(c) = &out.cover_url {
                    println!("CoverUrl\t{c}");
                }
                if let Some(p) = &out.procedure_task_id {
                    println!("ProcedureTaskId\t{p}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                let line = match &e {
                    Error::PullFailed(f) => serde_json::json!({
                        "TaskId": task.task_id,
                        "RequestId": task.request_id,
                        "ErrCode": f.err_code,
                        "Message": f.message,
                        "ErrorKind": kind_name(f),
                    }),
                    other => serde_json::json!({
                        "TaskId": task.task_id,
                        "RequestId": task.request_id,
                        "Error": other.to_string(),
                    }),
                };
                println!("{line}");
            }
            report(&e)
        }
    }
}
