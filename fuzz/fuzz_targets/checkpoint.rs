//! The checkpoint loader (what `JsonFileCheckpointStore::load` parses) must never panic, and whatever it accepts
//! must survive a save/load round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tencent_vod::Checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = serde_json::from_slice::<Checkpoint>(data) {
        let _ = (format!("{cp:?}"), cp.credential_expiry(), cp.verified_parts());
        let json = serde_json::to_vec(&cp).expect("a loaded checkpoint serializes");
        let again: Checkpoint = serde_json::from_slice(&json).expect("a saved checkpoint loads");
        assert_eq!(serde_json::to_value(&again).ok(), serde_json::to_value(&cp).ok());
    }
});
