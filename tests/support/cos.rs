//! Helpers for the COS engine tests (run against `tencent_vod_mock::MockServer`).

use std::sync::{Arc, Mutex};
use tencent_vod::cos::{CosClient, TransferConfig};
use tencent_vod::{Progress, ProgressEvent};
use tencent_vod_mock::MockServer;

/// Smallest part size used by the tests (the mock is told to accept it).
pub const PART: u64 = 16 * 1024;

pub async fn server() -> MockServer {
    MockServer::builder()
        .with_min_part_size(1)
        .with_seed(7)
        .start()
        .await
        .expect("mock server starts")
}

/// A client for a fresh bucket session of `server`.
pub fn client(server: &MockServer) -> (CosClient, String) {
    let s = server.create_cos_session(None);
    let c = CosClient::builder(&s.bucket, &s.region)
        .with_credential(s.credential.credential())
        .with_credential_expiry(s.credential.expired_time)
        .with_endpoint(server.cos_endpoint())
        .with_retry(super::retry(3))
        .build()
        .expect("client builds");
    (c, s.bucket)
}

/// Tiny parts: threshold and part size [`PART`], chunks of 4 KiB.
pub fn tiny() -> TransferConfig {
    tencent_vod::__private::with_min_part_size_unchecked(TransferConfig::default(), 1)
        .with_part_size(PART)
        .with_multipart_threshold(PART)
        .with_chunk_size(4096)
}

/// Records every progress report.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<Progress>>>);

impl Recorder {
    /// A callback for `UploadOptions::with_progress` that records every report.
    pub fn progress(&self) -> impl Fn(&Progress) + Send + Sync + 'static {
        let r = self.0.clone();
        move |p: &Progress| r.lock().unwrap().push(p.clone())
    }

    pub fn events(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }

    /// The parts confirmed, in report order, with their upload id.
    pub fn parts_done(&self) -> Vec<(String, u32)> {
        self.events()
            .iter()
            .filter_map(|p| match &p.event {
                ProgressEvent::PartDone { upload_id, part } => {
                    Some((upload_id.clone(), part.number))
                }
                _ => None,
            })
            .collect()
    }

    /// Asserts monotonic, never above `total`, ending exactly at `total`.
    pub fn assert_exact(&self, total: u64) {
        let ev = self.events();
        assert!(!ev.is_empty(), "no progress events");
        let mut last = 0;
        for e in &ev {
            assert!(e.bytes_sent >= last, "not monotonic: {ev:?}");
            assert!(e.bytes_sent <= total, "above total {total}: {e:?}");
            assert_eq!(e.bytes_sent, e.object_bytes_sent, "one object: {e:?}");
            if let Some(t) = e.total {
                assert_eq!(t, total);
            }
            last = e.bytes_sent;
        }
        assert_eq!(last, total, "does not end at total");
        let end = ev.last().unwrap();
        assert_eq!(end.total, Some(total));
        assert_eq!(end.event, ProgressEvent::ObjectDone, "ends with ObjectDone");
        assert_eq!(
            ev.iter()
                .filter(|p| p.event == ProgressEvent::ObjectDone)
                .count(),
            1,
            "one ObjectDone"
        );
    }
}
