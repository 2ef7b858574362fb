//! Transfer settings and part planning (single PUT or multipart, part size, COS limits).

use crate::error::{Error, Result};

/// 1 MiB.
pub(crate) const MIB: u64 = 1 << 20;
/// 1 GiB.
pub(crate) const GIB: u64 = 1 << 30;
/// Smallest part COS accepts (except the last part).
pub const MIN_PART_SIZE: u64 = MIB;
/// Largest part COS accepts.
pub const MAX_PART_SIZE: u64 = 5 * GIB;
/// Most parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// Largest single PUT.
pub const MAX_SINGLE_PUT: u64 = 5 * GIB;
/// Largest object (10,000 parts of 5 GiB, about 48.82 TiB).
pub const MAX_OBJECT_SIZE: u64 = MAX_PARTS * MAX_PART_SIZE;

/// Default multipart threshold: objects below it are sent with one PUT.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 8 * MIB;
/// Default part size.
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;
/// Default parts in flight per upload.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default size of the chunks a part body is streamed in.
pub const DEFAULT_CHUNK_SIZE: usize = 256 * 1024;
/// Most parts in flight for one upload ([`TransferConfig::with_concurrency`]).
pub const MAX_CONCURRENCY: usize = 1024;

/// Parses a byte size as people write it: a number with an optional binary unit, `K`, `M`, `G` or `T`
/// (optionally followed by `i` and/or `B`, all meaning powers of 1024: `8M` = `8MiB` = `8MB` = 8,388,608), or `B`.
/// A fraction is allowed when it gives a whole number of bytes (`1.5G`). All arithmetic is checked: a value that
/// does not fit in 64 bits is an [`Error::InvalidInput`], never a wrapped-around small number.
///
/// ```
/// use tencent_vod::cos::parse_size;
/// assert_eq!(parse_size("8M").unwrap(), 8 << 20);
/// assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
/// assert_eq!(parse_size("4096").unwrap(), 4096);
/// assert!(parse_size("17592186044418M").is_err()); // 2^64 + 2 MiB: would wrap to 2 MiB
/// ```
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = |why: String| {
        Error::invalid(
            "size",
            format!(
                "{s:?} {why}; expected a number of bytes with an optional unit, e.g. 8M, 512K, 1.5G"
            ),
        )
    };
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KI" | "KIB" => 1 << 10,
        "M" | "MB" | "MI" | "MIB" => 1 << 20,
        "G" | "GB" | "GI" | "GIB" => 1 << 30,
        "T" | "TB" | "TI" | "TIB" => 1 << 40,
        other => return Err(bad(format!("has an unknown unit {other:?}"))),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(bad("is not a number".into()));
    }
    if frac.len() > 18 {
        return Err(bad("has too many decimal places".into()));
    }
    let too_large = || bad(format!("is too large: at most {} bytes", u64::MAX));
    let int_value: u128 = if int.is_empty() {
        0
    } else {
        u128::from(int.parse::<u64>().map_err(|_| too_large())?)
    };
    let scale = 10u128.pow(frac.len() as u32);
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>()
            .map_err(|_| bad("is not a number".into()))?
    };
    let frac_bytes = frac_value * u128::from(mult);
    if !frac_bytes.is_multiple_of(scale) {
        return Err(bad("is not a whole number of bytes".into()));
    }
    let total = int_value
        .checked_mul(u128::from(mult))
        .and_then(|v| v.checked_add(frac_bytes / scale))
        .ok_or_else(too_large)?;
    u64::try_from(total).map_err(|_| too_large())
}

/// How an object is transferred. Every knob has a `with_*` setter; [`TransferConfig::validate`] checks them
/// (the engine calls it before any request).
///
/// ```
/// use tencent_vod::cos::TransferConfig;
/// let c = TransferConfig::default().with_part_size(16 << 20).with_concurrency(8);
/// assert_eq!(c.part_size(), 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferConfig {
    multipart_threshold: u64,
    part_size: u64,
    concurrency: usize,
    chunk_size: usize,
    content_md5: bool,
    verify_crc: bool,
    require_crc: bool,
    trust_missing_crc: bool,
    min_part_size: u64,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            chunk_size: DEFAULT_CHUNK_SIZE,
            content_md5: false,
            verify_crc: true,
            require_crc: false,
            trust_missing_crc: false,
            min_part_size: MIN_PART_SIZE,
        }
    }
}

