//! The signers against every worked example Tencent publishes (`doc_vectors` in `doc-vectors.json`), checking
//! each intermediate value, plus edge cases.
//!
//! The vectors are read at test time from the committed copy `tests/data/doc-vectors.json` and, when it exists
//! (CI keeps `shared/` beside the repository), from `../shared/vectors/doc-vectors.json` as well, so a vector added
//! there is tested without touching this file.
//!
//! The literal expectations of the edge-case tests were computed by `tests/data/compute_edge_vectors.py`, an
//! independent implementation using only Python's `hmac`/`hashlib`/`urllib.parse.quote`, which first checks
//! itself against the published doc vectors.

use serde_json::Value;
use std::path::{Path, PathBuf};
use tencent_vod::__private::{cos_sign as cos, tc3, v1};

/// `(label, parsed JSON)` for each vector file present; the committed copy is always first.
fn vector_files() -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for (path, required) in [
        (root.join("tests/data/doc-vectors.json"), true),
        (root.join("../shared/vectors/doc-vectors.json"), false),
    ] {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
                out.push((path, v));
            }
            Err(e) if required => panic!("cannot read {}: {e}", path.display()),
            Err(_) => {}
        }
    }
    out
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {key:?} in {v}"))
}

fn vectors<'a>(file: &'a Value, kind: &str) -> &'a [Value] {
    file["doc_vectors"][kind]
        .as_array()
        .unwrap_or_else(|| panic!("doc_vectors.{kind} is not an array"))
}

/// Asserts the committed copy holds exactly the published counts and any other copy at least as many.
fn check_count(kind: &str, expected: usize) {
    for (i, (path, file)) in vector_files().iter().enumerate() {
        let n = vectors(file, kind).len();
        if i == 0 {
            assert_eq!(n, expected, "{}: doc_vectors.{kind}", path.display());
        } else {
            assert!(
                n >= expected,
                "{}: doc_vectors.{kind} has {n}",
                path.display()
            );
        }
    }
}

fn tc3_inputs_signed(inputs: &Value) -> tc3::Tc3Signature {
    let names: Vec<&str> = inputs["signed_header_names"]
        .as_array()
        .expect("signed_header_names")
        .iter()
        .map(|n| n.as_str().expect("header name"))
        .collect();
    let headers: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (*n, s(&inputs["signed_header_values"], n)))
        .collect();
    let body = inputs.get("body").and_then(Value::as_str).unwrap_or("");
    let payload = if inputs.get("unsigned_payload").and_then(Value::as_bool) == Some(true) {
        tc3::Payload::Unsigned
    } else {
        tc3::Payload::Bytes(body.as_bytes())
    };
    tc3::sign(
        s(inputs, "secret_id"),
        s(inputs, "secret_key"),
        &tc3::Tc3Request {
            method: s(inputs, "http_method"),
            path: s(inputs, "path"),
            query: inputs
                .get("canonical_query_string")
                .and_then(Value::as_str)
                .unwrap_or(""),
            headers: &headers,
            payload,
            service: s(inputs, "service"),
            timestamp: inputs["timestamp"].as_i64().expect("timestamp"),
        },
    )
}

