//! VOD API 3.0 calls end to end against a loopback server that verifies every TC3 / v1 signature.

mod support;

use serde_json::{Value, json};
use support::closed_port::ClosedPort;
use support::loopback_vod::{Canned, Signed, VodServer, apply_upload_response};
use support::{now, retry};
use tencent_vod::__private::v1;
use tencent_vod::error::TransportKind;
use tencent_vod::vod::{
    ApplyUploadRequest, CommitUploadRequest, Language, ParseStreamingManifestRequest,
};
use tencent_vod::{Credential, Error, SignMethod, VodClient, VodClientBuilder};

const SID: &str = "AKIDloopbackSecretId0001";
const SKEY: &str = "loopbackSecretKey0001";

fn builder(server: &VodServer, cred: Credential) -> VodClientBuilder {
    VodClient::builder()
        .with_credential(cred)
        .with_vod_endpoint(server.endpoint())
        .with_region("ap-guangzhou")
        .with_retry(retry(3))
}

fn client(server: &VodServer) -> VodClient {
    builder(server, Credential::new(SID, SKEY))
        .build()
        .expect("client")
}

fn fixture(id: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc-vectors.json");
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("json");
    all["response_fixtures"]
        .as_array()
        .expect("response_fixtures")
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no fixture {id}"))
        .clone()
}

fn fixture_canned(id: &str) -> Canned {
    let f = fixture(id);
    Canned::raw(
        f["http_status"].as_u64().expect("status") as u16,
        "application/json",
        f["body"].to_string(),
    )
}