impl TransferConfig {
    /// Objects strictly smaller than this go in one PUT (default 8 MiB; at most 5 GiB).
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }

    /// Part size of multipart uploads (default 8 MiB; 1 MiB ..= 5 GiB). Raised automatically when an object
    /// would otherwise need more than 10,000 parts.
    pub fn with_part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Parts in flight for one upload (default 4; 1 ..= [`MAX_CONCURRENCY`]). See also
    /// [`ConcurrencyBudget`](super::ConcurrencyBudget) for a limit shared by several uploads.
    pub fn with_concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts;
        self
    }

    /// Size of the chunks a body is read and streamed in (default 256 KiB; 4 KiB ..= 16 MiB). Progress events
    /// come once per chunk.
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Send `Content-MD5` with every PUT and part (default off; CRC-64 is always checked). For a file source
    /// this costs one extra read of each part: the MD5 must be in the headers before the body is sent, so the
    /// range is hashed in a pre-pass.
    pub fn with_content_md5(mut self, on: bool) -> Self {
        self.content_md5 = on;
        self
    }

    /// Check `x-cos-hash-crc64ecma` against the locally computed CRC-64 (default on).
    pub fn with_verify_crc(mut self, on: bool) -> Self {
        self.verify_crc = on;
        self
    }

    /// Fail at once when a response lacks `x-cos-hash-crc64ecma` (default off). With it off, a part without the
    /// header is covered by the whole-object check, and a `PUT Object` or `Complete Multipart Upload` without it
    /// is verified with `HEAD Object` (see [`with_trust_missing_crc`](Self::with_trust_missing_crc)).
    pub fn with_require_crc(mut self, on: bool) -> Self {
        self.require_crc = on;
        self
    }

    /// Accept an object whose `PUT Object` / `Complete Multipart Upload` answer carried no
    /// `x-cos-hash-crc64ecma` without verifying it (default **off**: such an object is checked with `HEAD
    /// Object`, size and CRC-64, and the upload fails when HEAD cannot confirm it). Only for COS-compatible
    /// stores that never report CRC-64; the object is then unverified.
    pub fn with_trust_missing_crc(mut self, on: bool) -> Self {
        self.trust_missing_crc = on;
        self
    }

    /// For tests against a mock server only: lowers the smallest allowed part size below COS's 1 MiB (real COS
    /// rejects such parts at Complete with `EntityTooSmall`). Also accepts a `part_size` that small.
    pub(crate) fn with_min_part_size_unchecked(mut self, bytes: u64) -> Self {
        self.min_part_size = bytes.max(1);
        self
    }

    /// The multipart threshold.
    pub fn multipart_threshold(&self) -> u64 {
        self.multipart_threshold
    }

    /// The configured part size (before any automatic raise).
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// Parts in flight per upload.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Streaming chunk size.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Whether `Content-MD5` is sent.
    pub fn content_md5(&self) -> bool {
        self.content_md5
    }

    /// Whether CRC-64 is checked.
    pub fn verify_crc(&self) -> bool {
        self.verify_crc
    }

    /// Whether a missing CRC-64 header is an error.
    pub fn require_crc(&self) -> bool {
        self.require_crc
    }

    /// Whether an object whose write answer lacks a CRC-64 is accepted without a `HEAD Object` check.
    pub fn trust_missing_crc(&self) -> bool {
        self.trust_missing_crc
    }

    /// Checks every knob against COS limits.
    pub fn validate(&self) -> Result<()> {
        if self.part_size < self.min_part_size || self.part_size > MAX_PART_SIZE {
            return Err(Error::invalid(
                "part_size",
                format!(
                    "{} bytes is outside COS limits: a part must be 1 MiB ..= 5 GiB",
                    self.part_size
                ),
            ));
        }
        if self.multipart_threshold > MAX_SINGLE_PUT {
            return Err(Error::invalid(
                "multipart_threshold",
                format!(
                    "{} bytes: a single PUT is limited to 5 GiB",
                    self.multipart_threshold
                ),
            ));
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(Error::invalid(
                "concurrency",
                format!(
                    "{}: expected at least 1 and at most {MAX_CONCURRENCY} parts in flight",
                    self.concurrency
                ),
            ));
        }
        if !(4096..=16 << 20).contains(&self.chunk_size) {
            return Err(Error::invalid(
                "chunk_size",
                format!("{} bytes: expected 4 KiB ..= 16 MiB", self.chunk_size),
            ));
        }
        Ok(())
    }
}

