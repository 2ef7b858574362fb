//! End-to-end uploads against the embedded mock VOD + COS server.

mod support;

use support::*;

use std::sync::{Arc, Mutex};
use tencent_vod::error::CosOperation;
use tencent_vod::{Error, Progress, ProgressEvent, SignMethod, TransferConfig, UploadRequest};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

#[tokio::test]
async fn small_file_single_put() {
    let (server, client, dir) = setup().await;
    let bytes = data(300_000, 1);
    let path = write(dir.path(), "clip.final.MP4", &bytes);
    let out = client
        .upload(UploadRequest::from_path(&path))
        .await
        .unwrap();
    assert!(!out.file_id.is_empty());
    assert!(
        out.media_url
            .as_deref()
            .is_some_and(|u| u.ends_with(".mp4") || u.contains(&out.file_id) || !u.is_empty())
    );
    assert_eq!(out.bytes_sent, bytes.len() as u64);
    assert!(out.cover_url.is_none() && out.cover_key.is_none());
    let obj = server.object(&out.bucket, &out.media_key).expect("stored");
    assert_eq!(obj.sha256, sha256_hex(&bytes));
    assert_eq!(server.count("PutObject"), 1);
    assert_eq!(server.count("InitiateMultipartUpload"), 0);
    assert_eq!(server.count("CommitUpload"), 1);
    let applied = server.apply_requests();
    assert_eq!(applied[0]["MediaType"], "mp4");
    assert_eq!(applied[0]["MediaName"], "clip.final");
    assert!(!out.apply_request_id.is_empty() && !out.commit_request_id.is_empty());
}

#[tokio::test]
async fn multipart_file_with_cover() {
    let (server, client, dir) = setup().await;
    let bytes = data((5 * MIB + 12345) as usize, 2);
    let cover = data(20_000, 3);
    let path = write(dir.path(), "big.mp4", &bytes);
    let cover_path = write(dir.path(), "poster.PNG", &cover);
    let out = client
        .upload(
            UploadRequest::from_path(&path)
                .with_cover_path(&cover_path)
                .with_transfer_config(client.transfer_config().clone().with_concurrency(3)),
        )
        .await
        .unwrap();
    assert_eq!(out.bytes_sent, bytes.len() as u64 + cover.len() as u64);
    assert!(out.cover_url.is_some());
    let media = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!(
        (media.size, media.sha256.clone()),
        (bytes.len() as u64, sha256_hex(&bytes))
    );
    let c = server
        .object(&out.bucket, out.cover_key.as_deref().unwrap())
        .unwrap();
    assert_eq!(c.sha256, sha256_hex(&cover));
    assert_eq!(server.count("UploadPart"), 6);
    assert_eq!(server.count("CompleteMultipartUpload"), 1);
    assert_eq!(server.apply_requests()[0]["CoverType"], "png");
    assert!(server.stats().max_concurrent_uploads <= 3);
}

#[tokio::test]
async fn every_apply_field_arrives_unchanged_and_sub_app_id_on_commit() {
    let (server, client, dir) = setup().await;
    let path = write(dir.path(), "x.mp4", &data(1000, 4));
    let cover = write(dir.path(), "x.jpg", &data(100, 5));
    let out = client
        .upload(
            UploadRequest::from_path(&path)
                .with_cover_path(&cover)
                .with_media_type("MP4")
                .with_media_name("名字 with spaces")
                .with_procedure("MyProcedure")
                .with_expire_time("2030-01-01T00:00:00Z")
                .with_storage_region("ap-chongqing")
                .with_class_id(42)
                .with_source_context("src-ctx")
                .with_session_context("sess-ctx")
                .with_ext_info("ext")
                .with_sub_app_id(1_500_000_001)
                .with_media_storage_path("/custom/dir/x.mp4"),
        )
        .await
        .unwrap();
    let a = &server.apply_requests()[0];
    assert_eq!(a["MediaType"], "mp4");
    assert_eq!(a["MediaName"], "名字 with spaces");
    assert_eq!(a["CoverType"], "jpg");
    assert_eq!(a["Procedure"], "MyProcedure");
    assert_eq!(a["ExpireTime"], "2030-01-01T00:00:00Z");
    assert_eq!(a["StorageRegion"], "ap-chongqing");
    assert_eq!(a["ClassId"], 42);
    assert_eq!(a["SourceContext"], "src-ctx");
    assert_eq!(a["SessionContext"], "sess-ctx");
    assert_eq!(a["ExtInfo"], "ext");
    assert_eq!(a["SubAppId"], 1_500_000_001u64);
    assert_eq!(a["MediaStoragePath"], "/custom/dir/x.mp4");
    assert_eq!(out.region, "ap-chongqing");
    assert_eq!(out.media_key, "custom/dir/x.mp4");
    let commits = server.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].sub_app_id, Some(1_500_000_001));
    assert_eq!(commits[0].procedure.as_deref(), Some("MyProcedure"));
}

