//! A signature server for web and mobile uploaders: `GET /upload-signature` answers a client-upload signature
//! (客户端上传签名) that the client passes to Tencent's upload SDK (`ApplyUploadUGC`).
//!
//! ```text
//! TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... \
//!     cargo run --example upload_signature_server -- --listen 127.0.0.1:8080 --procedure LongVideoPreset
//! curl 'http://127.0.0.1:8080/upload-signature?context=course-42'
//! # {"signature":"…","expireTime":1700003600}
//! ```
//!
//! Copy the handler into your app: authenticate the caller first (here: any caller), decide what the upload
//! may do (procedure, category, application, one-time validity), and sign for a short time. The SecretKey stays
//! on the server; only the signature leaves it. Credentials come from the environment or
//! `~/.tencentcloud/credentials`; without any, throw-away demo credentials are used (`--demo`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tencent_vod::Credential;
use tencent_vod::appserver::UploadSignature;
use tencent_vod::credential::DefaultCredentialChain;

/// Command line: `--listen ADDR` (default 127.0.0.1:8080), `--expire-in SECS` (default 600, at most 7776000 =
/// 90 days), `--procedure NAME`, `--sub-app-id ID`, `--one-time` (each signature good for one upload),
/// `--demo` (throw-away demo credentials; VOD will refuse the signatures).
#[derive(Debug)]
struct Args {
    listen: std::net::SocketAddr,
    expire_in: u64,
    procedure: Option<String>,
    sub_app_id: Option<u64>,
    one_time: bool,
    demo: bool,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            listen: ([127, 0, 0, 1], 8080).into(),
            expire_in: 600,
            procedure: None,
            sub_app_id: None,
            one_time: false,
            demo: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = |what: &str| it.next().ok_or(format!("{flag} needs {what}"));
            match flag.as_str() {
                "--listen" => {
                    args.listen = value("an address")?
                        .parse()
                        .map_err(|e| format!("--listen: {e}"))?
                }
                "--expire-in" => {
                    args.expire_in = value("seconds")?
                        .parse()
                        .map_err(|e| format!("--expire-in: {e}"))?
                }
                "--procedure" => args.procedure = Some(value("a name")?),
                "--sub-app-id" => {
                    args.sub_app_id = Some(
                        value("an id")?
                            .parse()
                            .map_err(|e| format!("--sub-app-id: {e}"))?,
                    )
                }
                "--one-time" => args.one_time = true,
                "--demo" => args.demo = true,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(args)
    }
}

struct AppState {
    credential: Credential,
    args: Args,
}

#[derive(Deserialize)]
struct SignatureQuery {
    /// Echoed in the upload-complete event (`sourceContext`, ≤ 250 characters): e.g. your user or course id.
    context: Option<String>,
}

/// `GET /upload-signature[?context=…]` → `{"signature": "...", "expireTime": unix}`.
async fn upload_signature(
    State(st): State<Arc<AppState>>,
    Query(q): Query<SignatureQuery>,
) -> Result<([(header::HeaderName, &'static str); 1], String), (StatusCode, String)> {
    // Authenticate and authorize the caller here before signing anything.
    let mut b = UploadSignature::builder()
        .with_expire_in(Duration::from_secs(st.args.expire_in))
        .with_one_time_valid(st.args.one_time);
    if let Some(p) = &st.args.procedure {
        b = b.with_procedure(p);
    }
    if let Some(id) = st.args.sub_app_id {
        b = b.with_vod_sub_app_id(id);
    }
    if let Some(c) = q.context {
        b = b.with_source_context(c);
    }
    match b.sign(&st.credential, SystemTime::now()) {
        Ok(sig) => Ok((
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "signature": sig.signature(),
                "expireTime": sig.params().expire_time,
            })
            .to_string(),
        )),
        // Bad input from the caller (e.g. a context over 250 characters): say which field.
        Err(e) => Err((StatusCode::BAD_REQUEST, e.to_string())),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse()?;
    let credential = if args.demo {
        Credential::new("AKIDdemo0000000000000000000000000000", "demo-secret-key")
    } else {
        DefaultCredentialChain::new().load()?
    };
    let listen = args.listen;
    let app = Router::new()
        .route("/upload-signature", get(upload_signature))
        .with_state(Arc::new(AppState { credential, args }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!(
        "serving GET http://{}/upload-signature",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
