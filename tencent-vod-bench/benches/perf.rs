//! The performance suite behind BENCHMARKS.md: signing (TC3, v1, COS), CRC-64
//! throughput (SIMD vs table), part planning, and response parsing (VOD envelope, COS XML).
//!
//! ```text
//! cargo bench -p tencent-vod-bench --bench perf            # everything
//! cargo bench -p tencent-vod-bench --bench perf -- sign    # one group
//! cargo bench -p tencent-vod-bench --bench perf -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Two clocks: every group runs on wall time; `sign` and `crc64` run again as `cpu_sign` / `cpu_crc64` measured
//! in CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`), which does not count time the thread
//! spent waiting for a core — the meaningful figure on a loaded, shared machine (compare both).
//!
//! Targets (issue "Performance: benchmarks and the targets they must show"): TC3 and COS signing ≤ 2 µs each,
//! CRC-64 ≥ 2 GB/s.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tencent_vod::__private::cos_xml::{
    CompleteMultipartUploadResult, ErrorBody, ListPartsResult, XmlResponse, parse_response,
};
use tencent_vod::__private::parse_envelope;
use tencent_vod::__private::{Crc64, PartPlan};
use tencent_vod::__private::{cos_sign as cos, tc3, v1};
use tencent_vod::TransferConfig;
use tencent_vod::vod::ApplyUploadResponse;

const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
const TOKEN: &str = "a-session-token-of-a-few-hundred-bytes-0123456789abcdef0123456789abcdef\
                     0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn bench_sign<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let mut g = c.benchmark_group(format!("{prefix}sign"));
    g.throughput(Throughput::Elements(1));

    // TC3: an ApplyUpload call as VodApi sends it.
    let body = br#"{"MediaType":"mp4","MediaName":"movie","CoverType":"jpg","Procedure":"LongVideoPreset","SubAppId":1500000001}"#;
    let headers = [
        ("content-type", "application/json; charset=utf-8"),
        ("host", "vod.tencentcloudapi.com"),
        ("x-tc-action", "applyupload"),
    ];
    g.bench_function("tc3_apply_upload", |b| {
        b.iter(|| {
            let s = tc3::sign(
                black_box(SECRET_ID),
                black_box(SECRET_KEY),
                &tc3::Tc3Request {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &headers,
                    payload: tc3::Payload::Bytes(black_box(body)),
                    service: "vod",
                    timestamp: black_box(1_700_000_000),
                },
            );
            black_box(s.authorization)
        })
    });

    // TC3 with the day's signing key cached, as VodApi signs every call after the first of the day.
    let key = tc3::SigningKey::derive(SECRET_KEY, "2023-11-14", "vod");
    g.bench_function("tc3_apply_upload_cached_key", |b| {
        b.iter(|| {
            let s = tc3::sign_with_key(
                black_box(SECRET_ID),
                black_box(&key),
                &tc3::Tc3Request {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &headers,
                    payload: tc3::Payload::Bytes(black_box(body)),
                    service: "vod",
                    timestamp: black_box(1_700_000_000),
                },
            );
            black_box(s.authorization)
        })
    });

    // The hashing floor under the signers: one SHA-256 / SHA-1 compression, one short HMAC.
    let block = [0x5au8; 55];
    g.bench_function("floor_sha256_one_block", |b| {
        b.iter(|| {
            use sha2::Digest;
            black_box(sha2::Sha256::digest(black_box(&block)))
        })
    });
    g.bench_function("floor_hmac_sha256_short", |b| {
        b.iter(|| {
            use hmac::Mac;
            let mut m =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(black_box(SECRET_KEY.as_bytes()))
                    .expect("any key length");
            m.update(b"2023-11-14");
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function("floor_sha1_one_block", |b| {
        b.iter(|| {
            use sha1::Digest;
            black_box(sha1::Sha1::digest(black_box(&block)))
        })
    });

    // v1: the same call as a form POST.
    let params = [
        ("Action", "ApplyUpload"),
        ("Version", "2018-07-17"),
        ("Region", "ap-guangzhou"),
        ("Timestamp", "1700000000"),
        ("Nonce", "11886"),
        ("SecretId", SECRET_ID),
        ("SignatureMethod", "HmacSHA256"),
        ("MediaType", "mp4"),
        ("MediaName", "movie"),
        ("SubAppId", "1500000001"),
    ];
    for (name, alg) in [
        ("v1_hmac_sha1", v1::Algorithm::HmacSha1),
        ("v1_hmac_sha256", v1::Algorithm::HmacSha256),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let sts =
                    v1::string_to_sign("POST", "vod.tencentcloudapi.com", "/", black_box(&params));
                let sig = v1::signature(black_box(SECRET_KEY), alg, &sts);
                black_box(v1::encode_params(&[("Signature", sig.as_str())]))
            })
        });
    }

    // COS: an Upload Part as the transfer engine signs it (host, content-length, token; uploadId, partNumber).
    let query = [
        (
            "uploadId",
            "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361",
        ),
        ("partNumber", "17"),
    ];
    let cos_headers = [
        ("content-length", "8388608"),
        (
            "host",
            "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com",
        ),
        ("x-cos-security-token", TOKEN),
    ];
    let req = cos::CosRequest {
        method: "PUT",
        path: "/dir/视频/f0.mp4",
        query: &query,
        headers: &cos_headers,
        key_time: (1_700_000_000, 1_700_003_600),
    };
    g.bench_function("cos_upload_part_authorization", |b| {
        b.iter(|| {
            black_box(cos::authorization(
                black_box(SECRET_ID),
                black_box(SECRET_KEY),
                black_box(&req),
            ))
        })
    });
    g.bench_function("cos_upload_part_full", |b| {
        b.iter(|| {
            black_box(cos::sign(
                black_box(SECRET_ID),
                black_box(SECRET_KEY),
                black_box(&req),
            ))
        })
    });
    g.finish();
}

