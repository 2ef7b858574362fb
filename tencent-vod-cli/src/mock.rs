//! `tvod mock`: the signature-checking mock VOD + COS server, standalone.
//!
//! ```sh
//! tvod mock > mock.env &      # export lines (or `--json` for one JSON line), then serves until Ctrl-C
//! . ./mock.env && tvod upload movie.mp4
//! ```

use std::process::ExitCode;
use tencent_vod_mock::standalone::{self, MockArgs};

/// Run a local signature-checking mock of VOD (API 3.0) + COS.
///
/// Prints `export` lines (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION,
/// TENCENTCLOUD_VOD_ENDPOINT, TENCENTCLOUD_COS_ENDPOINT) for `eval`, or one JSON line with --json, then serves
/// until Ctrl-C. Fault rules (--fault, repeatable): TARGET[:SELECTOR...]:FAULT, e.g. UploadPart:nth=2:status=503,
/// ApplyUpload:every=3:vod-error=InternalError, AnyCos:p=0.1:drop, UploadPart:delay=500ms, AnyVod:throttle,
/// UploadPart:wrong-crc, UploadPart:nth=3:expire-credentials.
#[derive(clap::Args, Debug)]
#[command(after_help = crate::ENV_HELP)]
pub struct Args {
    #[command(flatten)]
    mock: MockArgs,
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> ExitCode {
    match standalone::run(&args.mock).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
