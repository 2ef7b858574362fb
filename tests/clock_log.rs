//! The learned clock offset is logged at info, once. A test binary of its own: `tracing` caches per call site
//! whether anyone listens, so a thread-local log capture is only reliable when no other test runs alongside.

mod support;

use support::*;

use tencent_vod::Clock;
use tencent_vod::UploadRequest;
use tencent_vod_mock::MockServer;

const SINGLE: usize = 100 * 1024 + 1;
/// Fifteen minutes.
const SKEW: i64 = 15 * 60;

/// The offset is logged at info once when learned, and the clock is shared: the VodClient's COS clients use
/// what ApplyUpload taught it.
#[tokio::test]
async fn learned_offset_is_logged_once_and_shared() {
    let log = support::capture::LogCapture::start(tracing::Level::INFO);
    let server = MockServer::builder()
        .with_clock_offset(-SKEW)
        .start()
        .await
        .unwrap();
    let client = server
        .client_builder()
        .with_clock(Clock::system())
        .with_retry(retry(3))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    client
        .upload(UploadRequest::from_path(write(
            dir.path(),
            "m.mp4",
            &data(SINGLE, 7),
        )))
        .await
        .expect("upload");
    assert!((client.clock().offset() + SKEW).abs() <= 2);
    let lines = log.lines_with(&["clock differs from the server"]);
    assert_eq!(lines.len(), 1, "{}", log.text());
    assert!(lines[0].contains("INFO"), "{}", lines[0]);
    let refused = server.rejections();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].code, "AuthFailure.SignatureExpire");
    assert_eq!(
        log.lines_with(&["refused for clock skew"]).len(),
        1,
        "{}",
        log.text()
    );
}
