//! COS XML response bodies must never panic the parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tencent_vod::__private::cos_xml::{
    CompleteMultipartUploadResult, InitiateMultipartUploadResult, ListPartsResult, parse_document,
    parse_error_body,
};

fuzz_target!(|data: &[u8]| {
    let _ = parse_error_body(data);
    let _ = parse_document::<InitiateMultipartUploadResult>(data);
    let _ = parse_document::<CompleteMultipartUploadResult>(data);
    let _ = parse_document::<ListPartsResult>(data);
    let _ = tencent_vod::__private::redact_excerpt(data, 200);
});
