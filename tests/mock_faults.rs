//! Fault injection of the mock server.

mod support;

use std::time::{Duration, Instant};
use support::raw::*;
use tencent_vod::RetryConfig;
use tencent_vod::error::CosOperation;
use tencent_vod::vod::ApplyUploadRequest;
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

type R = Result<(), Box<dyn std::error::Error>>;

async fn session(server: &MockServer) -> RawCos {
    let s = server.create_cos_session(None);
    RawCos::new(
        &server.cos_endpoint(),
        &s.bucket,
        &s.credential.credential(),
    )
}

#[tokio::test]
async fn nth_status_on_upload_part() -> R {
    let server = MockServer::start().await?;
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .nth(2)
            .fault(Fault::Status(503)),
    );
    let cos = session(&server).await;
    let id = cos.initiate("k").await;
    let statuses: Vec<(u16, Option<String>)> = {
        let mut v = Vec::new();
        for n in 1..=3 {
            let r = cos.upload_part("k", &id, n, b"abc").await;
            assert!(r.header("x-cos-request-id").is_some());
            v.push((r.status, r.code()));
        }
        v
    };
    assert_eq!(
        statuses,
        vec![
            (200, None),
            (503, Some("ServiceUnavailable".into())),
            (200, None)
        ]
    );
    assert_eq!(server.count("UploadPart"), 3);
    assert_eq!(server.stats().faults_injected, 1);
    Ok(())
}

#[tokio::test]
async fn every_and_times_and_cos_error() -> R {
    let server = MockServer::start().await?;
    server.add_fault(
        FaultRule::new(Target::AnyCos)
            .every(2)
            .times(2)
            .fault(Fault::CosError {
                status: 400,
                code: "RequestTimeOut".into(),
            }),
    );
    let cos = session(&server).await;
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(cos.put("k", b"x").await.code());
    }
    let timeouts = Some("RequestTimeOut".to_string());
    assert_eq!(
        codes,
        vec![None, timeouts.clone(), None, timeouts, None, None]
    );
    server.clear_faults();
    assert_eq!(cos.put("k", b"x").await.status, 200);
    Ok(())
}

async fn probability_pattern(seed: u64) -> Vec<bool> {
    let server = MockServer::builder()
        .with_seed(seed)
        .with_fault(
            FaultRule::new(Target::Cos(CosOperation::PutObject))
                .probability(0.5)
                .fault(Fault::Status(500)),
        )
        .start()
        .await
        .unwrap();
    let cos = session(&server).await;
    let mut v = Vec::new();
    for _ in 0..24 {
        let r = cos.put("k", b"x").await;
        if r.status == 500 {
            assert_eq!(r.code().as_deref(), Some("InternalError"));
        }
        v.push(r.status == 500);
    }
    v
}

#[tokio::test]
async fn probability_is_deterministic_with_a_seed() {
    let a = probability_pattern(7).await;
    let b = probability_pattern(7).await;
    assert_eq!(a, b);
    assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x), "{a:?}");
}

#[tokio::test]
async fn vod_faults() -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let api = client.api();
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload"))
            .nth(1)
            .fault(Fault::VodError("FailedOperation".into())),
    );
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload"))
            .nth(2)
            .fault(Fault::Throttle),
    );
    server.add_fault(
        FaultRule::new(Target::AnyVod)
            .nth(3)
            .fault(Fault::Status(502)),
    );
    let req = ApplyUploadRequest::new("mp4");
    let e = api.apply_upload(&req).await.unwrap_err();
    assert_eq!(e.code(), Some("FailedOperation"));
    assert!(e.request_id().is_some());
    let e = api.apply_upload(&req).await.unwrap_err();
    assert_eq!(e.code(), Some("RequestLimitExceeded"));
    // A bare HTTP status, no envelope.
    let r = http()
        .post(format!("{}/", server.vod_endpoint()))
        .header("X-TC-Action", "ApplyUpload")
        .header("Authorization", "TC3-HMAC-SHA256 Credential=x/2020-01-01/vod/tc3_request, SignedHeaders=host, Signature=00")
        .body("{}")
        .send()
        .await?;
    assert_eq!(r.status(), 502);
    api.apply_upload(&req).await?;
    assert_eq!(server.count("ApplyUpload"), 4);
    Ok(())
}

