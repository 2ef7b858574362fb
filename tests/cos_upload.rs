//! The COS transfer engine against the in-process mock (loopback).

mod support;

use std::time::Duration;
use support::cos::*;
use support::*;
use tencent_vod::__private::crc64;
use tencent_vod::CancellationToken;
use tencent_vod::Error;
use tencent_vod::cos::{
    CompletedPart, ConcurrencyBudget, CosClient, ResumeState, UnfinishedUploadPolicy,
    UploadOptions, UploadSource,
};
use tencent_vod::error::CosOperation;
use tencent_vod_mock::{Fault, FaultRule, Gate, Target};

fn part_fault(fault: Fault) -> FaultRule {
    FaultRule::new(Target::Cos(CosOperation::UploadPart)).fault(fault)
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

#[tokio::test]
async fn single_put_from_a_file() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let body = data(10_000, 1);
    let file = write_temp(&body);
    let rec = Recorder::default();
    let out = cos
        .upload(
            "dir/small file.bin",
            UploadSource::path(file.path()),
            UploadOptions::default().with_progress(rec.progress()),
        )
        .await
        .unwrap();
    assert_eq!(out.size, 10_000);
    assert_eq!(out.crc64, crc64(&body));
    assert_eq!(out.parts, 1);
    assert!(out.upload_id.is_none());
    assert!(!out.etag.is_empty());
    assert_eq!(server.count("PutObject"), 1);
    assert_eq!(server.count("InitiateMultipartUpload"), 0);
    let stored = server.object(&bucket, "dir/small file.bin").unwrap();
    assert_eq!(stored.crc64, crc64(&body));
    assert_eq!(
        server.object_bytes(&bucket, "dir/small file.bin").unwrap(),
        body
    );
    rec.assert_exact(10_000);
    // HEAD sees it; a missing key is None.
    let head = cos
        .head_object("dir/small file.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.size, 10_000);
    assert!(cos.head_object("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn multipart_from_a_file_with_parts_completing_out_of_order() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let len = (PART * 9 + 123) as usize;
    let body = data(len, 2);
    let file = write_temp(&body);
    // The first part request is held back until a later part has completed, so parts finish out of order.
    let gate = Gate::new();
    server.add_fault(part_fault(Fault::Hold(gate.clone())).nth(1));
    let rec = Recorder::default();
    let upload = cos.upload(
        "media/video.mp4",
        UploadSource::path(file.path()),
        UploadOptions::default()
            .with_config(tiny().with_concurrency(4))
            .with_progress(rec.progress()),
    );
    let release = async {
        eventually("a later part to complete", Duration::from_secs(60), || {
            !rec.parts_done().is_empty()
        })
        .await;
        gate.open();
    };
    let (out, ()) = tokio::join!(upload, release);
    let out = out.unwrap();
    assert_eq!(out.parts, 10);
    assert_eq!(out.size, len as u64);
    assert_eq!(out.crc64, crc64(&body));
    assert!(out.upload_id.is_some());
    let done = rec.parts_done();
    assert!(
        done.iter()
            .all(|(id, _)| Some(id) == out.upload_id.as_ref())
    );
    let order: Vec<u32> = done.iter().map(|(_, n)| *n).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=10).collect::<Vec<_>>());
    assert_ne!(order, sorted, "parts should have completed out of order");
    assert_eq!(server.count("InitiateMultipartUpload"), 1);
    assert_eq!(server.count("UploadPart"), 10);
    assert_eq!(server.count("CompleteMultipartUpload"), 1);
    assert!(server.stats().max_concurrent_uploads <= 4);
    assert_eq!(
        server.object_bytes(&bucket, "media/video.mp4").unwrap(),
        body
    );
    assert!(server.multipart_uploads().is_empty());
    rec.assert_exact(len as u64);
}

#[tokio::test]
async fn multipart_from_bytes_and_from_a_sized_reader() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let body = data((PART * 3 + 7) as usize, 3);
    let out = cos
        .upload(
            "a.bin",
            UploadSource::bytes(body.clone()),
            UploadOptions::default().with_config(tiny()),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 4);
    assert_eq!(server.object_bytes(&bucket, "a.bin").unwrap(), body);

    let out = cos
        .upload(
            "b.bin",
            UploadSource::reader(std::io::Cursor::new(body.clone()), Some(body.len() as u64)),
            UploadOptions::default().with_config(tiny().with_concurrency(2)),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 4);
    assert_eq!(out.crc64, crc64(&body));
    assert_eq!(server.object_bytes(&bucket, "b.bin").unwrap(), body);

    // A reader shorter than declared fails and leaves no multipart upload behind.
    let e = cos
        .upload(
            "c.bin",
            UploadSource::reader(
                std::io::Cursor::new(body.clone()),
                Some(body.len() as u64 + 1),
            ),
            UploadOptions::default().with_config(tiny()),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(server.multipart_uploads().is_empty());
    assert!(server.object(&bucket, "c.bin").is_none());
}

#[tokio::test]
async fn reader_of_unknown_length() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    // Long: multipart as it goes.
    let body = data((PART * 5 + 999) as usize, 4);
    let rec = Recorder::default();
    let out = cos
        .upload(
            "stream/long.ts",
            UploadSource::reader(std::io::Cursor::new(body.clone()), None),
            UploadOptions::default()
                .with_config(tiny())
                .with_progress(rec.progress()),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 6);
    assert_eq!(out.size, body.len() as u64);
    assert_eq!(out.crc64, crc64(&body));
    assert_eq!(
        server.object_bytes(&bucket, "stream/long.ts").unwrap(),
        body
    );
    rec.assert_exact(body.len() as u64);
    // Exactly a multiple of the part size: no empty trailing part.
    let body2 = data((PART * 2) as usize, 5);
    let out = cos
        .upload(
            "stream/exact.ts",
            UploadSource::reader(std::io::Cursor::new(body2.clone()), None),
            UploadOptions::default().with_config(tiny()),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 2);
    assert_eq!(
        server.object_bytes(&bucket, "stream/exact.ts").unwrap(),
        body2
    );
    // Short: one PUT.
    let puts = server.count("PutObject");
    let short = data(1000, 6);
    let out = cos
        .upload(
            "stream/short.ts",
            UploadSource::reader(std::io::Cursor::new(short.clone()), None),
            UploadOptions::default().with_config(tiny()),
        )
        .await
        .unwrap();
    assert!(out.upload_id.is_none());
    assert_eq!(server.count("PutObject"), puts + 1);
    assert_eq!(
        server.object_bytes(&bucket, "stream/short.ts").unwrap(),
        short
    );
}

