//! Soak: 100 uploads, several at once, against a mock where ~10 % of COS requests and ~20 % of VOD requests fail
//! with retryable faults (seeded, so the fault stream is reproducible up to request interleaving). Every upload must
//! succeed with a byte-identical object, and exactly 100 sessions must be committed.

mod support;

use support::*;

use futures::StreamExt;
use std::collections::HashSet;
use std::time::Duration;
use tencent_vod::{RetryConfig, UploadRequest};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const UPLOADS: usize = 100;
const IN_FLIGHT: usize = 8;

/// Upload `i`: mostly single PUTs of a few KiB..200 KiB, every 7th a 2-part multipart, every 5th with a cover.
fn media_len(i: usize) -> usize {
    if i % 7 == 3 {
        MIB + 1000 + i * 31
    } else {
        4 * KIB + (i * 1999) % (200 * KIB)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_uploads_under_random_faults() {
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .with_seed(0x5eed)
        // ~10 % of COS requests: 503, SlowDown, or a dropped connection.
        .with_fault(
            FaultRule::new(Target::AnyCos)
                .probability(0.04)
                .fault(Fault::Status(503)),
        )
        .with_fault(
            FaultRule::new(Target::AnyCos)
                .probability(0.04)
                .fault(Fault::Throttle),
        )
        .with_fault(
            FaultRule::new(Target::AnyCos)
                .probability(0.02)
                .fault(Fault::DropConnection),
        )
        // ~20 % of VOD requests: RequestLimitExceeded, a bare 503, or InternalError.
        .with_fault(
            FaultRule::new(Target::AnyVod)
                .probability(0.1)
                .fault(Fault::Throttle),
        )
        .with_fault(
            FaultRule::new(Target::AnyVod)
                .probability(0.05)
                .fault(Fault::Status(503)),
        )
        .with_fault(
            FaultRule::new(Target::AnyVod)
                .probability(0.05)
                .fault(Fault::VodError("InternalError".into())),
        )
        .start()
        .await
        .expect("mock starts");
    // 8 retries: a request then fails for good with probability 0.2^9 ≈ 5e-7, so the test is not flaky.
    let retry = RetryConfig::default()
        .with_max_retries(8)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50));
    let client = server
        .client_builder()
        .with_transfer_config(support::parts_of(MIB as u64).with_concurrency(2))
        .with_retry(retry)
        .build()
        .expect("client builds");
    let dir = tempfile::tempdir().expect("tempdir");

    let results: Vec<_> = futures::stream::iter(0..UPLOADS)
        .map(|i| {
            let client = client.clone();
            let dir = dir.path().to_path_buf();
            async move {
                let media = data(media_len(i), i as u64 + 1);
                let path = dir.join(format!("m{i}.mp4"));
                tokio::fs::write(&path, &media).await.expect("write media");
                let mut req = UploadRequest::from_path(&path);
                let cover = (i % 5 == 0).then(|| data(2 * KIB + i, 10_000 + i as u64));
                if let Some(c) = &cover {
                    let cp = dir.join(format!("c{i}.png"));
                    tokio::fs::write(&cp, c).await.expect("write cover");
                    req = req.with_cover_path(cp);
                }
                let out = tokio::time::timeout(Duration::from_secs(120), client.upload(req))
                    .await
                    .expect("upload finished within 120 s");
                (i, media, cover, out)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    let mut file_ids = HashSet::new();
    for (i, media, cover, out) in results {
        let out = out.unwrap_or_else(|e| panic!("upload {i} failed: {e}"));
        let obj = server
            .object(&out.bucket, &out.media_key)
            .unwrap_or_else(|| panic!("upload {i}: media not stored"));
        assert_eq!(
            obj.sha256,
            sha256_hex(&media),
            "upload {i}: media corrupted"
        );
        if let Some(c) = cover {
            let key = out.cover_key.as_deref().expect("cover key");
            let obj = server.object(&out.bucket, key).expect("cover stored");
            assert_eq!(obj.sha256, sha256_hex(&c), "upload {i}: cover corrupted");
        }
        assert!(file_ids.insert(out.file_id.clone()), "duplicate FileId");
    }
    let commits = server.commits();
    assert_eq!(commits.len(), UPLOADS, "exactly one commit per upload");
    let committed: HashSet<_> = commits.iter().map(|c| c.file_id.clone()).collect();
    assert_eq!(committed, file_ids);
    let stats = server.stats();
    // ~400 COS and ~300 VOD requests at these rates inject dozens of faults; make sure they really happened.
    assert!(
        stats.faults_injected >= 30,
        "too few faults injected: {}",
        stats.faults_injected
    );
    assert!(
        server.multipart_uploads().is_empty(),
        "no multipart upload left open"
    );
}