#[test]
fn tc3_doc_vectors() {
    check_count("tc3", 3);
    for (path, file) in vector_files() {
        for v in vectors(&file, "tc3") {
            let id = format!("{} {}", path.display(), s(v, "id"));
            let (inputs, exp) = (&v["inputs"], &v["expected"]);
            let got = tc3_inputs_signed(inputs);
            assert_eq!(got.date, s(exp, "date"), "{id}: date");
            assert_eq!(
                got.hashed_request_payload,
                s(exp, "hashed_request_payload"),
                "{id}: hashed_request_payload"
            );
            assert_eq!(
                got.canonical_headers,
                s(exp, "canonical_headers"),
                "{id}: canonical_headers"
            );
            assert_eq!(
                got.signed_headers,
                s(exp, "signed_headers"),
                "{id}: signed_headers"
            );
            assert_eq!(
                got.canonical_request,
                s(exp, "canonical_request"),
                "{id}: canonical_request"
            );
            assert_eq!(
                got.hashed_canonical_request,
                s(exp, "hashed_canonical_request"),
                "{id}: hashed_canonical_request"
            );
            assert_eq!(
                got.credential_scope,
                s(exp, "credential_scope"),
                "{id}: credential_scope"
            );
            assert_eq!(
                got.string_to_sign,
                s(exp, "string_to_sign"),
                "{id}: string_to_sign"
            );
            let [date_key, service_key, signing_key] =
                tc3::derive_keys(s(inputs, "secret_key"), &got.date, s(inputs, "service"));
            assert_eq!(
                hex::encode(date_key),
                s(exp, "secret_date_hex"),
                "{id}: secret_date"
            );
            assert_eq!(
                hex::encode(service_key),
                s(exp, "secret_service_hex"),
                "{id}: secret_service"
            );
            assert_eq!(
                hex::encode(signing_key),
                s(exp, "secret_signing_hex"),
                "{id}: secret_signing"
            );
            assert_eq!(got.signature, s(exp, "signature"), "{id}: signature");
            if let Some(published) = v.get("published_signature").and_then(Value::as_str) {
                assert_eq!(got.signature, published, "{id}: published signature");
            }
            assert_eq!(
                got.authorization,
                s(exp, "authorization"),
                "{id}: authorization"
            );
            // The header parses back to the same parts.
            let p = tencent_vod_mock::verify::tc3::parse_authorization(&got.authorization)
                .expect("parse authorization");
            assert_eq!(p.secret_id, s(inputs, "secret_id"), "{id}");
            assert_eq!(p.date, got.date, "{id}");
            assert_eq!(p.service, s(inputs, "service"), "{id}");
            assert_eq!(p.signed_headers.join(";"), got.signed_headers, "{id}");
            assert_eq!(p.signature, got.signature, "{id}");
            // Debug never shows the signature.
            assert!(!format!("{got:?}").contains(&got.signature), "{id}");
        }
    }
}

#[test]
fn v1_doc_vectors() {
    check_count("v1", 4);
    for (path, file) in vector_files() {
        for v in vectors(&file, "v1") {
            let id = format!("{} {}", path.display(), s(v, "id"));
            let (inputs, exp) = (&v["inputs"], &v["expected"]);
            let params: Vec<(String, String)> = inputs["params"]
                .as_object()
                .expect("params")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("param value").to_string()))
                .collect();
            let sts = v1::string_to_sign(
                s(inputs, "http_method"),
                s(inputs, "host"),
                s(inputs, "path"),
                &params,
            );
            assert_eq!(sts, s(exp, "string_to_sign"), "{id}: string_to_sign");
            let alg = v1::Algorithm::from_param(Some(s(inputs, "sign_method")))
                .unwrap_or_else(|| panic!("{id}: unknown sign method"));
            let sig = v1::signature(s(inputs, "secret_key"), alg, &sts);
            assert_eq!(sig, s(exp, "signature"), "{id}: signature");
            if let Some(published) = v.get("published_signature").and_then(Value::as_str) {
                assert_eq!(sig, published, "{id}: published signature");
            }
            if let Some(enc) = exp.get("signature_urlencoded").and_then(Value::as_str) {
                assert_eq!(v1::encode(&sig), enc, "{id}: signature_urlencoded");
            }
            // A `Signature` parameter already present is not signed.
            let mut with_sig = params.clone();
            with_sig.push(("Signature".into(), sig.clone()));
            assert_eq!(
                v1::string_to_sign(
                    s(inputs, "http_method"),
                    s(inputs, "host"),
                    s(inputs, "path"),
                    &with_sig
                ),
                sts,
                "{id}"
            );
        }
    }
}

fn key_time(kt: &str) -> (i64, i64) {
    let (a, b) = kt.split_once(';').expect("key_time a;b");
    (a.parse().expect("start"), b.parse().expect("end"))
}

fn pairs(v: &Value) -> Vec<(&str, &str)> {
    match v {
        Value::Null => Vec::new(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("string value")))
            .collect(),
        other => panic!("expected an object, got {other}"),
    }
}

