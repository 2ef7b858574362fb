//! The security and integrity holes found by adversarial testing, each reproduced against the in-process mock
//! and now closed: symlinked segments and playlists, nesting and size limits of manifests, files changing
//! mid-upload, redirects carrying secrets to another host, objects COS answered without a CRC, credentials
//! expiring mid-upload, `MediaStoragePath` validation, and credentials over plain HTTP.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::capture::{LogCapture, Recorder};
use support::{data, write as write_file};
use tencent_vod::cos::TransferConfig;
use tencent_vod::error::{CosOperation, ManifestErrorKind};
use tencent_vod::upload::{MAX_MANIFEST_DEPTH, MAX_MANIFEST_FILES, MAX_MEDIA_STORAGE_PATH};
use tencent_vod::{Error, RetryConfig, UploadRequest, VodClient, VodClientBuilder};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

const KIB: u64 = 1024;
/// Part size and multipart threshold of the test clients.
const PART: u64 = 64 * KIB;

async fn server_with(faults: Vec<FaultRule>) -> MockServer {
    let mut b = MockServer::builder().with_min_part_size(1);
    for f in faults {
        b = b.with_fault(f);
    }
    b.start().await.expect("mock starts")
}

fn transfer() -> TransferConfig {
    tencent_vod::__private::with_min_part_size_unchecked(TransferConfig::default(), 1)
        .with_part_size(PART)
        .with_multipart_threshold(PART)
        .with_chunk_size(4096)
        .with_concurrency(1)
}

fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .with_max_retries(2)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

/// A client of `server`: 64 KiB parts, one in flight, 4 KiB chunks, fast retries.
fn builder(server: &MockServer) -> VodClientBuilder {
    server
        .client_builder()
        .with_transfer_config(transfer())
        .with_retry(fast_retry())
}

fn client(server: &MockServer) -> VodClient {
    builder(server).build().expect("client builds")
}

async fn upload(
    client: &VodClient,
    req: UploadRequest,
) -> Result<tencent_vod::UploadOutcome, Error> {
    tokio::time::timeout(Duration::from_secs(60), client.upload(req))
        .await
        .expect("the upload does not hang")
}

/// Asserts the mock received no request at all (not even ParseStreamingManifest or ApplyUpload).
fn assert_no_request(server: &MockServer, e: &Error) {
    let counts = server.stats().counts;
    assert!(
        counts.is_empty(),
        "a request was made before the local check failed ({e}): {counts:?}"
    );
    assert_eq!(server.count("ApplyUpload"), 0);
}

/// Asserts nothing was committed and no multipart upload is left open.
fn assert_nothing_committed(server: &MockServer) {
    assert!(server.commits().is_empty(), "{:?}", server.commits());
    assert_eq!(server.count("CommitUpload"), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Manifests: symbolic links, nesting depth, file count
// ---------------------------------------------------------------------------------------------------------------

/// A manifest directory `hls/` next to an `outside/` directory holding what must never be uploaded.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        t.file("outside/secret.ts", b"SECRET: must never be uploaded");
        t.file("outside/seg.ts", b"outside segment");
        t.file(
            "outside/evil.m3u8",
            b"#EXTM3U\n#EXTINF:1,\nsecret.ts\n#EXT-X-ENDLIST\n",
        );
        t
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        write_file(self.dir.path(), name, bytes)
    }

    #[cfg(unix)]
    fn link(&self, name: &str, target: impl AsRef<Path>) {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }
}