#[tokio::test]
async fn empty_file_is_one_put_of_an_empty_body() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let file = write_temp(b"");
    let rec = Recorder::default();
    let out = cos
        .upload(
            "empty",
            UploadSource::path(file.path()),
            UploadOptions::default()
                .with_config(tiny().with_multipart_threshold(0))
                .with_progress(rec.progress()),
        )
        .await
        .unwrap();
    assert_eq!((out.size, out.crc64, out.parts), (0, 0, 1));
    assert_eq!(server.count("PutObject"), 1);
    assert_eq!(server.count("InitiateMultipartUpload"), 0);
    assert_eq!(server.object(&bucket, "empty").unwrap().size, 0);
    rec.assert_exact(0);
    // Same from an empty reader of unknown length.
    cos.upload(
        "empty2",
        UploadSource::reader(tokio::io::empty(), None),
        UploadOptions::default().with_config(tiny().with_multipart_threshold(0)),
    )
    .await
    .unwrap();
    assert_eq!(server.count("PutObject"), 2);
    assert_eq!(server.object(&bucket, "empty2").unwrap().size, 0);
}

#[tokio::test]
async fn path_is_validated_up_front() {
    let server = server().await;
    let (cos, _) = client(&server);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.mp4");
    let e = cos
        .upload("k", UploadSource::path(&missing), UploadOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path == &missing),
        "{e}"
    );
    let e = cos
        .upload(
            "k",
            UploadSource::path(dir.path()),
            UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, .. } if field.contains(&dir.path().display().to_string())),
        "{e}"
    );
    assert_eq!(server.stats().counts.values().sum::<u64>(), 0);
}

