//! Fault matrix: every fault the mock can inject, on the request kinds where it matters, through
//! `VodClient::upload`. Each case ends in exactly one of two ways:
//!
//! - success: the stored object is byte-identical (SHA-256 read back from the mock) and exactly one commit was made;
//! - failure: the right typed error, and **no** CommitUpload reached the server's state.
//!
//! Transient variants (`nth`) must be absorbed by the retry loop; persistent ones (every request) must surface as a
//! typed error after the retry budget. Every case also checks the fault actually fired (no vacuous pass).

mod support;

use support::*;

use std::path::PathBuf;
use std::time::Duration;
use tencent_vod::error::{CosOperation, TransportKind};
use tencent_vod::{Error, UploadOutcome, UploadRequest, VodClient};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// 4 parts of 1 MiB (the last shorter) with the client below.
const MULTI: usize = 3 * MIB + 777;
/// One PUT.
const SINGLE: usize = 200 * KIB + 3;
/// Retries after the first attempt, so a persistent fault costs `MAX_RETRIES + 1` attempts.
const MAX_RETRIES: u32 = 3;

struct Harness {
    server: MockServer,
    client: VodClient,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new(rules: Vec<FaultRule>) -> Self {
        Self::build(rules, None, MAX_RETRIES).await
    }

    /// With this idle read timeout (the client's default without) and retry budget.
    async fn build(
        rules: Vec<FaultRule>,
        read_timeout: Option<Duration>,
        max_retries: u32,
    ) -> Self {
        let mut b = MockServer::builder().with_min_part_size(64 * 1024);
        for r in rules {
            b = b.with_fault(r);
        }
        let server = b.start().await.expect("mock starts");
        let mut cb = server
            .client_builder()
            .with_transfer_config(parts_of(MIB as u64).with_concurrency(3))
            .with_retry(retry(max_retries));
        if let Some(t) = read_timeout {
            cb = cb.with_read_timeout(t);
        }
        let client = cb.build().expect("client builds");
        Harness {
            server,
            client,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write test file");
        p
    }

    /// Uploads `media` (and `cover`) from files; gives up after a generous 120 s so a hang fails loudly.
    async fn upload(&self, media: &[u8], cover: Option<&[u8]>) -> Result<UploadOutcome, Error> {
        let path = self.write("media.mp4", media);
        // A commit whose outcome stays unknown is searched for once (the mock indexes media at once).
        let mut req = UploadRequest::from_path(&path).with_commit_reconcile_timeout(Duration::ZERO);
        if let Some(c) = cover {
            req = req.with_cover_path(self.write("cover.jpg", c));
        }
        tokio::time::timeout(Duration::from_secs(120), self.client.upload(req))
            .await
            .expect("upload finished within 120 s")
    }

    fn faults(&self) -> u64 {
        self.server.stats().faults_injected
    }

    /// The upload succeeded with byte-identical objects and exactly one commit, after at least one fault.
    fn assert_intact(&self, out: &UploadOutcome, media: &[u8], cover: Option<&[u8]>) {
        self.assert_stored(out, media, cover);
        assert_eq!(
            out.bytes_sent,
            (media.len() + cover.map_or(0, <[u8]>::len)) as u64
        );
    }

    /// Like `assert_intact` without the `bytes_sent` check (a restarted session may count bytes differently).
    fn assert_stored(&self, out: &UploadOutcome, media: &[u8], cover: Option<&[u8]>) {
        assert!(self.faults() >= 1, "the fault never fired");
        let obj = self
            .server
            .object(&out.bucket, &out.media_key)
            .expect("media stored");
        assert_eq!(obj.size, media.len() as u64);
        assert_eq!(obj.sha256, sha256_hex(media), "media corrupted");
        if let Some(c) = cover {
            let key = out.cover_key.as_deref().expect("cover key");
            let obj = self.server.object(&out.bucket, key).expect("cover stored");
            assert_eq!(obj.sha256, sha256_hex(c), "cover corrupted");
        }
        let commits = self.server.commits();
        assert_eq!(commits.len(), 1, "exactly one commit");
        assert_eq!(commits[0].file_id, out.file_id);
    }

    /// The upload failed after at least one fault and nothing was committed.
    fn assert_not_committed(&self, e: &Error) {
        assert!(self.faults() >= 1, "the fault never fired ({e})");
        assert!(
            self.server.commits().is_empty(),
            "committed despite {e}: {:?}",
            self.server.commits()
        );
    }

    /// No multipart upload is left open (the failed one was aborted).
    fn assert_aborted(&self) {
        assert!(
            self.server.multipart_uploads().is_empty(),
            "multipart uploads left open: {:?}",
            self.server.multipart_uploads()
        );
    }
}

fn rule(target: Target, fault: Fault) -> FaultRule {
    FaultRule::new(target).fault(fault)
}

fn cos(op: CosOperation) -> Target {
    Target::Cos(op)
}

fn cos_err(e: &Error) -> &tencent_vod::error::CosError {
    match e {
        Error::Cos(c) => c,
        other => panic!("expected Error::Cos, got {other:?}"),
    }
}

fn transport_kind(e: &Error) -> TransportKind {
    match e {
        Error::Transport(t) => t.kind,
        other => panic!("expected Error::Transport, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 5xx on COS requests
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn part_503_transient_is_retried() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::UploadPart), Fault::Status(503)).nth(2),
    ])
    .await;
    let media = data(MULTI, 1);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.server.count("UploadPart"), 5, "4 parts + 1 retry");
}

