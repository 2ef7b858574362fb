//! Reliable-callback consumer: pulls VOD event notifications, prints each upload's FileId and ProcedureTaskId
//! (and task-flow state changes), and confirms them.
//!
//! ```text
//! # against the embedded mock server (the default when no credentials are configured):
//! cargo run --example events [-- --once]
//!
//! # against VOD:
//! TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... TENCENTCLOUD_REGION=ap-guangzhou \
//!     cargo run --example events -- [--once] [--sub-app-id 1500000001] [--vod-endpoint http://127.0.0.1:8080]
//! ```
//!
//! With credentials (environment or `~/.tencentcloud/credentials`), region, endpoints and the default SubAppId
//! come from the environment (`VodClient::from_env`) and it polls until Ctrl-C.
//!
//! Without credentials (or with `--mock`) it starts `tencent_vod_mock::MockServer`, uploads two small files
//! through the raw API (ApplyUpload with a `Procedure` → signed COS PUT with the temporary credentials →
//! CommitUpload), then pulls and confirms events until it has seen both uploads' `NewFileUpload` (FileId and
//! ProcedureTaskId) and both tasks' `ProcedureStateChanged` FINISH — or after one pull with `--once`.
//!
//! Events are confirmed only after they were printed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tencent_vod::credential::{EnvCredentialProvider, ProfileCredentialProvider};
use tencent_vod::events::{Event, EventContent, EventPoller};
use tencent_vod::{UploadRequest, VodClient, VodClientBuilder};
use tencent_vod_mock::MockServer;

/// The Procedure the mock uploads name (any name works on the mock).
const PROCEDURE: &str = "LongVideoPreset";
/// Give up on the mock run after this long.
const MOCK_DEADLINE: Duration = Duration::from_secs(20);

const USAGE: &str = "\
Pull, print and confirm Tencent Cloud VOD event notifications

Usage: events [--vod-endpoint URL] [--sub-app-id ID] [--once] [--mock]

  --vod-endpoint URL  VOD API endpoint (default: TENCENTCLOUD_VOD_ENDPOINT or https://vod.tencentcloudapi.com)
  --sub-app-id ID     VOD application id (default: TENCENTCLOUD_VOD_SUB_APP_ID)
  --once              pull (and confirm) once, then exit
  --mock              use the embedded mock server even when credentials are configured";

#[derive(Debug, Default)]
struct Args {
    vod_endpoint: Option<String>,
    sub_app_id: Option<u64>,
    once: bool,
    mock: bool,
}

impl Args {
    /// Parses `--flag`, `--name VALUE` and `--name=VALUE`; `Ok(None)` for `--help`.
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
        let mut args = Args::default();
        while let Some(arg) = argv.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg, None),
            };
            let mut value = |what: &str| {
                inline
                    .clone()
                    .or_else(|| argv.next())
                    .ok_or(format!("{name} needs {what}"))
            };
            match name.as_str() {
                "--vod-endpoint" => args.vod_endpoint = Some(value("a URL")?),
                "--sub-app-id" => {
                    let v = value("a number")?;
                    let id = v
                        .parse()
                        .map_err(|_| format!("--sub-app-id: {v:?} is not a number"))?;
                    args.sub_app_id = Some(id);
                }
                "--once" => args.once = true,
                "--mock" => args.mock = true,
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Some(args))
    }
}

/// Whether credentials are configured (environment or credentials file). A half-set source is an error.
fn have_credentials() -> tencent_vod::Result<bool> {
    Ok(EnvCredentialProvider::new().load()?.is_some()
        || ProfileCredentialProvider::new().load()?.is_some())
}

fn client(args: &Args) -> tencent_vod::Result<VodClient> {
    let mut builder = VodClientBuilder::from_env()?;
    if let Some(e) = &args.vod_endpoint {
        builder = builder.with_vod_endpoint(e);
    }
    if let Some(id) = args.sub_app_id {
        builder = builder.with_sub_app_id(id);
    }
    builder.build()
}