#[tokio::test]
async fn a_part_failing_once_is_retried_and_progress_rolls_back() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let len = (PART * 4 + 5) as usize;
    let body = data(len, 7);
    let file = write_temp(&body);
    // One part is cut mid-body (bytes already reported), another answers 503.
    server.add_fault(part_fault(Fault::DropConnection).nth(2));
    server.add_fault(part_fault(Fault::Status(503)).nth(4));
    let rec = Recorder::default();
    let out = cos
        .upload(
            "retry.bin",
            UploadSource::path(file.path()),
            UploadOptions::default()
                .with_config(tiny().with_concurrency(2))
                .with_progress(rec.progress()),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 5);
    assert_eq!(server.count("UploadPart"), 7);
    assert_eq!(server.object_bytes(&bucket, "retry.bin").unwrap(), body);
    rec.assert_exact(len as u64);
    assert_eq!(rec.parts_done().len(), 5);
    // Both failed part requests were sent again, and reported.
    let events = rec.events();
    let retried: Vec<_> = events
        .iter()
        .filter_map(|p| match p.event {
            tencent_vod::ProgressEvent::Retrying { part } => Some(part),
            _ => None,
        })
        .collect();
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(
        retried
            .iter()
            .all(|p| p.is_some_and(|n| (1..=5).contains(&n)))
    );
    assert_eq!(events.last().unwrap().retries, 2);
}

#[tokio::test]
async fn a_part_failing_for_good_aborts_and_names_upload_and_part() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let body = data((PART * 6) as usize, 8);
    server.add_fault(
        part_fault(Fault::CosError {
            status: 403,
            code: "AccessDenied".into(),
        })
        .nth(3),
    );
    let e = cos
        .upload(
            "fail.bin",
            UploadSource::bytes(body),
            UploadOptions::default().with_config(tiny().with_concurrency(1)),
        )
        .await
        .unwrap_err();
    let Error::Cos(ce) = &e else { panic!("{e}") };
    assert_eq!(ce.status, 403);
    assert_eq!(ce.code, "AccessDenied");
    assert_eq!(ce.part_number, Some(3));
    let id = ce.upload_id.clone().expect("upload id in the error");
    assert_eq!(e.attempts(), 1, "4xx auth errors are not retried");
    let msg = e.to_string();
    assert!(msg.contains(&id) && msg.contains("part 3"), "{msg}");
    // No further parts were scheduled after the failure (concurrency 1), and the upload was aborted.
    assert_eq!(server.count("UploadPart"), 3);
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert_eq!(server.count("CompleteMultipartUpload"), 0);
    assert!(server.multipart_uploads().is_empty());
    assert!(server.object(&bucket, "fail.bin").is_none());

    // 5xx forever: retried, then the same outcome.
    server.clear_faults();
    server.add_fault(part_fault(Fault::Status(500)));
    let e = cos
        .upload(
            "fail2.bin",
            UploadSource::bytes(data((PART * 2) as usize, 9)),
            UploadOptions::default().with_config(tiny().with_concurrency(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.attempts(), 4, "{e}");
    assert!(matches!(&e, Error::Cos(c) if c.upload_id.is_some() && c.part_number == Some(1)));
    assert_eq!(server.count("AbortMultipartUpload"), 2);
}

#[tokio::test]
async fn wrong_crc_is_an_integrity_error() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    server.add_fault(part_fault(Fault::WrongCrc).nth(2));
    let e = cos
        .upload(
            "crc.bin",
            UploadSource::bytes(data((PART * 3) as usize, 10)),
            UploadOptions::default().with_config(tiny().with_concurrency(1)),
        )
        .await
        .unwrap_err();
    match &e {
        Error::Integrity {
            object,
            part,
            expected,
            actual,
        } => {
            assert_eq!(object, "crc.bin");
            assert_eq!(*part, Some(2));
            assert_ne!(expected, actual);
        }
        other => panic!("{other}"),
    }
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert!(server.object(&bucket, "crc.bin").is_none());
    // Single PUT too.
    server.add_fault(FaultRule::new(Target::Cos(CosOperation::PutObject)).fault(Fault::WrongCrc));
    let e = cos
        .upload(
            "crc-small.bin",
            UploadSource::bytes(data(100, 11)),
            UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Integrity { part: None, .. }), "{e}");
    // With verification off, the same response is accepted.
    cos.upload(
        "crc-small.bin",
        UploadSource::bytes(data(100, 11)),
        UploadOptions::default().with_config(tiny().with_verify_crc(false)),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn expired_credentials_fail_fast_without_a_request() {
    let server = server().await;
    let s = server.create_cos_session(None);
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 10;
    let cos = CosClient::builder(&s.bucket, &s.region)
        .with_credential(s.credential.credential())
        .with_credential_expiry(past)
        .with_endpoint(server.cos_endpoint())
        .build()
        .unwrap();
    for source in [
        UploadSource::bytes(data(10, 1)),
        UploadSource::bytes(data((PART * 3) as usize, 1)),
    ] {
        let e = cos
            .upload("k", source, UploadOptions::default().with_config(tiny()))
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::CredentialsExpired { expired_at, .. } if expired_at == past),
            "{e}"
        );
    }
    let e = tencent_vod::__private::put_object(&cos, "k", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CredentialsExpired { .. }));
    assert_eq!(
        server.stats().counts.values().sum::<u64>(),
        0,
        "no request may be sent"
    );
}

