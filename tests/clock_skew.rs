//! One clock, corrected: a client whose clock is 15 minutes ahead of or behind the servers uploads after at most
//! one corrected retry per signer, and never uses temporary credentials past their real (server-time) expiry.
//!
//! Time is shifted, never waited for: the client's clock reads an offset time source, the mock runs its own
//! clock offset.

mod support;

use support::*;

use std::sync::atomic::Ordering;
use std::time::Duration;
use tencent_vod::cos::{CosClient, UploadOptions, UploadSource};
use tencent_vod::{Error, SignMethod, UploadRequest};
use tencent_vod_mock::MockServer;

const MULTI: usize = 2 * MIB as usize + 999;
const SINGLE: usize = 100 * 1024 + 1;
/// Fifteen minutes.
const SKEW: i64 = 15 * 60;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Simple,
    Multipart,
    WithCover,
}

/// Codes the mock answers for a refused clock or expired credentials.
fn clock_rejections(server: &MockServer) -> (usize, usize) {
    let r = server.rejections();
    let vod = r
        .iter()
        .filter(|r| r.code == "AuthFailure.SignatureExpire")
        .count();
    let cos = r
        .iter()
        .filter(|r| {
            r.code == "RequestTimeTooSkewed"
                || r.code == "ExpiredToken"
                || (r.code == "AccessDenied" && r.message.starts_with("Request has expired"))
        })
        .count();
    (vod, cos)
}

/// Every upload kind, with TC3 and v1 signatures, from a host 15 minutes ahead and 15 minutes behind.
#[tokio::test]
async fn skewed_host_uploads_after_one_corrected_retry() {
    for offset in [SKEW, -SKEW] {
        for sign in [SignMethod::Tc3HmacSha256, SignMethod::HmacSha1] {
            for kind in [Kind::Simple, Kind::Multipart, Kind::WithCover] {
                let case = format!("offset {offset} s, {sign:?}, {kind:?}");
                let server = MockServer::builder()
                    .with_min_part_size(64 * 1024)
                    .start()
                    .await
                    .unwrap();
                let (clock, _) = shifted_clock(offset);
                let client = server
                    .client_builder()
                    .with_clock(clock)
                    .with_sign_method(sign)
                    .with_transfer_config(parts_of(MIB))
                    .with_retry(retry(3))
                    .build()
                    .unwrap();
                let dir = tempfile::tempdir().unwrap();
                let media = data(
                    if matches!(kind, Kind::Multipart) {
                        MULTI
                    } else {
                        SINGLE
                    },
                    1,
                );
                let cover = data(1500, 2);
                let mut req = UploadRequest::from_path(write(dir.path(), "m.mp4", &media));
                if matches!(kind, Kind::WithCover) {
                    req = req.with_cover_path(write(dir.path(), "c.jpg", &cover));
                }
                let out = client
                    .upload(req)
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                let commits = server.commits();
                assert_eq!(commits.len(), 1, "{case}");
                assert_eq!(commits[0].file_id, out.file_id, "{case}");
                let obj = server.object(&out.bucket, &out.media_key).unwrap();
                assert_eq!(obj.sha256, sha256_hex(&media), "{case}");
                if matches!(kind, Kind::WithCover) {
                    let key = out.cover_key.as_deref().unwrap();
                    let obj = server.object(&out.bucket, key).unwrap();
                    assert_eq!(obj.sha256, sha256_hex(&cover), "{case}");
                }
                // One refused ApplyUpload taught the clock; COS was signed with corrected time from the start.
                assert_eq!(
                    clock_rejections(&server),
                    (1, 0),
                    "{case}: {:?}",
                    server.rejections()
                );
                assert_eq!(server.count("ApplyUpload"), 2, "{case}");
                assert_eq!(server.count("CommitUpload"), 1, "{case}");
                let learned = client.clock().offset();
                assert!((learned + offset).abs() <= 2, "{case}: learned {learned}");
                assert!(
                    (client.clock().now() - server.now_unix()).abs() <= 2,
                    "{case}"
                );
            }
        }
    }
}

