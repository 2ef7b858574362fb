//! Reliable-callback consumer: pulls VOD event notifications, prints each upload's FileId and ProcedureTaskId
//! (and task-flow state changes), and confirms them.
//!
//! ```text
//! TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... TENCENTCLOUD_REGION=ap-guangzhou \
//!     cargo run --example events -- [--once] [--sub-app-id 1500000001] [--vod-endpoint http://127.0.0.1:8080]
//! ```
//!
//! Credentials, region, endpoints and the default SubAppId come from the environment (`VodClient::from_env`).
//! Events are confirmed only after they were printed; stop with Ctrl-C.

use clap::Parser;
use tencent_vod::events::{Event, EventContent, EventPoller};
use tencent_vod::{VodClient, VodClientBuilder};

#[derive(Parser, Debug)]
#[command(about = "Pull, print and confirm Tencent Cloud VOD event notifications")]
struct Args {
    /// VOD API endpoint (default: TENCENTCLOUD_VOD_ENDPOINT or https://vod.tencentcloudapi.com).
    #[arg(long)]
    vod_endpoint: Option<String>,
    /// VOD application id (default: TENCENTCLOUD_VOD_SUB_APP_ID).
    #[arg(long)]
    sub_app_id: Option<u64>,
    /// Pull (and confirm) once, then exit.
    #[arg(long)]
    once: bool,
}

fn client(args: &Args) -> tencent_vod::Result<VodClient> {
    // TODO(mock): when no credentials are set in the environment, start the embedded mock server
    // (`tencent_vod::mock`, feature "mock") and point the client at it, once the mock implements
    // PullEvents / ConfirmEvents. Until then this example needs real credentials (or --vod-endpoint pointing
    // at a server that answers those actions).
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
    match ev.event() {
        Event::NewFileUpload(u) => println!(
            "[{handle}] NewFileUpload FileId={} ProcedureTaskId={}",
            u.file_id.as_deref().unwrap_or("?"),
            u.procedure_task_id
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("(none)"),
        ),
        Event::ProcedureStateChanged(p) => println!(
            "[{handle}] ProcedureStateChanged TaskId={} Status={} FileId={}",
            p.task_id.as_deref().unwrap_or("?"),
            p.status.as_deref().unwrap_or("?"),
            p.file_id.as_deref().unwrap_or("?"),
        ),
        Event::Other { event_type, .. } => println!(
            "[{handle}] {event_type} FileId={}",
            ev.file_id().unwrap_or("-")
        ),
        _ => println!("[{handle}] {}", ev.event_type()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
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