/// How an object of known size is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartPlan {
    /// One `PUT Object`.
    Single {
        /// Object size.
        size: u64,
    },
    /// Multipart upload: `parts` parts of `part_size` bytes, the last one possibly shorter.
    Multipart {
        /// Object size.
        size: u64,
        /// Size of every part but the last.
        part_size: u64,
        /// Number of parts.
        parts: u32,
    },
}

impl PartPlan {
    /// Decides how to send `size` bytes.
    ///
    /// ```
    /// use tencent_vod::TransferConfig;
    /// use tencent_vod::__private::PartPlan;
    /// let cfg = TransferConfig::default();
    /// assert!(matches!(PartPlan::new(1 << 20, &cfg).unwrap(), PartPlan::Single { .. }));
    /// let PartPlan::Multipart { part_size, parts, .. } = PartPlan::new(100 << 30, &cfg).unwrap() else { panic!() };
    /// assert!(parts <= 10_000 && part_size >= 8 << 20);
    /// ```
    pub fn new(size: u64, cfg: &TransferConfig) -> Result<Self> {
        cfg.validate()?;
        if size > MAX_OBJECT_SIZE {
            return Err(Error::invalid(
                "size",
                format!(
                    "{size} bytes exceeds the COS object limit of {MAX_OBJECT_SIZE} bytes (48.82 TiB)"
                ),
            ));
        }
        if size == 0 || size < cfg.multipart_threshold {
            return Ok(PartPlan::Single { size });
        }
        // Raise the part size so the object fits in 10,000 parts (rounded up to a whole MiB).
        let mut part_size = cfg.part_size;
        let needed = size.div_ceil(MAX_PARTS);
        if needed > part_size {
            part_size = needed.div_ceil(MIB) * MIB;
        }
        let part_size = part_size.min(MAX_PART_SIZE);
        let parts = size.div_ceil(part_size);
        if parts > MAX_PARTS {
            return Err(Error::invalid(
                "size",
                format!("{size} bytes needs {parts} parts; COS allows 10,000"),
            ));
        }
        Ok(PartPlan::Multipart {
            size,
            part_size,
            parts: parts as u32,
        })
    }

    /// The object size.
    pub fn size(&self) -> u64 {
        match *self {
            PartPlan::Single { size } | PartPlan::Multipart { size, .. } => size,
        }
    }

    /// Number of requests carrying data (1 for a single PUT).
    pub fn parts(&self) -> u32 {
        match *self {
            PartPlan::Single { .. } => 1,
            PartPlan::Multipart { parts, .. } => parts,
        }
    }

