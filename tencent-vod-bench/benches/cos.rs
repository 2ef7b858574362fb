//! COS signing and CRC-64 throughput.
//!
//! `cargo bench -p tencent-vod-bench --bench cos -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tencent_vod::__private::cos_sign::{CosRequest, sign};
use tencent_vod::__private::{Crc64, crc64_combine, crc64_combine_all};

fn bench_sign(c: &mut Criterion) {
    let mut g = c.benchmark_group("cos_sign");
    g.throughput(Throughput::Elements(1));
    g.bench_function("upload_part", |b| {
        b.iter(|| {
            let s = sign(
                black_box("AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q"),
                black_box("BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"),
                &CosRequest {
                    method: "PUT",
                    path: "/dir/视频/f0.mp4",
                    query: &[
                        ("uploadId", "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361"),
                        ("partNumber", "17"),
                    ],
                    headers: &[
                        ("content-length", "8388608"),
                        ("host", "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
                        ("x-cos-security-token", "a-long-session-token-value-of-several-hundred-bytes-0123456789abcdef"),
                    ],
                    key_time: (1_700_000_000, 1_700_003_600),
                },
            );
            black_box(s.authorization)
        })
    });
    g.finish();
}

fn bench_crc(c: &mut Criterion) {
    let mut g = c.benchmark_group("crc64");
    for size in [256 * 1024usize, 8 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("update_{}KiB", size / 1024), |b| {
            b.iter(|| {
                let mut h = Crc64::new();
                h.update(black_box(&data));
                black_box(h.finish())
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("combine_8MiB_part", |b| {
        b.iter(|| black_box(crc64_combine(black_box(0x1234), black_box(0x5678), 8 << 20)))
    });
    let parts: Vec<(u64, u64)> = (0..10_000u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), 8 << 20))
        .collect();
    g.bench_function("combine_all_10000_parts", |b| {
        b.iter(|| black_box(crc64_combine_all(black_box(parts.iter().copied()))))
    });
    g.finish();
}

criterion_group!(benches, bench_sign, bench_crc);
criterion_main!(benches);
