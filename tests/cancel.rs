//! Cancellation, deadlines and dropping the upload future: clean stop, no commit, no work left behind.

mod support;

use support::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tencent_vod::CancellationToken;
use tencent_vod::ProgressEvent;
use tencent_vod::error::CosOperation;
use tencent_vod::{Error, UploadRequest};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

fn total_requests(server: &MockServer) -> u64 {
    server.stats().counts.values().sum()
}

/// After the call returned (and a short settle for requests already on the wire), the mock must see no further
/// request: a leaked part task would keep sending parts.
async fn assert_quiet(server: &MockServer) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.stats().counts;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        server.stats().counts,
        before,
        "requests kept arriving after the upload returned"
    );
}

#[tokio::test]
async fn cancel_mid_multipart_aborts_and_never_commits() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    let path = write(dir.path(), "a.mp4", &data((8 * MIB) as usize, 1));
    let token = CancellationToken::new();
    let done = Arc::new(AtomicU32::new(0));
    let (t, d) = (token.clone(), done.clone());
    let err = client
        .upload(
            UploadRequest::from_path(&path)
                .with_cancellation(token.clone())
                .with_progress(move |p| {
                    if matches!(p.event, ProgressEvent::PartDone { .. })
                        && d.fetch_add(1, Ordering::SeqCst) + 1 == 2
                    {
                        t.cancel();
                    }
                }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(done.load(Ordering::SeqCst) >= 2);
    assert!(server.count("UploadPart") < 8, "stopped early");
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert!(server.multipart_uploads().is_empty());
    assert_eq!(server.count("CompleteMultipartUpload"), 0);
    assert_eq!(server.count("CommitUpload"), 0);
    assert_quiet(&server).await;
}

#[tokio::test]
async fn cancelled_before_start_sends_nothing() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    let path = write(dir.path(), "b.mp4", &data(100_000, 2));
    let token = CancellationToken::new();
    token.cancel();
    let err = client
        .upload(UploadRequest::from_path(&path).with_cancellation(token))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(total_requests(&server), 0);
}

#[tokio::test]
async fn cancel_during_apply_upload_returns_promptly() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload")).fault(Fault::Delay(Duration::from_secs(30))),
    );
    let path = write(dir.path(), "c.mp4", &data(100_000, 3));
    let token = CancellationToken::new();
    let upload = client.upload(UploadRequest::from_path(&path).with_cancellation(token.clone()));
    // Cancelled once ApplyUpload has reached the server (and is held there).
    let cancel = async {
        eventually("ApplyUpload to arrive", Duration::from_secs(20), || {
            server.count("ApplyUpload") == 1
        })
        .await;
        token.cancel();
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(upload, cancel)
    })
    .await
    .expect("cancellation must not wait for the 30 s ApplyUpload");
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(server.count("PutObject"), 0);
    assert_eq!(server.count("CommitUpload"), 0);
}

#[tokio::test]
async fn deadline_exceeded_aborts_and_never_commits() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    // Every part is held 20 s by the server: the 1 s deadline passes mid-transfer.
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .fault(Fault::Delay(Duration::from_secs(20))),
    );
    let path = write(dir.path(), "d.mp4", &data((4 * MIB) as usize, 4));
    let err = tokio::time::timeout(
        Duration::from_secs(15),
        client.upload(UploadRequest::from_path(&path).with_deadline(Duration::from_secs(1))),
    )
    .await
    .expect("the deadline must end the upload")
    .unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded(d) if d == Duration::from_secs(1)),
        "{err}"
    );
    assert!(server.count("InitiateMultipartUpload") == 1);
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert!(server.multipart_uploads().is_empty());
    assert_eq!(server.count("CommitUpload"), 0);
    assert_quiet(&server).await;
}

