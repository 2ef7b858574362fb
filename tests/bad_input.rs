//! Bad input matrix: every case must end in a typed error (the variant is asserted) whose message names the
//! culprit, never a panic or a hang. Local mistakes must be caught before any request; malformed, truncated, HTML,
//! huge or incomplete responses from VOD and COS (served by a tiny scripted axum server) must become
//! `InvalidResponse` / `Cos` / `Vod` errors, and nothing may be committed.

mod support;

use support::*;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tencent_vod::__private::PartPlan;
use tencent_vod::TransferConfig;
use tencent_vod::{Credential, Error, UploadRequest, VodClient};
use tencent_vod_mock::MockServer;

const TIB: u64 = 1 << 40;

/// A mock plus a client; every local-input case asserts the mock saw no request at all.
struct Local {
    server: MockServer,
    client: VodClient,
    dir: tempfile::TempDir,
}

impl Local {
    async fn new() -> Self {
        let server = MockServer::builder()
            .with_min_part_size(64 * 1024)
            .start()
            .await
            .unwrap();
        let client = server
            .client_builder()
            .with_transfer_config(parts_of(MIB))
            .with_retry(retry(3))
            .build()
            .unwrap();
        Local {
            server,
            client,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        write(self.dir.path(), name, bytes)
    }

    /// Runs the upload, expects an error, and checks no request reached the server.
    async fn reject(&self, req: UploadRequest) -> Error {
        let r = tokio::time::timeout(Duration::from_secs(60), self.client.upload(req))
            .await
            .expect("no hang");
        let e = match r {
            Ok(out) => panic!("expected an error, got {out:?}"),
            Err(e) => e,
        };
        assert!(
            self.server.stats().counts.is_empty(),
            "a request was made before the local check failed ({e}): {:?}",
            self.server.stats().counts
        );
        e
    }
}

fn assert_invalid(e: &Error, field_has: &str, msg_has: &[&str]) {
    match e {
        Error::InvalidInput { field, .. } => {
            assert!(
                field.contains(field_has),
                "field {field:?} lacks {field_has:?}: {e}"
            )
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let s = e.to_string();
    for m in msg_has {
        assert!(s.contains(m), "{s:?} lacks {m:?}");
    }
}

fn assert_manifest(e: &Error, segment: &str, reason_has: &str) {
    match e {
        Error::Manifest {
            segment: Some(s),
            reason,
            ..
        } => {
            assert_eq!(s, segment, "{e}");
            assert!(
                reason.contains(reason_has),
                "{reason:?} lacks {reason_has:?}"
            );
        }
        other => panic!("expected Manifest with a segment, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Local files
// ---------------------------------------------------------------------------------------------------------------

/// A media or cover file that does not exist: `Io` with its path, named in the message.
#[tokio::test]
async fn missing_media_or_cover_file() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"data");
    let (missing_media, missing_cover) = (t.path("does-not-exist.mp4"), t.path("nope.jpg"));
    let cases = [
        (
            UploadRequest::from_path(&missing_media),
            &missing_media,
            "does-not-exist.mp4",
        ),
        (
            UploadRequest::from_path(&m).with_cover_path(&missing_cover),
            &missing_cover,
            "cover",
        ),
    ];
    for (request, missing, word) in cases {
        let e = t.reject(request).await;
        assert!(
            matches!(&e, Error::Io { path, .. } if path == missing),
            "{e:?}"
        );
        assert!(e.to_string().contains(word), "{e}");
    }
}

/// Media and cover problems found before any request: `InvalidInput` naming the field (and the file).
#[tokio::test]
async fn invalid_media_and_cover_inputs() {
    let t = Local::new().await;
    let dir = t.path("dir.mp4");
    std::fs::create_dir(&dir).unwrap();
    let ok = t.file("a.mp4", b"bytes");
    let req = |p: PathBuf| UploadRequest::from_path(p);
    // (what, request, field, words the message must contain)
    let cases: Vec<(&str, UploadRequest, &str, Vec<&str>)> = vec![
        (
            "a directory as media",
            req(dir.clone()),
            "media",
            vec!["dir.mp4", "directory"],
        ),
        (
            "an empty media file",
            req(t.file("empty.mp4", b"")),
            "empty.mp4",
            vec!["empty", "0 bytes"],
        ),
        (
            "empty media bytes",
            UploadRequest::from_bytes(Vec::new(), "mp4"),
            "media",
            vec!["0 bytes"],
        ),
        (
            "an empty cover file",
            req(ok.clone()).with_cover_path(t.file("blank.png", b"")),
            "cover",
            vec!["blank.png", "0 bytes"],
        ),
        (
            "no extension and no type",
            req(t.file("README", b"bytes")),
            "media_type",
            vec!["README", "no extension"],
        ),
        (
            "an unsupported extension",
            req(t.file("setup.exe", b"MZ")),
            "media_type",
            vec!["setup.exe", "\"exe\""],
        ),
        (
            "an unsupported explicit type",
            req(ok.clone()).with_media_type("docx"),
            "media_type",
            vec!["\"docx\""],
        ),
        (
            "bytes without a media type",
            UploadRequest::from_bytes(b"abc".to_vec(), ""),
            "media_type",
            vec!["bytes"],
        ),
        (
            "cover bytes without a type",
            req(ok.clone()).with_cover_bytes(b"img".to_vec(), ""),
            "cover_type",
            vec!["infer"],
        ),
        (
            "a cover path without extension",
            req(ok.clone()).with_cover_path(t.file("poster", b"img")),
            "cover_type",
            vec!["poster"],
        ),
        (
            "an unsupported cover type",
            req(ok.clone()).with_cover_path(t.file("notes.txt", b"img")),
            "cover_type",
            vec!["notes.txt", "\"txt\""],
        ),
        (
            "a cover type without a cover",
            req(ok.clone()).with_cover_type("jpg"),
            "cover_type",
            vec!["no cover"],
        ),
    ];
    for (what, request, field, words) in cases {
        eprintln!("case: {what}");
        let e = t.reject(request).await;
        assert_invalid(&e, field, &words);
    }
}

#[tokio::test]
async fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let t = Local::new().await;
    let p = t.file("secret.mp4", b"bytes");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_ok() {
        // Running as root (or with CAP_DAC_OVERRIDE): permissions do not stop us, nothing to test.
        eprintln!("skipped: the file is readable despite mode 000 (running as root?)");
        return;
    }
    let e = t.reject(UploadRequest::from_path(&p)).await;
    match &e {
        Error::Io { path, source, .. } => {
            assert_eq!(path, &p);
            assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(e.to_string().contains("secret.mp4"), "{e}");
}

#[tokio::test]
async fn no_extension_and_no_type() {
    let t = Local::new().await;
    let p = t.file("README", b"bytes");
    let e = t.reject(UploadRequest::from_path(&p)).await;
    assert_invalid(&e, "media_type", &["README", "no extension"]);
}

#[tokio::test]
async fn unsupported_extension() {
    let t = Local::new().await;
    let p = t.file("setup.exe", b"MZ");
    let e = t.reject(UploadRequest::from_path(&p)).await;
    assert_invalid(&e, "media_type", &["setup.exe", "\"exe\""]);
}

#[tokio::test]
async fn unsupported_explicit_type() {
    let t = Local::new().await;
    let p = t.file("clip.mp4", b"bytes");
    let e = t
        .reject(UploadRequest::from_path(&p).with_media_type("docx"))
        .await;
    assert_invalid(&e, "media_type", &["\"docx\""]);
}

#[tokio::test]
async fn bytes_without_media_type() {
    let t = Local::new().await;
    let e = t
        .reject(UploadRequest::from_bytes(b"abc".to_vec(), ""))
        .await;
    assert_invalid(&e, "media_type", &["bytes"]);
}

#[tokio::test]
async fn cover_without_type() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let e = t
        .reject(UploadRequest::from_path(&m).with_cover_bytes(b"img".to_vec(), ""))
        .await;
    assert_invalid(&e, "cover_type", &["infer"]);
}

#[tokio::test]
async fn cover_path_without_extension() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let c = t.file("poster", b"img");
    let e = t
        .reject(UploadRequest::from_path(&m).with_cover_path(&c))
        .await;
    assert_invalid(&e, "cover_type", &["poster"]);
}

#[tokio::test]
async fn unsupported_cover_type() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let c = t.file("notes.txt", b"img");
    let e = t
        .reject(UploadRequest::from_path(&m).with_cover_path(&c))
        .await;
    assert_invalid(&e, "cover_type", &["notes.txt", "\"txt\""]);
}

#[tokio::test]
async fn cover_type_without_cover() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let e = t
        .reject(UploadRequest::from_path(&m).with_cover_type("jpg"))
        .await;
    assert_invalid(&e, "cover_type", &["no cover"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------------------------

const SEG: &[u8] = b"\x47segment";

#[tokio::test]
async fn manifest_with_missing_segment() {
    let t = Local::new().await;
    t.file("hls/seg0.ts", SEG);
    let m = t.file(
        "hls/index.m3u8",
        b"#EXTM3U\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nseg1.ts\n#EXT-X-ENDLIST\n",
    );
    let e = t.reject(UploadRequest::from_path(&m)).await;
    assert_manifest(&e, "seg1.ts", "missing");
    assert!(e.to_string().contains("index.m3u8"), "{e}");
}

#[tokio::test]
async fn manifest_with_absolute_segment() {
    let t = Local::new().await;
    let seg = t.file("abs/seg0.ts", SEG);
    let body = format!("#EXTM3U\n#EXTINF:4,\n{}\n", seg.display());
    let m = t.file("abs/index.m3u8", body.as_bytes());
    let e = t.reject(UploadRequest::from_path(&m)).await;
    assert_manifest(&e, &seg.display().to_string(), "absolute");
}

#[tokio::test]
async fn manifest_with_url_segment() {
    let t = Local::new().await;
    let m = t.file(
        "url/index.m3u8",
        b"#EXTM3U\n#EXTINF:4,\nhttps://cdn.example.com/seg0.ts\n",
    );
    let e = t.reject(UploadRequest::from_path(&m)).await;
    assert_manifest(&e, "https://cdn.example.com/seg0.ts", "URL");
}

#[tokio::test]
async fn manifest_segment_escaping_its_directory() {
    let t = Local::new().await;
    t.file("outside.ts", SEG);
    let m = t.file("esc/index.m3u8", b"#EXTM3U\n#EXTINF:4,\n../outside.ts\n");
    let e = t.reject(UploadRequest::from_path(&m)).await;
    assert_manifest(&e, "../outside.ts", "leaves");
}

#[tokio::test]
async fn manifest_loop() {
    let t = Local::new().await;
    t.file(
        "loop/a.m3u8",
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb.m3u8\n",
    );
    t.file(
        "loop/b.m3u8",
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
    );
    let e = t
        .reject(UploadRequest::from_path(t.path("loop/a.m3u8")))
        .await;
    assert_manifest(&e, "a.m3u8", "loop");
}

#[tokio::test]
async fn manifest_from_bytes_is_refused() {
    let t = Local::new().await;
    let e = t
        .reject(UploadRequest::from_bytes(
            b"#EXTM3U\nseg.ts\n".to_vec(),
            "m3u8",
        ))
        .await;
    assert_invalid(&e, "media", &["manifest", "file path"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Transfer settings and sizes
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_transfer_settings_are_refused_per_request_and_on_the_client() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let six_gib: u64 = 6 << 30;
    let six = six_gib.to_string();
    let d = TransferConfig::default;
    let cases: Vec<(TransferConfig, &str, Vec<&str>)> = vec![
        (d().with_concurrency(0), "concurrency", vec!["at least 1"]),
        (
            d().with_concurrency(1025),
            "concurrency",
            vec!["1025", "at most 1024"],
        ),
        (
            d().with_part_size(1000),
            "part_size",
            vec!["1000 bytes", "1 MiB"],
        ),
        (
            d().with_part_size(six_gib),
            "part_size",
            vec![&six, "5 GiB"],
        ),
        (
            d().with_multipart_threshold(six_gib),
            "multipart_threshold",
            vec![&six, "5 GiB"],
        ),
        (
            d().with_chunk_size(100),
            "chunk_size",
            vec!["100 bytes", "4 KiB"],
        ),
    ];
    for (config, field, words) in cases {
        let e = t
            .reject(UploadRequest::from_path(&m).with_transfer_config(config.clone()))
            .await;
        assert_invalid(&e, field, &words);
        let e = VodClient::builder()
            .with_credential(Credential::new("AKIDx", "k"))
            .with_transfer_config(config)
            .build()
            .unwrap_err();
        assert_invalid(&e, field, &words);
    }
}

#[tokio::test]
async fn a_checkpoint_key_without_a_store_is_refused() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let e = t
        .reject(UploadRequest::from_path(&m).with_checkpoint_key("job-1"))
        .await;
    assert_invalid(&e, "checkpoint_key", &["job-1", "with_checkpoint"]);
}

#[tokio::test]
async fn object_too_large_for_cos() {
    // 60 TiB from a reader of known length: beyond 10,000 parts of the largest part size (48.82 TiB).
    let t = Local::new().await;
    let size = 60 * TIB;
    let e = t
        .reject(UploadRequest::from_reader(
            tokio::io::empty(),
            Some(size),
            "mp4",
        ))
        .await;
    assert_invalid(&e, "media", &[&size.to_string(), "48.82 TiB"]);

    // The same limit through the planner directly, and a sparse file where the filesystem allows one.
    let e = PartPlan::new(size, &TransferConfig::default()).unwrap_err();
    assert_invalid(&e, "size", &["48.82 TiB"]);
    let sparse = t.path("huge.mp4");
    let f = std::fs::File::create(&sparse).unwrap();
    if f.set_len(50 * TIB).is_ok() {
        let e = t.reject(UploadRequest::from_path(&sparse)).await;
        assert_invalid(&e, "huge.mp4", &["48.82 TiB"]);
    }
}

#[tokio::test]
async fn too_many_parts_is_avoided_by_raising_the_part_size() {
    // Not an error: 100 GiB at 1 MiB parts would be 102,400 parts; the planner raises the part size instead.
    let cfg = TransferConfig::default().with_part_size(MIB);
    match PartPlan::new(100 << 30, &cfg).unwrap() {
        PartPlan::Multipart {
            parts, part_size, ..
        } => {
            assert!(parts <= 10_000);
            assert!(part_size * u64::from(parts) >= 100 << 30);
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// ApplyUpload fields
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn apply_fields_out_of_range() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    let e = t
        .reject(UploadRequest::from_path(&m).with_source_context("x".repeat(251)))
        .await;
    assert_invalid(&e, "source_context", &["251"]);
    let e = t
        .reject(UploadRequest::from_path(&m).with_session_context("y".repeat(1001)))
        .await;
    assert_invalid(&e, "session_context", &["1001"]);
    let e = t
        .reject(UploadRequest::from_path(&m).with_expire_time("next tuesday"))
        .await;
    assert_invalid(&e, "expire_time", &["next tuesday"]);
    let e = t
        .reject(UploadRequest::from_path(&m).with_media_storage_path("no/slash.mp4"))
        .await;
    assert_invalid(&e, "media_storage_path", &["no/slash.mp4", "'/'"]);
    let e = t
        .reject(UploadRequest::from_path(&m).with_storage_region("Mars Base 1"))
        .await;
    assert_invalid(&e, "storage_region", &["Mars Base 1"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Client configuration
// ---------------------------------------------------------------------------------------------------------------

fn builder() -> tencent_vod::VodClientBuilder {
    VodClient::builder().with_credential(Credential::new("AKIDx", "k"))
}

#[test]
fn invalid_region() {
    let e = builder().with_region("AP GZ").build().unwrap_err();
    assert_invalid(&e, "region", &["AP GZ"]);
}

#[test]
fn invalid_endpoints() {
    let e = builder()
        .with_vod_endpoint("ftp://vod")
        .build()
        .unwrap_err();
    assert_invalid(&e, "vod_endpoint", &["ftp://vod", "scheme"]);
    let e = builder().with_vod_endpoint("http://").build().unwrap_err();
    assert_invalid(&e, "vod_endpoint", &[]);
    let e = builder()
        .with_vod_endpoint("https://vod.example.com/?x=1")
        .build()
        .unwrap_err();
    assert_invalid(&e, "vod_endpoint", &["query"]);
    let e = builder()
        .with_cos_endpoint("not a url at all")
        .build()
        .unwrap_err();
    assert_invalid(&e, "cos_endpoint", &["not a url at all"]);
}

#[test]
fn zero_timeouts() {
    let e = builder()
        .with_read_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_invalid(&e, "read_timeout", &["greater than zero"]);
    let e = builder()
        .with_connect_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_invalid(&e, "connect_timeout", &[]);
}

#[tokio::test]
async fn missing_credentials() {
    let t = Local::new().await;
    let m = t.file("a.mp4", b"bytes");
    for (cred, which) in [
        (Credential::new("", "key"), "secret id"),
        (Credential::new("AKIDx", "  "), "secret key"),
    ] {
        let client = t
            .server
            .client_builder()
            .with_credential(cred)
            .with_retry(retry(3))
            .build()
            .unwrap();
        let e = client
            .upload(UploadRequest::from_path(&m))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Credentials(s) if s.contains(which)),
            "{e:?}"
        );
        assert!(!e.is_retryable());
    }
    assert_eq!(t.server.count("ApplyUpload"), 0, "nothing was sent");
}

// ---------------------------------------------------------------------------------------------------------------
// A scripted server for malformed responses
// ---------------------------------------------------------------------------------------------------------------

/// One request as the scripted server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    /// `X-TC-Action` (VOD) if present.
    action: String,
}

/// A canned response.
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: axum::body::Body,
}

fn canned(status: u16, body: impl Into<axum::body::Body>) -> Canned {
    Canned {
        status,
        headers: vec![],
        body: body.into(),
    }
}

type Script = Arc<dyn Fn(&Seen) -> Canned + Send + Sync>;

struct Scripted {
    endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    async fn start(script: Script) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let script = script.clone();
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                // Read the request body so the client is never stuck writing it.
                let _ = axum::body::to_bytes(body, usize::MAX).await;
                let s = Seen {
                    method: parts.method.to_string(),
                    target: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    action: parts
                        .headers
                        .get("x-tc-action")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string(),
                };
                log.lock().unwrap().push(s.clone());
                let c = script(&s);
                let mut b = axum::http::Response::builder().status(c.status);
                for (k, v) in c.headers {
                    b = b.header(k, v);
                }
                b.body(c.body).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Scripted {
            endpoint: format!("http://{addr}"),
            seen,
        }
    }

    fn count(&self, action_or_method: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.action == action_or_method || s.method == action_or_method)
            .count()
    }
}

fn apply_json(patch: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v = serde_json::json!({"Response": {
        "StorageBucket": "vodbucket-1250000000",
        "StorageRegion": "ap-guangzhou",
        "VodSessionKey": "session-key-1",
        "MediaStoragePath": "/1250000000/media/a.mp4",
        "CoverStoragePath": "/1250000000/media/a.jpg",
        "TempCertificate": {
            "SecretId": "AKIDtemp",
            "SecretKey": "temp-secret",
            "Token": "temp-token",
            "ExpiredTime": now() + 3600
        },
        "RequestId": "apply-req-1"
    }});
    patch(&mut v["Response"]);
    serde_json::to_vec(&v).unwrap()
}

fn commit_json() -> Vec<u8> {
    br#"{"Response":{"FileId":"5285890800000000001","MediaUrl":"http://x/a.mp4","RequestId":"commit-req-1"}}"#
        .to_vec()
}

/// A COS that accepts every PUT/part/complete without a CRC header (the clients below trust a missing CRC:
/// these cases are about VOD's answers, not about verifying objects).
fn cos_ok(s: &Seen) -> Canned {
    let mut c = canned(200, "");
    if s.method == "POST" && s.target.contains("uploads") {
        c.body = "<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>".into();
    } else if s.method == "POST" {
        c.body =
            "<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>"
                .into();
    } else {
        c.headers.push(("etag", "\"e\"".into()));
    }
    c
}

/// VOD and COS scripted; the VOD script gets the ApplyUpload body to answer.
async fn scripted_pair(
    apply: impl Fn() -> Canned + Send + Sync + 'static,
    commit: impl Fn() -> Canned + Send + Sync + 'static,
    cos: impl Fn(&Seen) -> Canned + Send + Sync + 'static,
) -> (Scripted, Scripted, VodClient) {
    let vod = Scripted::start(Arc::new(move |s: &Seen| match s.action.as_str() {
        "ApplyUpload" => apply(),
        "CommitUpload" => commit(),
        _ => canned(404, "unexpected"),
    }))
    .await;
    let cos = Scripted::start(Arc::new(cos)).await;
    let client = VodClient::builder()
        .with_credential(Credential::new("AKIDperm", "perm-secret"))
        .with_region("ap-guangzhou")
        .with_vod_endpoint(&vod.endpoint)
        .with_cos_endpoint(&cos.endpoint)
        .with_transfer_config(parts_of(MIB).with_trust_missing_crc(true))
        .with_retry(retry(3))
        .build()
        .unwrap();
    (vod, cos, client)
}

async fn upload_small(client: &VodClient) -> Result<tencent_vod::UploadOutcome, Error> {
    tokio::time::timeout(
        Duration::from_secs(60),
        client.upload(UploadRequest::from_bytes(b"media bytes".to_vec(), "mp4")),
    )
    .await
    .expect("no hang")
}

fn invalid_response(e: &Error) -> &tencent_vod::error::InvalidResponseError {
    match e {
        Error::InvalidResponse(r) => r,
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed VOD responses
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn vod_html_502() {
    let (vod, cos, client) = scripted_pair(
        || canned(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    let r = invalid_response(&e);
    assert_eq!((r.operation.as_str(), r.status), ("ApplyUpload", 502));
    assert!(r.excerpt.contains("Bad Gateway"), "{e}");
    assert_eq!(e.attempts(), 4, "a 502 is retried");
    assert_eq!(vod.count("ApplyUpload"), 4);
    assert_eq!(
        (vod.count("CommitUpload"), cos.seen.lock().unwrap().len()),
        (0, 0)
    );
}

/// ApplyUpload answers (HTTP 200) that are not usable: `InvalidResponse` naming what is wrong, not retried, and
/// nothing sent to COS or committed; the temporary credentials they carry never appear in the error.
#[tokio::test]
async fn unusable_apply_upload_answers_are_invalid_responses() {
    let truncated = || {
        let full = apply_json(|_| {});
        full[..full.len() / 2].to_vec()
    };
    let without = |member: &'static str| {
        apply_json(move |r| {
            r.as_object_mut().unwrap().remove(member);
        })
    };
    // (what, the answer, a word of the reason)
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated JSON", truncated(), "truncated"),
        (
            "not an envelope",
            br#"{"Result":"ok"}"#.to_vec(),
            "Response",
        ),
        (
            "an error without a code",
            br#"{"Response":{"Error":{"Message":"?"},"RequestId":"r-9"}}"#.to_vec(),
            "Code",
        ),
        (
            "no StorageBucket",
            without("StorageBucket"),
            "StorageBucket",
        ),
        (
            "a storage path without its leading slash",
            apply_json(|r| r["MediaStoragePath"] = "media/a.mp4".into()),
            "media/a.mp4",
        ),
        (
            "a StorageRegion that is not a region",
            apply_json(|r| r["StorageRegion"] = "../../etc".into()),
            "StorageRegion",
        ),
        (
            "an empty VodSessionKey",
            apply_json(|r| r["VodSessionKey"] = "".into()),
            "VodSessionKey",
        ),
    ];
    for (what, answer, word) in cases {
        let (vod, cos, client) = scripted_pair(
            move || canned(200, answer.clone()),
            || canned(200, commit_json()),
            cos_ok,
        )
        .await;
        let e = upload_small(&client).await.unwrap_err();
        let r = invalid_response(&e);
        assert_eq!(r.operation, "ApplyUpload", "{what}: {e}");
        assert!(r.reason.contains(word), "{what}: {e}");
        assert!(
            !format!("{e} {e:?}").contains("temp-secret"),
            "{what}: {e:?}"
        );
        assert_eq!(vod.count("ApplyUpload"), 1, "{what}: not retried");
        assert_eq!(
            (vod.count("CommitUpload"), cos.seen.lock().unwrap().len()),
            (0, 0),
            "{what}"
        );
    }
    // The request id of an error envelope survives even without a code.
    let (_vod, _cos, client) = scripted_pair(
        || {
            canned(
                200,
                r#"{"Response":{"Error":{"Message":"?"},"RequestId":"r-9"}}"#,
            )
        },
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    assert_eq!(
        upload_small(&client).await.unwrap_err().request_id(),
        Some("r-9")
    );
}

#[tokio::test]
async fn vod_ten_megabyte_body_is_parsed() {
    // A valid envelope padded to 10 MB: under the response cap, so it parses and the upload completes.
    let (vod, _cos, client) = scripted_pair(
        || {
            canned(
                200,
                apply_json(|r| r["Padding"] = serde_json::Value::String("p".repeat(10 << 20))),
            )
        },
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let out = upload_small(&client).await.expect("parsed");
    assert_eq!(out.file_id, "5285890800000000001");
    assert_eq!(vod.count("CommitUpload"), 1);
}

#[tokio::test]
async fn vod_oversized_body_is_refused() {
    // 20 MiB, with a Content-Length: refused without reading it.
    let (vod, _cos, client) = scripted_pair(
        || canned(200, vec![b' '; 20 << 20]),
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    let r = invalid_response(&e);
    assert!(r.reason.contains("limit"), "{e}");
    assert_eq!(vod.count("CommitUpload"), 0);

    // Chunked (no Content-Length): refused once the limit is crossed.
    let (_vod, _cos, client) = scripted_pair(
        || {
            let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512 << 10]));
            canned(
                200,
                axum::body::Body::from_stream(futures::stream::iter(chunks)),
            )
        },
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    assert!(invalid_response(&e).reason.contains("limit"), "{e}");
}

#[tokio::test]
async fn vod_cover_path_missing_when_cover_requested() {
    let (vod, _cos, client) = scripted_pair(
        || {
            canned(
                200,
                apply_json(|r| {
                    r.as_object_mut().unwrap().remove("CoverStoragePath");
                }),
            )
        },
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let e = client
        .upload(
            UploadRequest::from_bytes(b"media".to_vec(), "mp4")
                .with_cover_bytes(b"img".to_vec(), "jpg"),
        )
        .await
        .unwrap_err();
    assert!(
        invalid_response(&e).reason.contains("CoverStoragePath"),
        "{e}"
    );
    assert_eq!(vod.count("CommitUpload"), 0);
}

#[tokio::test]
async fn vod_unknown_error_code_is_not_retried() {
    let (vod, _cos, client) = scripted_pair(
        || {
            canned(
                200,
                r#"{"Response":{"Error":{"Code":"FailedOperation.SomethingNew","Message":"made up"},"RequestId":"r-1"}}"#,
            )
        },
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    match &e {
        Error::Vod(v) => {
            assert_eq!(v.code, "FailedOperation.SomethingNew");
            assert_eq!(v.action, "ApplyUpload");
            assert_eq!(v.request_id.as_deref(), Some("r-1"));
        }
        other => panic!("expected Vod, got {other:?}"),
    }
    assert!(
        e.to_string().contains("FailedOperation.SomethingNew"),
        "{e}"
    );
    assert_eq!(
        vod.count("ApplyUpload"),
        1,
        "an unknown code is not retried"
    );
}

#[tokio::test]
async fn vod_expired_temp_certificate() {
    let (vod, cos, client) = scripted_pair(
        || {
            canned(
                200,
                apply_json(|r| r["TempCertificate"]["ExpiredTime"] = (now() - 10).into()),
            )
        },
        || canned(200, commit_json()),
        cos_ok,
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    assert!(matches!(e, Error::CredentialsExpired { .. }), "{e:?}");
    assert_eq!(
        (vod.count("CommitUpload"), cos.seen.lock().unwrap().len()),
        (0, 0)
    );
}

#[tokio::test]
async fn vod_commit_missing_file_id() {
    let (vod, _cos, client) = scripted_pair(
        || canned(200, apply_json(|_| {})),
        || {
            canned(
                200,
                r#"{"Response":{"MediaUrl":"http://x","RequestId":"c-1"}}"#,
            )
        },
        cos_ok,
    )
    .await;
    // A 200 without FileId: the commit was processed but its answer is unusable, so the outcome is unknown. The
    // upload commits once more, then searches the media library (this script knows no SearchMedia) and reports
    // the typed unknown-outcome error, carrying the unusable answer as its cause.
    let e = upload_small(&client).await.unwrap_err();
    let Error::CommitOutcomeUnknown(u) = &e else {
        panic!("expected CommitOutcomeUnknown, got {e:?}")
    };
    let cause = u.cause.as_deref().expect("cause");
    let r = invalid_response(cause);
    assert_eq!(r.operation, "CommitUpload");
    assert!(r.reason.contains("FileId"), "{e}");
    assert_eq!(
        u.commit_request_ids,
        vec!["c-1".to_string(), "c-1".to_string()]
    );
    assert_eq!(e.request_id(), Some("c-1"));
    assert_eq!(vod.count("CommitUpload"), 2);
    assert_eq!(vod.count("SearchMedia"), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed COS responses
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn cos_non_xml_500() {
    let (vod, cos, client) = scripted_pair(
        || canned(200, apply_json(|_| {})),
        || canned(200, commit_json()),
        |_: &Seen| canned(500, "upstream exploded (not xml)"),
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    match &e {
        Error::Cos(c) => {
            assert_eq!(c.status, 500);
            assert!(c.message.contains("upstream exploded"), "{e}");
            assert_eq!(c.key, "1250000000/media/a.mp4");
        }
        other => panic!("expected Cos, got {other:?}"),
    }
    assert_eq!(e.attempts(), 4, "a 500 is retried");
    assert_eq!(cos.count("PUT"), 4);
    assert_eq!(vod.count("CommitUpload"), 0);
}

#[tokio::test]
async fn cos_initiate_without_upload_id() {
    let (vod, _cos, client) = scripted_pair(
        || canned(200, apply_json(|_| {})),
        || canned(200, commit_json()),
        |s: &Seen| {
            if s.method == "POST" && s.target.contains("uploads") {
                canned(
                    200,
                    "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key></InitiateMultipartUploadResult>",
                )
            } else {
                cos_ok(s)
            }
        },
    )
    .await;
    let e = client
        .upload(UploadRequest::from_bytes(
            vec![7u8; (MIB + 10) as usize],
            "mp4",
        ))
        .await
        .unwrap_err();
    let r = invalid_response(&e);
    assert_eq!(r.operation, "InitiateMultipartUpload");
    assert!(r.reason.contains("UploadId"), "{e}");
    assert_eq!(vod.count("CommitUpload"), 0);
}

#[tokio::test]
async fn cos_html_200_on_complete() {
    let (vod, _cos, client) = scripted_pair(
        || canned(200, apply_json(|_| {})),
        || canned(200, commit_json()),
        |s: &Seen| {
            if s.method == "POST" && !s.target.contains("uploads") {
                canned(200, "<html><body>captive portal</body></html>")
            } else {
                cos_ok(s)
            }
        },
    )
    .await;
    let e = client
        .upload(UploadRequest::from_bytes(
            vec![7u8; (MIB + 10) as usize],
            "mp4",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        invalid_response(&e).operation,
        "CompleteMultipartUpload",
        "{e}"
    );
    assert_eq!(vod.count("CommitUpload"), 0);
}

#[tokio::test]
async fn cos_bad_crc_header() {
    let (vod, _cos, client) = scripted_pair(
        || canned(200, apply_json(|_| {})),
        || canned(200, commit_json()),
        |s: &Seen| {
            let mut c = cos_ok(s);
            c.headers
                .push(("x-cos-hash-crc64ecma", "not-a-number".into()));
            c
        },
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    let r = invalid_response(&e);
    assert!(r.reason.contains("x-cos-hash-crc64ecma"), "{e}");
    assert_eq!(vod.count("CommitUpload"), 0);
}

#[tokio::test]
async fn cos_oversized_error_body() {
    let (vod, _cos, client) = scripted_pair(
        || canned(200, apply_json(|_| {})),
        || canned(200, commit_json()),
        |_: &Seen| canned(403, vec![b'<'; 20 << 20]),
    )
    .await;
    let e = upload_small(&client).await.unwrap_err();
    assert!(invalid_response(&e).reason.contains("limit"), "{e}");
    assert_eq!(vod.count("CommitUpload"), 0);
}
