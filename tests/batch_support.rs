//! What batch tools (the `tvod ingest` journal) build on: a checkpoint kept after the commit with its outcome, a
//! byte-rate cap shared by uploads, and the mock's `SearchMedia` and byte counter.

mod support;

use support::*;

use std::time::Duration;
use tencent_vod::UploadRequest;
use tencent_vod::cos::BandwidthLimit;
use tencent_vod::upload::{CheckpointStore, JsonFileCheckpointStore, MemoryCheckpointStore};

#[tokio::test]
async fn kept_checkpoint_records_the_commit_outcome() {
    let (server, client, dir) = setup().await;
    let media = write(dir.path(), "a.mp4", &data(3 * MIB as usize + 10, 1));
    let cover = write(dir.path(), "a.jpg", &data(1000, 2));
    for (keep, expect_kept) in [(false, false), (true, true)] {
        let store = MemoryCheckpointStore::new();
        let out = client
            .upload(
                UploadRequest::from_path(&media)
                    .with_cover_path(&cover)
                    .with_checkpoint(store.clone(), Some("k".into()))
                    .with_keep_committed_checkpoint(keep),
            )
            .await
            .unwrap();
        let cp = store.load("k").await.unwrap();
        assert_eq!(cp.is_some(), expect_kept, "keep={keep}");
        if let Some(cp) = cp {
            assert!(cp.committed && cp.all_objects_complete());
            let c = cp.committed_upload().expect("outcome recorded");
            assert_eq!(c.file_id, out.file_id);
            assert_eq!(c.media_url, out.media_url);
            assert_eq!(c.cover_url, out.cover_url);
            assert_eq!(c.commit_request_id, out.commit_request_id);
            assert_eq!(c.apply_request_id, out.apply_request_id);
            assert!((c.committed_at - now()).abs() < 60);
        }
    }
    assert_eq!(server.commits().len(), 2);
}

#[tokio::test]
async fn kept_checkpoint_survives_a_json_round_trip() {
    let (_server, client, dir) = setup().await;
    let media = write(dir.path(), "b.mp4", &data(1000, 3));
    let store = JsonFileCheckpointStore::new(dir.path().join("cp"));
    let out = client
        .upload(
            UploadRequest::from_path(&media)
                .with_checkpoint(store.clone(), Some("k".into()))
                .with_keep_committed_checkpoint(true),
        )
        .await
        .unwrap();
    let cp = store.load("k").await.unwrap().expect("kept");
    assert_eq!(cp.committed_upload().unwrap().file_id, out.file_id);
    // An older checkpoint without the member still parses (the member is optional).
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path_for("k")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("commit");
    std::fs::write(store.path_for("k"), v.to_string()).unwrap();
    let cp = store.load("k").await.unwrap().unwrap();
    assert!(cp.committed && cp.committed_upload().is_none());
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

#[tokio::test]
async fn mock_search_media_finds_committed_uploads() {
    let (_server, client, dir) = setup().await;
    let a = write(dir.path(), "alpha.mp4", &data(100, 5));
    let b = write(dir.path(), "beta.mp3", &data(100, 6));
    let out_a = client
        .upload(UploadRequest::from_path(&a).with_class_id(7))
        .await
        .unwrap();
    let out_b = client.upload(UploadRequest::from_path(&b)).await.unwrap();
    let search = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            client
                .api()
                .call::<_, serde_json::Value>("SearchMedia", &body)
                .await
        }
    };
    let all = search(serde_json::json!({"Limit": 50})).await.unwrap();
    assert_eq!(all["TotalCount"], 2);
    // Newest first by default.
    assert_eq!(all["MediaInfoSet"][0]["FileId"], out_b.file_id.as_str());
    let cases = [
        (serde_json::json!({"Names": ["ALPH"]}), vec![&out_a]),
        (serde_json::json!({"NamePrefixes": ["be"]}), vec![&out_b]),
        (serde_json::json!({"ClassIds": [7]}), vec![&out_a]),
        (
            serde_json::json!({"FileIds": [out_b.file_id]}),
            vec![&out_b],
        ),
        (
            serde_json::json!({"CreateTime": {"After": "2000-01-01T00:00:00Z", "Before": "2001-01-01T00:00:00Z"}}),
            vec![],
        ),
        (serde_json::json!({"SubAppId": 99}), vec![]),
    ];
    for (req, expect) in cases {
        let r = search(req.clone()).await.unwrap();
        let ids: Vec<&str> = r["MediaInfoSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["FileId"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = expect.iter().map(|o| o.file_id.as_str()).collect();
        assert_eq!(ids, want, "{req}");
    }
    let hit = &search(serde_json::json!({"FileIds": [out_a.file_id]}))
        .await
        .unwrap()["MediaInfoSet"][0]["BasicInfo"];
    assert_eq!(hit["MediaUrl"], out_a.media_url.as_deref().unwrap());
    assert_eq!(hit["Name"], "alpha");
    assert_eq!(hit["Category"], "Video");
    let e = search(serde_json::json!({"Offset": 4990, "Limit": 20}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.Limit"));
}
