//! TC3-HMAC-SHA256 ("signature v3") for Tencent Cloud API 3.0.
//!
//! ```text
//! CanonicalRequest = Method \n / \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(SHA256(payload))
//! StringToSign     = TC3-HMAC-SHA256 \n Timestamp \n Date/service/tc3_request \n hex(SHA256(CanonicalRequest))
//! SecretSigning    = HMAC(HMAC(HMAC("TC3"+SecretKey, Date), service), "tc3_request")
//! Signature        = hex(HMAC(SecretSigning, StringToSign))
//! ```
//! `Date` is the **UTC** date of the timestamp. `X-TC-Token` is sent but not signed.

use super::hmac_sha256;
use std::fmt;

/// The algorithm name.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The payload hash input: the exact body, or `UNSIGNED-PAYLOAD` (header `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`).
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The exact bytes of the body (`b""` for GET).
    Bytes(&'a [u8]),
    /// Hash the literal `UNSIGNED-PAYLOAD` instead of the body.
    Unsigned,
}

/// What a TC3 signature covers.
#[derive(Debug, Clone)]
pub struct Tc3Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The canonical URI; always `/` for API 3.0.
    pub path: &'a str,
    /// The query string exactly as sent (`""` for POST).
    pub query: &'a str,
    /// Headers to sign as (name, value); names are lower-cased, values trimmed and lower-cased, then sorted.
    /// Must include `content-type` and `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: Payload<'a>,
    /// Service name, `vod`.
    pub service: &'a str,
    /// `X-TC-Timestamp`, unix seconds.
    pub timestamp: i64,
}

/// Every intermediate value of a TC3 signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    /// UTC `yyyy-mm-dd` of the timestamp.
    pub date: String,
    /// `hex(SHA256(payload))`.
    pub hashed_request_payload: String,
    /// `name:value\n` per signed header.
    pub canonical_headers: String,
    /// Signed header names joined by `;`.
    pub signed_headers: String,
    /// The canonical request.
    pub canonical_request: String,
    /// `hex(SHA256(canonical_request))`.
    pub hashed_canonical_request: String,
    /// `date/service/tc3_request`.
    pub credential_scope: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The lower-case hex signature.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

impl fmt::Debug for Tc3Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tc3Signature")
            .field("credential_scope", &self.credential_scope)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"***")
            .finish_non_exhaustive()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of a SHA-256 digest, as a `String` (one allocation, no formatting machinery).