fn bench_crc<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let mut g = c.benchmark_group(format!("{prefix}crc64"));
    let data: Vec<u8> = (0..8usize << 20).map(|i| (i * 31 + 7) as u8).collect();
    for size in [64 * 1024usize, 256 * 1024, 1 << 20, 8 << 20] {
        let slice = &data[..size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("crate_crc64", size), slice, |b, s| {
            b.iter(|| {
                let mut h = Crc64::new();
                h.update(black_box(s));
                black_box(h.finish())
            })
        });
    }
    // What the SIMD path buys: crc64fast's table fallback on the same 1 MiB.
    let mib = &data[..1 << 20];
    g.throughput(Throughput::Bytes(mib.len() as u64));
    g.bench_function("crc64fast_table_fallback/1048576", |b| {
        b.iter(|| {
            let mut d = crc64fast::Digest::new_table();
            d.write(black_box(mib));
            black_box(d.sum64())
        })
    });
    g.finish();
}

fn bench_plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    let cfg = TransferConfig::default();
    for (name, size) in [
        ("1GiB", 1u64 << 30),
        ("200GiB_raised", 200u64 << 30),
        ("48TiB", 48u64 << 40),
    ] {
        g.bench_function(format!("new/{name}"), |b| {
            b.iter(|| black_box(PartPlan::new(black_box(size), &cfg).ok()))
        });
    }
    let plan = PartPlan::new(1 << 30, &cfg).ok();
    g.bench_function("all_ranges/1GiB", |b| {
        b.iter(|| {
            let Some(p) = plan else { return 0 };
            let mut sum = 0u64;
            for n in 1..=p.parts() {
                if let Some((off, len)) = p.part_range(black_box(n)) {
                    sum = sum.wrapping_add(off ^ len);
                }
            }
            black_box(sum)
        })
    });
    g.finish();
}

fn fixture(id: &str) -> Vec<u8> {
    let raw = include_str!("../../tests/data/doc-vectors.json");
    let v: serde_json::Value = serde_json::from_str(raw).expect("vectors parse");
    let f = v["response_fixtures"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["id"] == id))
        .unwrap_or_else(|| panic!("fixture {id}"));
    match f["body_text"].as_str() {
        Some(t) => t.as_bytes().to_vec(),
        None => serde_json::to_vec(&f["body"]).expect("body"),
    }
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));

    let apply = fixture("vod-applyupload-ok");
    g.bench_function("vod_apply_upload_envelope", |b| {
        b.iter(|| {
            let v = parse_envelope("ApplyUpload", 200, black_box(&apply)).expect("envelope");
            black_box(serde_json::from_value::<ApplyUploadResponse>(v).expect("model"))
        })
    });
    let vod_err = fixture("api3-error-envelope");
    g.bench_function("vod_error_envelope", |b| {
        b.iter(|| black_box(parse_envelope("ApplyUpload", 200, black_box(&vod_err)).is_err()))
    });

    let complete = r#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult>
    <Location>examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/dir/%E8%A7%86%E9%A2%91.mp4</Location>
    <Bucket>examplebucket-1250000000</Bucket>
    <Key>dir/视频.mp4</Key>
    <ETag>"aa259a62513358f69e98e72e59856d88-128"</ETag>