#[tokio::test]
async fn part_500_persistent_fails_typed_and_aborts() {
    let h = Harness::new(vec![rule(
        cos(CosOperation::UploadPart),
        Fault::Status(500),
    )])
    .await;
    let e = h.upload(&data(MULTI, 2), None).await.unwrap_err();
    let c = cos_err(&e);
    assert_eq!(c.operation, CosOperation::UploadPart);
    assert_eq!(c.status, 500);
    assert_eq!(c.code, "InternalError");
    assert!(c.part_number.is_some() && c.upload_id.is_some(), "{e}");
    assert_eq!(e.attempts(), MAX_RETRIES + 1);
    assert!(
        e.to_string().contains(&c.key),
        "error names the object: {e}"
    );
    h.assert_not_committed(&e);
    h.assert_aborted();
}

#[tokio::test]
async fn put_object_502_transient_and_persistent() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::PutObject), Fault::Status(502)).nth(1),
    ])
    .await;
    let media = data(SINGLE, 3);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.server.count("PutObject"), 2);

    let h = Harness::new(vec![rule(cos(CosOperation::PutObject), Fault::Status(502))]).await;
    let e = h.upload(&data(SINGLE, 3), None).await.unwrap_err();
    let c = cos_err(&e);
    assert_eq!((c.operation, c.status), (CosOperation::PutObject, 502));
    assert_eq!(e.attempts(), MAX_RETRIES + 1);
    h.assert_not_committed(&e);
}

#[tokio::test]
async fn initiate_503_transient_and_persistent() {
    let h = Harness::new(vec![
        rule(
            cos(CosOperation::InitiateMultipartUpload),
            Fault::Status(503),
        )
        .nth(1),
    ])
    .await;
    let media = data(MULTI, 4);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);

    let h = Harness::new(vec![rule(
        cos(CosOperation::InitiateMultipartUpload),
        Fault::Status(503),
    )])
    .await;
    let e = h.upload(&data(MULTI, 4), None).await.unwrap_err();
    let c = cos_err(&e);
    assert_eq!(
        (c.operation, c.status, c.code.as_str()),
        (
            CosOperation::InitiateMultipartUpload,
            503,
            "ServiceUnavailable"
        )
    );
    h.assert_not_committed(&e);
    assert_eq!(h.server.count("UploadPart"), 0);
}