fn hex32(bytes: &[u8; 32]) -> String {
    let mut out = String::with_capacity(64);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// UTC `yyyy-mm-dd` of a unix timestamp.
pub fn utc_date(timestamp: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let (m, day) = (u8::from(d.month()), d.day());
    let Ok(y) = u16::try_from(d.year()) else {
        // Before year 0: not a real timestamp; keep the general formatting.
        return format!("{:04}-{:02}-{:02}", d.year(), m, day);
    };
    // `from_unix_timestamp` only accepts years up to 9999: always four digits.
    let out = [
        b'0' + (y / 1000 % 10) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + m / 10,
        b'0' + m % 10,
        b'-',
        b'0' + day / 10,
        b'0' + day % 10,
    ];
    String::from_utf8_lossy(&out).into_owned()
}

/// The derived keys `SecretDate`, `SecretService`, `SecretSigning`.
pub fn derive_keys(secret_key: &str, date: &str, service: &str) -> [[u8; 32]; 3] {
    // "TC3" + SecretKey without a heap allocation when it fits.
    let mut stack = [0u8; 128];
    let heap;
    let key: &[u8] = if secret_key.len() + 3 <= stack.len() {
        stack[..3].copy_from_slice(b"TC3");
        stack[3..3 + secret_key.len()].copy_from_slice(secret_key.as_bytes());
        &stack[..3 + secret_key.len()]
    } else {
        heap = format!("TC3{secret_key}");
        heap.as_bytes()
    };
    let secret_date = hmac_sha256(key, date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    [secret_date, secret_service, secret_signing]
}

/// Canonical headers and the signed-header list from (name, value) pairs.
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    // Lower-cased, trimmed names and values in one buffer; spans sorted like (name, value) tuples.
    let cap = headers
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>();
    let mut buf = String::with_capacity(cap);
    let mut spans: Vec<(usize, usize, usize)> = Vec::with_capacity(headers.len());
    for (k, v) in headers {
        let a = buf.len();
        let k = k.trim();
        buf.extend(k.chars().map(|c| c.to_ascii_lowercase()));
        let b = buf.len();
        let v = v.trim();
        if v.is_ascii() {
            buf.extend(v.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            buf.push_str(&v.to_lowercase());
        }
        spans.push((a, b, buf.len()));
    }
    let part = |s: &(usize, usize, usize)| (&buf[s.0..s.1], &buf[s.1..s.2]);
    spans.sort_unstable_by(|x, y| part(x).cmp(&part(y)));
    let mut canonical = String::with_capacity(buf.len() + 2 * spans.len());
    let mut signed = String::with_capacity(cap + spans.len());
    for (i, s) in spans.iter().enumerate() {
        let (k, v) = part(s);
        canonical.push_str(k);
        canonical.push(':');
        canonical.push_str(v);
        canonical.push('\n');
        if i > 0 {
            signed.push(';');
        }
        signed.push_str(k);
    }
    (canonical, signed)
}

/// A day's TC3 signing key (`SecretSigning`) for one SecretKey and service.
///
/// Deriving it costs three HMAC-SHA256; a client signing many requests keeps it for the UTC day it belongs to
/// and signs with [`sign_with_key`]. It is as sensitive as the SecretKey: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    date: String,
    service: String,
    key: [u8; 32],
}

impl SigningKey {
    /// Derives the key of `date` (UTC `yyyy-mm-dd`) and `service`.
    pub fn derive(secret_key: &str, date: &str, service: &str) -> Self {
        let [_, _, key] = derive_keys(secret_key, date, service);
        SigningKey {
            date: date.to_string(),
            service: service.to_string(),
            key,
        }
    }

    /// The UTC date the key is valid for.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The service the key is valid for.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether this key signs requests with this timestamp and service.
    pub fn matches(&self, timestamp: i64, service: &str) -> bool {
        self.service == service && self.date == utc_date(timestamp)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("date", &self.date)
            .field("service", &self.service)
            .field("key", &"***")
            .finish()
    }
}

/// Signs a request with TC3-HMAC-SHA256.
pub fn sign(secret_id: &str, secret_key: &str, req: &Tc3Request<'_>) -> Tc3Signature {
    let key = SigningKey::derive(secret_key, &utc_date(req.timestamp), req.service);
    sign_with_key(secret_id, &key, req)
}

/// Signs with a previously derived [`SigningKey`]. The key must belong to the request's UTC date and service
/// (check with [`SigningKey::matches`]); a key of another day gives a signature the server rejects.
pub fn sign_with_key(secret_id: &str, key: &SigningKey, req: &Tc3Request<'_>) -> Tc3Signature {
    let date = key.date.clone();
    let hashed_request_payload = hex32(&sha256(match req.payload {
        Payload::Bytes(b) => b,
        Payload::Unsigned => b"UNSIGNED-PAYLOAD",
    }));
    let (canonical_headers, signed_headers) = canonical_headers(req.headers);
    let mut canonical_request = String::with_capacity(
        req.method.len()
            + req.path.len()
            + req.query.len()
            + canonical_headers.len()
            + signed_headers.len()
            + 69,
    );
    if req.method.is_ascii() {
        for b in req.method.bytes() {
            canonical_request.push(b.to_ascii_uppercase() as char);
        }
    } else {
        canonical_request.push_str(&req.method.to_ascii_uppercase());
    }
    for part in [
        req.path,
        req.query,
        &canonical_headers,
        &signed_headers,
        &hashed_request_payload,
    ] {
        canonical_request.push('\n');
        canonical_request.push_str(part);
    }
    let hashed_canonical_request = hex32(&sha256(canonical_request.as_bytes()));
    let mut credential_scope = String::with_capacity(date.len() + req.service.len() + 13);
    credential_scope.push_str(&date);
    credential_scope.push('/');
    credential_scope.push_str(req.service);
    credential_scope.push_str("/tc3_request");
    let ts = itoa_i64(req.timestamp);
    let mut string_to_sign = String::with_capacity(
        ALGORITHM.len() + credential_scope.len() + hashed_canonical_request.len() + 24,
    );
    string_to_sign.push_str(ALGORITHM);
    string_to_sign.push('\n');
    string_to_sign.push_str(ts.as_str());
    string_to_sign.push('\n');
    string_to_sign.push_str(&credential_scope);
    string_to_sign.push('\n');
    string_to_sign.push_str(&hashed_canonical_request);
    let signature = hex32(&hmac_sha256(&key.key, string_to_sign.as_bytes()));
    let mut authorization = String::with_capacity(
        ALGORITHM.len()
            + secret_id.len()
            + credential_scope.len()
            + signed_headers.len()
            + signature.len()
            + 43,
    );
    for part in [
        ALGORITHM,
        " Credential=",
        secret_id,
        "/",
        &credential_scope,
        ", SignedHeaders=",
        &signed_headers,
        ", Signature=",
        &signature,
    ] {
        authorization.push_str(part);
    }
    Tc3Signature {
        date,
        hashed_request_payload,
        canonical_headers,
        signed_headers,
        canonical_request,
        hashed_canonical_request,
        credential_scope,
        string_to_sign,
        signature,
        authorization,
    }
}

/// A decimal integer on the stack.
struct Decimal {
    buf: [u8; 20],
    start: usize,
    len: usize,
}

impl Decimal {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..self.start + self.len]).unwrap_or_default()
    }
}