fn check_cos(id: &str, inputs: &Value, headers: &Value, exp: &Value) {
    let query = pairs(&inputs["query_params"]);
    let headers = pairs(headers);
    let got = cos::sign(
        s(inputs, "secret_id"),
        s(inputs, "secret_key"),
        &cos::CosRequest {
            method: s(inputs, "http_method"),
            path: s(inputs, "uri_pathname_for_signing"),
            query: &query,
            headers: &headers,
            key_time: key_time(s(inputs, "key_time")),
        },
    );
    assert_eq!(got.key_time, s(inputs, "key_time"), "{id}: key_time");
    for (field, value) in [
        ("sign_key", &got.sign_key),
        ("url_param_list", &got.url_param_list),
        ("http_parameters", &got.http_parameters),
        ("header_list", &got.header_list),
        ("http_headers", &got.http_headers),
        ("http_string", &got.http_string),
        ("sha1_http_string", &got.sha1_http_string),
        ("string_to_sign", &got.string_to_sign),
        ("signature", &got.signature),
        ("authorization", &got.authorization),
    ] {
        assert_eq!(value, s(exp, field), "{id}: {field}");
    }
    let p = tencent_vod_mock::verify::cos::parse_authorization(&got.authorization)
        .expect("parse authorization");
    assert_eq!(p.secret_id, s(inputs, "secret_id"), "{id}");
    assert_eq!(p.key_time, key_time(s(inputs, "key_time")), "{id}");
    assert_eq!(p.sign_time, p.key_time, "{id}");
    assert_eq!(p.header_list.join(";"), got.header_list, "{id}");
    assert_eq!(p.url_param_list.join(";"), got.url_param_list, "{id}");
    assert_eq!(p.signature, got.signature, "{id}");
    let dbg = format!("{got:?}");
    assert!(
        !dbg.contains(&got.signature) && !dbg.contains(&got.sign_key),
        "{id}: {dbg}"
    );
}

#[test]
fn cos_doc_vectors_and_python_sdk_variants() {
    check_count("cos", 3);
    let mut variants = 0;
    for (path, file) in vector_files() {
        for v in vectors(&file, "cos") {
            let id = format!("{} {}", path.display(), s(v, "id"));
            let inputs = &v["inputs"];
            check_cos(&id, inputs, &inputs["signed_headers"], &v["expected"]);
            if let Some(published) = v.get("published").and_then(Value::as_object) {
                for (field, value) in published {
                    assert_eq!(
                        v["expected"][field], *value,
                        "{id}: published {field} differs from expected"
                    );
                }
            }
            // The key on the wire is a percent-encoding of the decoded path that is signed. The doc keeps `(`/`)`
            // raw while the SDKs (and this crate) encode them, so compare after decoding.
            let decoded = s(inputs, "uri_pathname_for_signing");
            let ours = cos::object_path_on_wire(decoded.trim_start_matches('/'));
            let unescape = |p: &str| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8()
                    .expect("utf-8 path")
                    .into_owned()
            };
            assert_eq!(unescape(&ours), decoded, "{id}: our wire path");
            assert_eq!(
                unescape(s(inputs, "url_path_on_wire")),
                decoded,
                "{id}: url_path_on_wire"
            );
            assert!(ours.is_ascii(), "{id}: {ours}");
            if let Some(variant) = v.get("python_sdk_variant").filter(|x| !x.is_null()) {
                check_cos(
                    &format!("{id} python_sdk_variant"),
                    inputs,
                    &variant["signed_headers"],
                    &variant["expected"],
                );
                // The SDK variant differs only by not signing Date, which our own filter agrees with.
                for name in pairs(&variant["signed_headers"]).iter().map(|p| p.0) {
                    assert!(cos::should_sign_header(name), "{id}: {name}");
                }
                assert!(!cos::should_sign_header("Date"));
                variants += 1;
            }
        }
    }
    assert!(variants >= 2, "expected the two python_sdk_variant entries");
}

// ---------------------------------------------------------------------------------------------------------------
// Edge cases. Expected literals: tests/data/compute_edge_vectors.py.

const SID: &str = "AKIDEdgeCaseExampleSecretId0000000000";
const SKEY: &str = "EdgeCaseExampleSecretKey00000000";
const HOST: &str = "vod.tencentcloudapi.com";
const BODY: &[u8] = br#"{"MediaType":"mp4"}"#;