#[tokio::test]
async fn dropping_the_future_stops_every_request() {
    let (server, client, dir) = setup_with_concurrency(3).await;
    // Parts after the first are slow, so several are in flight when the future is dropped.
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .every(1)
            .fault(Fault::Delay(Duration::from_millis(400))),
    );
    let path = write(dir.path(), "e.mp4", &data((12 * MIB) as usize, 5));
    let first_part = Arc::new(tokio::sync::Notify::new());
    let n = first_part.clone();
    let upload = client.upload(UploadRequest::from_path(&path).with_progress(move |p| {
        if matches!(p.event, ProgressEvent::PartDone { .. }) {
            n.notify_one();
        }
    }));
    tokio::select! {
        r = upload => panic!("the upload should still be running: {r:?}"),
        _ = first_part.notified() => {}
    }
    // The future is dropped here.
    let sent = server.count("UploadPart");
    assert!(sent < 12, "{sent}");
    assert_quiet(&server).await;
    assert_eq!(server.count("CommitUpload"), 0);
    assert_eq!(server.count("CompleteMultipartUpload"), 0);
    // Not aborted (nothing runs after a drop): left for lifecycle rules or a checkpointed resume.
    assert_eq!(server.count("AbortMultipartUpload"), 0);
    assert_eq!(server.multipart_uploads().len(), 1);
}

#[tokio::test]
async fn cancelling_one_upload_leaves_a_parallel_one_alone() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    let a = write(dir.path(), "f1.mp4", &data((4 * MIB) as usize, 6));
    let b = write(dir.path(), "f2.mp4", &data((4 * MIB) as usize, 7));
    let parent = CancellationToken::new();
    let child_a = parent.child_token();
    let t = child_a.clone();
    let ra = client.upload(
        UploadRequest::from_path(&a)
            .with_cancellation(child_a)
            .with_progress(move |p| {
                if matches!(p.event, ProgressEvent::PartDone { .. }) {
                    t.cancel();
                }
            }),
    );
    let rb = client.upload(UploadRequest::from_path(&b).with_cancellation(parent.clone()));
    let (ra, rb) = tokio::join!(ra, rb);
    assert!(matches!(ra, Err(Error::Cancelled)), "{ra:?}");
    assert!(rb.is_ok(), "{rb:?}");
    assert!(!parent.is_cancelled());
    assert_eq!(server.commits().len(), 1);
}

#[tokio::test]
async fn upload_handle_cancel_and_join() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    // 10 parts, 2 in flight, each held 2 s by the mock: the cancel below lands while most parts are unsent even
    // when this thread is starved for seconds on a loaded machine (with 300 ms the whole upload could finish
    // before the cancel, leaving nothing to abort).
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .every(1)
            .fault(Fault::Delay(Duration::from_secs(2))),
    );
    let path = write(dir.path(), "h.mp4", &data((10 * MIB) as usize, 8));
    let handle = client.start_upload(UploadRequest::from_path(&path));
    let mut watch = handle.progress_watch();
    tokio::time::timeout(
        Duration::from_secs(30),
        watch.wait_for(|p| {
            p.as_ref()
                .is_some_and(|p| matches!(p.event, ProgressEvent::PartDone { .. }))
        }),
    )
    .await
    .expect("a part completes")
    .unwrap();
    assert!(handle.progress().is_some_and(|p| p.bytes_sent > 0));
    handle.cancel();
    let err = handle.join().await.unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert_eq!(server.count("CommitUpload"), 0);
    assert_quiet(&server).await;
}

#[tokio::test]
async fn upload_handle_success_reports_final_progress() {
    let (server, client, dir) = setup_with_concurrency(2).await;
    let bytes = data((3 * MIB) as usize, 9);
    let path = write(dir.path(), "ok.mp4", &bytes);
    let handle = client.start_upload(UploadRequest::from_path(&path));
    let out = handle_join(handle).await;
    assert_eq!(out.0.bytes_sent, bytes.len() as u64);
    let last = out.1.expect("progress reported");
    assert_eq!(last.bytes_sent, bytes.len() as u64);
    assert_eq!(last.total, Some(bytes.len() as u64));
    assert_eq!(last.event, ProgressEvent::ObjectDone);
    assert_eq!(server.commits().len(), 1);
}

async fn handle_join(
    handle: tencent_vod::UploadHandle,
) -> (tencent_vod::UploadOutcome, Option<tencent_vod::Progress>) {
    let watch = handle.progress_watch();
    let out = handle.join().await.unwrap();
    let last = watch.borrow().clone();
    (out, last)
}