#[tokio::test]
async fn retrying_client_gets_through_a_throttle() -> R {
    let server = MockServer::start().await?;
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload"))
            .times(1)
            .fault(Fault::Throttle),
    );
    let client = server
        .client_builder()
        .with_retry(
            RetryConfig::default()
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(50)),
        )
        .build()?;
    client
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await?;
    assert_eq!(server.count("ApplyUpload"), 2);
    Ok(())
}

#[tokio::test]
async fn drop_connection_mid_body() -> R {
    let server = MockServer::start().await?;
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::PutObject))
            .nth(1)
            .fault(Fault::DropConnection),
    );
    let cos = session(&server).await;
    let body = vec![7u8; 4 << 20];
    let rb = cos.request(
        "PUT",
        "drop",
        &[],
        &[],
        Some(body.clone().into()),
        Some(body.len() as u64),
    );
    let res = rb.send().await;
    match res {
        Err(e) => assert!(!e.is_status(), "{e}"),
        Ok(r) => {
            // Headers may not even arrive; if they do, reading the body must fail.
            let b = r.bytes().await;
            assert!(b.is_err(), "expected a broken connection, got a body");
        }
    }
    assert!(server.object(&cos.bucket, "drop").is_none());
    // The next request is served.
    assert_eq!(cos.put("drop", &body).await.status, 200);

    // VOD too.
    server.add_fault(
        FaultRule::new(Target::AnyVod)
            .nth(1)
            .fault(Fault::DropConnection),
    );
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let e = client
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .unwrap_err();
    assert!(e.code().is_none(), "{e}");
    assert!(e.is_retryable(), "{e}");
    Ok(())
}

#[tokio::test]
async fn delay_then_serve() -> R {
    let server = MockServer::start().await?;
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::HeadObject))
            .fault(Fault::Delay(Duration::from_millis(300))),
    );
    let cos = session(&server).await;
    cos.put("d", b"x").await;
    let t = Instant::now();
    let r = cos.send("HEAD", "d", &[], &[], vec![]).await;
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    Ok(())
}

#[tokio::test]
async fn complete_error_body_and_wrong_crc() -> R {
    let server = MockServer::builder().with_min_part_size(1).start().await?;
    let cos = session(&server).await;
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::CompleteMultipartUpload))
            .nth(1)
            .fault(Fault::CompleteErrorBody),
    );
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .nth(1)
            .fault(Fault::WrongCrc),
    );
    let id = cos.initiate("c").await;
    let r = cos.upload_part("c", &id, 1, b"hello").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        (crc64(b"hello") + 1).to_string()
    );
    let etag = r.header("etag").unwrap();
    let r = cos.complete("c", &id, &[(1, etag.clone())]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(char::is_whitespace));
    assert_eq!(r.code().as_deref(), Some("InternalError"));
    assert!(r.tag("ETag").is_none());
    assert!(server.object(&cos.bucket, "c").is_none());
    // Not completed: the upload is still there and completes now.
    let r = cos.complete("c", &id, &[(1, etag)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.tag("ETag").is_some());
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(b"hello").to_string()
    );
    Ok(())
}

#[tokio::test]
async fn expire_credentials_and_throttle() -> R {
    let server = MockServer::start().await?;
    let cos = session(&server).await;
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::PutObject))
            .nth(2)
            .fault(Fault::ExpireCredentials),
    );
    assert_eq!(cos.put("e", b"1").await.status, 200);
    let r = cos.put("e", b"2").await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("ExpiredToken")));
    let r = cos.put("e", b"3").await;
    assert_eq!(r.code().as_deref(), Some("ExpiredToken"));
    // Other credentials are unaffected; throttling answers 503 SlowDown.
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::PutObject))
            .times(1)
            .fault(Fault::Throttle),
    );
    let other = session(&server).await;
    let r = other.put("e", b"4").await;
    assert_eq!((r.status, r.code().as_deref()), (503, Some("SlowDown")));
    assert_eq!(other.put("e", b"5").await.status, 200);
    Ok(())
}

#[test]
fn fault_rules_parse_from_text() {
    let r: FaultRule = "UploadPart:nth=2:status=503".parse().unwrap();
    assert_eq!(
        r,
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .nth(2)
            .fault(Fault::Status(503))
    );
    assert!("Bogus:status=1".parse::<FaultRule>().is_err());
}