fn playlist(entries: &[&str]) -> Vec<u8> {
    let mut s = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for e in entries {
        if e.ends_with(".m3u8") {
            s.push_str(&format!("#EXT-X-STREAM-INF:BANDWIDTH=100000\n{e}\n"));
        } else {
            s.push_str(&format!("#EXTINF:2.0,\n{e}\n"));
        }
    }
    s.push_str("#EXT-X-ENDLIST\n");
    s.into_bytes()
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_leading_outside_the_manifest_dir_are_rejected_before_any_request() {
    struct Case {
        name: &'static str,
        build: fn(&Tree),
        /// The manifest naming the bad entry, relative to the tree.
        manifest: &'static str,
        segment: &'static str,
        target: &'static str,
    }
    let cases = [
        Case {
            name: "segment symlinked to a file outside",
            build: |t| {
                t.file("hls/index.m3u8", &playlist(&["seg0.ts", "seg1.ts"]));
                t.file("hls/seg0.ts", b"segment 0");
                t.link("hls/seg1.ts", "../outside/secret.ts");
            },
            manifest: "hls/index.m3u8",
            segment: "seg1.ts",
            target: "outside/secret.ts",
        },
        Case {
            name: "segment symlinked to an absolute path",
            build: |t| {
                t.file("hls/index.m3u8", &playlist(&["seg0.ts"]));
                t.link("hls/seg0.ts", t.path("outside/secret.ts"));
            },
            manifest: "hls/index.m3u8",
            segment: "seg0.ts",
            target: "outside/secret.ts",
        },
        Case {
            name: "sub-playlist symlinked outside",
            build: |t| {
                t.file("hls/index.m3u8", &playlist(&["v/720p.m3u8"]));
                t.link("hls/v/720p.m3u8", "../../outside/evil.m3u8");
            },
            manifest: "hls/index.m3u8",
            segment: "v/720p.m3u8",
            target: "outside/evil.m3u8",
        },
        Case {
            name: "directory symlinked outside",
            build: |t| {
                t.file("hls/index.m3u8", &playlist(&["v/seg.ts"]));
                t.link("hls/v", "../outside");
            },
            manifest: "hls/index.m3u8",
            segment: "v/seg.ts",
            target: "outside/seg.ts",
        },
        Case {
            name: "segment of a nested playlist symlinked outside",
            build: |t| {
                t.file("hls/index.m3u8", &playlist(&["v/720p.m3u8"]));
                t.file("hls/v/720p.m3u8", &playlist(&["a.ts", "b.ts"]));
                t.file("hls/v/a.ts", b"a");
                t.link("hls/v/b.ts", t.path("outside/secret.ts"));
            },
            manifest: "hls/v/720p.m3u8",
            segment: "b.ts",
            target: "outside/secret.ts",
        },
    ];
    for case in cases {
        let tree = Tree::new();
        (case.build)(&tree);
        let server = server_with(vec![]).await;
        let e = upload(
            &client(&server),
            UploadRequest::from_path(tree.path("hls/index.m3u8")),
        )
        .await
        .expect_err(case.name);
        assert_no_request(&server, &e);
        let target = tree.path(case.target).canonicalize().unwrap();
        match &e {
            Error::Manifest {
                manifest,
                segment: Some(segment),
                kind: ManifestErrorKind::OutsideManifestDir { resolved },
                ..
            } => {
                assert_eq!(segment, case.segment, "{}: {e}", case.name);
                assert_eq!(resolved, &target, "{}: {e}", case.name);
                assert!(manifest.ends_with(case.manifest), "{}: {e}", case.name);
            }
            other => panic!("{}: expected OutsideManifestDir, got {other:?}", case.name),
        }
        // The message names the segment and where it points.
        let msg = e.to_string();
        assert!(msg.contains(case.segment), "{}: {msg}", case.name);
        assert!(
            msg.contains(&target.display().to_string()),
            "{}: {msg}",
            case.name
        );
        assert!(server.objects().is_empty());
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_staying_inside_the_manifest_dir_are_uploaded() {
    let tree = Tree::new();
    tree.file("hls/index.m3u8", &playlist(&["seg0.ts", "alias.ts"]));
    tree.file("hls/seg0.ts", b"segment zero bytes");
    tree.link("hls/alias.ts", "seg0.ts");
    let server = server_with(vec![]).await;
    let out = upload(
        &client(&server),
        UploadRequest::from_path(tree.path("hls/index.m3u8")),
    )
    .await
    .expect("upload succeeds");
    assert_eq!(server.commits().len(), 1);
    let alias = out
        .segment_keys
        .iter()
        .find(|k| k.ends_with("/alias.ts"))
        .expect("alias uploaded under its own name");
    assert_eq!(
        server.object_bytes(&out.bucket, alias).unwrap(),
        b"segment zero bytes"
    );
}

/// `index.m3u8` -> `l1.m3u8` -> … -> `l{levels}.m3u8` -> `seg.ts`.
fn chain(tree: &Tree, levels: usize) -> PathBuf {
    for i in 1..=levels {
        let next = if i == levels {
            "seg.ts".to_string()
        } else {
            format!("l{}.m3u8", i + 1)
        };
        tree.file(&format!("hls/l{i}.m3u8"), &playlist(&[&next]));
    }
    tree.file("hls/seg.ts", b"seg");
    tree.file("hls/index.m3u8", &playlist(&["l1.m3u8"]))
}

#[tokio::test]
async fn playlist_nesting_is_capped() {
    // One level too deep: refused by the local pass, so not a single ParseStreamingManifest call.
    let tree = Tree::new();
    let root = chain(&tree, MAX_MANIFEST_DEPTH + 1);
    let server = server_with(vec![]).await;
    let e = upload(&client(&server), UploadRequest::from_path(&root))
        .await
        .unwrap_err();
    assert_no_request(&server, &e);
    match &e {
        Error::Manifest {
            kind: ManifestErrorKind::TooDeep { max },
            segment: Some(s),
            ..
        } => {
            assert_eq!(*max, MAX_MANIFEST_DEPTH);
            assert_eq!(s, &format!("l{}.m3u8", MAX_MANIFEST_DEPTH + 1));
        }
        other => panic!("expected TooDeep, got {other:?}"),
    }
    assert!(e.to_string().contains("levels deep"), "{e}");

    // Exactly at the limit: uploaded and committed.
    let tree = Tree::new();
    let root = chain(&tree, MAX_MANIFEST_DEPTH);
    let server = server_with(vec![]).await;
    let out = upload(&client(&server), UploadRequest::from_path(&root))
        .await
        .expect("a chain at the limit is accepted");
    assert_eq!(out.segment_keys.len(), MAX_MANIFEST_DEPTH + 1);
    assert_eq!(server.commits().len(), 1);
}

#[tokio::test]
async fn manifest_file_count_is_capped_before_any_file_is_opened() {
    let tree = Tree::new();
    // One more segment than allowed; none of them exists, so a stat before the cap would report a missing file.
    let names: Vec<String> = (0..=MAX_MANIFEST_FILES)
        .map(|i| format!("s{i}.ts"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let root = tree.file("hls/index.m3u8", &playlist(&refs));
    let server = server_with(vec![]).await;
    let e = upload(&client(&server), UploadRequest::from_path(&root))
        .await
        .unwrap_err();
    assert_no_request(&server, &e);
    assert!(
        matches!(
            &e,
            Error::Manifest { kind: ManifestErrorKind::TooManyFiles { max }, .. } if *max == MAX_MANIFEST_FILES
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains(&MAX_MANIFEST_FILES.to_string()),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 2. A file changed while it is uploaded is never committed
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Mutation {
    /// Two bytes rewritten in place: same size, new content.
    Rewrite,
    Append,
    Truncate,
}

fn mutate(path: &Path, m: Mutation) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    match m {
        Mutation::Rewrite => {
            f.seek(SeekFrom::Start(len - 10)).unwrap();
            f.write_all(b"XY").unwrap();
        }
        Mutation::Append => {
            f.seek(SeekFrom::End(0)).unwrap();
            f.write_all(&[7u8; 1000]).unwrap();
        }
        Mutation::Truncate => f.set_len(len / 3).unwrap(),
    }
    f.sync_all().unwrap();
}

/// Writes a media file whose timestamps lie an hour back, as for a file written long before its upload (so a
/// write during the upload always moves the modification time, whatever the file system's timestamp tick).
fn old_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = write_file(dir, name, bytes);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    p
}

#[tokio::test]
async fn a_file_changed_mid_upload_fails_typed_and_is_never_committed() {
    #[derive(Debug, Clone, Copy)]
    enum Shape {
        /// Four parts; the change lands while part 1 is on the wire (the server holds each part 20 ms).
        Multipart,
        /// One PUT streamed in 12 chunks; the change lands after the first chunk.
        SinglePut,
        /// One PUT of a single chunk: the whole body is read before the change, which only the check before
        /// CommitUpload can see.
        SingleChunk,
    }
    for shape in [Shape::Multipart, Shape::SinglePut, Shape::SingleChunk] {
        for m in [Mutation::Rewrite, Mutation::Append, Mutation::Truncate] {
            let case = format!("{shape:?}/{m:?}");
            let size = match shape {
                Shape::Multipart => 4 * PART as usize + 1234,
                Shape::SinglePut => 12 * 4096,
                Shape::SingleChunk => 3000,
            };
            let dir = tempfile::tempdir().unwrap();
            let path = old_file(dir.path(), "movie.mp4", &data(size, 11));
            // The slowed mock: every data request is held before it is served.
            let server = server_with(vec![
                FaultRule::new(Target::Cos(CosOperation::UploadPart))
                    .fault(Fault::Delay(Duration::from_millis(20))),
                FaultRule::new(Target::Cos(CosOperation::PutObject))
                    .fault(Fault::Delay(Duration::from_millis(20))),
            ])
            .await;
            // The hook: the first progress event (bytes are on the wire) changes the file, once.
            let fired = Arc::new(AtomicBool::new(false));
            let (f, p) = (fired.clone(), path.clone());
            let req = UploadRequest::from_path(&path).with_progress(move |ev| {
                if ev.bytes_sent > 0 && !f.swap(true, Ordering::SeqCst) {
                    mutate(&p, m);
                }
            });
            let e = upload(&client(&server), req).await.expect_err(&case);
            assert!(fired.load(Ordering::SeqCst), "{case}: the hook never ran");
            match &e {
                Error::SourceChanged { path: p, detail } => {
                    assert_eq!(p, &path, "{case}");
                    let want = match m {
                        Mutation::Rewrite => "modification time",
                        Mutation::Append | Mutation::Truncate => "size",
                    };
                    assert!(detail.contains(want), "{case}: {detail}");
                }
                other => panic!("{case}: expected SourceChanged, got {other:?}"),
            }
            let msg = e.to_string();
            assert!(
                msg.contains("changed while uploading") && msg.contains("movie.mp4"),
                "{case}: {msg}"
            );
            assert!(!e.is_retryable());
            assert_nothing_committed(&server);
            match shape {
                Shape::Multipart => {
                    assert_eq!(server.count("CompleteMultipartUpload"), 0, "{case}");
                    assert!(server.count("AbortMultipartUpload") >= 1, "{case}");
                    assert!(
                        server.multipart_uploads().is_empty(),
                        "{case}: left open {:?}",
                        server.multipart_uploads()
                    );
                    assert!(server.objects().is_empty(), "{case}");
                }
                // The body was cut before its last chunk: COS never got a whole object.
                Shape::SinglePut => assert!(server.objects().is_empty(), "{case}"),
                // The (old, consistent) object reached COS but is not committed.
                Shape::SingleChunk => assert_eq!(server.count("PutObject"), 1, "{case}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Redirects are never followed
// ---------------------------------------------------------------------------------------------------------------

fn redirect_to(recorder: &Recorder, target: Target) -> FaultRule {
    FaultRule::new(target).fault(Fault::Redirect {
        status: 307,
        location: format!(
            "{}/steal?VodSessionKey=leaked&X-TC-Token=leaked",
            recorder.url()
        ),
    })
}

fn assert_redirect(e: &Error, op_prefix: &str, recorder: &Recorder, want_followed: bool) {
    match e {
        Error::Redirect {
            operation,
            status,
            location_host,
            followed,
        } => {
            assert!(operation.starts_with(op_prefix), "{e}");
            assert_eq!(
                location_host.as_deref(),
                Some(recorder.addr.to_string().as_str())
            );
            assert_eq!(*followed, want_followed, "{e}");
            if !want_followed {
                assert_eq!(*status, 307);
            }
        }
        other => panic!("expected Redirect for {op_prefix}, got {other:?}"),
    }
    assert!(!e.is_retryable());
    let msg = format!("{e} {e:?}");
    assert!(msg.contains(&recorder.addr.to_string()), "{msg}");
    assert!(
        !msg.contains("steal") && !msg.contains("leaked"),
        "the Location's path and query must not be repeated: {msg}"
    );
}

#[tokio::test]
async fn vod_and_cos_redirects_reach_nothing_and_fail_typed() {
    // (target, media size): a VOD action, or the COS operation the upload of that size makes.
    let cases: [(Target, &str, usize); 5] = [
        (Target::Vod("ApplyUpload"), "ApplyUpload", 1000),
        (Target::Vod("CommitUpload"), "CommitUpload", 1000),
        (
            Target::Cos(CosOperation::InitiateMultipartUpload),
            "InitiateMultipartUpload",
            3 * PART as usize,
        ),
        (
            Target::Cos(CosOperation::UploadPart),
            "UploadPart",
            3 * PART as usize,
        ),
        (Target::Cos(CosOperation::PutObject), "PutObject", 1000),
    ];
    for (target, op, size) in cases {
        let recorder = Recorder::start().await;
        let server = server_with(vec![redirect_to(&recorder, target)]).await;
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "a.mp4", &data(size, 3));
        let e = upload(&client(&server), UploadRequest::from_path(&path))
            .await
            .expect_err(op);
        assert_redirect(&e, op, &recorder, false);
        assert_eq!(
            recorder.connections(),
            0,
            "{op}: the other host was contacted"
        );
        assert!(recorder.requests().is_empty());
        assert!(server.commits().is_empty(), "{op}");
        assert!(
            server.multipart_uploads().is_empty(),
            "{op}: left open {:?}",
            server.multipart_uploads()
        );
        if op == "InitiateMultipartUpload" {
            assert_eq!(server.count("UploadPart"), 0);
        }
    }
}

#[tokio::test]
async fn a_callers_client_must_not_follow_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "a.mp4", &data(1000, 4));

    // Built as documented (no redirects): same as the crate's own client.
    let recorder = Recorder::start().await;
    let server = server_with(vec![redirect_to(&recorder, Target::Vod("CommitUpload"))]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let c = builder(&server).with_http_client(http).build().unwrap();
    let e = upload(&c, UploadRequest::from_path(&path))
        .await
        .unwrap_err();
    assert_redirect(&e, "CommitUpload", &recorder, false);
    assert_eq!(recorder.connections(), 0);

    // reqwest's default policy follows: the request reaches the other host (which answers a forged success),
    // which the crate cannot prevent, but the forged answer is refused, never returned as the upload's FileId.
    let recorder = Recorder::start().await;
    let server = server_with(vec![redirect_to(&recorder, Target::Vod("CommitUpload"))]).await;
    let c = builder(&server)
        .with_http_client(reqwest::Client::new())
        .build()
        .unwrap();
    let e = upload(&c, UploadRequest::from_path(&path))
        .await
        .unwrap_err();
    assert_redirect(&e, "CommitUpload", &recorder, true);
    assert_eq!(recorder.requests().len(), 1, "the documented limitation");
    assert!(!format!("{e:?}").contains("forged"));
}

// ---------------------------------------------------------------------------------------------------------------
// 4a. An object answered without x-cos-hash-crc64ecma is verified with HEAD Object
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn objects_answered_without_a_crc_are_verified_by_head() {
    enum Want {
        Ok { heads: u64 },
        Integrity,
        Unverifiable,
    }
    let rule = |op: CosOperation, f: Fault| FaultRule::new(Target::Cos(op)).fault(f);
    let cases: Vec<(&str, usize, Vec<FaultRule>, bool, Want)> = vec![
        (
            "PUT without CRC, object right",
            1000,
            vec![rule(CosOperation::PutObject, Fault::OmitCrc)],
            false,
            Want::Ok { heads: 1 },
        ),
        (
            "PUT without CRC, HEAD finds another object",
            1000,
            vec![
                rule(CosOperation::PutObject, Fault::OmitCrc),
                rule(CosOperation::HeadObject, Fault::WrongCrc),
            ],
            false,
            Want::Integrity,
        ),
        (
            "PUT and HEAD without CRC",
            1000,
            vec![
                rule(CosOperation::PutObject, Fault::OmitCrc),
                rule(CosOperation::HeadObject, Fault::OmitCrc),
            ],
            false,
            Want::Unverifiable,
        ),
        (
            "PUT and HEAD without CRC, trusted by configuration",
            1000,
            vec![
                rule(CosOperation::PutObject, Fault::OmitCrc),
                rule(CosOperation::HeadObject, Fault::OmitCrc),
            ],
            true,
            Want::Ok { heads: 0 },
        ),
        (
            "Complete without CRC, object right",
            3 * PART as usize,
            vec![rule(CosOperation::CompleteMultipartUpload, Fault::OmitCrc)],
            false,
            Want::Ok { heads: 1 },
        ),
        (
            "Complete without CRC, HEAD finds another object",
            3 * PART as usize,
            vec![
                rule(CosOperation::CompleteMultipartUpload, Fault::OmitCrc),
                rule(CosOperation::HeadObject, Fault::WrongCrc),
            ],
            false,
            Want::Integrity,
        ),
    ];
    for (name, size, faults, trust, want) in cases {
        let server = server_with(faults).await;
        let c = builder(&server)
            .with_transfer_config(transfer().with_trust_missing_crc(trust))
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "a.mp4", &data(size, 5));
        let r = upload(&c, UploadRequest::from_path(&path)).await;
        match want {
            Want::Ok { heads } => {
                let out = r.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(server.count("HeadObject"), heads, "{name}");
                assert_eq!(server.commits().len(), 1, "{name}");
                assert_eq!(
                    server.object(&out.bucket, &out.media_key).unwrap().size,
                    size as u64
                );
            }
            Want::Integrity => {
                let e = r.expect_err(name);
                assert!(
                    matches!(&e, Error::Integrity { object, .. } if object.ends_with(".mp4")),
                    "{name}: {e:?}"
                );
                assert_eq!(server.count("HeadObject"), 1, "{name}");
                assert_nothing_committed(&server);
            }
            Want::Unverifiable => {
                let e = r.expect_err(name);
                assert!(
                    matches!(&e, Error::InvalidResponse(r) if r.reason.contains("cannot be verified")),
                    "{name}: {e:?}"
                );
                assert!(e.to_string().contains("with_trust_missing_crc"), "{e}");
                assert_nothing_committed(&server);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 4b. Credentials expiring mid-upload leave no multipart upload open, or name what they left
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn expiring_credentials_abort_the_multipart_upload_while_still_valid() {
    // Credentials live 1-2 s; every part is held 5 s: each session's multipart upload must be stopped and
    // aborted before its credentials run out (then one restart, which expires the same way).
    let server = MockServer::builder()
        .with_min_part_size(1)
        .with_temp_credential_ttl(Duration::from_secs(2))
        .with_fault(
            FaultRule::new(Target::Cos(CosOperation::UploadPart))
                .fault(Fault::Delay(Duration::from_secs(5))),
        )
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "a.mp4", &data(4 * PART as usize, 6));
    let e = upload(&client(&server), UploadRequest::from_path(&path))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CredentialsExpired { .. }), "{e:?}");
    assert!(e.orphaned_uploads().is_empty(), "{e}");
    assert_eq!(server.count("ApplyUpload"), 2, "one restart");
    assert_eq!(server.count("InitiateMultipartUpload"), 2);
    assert_eq!(
        server.count("AbortMultipartUpload"),
        2,
        "each session aborted its upload"
    );
    assert!(
        server.multipart_uploads().is_empty(),
        "left open: {:?}",
        server.multipart_uploads()
    );
    assert!(
        server.rejections().iter().all(|r| r.code != "ExpiredToken"),
        "an abort came too late: {:?}",
        server.rejections()
    );
    assert_nothing_committed(&server);
}

#[tokio::test]
async fn uploads_that_cannot_be_aborted_are_named_in_the_error_and_the_log() {
    // COS refuses the credentials early (before their ExpiredTime): the abort is refused as well.
    let log = LogCapture::start(tracing::Level::WARN);
    let server = server_with(vec![
        FaultRule::new(Target::Cos(CosOperation::UploadPart)).fault(Fault::ExpireCredentials),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "a.mp4", &data(3 * PART as usize, 7));
    let e = upload(&client(&server), UploadRequest::from_path(&path))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ExpiredToken"), "{e}");
    let open: BTreeSet<String> = server
        .multipart_uploads()
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    assert_eq!(open.len(), 2, "one per session");
    let named: BTreeSet<String> = e
        .orphaned_uploads()
        .iter()
        .map(|o| o.upload_id.clone())
        .collect();
    assert_eq!(named, open, "{e}");
    let msg = e.to_string();
    for id in &open {
        assert!(msg.contains(id.as_str()), "{msg}");
        assert_eq!(
            log.lines_with(&["WARN", id, "(orphaned)"]).len(),
            1,
            "{}",
            log.text()
        );
    }
    assert_nothing_committed(&server);
}

#[tokio::test]
async fn an_orphan_of_a_restarted_session_is_reported_in_the_outcome() {
    let server = server_with(vec![
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .nth(2)
            .fault(Fault::ExpireCredentials),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(3 * PART as usize, 8);
    let path = write_file(dir.path(), "a.mp4", &bytes);
    let out = upload(&client(&server), UploadRequest::from_path(&path))
        .await
        .expect("the restarted session succeeds");
    assert_eq!(server.commits().len(), 1);
    let open: Vec<String> = server
        .multipart_uploads()
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    assert_eq!(open.len(), 1);
    let named: Vec<String> = out
        .orphaned_uploads
        .iter()
        .map(|o| o.upload_id.clone())
        .collect();
    assert_eq!(named, open);
}

// ---------------------------------------------------------------------------------------------------------------
// 4c. MediaStoragePath is validated locally
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn media_storage_path_is_validated_before_apply_upload() {
    let long_ok = format!("/{}.mp4", "a".repeat(MAX_MEDIA_STORAGE_PATH - 5));
    let too_long = format!("/{}.mp4", "a".repeat(MAX_MEDIA_STORAGE_PATH - 4));
    let rejected: Vec<(String, &str)> = vec![
        ("dir/a.mp4".into(), "start with '/'"),
        ("".into(), "start with '/'"),
        ("/".into(), "ends with '/'"),
        ("/dir/".into(), "ends with '/'"),
        ("/a/../b.mp4".into(), "\"..\" segment"),
        ("/../b.mp4".into(), "\"..\" segment"),
        ("/a/..".into(), "\"..\" segment"),
        ("/a/./b.mp4".into(), "\".\" segment"),
        ("/a//b.mp4".into(), "empty segment"),
        ("/a/b\n.mp4".into(), "control character"),
        ("/a/\u{0}.mp4".into(), "control character"),
        ("/a/\u{7f}.mp4".into(), "control character"),
        ("/a/\u{85}x.mp4".into(), "control character"),
        ("/a\\..\\b.mp4".into(), "backslash"),
        (too_long, "bytes"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "a.mp4", &data(500, 9));
    let server = server_with(vec![]).await;
    let c = client(&server);
    for (value, says) in &rejected {
        let e = upload(
            &c,
            UploadRequest::from_path(&path).with_media_storage_path(value),
        )
        .await
        .expect_err(value);
        match &e {
            Error::InvalidInput { field, reason } => {
                assert_eq!(field, "media_storage_path", "{value:?}");
                assert!(reason.contains(says), "{value:?}: {reason}");
            }
            other => panic!("{value:?}: expected InvalidInput, got {other:?}"),
        }
        assert_no_request(&server, &e);
    }
    for value in ["/dir/sub/movie.mp4", "/视频/a b.mp4", long_ok.as_str()] {
        let out = upload(
            &c,
            UploadRequest::from_path(&path).with_media_storage_path(value),
        )
        .await
        .unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(out.media_key, value[1..]);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 4d. Credentials over plain HTTP to a non-loopback host: one warning per client
// ---------------------------------------------------------------------------------------------------------------

const PLAIN_HTTP: &str = "plain HTTP";

#[tokio::test]
async fn plain_http_to_loopback_does_not_warn() {
    let log = LogCapture::start(tracing::Level::WARN);
    let server = server_with(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "a.mp4", &data(3 * PART as usize, 10));
    upload(&client(&server), UploadRequest::from_path(&path))
        .await
        .unwrap();
    assert!(log.lines_with(&[PLAIN_HTTP]).is_empty(), "{}", log.text());
}

#[tokio::test]
async fn plain_http_to_another_host_warns_once_per_client_and_service() {
    let log = LogCapture::start(tracing::Level::WARN);
    let server = server_with(vec![]).await;
    // Non-loopback names that resolve to the mock, so the requests really go over plain HTTP.
    let (vod_host, cos_host) = ("vod.example.test", "cos.example.test");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(vod_host, server.vod_addr())
        .resolve(cos_host, server.cos_addr())
        .build()
        .unwrap();
    let c = builder(&server)
        .with_http_client(http)
        .with_vod_endpoint(format!("http://{vod_host}:{}", server.vod_addr().port()))
        .with_cos_endpoint(format!("http://{cos_host}:{}", server.cos_addr().port()))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "a.mp4", &data(3 * PART as usize, 12));
    // Two uploads: two sessions, two COS clients, still one warning per service for this client.
    for _ in 0..2 {
        upload(&c, UploadRequest::from_path(&path)).await.unwrap();
    }
    assert_eq!(server.commits().len(), 2);
    let vod = log.lines_with(&[PLAIN_HTTP, "VOD", vod_host]);
    let cos = log.lines_with(&[PLAIN_HTTP, "COS", cos_host]);
    assert_eq!((vod.len(), cos.len()), (1, 1), "{}", log.text());
    assert_eq!(log.lines_with(&[PLAIN_HTTP]).len(), 2, "{}", log.text());
    // The warning names the host, never a secret.
    let text = log.text();
    assert!(!text.contains(server.credential().secret_key()), "{text}");
}
