//! What batch tools (the `tvod ingest` journal) build on: a checkpoint kept after the commit with its answer, a
//! byte-rate cap shared by uploads, and the mock's byte counter.

mod support;

use support::*;

use std::time::Duration;
use tencent_vod::UploadRequest;
use tencent_vod::cos::BandwidthLimit;
use tencent_vod::upload::{CheckpointStore, MemoryCheckpointStore};

#[tokio::test]
async fn kept_checkpoint_records_the_commit_and_answers_a_rerun_without_uploading() {
    let (server, client, dir) = setup().await;
    let media = write(dir.path(), "a.mp4", &data(3 * MIB as usize + 10, 1));
    let cover = write(dir.path(), "a.jpg", &data(1000, 2));
    let req = |store: &MemoryCheckpointStore, keep: bool| {
        UploadRequest::from_path(&media)
            .with_cover_path(&cover)
            .with_checkpoint(store.clone())
            .with_checkpoint_key("k")
            .with_keep_committed_checkpoint(keep)
    };
    // Without the option the checkpoint is deleted after the commit, as before.
    let store = MemoryCheckpointStore::new();
    client.upload(req(&store, false)).await.unwrap();
    assert!(store.load("k").await.unwrap().is_none());
    // With it, the checkpoint stays, recording the commit's answer…
    let store = MemoryCheckpointStore::new();
    let out = client.upload(req(&store, true)).await.unwrap();
    let cp = store.load("k").await.unwrap().expect("kept");
    assert!(cp.committed);
    let c = cp.commit.clone().expect("the answer is recorded");
    assert_eq!(c.file_id, out.file_id);
    assert_eq!(c.media_url, out.media_url);
    assert_eq!(c.cover_url, out.cover_url);
    assert_eq!(c.request_id, out.commit_request_id);
    // …and the same request answers from it: nothing sent, still kept (the caller deletes it).
    let (puts, parts) = (server.count("PutObject"), server.count("UploadPart"));
    let again = client.upload(req(&store, true)).await.unwrap();
    assert_eq!(again.file_id, out.file_id);
    assert_eq!(again.bytes_sent, 0);
    assert_eq!(
        (server.count("PutObject"), server.count("UploadPart")),
        (puts, parts)
    );
    assert!(store.load("k").await.unwrap().is_some());
    assert_eq!(server.commits().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn bandwidth_limit_spaces_bodies_by_their_share() {
    let cap = BandwidthLimit::new(1000);
    let start = tokio::time::Instant::now();
    // 3 bodies of 500 bytes at 1000 B/s: they may start at 0 s, 0.5 s and 1 s.
    for expect_ms in [0u64, 500, 1000] {
        let cap = cap.clone();
        cap.acquire(500).await;
        assert_eq!(start.elapsed(), Duration::from_millis(expect_ms));
    }
}

#[tokio::test]
async fn bandwidth_limit_caps_an_upload() {
    let (server, client, dir) = setup_with_concurrency(4).await;
    // 4 MiB in 1 MiB parts at 8 MiB/s: the parts start at 0, 125, 250 and 375 ms.
    let media = write(dir.path(), "c.mp4", &data(4 * MIB as usize, 4));
    let started = std::time::Instant::now();
    client
        .upload(UploadRequest::from_path(&media).with_bandwidth_limit(BandwidthLimit::new(8 * MIB)))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(375),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.bytes_received(), 4 * MIB);
    assert_eq!(server.stats().bytes_received, 4 * MIB);
}