fn itoa_i64(v: i64) -> Decimal {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    Decimal {
        buf,
        start: i,
        len: buf.len() - i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_date_is_utc() {
        assert_eq!(utc_date(1551113065), "2019-02-25");
        assert_eq!(utc_date(1700000000), "2023-11-14");
        // 23:59:59 UTC vs 00:00:00 UTC the next day.
        assert_eq!(utc_date(1704067199), "2023-12-31");
        assert_eq!(utc_date(1704067200), "2024-01-01");
    }

    /// The straightforward implementation this module replaced, kept as the oracle.
    fn reference_sign(secret_id: &str, secret_key: &str, req: &Tc3Request<'_>) -> Tc3Signature {
        let sha256_hex = |d: &[u8]| {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(d))
        };
        let dt = time::OffsetDateTime::from_unix_timestamp(req.timestamp)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let d = dt.date();
        let date = format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
        let hashed_request_payload = match req.payload {
            Payload::Bytes(b) => sha256_hex(b),
            Payload::Unsigned => sha256_hex(b"UNSIGNED-PAYLOAD"),
        };
        let mut hs: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_lowercase()))
            .collect();
        hs.sort();
        let canonical_headers: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers = hs
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            req.method.to_ascii_uppercase(),
            req.path,
            req.query,
            canonical_headers,
            signed_headers,
            hashed_request_payload
        );
        let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
        let credential_scope = format!("{date}/{}/tc3_request", req.service);
        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{credential_scope}\n{hashed_canonical_request}",
            req.timestamp
        );
        let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
        let secret_service = hmac_sha256(&secret_date, req.service.as_bytes());
        let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
        let signature = hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "{ALGORITHM} Credential={secret_id}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}"
        );
        Tc3Signature {
            date,
            hashed_request_payload,
            canonical_headers,
            signed_headers,
            canonical_request,
            hashed_canonical_request,
            credential_scope,
            string_to_sign,
            signature,
            authorization,
        }
    }

    #[test]
    fn optimised_signer_matches_the_reference_on_random_requests() {
        const ALPHABET: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\t",
            "/",
            "+",
            "=",
            "&",
            ";",
            ":",
            "视",
            "É",
            "ß",
            "İ",
            "😀",
            "x-tc-",
            "Content-Type",
            "\n",
        ];
        let mut rng = fastrand::Rng::with_seed(0x7c3);
        let text = |rng: &mut fastrand::Rng, max: usize| -> String {
            let n = rng.usize(0..=max);
            (0..n)
                .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
                .collect()
        };
        for case in 0..2000 {
            let methods = ["POST", "get", "Put", "pÖst"];
            let method = methods[rng.usize(..methods.len())];
            let nh = rng.usize(0..=6);
            let mut h: Vec<(String, String)> = (0..nh)
                .map(|_| (text(&mut rng, 5), text(&mut rng, 8)))
                .collect();
            if case % 4 == 0 && !h.is_empty() {
                let dup = h[0].0.clone();
                h.push((dup, text(&mut rng, 3)));
            }
            let hr: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let body = text(&mut rng, 30);
            let query = text(&mut rng, 10);
            let service = text(&mut rng, 4);
            let timestamp = match case % 5 {
                0 => rng.i64(-400_000_000_000..400_000_000_000),
                1 => i64::MIN,
                2 => i64::MAX,
                3 => -62_167_219_201,
                _ => rng.i64(0..4_000_000_000),
            };
            let req = Tc3Request {
                method,
                path: "/",
                query: &query,
                headers: &hr,
                payload: if case % 7 == 0 {
                    Payload::Unsigned
                } else {
                    Payload::Bytes(body.as_bytes())
                },
                service: &service,
                timestamp,
            };
            let id = text(&mut rng, 8);
            let key = if case % 9 == 0 {
                "k".repeat(200)
            } else {
                text(&mut rng, 40)
            };
            assert_eq!(
                sign(&id, &key, &req),
                reference_sign(&id, &key, &req),
                "case {case}: {req:?}"
            );
        }
    }
}
