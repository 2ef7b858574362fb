//! Temporary credentials expiring during an upload: one fresh session, every object re-sent, at most once.

mod support;

use support::*;

use std::time::Duration;
use tencent_vod::error::CosOperation;
use tencent_vod::upload::MemoryCheckpointStore;
use tencent_vod::{Error, UploadRequest, VodClient};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

async fn client_for(server: &MockServer, part: u64) -> VodClient {
    server
        .client_builder()
        .with_transfer_config(support::parts_of(part).with_concurrency(1))
        .build()
        .unwrap()
}

fn expire_on_part(nth: Option<u64>) -> FaultRule {
    let r = FaultRule::new(Target::Cos(CosOperation::UploadPart)).fault(Fault::ExpireCredentials);
    match nth {
        Some(n) => r.nth(n),
        None => r,
    }
}

#[tokio::test]
async fn expiry_mid_transfer_restarts_once_with_a_new_session() {
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .with_fault(expire_on_part(Some(3)))
        .start()
        .await
        .unwrap();
    let client = client_for(&server, MIB).await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = data((5 * MIB) as usize, 1);
    let path = write(dir.path(), "a.mp4", &bytes);
    let out = client
        .upload(UploadRequest::from_path(&path))
        .await
        .unwrap();
    assert_eq!(
        server.count("ApplyUpload"),
        2,
        "exactly one extra ApplyUpload"
    );
    assert_eq!(server.count("CommitUpload"), 1);
    let commits = server.commits();
    assert_eq!(commits.len(), 1);
    // Two parts before the expiry, the failing third, then all five again.
    assert_eq!(server.count("UploadPart"), 3 + 5);
    let stored = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    assert!(
        server.rejections().iter().any(|r| r.code == "ExpiredToken"),
        "{:?}",
        server.rejections()
    );
}

#[tokio::test]
async fn expiring_again_fails_without_commit() {
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .with_fault(expire_on_part(None))
        .start()
        .await
        .unwrap();
    let client = client_for(&server, MIB).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "b.mp4", &data((3 * MIB) as usize, 2));
    let err = client
        .upload(UploadRequest::from_path(&path))
        .await
        .unwrap_err();
    let expired =
        matches!(err, Error::CredentialsExpired { .. }) || err.code() == Some("ExpiredToken");
    assert!(expired, "{err}");
    assert_eq!(server.count("ApplyUpload"), 2, "one restart, not more");
    assert_eq!(server.count("CommitUpload"), 0);
    assert!(server.objects().is_empty());
}

#[tokio::test]
async fn short_ttl_credentials_expire_during_a_slow_part() {
    // Credentials live ~7-8 s; the second part is held by the server past that (the client stops it a quarter of
    // the validity before the expiry). The new session's credentials live as long: enough to send all 3 MiB
    // again even on a loaded machine.
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .with_temp_credential_ttl(Duration::from_secs(8))
        .with_fault(
            FaultRule::new(Target::Cos(CosOperation::UploadPart))
                .nth(2)
                .fault(Fault::Delay(Duration::from_secs(30))),
        )
        .start()
        .await
        .unwrap();
    let client = client_for(&server, MIB).await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = data((3 * MIB) as usize, 3);
    let path = write(dir.path(), "c.mp4", &bytes);
    let out = client
        .upload(UploadRequest::from_path(&path))
        .await
        .unwrap();
    assert_eq!(server.count("ApplyUpload"), 2);
    assert_eq!(server.commits().len(), 1);
    assert_media_stored(&server, &out, &bytes);
}

#[tokio::test]
async fn expiry_restart_replaces_the_checkpoint() {
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .with_fault(expire_on_part(Some(2)))
        .start()
        .await
        .unwrap();
    let client = client_for(&server, MIB).await;
    let dir = tempfile::tempdir().unwrap();
    let media = data((4 * MIB) as usize, 4);
    let cover = data(10_000, 5);
    let path = write(dir.path(), "d.mp4", &media);
    let cover_path = write(dir.path(), "d.png", &cover);
    let store = MemoryCheckpointStore::new();
    let out = client
        .upload(
            UploadRequest::from_path(&path)
                .with_cover_path(&cover_path)
                .with_checkpoint(store.clone())
                .with_checkpoint_key("exp"),
        )
        .await
        .unwrap();
    assert_eq!(server.count("ApplyUpload"), 2);
    let commits = server.commits();
    assert_eq!(commits.len(), 1);
    assert_media_stored(&server, &out, &media);
    let ck = out.cover_key.as_deref().unwrap();
    assert_eq!(
        server.object(&out.bucket, ck).unwrap().sha256,
        sha256_hex(&cover)
    );
    assert!(store.is_empty(), "deleted after the commit");
}

#[tokio::test]
async fn reader_sources_cannot_be_restarted() {
    let server = MockServer::builder()
        .with_min_part_size(64 * 1024)
        .with_fault(expire_on_part(Some(2)))
        .start()
        .await
        .unwrap();
    let client = client_for(&server, MIB).await;
    let bytes = data((3 * MIB) as usize, 6);
    let reader = std::io::Cursor::new(bytes);
    let err = client
        .upload(UploadRequest::from_reader(reader, Some(3 * MIB), "mp4"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ExpiredToken"), "{err}");
    assert_eq!(server.count("ApplyUpload"), 1);
    assert_eq!(server.count("CommitUpload"), 0);
}
