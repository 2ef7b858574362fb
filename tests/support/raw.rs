//! Raw, hand-signed clients for testing the mock server (no COS engine involved).

use super::now;
use tencent_vod::__private::{cos_sign as cossign, tc3, v1};
use tencent_vod::Credential;

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

pub fn host_of(endpoint: &str) -> String {
    endpoint.trim_start_matches("http://").to_string()
}

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
    /// The `<Code>` of an error body.
    pub fn code(&self) -> Option<String> {
        let s = self.body.find("<Code>")? + 6;
        let e = self.body[s..].find("</Code>")? + s;
        Some(self.body[s..e].to_string())
    }
    pub fn tag(&self, name: &str) -> Option<String> {
        let open = format!("<{name}>");
        let s = self.body.find(&open)? + open.len();
        let e = self.body[s..].find(&format!("</{name}>"))? + s;
        Some(self.body[s..e].to_string())
    }
}

/// How to sign a COS request (the knobs tests turn to make it wrong).
#[derive(Clone)]
pub struct CosSigner {
    pub secret_id: String,
    pub secret_key: String,
    pub token: Option<String>,
    pub key_time: Option<(i64, i64)>,
    /// Send the token header (default true when a token is set).
    pub send_token: bool,
    /// Sign with this key instead (a bad signature).
    pub wrong_key: bool,
    /// Sign this path instead of `/{key}` (the variants the official SDKs use).
    pub signed_path: Option<String>,
    /// Sign this `host` value instead of the one sent.
    pub signed_host: Option<String>,
}

impl CosSigner {
    pub fn new(cred: &Credential) -> Self {
        CosSigner {
            secret_id: cred.secret_id().to_string(),
            secret_key: cred.secret_key().to_string(),
            token: cred.token().map(str::to_string),
            key_time: None,
            send_token: true,
            wrong_key: false,
            signed_path: None,
            signed_host: None,
        }
    }
}

/// A raw COS client on the mock's endpoint, path-style.
#[derive(Clone)]
pub struct RawCos {
    pub http: reqwest::Client,
    pub endpoint: String,
    pub bucket: String,
    pub signer: CosSigner,
    /// When set, address virtual-host style with this Host header.
    pub virtual_host: Option<String>,
}

impl RawCos {
    pub fn new(endpoint: &str, bucket: &str, cred: &Credential) -> Self {
        RawCos {
            http: http(),
            endpoint: endpoint.to_string(),
            bucket: bucket.to_string(),
            signer: CosSigner::new(cred),
            virtual_host: None,
        }
    }

    pub fn with(&self, f: impl FnOnce(&mut CosSigner)) -> Self {
        let mut c = self.clone();
        f(&mut c.signer);
        c
    }

    /// Builds a signed request. `query` values of `None` are valueless (`?uploads`).
    pub fn request(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, Option<&str>)],
        headers: &[(&str, String)],
        body: Option<reqwest::Body>,
        content_length: Option<u64>,
    ) -> reqwest::RequestBuilder {
        let (host, path) = match &self.virtual_host {
            Some(h) => (h.clone(), cossign::object_path_on_wire(key)),
            None => (
                host_of(&self.endpoint),
                format!("/{}{}", self.bucket, cossign::object_path_on_wire(key)),
            ),
        };
        let qs = query
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{}={}", cossign::url_encode(k), cossign::url_encode(v)),
                None => cossign::url_encode(k),
            })
            .collect::<Vec<_>>()
            .join("&");
        let url = if qs.is_empty() {
            format!("{}{}", self.endpoint, path)
        } else {
            format!("{}{}?{}", self.endpoint, path, qs)
        };
        let mut sign_headers: Vec<(String, String)> = vec![("host".into(), host.clone())];
        if let Some(len) = content_length {
            sign_headers.push(("content-length".into(), len.to_string()));
        }
        for (k, v) in headers {
            sign_headers.push((k.to_string(), v.clone()));
        }
        if let (Some(t), true) = (&self.signer.token, self.signer.send_token) {
            sign_headers.push(("x-cos-security-token".into(), t.clone()));
        }
        let n = now();
        let key_time = self.signer.key_time.unwrap_or((n - 60, n + 3600));
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.unwrap_or(""))).collect();
        let h: Vec<(&str, &str)> = sign_headers
            .iter()
            .map(|(k, v)| match (k.as_str(), &self.signer.signed_host) {
                ("host", Some(signed)) => (k.as_str(), signed.as_str()),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        let decoded_path = self
            .signer
            .signed_path
            .clone()
            .unwrap_or_else(|| format!("/{key}"));
        let key_used = if self.signer.wrong_key {
            "not-the-key"
        } else {
            self.signer.secret_key.as_str()
        };
        let sig = cossign::sign(
            &self.signer.secret_id,
            key_used,
            &cossign::CosRequest {
                method,
                path: &decoded_path,
                query: &q,
                headers: &h,
                key_time,
            },
        );
        let mut rb = self
            .http
            .request(method.parse().unwrap(), url)
            .header("Authorization", sig.authorization);
        for (k, v) in &sign_headers {
            if k == "content-length" {
                continue;
            }
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        rb
    }

    pub async fn send(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, Option<&str>)],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Resp {
        let has_body = method == "PUT" || method == "POST";
        let len = has_body.then_some(body.len() as u64);
        let rb = self.request(
            method,
            key,
            query,
            headers,
            has_body.then(|| reqwest::Body::from(body)),
            len,
        );
        read(rb.send().await.expect("request sent")).await
    }

    pub async fn put(&self, key: &str, body: &[u8]) -> Resp {
        self.send("PUT", key, &[], &[], body.to_vec()).await
    }

    pub async fn initiate(&self, key: &str) -> String {
        let r = self
            .send("POST", key, &[("uploads", None)], &[], vec![])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.tag("UploadId").expect("UploadId")
    }

    pub async fn upload_part(&self, key: &str, upload_id: &str, n: u32, body: &[u8]) -> Resp {
        let n = n.to_string();
        self.send(
            "PUT",
            key,
            &[("partNumber", Some(&n)), ("uploadId", Some(upload_id))],
            &[],
            body.to_vec(),
        )
        .await
    }

    /// Complete with `(part number, etag as returned)`; ETag quotes escaped as `&quot;` like COSPY.
    pub async fn complete(&self, key: &str, upload_id: &str, parts: &[(u32, String)]) -> Resp {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, e) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
                e.replace('"', "&quot;")
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        self.send(
            "POST",
            key,
            &[("uploadId", Some(upload_id))],
            &[("content-type", "application/xml".to_string())],
            xml.into_bytes(),
        )
        .await
    }
}

pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

/// Knobs for a raw TC3 request.
#[derive(Clone)]
pub struct Tc3Opts {
    pub secret_id: String,
    pub secret_key: String,
    pub token: Option<String>,
    pub timestamp: i64,
    pub signed: Vec<&'static str>,
    pub unsigned_payload: bool,
}

impl Tc3Opts {
    pub fn new(cred: &Credential) -> Self {
        Tc3Opts {
            secret_id: cred.secret_id().to_string(),
            secret_key: cred.secret_key().to_string(),
            token: cred.token().map(str::to_string),
            timestamp: now(),
            signed: vec!["content-type", "host"],
            unsigned_payload: false,
        }
    }
}

/// Sends a TC3-signed POST JSON call; returns the parsed JSON.
pub async fn tc3_post(endpoint: &str, action: &str, body: &str, o: &Tc3Opts) -> serde_json::Value {
    let host = host_of(endpoint);
    let ct = "application/json; charset=utf-8";
    let action_lc = action.to_ascii_lowercase();
    let mut hs: Vec<(&str, &str)> = Vec::new();
    for s in &o.signed {
        match *s {
            "content-type" => hs.push(("content-type", ct)),
            "host" => hs.push(("host", &host)),
            "x-tc-action" => hs.push(("x-tc-action", &action_lc)),
            _ => {}
        }
    }
    let sig = tc3::sign(
        &o.secret_id,
        &o.secret_key,
        &tc3::Tc3Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &hs,
            payload: if o.unsigned_payload {
                tc3::Payload::Unsigned
            } else {
                tc3::Payload::Bytes(body.as_bytes())
            },
            service: "vod",
            timestamp: o.timestamp,
        },
    );
    let mut rb = http()
        .post(format!("{endpoint}/"))
        .header("Content-Type", ct)
        .header("X-TC-Action", action)
        .header("X-TC-Version", "2018-07-17")
        .header("X-TC-Timestamp", o.timestamp.to_string())
        .header("X-TC-Region", "ap-guangzhou")
        .header("Authorization", sig.authorization)
        .body(body.to_string());
    if o.unsigned_payload {
        rb = rb.header("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD");
    }
    if let Some(t) = &o.token {
        rb = rb.header("X-TC-Token", t);
    }
    let r = rb.send().await.expect("sent");
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
}

/// Sends a TC3-signed GET call with the parameters in the query.
pub async fn tc3_get(
    endpoint: &str,
    action: &str,
    params: &[(&str, &str)],
    o: &Tc3Opts,
) -> serde_json::Value {
    let host = host_of(endpoint);
    let ct = "application/x-www-form-urlencoded";
    let query = v1::encode_params(params);
    let sig = tc3::sign(
        &o.secret_id,
        &o.secret_key,
        &tc3::Tc3Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &[("content-type", ct), ("host", &host)],
            payload: tc3::Payload::Bytes(b""),
            service: "vod",
            timestamp: o.timestamp,
        },
    );
    let r = http()
        .get(format!("{endpoint}/?{query}"))
        .header("Content-Type", ct)
        .header("X-TC-Action", action)
        .header("X-TC-Version", "2018-07-17")
        .header("X-TC-Timestamp", o.timestamp.to_string())
        .header("Authorization", sig.authorization)
        .send()
        .await
        .expect("sent");
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
}

/// Sends a v1-signed GET call.
pub async fn v1_get(
    endpoint: &str,
    action: &str,
    business: &[(&str, &str)],
    cred: &Credential,
    alg: v1::Algorithm,
    tamper: bool,
) -> serde_json::Value {
    let host = host_of(endpoint);
    let mut params: Vec<(String, String)> = business
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    params.push(("Action".into(), action.into()));
    params.push(("Version".into(), "2018-07-17".into()));
    params.push(("Region".into(), "ap-guangzhou".into()));
    params.push(("Timestamp".into(), now().to_string()));
    params.push(("Nonce".into(), "12345".into()));
    params.push(("SecretId".into(), cred.secret_id().into()));
    params.push(("SignatureMethod".into(), alg.as_str().into()));
    let sts = v1::string_to_sign("GET", &host, "/", &params);
    let mut sig = v1::signature(cred.secret_key(), alg, &sts);
    if tamper {
        sig = v1::signature("wrong", alg, &sts);
    }
    params.push(("Signature".into(), sig));
    let r = http()
        .get(format!("{endpoint}/?{}", v1::encode_params(&params)))
        .send()
        .await
        .expect("sent");
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
}

pub fn error_code(v: &serde_json::Value) -> Option<String> {
    v["Response"]["Error"]["Code"].as_str().map(str::to_string)
}
