//! Verified event callbacks: `Sign` = MD5(SignKey + T) vectors, the verifier's rules, `ModifyEventConfig` /
//! `DescribeEventConfig`, and the mock POSTing real signed callbacks to an axum receiver.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::app::{Receiver, Rejected};
use tencent_vod::__private::callback_sign;
use tencent_vod::error::CallbackRejection;
use tencent_vod::events::{
    CallbackVerifier, Event, EventMode, ModifyEventConfigRequest, PullEventsRequest,
    parse_callback_verified,
};
use tencent_vod::{Error, UploadRequest, VodClient};
use tencent_vod_mock::{CALLBACK_SIGN_VALIDITY, MockServer};

type R = Result<(), Box<dyn std::error::Error>>;

const KEY: &str = "CallbackKey2024";

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn signed_body(key: &str, t: i64) -> String {
    json!({
        "EventType": "NewFileUpload",
        "FileUploadEvent": {"FileId": "5285890784273533167", "ProcedureTaskId": ""},
        "Sign": callback_sign(key, t),
        "T": t,
    })
    .to_string()
}

fn rejection(e: Error) -> CallbackRejection {
    match e {
        Error::CallbackRejected(r) => r,
        other => panic!("expected CallbackRejected, got {other:?}"),
    }
}

#[test]
fn callback_sign_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/doc-vectors.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let list = all["generated_vectors"]["callback_sign"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 3);
    for v in list {
        let key = v["inputs"]["sign_key"].as_str().unwrap();
        let t = v["inputs"]["t"].as_i64().unwrap();
        assert_eq!(
            callback_sign(key, t),
            v["expected"]["sign"].as_str().unwrap()
        );
    }
}

