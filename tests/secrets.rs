//! No secret (SecretKey, session token, temporary SecretKey/Token from ApplyUpload, `Authorization` values or
//! signatures) ever appears in tracing output (captured at TRACE), in any error's `Display`/`Debug`, or in the
//! `Debug` of the client, builder, credential and response types — across successful calls and calls failing in
//! every way the VOD API client can fail.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::closed_port::ClosedPort;
use support::loopback_vod::{Canned, VodServer, apply_upload_response};
use tencent_vod::vod::{ApplyUploadRequest, CommitUploadRequest, Language};
use tencent_vod::{Credential, Error, RetryConfig, SignMethod, VodClient, VodClientBuilder};

const SID: &str = "AKIDsecretsTestId0001";
const SECRET_KEY: &str = "SKEYzq7Distinctive9xKey";
const TOKEN: &str = "TOKENzq7Distinctive9xSession";
const TMP_KEY: &str = "TMPKEYzq7Distinctive9xCos";
const TMP_TOKEN: &str = "TMPTOKENzq7Distinctive9xCos";

/// A `MakeWriter` appending to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

fn builder(server: &VodServer, method: SignMethod) -> VodClientBuilder {
    VodClient::builder()
        .with_credential(Credential::new(SID, SECRET_KEY).with_token(TOKEN))
        .with_vod_endpoint(server.endpoint())
        .with_region("ap-guangzhou")
        .with_language(Language::EnUs)
        .with_sign_method(method)
        .with_retry(
            RetryConfig::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_retries(2),
        )
}

/// Every string that must never be shown.
fn forbidden(servers: &[&VodServer]) -> Vec<String> {
    let mut out: Vec<String> = [SECRET_KEY, TOKEN, TMP_KEY, TMP_TOKEN]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for server in servers {
        for r in server.received() {
            for m in r.signature_material {
                // The whole Authorization value, its signature part, and the v1 signature in both encodings.
                if let Some((_, sig)) = m.rsplit_once("Signature=") {
                    out.push(sig.to_string());
                }
                out.push(tencent_vod::__private::v1::encode(&m));
                out.push(m);
            }
        }
    }
    out
}

fn assert_clean(what: &str, text: &str, forbidden: &[String]) {
    for f in forbidden {
        assert!(!text.contains(f.as_str()), "{what} leaks {f:?}:\n{text}");
    }
}

