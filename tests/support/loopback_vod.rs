//! A loopback VOD API 3.0 server for tests: it verifies every request's TC3 or v1 signature with the known
//! SecretKey (recomputing it with the SDK's signers from what it received), records each request, and answers
//! from a script of canned responses (the last one repeats).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tencent_vod::__private::{tc3, v1};

/// A canned answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Canned {
    /// HTTP 200 `{"Response": <response>}`.
    pub fn ok(response: serde_json::Value) -> Self {
        Canned {
            status: 200,
            content_type: "application/json",
            body: serde_json::json!({ "Response": response }).to_string(),
        }
    }

    /// HTTP 200 with `Response.Error`.
    pub fn error(code: &str, message: &str, request_id: &str) -> Self {
        Self::ok(serde_json::json!({
            "Error": {"Code": code, "Message": message},
            "RequestId": request_id,
        }))
    }

    /// Any status, content type and body.
    pub fn raw(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Canned {
            status,
            content_type,
            body: body.into(),
        }
    }
}

/// How a request was signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signed {
    Tc3,
    V1(v1::Algorithm),
    Unknown,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Decoded form parameters (v1 requests).
    pub form: Vec<(String, String)>,
    pub signed: Signed,
    /// `Ok` when the signature recomputed from the request matched.
    pub verified: Result<(), String>,
    /// TC3 signed header names.
    pub signed_headers: Vec<String>,
    /// The `Authorization` value or the v1 `Signature`, as received (for leak checks).
    pub signature_material: Vec<String>,
}

impl Received {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first form parameter of this name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

struct Inner {
    secret_id: String,
    secret_key: String,
    script: Mutex<VecDeque<Canned>>,
    received: Mutex<Vec<Received>>,
}

/// The running server.
pub struct VodServer {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl VodServer {
    /// Starts a server on `127.0.0.1:0` that accepts signatures made with this key pair.
    pub async fn start(secret_id: &str, secret_key: &str, script: Vec<Canned>) -> Self {
        let inner = Arc::new(Inner {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            script: Mutex::new(script.into()),
            received: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        VodServer { addr, inner }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.inner.received.lock().expect("lock").len()
    }

    /// Asserts every received request carried a valid signature.
    pub fn assert_all_verified(&self) {
        for (i, r) in self.received().iter().enumerate() {
            if let Err(e) = &r.verified {
                panic!("request {i} failed signature verification: {e}");
            }
        }
    }
}

fn verify_tc3(
    inner: &Inner,
    headers: &HeaderMap,
    body: &[u8],
) -> (Result<(), String>, Vec<String>) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let Some(auth) = h("authorization") else {
        return (Err("no Authorization header".into()), Vec::new());
    };
    let Some(p) = tencent_vod_mock::verify::tc3::parse_authorization(auth) else {
        return (
            Err(format!("unparsable Authorization {auth:?}")),
            Vec::new(),
        );
    };
    let signed = p.signed_headers.clone();
    let check = || -> Result<(), String> {
        if p.secret_id != inner.secret_id {
            return Err(format!("SecretId {:?}", p.secret_id));
        }
        if p.service != "vod" {
            return Err(format!("service {:?}", p.service));
        }
        let ts: i64 = h("x-tc-timestamp")
            .ok_or("no X-TC-Timestamp")?
            .parse()
            .map_err(|_| "bad X-TC-Timestamp")?;
        if p.date != tc3::utc_date(ts) {
            return Err(format!("scope date {} for timestamp {ts}", p.date));
        }
        for required in ["content-type", "host"] {
            if !p.signed_headers.iter().any(|n| n == required) {
                return Err(format!("{required} not signed"));
            }
        }
        let mut pairs = Vec::new();
        for name in &p.signed_headers {
            let v = h(name).ok_or_else(|| format!("signed header {name} not sent"))?;
            pairs.push((name.as_str(), v));
        }
        let expected = tc3::sign(
            &inner.secret_id,
            &inner.secret_key,
            &tc3::Tc3Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &pairs,
                payload: tc3::Payload::Bytes(body),
                service: "vod",
                timestamp: ts,
            },
        );
        if tencent_vod_mock::verify::constant_time_eq(
            expected.signature.as_bytes(),
            p.signature.as_bytes(),
        ) {
            Ok(())
        } else {
            Err("TC3 signature mismatch".into())
        }
    };
    (check(), signed)
}

fn verify_v1(inner: &Inner, host: &str, form: &[(String, String)]) -> (Result<(), String>, Signed) {
    let get = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let Some(alg) = v1::Algorithm::from_param(get("SignatureMethod")) else {
        return (Err("unknown SignatureMethod".into()), Signed::Unknown);
    };
    let check = || -> Result<(), String> {
        if get("SecretId") != Some(inner.secret_id.as_str()) {
            return Err(format!("SecretId {:?}", get("SecretId")));
        }
        let sig = get("Signature").ok_or("no Signature")?;
        let sts = v1::string_to_sign("POST", host, "/", form);
        let expected = v1::signature(&inner.secret_key, alg, &sts);
        if tencent_vod_mock::verify::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
            Ok(())
        } else {
            Err("v1 signature mismatch".into())
        }
    };
    (check(), Signed::V1(alg))
}

async fn handle(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut form = Vec::new();
    let mut signature_material = Vec::new();
    if let Some(a) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        signature_material.push(a.to_string());
    }
    let (verified, signed, signed_headers) =
        if content_type.starts_with("application/x-www-form-urlencoded") {
            form = url::form_urlencoded::parse(&body).into_owned().collect();
            if let Some((_, s)) = form.iter().find(|(k, _)| k == "Signature") {
                signature_material.push(s.clone());
            }
            let (v, s) = verify_v1(&inner, &host, &form);
            (v, s, Vec::new())
        } else {
            let (v, sh) = verify_tc3(&inner, &headers, &body);
            (v, Signed::Tc3, sh)
        };
    let ok = verified.is_ok();
    inner.received.lock().expect("lock").push(Received {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        form,
        signed,
        verified,
        signed_headers,
        signature_material,
    });
    let canned = if ok {
        let mut script = inner.script.lock().expect("lock");
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
        .unwrap_or_else(|| Canned::ok(serde_json::json!({"RequestId": "no-script"})))
    } else {
        Canned::error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated.",
            "loopback-sig-failure",
        )
    };
    (
        StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, canned.content_type)],
        canned.body,
    )
        .into_response()
}

/// A full ApplyUpload `Response` with every documented member plus unknown ones.
pub fn apply_upload_response(tmp_secret_key: &str, tmp_token: &str) -> serde_json::Value {
    serde_json::json!({
        "StorageBucket": "vodtest-1250000000",
        "StorageRegion": "ap-chongqing",
        "VodSessionKey": "session-key-0001",
        "MediaStoragePath": "/dir/media/f0.mp4",
        "CoverStoragePath": "/dir/cover/c0.jpg",
        "TempCertificate": {
            "SecretId": "AKIDtmpSecretId0001",
            "SecretKey": tmp_secret_key,
            "Token": tmp_token,
            "ExpiredTime": 1900000000,
            "SomethingNew": true
        },
        "RequestId": "req-apply-0001",
        "UnknownMember": {"Nested": [1, 2, 3]},
        "AnotherUnknown": null
    })
}