#[tokio::test]
async fn complete_500_transient_is_retried() {
    let h = Harness::new(vec![
        rule(
            cos(CosOperation::CompleteMultipartUpload),
            Fault::Status(500),
        )
        .nth(1),
    ])
    .await;
    let media = data(MULTI, 5);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.server.count("CompleteMultipartUpload"), 2);
}

#[tokio::test]
async fn cos_403_is_not_retried() {
    let h = Harness::new(vec![rule(
        cos(CosOperation::UploadPart),
        Fault::CosError {
            status: 403,
            code: "AccessDenied".into(),
        },
    )])
    .await;
    let e = h.upload(&data(MULTI, 6), None).await.unwrap_err();
    assert_eq!(cos_err(&e).code, "AccessDenied");
    assert_eq!(e.attempts(), 1, "4xx is never retried: {e}");
    assert!(!e.is_retryable());
    h.assert_not_committed(&e);
    h.assert_aborted();
}

#[tokio::test]
async fn cover_put_persistent_failure_names_the_cover() {
    // Media by multipart, cover by PUT: only the cover's PUT fails.
    let h = Harness::new(vec![rule(cos(CosOperation::PutObject), Fault::Status(503))]).await;
    let e = h
        .upload(&data(MULTI, 7), Some(&data(5000, 8)))
        .await
        .unwrap_err();
    let c = cos_err(&e);
    assert_eq!(c.operation, CosOperation::PutObject);
    assert!(c.key.ends_with(".jpg"), "error names the cover key: {e}");
    h.assert_not_committed(&e);
    h.assert_aborted();
}

// ---------------------------------------------------------------------------------------------------------------
// Dropped connections mid-body
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn dropped_connection_on_part_transient() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::UploadPart), Fault::DropConnection).nth(1),
        rule(cos(CosOperation::UploadPart), Fault::DropConnection).nth(3),
    ])
    .await;
    let media = data(MULTI, 9);
    let cover = data(3000, 10);
    let out = h
        .upload(&media, Some(&cover))
        .await
        .expect("retried to success");
    h.assert_intact(&out, &media, Some(&cover));
    assert_eq!(h.faults(), 2);
}

#[tokio::test]
async fn dropped_connection_persistent_is_transport_error() {
    let h = Harness::new(vec![rule(
        cos(CosOperation::UploadPart),
        Fault::DropConnection,
    )])
    .await;
    let e = h.upload(&data(MULTI, 11), None).await.unwrap_err();
    let kind = transport_kind(&e);
    assert!(
        matches!(
            kind,
            TransportKind::Body | TransportKind::Other | TransportKind::Connect
        ),
        "{kind:?}"
    );
    assert_eq!(e.attempts(), MAX_RETRIES + 1);
    assert!(e.to_string().contains("UploadPart"), "{e}");
    h.assert_not_committed(&e);
    h.assert_aborted();
}

#[tokio::test]
async fn dropped_connection_on_put_and_vod() {
    // Transient on a single PUT and on both VOD calls: all absorbed.
    let h = Harness::new(vec![
        rule(cos(CosOperation::PutObject), Fault::DropConnection).nth(1),
        rule(Target::Vod("ApplyUpload"), Fault::DropConnection).nth(1),
        rule(Target::Vod("CommitUpload"), Fault::DropConnection).nth(1),
    ])
    .await;
    let media = data(SINGLE, 12);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.faults(), 3);

    // Persistent on CommitUpload: a dropped connection leaves the outcome unknown, so the commit is not repeated
    // blindly: up to three re-sends with backoff while the answers stay lost, a media search, then the typed
    // unknown-outcome error (never committed).
    let h = Harness::new(vec![rule(
        Target::Vod("CommitUpload"),
        Fault::DropConnection,
    )])
    .await;
    let e = h.upload(&data(SINGLE, 12), None).await.unwrap_err();
    let Error::CommitOutcomeUnknown(u) = &e else {
        panic!("expected CommitOutcomeUnknown, got {e:?}")
    };
    transport_kind(u.cause.as_deref().expect("cause"));
    assert!(e.to_string().contains("CommitUpload"), "{e}");
    assert_eq!(h.server.count("CommitUpload"), 4);
    assert_eq!(h.server.count("SearchMedia"), 1);
    h.assert_not_committed(&e);
}