fn tc3_post(headers: &[(&str, &str)], body: &[u8], ts: i64) -> tc3::Tc3Signature {
    tc3::sign(
        SID,
        SKEY,
        &tc3::Tc3Request {
            method: "POST",
            path: "/",
            query: "",
            headers,
            payload: tc3::Payload::Bytes(body),
            service: "vod",
            timestamp: ts,
        },
    )
}

const STD_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("host", HOST),
    ("x-tc-action", "applyupload"),
];

#[test]
fn tc3_date_flips_at_utc_midnight_not_local_midnight() {
    // 2023-12-31T23:59:59Z, 2024-01-01T00:00:00Z, and 2024-01-01T00:00:00+08:00 (= 2023-12-31T16:00:00Z).
    let cases = [
        (
            1704067199,
            "2023-12-31",
            "15e07eeb66ab70441c854e181c52459624c2fb9c3fa5203275ad62108775923e",
        ),
        (
            1704067200,
            "2024-01-01",
            "002269c9b3f4050aa4b40d986cbb3fc048d2dea4b7a4d38b86bf1c0bb25ee7e0",
        ),
        (
            1704038400,
            "2023-12-31",
            "ac1fd3711a8067fa2456c463f7394b2adc2db4e448deafe306988178e0974ea8",
        ),
    ];
    for (ts, date, sig) in cases {
        let got = tc3_post(STD_HEADERS, BODY, ts);
        assert_eq!(got.date, date, "{ts}");
        assert_eq!(got.credential_scope, format!("{date}/vod/tc3_request"));
        assert_eq!(
            got.string_to_sign,
            format!(
                "TC3-HMAC-SHA256\n{ts}\n{date}/vod/tc3_request\n\
                 7d6adcd224d0a12273f9d57f13e219938aa976e333ea4db3f3809195c1b5f7bc"
            )
        );
        assert_eq!(got.signature, sig, "{ts}");
        assert!(
            got.authorization
                .contains(&format!("Credential={SID}/{date}/vod/tc3_request,"))
        );
        assert_eq!(tc3::utc_date(ts), date);
    }
}

#[test]
fn tc3_body_bytes_are_hashed_exactly_raw_utf8_vs_escapes() {
    let raw = tc3_post(
        STD_HEADERS,
        r#"{"MediaName":"测试视频"}"#.as_bytes(),
        1700000000,
    );
    let esc = tc3_post(
        STD_HEADERS,
        br#"{"MediaName":"\u6d4b\u8bd5\u89c6\u9891"}"#,
        1700000000,
    );
    assert_eq!(
        raw.hashed_request_payload,
        "cea5746dc91db5283231eca4f4b484595a9c8dbce4c1796279c6f1eca1d4312c"
    );
    assert_eq!(
        raw.signature,
        "fee9ec198591535fc97d5495c815a970f2bc9ca30c64bd50228037eb7dcfaf79"
    );
    assert_eq!(
        esc.hashed_request_payload,
        "3b752f57cb030fae6f13de3ba342089de2d844a71fbbe8d18a3c61e8fbd7f168"
    );
    assert_eq!(
        esc.signature,
        "74d65c136ee9c9ba0b19e94eb198acdcc38c83d84485f5f86b715b3ea6376adf"
    );
    assert_ne!(raw.signature, esc.signature);
}

#[test]
fn tc3_get_with_query_string() {
    let got = tc3::sign(
        SID,
        SKEY,
        &tc3::Tc3Request {
            method: "GET",
            path: "/",
            query: "Limit=10&Offset=0&VodSessionKey=a%2Bb%3D",
            headers: &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("host", HOST),
                ("x-tc-action", "commitupload"),
            ],
            payload: tc3::Payload::Bytes(b""),
            service: "vod",
            timestamp: 1700000000,
        },
    );
    // SHA-256 of the empty string.
    assert_eq!(
        got.hashed_request_payload,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        got.canonical_request,
        "GET\n/\nLimit=10&Offset=0&VodSessionKey=a%2Bb%3D\ncontent-type:application/x-www-form-urlencoded\n\
         host:vod.tencentcloudapi.com\nx-tc-action:commitupload\n\ncontent-type;host;x-tc-action\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        got.signature,
        "39002222d3f8db4472231b8c78042ba19aa5d04fdfbca6334c1a5a20bb506bbd"
    );
}

