//! The client-upload signature (客户端上传签名): Tencent's published signature and the sample-code vectors of
//! `tests/data/doc-vectors.json`, round trips, and every validation error.

use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tencent_vod::appserver::{TaskNotifyMode, UploadSignature, UploadSignatureBuilder};
use tencent_vod::error::UploadSignatureRejection;
use tencent_vod::{Credential, Error};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc-vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read doc-vectors.json"))
        .expect("doc-vectors.json is JSON")
}

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// A builder set from `[[name, value]…]` the way the vector lists them.
fn builder_from(params: &[Value]) -> (String, i64, UploadSignatureBuilder) {
    let mut b = UploadSignature::builder();
    let mut secret_id = String::new();
    let mut current = 0;
    for p in params {
        let (k, v) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        b = match k {
            "secretId" => {
                secret_id = v.to_string();
                b
            }
            "currentTimeStamp" => {
                current = v.parse().unwrap();
                b.with_current_time(current)
            }
            "expireTime" => b.with_expire_time(v.parse().unwrap()),
            "random" => b.with_random(v.parse().unwrap()),
            "classId" => b.with_class_id(v.parse().unwrap()),
            "oneTimeValid" => b.with_one_time_valid(v == "1"),
            "vodSubAppId" => b.with_vod_sub_app_id(v.parse().unwrap()),
            "sourceContext" => b.with_source_context(v),
            "procedure" => b.with_procedure(v),
            "taskPriority" => b.with_task_priority(v.parse().unwrap()),
            "taskNotifyMode" => b.with_task_notify_mode(v.parse().unwrap()),
            "sessionContext" => b.with_session_context(v),
            "storageRegion" => b.with_storage_region(v),
            other => panic!("unknown parameter {other}"),
        };
    }
    (secret_id, current, b)
}

#[test]
fn published_signature_decodes_and_its_plaintext_is_reproduced_exactly() {
    let all = vectors();
    let list = all["doc_vectors"]["ugc_upload_signature"]
        .as_array()
        .expect("doc_vectors.ugc_upload_signature");
    assert_eq!(list.len(), 1);
    for v in list {
        let sig = v["signature"].as_str().unwrap();
        let decoded = UploadSignature::decode(sig).unwrap();
        assert_eq!(
            decoded.original(),
            v["expected"]["original"].as_str().unwrap()
        );
        let p = decoded.params();
        assert_eq!(p.secret_id, "AKIDfNq39ztnmammW0L9qodDbknaR7YkLO3U");
        assert_eq!(
            (p.current_time, p.expire_time, p.random),
            (1588588023, 1588588623, 150778)
        );
        assert_eq!(
            (p.class_id, p.one_time_valid, p.vod_sub_app_id),
            (Some(0), Some(false), Some(0))
        );
        assert!(p.extra.is_empty() && p.procedure.is_none());
        // Our builder emits the same plaintext from the same fields, byte for byte.
        let (secret_id, _, b) = builder_from(v["expected"]["fields"].as_array().unwrap());
        let ours = b.params(&secret_id, at(0)).unwrap();
        assert_eq!(ours.original(), decoded.original());
        assert_eq!(&ours, p);
        // The key is not published: any key we try is refused, as HmacMismatch (not a parse error).
        let e = UploadSignature::verify(sig, "not-the-key", at(1588588023)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::UploadSignatureRejected(UploadSignatureRejection::HmacMismatch)
            ),
            "{e:?}"
        );
    }
}

#[test]
fn sample_code_vectors_are_reproduced_and_verify() {
    let all = vectors();
    let list = all["generated_vectors"]["ugc_upload_signature"]
        .as_array()
        .expect("generated_vectors.ugc_upload_signature");
    assert_eq!(list.len(), 3);
    for v in list {
        let id = v["id"].as_str().unwrap();
        let key = v["inputs"]["secret_key"].as_str().unwrap();
        let (secret_id, current, b) = builder_from(v["inputs"]["params"].as_array().unwrap());
        let sig = b
            .sign(&Credential::new(secret_id, key), at(0))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            sig.original(),
            v["expected"]["original"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            sig.signature(),
            v["expected"]["signature"].as_str().unwrap(),
            "{id}"
        );
        // Decodes back to its fields, and verifies under the key.
        let back = UploadSignature::verify(sig.signature(), key, at(current)).unwrap();
        assert_eq!(back.params(), sig.params(), "{id}");
        // The Node sample's encoding (%20, raw !'()*) is another valid form of the same parameters.
        if let Some(node) = v["expected"].get("node_querystring") {
            let n = UploadSignature::verify(node["signature"].as_str().unwrap(), key, at(current))
                .unwrap_or_else(|e| panic!("{id} (node): {e}"));
            assert_eq!(n.original(), node["original"].as_str().unwrap());
            assert_eq!(
                n.params(),
                sig.params(),
                "{id}: same fields whatever the encoding"
            );
        }
    }
}

