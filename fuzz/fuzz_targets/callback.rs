//! The event callback parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match tencent_vod::parse_callback(data) {
        Ok(cb) => {
            let _ = format!("{cb:?}");
        }
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
        }
    }
});
