//! An event-callback receiver (普通回调) that only trusts signed notifications: VOD POSTs each event to
//! `POST /vod/callback`; with a callback key set (`ModifyEventConfig.SignKey`) every body carries `Sign` =
//! MD5(key + `T`) and the expiry `T`, checked here by `CallbackVerifier`.
//!
//! ```text
//! # against the embedded mock: configures it (ModifyEventConfig), uploads once, prints the verified events
//! cargo run --example callback_receiver -- --demo
//!
//! # as your receiver (VOD must reach the URL; serve it behind HTTPS):
//! VOD_CALLBACK_KEY=YourKey123 cargo run --example callback_receiver -- --listen 0.0.0.0:8081
//! ```
//!
//! Answer 2xx only once the event is stored (VOD retries otherwise); refuse what does not verify with 401. Note
//! that VOD's signature covers the key and `T`, not the body: it proves the sender knows the key and bounds
//! replays, so keep the URL on HTTPS.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tencent_vod::events::{CallbackVerifier, Event, EventMode, ModifyEventConfigRequest};
use tencent_vod::{Error, UploadRequest};
use tencent_vod_mock::MockServer;
use tokio::sync::mpsc;

/// Command line: `--listen ADDR` (default 127.0.0.1:8081); `--demo` runs against the embedded mock: configure it,
/// upload a file, print the verified events, exit.
#[derive(Debug)]
struct Args {
    listen: std::net::SocketAddr,
    demo: bool,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            listen: ([127, 0, 0, 1], 8081).into(),
            demo: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--listen" => {
                    let v = it.next().ok_or("--listen needs an address")?;
                    args.listen = v.parse().map_err(|e| format!("--listen: {e}"))?;
                }
                "--demo" => args.demo = true,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(args)
    }
}

struct AppState {
    verifier: CallbackVerifier,
    events: mpsc::UnboundedSender<String>,
}

async fn callback(State(st): State<Arc<AppState>>, body: Bytes) -> StatusCode {
    match st.verifier.verify(&body, SystemTime::now()) {
        Ok(cb) => {
            let line = match cb.event() {
                Event::NewFileUpload(u) => format!(
                    "NewFileUpload FileId={} ProcedureTaskId={}",
                    u.file_id.unwrap_or_default(),
                    u.procedure_task_id.unwrap_or_default()
                ),
                Event::ProcedureStateChanged(p) => format!(
                    "ProcedureStateChanged TaskId={} Status={}",
                    p.task_id.unwrap_or_default(),
                    p.status.unwrap_or_default()
                ),
                Event::PullComplete(t) => format!(
                    "PullComplete TaskId={} ErrCode={} FileId={}",
                    t.task_id.unwrap_or_default(),
                    t.err_code.unwrap_or_default(),
                    t.file_id.unwrap_or_default()
                ),
                Event::FileDeleted(d) => {
                    format!("FileDeleted {:?}", d.file_id_set.unwrap_or_default())
                }
                other => format!("{other:?}"),
            };
            // Store the event (here: hand it to the printer) before answering 200.
            let _ = st
                .events
                .send(format!("verified={} {line}", cb.is_authenticated()));
            StatusCode::OK
        }
        Err(Error::CallbackRejected(why)) => {
            tracing::warn!(%why, "callback refused");
            StatusCode::UNAUTHORIZED
        }
        Err(e) => {
            tracing::warn!(error = %e, "not a callback body");
            StatusCode::BAD_REQUEST
        }
    }
}

async fn serve(
    listen: std::net::SocketAddr,
    verifier: CallbackVerifier,
) -> std::io::Result<(String, mpsc::UnboundedReceiver<String>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/vod/callback", post(callback))
        .with_state(Arc::new(AppState {
            verifier,
            events: tx,
        }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let url = format!("http://{}/vod/callback", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "receiver stopped");
        }
    });
    Ok((url, rx))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse()?;
    if !args.demo {
        // No key configured: callbacks are accepted but reported as unauthenticated.
        let key = std::env::var("VOD_CALLBACK_KEY").ok();
        let verifier = CallbackVerifier::from_optional_key(key.as_deref())?;
        let (url, mut rx) = serve(args.listen, verifier).await?;
        eprintln!("receiving callbacks at {url}");
        while let Some(line) = rx.recv().await {
            println!("{line}");
        }
        return Ok(());
    }

    // Demo: the mock plays VOD.
    let key = "DemoCallbackKey1";
    let (url, mut rx) = serve(args.listen, CallbackVerifier::new(key)?).await?;
    let server = MockServer::builder()
        .with_task_durations(Duration::from_millis(200), Duration::from_millis(300))
        .start()
        .await?;
    let client = server.client_builder().build()?;
    // What an app does once at setup: normal callbacks to our URL, signed with our key.
    client
        .api()
        .modify_event_config(
            &ModifyEventConfigRequest::new()
                .with_mode(EventMode::Push)
                .with_notification_url(&url)
                .with_upload_media_complete_events(true)
                .with_sign_key(key),
        )
        .await?;
    let up = client
        .upload(
            UploadRequest::from_bytes(vec![0u8; 64 * 1024], "mp4")
                .with_procedure("LongVideoPreset"),
        )
        .await?;
    eprintln!("uploaded FileId {}; waiting for its two events", up.file_id);
    for _ in 0..2 {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(line)) => println!("{line}"),
            _ => return Err("no callback within 30 s".into()),
        }
    }
    Ok(())
}
