//! HLS and DASH manifest parsers are total: any input gives a list of non-empty, distinct names, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use tencent_vod::__private::manifest::{parse_m3u8, parse_mpd};

fn check(list: Vec<String>) {
    let mut seen = HashSet::new();
    for seg in list {
        assert!(!seg.is_empty(), "empty segment name");
        assert!(seen.insert(seg), "duplicate segment name");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(parse_m3u8(&text));
    check(parse_mpd(&text));
});
