//! Secrets never leak: a full upload (media + cover, multipart) with TRACE logging captured, and every error path's
//! `Display` / `Debug` / source chain, must not contain the permanent SecretKey, the session token, any temporary
//! SecretKey / Token the mock issued, or any `Authorization` value.
//!
//! Each test runs on a current-thread runtime with the capturing subscriber installed as the thread's default, so
//! every span and event of the client (and of the in-process mock) lands in the buffer.

mod support;

use support::*;

use std::io::Write;
use std::sync::{Arc, Mutex};
use tencent_vod::__private::parse_envelope;
use tencent_vod::cos::CosClient;
use tencent_vod::error::CosOperation;
use tencent_vod::vod::ApplyUploadRequest;
use tencent_vod::{Credential, Error, UploadRequest};
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};
use tracing_subscriber::fmt::format::FmtSpan;

const MIB: usize = 1 << 20;
const SECRET_ID: &str = "AKIDsecretsUploadTest00000000000000";
const SECRET_KEY: &str = "SK-distinctive-7f3a9c1e-DO-NOT-LEAK";
const TOKEN: &str = "TOKEN-distinctive-52be0d44-DO-NOT-LEAK";
const WRONG_KEY: &str = "WRONGKEY-distinctive-e19b-DO-NOT-LEAK";
const WRONG_TOKEN: &str = "WRONGTOKEN-distinctive-88aa-DO-NOT-LEAK";

/// Where an `Authorization` value or signature would show: a full TC3 header value, or one of these names followed
/// by an unredacted value (COS `q-sign-algorithm=sha1&…&q-signature=…`, TC3 `…, Signature=…`, v1 `Signature=`).
/// A masked value (`Signature=***`) is fine: the name alone is not a secret.
const TC3_HEADER: &str = "TC3-HMAC-SHA256 Credential=";
const SIGNATURE_NAMES: &[&str] = &[
    "q-signature=",
    "Signature=",
    "q-sign-algorithm=",
    "q-key-time=",
];

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs a TRACE subscriber writing into a buffer, for this thread only.
fn capture() -> (Buf, tracing::subscriber::DefaultGuard) {
    let buf = Buf::default();
    let w = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || w.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

fn permanent() -> Credential {
    Credential::new(SECRET_ID, SECRET_KEY).with_token(TOKEN)
}

async fn server() -> MockServer {
    MockServer::builder()
        .with_credential(permanent())
        .with_min_part_size(64 * 1024)
        .start()
        .await
        .unwrap()
}

/// Every secret that must not appear: the permanent ones, wrong ones we sent, and every temporary one issued.
fn forbidden(server: &MockServer) -> Vec<String> {
    let issued = server.issued_credentials();
    assert!(
        !issued.is_empty(),
        "the mock issued no temporary credentials"
    );
    let mut v: Vec<String> = [SECRET_KEY, TOKEN, WRONG_KEY, WRONG_TOKEN]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in issued {
        assert!(c.secret_key.len() >= 16 && c.token.len() >= 16);
        v.push(c.secret_key.clone());
        v.push(c.token.clone());
    }
    v.push(TC3_HEADER.to_string());
    v
}

fn assert_clean(what: &str, text: &str, forbidden: &[String]) {
    for name in SIGNATURE_NAMES {
        for (at, _) in text.match_indices(name) {
            let value = &text[at + name.len()..];
            assert!(
                value.is_empty() || value.starts_with('*'),
                "{what} shows an unredacted {name}: …{}…",
                text[at..].chars().take(60).collect::<String>()
            );
        }
    }
    for f in forbidden {
        if let Some(at) = text.find(f.as_str()) {
            let start = text[..at]
                .char_indices()
                .rev()
                .nth(80)
                .map_or(0, |(i, _)| i);
            panic!(
                "{what} leaks {f:?} near: …{}…",
                &text[start..(at + f.len()).min(text.len())]
            );
        }
    }
}

/// `Display`, `Debug` and the whole `source()` chain of an error.
fn error_text(e: &Error) -> String {
    let mut s = format!("{e}\n{e:?}\n");
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(&format!("{c}\n{c:?}\n"));
        src = c.source();
    }
    s
}