// ---------------------------------------------------------------------------------------------------------------
// Slow responses past the read timeout
// ---------------------------------------------------------------------------------------------------------------

/// The idle read timeout where the other requests of the upload must succeed: wide, so that a loaded machine never
/// cuts one of them (each spurious timeout would spend a retry).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Where every request the upload sends is stalled, nothing needs time to succeed: short.
const STALL_ONLY_READ_TIMEOUT: Duration = Duration::from_millis(500);
/// A stalled request: far past every read timeout here, so only the client's timeout ends it (the stalled handler
/// goes with the mock at the end of the test).
const STALL: Duration = Duration::from_secs(600);

#[tokio::test]
async fn slow_part_transient_times_out_and_is_retried() {
    let h = Harness::build(
        vec![rule(cos(CosOperation::UploadPart), Fault::Delay(STALL)).nth(1)],
        Some(READ_TIMEOUT),
        MAX_RETRIES,
    )
    .await;
    let media = data(MULTI, 13);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert!(
        h.server.count("UploadPart") >= 5,
        "the slow part was sent again"
    );
}

#[tokio::test]
async fn slow_apply_upload_persistent_is_timeout() {
    // ApplyUpload is the only request sent: every attempt stalls.
    let h = Harness::build(
        vec![rule(Target::Vod("ApplyUpload"), Fault::Delay(STALL))],
        Some(STALL_ONLY_READ_TIMEOUT),
        MAX_RETRIES,
    )
    .await;
    let e = h.upload(&data(SINGLE, 14), None).await.unwrap_err();
    assert_eq!(transport_kind(&e), TransportKind::Timeout, "{e}");
    assert_eq!(e.attempts(), MAX_RETRIES + 1);
    h.assert_not_committed(&e);
    assert_eq!(h.server.count("PutObject"), 0, "nothing uploaded");
}

#[tokio::test]
async fn slow_put_persistent_is_timeout() {
    // One retry: each stalled PUT costs a whole (wide) read timeout.
    let h = Harness::build(
        vec![rule(cos(CosOperation::PutObject), Fault::Delay(STALL))],
        Some(READ_TIMEOUT),
        1,
    )
    .await;
    let e = h.upload(&data(SINGLE, 15), None).await.unwrap_err();
    assert_eq!(transport_kind(&e), TransportKind::Timeout, "{e}");
    assert_eq!(e.attempts(), 2, "{e}");
    assert_eq!(h.server.count("PutObject"), 2);
    h.assert_not_committed(&e);
}

// ---------------------------------------------------------------------------------------------------------------
// 200 + <Error> on Complete Multipart Upload
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn complete_error_body_transient_is_retried() {
    let h = Harness::new(vec![
        rule(
            cos(CosOperation::CompleteMultipartUpload),
            Fault::CompleteErrorBody,
        )
        .nth(1),
    ])
    .await;
    let media = data(MULTI, 16);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.server.count("CompleteMultipartUpload"), 2);
}