#[test]
fn verifier_rules() {
    let v = CallbackVerifier::new(KEY).unwrap();
    let t = 1_700_000_600;
    let now = at(t - 600);
    // Valid, also with an upper-case Sign and T as a numeric string.
    let cb = v.verify(signed_body(KEY, t).as_bytes(), now).unwrap();
    assert!(cb.is_authenticated());
    assert_eq!(cb.expires_at(), Some(t));
    assert!(matches!(cb.event(), Event::NewFileUpload(_)));
    let upper =
        json!({"EventType": "X", "Sign": callback_sign(KEY, t).to_uppercase(), "T": t.to_string()});
    v.verify(upper.to_string().as_bytes(), now).unwrap();

    let mut cases: Vec<(&str, String, SystemTime, CallbackRejection)> = vec![
        (
            "wrong key",
            signed_body("OtherKey1", t),
            now,
            CallbackRejection::SignMismatch,
        ),
        (
            "expired beyond the allowance",
            signed_body(KEY, t),
            at(t + 301),
            CallbackRejection::Expired {
                expired_at: t,
                now: t + 301,
                skew_secs: 300,
            },
        ),
        (
            "T too far ahead",
            signed_body(KEY, t + 10_000),
            now,
            CallbackRejection::ExpiryTooFar {
                expires_at: t + 10_000,
                now: t - 600,
                max_ahead_secs: 3900,
            },
        ),
    ];
    let mut tampered: Value = serde_json::from_str(&signed_body(KEY, t)).unwrap();
    tampered["T"] = json!(t + 3600);
    cases.push((
        "T moved",
        tampered.to_string(),
        now,
        CallbackRejection::SignMismatch,
    ));
    let mut tampered: Value = serde_json::from_str(&signed_body(KEY, t)).unwrap();
    tampered["Sign"] = json!(callback_sign(KEY, t + 1));
    cases.push((
        "Sign replaced",
        tampered.to_string(),
        now,
        CallbackRejection::SignMismatch,
    ));
    let base = json!({"EventType": "NewFileUpload", "FileUploadEvent": {"FileId": "1"}});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b.to_string()
    };
    let sign = callback_sign(KEY, t);
    cases.push((
        "no Sign",
        with(json!({"T": t})),
        now,
        CallbackRejection::MissingSign,
    ));
    cases.push((
        "empty Sign",
        with(json!({"Sign": "", "T": t})),
        now,
        CallbackRejection::MissingSign,
    ));
    cases.push((
        "no T",
        with(json!({"Sign": sign})),
        now,
        CallbackRejection::MissingExpiry,
    ));
    cases.push((
        "null T",
        with(json!({"Sign": sign, "T": null})),
        now,
        CallbackRejection::MissingExpiry,
    ));
    for (what, body, at_time, want) in cases {
        let got = rejection(v.verify(body.as_bytes(), at_time).unwrap_err());
        assert_eq!(got, want, "{what}");
    }
    for (what, extra, field) in [
        ("T fractional", json!({"Sign": sign, "T": 1.5}), "T"),
        ("T text", json!({"Sign": sign, "T": "soon"}), "T"),
        ("T negative", json!({"Sign": sign, "T": -5}), "T"),
        ("Sign number", json!({"Sign": 5, "T": t}), "Sign"),
        (
            "Sign not hex",
            json!({"Sign": "z".repeat(32), "T": t}),
            "Sign",
        ),
        ("Sign short", json!({"Sign": "abc", "T": t}), "Sign"),
    ] {
        match rejection(v.verify(with(extra).as_bytes(), now).unwrap_err()) {
            CallbackRejection::Malformed { field: f, .. } => assert_eq!(f, field, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    // Within the allowance is accepted; the allowance is adjustable and bounded.
    v.verify(signed_body(KEY, t).as_bytes(), at(t + 300))
        .unwrap();
    let strict = v.clone().with_clock_skew(Duration::ZERO).unwrap();
    assert!(
        strict
            .verify(signed_body(KEY, t).as_bytes(), at(t + 1))
            .is_err()
    );
    assert!(matches!(
        CallbackVerifier::new(KEY)
            .unwrap()
            .with_clock_skew(Duration::from_secs(7200)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        CallbackVerifier::new(KEY)
            .unwrap()
            .with_max_validity(Duration::ZERO),
        Err(Error::InvalidInput { .. })
    ));
    // Not a callback at all: an input error, key or not.
    assert!(matches!(
        v.verify(b"[1,2]", now),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        CallbackVerifier::without_key().verify(b"", now),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn without_a_key_callbacks_parse_but_are_not_authenticated() {
    let now = at(1_700_000_000);
    let unsigned =
        json!({"EventType": "NewFileUpload", "FileUploadEvent": {"FileId": "1"}}).to_string();
    let cb = parse_callback_verified(unsigned.as_bytes(), None, now).unwrap();
    assert!(!cb.is_authenticated() && cb.expires_at().is_none());
    assert_eq!(cb.callback().file_id(), Some("1"));
    // A signature is ignored (it cannot be checked), even a bogus one.
    let bogus = json!({"EventType": "X", "Sign": "nonsense", "T": "x"}).to_string();
    assert!(
        !parse_callback_verified(bogus.as_bytes(), None, now)
            .unwrap()
            .is_authenticated()
    );
    // With a key, the unsigned body is refused.
    assert_eq!(
        rejection(parse_callback_verified(unsigned.as_bytes(), Some(KEY), now).unwrap_err()),
        CallbackRejection::MissingSign
    );
}

/// VOD's documented signature covers the key and T only: the event payload is not bound to it. This test pins
/// that property so nobody mistakes a verified callback for an integrity-checked one.
#[test]
fn the_payload_is_not_covered_by_vods_signature() {
    let t = 1_700_000_600;
    let mut body: Value = serde_json::from_str(&signed_body(KEY, t)).unwrap();
    body["FileUploadEvent"]["FileId"] = json!("999");
    let cb = CallbackVerifier::new(KEY)
        .unwrap()
        .verify(body.to_string().as_bytes(), at(t - 600))
        .unwrap();
    assert_eq!(cb.callback().file_id(), Some("999"));
}

#[test]
fn keys_are_validated_and_never_printed() {
    for bad in ["", "has-dash", "has space", &"k".repeat(33), "ключ"] {
        assert!(
            matches!(CallbackVerifier::new(bad), Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }
    CallbackVerifier::new("k".repeat(32)).unwrap();
    let v = CallbackVerifier::new(KEY).unwrap();
    assert!(!format!("{v:?}").contains(KEY));
    let req = ModifyEventConfigRequest::new().with_sign_key(KEY);
    assert!(!format!("{req:?}").contains(KEY));
}

async fn upload(client: &VodClient, procedure: Option<&str>) -> tencent_vod::UploadOutcome {
    let mut req = UploadRequest::from_bytes(vec![7u8; 4096], "mp4");
    if let Some(p) = procedure {
        req = req.with_procedure(p);
    }
    client.upload(req).await.expect("upload")
}

/// A mock whose callbacks go to `receiver` (set with ModifyEventConfig), signed with `key` when given.
async fn mock_pushing_to(receiver: &Receiver, key: Option<&str>) -> (MockServer, VodClient) {
    let server = MockServer::builder()
        .with_task_durations(Duration::from_millis(50), Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let client = server.client_builder().build().unwrap();
    let mut req = ModifyEventConfigRequest::new()
        .with_mode(EventMode::Push)
        .with_notification_url(&receiver.url);
    if let Some(k) = key {
        req = req.with_sign_key(k);
    }
    client.api().modify_event_config(&req).await.unwrap();
    (server, client)
}

#[tokio::test]
async fn mock_signs_callbacks_and_the_receiver_accepts_them() -> R {
    let receiver = Receiver::start(CallbackVerifier::new(KEY)?).await;
    let (server, client) = mock_pushing_to(&receiver, Some(KEY)).await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let up = upload(&client, Some("P")).await;
    let seen = receiver.wait_for(2).await;
    let mut types = Vec::new();
    for s in &seen {
        let cb = s
            .outcome
            .as_ref()
            .map_err(|e| format!("{e:?}: {}", s.body))?;
        assert!(cb.is_authenticated());
        let t = cb.expires_at().unwrap();
        let validity = CALLBACK_SIGN_VALIDITY.as_secs() as i64;
        assert!(
            (before + validity..=before + validity + 60).contains(&t),
            "T = {t}"
        );
        assert_eq!(cb.callback().file_id(), Some(up.file_id.as_str()));
        types.push(cb.callback().event_type().to_string());
    }
    types.sort();
    assert_eq!(types, ["NewFileUpload", "ProcedureStateChanged"]);
    // The reliable queue holds the same events, without Sign/T.
    let pulled = client.api().pull_events(&PullEventsRequest::new()).await?;
    assert_eq!(pulled.len(), 2);
    assert!(pulled.iter().all(|e| !e.extra.contains_key("Sign")));
    tokio::time::timeout(Duration::from_secs(60), async {
        while server.callback_deliveries().len() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await?;
    assert!(
        server
            .callback_deliveries()
            .iter()
            .all(|d| d.status == Some(200) && d.attempts == 1)
    );
    Ok(())
}

#[tokio::test]
async fn wrong_key_is_rejected_and_the_mock_retries() -> R {
    let receiver = Receiver::start(CallbackVerifier::new("SomeOtherKey9")?).await;
    let (server, client) = mock_pushing_to(&receiver, Some(KEY)).await;
    upload(&client, None).await;
    let seen = receiver.wait_for(3).await;
    for s in &seen {
        assert_eq!(
            s.outcome.as_ref().unwrap_err(),
            &Rejected::Auth(CallbackRejection::SignMismatch)
        );
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        while server.callback_deliveries().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await?;
    let d = &server.callback_deliveries()[0];
    assert_eq!((d.status, d.attempts), (Some(401), 3));
    Ok(())
}

#[tokio::test]
async fn expired_t_is_rejected() -> R {
    let receiver = Receiver::start(CallbackVerifier::new(KEY)?).await;
    // The receiver's clock is 20 minutes ahead: T (send time + 10 min) has passed beyond the 5 min allowance.
    receiver.set_clock_offset(1200);
    let (_server, client) = mock_pushing_to(&receiver, Some(KEY)).await;
    upload(&client, None).await;
    let seen = receiver.wait_for(1).await;
    match seen[0].outcome.as_ref().unwrap_err() {
        Rejected::Auth(CallbackRejection::Expired { skew_secs, .. }) => assert_eq!(*skew_secs, 300),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn tampered_signature_fields_are_rejected() -> R {
    let receiver = Receiver::start(CallbackVerifier::new(KEY)?).await;
    let (_server, client) = mock_pushing_to(&receiver, Some(KEY)).await;
    upload(&client, None).await;
    let original = receiver.wait_for(1).await[0].body.clone();
    let genuine: Value = serde_json::from_str(&original)?;
    let t = genuine["T"].as_i64().unwrap();
    // Replay with a later expiry, or with the Sign of another T: both refused.
    let mut later = genuine.clone();
    later["T"] = json!(t + 3000);
    let mut other_sign = genuine.clone();
    other_sign["Sign"] = json!(callback_sign(KEY, t - 1));
    let mut no_sign = genuine.clone();
    no_sign.as_object_mut().unwrap().remove("Sign");
    let http = reqwest::Client::new();
    for body in [&later, &other_sign, &no_sign] {
        let status = http
            .post(&receiver.url)
            .body(body.to_string())
            .send()
            .await?
            .status();
        assert_eq!(status, 401, "{body}");
    }
    let seen = receiver.wait_for(4).await;
    assert!(seen[0].outcome.is_ok());
    assert_eq!(
        seen[1].outcome.as_ref().unwrap_err(),
        &Rejected::Auth(CallbackRejection::SignMismatch)
    );
    assert_eq!(
        seen[2].outcome.as_ref().unwrap_err(),
        &Rejected::Auth(CallbackRejection::SignMismatch)
    );
    assert_eq!(
        seen[3].outcome.as_ref().unwrap_err(),
        &Rejected::Auth(CallbackRejection::MissingSign)
    );
    Ok(())
}

#[tokio::test]
async fn unsigned_callbacks_with_and_without_a_key_configured() -> R {
    // The account has no callback key: the mock sends no Sign.
    let strict = Receiver::start(CallbackVerifier::new(KEY)?).await;
    let (_s1, c1) = mock_pushing_to(&strict, None).await;
    upload(&c1, None).await;
    let seen = strict.wait_for(1).await;
    assert!(!seen[0].body.contains("\"Sign\""));
    assert_eq!(
        seen[0].outcome.as_ref().unwrap_err(),
        &Rejected::Auth(CallbackRejection::MissingSign)
    );

    let open = Receiver::start(CallbackVerifier::without_key()).await;
    let (_s2, c2) = mock_pushing_to(&open, None).await;
    let up = upload(&c2, None).await;
    let cb = open.wait_for(1).await[0].outcome.clone().unwrap();
    assert!(!cb.is_authenticated());
    assert_eq!(cb.callback().file_id(), Some(up.file_id.as_str()));
    Ok(())
}

#[tokio::test]
async fn event_config_round_trip_and_switches() -> R {
    let receiver = Receiver::start(CallbackVerifier::new(KEY)?).await;
    let (server, client) = mock_pushing_to(&receiver, Some(KEY)).await;
    let cfg = client.api().describe_event_config(None).await?;
    assert_eq!(cfg.event_mode(), Some(EventMode::Push));
    assert_eq!(cfg.notification_url.as_deref(), Some(receiver.url.as_str()));
    assert_eq!(cfg.upload_media_complete_events(), Some(true));
    assert_eq!(cfg.delete_media_complete_events(), Some(true));
    assert!(
        cfg.extra.keys().all(|k| !k.contains("Sign")),
        "the key is never returned: {cfg:?}"
    );
    // Upload events switched off: only the task-flow event arrives (and is queued).
    client
        .api()
        .modify_event_config(
            &ModifyEventConfigRequest::new().with_upload_media_complete_events(false),
        )
        .await?;
    assert_eq!(
        client
            .api()
            .describe_event_config(None)
            .await?
            .upload_media_complete_events(),
        Some(false)
    );
    upload(&client, Some("P")).await;
    let seen = receiver.wait_for(1).await;
    let cb = seen[0].outcome.as_ref().unwrap();
    assert_eq!(cb.callback().event_type(), "ProcedureStateChanged");
    assert_eq!(receiver.seen().len(), 1);
    let pulled = client.api().pull_events(&PullEventsRequest::new()).await?;
    assert_eq!(pulled.len(), 1);
    // Another application keeps its own settings (the defaults: reliable queue, no URL).
    let other = client.api().describe_event_config(Some(1500000001)).await?;
    assert_eq!(other.event_mode(), Some(EventMode::Pull));
    assert_eq!(other.notification_url.as_deref(), Some(""));
    // Bad values are refused before any request.
    let before = server.count("ModifyEventConfig");
    for (req, field) in [
        (
            ModifyEventConfigRequest::new().with_sign_key("bad key!"),
            "SignKey",
        ),
        (
            ModifyEventConfigRequest::new().with_sign_key("k".repeat(33)),
            "SignKey",
        ),
        (
            ModifyEventConfigRequest::new().with_notification_url("ftp://x/y"),
            "NotificationUrl",
        ),
        (
            ModifyEventConfigRequest::new().with_sub_app_id(0),
            "SubAppId",
        ),
    ] {
        match client.api().modify_event_config(&req).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(server.count("ModifyEventConfig"), before);
    Ok(())
}