#[tokio::test]
async fn complete_answering_200_with_an_error_body_is_an_error() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::CompleteMultipartUpload))
            .fault(Fault::CompleteErrorBody),
    );
    let e = cos
        .upload(
            "complete.bin",
            UploadSource::bytes(data((PART * 2) as usize, 12)),
            UploadOptions::default().with_config(tiny()),
        )
        .await
        .unwrap_err();
    let Error::Cos(ce) = &e else { panic!("{e}") };
    assert_eq!(ce.status, 200);
    assert_eq!(ce.operation, CosOperation::CompleteMultipartUpload);
    assert!(!ce.code.is_empty());
    assert!(ce.upload_id.is_some());
    assert!(server.object(&bucket, "complete.bin").is_none());
    assert_eq!(server.count("AbortMultipartUpload"), 1);
}

#[tokio::test]
async fn unfinished_upload_policy_decides_abort_or_keep() {
    use UnfinishedUploadPolicy::*;
    // (policy, stopped by a cancellation (else by a part failing for good), multipart upload kept)
    let cases = [
        (Abort, true, false),
        (Abort, false, false),
        (KeepIfCancelled, true, true),
        (KeepIfCancelled, false, false),
        (Keep, true, true),
        (Keep, false, true),
    ];
    for (i, (policy, cancel, kept)) in cases.into_iter().enumerate() {
        let server = server().await;
        let (cos, bucket) = client(&server);
        let fault = if cancel {
            Fault::Delay(Duration::from_secs(30))
        } else {
            Fault::CosError {
                status: 403,
                code: "AccessDenied".into(),
            }
        };
        server.add_fault(part_fault(fault));
        let token = CancellationToken::new();
        let t = token.clone();
        let key = format!("policy-{i}.bin");
        let started = std::time::Instant::now();
        let e = cos
            .upload(
                &key,
                UploadSource::bytes(data((PART * 4) as usize, 13)),
                UploadOptions::default()
                    .with_config(tiny())
                    .with_cancellation(token)
                    .with_unfinished_upload_policy(policy)
                    // Cancelled once part bytes are on the wire (the parts themselves never answer in time).
                    .with_progress(move |p| {
                        if cancel && p.bytes_sent > 0 {
                            t.cancel();
                        }
                    }),
            )
            .await
            .unwrap_err();
        let case = format!("{policy:?}, cancelled {cancel}: {e}");
        if cancel {
            assert!(matches!(e, Error::Cancelled), "{case}");
            assert!(started.elapsed() < Duration::from_secs(25), "{case}");
        } else {
            assert_eq!(e.code(), Some("AccessDenied"), "{case}");
        }
        let open = server.multipart_uploads();
        if kept {
            assert_eq!(open.len(), 1, "{case}");
            assert_eq!((&open[0].0, &open[0].1), (&bucket, &key), "{case}");
            assert_eq!(server.count("AbortMultipartUpload"), 0, "{case}");
        } else {
            assert!(open.is_empty(), "{case}");
            assert_eq!(server.count("AbortMultipartUpload"), 1, "{case}");
        }
    }
}