#[tokio::test]
async fn complete_error_body_persistent_is_cos_error_under_200() {
    let h = Harness::new(vec![rule(
        cos(CosOperation::CompleteMultipartUpload),
        Fault::CompleteErrorBody,
    )])
    .await;
    let e = h.upload(&data(MULTI, 17), None).await.unwrap_err();
    let c = cos_err(&e);
    assert_eq!(
        (c.operation, c.status, c.code.as_str()),
        (CosOperation::CompleteMultipartUpload, 200, "InternalError")
    );
    assert!(c.upload_id.is_some());
    assert_eq!(e.attempts(), MAX_RETRIES + 1);
    h.assert_not_committed(&e);
    let media_objects: Vec<_> = h
        .server
        .objects()
        .into_iter()
        .filter(|o| o.key.ends_with(".mp4"))
        .collect();
    assert!(
        media_objects.is_empty(),
        "no object was completed: {media_objects:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Throttling on ApplyUpload / CommitUpload (and COS SlowDown)
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn throttled_apply_upload() {
    let h = Harness::new(vec![
        rule(Target::Vod("ApplyUpload"), Fault::Throttle).nth(1),
        rule(Target::Vod("ApplyUpload"), Fault::Throttle).nth(2),
    ])
    .await;
    let media = data(MULTI, 18);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.server.count("ApplyUpload"), 3);

    let h = Harness::new(vec![rule(Target::Vod("ApplyUpload"), Fault::Throttle)]).await;
    let e = h.upload(&data(MULTI, 18), None).await.unwrap_err();
    assert!(
        matches!(&e, Error::Vod(v) if v.action == "ApplyUpload"),
        "{e:?}"
    );
    assert_eq!(e.code(), Some("RequestLimitExceeded"));
    assert_eq!(e.attempts(), MAX_RETRIES + 1);
    h.assert_not_committed(&e);
    assert_eq!(h.server.count("InitiateMultipartUpload"), 0);
    assert_eq!(h.server.count("CommitUpload"), 0);
}

#[tokio::test]
async fn throttled_commit_upload() {
    let h = Harness::new(vec![
        rule(Target::Vod("CommitUpload"), Fault::Throttle).nth(1),
    ])
    .await;
    let media = data(MULTI, 19);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.server.count("CommitUpload"), 2);

    let h = Harness::new(vec![rule(Target::Vod("CommitUpload"), Fault::Throttle)]).await;
    let e = h.upload(&data(MULTI, 19), None).await.unwrap_err();
    assert!(
        matches!(&e, Error::Vod(v) if v.action == "CommitUpload"),
        "{e:?}"
    );
    assert_eq!(e.code(), Some("RequestLimitExceeded"));
    h.assert_not_committed(&e);
}

#[tokio::test]
async fn cos_slow_down_on_parts_transient() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::UploadPart), Fault::Throttle)
            .every(2)
            .times(2),
    ])
    .await;
    let media = data(MULTI, 20);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);
    assert_eq!(h.faults(), 2);
}

#[tokio::test]
async fn vod_5xx_and_internal_error() {
    // A bare 503 from the VOD gateway (no envelope) is retried…
    let h = Harness::new(vec![
        rule(Target::Vod("ApplyUpload"), Fault::Status(503)).nth(1),
        rule(
            Target::Vod("CommitUpload"),
            Fault::VodError("InternalError".into()),
        )
        .nth(1),
    ])
    .await;
    let media = data(SINGLE, 21);
    let out = h.upload(&media, None).await.expect("retried to success");
    h.assert_intact(&out, &media, None);

    // …and when persistent, is an InvalidResponse carrying the status.
    let h = Harness::new(vec![rule(Target::Vod("ApplyUpload"), Fault::Status(503))]).await;
    let e = h.upload(&data(SINGLE, 21), None).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse(r) if r.status == 503 && r.operation == "ApplyUpload"),
        "{e:?}"
    );
    h.assert_not_committed(&e);

    // A non-retryable VOD error is surfaced at once.
    let h = Harness::new(vec![rule(
        Target::Vod("CommitUpload"),
        Fault::VodError("InvalidParameterValue.VodSessionKey".into()),
    )])
    .await;
    let e = h.upload(&data(SINGLE, 21), None).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.VodSessionKey"));
    assert_eq!(e.attempts(), 1);
    h.assert_not_committed(&e);
}

