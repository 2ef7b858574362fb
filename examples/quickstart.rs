//! Quick start: upload a video and its cover to VOD.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//! With no credentials in the environment it starts the embedded mock VOD + COS server on loopback, writes a
//! small sample video and cover to a temporary directory, and uploads them with a procedure.
//!
//! With `TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY` and `TENCENTCLOUD_REGION` set (the region is required
//! by ApplyUpload and CommitUpload; optionally `TENCENTCLOUD_VOD_SUB_APP_ID`) it uploads to real VOD:
//!
//! ```sh
//! cargo run --example quickstart -- /path/to/video.mp4 [/path/to/cover.jpg] [procedure-name]
//! ```

use std::process::ExitCode;
use std::time::Duration;
use tencent_vod::{ProgressEvent, UploadRequest, VodClient, WaitOptions};
use tencent_vod_mock::MockServer;

/// A 1×1 PNG, the smallest valid cover.
const COVER_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Writes a sample "video": an MP4 `ftyp` box followed by generated payload, 12 MiB so that the upload uses
/// multipart (the default threshold is 8 MiB).
fn sample_video(path: &std::path::Path) -> std::io::Result<()> {
    let mut data = Vec::with_capacity(12 << 20);
    data.extend_from_slice(&[0, 0, 0, 0x18]);
    data.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    let mut x: u32 = 0x1234_5678;
    while data.len() < 12 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, data)
}

async fn run() -> tencent_vod::Result<()> {
    let real = std::env::var_os("TENCENTCLOUD_SECRET_ID").is_some()
        && std::env::var_os("TENCENTCLOUD_SECRET_KEY").is_some();
    let args: Vec<String> = std::env::args().skip(1).collect();

    // Keep the mock and the temp dir alive for the whole upload.
    let mut _mock = None;
    let mut _dir = None;
    let (client, video, cover, procedure) = if real {
        let Some(video) = args.first() else {
            return Err(tencent_vod::Error::invalid(
                "arguments",
                "with credentials in the environment, pass the video path: quickstart VIDEO [COVER] [PROCEDURE]",
            ));
        };
        let client = VodClient::from_env()?;
        (
            client,
            std::path::PathBuf::from(video),
            args.get(1).map(std::path::PathBuf::from),
            args.get(2).cloned(),
        )
    } else {
        eprintln!(
            "No TENCENTCLOUD_SECRET_ID/KEY in the environment: uploading to the embedded mock VOD + COS."
        );
        let mock = MockServer::start().await?;
        let dir =
            tempfile::tempdir().map_err(|e| tencent_vod::Error::io("tempdir", "create", e))?;
        let video = dir.path().join("sample video.mp4");
        let cover = dir.path().join("sample cover.png");
        sample_video(&video).map_err(|e| tencent_vod::Error::io(&video, "write", e))?;
        std::fs::write(&cover, COVER_PNG)
            .map_err(|e| tencent_vod::Error::io(&cover, "write", e))?;
        let client = mock.client_builder().build()?;
        _mock = Some(mock);
        _dir = Some(dir);
        (
            client,
            video,
            Some(cover),
            Some("QuickstartPreset".to_string()),
        )
    };

    let mut request = UploadRequest::from_path(&video).with_progress(|p| {
        if let (ProgressEvent::PartDone { .. } | ProgressEvent::ObjectDone, Some(total)) =
            (&p.event, p.total)
        {
            eprint!(
                "\r  uploaded {:>6.1}%",
                100.0 * p.bytes_sent as f64 / total.max(1) as f64
            );
        }
    });
    if let Some(c) = cover {
        request = request.with_cover_path(c);
    }
    if let Some(p) = procedure {
        // Ask for the procedure task id too (DescribeTasks by FileId after CommitUpload).
        request = request.with_procedure(p).with_resolve_procedure_task(
            WaitOptions::new(Duration::from_secs(20))
                .with_intervals(Duration::from_millis(200), Duration::from_secs(2)),
        );
    }
    let out = client.upload(request).await?;
    eprintln!();
    println!("FileId:            {}", out.file_id);
    println!(
        "MediaUrl:          {}",
        out.media_url.as_deref().unwrap_or("-")
    );
    println!(
        "CoverUrl:          {}",
        out.cover_url.as_deref().unwrap_or("-")
    );
    println!(
        "ProcedureTaskId:   {}",
        out.procedure_task_id.as_deref().unwrap_or("-")
    );
    println!("ApplyUpload id:    {}", out.apply_request_id);
    println!("CommitUpload id:   {}", out.commit_request_id);
    println!("Bucket / region:   {} / {}", out.bucket, out.region);
    println!("Media key:         {}", out.media_key);
    println!(
        "Sent:              {} bytes in {:.2?} ({:.1} MB/s)",
        out.bytes_sent,
        out.elapsed,
        out.bytes_sent as f64 / out.elapsed.as_secs_f64().max(1e-9) / 1e6
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