#[tokio::test(flavor = "current_thread")]
async fn full_upload_logs_and_debug_leak_nothing() {
    let (buf, _guard) = capture();
    let server = server().await;
    let builder = server
        .client_builder()
        .with_transfer_config(parts_of(MIB as u64))
        .with_retry(retry(2));
    let builder_debug = format!("{builder:?}");
    let client = builder.build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("movie.mp4");
    let cover = dir.path().join("cover.png");
    std::fs::write(&media, data(2 * MIB + 4321, 1)).unwrap();
    std::fs::write(&cover, data(7000, 2)).unwrap();

    let req = UploadRequest::from_path(&media)
        .with_cover_path(&cover)
        .with_procedure("LongVideoPreset")
        .with_source_context("ctx");
    let req_debug = format!("{req:?}");
    let out = client.upload(req).await.expect("upload succeeds");
    assert!(server.count("UploadPart") >= 3, "multipart was used");
    assert!(out.cover_key.is_some());

    // Also ask for a session directly, and use its temporary credentials for a COS client.
    let applied = client
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4"))
        .await
        .unwrap();
    let tc = applied.temp_certificate.clone().expect("temp certificate");
    let cos = CosClient::builder(&applied.storage_bucket, &applied.storage_region)
        .with_credential(tc.credential())
        .with_credential_expiry(tc.expired_time)
        .with_endpoint(server.cos_endpoint())
        .build()
        .unwrap();
    let debugs = [
        ("client", format!("{client:?}")),
        ("builder", builder_debug),
        ("request", req_debug),
        ("outcome", format!("{out:?}")),
        ("apply response", format!("{applied:?}")),
        ("temp certificate", format!("{tc:?}")),
        (
            "temp credential",
            format!("{:?} {}", tc.credential(), tc.credential()),
        ),
        (
            "permanent credential",
            format!("{:?} {}", permanent(), permanent()),
        ),
        ("cos client", format!("{cos:?}")),
        ("mock server", format!("{server:?}")),
        ("api", format!("{:?}", client.api())),
    ];
    // The temporary secrets really exist (so the checks below are not vacuous).
    assert!(
        server
            .issued_credentials()
            .iter()
            .any(|c| c.secret_key == tc.secret_key && c.token == tc.token)
    );

    let log = buf.text();
    let forbidden = forbidden(&server);
    assert_clean("TRACE log", &log, &forbidden);
    for (what, text) in &debugs {
        assert_clean(what, text, &forbidden);
    }

    // The log is real: spans of every layer, both VOD actions, the COS operations.
    assert!(
        log.len() > 2000,
        "log suspiciously short: {} bytes",
        log.len()
    );
    for needle in [
        "vod_upload",
        "vod_call",
        "cos_upload",
        "cos_part",
        "ApplyUpload",
        "CommitUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "PutObject",
        &out.file_id,
        "TRACE",
        "DEBUG",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}");
    }
    // The secret *id* is not secret; proving it is visible shows redaction is targeted, not blanket.
    assert!(debugs[9].1.contains(SECRET_ID), "{}", debugs[9].1);
}

