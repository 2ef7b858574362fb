//! VOD API 3.0 envelope parsing and typed response deserialization must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tencent_vod::__private::parse_envelope;
use tencent_vod::vod::{ApplyUploadResponse, CommitUploadResponse, ParseStreamingManifestResponse};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the HTTP status so non-200 paths are explored too.
    let (status, body) = match data.split_first() {
        Some((b, rest)) => (if b % 4 == 0 { 502 } else { 200 }, rest),
        None => (200, data),
    };
    match parse_envelope("ApplyUpload", status, body) {
        Ok(v) => {
            let _ = serde_json::from_value::<ApplyUploadResponse>(v.clone());
            let _ = serde_json::from_value::<CommitUploadResponse>(v.clone());
            let _ = serde_json::from_value::<ParseStreamingManifestResponse>(v);
        }
        Err(e) => {
            // Display, Debug and the accessors must not panic either.
            let _ = (e.to_string(), format!("{e:?}"), e.is_retryable(), e.code());
        }
    }
});