#[tokio::test]
async fn v1_sign_methods_upload_end_to_end() {
    for m in [SignMethod::HmacSha1, SignMethod::HmacSha256] {
        let server = MockServer::start().await.unwrap();
        let client = server.client_builder().with_sign_method(m).build().unwrap();
        let out = client
            .upload(UploadRequest::from_bytes(data(5000, 6), "mp4"))
            .await
            .unwrap();
        assert!(!out.file_id.is_empty(), "{m}");
        assert_eq!(server.stats().rejected_signatures, 0);
    }
}

#[tokio::test]
async fn hls_with_nested_playlist() {
    let (server, client, dir) = setup().await;
    let d = dir.path();
    write(
        d,
        "hls/master.m3u8",
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1600000\nhigh/index.m3u8\n",
    );
    for q in ["low", "high"] {
        write(
            d,
            &format!("hls/{q}/index.m3u8"),
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-KEY:METHOD=AES-128,URI=\"../key.bin\"\n#EXTINF:10,\nseg0.ts\n#EXTINF:10,\nseg1.ts\n#EXT-X-ENDLIST\n",
        );
        write(d, &format!("hls/{q}/seg0.ts"), &data(70_000, 7));
        write(d, &format!("hls/{q}/seg1.ts"), &data(1_200_000, 8));
    }
    write(d, "hls/key.bin", b"0123456789abcdef");
    let out = client
        .upload(UploadRequest::from_path(d.join("hls/master.m3u8")))
        .await
        .unwrap();
    let mut keys = out.segment_keys.clone();
    keys.sort();
    let base = out
        .media_key
        .rsplit_once('/')
        .map(|(a, _)| a.to_string())
        .unwrap_or_default();
    let expect: Vec<String> = [
        "high/index.m3u8",
        "high/seg0.ts",
        "high/seg1.ts",
        "key.bin",
        "low/index.m3u8",
        "low/seg0.ts",
        "low/seg1.ts",
    ]
    .iter()
    .map(|r| {
        if base.is_empty() {
            r.to_string()
        } else {
            format!("{base}/{r}")
        }
    })
    .collect();
    assert_eq!(keys, expect);
    for k in &keys {
        assert!(server.object(&out.bucket, k).is_some(), "{k} missing");
    }
    assert_eq!(server.commits().len(), 1);
    assert_eq!(server.apply_requests()[0]["MediaType"], "m3u8");
    // ParseStreamingManifest for the master and both nested playlists, as the official SDKs do.
    assert_eq!(server.count("ParseStreamingManifest"), 3);
}

