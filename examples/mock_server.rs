//! Runs the mock VOD + COS server standalone.
//!
//! ```text
//! cargo run --example mock_server -- --port 9000 --cos-port 9001 \
//!     --secret-id AKIDmock --secret-key mock-secret --fault 'UploadPart:nth=2:status=503'
//! ```
//!
//! Prints one JSON line on stdout — `{"vod_endpoint":…,"cos_endpoint":…,"secret_id":…,"secret_key":…,
//! "credentials":[…],"region":…,"app_id":…,"data_dir":…}` — then serves until Ctrl-C. These are the mock's own
//! throw-away credentials, printed on purpose so scripts can use them.
//!
//! Faults (`--fault`, repeatable): `TARGET[:SELECTOR...]:FAULT`, e.g. `UploadPart:nth=2:status=503`,
//! `ApplyUpload:every=3:vod-error=InternalError`, `AnyCos:p=0.1:drop`, `PutObject:times=2:cos-error=400/RequestTimeOut`,
//! `CompleteMultipartUpload:complete-error-body`, `UploadPart:delay=500ms`, `AnyVod:throttle`, `UploadPart:wrong-crc`,
//! `UploadPart:nth=3:expire-credentials`. See `tencent_vod::mock::FaultRule`.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;
use tencent_vod::Credential;
use tencent_vod::mock::{FaultRule, MockServer};

#[derive(Parser, Debug)]
#[command(about = "Mock Tencent Cloud VOD + COS server (signature-checking)")]
struct Args {
    /// VOD API port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// COS port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    cos_port: u16,
    /// IP to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Accepted SecretId (repeatable; pairs with --secret-key in order).
    #[arg(long)]
    secret_id: Vec<String>,
    /// SecretKey for each --secret-id.
    #[arg(long)]
    secret_key: Vec<String>,
    /// Store objects here (kept) instead of a temp dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Bench mode: bodies are CRC-64'd and discarded.
    #[arg(long)]
    bench: bool,
    /// Default region.
    #[arg(long, default_value = "ap-guangzhou")]
    region: String,
    /// APPID (bucket suffix).
    #[arg(long, default_value_t = 1250000000)]
    app_id: u64,
    /// Seed for fault probabilities and ids.
    #[arg(long)]
    seed: Option<u64>,
    /// Minimum non-last part size at CompleteMultipartUpload, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    min_part_size: u64,
    /// Lifetime of temporary credentials, seconds.
    #[arg(long, default_value_t = 3600)]
    temp_ttl: u64,
    /// A fault rule (repeatable), e.g. 'UploadPart:nth=2:status=503'.
    #[arg(long)]
    fault: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.secret_id.len() != args.secret_key.len() {
        return Err("give one --secret-key per --secret-id".into());
    }
    let mut b = MockServer::builder()
        .with_ip(args.bind)
        .with_vod_port(args.port)
        .with_cos_port(args.cos_port)
        .with_region(&args.region)
        .with_app_id(args.app_id)
        .with_bench_mode(args.bench)
        .with_min_part_size(args.min_part_size)
        .with_temp_credential_ttl(Duration::from_secs(args.temp_ttl));
    for (id, key) in args.secret_id.iter().zip(&args.secret_key) {
        b = b.with_credential(Credential::new(id, key));
    }
    if let Some(d) = &args.data_dir {
        b = b.with_data_dir(d);
    }
    if let Some(s) = args.seed {
        b = b.with_seed(s);
    }
    for f in &args.fault {
        b = b.with_fault(f.parse::<FaultRule>()?);
    }
    let server = b.start().await?;
    let creds: Vec<_> = server
        .credentials()
        .iter()
        .map(|c| serde_json::json!({"secret_id": c.secret_id(), "secret_key": c.secret_key()}))
        .collect();
    let line = serde_json::json!({
        "vod_endpoint": server.vod_endpoint(),
        "cos_endpoint": server.cos_endpoint(),
        "secret_id": server.credential().secret_id(),
        "secret_key": server.credential().secret_key(),
        "credentials": creds,
        "region": server.region(),
        "app_id": server.app_id(),
        "data_dir": server.data_dir(),
        "bench": args.bench,
    });
    println!("{line}");
    wait_for_signal().await?;
    eprintln!("shutting down; stats: {:?}", server.stats());
    server.shutdown().await;
    Ok(())
}

/// Ctrl-C (or SIGTERM on Unix).
async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
