//! Exactly once: requests that were processed but whose answers were lost (the mock's `drop-after` and
//! `status-after` faults) never become false failures or duplicate uploads.
//!
//! Every case asserts the mock's commit count, the stored objects' SHA-256 and the outcome or error.

mod support;

use support::*;

use std::time::Duration;
use tencent_vod::cos::CosClient;
use tencent_vod::error::CosOperation;
use tencent_vod::upload::MemoryCheckpointStore;
use tencent_vod::vod::ApplyUploadRequest;
use tencent_vod::{Error, UploadOutcome, UploadRequest, VodClient};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Recommit, Target};

/// Four parts of 1 MiB (the last shorter): initiate, parts, complete.
const MULTI: usize = 3 * MIB as usize + 4321;
/// One PUT.
const SINGLE: usize = 150 * 1024 + 7;

struct Harness {
    server: MockServer,
    client: VodClient,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new(recommit: Recommit, rules: Vec<FaultRule>) -> Self {
        let mut b = MockServer::builder()
            .with_min_part_size(64 * 1024)
            .with_recommit(recommit);
        for r in rules {
            b = b.with_fault(r);
        }
        let server = b.start().await.expect("mock starts");
        let client = server
            .client_builder()
            .with_transfer_config(parts_of(MIB))
            .with_retry(retry(3))
            .build()
            .expect("client builds");
        Harness {
            server,
            client,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Writes the sources (once: a checkpoint checks that they did not change) and makes a request.
    fn request(&self, media: &[u8], cover: Option<&[u8]>) -> UploadRequest {
        let file = |name: &str, bytes: &[u8]| {
            let p = self.dir.path().join(name);
            if std::fs::read(&p).ok().as_deref() != Some(bytes) {
                write(self.dir.path(), name, bytes);
            }
            p
        };
        let mut req = UploadRequest::from_path(file("media.mp4", media))
            .with_commit_reconcile_timeout(Duration::ZERO);
        if let Some(c) = cover {
            req = req.with_cover_path(file("cover.jpg", c));
        }
        req
    }

    async fn run(&self, req: UploadRequest) -> Result<UploadOutcome, Error> {
        tokio::time::timeout(Duration::from_secs(60), self.client.upload(req))
            .await
            .expect("upload finished within 60 s")
    }

    /// Exactly one commit, with this outcome's FileId, and the objects stored byte for byte.
    fn assert_committed_once(&self, out: &UploadOutcome, media: &[u8], cover: Option<&[u8]>) {
        let commits = self.server.commits();
        assert_eq!(commits.len(), 1, "exactly one commit: {commits:?}");
        assert_eq!(commits[0].file_id, out.file_id);
        let obj = self
            .server
            .object(&out.bucket, &out.media_key)
            .expect("media stored");
        assert_eq!(obj.sha256, sha256_hex(media), "media bytes");
        if let Some(c) = cover {
            let key = out.cover_key.as_deref().expect("cover key");
            let obj = self.server.object(&out.bucket, key).expect("cover stored");
            assert_eq!(obj.sha256, sha256_hex(c), "cover bytes");
        }
        // Media and cover only: no second copy of anything.
        let expected = 1 + usize::from(cover.is_some());
        assert_eq!(
            self.server.objects().len(),
            expected,
            "{:?}",
            self.server.objects()
        );
    }

    fn uploads_sent(&self) -> u64 {
        self.server.count("PutObject") + self.server.count("UploadPart")
    }
}

fn after(target: Target, fault: Fault) -> FaultRule {
    FaultRule::new(target).nth(1).fault(fault)
}

const COMMIT: Target = Target::Vod("CommitUpload");

/// CommitUpload is processed and its answer is lost (a reset, then a 502), with VOD refusing or repeating a
/// second commit: the upload succeeds with the committed FileId and exactly one commit.
#[tokio::test]
async fn lost_commit_answer_is_reconciled_to_the_committed_file_id() {
    for recommit in [Recommit::Refuse, Recommit::SameFileId] {
        for fault in [
            Fault::DropAfterProcessing,
            Fault::StatusAfterProcessing(502),
        ] {
            let case = format!("{recommit:?} {fault:?}");
            let h = Harness::new(recommit, vec![after(COMMIT, fault)]).await;
            let media = data(SINGLE, 1);
            let cover = data(3000, 2);
            let out = h
                .run(h.request(&media, Some(&cover)))
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            h.assert_committed_once(&out, &media, Some(&cover));
            assert!(out.commit_reconciled, "{case}");
            assert_eq!(h.server.count("CommitUpload"), 2, "{case}");
            let commit = &h.server.commits()[0];
            assert_eq!(
                out.media_url.as_deref(),
                Some(commit.media_url.as_str()),
                "{case}"
            );
            assert_eq!(out.cover_url, commit.cover_url, "{case}");
            match recommit {
                // The second commit is refused: the FileId comes from the media library.
                Recommit::Refuse => {
                    assert_eq!(h.server.count("SearchMedia"), 1, "{case}");
                    assert_eq!(h.server.count("DescribeMediaInfos"), 1, "{case}");
                }
                // The second commit answers the same FileId: no search.
                _ => assert_eq!(h.server.count("SearchMedia"), 0, "{case}"),
            }
        }
    }
}

/// When the FileId cannot be established, the error is the typed unknown outcome, never a plain failure; it
/// carries the storage paths and request ids, and never shows the session key.
#[tokio::test]
async fn unknown_commit_outcome_is_a_typed_error_without_the_session_key() {
    let h = Harness::new(
        Recommit::Refuse,
        vec![
            after(COMMIT, Fault::DropAfterProcessing),
            FaultRule::new(Target::Vod("SearchMedia"))
                .fault(Fault::VodError("UnauthorizedOperation".into())),
        ],
    )
    .await;
    let media = data(SINGLE, 3);
    let e = h.run(h.request(&media, None)).await.unwrap_err();
    let Error::CommitOutcomeUnknown(u) = &e else {
        panic!("expected CommitOutcomeUnknown, got {e:?}")
    };
    // The media was committed exactly once, and is stored intact.
    let commits = h.server.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(u.vod_session_key(), commits[0].vod_session_key);
    assert_eq!(h.server.count("CommitUpload"), 2);
    let obj = h
        .server
        .object(&u.bucket, &u.media_storage_path[1..])
        .expect("media stored at the reported path");
    assert_eq!(obj.sha256, sha256_hex(&media));
    assert!(commits[0].media_url.ends_with(&u.media_storage_path));
    // Request ids: ApplyUpload's, and the refused second commit's (the first answer was lost).
    assert!(!u.apply_request_id.is_empty());
    assert_eq!(u.commit_request_ids.len(), 1, "{u:?}");
    assert_eq!(
        e.request_id(),
        u.commit_request_ids.last().map(String::as_str)
    );
    assert!(e.is_outcome_unknown() && !e.is_retryable());
    assert!(u.cause.is_some() && std::error::Error::source(&e).is_some());
    // The session key never appears in Display or Debug.
    let key = &commits[0].vod_session_key;
    for text in [e.to_string(), format!("{e:?}"), format!("{u:?}")] {
        assert!(!text.contains(key.as_str()), "session key leaked: {text}");
        assert!(text.contains(&u.media_storage_path), "{text}");
    }
}

/// A persistent gateway error on CommitUpload that never reached VOD: the search finds nothing, the error is the
/// typed unknown outcome and nothing was committed.
#[tokio::test]
async fn commit_never_processed_is_an_unknown_outcome_not_a_commit() {
    let h = Harness::new(
        Recommit::Refuse,
        vec![FaultRule::new(COMMIT).fault(Fault::Status(504))],
    )
    .await;
    let e = h.run(h.request(&data(SINGLE, 4), None)).await.unwrap_err();
    let Error::CommitOutcomeUnknown(u) = &e else {
        panic!("expected CommitOutcomeUnknown, got {e:?}")
    };
    assert!(u.reason.contains("no media"), "{e}");
    assert!(h.server.commits().is_empty());
    // The first commit, then three re-sends with backoff while the gateway keeps failing, then the search.
    assert_eq!(h.server.count("CommitUpload"), 4);
    assert_eq!(h.server.count("SearchMedia"), 1);
}

/// With a checkpoint: the first run loses the commit's answer and cannot establish the FileId; the checkpoint
/// keeps the commit attempt, and the re-run reconciles without uploading anything again.
#[tokio::test]
async fn checkpointed_rerun_after_a_lost_commit_never_uploads_again() {
    // (first-run commit fault, second-run expectation of CommitUpload requests)
    let cases = [
        // Committed, answer lost: the re-run's CommitUpload is refused, the search finds the media.
        (Fault::DropAfterProcessing, 1),
        // Never reached VOD (the whole first run's commits failed at the gateway): the re-run commits.
        (Fault::Status(503), 1),
    ];
    for (fault, rerun_commits) in cases {
        let case = format!("{fault:?}");
        let persistent = matches!(fault, Fault::Status(_));
        let mut commit_rule = FaultRule::new(COMMIT).fault(fault.clone());
        if !persistent {
            commit_rule = commit_rule.nth(1);
        }
        let h = Harness::new(
            Recommit::Refuse,
            vec![
                commit_rule,
                FaultRule::new(Target::Vod("SearchMedia"))
                    .fault(Fault::VodError("UnauthorizedOperation".into())),
            ],
        )
        .await;
        let media = data(MULTI, 5);
        let store = MemoryCheckpointStore::new();
        let req = || {
            h.request(&media, None)
                .with_checkpoint(store.clone())
                .with_checkpoint_key("job-1")
        };
        let e = h.run(req()).await.unwrap_err();
        assert!(matches!(e, Error::CommitOutcomeUnknown(_)), "{case}: {e:?}");
        let cp = store.get("job-1").expect("checkpoint kept");
        assert!(cp.commit_attempted_at.is_some(), "{case}: {cp:?}");
        let (sent, applied, commits) = (
            h.uploads_sent(),
            h.server.count("ApplyUpload"),
            h.server.count("CommitUpload"),
        );

        h.server.clear_faults();
        let out = h
            .run(req())
            .await
            .unwrap_or_else(|e| panic!("{case}: re-run: {e}"));
        assert_eq!(h.uploads_sent(), sent, "{case}: media uploaded again");
        assert_eq!(
            h.server.count("ApplyUpload"),
            applied,
            "{case}: new session"
        );
        assert_eq!(
            h.server.count("CommitUpload"),
            commits + rerun_commits,
            "{case}"
        );
        assert_eq!(out.bytes_sent, 0, "{case}");
        assert!(out.commit_reconciled, "{case}");
        h.assert_committed_once(&out, &media, None);
        assert!(
            store.is_empty(),
            "{case}: checkpoint deleted after the commit"
        );
        // A third run is a new upload (the checkpoint is gone), not a replay of the old outcome.
    }
}

/// A checkpoint whose commit succeeded but could not be deleted answers a re-run with the recorded outcome.
#[tokio::test]
async fn committed_checkpoint_answers_without_uploading() {
    let h = Harness::new(Recommit::Refuse, Vec::new()).await;
    let media = data(SINGLE, 6);
    let store = FailingDelete(MemoryCheckpointStore::new());
    let req = || {
        h.request(&media, None)
            .with_checkpoint(store.clone())
            .with_checkpoint_key("job-2")
    };
    let first = h.run(req()).await.expect("first run");
    let cp = store.0.get("job-2").expect("kept: delete failed");
    assert!(cp.committed);
    assert_eq!(
        cp.commit.as_ref().map(|c| c.file_id.as_str()),
        Some(first.file_id.as_str())
    );
    let sent = h.uploads_sent();
    let second = h.run(req()).await.expect("second run");
    assert_eq!(second.file_id, first.file_id);
    assert_eq!(second.bytes_sent, 0);
    assert_eq!(h.uploads_sent(), sent);
    assert_eq!(h.server.count("ApplyUpload"), 1);
    assert_eq!(h.server.count("CommitUpload"), 1);
    h.assert_committed_once(&second, &media, None);
}

/// A store whose deletes fail (the commit must then be recorded in the checkpoint).
#[derive(Clone)]
struct FailingDelete(MemoryCheckpointStore);

impl tencent_vod::CheckpointStore for FailingDelete {
    fn load<'a>(
        &'a self,
        key: &'a str,
    ) -> futures::future::BoxFuture<'a, tencent_vod::Result<Option<tencent_vod::Checkpoint>>> {
        self.0.load(key)
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        cp: &'a tencent_vod::Checkpoint,
    ) -> futures::future::BoxFuture<'a, tencent_vod::Result<()>> {
        self.0.save(key, cp)
    }
    fn delete<'a>(
        &'a self,
        _key: &'a str,
    ) -> futures::future::BoxFuture<'a, tencent_vod::Result<()>> {
        Box::pin(async {
            Err(Error::invalid(
                "store",
                "deletes are switched off in this test",
            ))
        })
    }
}