#[test]
fn tc3_unsigned_payload() {
    let got = tc3::sign(
        SID,
        SKEY,
        &tc3::Tc3Request {
            method: "POST",
            path: "/",
            query: "",
            headers: STD_HEADERS,
            payload: tc3::Payload::Unsigned,
            service: "vod",
            timestamp: 1700000000,
        },
    );
    // SHA-256 of the literal "UNSIGNED-PAYLOAD", whatever the body.
    assert_eq!(
        got.hashed_request_payload,
        "438d4109ef0d676b8c2c7ed13cdfcb418e494d53b843d4634ce3b1085f07bb96"
    );
    assert_eq!(
        got.signature,
        "df74d6e835efe586d7eeea655f3c56aa3d1ef4ba68f8dd8ccc9b0df94bbc0e4c"
    );
    assert_ne!(
        got.signature,
        tc3_post(STD_HEADERS, BODY, 1700000000).signature
    );
}

#[test]
fn tc3_header_names_and_values_in_mixed_case() {
    let mixed = tc3::sign(
        SID,
        SKEY,
        &tc3::Tc3Request {
            method: "post",
            path: "/",
            query: "",
            headers: &[
                ("X-TC-Action", "ApplyUpload"),
                ("HOST", " VOD.TencentCloudAPI.com "),
                ("Content-Type", "Application/JSON"),
            ],
            payload: tc3::Payload::Bytes(BODY),
            service: "vod",
            timestamp: 1700000000,
        },
    );
    assert_eq!(mixed.signed_headers, "content-type;host;x-tc-action");
    assert_eq!(
        mixed.canonical_headers,
        "content-type:application/json\nhost:vod.tencentcloudapi.com\nx-tc-action:applyupload\n"
    );
    assert_eq!(
        mixed.signature,
        "39789b7e5ef3383abdae3a5bf716f4ecd2c14ecc356b7aa85c7783121ddad7a5"
    );
    assert_eq!(
        mixed.signature,
        tc3_post(STD_HEADERS, BODY, 1700000000).signature
    );
}

#[test]
fn tc3_token_is_not_signed() {
    // X-TC-Token is sent but never part of the signature: the signer has no token input, so the same request signs
    // identically for a permanent key and for temporary credentials with the same SecretId/SecretKey. What the
    // client actually signs is checked end to end in tests/vod_api.rs (the loopback server recomputes the
    // signature without the token).
    let a = tc3_post(STD_HEADERS, BODY, 1700000000);
    assert!(!a.signed_headers.contains("x-tc-token"));
    assert!(!a.canonical_request.contains("token"));
}

fn v1_params(method: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Action", "ApplyUpload".into()),
        ("Version", "2018-07-17".into()),
        ("Region", "ap-guangzhou".into()),
        ("Timestamp", "1700000000".into()),
        ("Nonce", "12345".into()),
        ("SecretId", SID.into()),
        ("SignatureMethod", method.into()),
        ("MediaType", "mp4".into()),
        ("MediaName", "测试 a+b".into()),
        ("ExtInfo", String::new()),
    ]
}

#[test]
fn v1_hmac_sha256_and_sha1_with_raw_values_and_an_empty_parameter() {
    for (method, alg, expected) in [
        (
            "HmacSHA256",
            v1::Algorithm::HmacSha256,
            "Fjj9VzxZsrSUvB3PtTcybJG20mjwm0Wf9Pd4vLmO8Wk=",
        ),
        (
            "HmacSHA1",
            v1::Algorithm::HmacSha1,
            "RY8cgdbSjE3VUqwPwkk3kPGPvYo=",
        ),
    ] {
        let params = v1_params(method);
        let sts = v1::string_to_sign("POST", HOST, "/", &params);
        assert_eq!(
            sts,
            format!(
                "POSTvod.tencentcloudapi.com/?Action=ApplyUpload&ExtInfo=&MediaName=测试 a+b&MediaType=mp4&\
                 Nonce=12345&Region=ap-guangzhou&SecretId={SID}&SignatureMethod={method}&\
                 Timestamp=1700000000&Version=2018-07-17"
            )
        );
        assert_eq!(v1::Algorithm::from_param(Some(method)), Some(alg));
        assert_eq!(v1::signature(SKEY, alg, &sts), expected, "{method}");
    }
    assert_eq!(
        v1::Algorithm::from_param(None),
        Some(v1::Algorithm::HmacSha1)
    );
    assert_eq!(v1::Algorithm::from_param(Some("hmacsha1")), None);
    // On the wire every value is RFC 3986 encoded, the empty one included.
    let body = v1::encode_params(&v1_params("HmacSHA256"));
    assert!(body.ends_with("&ExtInfo="), "{body}");
    assert!(
        body.contains("MediaName=%E6%B5%8B%E8%AF%95%20a%2Bb"),
        "{body}"
    );
}