/// Temporary credentials valid for 10 minutes by the server's clock, on a host 15 minutes ahead: compared with
/// local time they would look expired on arrival (a restart, then a failure); compared with server time they
/// are fine.
#[tokio::test]
async fn temp_certificate_expiry_is_compared_in_server_time() {
    let server = MockServer::builder()
        .with_temp_credential_ttl(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let (clock, _) = shifted_clock(SKEW);
    let client = server
        .client_builder()
        .with_clock(clock)
        .with_retry(retry(3))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let media = data(SINGLE, 3);
    let out = client
        .upload(UploadRequest::from_path(write(dir.path(), "m.mp4", &media)))
        .await
        .expect("upload");
    assert_eq!(server.commits().len(), 1);
    assert_media_stored(&server, &out, &media);
    // One refused and one accepted ApplyUpload: no expiry restart.
    assert_eq!(server.count("ApplyUpload"), 2);
    assert_eq!(clock_rejections(&server), (1, 0));
}

/// A standalone COS client learns from COS alone: `RequestTimeTooSkewed` (host 20 minutes ahead) and
/// "Request has expired" (host 70 minutes behind: the signature's end is already past), one corrected retry each.
#[tokio::test]
async fn cos_client_corrects_from_skew_errors() {
    for (offset, code) in [
        (20 * 60, "RequestTimeTooSkewed"),
        (-70 * 60, "AccessDenied"),
    ] {
        let server = support::cos::server().await;
        let s = server.create_cos_session(None);
        let (clock, _) = shifted_clock(offset);
        let cos = CosClient::builder(&s.bucket, &s.region)
            .with_credential(s.credential.credential())
            .with_credential_expiry(s.credential.expired_time)
            .with_endpoint(server.cos_endpoint())
            .with_retry(retry(3))
            .with_clock(clock)
            .build()
            .unwrap();
        let body = data(3 * support::cos::PART as usize + 5, 4);
        cos.upload(
            "skew/obj.bin",
            UploadSource::bytes(body.clone()),
            UploadOptions::default().with_config(support::cos::tiny()),
        )
        .await
        .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
        assert_eq!(
            server.object(&s.bucket, "skew/obj.bin").unwrap().sha256,
            sha256_hex(&body)
        );
        let rejected: Vec<_> = server.rejections();
        assert_eq!(rejected.len(), 1, "offset {offset}: {rejected:?}");
        assert_eq!(rejected[0].code, code, "offset {offset}");
        assert!(
            (cos.clock().offset() + offset).abs() <= 2,
            "offset {offset}"
        );
    }
}

/// Credentials are never used past their real expiry: a host 15 minutes behind learns the server's time from
/// its first answer; when both clocks move past the expiry, the next request fails locally with
/// `CredentialsExpired` instead of reaching COS. Without the correction, the request would be sent (and
/// refused with `ExpiredToken`).
#[tokio::test]
async fn credentials_are_never_used_past_their_server_time_expiry() {
    for correct in [true, false] {
        let server = MockServer::builder()
            .with_min_part_size(1)
            .with_temp_credential_ttl(Duration::from_secs(600))
            .start()
            .await
            .unwrap();
        let s = server.create_cos_session(None);
        let (clock, shift) = shifted_clock(-SKEW);
        let cos = CosClient::builder(&s.bucket, &s.region)
            .with_credential(s.credential.credential())
            .with_credential_expiry(s.credential.expired_time)
            .with_endpoint(server.cos_endpoint())
            .with_retry(retry(1))
            .with_clock(clock.with_skew_correction(correct))
            .build()
            .unwrap();
        cos.upload(
            "a.bin",
            UploadSource::bytes(data(10, 5)),
            UploadOptions::default(),
        )
        .await
        .expect("first PUT, credentials valid");
        // Ten minutes and a second pass on both sides.
        shift.fetch_add(601, Ordering::SeqCst);
        server.set_clock_offset(601);
        let puts = server.count("PutObject");
        let e = cos
            .upload(
                "b.bin",
                UploadSource::bytes(data(10, 6)),
                UploadOptions::default(),
            )
            .await
            .unwrap_err();
        if correct {
            assert!(
                matches!(e, Error::CredentialsExpired { expired_at, .. } if expired_at == s.credential.expired_time),
                "{e:?}"
            );
            assert_eq!(
                server.count("PutObject"),
                puts,
                "nothing sent past the expiry"
            );
            assert_eq!(clock_rejections(&server), (0, 0));
        } else {
            assert_eq!(e.code(), Some("ExpiredToken"), "{e:?}");
            assert_eq!(server.count("PutObject"), puts + 1);
        }
    }
}