#[tokio::test]
async fn resume_uploads_only_missing_parts() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let body = bytes::Bytes::from(data((PART * 5 + 77) as usize, 14));
    let key = "resume/video.mp4";
    let id = tencent_vod::__private::initiate_multipart_upload(&cos, key)
        .await
        .unwrap();
    let slice = |n: u64| {
        let start = ((n - 1) * PART) as usize;
        body.slice(start..(start + PART as usize).min(body.len()))
    };
    let mut recorded = Vec::new();
    for n in [1u32, 3, 4] {
        let part = slice(n as u64);
        let etag = tencent_vod::__private::upload_part(&cos, key, &id, n, part.clone())
            .await
            .unwrap();
        recorded.push(CompletedPart {
            number: n,
            etag,
            crc64: crc64(&part),
            size: part.len() as u64,
        });
    }
    // A checkpoint entry COS does not hold (wrong ETag) is re-sent.
    recorded[2].etag = "\"0000\"".into();
    let parts_before = server.count("UploadPart");
    let rec = Recorder::default();
    let out = cos
        .upload(
            key,
            UploadSource::bytes(body.clone()),
            UploadOptions::default()
                .with_config(tiny())
                .with_progress(rec.progress())
                .with_resume(ResumeState {
                    upload_id: id.clone(),
                    completed_parts: recorded,
                }),
        )
        .await
        .unwrap();
    assert_eq!(out.upload_id.as_deref(), Some(id.as_str()));
    assert_eq!(out.parts, 6);
    assert_eq!(out.crc64, crc64(&body));
    assert_eq!(server.count("ListParts"), 1);
    assert_eq!(server.count("InitiateMultipartUpload"), 1);
    // Parts 2, 4 (bad checkpoint), 5 and 6.
    assert_eq!(server.count("UploadPart") - parts_before, 4);
    let persisted = rec.parts_done();
    let mut sent: Vec<u32> = persisted.iter().map(|(_, n)| *n).collect();
    sent.sort();
    assert_eq!(sent, vec![2, 4, 5, 6]);
    assert!(persisted.iter().all(|(u, _)| u == &id));
    assert_eq!(server.object_bytes(&bucket, key).unwrap(), body.to_vec());
    rec.assert_exact(body.len() as u64);
}

#[tokio::test]
async fn a_shared_budget_bounds_several_uploads() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    server.add_fault(part_fault(Fault::Delay(Duration::from_millis(20))));
    let budget = ConcurrencyBudget::new(2);
    let mut tasks = Vec::new();
    for i in 0..3u64 {
        let cos = cos.clone();
        let budget = budget.clone();
        tasks.push(tokio::spawn(async move {
            cos.upload(
                &format!("budget/{i}.bin"),
                UploadSource::bytes(data((PART * 4) as usize, 20 + i)),
                UploadOptions::default()
                    .with_config(tiny().with_concurrency(4))
                    .with_budget(budget),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(server.stats().max_concurrent_uploads <= 2);
    assert_eq!(budget.available(), 2);
    for i in 0..3u64 {
        assert_eq!(
            server
                .object_bytes(&bucket, &format!("budget/{i}.bin"))
                .unwrap(),
            data((PART * 4) as usize, 20 + i)
        );
    }
}

#[tokio::test]
async fn content_md5_unicode_keys_and_content_type() {
    let server = server().await;
    let (cos, bucket) = client(&server);
    let body = data((PART * 2 + 3) as usize, 30);
    let file = write_temp(&body);
    cos.upload(
        "md5/视频 (1).mp4",
        UploadSource::path(file.path()),
        UploadOptions::default()
            .with_config(tiny().with_content_md5(true))
            .with_content_type("video/mp4"),
    )
    .await
    .unwrap();
    assert_eq!(
        server.object_bytes(&bucket, "md5/视频 (1).mp4").unwrap(),
        body
    );
    assert!(server.rejections().is_empty(), "{:?}", server.rejections());
}

#[tokio::test]
async fn virtual_host_addressing_through_a_template() {
    let server = server().await;
    let s = server.create_cos_session(None);
    let host = format!("{}.cos.{}.myqcloud.com", s.bucket, s.region);
    let http = reqwest::Client::builder()
        .resolve(&host, server.cos_addr())
        .build()
        .unwrap();
    let cos = CosClient::builder(&s.bucket, &s.region)
        .with_credential(s.credential.credential())
        .with_credential_expiry(s.credential.expired_time)
        .with_endpoint(format!(
            "http://{{bucket}}.cos.{{region}}.myqcloud.com:{}",
            server.cos_addr().port()
        ))
        .with_http_client(http)
        .with_retry(retry(3))
        .build()
        .unwrap();
    let body = data((PART * 2 + 1) as usize, 40);
    cos.upload(
        "vh/a.bin",
        UploadSource::bytes(body.clone()),
        UploadOptions::default().with_config(tiny()),
    )
    .await
    .unwrap();
    assert_eq!(server.object_bytes(&s.bucket, "vh/a.bin").unwrap(), body);
}