#[tokio::test]
async fn no_secret_in_logs_errors_or_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ok = Canned::ok(apply_upload_response(TMP_KEY, TMP_TOKEN));
    // Short enough that the temporary credentials fall inside the error's excerpt (and must be redacted there).
    let missing = serde_json::json!({
        "TempCertificate": {"SecretId": "AKIDtmp", "SecretKey": TMP_KEY, "Token": TMP_TOKEN, "ExpiredTime": 1},
        "RequestId": "r-missing",
    });
    let truncated = format!(
        r#"{{"Response":{{"StorageBucket":"b-1250000000","TempCertificate":{{"SecretId":"AKIDtmp","Token":"{TMP_TOKEN}","SecretKey":"{TMP_KEY}"#
    );
    let script = vec![
        // 1. success (TC3)
        ok.clone(),
        // 2. throttled twice, then success
        Canned::error("RequestLimitExceeded", "slow down", "r-throttle"),
        Canned::error("RequestLimitExceeded", "slow down", "r-throttle"),
        ok.clone(),
        // 3. InternalError exhausted (3 attempts)
        Canned::error("InternalError", "oops", "r-int"),
        Canned::error("InternalError", "oops", "r-int"),
        Canned::error("InternalError", "oops", "r-int"),
        // 4. signature expired twice
        Canned::error("AuthFailure.SignatureExpire", "expired", "r-exp"),
        Canned::error("AuthFailure.SignatureExpire", "expired", "r-exp"),
        // 5. non-retryable
        Canned::error("InvalidParameterValue.MediaType", "bad", "r-bad"),
        // 6. HTML 502 (3 attempts)
        Canned::raw(502, "text/html", "<html><h1>502 Bad Gateway</h1></html>"),
        Canned::raw(502, "text/html", "<html><h1>502 Bad Gateway</h1></html>"),
        Canned::raw(502, "text/html", "<html><h1>502 Bad Gateway</h1></html>"),
        // 7. truncated body carrying temporary credentials
        Canned::raw(200, "application/json", truncated),
        // 8. a required member missing, the temporary credentials present
        Canned::ok(missing),
        // 9. CommitUpload success
        Canned::ok(serde_json::json!({"FileId": "f1", "RequestId": "r-commit"})),
        // then: v1 successes
        ok.clone(),
    ];
    let server = VodServer::start(SID, SECRET_KEY, script).await;
    let b = builder(&server, SignMethod::Tc3HmacSha256);
    let builder_dbg = format!("{b:?} {b:#?}");
    let client = b.build().expect("client");
    let api = client.api();
    let req = ApplyUploadRequest::new("mp4").with_media_name("secret-free name");

    let mut errors: Vec<Error> = Vec::new();
    let mut debug_texts: Vec<String> = vec![builder_dbg];

    let first = api.apply_upload(&req).await.expect("1. success");
    let cert = first.temp_certificate.clone().expect("TempCertificate");
    assert_eq!(cert.secret_key, TMP_KEY, "the response really held the key");
    debug_texts.push(format!("{first:?} {first:#?}"));
    debug_texts.push(format!("{cert:?} {cert:#?}"));
    debug_texts.push(format!("{:?}", cert.credential()));
    api.apply_upload(&req)
        .await
        .expect("2. success after retries");
    for _ in 3..=8 {
        errors.push(api.apply_upload(&req).await.expect_err("3..8 fail"));
    }
    let commit = api
        .commit_upload(&CommitUploadRequest::new("k"))
        .await
        .expect("9. commit");
    debug_texts.push(format!("{commit:?}"));

    // v1 signatures (the token and signature travel in the form body).
    for method in [SignMethod::HmacSha1, SignMethod::HmacSha256] {
        let c = builder(&server, method).build().expect("v1 client");
        c.api().apply_upload(&req).await.expect("v1 success");
        debug_texts.push(format!("{c:?}"));
    }

    // A wrong key: the server rejects the signature.
    let wrong = VodClient::builder()
        .with_credential(Credential::new(SID, "WRONGKEYzq7Distinctive9x").with_token(TOKEN))
        .with_vod_endpoint(server.endpoint())
        .with_region("ap-guangzhou")
        .with_retry(RetryConfig::disabled())
        .build()
        .expect("client");
    errors.push(wrong.api().apply_upload(&req).await.expect_err("bad sig"));

    // Connection refused.
    let closed = ClosedPort::new();
    let refused = builder(&server, SignMethod::Tc3HmacSha256)
        .with_vod_endpoint(closed.url(""))
        .build()
        .expect("client");
    errors.push(refused.api().apply_upload(&req).await.expect_err("refused"));

    // Credential errors.
    let half = VodClient::builder()
        .with_credential(Credential::new("", SECRET_KEY).with_token(TOKEN))
        .with_vod_endpoint(server.endpoint())
        .with_region("ap-guangzhou")
        .build()
        .expect("client");
    errors.push(half.api().apply_upload(&req).await.expect_err("no id"));

    // Every kind of failure happened.
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::Vod(_) => "vod",
            Error::InvalidResponse(_) => "invalid",
            Error::Transport(_) => "transport",
            Error::Credentials(_) => "credentials",
            _ => "other",
        })
        .collect();
    for k in ["vod", "invalid", "transport", "credentials"] {
        assert!(kinds.contains(&k), "no {k} error among {kinds:?}");
    }
    assert_eq!(
        errors
            .iter()
            .filter(|e| matches!(e, Error::InvalidResponse(_)))
            .count(),
        3,
        "502, truncated, missing member: {errors:?}"
    );
    server.assert_all_verified_except_wrong_key();
    // The excerpts really covered the temporary credentials (redacted), so the checks below mean something.
    let redacted = errors
        .iter()
        .filter(
            |e| matches!(e, Error::InvalidResponse(r) if r.excerpt.contains(r#""SecretKey":"***"#)),
        )
        .count();
    assert_eq!(
        redacted, 2,
        "truncated and missing-member excerpts: {errors:#?}"
    );

    debug_texts.push(format!("{client:?} {client:#?}"));
    debug_texts.push(format!("{api:?}"));
    let cred = Credential::new(SID, SECRET_KEY).with_token(TOKEN);
    debug_texts.push(format!("{cred:?} {cred:#?} {cred}"));

    drop(_guard);
    let forbidden = forbidden(&[&server]);
    assert!(
        forbidden.len() > 20,
        "signature material was captured: {}",
        forbidden.len()
    );
    let log_text = logs.text();
    assert!(
        log_text.contains("ApplyUpload") && log_text.contains("retrying"),
        "tracing output was captured:\n{log_text}"
    );
    assert_clean("tracing output", &log_text, &forbidden);
    for e in &errors {
        assert_clean("error Display", &format!("{e}"), &forbidden);
        assert_clean("error Debug", &format!("{e:?} {e:#?}"), &forbidden);
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            assert_clean("error source", &format!("{s} {s:?}"), &forbidden);
            src = s.source();
        }
    }
    for d in &debug_texts {
        assert_clean("Debug output", d, &forbidden);
    }
}

trait VerifiedExceptWrongKey {
    fn assert_all_verified_except_wrong_key(&self);
}

impl VerifiedExceptWrongKey for VodServer {
    /// Every request verified except the one deliberately signed with a wrong key.
    fn assert_all_verified_except_wrong_key(&self) {
        let failed = self
            .received()
            .iter()
            .filter(|r| r.verified.is_err())
            .count();
        assert_eq!(failed, 1, "only the wrong-key request fails verification");
    }
}
