//! The mock VOD + COS server as a process (`cargo run -p tencent-vod-mock --features standalone -- --help`;
//! `tvod mock` from `tencent-vod-cli` is the same thing).

use clap::Parser;
use std::process::ExitCode;

/// Signature-checking mock Tencent Cloud VOD (API 3.0) + COS server on loopback.
///
/// Prints `export` lines for the SDK's environment variables (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY,
/// TENCENTCLOUD_REGION, TENCENTCLOUD_VOD_ENDPOINT, TENCENTCLOUD_COS_ENDPOINT), or one JSON line with --json,
/// then serves until Ctrl-C.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    args: tencent_vod_mock::standalone::MockArgs,
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
    let cli = Cli::parse();
    match tencent_vod_mock::standalone::run(&cli.args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