fn print_event(ev: &EventContent) {
    let handle = ev.event_handle.as_deref().unwrap_or("-");
    let handle = &handle[..handle.len().min(12)];
    match ev.event() {
        Event::NewFileUpload(u) => println!(
            "[{handle}…] NewFileUpload FileId={} ProcedureTaskId={}",
            u.file_id.as_deref().unwrap_or("?"),
            u.procedure_task_id
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("(none)"),
        ),
        Event::ProcedureStateChanged(p) => println!(
            "[{handle}…] ProcedureStateChanged TaskId={} Status={} FileId={}",
            p.task_id.as_deref().unwrap_or("?"),
            p.status.as_deref().unwrap_or("?"),
            p.file_id.as_deref().unwrap_or("?"),
        ),
        Event::Other { event_type, .. } => println!(
            "[{handle}…] {event_type} FileId={}",
            ev.file_id().unwrap_or("-")
        ),
        _ => println!("[{handle}…] {}", ev.event_type()),
    }
}

/// Uploads a generated clip with a Procedure through `VodClient::upload`; returns the FileId.
async fn upload(
    client: &VodClient,
    name: &str,
    size: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let out = client
        .upload(
            UploadRequest::from_bytes(body, "mp4")
                .with_media_name(name)
                .with_procedure(PROCEDURE),
        )
        .await?;
    println!("uploaded {name:?} ({size} bytes): FileId={}", out.file_id);
    Ok(out.file_id)
}

async fn run_mock(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder()
        .with_pull_wait(Duration::from_millis(500))
        .start()
        .await?;
    eprintln!(
        "no credentials configured (or --mock): using the embedded mock VOD server at {}",
        server.vod_endpoint()
    );
    let mut builder = server.client_builder();
    if let Some(id) = args.sub_app_id {
        builder = builder.with_sub_app_id(id);
    }
    let client = builder.build()?;
    let mut uploads: BTreeSet<String> = BTreeSet::new();
    for (name, size) in [("first clip", 64 * 1024), ("second clip", 128 * 1024)] {
        uploads.insert(upload(&client, name, size).await?);
    }

    let poller: EventPoller = client.event_poller();
    if args.once {
        let stats = poller
            .poll_once(|ev| {
                print_event(&ev);
                async { true }
            })
            .await?;
        println!("received {}, confirmed {}", stats.received, stats.confirmed);
        server.shutdown().await;
        return Ok(());
    }

    // FileId → ProcedureTaskId from NewFileUpload; task ids seen FINISH.
    let mut task_of: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + MOCK_DEADLINE;
    loop {
        let all_seen = uploads.iter().all(|f| {
            task_of
                .get(f)
                .is_some_and(|t| t.is_empty() || finished.contains(t))
        });
        if all_seen {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("not every event arrived within {MOCK_DEADLINE:?}").into());
        }
        let mut batch = Vec::new();
        poller
            .poll_once(|ev| {
                print_event(&ev);
                batch.push(ev);
                async { true }
            })
            .await?;
        for ev in batch {
            match ev.event() {
                Event::NewFileUpload(u) => {
                    if let Some(f) = u.file_id {
                        task_of.insert(f, u.procedure_task_id.unwrap_or_default());
                    }
                }
                Event::ProcedureStateChanged(p) if p.status.as_deref() == Some("FINISH") => {
                    finished.extend(p.task_id);
                }
                _ => {}
            }
        }
    }
    for (file_id, task) in &task_of {
        println!("FileId={file_id} ProcedureTaskId={task} (finished)");
    }
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(e) => return Err(format!("{e}\n\n{USAGE}").into()),
    };
    if args.mock || (args.vod_endpoint.is_none() && !have_credentials()?) {
        return run_mock(&args).await;
    }
    let client = client(&args)?;
    let poller: EventPoller = client.event_poller();
    let handler = |ev: EventContent| {
        print_event(&ev);
        async { true }
    };
    if args.once {
        let stats = poller.poll_once(handler).await?;
        println!("received {}, confirmed {}", stats.received, stats.confirmed);
    } else {
        eprintln!("polling for events; Ctrl-C to stop");
        poller
            .run(handler, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
    }
    Ok(())
}