#[test]
fn round_trip_with_defaults_and_with_everything() {
    let cred = Credential::new("AKIDroundtrip", "secret");
    let now = at(1_700_000_000);
    let minimal = UploadSignature::builder().sign(&cred, now).unwrap();
    let p = minimal.params();
    assert_eq!(p.current_time, 1_700_000_000);
    assert_eq!(p.expire_time, 1_700_003_600, "default validity is one hour");
    let full = UploadSignature::builder()
        .with_expire_in(Duration::from_secs(7_776_000))
        .with_class_id(3)
        .with_procedure("课程 & more")
        .with_task_priority(10)
        .with_task_notify_mode(TaskNotifyMode::None)
        .with_source_context("x".repeat(250))
        .with_one_time_valid(true)
        .with_vod_sub_app_id(1500000001)
        .with_session_context("é".repeat(1000))
        .with_storage_region("ap-guangzhou")
        .sign(&cred, now)
        .unwrap();
    for s in [&minimal, &full] {
        let back = UploadSignature::verify(s.signature(), "secret", now).unwrap();
        assert_eq!(back.params(), s.params());
        assert_eq!(back.original(), s.original());
        assert_eq!(back.expires_at(), s.expires_at());
        // Whitespace around it (copy-paste) is tolerated.
        UploadSignature::verify(&format!(" {}\n", s.signature()), "secret", now).unwrap();
    }
    // Two signatures made at once differ by their random unless it is pinned.
    let a = UploadSignature::builder().sign(&cred, now).unwrap();
    let b = UploadSignature::builder().sign(&cred, now).unwrap();
    assert_ne!(a.params().random, b.params().random);
}

#[test]
fn each_builder_field_is_validated() {
    let cred = Credential::new("AKIDv", "k");
    let now = at(1_700_000_000);
    let b = UploadSignature::builder;
    let cases: Vec<(&str, UploadSignatureBuilder, &str)> = vec![
        (
            "too long",
            b().with_expire_in(Duration::from_secs(7_776_001)),
            "expireTime",
        ),
        (
            "zero validity",
            b().with_expire_in(Duration::ZERO),
            "expireTime",
        ),
        (
            "expiry before now",
            b().with_expire_time(1_699_999_999),
            "expireTime",
        ),
        (
            "expiry equal",
            b().with_expire_time(1_700_000_000),
            "expireTime",
        ),
        (
            "91 days absolute",
            b().with_expire_time(1_700_000_000 + 7_776_001),
            "expireTime",
        ),
        ("time 0", b().with_current_time(0), "currentTimeStamp"),
        (
            "priority 11",
            b().with_procedure("P").with_task_priority(11),
            "taskPriority",
        ),
        (
            "priority -11",
            b().with_procedure("P").with_task_priority(-11),
            "taskPriority",
        ),
        (
            "priority without procedure",
            b().with_task_priority(1),
            "taskPriority",
        ),
        (
            "notify without procedure",
            b().with_task_notify_mode(TaskNotifyMode::Change),
            "taskNotifyMode",
        ),
        ("empty procedure", b().with_procedure(""), "procedure"),
        (
            "control char procedure",
            b().with_procedure("a\nb"),
            "procedure",
        ),
        (
            "source context 251",
            b().with_source_context("x".repeat(251)),
            "sourceContext",
        ),
        (
            "session context 1001",
            b().with_session_context("x".repeat(1001)),
            "sessionContext",
        ),
        ("region", b().with_storage_region("AP GZ"), "storageRegion"),
    ];
    for (what, builder, field) in cases {
        match builder.sign(&cred, now) {
            Err(Error::InvalidInput { field: f, reason }) => {
                assert_eq!(f, field, "{what}: {reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{what}: expected InvalidInput {field}, got {other:?}"),
        }
    }
    for (id, key, field) in [
        ("", "k", "secretId"),
        ("AKID x", "k", "secretId"),
        ("AKID", "", "secret_key"),
    ] {
        let e = UploadSignature::builder()
            .sign(&Credential::new(id, key), now)
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field: f, .. } if f == field),
            "{e:?}"
        );
    }
    // The largest validity is accepted exactly.
    UploadSignature::builder()
        .with_expire_in(Duration::from_secs(7_776_000))
        .sign(&cred, now)
        .unwrap();
}