/// Every operation of an upload processed with its answer lost, once: the upload succeeds with one commit and
/// intact objects (COS requests are repeated; a lost Complete is confirmed with HEAD; a lost ApplyUpload only
/// wastes a session; a lost CommitUpload is reconciled).
#[tokio::test]
async fn every_operation_may_lose_its_answer_once() {
    let targets = [
        Target::Vod("ApplyUpload"),
        Target::Cos(CosOperation::PutObject),
        Target::Cos(CosOperation::InitiateMultipartUpload),
        Target::Cos(CosOperation::UploadPart),
        Target::Cos(CosOperation::CompleteMultipartUpload),
        COMMIT,
    ];
    for target in targets {
        for fault in [
            Fault::DropAfterProcessing,
            Fault::StatusAfterProcessing(500),
        ] {
            let case = format!("{target:?} {fault:?}");
            let h = Harness::new(Recommit::Refuse, vec![after(target.clone(), fault)]).await;
            let media = data(MULTI, 7);
            let cover = data(2000, 8);
            let out = h
                .run(h.request(&media, Some(&cover)))
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(h.server.stats().faults_injected, 1, "{case}");
            h.assert_committed_once(&out, &media, Some(&cover));
            if matches!(target, Target::Cos(CosOperation::CompleteMultipartUpload)) {
                // The repeat met NoSuchUpload; HEAD Object confirmed size and CRC-64.
                assert_eq!(h.server.count("CompleteMultipartUpload"), 2, "{case}");
                assert!(h.server.count("HeadObject") >= 1, "{case}");
            }
            if matches!(target, Target::Cos(CosOperation::InitiateMultipartUpload)) {
                // The lost answer's upload id is left open (logged), empty.
                assert_eq!(h.server.multipart_uploads().len(), 1, "{case}");
            } else {
                assert!(h.server.multipart_uploads().is_empty(), "{case}");
            }
        }
    }
}

