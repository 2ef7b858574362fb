//! Resumable uploads: checkpoints, resume after failure or cancellation, stale checkpoints, the JSON store.

mod support;

use std::time::Duration;
use support::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tencent_vod::CancellationToken;
use tencent_vod::ProgressEvent;
use tencent_vod::error::CosOperation;
use tencent_vod::upload::{
    CHECKPOINT_VERSION, Checkpoint, CheckpointStore, JsonFileCheckpointStore, MemoryCheckpointStore,
};
use tencent_vod::vod::CommitUploadRequest;
use tencent_vod::{Error, UploadRequest, VodClient};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

const PARTS: u64 = 6;

fn json_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn part_fault(nth: u64) -> FaultRule {
    FaultRule::new(Target::Cos(CosOperation::UploadPart))
        .nth(nth)
        .fault(Fault::CosError {
            status: 403,
            code: "AccessDenied".into(),
        })
}

/// Captures log lines of the current thread (tests run on a current-thread runtime).
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct W(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(Mutex::new(Vec::new()));
    let w = W(buf.clone());
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || w.clone())
        .finish();
    (buf, tracing::subscriber::set_default(sub))
}

fn logs(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

#[tokio::test]
async fn failed_upload_resumes_with_only_the_missing_parts() {
    let (server, client, dir) = setup_with_concurrency(1).await;
    let bytes = data((PARTS * MIB) as usize, 7);
    let path = write(dir.path(), "movie.mp4", &bytes);
    let store_dir = dir.path().join("checkpoints");
    let store = JsonFileCheckpointStore::new(&store_dir);

    server.add_fault(part_fault(4));
    let err = client
        .upload(UploadRequest::from_path(&path).with_checkpoint(store.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err}");
    assert_eq!(server.count("CommitUpload"), 0);
    assert_eq!(server.count("AbortMultipartUpload"), 0, "kept for resume");
    assert_eq!(server.multipart_uploads().len(), 1);

    // The checkpoint: one JSON file, private, with the three verified parts.
    let files = json_files(&store_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let cp: Checkpoint = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(cp.version, CHECKPOINT_VERSION);
    assert!(!cp.committed);
    assert_eq!(cp.objects.len(), 1);
    let obj = &cp.objects[0];
    assert_eq!(
        obj.parts.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        obj.parts
            .iter()
            .all(|p| p.size == MIB && !p.etag.is_empty())
    );
    assert_eq!(
        obj.upload_id.as_deref(),
        Some(server.multipart_uploads()[0].2.as_str())
    );
    assert!(obj.completed.is_none());
    assert_eq!(obj.fingerprint.size, bytes.len() as u64);
    let key = cp.key.clone();
    assert_eq!(store.path_for(&key), files[0]);

    // Run again: List Parts, parts 4..6 only, one commit, checkpoint gone.
    server.clear_faults();
    let sent_before = server.count("UploadPart");
    assert_eq!(sent_before, 4);
    let out = client
        .upload(UploadRequest::from_path(&path).with_checkpoint(store.clone()))
        .await
        .unwrap();
    assert_eq!(server.count("UploadPart") - sent_before, 3);
    assert_eq!(server.count("ListParts"), 1);
    assert_eq!(server.count("ApplyUpload"), 1, "the session was reused");
    assert_eq!(server.count("InitiateMultipartUpload"), 1);
    assert_eq!(server.count("CommitUpload"), 1);
    assert_eq!(server.commits().len(), 1);
    let stored = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    assert!(json_files(&store_dir).is_empty(), "checkpoint deleted");
    assert!(store.load(&key).await.unwrap().is_none());
    assert!(server.multipart_uploads().is_empty());
}

#[tokio::test]
async fn cancelled_upload_keeps_its_multipart_upload_and_resumes() {
    let (server, client, dir) = setup_with_concurrency(1).await;
    let bytes = data((PARTS * MIB) as usize, 8);
    let path = write(dir.path(), "cancel.mp4", &bytes);
    let store = MemoryCheckpointStore::new();
    let token = CancellationToken::new();
    let parts_done = Arc::new(AtomicU32::new(0));
    let (t, n) = (token.clone(), parts_done.clone());
    let err = client
        .upload(
            UploadRequest::from_path(&path)
                .with_checkpoint(store.clone())
                .with_checkpoint_key("job-42")
                .with_cancellation(token.clone())
                .with_progress(move |p| {
                    if matches!(p.event, ProgressEvent::PartDone { .. })
                        && n.fetch_add(1, Ordering::SeqCst) + 1 == 2
                    {
                        t.cancel();
                    }
                }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(server.count("CommitUpload"), 0);
    assert_eq!(server.count("AbortMultipartUpload"), 0);
    assert_eq!(server.multipart_uploads().len(), 1);
    assert_eq!(store.keys(), vec!["job-42".to_string()]);
    let recorded = store.get("job-42").unwrap().objects[0].parts.len() as u64;
    assert!(recorded >= 2, "{recorded}");
    let first = server.count("UploadPart");

    let out = client
        .upload(
            UploadRequest::from_path(&path)
                .with_checkpoint(store.clone())
                .with_checkpoint_key("job-42"),
        )
        .await
        .unwrap();
    assert_eq!(server.count("UploadPart") - first, PARTS - recorded);
    assert_eq!(server.count("ListParts"), 1);
    assert_eq!(server.count("ApplyUpload"), 1);
    assert_eq!(server.count("CommitUpload"), 1);
    assert_media_stored(&server, &out, &bytes);
    assert!(store.is_empty());
}

/// Makes one failed checkpointed upload (3 verified parts) and returns the store.
async fn failed_run(server: &MockServer, client: &VodClient, path: &Path) -> MemoryCheckpointStore {
    let store = MemoryCheckpointStore::new();
    server.add_fault(part_fault(4));
    client
        .upload(UploadRequest::from_path(path).with_checkpoint(store.clone()))
        .await
        .unwrap_err();
    server.clear_faults();
    assert_eq!(store.len(), 1);
    store
}

/// Upload everything, but CommitUpload fails (non-retryable): the checkpoint records complete objects.
async fn uploaded_but_not_committed(
    server: &MockServer,
    client: &VodClient,
    path: &Path,
) -> MemoryCheckpointStore {
    let store = MemoryCheckpointStore::new();
    server.add_fault(
        FaultRule::new(Target::Vod("CommitUpload"))
            .nth(1)
            .fault(Fault::VodError("FailedOperation".into())),
    );
    let err = client
        .upload(UploadRequest::from_path(path).with_checkpoint(store.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("FailedOperation"), "{err}");
    server.clear_faults();
    let cp = store.get(&store.keys()[0]).unwrap();
    assert!(cp.objects.iter().all(|o| o.completed.is_some()), "{cp:?}");
    store
}

/// How the first run of a rerun case ends.
#[derive(Clone, Copy, Debug)]
enum FirstRun {
    /// Part 4 of 6 fails ([`failed_run`]): three verified parts are recorded.
    PartFails,
    /// Everything is uploaded but CommitUpload fails ([`uploaded_but_not_committed`]).
    CommitFails,
}

/// What changes between the two runs.
#[derive(Clone, Copy, Debug)]
enum Meanwhile {
    Nothing,
    /// The source file is rewritten with other bytes.
    SourceModified,
    /// The checkpoint's temporary credentials are still valid but expire in this many seconds.
    CredentialsExpireIn(i64),
    /// The checkpoint records a commit attempt (here, inconsistently, before the media was complete).
    CommitAttemptRecorded,
    /// The session was committed meanwhile (e.g. by a run whose answer and checkpoint update were lost).
    SessionCommitted,
    /// The session expired: VOD refuses it and nothing was committed.
    SessionRefused,
}

struct RerunCase {
    name: &'static str,
    first: FirstRun,
    meanwhile: Meanwhile,
    /// Options of the second run's request.
    request: fn(UploadRequest) -> UploadRequest,
    /// `None`: the second run uploads; otherwise its error must match.
    fails: Option<fn(&Error) -> bool>,
    /// Requests of these operations counted over both runs.
    counts: &'static [(&'static str, u64)],
    /// Media requests (UploadPart and PutObject) the second run sends.
    media_sent: u64,
    /// Whether the second run applies for a fresh VOD session instead of using the checkpoint's.
    fresh_session: bool,
    /// Whether the outcome comes from reconciling an already committed session.
    reconciled: bool,
    /// A line the second run logs.
    log: Option<&'static str>,
}

/// A second run after an interrupted checkpointed upload: it resumes (only the missing parts, or only the
/// commit after checking completed objects with HEAD), starts over when the checkpoint is stale (modified source,
/// credentials too close to expiry, a session VOD refuses) or reconciles a commit that may have happened; it
/// never uploads the media again once a commit was attempted.
#[tokio::test]
async fn rerun_after_an_interrupted_upload_resumes_restarts_or_reconciles() {
    let cases = [
        RerunCase {
            name: "modified source discards the checkpoint",
            first: FirstRun::PartFails,
            meanwhile: Meanwhile::SourceModified,
            request: |r| r,
            fails: None,
            counts: &[("ApplyUpload", 2), ("ListParts", 0)],
            media_sent: PARTS,
            fresh_session: true,
            reconciled: false,
            log: Some("discarding stale checkpoint"),
        },
        RerunCase {
            name: "expiring credentials in the checkpoint discard it",
            first: FirstRun::PartFails,
            // Still valid, but inside the default 5-minute margin.
            meanwhile: Meanwhile::CredentialsExpireIn(120),
            request: |r| r,
            fails: None,
            counts: &[("ApplyUpload", 2), ("ListParts", 0), ("CommitUpload", 1)],
            media_sent: PARTS,
            fresh_session: true,
            reconciled: false,
            log: None,
        },
        RerunCase {
            name: "a small margin keeps a checkpoint with short credentials",
            first: FirstRun::PartFails,
            meanwhile: Meanwhile::CredentialsExpireIn(120),
            request: |r| r.with_credential_margin(Duration::from_secs(30)),
            fails: None,
            counts: &[("ApplyUpload", 1), ("ListParts", 1)],
            media_sent: PARTS - 3,
            fresh_session: false,
            reconciled: false,
            log: None,
        },
        RerunCase {
            name: "a checkpoint recording a commit attempt is reconciled, never uploaded",
            first: FirstRun::PartFails,
            meanwhile: Meanwhile::CommitAttemptRecorded,
            request: |r| r.with_commit_reconcile_timeout(Duration::ZERO),
            fails: Some(|e| matches!(e, Error::CommitOutcomeUnknown(_))),
            counts: &[("ApplyUpload", 1), ("ListParts", 0), ("CommitUpload", 1)],
            media_sent: 0,
            fresh_session: false,
            reconciled: false,
            log: None,
        },
        RerunCase {
            name: "completed objects are checked with HEAD and only committed",
            first: FirstRun::CommitFails,
            meanwhile: Meanwhile::Nothing,
            request: |r| r,
            fails: None,
            counts: &[("ApplyUpload", 1), ("HeadObject", 1)],
            media_sent: 0,
            fresh_session: false,
            reconciled: false,
            log: None,
        },
        RerunCase {
            // VOD refuses the committed session; its media is in the library: that is the outcome.
            name: "an already committed session is found, not uploaded again",
            first: FirstRun::CommitFails,
            meanwhile: Meanwhile::SessionCommitted,
            request: |r| r,
            fails: None,
            counts: &[("ApplyUpload", 1)],
            media_sent: 0,
            fresh_session: false,
            reconciled: true,
            log: None,
        },
        RerunCase {
            name: "a refused session whose media is not in the library starts over",
            first: FirstRun::CommitFails,
            meanwhile: Meanwhile::SessionRefused,
            request: |r| r,
            fails: None,
            counts: &[("ApplyUpload", 2), ("SearchMedia", 1)],
            media_sent: PARTS,
            fresh_session: true,
            reconciled: false,
            log: None,
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let name = case.name;
        let (server, client, dir) = setup_with_concurrency(1).await;
        let seed = 100 + i as u64;
        let mut bytes = data((PARTS * MIB) as usize, seed);
        let path = write(dir.path(), "rerun.mp4", &bytes);
        let store = match case.first {
            FirstRun::PartFails => failed_run(&server, &client, &path).await,
            FirstRun::CommitFails => uploaded_but_not_committed(&server, &client, &path).await,
        };
        let key = store.keys()[0].clone();
        let mut cp = store.get(&key).unwrap();
        let old_session = cp.apply.vod_session_key.clone();
        let mut committed_meanwhile = None;
        match case.meanwhile {
            Meanwhile::Nothing => {}
            Meanwhile::SourceModified => {
                bytes = data((PARTS * MIB) as usize, seed + 1000);
                std::fs::write(&path, &bytes).unwrap();
            }
            Meanwhile::CredentialsExpireIn(secs) => {
                cp.apply.temp_certificate.as_mut().unwrap().expired_time = now() + secs;
                store.put(&key, cp);
            }
            Meanwhile::CommitAttemptRecorded => {
                cp.commit_attempted_at = Some(cp.created_at);
                store.put(&key, cp);
            }
            Meanwhile::SessionCommitted => {
                let first = client
                    .api()
                    .commit_upload(&CommitUploadRequest::new(&old_session))
                    .await
                    .unwrap();
                committed_meanwhile = Some(first.file_id);
            }
            Meanwhile::SessionRefused => {
                server.add_fault(FaultRule::new(Target::Vod("CommitUpload")).nth(1).fault(
                    Fault::VodError("InvalidParameterValue.VodSessionKey".into()),
                ))
            }
        }
        let media_requests = || server.count("UploadPart") + server.count("PutObject");
        let sent_before = media_requests();

        let (buf, _guard) = capture_logs();
        let result = client
            .upload((case.request)(
                UploadRequest::from_path(&path).with_checkpoint(store.clone()),
            ))
            .await;

        for &(operation, n) in case.counts {
            assert_eq!(server.count(operation), n, "{name}: {operation} requests");
        }
        assert_eq!(
            media_requests() - sent_before,
            case.media_sent,
            "{name}: media requests of the second run"
        );
        if let Some(line) = case.log {
            assert!(logs(&buf).contains(line), "{name}: {}", logs(&buf));
        }
        match (case.fails, result) {
            (None, Ok(out)) => {
                let commits = server.commits();
                assert_eq!(commits.len(), 1, "{name}: commits");
                assert_eq!(commits[0].file_id, out.file_id, "{name}");
                assert_eq!(
                    commits[0].vod_session_key != old_session,
                    case.fresh_session,
                    "{name}: fresh session"
                );
                if let Some(file_id) = committed_meanwhile {
                    assert_eq!(out.file_id, file_id, "{name}: the earlier commit's file");
                }
                assert_eq!(out.commit_reconciled, case.reconciled, "{name}: reconciled");
                assert_eq!(
                    server.object(&out.bucket, &out.media_key).map(|o| o.sha256),
                    Some(sha256_hex(&bytes)),
                    "{name}: the media object holds the source"
                );
                assert!(store.is_empty(), "{name}: checkpoint deleted");
            }
            (None, Err(e)) => panic!("{name}: expected an upload, got {e:?}"),
            (Some(_), Ok(out)) => panic!("{name}: expected an error, uploaded {}", out.file_id),
            (Some(expected), Err(e)) => {
                assert!(expected(&e), "{name}: {e:?}");
                assert!(server.commits().is_empty(), "{name}: nothing committed");
                assert_eq!(store.len(), 1, "{name}: kept for a later reconciliation");
            }
        }
    }
}

#[tokio::test]
async fn corrupt_checkpoint_file_is_discarded_with_a_log() {
    let (server, client, dir) = setup_with_concurrency(1).await;
    let bytes = data((PARTS * MIB) as usize, 16);
    let path = write(dir.path(), "x.mp4", &bytes);
    let store_dir = dir.path().join("cps");
    let store = JsonFileCheckpointStore::new(&store_dir);
    server.add_fault(part_fault(2));
    client
        .upload(UploadRequest::from_path(&path).with_checkpoint(store.clone()))
        .await
        .unwrap_err();
    server.clear_faults();
    let files = json_files(&store_dir);
    assert_eq!(files.len(), 1);
    std::fs::write(&files[0], b"{\"version\": 1, \"key\": tru").unwrap();

    let (buf, _guard) = capture_logs();
    let out = client
        .upload(UploadRequest::from_path(&path).with_checkpoint(store.clone()))
        .await
        .unwrap();
    let text = logs(&buf);
    assert!(text.contains("checkpoint unreadable"), "{text}");
    assert_eq!(server.count("ApplyUpload"), 2);
    assert_media_stored(&server, &out, &bytes);
    assert!(json_files(&store_dir).is_empty());
}

#[tokio::test]
async fn json_store_round_trip_permissions_and_redaction() {
    let (server, client, dir) = setup_with_concurrency(1).await;
    let path = write(dir.path(), "j.mp4", &data((PARTS * MIB) as usize, 17));
    let mem = failed_run(&server, &client, &path).await;
    let cp = mem.get(&mem.keys()[0]).unwrap();

    let store = JsonFileCheckpointStore::new(dir.path().join("deep/store"));
    let key = "tenant 7/upload: a.mp4";
    assert!(store.load(key).await.unwrap().is_none());
    store.save(key, &cp).await.unwrap();
    let file = store.path_for(key);
    assert_eq!(
        file.parent().unwrap(),
        store.dir(),
        "odd keys stay inside the directory"
    );
    assert_eq!(store.load(key).await.unwrap().as_ref(), Some(&cp));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Saving again replaces atomically (no temporary file left behind).
    store.save(key, &cp).await.unwrap();
    let entries: Vec<_> = std::fs::read_dir(store.dir()).unwrap().collect();
    assert_eq!(entries.len(), 1);

    let cert = cp.apply.temp_certificate.clone().unwrap();
    let debug = format!("{cp:?}");
    assert!(!debug.contains(&cert.secret_key), "{debug}");
    assert!(!debug.contains(&cert.token), "{debug}");
    assert!(!debug.contains(&cp.apply.vod_session_key), "{debug}");

    store.delete(key).await.unwrap();
    store.delete(key).await.unwrap();
    assert!(store.load(key).await.unwrap().is_none());
}

#[tokio::test]
async fn checkpoint_is_ignored_for_bytes_sources() {
    let (server, client, _dir) = setup_with_concurrency(1).await;
    let bytes = data((2 * MIB) as usize, 18);
    let store = MemoryCheckpointStore::new();
    let out = client
        .upload(UploadRequest::from_bytes(bytes.clone(), "mp4").with_checkpoint(store.clone()))
        .await
        .unwrap();
    assert!(store.is_empty());
    assert_eq!(server.commits().len(), 1);
    assert_media_stored(&server, &out, &bytes);
}

#[tokio::test]
async fn checkpointed_upload_with_cover_resumes() {
    let (server, client, dir) = setup_with_concurrency(1).await;
    let media = data((PARTS * MIB) as usize, 19);
    let cover = data(50_000, 20);
    let path = write(dir.path(), "withcover.mp4", &media);
    let cover_path = write(dir.path(), "withcover.jpg", &cover);
    let store = MemoryCheckpointStore::new();
    server.add_fault(part_fault(5));
    let req = || {
        UploadRequest::from_path(&path)
            .with_cover_path(&cover_path)
            .with_checkpoint(store.clone())
    };
    client.upload(req()).await.unwrap_err();
    server.clear_faults();
    let cp = store.get(&store.keys()[0]).unwrap();
    assert_eq!(cp.objects.len(), 2);
    let out = client.upload(req()).await.unwrap();
    assert_eq!(server.count("ApplyUpload"), 1);
    assert_eq!(server.commits().len(), 1);
    assert_media_stored(&server, &out, &media);
    let ck = out.cover_key.as_deref().unwrap();
    assert_eq!(
        server.object(&out.bucket, ck).unwrap().sha256,
        sha256_hex(&cover)
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn dropped_upload_resumes_like_a_killed_process() {
    let (server, client, dir) = setup_with_concurrency(1).await;
    let bytes = data((PARTS * MIB) as usize, 21);
    let path = write(dir.path(), "killed.mp4", &bytes);
    let store_dir = dir.path().join("cps");
    let store = JsonFileCheckpointStore::new(&store_dir);
    let parts = Arc::new(AtomicU32::new(0));
    let reached = Arc::new(tokio::sync::Notify::new());
    let (n, r) = (parts.clone(), reached.clone());
    let upload = client.upload(
        UploadRequest::from_path(&path)
            .with_checkpoint(store.clone())
            .with_progress(move |p| {
                if matches!(p.event, ProgressEvent::PartDone { .. })
                    && n.fetch_add(1, Ordering::SeqCst) + 1 >= 3
                {
                    r.notify_one();
                }
            }),
    );
    tokio::select! {
        res = upload => panic!("should still be running: {res:?}"),
        _ = reached.notified() => {}
    }
    // "Killed": the future is gone, but a save already handed to the blocking pool still lands: wait until the
    // file holds a verified part and has stopped changing.
    let saved = || -> Option<Vec<u8>> {
        let files = json_files(&store_dir);
        let raw = std::fs::read(files.first()?).ok()?;
        let cp: Checkpoint = serde_json::from_slice(&raw).ok()?;
        (!cp.objects[0].parts.is_empty()).then_some(raw)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut last = None;
    let raw = loop {
        let now = saved();
        if let Some(raw) = now.as_ref().filter(|_| now == last) {
            break raw.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no settled checkpoint"
        );
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(json_files(&store_dir).len(), 1);
    let cp: Checkpoint = serde_json::from_slice(&raw).unwrap();
    let recorded = cp.objects[0].parts.len() as u64;
    assert_eq!(server.count("CommitUpload"), 0);
    let first = server.count("UploadPart");

    let out = client
        .upload(UploadRequest::from_path(&path).with_checkpoint(store.clone()))
        .await
        .unwrap();
    assert_eq!(server.count("ListParts"), 1);
    assert_eq!(server.count("ApplyUpload"), 1);
    assert_eq!(server.count("UploadPart") - first, PARTS - recorded);
    assert_eq!(server.commits().len(), 1);
    assert_media_stored(&server, &out, &bytes);
    assert!(json_files(&store_dir).is_empty());
}

/// A store that fails on purpose: reads, the save of the commit attempt, or every other save.
#[derive(Clone)]
struct FailingStore {
    inner: MemoryCheckpointStore,
    fail: StoreFault,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum StoreFault {
    Load,
    SaveAttempt,
    SaveOthers,
}

impl CheckpointStore for FailingStore {
    fn load<'a>(
        &'a self,
        key: &'a str,
    ) -> futures::future::BoxFuture<'a, tencent_vod::Result<Option<Checkpoint>>> {
        if self.fail == StoreFault::Load {
            return Box::pin(async {
                Err(Error::Io {
                    path: "db".into(),
                    action: "read the checkpoint".into(),
                    source: std::io::Error::other("disk I/O error"),
                })
            });
        }
        self.inner.load(key)
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        cp: &'a Checkpoint,
    ) -> futures::future::BoxFuture<'a, tencent_vod::Result<()>> {
        let fail = match self.fail {
            StoreFault::Load => false,
            StoreFault::SaveAttempt => cp.records_commit_attempt(),
            StoreFault::SaveOthers => !cp.records_commit_attempt(),
        };
        if fail {
            return Box::pin(async {
                Err(Error::Io {
                    path: "db".into(),
                    action: "save the checkpoint".into(),
                    source: std::io::Error::other("database or disk is full"),
                })
            });
        }
        self.inner.save(key, cp)
    }
    fn delete<'a>(
        &'a self,
        key: &'a str,
    ) -> futures::future::BoxFuture<'a, tencent_vod::Result<()>> {
        self.inner.delete(key)
    }
}

/// A store that cannot be read fails the upload before anything is sent (what it holds may be a commit attempt);
/// one that cannot record the commit attempt fails it before CommitUpload (a crash during the commit could
/// otherwise upload the media again), and the next run commits without uploading; other failed saves are only
/// logged.
#[tokio::test]
async fn store_failures_never_risk_a_second_upload() {
    for fault in [
        StoreFault::Load,
        StoreFault::SaveAttempt,
        StoreFault::SaveOthers,
    ] {
        let (server, client, dir) = setup_with_concurrency(2).await;
        let bytes = data(3 * MIB as usize, 21);
        let path = write(dir.path(), "s.mp4", &bytes);
        let store = FailingStore {
            inner: MemoryCheckpointStore::new(),
            fail: fault,
        };
        let result = client
            .upload(UploadRequest::from_path(&path).with_checkpoint(store.clone()))
            .await;
        match fault {
            StoreFault::Load => {
                let e = result.unwrap_err();
                assert!(matches!(e, Error::Io { .. }), "{fault:?}: {e:?}");
                assert_eq!(server.count("ApplyUpload"), 0, "{fault:?}: nothing sent");
            }
            StoreFault::SaveAttempt => {
                let e = result.unwrap_err();
                assert!(e.to_string().contains("disk is full"), "{fault:?}: {e}");
                assert_eq!(server.commits().len(), 0, "{fault:?}: not committed");
                let cp = store.inner.get(&store.inner.keys()[0]).unwrap();
                assert!(
                    !cp.records_commit_attempt()
                        && cp.objects.iter().all(|o| o.completed.is_some())
                );
                // The store works again: the next run commits what is on COS, sending no media.
                let sent = server.count("UploadPart") + server.count("PutObject");
                let out = client
                    .upload(UploadRequest::from_path(&path).with_checkpoint(store.inner.clone()))
                    .await
                    .unwrap();
                assert_eq!(server.count("UploadPart") + server.count("PutObject"), sent);
                assert_eq!(server.commits().len(), 1);
                assert_eq!(server.count("ApplyUpload"), 1);
                assert_media_stored(&server, &out, &bytes);
            }
            StoreFault::SaveOthers => {
                let out = result.unwrap();
                assert_eq!(server.commits().len(), 1, "{fault:?}");
                assert!(!out.file_id.is_empty());
            }
        }
    }
}