#[tokio::test]
async fn manifest_loop_is_an_error() {
    let (server, client, dir) = setup().await;
    write(dir.path(), "a.m3u8", b"#EXTM3U\nb.m3u8\n");
    write(dir.path(), "b.m3u8", b"#EXTM3U\na.m3u8\n");
    let e = client
        .upload(UploadRequest::from_path(dir.path().join("a.m3u8")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("loop"), "{e}");
    assert_eq!(server.count("ApplyUpload"), 0);
}

#[tokio::test]
async fn missing_segment_fails_before_any_request() {
    let (server, client, dir) = setup().await;
    let m = write(
        dir.path(),
        "a.m3u8",
        b"#EXTM3U\n#EXTINF:10,\nthere.ts\n#EXTINF:10,\nmissing.ts\n",
    );
    write(dir.path(), "there.ts", b"x");
    let e = client
        .upload(UploadRequest::from_path(&m))
        .await
        .unwrap_err();
    match &e {
        Error::Manifest { segment, .. } => assert_eq!(segment.as_deref(), Some("missing.ts")),
        other => panic!("unexpected {other:?}"),
    }
    // Found by the local parser: not a single request was made.
    for kind in [
        "ParseStreamingManifest",
        "ApplyUpload",
        "CommitUpload",
        "PutObject",
    ] {
        assert_eq!(server.count(kind), 0, "{kind}");
    }
}

#[tokio::test]
async fn progress_ends_exactly_at_total() {
    let (_server, client, dir) = setup().await;
    let bytes = data((3 * MIB + 77) as usize, 9);
    let cover = data(5000, 10);
    let path = write(dir.path(), "p.mp4", &bytes);
    let cpath = write(dir.path(), "p.jpg", &cover);
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s2 = seen.clone();
    let out = client
        .upload(
            UploadRequest::from_path(&path)
                .with_cover_path(&cpath)
                .with_progress(move |p| s2.lock().unwrap().push(p.clone())),
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let total = (bytes.len() + cover.len()) as u64;
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|p| p.total == Some(total) && p.bytes_sent <= total)
    );
    assert!(seen.windows(2).all(|w| w[0].bytes_sent <= w[1].bytes_sent));
    assert_eq!(seen.last().unwrap().bytes_sent, total);
    assert_eq!(out.bytes_sent, total);
    // Per object: the media and the cover each end with one ObjectDone at their own size.
    for (key, size) in [
        (&out.media_key, bytes.len()),
        (out.cover_key.as_ref().unwrap(), cover.len()),
    ] {
        let done: Vec<&Progress> = seen
            .iter()
            .filter(|p| &p.object == key && p.event == ProgressEvent::ObjectDone)
            .collect();
        assert_eq!(done.len(), 1, "{key}");
        assert_eq!(done[0].object_bytes_sent, size as u64);
        assert_eq!(done[0].object_total, Some(size as u64));
    }
    assert!(seen.iter().all(|p| p.retries == 0));
}

#[tokio::test]
async fn failed_part_means_no_commit_and_error_names_object() {
    let (server, client, dir) = setup().await;
    server.add_fault(FaultRule::new(Target::Cos(CosOperation::UploadPart)).fault(
        Fault::CosError {
            status: 403,
            code: "AccessDenied".into(),
        },
    ));
    let path = write(dir.path(), "f.mp4", &data((3 * MIB) as usize, 11));
    let e = client
        .upload(UploadRequest::from_path(&path))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(".mp4") && msg.contains("part"), "{msg}");
    assert_eq!(server.count("CommitUpload"), 0);
    assert!(server.count("AbortMultipartUpload") >= 1);
}