/// The COS engine on its own: a lost Complete answer, then a HEAD answered 500, and a lost Abort answer.
#[tokio::test]
async fn cos_client_complete_and_abort_with_lost_answers() {
    let server = support::cos::server().await;
    server.add_fault(after(
        Target::Cos(CosOperation::CompleteMultipartUpload),
        Fault::StatusAfterProcessing(503),
    ));
    server.add_fault(after(
        Target::Cos(CosOperation::HeadObject),
        Fault::StatusAfterProcessing(500),
    ));
    let (cos, bucket) = support::cos::client(&server);
    let body = data(5 * support::cos::PART as usize + 11, 9);
    let out = cos
        .upload(
            "dir/obj.bin",
            tencent_vod::cos::UploadSource::bytes(body.clone()),
            tencent_vod::cos::UploadOptions::default().with_config(support::cos::tiny()),
        )
        .await
        .expect("upload");
    assert_eq!(out.size, body.len() as u64);
    let stored = server.object(&bucket, "dir/obj.bin").expect("stored");
    assert_eq!(stored.sha256, sha256_hex(&body));
    assert_eq!(server.count("CompleteMultipartUpload"), 2);
    assert_eq!(server.count("HeadObject"), 2);

    // Abort: processed, answer lost; the repeat meets NoSuchUpload and counts as done.
    server.add_fault(after(
        Target::Cos(CosOperation::AbortMultipartUpload),
        Fault::DropAfterProcessing,
    ));
    let upload_id = tencent_vod::__private::initiate_multipart_upload(&cos, "dir/aborted.bin")
        .await
        .expect("initiate");
    abort_ok(&cos, "dir/aborted.bin", &upload_id).await;
    assert!(server.multipart_uploads().is_empty());
    assert_eq!(server.count("AbortMultipartUpload"), 2);
}