</CompleteMultipartUploadResult>"#
        .as_bytes();
    g.bench_function("cos_complete_multipart_upload_result", |b| {
        b.iter(
            || match parse_response::<CompleteMultipartUploadResult>(black_box(complete)) {
                Ok(XmlResponse::Ok(r)) => black_box(r.etag),
                _ => unreachable!("fixture parses"),
            },
        )
    });

    // A full page of List Parts (1000 parts).
    let mut list = String::from(
        "<?xml version='1.0' encoding='utf-8' ?>\n<ListPartsResult>\n\t<Bucket>examplebucket-1250000000</Bucket>\n\t<Key>dir/a.mp4</Key>\n\t<UploadId>1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361</UploadId>\n\t<NextPartNumberMarker>1000</NextPartNumberMarker>\n\t<MaxParts>1000</MaxParts>\n\t<IsTruncated>true</IsTruncated>\n",
    );
    for n in 1..=1000 {
        list.push_str(&format!(
            "\t<Part>\n\t\t<PartNumber>{n}</PartNumber>\n\t\t<LastModified>2024-01-01T00:00:00.000Z</LastModified>\n\t\t<ETag>\"{n:032x}\"</ETag>\n\t\t<Size>8388608</Size>\n\t</Part>\n"
        ));
    }
    list.push_str("</ListPartsResult>");
    g.bench_function("cos_list_parts_result_1000_parts", |b| {
        b.iter(
            || match parse_response::<ListPartsResult>(black_box(list.as_bytes())) {
                Ok(XmlResponse::Ok(r)) => black_box(r.parts.len()),
                _ => unreachable!("fixture parses"),
            },
        )
    });

    let err = fixture("cos-error-xml");
    g.bench_function("cos_error_body", |b| {
        b.iter(|| match parse_response::<ErrorBody>(black_box(&err)) {
            Ok(XmlResponse::Error(e)) => black_box(e.code),
            _ => unreachable!("fixture is an <Error>"),
        })
    });
    let complete_err = fixture("cos-complete-200-with-error-body");
    g.bench_function("cos_complete_200_with_error_body", |b| {
        b.iter(
            || match parse_response::<CompleteMultipartUploadResult>(black_box(&complete_err)) {
                Ok(XmlResponse::Error(e)) => black_box(e.code),
                _ => unreachable!("fixture is an <Error>"),
            },
        )
    });
    g.finish();
}

/// CPU time consumed by the calling thread (Linux/Unix `CLOCK_THREAD_CPUTIME_ID`), in nanoseconds.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns(cpu)")
        } else if typical < 1e6 {
            (1e3, "µs(cpu)")
        } else if typical < 1e9 {
            (1e6, "ms(cpu)")
        } else {
            (1e9, "s(cpu)")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => {
                // bytes per CPU-second, in GiB/s
                let gib = b as f64 / (1u64 << 30) as f64;
                values.iter_mut().for_each(|v| *v = gib * 1e9 / *v);
                "GiB/s(cpu)"
            }
            Throughput::Elements(e) => {
                values
                    .iter_mut()
                    .for_each(|v| *v = e as f64 * 1e9 / *v / 1e3);
                let _ = typical;
                "Kelem/s(cpu)"
            }
            Throughput::Bits(b) => {
                values.iter_mut().for_each(|v| *v = b as f64 * 1e9 / *v);
                "bit/s(cpu)"
            }
        }
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns(cpu)"
    }
}

fn wall_sign(c: &mut Criterion) {
    bench_sign(c, "");
}

fn wall_crc(c: &mut Criterion) {
    bench_crc(c, "");
}

fn cpu_sign(c: &mut Criterion<ThreadCpu>) {
    bench_sign(c, "cpu_");
}

fn cpu_crc(c: &mut Criterion<ThreadCpu>) {
    bench_crc(c, "cpu_");
}

criterion_group!(benches, wall_sign, wall_crc, bench_plan, bench_parse);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu_sign, cpu_crc
}
criterion_main!(benches, cpu);