    /// `(offset, len)` of part `number` (1-based), `None` when out of range.
    pub fn part_range(&self, number: u32) -> Option<(u64, u64)> {
        match *self {
            PartPlan::Single { size } => (number == 1).then_some((0, size)),
            PartPlan::Multipart {
                size,
                part_size,
                parts,
            } => {
                if number == 0 || number > parts {
                    return None;
                }
                let offset = u64::from(number - 1) * part_size;
                Some((offset, part_size.min(size - offset)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_parser_is_checked() {
        for (text, want) in [
            ("0", 0),
            ("4096", 4096),
            (" 8M ", 8 << 20),
            ("8m", 8 << 20),
            ("8MiB", 8 << 20),
            ("8MB", 8 << 20),
            ("512k", 512 << 10),
            ("1.5G", 3 << 29),
            ("1.5 GiB", 3 << 29),
            (".5K", 512),
            ("5T", 5 << 40),
            ("100B", 100),
            ("18446744073709551615", u64::MAX),
            ("16777215.5T", (16_777_215 << 40) + (1 << 39)),
        ] {
            assert_eq!(parse_size(text).unwrap(), want, "{text}");
        }
        // 17592186044418 MiB = 2^64 + 2 MiB: with unchecked arithmetic it wraps to 2 MiB and looks valid.
        for text in [
            "17592186044418M",
            "18446744073709551616",
            "16777216T",
            "99999999999999999999999K",
            "18446744073709551615K",
        ] {
            let e = parse_size(text).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field, reason } if field == "size" && reason.contains("too large")),
                "{text}: {e}"
            );
            assert!(e.to_string().contains(text), "{e}");
        }
        for text in ["", "M", "8X", "1.2.3", "-1", "1.5", "0.1K", "8 M B", "abc"] {
            let e = parse_size(text).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{text}: {e}");
        }
    }

    #[test]
    fn concurrency_is_bounded() {
        assert!(
            TransferConfig::default()
                .with_concurrency(MAX_CONCURRENCY)
                .validate()
                .is_ok()
        );
        for bad in [0, MAX_CONCURRENCY + 1, usize::MAX] {
            let e = TransferConfig::default()
                .with_concurrency(bad)
                .validate()
                .unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field, .. } if field == "concurrency"),
                "{e}"
            );
        }
    }

    #[test]
    fn single_below_threshold_multipart_at_or_above() {
        let cfg = TransferConfig::default();
        assert_eq!(
            PartPlan::new(0, &cfg).unwrap(),
            PartPlan::Single { size: 0 }
        );
        assert_eq!(
            PartPlan::new(8 * MIB - 1, &cfg).unwrap(),
            PartPlan::Single { size: 8 * MIB - 1 }
        );
        assert_eq!(
            PartPlan::new(8 * MIB, &cfg).unwrap(),
            PartPlan::Multipart {
                size: 8 * MIB,
                part_size: 8 * MIB,
                parts: 1
            }
        );
        let p = PartPlan::new(20 * MIB + 5, &cfg).unwrap();
        assert_eq!(p.parts(), 3);
        assert_eq!(p.part_range(1), Some((0, 8 * MIB)));
        assert_eq!(p.part_range(3), Some((16 * MIB, 4 * MIB + 5)));
        assert_eq!(p.part_range(4), None);
        assert_eq!(p.part_range(0), None);
    }

    #[test]
    fn part_size_raised_to_fit_10000_parts() {
        let cfg = TransferConfig::default();
        for size in [80_000 * MIB + 1, 100 * GIB, 1024 * GIB, MAX_OBJECT_SIZE] {
            let PartPlan::Multipart {
                part_size, parts, ..
            } = PartPlan::new(size, &cfg).unwrap()
            else {
                panic!("multipart expected")
            };
            assert!(u64::from(parts) <= MAX_PARTS, "{size}: {parts}");
            assert!((8 * MIB..=MAX_PART_SIZE).contains(&part_size));
            assert!(u64::from(parts) * part_size >= size);
            assert!(u64::from(parts - 1) * part_size < size);
        }
        // Exactly 10,000 parts of 8 MiB needs no raise.
        let p = PartPlan::new(80_000 * MIB, &cfg).unwrap();
        assert_eq!(
            p,
            PartPlan::Multipart {
                size: 80_000 * MIB,
                part_size: 8 * MIB,
                parts: 10_000
            }
        );
    }

    #[test]
    fn limits_are_enforced_with_clear_errors() {
        let cfg = TransferConfig::default();
        let e = PartPlan::new(MAX_OBJECT_SIZE + 1, &cfg).unwrap_err();
        assert!(e.to_string().contains("48.82 TiB"), "{e}");
        for bad in [MIB - 1, 5 * GIB + 1] {
            let e = PartPlan::new(100, &cfg.clone().with_part_size(bad)).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput { field, .. } if field == "part_size"),
                "{e}"
            );
        }
        let e = PartPlan::new(1, &cfg.clone().with_multipart_threshold(5 * GIB + 1)).unwrap_err();
        assert!(e.to_string().contains("5 GiB"), "{e}");
        assert!(PartPlan::new(1, &cfg.clone().with_concurrency(0)).is_err());
        // Test knob: tiny parts are allowed only through the unchecked setter.
        let tiny = cfg
            .with_min_part_size_unchecked(16)
            .with_part_size(16)
            .with_multipart_threshold(16);
        assert_eq!(PartPlan::new(40, &tiny).unwrap().parts(), 3);
    }
}