#[tokio::test]
async fn transient_faults_are_retried_and_object_is_intact() {
    let (server, client, dir) = setup().await;
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .nth(2)
            .fault(Fault::Status(503)),
    );
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload"))
            .nth(1)
            .fault(Fault::Throttle),
    );
    server.add_fault(
        FaultRule::new(Target::Vod("CommitUpload"))
            .nth(1)
            .fault(Fault::VodError("InternalError".into())),
    );
    let bytes = data((4 * MIB) as usize, 12);
    let path = write(dir.path(), "r.mp4", &bytes);
    let out = client
        .upload(UploadRequest::from_path(&path))
        .await
        .unwrap();
    assert_media_stored(&server, &out, &bytes);
    assert_eq!(server.count("ApplyUpload"), 2);
    assert_eq!(server.count("CommitUpload"), 2);
    assert_eq!(server.commits().len(), 1);
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_request() {
    let (server, client, dir) = setup().await;
    let ok = write(dir.path(), "ok.mp4", b"abc");
    let cases: Vec<(UploadRequest, &str)> = vec![
        (
            UploadRequest::from_path(dir.path().join("nope.mp4")),
            "nope.mp4",
        ),
        (UploadRequest::from_path(dir.path()), "directory"),
        (
            UploadRequest::from_path(write(dir.path(), "noext", b"x")),
            "no extension",
        ),
        (
            UploadRequest::from_path(write(dir.path(), "a.exe", b"x")),
            "exe",
        ),
        (
            UploadRequest::from_path(&ok).with_cover_bytes(vec![1u8], ""),
            "cover_type",
        ),
        (
            UploadRequest::from_path(&ok).with_cover_path(write(dir.path(), "c.txt", b"x")),
            "txt",
        ),
        (
            UploadRequest::from_path(&ok).with_source_context("x".repeat(251)),
            "source_context",
        ),
        (
            UploadRequest::from_path(&ok).with_session_context("x".repeat(1001)),
            "session_context",
        ),
        (
            UploadRequest::from_path(&ok)
                .with_transfer_config(TransferConfig::default().with_concurrency(0)),
            "concurrency",
        ),
        (
            UploadRequest::from_path(&ok)
                .with_transfer_config(TransferConfig::default().with_part_size(1)),
            "part",
        ),
        (
            UploadRequest::from_path(&ok).with_expire_time("tomorrow"),
            "expire_time",
        ),
        (
            UploadRequest::from_path(&ok).with_media_storage_path("no-slash"),
            "media_storage_path",
        ),
        (UploadRequest::from_bytes(vec![1u8, 2], ""), "media_type"),
        (
            UploadRequest::from_path(write(dir.path(), "r.m3u8", b"#EXTM3U\nhttp://cdn/x.ts\n")),
            "URL",
        ),
    ];
    for (req, needle) in cases {
        let e = client.upload(req).await.unwrap_err();
        assert!(e.to_string().contains(needle), "expected {needle:?} in {e}");
    }
    assert_eq!(server.count("ApplyUpload"), 0);
}

#[tokio::test]
async fn outcome_carries_procedure_task_id_when_asked() {
    use std::time::Duration;
    use tencent_vod::WaitOptions;
    let (server, client, dir) = setup().await;
    let path = write(dir.path(), "t.mp4", &data(10_000, 13));
    let wait = WaitOptions::new(Duration::from_secs(30))
        .with_intervals(Duration::from_millis(20), Duration::from_millis(200));
    let out = client
        .upload(
            UploadRequest::from_path(&path)
                .with_procedure("Preset")
                .with_resolve_procedure_task(wait),
        )
        .await
        .unwrap();
    let recorded = server.commits()[0].procedure_task_id.clone();
    assert!(recorded.is_some());
    assert_eq!(out.procedure_task_id, recorded);
    assert!(server.count("DescribeTasks") >= 1);

    // Not asked for: None, and no task query.
    let before = server.count("DescribeTasks");
    let out = client
        .upload(UploadRequest::from_path(&path).with_procedure("Preset"))
        .await
        .unwrap();
    assert_eq!(out.procedure_task_id, None);
    // Asked for, but no procedure: None, and no task query either.
    let out2 = client
        .upload(UploadRequest::from_path(&path).with_resolve_procedure_task(wait))
        .await
        .unwrap();
    assert_eq!(out2.procedure_task_id, None);
    assert_eq!(server.count("DescribeTasks"), before);

    // The task id resolves to a task that finishes.
    let detail = client
        .api()
        .wait_for_task(recorded.as_deref().unwrap(), None, wait)
        .await
        .unwrap();
    assert_eq!(detail.status.as_deref(), Some("FINISH"));
}