/// A signature over an arbitrary plaintext (to feed the decoder what a broken signer would produce).
fn raw_signature(original: &str, key: &str) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(original.as_bytes());
    let mut raw = mac.finalize().into_bytes().to_vec();
    raw.extend_from_slice(original.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[test]
fn decoder_errors_are_typed() {
    use base64::Engine as _;
    let ok = "secretId=AKID&currentTimeStamp=100&expireTime=200&random=1";
    let now = at(150);
    let rejected = |sig: &str| UploadSignature::verify(sig, "k", now).unwrap_err();
    let reason = |e: Error| match e {
        Error::UploadSignatureRejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(
        reason(rejected("not base64!")),
        UploadSignatureRejection::NotBase64
    );
    let short = base64::engine::general_purpose::STANDARD.encode([0u8; 20]);
    assert_eq!(
        reason(rejected(&short)),
        UploadSignatureRejection::TooShort { len: 20 }
    );
    let mut bad_utf8 = vec![0u8; 20];
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    let bad_utf8 = base64::engine::general_purpose::STANDARD.encode(bad_utf8);
    assert_eq!(
        reason(rejected(&bad_utf8)),
        UploadSignatureRejection::NotUtf8
    );
    assert_eq!(
        reason(UploadSignature::verify(&raw_signature(ok, "k"), "other", now).unwrap_err()),
        UploadSignatureRejection::HmacMismatch
    );
    assert_eq!(
        reason(UploadSignature::verify(&raw_signature(ok, "k"), "k", at(200)).unwrap_err()),
        UploadSignatureRejection::Expired {
            expire_time: 200,
            now: 200
        }
    );
    UploadSignature::verify(&raw_signature(ok, "k"), "k", now).unwrap();

    // Field errors name the field.
    let field_cases = [
        ("currentTimeStamp=100&expireTime=200&random=1", "secretId"),
        ("secretId=A&expireTime=200&random=1", "currentTimeStamp"),
        ("secretId=A&currentTimeStamp=100&random=1", "expireTime"),
        ("secretId=A&currentTimeStamp=100&expireTime=200", "random"),
        (
            "secretId=A&currentTimeStamp=x&expireTime=200&random=1",
            "currentTimeStamp",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=4294967296",
            "random",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=-1",
            "random",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=7776101&random=1",
            "expireTime",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=1&oneTimeValid=2",
            "oneTimeValid",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=1&classId=-1",
            "classId",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=1&taskNotifyMode=Finish",
            "taskNotifyMode",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=1&procedure=P&taskNotifyMode=Later",
            "taskNotifyMode",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=1&random=2",
            "random",
        ),
        (
            "secretId=A%zz&currentTimeStamp=100&expireTime=200&random=1",
            "secretId",
        ),
        (
            "secretId=A&currentTimeStamp=100&expireTime=200&random=1&sourceContext=%FF",
            "sourceContext",
        ),
    ];
    for (original, field) in field_cases {
        match UploadSignature::decode(&raw_signature(original, "k")) {
            Err(Error::InvalidInput { field: f, reason }) => {
                assert_eq!(f, field, "{original}: {reason}")
            }
            other => panic!("{original}: expected InvalidInput {field}, got {other:?}"),
        }
    }
    // Unknown parameters are kept, in order.
    let d = UploadSignature::decode(&raw_signature(&format!("{ok}&appTag=x+y&z="), "k")).unwrap();
    assert_eq!(
        d.params().extra,
        vec![
            ("appTag".to_string(), "x y".to_string()),
            ("z".to_string(), String::new())
        ]
    );
    // An absurdly long input is refused before decoding.
    let huge = "A".repeat(tencent_vod::appserver::signature::MAX_SIGNATURE_LEN + 4);
    assert!(matches!(
        UploadSignature::decode(&huge),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn debug_and_errors_never_show_the_signature_or_key() {
    let cred = Credential::new("AKIDdebug", "SuperSecretKey123");
    let sig = UploadSignature::builder()
        .sign(&cred, at(1_700_000_000))
        .unwrap();
    let text = format!("{sig:?}");
    assert!(
        !text.contains(sig.signature()) && !text.contains("SuperSecretKey123"),
        "{text}"
    );
    let e = UploadSignature::verify(sig.signature(), "wrong", at(1_700_000_000)).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(sig.signature()) && !text.contains("SuperSecretKey123"),
        "{text}"
    );
}
