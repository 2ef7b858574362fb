//! CRC-64/XZ (COS calls it "CRC64-ECMA", header `x-cos-hash-crc64ecma`) and CRC combination.
//!
//! Width 64, reflected polynomial `0xC96C5795D7870F42`, init and xor-out all ones; `check("123456789")` is
//! `0x995DC9BBDF1939FA`. The running CRC uses [`crc_fast`] (SIMD chosen at run time: AVX-512
//! VPCLMULQDQ where the CPU has it and the crate was built with Rust ≥ 1.89, else PCLMULQDQ, NEON on ARM;
//! 25–58 GB/s on the AMD EPYC of BENCHMARKS.md, against 8–15 GB/s for a PCLMULQDQ kernel); [`crc64_combine`] joins the CRCs of two
//! adjacent byte ranges without re-reading them (the GF(2) matrix method of zlib's `crc32_combine`, as in
//! cos-go-sdk-v5 `CRC64Combine`), which is how the whole object's CRC is derived from its parts.

/// The reflected CRC-64/XZ (ECMA-182) polynomial.
pub(crate) const CRC64_XZ_POLY_REFLECTED: u64 = 0xC96C_5795_D787_0F42;

/// An incremental CRC-64/XZ.
///
/// ```
/// let mut c = tencent_vod::__private::Crc64::new();
/// c.update(b"1234");
/// c.update(b"56789");
/// assert_eq!(c.finish(), 0x995D_C9BB_DF19_39FA);
/// ```
#[derive(Clone)]
pub struct Crc64 {
    digest: crc_fast::Digest,
    len: u64,
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crc64")
            .field("crc", &self.finish())
            .field("len", &self.len)
            .finish()
    }
}

impl Crc64 {
    /// A CRC over no bytes (value 0).
    pub fn new() -> Self {
        Crc64 {
            digest: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz),
            len: 0,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// The CRC of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.digest.finalize()
    }

    /// How many bytes were fed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// CRC-64/XZ of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut c = Crc64::new();
    c.update(bytes);
    c.finish()
}

fn gf2_matrix_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_matrix_square(square: &mut [u64; 64], mat: &[u64; 64]) {
    for n in 0..64 {
        square[n] = gf2_matrix_times(mat, mat[n]);
    }
}

/// The GF(2) operator that appends `len` zero bytes to a CRC register (zlib's `crc32_combine` method).
fn zeros_operator(mut len: u64) -> [u64; 64] {
    let mut result = [0u64; 64];
    for (n, slot) in result.iter_mut().enumerate() {
        *slot = 1u64 << n; // identity
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    // The operator for one zero bit.
    odd[0] = CRC64_XZ_POLY_REFLECTED;
    let mut row = 1u64;
    for slot in odd.iter_mut().skip(1) {
        *slot = row;
        row <<= 1;
    }
    gf2_matrix_square(&mut even, &odd); // two zero bits
    gf2_matrix_square(&mut odd, &even); // four zero bits
    let compose = |result: &mut [u64; 64], op: &[u64; 64]| {
        for slot in result.iter_mut() {
            *slot = gf2_matrix_times(op, *slot);
        }
    };
    while len != 0 {
        // `even` becomes the operator for 2^k zero bytes, then `odd` for 2^(k+1).
        gf2_matrix_square(&mut even, &odd);
        if len & 1 != 0 {
            compose(&mut result, &even);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        gf2_matrix_square(&mut odd, &even);
        if len & 1 != 0 {
            compose(&mut result, &odd);
        }
        len >>= 1;
    }
    result
}

/// The CRC-64/XZ of `A ‖ B` given `crc1 = CRC(A)`, `crc2 = CRC(B)` and `len2 = |B|` (O(log len2)).
///
/// ```
/// use tencent_vod::__private::{crc64, crc64_combine};
/// let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
/// assert_eq!(crc64_combine(crc64(a), crc64(b), b.len() as u64), crc64(b"hello world"));
/// ```
pub fn crc64_combine(crc1: u64, crc2: u64, len2: u64) -> u64 {
    if len2 == 0 {
        return crc1;
    }
    gf2_matrix_times(&zeros_operator(len2), crc1) ^ crc2
}

/// Combines the CRCs of consecutive parts `(crc, len)` into the CRC of the whole. The zero-append operator is
/// cached per distinct length, so 10,000 equal parts cost one operator build plus 10,000 cheap applications.
pub fn crc64_combine_all(parts: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    let mut cache: Option<(u64, Box<[u64; 64]>)> = None;
    let mut acc = 0u64;
    for (crc, len) in parts {
        if len == 0 {
            continue;
        }
        let op = match &cache {
            Some((l, op)) if *l == len => op,
            _ => &cache.insert((len, Box::new(zeros_operator(len)))).1,
        };
        acc = gf2_matrix_times(op, acc) ^ crc;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD kernels agree with an independent implementation (crc64fast) on every length around the
    /// kernels' block sizes and on arbitrary split points.
    #[test]
    fn agrees_with_an_independent_implementation() {
        let mut rng = fastrand::Rng::with_seed(64);
        let mut data = vec![0u8; 70_000];
        rng.fill(&mut data);
        let reference = |b: &[u8]| {
            let mut d = crc64fast::Digest::new();
            d.write(b);
            d.sum64()
        };
        let lengths = (0..600).chain([1023, 1024, 1025, 4095, 4096, 4097, 65_535, 65_536, 70_000]);
        for len in lengths {
            let b = &data[..len];
            assert_eq!(crc64(b), reference(b), "len {len}");
            let split = rng.usize(..=len);
            let mut c = Crc64::new();
            c.update(&b[..split]);
            c.update(&b[split..]);
            assert_eq!(c.finish(), reference(b), "len {len} split {split}");
        }
    }

    #[test]
    fn check_value() {
        assert_eq!(crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
        assert_eq!(crc64(b"123456789"), 11051210869376104954);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn combine_matches_direct_computation() {
        let mut rng = fastrand::Rng::with_seed(7);
        let data: Vec<u8> = (0..300_000).map(|_| rng.u8(..)).collect();
        for split in [0usize, 1, 7, 8, 1000, 65_536, 299_999, 300_000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                crc64_combine(crc64(a), crc64(b), b.len() as u64),
                crc64(&data),
                "split at {split}"
            );
        }
        // Many uneven parts.
        let mut parts = Vec::new();
        let mut off = 0;
        for len in [1usize, 4096, 33, 100_000, 0, 5, 195_865] {
            let end = (off + len).min(data.len());
            parts.push((crc64(&data[off..end]), (end - off) as u64));
            off = end;
        }
        assert_eq!(off, data.len());
        assert_eq!(crc64_combine_all(parts), crc64(&data));
    }

    #[test]
    fn incremental_equals_one_shot() {
        let mut c = Crc64::new();
        for chunk in b"The quick brown fox jumps over the lazy dog".chunks(5) {
            c.update(chunk);
        }
        assert_eq!(c.len(), 43);
        assert_eq!(
            c.finish(),
            crc64(b"The quick brown fox jumps over the lazy dog")
        );
    }
}