// ---------------------------------------------------------------------------------------------------------------
// Wrong CRC: an integrity failure is never retried into a commit
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_crc_on_one_part() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::UploadPart), Fault::WrongCrc).nth(2),
    ])
    .await;
    let e = h.upload(&data(MULTI, 22), None).await.unwrap_err();
    match &e {
        Error::Integrity {
            part,
            expected,
            actual,
            object,
        } => {
            assert!(part.is_some());
            assert_ne!(expected, actual);
            assert!(object.ends_with(".mp4"), "{object}");
        }
        other => panic!("expected Integrity, got {other:?}"),
    }
    h.assert_not_committed(&e);
    h.assert_aborted();
}

#[tokio::test]
async fn wrong_crc_on_put_and_on_complete() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::PutObject), Fault::WrongCrc).nth(1),
    ])
    .await;
    let e = h.upload(&data(SINGLE, 23), None).await.unwrap_err();
    assert!(matches!(e, Error::Integrity { part: None, .. }), "{e:?}");
    h.assert_not_committed(&e);

    let h = Harness::new(vec![rule(
        cos(CosOperation::CompleteMultipartUpload),
        Fault::WrongCrc,
    )])
    .await;
    let e = h.upload(&data(MULTI, 23), None).await.unwrap_err();
    assert!(matches!(e, Error::Integrity { part: None, .. }), "{e:?}");
    h.assert_not_committed(&e);
}

// ---------------------------------------------------------------------------------------------------------------
// Temporary credentials expiring mid-upload
// ---------------------------------------------------------------------------------------------------------------

/// Either the client recovered (a fresh ApplyUpload session) and the object is intact, or it failed with a
/// credentials-expired error and committed nothing.
fn assert_expiry_outcome(h: &Harness, r: Result<UploadOutcome, Error>, media: &[u8]) {
    match r {
        Ok(out) => h.assert_stored(&out, media, None),
        Err(e) => {
            let expired =
                matches!(e, Error::CredentialsExpired { .. }) || e.code() == Some("ExpiredToken");
            assert!(expired, "expected a credentials-expired error, got {e:?}");
            assert!(!e.is_retryable());
            h.assert_not_committed(&e);
        }
    }
}

#[tokio::test]
async fn credentials_expire_mid_multipart() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::UploadPart), Fault::ExpireCredentials).nth(2),
    ])
    .await;
    let media = data(MULTI, 24);
    let r = h.upload(&media, None).await;
    assert_expiry_outcome(&h, r, &media);
}

#[tokio::test]
async fn credentials_expire_on_put() {
    let h = Harness::new(vec![
        rule(cos(CosOperation::PutObject), Fault::ExpireCredentials).nth(1),
    ])
    .await;
    let media = data(SINGLE, 25);
    let r = h.upload(&media, None).await;
    assert_expiry_outcome(&h, r, &media);
}

// ---------------------------------------------------------------------------------------------------------------
// Mixed: several transient faults at once
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn many_transient_faults_at_once() {
    let h = Harness::new(vec![
        rule(Target::Vod("ApplyUpload"), Fault::Throttle).nth(1),
        rule(
            cos(CosOperation::InitiateMultipartUpload),
            Fault::Status(500),
        )
        .nth(1),
        rule(cos(CosOperation::UploadPart), Fault::Status(503)).nth(1),
        rule(cos(CosOperation::UploadPart), Fault::DropConnection).nth(3),
        rule(cos(CosOperation::PutObject), Fault::Throttle).nth(1),
        rule(
            cos(CosOperation::CompleteMultipartUpload),
            Fault::CompleteErrorBody,
        )
        .nth(1),
        rule(Target::Vod("CommitUpload"), Fault::Status(502)).nth(1),
    ])
    .await;
    let media = data(MULTI, 26);
    let cover = data(9000, 27);
    let out = h
        .upload(&media, Some(&cover))
        .await
        .expect("retried to success");
    h.assert_intact(&out, &media, Some(&cover));
    assert_eq!(h.faults(), 7);
}
