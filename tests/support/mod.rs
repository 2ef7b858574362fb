//! Test support shared by the SDK's integration tests (each test file declares `mod support;`).
//!
//! Here: deterministic data, files, hashes, quick retries and a client wired to a fresh mock server. In
//! submodules: raw hand-signed VOD/COS clients for testing the mock itself ([`raw`]), helpers for the COS
//! transfer engine tests ([`cos`]), a scripted loopback VOD server that verifies signatures
//! ([`loopback_vod`]), and a loopback port that refuses connections while a test holds it ([`closed_port`]).
#![allow(dead_code)]

pub mod app;
pub mod capture;
pub mod closed_port;
pub mod cos;
pub mod loopback_vod;
pub mod proxy;
pub mod raw;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tencent_vod::{RetryConfig, TransferConfig, VodClient};
use tencent_vod_mock::MockServer;

pub const MIB: u64 = 1 << 20;

/// `len` deterministic pseudo-random bytes (the same `seed` gives the same bytes).
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Lower-hex SHA-256, as the mock reports stored objects.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Writes `bytes` to `dir/name` (creating parent directories) and returns the path.
/// Asserts that the media object an upload reported holds exactly `bytes`.
pub fn assert_media_stored(server: &MockServer, out: &tencent_vod::UploadOutcome, bytes: &[u8]) {
    let stored = server
        .object(&out.bucket, &out.media_key)
        .unwrap_or_else(|| panic!("no object {} in {}", out.media_key, out.bucket));
    assert_eq!(
        stored.sha256,
        sha256_hex(bytes),
        "media object {}",
        out.media_key
    );
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Polls `condition` every 10 ms until it holds (instead of sleeping a fixed time and hoping); panics naming
/// `what` once `timeout` has passed.
pub async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Retries that keep tests quick: `max_retries` after the first attempt, full-jitter backoff 5 ms … 50 ms.
pub fn retry(max_retries: u32) -> RetryConfig {
    RetryConfig::default()
        .with_max_retries(max_retries)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50))
}

/// Transfer settings with `part`-byte parts and multipart threshold (the mock must accept parts that small).
pub fn parts_of(part: u64) -> TransferConfig {
    TransferConfig::default()
        .with_part_size(part)
        .with_multipart_threshold(part)
}

/// A mock server accepting 64 KiB parts, a client on it with 1 MiB parts and threshold (default concurrency),
/// and a temporary directory for source files.
pub async fn setup() -> (MockServer, VodClient, tempfile::TempDir) {
    setup_with(None).await
}

/// [`setup`] with `concurrency` parts in flight.
pub async fn setup_with_concurrency(
    concurrency: usize,
) -> (MockServer, VodClient, tempfile::TempDir) {
    setup_with(Some(concurrency)).await
}

async fn setup_with(concurrency: Option<usize>) -> (MockServer, VodClient, tempfile::TempDir) {
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .start()
        .await
        .unwrap();
    let mut transfer = parts_of(MIB);
    if let Some(n) = concurrency {
        transfer = transfer.with_concurrency(n);
    }
    let client = server
        .client_builder()
        .with_transfer_config(transfer)
        .build()
        .unwrap();
    (server, client, tempfile::tempdir().unwrap())
}

/// A client clock whose local time is the host's shifted by `offset_secs` (positive: ahead), plus a handle that
/// moves it further (seconds) — a skewed host whose time the test can advance without sleeping.
pub fn shifted_clock(
    offset_secs: i64,
) -> (
    tencent_vod::Clock,
    std::sync::Arc<std::sync::atomic::AtomicI64>,
) {
    let shift = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(offset_secs));
    let s = shift.clone();
    let clock = tencent_vod::Clock::with_time_source(move || {
        let off = s.load(std::sync::atomic::Ordering::SeqCst);
        let d = Duration::from_secs(off.unsigned_abs());
        if off >= 0 {
            SystemTime::now() + d
        } else {
            SystemTime::now() - d
        }
    });
    (clock, shift)
}