#[tokio::test(flavor = "current_thread")]
async fn every_error_path_leaks_nothing() {
    let (buf, _guard) = capture();
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("m.mp4");
    std::fs::write(&media, data(MIB + 999, 3)).unwrap();
    let cover = dir.path().join("c.jpg");
    std::fs::write(&cover, data(3000, 4)).unwrap();
    let upload = |client: tencent_vod::VodClient| {
        let (media, cover) = (media.clone(), cover.clone());
        async move {
            client
                .upload(
                    UploadRequest::from_path(media)
                        .with_cover_path(cover)
                        .with_commit_reconcile_timeout(std::time::Duration::ZERO),
                )
                .await
        }
    };
    let base = || {
        server
            .client_builder()
            .with_transfer_config(parts_of(MIB as u64))
            .with_retry(retry(2))
    };
    let mut errors: Vec<(&str, Error)> = Vec::new();

    // 1. A wrong SecretKey: VOD rejects the signature.
    let c = base()
        .with_credential(Credential::new(SECRET_ID, WRONG_KEY).with_token(TOKEN))
        .build()
        .unwrap();
    let e = upload(c).await.unwrap_err();
    assert_eq!(e.code(), Some("AuthFailure.SignatureFailure"), "{e}");
    errors.push(("bad signature", e));

    // 2. A wrong session token.
    let c = base()
        .with_credential(Credential::new(SECRET_ID, SECRET_KEY).with_token(WRONG_TOKEN))
        .build()
        .unwrap();
    let e = upload(c).await.unwrap_err();
    assert_eq!(e.code(), Some("AuthFailure.TokenFailure"), "{e}");
    errors.push(("bad token", e));

    // 3. The temporary credentials expire mid-upload (recovery may make this succeed; then it is not an error path).
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .nth(1)
            .fault(Fault::ExpireCredentials),
    );
    // With the one-shot recovery (a fresh ApplyUpload) this upload succeeds and commits once.
    let mut recovered_commits = 0;
    if let Err(e) = upload(base().build().unwrap()).await {
        assert!(
            matches!(e, Error::CredentialsExpired { .. }) || e.code() == Some("ExpiredToken"),
            "{e:?}"
        );
        errors.push(("expired temp credentials", e));
    } else {
        recovered_commits = 1;
    }
    server.clear_faults();

    // 4. COS 403.
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::PutObject)).fault(Fault::CosError {
            status: 403,
            code: "AccessDenied".into(),
        }),
    );
    let e = upload(base().build().unwrap()).await.unwrap_err();
    assert!(matches!(&e, Error::Cos(c) if c.status == 403), "{e:?}");
    errors.push(("cos 403", e));
    server.clear_faults();

    // 5. A VOD error on CommitUpload (after temporary credentials were issued and used).
    server.add_fault(
        FaultRule::new(Target::Vod("CommitUpload")).fault(Fault::VodError(
            "InvalidParameterValue.VodSessionKey".into(),
        )),
    );
    let e = upload(base().build().unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::Vod(_)), "{e:?}");
    errors.push(("vod error", e));
    server.clear_faults();

    // 6. An invalid response (bare 502) from VOD.
    server.add_fault(FaultRule::new(Target::Vod("ApplyUpload")).fault(Fault::Status(502)));
    let e = upload(base().build().unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse(_)), "{e:?}");
    errors.push(("invalid response", e));
    server.clear_faults();

    // 6b. CommitUpload answered a bare 502: its outcome is unknown; the error carries the session key (never
    // shown) and the storage paths.
    server.add_fault(FaultRule::new(Target::Vod("CommitUpload")).fault(Fault::Status(502)));
    let e = upload(base().build().unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::CommitOutcomeUnknown(_)), "{e:?}");
    errors.push(("commit outcome unknown", e));
    server.clear_faults();

    // 7. A transport error mid-body, and an integrity failure.
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart)).fault(Fault::DropConnection),
    );
    let e = upload(base().build().unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    errors.push(("transport", e));
    server.clear_faults();
    server.add_fault(FaultRule::new(Target::Cos(CosOperation::UploadPart)).fault(Fault::WrongCrc));
    let e = upload(base().build().unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::Integrity { .. }), "{e:?}");
    errors.push(("integrity", e));
    server.clear_faults();

    // 8. Invalid responses whose bodies carry secrets (truncated / error envelopes echoing a certificate).
    let issued = server.issued_credentials();
    let tc = &issued[0];
    let truncated = format!(
        r#"{{"Response":{{"TempCertificate":{{"SecretId":"{}","SecretKey":"{}","Token":"{}"#,
        tc.secret_id, tc.secret_key, tc.token
    );
    let e = parse_envelope("ApplyUpload", 200, truncated.as_bytes()).unwrap_err();
    assert!(matches!(e, Error::InvalidResponse(_)), "{e:?}");
    errors.push(("truncated envelope with secrets", e));
    let echoed = format!(
        r#"{{"Response":{{"Error":{{"Code":"InternalError","Message":"m"}},"Authorization":"TC3-HMAC-SHA256 Credential={SECRET_ID}/x, SignedHeaders=host, Signature=abc","RequestId":"r"}},"Token":"{TOKEN}"}}"#
    );
    let e = parse_envelope("ApplyUpload", 502, echoed.as_bytes()).unwrap_err();
    errors.push(("error envelope echoing secrets", e));
    let e = parse_envelope("ApplyUpload", 500, &echoed.as_bytes()[..echoed.len() - 3]).unwrap_err();
    assert!(matches!(e, Error::InvalidResponse(_)), "{e:?}");
    errors.push(("truncated error envelope echoing secrets", e));

    assert_eq!(
        server.commits().len(),
        recovered_commits,
        "no failed upload committed"
    );
    let forbidden = forbidden(&server);
    assert!(errors.len() >= 10, "{} error paths exercised", errors.len());
    for (what, e) in &errors {
        assert_clean(what, &error_text(e), &forbidden);
    }
    let log = buf.text();
    assert_clean("TRACE log", &log, &forbidden);
    for needle in [
        "vod_upload",
        "vod_call",
        "AuthFailure.SignatureFailure",
        "AccessDenied",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}");
    }
}