const COS_HOST: &str = "vodtest-1250000000.cos.ap-guangzhou.myqcloud.com";

#[test]
fn cos_upload_part_with_unicode_key_encoded_upload_id_token_and_mixed_case_headers() {
    let key = "视频/第1集 (final).mp4";
    let path = format!("/{key}");
    let got = cos::sign(
        "AKIDtmpExample",
        "TmpSecretKeyExample",
        &cos::CosRequest {
            method: "PUT",
            path: &path,
            query: &[("partNumber", "7"), ("uploadId", "1585130821cbb7df+/= x")],
            headers: &[
                ("Host", COS_HOST),
                ("Content-Length", "1048576"),
                ("X-Cos-Security-Token", "tok+/=en"),
                ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ],
            key_time: (1700000000, 1700003600),
        },
    );
    assert_eq!(got.sign_key, "044b522d93b4b17929063eee677e9858d58c6cc0");
    assert_eq!(got.url_param_list, "partnumber;uploadid");
    assert_eq!(
        got.http_parameters,
        "partnumber=7&uploadid=1585130821cbb7df%2B%2F%3D%20x"
    );
    assert_eq!(
        got.header_list,
        "content-length;content-md5;host;x-cos-security-token"
    );
    assert_eq!(
        got.http_headers,
        format!(
            "content-length=1048576&content-md5=1B2M2Y8AsgTpgAmY7PhCfg%3D%3D&host={COS_HOST}\
             &x-cos-security-token=tok%2B%2F%3Den"
        )
    );
    // The path in the http string is the decoded key.
    assert!(
        got.http_string
            .starts_with("put\n/视频/第1集 (final).mp4\n"),
        "{:?}",
        got.http_string
    );
    assert_eq!(
        got.sha1_http_string,
        "3185e12fdd907fac0309f32433740edf63f638b1"
    );
    assert_eq!(got.signature, "3000fe4a64b3c453f0ea8efacebf6a7e4ae9cf09");
    assert_eq!(
        got.authorization,
        "q-sign-algorithm=sha1&q-ak=AKIDtmpExample&q-sign-time=1700000000;1700003600\
         &q-key-time=1700000000;1700003600&q-header-list=content-length;content-md5;host;x-cos-security-token\
         &q-url-param-list=partnumber;uploadid&q-signature=3000fe4a64b3c453f0ea8efacebf6a7e4ae9cf09"
    );
    // While the wire path is percent-encoded (slashes kept).
    assert_eq!(
        cos::object_path_on_wire(key),
        "/%E8%A7%86%E9%A2%91/%E7%AC%AC1%E9%9B%86%20%28final%29.mp4"
    );
    assert_eq!(cos::url_encode("a b+/=~"), "a%20b%2B%2F%3D~");
}

#[test]
fn cos_valueless_uploads_parameter() {
    let got = cos::sign(
        "AKIDtmpExample",
        "TmpSecretKeyExample",
        &cos::CosRequest {
            method: "POST",
            path: "/视频/第1集 (final).mp4",
            query: &[("uploads", "")],
            headers: &[("host", COS_HOST), ("content-type", "video/mp4")],
            key_time: (1700000000, 1700003600),
        },
    );
    assert_eq!(got.url_param_list, "uploads");
    assert_eq!(got.http_parameters, "uploads=");
    assert_eq!(got.header_list, "content-type;host");
    assert_eq!(
        got.sha1_http_string,
        "f1618601a2c5f394e209956d86af7a44b546bebb"
    );
    assert_eq!(got.signature, "9e6ab174d28e7270741999230a5d4ac969ac677a");
}