async fn abort_ok(cos: &CosClient, key: &str, upload_id: &str) {
    cos.abort_multipart_upload(key, upload_id)
        .await
        .expect("abort counts as done");
}

/// The API requires Region for ApplyUpload and CommitUpload: without one, nothing is sent.
#[tokio::test]
async fn missing_region_fails_before_any_request() {
    let server = MockServer::start().await.unwrap();
    let client = VodClient::builder()
        .with_credential(server.credential())
        .with_vod_endpoint(server.vod_endpoint())
        .with_cos_endpoint(server.cos_endpoint())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.mp4", &data(1000, 10));
    let errors = [
        client
            .upload(UploadRequest::from_path(&path))
            .await
            .unwrap_err(),
        client
            .api()
            .apply_upload(&ApplyUploadRequest::new("mp4"))
            .await
            .unwrap_err(),
        client
            .api()
            .commit_upload(&tencent_vod::vod::CommitUploadRequest::new("k"))
            .await
            .unwrap_err(),
    ];
    for e in &errors {
        match e {
            Error::InvalidInput { field, reason } => {
                assert_eq!(field, "region");
                assert!(reason.contains("with_region"), "{reason}");
            }
            other => panic!("expected InvalidInput(region), got {other:?}"),
        }
    }
    assert!(
        server.stats().counts.is_empty(),
        "{:?}",
        server.stats().counts
    );
    // Actions that do not need it are sent without one.
    let parsed = client
        .api()
        .parse_streaming_manifest(&tencent_vod::vod::ParseStreamingManifestRequest::new(
            "#EXTM3U\n#EXTINF:1,\na.ts\n",
        ))
        .await
        .expect("ParseStreamingManifest without a region");
    assert_eq!(parsed.media_segment_set, vec!["a.ts".to_string()]);
}

/// A deadline passing while a lost commit is being reconciled ends the search at once, and the error stays the
/// unknown outcome (the media may be committed), not a plain deadline error.
#[tokio::test]
async fn deadline_during_reconciliation_keeps_the_unknown_outcome() {
    let h = Harness::new(
        Recommit::Refuse,
        vec![FaultRule::new(COMMIT).fault(Fault::Status(504))],
    )
    .await;
    let req = h
        .request(&data(SINGLE, 11), None)
        .with_commit_reconcile_timeout(Duration::from_secs(600))
        // Long enough that ApplyUpload, the PUT and the failing commits are done well before it even on a loaded
        // machine (the deadline must pass during the search, not before it).
        .with_deadline(Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    let e = h.run(req).await.unwrap_err();
    let Error::CommitOutcomeUnknown(u) = &e else {
        panic!("expected CommitOutcomeUnknown, got {e:?}")
    };
    assert!(u.reason.contains("cancelled"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the search stopped with the deadline"
    );
    assert!(h.server.commits().is_empty());
    assert!(h.server.count("SearchMedia") >= 1);
}
