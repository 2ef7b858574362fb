//! Signing cost: TC3 of an ApplyUpload-sized body, v1 HmacSHA1/HmacSHA256 of an ApplyUpload parameter set, and
//! the COS signature of an UploadPart request with a security token.
//!
//! `cargo bench -p tencent-vod-bench --bench signing -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tencent_vod::__private::{cos_sign as cos, tc3, v1};

const SID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const SKEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

fn apply_upload_body() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "MediaType": "mp4",
        "SubAppId": 1500000001u64,
        "MediaName": "测试视频 episode 01",
        "CoverType": "jpg",
        "Procedure": "LongVideoPreset",
        "ExpireTime": "2030-01-01T00:00:00Z",
        "ClassId": 7,
        "SourceContext": "source-context-0123456789",
        "SessionContext": "session-context-0123456789",
    }))
    .expect("json")
}

fn bench_tc3(c: &mut Criterion) {
    let body = apply_upload_body();
    let host = "vod.tencentcloudapi.com";
    c.bench_function("tc3_apply_upload", |b| {
        b.iter(|| {
            let headers = [
                ("content-type", "application/json"),
                ("host", host),
                ("x-tc-action", "applyupload"),
            ];
            tc3::sign(
                black_box(SID),
                black_box(SKEY),
                &tc3::Tc3Request {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &headers,
                    payload: tc3::Payload::Bytes(black_box(&body)),
                    service: "vod",
                    timestamp: black_box(1700000000),
                },
            )
        })
    });
}

fn bench_v1(c: &mut Criterion) {
    let params: Vec<(&str, &str)> = vec![
        ("Action", "ApplyUpload"),
        ("Version", "2018-07-17"),
        ("Region", "ap-guangzhou"),
        ("Timestamp", "1700000000"),
        ("Nonce", "1234567"),
        ("SecretId", SID),
        ("SignatureMethod", "HmacSHA1"),
        ("MediaType", "mp4"),
        ("SubAppId", "1500000001"),
        ("MediaName", "测试视频 episode 01"),
        ("CoverType", "jpg"),
        ("Procedure", "LongVideoPreset"),
        ("ClassId", "7"),
    ];
    for (name, alg) in [
        ("v1_hmac_sha1", v1::Algorithm::HmacSha1),
        ("v1_hmac_sha256", v1::Algorithm::HmacSha256),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let sts =
                    v1::string_to_sign("POST", "vod.tencentcloudapi.com", "/", black_box(&params));
                v1::signature(black_box(SKEY), alg, &sts)
            })
        });
    }
}

fn bench_cos(c: &mut Criterion) {
    let token = "x".repeat(600);
    c.bench_function("cos_upload_part_with_token", |b| {
        b.iter(|| {
            let headers = [
                ("Host", "vodtest-1250000000.cos.ap-guangzhou.myqcloud.com"),
                ("Content-Length", "8388608"),
                ("x-cos-security-token", token.as_str()),
            ];
            cos::sign(
                black_box("AKIDtmpSecretId0001"),
                black_box("TmpSecretKey00000000000000000000"),
                &cos::CosRequest {
                    method: "PUT",
                    path: "/dir/media/视频 f0.mp4",
                    query: &[
                        ("partNumber", "17"),
                        (
                            "uploadId",
                            "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361",
                        ),
                    ],
                    headers: &headers,
                    key_time: black_box((1700000000, 1700003600)),
                },
            )
        })
    });
}

criterion_group!(benches, bench_tc3, bench_v1, bench_cos);
criterion_main!(benches);