#[tokio::test]
async fn apply_upload_sends_all_12_fields_and_parses_every_response_field() {
    let server = VodServer::start(
        SID,
        SKEY,
        vec![Canned::ok(apply_upload_response("tmpKey", "tmpToken"))],
    )
    .await;
    let req = ApplyUploadRequest::new("mp4")
        .with_sub_app_id(1500000001)
        .with_media_name("测试视频 a+b/c")
        .with_cover_type("jpg")
        .with_procedure("LongVideoPreset")
        .with_expire_time("2030-01-01T00:00:00Z")
        .with_storage_region("ap-chongqing")
        .with_class_id(7)
        .with_source_context("src-ctx \"quoted\"")
        .with_session_context("session=1&x=2")
        .with_ext_info("ext")
        .with_media_storage_path("/custom/path/f0.mp4");
    let resp = client(&server)
        .api()
        .apply_upload(&req)
        .await
        .expect("apply upload");

    server.assert_all_verified();
    let rx = server.received();
    assert_eq!(rx.len(), 1);
    let r = &rx[0];
    assert_eq!(r.signed, Signed::Tc3);
    assert_eq!(
        r.json(),
        json!({
            "MediaType": "mp4",
            "SubAppId": 1500000001u64,
            "MediaName": "测试视频 a+b/c",
            "CoverType": "jpg",
            "Procedure": "LongVideoPreset",
            "ExpireTime": "2030-01-01T00:00:00Z",
            "StorageRegion": "ap-chongqing",
            "ClassId": 7,
            "SourceContext": "src-ctx \"quoted\"",
            "SessionContext": "session=1&x=2",
            "ExtInfo": "ext",
            "MediaStoragePath": "/custom/path/f0.mp4",
        })
    );
    assert_eq!(r.json().as_object().map(|o| o.len()), Some(12));
    // Non-ASCII travels as raw UTF-8 (the signature covers these exact bytes).
    assert!(
        std::str::from_utf8(&r.body)
            .expect("utf-8")
            .contains("测试视频")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-tc-action"), Some("ApplyUpload"));
    assert_eq!(r.header("x-tc-version"), Some("2018-07-17"));
    let ts: i64 = r
        .header("x-tc-timestamp")
        .expect("timestamp")
        .parse()
        .expect("int");
    assert!((ts - now()).abs() < 600, "timestamp {ts}");
    assert!(
        r.header("authorization")
            .expect("auth")
            .starts_with(&format!("TC3-HMAC-SHA256 Credential={SID}/"))
    );

    assert_eq!(resp.storage_bucket, "vodtest-1250000000");
    assert_eq!(resp.storage_region, "ap-chongqing");
    assert_eq!(resp.vod_session_key, "session-key-0001");
    assert_eq!(resp.media_storage_path, "/dir/media/f0.mp4");
    assert_eq!(
        resp.cover_storage_path.as_deref(),
        Some("/dir/cover/c0.jpg")
    );
    assert_eq!(resp.request_id, "req-apply-0001");
    let cert = resp.temp_certificate.expect("TempCertificate");
    assert_eq!(cert.secret_id, "AKIDtmpSecretId0001");
    assert_eq!(cert.secret_key, "tmpKey");
    assert_eq!(cert.token, "tmpToken");
    assert_eq!(cert.expired_time, 1900000000);
    let c = cert.credential();
    assert_eq!(
        (c.secret_id(), c.secret_key(), c.token()),
        ("AKIDtmpSecretId0001", "tmpKey", Some("tmpToken"))
    );
}

#[tokio::test]
async fn apply_upload_doc_fixtures_parse_including_null_cover_path() {
    let server = VodServer::start(
        SID,
        SKEY,
        vec![
            fixture_canned("vod-applyupload-ok"),
            fixture_canned("vod-applyupload-ok-intl-legacy"),
        ],
    )
    .await;
    let c = client(&server);
    let a = c
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect("first");
    assert_eq!(a.storage_bucket, "xadacq111211-100922");
    assert_eq!(a.cover_storage_path.as_deref(), Some("/dir/cover.xx"));
    assert_eq!(
        a.temp_certificate.as_ref().map(|t| t.expired_time),
        Some(182823331)
    );
    let b = c
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect("second");
    assert_eq!(b.storage_region, "ap-guangzhou-2");
    assert_eq!(b.cover_storage_path, None);
    assert_eq!(
        server.received()[0].json(),
        json!({"MediaType": "mp4"}),
        "absent options are not sent"
    );
    server.assert_all_verified();
}

#[tokio::test]
async fn commit_upload_with_sub_app_id() {
    let server = VodServer::start(SID, SKEY, vec![fixture_canned("vod-commitupload-ok")]).await;
    let resp = client(&server)
        .api()
        .commit_upload(&CommitUploadRequest::new("session-key-0001").with_sub_app_id(1500000001))
        .await
        .expect("commit");
    assert_eq!(resp.file_id, "24820810452266399");
    assert_eq!(
        resp.media_url.as_deref(),
        Some("http://example.com/6c0f1c00vodgzp251000333/dee2125c24820810452266399/f0.mp4")
    );
    assert!(
        resp.cover_url
            .as_deref()
            .is_some_and(|u| u.ends_with(".jpg"))
    );
    assert_eq!(resp.request_id, "requestId");
    server.assert_all_verified();
    let r = &server.received()[0];
    assert_eq!(r.header("x-tc-action"), Some("CommitUpload"));
    assert_eq!(
        r.json(),
        json!({"VodSessionKey": "session-key-0001", "SubAppId": 1500000001u64})
    );
}

#[tokio::test]
async fn parse_streaming_manifest() {
    let f = fixture("vod-parsestreamingmanifest-ok");
    let content = f["request_body"]["MediaManifestContent"]
        .as_str()
        .expect("content")
        .to_string();
    let server = VodServer::start(
        SID,
        SKEY,
        vec![fixture_canned("vod-parsestreamingmanifest-ok")],
    )
    .await;
    let resp = client(&server)
        .api()
        .parse_streaming_manifest(
            &ParseStreamingManifestRequest::new(content.clone()).with_manifest_type("m3u8"),
        )
        .await
        .expect("parse manifest");
    assert_eq!(resp.media_segment_set, vec!["first.ts", "second.ts"]);
    assert_eq!(resp.request_id, "requestId");
    server.assert_all_verified();
    let r = &server.received()[0];
    assert_eq!(r.header("x-tc-action"), Some("ParseStreamingManifest"));
    assert_eq!(
        r.json(),
        json!({"MediaManifestContent": content, "ManifestType": "m3u8"})
    );
}

struct InvalidCase {
    name: &'static str,
    answer: Canned,
    max_retries: u32,
    status: u16,
    /// A word the reason (and so the Display text) contains.
    reason: &'static str,
    /// A word the body excerpt keeps, when the case checks it.
    excerpt: Option<&'static str>,
    /// A secret in the body that must appear in neither the excerpt, Display nor Debug.
    secret: Option<&'static str>,
    request_id: Option<&'static str>,
    /// A 5xx is transient: retried, then given up with the attempts recorded.
    retryable: bool,
    /// Requests the server received, also the attempts the error records.
    requests: usize,
}

/// Answers the SDK cannot use (a required field missing, an HTML gateway page, a truncated body) are
/// `InvalidResponse` errors naming the operation, status and reason, with a redacted excerpt of the body.
#[tokio::test]
async fn unusable_answers_are_invalid_response_errors_with_redacted_excerpts() {
    let mut no_bucket = apply_upload_response("k", "t");
    no_bucket
        .as_object_mut()
        .expect("object")
        .remove("StorageBucket");
    let cases = vec![
        InvalidCase {
            name: "missing required field is named",
            answer: Canned::ok(no_bucket),
            max_retries: 3,
            status: 200,
            reason: "StorageBucket",
            excerpt: None,
            secret: None,
            request_id: Some("req-apply-0001"),
            retryable: false,
            requests: 1,
        },
        InvalidCase {
            name: "html 502 keeps the status and is retried",
            answer: Canned::raw(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>\
                 <p>Token=leakyGatewayToken123</p></body></html>",
            ),
            max_retries: 1,
            status: 502,
            reason: "not JSON",
            excerpt: Some("Bad Gateway"),
            secret: Some("leakyGatewayToken123"),
            request_id: None,
            retryable: true,
            requests: 2,
        },
        InvalidCase {
            name: "truncated json with a secret is redacted and, as a 200, not retried",
            answer: Canned::raw(
                200,
                "application/json",
                r#"{"Response":{"StorageBucket":"vodtest-1250000000","TempCertificate":{"SecretId":"AKIDtmp","SecretKey":"truncatedTmpSecretKey"#,
            ),
            max_retries: 3,
            status: 200,
            reason: "truncated",
            excerpt: Some("StorageBucket"),
            secret: Some("truncatedTmpSecretKey"),
            request_id: None,
            retryable: false,
            requests: 1,
        },
    ];
    for case in cases {
        let name = case.name;
        let server = VodServer::start(SID, SKEY, vec![case.answer]).await;
        let e = builder(&server, Credential::new(SID, SKEY))
            .with_retry(retry(case.max_retries))
            .build()
            .expect("client")
            .api()
            .apply_upload(&ApplyUploadRequest::new("mp4"))
            .await
            .expect_err(name);
        let Error::InvalidResponse(r) = &e else {
            panic!("{name}: expected InvalidResponse, got {e:?}")
        };
        assert_eq!(r.operation, "ApplyUpload", "{name}");
        assert_eq!(r.status, case.status, "{name}");
        assert_eq!(e.http_status(), Some(case.status), "{name}");
        assert!(r.reason.contains(case.reason), "{name}: {}", r.reason);
        assert_eq!(r.request_id.as_deref(), case.request_id, "{name}");
        if let Some(word) = case.excerpt {
            assert!(r.excerpt.contains(word), "{name}: {}", r.excerpt);
        }
        let shown = e.to_string();
        let status = format!("HTTP {}", case.status);
        for part in ["ApplyUpload", status.as_str(), case.reason] {
            assert!(shown.contains(part), "{name}: {part:?} not in {shown}");
        }
        if let Some(secret) = case.secret {
            assert!(!r.excerpt.contains(secret), "{name}: {}", r.excerpt);
            assert!(!format!("{e} {e:?}").contains(secret), "{name}: {e:?}");
        }
        assert_eq!(e.is_retryable(), case.retryable, "{name}: retryable");
        assert_eq!(e.attempts() as usize, case.requests, "{name}: attempts");
        assert_eq!(server.count(), case.requests, "{name}: requests");
    }
}

/// Which call a retry case makes: ApplyUpload (idempotent) with this media type, or CommitUpload (not idempotent).
#[derive(Clone, Copy, Debug)]
enum Call {
    Apply(&'static str),
    Commit,
}

/// The `Response.Error` a retry case's call ends with.
struct VodFailure {
    action: &'static str,
    code: &'static str,
    /// How the error message starts.
    message: &'static str,
    request_id: &'static str,
    retryable: bool,
    outcome_unknown: bool,
}

struct RetryCase {
    name: &'static str,
    script: Vec<Canned>,
    max_retries: u32,
    call: Call,
    /// Requests the server received (for a failed call, also the attempts the error records).
    requests: usize,
    /// Retries the policy's counter recorded.
    retries: u64,
    /// `None`: the call succeeds (after `requests` attempts).
    fails: Option<VodFailure>,
}

/// VOD error answers: which are retried (throttling, server errors, a clock-skew refusal once), which are not
/// (authentication, parameters, a non-idempotent CommitUpload whose outcome is unknown), and what the error
/// records (action, code, message, request id, attempts, elapsed time). Every attempt is signed afresh.
#[tokio::test]
async fn vod_error_answers_are_retried_only_when_safe() {
    let cases = vec![
        RetryCase {
            name: "auth failure from the doc fixture is not retried",
            script: vec![fixture_canned("api3-error-envelope")],
            max_retries: 3,
            call: Call::Apply("mp4"),
            requests: 1,
            retries: 0,
            fails: Some(VodFailure {
                action: "ApplyUpload",
                code: "AuthFailure.SignatureFailure",
                message: "The provided credentials",
                request_id: "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6",
                retryable: false,
                outcome_unknown: false,
            }),
        },
        RetryCase {
            name: "throttling is retried then succeeds",
            script: vec![
                Canned::error("RequestLimitExceeded", "slow down", "r1"),
                Canned::error("RequestLimitExceeded.UinLimitExceeded", "slow down", "r2"),
                Canned::ok(apply_upload_response("k", "t")),
            ],
            max_retries: 3,
            call: Call::Apply("mp4"),
            requests: 3,
            retries: 2,
            fails: None,
        },
        RetryCase {
            name: "internal error exhausts the retries of idempotent ApplyUpload",
            script: vec![Canned::error("InternalError", "oops", "r-int")],
            max_retries: 2,
            call: Call::Apply("mp4"),
            requests: 3,
            retries: 2,
            fails: Some(VodFailure {
                action: "ApplyUpload",
                code: "InternalError",
                message: "oops",
                request_id: "r-int",
                retryable: true,
                outcome_unknown: true,
            }),
        },
        RetryCase {
            // CommitUpload is not idempotent: an InternalError may have been processed, so it is not repeated.
            name: "internal error of CommitUpload is not repeated",
            script: vec![Canned::error("InternalError", "oops", "r-int")],
            max_retries: 2,
            call: Call::Commit,
            requests: 1,
            retries: 0,
            fails: Some(VodFailure {
                action: "CommitUpload",
                code: "InternalError",
                message: "oops",
                request_id: "r-int",
                retryable: true,
                outcome_unknown: true,
            }),
        },
        RetryCase {
            name: "signature expire is retried exactly once",
            script: vec![Canned::error(
                "AuthFailure.SignatureExpire",
                "expired",
                "r-exp",
            )],
            max_retries: 3,
            call: Call::Apply("mp4"),
            requests: 2,
            retries: 1,
            fails: Some(VodFailure {
                action: "ApplyUpload",
                code: "AuthFailure.SignatureExpire",
                message: "expired",
                request_id: "r-exp",
                retryable: false,
                outcome_unknown: false,
            }),
        },
        RetryCase {
            name: "signature expire then a re-signed attempt succeeds",
            script: vec![
                Canned::error("AuthFailure.SignatureExpire", "expired", "r-exp"),
                Canned::ok(apply_upload_response("k", "t")),
            ],
            max_retries: 3,
            call: Call::Apply("mp4"),
            requests: 2,
            retries: 1,
            fails: None,
        },
        RetryCase {
            name: "a non-retryable parameter code is not retried",
            script: vec![Canned::error(
                "InvalidParameterValue.MediaType",
                "bad media type",
                "r-bad",
            )],
            max_retries: 3,
            call: Call::Apply("exe"),
            requests: 1,
            retries: 0,
            fails: Some(VodFailure {
                action: "ApplyUpload",
                code: "InvalidParameterValue.MediaType",
                message: "bad media type",
                request_id: "r-bad",
                retryable: false,
                outcome_unknown: false,
            }),
        },
    ];
    for case in cases {
        let name = case.name;
        let server = VodServer::start(SID, SKEY, case.script).await;
        let retry = retry(case.max_retries);
        let counter = retry.counter().clone();
        let c = builder(&server, Credential::new(SID, SKEY))
            .with_retry(retry)
            .build()
            .expect("client");
        let result = match case.call {
            Call::Apply(media_type) => c
                .api()
                .apply_upload(&ApplyUploadRequest::new(media_type))
                .await
                .map(|resp| assert_eq!(resp.storage_bucket, "vodtest-1250000000", "{name}")),
            Call::Commit => c
                .api()
                .commit_upload(&CommitUploadRequest::new("k"))
                .await
                .map(|_| ()),
        };
        assert_eq!(server.count(), case.requests, "{name}: requests");
        assert_eq!(counter.get(), case.retries, "{name}: retries counted");
        // Every attempt was signed afresh and verified.
        for (i, r) in server.received().iter().enumerate() {
            assert!(r.verified.is_ok(), "{name}: request {i}: {:?}", r.verified);
        }
        match (case.fails, result) {
            (None, Ok(())) => {}
            (None, Err(e)) => panic!("{name}: expected success, got {e:?}"),
            (Some(_), Ok(())) => panic!("{name}: expected an error, the call succeeded"),
            (Some(f), Err(e)) => {
                let Error::Vod(v) = &e else {
                    panic!("{name}: expected Error::Vod, got {e:?}")
                };
                assert_eq!(v.action, f.action, "{name}");
                assert_eq!(v.code, f.code, "{name}");
                assert!(v.message.starts_with(f.message), "{name}: {}", v.message);
                assert_eq!(v.request_id.as_deref(), Some(f.request_id), "{name}");
                assert_eq!(v.http_status, 200, "{name}");
                assert_eq!(e.code(), Some(f.code), "{name}");
                assert_eq!(e.request_id(), Some(f.request_id), "{name}");
                assert_eq!(e.attempts() as usize, case.requests, "{name}: attempts");
                assert_eq!(e.is_retryable(), f.retryable, "{name}: retryable");
                assert_eq!(
                    e.is_outcome_unknown(),
                    f.outcome_unknown,
                    "{name}: outcome unknown"
                );
                assert!(e.elapsed().is_some(), "{name}: elapsed");
                let shown = e.to_string();
                let attempts = format!("after {} attempt(s)", case.requests);
                for part in [f.action, f.code, f.request_id, attempts.as_str()] {
                    assert!(shown.contains(part), "{name}: {part:?} not in {shown}");
                }
            }
        }
    }
}

#[test]
fn a_closed_port_refuses_connections_while_held() {
    let closed = ClosedPort::new();
    assert!(closed.addr().ip().is_loopback());
    assert_eq!(
        closed.url("/x"),
        format!("http://127.0.0.1:{}/x", closed.port())
    );
    for _ in 0..3 {
        let e = std::net::TcpStream::connect(closed.addr()).expect_err("nothing listens");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    }
    let e = std::net::TcpListener::bind(closed.addr()).expect_err("the port is held");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
    let others: Vec<std::net::TcpListener> = (0..64)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    for l in &others {
        assert_ne!(l.local_addr().unwrap(), closed.addr());
    }
    let e = std::net::TcpStream::connect(closed.addr()).expect_err("still refused");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    let closed = ClosedPort::new();
    let c = VodClient::builder()
        .with_credential(Credential::new(SID, SKEY))
        .with_vod_endpoint(closed.url(""))
        .with_retry(retry(1))
        .with_region("ap-guangzhou")
        .build()
        .expect("client");
    let e = c
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect_err("refused");
    let Error::Transport(t) = &e else {
        panic!("expected Transport, got {e:?}")
    };
    assert_eq!(t.kind, TransportKind::Connect);
    assert_eq!(t.operation, "ApplyUpload");
    assert!(e.is_retryable());
    assert_eq!(e.attempts(), 2);
}

#[tokio::test]
async fn token_is_sent_as_x_tc_token_but_not_signed() {
    let server =
        VodServer::start(SID, SKEY, vec![Canned::ok(apply_upload_response("k", "t"))]).await;
    let with_token = builder(
        &server,
        Credential::new(SID, SKEY).with_token("sts-session-token"),
    )
    .build()
    .expect("client");
    with_token
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect("with token");
    client(&server)
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect("without token");
    // The server recomputed both signatures from the signed headers alone: the token is not part of them.
    server.assert_all_verified();
    let rx = server.received();
    assert_eq!(rx[0].header("x-tc-token"), Some("sts-session-token"));
    assert!(!rx[0].signed_headers.iter().any(|h| h == "x-tc-token"));
    assert_eq!(rx[1].header("x-tc-token"), None);
    assert_eq!(rx[0].signed_headers, rx[1].signed_headers);
}

#[tokio::test]
async fn region_and_language_headers() {
    let server =
        VodServer::start(SID, SKEY, vec![Canned::ok(apply_upload_response("k", "t"))]).await;
    builder(&server, Credential::new(SID, SKEY))
        .with_region("ap-chongqing")
        .with_language(Language::EnUs)
        .build()
        .expect("client")
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect("call");
    // Without a region: sent without X-TC-Region (ApplyUpload and CommitUpload would refuse to be sent).
    VodClient::builder()
        .with_credential(Credential::new(SID, SKEY))
        .with_vod_endpoint(server.endpoint())
        .with_language(Language::ZhCn)
        .build()
        .expect("client")
        .api()
        .parse_streaming_manifest(&ParseStreamingManifestRequest::new("#EXTM3U\n"))
        .await
        .expect("call");
    server.assert_all_verified();
    let rx = server.received();
    assert_eq!(rx[0].header("x-tc-region"), Some("ap-chongqing"));
    assert_eq!(rx[0].header("x-tc-language"), Some("en-US"));
    assert_eq!(rx[1].header("x-tc-region"), None, "no region configured");
    assert_eq!(rx[1].header("x-tc-language"), Some("zh-CN"));
}

#[tokio::test]
async fn v1_hmac_sha1_and_sha256_end_to_end() {
    for (method, alg) in [
        (SignMethod::HmacSha1, v1::Algorithm::HmacSha1),
        (SignMethod::HmacSha256, v1::Algorithm::HmacSha256),
    ] {
        let server =
            VodServer::start(SID, SKEY, vec![Canned::ok(apply_upload_response("k", "t"))]).await;
        let c = builder(&server, Credential::new(SID, SKEY).with_token("v1-token"))
            .with_sign_method(method)
            .with_language(Language::EnUs)
            .build()
            .expect("client");
        let resp = c
            .api()
            .apply_upload(
                &ApplyUploadRequest::new("mp4")
                    .with_media_name("测试 a+b=c&d")
                    .with_sub_app_id(1500000001)
                    .with_class_id(0),
            )
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(resp.vod_session_key, "session-key-0001");
        server.assert_all_verified();
        let r = &server.received()[0];
        assert_eq!(r.signed, Signed::V1(alg), "{method}");
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.header("authorization"), None);
        assert_eq!(r.param("Action"), Some("ApplyUpload"));
        assert_eq!(r.param("Version"), Some("2018-07-17"));
        assert_eq!(r.param("SignatureMethod"), Some(alg.as_str()));
        assert_eq!(r.param("SecretId"), Some(SID));
        assert_eq!(r.param("Region"), Some("ap-guangzhou"));
        assert_eq!(r.param("Language"), Some("en-US"));
        assert_eq!(r.param("Token"), Some("v1-token"));
        assert_eq!(r.param("MediaType"), Some("mp4"));
        assert_eq!(r.param("MediaName"), Some("测试 a+b=c&d"));
        assert_eq!(r.param("SubAppId"), Some("1500000001"));
        assert_eq!(r.param("ClassId"), Some("0"));
        let ts: i64 = r.param("Timestamp").expect("ts").parse().expect("int");
        assert!((ts - now()).abs() < 600);
        assert!(
            r.param("Nonce")
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        );
        // Values are RFC 3986 encoded on the wire (space as %20, never '+').
        let body = std::str::from_utf8(&r.body).expect("ascii body");
        assert!(
            body.contains("MediaName=%E6%B5%8B%E8%AF%95%20a%2Bb%3Dc%26d"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn v1_wrong_key_is_rejected_by_the_server() {
    // The verifier is real: a client with another key fails verification and gets AuthFailure.SignatureFailure.
    let server =
        VodServer::start(SID, SKEY, vec![Canned::ok(apply_upload_response("k", "t"))]).await;
    for method in [SignMethod::HmacSha256, SignMethod::Tc3HmacSha256] {
        let e = builder(&server, Credential::new(SID, "not-the-key"))
            .with_sign_method(method)
            .build()
            .expect("client")
            .api()
            .apply_upload(&ApplyUploadRequest::new("mp4"))
            .await
            .expect_err("wrong key");
        assert_eq!(e.code(), Some("AuthFailure.SignatureFailure"), "{method}");
    }
    assert!(server.received().iter().all(|r| r.verified.is_err()));
}

#[tokio::test]
async fn endpoint_override_with_port_signs_host_with_port() {
    let server =
        VodServer::start(SID, SKEY, vec![Canned::ok(apply_upload_response("k", "t"))]).await;
    let c = client(&server);
    assert_eq!(
        c.api().endpoint().port(),
        Some(server.addr.port()),
        "endpoint kept the port"
    );
    c.api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .expect("call");
    server.assert_all_verified();
    let r = &server.received()[0];
    assert_eq!(
        r.header("host"),
        Some(format!("127.0.0.1:{}", server.addr.port()).as_str())
    );
    assert!(r.signed_headers.iter().any(|h| h == "host"));
}
