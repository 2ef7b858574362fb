//! `tvod`: the operator CLI for Tencent Cloud VOD.
//!
//! One module per subcommand; each defines its `clap::Args` (or a `clap::Subcommand` of its own) and an async
//! `run` returning the exit code (see `common::EXIT_HELP`). To add a subcommand: a module, a variant of
//! [`Command`] and one line in `main`'s dispatch.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod common;
mod events;
mod ingest;
mod mock;
mod output;
mod pull;
mod sign_upload;
mod sources;
mod task;
mod upload;

/// The environment variables every subcommand that talks to VOD reads (shown at the end of `--help`).
const ENV_HELP: &str = "\
Environment:
  TENCENTCLOUD_SECRET_ID       API SecretId (else the profile file ~/.tencentcloud/credentials)
  TENCENTCLOUD_SECRET_KEY      API SecretKey
  TENCENTCLOUD_SESSION_TOKEN   token of temporary credentials (optional)
  TENCENTCLOUD_PROFILE         profile in ~/.tencentcloud/credentials (default: default)
  TENCENTCLOUD_REGION          API region, X-TC-Region (e.g. ap-guangzhou); required for uploads
  TENCENTCLOUD_VOD_ENDPOINT    VOD API endpoint (default https://vod.tencentcloudapi.com)
  TENCENTCLOUD_COS_ENDPOINT    COS endpoint override (base URL, or a template with {bucket})
  TENCENTCLOUD_VOD_SUB_APP_ID  default SubAppId
  RUST_LOG                     log filter for diagnostics on stderr (default: warn)

`tvod mock > mock.env &` then `. ./mock.env` points them at a local mock server.";

/// Upload media to Tencent Cloud VOD, or run a local signature-checking mock of VOD + COS.
#[derive(Parser, Debug)]
#[command(name = "tvod", version, after_help = format!("{}\n\n{ENV_HELP}", common::EXIT_HELP))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing buys nothing"
)]
enum Command {
    Upload(upload::Args),
    Ingest(ingest::Args),
    /// VOD tasks (e.g. the Procedure an upload started): show one, or wait for it to finish.
    #[command(subcommand)]
    Task(task::Command),
    /// VOD's event queue (reliable callback): pull events, confirm them.
    #[command(subcommand)]
    Events(events::Command),
    Mock(mock::Args),
    SignUpload(sign_upload::Args),
    Pull(pull::Args),
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
    match Cli::parse().command {
        Command::Upload(args) => upload::run(args).await,
        Command::Ingest(args) => ingest::run(args).await,
        Command::Task(cmd) => task::run(cmd).await,
        Command::Events(cmd) => events::run(cmd).await,
        Command::Mock(args) => mock::run(args).await,
        Command::SignUpload(args) => sign_upload::run(args).await,
        Command::Pull(args) => pull::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
